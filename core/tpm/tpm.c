/* SPDX-License-Identifier: BSD-2-Clause */
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

tpm *
tpm_new (void)
{
    tpm *t = calloc (1, sizeof *t);
    if (t == NULL)
        return NULL;
    pthread_mutex_init (&t->lock, NULL);
    t->srk = ESYS_TR_NONE;
    t->session = ESYS_TR_NONE;
    t->in_use = ESYS_TR_NONE;
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        t->cache[i].h = ESYS_TR_NONE;
    return t;
}

void
tpm_blob_clear (tpm_blob *b)
{
    free (b->data);
    b->data = NULL;
    b->len = 0;
}

void
tpm_track_begin (tpm *t)
{
    lease_pending (t->lease, true);
}

void
tpm_track_end (tpm *t, ESYS_TR h)
{
    TPM2_HANDLE handle = 0;
    TPM2B_NAME *name = NULL;

    if (t->lease == NULL)
        return;
    if (h == ESYS_TR_NONE || t->esys == NULL
        || Esys_TR_GetTpmHandle (t->esys, h, &handle) != TSS2_RC_SUCCESS) {
        lease_pending (t->lease, false);
        return;
    }
    if ((handle >> TPM2_HR_SHIFT) == TPM2_HT_TRANSIENT
        && Esys_TR_GetName (t->esys, h, &name) == TSS2_RC_SUCCESS) {
        lease_add (t->lease, handle, name->name, name->size);
    } else {
        lease_add (t->lease, handle, NULL, 0);
    }
    Esys_Free (name);
}

/* Flushes h, then forgets it in the lease: in this order, a process killed
 * in between leaves a stale entry (an object's Name no longer matches; a
 * session handle no live process claims), never an unrecorded handle. */
void
tpm_flush_inlock (tpm *t, ESYS_TR *h)
{
    TPM2_HANDLE handle = 0;

    if (*h != ESYS_TR_NONE && t->esys != NULL) {
        bool known = Esys_TR_GetTpmHandle (t->esys, *h, &handle) == TSS2_RC_SUCCESS;
        TSS2_RC r = Esys_FlushContext (t->esys, *h);
        if ((r & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
            tpm_rv (t, r, "flushing a TPM handle"); /* lost: closes the connection */
        else if (r != TSS2_RC_SUCCESS)
            LOG_DEBUG ("could not flush a TPM handle");
        if (known)
            lease_del (t->lease, handle);
    }
    *h = ESYS_TR_NONE;
}

/* Flushes the least recently used cached key; false when none is cached. */
static bool
cache_evict_inlock (tpm *t)
{
    struct tpm_cached *lru = NULL;

    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        if (t->cache[i].h != ESYS_TR_NONE && t->cache[i].h != t->in_use
            && (lru == NULL || t->cache[i].stamp < lru->stamp))
            lru = &t->cache[i];
    if (lru == NULL)
        return false;
    tpm_flush_inlock (t, &lru->h);
    return true;
}

/* After an ESAPI command with a response-encrypted secret: ESAPI decrypted
 * it in place in the SAPI context's buffer, which it frees unwiped later. */
static void
esys_wipe_response (tpm *t)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    if (t->esys != NULL && Esys_GetSysContext (t->esys, &sys) == TSS2_RC_SUCCESS)
        tpm_fast_wipe_response (sys);
}

/* After a command: true when it failed for want of an object slot and a
 * cached key was flushed to make room (the caller retries). */
static bool
evicted_for (tpm *t, TSS2_RC r)
{
    return (r & ~TSS2_RC_LAYER_MASK) == TPM2_RC_OBJECT_MEMORY && cache_evict_inlock (t);
}

void
tpm_cache_flush_inlock (tpm *t)
{
    while (cache_evict_inlock (t))
        ;
}

/* Drops what we hold between calls: cached keys, the session, a created SRK. */
static void
release_inlock (tpm *t)
{
    tpm_cache_flush_inlock (t);
    tpm_fast_release_inlock (t, true);
    tpm_flush_inlock (t, &t->session);
    if (t->srk != ESYS_TR_NONE && !t->srk_persistent)
        tpm_flush_inlock (t, &t->srk);
    else if (t->srk != ESYS_TR_NONE && t->esys != NULL)
        Esys_TR_Close (t->esys, &t->srk);
    t->srk = ESYS_TR_NONE;
}

/* Closes the connection; flushes what we loaded when flush is true (else the
 * TPM is gone, and what we had loaded with it). */
static void
tpm_disconnect_inlock (tpm *t, bool flush)
{
    if (flush)
        release_inlock (t);
    tpm_fast_release_inlock (t, false);
    t->srk_point_ok = false;
    if (t->esys != NULL)
        Esys_Finalize (&t->esys);
    if (t->tcti != NULL)
        Tss2_TctiLdr_Finalize (&t->tcti);
    t->esys = NULL;
    t->tcti = NULL;
    t->srk = ESYS_TR_NONE;
    t->srk_persistent = false;
    t->no_persistent_srk = false;
    t->session = ESYS_TR_NONE;
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        t->cache[i].h = ESYS_TR_NONE;
    lease_clear (t->lease);
}

void
tpm_unlock (tpm *t)
{
    if (!t->keep)
        release_inlock (t);
    t->restarted = t->retried = false;
    pthread_mutex_unlock (&t->lock);
}

bool
tpm_retry_inlock (tpm *t, CK_RV rv)
{
    if (rv == CKR_OK || !t->restarted || t->retried)
        return false;
    t->restarted = false;
    t->retried = true;
    return true;
}

void
tpm_free (tpm *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock (&t->lock);
    tpm_disconnect_inlock (t, true);
    lease_free (t->lease);
    t->lease = NULL;
    pthread_mutex_unlock (&t->lock);
    pthread_mutex_destroy (&t->lock);
    free (t);
}

void
tpm_disconnect (tpm *t)
{
    pthread_mutex_lock (&t->lock);
    tpm_disconnect_inlock (t, true);
    pthread_mutex_unlock (&t->lock);
}

void
tpm_forget (tpm *t)
{
    if (t == NULL)
        return;
    /* The parent owns the socket, the TPM handles and its lease file: leak
     * them here, say nothing. */
    t->esys = NULL;
    t->tcti = NULL;
    t->srk = ESYS_TR_NONE;
    t->session = ESYS_TR_NONE;
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        t->cache[i].h = ESYS_TR_NONE;
    t->fast.handle = 0; /* the parent's */
    secbuf_free (t->fast.key);
    t->fast.key = NULL;
    lease_forget (t->lease);
    t->lease = NULL;
    pthread_mutex_init (&t->lock, NULL);
}

bool
tpm_connected (tpm *t)
{
    bool c;
    pthread_mutex_lock (&t->lock);
    c = t->esys != NULL;
    pthread_mutex_unlock (&t->lock);
    return c;
}

/* The TPM's reset and restart counts (TPM2_ReadClock). */
static TSS2_RC
read_counts (tpm *t, uint32_t *reset, uint32_t *restart)
{
    TPMS_TIME_INFO *ti = NULL;
    TSS2_RC r = Esys_ReadClock (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ti);
    if (r == TSS2_RC_SUCCESS) {
        *reset = ti->clockInfo.resetCount;
        *restart = ti->clockInfo.restartCount;
    }
    Esys_Free (ti);
    return r;
}

/* After a TPM error, when this process keeps things loaded between calls:
 * true when they are gone (the TPM was reset or restarted since we connected,
 * or it says a handle we sent is not loaded: cleared, or flushed by another
 * program). Then everything is dropped and the connection closed, so that the
 * call can run again from scratch (tpm_retry_inlock) or the next call does. */
static bool
lost_state_inlock (tpm *t, TSS2_RC base, const char *what)
{
    bool reference = base >= TPM2_RC_REFERENCE_H0 && base <= TPM2_RC_REFERENCE_S6;
    uint32_t reset = 0, restart = 0;
    TSS2_RC r;

    if (!t->keep || !t->counts_ok || t->esys == NULL)
        return false;
    t->counts_ok = false; /* no recursion through tpm_rv below */
    r = read_counts (t, &reset, &restart);
    if (r != TSS2_RC_SUCCESS) {
        tpm_rv (t, r, "reading the TPM clock");
        if (t->esys == NULL) /* lost: the call fails, the next one reconnects */
            return true;
        t->counts_ok = true;
        return false;
    }
    if (reset != t->reset_count || restart != t->restart_count) {
        /* TPM2_Clear sets both counts to 0; a restart only counts up */
        bool cleared = reset < t->reset_count
                       || (reset == t->reset_count && restart < t->restart_count);
        LOG_WARN ("%s: the TPM (%s) was %s since this process connected (reset count %u -> %u, "
                  "restart count %u -> %u): the keys and sessions it had loaded are gone; loading "
                  "them again",
                  what, t->tcti_conf, cleared ? "cleared" : "restarted", t->reset_count, reset,
                  t->restart_count, restart);
        /* after a restart our handles may be another process's now: no flush;
         * a clear flushed our objects but may have left our sessions */
        tpm_disconnect_inlock (t, cleared);
        return t->restarted = true;
    }
    t->counts_ok = true;
    if (!reference)
        return false;
    LOG_WARN ("%s: the TPM (%s) no longer holds an object or session this process loaded (%s): "
              "it was cleared, or another program flushed it; loading them again",
              what, t->tcti_conf, Tss2_RC_Decode (base));
    tpm_disconnect_inlock (t, true);
    return t->restarted = true;
}

void
tpm_check_state_inlock (tpm *t, const char *what)
{
    lost_state_inlock (t, TPM2_RC_SUCCESS, what);
}

/* Maps a TSS2 return code to a CK_RV, logging what failed. A lost connection
 * closes ours so the next call reconnects; a TPM that lost what we keep
 * loaded (restarted, cleared) is CKR_DEVICE_ERROR too, and the call may run
 * again (tpm_retry_inlock). */
CK_RV
tpm_rv (tpm *t, TSS2_RC r, const char *what)
{
    TSS2_RC layer = r & TSS2_RC_LAYER_MASK;
    TSS2_RC base = r & ~TSS2_RC_LAYER_MASK;
    TSS2_RC fmt1;

    if (r == TSS2_RC_SUCCESS)
        return CKR_OK;
    if (layer == TSS2_TCTI_RC_LAYER
        || ((layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_SYS_RC_LAYER)
            && (base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION
                || base == TSS2_BASE_RC_TRY_AGAIN))) {
        LOG_ERROR ("%s: lost the TPM (%s via %s): check that the TPM or resource manager is "
                   "running; the next call reconnects",
                   what, Tss2_RC_Decode (r), t->tcti_conf);
        tpm_disconnect_inlock (t, false);
        return CKR_DEVICE_ERROR;
    }
    if ((layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_SYS_RC_LAYER)
        && base == TSS2_BASE_RC_BAD_SEQUENCE) {
        /* a command cut off by a lost TPM (in a call whose error was not
         * ours to see, like a flush) leaves ESAPI/SAPI waiting for its
         * response: only a new context helps */
        LOG_WARN ("%s: the TPM connection (%s) is stuck after an earlier failure: reconnecting",
                  what, t->tcti_conf);
        tpm_disconnect_inlock (t, false);
        t->restarted = true; /* the call may run again */
        return CKR_DEVICE_ERROR;
    }
    if (layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) {
        fmt1 = (base & TPM2_RC_FMT1) ? (base & (TPM2_RC_FMT1 | 0x3f)) : base;
        if (fmt1 == TPM2_RC_AUTH_FAIL || fmt1 == TPM2_RC_BAD_AUTH) {
            /* after a restart our handles may name someone else's objects */
            if (lost_state_inlock (t, base, what))
                return CKR_DEVICE_ERROR;
            LOG_DEBUG ("%s: %s", what, Tss2_RC_Decode (r));
            return CKR_PIN_INCORRECT;
        }
        if (fmt1 == TPM2_RC_POLICY_FAIL || base == TPM2_RC_PCR_CHANGED) {
            LOG_ERROR ("%s: the key's PCR policy does not hold: PCRs it is bound to have "
                       "changed since it was created",
                       what);
            return CKR_TPMTRUST_PCR_MISMATCH;
        }
        if (base == TPM2_RC_LOCKOUT) {
            LOG_ERROR ("%s: the TPM is in dictionary-attack lockout after too many wrong PINs: "
                       "wait for the lockout to expire (see 'tpmtrust-tool doctor') or reset "
                       "it with 'tpm2_dictionarylockout -c' and the lockout auth",
                       what);
            return CKR_PIN_LOCKED;
        }
        if (base == TPM2_RC_INITIALIZE) {
            LOG_ERROR ("%s: the TPM has not been started (TPM2_Startup): %s", what,
                       Tss2_RC_Decode (r));
            tpm_disconnect_inlock (t, false);
            return CKR_DEVICE_ERROR;
        }
        if (base == TPM2_RC_OBJECT_MEMORY || base == TPM2_RC_SESSION_MEMORY
            || base == TPM2_RC_OBJECT_HANDLES || base == TPM2_RC_SESSION_HANDLES) {
            LOG_ERROR ("%s: the TPM is out of object or session slots (%s): another program "
                       "holds them; use a resource manager (/dev/tpmrm0 or tpm2-abrmd)",
                       what, Tss2_RC_Decode (r));
            return CKR_DEVICE_MEMORY;
        }
        if (lost_state_inlock (t, base, what))
            return CKR_DEVICE_ERROR;
    }
    LOG_ERROR ("%s: %s", what, Tss2_RC_Decode (r));
    return CKR_FUNCTION_FAILED;
}

/* Flushes what processes that died holding a lease left in the TPM: the
 * handles they recorded (an object only when its Name still matches), and,
 * when one died in the middle of creating something, every object and session
 * that no live process claims. */
static void
reclaim_inlock (tpm *t)
{
    static const TPM2_HANDLE firsts[] = { TPM2_TRANSIENT_FIRST, TPM2_LOADED_SESSION_FIRST };
    lease_set *sets = calloc (2, sizeof *sets);
    TSS2_SYS_CONTEXT *sys = NULL;
    unsigned objects = 0, sessions = 0;

    if (sets == NULL || !lease_scan (t->lease, &sets[0], &sets[1])
        || Esys_GetSysContext (t->esys, &sys) != TSS2_RC_SUCCESS) {
        lease_scan_done (t->lease); /* nothing to flush */
        free (sets);
        return;
    }
    for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++) {
        TPMS_CAPABILITY_DATA cap = { 0 };
        TPMI_YES_NO more = 0;

        if (Tss2_Sys_GetCapability (sys, NULL, TPM2_CAP_HANDLES, firsts[f], TPM2_MAX_CAP_HANDLES,
                                    &more, &cap, NULL)
            != TSS2_RC_SUCCESS)
            continue;
        for (UINT32 i = 0; i < cap.data.handles.count; i++) {
            TPM2_HANDLE h = cap.data.handles.handle[i];
            const lease_entry *dead = NULL;
            bool claimed = false, flush;

            for (size_t j = 0; j < sets[1].n; j++)
                claimed |= sets[1].e[j].handle == h;
            for (size_t j = 0; j < sets[0].n && dead == NULL; j++)
                if (sets[0].e[j].handle == h)
                    dead = &sets[0].e[j];
            if (claimed)
                continue;
            flush = sets[0].pending && !sets[1].pending;
            if (dead != NULL && dead->name_len == 0) {
                flush = true;
            } else if (dead != NULL) {
                TPM2B_PUBLIC pub = { 0 };
                TPM2B_NAME name = { .size = sizeof name.name }, qname = { .size = sizeof qname.name };
                if (Tss2_Sys_ReadPublic (sys, h, NULL, &pub, &name, &qname, NULL) == TSS2_RC_SUCCESS
                    && name.size == dead->name_len && memcmp (name.name, dead->name, name.size) == 0)
                    flush = true;
            }
            if (flush && Tss2_Sys_FlushContext (sys, h) == TSS2_RC_SUCCESS) {
                if (f == 0)
                    objects++;
                else
                    sessions++;
            }
        }
    }
    if (objects || sessions)
        LOG_INFO ("flushed %u TPM objects and %u sessions left loaded by processes that ended "
                  "without C_Finalize",
                  objects, sessions);
    lease_scan_done (t->lease);
    free (sets);
}

static void
tcti_hint (const char *conf, char *hint, size_t len)
{
    const char *dev = NULL;

    hint[0] = '\0';
    if (strncmp (conf, "device", 6) == 0)
        dev = conf[6] == ':' ? conf + 7 : "/dev/tpmrm0";
    if (dev != NULL && access (dev, F_OK) != 0)
        snprintf (hint, len, " (%s does not exist: no TPM, or its driver is not loaded)", dev);
    else if (dev != NULL && access (dev, R_OK | W_OK) != 0)
        snprintf (hint, len,
                  " (%s: permission denied: add the user to the 'tss' group, "
                  "'sudo usermod -aG tss $USER', and log in again)",
                  dev);
    else if (strncmp (conf, "tabrmd", 6) == 0)
        snprintf (hint, len, " (is tpm2-abrmd running?)");
    else if (strncmp (conf, "swtpm", 5) == 0 || strncmp (conf, "mssim", 5) == 0)
        snprintf (hint, len, " (nothing answers there: is the TPM simulator running?)");
}

CK_RV
tpm_connect_inlock (tpm *t)
{
    const char *defaults[] = { "device:/dev/tpmrm0", "tabrmd", NULL };
    const char *one[2] = { NULL, NULL };
    const char *const *cands = defaults;
    const char *env = getenv ("TPMTRUST_TCTI");
    char tried[1024] = "";
    size_t used = 0;

    if (t->esys != NULL)
        return CKR_OK;
    if (env != NULL && env[0] != '\0')
        one[0] = env;
    else
        one[0] = config_get ("tcti");
    if (one[0] != NULL)
        cands = one;

    for (; *cands != NULL; cands++) {
        char hint[256];
        TSS2_RC r = Tss2_TctiLdr_Initialize (*cands, &t->tcti);
        if (r == TSS2_RC_SUCCESS) {
            r = Esys_Initialize (&t->esys, t->tcti, NULL);
            if (r == TSS2_RC_SUCCESS) {
                snprintf (t->tcti_conf, sizeof t->tcti_conf, "%s", *cands);
                /* Without a resource manager (swtpm, mssim, /dev/tpm0) nothing
                 * flushes what a process leaves loaded when it dies or _exit()s
                 * without C_Finalize (OpenSSH does): keep things loaded only
                 * when a lease records them for the next process. */
                t->raw = strncmp (*cands, "tabrmd", 6) != 0 && strstr (*cands, "tpmrm") == NULL;
                if (t->raw && t->lease == NULL)
                    t->lease = lease_open (*cands);
                t->keep = !t->raw || t->lease != NULL;
                /* through a resource manager every kept object is swapped in
                 * and out around each command: keep one key there */
                t->cache_max = !t->keep ? 0 : t->raw ? TPM_CACHE_MAX : 1;
                LOG_DEBUG ("connected to the TPM through %s", *cands);
                if (t->lease != NULL)
                    reclaim_inlock (t);
                /* what tells a TPM restart between two calls (tpm_rv) */
                t->counts_ok = t->keep
                               && read_counts (t, &t->reset_count, &t->restart_count)
                                      == TSS2_RC_SUCCESS;
                return CKR_OK;
            }
            Tss2_TctiLdr_Finalize (&t->tcti);
        }
        t->tcti = NULL;
        tcti_hint (*cands, hint, sizeof hint);
        used += (size_t) snprintf (tried + used, used < sizeof tried ? sizeof tried - used : 0,
                                   "%s%s: %s%s", used ? "; " : "", *cands, Tss2_RC_Decode (r),
                                   hint);
        if (used >= sizeof tried)
            used = sizeof tried - 1;
    }
    if (one[0] != NULL)
        LOG_ERROR ("cannot reach the TPM: %s. Check that it is running (the next call tries "
                   "again), or set TPMTRUST_TCTI (or tcti= in the config file) to another TCTI",
                   tried);
    else
        LOG_ERROR ("cannot reach a TPM. Tried %s. Set TPMTRUST_TCTI (e.g. "
                   "'device:/dev/tpmrm0' or 'tabrmd:bus_type=system') or tcti= in the config "
                   "file",
                   tried);
    return CKR_DEVICE_ERROR;
}

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
    /* probe once per connection (a command saved per call on a raw TCTI) */
    if (!t->no_persistent_srk && tpm_handle_exists_inlock (t, SRK_PERSISTENT_HANDLE)) {
        r = Esys_TR_FromTPMPublic (t->esys, SRK_PERSISTENT_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &h);
        if (r == TSS2_RC_SUCCESS)
            r = Esys_ReadPublic (t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
                                 NULL);
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
        LOG_ERROR ("creating the SRK failed: the owner hierarchy has an auth value. Provision a "
                   "persistent SRK at 0x%x ('tpm2_createprimary -C o -G ecc256:aes128cfb -c "
                   "srk.ctx -P <owner auth> && tpm2_evictcontrol -c srk.ctx 0x%x')",
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
static CK_RV
start_session_inlock (tpm *t, TPM2_SE type, bool salted, ESYS_TR *s, const char *what)
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
        rv = start_session_inlock (t, TPM2_SE_HMAC, true, &t->session,
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
tpm_auth_from_secbuf (const secbuf *auth, TPM2B_AUTH *out)
{
    if (auth->len > sizeof out->buffer)
        return CKR_ARGUMENTS_BAD;
    out->size = (UINT16) auth->len;
    memcpy (out->buffer, auth->data, auth->len);
    return CKR_OK;
}

/* Overwrites ESYS's copy of the handle's auth, then flushes the handle. */
void
tpm_unload_inlock (tpm *t, ESYS_TR *h)
{
    TPM2B_AUTH zero = { .size = sizeof zero.buffer };

    if (*h == ESYS_TR_NONE || t->esys == NULL)
        return;
    memset (zero.buffer, 0, sizeof zero.buffer);
    Esys_TR_SetAuth (t->esys, *h, &zero);
    tpm_flush_inlock (t, h);
}

CK_RV
tpm_blob_unmarshal (const tpm_blob *pub, const tpm_blob *priv, TPM2B_PUBLIC *p, TPM2B_PRIVATE *s)
{
    size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal (pub->data, pub->len, &off, p) != TSS2_RC_SUCCESS
        || off != pub->len)
        return CKR_DATA_INVALID;
    off = 0;
    if (s != NULL
        && (Tss2_MU_TPM2B_PRIVATE_Unmarshal (priv->data, priv->len, &off, s) != TSS2_RC_SUCCESS
            || off != priv->len))
        return CKR_DATA_INVALID;
    return CKR_OK;
}

CK_RV
tpm_blob_marshal (const TPM2B_PUBLIC *p, const TPM2B_PRIVATE *s, tpm_blob *pub, tpm_blob *priv)
{
    uint8_t buf[sizeof (TPM2B_PUBLIC) + sizeof (TPM2B_PRIVATE)];
    size_t off = 0;

    if (Tss2_MU_TPM2B_PUBLIC_Marshal (p, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    pub->data = malloc (off);
    if (pub->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (pub->data, buf, off);
    pub->len = off;
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Marshal (s, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    priv->data = malloc (off);
    if (priv->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (priv->data, buf, off);
    priv->len = off;
    return CKR_OK;
}

/* Loads a blob under the SRK and sets its auth. */
CK_RV
tpm_load_inlock (tpm *t, const tpm_blob *pub, const tpm_blob *priv, const secbuf *auth,
                 ESYS_TR *out)
{
    TPM2B_PUBLIC p = { 0 };
    TPM2B_PRIVATE s = { 0 };
    TPM2B_AUTH a = { 0 };
    TSS2_RC r;
    CK_RV rv = tpm_blob_unmarshal (pub, priv, &p, &s);

    *out = ESYS_TR_NONE;
    if (rv != CKR_OK) {
        LOG_ERROR ("a stored TPM blob is malformed: the store row is damaged");
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    rv = tpm_srk_inlock (t);
    if (rv != CKR_OK)
        return rv;
    do { /* out of object slots: make room from our cache */
        tpm_track_begin (t);
        r = Esys_Load (t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &s, &p, out);
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? *out : ESYS_TR_NONE);
    } while (evicted_for (t, r));
    rv = tpm_rv (t, r, "loading a key");
    if (rv == CKR_OK && auth != NULL) {
        rv = tpm_auth_from_secbuf (auth, &a);
        if (rv == CKR_OK)
            rv = tpm_rv (t, Esys_TR_SetAuth (t->esys, *out, &a), "setting auth");
        sodium_memzero (&a, sizeof a);
    }
    if (rv != CKR_OK) {
        tpm_unload_inlock (t, out);
        if ((r & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (r & TPM2_RC_FMT1)
            && (r & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_INTEGRITY) {
            /* a TPM (or TPM seed) other than the blob's, or a damaged blob */
            if (t->cleared)
                LOG_ERROR ("the TPM rejects this key's blob: the TPM was cleared since the key "
                           "was made, and the key is gone with its old storage seed: "
                           "initialize the token again");
            else
                LOG_ERROR ("the TPM rejects this key's blob (integrity check): the store row is "
                           "damaged, or it was made by another TPM or before this TPM was "
                           "cleared");
            rv = CKR_TPMTRUST_OBJECT_DAMAGED;
        }
    }
    return rv;
}

static void
key_id (const tpm_key *k, uint8_t id[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, k->pub->data, k->pub->len);
    crypto_hash_sha256_update (&st, k->priv->data, k->priv->len);
    crypto_hash_sha256_final (&st, id);
}

struct tpm_cached *
tpm_cache_find (tpm *t, ESYS_TR h)
{
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        if (h != ESYS_TR_NONE && t->cache[i].h == h)
            return &t->cache[i];
    return NULL;
}

/* tpm_load_inlock for a key to use: a key the TPM rejects because it was
 * cleared is not damaged, the device lost it. */
static CK_RV
key_load_inlock (tpm *t, const tpm_key *k, ESYS_TR *h)
{
    CK_RV rv = tpm_load_inlock (t, k->pub, k->priv, k->auth, h);
    return rv == CKR_TPMTRUST_OBJECT_DAMAGED && t->cleared ? CKR_DEVICE_ERROR : rv;
}

CK_RV
tpm_key_get_inlock (tpm *t, const tpm_key *k, ESYS_TR *h)
{
    struct tpm_cached *slot = NULL;
    uint8_t id[32];
    CK_RV rv;

    if (t->cache_max == 0 || t->esys == NULL)
        return key_load_inlock (t, k, h);
    key_id (k, id);
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++) {
        if (t->cache[i].h != ESYS_TR_NONE && memcmp (t->cache[i].id, id, sizeof id) == 0) {
            TPM2B_AUTH a = { 0 };
            t->cache[i].stamp = ++t->clock;
            *h = t->in_use = t->cache[i].h;
            rv = tpm_auth_from_secbuf (k->auth, &a);
            if (rv == CKR_OK)
                rv = tpm_rv (t, Esys_TR_SetAuth (t->esys, *h, &a), "setting auth");
            sodium_memzero (&a, sizeof a);
            return rv;
        }
    }
    /* a free slot among the first cache_max, else the least recently used */
    while (slot == NULL) {
        for (unsigned i = 0; i < t->cache_max && slot == NULL; i++)
            if (t->cache[i].h == ESYS_TR_NONE)
                slot = &t->cache[i];
        if (slot == NULL && !cache_evict_inlock (t))
            break;
    }
    rv = key_load_inlock (t, k, h);
    if (rv == CKR_OK && slot != NULL) {
        TPM2B_NAME *name = NULL;
        memcpy (slot->id, id, sizeof id);
        slot->h = t->in_use = *h;
        slot->name.size = 0;
        if (Esys_TR_GetTpmHandle (t->esys, *h, &slot->handle) == TSS2_RC_SUCCESS
            && Esys_TR_GetName (t->esys, *h, &name) == TSS2_RC_SUCCESS)
            slot->name = *name;
        Esys_Free (name);
        slot->stamp = ++t->clock;
    }
    return rv;
}

void
tpm_key_put_inlock (tpm *t, ESYS_TR *h)
{
    static const TPM2B_AUTH zero = { 0 };

    t->in_use = ESYS_TR_NONE;
    if (tpm_cache_find (t, *h) == NULL) {
        tpm_unload_inlock (t, h);
        return;
    }
    if (t->esys != NULL)
        Esys_TR_SetAuth (t->esys, *h, &zero); /* ESAPI keeps no copy between calls */
    *h = ESYS_TR_NONE;
}

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
        rv = start_session_inlock (t, TPM2_SE_POLICY, true, s, "starting a policy session");
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
    CK_RV rv = start_session_inlock (t, TPM2_SE_TRIAL, false, &trial, "starting a trial session");
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
        rv = start_session_inlock (t, TPM2_SE_POLICY, true, &s, "starting a policy session");
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
    esys_wipe_response (t);
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

CK_RV
tpm_random (tpm *t, uint8_t *buf, size_t len)
{
    size_t off = 0;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    while (rv == CKR_OK && off < len) {
        TPM2B_DIGEST *rnd = NULL;
        size_t want = len - off > 32 ? 32 : len - off;
        TSS2_RC r = Esys_GetRandom (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    (UINT16) want, &rnd);
        rv = tpm_rv (t, r, "getting random bytes");
        if (rv == CKR_OK && rnd->size == 0)
            rv = CKR_FUNCTION_FAILED;
        if (rv == CKR_OK) {
            memcpy (buf + off, rnd->buffer, rnd->size);
            off += rnd->size;
        }
        Esys_Free (rnd);
    }
    tpm_unlock (t);
    if (rv == CKR_OK) {
        /* Mix in the OS RNG: what crossed the bus alone does not give the output. */
        uint8_t os[256];
        for (size_t i = 0; i < len; i += sizeof os) {
            size_t n = len - i < sizeof os ? len - i : sizeof os;
            randombytes_buf (os, n);
            for (size_t j = 0; j < n; j++)
                buf[i + j] ^= os[j];
        }
        sodium_memzero (os, sizeof os);
    }
    return rv;
}

/* Esys_Create under the SRK in the salted session with command parameter
 * encryption (the sensitive part travels encrypted); marshals the result. */
static CK_RV
tpm_create (tpm *t, const TPM2B_SENSITIVE_CREATE *in, TPM2B_PUBLIC *tmpl, const tpm_policy *pol,
            const char *what, tpm_blob *pub, tpm_blob *priv, TPM2B_PUBLIC **out_pub)
{
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    TPM2B_PRIVATE *out_priv = NULL;
    TSS2_RC r;
    CK_RV rv;

    *out_pub = NULL;
    if (pol != NULL && pol->pcrs.mask != 0) {
        /* only the policy authorizes use: PolicyPCR AND PolicyAuthValue */
        tmpl->publicArea.authPolicy.size = sizeof pol->digest;
        memcpy (tmpl->publicArea.authPolicy.buffer, pol->digest, sizeof pol->digest);
        tmpl->publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
    }
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_session_inlock (t, TPMA_SESSION_DECRYPT);
    if (rv == CKR_OK) {
        do /* Create needs a free object slot */
            r = Esys_Create (t->esys, t->srk, t->session, ESYS_TR_NONE, ESYS_TR_NONE, in, tmpl,
                             &outside, &pcrs, &out_priv, out_pub, NULL, NULL, NULL);
        while (evicted_for (t, r));
        if ((r & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_CURVE) {
            LOG_ERROR ("%s: this TPM does not implement the requested curve", what);
            rv = CKR_CURVE_NOT_SUPPORTED;
        } else {
            rv = tpm_rv (t, r, what);
        }
        tpm_session_failed (t, rv);
    }
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK)
        rv = tpm_blob_marshal (*out_pub, out_priv, pub, priv);
    Esys_Free (out_priv);
    if (rv != CKR_OK) {
        Esys_Free (*out_pub);
        *out_pub = NULL;
        tpm_blob_clear (pub);
        tpm_blob_clear (priv);
    }
    return rv;
}

CK_RV
tpm_seal (tpm *t, const secbuf *auth, const secbuf *data, bool da, const tpm_policy *pol,
          tpm_blob *pub, tpm_blob *priv)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_USERWITHAUTH | (da ? 0 : TPMA_OBJECT_NODA),
            .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
        },
    };
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv;

    if (data->len > sizeof in.sensitive.data.buffer
        || auth->len > sizeof in.sensitive.userAuth.buffer)
        return CKR_ARGUMENTS_BAD;
    in.sensitive.data.size = (UINT16) data->len;
    memcpy (in.sensitive.data.buffer, data->data, data->len);
    tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);
    rv = tpm_create (t, &in, &tmpl, pol, "sealing a secret", pub, priv, &out_pub);
    sodium_memzero (&in, sizeof in);
    Esys_Free (out_pub);
    return rv;
}

/* The hot path's commands (tpm_fast_call_inlock): their _Prepare with the
 * key's TPM handle. */
static TSS2_RC
prep_unseal (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    (void) arg;
    return Tss2_Sys_Unseal_Prepare (sys, key);
}

struct sign_args {
    const TPM2B_DIGEST *digest;
    const TPMT_SIG_SCHEME *scheme;
    const TPMT_TK_HASHCHECK *ticket;
};

static TSS2_RC
prep_sign (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    const struct sign_args *a = arg;
    return Tss2_Sys_Sign_Prepare (sys, key, a->digest, a->scheme, a->ticket);
}

struct hmac_args {
    const TPM2B_MAX_BUFFER *data;
    TPMI_ALG_HASH hash;
};

static TSS2_RC
prep_hmac (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    const struct hmac_args *a = arg;
    return Tss2_Sys_HMAC_Prepare (sys, key, a->data, a->hash);
}

CK_RV
tpm_unseal (tpm *t, const tpm_key *k, secbuf **data)
{
    TPM2B_SENSITIVE_DATA *out = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    *data = NULL;
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        TSS2_SYS_CONTEXT *sys = NULL;
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_Unseal, prep_unseal, NULL, k, true,
                                   "unsealing", &sys);
        if (rv == CKR_OK && ((out = calloc (1, sizeof *out)) == NULL
                             || Tss2_Sys_Unseal_Complete (sys, out) != TSS2_RC_SUCCESS))
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        free (out); /* none: it failed */
        out = NULL;
        goto again;
    }
    tpm_unlock (t);
    if (rv == CKR_OK) {
        *data = secbuf_dup (out->buffer, out->size);
        if (*data == NULL)
            rv = CKR_HOST_MEMORY;
    }
    if (out != NULL) {
        sodium_memzero (out, sizeof *out);
        free (out); /* Esys_Free is free */
    }
    return rv;
}

static size_t
curve_bytes (TPMI_ECC_CURVE curve)
{
    return curve == TPM2_ECC_NIST_P384 ? 48 : curve == TPM2_ECC_NIST_P256 ? 32 : 0;
}

static CK_RV
point_from_public (const TPM2B_PUBLIC *p, uint8_t *point, size_t *point_len)
{
    const TPMS_ECC_POINT *u = &p->publicArea.unique.ecc;
    size_t n = curve_bytes (p->publicArea.parameters.eccDetail.curveID);

    if (n == 0 || u->x.size > n || u->y.size > n || *point_len < 1 + 2 * n)
        return CKR_DATA_INVALID;
    memset (point, 0, 1 + 2 * n);
    point[0] = 0x04;
    memcpy (point + 1 + n - u->x.size, u->x.buffer, u->x.size);
    memcpy (point + 1 + 2 * n - u->y.size, u->y.buffer, u->y.size);
    *point_len = 1 + 2 * n;
    return CKR_OK;
}

CK_RV
tpm_ec_public (const tpm_blob *pub, tpm_curve *curve, uint8_t *point, size_t *point_len)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    if (rv != CKR_OK || p.publicArea.type != TPM2_ALG_ECC)
        return CKR_DATA_INVALID;
    *curve = (tpm_curve) p.publicArea.parameters.eccDetail.curveID;
    return point_from_public (&p, point, point_len);
}

CK_RV
tpm_ec_create (tpm *t, tpm_curve curve, const secbuf *auth, const tpm_policy *pol, tpm_blob *pub,
               tpm_blob *priv, uint8_t *point, size_t *point_len)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT,
            .parameters.eccDetail = {
                .symmetric = { .algorithm = TPM2_ALG_NULL },
                .scheme = { .scheme = TPM2_ALG_NULL },
                .curveID = (TPMI_ECC_CURVE) curve,
                .kdf = { .scheme = TPM2_ALG_NULL },
            },
        },
    };
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv = tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);

    if (rv == CKR_OK)
        rv = tpm_create (t, &in, &tmpl, pol, "creating an ECC key", pub, priv, &out_pub);
    sodium_memzero (&in, sizeof in);
    if (rv == CKR_OK)
        rv = point_from_public (out_pub, point, point_len);
    Esys_Free (out_pub);
    if (rv != CKR_OK) {
        tpm_blob_clear (pub);
        tpm_blob_clear (priv);
    }
    return rv;
}

CK_RV
tpm_ec_sign (tpm *t, const tpm_key *k, const uint8_t *digest, size_t digest_len, uint8_t *sig,
             size_t *sig_len)
{
    TPM2B_DIGEST d = { .size = (UINT16) digest_len };
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
    TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE out = { 0 };
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    if (digest_len == 32)
        scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    else if (digest_len == 48)
        scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA384;
    else
        return CKR_ARGUMENTS_BAD;
    if (*sig_len < 2 * digest_len)
        return CKR_BUFFER_TOO_SMALL;
    memcpy (d.buffer, digest, digest_len);

    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* the hot path: one TPM2_Sign in our own HMAC session (a PCR-bound
         * key: in a policy session) */
        TSS2_SYS_CONTEXT *sys = NULL;
        struct sign_args a = { &d, &scheme, &ticket };
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_Sign, prep_sign, &a, k, false, "signing", &sys);
        if (rv == CKR_OK && Tss2_Sys_Sign_Complete (sys, &out) != TSS2_RC_SUCCESS)
            rv = CKR_FUNCTION_FAILED;
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK) {
        const TPM2B_ECC_PARAMETER *rr = &out.signature.ecdsa.signatureR;
        const TPM2B_ECC_PARAMETER *ss = &out.signature.ecdsa.signatureS;
        if (rr->size > digest_len || ss->size > digest_len) {
            rv = CKR_FUNCTION_FAILED;
        } else {
            memset (sig, 0, 2 * digest_len);
            memcpy (sig + digest_len - rr->size, rr->buffer, rr->size);
            memcpy (sig + 2 * digest_len - ss->size, ss->buffer, ss->size);
            *sig_len = 2 * digest_len;
        }
    }
    return rv;
}

CK_RV
tpm_hmac_create (tpm *t, uint16_t name_hash, uint16_t scheme_hash, const secbuf *key,
                 const secbuf *auth, const tpm_policy *pol, tpm_blob *pub, tpm_blob *priv)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA
                                | TPMA_OBJECT_SIGN_ENCRYPT
                                | (key == NULL ? TPMA_OBJECT_SENSITIVEDATAORIGIN : 0),
        },
    };
    TPMT_KEYEDHASH_SCHEME *scheme = &tmpl.publicArea.parameters.keyedHashDetail.scheme;
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv;

    tmpl.publicArea.nameAlg = name_hash ? name_hash : TPM2_ALG_SHA256;
    if (scheme_hash != 0) {
        scheme->scheme = TPM2_ALG_HMAC;
        scheme->details.hmac.hashAlg = scheme_hash;
    } else {
        /* A TPM takes a sign-only keyed hash only with a fixed HMAC scheme; a key
         * for any hash must be sign + decrypt with the NULL scheme. */
        scheme->scheme = TPM2_ALG_NULL;
        tmpl.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
    }
    if (key != NULL && (key->len == 0 || key->len > TPM_HMAC_MAX_KEY))
        return CKR_KEY_SIZE_RANGE;
    if (key != NULL) {
        in.sensitive.data.size = (UINT16) key->len;
        memcpy (in.sensitive.data.buffer, key->data, key->len);
    }
    rv = tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);
    if (rv == CKR_OK)
        rv = tpm_create (t, &in, &tmpl, pol,
                         key ? "importing an HMAC key" : "creating an HMAC key", pub, priv,
                         &out_pub);
    sodium_memzero (&in, sizeof in);
    Esys_Free (out_pub);
    return rv;
}

static CK_RV
digest_out (TPM2B_DIGEST *d, uint8_t *out, size_t *out_len)
{
    CK_RV rv = d->size <= 64 ? CKR_OK : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK) {
        memcpy (out, d->buffer, d->size);
        *out_len = d->size;
    }
    sodium_memzero (d, sizeof *d);
    Esys_Free (d);
    return rv;
}

CK_RV
tpm_hmac (tpm *t, const tpm_key *k, uint16_t hash, const uint8_t *data, size_t len, uint8_t *out,
          size_t *out_len)
{
    TPM2B_MAX_BUFFER buf = { .size = (UINT16) len };
    TPM2B_DIGEST *result = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    if (len > TPM_HMAC_CHUNK)
        return CKR_ARGUMENTS_BAD;
    if (len)
        memcpy (buf.buffer, data, len);
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* the hot path: one TPM2_HMAC, the result response-encrypted (a
         * PCR-bound key: in a policy session) */
        TSS2_SYS_CONTEXT *sys = NULL;
        struct hmac_args a = { &buf, hash };
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_HMAC, prep_hmac, &a, k, true,
                                   "computing an HMAC", &sys);
        if (rv == CKR_OK && ((result = calloc (1, sizeof *result)) == NULL
                             || Tss2_Sys_HMAC_Complete (sys, result) != TSS2_RC_SUCCESS))
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        Esys_Free (result); /* none: it failed */
        result = NULL;
        goto again;
    }
    tpm_unlock (t);
    if (rv == CKR_OK)
        rv = digest_out (result, out, out_len);
    return rv;
}

struct tpm_hmac_seq {
    TPMS_CONTEXT *saved; /* the sequence object, context-saved */
};

void
tpm_hmac_seq_free (tpm_hmac_seq *seq)
{
    if (seq == NULL)
        return;
    Esys_Free (seq->saved);
    free (seq);
}

/* Saves the loaded sequence h into seq and flushes it. */
static CK_RV
seq_save_inlock (tpm *t, tpm_hmac_seq *seq, ESYS_TR *h)
{
    CK_RV rv;

    Esys_Free (seq->saved);
    seq->saved = NULL;
    if (t->esys == NULL) { /* the TPM was lost, and the sequence with it */
        *h = ESYS_TR_NONE;
        return CKR_DEVICE_ERROR;
    }
    rv = tpm_rv (t, Esys_ContextSave (t->esys, *h, &seq->saved), "saving an HMAC sequence");
    tpm_flush_inlock (t, h);
    return rv;
}

CK_RV
tpm_hmac_start (tpm *t, const tpm_key *k, uint16_t hash, tpm_hmac_seq **out)
{
    TPM2B_AUTH seq_auth = { 0 }; /* ours alone: the handle is not shared */
    tpm_hmac_seq *seq = calloc (1, sizeof *seq);
    ESYS_TR h = ESYS_TR_NONE, s = ESYS_TR_NONE, sequence = ESYS_TR_NONE;
    CK_RV rv = seq ? CKR_OK : CKR_HOST_MEMORY;

    *out = NULL;
    pthread_mutex_lock (&t->lock);
again:
    if (rv == CKR_OK)
        rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK)
        rv = tpm_key_session_inlock (t, k, 0, &s);
    if (rv == CKR_OK) {
        TSS2_RC r;
        tpm_track_begin (t);
        do /* the sequence needs a free object slot */
            r = Esys_HMAC_Start (t->esys, h, s, ESYS_TR_NONE, ESYS_TR_NONE, &seq_auth, hash,
                                 &sequence);
        while (evicted_for (t, r));
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? sequence : ESYS_TR_NONE);
        rv = tpm_rv (t, r, "starting an HMAC sequence");
        tpm_key_session_done (t, k, &s, rv);
    }
    tpm_key_put_inlock (t, &h);
    if (rv == CKR_OK)
        rv = seq_save_inlock (t, seq, &sequence);
    if (tpm_retry_inlock (t, rv)) {
        sequence = ESYS_TR_NONE; /* gone with the connection */
        rv = CKR_OK;
        goto again;
    }
    tpm_unlock (t);
    if (rv != CKR_OK) {
        tpm_hmac_seq_free (seq);
        return rv;
    }
    *out = seq;
    return CKR_OK;
}

static CK_RV
seq_load_inlock (tpm *t, tpm_hmac_seq *seq, ESYS_TR *h)
{
    CK_RV rv = tpm_connect_inlock (t);
    if (rv == CKR_OK) {
        TSS2_RC r;
        do {
            tpm_track_begin (t);
            r = Esys_ContextLoad (t->esys, seq->saved, h);
            tpm_track_end (t, r == TSS2_RC_SUCCESS ? *h : ESYS_TR_NONE);
        } while (evicted_for (t, r));
        rv = tpm_rv (t, r, "loading an HMAC sequence");
        if (rv != CKR_OK && t->restarted)
            LOG_ERROR ("a multi-part HMAC was under way: the TPM lost it; start it again");
    }
    return rv;
}

CK_RV
tpm_hmac_update (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len)
{
    TPM2B_MAX_BUFFER buf;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = seq_load_inlock (t, seq, &h);
    for (size_t off = 0; rv == CKR_OK && off < len; off += buf.size) {
        buf.size = (UINT16) (len - off > TPM_HMAC_CHUNK ? TPM_HMAC_CHUNK : len - off);
        memcpy (buf.buffer, data + off, buf.size);
        rv = tpm_rv (t, Esys_SequenceUpdate (t->esys, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                             ESYS_TR_NONE, &buf),
                     "updating an HMAC sequence");
    }
    if (h != ESYS_TR_NONE) {
        CK_RV save = seq_save_inlock (t, seq, &h);
        if (rv == CKR_OK)
            rv = save;
    }
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_hmac_finish (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len, uint8_t *out,
                 size_t *out_len)
{
    TPM2B_MAX_BUFFER buf = { .size = (UINT16) len };
    TPM2B_DIGEST *result = NULL;
    TPMT_TK_HASHCHECK *ticket = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv = len <= TPM_HMAC_CHUNK ? CKR_OK : CKR_ARGUMENTS_BAD;

    if (len && rv == CKR_OK)
        memcpy (buf.buffer, data, len);
    pthread_mutex_lock (&t->lock);
    if (rv == CKR_OK)
        rv = seq_load_inlock (t, seq, &h);
    if (rv == CKR_OK)
        rv = tpm_session_inlock (t, TPMA_SESSION_ENCRYPT);
    if (rv == CKR_OK) {
        TPM2_HANDLE handle = 0;
        Esys_TR_GetTpmHandle (t->esys, h, &handle);
        rv = tpm_rv (t, Esys_SequenceComplete (t->esys, h, t->session, ESYS_TR_NONE,
                                               ESYS_TR_NONE, &buf, ESYS_TR_RH_NULL, &result,
                                               &ticket),
                     "completing an HMAC sequence");
        esys_wipe_response (t);
        tpm_session_failed (t, rv);
        if (rv == CKR_OK) {
            h = ESYS_TR_NONE; /* SequenceComplete flushes the sequence */
            lease_del (t->lease, handle);
        }
    }
    tpm_flush_inlock (t, &h);
    tpm_unlock (t);
    Esys_Free (ticket);
    tpm_hmac_seq_free (seq);
    if (rv == CKR_OK)
        rv = digest_out (result, out, out_len);
    return rv;
}

CK_RV
tpm_key_describe (const tpm_blob *pub, tpm_key_desc *d)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    const TPMT_PUBLIC *a = &p.publicArea;

    memset (d, 0, sizeof *d);
    if (rv != CKR_OK)
        return rv;
    d->user_with_auth = (a->objectAttributes & TPMA_OBJECT_USERWITHAUTH) != 0;
    if (a->type == TPM2_ALG_ECC && (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)
        && !(a->objectAttributes & TPMA_OBJECT_RESTRICTED)) {
        d->kind = TPM_KEY_ECC_SIGN;
        d->curve = (tpm_curve) a->parameters.eccDetail.curveID;
        d->point_len = sizeof d->point;
        return point_from_public (&p, d->point, &d->point_len);
    }
    if (a->type == TPM2_ALG_KEYEDHASH && (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
        d->kind = TPM_KEY_HMAC;
        if (a->parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_HMAC)
            d->hmac_hash = a->parameters.keyedHashDetail.scheme.details.hmac.hashAlg;
        return CKR_OK;
    }
    d->kind = TPM_KEY_OTHER;
    return CKR_OK;
}

CK_RV
tpm_key_check (tpm *t, const tpm_blob *pub, const tpm_blob *priv)
{
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    do {
        rv = tpm_load_inlock (t, pub, priv, NULL, &h);
        tpm_unload_inlock (t, &h);
    } while (tpm_retry_inlock (t, rv));
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_change_auth (tpm *t, const tpm_key *k, const secbuf *new_auth, tpm_blob *new_priv)
{
    TPM2B_AUTH a = { 0 };
    TPM2B_PRIVATE *out = NULL;
    ESYS_TR h = ESYS_TR_NONE, s = ESYS_TR_NONE;
    uint8_t buf[sizeof (TPM2B_PRIVATE)];
    size_t off = 0;
    CK_RV rv = tpm_auth_from_secbuf (new_auth, &a);

    pthread_mutex_lock (&t->lock);
again:
    if (rv == CKR_OK)
        rv = tpm_load_inlock (t, k->pub, k->priv, k->auth, &h);
    if (rv == CKR_OK)
        rv = tpm_key_session_inlock (t, k, TPMA_SESSION_DECRYPT, &s);
    if (rv == CKR_OK) {
        rv = tpm_rv (t, Esys_ObjectChangeAuth (t->esys, h, t->srk, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                               &a, &out),
                     "changing a key's auth value");
        tpm_key_session_done (t, k, &s, rv);
    }
    tpm_unload_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        Esys_Free (out); /* none: it failed */
        out = NULL;
        rv = CKR_OK;
        goto again;
    }
    tpm_unlock (t);
    sodium_memzero (&a, sizeof a);
    if (rv == CKR_OK && Tss2_MU_TPM2B_PRIVATE_Marshal (out, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK && (new_priv->data = malloc (off)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        memcpy (new_priv->data, buf, off);
        new_priv->len = off;
    }
    Esys_Free (out);
    return rv;
}

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

CK_RV
tpm_get_lockout (tpm *t, tpm_info *info)
{
    CK_RV rv;
    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK)
        rv = lockout_inlock (t, info);
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
