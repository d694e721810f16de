/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer's internals, shared by the files of core/tpm/ (the only code
 * that talks ESAPI). Nothing outside core/tpm/ includes this.
 *
 * Locking: every public tpm_* call takes t->lock (pthread_mutex_lock) and ends
 * with tpm_unlock(), which also drops what must not outlive a call on a TCTI
 * without a resource manager. The *_inlock helpers expect the lock held.
 */
#ifndef TT_TPM_INTERNAL_H
#define TT_TPM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>

#include "tpm/lease.h"
#include "tpm/tpm.h"

#define SRK_PERSISTENT_HANDLE 0x81000001
#define TPM_CACHE_MAX 2 /* keys kept loaded (the TPM has as few as 3 object slots) */

struct tpm {
    pthread_mutex_t lock;
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    char tcti_conf[128];
    ESYS_TR srk;
    bool srk_persistent;
    ESYS_TR session; /* salted HMAC session, AES-128-CFB parameter encryption */
    bool raw;        /* no resource manager: flush what we load after every call */
    bool no_persistent_srk; /* probed on this connection: 0x81000001 is no usable SRK */
    /* Kept loaded between calls: true with a resource manager, and on a raw
     * TCTI when leases record what we hold (see tpm-lease.h). */
    bool keep;
    tpm_lease *lease; /* raw TCTI only */
    struct tpm_cached {
        uint8_t id[32]; /* SHA-256 over the key's public and private blobs */
        ESYS_TR h;
        TPM2_HANDLE handle; /* its TPM handle and Name, for the hot path (ESAPI */
        TPM2B_NAME name;    /* hashes the public area for every Esys_TR_GetName) */
        uint64_t stamp;     /* last use, for LRU eviction */
    } cache[TPM_CACHE_MAX];
    unsigned cache_max;
    ESYS_TR in_use; /* the cached key between tpm_key_get and _put: not evicted */
    uint8_t srk_point[65]; /* the SRK's public key, 04||X||Y, for session salts */
    bool srk_point_ok;
    struct tpm_fast {      /* the hot path's session (tpm-fast.c); a policy session likewise */
        TPM2_HANDLE handle; /* 0: none */
        uint8_t nonce_tpm[32];
        secbuf *key;        /* sessionKey */
        unsigned retries;   /* TPM_RC_RETRY in a row */
    } fast;
    uint64_t clock;
    /* TPM faults (see tpm_rv): the TPM's reset and restart counts when we
     * connected (keep only: there is state to lose between calls) */
    uint32_t reset_count, restart_count;
    bool counts_ok;
    bool restarted; /* this call found our loaded state gone and dropped it */
    bool retried;   /* this call ran again after that (once) */
    uint8_t srk_seen[65]; /* the first SRK this process used: another one */
    bool srk_seen_ok;     /* later means the TPM was cleared (new storage seed) */
    bool cleared;
    /* The dictionary-attack counters as last read (C_GetTokenInfo asks often):
     * reused for a second, unless an authorization failed since (tpm_rv). */
    tpm_info da;
    uint64_t da_ms;
    bool da_ok;
};

/* Ends a call (see above) and releases t->lock. */
void tpm_unlock (tpm *t);
/* Maps a TSS2 return code to a CK_RV, logging "what" and the cause; a lost
 * connection is closed so that the next call reconnects. */
CK_RV tpm_rv (tpm *t, TSS2_RC r, const char *what);
/* After an attempt that failed: true (once per call) when tpm_rv found that
 * the TPM lost what this process kept loaded (it was restarted, or cleared)
 * and dropped it, so the attempt can run again from scratch. Locals holding
 * ESYS_TRs must be reset to ESYS_TR_NONE before the next attempt. */
bool tpm_retry_inlock (tpm *t, CK_RV rv);
/* For a call that creates objects before it uses what this process keeps
 * loaded (attestation): when the TPM was restarted or cleared since the last
 * call, drops that state now (as a failed command would, logged) so that
 * nothing this call creates is left behind when the stale state fails it.
 * One TPM command (ReadClock) when state is kept, none otherwise. */
void tpm_check_state_inlock (tpm *t, const char *what);
CK_RV tpm_connect_inlock (tpm *t);
/* A persistent or NV handle is defined in the TPM (one GetCapability). */
bool tpm_handle_exists_inlock (tpm *t, TPM2_HANDLE handle);
/* Connects and makes sure the SRK (t->srk) is usable. */
CK_RV tpm_srk_inlock (tpm *t);
/* The shared salted HMAC session (t->session) with the given extra attributes
 * (TPMA_SESSION_DECRYPT / ENCRYPT) for the next command. */
CK_RV tpm_session_inlock (tpm *t, TPMA_SESSION attrs);
/* After a failed command that used t->session: drops the session if it may be gone. */
void tpm_session_failed (tpm *t, CK_RV rv);
CK_RV tpm_auth_from_secbuf (const secbuf *auth, TPM2B_AUTH *out);
/* Handle bookkeeping for leases: call begin before a command that creates a
 * transient object or session, end after it with what it created (or
 * ESYS_TR_NONE); tpm_flush_inlock flushes a handle (NONE-safe) and forgets it. */
void tpm_track_begin (tpm *t);
void tpm_track_end (tpm *t, ESYS_TR h);
void tpm_flush_inlock (tpm *t, ESYS_TR *h);
/* Key k loaded, from the cache when it is there, with its auth set; release
 * with tpm_key_put_inlock (wipes the auth, keeps or flushes the object). */
CK_RV tpm_key_get_inlock (tpm *t, const tpm_key *k, ESYS_TR *h);
void tpm_key_put_inlock (tpm *t, ESYS_TR *h);
/* The cache entry of loaded key h, NULL when it is not cached. */
struct tpm_cached *tpm_cache_find (tpm *t, ESYS_TR h);
/* Flushes every cached key: before commands that need more than one free
 * object slot (a TPM may have only 3; the SRK and cached keys hold some). A
 * command failing with TPM2_RC_OBJECT_MEMORY is a sign one is missing. */
void tpm_cache_flush_inlock (tpm *t);
/* Starts the hot path's session unless it runs: before Tss2_Sys_<Cmd>_Prepare. */
CK_RV tpm_fast_begin_inlock (tpm *t);
/* Prepares (prep, given the key's TPM handle) and runs a command on key k,
 * loaded as h, again when the TPM asks for it: with the hot path's session
 * (see tpm-fast.c), or for a PCR-bound key a policy session of its own
 * (PolicyPCR AND PolicyAuthValue) run the same way, never through ESAPI (which
 * would keep the key's authValue in its session). On success the response
 * waits in *sys for Tss2_Sys_<Cmd>_Complete. */
typedef TSS2_RC (*tpm_fast_prep) (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg);
CK_RV tpm_fast_call_inlock (tpm *t, ESYS_TR h, TPM2_CC cc, tpm_fast_prep prep, void *arg,
                            const tpm_key *k, bool encrypt, const char *what,
                            TSS2_SYS_CONTEXT **sys);
/* Wipes the decrypted first response parameter left in the SAPI context's
 * buffer, once _Complete has copied it out. */
void tpm_fast_wipe_response (TSS2_SYS_CONTEXT *sys);
/* NV_Read (size bytes into out) or NV_Increment of an index that authorizes
 * itself with an empty auth, whose Name the caller gives (core/tpm/fast.c). */
CK_RV tpm_fast_nv_inlock (tpm *t, TPM2_HANDLE index, const TPM2B_NAME *name, bool increment,
                          uint8_t *out, uint16_t size);
/* Ends that session (flush: tell the TPM too). */
void tpm_fast_release_inlock (tpm *t, bool flush);
/* Loads a blob under the SRK and sets its auth (auth may be NULL). */
CK_RV tpm_load_inlock (tpm *t, const tpm_blob *pub, const tpm_blob *priv, const secbuf *auth,
                       ESYS_TR *out);
/* Wipes ESAPI's copy of the handle's auth and flushes it; NONE-safe. */
void tpm_unload_inlock (tpm *t, ESYS_TR *h);
CK_RV tpm_blob_unmarshal (const tpm_blob *pub, const tpm_blob *priv, TPM2B_PUBLIC *p,
                          TPM2B_PRIVATE *s);
CK_RV tpm_blob_marshal (const TPM2B_PUBLIC *p, const TPM2B_PRIVATE *s, tpm_blob *pub,
                        tpm_blob *priv);
TPML_PCR_SELECTION tpm_pcr_selection (tpm_pcrs pcrs);
CK_RV tpm_pcr_read_inlock (tpm *t, tpm_pcrs pcrs, uint8_t *values, size_t *len);
/* The session authorizing key k in the next command (shared, or a policy
 * session for a PCR-bound key); tpm_key_session_done after the command. */
CK_RV tpm_key_session_inlock (tpm *t, const tpm_key *k, TPMA_SESSION attrs, ESYS_TR *s);
void tpm_key_session_done (tpm *t, const tpm_key *k, ESYS_TR *s, CK_RV rv);

/* What the files of the TPM layer share besides the above, by file. */
/* conn.c: flushes the least recently used cached key (not the one in use);
 * false when none is cached. */
bool tpm_cache_evict_inlock (tpm *t);
/* The ESAPI context's SAPI context, NULL when not connected. */
TSS2_SYS_CONTEXT *tpm_sys_of (tpm *t);
/* A flush through SAPI whose failure the caller cannot act on (a lost TPM
 * still closes the connection), then forgets the handle in the lease. */
void tpm_sys_flush (tpm *t, TSS2_SYS_CONTEXT *sys, TPM2_HANDLE handle);
/* Ends one of our SAPI sessions (flush: tell the TPM too); wipes its key. */
void tpm_sess_release_inlock (tpm *t, struct tpm_fast *s, bool flush);
/* After an ESAPI command with a response-encrypted secret: wipes what ESAPI
 * decrypted in place in the SAPI buffer (it frees it unwiped later). */
void tpm_esys_wipe_response (tpm *t);
/* session.c: starts a session, salted with the SRK (AES-128-CFB) or plain (a
 * trial session), recorded in the lease. */
CK_RV tpm_start_session_inlock (tpm *t, TPM2_SE type, bool salted, ESYS_TR *s, const char *what);
/* cache.c: after a command, true when it failed for want of an object slot
 * and a cached key was flushed to make room (the caller retries). */
bool tpm_evicted_for (tpm *t, TSS2_RC r);
/* seal.c: Esys_Create under the SRK in the salted session with command
 * parameter encryption (the sensitive part travels encrypted); the policy, if
 * any, replaces userWithAuth; marshals the result (out_pub: Esys_Free). */
CK_RV tpm_create (tpm *t, const TPM2B_SENSITIVE_CREATE *in, TPM2B_PUBLIC *tmpl,
                  const tpm_policy *pol, const char *what, tpm_blob *pub, tpm_blob *priv,
                  TPM2B_PUBLIC **out_pub);
/* ec.c: the public point (04||X||Y) of an ECC public area. */
CK_RV tpm_ec_point_from_public (const TPM2B_PUBLIC *p, uint8_t *point, size_t *point_len);

#endif
