/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The attestation verifier (core/verify/attest-verify.c) on hostile bundles: it runs
 * offline on data from anywhere, so it must never read outside the bundle,
 * crash, leak or accept what it cannot have checked. The input is a bundle;
 * the verifier is asked with the bundle's own nonce (so the later checks run)
 * and with expectations taken from the bundle (AK name, PCR values).
 * Invariants: a bundle attest_parse refuses, or whose AK is not the trusted
 * one, is never verified; attest_verify
 * agrees with itself on a second run; every check it reports has a name; the
 * helpers (Name, PEM, SPKI) are fed the bundle's fields and the raw input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "verify/attest-verify.h"
#include "fuzz/fuzz-common.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_env ();
    return 0;
}

static void
helpers (const uint8_t *p, size_t len)
{
    uint8_t name[66];
    size_t name_len = 0, spki_len = 0;
    char *pem;
    uint8_t *spki;

    if (p == NULL)
        return;
    if (attest_tpm_name (p, len, name, &name_len) == 0 && (name_len < 2 || name_len > 66))
        abort ();
    pem = attest_public_pem (p, len);
    if (pem != NULL && strncmp (pem, "-----BEGIN PUBLIC KEY-----", 26) != 0)
        abort ();
    spki = pem != NULL ? attest_spki_from ((const uint8_t *) pem, strlen (pem), &spki_len) : NULL;
    if (pem != NULL && spki == NULL)
        abort (); /* our own PEM must read back */
    free (spki);
    free (pem);
    spki = attest_spki_from (p, len, &spki_len);
    free (spki);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    static attest_report r1, r2; /* large: not on the stack */
    static attest_expect e;
    attest_bundle b;
    char err[160];
    bool parsed = attest_parse (data, len, &b, err, sizeof err) == 0;
    uint8_t ak_name[66];
    size_t ak_name_len = 0;

    memset (&e, 0, sizeof e);
    if (parsed) {
        e.nonce = b.nonce.p;
        e.nonce_len = b.nonce.len;
        if (b.ak_pub.p != NULL
            && attest_tpm_name (b.ak_pub.p, b.ak_pub.len, ak_name, &ak_name_len) == 0) {
            e.ak_name = ak_name;
            e.ak_name_len = ak_name_len;
        }
        /* expect PCR 0 to hold the bundle's first value (when it has one) */
        if ((b.pcr_mask & 1) && b.pcr_values.len >= 32) {
            e.pcr_mask = 1;
            memcpy (e.pcr_value[0], b.pcr_values.p, 32);
            e.pcr_value_len[0] = 32;
        }
        helpers (b.ak_pub.p, b.ak_pub.len);
        helpers (b.ek_pub.p, b.ek_pub.len);
        helpers (b.identity.p, b.identity.len);
        for (size_t i = 0; i < b.n_keys && i < ATTEST_MAX_KEYS; i++)
            helpers (b.keys[i].pub.p, b.keys[i].pub.len);
    } else {
        static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        e.nonce = nonce;
        e.nonce_len = sizeof nonce;
    }
    helpers (data, len);

    if (attest_verify (data, len, &e, &r1) == 0 && (!parsed || !r1.ak_trusted))
        abort (); /* verified what does not parse, or without a trusted AK (fail closed) */
    attest_verify (data, len, &e, &r2);
    if (r1.failed != r2.failed || r1.n != r2.n || r1.n > ATTEST_MAX_CHECKS)
        abort (); /* not deterministic */
    for (size_t i = 0; i < r1.n; i++)
        if (r1.checks[i].name[0] == '\0' || r1.checks[i].ok != r2.checks[i].ok)
            abort ();
    return 0;
}
