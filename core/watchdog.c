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
#include "log.h"
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
    CK_ULONG cls = 0;
    bool sensitive, extractable;
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
    if (cls != CKO_SECRET_KEY || root->tpm_pub.data == NULL || root->wrapped_auth == NULL) {
        LOG_ERROR ("the watchdog root must be a TPM HMAC key");
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
        rv = crypto_unwrap (tok->secret, root->tpm_pub.data, root->tpm_pub.len,
                            root->wrapped_auth, root->wrapped_auth_len, &auth);
    }
    /* Extract in the TPM: only a TPM in the bound state computes it */
    if (rv == CKR_OK)
        rv = tpm_hmac (core_tpm (), &(tpm_key) { &root->tpm_pub, &root->tpm_priv, auth, pcrs },
                       0x000B, ikm, 32 + p->ulBootIdLen, prk, &prk_len);
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
