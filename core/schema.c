/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Template rules. Validation is data: per class a schema of
 * { attribute, value kind, flags, default }; a per-kind check of ulValueLen
 * before any read. Below the object calls: key types (core/keys/) use it too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "internal.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "schema.h"

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
    { CKA_EC_PARAMS, K_BYTES, A_CREATE | A_REQUIRE | A_EC, D_NONE },
    { CKA_EC_POINT, K_BYTES, A_CREATE | A_REQUIRE | A_NOGEN | A_EC, D_NONE },
    /* RSA */
    { CKA_MODULUS, K_BYTES, A_CREATE | A_REQUIRE | A_NOGEN | A_RSA, D_NONE },
    { CKA_MODULUS_BITS, K_ULONG, A_CREATE | A_RSA, D_NONE },
    { CKA_PUBLIC_EXPONENT, K_BYTES, A_CREATE | A_REQUIRE | A_RSA, D_NONE },
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
    { CKA_EC_PARAMS, K_BYTES, A_CREATE | A_REQUIRE | A_EC, D_NONE },
    { CKA_EC_POINT, K_BYTES, A_NOGEN | A_EC, D_NONE },
    /* RSA: the public parts only; the private ones never leave the TPM */
    { CKA_MODULUS, K_BYTES, A_NOGEN | A_RSA, D_NONE },
    { CKA_MODULUS_BITS, K_ULONG, A_RSA, D_NONE },
    { CKA_PUBLIC_EXPONENT, K_BYTES, A_CREATE | A_RSA, D_NONE },
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

const schema_entry *
schema_find (CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    const schema_entry *const *secs = schema_for (cls);
    for (; secs != NULL && *secs != NULL; secs++)
        for (const schema_entry *e = *secs; e->type != (CK_ATTRIBUTE_TYPE) -1; e++)
            if (e->type == type)
                return e;
    return NULL;
}

bool
schema_has_class (CK_OBJECT_CLASS cls)
{
    return schema_for (cls) != NULL;
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

/* Whether entry e (A_EC, A_RSA: one key type's) fits the key type list names
 * (true when it names none: generation templates may leave it out). */
static bool
schema_key_type_fits (const schema_entry *e, const attr_list *list)
{
    CK_ULONG kt;
    if (!(e->flags & (A_EC | A_RSA)) || !attr_list_ulong (list, CKA_KEY_TYPE, &kt))
        return true;
    return (e->flags & A_RSA) ? kt == CKK_RSA : kt != CKK_RSA;
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
        if ((e->flags & forbidden) || !schema_key_type_fits (e, tmpl))
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
            if ((e->flags & A_REQUIRE) && schema_key_type_fits (e, list)
                && attr_list_find (list, e->type) == NULL) {
                LOG_DEBUG ("the template lacks attribute 0x%lx", e->type);
                return CKR_TEMPLATE_INCOMPLETE;
            }
    return CKR_OK;
}
