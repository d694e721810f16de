/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-boot heartbeat key (docs/watchdog.md): HKDF-SHA256 whose salt is the
 * root secret, an HMAC key held by the TPM and bound to PCRs. Extract runs in the
 * TPM (TPM2_HMAC, response-encrypted): PRK = HMAC (root, SHA-256 (PCR values now)
 * || boot id). Expand runs here: key = HMAC (PRK, label || 0x01). If the bound
 * PCRs changed, the TPM refuses the root and no key can be derived.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#define LOG_MODULE "watchdog"
#include "internal.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

#define MAX_BOOT_ID 64
#define MAX_LABEL 128

static CK_RV
derive_params (const CK_MECHANISM *mech, const CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS **out)
{
    const CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS *p = mech->pParameter;
    if (p == NULL || mech->ulParameterLen != sizeof *p || (p->pBootId == NULL && p->ulBootIdLen)
        || (p->pLabel == NULL && p->ulLabelLen) || p->ulBootIdLen > MAX_BOOT_ID
        || p->ulLabelLen > MAX_LABEL) {
        LOG_ERROR ("CKM_TPMTRUST_WATCHDOG_DERIVE needs a CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS "
                   "(boot id up to %d bytes, label up to %d)",
                   MAX_BOOT_ID, MAX_LABEL);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    *out = p;
    return CKR_OK;
}

/* The new key's attributes: the template, checked, with the defaults. */
static CK_RV
derive_attrs (const CK_ATTRIBUTE *tmpl, CK_ULONG count, attr_list **out)
{
    attr_list *a = NULL;
    CK_ULONG v;
    bool b;
    CK_RV rv = attr_list_from_template (tmpl, count, &a);

    if (rv == CKR_OK)
        rv = template_check (CKO_SECRET_KEY, a, A_CREATE, A_NOGEN);
    if (rv == CKR_OK && attr_list_ulong (a, CKA_CLASS, &v) && v != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && attr_list_ulong (a, CKA_KEY_TYPE, &v) && v != CKK_SHA256_HMAC
        && v != CKK_GENERIC_SECRET)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && attr_list_ulong (a, CKA_VALUE_LEN, &v) && v != 32)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && attr_list_bool (a, CKA_TOKEN, &b) && b) {
        LOG_ERROR ("the per-boot heartbeat key lives for one boot: it is a session object "
                   "(CKA_TOKEN FALSE)");
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK && attr_list_find (a, CKA_KEY_TYPE) == NULL)
        rv = attr_list_set_ulong (a, CKA_KEY_TYPE, CKK_SHA256_HMAC);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = template_defaults (CKO_SECRET_KEY, a);
    if (rv != CKR_OK) {
        attr_list_free (a);
        a = NULL;
    }
    *out = a;
    return rv;
}

CK_RV
watchdog_derive_inlock (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        CK_OBJECT_HANDLE *out)
{
    const CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS *p = NULL;
    const mech_info *m = mech_lookup (mech->mechanism);
    const CK_ATTRIBUTE *values;
    uint8_t pcrs_now[24 * 64], ikm[32 + MAX_BOOT_ID], prk[64], info[MAX_LABEL + 1], key[32];
    size_t pcrs_len = sizeof pcrs_now, prk_len = 0;
    secbuf *auth = NULL;
    attr_list *attrs = NULL;
    tt_object *root, *obj = NULL;
    tpm_pcrs pcrs;
    CK_ULONG cls = 0, nv_index = 0;
    bool sensitive, extractable, nv;
    CK_RV rv;

    if (m == NULL || m->kind != MECH_WD_DERIVE)
        return CKR_MECHANISM_INVALID;
    rv = derive_params (mech, &p);
    if (rv == CKR_OK)
        rv = object_lookup (tok, sess, base, CKR_KEY_HANDLE_INVALID, &root);
    if (rv != CKR_OK)
        return rv;
    attr_list_ulong (root->attrs, CKA_CLASS, &cls);
    pcrs = pcr_of_object (root->attrs);
    values = attr_list_find (root->attrs, CKA_TPMTRUST_PCR_VALUES);
    nv = attr_list_ulong (root->attrs, CKA_TPMTRUST_NV_INDEX, &nv_index);
    if (cls != CKO_SECRET_KEY || (!nv && !object_tpm_key (root))) {
        LOG_ERROR ("the watchdog root must be a TPM HMAC key or an NV-index root");
        return CKR_KEY_TYPE_INCONSISTENT;
    }
    if (pcrs.mask == 0 || values == NULL) {
        LOG_ERROR ("the watchdog root must be bound to PCRs (a key from PCR values and a "
                   "constant alone would be public knowledge)");
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    if (!attr_list_bool_or (root->attrs, CKA_DERIVE, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    rv = derive_attrs (tmpl, count, &attrs);
    if (rv != CKR_OK)
        return rv;

    /* IKM = SHA-256 (the bound PCRs as they are now) || boot id */
    rv = tpm_pcr_read (core_tpm (), pcrs, pcrs_now, &pcrs_len);
    if (rv == CKR_OK) {
        crypto_sha256 (pcrs_now, pcrs_len, ikm);
        if (p->ulBootIdLen)
            memcpy (ikm + 32, p->pBootId, p->ulBootIdLen);
        if (!nv)
            rv = crypto_unwrap (tok->secret, root->tpm_pub.data, root->tpm_pub.len,
                                root->wrapped_auth, root->wrapped_auth_len, &auth);
    }
    /* Extract: in the TPM with a key root; with an NV root the TPM gives out the
     * secret (encrypted) only while the PCRs hold. Either way, only a TPM in the
     * bound state gets here. */
    if (rv == CKR_OK && !nv) {
        rv = tpm_hmac (core_tpm (), &(tpm_key) { &root->tpm_pub, &root->tpm_priv, auth, pcrs },
                       0x000B, ikm, 32 + p->ulBootIdLen, prk, &prk_len);
    } else if (rv == CKR_OK) {
        secbuf *secret = NULL;
        rv = tpm_nv_read_secret (core_tpm (), (uint32_t) nv_index, pcrs, 32, &secret);
        if (rv == CKR_OK)
            rv = crypto_hmac_sha256 (secret->data, secret->len, ikm, 32 + p->ulBootIdLen, prk);
        prk_len = 32;
        secbuf_free (secret);
    }
    if (rv == CKR_TPMTRUST_PCR_MISMATCH)
        pcr_report (pcrs, values->pValue, values->ulValueLen);
    /* Expand: T(1) = HMAC (PRK, info || 0x01) */
    if (rv == CKR_OK) {
        if (p->ulLabelLen)
            memcpy (info, p->pLabel, p->ulLabelLen);
        info[p->ulLabelLen] = 0x01;
        rv = crypto_hmac_sha256 (prk, prk_len, info, p->ulLabelLen + 1, key);
    }
    sensitive = attr_list_bool_or (attrs, CKA_SENSITIVE, true);
    extractable = attr_list_bool_or (attrs, CKA_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set (attrs, CKA_VALUE, key, sizeof key);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_VALUE_LEN, sizeof key);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_ALWAYS_SENSITIVE, sensitive);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_NEVER_EXTRACTABLE, !extractable);
    if (rv == CKR_OK && (obj = object_new (attrs)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        attrs = NULL;
        rv = object_add_inlock (tok, sess, &obj, 1);
    }
    if (rv == CKR_OK) {
        /* Sequence numbers start at this boot's monotonic clock (in microseconds),
         * so that a later process (or a re-derived key) goes on above any earlier one. */
        struct timespec ts;
        clock_gettime (CLOCK_MONOTONIC, &ts);
        obj->hb_seq = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        *out = obj->handle;
        obj = NULL;
    }
    object_free (obj);
    attr_list_free (attrs);
    secbuf_free (auth);
    crypto_wipe (prk, sizeof prk);
    crypto_wipe (key, sizeof key);
    crypto_wipe (ikm, sizeof ikm);
    return rv;
}

CK_RV
watchdog_provision_nv_inlock (tt_token *tok, tt_session *sess, uint32_t index,
                              unsigned long pcr_mask, const char *label, CK_OBJECT_HANDLE *out)
{
    uint8_t values[24 * 64];
    size_t values_len = sizeof values;
    tpm_pcrs pcrs = { 0x000B, (uint32_t) pcr_mask };
    secbuf *secret = secbuf_new (32);
    attr_list *a = attr_list_new ();
    tt_object *obj = NULL;
    CK_RV rv = secret && a ? CKR_OK : CKR_HOST_MEMORY;

    if (rv == CKR_OK && (pcr_mask == 0 || pcr_mask > 0xffffff))
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    if (rv == CKR_OK && (index < 0x01000000 || index > 0x01ffffff)) {
        LOG_ERROR ("0x%08x is not an NV index (0x01000000 to 0x01ffffff)", index);
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (rv == CKR_OK && !token_user_logged_in (tok))
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_CLASS, CKO_SECRET_KEY);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (a, CKA_TOKEN, true);
    if (rv == CKR_OK)
        rv = attr_list_set (a, CKA_LABEL, label, strlen (label));
    if (rv == CKR_OK)
        rv = template_defaults (CKO_SECRET_KEY, a);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (a, CKA_DERIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (a, CKA_SIGN, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (a, CKA_VERIFY, false);
    if (rv == CKR_OK)
        rv = object_access (tok, sess, a, true);
    if (rv == CKR_OK)
        rv = tpm_random (core_tpm (), secret->data, secret->len);
    if (rv == CKR_OK)
        rv = tpm_nv_provision (core_tpm (), index, pcrs, secret, values, &values_len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_TPMTRUST_NV_INDEX, index);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_TPMTRUST_PCR_MASK, pcr_mask);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (a, CKA_TPMTRUST_PCR_BANK, CKM_SHA256);
    if (rv == CKR_OK)
        rv = attr_list_set (a, CKA_TPMTRUST_PCR_VALUES, values, values_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (a, CKA_TPMTRUST_TPM_KEY, true);
    if (rv == CKR_OK && (obj = object_new (a)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        a = NULL;
        rv = object_add_inlock (tok, sess, &obj, 1);
    }
    if (rv == CKR_OK) {
        *out = obj->handle;
        obj = NULL;
    }
    object_free (obj);
    attr_list_free (a);
    secbuf_free (secret);
    return rv;
}
