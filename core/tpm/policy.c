/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: PCRs: reading them, PolicyPCR digests and policy sessions for
 * PCR-bound keys, and secrets in NV indices under a PCR policy.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_sys.h>

#define LOG_MODULE "tpm"
#include "base/config-file.h"
#include "crypto/crypto.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "tpm/tpm.h"
#include "tpm/internal.h"

TPML_PCR_SELECTION
tpm_pcr_selection (tpm_pcrs pcrs)
{
    TPML_PCR_SELECTION sel = { .count = 1 };
    sel.pcrSelections[0].hash = pcrs.bank;
    sel.pcrSelections[0].sizeofSelect = 3;
    for (int i = 0; i < 3; i++)
        sel.pcrSelections[0].pcrSelect[i] = (BYTE) (pcrs.mask >> (8 * i));
    return sel;
}

/* The session that authorizes use of key k in the next command: the shared
 * salted HMAC session, or for a PCR-bound key a fresh salted policy session
 * that has met PolicyPCR (the PCRs as they are now) and PolicyAuthValue. */
CK_RV
tpm_key_session_inlock (tpm *t, const tpm_key *k, TPMA_SESSION attrs, ESYS_TR *s)
{
    TPML_PCR_SELECTION sel;
    TPM2B_DIGEST now = { 0 }; /* empty: the TPM takes the current values */
    CK_RV rv;

    if (k->pcrs.mask == 0) {
        rv = tpm_session_inlock (t, attrs);
        *s = t->session;
        return rv;
    }
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK)
        rv = tpm_start_session_inlock (t, TPM2_SE_POLICY, true, s, "starting a policy session");
    if (rv != CKR_OK)
        return rv;
    sel = tpm_pcr_selection (k->pcrs);
    rv = tpm_rv (t, Esys_TRSess_SetAttributes (t->esys, *s, TPMA_SESSION_CONTINUESESSION | attrs,
                                               0xff),
                 "setting session attributes");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicyPCR (t->esys, *s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &now, &sel),
                     "PolicyPCR");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicyAuthValue (t->esys, *s, ESYS_TR_NONE, ESYS_TR_NONE,
                                              ESYS_TR_NONE),
                     "PolicyAuthValue");
    if (rv != CKR_OK)
        tpm_flush_inlock (t, s);
    return rv;
}

/* After the command: a policy session is flushed; the shared one is kept
 * unless the command failed in a way that may have ended it. */
void
tpm_key_session_done (tpm *t, const tpm_key *k, ESYS_TR *s, CK_RV rv)
{
    if (k->pcrs.mask == 0)
        tpm_session_failed (t, rv);
    else
        tpm_flush_inlock (t, s);
    *s = ESYS_TR_NONE;
}

CK_RV
tpm_pcr_read_inlock (tpm *t, tpm_pcrs pcrs, uint8_t *values, size_t *len)
{
    size_t off = 0, max = *len;
    uint32_t left = pcrs.mask;
    CK_RV rv = tpm_connect_inlock (t);

    /* PCR_Read answers at most 8 digests at a time: ask again for the rest. */
    while (rv == CKR_OK && left != 0) {
        TPML_PCR_SELECTION sel = tpm_pcr_selection ((tpm_pcrs) { pcrs.bank, left }), *out_sel = NULL;
        TPML_DIGEST *digests = NULL;
        uint32_t got = 0;
        rv = tpm_rv (t, Esys_PCR_Read (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                                       NULL, &out_sel, &digests),
                     "reading PCRs");
        if (rv == CKR_OK && out_sel->count == 1)
            for (int i = 0; i < 3; i++)
                got |= (uint32_t) out_sel->pcrSelections[0].pcrSelect[i] << (8 * i);
        if (rv == CKR_OK && (got == 0 || (got & ~left) != 0)) {
            LOG_ERROR ("the TPM has no PCR bank 0x%04x with PCRs 0x%06x", pcrs.bank, left);
            rv = CKR_ATTRIBUTE_VALUE_INVALID;
        }
        for (UINT32 i = 0; rv == CKR_OK && i < digests->count; i++) {
            if (off + digests->digests[i].size > max) {
                rv = CKR_BUFFER_TOO_SMALL;
                break;
            }
            memcpy (values + off, digests->digests[i].buffer, digests->digests[i].size);
            off += digests->digests[i].size;
        }
        left &= ~got;
        Esys_Free (out_sel);
        Esys_Free (digests);
    }
    *len = off;
    return rv;
}

CK_RV
tpm_pcr_read (tpm *t, tpm_pcrs pcrs, uint8_t *values, size_t *len)
{
    CK_RV rv;
    pthread_mutex_lock (&t->lock);
    rv = tpm_pcr_read_inlock (t, pcrs, values, len);
    tpm_unlock (t);
    return rv;
}

/* The digest of PolicyPCR (the selected PCRs' current values) [AND
 * PolicyAuthValue], from a trial session. */
static CK_RV
trial_policy_inlock (tpm *t, tpm_pcrs pcrs, bool auth_value, TPM2B_DIGEST *out)
{
    TPML_PCR_SELECTION sel = tpm_pcr_selection (pcrs);
    TPM2B_DIGEST now = { 0 }, *digest = NULL;
    ESYS_TR trial = ESYS_TR_NONE;
    CK_RV rv
        = tpm_start_session_inlock (t, TPM2_SE_TRIAL, false, &trial, "starting a trial session");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicyPCR (t->esys, trial, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &now, &sel),
                     "PolicyPCR (trial)");
    if (rv == CKR_OK && auth_value)
        rv = tpm_rv (t, Esys_PolicyAuthValue (t->esys, trial, ESYS_TR_NONE, ESYS_TR_NONE,
                                              ESYS_TR_NONE),
                     "PolicyAuthValue (trial)");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicyGetDigest (t->esys, trial, ESYS_TR_NONE, ESYS_TR_NONE,
                                              ESYS_TR_NONE, &digest),
                     "PolicyGetDigest");
    if (rv == CKR_OK)
        *out = *digest;
    tpm_flush_inlock (t, &trial);
    Esys_Free (digest);
    return rv;
}

CK_RV
tpm_pcr_policy (tpm *t, tpm_pcrs pcrs, tpm_policy *pol, uint8_t *values, size_t *len)
{
    uint8_t scratch[24 * 64];
    size_t scratch_len = sizeof scratch;
    TPM2B_DIGEST digest = { 0 };
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    /* the values first, so that a caller sees what the policy binds */
    rv = tpm_pcr_read_inlock (t, pcrs, values ? values : scratch, values ? len : &scratch_len);
    if (rv == CKR_OK)
        rv = trial_policy_inlock (t, pcrs, true, &digest);
    if (rv == CKR_OK && digest.size != sizeof pol->digest)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK) {
        pol->pcrs = pcrs;
        memcpy (pol->digest, digest.buffer, sizeof pol->digest);
    }
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_nv_provision (tpm *t, uint32_t index, tpm_pcrs pcrs, const secbuf *secret, uint8_t *values,
                  size_t *values_len)
{
    TPM2B_NV_PUBLIC info = {
        .nvPublic = {
            .nvIndex = index,
            .nameAlg = TPM2_ALG_SHA256,
            .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_POLICYREAD | TPMA_NV_NO_DA,
            .dataSize = (UINT16) secret->len,
        },
    };
    TPM2B_AUTH empty = { 0 };
    TPM2B_MAX_NV_BUFFER data = { .size = (UINT16) secret->len };
    ESYS_TR nv = ESYS_TR_NONE;
    CK_RV rv;

    if (secret->len > sizeof data.buffer)
        return CKR_ARGUMENTS_BAD;
    memcpy (data.buffer, secret->data, secret->len);
    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK && tpm_handle_exists_inlock (t, index)) {
        LOG_ERROR ("NV index 0x%08x is defined already: choose another or undefine it "
                   "('tpm2_nvundefine 0x%08x')",
                   index, index);
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (rv == CKR_OK)
        rv = tpm_pcr_read_inlock (t, pcrs, values, values_len);
    if (rv == CKR_OK)
        rv = trial_policy_inlock (t, pcrs, false, &info.nvPublic.authPolicy);
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_NV_DefineSpace (t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                             ESYS_TR_NONE, ESYS_TR_NONE, &empty, &info, &nv),
                     "defining the NV index");
    if (rv == CKR_OK)
        rv = tpm_session_inlock (t, TPMA_SESSION_DECRYPT); /* the secret travels encrypted */
    if (rv == CKR_OK) {
        rv = tpm_rv (t, Esys_NV_Write (t->esys, ESYS_TR_RH_OWNER, nv, t->session, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &data, 0),
                     "writing the NV index");
        tpm_session_failed (t, rv);
        if (rv != CKR_OK)
            Esys_NV_UndefineSpace (t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
    }
    if (nv != ESYS_TR_NONE && t->esys != NULL && rv == CKR_OK)
        Esys_TR_Close (t->esys, &nv);
    tpm_unlock (t);
    sodium_memzero (&data, sizeof data);
    return rv;
}

CK_RV
tpm_nv_read_secret (tpm *t, uint32_t index, tpm_pcrs pcrs, size_t size, secbuf **out)
{
    TPML_PCR_SELECTION sel = tpm_pcr_selection (pcrs);
    TPM2B_DIGEST now = { 0 };
    TPM2B_MAX_NV_BUFFER *data = NULL;
    ESYS_TR nv = ESYS_TR_NONE, s = ESYS_TR_NONE;
    CK_RV rv;

    *out = NULL;
    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK && !tpm_handle_exists_inlock (t, index)) {
        LOG_ERROR ("NV index 0x%08x does not exist (was the TPM cleared?)", index);
        rv = CKR_KEY_HANDLE_INVALID;
    }
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_TR_FromTPMPublic (t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE,
                                               ESYS_TR_NONE, &nv),
                     "finding the NV index");
    if (rv == CKR_OK)
        rv = tpm_start_session_inlock (t, TPM2_SE_POLICY, true, &s, "starting a policy session");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_TRSess_SetAttributes (t->esys, s,
                                                   TPMA_SESSION_CONTINUESESSION
                                                       | TPMA_SESSION_ENCRYPT,
                                                   0xff),
                     "setting session attributes");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicyPCR (t->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &now, &sel),
                     "PolicyPCR");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_NV_Read (t->esys, nv, nv, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                      (UINT16) size, 0, &data),
                     "reading the NV secret");
    tpm_esys_wipe_response (t);
    tpm_flush_inlock (t, &s);
    if (nv != ESYS_TR_NONE && t->esys != NULL)
        Esys_TR_Close (t->esys, &nv);
    tpm_unlock (t);
    if (rv == CKR_OK && (*out = secbuf_dup (data->buffer, data->size)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (data != NULL) {
        sodium_memzero (data, sizeof *data);
        Esys_Free (data);
    }
    return rv;
}
