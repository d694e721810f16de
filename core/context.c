/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every part of the core shares and module.c owns: the module's TPM, the
 * store (opened on first use) and the handle counter. Below object.c, ops.c
 * and token.c, which use it; module.c sets it up, tears it down and takes it
 * across a fork. Calls nothing above it.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LOG_MODULE "module"
#include "base/config-file.h"
#include "internal.h"

static struct {
    tpm *tpm;
    store *st;
    pthread_mutex_t store_lock; /* the first open of the store */
    CK_ULONG next_handle;
} C = { .store_lock = PTHREAD_MUTEX_INITIALIZER };

tpm *
core_tpm (void)
{
    return C.tpm;
}

CK_OBJECT_HANDLE
core_next_handle (void)
{
    return __atomic_add_fetch (&C.next_handle, 1, __ATOMIC_RELAXED);
}

static const char *
store_default_path (char *buf, size_t len)
{
    const char *env = getenv ("TPMTRUST_STORE");
    const char *xdg = getenv ("XDG_DATA_HOME");
    const char *home = getenv ("HOME");

    if (env != NULL && env[0] != '\0')
        return env;
    if (config_get ("store") != NULL)
        return config_get ("store");
    if (geteuid () == 0)
        snprintf (buf, len, "%s/tpmtrust/tpmtrust.sqlite3", LOCALSTATEDIR "/lib");
    else if (xdg != NULL && xdg[0] == '/')
        snprintf (buf, len, "%s/tpmtrust/tpmtrust.sqlite3", xdg);
    else
        snprintf (buf, len, "%s/.local/share/tpmtrust/tpmtrust.sqlite3", home ? home : "");
    return buf;
}

CK_RV
core_store (store **out)
{
    char buf[4096];
    CK_RV rv = CKR_OK;
    store *st = __atomic_load_n (&C.st, __ATOMIC_ACQUIRE);

    /* Once open, without store_lock: callers inside a store transaction come
     * here too, and must not wait on a lock context_fork_prepare holds. */
    if (st != NULL) {
        *out = st;
        return CKR_OK;
    }
    pthread_mutex_lock (&C.store_lock);
    if (C.st == NULL) {
        rv = store_open (store_default_path (buf, sizeof buf), &st);
        __atomic_store_n (&C.st, st, __ATOMIC_RELEASE);
    }
    *out = C.st;
    pthread_mutex_unlock (&C.store_lock);
    return rv;
}

void
context_set_tpm (tpm *t)
{
    C.tpm = t;
}

void
context_close (void)
{
    tpm_free (C.tpm);
    C.tpm = NULL;
    store_close (C.st);
    C.st = NULL;
}

void
context_fork_prepare (void)
{
    pthread_mutex_lock (&C.store_lock);
    store_fork_prepare (C.st);
}

void
context_fork_parent (void)
{
    store_fork_parent (C.st);
    pthread_mutex_unlock (&C.store_lock);
}

void
context_fork_child (void)
{
    pthread_mutex_init (&C.store_lock, NULL);
}

tpm *
context_forget (void)
{
    tpm *t = C.tpm;
    tpm_forget (t); /* the parent's connection, unused */
    C.st = NULL;    /* the parent's store handle, unused */
    C.tpm = NULL;
    return t;
}
