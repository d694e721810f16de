/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Module state: the slot and session tables, the TPM and the store. The module
 * lock guards these tables only; it is never held across a TPM or store call
 * (order: module lock, then token lock, then the tpm's own lock).
 */
#include "config.h"

#include <link.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_MODULE "module"
#include "base/config-file.h"
#include "internal.h"
#include "base/log.h"

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serialises slots_refresh: a store snapshot is applied before the next one
 * is read, so an older snapshot never undoes what a newer one adopted. Taken
 * before module_lock, never while holding it or a token lock. */
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* The call gate: every call that enters a slot or session (core_slot_enter,
 * core_session_enter, the slot list) holds it shared until core_leave;
 * C_Finalize takes it exclusive, so it waits for calls in progress instead of
 * freeing what they use, and calls that were waiting then find the module
 * finalized. Writers first: a stream of signatures cannot starve C_Finalize.
 * Taken before every other lock. */
static pthread_rwlock_t calls = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

/* What a forked child inherited from its parent and must not touch: the lists
 * may be mid-change (another thread of the parent held a token lock), the TPM
 * connection and store handle are the parent's. Kept reachable, never walked. */
typedef struct forsaken {
    struct forsaken *older;
    tt_token **slots;
    tt_session **sessions;
    tpm *tpm;
} forsaken;
static forsaken *inherited;

static struct {
    bool initialized;
    bool forked; /* we are a forked child of an initialized process */
    tt_token **slots;
    size_t n_slots;
    tt_session **sessions;
    size_t n_sessions;
    bool libp11; /* the process has libp11 (the OpenSSL engine) */
    bool enumerated; /* the slot table was filled once: later changes are slot events */
} M;

/* No thread of ours is inside sqlite at a fork (sqlite's global mutexes would
 * stay held in the child): context_fork_prepare waits out the store's first
 * open and then every store call. Lock order: module_lock, the store's open
 * lock, the store's own lock (a thread in a store transaction takes neither
 * of the others: core_store takes the open lock only before the store exists). */
static void
atfork_prepare (void)
{
    pthread_mutex_lock (&module_lock);
    context_fork_prepare ();
}

static void
atfork_parent (void)
{
    context_fork_parent ();
    pthread_mutex_unlock (&module_lock);
}

static void
atfork_child (void)
{
    pthread_mutex_init (&module_lock, NULL);
    pthread_mutex_init (&refresh_lock, NULL);
    context_fork_child ();
    calls = (pthread_rwlock_t) PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
    if (M.initialized) {
        M.forked = true;
        /* Every long-lived secret (token secrets, unsealed keys, session keys)
         * is in the secbuf arena: wipe it whole rather than walk object lists
         * another thread of the parent may have been changing. */
        secbuf_wipe_all_after_fork ();
    }
}

static void
atfork_register (void)
{
    pthread_atfork (atfork_prepare, atfork_parent, atfork_child);
}

CK_RV
core_check (void)
{
    /* read without a lock by every call: C_Initialize and C_Finalize write them */
    return __atomic_load_n (&M.initialized, __ATOMIC_ACQUIRE)
                   && !__atomic_load_n (&M.forked, __ATOMIC_ACQUIRE)
               ? CKR_OK
               : CKR_CRYPTOKI_NOT_INITIALIZED;
}

/* Shared hold of the call gate, for a call into an initialized module. */
static CK_RV
gate_enter (void)
{
    pthread_rwlock_rdlock (&calls);
    if (core_check () == CKR_OK)
        return CKR_OK;
    pthread_rwlock_unlock (&calls);
    return CKR_CRYPTOKI_NOT_INITIALIZED;
}

static void
gate_leave (void)
{
    pthread_rwlock_unlock (&calls);
}

static tt_token *
token_new (CK_SLOT_ID id)
{
    tt_token *tok = calloc (1, sizeof *tok);
    if (tok == NULL)
        return NULL;
    pthread_mutex_init (&tok->lock, NULL);
    tok->slot_id = id;
    tok->tpm = core_tpm (); /* set before any token is made, freed after all are */
    tok->close_sessions = core_token_close_sessions_inlock;
    tok->forget = token_forget_inlock;
    tok->login = TT_NOT_LOGGED_IN;
    return tok;
}

static tt_token *
slot_find_inlock (CK_SLOT_ID id)
{
    for (size_t i = 0; i < M.n_slots; i++)
        if (M.slots[i]->slot_id == id)
            return M.slots[i];
    return NULL;
}

static CK_RV
slot_append_inlock (tt_token *tok)
{
    tt_token **grown = realloc (M.slots, (M.n_slots + 1) * sizeof *grown);
    if (grown == NULL)
        return CKR_HOST_MEMORY;
    M.slots = grown;
    M.slots[M.n_slots++] = tok;
    return CKR_OK;
}

/* Brings the slot table up to date with the store: a slot per token, one empty slot. */
static CK_RV
slots_refresh (void)
{
    store_token *recs = NULL;
    size_t n = 0;
    store *st;
    CK_SLOT_ID max_id = 0;
    bool have_empty = false;
    CK_RV rv = core_store (&st);

    pthread_mutex_lock (&refresh_lock);
    if (rv == CKR_OK)
        rv = store_token_list (st, &recs, &n);
    if (rv != CKR_OK) {
        pthread_mutex_unlock (&refresh_lock);
        return rv;
    }
    pthread_mutex_lock (&module_lock);
    for (size_t i = 0; i < M.n_slots; i++) {
        tt_token *tok = M.slots[i];
        bool found = tok->rec.id == 0;
        for (size_t j = 0; j < n && !found; j++)
            found = recs[j].id == tok->rec.id;
        if (!found && !tok->removed)
            tok->removed = tok->event = true; /* deleted by another process; the slot stays */
        if (tok->rec.id == 0)
            have_empty = true;
        if (tok->slot_id > max_id)
            max_id = tok->slot_id;
    }
    for (size_t j = 0; j < n && rv == CKR_OK; j++) {
        bool known = false;
        tt_token *tok;
        CK_SLOT_ID id;
        /* A removed slot stays removed: a token made again under its id (by
         * another process) gets a slot of its own. */
        for (size_t i = 0; i < M.n_slots && !known; i++)
            known = !M.slots[i]->removed && M.slots[i]->rec.id == recs[j].id;
        if (known)
            continue;
        id = (CK_SLOT_ID) recs[j].id;
        if (slot_find_inlock (id) != NULL)
            id = max_id + 1; /* our empty slot holds that id: use a fresh one */
        tok = token_new (id);
        if (tok == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        tok->rec = recs[j];
        tok->event = M.enumerated; /* a token that appeared (another process made it) */
        memset (&recs[j], 0, sizeof recs[j]); /* adopted */
        if (tok->slot_id > max_id)
            max_id = tok->slot_id;
        rv = slot_append_inlock (tok);
        if (rv != CKR_OK)
            token_free (tok);
    }
    if (rv == CKR_OK && !have_empty) {
        tt_token *tok = token_new (max_id + 1);
        rv = tok ? slot_append_inlock (tok) : CKR_HOST_MEMORY;
        if (rv != CKR_OK)
            token_free (tok);
        else
            tok->event = M.enumerated; /* a new empty slot (the last one was initialized) */
    }
    if (rv == CKR_OK)
        M.enumerated = true;
    pthread_mutex_unlock (&module_lock);
    pthread_mutex_unlock (&refresh_lock);
    store_token_list_free (recs, n);
    return rv;
}

static int
find_libp11 (struct dl_phdr_info *info, size_t size, void *data)
{
    (void) size;
    (void) data;
    const char *n = info->dlpi_name;
    /* libp11 itself, or the OpenSSL engine that has it built in */
    return n != NULL
           && (strstr (n, "/libp11.so") != NULL
               || (strstr (n, "/engines") != NULL && strstr (n, "/pkcs11.so") != NULL));
}

bool
core_libp11_compat (void)
{
    return M.libp11;
}

CK_RV
core_initialize (void)
{
    CK_RV rv = CKR_OK;

    pthread_once (&atfork_once, atfork_register);
    if (sodium_init () < 0)
        return CKR_FUNCTION_FAILED;
    tt_log_init ();
    /* tpm2-tss logs its own WARNING/ERROR lines to stderr (e.g. 0x902 when a
     * full TPM makes us evict a key and retry, which is routine): our log says
     * what a failure means. Its lines come back with TPMTRUST_LOG=debug, or with
     * TSS2_LOG set by the user. Set here, before any TPM call: tpm2-tss reads it
     * once, at its first log line. */
    setenv ("TSS2_LOG", tt_log_level () >= TT_LOG_DEBUG ? "all+warning" : "all+none", 0);
    pthread_mutex_lock (&module_lock);
    if (M.initialized && !M.forked) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
    } else {
        if (M.forked) {
            /* The parent's slots, sessions, TPM connection and store handle are
             * not ours: set aside unused (their secrets were wiped at the fork). */
            forsaken *f = calloc (1, sizeof *f);
            if (f != NULL) {
                *f = (forsaken){ inherited, M.slots, M.sessions, context_forget () };
                inherited = f;
            } else {
                context_forget (); /* leaked: never used again */
            }
            M.slots = NULL;
            M.sessions = NULL;
            M.n_slots = M.n_sessions = 0;
            __atomic_store_n (&M.forked, false, __ATOMIC_RELEASE);
            M.enumerated = false;
        }
        M.libp11 = dl_iterate_phdr (find_libp11, NULL) != 0;
        if (M.libp11)
            LOG_INFO ("loaded by libp11: Ed25519 keys are left out of key searches by class "
                      "alone (libp11 0.4.12 gives up on every key when it meets one)");
        context_set_tpm (tpm_new ());
        if (core_tpm () == NULL)
            rv = CKR_HOST_MEMORY;
        else
            __atomic_store_n (&M.initialized, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock (&module_lock);
    return rv;
}

/* A process that exits without C_Finalize (many tools do, on errors) must not
 * leave our SRK or session loaded in a TPM without a resource manager. */
__attribute__ ((destructor)) static void
core_at_exit (void)
{
    if (M.initialized && !M.forked && core_tpm () != NULL)
        tpm_disconnect (core_tpm ());
}

CK_RV
core_finalize (void)
{
    CK_RV rv = core_check ();

    if (rv != CKR_OK)
        return rv;
    pthread_rwlock_wrlock (&calls); /* calls in progress end first */
    if (!M.initialized || M.forked) {
        pthread_rwlock_unlock (&calls); /* another thread's C_Finalize came first */
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    pthread_mutex_lock (&module_lock);
    for (size_t i = 0; i < M.n_sessions; i++) {
        session_ops_free (M.sessions[i]);
        free (M.sessions[i]);
    }
    for (size_t i = 0; i < M.n_slots; i++)
        token_free (M.slots[i]);
    free (M.sessions);
    free (M.slots);
    M.sessions = NULL;
    M.slots = NULL;
    M.n_sessions = M.n_slots = 0;
    M.enumerated = false;
    context_close ();
    __atomic_store_n (&M.initialized, false, __ATOMIC_RELEASE);
    pthread_mutex_unlock (&module_lock);
    pthread_rwlock_unlock (&calls);
    return CKR_OK;
}

CK_RV
core_slot_list (CK_BBOOL token_present, CK_SLOT_ID *list, CK_ULONG *count)
{
    CK_ULONG n = 0;
    CK_RV rv = gate_enter ();

    if (rv == CKR_OK && (rv = slots_refresh ()) != CKR_OK)
        gate_leave ();
    if (rv != CKR_OK)
        return rv;
    /* Every slot has a token, initialized or not, but the slot of a token
     * deleted by another process, which FALSE lists too (2.40 §5.5). */
    pthread_mutex_lock (&module_lock);
    for (size_t i = 0; i < M.n_slots; i++) {
        if (token_present && M.slots[i]->removed)
            continue;
        if (list != NULL && n < *count)
            list[n] = M.slots[i]->slot_id;
        n++;
    }
    pthread_mutex_unlock (&module_lock);
    gate_leave ();
    if (list != NULL && n > *count)
        rv = CKR_BUFFER_TOO_SMALL;
    *count = n;
    return rv;
}

CK_RV
core_slot_event (CK_SLOT_ID *slot)
{
    CK_RV rv = gate_enter ();

    if (rv == CKR_OK && (rv = slots_refresh ()) != CKR_OK)
        gate_leave ();
    if (rv != CKR_OK)
        return rv;
    rv = CKR_NO_EVENT;
    pthread_mutex_lock (&module_lock);
    for (size_t i = 0; i < M.n_slots && rv == CKR_NO_EVENT; i++) {
        if (M.slots[i]->event) {
            M.slots[i]->event = false;
            *slot = M.slots[i]->slot_id;
            rv = CKR_OK;
        }
    }
    pthread_mutex_unlock (&module_lock);
    gate_leave ();
    return rv;
}

CK_RV
core_slot_enter (CK_SLOT_ID slot, tt_token **out)
{
    tt_token *tok;
    CK_RV rv = gate_enter ();

    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock (&module_lock);
    tok = slot_find_inlock (slot);
    pthread_mutex_unlock (&module_lock);
    if (tok == NULL) {
        /* Consumers may pass a slot id before listing slots. */
        rv = slots_refresh ();
        if (rv != CKR_OK) {
            gate_leave ();
            return rv;
        }
        pthread_mutex_lock (&module_lock);
        tok = slot_find_inlock (slot);
        pthread_mutex_unlock (&module_lock);
    }
    if (tok == NULL) {
        gate_leave ();
        return CKR_SLOT_ID_INVALID;
    }
    pthread_mutex_lock (&tok->lock);
    *out = tok;
    return CKR_OK;
}

static tt_session *
session_find_inlock (CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < M.n_sessions; i++)
        if (M.sessions[i]->handle == h)
            return M.sessions[i];
    return NULL;
}

static CK_RV
session_enter (CK_SESSION_HANDLE h, bool removed_ok, tt_token **tok_out, tt_session **out)
{
    tt_session *sess;
    tt_token *tok;
    CK_RV rv = gate_enter ();

    if (rv != CKR_OK)
        return rv;
    pthread_mutex_lock (&module_lock);
    sess = session_find_inlock (h);
    tok = sess ? sess->token : NULL;
    pthread_mutex_unlock (&module_lock);
    if (tok == NULL) {
        gate_leave ();
        return CKR_SESSION_HANDLE_INVALID;
    }
    pthread_mutex_lock (&tok->lock);
    /* It may have been closed while we waited for the token. */
    pthread_mutex_lock (&module_lock);
    sess = session_find_inlock (h);
    pthread_mutex_unlock (&module_lock);
    if (sess == NULL || (!removed_ok && (tok->removed || sess->epoch != tok->epoch))) {
        pthread_mutex_unlock (&tok->lock);
        gate_leave ();
        /* a session of a token re-initialized by another process: invalid, but closable */
        return sess == NULL || sess->epoch != tok->epoch ? CKR_SESSION_HANDLE_INVALID
                                                         : CKR_DEVICE_REMOVED;
    }
    *tok_out = tok;
    *out = sess;
    return CKR_OK;
}

CK_RV
core_session_enter (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess)
{
    return session_enter (h, false, tok, sess);
}

CK_RV
core_session_enter_to_close (CK_SESSION_HANDLE h, tt_token **tok, tt_session **sess)
{
    return session_enter (h, true, tok, sess);
}

void
core_leave (tt_token *tok)
{
    pthread_mutex_unlock (&tok->lock);
    gate_leave ();
}

CK_RV
core_session_open_inlock (tt_token *tok, CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
    tt_session *sess, **grown;
    CK_RV rv;

    if (tok->removed)
        return CKR_TOKEN_NOT_PRESENT;
    if (tok->rec.id == 0)
        return CKR_TOKEN_NOT_RECOGNIZED;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (!(flags & CKF_RW_SESSION) && tok->login == CKU_SO)
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    rv = object_load_inlock (tok);
    if (rv != CKR_OK)
        return rv;
    sess = calloc (1, sizeof *sess);
    if (sess == NULL)
        return CKR_HOST_MEMORY;
    sess->token = tok;
    sess->epoch = tok->epoch;
    sess->flags = flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION);
    pthread_mutex_lock (&module_lock);
    grown = realloc (M.sessions, (M.n_sessions + 1) * sizeof *grown);
    if (grown != NULL) {
        M.sessions = grown;
        sess->handle = core_next_handle ();
        M.sessions[M.n_sessions++] = sess;
    }
    pthread_mutex_unlock (&module_lock);
    if (grown == NULL) {
        free (sess);
        return CKR_HOST_MEMORY;
    }
    tok->sessions++;
    if (flags & CKF_RW_SESSION)
        tok->rw_sessions++;
    *out = sess->handle;
    return CKR_OK;
}

CK_RV
core_session_close_inlock (tt_token *tok, tt_session *sess)
{
    pthread_mutex_lock (&module_lock);
    for (size_t i = 0; i < M.n_sessions; i++) {
        if (M.sessions[i] == sess) {
            M.sessions[i] = M.sessions[--M.n_sessions];
            break;
        }
    }
    pthread_mutex_unlock (&module_lock);
    object_drop_session_inlock (tok, sess->handle);
    tok->sessions--;
    if (sess->flags & CKF_RW_SESSION)
        tok->rw_sessions--;
    session_ops_free (sess);
    free (sess);
    if (tok->sessions == 0 && tok->login != TT_NOT_LOGGED_IN)
        token_logout_inlock (tok); /* the last session closed: the token logs out */
    return CKR_OK;
}

void
core_token_close_sessions_inlock (tt_token *tok)
{
    for (;;) {
        tt_session *sess = NULL;
        pthread_mutex_lock (&module_lock);
        for (size_t i = 0; i < M.n_sessions && sess == NULL; i++)
            if (M.sessions[i]->token == tok)
                sess = M.sessions[i];
        pthread_mutex_unlock (&module_lock);
        if (sess == NULL)
            break;
        core_session_close_inlock (tok, sess);
    }
}

CK_RV
core_session_info_inlock (tt_token *tok, tt_session *sess, CK_SESSION_INFO *info)
{
    bool rw = (sess->flags & CKF_RW_SESSION) != 0;

    info->slotID = tok->slot_id;
    info->flags = sess->flags;
    info->ulDeviceError = 0;
    if (tok->login == CKU_SO)
        info->state = CKS_RW_SO_FUNCTIONS;
    else if (tok->login == CKU_USER)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    return CKR_OK;
}
