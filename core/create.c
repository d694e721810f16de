/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Making objects: C_CreateObject, C_GenerateKey, C_GenerateKeyPair,
 * C_DeriveKey. The template work and the store are here; what a key is
 * comes from its key type's row (core/keys/keytype.h), found by the
 * mechanism or by (class, CKK).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "internal.h"
#include "keys/keytype.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

/* After the work so far (rv), stores *obj and gives its handle (*obj is then
 * NULL: the token holds it); else leaves it to the caller to free. */
static CK_RV
create_add (tt_token *tok, tt_session *sess, tt_object **obj, CK_RV rv, CK_OBJECT_HANDLE *out)
{
    if (rv == CKR_OK)
        rv = object_add_inlock (tok, sess, obj, 1);
    if (rv == CKR_OK) {
        *out = (*obj)->handle;
        *obj = NULL;
    }
    return rv;
}

/* What C_CreateObject says of a key class when no key type creates the one asked for. */
static const struct {
    CK_OBJECT_CLASS cls;
    const char *msg;
} create_refusals[] = {
    { CKO_PUBLIC_KEY, "only EC and Ed25519 public keys can be created" },
    { CKO_PRIVATE_KEY, "C_CreateObject of a private key: only Ed25519 seeds can be imported "
                       "(ECDSA keys are generated inside the TPM)" },
    { CKO_SECRET_KEY, "C_CreateObject: secret keys of this type cannot be created" },
};

static CK_RV
create_check_cert (attr_list *attrs)
{
    uint8_t *subject = NULL, *issuer = NULL, *serial = NULL;
    size_t sl = 0, il = 0, nl = 0;
    const CK_ATTRIBUTE *a;
    CK_ULONG v;
    CK_RV rv;

    if (!attr_list_ulong (attrs, CKA_CERTIFICATE_TYPE, &v) || v != CKC_X_509) {
        LOG_ERROR ("only X.509 certificates are supported");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    a = attr_list_find (attrs, CKA_VALUE);
    rv = crypto_x509_fields (a->pValue, a->ulValueLen, &subject, &sl, &issuer, &il, &serial, &nl);
    if (rv != CKR_OK) {
        LOG_ERROR ("CKA_VALUE is not a DER X.509 certificate");
        return rv;
    }
    /* Derive what the template left out from the certificate itself. */
    if (attr_list_find (attrs, CKA_SUBJECT) == NULL)
        rv = attr_list_set (attrs, CKA_SUBJECT, subject, sl);
    if (rv == CKR_OK && attr_list_find (attrs, CKA_ISSUER) == NULL)
        rv = attr_list_set (attrs, CKA_ISSUER, issuer, il);
    if (rv == CKR_OK && attr_list_find (attrs, CKA_SERIAL_NUMBER) == NULL)
        rv = attr_list_set (attrs, CKA_SERIAL_NUMBER, serial, nl);
    if (rv == CKR_OK && attr_list_find (attrs, CKA_CERTIFICATE_CATEGORY) == NULL)
        rv = attr_list_set_ulong (attrs, CKA_CERTIFICATE_CATEGORY, 0);
    free (subject);
    free (issuer);
    free (serial);
    return rv;
}

/* Class-specific checks and derived attributes for C_CreateObject; keys: their
 * key type's (*type, which then imports the key). */
static CK_RV
create_check_class (CK_OBJECT_CLASS cls, attr_list *attrs, const keytype **type)
{
    CK_ULONG kt = (CK_ULONG) -1;

    *type = NULL;
    switch (cls) {
    case CKO_DATA:
        return CKR_OK;
    case CKO_CERTIFICATE:
        return create_check_cert (attrs);
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
    case CKO_SECRET_KEY:
        attr_list_ulong (attrs, CKA_KEY_TYPE, &kt);
        *type = keytype_lookup (cls, kt);
        if (*type == NULL || !((*type)->creates & KT_CLASS (cls))) {
            for (size_t i = 0; i < sizeof create_refusals / sizeof create_refusals[0]; i++)
                if (create_refusals[i].cls == cls)
                    LOG_ERROR ("%s", create_refusals[i].msg);
            *type = NULL;
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        return (*type)->create_check ? (*type)->create_check (cls, attrs) : CKR_OK;
    default:
        LOG_ERROR ("C_CreateObject: objects of class 0x%lx cannot be created (supported: data, "
                   "X.509 certificates, EC public keys)",
                   cls);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
}

CK_RV
object_create_inlock (tt_token *tok, tt_session *sess, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                      CK_OBJECT_HANDLE *out)
{
    attr_list *attrs = NULL;
    tt_object *obj = NULL;
    const keytype *type = NULL;
    CK_ULONG cls;
    bool trusted = false;
    CK_RV rv = attr_list_from_template (tmpl, count, &attrs);

    if (rv != CKR_OK)
        return rv;
    if (!attr_list_ulong (attrs, CKA_CLASS, &cls)) {
        rv = attr_list_find (attrs, CKA_CLASS) ? CKR_ATTRIBUTE_VALUE_INVALID
                                               : CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    if (!schema_has_class (cls)) {
        rv = create_check_class (cls, attrs, &type); /* logs, refuses */
        goto out;
    }
    rv = template_check (cls, attrs, A_CREATE, 0);
    if (rv == CKR_OK)
        rv = template_required (cls, attrs);
    if (rv == CKR_OK && attr_list_bool (attrs, CKA_TRUSTED, &trusted) && trusted
        && tok->login != CKU_SO)
        rv = CKR_ATTRIBUTE_READ_ONLY; /* only the SO may mark objects trusted */
    if (rv == CKR_OK)
        rv = template_defaults (cls, attrs);
    if (rv == CKR_OK)
        rv = create_check_class (cls, attrs, &type);
    if (rv == CKR_OK)
        rv = object_access (tok, sess, attrs, true);
    if (rv != CKR_OK)
        goto out;
    obj = object_new (attrs);
    if (obj == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    attrs = NULL;
    obj->type = type;
    if (type != NULL && type->import != NULL)
        rv = type->import (tok, obj); /* key values go into the TPM, and only there */
    rv = create_add (tok, sess, &obj, rv, out);
out:
    object_free (obj);
    attr_list_free (attrs);
    return rv;
}

/* Checks a generate template for class cls; CKA_CLASS and CKA_KEY_TYPE must agree. */
static CK_RV
generate_check (CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const attr_list *tmpl)
{
    CK_ULONG v;
    CK_RV rv = template_check (cls, tmpl, A_CREATE, A_NOGEN);

    if (rv != CKR_OK)
        return rv;
    if (attr_list_ulong (tmpl, CKA_CLASS, &v) && v != cls)
        return CKR_TEMPLATE_INCONSISTENT;
    if (attr_list_ulong (tmpl, CKA_KEY_TYPE, &v) && v != kt)
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

CK_RV
object_generate_pair_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                             const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
                             const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
                             CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
    attr_list *pub = NULL, *priv = NULL;
    tt_object *objs[2] = { NULL, NULL };
    uint8_t raw[1 + 2 * 48], id[20];
    size_t raw_len = sizeof raw;
    const mech_info *m = mech_lookup (mech->mechanism);
    const keytype *type = m != NULL && (m->flags & CKF_GENERATE_KEY_PAIR) ? m->key : NULL;
    bool b;
    CK_RV rv;

    if (type == NULL || type->generate_pair == NULL)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = attr_list_from_template (pub_tmpl, pub_count, &pub);
    if (rv == CKR_OK)
        rv = attr_list_from_template (priv_tmpl, priv_count, &priv);
    if (rv == CKR_OK)
        rv = generate_check (CKO_PUBLIC_KEY, type->pair_ck, pub);
    if (rv == CKR_OK)
        rv = generate_check (CKO_PRIVATE_KEY, type->pair_ck, priv);
    if (rv == CKR_OK)
        rv = type->pair_check (pub, priv); /* the key's parameters: the curve */
    if (rv != CKR_OK)
        goto out;

    /* The key's auth is wrapped by the token secret: the user must be in, and
     * the key is private, sensitive and not extractable by construction. */
    if ((attr_list_bool (priv, CKA_PRIVATE, &b) && !b)
        || (attr_list_bool (priv, CKA_SENSITIVE, &b) && !b)
        || (attr_list_bool (priv, CKA_EXTRACTABLE, &b) && b)
        || (attr_list_bool (priv, CKA_ALWAYS_AUTHENTICATE, &b) && b)) {
        LOG_ERROR ("TPM keys are always private, sensitive and not extractable "
                   "(CKA_ALWAYS_AUTHENTICATE is not supported)");
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l = i ? priv : pub;
        rv = attr_list_set_ulong (l, CKA_CLASS, i ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY);
        if (rv == CKR_OK)
            rv = template_defaults (i ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, l);
        if (rv == CKR_OK)
            rv = object_access (tok, sess, l, true);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong (l, CKA_KEY_TYPE, type->pair_ck);
    }
    if (rv == CKR_OK && tok->secret == NULL)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv != CKR_OK)
        goto out;

    objs[0] = object_new (pub);
    objs[1] = object_new (priv);
    if (objs[0] == NULL || objs[1] == NULL) {
        object_free (objs[0]);
        object_free (objs[1]);
        objs[0] = objs[1] = NULL;
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    pub = priv = NULL;
    rv = type->generate_pair (tok, objs[0], objs[1], raw, &raw_len);
    if (rv != CKR_OK)
        goto out;

    /* CKA_ID: the caller's (either template), else a hash of the public key. */
    {
        attr_list *p = objs[0]->attrs, *s = objs[1]->attrs;
        const CK_ATTRIBUTE *pid = attr_list_find (p, CKA_ID), *sid = attr_list_find (s, CKA_ID);
        if (pid->ulValueLen == 0 && sid->ulValueLen == 0) {
            crypto_generichash_20 (raw, raw_len, id);
            rv = attr_list_set (p, CKA_ID, id, 20);
            if (rv == CKR_OK)
                rv = attr_list_set (s, CKA_ID, id, 20);
        } else if (pid->ulValueLen == 0) {
            rv = attr_list_set (p, CKA_ID, sid->pValue, sid->ulValueLen);
        } else if (sid->ulValueLen == 0) {
            rv = attr_list_set (s, CKA_ID, pid->pValue, pid->ulValueLen);
        }
    }
    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l = objs[i]->attrs;
        rv = attr_list_set_bool (l, CKA_LOCAL, true);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong (l, CKA_KEY_GEN_MECHANISM, m->type);
    }
    if (rv == CKR_OK)
        rv = attr_list_set_bool (objs[1]->attrs, CKA_ALWAYS_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (objs[1]->attrs, CKA_NEVER_EXTRACTABLE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (objs[1]->attrs, CKA_TPMTRUST_TPM_KEY, true);
    if (rv == CKR_OK)
        rv = object_add_inlock (tok, sess, objs, 2);
    if (rv == CKR_OK) {
        *pub_h = objs[0]->handle;
        *priv_h = objs[1]->handle;
        objs[0] = objs[1] = NULL;
    }
out:
    object_free (objs[0]);
    object_free (objs[1]);
    attr_list_free (pub);
    attr_list_free (priv);
    return rv;
}

CK_RV
object_generate_key_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                            const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out)
{
    const mech_info *m = mech_lookup (mech->mechanism);
    const keytype *type = m != NULL && (m->flags & CKF_GENERATE) ? m->key : NULL;
    attr_list *attrs = NULL;
    tt_object *obj = NULL;
    CK_ULONG cls;
    CK_RV rv;

    if (type == NULL || type->generate == NULL)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = attr_list_from_template (tmpl, count, &attrs);
    if (rv == CKR_OK)
        rv = template_check (CKO_SECRET_KEY, attrs, A_CREATE, A_NOGEN);
    if (rv == CKR_OK && attr_list_ulong (attrs, CKA_CLASS, &cls) && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = type->generate_check (attrs);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = template_defaults (CKO_SECRET_KEY, attrs);
    if (rv == CKR_OK)
        rv = object_access (tok, sess, attrs, true);
    if (rv == CKR_OK && (obj = object_new (attrs)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv != CKR_OK)
        goto out;
    attrs = NULL;
    obj->type = type;
    rv = type->generate (tok, obj);
    rv = create_add (tok, sess, &obj, rv, out);
out:
    object_free (obj);
    attr_list_free (attrs);
    return rv;
}

CK_RV
object_derive_key_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                          CK_OBJECT_HANDLE *out)
{
    const mech_info *m = mech_lookup (mech->mechanism);
    const keytype *type = m != NULL && (m->flags & CKF_DERIVE) ? m->key : NULL;
    tt_object *root = NULL, *key = NULL;
    CK_RV rv;

    if (type == NULL || type->derive == NULL)
        return CKR_MECHANISM_INVALID;
    rv = type->derive_param ? type->derive_param (mech) : CKR_OK;
    if (rv == CKR_OK)
        rv = object_lookup (tok, sess, base, CKR_KEY_HANDLE_INVALID, &root);
    if (rv == CKR_OK && (key = object_new (NULL)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        key->type = type;
        rv = type->derive (tok, mech, root, tmpl, count, key);
    }
    rv = create_add (tok, sess, &key, rv, out);
    object_free (key);
    return rv;
}

CK_RV
object_provision_nv_inlock (tt_token *tok, tt_session *sess, uint32_t index,
                            unsigned long pcr_mask, const char *label, CK_OBJECT_HANDLE *out)
{
    attr_list *a = NULL;
    tt_object *obj = NULL;
    CK_RV rv = heartbeat_nv_attrs (tok, index, pcr_mask, label, &a);

    if (rv == CKR_OK)
        rv = object_access (tok, sess, a, true);
    if (rv == CKR_OK)
        rv = heartbeat_nv_provision (tok, index, pcr_mask, a);
    if (rv == CKR_OK && (obj = object_new (a)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        a = NULL;
    rv = create_add (tok, sess, &obj, rv, out);
    object_free (obj);
    attr_list_free (a);
    return rv;
}
