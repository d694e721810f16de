/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Objects and their templates. Validation is data: per class a schema of
 * { attribute, value kind, flags, default }; a per-kind check of ulValueLen
 * before any read.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "internal.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

enum { K_BYTES, K_BOOL, K_ULONG, K_DATE, K_MECHS };

#define D_NONE (-1)

typedef struct schema_entry {
    CK_ATTRIBUTE_TYPE type;
    int kind;
    unsigned flags;
    int dflt; /* booleans: 0 or 1; D_NONE: no default */
} schema_entry;

#define END { (CK_ATTRIBUTE_TYPE) -1, 0, 0, 0 }

static const schema_entry s_storage[] = {
    { CKA_CLASS, K_ULONG, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_TOKEN, K_BOOL, A_CREATE | A_COPY, 0 },
    { CKA_PRIVATE, K_BOOL, A_CREATE | A_COPY, D_NONE }, /* per class */
    { CKA_MODIFIABLE, K_BOOL, A_CREATE | A_COPY | A_FALSE_ONLY, 1 },
    { CKA_LABEL, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_COPYABLE, K_BOOL, A_CREATE | A_MODIFY | A_FALSE_ONLY, 1 },
    { CKA_DESTROYABLE, K_BOOL, A_CREATE | A_MODIFY, 1 },
    END,
};

static const schema_entry s_data[] = {
    { CKA_APPLICATION, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_OBJECT_ID, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_VALUE, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    END,
};

static const schema_entry s_cert[] = {
    { CKA_CERTIFICATE_TYPE, K_ULONG, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_TRUSTED, K_BOOL, A_CREATE, 0 },
    { CKA_CERTIFICATE_CATEGORY, K_ULONG, A_CREATE | A_MODIFY, D_NONE },
    { CKA_CHECK_VALUE, K_BYTES, A_CREATE, D_NONE },
    { CKA_START_DATE, K_DATE, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_END_DATE, K_DATE, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_PUBLIC_KEY_INFO, K_BYTES, A_CREATE | A_EMPTY, D_NONE },
    /* X.509 */
    { CKA_SUBJECT, K_BYTES, A_CREATE, D_NONE },
    { CKA_ID, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_ISSUER, K_BYTES, A_CREATE | A_MODIFY, D_NONE },
    { CKA_SERIAL_NUMBER, K_BYTES, A_CREATE | A_MODIFY, D_NONE },
    { CKA_VALUE, K_BYTES, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_URL, K_BYTES, A_CREATE | A_EMPTY, D_NONE },
    { CKA_HASH_OF_SUBJECT_PUBLIC_KEY, K_BYTES, A_CREATE | A_EMPTY, D_NONE },
    { CKA_HASH_OF_ISSUER_PUBLIC_KEY, K_BYTES, A_CREATE | A_EMPTY, D_NONE },
    { CKA_JAVA_MIDP_SECURITY_DOMAIN, K_ULONG, A_CREATE, D_NONE },
    { CKA_NAME_HASH_ALGORITHM, K_ULONG, A_CREATE, D_NONE },
    END,
};

static const schema_entry s_key[] = {
    { CKA_KEY_TYPE, K_ULONG, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_ID, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_START_DATE, K_DATE, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_END_DATE, K_DATE, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_DERIVE, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_LOCAL, K_BOOL, 0, D_NONE },
    { CKA_KEY_GEN_MECHANISM, K_ULONG, 0, D_NONE },
    { CKA_ALLOWED_MECHANISMS, K_MECHS, A_CREATE, D_NONE },
    END,
};

static const schema_entry s_public[] = {
    { CKA_SUBJECT, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_ENCRYPT, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_VERIFY, K_BOOL, A_CREATE | A_MODIFY, 1 },
    { CKA_VERIFY_RECOVER, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_WRAP, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_TRUSTED, K_BOOL, A_CREATE, 0 },
    { CKA_PUBLIC_KEY_INFO, K_BYTES, A_CREATE | A_NOGEN, D_NONE },
    /* EC */
    { CKA_EC_PARAMS, K_BYTES, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_EC_POINT, K_BYTES, A_CREATE | A_REQUIRE | A_NOGEN, D_NONE },
    END,
};

static const schema_entry s_private[] = {
    { CKA_SUBJECT, K_BYTES, A_CREATE | A_MODIFY | A_EMPTY, D_NONE },
    { CKA_SENSITIVE, K_BOOL, A_CREATE | A_MODIFY | A_TRUE_ONLY, 1 },
    { CKA_DECRYPT, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_SIGN, K_BOOL, A_CREATE | A_MODIFY, 1 },
    { CKA_SIGN_RECOVER, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_UNWRAP, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_EXTRACTABLE, K_BOOL, A_CREATE | A_MODIFY | A_FALSE_ONLY, 0 },
    { CKA_ALWAYS_SENSITIVE, K_BOOL, 0, D_NONE },
    { CKA_NEVER_EXTRACTABLE, K_BOOL, 0, D_NONE },
    { CKA_WRAP_WITH_TRUSTED, K_BOOL, A_CREATE | A_MODIFY | A_TRUE_ONLY, 0 },
    { CKA_ALWAYS_AUTHENTICATE, K_BOOL, A_CREATE, 0 },
    { CKA_PUBLIC_KEY_INFO, K_BYTES, A_CREATE | A_NOGEN, D_NONE },
    { CKA_TPMTRUST_TPM_KEY, K_BOOL, 0, D_NONE },
    { CKA_TPMTRUST_PCR_MASK, K_ULONG, A_CREATE, D_NONE },
    { CKA_TPMTRUST_PCR_BANK, K_ULONG, A_CREATE, D_NONE },
    { CKA_TPMTRUST_PCR_VALUES, K_BYTES, 0, D_NONE },
    /* EC */
    { CKA_EC_PARAMS, K_BYTES, A_CREATE | A_REQUIRE, D_NONE },
    { CKA_EC_POINT, K_BYTES, A_NOGEN, D_NONE },
    { CKA_VALUE, K_BYTES, A_CREATE | A_SENSITIVE | A_NOGEN, D_NONE },
    END,
};

static const schema_entry s_secret[] = {
    { CKA_SENSITIVE, K_BOOL, A_CREATE | A_MODIFY | A_TRUE_ONLY, 1 },
    { CKA_ENCRYPT, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_DECRYPT, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_SIGN, K_BOOL, A_CREATE | A_MODIFY, 1 },
    { CKA_VERIFY, K_BOOL, A_CREATE | A_MODIFY, 1 },
    { CKA_WRAP, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_UNWRAP, K_BOOL, A_CREATE | A_MODIFY, 0 },
    { CKA_EXTRACTABLE, K_BOOL, A_CREATE | A_MODIFY | A_FALSE_ONLY, 0 },
    { CKA_ALWAYS_SENSITIVE, K_BOOL, 0, D_NONE },
    { CKA_NEVER_EXTRACTABLE, K_BOOL, 0, D_NONE },
    { CKA_WRAP_WITH_TRUSTED, K_BOOL, A_CREATE | A_MODIFY | A_TRUE_ONLY, 0 },
    { CKA_TRUSTED, K_BOOL, A_CREATE, 0 },
    { CKA_TPMTRUST_TPM_KEY, K_BOOL, 0, D_NONE },
    { CKA_TPMTRUST_PCR_MASK, K_ULONG, A_CREATE, D_NONE },
    { CKA_TPMTRUST_PCR_BANK, K_ULONG, A_CREATE, D_NONE },
    { CKA_TPMTRUST_PCR_VALUES, K_BYTES, 0, D_NONE },
    { CKA_VALUE, K_BYTES, A_CREATE | A_REQUIRE | A_SENSITIVE | A_NOGEN, D_NONE },
    { CKA_VALUE_LEN, K_ULONG, A_CREATE, D_NONE },
    { CKA_TPMTRUST_NV_INDEX, K_ULONG, 0, D_NONE },
    END,
};

/* Standard attributes we know but that belong to classes or key types we do
 * not hold: in a template they make it inconsistent, not invalid. */
static const CK_ATTRIBUTE_TYPE other_known[] = {
    CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT, CKA_PRIME, CKA_SUBPRIME,
    CKA_BASE, CKA_VALUE_BITS, CKA_HW_FEATURE_TYPE, CKA_OWNER, CKA_AC_ISSUER,
    CKA_ATTR_TYPES, CKA_MECHANISM_TYPE, CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
};

static const schema_entry *const *
schema_for (CK_OBJECT_CLASS cls)
{
    static const schema_entry *const data[] = { s_storage, s_data, NULL };
    static const schema_entry *const cert[] = { s_storage, s_cert, NULL };
    static const schema_entry *const pub[] = { s_storage, s_key, s_public, NULL };
    static const schema_entry *const priv[] = { s_storage, s_key, s_private, NULL };
    static const schema_entry *const secret[] = { s_storage, s_key, s_secret, NULL };

    switch (cls) {
    case CKO_DATA:
        return data;
    case CKO_CERTIFICATE:
        return cert;
    case CKO_PUBLIC_KEY:
        return pub;
    case CKO_PRIVATE_KEY:
        return priv;
    case CKO_SECRET_KEY:
        return secret;
    default:
        return NULL;
    }
}

static const schema_entry *
schema_find (CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    const schema_entry *const *secs = schema_for (cls);
    for (; secs != NULL && *secs != NULL; secs++)
        for (const schema_entry *e = *secs; e->type != (CK_ATTRIBUTE_TYPE) -1; e++)
            if (e->type == type)
                return e;
    return NULL;
}

static bool
known_elsewhere (CK_ATTRIBUTE_TYPE type)
{
    static const CK_OBJECT_CLASS classes[] = { CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY,
                                               CKO_PRIVATE_KEY, CKO_SECRET_KEY };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (schema_find (classes[i], type) != NULL)
            return true;
    for (size_t i = 0; i < sizeof other_known / sizeof other_known[0]; i++)
        if (other_known[i] == type)
            return true;
    return false;
}

static CK_RV
check_kind (const schema_entry *e, const CK_ATTRIBUTE *a)
{
    switch (e->kind) {
    case K_BOOL:
        if (a->ulValueLen != sizeof (CK_BBOOL) || *(CK_BBOOL *) a->pValue > 1)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
    case K_ULONG:
        if (a->ulValueLen != sizeof (CK_ULONG))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
    case K_DATE:
        if (a->ulValueLen != 0 && a->ulValueLen != sizeof (CK_DATE))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        for (CK_ULONG i = 0; i < a->ulValueLen; i++)
            if (((CK_BYTE *) a->pValue)[i] < '0' || ((CK_BYTE *) a->pValue)[i] > '9')
                return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
    case K_MECHS:
        if (a->ulValueLen % sizeof (CK_MECHANISM_TYPE) != 0)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        break;
    default:
        break;
    }
    return CKR_OK;
}

/* Checks each attribute of tmpl against the schema of cls, for an operation that
 * allows attributes with any of the flags in allowed. */
CK_RV
template_check (CK_OBJECT_CLASS cls, const attr_list *tmpl, unsigned allowed, unsigned forbidden)
{
    for (size_t i = 0; i < tmpl->n; i++) {
        const CK_ATTRIBUTE *a = &tmpl->a[i];
        const schema_entry *e = schema_find (cls, a->type);
        CK_RV rv;
        if (e == NULL) {
            LOG_DEBUG ("attribute 0x%lx is not valid for class 0x%lx", a->type, cls);
            return known_elsewhere (a->type) ? CKR_TEMPLATE_INCONSISTENT
                                             : CKR_ATTRIBUTE_TYPE_INVALID;
        }
        if (e->flags & forbidden)
            return CKR_TEMPLATE_INCONSISTENT;
        if (!(e->flags & allowed))
            return CKR_ATTRIBUTE_READ_ONLY;
        rv = check_kind (e, a);
        if (rv != CKR_OK) {
            LOG_DEBUG ("attribute 0x%lx has a malformed value (length %lu)", a->type,
                       a->ulValueLen);
            return rv;
        }
    }
    return CKR_OK;
}

/* Fills in every default the schema of cls names that tmpl left out. */
CK_RV
template_defaults (CK_OBJECT_CLASS cls, attr_list *list)
{
    const schema_entry *const *secs = schema_for (cls);
    CK_RV rv = CKR_OK;

    for (; secs != NULL && *secs != NULL && rv == CKR_OK; secs++) { /* NULL: no such class */
        for (const schema_entry *e = *secs; e->type != (CK_ATTRIBUTE_TYPE) -1 && rv == CKR_OK;
             e++) {
            if (attr_list_find (list, e->type) != NULL)
                continue;
            if (e->kind == K_BOOL && e->dflt != D_NONE)
                rv = attr_list_set_bool (list, e->type, e->dflt == 1);
            else if (e->flags & A_EMPTY)
                rv = attr_list_set (list, e->type, "", 0);
        }
    }
    if (rv == CKR_OK && attr_list_find (list, CKA_PRIVATE) == NULL)
        rv = attr_list_set_bool (list, CKA_PRIVATE,
                                 cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY);
    return rv;
}

CK_RV
template_required (CK_OBJECT_CLASS cls, const attr_list *list)
{
    const schema_entry *const *secs = schema_for (cls);
    for (; secs != NULL && *secs != NULL; secs++)
        for (const schema_entry *e = *secs; e->type != (CK_ATTRIBUTE_TYPE) -1; e++)
            if ((e->flags & A_REQUIRE) && attr_list_find (list, e->type) == NULL) {
                LOG_DEBUG ("the template lacks attribute 0x%lx", e->type);
                return CKR_TEMPLATE_INCOMPLETE;
            }
    return CKR_OK;
}

tt_object *
object_new (attr_list *attrs)
{
    tt_object *obj = calloc (1, sizeof *obj);
    if (obj != NULL)
        obj->attrs = attrs;
    return obj;
}

void
object_free (tt_object *obj)
{
    if (obj == NULL)
        return;
    eddsa_wipe (obj);
    attr_list_free (obj->attrs);
    tpm_blob_clear (&obj->tpm_pub);
    tpm_blob_clear (&obj->tpm_priv);
    free (obj->wrapped_auth);
    free (obj);
}

static bool
object_private (const tt_object *obj)
{
    return attr_list_bool_or (obj->attrs, CKA_PRIVATE, true);
}

static bool
object_token (const tt_object *obj)
{
    return attr_list_bool_or (obj->attrs, CKA_TOKEN, false);
}

static bool
object_visible (const tt_token *tok, const tt_object *obj)
{
    return !object_private (obj) || tok->login == CKU_USER;
}

bool
object_tpm_key (const tt_object *obj)
{
    return obj->tpm_pub.data != NULL && obj->tpm_priv.data != NULL && obj->wrapped_auth != NULL;
}

static CK_OBJECT_CLASS
object_class (const tt_object *obj)
{
    CK_ULONG cls = (CK_ULONG) -1;
    attr_list_ulong (obj->attrs, CKA_CLASS, &cls);
    return cls;
}

CK_RV
object_lookup (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_RV invalid,
               tt_object **out)
{
    (void) sess;
    for (tt_object *obj = tok->objects; obj != NULL; obj = obj->next) {
        if (obj->handle == h) {
            if (!object_visible (tok, obj))
                break;
            *out = obj;
            return CKR_OK;
        }
    }
    return invalid;
}

static void
object_link (tt_token *tok, tt_object *obj)
{
    obj->next = tok->objects;
    tok->objects = obj;
}

static void
object_unlink (tt_token *tok, tt_object *obj)
{
    for (tt_object **p = &tok->objects; *p != NULL; p = &(*p)->next) {
        if (*p == obj) {
            *p = obj->next;
            return;
        }
    }
}

void
object_drop_session_inlock (tt_token *tok, CK_SESSION_HANDLE h)
{
    tt_object **p = &tok->objects;
    while (*p != NULL) {
        tt_object *obj = *p;
        if (obj->store_id == 0 && obj->session == h) {
            *p = obj->next;
            object_free (obj);
        } else {
            p = &obj->next;
        }
    }
}

void
object_drop_all_inlock (tt_token *tok)
{
    while (tok->objects != NULL) {
        tt_object *obj = tok->objects;
        tok->objects = obj->next;
        object_free (obj);
    }
    tok->objects_loaded = false;
}

void
object_logout_inlock (tt_token *tok)
{
    /* Private session objects are destroyed; handles to private token objects
     * become invalid for good (PKCS#11 2.40, C_Logout). */
    tt_object **p = &tok->objects;
    token_wipe_caches (tok); /* unsealed Ed25519 keys go with the login */
    while (*p != NULL) {
        tt_object *obj = *p;
        if (object_private (obj) && obj->store_id == 0) {
            *p = obj->next;
            object_free (obj);
            continue;
        }
        if (object_private (obj))
            obj->handle = core_next_handle ();
        p = &obj->next;
    }
}

/* Gives obj its own copies of a TPM key's blobs and wrapped auth (any may be empty). */
static CK_RV
object_set_blobs (tt_object *obj, const uint8_t *pub, size_t pub_len, const uint8_t *priv,
                  size_t priv_len, const uint8_t *wa, size_t wa_len)
{
    if ((pub_len && (obj->tpm_pub.data = malloc (pub_len)) == NULL)
        || (priv_len && (obj->tpm_priv.data = malloc (priv_len)) == NULL)
        || (wa_len && (obj->wrapped_auth = malloc (wa_len)) == NULL))
        return CKR_HOST_MEMORY;
    if (pub_len)
        memcpy (obj->tpm_pub.data, pub, obj->tpm_pub.len = pub_len);
    if (priv_len)
        memcpy (obj->tpm_priv.data, priv, obj->tpm_priv.len = priv_len);
    if (wa_len)
        memcpy (obj->wrapped_auth, wa, obj->wrapped_auth_len = wa_len);
    return CKR_OK;
}

static CK_RV
object_from_store (const store_object *so, tt_object **out)
{
    attr_list *attrs = NULL;
    tt_object *obj;
    CK_ULONG cls;
    CK_RV rv = attr_list_decode (so->attrs.data, so->attrs.len, &attrs);

    *out = NULL;
    if (rv != CKR_OK) {
        LOG_ERROR ("stored object %lld is damaged (its attributes do not decode): skipped; "
                   "the store is left as it is",
                   (long long) so->id);
        return rv;
    }
    if (!attr_list_ulong (attrs, CKA_CLASS, &cls) || schema_for (cls) == NULL) {
        LOG_ERROR ("stored object %lld is damaged (no valid CKA_CLASS): skipped; the store is "
                   "left as it is",
                   (long long) so->id);
        attr_list_free (attrs);
        return CKR_DATA_INVALID;
    }
    obj = object_new (attrs);
    if (obj == NULL) {
        attr_list_free (attrs);
        return CKR_HOST_MEMORY;
    }
    obj->store_id = so->id;
    if (object_set_blobs (obj, so->tpm_pub.data, so->tpm_pub.len, so->tpm_priv.data,
                          so->tpm_priv.len, so->wrapped_auth.data, so->wrapped_auth.len)
        != CKR_OK) {
        object_free (obj);
        return CKR_HOST_MEMORY;
    }
    *out = obj;
    return CKR_OK;
}

/* Loads the token's objects from the store, or brings them up to date with it
 * (other processes create and destroy objects too). Handles stay stable. */
static CK_RV
object_sync_inlock (tt_token *tok)
{
    store_object *list = NULL;
    size_t n = 0;
    store *st;
    CK_RV rv = core_store (&st);

    if (rv == CKR_OK)
        rv = store_object_list (st, tok->rec.id, &list, &n);
    if (rv != CKR_OK)
        return rv;
    /* drop token objects that are gone */
    for (tt_object **p = &tok->objects; *p != NULL;) {
        tt_object *obj = *p;
        bool found = obj->store_id == 0;
        for (size_t i = 0; i < n && !found; i++)
            found = list[i].id == obj->store_id;
        if (!found) {
            *p = obj->next;
            object_free (obj);
        } else {
            p = &obj->next;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tt_object *obj = NULL, *fresh = NULL;
        for (tt_object *o = tok->objects; o != NULL && obj == NULL; o = o->next)
            if (o->store_id == list[i].id)
                obj = o;
        if (object_from_store (&list[i], &fresh) != CKR_OK)
            continue;
        if (obj != NULL) { /* keep the handle, take the stored attributes */
            attr_list *old = obj->attrs;
            obj->attrs = fresh->attrs;
            fresh->attrs = old;
            object_free (fresh);
        } else {
            fresh->handle = core_next_handle ();
            object_link (tok, fresh);
        }
    }
    store_object_list_free (list, n);
    tok->objects_loaded = true;
    return CKR_OK;
}

CK_RV
object_load_inlock (tt_token *tok)
{
    return tok->objects_loaded ? CKR_OK : object_sync_inlock (tok);
}

static CK_RV
object_to_store (tt_token *tok, const tt_object *obj, store_object *so)
{
    CK_RV rv = attr_list_encode (obj->attrs, &so->attrs.data, &so->attrs.len);
    so->id = obj->store_id;
    so->token_id = tok->rec.id;
    /* the blobs are borrowed: the caller clears only so->attrs */
    so->tpm_pub.data = obj->tpm_pub.data;
    so->tpm_pub.len = obj->tpm_pub.len;
    so->tpm_priv.data = obj->tpm_priv.data;
    so->tpm_priv.len = obj->tpm_priv.len;
    so->wrapped_auth.data = obj->wrapped_auth;
    so->wrapped_auth.len = obj->wrapped_auth_len;
    return rv;
}

static CK_RV
object_store_put (tt_token *tok, tt_object *obj)
{
    store_object so = { 0 };
    store *st;
    CK_RV rv = core_store (&st);

    if (rv == CKR_OK)
        rv = object_to_store (tok, obj, &so);
    if (rv == CKR_OK)
        rv = store_object_put (st, &so);
    if (rv == CKR_OK)
        obj->store_id = so.id;
    store_blob_clear (&so.attrs);
    return rv;
}

/* Session rules for holding obj (given its CKA_TOKEN and CKA_PRIVATE). */
CK_RV
object_access (tt_token *tok, tt_session *sess, const attr_list *attrs, bool write)
{
    if (attr_list_bool_or (attrs, CKA_PRIVATE, true) && tok->login != CKU_USER)
        return CKR_USER_NOT_LOGGED_IN;
    if (write && attr_list_bool_or (attrs, CKA_TOKEN, false)) {
        store *st;
        CK_RV rv;
        if (!(sess->flags & CKF_RW_SESSION))
            return CKR_SESSION_READ_ONLY;
        /* Before any TPM work: a read-only store cannot keep the object. */
        rv = core_store (&st);
        if (rv != CKR_OK)
            return rv;
        rv = store_write_check (st);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

CK_RV
object_add_inlock (tt_token *tok, tt_session *sess, tt_object **objs, size_t n)
{
    store *st = NULL;
    bool any_token = false;
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < n; i++)
        any_token |= object_token (objs[i]);
    if (any_token) {
        rv = core_store (&st);
        if (rv == CKR_OK)
            rv = store_tx_begin (st);
        for (size_t i = 0; i < n && rv == CKR_OK; i++)
            if (object_token (objs[i]))
                rv = object_store_put (tok, objs[i]);
        if (rv == CKR_OK)
            rv = store_tx_commit (st);
        if (rv != CKR_OK) {
            if (st != NULL)
                store_tx_rollback (st);
            for (size_t i = 0; i < n; i++)
                objs[i]->store_id = 0;
            return rv;
        }
    }
    for (size_t i = 0; i < n; i++) {
        objs[i]->handle = core_next_handle ();
        objs[i]->session = object_token (objs[i]) ? 0 : sess->handle;
        object_link (tok, objs[i]);
    }
    return CKR_OK;
}

CK_RV
object_auth_new (secbuf **out)
{
    secbuf *auth = secbuf_new (32);
    CK_RV rv = auth ? tpm_random (core_tpm (), auth->data, auth->len) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        secbuf_free (auth);
        auth = NULL;
    }
    *out = auth;
    return rv;
}

CK_RV
object_take_tpm_key (tt_token *tok, tt_object *obj, tpm_blob *pub, tpm_blob *priv,
                     const secbuf *auth)
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

/* Class-specific checks and derived attributes for C_CreateObject. */
static CK_RV
create_check_class (CK_OBJECT_CLASS cls, attr_list *attrs)
{
    CK_ULONG v;
    const CK_ATTRIBUTE *a;
    CK_RV rv = CKR_OK;

    switch (cls) {
    case CKO_DATA:
    case CKO_SECRET_KEY: /* checked by secret_import_inlock */
        return CKR_OK;
    case CKO_CERTIFICATE: {
        uint8_t *subject = NULL, *issuer = NULL, *serial = NULL;
        size_t sl = 0, il = 0, nl = 0;
        if (!attr_list_ulong (attrs, CKA_CERTIFICATE_TYPE, &v) || v != CKC_X_509) {
            LOG_ERROR ("only X.509 certificates are supported");
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        a = attr_list_find (attrs, CKA_VALUE);
        rv = crypto_x509_fields (a->pValue, a->ulValueLen, &subject, &sl, &issuer, &il, &serial,
                                 &nl);
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
    case CKO_PRIVATE_KEY:
        if (!attr_list_ulong (attrs, CKA_KEY_TYPE, &v) || v != CKK_EC_EDWARDS) {
            LOG_ERROR ("C_CreateObject of a private key: only Ed25519 seeds can be imported "
                       "(ECDSA keys are generated inside the TPM)");
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        a = attr_list_find (attrs, CKA_EC_PARAMS);
        if (!crypto_ed25519_params (a->pValue, a->ulValueLen)) {
            LOG_ERROR ("CKA_EC_PARAMS: only Ed25519 (OID 1.3.101.112 or \"edwards25519\")");
            return CKR_CURVE_NOT_SUPPORTED;
        }
        if (attr_list_find (attrs, CKA_VALUE) == NULL) {
            LOG_ERROR ("an Ed25519 private key needs CKA_VALUE (the 32-byte seed)");
            return CKR_TEMPLATE_INCOMPLETE;
        }
        return CKR_OK; /* sealed by eddsa_import_inlock */
    case CKO_PUBLIC_KEY: {
        uint8_t raw[1 + 2 * 48], der[2 + sizeof raw];
        size_t raw_len = sizeof raw, der_len = sizeof der, field;
        if (!attr_list_ulong (attrs, CKA_KEY_TYPE, &v) || (v != CKK_EC && v != CKK_EC_EDWARDS)) {
            LOG_ERROR ("only EC and Ed25519 public keys can be created");
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        a = attr_list_find (attrs, CKA_EC_PARAMS);
        if (v == CKK_EC_EDWARDS) {
            const uint8_t *oid;
            size_t oid_len;
            if (!crypto_ed25519_params (a->pValue, a->ulValueLen)) {
                LOG_ERROR ("CKA_EC_PARAMS: only Ed25519 (OID 1.3.101.112 or \"edwards25519\")");
                return CKR_CURVE_NOT_SUPPORTED;
            }
            a = attr_list_find (attrs, CKA_EC_POINT);
            rv = crypto_ed25519_point_raw (a->pValue, a->ulValueLen, true, raw);
            if (rv != CKR_OK) {
                LOG_ERROR ("CKA_EC_POINT is not an Ed25519 public key (32 bytes, or a DER "
                           "OCTET STRING of them)");
                return rv;
            }
            oid = crypto_ed25519_oid (&oid_len);
            rv = attr_list_set (attrs, CKA_EC_PARAMS, oid, oid_len);
            raw_len = 32;
        } else if ((field = crypto_ec_params_size (a->pValue, a->ulValueLen)) != 0) {
            a = attr_list_find (attrs, CKA_EC_POINT);
            rv = crypto_ec_point_raw (a->pValue, a->ulValueLen, field, raw, &raw_len);
            if (rv != CKR_OK) {
                LOG_ERROR ("CKA_EC_POINT is not an uncompressed point on the curve");
                return rv;
            }
        } else {
            LOG_ERROR ("CKA_EC_PARAMS: only the named curves P-256 and P-384 are supported");
            return CKR_CURVE_NOT_SUPPORTED;
        }
        if (rv == CKR_OK)
            rv = crypto_ec_point_der (raw, raw_len, der, &der_len);
        if (rv == CKR_OK) /* always kept as a DER OCTET STRING */
            rv = attr_list_set (attrs, CKA_EC_POINT, der, der_len);
        if (rv == CKR_OK)
            rv = attr_list_set_bool (attrs, CKA_LOCAL, false);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
        return rv;
    }
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
    if (schema_for (cls) == NULL) {
        rv = create_check_class (cls, attrs); /* logs, refuses */
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
        rv = create_check_class (cls, attrs);
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
    if (cls == CKO_SECRET_KEY)
        rv = secret_import_inlock (tok, obj); /* the value goes into the TPM, and only there */
    else if (cls == CKO_PRIVATE_KEY)
        rv = eddsa_import_inlock (tok, obj); /* the seed is sealed in the TPM */
    if (rv == CKR_OK)
        rv = object_add_inlock (tok, sess, &obj, 1);
    if (rv == CKR_OK) {
        *out = obj->handle;
        obj = NULL;
    }
out:
    object_free (obj);
    attr_list_free (attrs);
    return rv;
}

/* Applies a template of changes to a copy of obj's attributes (flags: what may change). */
static CK_RV
apply_changes (tt_token *tok, const tt_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
               unsigned allowed, attr_list **out)
{
    attr_list *changes = NULL, *next = NULL;
    CK_OBJECT_CLASS cls = object_class (obj);
    CK_RV rv = attr_list_from_template (tmpl, count, &changes);

    if (rv == CKR_OK)
        rv = template_check (cls, changes, allowed, 0);
    for (size_t i = 0; rv == CKR_OK && i < changes->n; i++) {
        const schema_entry *e = schema_find (cls, changes->a[i].type);
        bool now, want = changes->a[i].ulValueLen == 1 && *(CK_BBOOL *) changes->a[i].pValue;
        if (e->kind != K_BOOL || !attr_list_bool (obj->attrs, e->type, &now) || now == want)
            continue;
        if (((e->flags & A_TRUE_ONLY) && !want) || ((e->flags & A_FALSE_ONLY) && want))
            rv = CKR_ATTRIBUTE_READ_ONLY;
        if (e->type == CKA_TRUSTED && want && tok->login != CKU_SO)
            rv = CKR_ATTRIBUTE_READ_ONLY;
    }
    if (rv == CKR_OK) {
        next = attr_list_dup (obj->attrs);
        for (size_t i = 0; next != NULL && rv == CKR_OK && i < changes->n; i++)
            rv = attr_list_set (next, changes->a[i].type, changes->a[i].pValue,
                                changes->a[i].ulValueLen);
        if (next == NULL)
            rv = CKR_HOST_MEMORY;
    }
    attr_list_free (changes);
    if (rv != CKR_OK) {
        attr_list_free (next);
        next = NULL;
    }
    *out = next;
    return rv;
}

CK_RV
object_set_attrs_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    tt_object *obj;
    attr_list *next = NULL, *old;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    if (object_token (obj) && !(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!attr_list_bool_or (obj->attrs, CKA_MODIFIABLE, true))
        return CKR_ACTION_PROHIBITED;
    rv = apply_changes (tok, obj, tmpl, count, A_MODIFY, &next);
    if (rv != CKR_OK)
        return rv;
    old = obj->attrs;
    obj->attrs = next;
    if (obj->store_id != 0)
        rv = object_store_put (tok, obj);
    if (rv != CKR_OK) {
        obj->attrs = old;
        attr_list_free (next);
    } else {
        attr_list_free (old);
    }
    return rv;
}

CK_RV
object_copy_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE *tmpl,
                    CK_ULONG count, CK_OBJECT_HANDLE *out)
{
    tt_object *obj, *copy = NULL;
    attr_list *next = NULL;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    if (!attr_list_bool_or (obj->attrs, CKA_COPYABLE, true))
        return CKR_ACTION_PROHIBITED;
    rv = apply_changes (tok, obj, tmpl, count, A_MODIFY | A_COPY, &next);
    if (rv == CKR_OK)
        rv = object_access (tok, sess, next, true);
    if (rv == CKR_OK)
        copy = object_new (next);
    if (rv == CKR_OK && copy == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        attr_list_free (next);
        return rv;
    }
    /* The copy shares the TPM key (same blobs): nothing new is loaded or created. */
    if (object_set_blobs (copy, obj->tpm_pub.data, obj->tpm_pub.len, obj->tpm_priv.data,
                          obj->tpm_priv.len, obj->wrapped_auth, obj->wrapped_auth_len)
        != CKR_OK) {
        object_free (copy);
        return CKR_HOST_MEMORY;
    }
    rv = object_add_inlock (tok, sess, &copy, 1);
    if (rv != CKR_OK) {
        object_free (copy);
        return rv;
    }
    *out = copy->handle;
    return CKR_OK;
}

CK_RV
object_destroy_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h)
{
    tt_object *obj;
    store *st;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    if (object_token (obj) && !(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (!attr_list_bool_or (obj->attrs, CKA_DESTROYABLE, true))
        return CKR_ACTION_PROHIBITED;
    if (obj->store_id != 0) {
        rv = core_store (&st);
        if (rv == CKR_OK)
            rv = store_object_del (st, obj->store_id);
        if (rv != CKR_OK)
            return rv;
    }
    object_unlink (tok, obj);
    object_free (obj);
    return CKR_OK;
}

CK_RV
object_size_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_ULONG *size)
{
    tt_object *obj;
    CK_ULONG n = 0;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < obj->attrs->n; i++)
        n += sizeof (CK_ATTRIBUTE) + obj->attrs->a[i].ulValueLen;
    *size = n + obj->tpm_pub.len + obj->tpm_priv.len + obj->wrapped_auth_len;
    return CKR_OK;
}

CK_RV
object_get_attrs_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_ATTRIBUTE *tmpl,
                         CK_ULONG count)
{
    tt_object *obj;
    CK_OBJECT_CLASS cls;
    CK_RV rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);

    if (rv != CKR_OK)
        return rv;
    cls = object_class (obj);
    for (CK_ULONG i = 0; i < count; i++) {
        const CK_ATTRIBUTE *a = attr_list_find (obj->attrs, tmpl[i].type);
        const schema_entry *e = schema_find (cls, tmpl[i].type);
        /* A value held here (a derived software key) shows only when the object is
         * neither sensitive nor unextractable; a TPM key's value is never held. */
        bool hidden = e != NULL && (e->flags & A_SENSITIVE)
                      && (a == NULL || attr_list_bool_or (obj->attrs, CKA_SENSITIVE, true)
                          || !attr_list_bool_or (obj->attrs, CKA_EXTRACTABLE, false));
        if (a == NULL || hidden) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (hidden)
                rv = CKR_ATTRIBUTE_SENSITIVE;
            else if (rv == CKR_OK)
                rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (tmpl[i].pValue == NULL) {
            tmpl[i].ulValueLen = a->ulValueLen;
        } else if (tmpl[i].ulValueLen < a->ulValueLen) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (rv == CKR_OK)
                rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (a->ulValueLen)
                memcpy (tmpl[i].pValue, a->pValue, a->ulValueLen);
            tmpl[i].ulValueLen = a->ulValueLen;
        }
    }
    return rv;
}

/* libp11 0.4.12 (the OpenSSL engine) enumerates keys by class and gives up on
 * all of them when one has a key type it does not know (CKK_EC_EDWARDS). In a
 * process that has libp11 loaded, a search by key class that does not name a
 * key type leaves out keys other than RSA and EC: libp11 cannot use them
 * anyway, and every other consumer still sees them. */
static bool
libp11_skips (const tt_object *o, const attr_list *match)
{
    CK_ULONG cls, kt = 0;
    if (!core_libp11_compat () || attr_list_find (match, CKA_KEY_TYPE) != NULL
        || !attr_list_ulong (match, CKA_CLASS, &cls)
        || (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY))
        return false;
    attr_list_ulong (o->attrs, CKA_KEY_TYPE, &kt);
    return kt != CKK_RSA && kt != CKK_EC;
}

CK_RV
object_find_init_inlock (tt_token *tok, tt_session *sess, const CK_ATTRIBUTE *tmpl,
                         CK_ULONG count)
{
    attr_list *match = NULL;
    op_find *find;
    size_t n = 0;
    CK_RV rv;

    if (sess->find != NULL)
        return CKR_OPERATION_ACTIVE;
    rv = attr_list_from_template (tmpl, count, &match);
    if (rv != CKR_OK)
        return rv;
    rv = object_sync_inlock (tok);
    if (rv != CKR_OK) {
        attr_list_free (match);
        return rv;
    }
    for (tt_object *o = tok->objects; o != NULL; o = o->next)
        n++;
    find = calloc (1, sizeof *find);
    if (find != NULL)
        find->handles = calloc (n ? n : 1, sizeof *find->handles);
    if (find == NULL || find->handles == NULL) {
        free (find);
        attr_list_free (match);
        return CKR_HOST_MEMORY;
    }
    /* Oldest first: the list is newest-first. */
    for (tt_object *o = tok->objects; o != NULL; o = o->next)
        if (object_visible (tok, o) && attr_list_match (o->attrs, match)
            && !libp11_skips (o, match))
            find->handles[find->n++] = o->handle;
    for (size_t i = 0; i < find->n / 2; i++) {
        CK_OBJECT_HANDLE t = find->handles[i];
        find->handles[i] = find->handles[find->n - 1 - i];
        find->handles[find->n - 1 - i] = t;
    }
    attr_list_free (match);
    sess->find = find;
    return CKR_OK;
}

CK_RV
object_find_inlock (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE *out, CK_ULONG max,
                    CK_ULONG *count)
{
    op_find *find = sess->find;
    CK_ULONG n = 0;

    (void) tok;
    if (find == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    while (n < max && find->pos < find->n)
        out[n++] = find->handles[find->pos++];
    *count = n;
    return CKR_OK;
}

CK_RV
object_find_final_inlock (tt_token *tok, tt_session *sess)
{
    (void) tok;
    if (sess->find == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    free (sess->find->handles);
    free (sess->find);
    sess->find = NULL;
    return CKR_OK;
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

/* The TPM ECDSA key of a new pair: attached to priv; its point and SPKI. */
static CK_RV
keypair_make_ec (tt_token *tok, tt_object *priv, size_t field, uint8_t *raw, size_t *raw_len,
                 uint8_t **spki, size_t *spki_len)
{
    tpm_blob tpub = { 0 }, tpriv = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    secbuf *auth = NULL;
    CK_RV rv = pcr_from_template (priv->attrs, &pcrs);

    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (priv->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = object_auth_new (&auth);
    if (rv == CKR_OK)
        rv = tpm_ec_create (core_tpm (), field == 48 ? TPM_CURVE_P384 : TPM_CURVE_P256, auth,
                            pcrs.mask ? &pol : NULL, &tpub, &tpriv, raw, raw_len);
    if (rv == CKR_OK)
        rv = object_take_tpm_key (tok, priv, &tpub, &tpriv, auth);
    if (rv == CKR_OK)
        rv = crypto_ec_spki (field, raw, *raw_len, spki, spki_len);
    tpm_blob_clear (&tpub);
    tpm_blob_clear (&tpriv);
    secbuf_free (auth);
    return rv;
}

/* The sealed Ed25519 seed of a new pair: attached to priv; its key and SPKI. */
static CK_RV
keypair_make_ed (tt_token *tok, tt_object *priv, uint8_t *raw, size_t *raw_len, uint8_t **spki,
                 size_t *spki_len)
{
    CK_RV rv = eddsa_seal_inlock (tok, priv, NULL, raw);

    *raw_len = 32;
    if (rv == CKR_OK && (*spki = malloc (44)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        crypto_ed25519_spki (raw, *spki);
        *spki_len = 44;
    }
    return rv;
}

CK_RV
object_generate_pair_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                             const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
                             const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count,
                             CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
    attr_list *pub = NULL, *priv = NULL;
    tt_object *objs[2] = { NULL, NULL };
    const CK_ATTRIBUTE *params;
    uint8_t raw[1 + 2 * 48], der[2 + sizeof raw], *spki = NULL, *oid = NULL;
    uint8_t id[20];
    size_t raw_len = sizeof raw, der_len = sizeof der, spki_len = 0, field = 0, oid_len = 0;
    const mech_info *m = mech_lookup (mech->mechanism);
    bool edwards = m != NULL && m->kind == MECH_KEYGEN_EDWARDS, b;
    CK_KEY_TYPE kt = edwards ? CKK_EC_EDWARDS : CKK_EC;
    CK_RV rv;

    if (m == NULL || (m->kind != MECH_KEYGEN_EC && !edwards))
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = attr_list_from_template (pub_tmpl, pub_count, &pub);
    if (rv == CKR_OK)
        rv = attr_list_from_template (priv_tmpl, priv_count, &priv);
    if (rv == CKR_OK)
        rv = generate_check (CKO_PUBLIC_KEY, kt, pub);
    if (rv == CKR_OK)
        rv = generate_check (CKO_PRIVATE_KEY, kt, priv);
    if (rv != CKR_OK)
        goto out;

    params = attr_list_find (pub, CKA_EC_PARAMS);
    if (params == NULL)
        params = attr_list_find (priv, CKA_EC_PARAMS);
    if (params == NULL) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        LOG_ERROR ("key pair generation needs CKA_EC_PARAMS (the curve)");
        goto out;
    }
    if (edwards && crypto_ed25519_params (params->pValue, params->ulValueLen)) {
        oid = (uint8_t *) crypto_ed25519_oid (&oid_len); /* always emitted as the OID */
    } else if (!edwards && (field = crypto_ec_params_size (params->pValue, params->ulValueLen))) {
        oid = (uint8_t *) crypto_ec_params_for_size (field, &oid_len);
    } else {
        LOG_ERROR ("CKA_EC_PARAMS: %s", edwards ? "only Ed25519 (OID 1.3.101.112 or "
                                                  "\"edwards25519\") is supported"
                                                : "only the named curves P-256 and P-384 "
                                                  "are supported");
        rv = CKR_CURVE_NOT_SUPPORTED;
        goto out;
    }
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
        rv = attr_list_set (l, CKA_EC_PARAMS, oid, oid_len);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong (l, CKA_CLASS, i ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY);
        if (rv == CKR_OK)
            rv = template_defaults (i ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY, l);
        if (rv == CKR_OK)
            rv = object_access (tok, sess, l, true);
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
    rv = edwards ? keypair_make_ed (tok, objs[1], raw, &raw_len, &spki, &spki_len)
                 : keypair_make_ec (tok, objs[1], field, raw, &raw_len, &spki, &spki_len);
    if (rv == CKR_OK)
        rv = crypto_ec_point_der (raw, raw_len, der, &der_len);
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
        rv = attr_list_set_ulong (l, CKA_KEY_TYPE, kt);
        if (rv == CKR_OK)
            rv = attr_list_set (l, CKA_EC_POINT, der, der_len);
        if (rv == CKR_OK)
            rv = attr_list_set (l, CKA_PUBLIC_KEY_INFO, spki, spki_len);
        if (rv == CKR_OK)
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
    free (spki);
    return rv;
}
