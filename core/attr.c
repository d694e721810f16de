/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"

attr_list *
attr_list_new (void)
{
    return calloc (1, sizeof (attr_list));
}

static void
attr_value_free (CK_ATTRIBUTE *a)
{
    if (a->pValue != NULL) {
        sodium_memzero (a->pValue, a->ulValueLen);
        free (a->pValue);
    }
    a->pValue = NULL;
}

void
attr_list_free (attr_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        attr_value_free (&list->a[i]);
    free (list->a);
    free (list);
}

const CK_ATTRIBUTE *
attr_list_find (const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; list != NULL && i < list->n; i++)
        if (list->a[i].type == type)
            return &list->a[i];
    return NULL;
}

CK_RV
attr_list_set (attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    CK_ATTRIBUTE *slot = (CK_ATTRIBUTE *) attr_list_find (list, type);
    void *copy = malloc (len ? len : 1);

    if (copy == NULL)
        return CKR_HOST_MEMORY;
    if (len > 0)
        memcpy (copy, value, len);
    if (slot == NULL) {
        CK_ATTRIBUTE *grown = realloc (list->a, (list->n + 1) * sizeof *grown);
        if (grown == NULL) {
            free (copy);
            return CKR_HOST_MEMORY;
        }
        list->a = grown;
        slot = &list->a[list->n++];
        slot->type = type;
    } else {
        attr_value_free (slot);
    }
    slot->pValue = copy;
    slot->ulValueLen = len;
    return CKR_OK;
}

CK_RV
attr_list_set_bool (attr_list *list, CK_ATTRIBUTE_TYPE type, bool value)
{
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return attr_list_set (list, type, &b, sizeof b);
}

CK_RV
attr_list_set_ulong (attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    return attr_list_set (list, type, &value, sizeof value);
}

void
attr_list_remove (attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < list->n; i++) {
        if (list->a[i].type == type) {
            attr_value_free (&list->a[i]);
            memmove (&list->a[i], &list->a[i + 1], (list->n - i - 1) * sizeof list->a[0]);
            list->n--;
            return;
        }
    }
}

attr_list *
attr_list_dup (const attr_list *list)
{
    attr_list *copy = attr_list_new ();
    for (size_t i = 0; copy != NULL && i < list->n; i++) {
        if (attr_list_set (copy, list->a[i].type, list->a[i].pValue, list->a[i].ulValueLen)
            != CKR_OK) {
            attr_list_free (copy);
            copy = NULL;
        }
    }
    return copy;
}

CK_RV
attr_list_from_template (const CK_ATTRIBUTE *untrusted_tmpl, CK_ULONG count, attr_list **out)
{
    attr_list *list;
    CK_RV rv = CKR_OK;

    *out = NULL;
    if (untrusted_tmpl == NULL && count > 0)
        return CKR_ARGUMENTS_BAD;
    list = attr_list_new ();
    if (list == NULL)
        return CKR_HOST_MEMORY;
    for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++) {
        const CK_ATTRIBUTE *a = &untrusted_tmpl[i];
        const CK_ATTRIBUTE *prev;
        if (a->pValue == NULL && a->ulValueLen > 0) {
            rv = CKR_ARGUMENTS_BAD;
            break;
        }
        if (a->ulValueLen > (1UL << 24)) { /* 16 MiB: more than any object we keep */
            rv = CKR_ATTRIBUTE_VALUE_INVALID;
            break;
        }
        prev = attr_list_find (list, a->type);
        if (prev != NULL
            && (prev->ulValueLen != a->ulValueLen
                || (a->ulValueLen && memcmp (prev->pValue, a->pValue, a->ulValueLen) != 0))) {
            rv = CKR_TEMPLATE_INCONSISTENT;
            break;
        }
        rv = attr_list_set (list, a->type, a->pValue, a->ulValueLen);
    }
    if (rv != CKR_OK) {
        attr_list_free (list);
        return rv;
    }
    *out = list;
    return CKR_OK;
}

bool
attr_list_bool (const attr_list *list, CK_ATTRIBUTE_TYPE type, bool *out)
{
    const CK_ATTRIBUTE *a = attr_list_find (list, type);
    if (a == NULL || a->ulValueLen != sizeof (CK_BBOOL))
        return false;
    *out = *(CK_BBOOL *) a->pValue != CK_FALSE;
    return true;
}

bool
attr_list_bool_or (const attr_list *list, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    bool v;
    return attr_list_bool (list, type, &v) ? v : dflt;
}

bool
attr_list_ulong (const attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *a = attr_list_find (list, type);
    if (a == NULL || a->ulValueLen != sizeof (CK_ULONG))
        return false;
    memcpy (out, a->pValue, sizeof *out);
    return true;
}

bool
attr_list_match (const attr_list *list, const attr_list *tmpl)
{
    for (size_t i = 0; tmpl != NULL && i < tmpl->n; i++) {
        const CK_ATTRIBUTE *want = &tmpl->a[i];
        const CK_ATTRIBUTE *have = attr_list_find (list, want->type);
        if (have == NULL || have->ulValueLen != want->ulValueLen)
            return false;
        if (want->ulValueLen && memcmp (have->pValue, want->pValue, want->ulValueLen) != 0)
            return false;
    }
    return true;
}

static void
put_le (uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_le (const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t) p[i] << (8 * i);
    return v;
}

CK_RV
attr_list_encode (const attr_list *list, uint8_t **out, size_t *out_len)
{
    size_t len = 1;
    uint8_t *buf, *p;

    for (size_t i = 0; i < list->n; i++)
        len += 12 + list->a[i].ulValueLen;
    buf = malloc (len);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    p = buf;
    *p++ = 1;
    for (size_t i = 0; i < list->n; i++) {
        put_le (p, list->a[i].type, 8);
        put_le (p + 8, list->a[i].ulValueLen, 4);
        p += 12;
        if (list->a[i].ulValueLen)
            memcpy (p, list->a[i].pValue, list->a[i].ulValueLen);
        p += list->a[i].ulValueLen;
    }
    *out = buf;
    *out_len = len;
    return CKR_OK;
}

CK_RV
attr_list_decode (const uint8_t *data, size_t len, attr_list **out)
{
    attr_list *list;
    size_t off = 1;
    CK_RV rv = CKR_OK;

    *out = NULL;
    if (data == NULL || len < 1 || data[0] != 1)
        return CKR_DATA_INVALID;
    list = attr_list_new ();
    if (list == NULL)
        return CKR_HOST_MEMORY;
    while (off < len && rv == CKR_OK) {
        uint64_t type;
        size_t vlen;
        if (len - off < 12) {
            rv = CKR_DATA_INVALID;
            break;
        }
        type = get_le (data + off, 8);
        vlen = get_le (data + off + 8, 4);
        off += 12;
        if (vlen > len - off || attr_list_find (list, type) != NULL) {
            rv = CKR_DATA_INVALID;
            break;
        }
        rv = attr_list_set (list, type, data + off, vlen);
        off += vlen;
    }
    if (rv != CKR_OK) {
        attr_list_free (list);
        return rv;
    }
    *out = list;
    return CKR_OK;
}
