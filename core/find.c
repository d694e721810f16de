/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * C_FindObjects*: a search takes a snapshot of the matching handles at init.
 */
#include "config.h"

#include <stdlib.h>

#include "internal.h"

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
