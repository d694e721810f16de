/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * attr_list: an owned list of CK_ATTRIBUTEs (each value malloc'd, wiped on free).
 * Templates from callers are copied into an attr_list at the p11/ edge.
 */
#ifndef TT_ATTR_H
#define TT_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"

typedef struct attr_list {
    CK_ATTRIBUTE *a;
    size_t n;
} attr_list;

attr_list *attr_list_new (void);
void attr_list_free (attr_list *list); /* NULL-safe; wipes values */
attr_list *attr_list_dup (const attr_list *list);

/* Copies a caller's template. CKR_ARGUMENTS_BAD for a NULL value with a non-zero
 * length or a NULL template with count > 0; CKR_TEMPLATE_INCONSISTENT when an
 * attribute type appears twice with different values. */
CK_RV attr_list_from_template (const CK_ATTRIBUTE *untrusted_tmpl, CK_ULONG count,
                               attr_list **out);

const CK_ATTRIBUTE *attr_list_find (const attr_list *list, CK_ATTRIBUTE_TYPE type);
/* Adds or replaces. CKR_HOST_MEMORY on failure. */
CK_RV attr_list_set (attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV attr_list_set_bool (attr_list *list, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV attr_list_set_ulong (attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
void attr_list_remove (attr_list *list, CK_ATTRIBUTE_TYPE type);

/* Typed reads: false when absent or of the wrong length. */
bool attr_list_bool (const attr_list *list, CK_ATTRIBUTE_TYPE type, bool *out);
bool attr_list_ulong (const attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
/* The boolean value, or dflt when absent. */
bool attr_list_bool_or (const attr_list *list, CK_ATTRIBUTE_TYPE type, bool dflt);

/* True when every attribute of tmpl is in list with an equal value. */
bool attr_list_match (const attr_list *list, const attr_list *tmpl);

/* Store encoding: version byte 1, then per attribute u64 type, u32 length, value
 * (little endian). Decoding checks every length; CKR_DATA_INVALID when malformed. */
CK_RV attr_list_encode (const attr_list *list, uint8_t **out, size_t *out_len);
CK_RV attr_list_decode (const uint8_t *data, size_t len, attr_list **out);

#endif
