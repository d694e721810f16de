/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: what the TPM says of itself: properties, the dictionary-
 * attack lockout, transient slots.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static CK_RV
get_properties_inlock (tpm *t, TPM2_PT first, UINT32 count, TPMS_CAPABILITY_DATA **cap)
{
    TSS2_RC r = Esys_GetCapability (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_TPM_PROPERTIES, first, count, NULL, cap);
    return tpm_rv (t, r, "reading TPM properties");
}

static CK_RV
lockout_inlock (tpm *t, tpm_info *info)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    CK_RV rv = get_properties_inlock (t, TPM2_PT_PERMANENT, 32, &cap);

    for (UINT32 i = 0; rv == CKR_OK && i < cap->data.tpmProperties.count; i++) {
        UINT32 v = cap->data.tpmProperties.tpmProperty[i].value;
        switch (cap->data.tpmProperties.tpmProperty[i].property) {
        case TPM2_PT_PERMANENT:
            info->in_lockout = (v & TPMA_PERMANENT_INLOCKOUT) != 0;
            break;
        case TPM2_PT_LOCKOUT_COUNTER:
            info->lockout_counter = v;
            break;
        case TPM2_PT_MAX_AUTH_FAIL:
            info->max_auth_fail = v;
            break;
        case TPM2_PT_LOCKOUT_INTERVAL:
            info->lockout_interval = v;
            break;
        case TPM2_PT_LOCKOUT_RECOVERY:
            info->lockout_recovery = v;
            break;
        default:
            break;
        }
    }
    Esys_Free (cap);
    return rv;
}

static uint64_t
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

CK_RV
tpm_get_lockout (tpm *t, tpm_info *info)
{
    CK_RV rv;
    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK && t->da_ok && now_ms () - t->da_ms < 1000) {
        /* counters change only with a failed authorization (which clears
         * da_ok) or with time (the recovery interval: minutes at least) */
        info->in_lockout = t->da.in_lockout;
        info->lockout_counter = t->da.lockout_counter;
        info->max_auth_fail = t->da.max_auth_fail;
        info->lockout_interval = t->da.lockout_interval;
        info->lockout_recovery = t->da.lockout_recovery;
    } else if (rv == CKR_OK) {
        rv = lockout_inlock (t, info);
        if (rv == CKR_OK) {
            t->da = *info;
            t->da_ms = now_ms ();
            t->da_ok = true;
        }
    }
    tpm_unlock (t);
    return rv;
}

static void
be32_chars (UINT32 v, char *out)
{
    for (int i = 0; i < 4; i++) {
        char c = (char) (v >> (24 - 8 * i));
        out[i] = (c >= 0x20 && c < 0x7f) ? c : ' ';
    }
}

CK_RV
tpm_get_info (tpm *t, tpm_info *info)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TSS2_RC r;
    CK_RV rv;

    memset (info, 0, sizeof *info);
    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK) {
        snprintf (info->tcti, sizeof info->tcti, "%s", t->tcti_conf);
        info->srk_persistent = t->srk_persistent;
        rv = get_properties_inlock (t, TPM2_PT_FIXED, 32, &cap);
    }
    for (UINT32 i = 0; rv == CKR_OK && i < cap->data.tpmProperties.count; i++) {
        UINT32 v = cap->data.tpmProperties.tpmProperty[i].value;
        TPM2_PT p = cap->data.tpmProperties.tpmProperty[i].property;
        if (p == TPM2_PT_MANUFACTURER)
            be32_chars (v, info->manufacturer);
        else if (p >= TPM2_PT_VENDOR_STRING_1 && p <= TPM2_PT_VENDOR_STRING_4)
            be32_chars (v, info->vendor + 4 * (p - TPM2_PT_VENDOR_STRING_1));
        else if (p == TPM2_PT_FIRMWARE_VERSION_1) {
            info->firmware_major = v >> 16;
            info->firmware_minor = v & 0xffff;
        } else if (p == TPM2_PT_LEVEL)
            info->spec_level = v;
        else if (p == TPM2_PT_REVISION)
            info->spec_revision = v;
    }
    Esys_Free (cap);
    cap = NULL;
    if (rv == CKR_OK) {
        r = Esys_GetCapability (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                TPM2_CAP_ECC_CURVES, 0, 64, NULL, &cap);
        rv = tpm_rv (t, r, "reading curves");
        for (UINT32 i = 0; rv == CKR_OK && i < cap->data.eccCurves.count; i++)
            if (cap->data.eccCurves.eccCurves[i] == TPM2_ECC_NIST_P384)
                info->p384 = true;
        Esys_Free (cap);
    }
    if (rv == CKR_OK)
        rv = lockout_inlock (t, info);
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_transient_count (tpm *t, uint32_t *count)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TSS2_RC r;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK) {
        r = Esys_GetCapability (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                TPM2_CAP_HANDLES, TPM2_TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES,
                                NULL, &cap);
        rv = tpm_rv (t, r, "listing transient handles");
        if (rv == CKR_OK)
            *count = cap->data.handles.count;
        Esys_Free (cap);
    }
    tpm_unlock (t);
    return rv;
}
