/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: monotonic NV counters, the anchors of token generations
 * (issue 15 item 3; core/anchor.c, docs/ARCHITECTURE.md "No rollback").
 *
 * A token's counter lives at an owner-hierarchy index derived from its serial
 * (tpm_counter_index: 0x012xxxxx), or the next free one after it for a new
 * token, so that a token row that lost its anchor is still recognised.
 * Attributes: a counter (TPM_NT_COUNTER: it only goes up, and a new counter
 * starts at the highest value any counter of this TPM ever had),
 * read and incremented with its own empty auth, no DA. Anyone who can use the
 * TPM can increment it (that makes a store look older: refused, a denial of
 * service, never a rollback accepted); nobody can lower it.
 *
 * Every read and increment runs in the signing session (core/tpm/fast.c: one
 * TPM command each, no NV_ReadPublic), whose HMACs cover the index's Name: an
 * index replaced by one of other attributes fails the command, and the value
 * read cannot be forged on the bus. The Name expected is computed here from
 * the attributes, never taken from the TPM.
 */
#include "config.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#define LOG_MODULE "tpm"
#include "base/log.h"
#include "crypto/crypto.h"
#include "pkcs11-tpmtrust.h"
#include "tpm/internal.h"
#include "tpm/tpm.h"

#define COUNTER_BASE 0x01200000u /* in the owner range (0x01000000-0x013fffff) */
#define COUNTER_MASK 0x000fffffu
#define COUNTER_ATTRS                                                                              \
    (TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA                                          \
     | ((TPMA_NV) TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT))
#define NV_RATE_TRIES 50

uint32_t
tpm_counter_index (const char *serial)
{
    uint8_t h[32];
    crypto_sha256 ((const uint8_t *) serial, strlen (serial), h);
    return COUNTER_BASE | (((uint32_t) h[0] << 16 | (uint32_t) h[1] << 8 | h[2]) & COUNTER_MASK);
}

uint32_t
tpm_counter_next (uint32_t index)
{
    return COUNTER_BASE | ((index + 1) & COUNTER_MASK);
}

static TPM2B_NV_PUBLIC
counter_public (uint32_t index, bool written)
{
    TPM2B_NV_PUBLIC p = {
        .nvPublic = {
            .nvIndex = index,
            .nameAlg = TPM2_ALG_SHA256,
            .attributes = COUNTER_ATTRS | (written ? TPMA_NV_WRITTEN : 0),
            .dataSize = 8,
        },
    };
    return p;
}

static TPM2B_NAME
counter_name (uint32_t index, bool written)
{
    TPM2B_NV_PUBLIC pub = counter_public (index, written);
    uint8_t buf[sizeof (TPMS_NV_PUBLIC)];
    size_t off = 0;
    TPM2B_NAME name = { .size = 34, .name = { 0x00, 0x0b } }; /* SHA-256 */

    if (Tss2_MU_TPMS_NV_PUBLIC_Marshal (&pub.nvPublic, buf, sizeof buf, &off) == TSS2_RC_SUCCESS)
        crypto_sha256 (buf, off, name.name + 2);
    else
        name.size = 0; /* no command will match it */
    return name;
}

/* A counter command in the signing session (tpm_fast_nv_inlock: one TPM
 * command), its failures told apart: CKR_KEY_HANDLE_INVALID, no such index;
 * CKR_TPMTRUST_STORE_ROLLED_BACK, an index whose Name is not a token
 * counter's (the session HMAC fails: replaced, or another program's). */
static CK_RV
counter_cmd_inlock (tpm *t, uint32_t index, bool written, bool increment, uint64_t *value)
{
    TPM2B_NAME name = counter_name (index, written);
    uint8_t buf[8];
    CK_RV rv = CKR_OK;

    for (int i = 0; i < (increment ? NV_RATE_TRIES : 1); i++) {
        rv = tpm_fast_nv_inlock (t, index, &name, increment, buf, sizeof buf);
        if (rv != CKR_FUNCTION_REJECTED)
            break;
        usleep (100000); /* NV_RATE: the TPM limits NV writes */
    }
    if (rv == CKR_OK && value != NULL) {
        *value = 0;
        for (int i = 0; i < 8; i++)
            *value = *value << 8 | buf[i];
    }
    if (rv != CKR_OK && t->esys != NULL && !tpm_handle_exists_inlock (t, index))
        return CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_PIN_INCORRECT) {
        LOG_ERROR ("NV index 0x%08x is not a tpmtrust token counter (another Name): it was "
                   "replaced, or another program uses that index",
                   index);
        rv = CKR_TPMTRUST_STORE_ROLLED_BACK;
    }
    return rv;
}

CK_RV
tpm_counter_define (tpm *t, uint32_t index, uint64_t *value)
{
    TPM2B_NV_PUBLIC pub = counter_public (index, false);
    TPM2B_AUTH empty = { 0 };
    ESYS_TR nv = ESYS_TR_NONE;
    TSS2_RC r;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK && tpm_handle_exists_inlock (t, index)) {
        LOG_ERROR ("NV index 0x%08x (this token's counter) is in use already", index);
        rv = CKR_FUNCTION_REJECTED;
    }
    if (rv == CKR_OK) {
        TSS2_RC base, fmt1;
        r = Esys_NV_DefineSpace (t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &empty, &pub, &nv);
        base = r & ~TSS2_RC_LAYER_MASK;
        fmt1 = (base & TPM2_RC_FMT1) ? (base & (TPM2_RC_FMT1 | 0x3f)) : base;
        if (r != TSS2_RC_SUCCESS && (fmt1 == TPM2_RC_AUTH_FAIL || fmt1 == TPM2_RC_BAD_AUTH)) {
            LOG_WARN ("cannot define the token's NV counter: the TPM's owner hierarchy has an "
                      "authorization value: without it this token has no rollback protection "
                      "(see docs/ARCHITECTURE.md, 'No rollback')");
            rv = CKR_FUNCTION_REJECTED;
        } else {
            rv = tpm_rv (t, r, "defining the token's NV counter");
        }
    }
    if (nv != ESYS_TR_NONE && t->esys != NULL)
        Esys_TR_Close (t->esys, &nv);
    if (rv == CKR_OK) /* a counter is read once written */
        rv = counter_cmd_inlock (t, index, false, true, NULL);
    if (rv == CKR_OK)
        rv = counter_cmd_inlock (t, index, true, false, value);
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_counter_exists (tpm *t, uint32_t index, bool *exists)
{
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    *exists = rv == CKR_OK && tpm_handle_exists_inlock (t, index);
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_counter_read (tpm *t, uint32_t index, uint64_t *value)
{
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK)
        rv = counter_cmd_inlock (t, index, true, false, value);
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_counter_increment (tpm *t, uint32_t index)
{
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t);
    if (rv == CKR_OK)
        rv = counter_cmd_inlock (t, index, true, true, NULL);
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_counter_undefine (tpm *t, uint32_t index)
{
    ESYS_TR nv = ESYS_TR_NONE;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_TR_FromTPMPublic (t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE,
                                               ESYS_TR_NONE, &nv),
                     "finding the token's counter");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_NV_UndefineSpace (t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD,
                                               ESYS_TR_NONE, ESYS_TR_NONE),
                     "removing the token's NV counter");
    else if (nv != ESYS_TR_NONE && t->esys != NULL)
        Esys_TR_Close (t->esys, &nv);
    tpm_unlock (t);
    return rv;
}
