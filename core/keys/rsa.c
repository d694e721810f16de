/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RSA (2048 and 3072 bits, exponent 65537): the key is made by the TPM, a
 * sign|decrypt key with the NULL scheme. Every signature is the TPM's raw RSA
 * private operation (TPM2_RSA_Decrypt, NULL scheme) on an encoding made here
 * in software: PKCS#1 v1.5 (CKM_RSA_PKCS: the caller's DigestInfo;
 * CKM_SHA*_RSA_PKCS: hashed here) or PSS with the caller's hash, MGF and salt
 * length (TPMs' own RSAPSS uses the largest salt; TLS 1.3 needs salt = hash
 * length). Verification is in software with the public key (crypto/rsa.c).
 * RSA public keys can also be created (C_CreateObject) for verification.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "crypto/rsa.h"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

static const uint8_t f4[] = { 0x01, 0x00, 0x01 };

/* value without its leading zero bytes */
static const uint8_t *
strip (const CK_ATTRIBUTE *a, size_t *len)
{
    const uint8_t *p = a->pValue;
    size_t n = a->ulValueLen;
    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    *len = n;
    return p;
}

static size_t
bits_of (const uint8_t *p, size_t n)
{
    size_t bits = n * 8;
    for (uint8_t top = n ? p[0] : 0; n && !(top & 0x80); top <<= 1)
        bits--;
    return n ? bits : 0;
}

/* CKA_PUBLIC_EXPONENT, when a template gives it, must be 65537. */
static CK_RV
check_exponent (const attr_list *l)
{
    const CK_ATTRIBUTE *a = attr_list_find (l, CKA_PUBLIC_EXPONENT);
    size_t n;
    const uint8_t *p;

    if (a == NULL)
        return CKR_OK;
    p = strip (a, &n);
    if (n != sizeof f4 || memcmp (p, f4, n) != 0) {
        LOG_ERROR ("CKA_PUBLIC_EXPONENT: TPM RSA keys have the exponent 65537 (01 00 01) only");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

static CK_RV
rsa_create_check (CK_OBJECT_CLASS cls, attr_list *attrs)
{
    const CK_ATTRIBUTE *ma = attr_list_find (attrs, CKA_MODULUS);
    const CK_ATTRIBUTE *ea = attr_list_find (attrs, CKA_PUBLIC_EXPONENT);
    size_t n_len, e_len, bits, spki_len = 0;
    const uint8_t *n, *e;
    uint8_t *spki = NULL, *copy = NULL;
    CK_ULONG given;
    CK_RV rv;

    (void) cls; /* only public keys (the row's `creates`) */
    if (ma == NULL || ea == NULL) {
        LOG_ERROR ("an RSA public key needs CKA_MODULUS and CKA_PUBLIC_EXPONENT");
        return CKR_TEMPLATE_INCOMPLETE;
    }
    n = strip (ma, &n_len);
    e = strip (ea, &e_len);
    bits = bits_of (n, n_len);
    if (bits < 1024 || bits > 8 * CRYPTO_RSA_MAX_BYTES || !(n[n_len - 1] & 1) || e_len == 0
        || e_len > 8 || !(e[e_len - 1] & 1) || (e_len == 1 && e[0] == 1)) {
        LOG_ERROR ("CKA_MODULUS/CKA_PUBLIC_EXPONENT: not an RSA public key of 1024 to 4096 bits "
                   "(modulus of %zu bits)",
                   bits);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (attr_list_ulong (attrs, CKA_MODULUS_BITS, &given) && given != bits) {
        LOG_ERROR ("CKA_MODULUS_BITS %lu does not match the modulus (%zu bits)", given, bits);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    rv = crypto_rsa_spki (n, n_len, e, e_len, &spki, &spki_len);
    if (rv == CKR_OK && (copy = malloc (n_len + e_len)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) { /* n and e point into the attributes set below */
        memcpy (copy, n, n_len);
        memcpy (copy + n_len, e, e_len);
        rv = attr_list_set (attrs, CKA_MODULUS, copy, n_len);
    }
    if (rv == CKR_OK)
        rv = attr_list_set (attrs, CKA_PUBLIC_EXPONENT, copy + n_len, e_len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_MODULUS_BITS, bits);
    if (rv == CKR_OK)
        rv = attr_list_set (attrs, CKA_PUBLIC_KEY_INFO, spki, spki_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    free (copy);
    free (spki);
    return rv;
}

static CK_RV
rsa_pair_check (attr_list *pub, attr_list *priv)
{
    CK_ULONG bits = 0;
    CK_RV rv;

    if (attr_list_find (pub, CKA_EC_PARAMS) || attr_list_find (priv, CKA_EC_PARAMS))
        return CKR_TEMPLATE_INCONSISTENT;
    if (!attr_list_ulong (pub, CKA_MODULUS_BITS, &bits)) {
        LOG_ERROR ("RSA key pair generation needs CKA_MODULUS_BITS in the public template");
        return CKR_TEMPLATE_INCOMPLETE;
    }
    if (bits != 2048 && bits != 3072) {
        LOG_ERROR ("CKA_MODULUS_BITS %lu: TPM RSA keys have 2048 or 3072 bits", bits);
        return CKR_KEY_SIZE_RANGE;
    }
    rv = check_exponent (pub);
    if (rv == CKR_OK)
        rv = check_exponent (priv);
    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l = i ? priv : pub;
        rv = attr_list_set (l, CKA_PUBLIC_EXPONENT, f4, sizeof f4);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong (l, CKA_MODULUS_BITS, bits);
    }
    return rv;
}

static CK_RV
rsa_generate_pair (tt_token *tok, tt_object *pub, tt_object *priv, uint8_t *raw,
                   size_t *raw_len)
{
    CK_ULONG bits = 0;
    uint8_t n[CRYPTO_RSA_MAX_BYTES], *spki = NULL;
    size_t n_len = sizeof n, spki_len = 0;
    tpm_blob tpub = { 0 }, tpriv = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    secbuf *auth = NULL;
    bool ok = false;
    CK_RV rv;

    attr_list_ulong (priv->attrs, CKA_MODULUS_BITS, &bits);
    rv = tpm_rsa_bits_supported (tok->tpm, (unsigned) bits, &ok);
    if (rv == CKR_OK && !ok) {
        LOG_ERROR ("this TPM has no RSA keys of %lu bits (TPM2_TestParms)", bits);
        rv = CKR_KEY_SIZE_RANGE;
    }
    if (rv == CKR_OK)
        rv = pcr_from_template (priv->attrs, &pcrs);
    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (tok->tpm, priv->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = tpmkey_auth_new (tok, &auth);
    if (rv == CKR_OK)
        rv = tpm_rsa_create (tok->tpm, (unsigned) bits, auth, pcrs.mask ? &pol : NULL, &tpub,
                             &tpriv, n, &n_len);
    if (rv == CKR_OK)
        rv = tpmkey_take (tok, priv, &tpub, &tpriv, auth);
    if (rv == CKR_OK)
        rv = crypto_rsa_spki (n, n_len, f4, sizeof f4, &spki, &spki_len);
    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l = i ? priv->attrs : pub->attrs;
        rv = attr_list_set (l, CKA_MODULUS, n, n_len);
        if (rv == CKR_OK)
            rv = attr_list_set (l, CKA_PUBLIC_KEY_INFO, spki, spki_len);
    }
    if (rv == CKR_OK && *raw_len >= 32) { /* CKA_ID is hashed from this */
        crypto_sha256 (n, n_len, raw);
        *raw_len = 32;
    }
    tpm_blob_clear (&tpub);
    tpm_blob_clear (&tpriv);
    secbuf_free (auth);
    free (spki);
    return rv;
}

static bool
is_pss (CK_MECHANISM_TYPE m)
{
    return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS
           || m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS
           || m == CKM_SHA512_RSA_PKCS_PSS;
}

static CK_MECHANISM_TYPE
mgf_hash (CK_RSA_PKCS_MGF_TYPE g)
{
    switch (g) {
    case CKG_MGF1_SHA1:
        return CKM_SHA_1;
    case CKG_MGF1_SHA224:
        return CKM_SHA224;
    case CKG_MGF1_SHA256:
        return CKM_SHA256;
    case CKG_MGF1_SHA384:
        return CKM_SHA384;
    case CKG_MGF1_SHA512:
        return CKM_SHA512;
    default:
        return 0;
    }
}

static CK_RV
rsa_param (sign_op *op, const CK_MECHANISM *mech)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;

    if (!is_pss (mech->mechanism))
        return keytype_no_param (op, mech);
    if (p == NULL || mech->ulParameterLen != sizeof *p) {
        LOG_ERROR ("PSS needs a CK_RSA_PKCS_PSS_PARAMS parameter");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (crypto_digest_size (p->hashAlg) == 0 || mgf_hash (p->mgf) == 0
        || (op->mech->hash != 0 && p->hashAlg != op->mech->hash)) {
        LOG_ERROR ("CK_RSA_PKCS_PSS_PARAMS: hashAlg 0x%lx / mgf 0x%lx do not fit mechanism 0x%lx",
                   p->hashAlg, p->mgf, mech->mechanism);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    op->rsa_pss = true;
    op->rsa_hash = p->hashAlg;
    op->rsa_mgf = mgf_hash (p->mgf);
    op->rsa_salt = p->sLen;
    return CKR_OK;
}

static CK_RV
rsa_check (const mech_info *m, const tt_object *key, bool verify)
{
    (void) m;
    return keytype_check_pair (key, CKK_RSA, verify);
}

static CK_RV
rsa_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
          bool verify)
{
    const CK_ATTRIBUTE *n = attr_list_find (key->attrs, CKA_MODULUS);
    const CK_ATTRIBUTE *spki = attr_list_find (key->attrs, CKA_PUBLIC_KEY_INFO);
    size_t n_len = 0, bits;
    const uint8_t *np;

    (void) tok;
    (void) mech;
    if (n == NULL || spki == NULL || spki->ulValueLen == 0)
        return CKR_KEY_TYPE_INCONSISTENT;
    np = strip (n, &n_len);
    bits = bits_of (np, n_len);
    if (n_len > CRYPTO_RSA_MAX_BYTES || bits < 1024)
        return CKR_KEY_TYPE_INCONSISTENT;
    op->field = n_len;
    /* PSS: emLen - hLen - 2 bytes of salt at most (RFC 8017 9.1.1) */
    if (op->rsa_pss && op->rsa_salt + crypto_digest_size (op->rsa_hash) + 2 > (bits + 6) / 8) {
        LOG_ERROR ("PSS salt length %zu is too long for a %zu-bit key", op->rsa_salt, bits);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    op->rsa_spki = malloc (spki->ulValueLen);
    if (op->rsa_spki == NULL)
        return CKR_HOST_MEMORY;
    memcpy (op->rsa_spki, spki->pValue, op->rsa_spki_len = spki->ulValueLen);
    if (op->mech->hash != 0) {
        CK_RV rv = crypto_digest_new (op->mech->hash, &op->digest);
        if (rv != CKR_OK)
            return rv;
    }
    return verify ? CKR_OK : tpmkey_copy (op, key);
}

/* What is signed: the input (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS) or its hash; h
 * gets it (64 bytes) when hashed here. */
static CK_RV
rsa_input (sign_op *op, uint8_t *h, const uint8_t **in, size_t *len)
{
    CK_RV rv = CKR_OK;

    *in = op->buf;
    *len = op->buf_len;
    if (op->digest != NULL) {
        rv = crypto_digest_final (op->digest, h);
        *in = h;
        *len = crypto_digest_size (op->mech->hash);
    } else if (op->rsa_pss && *len != crypto_digest_size (op->rsa_hash)) {
        LOG_ERROR ("CKM_RSA_PKCS_PSS signs a hash: %zu bytes given, %zu expected", *len,
                   crypto_digest_size (op->rsa_hash));
        rv = CKR_DATA_LEN_RANGE;
    }
    return rv;
}

/* The encoded message, op->field bytes. */
static CK_RV
rsa_encode (sign_op *op, uint8_t *em)
{
    uint8_t h[64], t[19 + 64];
    const uint8_t *in, *di;
    size_t len, di_len;
    CK_RV rv = rsa_input (op, h, &in, &len);

    if (rv != CKR_OK)
        return rv;
    if (op->rsa_pss)
        return crypto_rsa_pad_pss (op->rsa_spki, op->rsa_spki_len, op->rsa_hash, op->rsa_mgf,
                                   op->rsa_salt, in, em, op->field);
    if (op->digest == NULL) {
        rv = crypto_rsa_pad_pkcs1 (in, len, em, op->field);
        if (rv != CKR_OK)
            LOG_ERROR ("CKM_RSA_PKCS: %zu bytes is more than a %zu-byte key signs", len,
                       op->field);
        return rv;
    }
    di = crypto_rsa_digestinfo (op->mech->hash, &di_len);
    if (di == NULL)
        return CKR_MECHANISM_INVALID;
    memcpy (t, di, di_len);
    memcpy (t + di_len, in, len);
    return crypto_rsa_pad_pkcs1 (t, di_len + len, em, op->field);
}

static size_t
rsa_out_len (const sign_op *op, size_t pending)
{
    (void) pending;
    return op->field;
}

static CK_RV
rsa_sign (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs, CK_BYTE *sig,
          CK_ULONG *sig_len)
{
    uint8_t em[CRYPTO_RSA_MAX_BYTES];
    secbuf *auth = NULL;
    size_t out_len = *sig_len;
    CK_RV rv = rsa_encode (op, em);

    (void) key;
    (void) refs;
    if (rv == CKR_OK)
        rv = tpmkey_auth (tok, op, &auth);
    if (rv == CKR_OK)
        rv = tpm_rsa_raw (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs }, em,
                          op->field, false, sig, &out_len);
    if (rv == CKR_OK)
        *sig_len = out_len;
    secbuf_free (auth);
    return rv;
}

static CK_RV
rsa_verify (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    uint8_t h[64];
    const uint8_t *in;
    size_t len;
    CK_RV rv = rsa_input (op, h, &in, &len);

    (void) tok;
    if (rv != CKR_OK)
        return rv;
    return crypto_rsa_verify (op->rsa_spki, op->rsa_spki_len, op->rsa_pss,
                              op->rsa_pss ? op->rsa_hash : op->mech->hash, op->rsa_mgf,
                              op->rsa_salt, in, len, sig, sig_len);
}

static const CK_KEY_TYPE rsa_ck[] = { CKK_RSA };

const keytype keytype_rsa = {
    .name = "RSA",
    .serves = KT_CLASS (CKO_PUBLIC_KEY) | KT_CLASS (CKO_PRIVATE_KEY),
    .ck = rsa_ck,
    .n_ck = 1,
    .creates = KT_CLASS (CKO_PUBLIC_KEY), /* private keys are generated in the TPM */
    .create_check = rsa_create_check,
    .pair_ck = CKK_RSA,
    .pair_check = rsa_pair_check,
    .generate_pair = rsa_generate_pair,
    .param = rsa_param,
    .check = rsa_check,
    .tpm_sign = true,
    .init = rsa_init,
    .check_result = tpmkey_check_result,
    .max_input = CRYPTO_RSA_MAX_BYTES,
    .out_len = rsa_out_len,
    .sign = rsa_sign,
    .verify = rsa_verify,
};
