/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PCR binding of TPM-backed keys: which PCRs a template (or the config file's
 * default) asks for, the policy that binds a new key to their current values,
 * and, when a bound key no longer works, which PCRs changed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "pcr"
#include "base/config-file.h"
#include "internal.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define PCR_ALL 0xffffffu

static size_t
bank_size (uint16_t bank)
{
    return bank == 0x0004 ? 20 : bank == 0x000B ? 32 : bank == 0x000C ? 48 : bank == 0x000D ? 64 : 0;
}

static const char *
bank_name (uint16_t bank)
{
    return bank == 0x0004 ? "sha1" : bank == 0x000B ? "sha256" : bank == 0x000C ? "sha384"
                                                   : bank == 0x000D ? "sha512" : "?";
}

uint16_t
pcr_bank (CK_MECHANISM_TYPE hash)
{
    return hash == CKM_SHA_1 ? 0x0004 : hash == CKM_SHA256 ? 0x000B : hash == CKM_SHA384 ? 0x000C
           : hash == CKM_SHA512 ? 0x000D : 0;
}

/* "sha256:7,16" → bank and mask; false when malformed. */
static bool
pcr_parse (const char *s, tpm_pcrs *out)
{
    static const struct {
        const char *name;
        uint16_t bank;
    } banks[] = { { "sha1", 0x0004 }, { "sha256", 0x000B }, { "sha384", 0x000C },
                  { "sha512", 0x000D } };
    const char *colon = strchr (s, ':');
    char *end;

    out->bank = 0;
    out->mask = 0;
    for (size_t i = 0; colon && i < sizeof banks / sizeof banks[0]; i++)
        if (strlen (banks[i].name) == (size_t) (colon - s)
            && strncmp (s, banks[i].name, (size_t) (colon - s)) == 0)
            out->bank = banks[i].bank;
    if (out->bank == 0)
        return false;
    for (s = colon + 1; *s;) {
        long n = strtol (s, &end, 10);
        if (end == s || n < 0 || n > 23 || (*end != ',' && *end != '\0'))
            return false;
        out->mask |= 1u << n;
        s = *end ? end + 1 : end;
    }
    return out->mask != 0;
}

CK_RV
pcr_from_template (const attr_list *tmpl, tpm_pcrs *out)
{
    CK_ULONG mask = 0, bank = CKM_SHA256;
    const char *dflt = config_get ("pcr_default");

    out->bank = 0;
    out->mask = 0;
    if (!attr_list_ulong (tmpl, CKA_TPMTRUST_PCR_MASK, &mask)) {
        if (dflt == NULL)
            return CKR_OK;
        if (!pcr_parse (dflt, out)) {
            LOG_ERROR ("%s: pcr_default = %s: expected a bank and PCRs, e.g. 'sha256:7,16'",
                       config_path (), dflt);
            return CKR_GENERAL_ERROR;
        }
        return CKR_OK;
    }
    attr_list_ulong (tmpl, CKA_TPMTRUST_PCR_BANK, &bank);
    if (mask & ~(CK_ULONG) PCR_ALL) {
        LOG_ERROR ("CKA_TPMTRUST_PCR_MASK 0x%lx: only PCRs 0 to 23 exist", mask);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    out->bank = pcr_bank (bank);
    out->mask = mask ? (uint32_t) mask : 0;
    if (mask != 0 && out->bank == 0) {
        LOG_ERROR ("CKA_TPMTRUST_PCR_BANK 0x%lx: use CKM_SHA_1, CKM_SHA256, CKM_SHA384 or "
                   "CKM_SHA512",
                   bank);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

CK_RV
pcr_bind (tpm *t, attr_list *attrs, tpm_pcrs pcrs, tpm_policy *pol)
{
    static const CK_MECHANISM_TYPE bank_mech[] = { [0x0004] = CKM_SHA_1, [0x000B] = CKM_SHA256,
                                                   [0x000C] = CKM_SHA384, [0x000D] = CKM_SHA512 };
    uint8_t values[24 * 64];
    size_t len = sizeof values;
    CK_RV rv = tpm_pcr_policy (t, pcrs, pol, values, &len);

    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_TPMTRUST_PCR_MASK, pcrs.mask);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_TPMTRUST_PCR_BANK, bank_mech[pcrs.bank]);
    if (rv == CKR_OK)
        rv = attr_list_set (attrs, CKA_TPMTRUST_PCR_VALUES, values, len);
    if (rv == CKR_OK)
        LOG_INFO ("key bound to %s PCRs 0x%06x", bank_name (pcrs.bank), pcrs.mask);
    return rv;
}

tpm_pcrs
pcr_of_object (const attr_list *attrs)
{
    tpm_pcrs p = { 0, 0 };
    CK_ULONG mask = 0, bank = 0;
    if (attr_list_ulong (attrs, CKA_TPMTRUST_PCR_MASK, &mask) && mask != 0
        && attr_list_ulong (attrs, CKA_TPMTRUST_PCR_BANK, &bank)) {
        p.bank = pcr_bank (bank);
        p.mask = (uint32_t) mask;
    }
    return p;
}

int
pcr_changed (tpm *t, tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len, char *list,
             size_t list_len)
{
    uint8_t now[24 * 64];
    size_t now_len = sizeof now, size = bank_size (pcrs.bank), off = 0, used = 0;
    int changed = 0;

    list[0] = '\0';
    if (size == 0 || tpm_pcr_read (t, pcrs, now, &now_len) != CKR_OK
        || now_len != bound_len)
        return -1;
    for (int i = 0; i < 24; i++) {
        if (!(pcrs.mask & (1u << i)))
            continue;
        if (memcmp (now + off, bound + off, size) != 0) {
            changed++;
            used += (size_t) snprintf (list + used, used < list_len ? list_len - used : 0,
                                       "%s%s:%d", changed > 1 ? ", " : "", bank_name (pcrs.bank),
                                       i);
            if (used >= list_len)
                used = list_len - 1;
        }
        off += size;
    }
    return changed;
}

void
pcr_report (tpm *t, tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len)
{
    char list[256];
    int n = pcr_changed (t, pcrs, bound, bound_len, list, sizeof list);

    if (n > 0)
        LOG_ERROR ("this key is bound to PCR values that no longer hold: %s changed since the "
                   "key was created (the key is kept and works again once they return)",
                   list);
    else
        LOG_ERROR ("this key's PCR policy does not hold (PCRs changed during the operation?)");
}
