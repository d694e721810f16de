/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * AWS Signature Version 4 for one HTTP request, with the first link of the
 * signing-key chain supplied by the caller.
 *
 * kDate = HMAC-SHA256("AWS4" + secret, "YYYYMMDD") is the only step that
 * needs the secret; it is computed by a callback (in production a
 * C_Sign(CKM_SHA256_HMAC) with a TPM-resident key), so the secret never is in
 * this process.  Everything after it runs here with OpenSSL: the canonical
 * request, the string to sign, kRegion, kService, kSigning and the signature.
 * The derived keys are wiped (OPENSSL_cleanse) as soon as they are used.
 *
 * Canonicalization follows the AWS rules as the official SigV4 test suite
 * exercises them:
 *  - path: for every service but "s3" dot segments are removed and repeated
 *    slashes collapsed; each segment is then URI-encoded (RFC 3986 unreserved
 *    characters A-Z a-z 0-9 - . _ ~ stay, everything else is %XX, upper-case
 *    hex, so a space is %20 and a '%' is %25).  Pass the path as the request
 *    target names it: for non-S3 services AWS wants an already-encoded path
 *    encoded once more, which is what happens.  For "s3" the path is encoded
 *    once and not normalized: valid %XX sequences are decoded first, so
 *    "/photos/my%20cat.jpg" and "/photos/my cat.jpg" both sign as
 *    "/photos/my%20cat.jpg" (an encoded slash, %2F, stays encoded).
 *  - query: split on '&', each key and value percent-decoded (valid %XX only;
 *    '+' is a literal plus) and re-encoded, sorted by key then value; a key
 *    without '=' gets an empty value.
 *  - headers: names lower-cased, values trimmed with runs of white space
 *    collapsed to one space; a value holding line breaks (obsolete folding)
 *    has its lines trimmed and joined with ','; repeated names are joined
 *    with ',' in the order given; sorted by name.  Every header given is
 *    signed, so pass only those to sign.
 *  - payload: hex SHA-256 of the payload, unless an x-amz-content-sha256
 *    header is given, whose value is then used (S3: UNSIGNED-PAYLOAD etc.);
 *    a request with two x-amz-content-sha256 headers is refused.
 *  - amz_date: blanks around it are dropped, as in a header value.
 */
#ifndef TT_SIGV4_H
#define TT_SIGV4_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Computes kdate = HMAC-SHA256("AWS4" + secret, date8); date8 is "YYYYMMDD".
 * Returns 0 on success, anything else on failure. */
typedef int (*sigv4_kdate_fn) (void *ctx, const char *date8, unsigned char kdate[32]);

typedef struct sigv4_header {
    const char *name, *value;
} sigv4_header;

typedef struct sigv4_request {
    const char *method;     /* "GET" */
    const char *path;       /* request path as sent, e.g. "/" or "/example space/" */
    const char *query;      /* query string without '?', may be NULL or "" */
    const sigv4_header *headers;
    size_t n_headers;       /* must include host, and x-amz-date or date */
    const unsigned char *payload;
    size_t payload_len;
    const char *access_key, *region, *service;
    const char *amz_date;   /* "20150830T123600Z" */
} sigv4_request;

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Signs req.  Fills signature (64 lower-case hex digits and a NUL) and
 * authorization (the whole Authorization header value, NUL-terminated, at
 * most auth_len bytes with the NUL).  Returns 0 on success, -1 with a message
 * in err (if err is not NULL) on failure. */
int sigv4_sign (const sigv4_request *req, sigv4_kdate_fn kdate, void *ctx, char signature[65],
                char *authorization, size_t auth_len, char *err, size_t err_len);

/* The intermediate steps, for tests and diagnostics.  The strings returned
 * in *out are malloc'd; free() them.  0 on success, -1 on failure. */
int sigv4_canonical_request (const sigv4_request *req, char **out);
int sigv4_string_to_sign (const sigv4_request *req, const char *canonical, char **out);
/* kSigning from kDate: HMAC(HMAC(HMAC(kdate, region), service), "aws4_request"). */
int sigv4_signing_key (const unsigned char kdate[32], const char *region, const char *service,
                       unsigned char ksigning[32]);

/* An HTTP request as text: "METHOD TARGET PROTOCOL", "Name:value" header lines
 * (a line starting with white space continues the previous value), a blank
 * line, the body. Fills req (method, path, query, headers, payload, amz_date
 * from X-Amz-Date); the caller sets access_key, region and service. */
#define SIGV4_MAX_HEADERS 32
typedef struct sigv4_http {
    char *text; /* owns the strings below */
    sigv4_header headers[SIGV4_MAX_HEADERS];
    char *values[SIGV4_MAX_HEADERS];
    size_t n_headers;
    sigv4_request req;
} sigv4_http;
/* Adopts text (malloc'd, edited in place); 0 on success, -1 (text freed) if malformed. */
int sigv4_http_parse (char *text, size_t len, sigv4_http *p);
void sigv4_http_free (sigv4_http *p);

#ifdef __cplusplus
}
#endif

#endif
