/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key-type rows C_CreateObject and the store find by (class, CKK). The
 * rows themselves live in their own files.
 */
#include "config.h"

#include "keys/keytype.h"

/* Searched in order. The heartbeat key and the attestation identity are made
 * by derivation or are another type's keys: they are not found here. */
static const keytype *const rows[] = { &keytype_ecdsa, &keytype_ed25519, &keytype_hmac,
                                         &keytype_rsa };

const keytype *
keytype_lookup (CK_OBJECT_CLASS cls, CK_KEY_TYPE kt)
{
    if (cls >= 32)
        return NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const keytype *t = rows[i];
        bool ok = t->n_ck == 0;
        if (!(t->serves & KT_CLASS (cls)))
            continue;
        for (size_t j = 0; j < t->n_ck && !ok; j++)
            ok = t->ck[j] == kt;
        if (ok)
            return t;
    }
    return NULL;
}

const keytype *
keytype_of (const attr_list *attrs)
{
    CK_ULONG cls, kt;
    if (attrs == NULL || !attr_list_ulong (attrs, CKA_CLASS, &cls)
        || !attr_list_ulong (attrs, CKA_KEY_TYPE, &kt))
        return NULL;
    return keytype_lookup (cls, kt);
}
