/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-slots MODULE MODE ARGS - slots that other processes change, and fork.
 * Driven by tests/integration/slots.sh (through tpm2-abrmd: several processes
 * on one TPM).
 *
 *   race PREFIX N STOPFILE   8 threads list slots (tokenPresent TRUE and FALSE)
 *                            until STOPFILE exists, while another process makes
 *                            N tokens labelled PREFIX<i>; then every one of
 *                            them must be listed, present, and open a session
 *   removed LABEL DEL NEW    a session on token LABEL; the shell command DEL
 *                            deletes the token in another process: the slot
 *                            stays listed with tokenPresent FALSE only, the
 *                            session answers CKR_DEVICE_REMOVED but closes;
 *                            NEW makes LABEL again: it comes back in a slot of
 *                            its own
 *   fork TOKEN PIN           threads sign, search, create and destroy objects
 *                            while the main thread forks 16 times; each child
 *                            must find the module uninitialized, initialize
 *                            it, list slots and open and close sessions,
 *                            within 30 s (no lock inherited held). The child
 *                            makes no TPM command: swtpm serves one connection
 *                            (the parent's), and tpm2-abrmd's TCTI cannot be
 *                            used in a forked child of a process that used it
 *                            (GDBus has no worker thread there). Under ASan
 *                            the forks fall between the workers' rounds
 *                            (fork_quiet: ASan's allocator is not fork-safe)
 *
 *   finalize TOKEN PIN       two threads sign in a loop while the main thread
 *                            calls C_Finalize, 5 times: C_Finalize waits for
 *                            the calls in progress (no use after free: run it
 *                            under ASan), the threads then get
 *                            CKR_CRYPTOKI_NOT_INITIALIZED
 *
 *   survive TOKEN PIN MARK S sign in a loop for S seconds while the shell
 *                            restarts tpm2-abrmd, then creates the file MARK:
 *                            the process must sign again after MARK, in the
 *                            same session (errors in between: CKR_DEVICE_ERROR)
 *
 *   forkdbus TOKEN PIN       through tpm2-abrmd: a child forked after the parent
 *                            used the TPM cannot reach it (GLib's D-Bus does
 *                            not survive fork): its C_Login must fail at once
 *                            with CKR_DEVICE_ERROR (not after tpm2-abrmd's 25 s
 *                            D-Bus timeout: alarm (10) ends it otherwise); the
 *                            parent signs on
 *
 * Also checks (every mode) that no interface claims CKF_INTERFACE_FORK_SAFE
 * and that C_GetInterface asked for it finds none. Prints "ok"/"not ok" lines;
 * exits 0 only when all passed.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/ck.h"
#include "tests/module/helpers.h"

static CK_FUNCTION_LIST *F;
static const char *module_path;
static int failures;
static bool stop; /* atomic */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        bool c_ = (cond);                                                                          \
        printf ("%s - ", c_ ? "ok" : "not ok");                                                    \
        printf (__VA_ARGS__);                                                                      \
        printf ("\n");                                                                             \
        fflush (stdout);                                                                           \
        failures += !c_;                                                                           \
    } while (0)

static bool
label_is (const CK_TOKEN_INFO *ti, const char *label)
{
    CK_UTF8CHAR want[32];
    pad32 (want, label);
    return memcmp (ti->label, want, 32) == 0;
}

/* The slot ids of slots whose token is labelled label (initialized). */
static CK_ULONG
slots_labelled (CK_BBOOL present, const char *label, CK_SLOT_ID *out, CK_ULONG max)
{
    CK_SLOT_ID list[256];
    CK_ULONG n = 256, found = 0;

    if (F->C_GetSlotList (present, list, &n) != CKR_OK)
        return 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (F->C_GetTokenInfo (list[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED)
            && label_is (&ti, label) && found < max)
            out[found++] = list[i];
    }
    return found;
}

static void
check_interfaces (void)
{
    CK_INTERFACE list[8];
    CK_ULONG n = 8;
    CK_INTERFACE *iface = (CK_INTERFACE *) 1;
    CK_RV (*get_list) (CK_INTERFACE_PTR, CK_ULONG_PTR);
    CK_RV (*get) (CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);
    CK_FLAGS all = 0;

    void *dl = dlopen (module_path, RTLD_NOW | RTLD_NOLOAD);

    *(void **) &get_list = dl ? dlsym (dl, "C_GetInterfaceList") : NULL;
    *(void **) &get = dl ? dlsym (dl, "C_GetInterface") : NULL;
    if (get_list == NULL || get == NULL) {
        CHECK (false, "C_GetInterfaceList and C_GetInterface are exported");
        return;
    }
    CHECK (get_list (list, &n) == CKR_OK && n >= 1, "C_GetInterfaceList: %lu interfaces", n);
    for (CK_ULONG i = 0; i < n && i < 8; i++)
        all |= list[i].flags;
    CHECK (!(all & CKF_INTERFACE_FORK_SAFE), "no interface claims CKF_INTERFACE_FORK_SAFE");
    CHECK (get (NULL, NULL, &iface, CKF_INTERFACE_FORK_SAFE) != CKR_OK
               && iface == (CK_INTERFACE *) 1,
           "C_GetInterface (flags CKF_INTERFACE_FORK_SAFE) finds no interface");
    CHECK (get (NULL, NULL, &iface, 0) == CKR_OK && iface != NULL,
           "C_GetInterface (flags 0) finds one");
}

/* --- race --- */

static void *
lister (void *arg)
{
    unsigned long *calls = arg;
    while (!__atomic_load_n (&stop, __ATOMIC_RELAXED)) {
        CK_SLOT_ID list[256];
        CK_ULONG n = 256;
        CK_RV rv = F->C_GetSlotList ((*calls & 1) ? CK_TRUE : CK_FALSE, list, &n);
        if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL) {
            printf ("# C_GetSlotList: 0x%lx\n", rv);
            break;
        }
        (*calls)++;
    }
    return NULL;
}

static int
mode_race (const char *prefix, int want, const char *stopfile)
{
    pthread_t t[8];
    unsigned long calls[8] = { 0 };
    int present = 0, opened = 0, all_listed = 0;
    CK_SLOT_ID slot;

    for (int i = 0; i < 8; i++)
        pthread_create (&t[i], NULL, lister, &calls[i]);
    for (int waited = 0; access (stopfile, F_OK) != 0 && waited < 2400; waited++)
        usleep (50 * 1000);
    __atomic_store_n (&stop, true, __ATOMIC_RELAXED);
    for (int i = 0; i < 8; i++)
        pthread_join (t[i], NULL);
    printf ("# %lu C_GetSlotList calls in each of 8 threads (first)\n", calls[0]);
    CHECK (calls[0] > 0 && calls[7] > 0, "the listing threads ran");
    for (int i = 0; i < want; i++) {
        char label[33];
        CK_SLOT_INFO si;
        CK_SESSION_HANDLE s;
        snprintf (label, sizeof label, "%s%d", prefix, i);
        if (slots_labelled (CK_TRUE, label, &slot, 1) != 1) {
            printf ("# token %s is not listed with tokenPresent TRUE\n", label);
            continue;
        }
        present++;
        if (F->C_GetSlotInfo (slot, &si) == CKR_OK && (si.flags & CKF_TOKEN_PRESENT))
            all_listed++;
        if (F->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK) {
            opened += F->C_CloseSession (s) == CKR_OK;
        }
    }
    CHECK (present == want, "all %d tokens made meanwhile are listed (%d)", want, present);
    CHECK (all_listed == want, "their slots say CKF_TOKEN_PRESENT (%d)", all_listed);
    CHECK (opened == want, "each opens and closes a session (%d)", opened);
    return 0;
}

/* --- removed --- */

static int
mode_removed (const char *label, const char *del, const char *make)
{
    CK_SLOT_ID slot, again[4], listed[4];
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_SLOT_INFO sl;
    CK_TOKEN_INFO ti;
    CK_ULONG n;

    if (slots_labelled (CK_TRUE, label, &slot, 1) != 1) {
        CHECK (false, "token %s is listed", label);
        return 0;
    }
    CHECK (F->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK,
           "a session on %s", label);
    CHECK (system (del) == 0, "another process deletes it: %s", del);
    n = slots_labelled (CK_TRUE, label, listed, 4);
    CHECK (n == 0, "tokenPresent TRUE: the slot is no longer listed (%lu)", n);
    {
        CK_SLOT_ID list[256];
        CK_ULONG m = 256;
        bool there = false;
        CHECK (F->C_GetSlotList (CK_FALSE, list, &m) == CKR_OK, "C_GetSlotList (FALSE)");
        for (CK_ULONG i = 0; i < m; i++)
            there |= list[i] == slot;
        CHECK (there, "tokenPresent FALSE: slot %lu still listed", slot);
    }
    CHECK (F->C_GetSlotInfo (slot, &sl) == CKR_OK && !(sl.flags & CKF_TOKEN_PRESENT),
           "C_GetSlotInfo: no CKF_TOKEN_PRESENT (flags 0x%lx)", sl.flags);
    CHECK (F->C_GetTokenInfo (slot, &ti) == CKR_TOKEN_NOT_PRESENT,
           "C_GetTokenInfo: CKR_TOKEN_NOT_PRESENT");
    CHECK (F->C_GetSessionInfo (s, &si) == CKR_DEVICE_REMOVED,
           "the session answers CKR_DEVICE_REMOVED");
    CHECK (F->C_CloseSession (s) == CKR_OK, "and closes (CKR_OK)");
    CHECK (F->C_CloseSession (s) == CKR_SESSION_HANDLE_INVALID, "once");
    CHECK (system (make) == 0, "another process makes %s again: %s", label, make);
    n = slots_labelled (CK_TRUE, label, again, 4);
    CHECK (n == 1 && again[0] != slot, "it is listed again, in a new slot (%lu, slot %lu)", n,
           n ? again[0] : 0);
    if (n == 1) {
        CHECK (F->C_OpenSession (again[0], CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK,
               "a session on the new token");
        CHECK (F->C_CloseSession (s) == CKR_OK, "closed");
    }
    return 0;
}

/* --- fork --- */

static const char *fork_token, *fork_pin;

/* GCC 12's ASan allocator keeps its own locks, which it does not take across
 * fork (glibc's malloc does): a child forked while another thread is inside
 * malloc hangs in ASan, not in the module. Under ASan the workers therefore
 * hold this shared for each round and the main thread takes it exclusive to
 * fork: the children still inherit sessions, cached keys and a store used by
 * several threads, but no thread is mid-call. Without ASan it is never taken. */
#ifdef __SANITIZE_ADDRESS__
#define FORK_QUIESCE 1
#else
#define FORK_QUIESCE 0
#endif
static pthread_rwlock_t fork_quiet = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

/* An ECDSA signature with the token's first EC private key, verified with
 * OpenSSL against its CKA_PUBLIC_KEY_INFO. */
static bool
sign_and_verify (CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt } };
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_OBJECT_HANDLE key;
    CK_ULONG n = 0, sig_len = 128, spki_len = 0;
    CK_BYTE msg[] = "signed across a fork", sig[128], *spki = NULL;
    bool ok;

    if (F->C_FindObjectsInit (s, tmpl, 2) != CKR_OK)
        return false;
    ok = F->C_FindObjects (s, &key, 1, &n) == CKR_OK && n == 1;
    F->C_FindObjectsFinal (s);
    ok = ok && F->C_SignInit (s, &m, key) == CKR_OK
         && F->C_Sign (s, msg, sizeof msg, sig, &sig_len) == CKR_OK
         && get_attr_alloc (F, s, key, CKA_PUBLIC_KEY_INFO, &spki, &spki_len) == CKR_OK;
    ok = ok && ossl_ecdsa_verify (spki, spki_len, msg, sizeof msg, sig, sig_len);
    free (spki);
    return ok;
}

static void *
worker (void *arg)
{
    CK_SESSION_HANDLE s;
    unsigned long *rounds = arg;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    char label[] = "fork-data";
    CK_ATTRIBUTE data[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_TOKEN, &yes, sizeof yes },
                            { CKA_LABEL, label, sizeof label - 1 },
                            { CKA_VALUE, label, sizeof label - 1 } };

    if (open_user_session (F, fork_token, fork_pin, &s) != CKR_OK
        && open_user_session (F, fork_token, fork_pin, &s) != CKR_USER_ALREADY_LOGGED_IN)
        return NULL;
    while (!__atomic_load_n (&stop, __ATOMIC_RELAXED)) {
        CK_OBJECT_HANDLE h;
        if (FORK_QUIESCE)
            pthread_rwlock_rdlock (&fork_quiet);
        if (!sign_and_verify (s))
            printf ("# parent thread: a signature failed\n");
        if (F->C_CreateObject (s, data, 4, &h) == CKR_OK)
            F->C_DestroyObject (s, h);
        if (FORK_QUIESCE)
            pthread_rwlock_unlock (&fork_quiet);
        (*rounds)++;
    }
    F->C_CloseSession (s);
    return NULL;
}

static int
child (void)
{
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_ULONG n = 0;
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_SLOT_ID slots[16];
    int opened = 0;

    alarm (30); /* a deadlock ends the child with SIGALRM */
    if (F->C_GetSlotList (CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 10;
    if (F->C_Initialize (&init) != CKR_OK)
        return 11;
    /* No TPM command (not C_GetTokenInfo: the lockout counters; not a search:
     * public rows are authenticated with a TPM-sealed key): the store, the
     * slot table and the session table, which other threads held at the fork. */
    n = 16;
    if (F->C_GetSlotList (CK_TRUE, slots, &n) != CKR_OK)
        return 12;
    for (CK_ULONG i = 0; i < n; i++) {
        if (F->C_OpenSession (slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
            continue;
        if (F->C_GetSessionInfo (s, &si) != CKR_OK || si.slotID != slots[i]
            || F->C_CloseSession (s) != CKR_OK)
            return 13;
        opened++;
    }
    if (opened == 0)
        return 14;
    return F->C_Finalize (NULL) == CKR_OK ? 0 : 15;
}

static int
mode_fork (const char *token, const char *pin)
{
    pthread_t t[3];
    unsigned long rounds[3] = { 0 };
    int good = 0;
    CK_SESSION_HANDLE s;

    fork_token = token;
    fork_pin = pin;
    if (FORK_QUIESCE)
        printf ("# ASan build: each fork between two of the workers' rounds (see fork_quiet)\n");
    CHECK (open_user_session (F, token, pin, &s) == CKR_OK && sign_and_verify (s),
           "parent: a verified signature");
    for (int i = 0; i < 3; i++)
        pthread_create (&t[i], NULL, worker, &rounds[i]);
    for (int i = 0; i < 16; i++) {
        int st = 0;
        pid_t pid;
        usleep ((useconds_t) (20000 + 7919 * i % 50000));
        fflush (stdout);
        if (FORK_QUIESCE)
            pthread_rwlock_wrlock (&fork_quiet);
        pid = fork ();
        if (pid == 0)
            _exit (child ());
        if (FORK_QUIESCE)
            pthread_rwlock_unlock (&fork_quiet);
        while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
            good++;
        else if (WIFSIGNALED (st))
            printf ("# child %d: signal %d%s\n", i, WTERMSIG (st),
                    WTERMSIG (st) == SIGALRM ? " (hung for 30 s)" : "");
        else
            printf ("# child %d: exit %d\n", i, WEXITSTATUS (st));
    }
    __atomic_store_n (&stop, true, __ATOMIC_RELAXED);
    for (int i = 0; i < 3; i++)
        pthread_join (t[i], NULL);
    printf ("# parent threads ran %lu, %lu, %lu rounds\n", rounds[0], rounds[1], rounds[2]);
    CHECK (rounds[0] + rounds[1] + rounds[2] > 16, "the parent's threads kept working");
    CHECK (good == 16, "16 children forked mid-work: each initialized, listed slots, opened "
                       "sessions (%d)",
           good);
    CHECK (sign_and_verify (s), "parent: a verified signature after the forks");
    return 0;
}

/* --- stale --- */

/* reinit: another process's C_InitToken (SO PIN), then C_InitPIN (NEWPIN). */
static int
mode_reinit (const char *label, const char *so_pin, const char *new_pin)
{
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_UTF8CHAR l[32];

    pad32 (l, label);
    CHECK (slots_labelled (CK_TRUE, label, &slot, 1) == 1, "reinit: token %s is listed", label);
    CHECK (F->C_InitToken (slot, (CK_UTF8CHAR_PTR) so_pin, strlen (so_pin), l) == CKR_OK,
           "reinit: C_InitToken");
    CHECK (F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) == CKR_OK
               && F->C_Login (s, CKU_SO, (CK_UTF8CHAR_PTR) so_pin, strlen (so_pin)) == CKR_OK
               && F->C_InitPIN (s, (CK_UTF8CHAR_PTR) new_pin, strlen (new_pin)) == CKR_OK,
           "reinit: C_InitPIN");
    F->C_CloseSession (s);
    return 0;
}

/* stale: this process is logged in and has signed when another process
 * (CMD) re-initializes the token and makes a key; then this process's first
 * call (FIRST: create, an object; setpin, C_SetPIN; sign, C_SignInit with its
 * old key) is refused with
 * CKR_SESSION_HANDLE_INVALID and writes nothing, its session closes, and a
 * new session logs in with NEWPIN and signs with the other process's key. */
static int
mode_stale (const char *token, const char *pin, const char *new_pin, const char *first,
            const char *cmd)
{
    CK_SESSION_HANDLE s, s2;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    char label[] = "stale-data";
    CK_ATTRIBUTE data[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_TOKEN, &yes, sizeof yes },
                            { CKA_LABEL, label, sizeof label - 1 } };
    CK_OBJECT_HANDLE h, key = CK_INVALID_HANDLE;
    CK_RV rv;
    bool setpin_first = strcmp (first, "setpin") == 0;

    CHECK (open_user_session (F, token, pin, &s) == CKR_OK && sign_and_verify (s),
           "stale: logged in, a verified signature");
    {
        CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &pk, sizeof pk } };
        CK_ULONG n = 0;
        CHECK (F->C_FindObjectsInit (s, t, 1) == CKR_OK
                   && F->C_FindObjects (s, &key, 1, &n) == CKR_OK && n == 1,
               "stale: the old key's handle");
        F->C_FindObjectsFinal (s);
    }
    CHECK (system (cmd) == 0, "another process re-initializes the token: %s", cmd);
    if (strcmp (first, "sign") == 0) {
        CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
        rv = F->C_SignInit (s, &m, key);
        CHECK (rv == CKR_SESSION_HANDLE_INVALID, "C_SignInit with the old token's key: 0x%lx", rv);
    } else if (setpin_first) {
        rv = F->C_SetPIN (s, (CK_UTF8CHAR_PTR) pin, strlen (pin), (CK_UTF8CHAR_PTR) "stale1",
                          6);
        CHECK (rv == CKR_SESSION_HANDLE_INVALID, "C_SetPIN on the old token: 0x%lx", rv);
    } else {
        rv = F->C_CreateObject (s, data, 3, &h);
        CHECK (rv == CKR_SESSION_HANDLE_INVALID, "C_CreateObject on the old token: 0x%lx", rv);
    }
    rv = F->C_CreateObject (s, data, 3, &h);
    CHECK (rv == CKR_SESSION_HANDLE_INVALID, "then the session is invalid: 0x%lx", rv);
    rv = F->C_SetPIN (s, (CK_UTF8CHAR_PTR) pin, strlen (pin), (CK_UTF8CHAR_PTR) "stale1", 6);
    CHECK (rv == CKR_SESSION_HANDLE_INVALID, "and C_SetPIN too: 0x%lx", rv);
    CHECK (F->C_CloseSession (s) == CKR_OK, "the old session closes");
    CHECK (open_user_session (F, token, pin, &s2) == CKR_PIN_INCORRECT,
           "the old PIN no longer logs in");
    CHECK (open_user_session (F, token, new_pin, &s2) == CKR_OK && sign_and_verify (s2),
           "the new PIN logs in and the other process's key signs (verified)");
    F->C_CloseSession (s2);
    return 0;
}

/* setpin: another process's C_SetPIN (OLD to NEW). */
static int
mode_setpin (const char *token, const char *old, const char *new_pin)
{
    CK_SESSION_HANDLE s;
    CHECK (open_user_session (F, token, old, &s) == CKR_OK
               && F->C_SetPIN (s, (CK_UTF8CHAR_PTR) old, strlen (old), (CK_UTF8CHAR_PTR) new_pin,
                               strlen (new_pin))
                      == CKR_OK,
           "setpin: C_SetPIN");
    F->C_CloseSession (s);
    return 0;
}

/* pinmoved: this process has read the token (a session open) when another
 * (CMD) changes its PIN (and with it the token's counter): it logs in with
 * the new PIN (not refused as rolled back: its view is read again), signs, and
 * the old PIN no longer works. */
static int
mode_pinmoved (const char *token, const char *old, const char *new_pin, const char *cmd)
{
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    CK_RV rv;

    CHECK (find_token_slot (F, token, &slot)
               && F->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK,
           "pinmoved: a session, before the other process");
    CHECK (system (cmd) == 0, "another process changes the PIN: %s", cmd);
    rv = F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) new_pin, strlen (new_pin));
    CHECK (rv == CKR_OK, "the new PIN logs in on the session opened before: 0x%lx", rv);
    CHECK (rv == CKR_OK && sign_and_verify (s), "and signs (verified)");
    F->C_Logout (s);
    rv = F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) old, strlen (old));
    CHECK (rv == CKR_PIN_INCORRECT, "the old PIN does not: 0x%lx", rv);
    F->C_CloseSession (s);
    return 0;
}

/* --- finalize --- */

typedef struct signer {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    unsigned long signed_ok;
    CK_RV last;
} signer;

static void *
sign_loop (void *arg)
{
    signer *g = arg;
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE msg[] = "racing C_Finalize", sig[128];

    for (;;) {
        CK_ULONG sig_len = sizeof sig;
        CK_RV rv = F->C_SignInit (g->s, &m, g->key);
        if (rv == CKR_OK)
            rv = F->C_Sign (g->s, msg, sizeof msg, sig, &sig_len);
        __atomic_store_n (&g->last, rv, __ATOMIC_RELAXED);
        if (rv != CKR_OK)
            return NULL;
        __atomic_add_fetch (&g->signed_ok, 1, __ATOMIC_RELAXED);
    }
}

static int
mode_finalize (const char *token, const char *pin)
{
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls } };

    for (int round = 0; round < 5; round++) {
        signer g[2] = { { 0 } };
        pthread_t t[2];
        CK_ULONG n = 0;
        CK_RV rv;
        bool ready = true;

        if (round > 0 && F->C_Initialize (&init) != CKR_OK) {
            CHECK (false, "round %d: C_Initialize", round);
            return 0;
        }
        for (int i = 0; i < 2 && ready; i++) {
            rv = open_user_session (F, token, pin, &g[i].s);
            ready = (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
                    && F->C_FindObjectsInit (g[i].s, tmpl, 1) == CKR_OK
                    && F->C_FindObjects (g[i].s, &g[i].key, 1, &n) == CKR_OK && n == 1
                    && F->C_FindObjectsFinal (g[i].s) == CKR_OK;
        }
        if (!ready) {
            CHECK (false, "round %d: two sessions and the key", round);
            return 0;
        }
        for (int i = 0; i < 2; i++)
            pthread_create (&t[i], NULL, sign_loop, &g[i]);
        /* both are signing (each once at least), then a little later */
        for (int waited = 0; waited < 3000; waited++) {
            if (__atomic_load_n (&g[0].signed_ok, __ATOMIC_RELAXED) > 0
                && __atomic_load_n (&g[1].signed_ok, __ATOMIC_RELAXED) > 0)
                break;
            usleep (10 * 1000);
        }
        usleep (20 * 1000 + 7000 * round);
        rv = F->C_Finalize (NULL);
        for (int i = 0; i < 2; i++)
            pthread_join (t[i], NULL);
        CHECK (rv == CKR_OK, "round %d: C_Finalize while two threads sign: 0x%lx", round, rv);
        for (int i = 0; i < 2; i++)
            CHECK (g[i].signed_ok > 0
                       && (g[i].last == CKR_CRYPTOKI_NOT_INITIALIZED
                           || g[i].last == CKR_SESSION_HANDLE_INVALID),
                   "round %d: thread %d signed %lu times, then got 0x%lx", round, i,
                   g[i].signed_ok, g[i].last);
    }
    return 0;
}

/* --- forkdbus --- */

static int
mode_forkdbus (const char *token, const char *pin)
{
    CK_SESSION_HANDLE s;
    int st = 0;
    pid_t pid;

    fork_token = token;
    CHECK (open_user_session (F, token, pin, &s) == CKR_OK && sign_and_verify (s),
           "parent: a verified signature through tpm2-abrmd");
    fflush (stdout);
    pid = fork ();
    if (pid == 0) {
        CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
        CK_SESSION_HANDLE cs;
        CK_SLOT_ID slots[64];
        CK_ULONG n = 64;
        CK_RV rv;
        alarm (10);
        if (F->C_Initialize (&init) != CKR_OK || F->C_GetSlotList (CK_TRUE, slots, &n) != CKR_OK)
            _exit (10);
        /* the first slot with a session will do: C_Login is the TPM's first use */
        for (CK_ULONG i = 0; i < n; i++) {
            if (F->C_OpenSession (slots[i], CKF_SERIAL_SESSION, NULL, NULL, &cs) != CKR_OK)
                continue;
            rv = F->C_Login (cs, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
            _exit (rv == CKR_DEVICE_ERROR ? 0 : 11);
        }
        _exit (12);
    }
    while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECK (WIFEXITED (st) && WEXITSTATUS (st) == 0,
           "child: C_Login fails at once with CKR_DEVICE_ERROR (status 0x%x%s)", st,
           WIFSIGNALED (st) && WTERMSIG (st) == SIGALRM ? ": hung" : "");
    CHECK (sign_and_verify (s), "parent: signs on");
    return 0;
}

/* --- survive --- */

static int
mode_survive (const char *token, const char *pin, const char *mark, int seconds)
{
    signer g = { 0 };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls } };
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE msg[] = "through a tpm2-abrmd restart", sig[128];
    unsigned long before = 0, after = 0, failed = 0;
    CK_ULONG n = 0;
    CK_RV last_err = CKR_OK;
    double end = now () + seconds;

    if (open_user_session (F, token, pin, &g.s) != CKR_OK
        || F->C_FindObjectsInit (g.s, tmpl, 1) != CKR_OK
        || F->C_FindObjects (g.s, &g.key, 1, &n) != CKR_OK || n != 1
        || F->C_FindObjectsFinal (g.s) != CKR_OK) {
        CHECK (false, "a session and the key");
        return 0;
    }
    while (now () < end && after < 20) {
        CK_ULONG sig_len = sizeof sig;
        bool marked = access (mark, F_OK) == 0;
        CK_RV rv = F->C_SignInit (g.s, &m, g.key);
        if (rv == CKR_OK)
            rv = F->C_Sign (g.s, msg, sizeof msg, sig, &sig_len);
        if (rv == CKR_OK && marked)
            after++;
        else if (rv == CKR_OK)
            before++;
        else {
            failed++;
            last_err = rv;
            usleep (100 * 1000);
        }
    }
    printf ("# %lu signatures before the restart, %lu failed during it (last 0x%lx), %lu after\n",
            before, failed, last_err, after);
    CHECK (before > 0, "signed before the restart");
    CHECK (after > 0, "signed again after tpm2-abrmd came back, in the same process");
    CHECK (failed == 0 || last_err == CKR_DEVICE_ERROR,
           "failures in between are CKR_DEVICE_ERROR (0x%lx)", last_err);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: p11-slots MODULE race|removed|fork|finalize|forkdbus|reinit|"
                         "stale|setpin|pinmoved|survive ARGS\n");
        return 2;
    }
    module_path = argv[1];
    F = load_module (argv[1]);
    if (F == NULL)
        return 1;
    check_interfaces ();
    if (strcmp (argv[2], "race") == 0 && argc == 6)
        mode_race (argv[3], atoi (argv[4]), argv[5]);
    else if (strcmp (argv[2], "removed") == 0 && argc == 6)
        mode_removed (argv[3], argv[4], argv[5]);
    else if (strcmp (argv[2], "fork") == 0 && argc == 5)
        mode_fork (argv[3], argv[4]);
    else if (strcmp (argv[2], "finalize") == 0 && argc == 5)
        mode_finalize (argv[3], argv[4]);
    else if (strcmp (argv[2], "forkdbus") == 0 && argc == 5)
        mode_forkdbus (argv[3], argv[4]);
    else if (strcmp (argv[2], "reinit") == 0 && argc == 6)
        mode_reinit (argv[3], argv[4], argv[5]);
    else if (strcmp (argv[2], "setpin") == 0 && argc == 6)
        mode_setpin (argv[3], argv[4], argv[5]);
    else if (strcmp (argv[2], "pinmoved") == 0 && argc == 7)
        mode_pinmoved (argv[3], argv[4], argv[5], argv[6]);
    else if (strcmp (argv[2], "stale") == 0 && argc == 8)
        mode_stale (argv[3], argv[4], argv[5], argv[6], argv[7]);
    else if (strcmp (argv[2], "survive") == 0 && argc == 7)
        mode_survive (argv[3], argv[4], argv[5], atoi (argv[6]));
    else {
        fprintf (stderr, "p11-slots: bad arguments for mode %s\n", argv[2]);
        return 2;
    }
    F->C_Finalize (NULL);
    printf ("# p11-slots %s: %d failed\n", argv[2], failures);
    return failures ? 1 : 0;
}
