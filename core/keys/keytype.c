/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The key-type rows C_CreateObject and the store find by (class, CKK). The
 * rows themselves live in their own files.
 */
#include "config.h"

#include "keys/keytype.h"
#define LOG_MODULE "keytype"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

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

bool
keytype_row_ok (const tt_object *obj, int64_t row)
{
    uint16_t type = 0, curve = 0;
    size_t pol = 0, field = 0;
    CK_ULONG kt = (CK_ULONG) -1, mask = 0;
    const CK_ATTRIBUTE *params = attr_list_find (obj->attrs, CKA_EC_PARAMS);
    const char *why = NULL;

    if (obj->tpm_pub.data == NULL)
        return true;
    attr_list_ulong (obj->attrs, CKA_KEY_TYPE, &kt);
    attr_list_ulong (obj->attrs, CKA_TPMTRUST_PCR_MASK, &mask);
    if (params != NULL)
        field = crypto_ec_params_size (params->pValue, params->ulValueLen);
    if (tpm_pub_summary (&obj->tpm_pub, &type, &curve, &pol) != CKR_OK)
        why = "its TPM public blob does not parse";
    else if ((mask != 0) != (pol != 0))
        why = "its TPM key's policy does not match CKA_TPMTRUST_PCR_MASK";
    else if (kt == CKK_EC
             && (type != 0x0023 || !((curve == TPM_CURVE_P256 && field == 32)
                                     || (curve == TPM_CURVE_P384 && field == 48))))
        why = "its TPM key is not an EC key on the curve of its CKA_EC_PARAMS";
    else if (kt == CKK_RSA && type != 0x0001)
        why = "its TPM key is not an RSA key";
    else if (kt != CKK_EC && kt != CKK_RSA && kt != (CK_ULONG) -1 && type != 0x0008)
        why = "its TPM object is not the keyed-hash object its key type needs";
    if (why == NULL)
        return true;
    LOG_ERROR ("stored object %lld is refused: %s (its row was changed outside tpmtrust)",
               (long long) row, why);
    return false;
}
