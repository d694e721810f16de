/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the TPM-backed key types share: a new key's auth value and its wrapping
 * under the token secret, an operation's copy of the key, the unwrap at use,
 * what a TPM refusal means for a key, and the small template and mechanism
 * checks several rows make.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "ops"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

CK_RV
tpmkey_auth_new (tt_token *tok, secbuf **out)
{
    secbuf *auth = secbuf_new (32);
    CK_RV rv = auth ? tpm_random (tok->tpm, auth->data, auth->len) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        secbuf_free (auth);
        auth = NULL;
    }
    *out = auth;
    return rv;
}

CK_RV
tpmkey_take (tt_token *tok, tt_object *obj, tpm_blob *pub, tpm_blob *priv, const secbuf *auth)
{
    CK_RV rv = crypto_wrap (tok->secret, pub->data, pub->len, auth, &obj->wrapped_auth,
                            &obj->wrapped_auth_len);
    if (rv != CKR_OK)
        return rv;
    obj->tpm_pub = *pub;
    obj->tpm_priv = *priv;
    memset (pub, 0, sizeof *pub);
    memset (priv, 0, sizeof *priv);
    return CKR_OK;
}

CK_RV
tpmkey_copy (sign_op *op, const tt_object *obj)
{
    op->pub.data = malloc (obj->tpm_pub.len);
    op->priv.data = malloc (obj->tpm_priv.len);
    op->wrapped_auth = malloc (obj->wrapped_auth_len);
    if (op->pub.data == NULL || op->priv.data == NULL || op->wrapped_auth == NULL)
        return CKR_HOST_MEMORY;
    memcpy (op->pub.data, obj->tpm_pub.data, op->pub.len = obj->tpm_pub.len);
    memcpy (op->priv.data, obj->tpm_priv.data, op->priv.len = obj->tpm_priv.len);
    memcpy (op->wrapped_auth, obj->wrapped_auth, op->wrapped_auth_len = obj->wrapped_auth_len);
    op->pcrs = pcr_of_object (obj->attrs);
    if (op->pcrs.mask != 0) {
        const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_TPMTRUST_PCR_VALUES);
        if (v != NULL && (op->pcr_values = malloc (v->ulValueLen ? v->ulValueLen : 1)) != NULL) {
            memcpy (op->pcr_values, v->pValue, v->ulValueLen);
            op->pcr_values_len = v->ulValueLen;
        }
    }
    return CKR_OK;
}

CK_RV
tpmkey_auth (tt_token *tok, const sign_op *op, secbuf **auth)
{
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    return crypto_unwrap (tok->secret, op->pub.data, op->pub.len, op->wrapped_auth,
                          op->wrapped_auth_len, auth);
}

void
tpmkey_check_result (tt_token *tok, const sign_op *op, CK_RV *rv)
{
    if (*rv == CKR_PIN_INCORRECT) {
        LOG_ERROR ("the TPM refused this key's auth value: the store row does not match the key");
        *rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    } else if (*rv == CKR_TPMTRUST_PCR_MISMATCH) {
        pcr_report (tok->tpm, op->pcrs, op->pcr_values, op->pcr_values_len);
    }
}

CK_RV
keytype_no_param (sign_op *op, const CK_MECHANISM *mech)
{
    (void) op;
    return mech->pParameter == NULL && mech->ulParameterLen == 0 ? CKR_OK
                                                                 : CKR_MECHANISM_PARAM_INVALID;
}

CK_RV
keytype_check_pair (const tt_object *key, CK_KEY_TYPE want, bool verify)
{
    CK_ULONG cls = 0, type = 0;

    attr_list_ulong (key->attrs, CKA_CLASS, &cls);
    attr_list_ulong (key->attrs, CKA_KEY_TYPE, &type);
    if (type != want
        || (verify ? cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY : cls != CKO_PRIVATE_KEY))
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

CK_RV
keytype_public_finish (attr_list *attrs, const uint8_t *raw, size_t raw_len)
{
    uint8_t der[2 + 1 + 2 * 48];
    size_t der_len = sizeof der;
    CK_RV rv = crypto_ec_point_der (raw, raw_len, der, &der_len);

    if (rv == CKR_OK) /* always kept as a DER OCTET STRING */
        rv = attr_list_set (attrs, CKA_EC_POINT, der, der_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    return rv;
}

CK_RV
keytype_pair_public (tt_object *pub, tt_object *priv, const uint8_t *raw, size_t raw_len,
                     const uint8_t *spki, size_t spki_len)
{
    uint8_t der[2 + 1 + 2 * 48];
    size_t der_len = sizeof der;
    CK_RV rv = crypto_ec_point_der (raw, raw_len, der, &der_len);

    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l = i ? priv->attrs : pub->attrs;
        rv = attr_list_set (l, CKA_EC_POINT, der, der_len);
        if (rv == CKR_OK)
            rv = attr_list_set (l, CKA_PUBLIC_KEY_INFO, spki, spki_len);
    }
    return rv;
}

CK_RV
keytype_pair_params (const attr_list *pub, const attr_list *priv, const CK_ATTRIBUTE **params)
{
    *params = attr_list_find (pub, CKA_EC_PARAMS);
    if (*params == NULL)
        *params = attr_list_find (priv, CKA_EC_PARAMS);
    if (*params == NULL) {
        tt_log (TT_LOG_ERROR, "object", "key pair generation needs CKA_EC_PARAMS (the curve)");
        return CKR_TEMPLATE_INCOMPLETE;
    }
    return CKR_OK;
}

CK_RV
keytype_pair_set_params (attr_list *pub, attr_list *priv, const uint8_t *oid, size_t oid_len)
{
    CK_RV rv = attr_list_set (pub, CKA_EC_PARAMS, oid, oid_len);
    if (rv == CKR_OK)
        rv = attr_list_set (priv, CKA_EC_PARAMS, oid, oid_len);
    return rv;
}

CK_RV
keytype_derived_begin (const CK_ATTRIBUTE *tmpl, CK_ULONG count, const char *what,
                       attr_list **out)
{
    attr_list *a = NULL;
    CK_ULONG v;
    bool b;
    CK_RV rv = attr_list_from_template (tmpl, count, &a);

    if (rv == CKR_OK)
        rv = template_check (CKO_SECRET_KEY, a, A_CREATE, A_NOGEN);
    if (rv == CKR_OK && attr_list_ulong (a, CKA_CLASS, &v) && v != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && attr_list_bool (a, CKA_TOKEN, &b) && b) {
        LOG_ERROR ("%s makes session keys (CKA_TOKEN FALSE)", what);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv != CKR_OK) {
        attr_list_free (a);
        a = NULL;
    }
    *out = a;
    return rv;
}

CK_RV
keytype_derived_end (attr_list **a, CK_KEY_TYPE default_type, CK_RV rv)
{
    if (rv == CKR_OK && attr_list_find (*a, CKA_KEY_TYPE) == NULL)
        rv = attr_list_set_ulong (*a, CKA_KEY_TYPE, default_type);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (*a, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = template_defaults (CKO_SECRET_KEY, *a);
    if (rv != CKR_OK) {
        attr_list_free (*a);
        *a = NULL;
    }
    return rv;
}
