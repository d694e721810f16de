/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RSA in software: the paddings made here for the TPM's raw RSA operation,
 * verification with the public key, the SubjectPublicKeyInfo. OpenSSL 3's
 * RSA_padding_add_PKCS1_PSS_mgf1 is deprecated but has no EVP equivalent for
 * padding alone.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "config.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "crypto"
#include "base/log.h"
#include "crypto/md.h"
#include "crypto/rsa.h"
#include "pkcs11-tpmtrust.h"

CK_RV
crypto_rsa_spki (const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, uint8_t **der,
                 size_t *der_len)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new ();
    BIGNUM *bn = BN_bin2bn (n, (int) n_len, NULL), *be = BN_bin2bn (e, (int) e_len, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
    EVP_PKEY *pk = NULL;
    unsigned char *out = NULL;
    int len = -1;

    if (b && bn && be && ctx && OSSL_PARAM_BLD_push_BN (b, OSSL_PKEY_PARAM_RSA_N, bn)
        && OSSL_PARAM_BLD_push_BN (b, OSSL_PKEY_PARAM_RSA_E, be)
        && (params = OSSL_PARAM_BLD_to_param (b)) != NULL && EVP_PKEY_fromdata_init (ctx) > 0
        && EVP_PKEY_fromdata (ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) > 0)
        len = i2d_PUBKEY (pk, &out);
    EVP_PKEY_free (pk);
    EVP_PKEY_CTX_free (ctx);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (b);
    BN_free (bn);
    BN_free (be);
    if (len <= 0)
        return CKR_HOST_MEMORY;
    *der = malloc ((size_t) len);
    if (*der == NULL) {
        OPENSSL_free (out);
        return CKR_HOST_MEMORY;
    }
    memcpy (*der, out, (size_t) len);
    *der_len = (size_t) len;
    OPENSSL_free (out);
    return CKR_OK;
}

CK_RV
crypto_rsa_pad_pkcs1 (const uint8_t *t, size_t t_len, uint8_t *em, size_t k)
{
    if (k < 11 || t_len > k - 11)
        return CKR_DATA_LEN_RANGE;
    em[0] = 0x00;
    em[1] = 0x01;
    memset (em + 2, 0xff, k - 3 - t_len);
    em[k - 1 - t_len] = 0x00;
    memcpy (em + k - t_len, t, t_len);
    return CKR_OK;
}

/* RFC 8017 9.2, note 1 */
static const uint8_t di_sha1[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                   0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
static const uint8_t di_sha224[] = { 0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c };
static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t di_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t di_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

const uint8_t *
crypto_rsa_digestinfo (CK_MECHANISM_TYPE hash, size_t *len)
{
#define DI(a) (*len = sizeof a, a)
    switch (hash) {
    case CKM_SHA_1:
        return DI (di_sha1);
    case CKM_SHA224:
        return DI (di_sha224);
    case CKM_SHA256:
        return DI (di_sha256);
    case CKM_SHA384:
        return DI (di_sha384);
    case CKM_SHA512:
        return DI (di_sha512);
    default:
        return NULL;
    }
#undef DI
}

static EVP_PKEY *
pkey_of (const uint8_t *spki, size_t spki_len)
{
    const unsigned char *p = spki;
    return d2i_PUBKEY (NULL, &p, (long) spki_len);
}

CK_RV
crypto_rsa_pad_pss (const uint8_t *spki, size_t spki_len, CK_MECHANISM_TYPE hash,
                    CK_MECHANISM_TYPE mgf_hash, size_t salt_len, const uint8_t *mhash,
                    uint8_t *em, size_t k)
{
    EVP_PKEY *pk = pkey_of (spki, spki_len);
    const RSA *rsa = pk ? EVP_PKEY_get0_RSA (pk) : NULL;
    const EVP_MD *md = crypto_md (hash), *mgf = crypto_md (mgf_hash);
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (rsa != NULL && md != NULL && mgf != NULL && (size_t) RSA_size (rsa) == k
        && RSA_padding_add_PKCS1_PSS_mgf1 ((RSA *) rsa, em, mhash, md, mgf, (int) salt_len) == 1)
        rv = CKR_OK;
    else
        LOG_ERROR ("PSS encoding failed (salt length %zu, modulus %zu bytes)", salt_len, k);
    EVP_PKEY_free (pk);
    return rv;
}

CK_RV
crypto_rsa_verify (const uint8_t *spki, size_t spki_len, bool pss, CK_MECHANISM_TYPE hash,
                   CK_MECHANISM_TYPE mgf_hash, size_t salt_len, const uint8_t *data, size_t len,
                   const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pk = pkey_of (spki, spki_len);
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new (pk, NULL) : NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;
    int r;

    if (ctx == NULL || EVP_PKEY_verify_init (ctx) <= 0)
        goto out;
    if (sig_len != (size_t) EVP_PKEY_get_size (pk)) {
        rv = CKR_SIGNATURE_LEN_RANGE;
        goto out;
    }
    if (pss) {
        if (EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_signature_md (ctx, crypto_md (hash)) <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, crypto_md (mgf_hash)) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen (ctx, (int) salt_len) <= 0)
            goto out;
    } else if (EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_PADDING) <= 0
               || (hash != 0 && EVP_PKEY_CTX_set_signature_md (ctx, crypto_md (hash)) <= 0)) {
        goto out;
    }
    r = EVP_PKEY_verify (ctx, sig, sig_len, data, len);
    rv = r == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (pk);
    return rv;
}
