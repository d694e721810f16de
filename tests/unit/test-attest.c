/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The bundle parser and verifier on hostile input (no TPM): every truncation
 * and every single-byte change of a bundle, and random bytes, are rejected
 * without reading outside the buffer (the ASan run checks that), and the
 * parser accepts exactly what the encoder writes. A real bundle made on swtpm
 * (tests/unit/data/attest-v1.bin: ECDSA identity, 3 certified keys, PCRs 0
 * and 7) verifies offline, years later, with its nonce and AK name; each of its
 * truncations and one-byte changes fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/attest-verify.h"
#include "tap.h"

/* A bundle with every field (TPM structures are junk: the parser does not read them). */
static attest_buf
sample (bool twice_time)
{
    static const uint8_t nonce[16] = { 1, 2, 3 }, junk[40] = { 0x30, 0x82, 0xff, 0xff };
    attest_buf b = { 0 };
    size_t mark, key;

    attest_buf_put (&b, ATTEST_MAGIC, 4);
    attest_buf_u16 (&b, ATTEST_VERSION);
    attest_buf_u16 (&b, 0);
    attest_buf_u32 (&b, 0);
    attest_buf_field (&b, ATTEST_NONCE, nonce, sizeof nonce);
    attest_buf_field (&b, ATTEST_TIME, junk, 8);
    if (twice_time) /* "each at most once": a second, different time */
        attest_buf_field (&b, ATTEST_TIME, junk + 8, 8);
    attest_buf_field (&b, ATTEST_IDENTITY, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_IDENTITY_LABEL, "id", 2);
    attest_buf_field (&b, ATTEST_AK_PUBLIC, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_EK_PUBLIC, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_EK_CERT, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_QUOTE, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_QUOTE_SIG, junk, sizeof junk);
    mark = attest_buf_open (&b, ATTEST_PCR_VALUES);
    attest_buf_u16 (&b, 0x000b);
    attest_buf_u32 (&b, 0x3);
    attest_buf_put (&b, junk, 32);
    attest_buf_put (&b, junk, 32);
    attest_buf_close (&b, mark);
    key = attest_buf_open (&b, ATTEST_KEY);
    attest_buf_field (&b, ATTEST_KEY_ID, "\x01", 1);
    attest_buf_field (&b, ATTEST_KEY_PUBLIC, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_KEY_CERTIFY, junk, sizeof junk);
    attest_buf_field (&b, ATTEST_KEY_CERTIFY_SIG, junk, sizeof junk);
    attest_buf_close (&b, key);
    {
        size_t body = b.len - ATTEST_HEADER_LEN;
        b.p[8] = (uint8_t) (body >> 24);
        b.p[9] = (uint8_t) (body >> 16);
        b.p[10] = (uint8_t) (body >> 8);
        b.p[11] = (uint8_t) body;
    }
    attest_buf_u16 (&b, ATTEST_SIG_ED25519);
    attest_buf_u16 (&b, 64);
    attest_buf_put (&b, junk, 40);
    attest_buf_put (&b, junk, 24);
    return b;
}

#define SAMPLE_NONCE "sample-nonce-v1"
static const uint8_t sample_ak[] = {
    0x00, 0x0b, 0x06, 0x41, 0xb1, 0x39, 0xd2, 0x19, 0xb3, 0xf0, 0x8b, 0x05, 0x03, 0xa9, 0x95, 0x03, 0x16,
    0x97, 0x1d, 0x20, 0x0f, 0xd1, 0x13, 0x32, 0xae, 0x11, 0x09, 0x96, 0x87, 0x92, 0xb1, 0x1b, 0x0d, 0x8d,
};

static uint8_t *
slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    uint8_t *buf = malloc (65536);
    *len = f && buf ? fread (buf, 1, 65536, f) : 0;
    if (f)
        fclose (f);
    return buf;
}

static const char *
first_failed (const attest_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->checks[i].ok)
            return r->checks[i].name;
    return "(none)";
}

/* The real bundle: verifies; no truncation or one-byte change does. */
static void
real_bundle (void)
{
    static attest_report r;
    attest_expect e = { .nonce = (const uint8_t *) SAMPLE_NONCE, .nonce_len = strlen (SAMPLE_NONCE),
                        .ak_name = sample_ak, .ak_name_len = sizeof sample_ak,
                        .pcr_mask = 1u << 7 }; /* PCR 7 of a fresh swtpm: zeros */
    const char *dir = getenv ("TT_SRCDIR");
    char path[4096];
    size_t len = 0, truncs = 0, flips = 0;
    uint8_t *b;

    snprintf (path, sizeof path, "%s/tests/unit/data/attest-v1.bin", dir ? dir : ".");
    b = slurp (path, &len);
    ok (len > 1000, "%s: %zu bytes", path, len);
    e.pcr_value_len[7] = 32;
    ok (attest_verify (b, len, &e, &r) == 0 && r.n > 25, "it verifies offline: %zu checks", r.n);
    for (size_t i = 0; i < r.n; i++)
        if (!r.checks[i].ok)
            printf ("# %s: %s\n", r.checks[i].name, r.checks[i].detail);
    ok (r.reset_count == 1 && r.restart_count == 0, "clock info: reset count %u, restart count %u",
        r.reset_count, r.restart_count);
    e.pcr_value[7][31] = 1;
    ok (attest_verify (b, len, &e, &r) == 1 && strcmp (first_failed (&r), "pcr-7") == 0,
        "an unexpected PCR 7 value is the one failure: %s", first_failed (&r));
    e.pcr_value[7][31] = 0;
    e.nonce_len--;
    ok (attest_verify (b, len, &e, &r) == 5 && strcmp (first_failed (&r), "nonce") == 0,
        "another nonce fails the bundle's, the quote's and the 3 certifications' nonce checks "
        "(%d failed)",
        r.failed);
    e.nonce_len++;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc (n ? n : 1);
        memcpy (copy, b, n);
        truncs += attest_verify (copy, n, &e, &r) == 0;
        free (copy);
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t *copy = malloc (len);
        memcpy (copy, b, len);
        copy[i] ^= 0x01;
        flips += attest_verify (copy, len, &e, &r) == 0;
        free (copy);
    }
    ok (truncs == 0 && flips == 0, "no truncation (%zu accepted) or one-byte change (%zu accepted) "
                                  "verifies",
        truncs, flips);
    free (b);
}

int
main (void)
{
    static attest_bundle parsed;
    static attest_report report;
    attest_expect e = { .nonce = (const uint8_t *) "\x01\x02\x03", .nonce_len = 3 };
    attest_buf b;

    setenv ("TSS2_LOG", "all+none", 0); /* tss2-mu warns about every malformed structure */
    b = sample (false);
    char err[200];
    int accepted = 0, crashed_checks = 0;
    uint8_t *copy;

    ok (!b.failed, "the encoder wrote %zu bytes", b.len);
    ok (attest_parse (b.p, b.len, &parsed, err, sizeof err) == 0, "the parser reads them: %s",
        err);
    ok (parsed.n_keys == 1 && parsed.nonce.len == 16 && parsed.pcr_bank == 0x000b
            && parsed.pcr_mask == 3 && parsed.pcr_values.len == 64 && parsed.sig.len == 64
            && parsed.ek_cert.len == 40,
        "every field is where the encoder put it");
    ok (attest_verify (b.p, b.len, &e, &report) > 0 && report.checks[0].ok,
        "junk TPM structures parse as a bundle but fail verification (%d checks failed)",
        report.failed);

    /* every truncation: a fresh allocation of exactly that size (ASan sees overreads) */
    for (size_t n = 0; n < b.len; n++) {
        copy = malloc (n ? n : 1);
        memcpy (copy, b.p, n);
        accepted += attest_parse (copy, n, &parsed, err, sizeof err) == 0;
        crashed_checks += attest_verify (copy, n, &e, &report) == 0;
        free (copy);
    }
    ok (accepted == 0 && crashed_checks == 0, "none of the %zu truncations is accepted", b.len);

    /* every byte changed */
    accepted = 0;
    for (size_t i = 0; i < b.len; i++) {
        copy = malloc (b.len);
        memcpy (copy, b.p, b.len);
        copy[i] ^= 0x80;
        accepted += attest_verify (copy, b.len, &e, &report) == 0;
        free (copy);
    }
    ok (accepted == 0, "none of the %zu one-byte changes verifies", b.len);

    /* random input with a valid header */
    srand (7);
    accepted = 0;
    for (int round = 0; round < 2000; round++) {
        size_t n = 16 + (size_t) rand () % 600;
        copy = malloc (n);
        for (size_t i = 0; i < n; i++)
            copy[i] = (uint8_t) rand ();
        memcpy (copy, b.p, 8);
        copy[8] = copy[9] = 0;
        copy[10] = (uint8_t) ((n - 16) >> 8);
        copy[11] = (uint8_t) (n - 16);
        accepted += attest_verify (copy, n, &e, &report) == 0;
        free (copy);
    }
    ok (accepted == 0, "2000 random bundles are rejected");

    /* a repeated field and an unknown field */
    copy = malloc (b.len);
    memcpy (copy, b.p, b.len);
    copy[ATTEST_HEADER_LEN + 1] = 0x7f;
    ok (attest_parse (copy, b.len, &parsed, err, sizeof err) != 0 && strstr (err, "unknown"),
        "an unknown field is refused: %s", err);
    copy[ATTEST_HEADER_LEN + 1] = ATTEST_TIME; /* the nonce slot now holds a 2nd time field */
    ok (attest_parse (copy, b.len, &parsed, err, sizeof err) != 0, "a malformed field is refused: %s",
        err);
    free (copy);
    {
        attest_buf twice = sample (true);
        err[0] = '\0';
        ok (attest_parse (twice.p, twice.len, &parsed, err, sizeof err) != 0
                && strstr (err, "0x0002 appears twice") != NULL,
            "a repeated time field is refused: %s", err);
        ok (attest_verify (twice.p, twice.len, &e, &report) == 1
                && strcmp (report.checks[0].name, "format") == 0 && !report.checks[0].ok,
            "... and fails the format check");
        attest_buf_free (&twice);
    }
    ok (attest_verify (b.p, b.len, NULL, &report) > 0, "no expectations: still verifies nothing");

    {
        attest_bytes id, enc;
        static const uint8_t cred[] = { 0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb, 0, 1, 0xcc };
        ok (attest_credential_split (cred, sizeof cred, &id, &enc) == 0 && id.len == 4
                && enc.len == 3,
            "a credential file splits into its two parts");
        ok (attest_credential_split (cred, sizeof cred - 1, &id, &enc) != 0,
            "a truncated credential file is refused");
    }
    attest_buf_free (&b);
    real_bundle ();
    return tap_done ();
}
