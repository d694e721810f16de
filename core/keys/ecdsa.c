/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ECDSA on P-256 and P-384: the key is made by the TPM and signs there
 * (TPM2_Sign); verification is in software with the public point (crypto.c).
 * EC public keys can also be created (C_CreateObject) for verification.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define MAX_RAW_INPUT (64 * 1024) /* CKM_ECDSA: a digest, not a document */

static CK_RV
ecdsa_create_check (CK_OBJECT_CLASS cls, attr_list *attrs)
{
    const CK_ATTRIBUTE *a = attr_list_find (attrs, CKA_EC_PARAMS);
    uint8_t raw[1 + 2 * 48];
    size_t raw_len = sizeof raw, field;
    CK_RV rv;

    (void) cls; /* only public keys (the row's `creates`) */
    field = crypto_ec_params_size (a->pValue, a->ulValueLen);
    if (field == 0) {
        LOG_ERROR ("CKA_EC_PARAMS: only the named curves P-256 and P-384 are supported");
        return CKR_CURVE_NOT_SUPPORTED;
    }
    a = attr_list_find (attrs, CKA_EC_POINT);
    rv = crypto_ec_point_raw (a->pValue, a->ulValueLen, field, raw, &raw_len);
    if (rv != CKR_OK) {
        LOG_ERROR ("CKA_EC_POINT is not an uncompressed point on the curve");
        return rv;
    }
    return keytype_public_finish (attrs, raw, raw_len);
}

static CK_RV
ecdsa_pair_check (attr_list *pub, attr_list *priv)
{
    const CK_ATTRIBUTE *params;
    const uint8_t *oid;
    size_t oid_len, field;
    CK_RV rv = keytype_pair_params (pub, priv, &params);

    if (rv != CKR_OK)
        return rv;
    field = crypto_ec_params_size (params->pValue, params->ulValueLen);
    if (field == 0) {
        LOG_ERROR ("CKA_EC_PARAMS: only the named curves P-256 and P-384 are supported");
        return CKR_CURVE_NOT_SUPPORTED;
    }
    oid = crypto_ec_params_for_size (field, &oid_len);
    return keytype_pair_set_params (pub, priv, oid, oid_len);
}

/* The TPM ECDSA key of a new pair: attached to priv; its point. */
static CK_RV
ecdsa_generate_pair (tt_token *tok, tt_object *pub, tt_object *priv, uint8_t *raw,
                     size_t *raw_len)
{
    const CK_ATTRIBUTE *params = attr_list_find (priv->attrs, CKA_EC_PARAMS);
    size_t field = crypto_ec_params_size (params->pValue, params->ulValueLen), spki_len = 0;
    tpm_blob tpub = { 0 }, tpriv = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    secbuf *auth = NULL;
    uint8_t *spki = NULL;
    CK_RV rv = pcr_from_template (priv->attrs, &pcrs);

    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (tok->tpm, priv->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = tpmkey_auth_new (tok, &auth);
    if (rv == CKR_OK)
        rv = tpm_ec_create (tok->tpm, field == 48 ? TPM_CURVE_P384 : TPM_CURVE_P256, auth,
                            pcrs.mask ? &pol : NULL,
                            attr_list_bool_or (priv->attrs, CKA_DERIVE, false), &tpub, &tpriv,
                            raw, raw_len);
    if (rv == CKR_OK)
        rv = tpmkey_take (tok, priv, &tpub, &tpriv, auth);
    if (rv == CKR_OK)
        rv = crypto_ec_spki (field, raw, *raw_len, &spki, &spki_len);
    if (rv == CKR_OK)
        rv = keytype_pair_public (pub, priv, raw, *raw_len, spki, spki_len);
    tpm_blob_clear (&tpub);
    tpm_blob_clear (&tpriv);
    secbuf_free (auth);
    free (spki);
    return rv;
}

static CK_RV
ecdsa_check (const mech_info *m, const tt_object *key, bool verify)
{
    (void) m;
    return keytype_check_pair (key, CKK_EC, verify);
}

CK_RV
ecdsa_key_init (sign_op *op, const tt_object *obj)
{
    const CK_ATTRIBUTE *params = attr_list_find (obj->attrs, CKA_EC_PARAMS);
    const CK_ATTRIBUTE *point = attr_list_find (obj->attrs, CKA_EC_POINT);

    op->field = params ? crypto_ec_params_size (params->pValue, params->ulValueLen) : 0;
    op->point_len = sizeof op->point;
    if (op->field == 0 || point == NULL
        || crypto_ec_point_raw (point->pValue, point->ulValueLen, op->field, op->point,
                                &op->point_len)
               != CKR_OK)
        return CKR_KEY_TYPE_INCONSISTENT;
    return op->mech->hash != 0 ? crypto_digest_new (op->mech->hash, &op->digest) : CKR_OK;
}

static CK_RV
ecdsa_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
            bool verify)
{
    CK_RV rv = ecdsa_key_init (op, key);

    (void) tok;
    (void) mech;
    if (rv == CKR_OK && !verify)
        rv = tpmkey_copy (op, key);
    return rv;
}

/* The value ECDSA signs: the hash (or raw input) truncated to the field's
 * leftmost bytes, or left-padded with zeros. P-256/P-384 orders are whole bytes. */
static CK_RV
ecdsa_input (sign_op *op, uint8_t *e)
{
    uint8_t h[64];
    const uint8_t *in = op->buf;
    size_t n = op->buf_len;
    CK_RV rv;

    if (op->digest != NULL) {
        rv = crypto_digest_final (op->digest, h);
        if (rv != CKR_OK)
            return rv;
        in = h;
        n = crypto_digest_size (op->mech->hash);
    }
    memset (e, 0, op->field);
    if (n >= op->field)
        memcpy (e, in, op->field);
    else
        memcpy (e + op->field - n, in, n);
    return CKR_OK;
}

static size_t
ecdsa_out_len (const sign_op *op, size_t pending)
{
    (void) pending;
    return 2 * op->field;
}

static CK_RV
ecdsa_sign (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs, CK_BYTE *sig,
            CK_ULONG *sig_len)
{
    uint8_t e[48];
    secbuf *auth = NULL;
    size_t out_len = *sig_len;
    CK_RV rv = ecdsa_input (op, e);

    (void) key;
    (void) refs;
    if (rv == CKR_OK)
        rv = tpmkey_auth (tok, op, &auth);
    if (rv == CKR_OK)
        rv = tpm_ec_sign (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs }, e,
                          op->field, sig, &out_len);
    if (rv == CKR_OK)
        *sig_len = out_len;
    secbuf_free (auth);
    return rv;
}

static CK_RV
ecdsa_verify (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    uint8_t e[64];
    CK_RV rv = ecdsa_input (op, e);

    (void) tok;
    if (rv == CKR_OK)
        rv = crypto_ecdsa_verify (op->field, op->point, op->point_len, e, op->field, sig, sig_len);
    return rv;
}

static const CK_KEY_TYPE ecdsa_ck[] = { CKK_EC };

const keytype keytype_ecdsa = {
    .name = "ECDSA",
    .serves = KT_CLASS (CKO_PUBLIC_KEY) | KT_CLASS (CKO_PRIVATE_KEY),
    .ck = ecdsa_ck,
    .n_ck = 1,
    .creates = KT_CLASS (CKO_PUBLIC_KEY), /* private keys are generated in the TPM */
    .create_check = ecdsa_create_check,
    .pair_ck = CKK_EC,
    .pair_check = ecdsa_pair_check,
    .generate_pair = ecdsa_generate_pair,
    .param = keytype_no_param,
    .check = ecdsa_check,
    .tpm_sign = true,
    .init = ecdsa_init,
    .check_result = tpmkey_check_result,
    .max_input = MAX_RAW_INPUT,
    .out_len = ecdsa_out_len,
    .sign = ecdsa_sign,
    .verify = ecdsa_verify,
};
