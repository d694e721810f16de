/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-attest-forge - a snapshot bundle made entirely in software, with no TPM
 * behind it: a software P-256 "AK" with the attributes of a restricted,
 * fixedTPM signing key, a software-signed TPMS_ATTEST quote (TPM_GENERATED,
 * the endorsement hierarchy's qualified signer, any PCR 7), a software ECDSA
 * identity "certified" by that AK, and an EK public key (and certificate)
 * copied from anywhere. Every check the bundle can make about itself passes;
 * only a trusted AK name tells it from a real one (issue 21, item 1).
 *
 *   test-attest-forge                       TAP (no TPM): the verifier fails
 *                                           the forgery on ak-trust alone,
 *                                           and on ak-name with a trusted AK
 *   test-attest-forge OUT NONCE_HEX [EK_PUB [EK_CERT]]
 *                                           writes the forged bundle to OUT
 *                                           (EK_PUB: a TPM2B_PUBLIC file, e.g.
 *                                           the victim's `attest ek --dir`)
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "verify/attest-verify.h"
#include "tests/unit/tap.h"

/* A software P-256 key as a TPM2B_PUBLIC with attrs (and ECDSA-SHA256 when it signs). */
static size_t
ecc_public (EVP_PKEY *k, TPMA_OBJECT attrs, uint8_t *out, size_t cap)
{
    TPM2B_PUBLIC p;
    uint8_t pt[65];
    size_t n = 0, off = 0;

    memset (&p, 0, sizeof p);
    if (!EVP_PKEY_get_octet_string_param (k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n)
        || n != 65)
        return 0;
    p.publicArea.type = TPM2_ALG_ECC;
    p.publicArea.nameAlg = TPM2_ALG_SHA256;
    p.publicArea.objectAttributes = attrs;
    p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p.publicArea.unique.ecc.x.size = 32;
    memcpy (p.publicArea.unique.ecc.x.buffer, pt + 1, 32);
    p.publicArea.unique.ecc.y.size = 32;
    memcpy (p.publicArea.unique.ecc.y.buffer, pt + 33, 32);
    if (Tss2_MU_TPM2B_PUBLIC_Marshal (&p, out, cap, &off) != TSS2_RC_SUCCESS)
        return 0;
    return off;
}

/* ECDSA-SHA256 by k over msg: r and s, 32 bytes each. */
static bool
sign_rs (EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t r[32], uint8_t s[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    uint8_t der[80];
    size_t der_len = sizeof der;
    const uint8_t *p = der;
    ECDSA_SIG *sig = NULL;
    bool ok = ctx != NULL && EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, k) > 0
              && EVP_DigestSign (ctx, der, &der_len, msg, len) > 0
              && (sig = d2i_ECDSA_SIG (NULL, &p, (long) der_len)) != NULL
              && BN_bn2binpad (ECDSA_SIG_get0_r (sig), r, 32) == 32
              && BN_bn2binpad (ECDSA_SIG_get0_s (sig), s, 32) == 32;
    ECDSA_SIG_free (sig);
    EVP_MD_CTX_free (ctx);
    return ok;
}

/* A marshalled TPMS_ATTEST signed by the software AK: attest_field, sig_field. */
static bool
put_attest (attest_buf *b, uint16_t attest_field, uint16_t sig_field, TPMS_ATTEST *a,
            EVP_PKEY *ak)
{
    uint8_t buf[sizeof (TPMS_ATTEST)], sbuf[sizeof (TPMT_SIGNATURE)];
    size_t off = 0, soff = 0;
    TPMT_SIGNATURE sig;

    memset (&sig, 0, sizeof sig);
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
    sig.signature.ecdsa.signatureR.size = 32;
    sig.signature.ecdsa.signatureS.size = 32;
    if (Tss2_MU_TPMS_ATTEST_Marshal (a, buf, sizeof buf, &off) != TSS2_RC_SUCCESS
        || !sign_rs (ak, buf, off, sig.signature.ecdsa.signatureR.buffer,
                     sig.signature.ecdsa.signatureS.buffer)
        || Tss2_MU_TPMT_SIGNATURE_Marshal (&sig, sbuf, sizeof sbuf, &soff) != TSS2_RC_SUCCESS)
        return false;
    attest_buf_field (b, attest_field, buf, off);
    attest_buf_field (b, sig_field, sbuf, soff);
    return true;
}

/* The forged bundle answering nonce, with ek (TPM2B_PUBLIC) and cert (may be empty). */
static bool
forge (const uint8_t *nonce, size_t nonce_len, const uint8_t *ek, size_t ek_len,
       const uint8_t *cert, size_t cert_len, attest_buf *b, uint8_t *ak_name, size_t *ak_name_len)
{
    static const uint8_t endorsement[4] = { 0x40, 0x00, 0x00, 0x0b };
    EVP_PKEY *ak = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    EVP_PKEY *id = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    uint8_t ak_pub[512], id_pub[512], id_name[66], pcr7[32], qn[4 + 66], *spki = NULL;
    uint8_t r[32], s[32];
    size_t ak_len, id_len, id_name_len = 0, key;
    unsigned int dl = 0;
    int spki_len;
    TPMS_ATTEST q;
    bool ok = false;

    memset (b, 0, sizeof *b);
    memset (pcr7, 0x42, sizeof pcr7); /* any boot state the forger likes */
    ak_len = ak ? ecc_public (ak, 0x00050472, ak_pub, sizeof ak_pub) : 0; /* the AK template's */
    id_len = id ? ecc_public (id, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                      | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                      | TPMA_OBJECT_SIGN_ENCRYPT,
                              id_pub, sizeof id_pub)
                : 0;
    spki_len = id ? i2d_PUBKEY (id, &spki) : 0;
    if (ak_len == 0 || id_len == 0 || spki_len <= 0
        || attest_tpm_name (ak_pub, ak_len, ak_name, ak_name_len) != 0
        || attest_tpm_name (id_pub, id_len, id_name, &id_name_len) != 0)
        goto out;

    attest_buf_put (b, ATTEST_MAGIC, 4);
    attest_buf_u16 (b, ATTEST_VERSION);
    attest_buf_u16 (b, 0);
    attest_buf_u32 (b, 0); /* the body length, set below */
    attest_buf_field (b, ATTEST_NONCE, nonce, nonce_len);
    attest_buf_field (b, ATTEST_IDENTITY, spki, (size_t) spki_len);
    attest_buf_field (b, ATTEST_IDENTITY_LABEL, "id", 2);
    attest_buf_field (b, ATTEST_AK_PUBLIC, ak_pub, ak_len);
    attest_buf_field (b, ATTEST_EK_PUBLIC, ek, ek_len);
    if (cert_len)
        attest_buf_field (b, ATTEST_EK_CERT, cert, cert_len);

    /* the quote: TPM_GENERATED, "signed by an endorsement primary", PCR 7 */
    memset (&q, 0, sizeof q);
    q.magic = TPM2_GENERATED_VALUE;
    q.type = TPM2_ST_ATTEST_QUOTE;
    memcpy (qn, endorsement, 4);
    memcpy (qn + 4, ak_name, *ak_name_len);
    q.qualifiedSigner.size = 34;
    q.qualifiedSigner.name[0] = 0x00;
    q.qualifiedSigner.name[1] = 0x0b;
    EVP_Digest (qn, 4 + *ak_name_len, q.qualifiedSigner.name + 2, &dl, EVP_sha256 (), NULL);
    q.extraData.size = (UINT16) nonce_len;
    memcpy (q.extraData.buffer, nonce, nonce_len);
    q.clockInfo = (TPMS_CLOCK_INFO) { .clock = 123456, .resetCount = 1, .safe = TPM2_YES };
    q.attested.quote.pcrSelect.count = 1;
    q.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    q.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    q.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0x80;
    q.attested.quote.pcrDigest.size = 32;
    EVP_Digest (pcr7, 32, q.attested.quote.pcrDigest.buffer, &dl, EVP_sha256 (), NULL);
    if (!put_attest (b, ATTEST_QUOTE, ATTEST_QUOTE_SIG, &q, ak))
        goto out;
    {
        size_t m = attest_buf_open (b, ATTEST_PCR_VALUES);
        attest_buf_u16 (b, TPM2_ALG_SHA256);
        attest_buf_u32 (b, 0x80);
        attest_buf_put (b, pcr7, 32);
        attest_buf_close (b, m);
    }

    /* the identity, "certified" by the AK: "it lives in this TPM" */
    key = attest_buf_open (b, ATTEST_KEY);
    attest_buf_field (b, ATTEST_KEY_ID, "\x01", 1);
    attest_buf_field (b, ATTEST_KEY_LABEL, "id", 2);
    attest_buf_field (b, ATTEST_KEY_PUBLIC, id_pub, id_len);
    q.type = TPM2_ST_ATTEST_CERTIFY;
    memset (&q.attested, 0, sizeof q.attested);
    q.attested.certify.name.size = (UINT16) id_name_len;
    memcpy (q.attested.certify.name.name, id_name, id_name_len);
    if (!put_attest (b, ATTEST_KEY_CERTIFY, ATTEST_KEY_CERTIFY_SIG, &q, ak))
        goto out;
    attest_buf_close (b, key);
    if (b->failed)
        goto out;
    {
        size_t body = b->len - ATTEST_HEADER_LEN;
        b->p[8] = (uint8_t) (body >> 24);
        b->p[9] = (uint8_t) (body >> 16);
        b->p[10] = (uint8_t) (body >> 8);
        b->p[11] = (uint8_t) body;
    }
    /* the identity's signature over header and body: r || s */
    if (!sign_rs (id, b->p, b->len, r, s))
        goto out;
    attest_buf_u16 (b, ATTEST_SIG_ECDSA_P256_SHA256);
    attest_buf_u16 (b, 64);
    attest_buf_put (b, r, 32);
    attest_buf_put (b, s, 32);
    ok = !b->failed;
out:
    OPENSSL_free (spki);
    EVP_PKEY_free (ak);
    EVP_PKEY_free (id);
    return ok;
}

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
failures (const attest_report *r, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n && off < cap; i++)
        if (!r->checks[i].ok)
            off += (size_t) snprintf (out + off, cap - off, "%s%s", off ? "," : "",
                                      r->checks[i].name);
    return out;
}

/* No TPM: a software "EK" (any P-256 TPM2B_PUBLIC passes the EK checks). */
static int
self_test (void)
{
    static const uint8_t nonce[] = "forged-nonce";
    static attest_report r;
    EVP_PKEY *ek = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    uint8_t ek_pub[512], ak_name[66], other[34] = { 0x00, 0x0b };
    size_t ek_len = ek ? ecc_public (ek, 0x000300b2, ek_pub, sizeof ek_pub) : 0, ak_name_len = 0;
    attest_expect e = { .nonce = nonce, .nonce_len = sizeof nonce - 1 };
    attest_buf b;
    char f[512];
    int failed;

    ok (ek_len > 0 && forge (nonce, sizeof nonce - 1, ek_pub, ek_len, NULL, 0, &b, ak_name,
                             &ak_name_len),
        "a bundle forged in software: %zu bytes", b.len);
    failed = attest_verify (b.p, b.len, &e, &r);
    ok (failed == 1 && !r.ak_trusted && strcmp (failures (&r, f, sizeof f), "ak-trust") == 0,
        "without a trusted AK name it fails, on ak-trust alone (%d failed: %s; %zu checks)",
        failed, f, r.n);
    for (size_t i = 0; i < r.n; i++)
        if (strcmp (r.checks[i].name, "ak-trust") == 0)
            ok (strstr (r.checks[i].detail, "NOT ESTABLISHED") != NULL, "ak-trust: %s",
                r.checks[i].detail);
    e.ak_name = other;
    e.ak_name_len = sizeof other;
    failed = attest_verify (b.p, b.len, &e, &r);
    ok (failed == 1 && !r.ak_trusted && strcmp (failures (&r, f, sizeof f), "ak-name") == 0,
        "with a trusted AK name it fails on ak-name (%s)", f);
    /* the one way it passes: the verifier trusts the forger's own AK */
    e.ak_name = ak_name;
    e.ak_name_len = ak_name_len;
    ok (attest_verify (b.p, b.len, &e, &r) == 0 && r.ak_trusted,
        "it passes only with the forger's AK name as the trusted one");
    attest_buf_free (&b);
    EVP_PKEY_free (ek);
    return tap_done ();
}

int
main (int argc, char **argv)
{
    uint8_t nonce[64], ak_name[66], *ek = NULL, *cert = NULL;
    size_t nonce_len, ek_len = 0, cert_len = 0, ak_name_len = 0;
    attest_buf b;
    FILE *f;
    int rc = 1;

    setenv ("TSS2_LOG", "all+none", 0);
    if (argc == 1)
        return self_test ();
    nonce_len = argc > 2 ? strlen (argv[2]) / 2 : 0;
    if (argc < 3 || argc > 5 || nonce_len == 0 || nonce_len > sizeof nonce) {
        fprintf (stderr, "usage: %s [OUT NONCE_HEX [EK_PUB [EK_CERT]]]\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < nonce_len; i++) {
        unsigned v;
        sscanf (argv[2] + 2 * i, "%2x", &v);
        nonce[i] = (uint8_t) v;
    }
    if (argc > 3)
        ek = slurp (argv[3], &ek_len);
    if (argc > 4)
        cert = slurp (argv[4], &cert_len);
    if (forge (nonce, nonce_len, ek, ek_len, cert, cert_len, &b, ak_name, &ak_name_len)
        && (f = fopen (argv[1], "wb")) != NULL) {
        rc = fwrite (b.p, 1, b.len, f) == b.len && fclose (f) == 0 ? 0 : 1;
        printf ("forged AK name: ");
        for (size_t i = 0; i < ak_name_len; i++)
            printf ("%02x", ak_name[i]);
        printf ("\n");
    }
    attest_buf_free (&b);
    free (ek);
    free (cert);
    return rc;
}
