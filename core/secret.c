/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Secret keys: HMAC keys held by the TPM as keyed-hash objects. An imported
 * value (C_CreateObject CKA_VALUE) goes into the TPM inside a
 * parameter-encrypted TPM2_Create and is wiped at once; it is never stored or
 * returned. Generated keys are made by the TPM when it can make that size.
 */
#include "config.h"

#include <sodium.h>
#include <string.h>

#define LOG_MODULE "secret"
#include "internal.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

/* A TPM key cannot be extractable. CKA_SENSITIVE FALSE (pkcs11-tool's default)
 * is raised to TRUE: the value lives only in the TPM. CKA_PRIVATE FALSE only
 * makes the object visible before login; using it always needs the user PIN
 * (its auth value is wrapped by the token secret). */
static CK_RV
secret_check_protection (const attr_list *attrs)
{
    bool b;
    if (attr_list_bool (attrs, CKA_EXTRACTABLE, &b) && b) {
        LOG_ERROR ("TPM keys cannot be extractable (CKA_EXTRACTABLE TRUE)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (attr_list_bool (attrs, CKA_SENSITIVE, &b) && !b)
        LOG_INFO ("CKA_SENSITIVE FALSE raised to TRUE: the key's value lives only in the TPM");
    return CKR_OK;
}

static const hmac_key_type *
secret_key_type (const attr_list *attrs)
{
    CK_ULONG kt = CKK_GENERIC_SECRET;
    const hmac_key_type *t;

    attr_list_ulong (attrs, CKA_KEY_TYPE, &kt);
    t = hmac_key_type_lookup (kt);
    if (t == NULL)
        LOG_ERROR ("secret keys of type 0x%lx are not supported (generic secret and "
                   "SHA-1/256/384/512 HMAC keys are)",
                   kt);
    return t;
}

/* Sets what every TPM secret key says of itself. */
static CK_RV
secret_finish_attrs (attr_list *attrs, CK_ULONG value_len, bool generated)
{
    CK_RV rv = attr_list_set_ulong (attrs, CKA_VALUE_LEN, value_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_ALWAYS_SENSITIVE, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_NEVER_EXTRACTABLE, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM,
                                  generated ? CKM_GENERIC_SECRET_KEY_GEN
                                            : CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_TPMTRUST_TPM_KEY, true);
    return rv;
}

/* Creates the TPM object for obj from value (NULL: the TPM makes a key of
 * name_hash's digest size) and attaches it. */
static CK_RV
secret_to_tpm (tt_token *tok, tt_object *obj, const hmac_key_type *kt, uint16_t name_hash,
               const secbuf *value)
{
    tpm_blob pub = { 0 }, priv = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    secbuf *auth = NULL;
    CK_RV rv;

    if (tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    /* A TPM takes a given keyed-hash key only up to the block of the object's
     * limiting hash (the name hash, for a key without a fixed scheme): give a
     * long generic key SHA-512's 128-byte block. The TPM hashes it per HMAC. */
    if (kt->tpm_hash == 0 && name_hash == 0 && value != NULL && value->len > 64)
        name_hash = 0x000D;
    rv = pcr_from_template (obj->attrs, &pcrs);
    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (obj->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = object_auth_new (&auth);
    if (rv == CKR_OK)
        rv = tpm_hmac_create (core_tpm (), name_hash, kt->tpm_hash, value, auth,
                              pcrs.mask ? &pol : NULL, &pub, &priv);
    if (rv == CKR_OK)
        rv = object_take_tpm_key (tok, obj, &pub, &priv, auth);
    tpm_blob_clear (&pub);
    tpm_blob_clear (&priv);
    secbuf_free (auth);
    return rv;
}

/* HMAC hashes a key longer than the block first (RFC 2104): so can we, and
 * then it fits the TPM. Only a typed key knows its hash. */
static CK_RV
secret_prehash (const hmac_key_type *kt, secbuf **value)
{
    secbuf *h;
    crypto_digest *d = NULL;
    CK_RV rv;

    if (kt->hash == 0 || (*value)->len <= kt->block)
        return CKR_OK;
    h = secbuf_new (crypto_digest_size (kt->hash));
    rv = h ? crypto_digest_new (kt->hash, &d) : CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = crypto_digest_update (d, (*value)->data, (*value)->len);
    if (rv == CKR_OK)
        rv = crypto_digest_final (d, h->data);
    crypto_digest_free (d);
    if (rv != CKR_OK) {
        secbuf_free (h);
        return rv;
    }
    secbuf_free (*value);
    *value = h;
    return CKR_OK;
}

CK_RV
secret_import_inlock (tt_token *tok, tt_object *obj)
{
    const hmac_key_type *kt = secret_key_type (obj->attrs);
    const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
    secbuf *value = NULL;
    CK_ULONG value_len;
    CK_RV rv;

    if (kt == NULL)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    rv = secret_check_protection (obj->attrs);
    if (rv != CKR_OK)
        return rv;
    value_len = v->ulValueLen;
    value = secbuf_dup (v->pValue, v->ulValueLen);
    attr_list_remove (obj->attrs, CKA_VALUE); /* wiped: it lives on only in the TPM */
    if (value == NULL)
        return CKR_HOST_MEMORY;
    rv = secret_prehash (kt, &value);
    if (rv == CKR_OK && (value->len == 0 || value->len > TPM_HMAC_MAX_KEY)) {
        LOG_ERROR ("an HMAC key of %lu bytes: the TPM holds 1 to %d bytes (a typed "
                   "CKK_SHA*_HMAC key of any length works: it is hashed first)",
                   value_len, TPM_HMAC_MAX_KEY);
        rv = CKR_KEY_SIZE_RANGE;
    }
    if (rv == CKR_OK)
        rv = secret_to_tpm (tok, obj, kt, 0, value);
    if (rv == CKR_OK)
        rv = secret_finish_attrs (obj->attrs, value_len, false);
    secbuf_free (value);
    return rv;
}

CK_RV
secret_generate_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out)
{
    static const struct {
        size_t len;
        uint16_t tpm_hash;
    } tpm_made[] = { { 20, 0x0004 }, { 32, 0x000B }, { 48, 0x000C }, { 64, 0x000D } };
    const mech_info *m = mech_lookup (mech->mechanism);
    const hmac_key_type *kt;
    attr_list *attrs = NULL;
    tt_object *obj = NULL;
    secbuf *value = NULL;
    uint16_t name_hash = 0;
    CK_ULONG len = 0, cls;
    CK_RV rv;

    if (m == NULL || m->kind != MECH_KEYGEN_SECRET)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = attr_list_from_template (tmpl, count, &attrs);
    if (rv == CKR_OK)
        rv = template_check (CKO_SECRET_KEY, attrs, A_CREATE, A_NOGEN);
    if (rv == CKR_OK && attr_list_ulong (attrs, CKA_CLASS, &cls) && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && !attr_list_ulong (attrs, CKA_VALUE_LEN, &len)) {
        LOG_ERROR ("CKM_GENERIC_SECRET_KEY_GEN needs CKA_VALUE_LEN");
        rv = CKR_TEMPLATE_INCOMPLETE;
    }
    if (rv == CKR_OK && (len == 0 || len > TPM_HMAC_MAX_KEY)) {
        LOG_ERROR ("CKA_VALUE_LEN %lu: the TPM holds HMAC keys of 1 to %d bytes", len,
                   TPM_HMAC_MAX_KEY);
        rv = CKR_KEY_SIZE_RANGE;
    }
    if (rv == CKR_OK && attr_list_find (attrs, CKA_KEY_TYPE) == NULL)
        rv = attr_list_set_ulong (attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = template_defaults (CKO_SECRET_KEY, attrs);
    if (rv == CKR_OK)
        rv = (kt = secret_key_type (attrs)) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = secret_check_protection (attrs);
    if (rv == CKR_OK)
        rv = object_access (tok, sess, attrs, true);
    if (rv != CKR_OK)
        goto out;

    /* The TPM makes keys of a digest's size (of the object's name hash, which
     * we match to the key's HMAC hash); other sizes come from our RNG. */
    for (size_t i = 0; i < sizeof tpm_made / sizeof tpm_made[0]; i++)
        if (tpm_made[i].len == len && (kt->tpm_hash == 0 || kt->tpm_hash == tpm_made[i].tpm_hash))
            name_hash = tpm_made[i].tpm_hash;
    if (name_hash == 0) {
        value = secbuf_new (len);
        rv = value ? tpm_random (core_tpm (), value->data, len) : CKR_HOST_MEMORY;
        if (rv == CKR_OK)
            rv = secret_prehash (kt, &value);
    }
    obj = object_new (attrs);
    if (obj == NULL)
        rv = CKR_HOST_MEMORY;
    else
        attrs = NULL;
    if (rv == CKR_OK)
        rv = secret_to_tpm (tok, obj, kt, name_hash, value);
    if (rv == CKR_OK)
        rv = secret_finish_attrs (obj->attrs, len, true);
    if (rv == CKR_OK)
        rv = object_add_inlock (tok, sess, &obj, 1);
    if (rv == CKR_OK) {
        *out = obj->handle;
        obj = NULL;
    }
out:
    secbuf_free (value);
    object_free (obj);
    attr_list_free (attrs);
    return rv;
}
