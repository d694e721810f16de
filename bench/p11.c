/* SPDX-License-Identifier: BSD-2-Clause */
/* A PKCS#11 module in a sub-mode child: loading, the token, sessions, keys
 * and the signing loops (one thread or two). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

CK_FUNCTION_LIST *F;
static CK_SLOT_ID slot;

bool
ck_ok (CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return true;
    fprintf (stderr, "tpmtrust-bench: %s: rv 0x%lx\n", what, (unsigned long) rv);
    return false;
}

bool
bench_load (void)
{
    return F != NULL || module_load ("tpmtrust-bench", module_path, &F);
}

bool
module_init (void)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    return ck_ok (F->C_Initialize (&args), "C_Initialize");
}

bool
find_slot (void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = N_ELEM (slots);
    if (!ck_ok (F->C_GetSlotList (CK_TRUE, slots, &n), "C_GetSlotList"))
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33];
        size_t len;
        if (F->C_GetTokenInfo (slots[i], &ti) != CKR_OK)
            continue;
        memcpy (label, ti.label, 32);
        label[32] = '\0';
        len = 32;
        while (len > 0 && label[len - 1] == ' ')
            label[--len] = '\0';
        if (strcmp (label, token_label) == 0) {
            slot = slots[i];
            return true;
        }
    }
    fprintf (stderr, "tpmtrust-bench: %s: no token labelled '%s'\n", module_path, token_label);
    return false;
}

bool
open_session (CK_SESSION_HANDLE *s)
{
    return ck_ok (F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s),
                  "C_OpenSession");
}

bool
user_login (CK_SESSION_HANDLE s)
{
    CK_RV rv = F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) pin, (CK_ULONG) strlen (pin));
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    return ck_ok (rv, "C_Login");
}

/* C_Initialize, the token, one session, C_Login. */
bool
module_open (CK_SESSION_HANDLE *s)
{
    return bench_load () && module_init () && find_slot () && open_session (s) && user_login (*s);
}

/* 1 found, 0 not there, -1 error. */
int
find_key (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *) label, (CK_ULONG) strlen (label) },
    };
    CK_ULONG n = 0;
    if (!ck_ok (F->C_FindObjectsInit (s, tmpl, N_ELEM (tmpl)), "C_FindObjectsInit"))
        return -1;
    if (!ck_ok (F->C_FindObjects (s, out, 1, &n), "C_FindObjects")) {
        F->C_FindObjectsFinal (s);
        return -1;
    }
    F->C_FindObjectsFinal (s);
    return n == 1;
}

const struct kind kinds[K_N] = {
    [K_ECDSA] = { "ecdsa", CKM_ECDSA, CKO_PRIVATE_KEY, "bench-ec", 32, 1 },
    [K_HMAC] = { "hmac", CKM_SHA256_HMAC, CKO_SECRET_KEY, "bench-hmac", 64, 3 },
    [K_ED] = { "ed", CKM_EDDSA, CKO_PRIVATE_KEY, "bench-ed", 32, 2 },
};

int
kind_of (const char *name)
{
    for (int k = 0; k < K_N; k++)
        if (strcmp (kinds[k].name, name) == 0)
            return k;
    return -1;
}

bool
op_ck_sign (void *p)
{
    struct sign_arg *a = p;
    CK_MECHANISM m = { kinds[a->kind].mech, NULL, 0 };
    CK_BYTE in[64], sig[256];
    CK_ULONG n = sizeof sig;
    memset (in, 0x3c, sizeof in);
    if (!ck_ok (F->C_SignInit (a->s, &m, a->key), "C_SignInit"))
        return false;
    return ck_ok (F->C_Sign (a->s, in, kinds[a->kind].in_len, sig, &n), "C_Sign");
}

static void *
sign_thread (void *p)
{
    struct sign_arg *a = p;
    while (now () < a->deadline) {
        if (!op_ck_sign (a)) {
            a->failed = true;
            break;
        }
        a->count++;
    }
    return NULL;
}

/* nthreads sessions signing in parallel for secs seconds; total ops/s. */
double
threaded_rate (const struct sign_arg *proto, const CK_SESSION_HANDLE *sessions, int nthreads)
{
    pthread_t th[2];
    struct sign_arg a[2];
    double t0, t1;
    long total = 0;
    for (int i = 0; i < nthreads; i++) {
        a[i] = *proto;
        a[i].s = sessions[i];
        a[i].count = 0;
        a[i].failed = false;
        if (!op_ck_sign (&a[i])) /* warm-up */
            return V_ERROR;
    }
    t0 = now ();
    for (int i = 0; i < nthreads; i++) {
        a[i].deadline = t0 + secs;
        pthread_create (&th[i], NULL, sign_thread, &a[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join (th[i], NULL);
    t1 = now ();
    for (int i = 0; i < nthreads; i++) {
        if (a[i].failed)
            return V_ERROR;
        total += a[i].count;
    }
    return (double) total / (t1 - t0);
}
