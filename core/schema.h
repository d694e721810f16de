/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Template rules (schema.c): per object class, which attributes a template may
 * hold, with their kind, flags and default.
 */
#ifndef TT_SCHEMA_H
#define TT_SCHEMA_H

#include <stdbool.h>

#include "attr.h"
#include "base/ck.h"

/* Schema flags: */
#define A_CREATE 0x01     /* may be given in a template */
#define A_MODIFY 0x02     /* C_SetAttributeValue and C_CopyObject may change it */
#define A_REQUIRE 0x04    /* C_CreateObject needs it */
#define A_SENSITIVE 0x08  /* valid for the class, never revealed */
#define A_TRUE_ONLY 0x10  /* may change only from FALSE to TRUE */
#define A_FALSE_ONLY 0x20 /* may change only from TRUE to FALSE */
#define A_COPY 0x40       /* C_CopyObject may change it */
#define A_NOGEN 0x80      /* computed by key generation, not given */
#define A_EMPTY 0x100     /* defaults to an empty value */
#define A_EC 0x200        /* EC and Edwards keys only (A_REQUIRE: for them) */
#define A_RSA 0x400       /* RSA keys only (A_REQUIRE: for them) */

CK_RV template_check (CK_OBJECT_CLASS cls, const attr_list *tmpl, unsigned allowed,
                      unsigned forbidden);
CK_RV template_defaults (CK_OBJECT_CLASS cls, attr_list *list);
CK_RV template_required (CK_OBJECT_CLASS cls, const attr_list *list);

/* One schema entry: the attribute, its value kind (K_*), flags (A_*) and default. */
enum { K_BYTES, K_BOOL, K_ULONG, K_DATE, K_MECHS };

#define D_NONE (-1)

typedef struct schema_entry {
    CK_ATTRIBUTE_TYPE type;
    int kind;
    unsigned flags;
    int dflt; /* booleans: 0 or 1; D_NONE: no default */
} schema_entry;

/* The entry for attribute type in class cls, NULL if the class has none. */
const schema_entry *schema_find (CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);
/* Whether objects of class cls exist here (data, certificates, keys). */
bool schema_has_class (CK_OBJECT_CLASS cls);

#endif
