/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TPM keys made elsewhere, and ours for elsewhere: the blobs of TSS2 key files
 * (loadable keys under the standard SRK, parent 0x40000001) become token
 * objects, and our ECDSA and HMAC keys leave as such blobs with an auth value
 * the caller chooses (TPM2_ObjectChangeAuth; ours stays as it was).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "adopt"
#include "internal.h"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

static CK_RV
adopt_attrs (attr_list *l, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const char *label,
             const uint8_t *id, size_t id_len)
{
    CK_RV rv = attr_list_set_ulong (l, CKA_CLASS, cls);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (l, CKA_KEY_TYPE, kt);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (l, CKA_TOKEN, true);
    if (rv == CKR_OK)
        rv = attr_list_set (l, CKA_LABEL, label, strlen (label));
    if (rv == CKR_OK)
        rv = attr_list_set (l, CKA_ID, id, id_len);
    if (rv == CKR_OK)
        rv = template_defaults (cls, l);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (l, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (l, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK && cls != CKO_PUBLIC_KEY) {
        rv = attr_list_set_bool (l, CKA_ALWAYS_SENSITIVE, false);
        if (rv == CKR_OK)
            rv = attr_list_set_bool (l, CKA_NEVER_EXTRACTABLE, false);
        if (rv == CKR_OK)
            rv = attr_list_set_bool (l, CKA_TPMTRUST_TPM_KEY, true);
    }
    return rv;
}

static CK_RV
adopt_ec_attrs (attr_list *l, const tpm_key_desc *d)
{
    size_t field = d->curve == TPM_CURVE_P384 ? 48 : 32, oid_len = 0, spki_len = 0;
    const uint8_t *oid = crypto_ec_params_for_size (field, &oid_len);
    uint8_t der[2 + sizeof d->point], *spki = NULL;
    size_t der_len = sizeof der;
    CK_RV rv = crypto_ec_point_der (d->point, d->point_len, der, &der_len);

    if (rv == CKR_OK)
        rv = attr_list_set (l, CKA_EC_PARAMS, oid, oid_len);
    if (rv == CKR_OK)
        rv = attr_list_set (l, CKA_EC_POINT, der, der_len);
    if (rv == CKR_OK)
        rv = crypto_ec_spki (field, d->point, d->point_len, &spki, &spki_len);
    if (rv == CKR_OK)
        rv = attr_list_set (l, CKA_PUBLIC_KEY_INFO, spki, spki_len);
    free (spki);
    return rv;
}

CK_RV
object_adopt_inlock (tt_token *tok, tt_session *sess, const uint8_t *pub, size_t pub_len,
                     const uint8_t *priv, size_t priv_len, const CK_UTF8CHAR *auth,
                     CK_ULONG auth_len, const char *label, CK_OBJECT_HANDLE *key_h,
                     CK_OBJECT_HANDLE *pub_h)
{
    tpm_blob pb = { (uint8_t *) pub, pub_len }, sb = { (uint8_t *) priv, priv_len };
    tpm_blob pcopy = { 0 }, scopy = { 0 };
    tt_object *objs[2] = { NULL, NULL };
    secbuf *a = NULL;
    tpm_key_desc d;
    uint8_t id[20];
    size_t n = 0;
    CK_RV rv = tpm_key_describe (&pb, &d);

    if (rv != CKR_OK) {
        LOG_ERROR ("the key's public part is not a TPM2B_PUBLIC");
        return CKR_ARGUMENTS_BAD;
    }
    if (tok->login != CKU_USER || tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if (!(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (d.kind == TPM_KEY_OTHER || !d.user_with_auth
        || (d.kind == TPM_KEY_ECC_SIGN && d.curve != TPM_CURVE_P256 && d.curve != TPM_CURVE_P384)) {
        LOG_ERROR ("only ECDSA (P-256, P-384) and HMAC keys usable with their auth value "
                   "(no policy) can be adopted");
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    rv = tpm_key_check (core_tpm (), &pb, &sb);
    if (rv != CKR_OK) {
        LOG_ERROR ("the TPM does not load this key under its standard SRK: it belongs to another "
                   "parent or another TPM");
        return rv == CKR_DEVICE_ERROR ? rv : CKR_KEY_TYPE_INCONSISTENT;
    }
    a = secbuf_dup (auth, auth_len);
    if (a == NULL)
        return CKR_HOST_MEMORY;
    if (d.kind == TPM_KEY_ECC_SIGN)
        crypto_generichash_20 (d.point, d.point_len, id);
    else
        crypto_generichash_20 (pub, pub_len, id);
    for (int i = 0; i < 2 && rv == CKR_OK; i++) {
        attr_list *l;
        if (i == 1 && d.kind != TPM_KEY_ECC_SIGN)
            break;
        l = attr_list_new ();
        objs[i] = l ? object_new (l) : NULL;
        if (objs[i] == NULL) {
            attr_list_free (l);
            rv = CKR_HOST_MEMORY;
            break;
        }
        n++;
        if (d.kind == TPM_KEY_HMAC) {
            const hmac_key_type *kt = NULL;
            for (CK_KEY_TYPE t = CKK_SHA_1_HMAC; t <= CKK_SHA512_HMAC && kt == NULL; t++) {
                const hmac_key_type *c = hmac_key_type_lookup (t);
                if (c != NULL && c->tpm_hash == d.hmac_hash && d.hmac_hash != 0)
                    kt = c;
            }
            rv = adopt_attrs (l, CKO_SECRET_KEY, kt ? kt->key_type : CKK_GENERIC_SECRET, label,
                              id, sizeof id);
        } else {
            rv = adopt_attrs (l, i ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY, CKK_EC, label, id,
                              sizeof id);
            if (rv == CKR_OK)
                rv = adopt_ec_attrs (l, &d);
        }
    }
    if (rv == CKR_OK && ((pcopy.data = malloc (pub_len)) == NULL
                         || (scopy.data = malloc (priv_len)) == NULL))
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        memcpy (pcopy.data, pub, pcopy.len = pub_len);
        memcpy (scopy.data, priv, scopy.len = priv_len);
        rv = tpmkey_take (tok, objs[0], &pcopy, &scopy, a);
    }
    if (rv == CKR_OK)
        rv = object_add_inlock (tok, sess, objs, n);
    if (rv == CKR_OK) {
        *key_h = objs[0]->handle;
        *pub_h = n > 1 ? objs[1]->handle : CK_INVALID_HANDLE;
        objs[0] = objs[1] = NULL;
    }
    object_free (objs[0]);
    object_free (objs[1]);
    tpm_blob_clear (&pcopy);
    tpm_blob_clear (&scopy);
    secbuf_free (a);
    return rv;
}

CK_RV
object_export_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                      const CK_UTF8CHAR *auth, CK_ULONG auth_len, uint8_t **pub, size_t *pub_len,
                      uint8_t **priv, size_t *priv_len)
{
    secbuf *old = NULL, *fresh = NULL;
    tpm_blob np = { 0 };
    tpm_key_desc d;
    tt_object *obj;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    if (!object_tpm_key (obj))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    rv = tpm_key_describe (&obj->tpm_pub, &d);
    if (rv == CKR_OK && (d.kind == TPM_KEY_OTHER || !d.user_with_auth)) {
        LOG_ERROR ("only ECDSA and HMAC keys that are not bound to PCRs can leave as TSS2 key "
                   "files (a sealed Ed25519 seed is no TPM signing key)");
        rv = CKR_KEY_TYPE_INCONSISTENT;
    }
    if (rv == CKR_OK)
        rv = crypto_unwrap (tok->secret, obj->tpm_pub.data, obj->tpm_pub.len, obj->wrapped_auth,
                            obj->wrapped_auth_len, &old);
    if (rv == CKR_OK && (fresh = secbuf_dup (auth, auth_len)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = tpm_change_auth (core_tpm (),
                              &(tpm_key) { &obj->tpm_pub, &obj->tpm_priv, old, { 0, 0 } }, fresh,
                              &np);
    if (rv == CKR_OK && (*pub = malloc (obj->tpm_pub.len)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        memcpy (*pub, obj->tpm_pub.data, *pub_len = obj->tpm_pub.len);
        *priv = np.data;
        *priv_len = np.len;
        np.data = NULL;
    }
    tpm_blob_clear (&np);
    secbuf_free (old);
    secbuf_free (fresh);
    return rv;
}
