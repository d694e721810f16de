/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation bundles, TPM structures in software: Names, public areas as
 * OpenSSL keys, TPM signatures verified. Pure: no TPM, no state; every read is
 * bounds-checked. See attest-verify.h and docs/attestation.md.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "verify/attest-verify.h"
#include "verify/attest-internal.h"

/* ---- TPM structures ---- */

const EVP_MD *
attest_tpm_md (uint16_t alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return EVP_sha1 ();
    case TPM2_ALG_SHA256:
        return EVP_sha256 ();
    case TPM2_ALG_SHA384:
        return EVP_sha384 ();
    case TPM2_ALG_SHA512:
        return EVP_sha512 ();
    default:
        return NULL;
    }
}

int
attest_unmarshal_public (const uint8_t *p, size_t len, TPM2B_PUBLIC *out)
{
    size_t off = 0;
    memset (out, 0, sizeof *out);
    if (p == NULL || len < 2 || attest_be16 (p) != len - 2)
        return -1;
    return Tss2_MU_TPM2B_PUBLIC_Unmarshal (p, len, &off, out) == TSS2_RC_SUCCESS && off == len
               ? 0
               : -1;
}

int
attest_tpm_name (const uint8_t *pub, size_t pub_len, uint8_t *name, size_t *name_len)
{
    TPM2B_PUBLIC p;
    const EVP_MD *md;
    unsigned int n = 0;

    if (attest_unmarshal_public (pub, pub_len, &p) != 0
        || (md = attest_tpm_md (p.publicArea.nameAlg)) == NULL)
        return -1;
    name[0] = (uint8_t) (p.publicArea.nameAlg >> 8);
    name[1] = (uint8_t) p.publicArea.nameAlg;
    if (!EVP_Digest (pub + 2, pub_len - 2, name + 2, &n, md, NULL))
        return -1;
    *name_len = 2 + n;
    return 0;
}

static EVP_PKEY *
pkey_from_params (const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param (bld) : NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init (ctx) <= 0
        || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free (params);
    EVP_PKEY_CTX_free (ctx);
    return pkey;
}

/* The public key of an ECC (P-256, P-384) or RSA TPM object. */
EVP_PKEY *
attest_pkey_from_tpm (const TPMT_PUBLIC *a)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
    EVP_PKEY *pkey = NULL;

    if (bld == NULL)
        return NULL;
    if (a->type == TPM2_ALG_ECC) {
        const TPMS_ECC_POINT *u = &a->unique.ecc;
        size_t n = a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256   ? 32
                   : a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ? 48
                                                                           : 0;
        uint8_t pt[1 + 2 * 48] = { 0x04 };
        if (n != 0 && u->x.size <= n && u->y.size <= n) {
            memcpy (pt + 1 + n - u->x.size, u->x.buffer, u->x.size);
            memcpy (pt + 1 + 2 * n - u->y.size, u->y.buffer, u->y.size);
            if (OSSL_PARAM_BLD_push_utf8_string (bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                 n == 32 ? "prime256v1" : "secp384r1", 0)
                && OSSL_PARAM_BLD_push_octet_string (bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * n))
                pkey = pkey_from_params ("EC", bld);
        }
    } else if (a->type == TPM2_ALG_RSA && a->unique.rsa.size > 0) {
        BIGNUM *n = BN_bin2bn (a->unique.rsa.buffer, a->unique.rsa.size, NULL);
        BIGNUM *e = BN_new ();
        uint32_t exp = a->parameters.rsaDetail.exponent ? a->parameters.rsaDetail.exponent : 65537;
        if (n != NULL && e != NULL && BN_set_word (e, exp)
            && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, n)
            && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, e))
            pkey = pkey_from_params ("RSA", bld);
        BN_free (n);
        BN_free (e);
    }
    OSSL_PARAM_BLD_free (bld);
    return pkey;
}

char *
attest_public_pem (const uint8_t *pub, size_t pub_len)
{
    TPM2B_PUBLIC p;
    EVP_PKEY *pkey;
    BIO *bio;
    char *out = NULL, *data;
    long n;

    if (attest_unmarshal_public (pub, pub_len, &p) != 0
        || (pkey = attest_pkey_from_tpm (&p.publicArea)) == NULL)
        return NULL;
    bio = BIO_new (BIO_s_mem ());
    if (bio != NULL && PEM_write_bio_PUBKEY (bio, pkey) && (n = BIO_get_mem_data (bio, &data)) > 0
        && (out = malloc ((size_t) n + 1)) != NULL) {
        memcpy (out, data, (size_t) n);
        out[n] = '\0';
    }
    BIO_free (bio);
    EVP_PKEY_free (pkey);
    return out;
}

uint8_t *
attest_spki_from (const uint8_t *data, size_t len, size_t *out_len)
{
    BIO *bio = BIO_new_mem_buf (data, (int) (len > INT32_MAX ? 0 : len));
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL) : NULL;
    const uint8_t *p = data;
    uint8_t *der = NULL, *out;
    int n;

    if (pkey == NULL)
        pkey = d2i_PUBKEY (NULL, &p, (long) len);
    BIO_free (bio);
    if (pkey == NULL)
        return NULL;
    n = i2d_PUBKEY (pkey, &der);
    EVP_PKEY_free (pkey);
    if (n <= 0)
        return NULL;
    out = malloc ((size_t) n);
    if (out != NULL) {
        memcpy (out, der, (size_t) n);
        *out_len = (size_t) n;
    }
    OPENSSL_free (der);
    return out;
}

/* Verifies a DER or raw signature over msg with md (NULL for Ed25519). */
bool
attest_pkey_verify (EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *msg, size_t len,
             const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    bool ok = ctx != NULL && EVP_DigestVerifyInit (ctx, NULL, md, NULL, pkey) > 0
              && EVP_DigestVerify (ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free (ctx);
    return ok;
}

/* r || s (or two TPM2B halves) as a DER ECDSA-Sig-Value; malloc'd. */
uint8_t *
attest_ecdsa_der (const uint8_t *r, size_t r_len, const uint8_t *s, size_t s_len, size_t *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new ();
    BIGNUM *br = BN_bin2bn (r, (int) r_len, NULL), *bs = BN_bin2bn (s, (int) s_len, NULL);
    uint8_t *der = NULL;
    int n;

    if (es == NULL || br == NULL || bs == NULL || !ECDSA_SIG_set0 (es, br, bs)) {
        BN_free (br);
        BN_free (bs);
        ECDSA_SIG_free (es);
        return NULL;
    }
    n = i2d_ECDSA_SIG (es, &der);
    ECDSA_SIG_free (es);
    if (n <= 0)
        return NULL;
    *der_len = (size_t) n;
    return der;
}

/* A TPMT_SIGNATURE (ECDSA or RSASSA) by key over msg. why gets the reason. */
bool
attest_tpm_sig_verify (const TPMT_PUBLIC *key, const uint8_t *msg, size_t len, attest_bytes sig,
                char *why, size_t why_len)
{
    TPMT_SIGNATURE s;
    EVP_PKEY *pkey = NULL;
    uint8_t *der = NULL;
    size_t off = 0, der_len = 0;
    bool ok = false;

    memset (&s, 0, sizeof s);
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal (sig.p, sig.len, &off, &s) != TSS2_RC_SUCCESS
        || off != sig.len) {
        attest_errf (why, why_len, "the signature is not a TPMT_SIGNATURE");
        return false;
    }
    if ((pkey = attest_pkey_from_tpm (key)) == NULL) {
        attest_errf (why, why_len, "the key is not a P-256/P-384 or RSA key");
        return false;
    }
    if (s.sigAlg == TPM2_ALG_ECDSA && key->type == TPM2_ALG_ECC
        && attest_tpm_md (s.signature.ecdsa.hash) != NULL) {
        der = attest_ecdsa_der (
            s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size,
            s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size, &der_len);
        ok = der != NULL
             && attest_pkey_verify (pkey, attest_tpm_md (s.signature.ecdsa.hash), msg, len, der,
                                    der_len);
    } else if (s.sigAlg == TPM2_ALG_RSASSA && key->type == TPM2_ALG_RSA
               && attest_tpm_md (s.signature.rsassa.hash) != NULL) {
        ok = attest_pkey_verify (pkey, attest_tpm_md (s.signature.rsassa.hash), msg, len,
                          s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
    } else {
        attest_errf (why, why_len, "signature algorithm 0x%04x does not fit the key", s.sigAlg);
        EVP_PKEY_free (pkey);
        return false;
    }
    if (!ok)
        attest_errf (why, why_len, "the signature does not verify");
    OPENSSL_free (der);
    EVP_PKEY_free (pkey);
    return ok;
}

int
attest_unmarshal_attest (attest_bytes a, TPMS_ATTEST *out)
{
    size_t off = 0;
    memset (out, 0, sizeof *out);
    return a.p != NULL && Tss2_MU_TPMS_ATTEST_Unmarshal (a.p, a.len, &off, out) == TSS2_RC_SUCCESS
                   && off == a.len
               ? 0
               : -1;
}
