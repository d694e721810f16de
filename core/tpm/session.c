/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: the storage root key (persistent at 0x81000001, else created
 * once per connection) and the ESAPI sessions salted to it.
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

/* The TCG storage root key template (ECC P-256, AES-128-CFB), as used by
 * tpm2-openssl and TSS2 key files for parent 0x40000001. */
static const TPM2B_PUBLIC srk_template = {
    .publicArea = {
        .type = TPM2_ALG_ECC,
        .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED
                            | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA | TPMA_OBJECT_FIXEDTPM
                            | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN,
        .parameters.eccDetail = {
            .symmetric = { .algorithm = TPM2_ALG_AES,
                           .keyBits.aes = 128,
                           .mode.aes = TPM2_ALG_CFB },
            .scheme = { .scheme = TPM2_ALG_NULL },
            .curveID = TPM2_ECC_NIST_P256,
            .kdf = { .scheme = TPM2_ALG_NULL },
        },
    },
};

static const TPMT_SYM_DEF session_sym = {
    .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
};

static bool
srk_matches (const TPM2B_PUBLIC *pub)
{
    const TPMT_PUBLIC *a = &pub->publicArea, *b = &srk_template.publicArea;
    return a->type == b->type && a->nameAlg == b->nameAlg
           && a->objectAttributes == b->objectAttributes
           && a->parameters.eccDetail.curveID == b->parameters.eccDetail.curveID
           && a->parameters.eccDetail.symmetric.algorithm == TPM2_ALG_AES
           && a->parameters.eccDetail.symmetric.keyBits.aes == 128
           && a->parameters.eccDetail.symmetric.mode.aes == TPM2_ALG_CFB
           && a->authPolicy.size == 0;
}

static void
keep_srk_point (tpm *t, const TPM2B_PUBLIC *pub)
{
    const TPMS_ECC_POINT *q = &pub->publicArea.unique.ecc;

    t->srk_point_ok = q->x.size == 32 && q->y.size == 32;
    if (t->srk_point_ok) {
        t->srk_point[0] = 0x04;
        memcpy (t->srk_point + 1, q->x.buffer, 32);
        memcpy (t->srk_point + 33, q->y.buffer, 32);
        /* the SRK comes from the storage seed: another SRK than before
         * (after a reconnect) means the TPM was cleared */
        if (t->srk_seen_ok && memcmp (t->srk_seen, t->srk_point, sizeof t->srk_seen) != 0) {
            LOG_ERROR ("the TPM (%s) has another storage root key than when this process "
                       "started: it was cleared (new storage seed), and every key made before "
                       "is gone: initialize the tokens again (C_InitToken, or 'tpmtrust-tool "
                       "token delete' and 'token init')",
                       t->tcti_conf);
            t->cleared = true;
        }
        memcpy (t->srk_seen, t->srk_point, sizeof t->srk_seen);
        t->srk_seen_ok = true;
    }
}

bool
tpm_handle_exists_inlock (tpm *t, TPM2_HANDLE handle)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    bool found = false;
    TSS2_RC r = Esys_GetCapability (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_HANDLES, handle, 1, NULL, &cap);
    if (r == TSS2_RC_SUCCESS && cap->data.handles.count > 0)
        found = cap->data.handles.handle[0] == handle;
    Esys_Free (cap);
    return found;
}

/* The public area ESYS holds for h (from Esys_TR_Serialize: the IESYS_RESOURCE
 * of a key is its handle, Name, resource type, then its TPM2B_PUBLIC), without
 * a TPM command; TPM2_ReadPublic when that layout is not what we expect. */
static TSS2_RC
esys_tr_public (tpm *t, ESYS_TR h, TPM2B_PUBLIC **out)
{
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    TPM2_HANDLE handle;
    TPM2B_NAME name;
    UINT32 type;
    TPM2B_PUBLIC *pub = calloc (1, sizeof *pub);
    bool ok = pub != NULL && Esys_TR_Serialize (t->esys, h, &buf, &len) == TSS2_RC_SUCCESS
              && Tss2_MU_TPM2_HANDLE_Unmarshal (buf, len, &off, &handle) == TSS2_RC_SUCCESS
              && handle == SRK_PERSISTENT_HANDLE
              && Tss2_MU_TPM2B_NAME_Unmarshal (buf, len, &off, &name) == TSS2_RC_SUCCESS
              && Tss2_MU_UINT32_Unmarshal (buf, len, &off, &type) == TSS2_RC_SUCCESS
              && type == 1 /* IESYSC_KEY_RSRC */
              && Tss2_MU_TPM2B_PUBLIC_Unmarshal (buf, len, &off, pub) == TSS2_RC_SUCCESS
              && off == len && pub->publicArea.type == TPM2_ALG_ECC;

    Esys_Free (buf);
    if (ok) {
        *out = pub;
        return TSS2_RC_SUCCESS;
    }
    free (pub);
    return Esys_ReadPublic (t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out, NULL, NULL);
}

/* Connects and makes sure the SRK is usable. */
CK_RV
tpm_srk_inlock (tpm *t)
{
    TPM2B_SENSITIVE_CREATE in_sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    TSS2_RC r;
    CK_RV rv = tpm_connect_inlock (t);

    if (rv != CKR_OK || t->srk != ESYS_TR_NONE)
        return rv;
    /* Probe once per connection (a command saved per call on a raw TCTI):
     * TR_FromTPMPublic is one TPM2_ReadPublic, which fails when nothing is
     * there, and gives ESYS the public area we then read back without a
     * second command. */
    if (!t->no_persistent_srk
        && Esys_TR_FromTPMPublic (t->esys, SRK_PERSISTENT_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &h)
               == TSS2_RC_SUCCESS) {
        r = esys_tr_public (t, h, &pub);
        if (r == TSS2_RC_SUCCESS && srk_matches (pub)) {
            keep_srk_point (t, pub);
            Esys_Free (pub);
            t->srk = h;
            t->srk_persistent = true;
            return CKR_OK;
        }
        Esys_Free (pub);
        pub = NULL;
        if (h != ESYS_TR_NONE)
            Esys_TR_Close (t->esys, &h);
        LOG_INFO ("the key at 0x%x is not the standard ECC SRK: creating the SRK instead",
                  SRK_PERSISTENT_HANDLE);
    }
    t->no_persistent_srk = true;
    tpm_track_begin (t);
    r = Esys_CreatePrimary (t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, &in_sensitive, &srk_template, &outside, &pcrs, &h, &pub,
                            NULL, NULL, NULL);
    tpm_track_end (t, r == TSS2_RC_SUCCESS ? h : ESYS_TR_NONE);
    if (r == TSS2_RC_SUCCESS)
        keep_srk_point (t, pub);
    Esys_Free (pub);
    if ((r & ~TSS2_RC_LAYER_MASK & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_BAD_AUTH
        || (r & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_AUTH_FAIL) {
        LOG_ERROR ("creating the SRK failed: the owner hierarchy has an auth value. Make the "
                   "SRK persistent at 0x%x with it once: TPMTRUST_OWNER_AUTH=... tpmtrust-tool "
                   "srk persist (or tpm2_createprimary -C o -P <owner auth> -g sha256 -G "
                   "ecc256:aes128cfb -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|"
                   "noda|restricted|decrypt' -c srk.ctx && tpm2_evictcontrol -P <owner auth> -c "
                   "srk.ctx 0x%x)",
                   SRK_PERSISTENT_HANDLE, SRK_PERSISTENT_HANDLE);
        return CKR_DEVICE_ERROR;
    }
    rv = tpm_rv (t, r, "creating the SRK");
    if (rv == CKR_OK)
        t->srk = h;
    return rv;
}

/* Starts a session, salted with the SRK (and AES-128-CFB capable) or plain
 * (a trial session), recorded in the lease. */
CK_RV
tpm_start_session_inlock (tpm *t, TPM2_SE type, bool salted, ESYS_TR *s, const char *what)
{
    static const TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
    void *paused = salted ? crypto_engine_pause () : NULL; /* tpm2-tss makes an EC key */
    TSS2_RC r;

    tpm_track_begin (t);
    r = Esys_StartAuthSession (t->esys, salted ? t->srk : ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, type,
                               salted ? &session_sym : &none, TPM2_ALG_SHA256, s);
    tpm_track_end (t, r == TSS2_RC_SUCCESS ? *s : ESYS_TR_NONE);
    crypto_engine_resume (paused);
    if (r != TSS2_RC_SUCCESS)
        *s = ESYS_TR_NONE;
    return tpm_rv (t, r, what);
}

/* The salted session with the given extra attributes (decrypt/encrypt) for the next command. */
CK_RV
tpm_session_inlock (tpm *t, TPMA_SESSION attrs)
{
    TSS2_RC r;
    CK_RV rv = tpm_srk_inlock (t);

    if (rv != CKR_OK)
        return rv;
    if (t->session == ESYS_TR_NONE) {
        rv = tpm_start_session_inlock (t, TPM2_SE_HMAC, true, &t->session,
                                   "starting a salted session");
        if (rv != CKR_OK)
            return rv;
    }
    r = Esys_TRSess_SetAttributes (t->esys, t->session, TPMA_SESSION_CONTINUESESSION | attrs,
                                   0xff);
    return tpm_rv (t, r, "setting session attributes");
}

/* A failed command with a continueSession session may leave it flushed: forget it. */
void
tpm_session_failed (tpm *t, CK_RV rv)
{
    if (rv != CKR_OK && rv != CKR_PIN_INCORRECT)
        tpm_flush_inlock (t, &t->session);
}

CK_RV
tpm_srk_persist (tpm *t, const char *owner_auth, bool *existed)
{
    TPM2B_SENSITIVE_CREATE in_sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    TPM2B_AUTH auth = { 0 };
    ESYS_TR h = ESYS_TR_NONE, persisted = ESYS_TR_NONE;
    TSS2_RC r;
    CK_RV rv;

    *existed = false;
    if (owner_auth != NULL && strlen (owner_auth) > sizeof auth.buffer) {
        LOG_ERROR ("the owner authorization is longer than %zu bytes", sizeof auth.buffer);
        return CKR_ARGUMENTS_BAD;
    }
    if (owner_auth != NULL) {
        auth.size = (UINT16) strlen (owner_auth);
        memcpy (auth.buffer, owner_auth, auth.size);
    }
    pthread_mutex_lock (&t->lock);
    rv = tpm_srk_inlock (t); /* uses a matching persistent SRK if there is one */
    if (rv == CKR_OK && t->srk_persistent) {
        *existed = true;
    } else if (rv == CKR_OK) {
        r = Esys_TR_FromTPMPublic (t->esys, SRK_PERSISTENT_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &persisted);
        if (r == TSS2_RC_SUCCESS) {
            Esys_TR_Close (t->esys, &persisted);
            LOG_ERROR ("0x%x holds another key than the standard ECC SRK: remove it first "
                       "('tpm2_evictcontrol -c 0x%x') if nothing else uses it",
                       SRK_PERSISTENT_HANDLE, SRK_PERSISTENT_HANDLE);
            rv = CKR_FUNCTION_FAILED;
        }
    }
    if (rv == CKR_OK && !*existed) {
        r = Esys_TR_SetAuth (t->esys, ESYS_TR_RH_OWNER, &auth);
        tpm_track_begin (t);
        if (r == TSS2_RC_SUCCESS)
            r = Esys_CreatePrimary (t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, &in_sensitive, &srk_template, &outside, &pcrs,
                                    &h, NULL, NULL, NULL, NULL);
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? h : ESYS_TR_NONE);
        rv = tpm_rv (t, r, "creating the SRK with the owner authorization");
        if (rv == CKR_OK) {
            r = Esys_EvictControl (t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE, SRK_PERSISTENT_HANDLE, &persisted);
            rv = tpm_rv (t, r, "making the SRK persistent at 0x81000001");
            if (persisted != ESYS_TR_NONE)
                Esys_TR_Close (t->esys, &persisted);
        }
        tpm_flush_inlock (t, &h);
        if (rv == CKR_OK) {
            /* from now on the persistent one (the same key: same template and seed) */
            tpm_flush_inlock (t, &t->srk);
            t->no_persistent_srk = false;
            rv = tpm_srk_inlock (t);
        }
    }
    sodium_memzero (&auth, sizeof auth);
    if (t->esys != NULL)
        Esys_TR_SetAuth (t->esys, ESYS_TR_RH_OWNER, &(TPM2B_AUTH) { 0 });
    tpm_unlock (t);
    return rv;
}
