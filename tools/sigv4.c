/* SPDX-License-Identifier: BSD-2-Clause */
/* AWS Signature Version 4 with a caller-computed kDate; see sigv4.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tools/sigv4.h"

#define SHA256_LEN 32

/* ---- a growing string ---------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void
sb_putn (sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc (b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy (b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_puts (sbuf *b, const char *s)
{
    sb_putn (b, s, strlen (s));
}

static void
sb_putc (sbuf *b, char c)
{
    sb_putn (b, &c, 1);
}

/* Hands the string over (an empty one if nothing was put); NULL if out of memory. */
static char *
sb_take (sbuf *b)
{
    if (!b->oom && !b->p)
        sb_putn (b, "", 0);
    if (b->oom) {
        free (b->p);
        b->p = NULL;
        return NULL;
    }
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ---- helpers ------------------------------------------------------------- */

__attribute__ ((format (printf, 3, 4))) static int
fail (char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, err_len, fmt, ap);
        va_end (ap);
    }
    return -1;
}

static const char hexdig_lower[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

static void
to_hex (const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lower[in[i] >> 4];
        out[2 * i + 1] = hexdig_lower[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
sha256_hex (const void *data, size_t n, char out[65])
{
    unsigned char md[SHA256_LEN];
    unsigned int md_len = 0;
    if (!EVP_Digest (data ? data : "", n, md, &md_len, EVP_sha256 (), NULL) ||
        md_len != SHA256_LEN)
        return -1;
    to_hex (md, SHA256_LEN, out);
    return 0;
}

static int
hmac256 (const unsigned char *key, size_t key_len, const void *data, size_t n,
         unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    if (key_len > (size_t) 0x7fffffff)
        return -1;
    if (!HMAC (EVP_sha256 (), key, (int) key_len, data, n, out, &len) || len != SHA256_LEN)
        return -1;
    return 0;
}

static int
is_unreserved (unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 encoding of n bytes; a '/' stays when keep_slash. */
static void
uri_encode (sbuf *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (is_unreserved (c) || (keep_slash && c == '/')) {
            sb_putc (b, (char) c);
        } else {
            char e[3] = { '%', hexdig_upper[c >> 4], hexdig_upper[c & 15] };
            sb_putn (b, e, 3);
        }
    }
}

static int
hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Percent-decodes s[0..n) (valid %XX only), then encodes the result: a string
 * already encoded and the raw bytes it stands for give the same, encoded once.
 * With keep_slash (an S3 path) a '/' stays, and so does an encoded one (%2F
 * names a slash inside a key, not a separator).
 */
static void
encode_once (sbuf *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && n - i >= 3 && hexval (s[i + 1]) >= 0 && hexval (s[i + 2]) >= 0) {
            c = (char) (hexval (s[i + 1]) * 16 + hexval (s[i + 2]));
            i += 2;
            if (keep_slash && c == '/') {
                sb_puts (b, "%2F");
                continue;
            }
        }
        uri_encode (b, &c, 1, keep_slash);
    }
}

static void
query_component (sbuf *b, const char *s, size_t n)
{
    encode_once (b, s, n, 0);
}

static int
ascii_lower (int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
is_blank (char c)
{
    return c == ' ' || c == '\t';
}

static int
is_service_s3 (const char *service)
{
    return strcmp (service, "s3") == 0;
}

/* ---- the canonical URI --------------------------------------------------- */

static int
canonical_uri (sbuf *b, const char *path, const char *service)
{
    if (!*path) {
        sb_putc (b, '/');
        return 0;
    }
    if (is_service_s3 (service)) {
        if (path[0] != '/')
            sb_putc (b, '/');
        encode_once (b, path, strlen (path), 1); /* once: "my%20cat" stays */
        return 0;
    }

    /* Split into segments, dropping empty and "." ones and letting ".." pop. */
    size_t plen = strlen (path), nseg = 0;
    struct seg {
        const char *s;
        size_t n;
    } *segs = calloc (plen / 2 + 2, sizeof *segs);
    if (!segs)
        return -1;
    int trailing = 0;
    const char *p = path, *end = path + plen;
    while (p < end) {
        while (p < end && *p == '/')
            p++;
        if (p >= end) {
            trailing = 1; /* the path ends with a slash */
            break;
        }
        const char *q = p;
        while (q < end && *q != '/')
            q++;
        size_t n = (size_t) (q - p);
        if (n == 1 && p[0] == '.') {
            trailing = (q == end);
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg)
                nseg--;
            trailing = (q == end);
        } else {
            segs[nseg].s = p;
            segs[nseg].n = n;
            nseg++;
            trailing = 0;
        }
        p = q;
    }
    sb_putc (b, '/');
    for (size_t i = 0; i < nseg; i++) {
        if (i)
            sb_putc (b, '/');
        uri_encode (b, segs[i].s, segs[i].n, 0);
    }
    if (nseg && trailing)
        sb_putc (b, '/');
    free (segs);
    return 0;
}

/* ---- the canonical query string ------------------------------------------ */

typedef struct qparam {
    char *key, *value;
} qparam;

static int
qparam_cmp (const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int c = strcmp (x->key, y->key);
    return c ? c : strcmp (x->value, y->value);
}

static int
canonical_query (sbuf *b, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t n = 1;
    for (const char *p = query; *p; p++)
        n += (*p == '&');
    qparam *qp = calloc (n, sizeof *qp);
    if (!qp)
        return -1;
    size_t count = 0;
    int rc = 0;
    const char *p = query;
    while (*p) {
        const char *amp = strchr (p, '&');
        const char *pend = amp ? amp : p + strlen (p);
        if (pend > p) {
            const char *eq = memchr (p, '=', (size_t) (pend - p));
            const char *kend = eq ? eq : pend;
            sbuf k = { 0 }, v = { 0 };
            query_component (&k, p, (size_t) (kend - p));
            if (eq)
                query_component (&v, eq + 1, (size_t) (pend - eq - 1));
            qp[count].key = sb_take (&k);
            qp[count].value = sb_take (&v);
            if (!qp[count].key || !qp[count].value) {
                free (qp[count].key);
                free (qp[count].value);
                rc = -1;
                break;
            }
            count++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    if (rc == 0) {
        qsort (qp, count, sizeof *qp, qparam_cmp);
        for (size_t i = 0; i < count; i++) {
            if (i)
                sb_putc (b, '&');
            sb_puts (b, qp[i].key);
            sb_putc (b, '=');
            sb_puts (b, qp[i].value);
        }
    }
    for (size_t i = 0; i < count; i++) {
        free (qp[i].key);
        free (qp[i].value);
    }
    free (qp);
    return rc;
}

/* ---- canonical headers ----------------------------------------------------- */

typedef struct chdr {
    char *name, *value;
    size_t order;
} chdr;

static int
chdr_cmp (const void *a, const void *b)
{
    const chdr *x = a, *y = b;
    int c = strcmp (x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Trims each line of the value, collapses runs of blanks, joins lines with ','. */
static void
canonical_value (sbuf *b, const char *v)
{
    int first_line = 1;
    while (*v) {
        const char *eol = strchr (v, '\n');
        const char *lend = eol ? eol : v + strlen (v);
        const char *s = v, *e = lend;
        while (s < e && (is_blank (*s) || *s == '\r'))
            s++;
        while (e > s && (is_blank (e[-1]) || e[-1] == '\r'))
            e--;
        if (e > s) {
            if (!first_line)
                sb_putc (b, ',');
            first_line = 0;
            int in_blank = 0;
            for (const char *c = s; c < e; c++) {
                if (is_blank (*c) || *c == '\r') {
                    in_blank = 1;
                    continue;
                }
                if (in_blank)
                    sb_putc (b, ' ');
                in_blank = 0;
                sb_putc (b, *c);
            }
        }
        if (!eol)
            break;
        v = eol + 1;
    }
}

static int
valid_header_name (const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= ' ' || c == ':' || c >= 0x7f)
            return 0;
    }
    return 1;
}

/*
 * The request time as a header value gives it: blanks around it dropped (an
 * "X-Amz-Date: 20150830T123600Z" line), then YYYYMMDDTHHMMSSZ into out.
 */
static int
amz_date_of (const char *d, char out[17])
{
    if (!d)
        return 0;
    while (is_blank (*d))
        d++;
    size_t n = strlen (d);
    while (n && (is_blank (d[n - 1]) || d[n - 1] == '\r'))
        n--;
    if (n != 16 || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return 0;
    memcpy (out, d, 16);
    out[16] = '\0';
    return 1;
}

static int
valid_scope_part (const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (*s == '/' || (unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f)
            return 0;
    return 1;
}

/*
 * Builds the canonical request, and the signed-headers list into *signed_out
 * if that is not NULL.
 */
static int
build_canonical (const sigv4_request *req, char **creq_out, char **signed_out, char *err,
                 size_t err_len)
{
    int rc = -1;
    chdr *h = NULL;
    size_t nh = 0;
    sbuf cr = { 0 }, sh = { 0 };
    char *payload_hash = NULL;

    *creq_out = NULL;
    if (signed_out)
        *signed_out = NULL;
    if (!req || !req->method || !*req->method || !req->path || !req->service)
        return fail (err, err_len, "sigv4: method, path and service are required");
    if (req->n_headers && !req->headers)
        return fail (err, err_len, "sigv4: n_headers is %zu but headers is NULL", req->n_headers);
    if (req->payload_len && !req->payload)
        return fail (err, err_len, "sigv4: payload_len is %zu but payload is NULL",
                     req->payload_len);
    for (const char *m = req->method; *m; m++)
        if ((unsigned char) *m <= ' ' || (unsigned char) *m >= 0x7f)
            return fail (err, err_len, "sigv4: bad method");

    h = calloc (req->n_headers ? req->n_headers : 1, sizeof *h);
    if (!h)
        return fail (err, err_len, "sigv4: out of memory");
    int have_host = 0, have_date = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        if (!name || !value) {
            fail (err, err_len, "sigv4: header %zu has no name or value", i);
            goto out;
        }
        while (is_blank (*name))
            name++;
        size_t n = strlen (name);
        while (n && is_blank (name[n - 1]))
            n--;
        if (!valid_header_name (name, n)) {
            fail (err, err_len, "sigv4: bad header name \"%s\"", req->headers[i].name);
            goto out;
        }
        h[nh].name = malloc (n + 1);
        if (!h[nh].name) {
            fail (err, err_len, "sigv4: out of memory");
            goto out;
        }
        for (size_t j = 0; j < n; j++)
            h[nh].name[j] = (char) ascii_lower ((unsigned char) name[j]);
        h[nh].name[n] = '\0';
        sbuf v = { 0 };
        canonical_value (&v, value);
        h[nh].value = sb_take (&v);
        h[nh].order = i;
        nh++;
        if (!h[nh - 1].value) {
            fail (err, err_len, "sigv4: out of memory");
            goto out;
        }
        if (!strcmp (h[nh - 1].name, "host"))
            have_host = 1;
        else if (!strcmp (h[nh - 1].name, "x-amz-date") || !strcmp (h[nh - 1].name, "date"))
            have_date = 1;
        else if (!strcmp (h[nh - 1].name, "x-amz-content-sha256")) {
            /* two would be signed joined ("a,b") but neither is the payload hash */
            if (payload_hash) {
                fail (err, err_len, "sigv4: the x-amz-content-sha256 header is given twice: "
                                    "give the payload hash once");
                goto out;
            }
            payload_hash = h[nh - 1].value;
        }
    }
    if (!have_host) {
        fail (err, err_len, "sigv4: the request has no host header");
        goto out;
    }
    if (!have_date) {
        fail (err, err_len, "sigv4: the request has no x-amz-date (or date) header");
        goto out;
    }
    qsort (h, nh, sizeof *h, chdr_cmp);

    sb_puts (&cr, req->method);
    sb_putc (&cr, '\n');
    if (canonical_uri (&cr, req->path, req->service) < 0) {
        fail (err, err_len, "sigv4: out of memory");
        goto out;
    }
    sb_putc (&cr, '\n');
    if (canonical_query (&cr, req->query) < 0) {
        fail (err, err_len, "sigv4: out of memory");
        goto out;
    }
    sb_putc (&cr, '\n');
    for (size_t i = 0; i < nh; i++) {
        if (i && !strcmp (h[i].name, h[i - 1].name)) {
            sb_putc (&cr, ',');
            sb_puts (&cr, h[i].value);
            continue;
        }
        if (i) {
            sb_putc (&cr, '\n');
            sb_putc (&sh, ';');
        }
        sb_puts (&cr, h[i].name);
        sb_putc (&cr, ':');
        sb_puts (&cr, h[i].value);
        sb_puts (&sh, h[i].name);
    }
    sb_putc (&cr, '\n');
    sb_putc (&cr, '\n');
    sb_putn (&sh, "", 0);
    if (!sh.oom)
        sb_puts (&cr, sh.p);
    sb_putc (&cr, '\n');
    if (payload_hash) {
        sb_puts (&cr, payload_hash);
    } else {
        char hex[65];
        if (sha256_hex (req->payload, req->payload_len, hex) < 0) {
            fail (err, err_len, "sigv4: SHA-256 failed");
            goto out;
        }
        sb_puts (&cr, hex);
    }
    if (cr.oom || sh.oom) {
        fail (err, err_len, "sigv4: out of memory");
        goto out;
    }
    *creq_out = sb_take (&cr);
    if (signed_out)
        *signed_out = sb_take (&sh);
    rc = 0;
out:
    for (size_t i = 0; i < nh; i++) {
        free (h[i].name);
        free (h[i].value);
    }
    free (h);
    free (cr.p);
    free (sh.p);
    return rc;
}

/* ---- the public steps ------------------------------------------------------ */

int
sigv4_canonical_request (const sigv4_request *req, char **out)
{
    if (!out)
        return -1;
    return build_canonical (req, out, NULL, NULL, 0);
}

static int
string_to_sign (const sigv4_request *req, const char *canonical, char **out, char *err,
                size_t err_len)
{
    char hex[65], date[17];

    *out = NULL;
    if (!req || !canonical)
        return fail (err, err_len, "sigv4: no request or canonical request");
    if (!amz_date_of (req->amz_date, date))
        return fail (err, err_len, "sigv4: amz_date must look like 20150830T123600Z, not \"%.40s\"",
                     req->amz_date ? req->amz_date : "(none)");
    if (!valid_scope_part (req->region) || !valid_scope_part (req->service))
        return fail (err, err_len, "sigv4: bad region or service");
    if (sha256_hex (canonical, strlen (canonical), hex) < 0)
        return fail (err, err_len, "sigv4: SHA-256 failed");
    sbuf b = { 0 };
    sb_puts (&b, SIGV4_ALGORITHM "\n");
    sb_puts (&b, date);
    sb_putc (&b, '\n');
    sb_putn (&b, date, 8);
    sb_putc (&b, '/');
    sb_puts (&b, req->region);
    sb_putc (&b, '/');
    sb_puts (&b, req->service);
    sb_puts (&b, "/aws4_request\n");
    sb_puts (&b, hex);
    *out = sb_take (&b);
    return *out ? 0 : fail (err, err_len, "sigv4: out of memory");
}

int
sigv4_string_to_sign (const sigv4_request *req, const char *canonical, char **out)
{
    if (!out)
        return -1;
    return string_to_sign (req, canonical, out, NULL, 0);
}

int
sigv4_signing_key (const unsigned char kdate[32], const char *region, const char *service,
                   unsigned char ksigning[32])
{
    unsigned char kregion[SHA256_LEN], kservice[SHA256_LEN];
    int rc = -1;

    if (!kdate || !ksigning || !region || !service)
        return -1;
    if (hmac256 (kdate, SHA256_LEN, region, strlen (region), kregion) == 0 &&
        hmac256 (kregion, SHA256_LEN, service, strlen (service), kservice) == 0 &&
        hmac256 (kservice, SHA256_LEN, "aws4_request", strlen ("aws4_request"), ksigning) == 0)
        rc = 0;
    OPENSSL_cleanse (kregion, sizeof kregion);
    OPENSSL_cleanse (kservice, sizeof kservice);
    if (rc)
        OPENSSL_cleanse (ksigning, SHA256_LEN);
    return rc;
}

int
sigv4_sign (const sigv4_request *req, sigv4_kdate_fn kdate, void *ctx, char signature[65],
            char *authorization, size_t auth_len, char *err, size_t err_len)
{
    unsigned char kd[SHA256_LEN], ks[SHA256_LEN], sig[SHA256_LEN];
    char *creq = NULL, *signed_headers = NULL, *sts = NULL;
    char date8[9], date[17];
    int rc = -1;

    if (err && err_len)
        err[0] = '\0';
    if (signature)
        signature[0] = '\0';
    if (authorization && auth_len)
        authorization[0] = '\0';
    if (!req || !kdate || !signature || !authorization)
        return fail (err, err_len, "sigv4: request, kdate callback and output buffers are required");
    if (!valid_scope_part (req->access_key))
        return fail (err, err_len, "sigv4: bad access key");
    if (!amz_date_of (req->amz_date, date))
        return fail (err, err_len, "sigv4: amz_date must look like 20150830T123600Z, not \"%.40s\"",
                     req->amz_date ? req->amz_date : "(none)");
    if (!valid_scope_part (req->region) || !valid_scope_part (req->service))
        return fail (err, err_len, "sigv4: bad region or service");

    if (build_canonical (req, &creq, &signed_headers, err, err_len) < 0)
        goto out;
    if (string_to_sign (req, creq, &sts, err, err_len) < 0)
        goto out;

    memcpy (date8, date, 8);
    date8[8] = '\0';
    memset (kd, 0, sizeof kd);
    if (kdate (ctx, date8, kd) != 0) {
        fail (err, err_len, "sigv4: the kDate callback failed for %s", date8);
        goto out;
    }
    if (sigv4_signing_key (kd, req->region, req->service, ks) < 0) {
        fail (err, err_len, "sigv4: deriving the signing key failed");
        goto out;
    }
    if (hmac256 (ks, sizeof ks, sts, strlen (sts), sig) < 0) {
        fail (err, err_len, "sigv4: HMAC-SHA256 failed");
        goto out;
    }
    to_hex (sig, sizeof sig, signature);

    int n = snprintf (authorization, auth_len,
                      SIGV4_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                                      "Signature=%s",
                      req->access_key, date8, req->region, req->service, signed_headers,
                      signature);
    if (n < 0 || (size_t) n >= auth_len) {
        if (auth_len)
            authorization[0] = '\0';
        signature[0] = '\0';
        fail (err, err_len, "sigv4: the Authorization value needs %d bytes, have %zu", n + 1,
              auth_len);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse (kd, sizeof kd);
    OPENSSL_cleanse (ks, sizeof ks);
    OPENSSL_cleanse (sig, sizeof sig);
    free (creq);
    free (signed_headers);
    free (sts);
    return rc;
}

/* ---- HTTP request text ------------------------------------------------------- */

/* Next line of *cur (NUL-terminated in place, a trailing CR dropped); NULL at the end. */
static char *
next_line (char **cur, char *end)
{
    char *line, *nl;
    size_t n;

    if (*cur >= end)
        return NULL;
    line = *cur;
    nl = memchr (line, '\n', (size_t) (end - line));
    if (nl) {
        *nl = '\0';
        *cur = nl + 1;
    } else {
        *cur = end;
    }
    n = strlen (line);
    if (n && line[n - 1] == '\r')
        line[n - 1] = '\0';
    return line;
}

void
sigv4_http_free (sigv4_http *p)
{
    for (size_t i = 0; i < p->n_headers; i++)
        free (p->values[i]);
    free (p->text);
    memset (p, 0, sizeof *p);
}

int
sigv4_http_parse (char *text, size_t len, sigv4_http *p)
{
    char *cur = text, *end = text + len, *line, *sp1, *sp2, *q;
    int blank_seen = 0;

    memset (p, 0, sizeof *p);
    p->text = text;
    line = next_line (&cur, end);
    sp1 = line ? strchr (line, ' ') : NULL;
    sp2 = line ? strrchr (line, ' ') : NULL;
    if (!sp1 || sp2 == sp1)
        goto fail;
    *sp1 = '\0';
    *sp2 = '\0';
    p->req.method = line;
    p->req.path = sp1 + 1;
    q = strchr (sp1 + 1, '?');
    if (q) {
        *q = '\0';
        p->req.query = q + 1;
    }
    while ((line = next_line (&cur, end)) != NULL) {
        char *colon;
        if (!*line) {
            blank_seen = 1;
            break;
        }
        if (*line == ' ' || *line == '\t') { /* a folded line continues the value */
            char *prev, *v;
            size_t a, b;
            if (!p->n_headers)
                goto fail;
            prev = p->values[p->n_headers - 1];
            a = strlen (prev);
            b = strlen (line);
            v = realloc (prev, a + 1 + b + 1);
            if (!v)
                goto fail;
            v[a] = '\n';
            memcpy (v + a + 1, line, b + 1);
            p->values[p->n_headers - 1] = v;
            continue;
        }
        colon = strchr (line, ':');
        if (!colon || p->n_headers == SIGV4_MAX_HEADERS)
            goto fail;
        *colon = '\0';
        p->headers[p->n_headers].name = line;
        p->values[p->n_headers] = strdup (colon + 1);
        if (!p->values[p->n_headers])
            goto fail;
        p->n_headers++;
    }
    for (size_t i = 0; i < p->n_headers; i++) {
        p->headers[i].value = p->values[i];
        if (strcasecmp (p->headers[i].name, "x-amz-date") == 0)
            p->req.amz_date = p->values[i];
    }
    if (blank_seen) {
        p->req.payload = (const unsigned char *) cur;
        p->req.payload_len = (size_t) (end - cur);
    }
    p->req.headers = p->headers;
    p->req.n_headers = p->n_headers;
    return 0;
fail:
    sigv4_http_free (p);
    return -1;
}
