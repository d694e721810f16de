/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Objects: their life (new, free, the token's list, the store), lookup by
 * handle, and the Cryptoki calls on existing objects (copy, destroy, size,
 * get and set attributes). Making objects is create.c, searching find.c,
 * template rules schema.c.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "internal.h"
#include "keys/keytype.h"
#include "schema.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"
#include "rowenc.h"
#include "rowmac.h"

tt_object *
object_new (attr_list *attrs)
{
    tt_object *obj = calloc (1, sizeof *obj);
    if (obj != NULL) {
        obj->attrs = attrs;
        obj->type = keytype_of (attrs);
    }
    return obj;
}

void
object_free (tt_object *obj)
{
    if (obj == NULL)
        return;
    if (obj->type != NULL && obj->type->wipe != NULL)
        obj->type->wipe (obj);
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

bool
object_visible (const tt_token *tok, const tt_object *obj)
{
    return !obj->pending && (!object_private (obj) || tok->login == CKU_USER);
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
            return obj->damaged ? CKR_TPMTRUST_OBJECT_DAMAGED : CKR_OK;
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
    /* unsealed Ed25519 keys (every cached secret) go with the login */
    for (tt_object *o = tok->objects; o != NULL; o = o->next)
        if (o->type != NULL && o->type->wipe != NULL)
            o->type->wipe (o);
    while (*p != NULL) {
        tt_object *obj = *p;
        if (object_private (obj) && obj->store_id == 0) {
            *p = obj->next;
            object_free (obj);
            continue;
        }
        if (object_private (obj)) {
            /* its values go with the login; the row is read again at the next */
            attr_list *ph = rowenc_placeholder ();
            obj->handle = core_next_handle ();
            if (ph != NULL) {
                attr_list_free (obj->attrs);
                obj->attrs = ph;
                obj->type = NULL;
                obj->pending = true;
            }
        }
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

/* A stored row as an object. A private row encrypted at rest (rowenc.h)
 * before login is a placeholder, marked pending: checked and decrypted at the
 * login. */
static CK_RV
object_from_store (const tt_token *tok, const store_object *so, tt_object **out)
{
    attr_list *attrs = NULL;
    tt_object *obj;
    CK_ULONG cls;
    bool locked = false;
    CK_RV rv = rowenc_decode (tok, so, &attrs);

    *out = NULL;
    if (rv == CKR_USER_NOT_LOGGED_IN) {
        locked = true;
        rv = (attrs = rowenc_placeholder ()) != NULL ? CKR_OK : CKR_HOST_MEMORY;
    }
    if (rv == CKR_TPMTRUST_OBJECT_DAMAGED || rv == CKR_HOST_MEMORY)
        return rv; /* logged */
    if (rv != CKR_OK) {
        LOG_ERROR ("stored object %lld is damaged (its attributes do not decode): skipped; "
                   "the store is left as it is",
                   (long long) so->id);
        return rv;
    }
    if (rowenc_sealed (&so->attrs) && !attr_list_bool_or (attrs, CKA_PRIVATE, false)) {
        LOG_ERROR ("stored object %lld is damaged (encrypted, yet not private): skipped; the "
                   "store is left as it is",
                   (long long) so->id);
        attr_list_free (attrs);
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    if (!attr_list_ulong (attrs, CKA_CLASS, &cls) || !schema_has_class (cls)) {
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
    obj->pending = locked;
    obj->plain_row = !locked && !rowenc_sealed (&so->attrs) && object_private (obj);
    if (object_set_blobs (obj, so->tpm_pub.data, so->tpm_pub.len, so->tpm_priv.data,
                          so->tpm_priv.len, so->wrapped_auth.data, so->wrapped_auth.len)
        != CKR_OK) {
        object_free (obj);
        return CKR_HOST_MEMORY;
    }
    *out = obj;
    return CKR_OK;
}

/* Takes a checked row's content into obj (a changed row: every cached secret
 * of the old content goes, issue 15 item 8). */
static void
object_take (tt_object *obj, tt_object *fresh)
{
    attr_list *a = obj->attrs;
    tpm_blob p = obj->tpm_pub, q = obj->tpm_priv;
    uint8_t *wa = obj->wrapped_auth;
    size_t wa_len = obj->wrapped_auth_len;

    if (obj->type != NULL && obj->type->wipe != NULL)
        obj->type->wipe (obj);
    obj->attrs = fresh->attrs;
    obj->type = fresh->type;
    obj->tpm_pub = fresh->tpm_pub;
    obj->tpm_priv = fresh->tpm_priv;
    obj->wrapped_auth = fresh->wrapped_auth;
    obj->wrapped_auth_len = fresh->wrapped_auth_len;
    fresh->attrs = a;
    fresh->type = NULL; /* its wipe ran above */
    fresh->tpm_pub = p;
    fresh->tpm_priv = q;
    fresh->wrapped_auth = wa;
    fresh->wrapped_auth_len = wa_len;
    object_free (fresh);
}

static CK_RV object_store_put (tt_token *tok, tt_object *obj);

/* Private rows a store written before rows were encrypted holds in the clear
 * (rowenc.h): rewritten encrypted once logged in, when the store can be
 * written; a failure leaves them as they were, retried at the next sync. */
static void
encrypt_plain_rows (tt_token *tok, store *st)
{
    size_t done = 0, left = 0;

    if (tok->secret == NULL || store_readonly (st))
        return;
    for (tt_object *o = tok->objects; o != NULL; o = o->next) {
        if (!o->plain_row)
            continue;
        if (object_store_put (tok, o) == CKR_OK) {
            o->plain_row = false;
            done++;
        } else {
            left++;
        }
    }
    if (done + left > 0)
        LOG_INFO ("token '%s': %zu private objects stored in the clear are now encrypted%s",
                  tok->rec.label, done, left ? " (some could not be written: retried later)" : "");
}

/* Loads the token's objects from the store, or brings them up to date with it
 * (other processes create and destroy objects too). Handles stay stable. Each
 * new or changed row is authenticated (rowmac.c); private rows once logged in. */
static CK_RV
sync_inlock (tt_token *tok, bool defer)
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
        uint8_t h[32];
        row_state state;
        CK_RV crv;

        rowmac_row_hash (&list[i], h);
        for (tt_object *o = tok->objects; o != NULL && obj == NULL; o = o->next)
            if (o->store_id == list[i].id)
                obj = o;
        if (obj != NULL && !obj->pending && memcmp (obj->row_hash, h, sizeof h) == 0)
            continue; /* unchanged since checked */
        if (object_from_store (tok, &list[i], &fresh) != CKR_OK) {
            if (obj != NULL) { /* it was good, its row no longer is */
                if (obj->type != NULL && obj->type->wipe != NULL)
                    obj->type->wipe (obj);
                obj->damaged = true;
                obj->pending = false;
                memcpy (obj->row_hash, h, sizeof h);
            }
            continue;
        }
        /* A row that could not be checked (the row key does not unseal: the TPM
         * is away or was cleared) stays pending, unseen; logged, retried at the
         * next sync. The call goes on: the TPM's own error comes from its use. */
        state = rowmac_check (tok, &list[i], fresh->attrs, defer, &crv);
        if (state == ROW_OK && fresh->pending)
            state = ROW_PENDING; /* encrypted: a v1 token's rows pass unchecked */
        if (state == ROW_OK && !keytype_row_ok (fresh, list[i].id))
            state = ROW_DAMAGED;
        fresh->damaged = state == ROW_DAMAGED;
        fresh->pending = state == ROW_PENDING;
        memcpy (fresh->row_hash, h, sizeof h);
        fresh->plain_row = fresh->plain_row && state == ROW_OK;
        if (obj != NULL) { /* keep the handle, take the stored row */
            obj->damaged = fresh->damaged;
            obj->pending = fresh->pending;
            obj->plain_row = fresh->plain_row;
            memcpy (obj->row_hash, h, sizeof h);
            object_take (obj, fresh);
        } else {
            fresh->handle = core_next_handle ();
            object_link (tok, fresh);
        }
    }
    store_object_list_free (list, n);
    tok->objects_loaded = true;
    encrypt_plain_rows (tok, st);
    return CKR_OK;
}

CK_RV
object_sync_inlock (tt_token *tok)
{
    return sync_inlock (tok, false);
}

/* C_OpenSession's load: a public row that needs the row key is left pending
 * (unseen; no object handle is known before a search anyway) until a search,
 * so that a process that logs in first checks it under the token secret and
 * never unseals the row key. */
CK_RV
object_load_inlock (tt_token *tok)
{
    return tok->objects_loaded ? CKR_OK : sync_inlock (tok, true);
}

CK_RV
object_relogin_sync_inlock (tt_token *tok)
{
    return sync_inlock (tok, true);
}

static CK_RV
object_to_store (tt_token *tok, const tt_object *obj, store_object *so)
{
    CK_RV rv = attr_list_encode (obj->attrs, &so->attrs.data, &so->attrs.len);
    if (rv == CKR_OK && object_private (obj))
        rv = rowenc_seal (tok, &so->attrs); /* private values never reach the store in the clear */
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
    /* a new row gets its id first: the MAC covers it (one transaction) */
    if (rv == CKR_OK && so.id == 0)
        rv = store_object_put (st, &so);
    if (rv == CKR_OK)
        rv = rowmac_sign (tok, &so, obj->attrs);
    if (rv == CKR_OK)
        rv = store_object_put (st, &so);
    if (rv == CKR_OK) {
        obj->store_id = so.id;
        rowmac_row_hash (&so, obj->row_hash);
    }
    if (so.attrs.data != NULL) /* plain when encrypting failed */
        sodium_memzero (so.attrs.data, so.attrs.len);
    store_blob_clear (&so.attrs);
    store_blob_clear (&so.mac);
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
        if (rv == CKR_OK) /* not into a token another process re-initialized */
            rv = token_current_inlock (tok);
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
    CK_RV rv = token_current_inlock (tok); /* first: it may drop every object */

    if (rv == CKR_OK)
        rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);
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

/* Whether obj's attributes hold a secret value (a software key's CKA_VALUE). */
static bool
object_holds_secret (const tt_object *obj)
{
    CK_OBJECT_CLASS cls = object_class (obj);
    for (size_t i = 0; i < obj->attrs->n; i++) {
        const schema_entry *e = schema_find (cls, obj->attrs->a[i].type);
        if (e != NULL && (e->flags & A_SENSITIVE))
            return true;
    }
    return false;
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
    /* An unmodifiable object's copy changes only what copying may change
     * (CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE): never its usage flags
     * (CKR_ATTRIBUTE_READ_ONLY, PKCS#11 3.0 5.7 C_CopyObject). */
    rv = apply_changes (tok, obj, tmpl, count,
                        attr_list_bool_or (obj->attrs, CKA_MODIFIABLE, true) ? A_MODIFY | A_COPY
                                                                             : A_COPY,
                        &next);
    /* A key whose value is held here (a session-only derived key: the watchdog
     * heartbeat key) stays a session object: its value never reaches the store. */
    if (rv == CKR_OK && !object_token (obj) && attr_list_bool_or (next, CKA_TOKEN, false)
        && object_holds_secret (obj)) {
        LOG_ERROR ("C_CopyObject: object %lu holds a session-only secret value: it cannot be "
                   "copied to a token object (CKA_TOKEN TRUE)",
                   (unsigned long) h);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
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
    tt_object *obj = NULL;
    store *st;
    CK_RV rv = token_current_inlock (tok); /* first: it may drop every object */

    if (rv == CKR_OK)
        rv = object_lookup (tok, sess, h, CKR_OBJECT_HANDLE_INVALID, &obj);
    /* a damaged object can go (its attributes are not to be believed) */
    if (rv == CKR_TPMTRUST_OBJECT_DAMAGED)
        rv = CKR_OK;
    else if (rv == CKR_OK && !attr_list_bool_or (obj->attrs, CKA_DESTROYABLE, true))
        rv = CKR_ACTION_PROHIBITED;
    if (rv != CKR_OK)
        return rv;
    if (object_token (obj) && !(sess->flags & CKF_RW_SESSION))
        return CKR_SESSION_READ_ONLY;
    if (obj->store_id != 0) {
        /* a private object's end is never undone: the token's counter moves
         * (a store copy from before it is refused as rolled back) */
        bool bump = object_private (obj) && tok->secret != NULL, in_tx = false;
        rv = core_store (&st);
        if (rv == CKR_OK && bump)
            in_tx = (rv = store_tx_begin (st)) == CKR_OK;
        if (rv == CKR_OK)
            rv = store_object_del (st, obj->store_id);
        if (rv == CKR_OK && bump)
            rv = token_bump_inlock (tok);
        if (rv == CKR_OK && in_tx)
            rv = store_tx_commit (st);
        if (rv != CKR_OK) {
            if (in_tx)
                store_tx_rollback (st);
            return rv;
        }
        if (bump)
            token_bump_done (tok);
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
