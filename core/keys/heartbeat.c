/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The per-boot heartbeat key (docs/watchdog.md): HKDF-SHA256 whose salt is the
 * root secret, an HMAC key held by the TPM and bound to PCRs. Extract runs in the
 * TPM (TPM2_HMAC, response-encrypted): PRK = HMAC (root, SHA-256 (PCR values now)
 * || boot id). Expand runs here: key = HMAC (PRK, label || 0x01). If the bound
 * PCRs changed, the TPM refuses the root and no key can be derived.
 */
#include "config.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "watchdog"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define MAX_BOOT_ID 64
#define MAX_LABEL 128
/* heartbeat: sign takes the metadata; verify the message without its MAC */
#define HB_MAX_INPUT (TPMTRUST_HEARTBEAT_HEADER + TPMTRUST_HEARTBEAT_MAX_META)

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
    CK_RV rv = keytype_derived_begin (tmpl, count, "CKM_TPMTRUST_WATCHDOG_DERIVE (one boot's key)",
                                      &a);

    if (rv == CKR_OK && attr_list_ulong (a, CKA_KEY_TYPE, &v) && v != CKK_SHA256_HMAC
        && v != CKK_GENERIC_SECRET)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && attr_list_ulong (a, CKA_VALUE_LEN, &v) && v != 32)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (a != NULL)
        rv = keytype_derived_end (&a, CKK_SHA256_HMAC, rv);
    *out = a;
    return rv;
}

static CK_RV
watchdog_derive_param (const CK_MECHANISM *mech)
{
    const CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS *p;
    return derive_params (mech, &p);
}

/* The per-boot key from root (the base key): derived gets its attributes and sequence start. */
static CK_RV
watchdog_derive (tt_token *tok, const CK_MECHANISM *mech, const tt_object *root,
                 const CK_ATTRIBUTE *tmpl, CK_ULONG count, tt_object *derived)
{
    const CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS *p = mech->pParameter; /* checked */
    const CK_ATTRIBUTE *values;
    uint8_t pcrs_now[24 * 64], ikm[32 + MAX_BOOT_ID], prk[64], info[MAX_LABEL + 1], key[32];
    size_t pcrs_len = sizeof pcrs_now, prk_len = 0;
    secbuf *auth = NULL;
    attr_list *attrs = NULL;
    tpm_pcrs pcrs;
    CK_ULONG cls = 0, nv_index = 0;
    bool sensitive, extractable, nv;
    CK_RV rv;

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
    rv = tpm_pcr_read (tok->tpm, pcrs, pcrs_now, &pcrs_len);
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
        rv = tpm_hmac (tok->tpm, &(tpm_key) { &root->tpm_pub, &root->tpm_priv, auth, pcrs },
                       0x000B, ikm, 32 + p->ulBootIdLen, prk, &prk_len);
    } else if (rv == CKR_OK) {
        secbuf *secret = NULL;
        rv = tpm_nv_read_secret (tok->tpm, (uint32_t) nv_index, pcrs, 32, &secret);
        if (rv == CKR_OK)
            rv = crypto_hmac_sha256 (secret->data, secret->len, ikm, 32 + p->ulBootIdLen, prk);
        prk_len = 32;
        secbuf_free (secret);
    }
    if (rv == CKR_TPMTRUST_PCR_MISMATCH)
        pcr_report (tok->tpm, pcrs, values->pValue, values->ulValueLen);
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
    if (rv == CKR_OK) {
        /* Sequence numbers start at this boot's monotonic clock (in microseconds),
         * so that a later process (or a re-derived key) goes on above any earlier one. */
        struct timespec ts;
        clock_gettime (CLOCK_MONOTONIC, &ts);
        derived->hb_seq = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        derived->attrs = attrs;
        attrs = NULL;
    }
    attr_list_free (attrs);
    secbuf_free (auth);
    crypto_wipe (prk, sizeof prk);
    crypto_wipe (key, sizeof key);
    crypto_wipe (ikm, sizeof ikm);
    return rv;
}

CK_RV
heartbeat_nv_attrs (tt_token *tok, uint32_t index, unsigned long pcr_mask, const char *label,
                    attr_list **out)
{
    attr_list *a = attr_list_new ();
    CK_RV rv = a ? CKR_OK : CKR_HOST_MEMORY;

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
    if (rv != CKR_OK) {
        attr_list_free (a);
        a = NULL;
    }
    *out = a;
    return rv;
}

CK_RV
heartbeat_nv_provision (tt_token *tok, uint32_t index, unsigned long pcr_mask, attr_list *a)
{
    uint8_t values[24 * 64];
    size_t values_len = sizeof values;
    tpm_pcrs pcrs = { 0x000B, (uint32_t) pcr_mask };
    secbuf *secret = secbuf_new (32);
    CK_RV rv = secret ? CKR_OK : CKR_HOST_MEMORY;

    if (rv == CKR_OK)
        rv = tpm_random (tok->tpm, secret->data, secret->len);
    if (rv == CKR_OK)
        rv = tpm_nv_provision (tok->tpm, index, pcrs, secret, values, &values_len);
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
    secbuf_free (secret);
    return rv;
}

static CK_RV
heartbeat_param (sign_op *op, const CK_MECHANISM *mech)
{
    (void) op;
    return mech->ulParameterLen == (mech->pParameter ? sizeof (CK_TPMTRUST_HEARTBEAT_PARAMS) : 0)
               ? CKR_OK
               : CKR_MECHANISM_PARAM_INVALID;
}

/* the per-boot key: a software key whose value the module holds */
static CK_RV
heartbeat_check (const mech_info *m, const tt_object *key, bool verify)
{
    const CK_ATTRIBUTE *v = attr_list_find (key->attrs, CKA_VALUE);
    CK_ULONG cls = 0;

    (void) m;
    (void) verify;
    attr_list_ulong (key->attrs, CKA_CLASS, &cls);
    if (cls != CKO_SECRET_KEY || v == NULL || v->ulValueLen != 32)
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

static CK_RV
heartbeat_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
                bool verify)
{
    const CK_ATTRIBUTE *v = attr_list_find (key->attrs, CKA_VALUE);

    (void) tok;
    (void) verify;
    if (mech->pParameter != NULL)
        memcpy (op->nonce, ((const CK_TPMTRUST_HEARTBEAT_PARAMS *) mech->pParameter)->nonce,
                sizeof op->nonce);
    if ((op->sw_key = secbuf_dup (v->pValue, v->ulValueLen)) == NULL)
        return CKR_HOST_MEMORY;
    return CKR_OK;
}

/* a heartbeat's length grows with the metadata (pending: not yet fed) */
static size_t
heartbeat_out_len (const sign_op *op, size_t pending)
{
    return TPMTRUST_HEARTBEAT_HEADER + op->buf_len + pending + TPMTRUST_HEARTBEAT_MAC;
}

static void
put_le (uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

/* A version-1 heartbeat (docs/watchdog.md) with the metadata fed, and its MAC. */
static CK_RV
heartbeat_sign (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs, CK_BYTE *out,
                CK_ULONG *out_len)
{
    size_t n = TPMTRUST_HEARTBEAT_HEADER + op->buf_len;
    struct timespec ts;
    CK_RV rv;

    (void) tok;
    (void) refs;
    if (op->buf_len > TPMTRUST_HEARTBEAT_MAX_META)
        return CKR_DATA_LEN_RANGE;
    if (key == NULL)
        return CKR_KEY_HANDLE_INVALID;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    memcpy (out, "TTHB", 4);
    put_le (out + 4, 1, 2); /* version */
    put_le (out + 6, 0, 2); /* flags */
    put_le (out + 8, ++key->hb_seq, 8);
    put_le (out + 16, (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec, 8);
    memcpy (out + 24, op->nonce, 16);
    put_le (out + 40, op->buf_len, 2);
    if (op->buf_len)
        memcpy (out + 42, op->buf, op->buf_len);
    rv = crypto_hmac_sha256 (op->sw_key->data, op->sw_key->len, out, n, out + n);
    if (rv == CKR_OK)
        *out_len = n + TPMTRUST_HEARTBEAT_MAC;
    return rv;
}

static CK_RV
heartbeat_verify (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    uint8_t e[32];
    CK_RV rv;

    (void) tok;
    rv = sig_len != TPMTRUST_HEARTBEAT_MAC
             ? CKR_SIGNATURE_LEN_RANGE
             : crypto_hmac_sha256 (op->sw_key->data, op->sw_key->len, op->buf, op->buf_len, e);
    if (rv == CKR_OK && sodium_memcmp (e, sig, TPMTRUST_HEARTBEAT_MAC) != 0)
        rv = CKR_SIGNATURE_INVALID;
    return rv;
}

/* The watchdog's per-boot key (CKM_TPMTRUST_HEARTBEAT) and its derivation from
 * the root (CKM_TPMTRUST_WATCHDOG_DERIVE). Not found by (class, CKK): its
 * objects are made by C_DeriveKey. */
const keytype keytype_heartbeat = {
    .name = "heartbeat",
    .derive_param = watchdog_derive_param,
    .derive = watchdog_derive,
    .param = heartbeat_param,
    .check = heartbeat_check,
    .init = heartbeat_init,
    .max_input = HB_MAX_INPUT,
    .out_len = heartbeat_out_len,
    .sign = heartbeat_sign,
    .verify = heartbeat_verify,
};
