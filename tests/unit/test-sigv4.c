/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * AWS Signature Version 4 against the AWS SigV4 test suite vectors in
 * tests/sigv4/<name>/{req,creq,sts,authz}, with kDate computed in software,
 * plus the documented kSigning example and checks that a changed request,
 * key or input gives a different result or an error.
 *
 * Usage: test-sigv4 [VECTOR-DIR]   (default $TT_SRCDIR/tests/sigv4, else ./tests/sigv4)
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/unit/tap.h"
#include "tools/sigv4.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_ACCESS_KEY "AKIDEXAMPLE"
#define SUITE_REGION "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_DATE "20150830T123600Z"

/* ---- the software kDate: HMAC-SHA256("AWS4" + secret, date8) ------------- */

typedef struct soft_kdate {
    const char *secret;
    char last_date[16];
    int calls;
    int fail;
} soft_kdate;

static int
soft_kdate_fn (void *ctx, const char *date8, unsigned char kdate[32])
{
    soft_kdate *k = ctx;
    unsigned char key[128];
    unsigned int len = 0;
    size_t slen = strlen (k->secret);

    k->calls++;
    snprintf (k->last_date, sizeof k->last_date, "%s", date8);
    if (k->fail || slen + 4 > sizeof key)
        return -1;
    memcpy (key, "AWS4", 4);
    memcpy (key + 4, k->secret, slen);
    int ok_ = HMAC (EVP_sha256 (), key, (int) (slen + 4), (const unsigned char *) date8,
                    strlen (date8), kdate, &len) != NULL &&
              len == 32;
    OPENSSL_cleanse (key, sizeof key);
    return ok_ ? 0 : -1;
}

/* ---- files ------------------------------------------------------------------ */

static char *
slurp (const char *path, size_t *len_out)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap);
    while (buf) {
        size_t n = fread (buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *p = realloc (buf, cap * 2);
            if (!p) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose (f);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

/* dir/name/file into buf; -1 if it does not fit. */
static int
vector_path (char *buf, size_t n, const char *dir, const char *name, const char *file)
{
    int r = snprintf (buf, n, "%s/%s/%s", dir, name, file);
    return r >= 0 && (size_t) r < n ? 0 : -1;
}

/* An expected-value file, with one trailing newline (if an editor added it) dropped. */
static char *
slurp_expected (const char *dir, const char *name, const char *file)
{
    char path[4096];
    if (vector_path (path, sizeof path, dir, name, file) < 0)
        return NULL;
    size_t len = 0;
    char *s = slurp (path, &len);
    if (s && len && s[len - 1] == '\n') {
        s[--len] = '\0';
        if (len && s[len - 1] == '\r')
            s[--len] = '\0';
    }
    return s;
}

/* ---- a parsed .req ------------------------------------------------------------ */

/* A space after the colon of every header line ("X-Amz-Date: 2015..."), as
 * most clients write them; text is reallocated. */
static char *
space_after_colons (char *text, size_t *len)
{
    char *out = malloc (*len * 2 + 1), *o = out;
    int line_start = 1, in_headers = 0, first_colon = 0;

    if (!out) {
        free (text);
        return NULL;
    }
    for (size_t i = 0; i < *len; i++) {
        char c = text[i];
        if (line_start && in_headers && (c == '\n' || c == '\r'))
            in_headers = -1; /* the blank line: the body follows */
        if (line_start && in_headers == 1)
            first_colon = !(c == ' ' || c == '\t'); /* not a continuation */
        *o++ = c;
        if (c == ':' && first_colon && in_headers == 1) {
            *o++ = ' ';
            first_colon = 0;
        }
        line_start = c == '\n';
        if (line_start && in_headers == 0)
            in_headers = 1; /* after the request line */
    }
    *len = (size_t) (o - out);
    *o = '\0';
    free (text);
    return out;
}

static int
parse_req (const char *file, const char *service, int spaced, sigv4_http *p)
{
    size_t len = 0;
    char *text = slurp (file, &len);

    memset (p, 0, sizeof *p);
    if (text && spaced)
        text = space_after_colons (text, &len);
    if (text == NULL || sigv4_http_parse (text, len, p) != 0)
        return -1;
    p->req.access_key = SUITE_ACCESS_KEY;
    p->req.region = SUITE_REGION;
    p->req.service = service;
    /* amz_date is the request's X-Amz-Date value as parsed (with the space) */
    return p->req.amz_date ? 0 : -1;
}

/* ---- one vector ---------------------------------------------------------------- */

static void
show_diff (const char *what, const char *got, const char *want)
{
    printf ("# %s got:\n# ---\n%s\n# ---\n# want:\n# ---\n%s\n# ---\n", what,
            got ? got : "(null)", want ? want : "(null)");
}

static void
run_vector (const char *dir, const char *name0, const char *service, int spaced)
{
    char file[4096], name[512];
    sigv4_http p;
    char *want_creq = slurp_expected (dir, name0, "creq");
    char *want_sts = slurp_expected (dir, name0, "sts");
    char *want_authz = slurp_expected (dir, name0, "authz");
    char *creq = NULL, *sts = NULL;

    snprintf (name, sizeof name, "%s%s", name0, spaced ? " (\"Name: value\")" : "");
    memset (&p, 0, sizeof p);
    int parsed = vector_path (file, sizeof file, dir, name0, "req") == 0 &&
                 parse_req (file, service, spaced, &p) == 0;
    ok (parsed && want_creq && want_sts && want_authz, "%s: read req, creq, sts, authz", name);
    if (!parsed || !want_creq || !want_sts || !want_authz)
        goto out;

    int rc = sigv4_canonical_request (&p.req, &creq);
    ok (rc == 0 && creq && !strcmp (creq, want_creq), "%s: canonical request", name);
    if (rc == 0 && creq && strcmp (creq, want_creq))
        show_diff ("canonical request", creq, want_creq);

    /* The string to sign from the suite's canonical request, so that the two
     * steps are checked on their own. */
    rc = sigv4_string_to_sign (&p.req, want_creq, &sts);
    ok (rc == 0 && sts && !strcmp (sts, want_sts), "%s: string to sign", name);
    if (rc == 0 && sts && strcmp (sts, want_sts))
        show_diff ("string to sign", sts, want_sts);

    soft_kdate k = { .secret = SUITE_SECRET };
    char sig[65], authz[512], err[256];
    rc = sigv4_sign (&p.req, soft_kdate_fn, &k, sig, authz, sizeof authz, err, sizeof err);
    ok (rc == 0 && !strcmp (authz, want_authz), "%s: Authorization%s%s", name, rc ? ": " : "",
        rc ? err : "");
    if (rc == 0 && strcmp (authz, want_authz))
        show_diff ("Authorization", authz, want_authz);
    ok (k.calls == 1 && !strcmp (k.last_date, "20150830") && strlen (sig) == 64 &&
            strstr (authz, sig) != NULL,
        "%s: kDate asked once for 20150830 (%d, %s), signature in the header", name, k.calls,
        k.last_date);
out:
    sigv4_http_free (&p);
    free (want_creq);
    free (want_sts);
    free (want_authz);
    free (creq);
    free (sts);
}

static int
name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static size_t
run_suite (const char *dir, const char *service)
{
    DIR *d = opendir (dir);
    char *names[256];
    size_t n = 0;

    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir (d)) != NULL && n < sizeof names / sizeof *names) {
        char req[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (vector_path (req, sizeof req, dir, e->d_name, "req") == 0 && stat (req, &st) == 0 &&
            S_ISREG (st.st_mode))
            names[n++] = strdup (e->d_name);
    }
    closedir (d);
    qsort (names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (names[i]) {
            run_vector (dir, names[i], service, 0);
            run_vector (dir, names[i], service, 1);
        }
        free (names[i]);
    }
    return n;
}

/* ---- the rest ------------------------------------------------------------------- */

static void
hex32 (const unsigned char in[32], char out[65])
{
    static const char h[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 15];
    }
    out[64] = '\0';
}

/* The AWS documentation's kSigning example (IAM, 2012-02-15). */
static void
test_doc_signing_key (void)
{
    soft_kdate k = { .secret = SUITE_SECRET };
    unsigned char kd[32], ks[32];
    char hex[65] = "";

    int rc = soft_kdate_fn (&k, "20120215", kd);
    rc = rc ? rc : sigv4_signing_key (kd, "us-east-1", "iam", ks);
    if (rc == 0)
        hex32 (ks, hex);
    ok (rc == 0 && !strcmp (hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"),
        "documented kSigning for 20120215/us-east-1/iam: %s", hex);

    /* Another region gives another key. */
    char hex2[65] = "";
    if (sigv4_signing_key (kd, "us-west-2", "iam", ks) == 0)
        hex32 (ks, hex2);
    ok (*hex2 && strcmp (hex, hex2) != 0, "another region, another kSigning");
}

static void
vanilla (sigv4_request *r, sigv4_header h[2])
{
    h[0] = (sigv4_header) { "Host", "example.amazonaws.com" };
    h[1] = (sigv4_header) { "X-Amz-Date", SUITE_DATE };
    memset (r, 0, sizeof *r);
    r->method = "GET";
    r->path = "/";
    r->headers = h;
    r->n_headers = 2;
    r->access_key = SUITE_ACCESS_KEY;
    r->region = SUITE_REGION;
    r->service = SUITE_SERVICE;
    r->amz_date = SUITE_DATE;
}

static int
sign (const sigv4_request *r, soft_kdate *k, char sig[65], char *err, size_t err_len)
{
    char authz[512];
    return sigv4_sign (r, soft_kdate_fn, k, sig, authz, sizeof authz, err, err_len);
}

static void
test_negative (void)
{
    sigv4_request r;
    sigv4_header h[3];
    soft_kdate k = { .secret = SUITE_SECRET };
    char base[65], sig[65], err[256];

    vanilla (&r, h);
    int rc = sign (&r, &k, base, err, sizeof err);
    /* get-vanilla's published signature, built here without the parser */
    ok (rc == 0 && !strcmp (base, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        "get-vanilla from a hand-built request: %s", base);

    vanilla (&r, h);
    r.payload = (const unsigned char *) "x";
    r.payload_len = 1;
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "a payload changes the signature");

    vanilla (&r, h);
    h[0].value = "example.amazonaws.org";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "another host changes the signature");

    vanilla (&r, h);
    r.path = "/other";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "another path changes the signature");

    vanilla (&r, h);
    r.query = "a=1";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "a query changes the signature");

    vanilla (&r, h);
    h[2] = (sigv4_header) { "X-Extra", "1" };
    r.n_headers = 3;
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "an extra signed header changes the signature");

    vanilla (&r, h);
    soft_kdate other = { .secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz" };
    rc = sign (&r, &other, sig, err, sizeof err);
    ok (rc == 0 && strcmp (sig, base) != 0, "another secret changes the signature");

    vanilla (&r, h);
    soft_kdate broken = { .secret = SUITE_SECRET, .fail = 1 };
    strcpy (sig, "unchanged");
    rc = sign (&r, &broken, sig, err, sizeof err);
    ok (rc == -1 && sig[0] == '\0' && strstr (err, "kDate") != NULL,
        "a failing kDate callback fails the signing: %s", err);

    vanilla (&r, h);
    r.n_headers = 1; /* host only */
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == -1 && strstr (err, "date") != NULL, "no x-amz-date header is refused: %s", err);

    vanilla (&r, h);
    r.headers = h + 1;
    r.n_headers = 1; /* x-amz-date only */
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == -1 && strstr (err, "host") != NULL, "no host header is refused: %s", err);

    vanilla (&r, h);
    r.amz_date = "2015-08-30T12:36:00Z";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == -1 && strstr (err, "amz_date") != NULL, "a malformed amz_date is refused: %s", err);

    vanilla (&r, h);
    r.region = "us-east-1/x";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == -1, "a region with a slash is refused: %s", err);

    vanilla (&r, h);
    h[1].name = "X-Amz Date";
    rc = sign (&r, &k, sig, err, sizeof err);
    ok (rc == -1 && strstr (err, "header name") != NULL, "a bad header name is refused: %s", err);

    vanilla (&r, h);
    char small[64];
    rc = sigv4_sign (&r, soft_kdate_fn, &k, sig, small, sizeof small, err, sizeof err);
    ok (rc == -1 && small[0] == '\0', "a too-small Authorization buffer is refused: %s", err);
}

static int
starts_with (const char *s, const char *prefix)
{
    return strncmp (s, prefix, strlen (prefix)) == 0;
}

static void
test_canonical_details (void)
{
    sigv4_request r;
    sigv4_header h[3];
    char *a = NULL, *b = NULL;

    /* A percent-encoded query and the raw bytes it stands for sign alike. */
    vanilla (&r, h);
    r.query = "Param-3=Value3&Param=Value2&%E1%88%B4=Value1";
    int rc = sigv4_canonical_request (&r, &a);
    r.query = "Param-3=Value3&Param=Value2&\xe1\x88\xb4=Value1";
    rc |= sigv4_canonical_request (&r, &b);
    ok (rc == 0 && a && b && !strcmp (a, b) &&
            strstr (a, "\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n") != NULL,
        "encoded and raw query keys canonicalize alike, sorted");
    free (a);
    free (b);
    a = b = NULL;

    /* A key without '=' gets an empty value; '+' is a literal plus. */
    vanilla (&r, h);
    r.query = "b+c&a";
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == 0 && a && strstr (a, "\na=&b%2Bc=\n") != NULL, "bare keys and '+' in a query");
    free (a);
    a = NULL;

    /* Non-S3: an already-encoded path is encoded once more (%2520). */
    vanilla (&r, h);
    r.path = "/a%20b/./c//";
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == 0 && a && starts_with (a, "GET\n/a%2520b/c/\n"), "non-S3 path normalized, re-encoded");
    free (a);
    a = NULL;

    /* S3: no normalization, encoded once, slashes kept. */
    vanilla (&r, h);
    r.service = "s3";
    r.path = "/my key/./x//y";
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == 0 && a && starts_with (a, "GET\n/my%20key/./x//y\n"), "S3 path left as is, encoded");
    free (a);
    a = NULL;

    /* S3: an encoded path is not encoded again, an encoded slash stays one. */
    vanilla (&r, h);
    r.service = "s3";
    r.path = "/photos/my%20cat.jpg";
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == 0 && a && starts_with (a, "GET\n/photos/my%20cat.jpg\n"),
        "S3 path with %%20 encoded once, not as %%2520");
    free (a);
    a = NULL;
    r.path = "/a%2fb/c%2Bd+e";
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == 0 && a && starts_with (a, "GET\n/a%2Fb/c%2Bd%2Be\n"),
        "S3 path: %%2F kept, '+' encoded");
    free (a);
    a = NULL;

    /* Two x-amz-content-sha256 headers: which one is the payload hash? Refused. */
    vanilla (&r, h);
    sigv4_header h4[4] = { h[0], h[1], { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" },
                           { "X-Amz-Content-SHA256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" } };
    r.headers = h4;
    r.n_headers = 4;
    char sig[65], authz[512], err[256] = "";
    soft_kdate k = { .secret = SUITE_SECRET };
    rc = sigv4_sign (&r, soft_kdate_fn, &k, sig, authz, sizeof authz, err, sizeof err);
    ok (rc == -1 && strstr (err, "x-amz-content-sha256") && strstr (err, "twice") && k.calls == 0,
        "two x-amz-content-sha256 headers are refused: %s", err);
    rc = sigv4_canonical_request (&r, &a);
    ok (rc == -1 && a == NULL, "... and have no canonical request");
    free (a);
    a = NULL;

    /* amz_date as a header value gives it: blanks around it do not matter. */
    vanilla (&r, h);
    char base[65] = "", spaced[65] = "";
    sigv4_sign (&r, soft_kdate_fn, &k, base, authz, sizeof authz, err, sizeof err);
    r.amz_date = " \t20150830T123600Z ";
    rc = sigv4_sign (&r, soft_kdate_fn, &k, spaced, authz, sizeof authz, err, sizeof err);
    ok (rc == 0 && *base && !strcmp (base, spaced), "amz_date with blanks around it: %s",
        rc ? err : spaced);

    /* x-amz-content-sha256 is used as the payload hash when present. */
    vanilla (&r, h);
    h[2] = (sigv4_header) { "x-amz-content-sha256", "UNSIGNED-PAYLOAD" };
    r.n_headers = 3;
    r.payload = (const unsigned char *) "ignored";
    r.payload_len = 7;
    rc = sigv4_canonical_request (&r, &a);
    size_t alen = a ? strlen (a) : 0;
    ok (rc == 0 && alen > 17 && !strcmp (a + alen - 17, "\nUNSIGNED-PAYLOAD") &&
            strstr (a, "\nhost;x-amz-content-sha256;x-amz-date\n") != NULL,
        "x-amz-content-sha256 is the payload hash, and is signed");
    free (a);
}

int
main (int argc, char **argv)
{
    char dir[4096];
    const char *srcdir = getenv ("TT_SRCDIR");

    if (argc > 1)
        snprintf (dir, sizeof dir, "%s", argv[1]);
    else if (srcdir && *srcdir)
        snprintf (dir, sizeof dir, "%s/tests/sigv4", srcdir);
    else
        snprintf (dir, sizeof dir, "./tests/sigv4");

    size_t n = run_suite (dir, SUITE_SERVICE);
    ok (n >= 10, "%zu test-suite vectors found in %s", n, dir);
    /* S3, signed by botocore (tests/sigv4/s3/make-vectors.py) */
    char s3dir[4200];
    snprintf (s3dir, sizeof s3dir, "%s/s3", dir);
    n = run_suite (s3dir, "s3");
    ok (n >= 5, "%zu S3 vectors found in %s", n, s3dir);
    test_doc_signing_key ();
    test_negative ();
    test_canonical_details ();
    return tap_done ();
}
