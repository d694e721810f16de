/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: the connection to the TPM and its faults: connecting (TCTI
 * choice, leases of dead processes reclaimed), what this process holds in the
 * TPM and how it is released, TSS2 return codes as CK_RVs, and TPM restarts
 * and clears noticed between calls.
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

/* The process that first used tpm2-abrmd's TCTI (0: none yet). Its GLib D-Bus
 * connection and worker thread do not survive a fork: in a forked child the
 * TCTI's D-Bus calls would wait 25 s for a reply nobody reads, and fail. */
static pid_t dbus_pid;

static bool
tabrmd_conf (const char *conf)
{
    while (strncmp (conf, "pcap:", 5) == 0) /* a recording wrapper */
        conf += 5;
    return strncmp (conf, "tabrmd", 6) == 0;
}

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
bool
tpm_cache_evict_inlock (tpm *t)
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

void
tpm_cache_flush_inlock (tpm *t)
{
    while (tpm_cache_evict_inlock (t))
        ;
}

TSS2_SYS_CONTEXT *
tpm_sys_of (tpm *t)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    if (t->esys == NULL || Esys_GetSysContext (t->esys, &sys) != TSS2_RC_SUCCESS)
        return NULL;
    return sys;
}

/* A flush whose failure the caller cannot act on; a lost TPM still closes the
 * connection (the SAPI context would wait for the response for ever). */
void
tpm_sys_flush (tpm *t, TSS2_SYS_CONTEXT *sys, TPM2_HANDLE handle)
{
    TSS2_RC r = Tss2_Sys_FlushContext (sys, handle);

    if ((r & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
        tpm_rv (t, r, "ending the signing session");
    lease_del (t->lease, handle); /* after the flush: see tpm_flush_inlock */
}

/* Ends session s (flush: tell the TPM too). */
void
tpm_sess_release_inlock (tpm *t, struct tpm_fast *s, bool flush)
{
    TSS2_SYS_CONTEXT *sys = tpm_sys_of (t);
    TPM2_HANDLE handle = s->handle;

    s->handle = 0;
    secbuf_free (s->key);
    s->key = NULL;
    if (handle != 0 && flush && sys != NULL)
        tpm_sys_flush (t, sys, handle);
}

void
tpm_fast_release_inlock (tpm *t, bool flush)
{
    tpm_sess_release_inlock (t, &t->fast, flush);
}

void
tpm_fast_wipe_response (TSS2_SYS_CONTEXT *sys)
{
    const uint8_t *p = NULL;
    size_t size = 0;

    /* the SAPI context's buffer is ours between commands (under t->lock) */
    if (Tss2_Sys_GetEncryptParam (sys, &size, &p) == TSS2_RC_SUCCESS && p != NULL)
        sodium_memzero ((uint8_t *) (uintptr_t) p, size);
}

/* After an ESAPI command with a response-encrypted secret: ESAPI decrypted
 * it in place in the SAPI context's buffer, which it frees unwiped later. */
void
tpm_esys_wipe_response (tpm *t)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    if (t->esys != NULL && Esys_GetSysContext (t->esys, &sys) == TSS2_RC_SUCCESS)
        tpm_fast_wipe_response (sys);
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
    /* A resource manager (tpmrm0, tpm2-abrmd) flushes a connection's objects
     * and sessions when it closes: FlushContext only on a raw TCTI. */
    if (flush && t->raw)
        release_inlock (t);
    tpm_fast_release_inlock (t, false);
    t->srk_point_ok = false;
    t->da_ok = false;
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
        if (fmt1 == TPM2_RC_AUTH_FAIL || fmt1 == TPM2_RC_BAD_AUTH || base == TPM2_RC_LOCKOUT)
            t->da_ok = false; /* the DA counters may have moved */
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
        if (base == TPM2_RC_NV_RATE) { /* NV writes too fast for the TPM: try again later */
            LOG_DEBUG ("%s: %s", what, Tss2_RC_Decode (r));
            return CKR_FUNCTION_REJECTED;
        }
        if (fmt1 == TPM2_RC_ATTRIBUTES) {
            LOG_ERROR ("%s: the key's TPM object does not allow it (%s): e.g. ECDH with an EC "
                       "key made without CKA_DERIVE, or before this version offered ECDH",
                       what, Tss2_RC_Decode (r));
            return CKR_KEY_FUNCTION_NOT_PERMITTED;
        }
        if (fmt1 == TPM2_RC_ECC_POINT || base == TPM2_RC_NO_RESULT) {
            LOG_ERROR ("%s: the TPM finds the point not on the key's curve (%s)", what,
                       Tss2_RC_Decode (r));
            return CKR_DATA_INVALID;
        }
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
                TPM2B_NAME name = { .size = sizeof name.name },
                           qname = { .size = sizeof qname.name };
                if (Tss2_Sys_ReadPublic (sys, h, NULL, &pub, &name, &qname, NULL) == TSS2_RC_SUCCESS
                    && name.size == dead->name_len
                    && memcmp (name.name, dead->name, name.size) == 0)
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
        TSS2_RC r;
        if (tabrmd_conf (*cands) && dbus_pid != 0 && dbus_pid != getpid ()) {
            LOG_ERROR ("%s: this process was forked from one that used tpm2-abrmd, and "
                       "GLib's D-Bus does not work after fork(): use the TPM in the parent "
                       "only, exec() a new program in the child, or use /dev/tpmrm0",
                       *cands);
            used += (size_t) snprintf (tried + used, used < sizeof tried ? sizeof tried - used : 0,
                                       "%s%s: not usable after fork()", used ? "; " : "",
                                       *cands);
            if (used >= sizeof tried)
                used = sizeof tried - 1;
            continue;
        }
        r = Tss2_TctiLdr_Initialize (*cands, &t->tcti);
        if (r == TSS2_RC_SUCCESS && tabrmd_conf (*cands) && dbus_pid == 0)
            dbus_pid = getpid ();
        if (r == TSS2_RC_SUCCESS) {
            r = Esys_Initialize (&t->esys, t->tcti, NULL);
            if (r == TSS2_RC_SUCCESS) {
                snprintf (t->tcti_conf, sizeof t->tcti_conf, "%s", *cands);
                /* Without a resource manager (swtpm, mssim, /dev/tpm0) nothing
                 * flushes what a process leaves loaded when it dies or _exit()s
                 * without C_Finalize (OpenSSH does): keep things loaded only
                 * when a lease records them for the next process. */
                t->raw = !tabrmd_conf (*cands) && strstr (*cands, "tpmrm") == NULL;
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
