/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TSS2 key files as `tpmtrust-tool key import-tss2` reads them (tools/tss2.c),
 * then what adoption does with the blobs before the TPM sees them
 * (core/adopt.c): tpm_key_describe of the TPM2B_PUBLIC, the EC point as DER
 * and as a SubjectPublicKeyInfo, the CKA_ID hash. An input that starts with
 * "-----" is the file itself; any other is the DER inside, wrapped in the PEM
 * armour here (so mutations reach the ASN.1 and the TPM structures quickly).
 */
#include "config.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "fuzz/fuzz-common.h"
#include "tools/tss2.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

static void
adopt_checks (const tss2_key *k)
{
    tpm_blob pb = { k->pub, k->pub_len };
    tpm_key_desc d;
    tpm_curve curve;
    uint8_t point[1 + 2 * 48], der[2 + sizeof point], id[20], *spki = NULL;
    size_t point_len = sizeof point, der_len = sizeof der, spki_len = 0;

    if (tpm_ec_public (&pb, &curve, point, &point_len) == CKR_OK
        && (point_len != 65 && point_len != 97))
        abort (); /* an uncompressed P-256 or P-384 point, nothing else */
    if (tpm_key_describe (&pb, &d) != CKR_OK || d.kind != TPM_KEY_ECC_SIGN) {
        crypto_generichash_20 (k->pub, k->pub_len, id);
        return;
    }
    if (d.point_len > sizeof d.point)
        abort ();
    crypto_generichash_20 (d.point, d.point_len, id);
    if (crypto_ec_point_der (d.point, d.point_len, der, &der_len) == CKR_OK
        && (der_len > sizeof der || der[0] != 0x04))
        abort ();
    if (crypto_ec_spki (d.curve == TPM_CURVE_P384 ? 48 : 32, d.point, d.point_len, &spki,
                        &spki_len)
        == CKR_OK)
        free (spki);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_env ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    tss2_key k;
    char err[256];
    BIO *bio = NULL;
    const uint8_t *pem = data;
    long pem_len = (long) len;

    if (len < 5 || memcmp (data, "-----", 5) != 0) {
        char *p = NULL;
        bio = BIO_new (BIO_s_mem ());
        if (bio == NULL)
            abort ();
        if (!PEM_write_bio (bio, "TSS2 PRIVATE KEY", "", data, (long) len)) {
            BIO_free (bio); /* nothing to armour (an empty input) */
            return 0;
        }
        pem_len = BIO_get_mem_data (bio, &p);
        pem = (const uint8_t *) p;
    }
    if (tss2_parse (pem, (size_t) pem_len, &k, err, sizeof err) == 0) {
        if (k.pub == NULL || k.priv == NULL)
            abort ();
        adopt_checks (&k);
        tss2_key_clear (&k);
    } else if (k.pub != NULL || k.priv != NULL || err[0] == '\0') {
        abort (); /* a failure leaves nothing behind and says why */
    }
    BIO_free (bio);
    return 0;
}
