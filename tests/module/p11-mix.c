/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-threads mix N SECONDS: N threads mix signing (ECDSA, HMAC, Ed25519),
 * object searches, and creating and destroying data objects and HMAC keys
 * (session and token objects) for SECONDS, on one or two tokens ($TT_TOKEN and,
 * if set, $TT_TOKEN2). The first threads (3 of 8) share one session; the others
 * have their own, which they close and reopen now and then. Every return code
 * is counted; any code outside the expected set is a failure.
 *
 * Expected codes. On a thread's own session: CKR_OK, except that reading an
 * object found by a search may give CKR_OBJECT_HANDLE_INVALID (another thread
 * destroyed it in between), and reading one's own destroyed object (or a
 * session object of one's closed session) must give exactly that code.
 * On the shared session: PKCS#11 keeps one active operation of each kind per
 * session, whichever thread started it, and leaves it to the application to
 * coordinate threads sharing a session. The module must serialize the calls
 * and keep the session's state consistent: C_SignInit and C_FindObjectsInit may
 * get CKR_OPERATION_ACTIVE, C_Sign, C_FindObjects and C_FindObjectsFinal may get
 * CKR_OPERATION_NOT_INITIALIZED; a C_Sign that succeeds may have used another
 * thread's key and mechanism, so its signature must verify over the caller's
 * data with one of the token's keys. Shared-session threads sign in one part
 * only (a multi-part operation cannot be attributed to one caller's data).
 *
 * Every signature is checked with OpenSSL; every object's value is derived
 * from its label (derive()), so anyone can check it. At the end the objects of
 * this process found on the token must be exactly those the threads created and
 * did not destroy. With TT_MIX_KEEP=1 the keys and objects stay (for
 * "mixcheck" and for other processes), else they are destroyed.
 *
 * p11-threads mixcheck: every object on the token(s) is usable: data objects
 * hold their derived value, HMAC keys give the HMAC of their derived key,
 * private keys sign and their public key (same CKA_ID) verifies with OpenSSL.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "tests/module/helpers.h"
#include "tests/module/p11-threads.h"

#define MIX_APP "tt-mix"
#define MAX_OWNED 128
#define MAX_TOKENS 2
#define MAX_MIX_THREADS 64
#define MAX_RVS 6
#define MAX_DATA 200
#define MAX_SIGN_DATA 2600 /* crosses the TPM's 1024-byte HMAC chunk */

static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };

static CK_FUNCTION_LIST_PTR F;

typedef struct mix_token {
    const char *label;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE login;  /* the main thread's: keeps the token logged in */
    CK_SESSION_HANDLE shared; /* used by several threads at once */
    CK_OBJECT_HANDLE ec, ec_pub, ed, ed_pub, hmac;
    EVP_PKEY *ec_pkey;
    CK_BYTE ed_pk[32];
    CK_BYTE hmac_key[32];
} mix_token;

enum {
    OP_OPEN,
    OP_CLOSE,
    OP_SIGN_INIT,
    OP_SIGN,
    OP_SIGN_UPDATE,
    OP_SIGN_FINAL,
    OP_FIND_INIT,
    OP_FIND,
    OP_FIND_FINAL,
    OP_GET_FOUND,
    OP_CREATE,
    OP_GET_OWN,
    OP_DESTROY,
    OP_GET_GONE,
    OP_SLOTS,
    OP_TOKEN_INFO,
    OP_N
};

static const char *const op_names[OP_N] = {
    "C_OpenSession",       "C_CloseSession",      "C_SignInit",
    "C_Sign",              "C_SignUpdate",        "C_SignFinal",
    "C_FindObjectsInit",   "C_FindObjects",       "C_FindObjectsFinal",
    "C_GetAttributeValue (found)", "C_CreateObject", "C_GetAttributeValue (own)",
    "C_DestroyObject",     "C_GetAttributeValue (destroyed)", "C_GetSlotList",
    "C_GetTokenInfo",
};

typedef struct rv_count {
    CK_RV rv;
    unsigned long n;
} rv_count;

typedef struct owned {
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE sess; /* the session that created it */
    bool token, secret;
    char label[48];
} owned;

typedef struct worker {
    unsigned idx;
    mix_token *tok;
    bool shared;
    CK_SESSION_HANDLE sess;
    unsigned seed;
    double deadline;
    unsigned long seq, ops, created, destroyed, verified, cross, problems;
    owned own[MAX_OWNED];
    size_t n_own;
    rv_count rvs[OP_N][MAX_RVS];
    pthread_t thread;
} worker;

static const char *
rv_name (CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return "CKR_OK";
    case CKR_OPERATION_ACTIVE:
        return "CKR_OPERATION_ACTIVE";
    case CKR_OPERATION_NOT_INITIALIZED:
        return "CKR_OPERATION_NOT_INITIALIZED";
    case CKR_OBJECT_HANDLE_INVALID:
        return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_KEY_HANDLE_INVALID:
        return "CKR_KEY_HANDLE_INVALID";
    case CKR_SESSION_HANDLE_INVALID:
        return "CKR_SESSION_HANDLE_INVALID";
    case CKR_DEVICE_ERROR:
        return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY:
        return "CKR_DEVICE_MEMORY";
    case CKR_FUNCTION_FAILED:
        return "CKR_FUNCTION_FAILED";
    case CKR_GENERAL_ERROR:
        return "CKR_GENERAL_ERROR";
    case CKR_USER_NOT_LOGGED_IN:
        return "CKR_USER_NOT_LOGGED_IN";
    default:
        return NULL;
    }
}

/* The expected set (see the top of the file). */
static bool
rv_expected (const worker *w, int op, CK_RV rv)
{
    if (op == OP_GET_GONE)
        return rv == CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        return true;
    switch (op) {
    case OP_GET_FOUND:
        return rv == CKR_OBJECT_HANDLE_INVALID;
    case OP_SIGN_INIT:
    case OP_FIND_INIT:
        return w->shared && rv == CKR_OPERATION_ACTIVE;
    case OP_SIGN:
    case OP_FIND:
    case OP_FIND_FINAL:
        return w->shared && rv == CKR_OPERATION_NOT_INITIALIZED;
    default:
        return false;
    }
}

/* Counts rv for op; false (and a failure) when it is not expected. */
static bool
record (worker *w, int op, CK_RV rv)
{
    rv_count *c = w->rvs[op];
    size_t i;

    for (i = 0; i < MAX_RVS && c[i].n > 0 && c[i].rv != rv; i++)
        ;
    if (i == MAX_RVS)
        i = MAX_RVS - 1; /* more kinds than we keep: the last one counts the rest */
    c[i].rv = rv;
    c[i].n++;
    if (rv_expected (w, op, rv))
        return true;
    fail ("mix thread %u (%s session): %s = 0x%lx %s", w->idx, w->shared ? "shared" : "own",
          op_names[op], rv, rv_name (rv) ? rv_name (rv) : "");
    w->problems++;
    return false;
}

static void
problem (worker *w, const char *what, const char *label)
{
    fail ("mix thread %u (%s session): %s%s%s", w->idx, w->shared ? "shared" : "own", what,
          label ? ": " : "", label ? label : "");
    w->problems++;
}

/* An object's value, from its label alone: SHA-256("tt-mix:" label ":" block). */
static void
derive (const char *label, CK_BYTE *out, size_t len)
{
    for (size_t off = 0, block = 0; off < len; block++) {
        char in[96];
        CK_BYTE h[SHA256_DIGEST_LENGTH];
        int n = snprintf (in, sizeof in, "tt-mix:%s:%zu", label, block);
        size_t take = len - off < sizeof h ? len - off : sizeof h;
        SHA256 ((const unsigned char *) in, (size_t) n, h);
        memcpy (out + off, h, take);
        off += take;
    }
}

static unsigned
rnd (worker *w, unsigned n)
{
    return (unsigned) rand_r (&w->seed) % n;
}

/* Reads CKA_LABEL as a C string into label (size 64). */
static CK_RV
read_label (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *label, CK_BYTE *value,
            CK_ULONG *value_len)
{
    CK_ATTRIBUTE t[2] = { { CKA_LABEL, label, 63 }, { CKA_VALUE, value, value ? *value_len : 0 } };
    CK_RV rv = F->C_GetAttributeValue (s, h, t, value ? 2 : 1);

    if (rv == CKR_OK) {
        label[t[0].ulValueLen] = '\0';
        if (value)
            *value_len = t[1].ulValueLen;
    }
    return rv;
}

static bool
hmac_matches (const CK_BYTE key[32], const CK_BYTE *data, size_t len, const CK_BYTE *mac,
              CK_ULONG mac_len)
{
    CK_BYTE want[32];
    unsigned int n = 0;
    return mac_len == 32 && HMAC (EVP_sha256 (), key, 32, data, len, want, &n) != NULL && n == 32
           && memcmp (want, mac, 32) == 0;
}

enum { K_EC, K_HMAC, K_ED };

/* Does sig verify over data with the key of kind? */
static bool
sig_verifies (const mix_token *t, int kind, const CK_BYTE *data, size_t len, const CK_BYTE *sig,
              CK_ULONG sig_len)
{
    switch (kind) {
    case K_EC:
        return sig_len == 64 && ossl_verify_key (t->ec_pkey, data, len, sig, sig_len) == 1;
    case K_ED:
        return sig_len == 64 && ossl_ed_verify (t->ed_pk, data, len, sig);
    default:
        return hmac_matches (t->hmac_key, data, len, sig, sig_len);
    }
}

static void
do_sign (worker *w, int kind)
{
    static const CK_MECHANISM_TYPE mechs[] = { CKM_ECDSA, CKM_SHA256_HMAC, CKM_EDDSA };
    mix_token *t = w->tok;
    CK_MECHANISM m = { mechs[kind], NULL, 0 };
    CK_OBJECT_HANDLE key = kind == K_EC ? t->ec : kind == K_ED ? t->ed : t->hmac;
    CK_BYTE data[MAX_SIGN_DATA], sig[128];
    CK_ULONG sig_len = sizeof sig;
    size_t len = kind == K_EC ? 32 : kind == K_ED ? 1 + rnd (w, 300) : 1 + rnd (w, sizeof data);
    bool multi = !w->shared && kind == K_HMAC && rnd (w, 2) == 0;
    CK_RV rv;

    if (RAND_bytes (data, (int) len) != 1) {
        problem (w, "RAND_bytes failed", NULL);
        return;
    }
    rv = F->C_SignInit (w->sess, &m, key);
    if (!record (w, OP_SIGN_INIT, rv) || (rv != CKR_OK && !w->shared))
        return;
    if (multi) {
        for (size_t off = 0; off < len && rv == CKR_OK;) {
            size_t n = 1 + rnd (w, 1500);
            n = n > len - off ? len - off : n;
            rv = F->C_SignUpdate (w->sess, data + off, n);
            record (w, OP_SIGN_UPDATE, rv);
            off += n;
        }
        if (rv != CKR_OK)
            return;
        rv = F->C_SignFinal (w->sess, sig, &sig_len);
        record (w, OP_SIGN_FINAL, rv);
    } else {
        rv = F->C_Sign (w->sess, data, len, sig, &sig_len);
        record (w, OP_SIGN, rv);
    }
    if (rv != CKR_OK)
        return;
    if (sig_verifies (t, kind, data, len, sig, sig_len)) {
        w->verified++;
    } else if (w->shared && (sig_verifies (t, K_EC, data, len, sig, sig_len)
                             || sig_verifies (t, K_ED, data, len, sig, sig_len)
                             || sig_verifies (t, K_HMAC, data, len, sig, sig_len))) {
        w->verified++;
        w->cross++; /* another thread's C_SignInit on the shared session */
    } else {
        char what[96];
        snprintf (what, sizeof what, "a %s signature (%lu bytes) does NOT verify with OpenSSL",
                  kind == K_EC ? "CKM_ECDSA" : kind == K_ED ? "CKM_EDDSA" : "CKM_SHA256_HMAC",
                  sig_len);
        problem (w, what, NULL);
    }
}

/* A found data object: its value must be the one its label gives. */
static bool
value_ok (const char *label, const CK_BYTE *value, CK_ULONG len)
{
    CK_BYTE want[MAX_DATA];
    if (strncmp (label, "mix-", 4) != 0 || len == 0 || len > sizeof want)
        return false;
    derive (label, want, len);
    return memcmp (want, value, len) == 0;
}

static void
do_find (worker *w)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_APPLICATION, (void *) MIX_APP, strlen (MIX_APP) } };
    CK_OBJECT_HANDLE found[32];
    CK_ULONG n = 0;
    CK_RV rv = F->C_FindObjectsInit (w->sess, tmpl, 2), rv2;

    if (!record (w, OP_FIND_INIT, rv) || (rv != CKR_OK && !w->shared))
        return;
    rv = F->C_FindObjects (w->sess, found, 1 + rnd (w, 32), &n);
    record (w, OP_FIND, rv);
    rv2 = F->C_FindObjectsFinal (w->sess);
    record (w, OP_FIND_FINAL, rv2);
    for (unsigned i = 0; rv == CKR_OK && i < 3 && n > 0; i++) {
        char label[64];
        CK_BYTE value[MAX_DATA + 16];
        CK_ULONG value_len = sizeof value;
        CK_OBJECT_HANDLE h = found[rnd (w, (unsigned) n)];
        CK_RV r = read_label (w->sess, h, label, value, &value_len);
        record (w, OP_GET_FOUND, r);
        if (r == CKR_OK && !value_ok (label, value, value_len))
            problem (w, "a found data object does not hold its value", label);
    }
}

static void
forget (worker *w, size_t i)
{
    w->own[i] = w->own[--w->n_own];
}

static void
do_destroy (worker *w)
{
    size_t i = rnd (w, (unsigned) w->n_own);
    char label[64];
    CK_RV rv = F->C_DestroyObject (w->sess, w->own[i].h);

    if (!record (w, OP_DESTROY, rv))
        return;
    w->destroyed++;
    rv = read_label (w->sess, w->own[i].h, label, NULL, NULL);
    record (w, OP_GET_GONE, rv);
    forget (w, i);
}

static void
do_create (worker *w, bool secret)
{
    CK_OBJECT_CLASS cls = secret ? CKO_SECRET_KEY : CKO_DATA;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL token = rnd (w, 2) ? CK_TRUE : CK_FALSE, priv = rnd (w, 2) ? CK_TRUE : CK_FALSE;
    CK_BBOOL yes = CK_TRUE;
    CK_BYTE value[MAX_DATA], back[MAX_DATA];
    CK_ULONG len = secret ? 32 : 1 + rnd (w, MAX_DATA), back_len = sizeof back;
    owned *o;
    char label[64];
    CK_ATTRIBUTE tmpl[8] = {
        { CKA_CLASS, &cls, sizeof cls },   { CKA_TOKEN, &token, sizeof token },
        { CKA_PRIVATE, &priv, sizeof priv }, { CKA_LABEL, NULL, 0 },
        { CKA_VALUE, value, len },
    };
    CK_ULONG n = 5;
    CK_RV rv;

    if (w->n_own == MAX_OWNED) {
        do_destroy (w);
        return;
    }
    o = &w->own[w->n_own];
    snprintf (o->label, sizeof o->label, "mix-%ld-%u-%lu", (long) getpid (), w->idx, w->seq++);
    tmpl[3].pValue = o->label;
    tmpl[3].ulValueLen = strlen (o->label);
    derive (o->label, value, len);
    if (secret) {
        tmpl[n++] = (CK_ATTRIBUTE) { CKA_KEY_TYPE, &kt, sizeof kt };
        tmpl[n++] = (CK_ATTRIBUTE) { CKA_SIGN, &yes, sizeof yes };
    } else {
        tmpl[n++] = (CK_ATTRIBUTE) { CKA_APPLICATION, (void *) MIX_APP, strlen (MIX_APP) };
    }
    rv = F->C_CreateObject (w->sess, tmpl, n, &o->h);
    if (!record (w, OP_CREATE, rv))
        return;
    o->sess = w->sess;
    o->token = token;
    o->secret = secret;
    w->n_own++;
    w->created++;
    rv = read_label (w->sess, o->h, label, secret ? NULL : back, &back_len);
    if (record (w, OP_GET_OWN, rv)
        && (strcmp (label, o->label) != 0
            || (!secret && (back_len != len || memcmp (back, value, len) != 0))))
        problem (w, "a new object does not read back as created", o->label);
}

static void
do_slots (worker *w)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_TOKEN_INFO ti;

    record (w, OP_SLOTS, F->C_GetSlotList (CK_TRUE, slots, &n));
    record (w, OP_TOKEN_INFO, F->C_GetTokenInfo (w->tok->slot, &ti));
}

/* Own sessions only: close and reopen; the closed session's objects must be gone. */
static bool
do_churn (worker *w)
{
    CK_SESSION_HANDLE old = w->sess;
    CK_RV rv = F->C_CloseSession (old);

    if (!record (w, OP_CLOSE, rv))
        return false;
    w->sess = CK_INVALID_HANDLE;
    rv = F->C_OpenSession (w->tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                           &w->sess);
    if (!record (w, OP_OPEN, rv))
        return false;
    for (size_t i = 0; i < w->n_own;) {
        char label[64];
        if (w->own[i].token || w->own[i].sess != old) {
            i++;
            continue;
        }
        record (w, OP_GET_GONE, read_label (w->sess, w->own[i].h, label, NULL, NULL));
        forget (w, i);
    }
    return true;
}

static void *
mix_worker (void *arg)
{
    worker *w = arg;

    if (!w->shared) {
        CK_RV rv = F->C_OpenSession (w->tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                                     NULL, &w->sess);
        if (!record (w, OP_OPEN, rv))
            return NULL;
    }
    while (now () < w->deadline) {
        unsigned r = rnd (w, 100);
        w->ops++;
        if (r < 15)
            do_sign (w, K_EC);
        else if (r < 30)
            do_sign (w, K_HMAC);
        else if (r < 45)
            do_sign (w, K_ED);
        else if (r < 60)
            do_find (w);
        else if (r < 76 || (r < 95 && w->n_own == 0))
            do_create (w, false);
        else if (r < 79)
            do_create (w, true);
        else if (r < 95)
            do_destroy (w);
        else
            do_slots (w);
        if (!w->shared && w->ops % 25 == 0 && !do_churn (w))
            return NULL;
    }
    /* What this thread holds must read back as created. */
    for (size_t i = 0; i < w->n_own; i++) {
        char label[64];
        CK_RV rv = read_label (w->sess, w->own[i].h, label, NULL, NULL);
        if (record (w, OP_GET_OWN, rv) && strcmp (label, w->own[i].label) != 0)
            problem (w, "an object's label changed", w->own[i].label);
    }
    return NULL;
}

/* ---- set-up ---- */

static CK_RV
get_bytes (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BYTE *buf,
           CK_ULONG *len)
{
    CK_ATTRIBUTE a = { type, buf, *len };
    CK_RV rv = F->C_GetAttributeValue (s, h, &a, 1);
    *len = a.ulValueLen;
    return rv;
}

/* An Ed25519 CKA_EC_POINT: DER OCTET STRING of 32 bytes, or the raw 32. */
static bool
ed_point (const CK_BYTE *p, CK_ULONG len, CK_BYTE pk[32])
{
    if (len == 34 && p[0] == 0x04 && p[1] == 32)
        p += 2, len -= 2;
    if (len != 32)
        return false;
    memcpy (pk, p, 32);
    return true;
}

static CK_RV
key_pair (mix_token *t, bool ed, const char *label, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG n = strlen (label);
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_LABEL, (void *) label, n },
        { CKA_ID, (void *) label, n },
        { CKA_EC_PARAMS, (void *) (ed ? oid_ed25519 : oid_p256),
          ed ? sizeof oid_ed25519 : sizeof oid_p256 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, &yes, sizeof yes },   { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SIGN, &yes, sizeof yes },    { CKA_LABEL, (void *) label, n },
        { CKA_ID, (void *) label, n },
    };
    return F->C_GenerateKeyPair (t->login, &m, pt, 5, st, 5, pub, priv);
}

static CK_RV
token_setup (mix_token *t, const char *pin, long pid)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    char label[48];
    CK_BYTE params[32], point[80];
    CK_ULONG params_len = sizeof params, point_len = sizeof point;
    CK_ATTRIBUTE st[] = {
        { CKA_CLASS, &cls, sizeof cls },   { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, &yes, sizeof yes },   { CKA_SIGN, &yes, sizeof yes },
        { CKA_LABEL, label, 0 },           { CKA_VALUE, t->hmac_key, sizeof t->hmac_key },
    };
    CK_RV rv;

    if (!find_token_slot (F, t->label, &t->slot))
        return CKR_SLOT_ID_INVALID;
    rv = F->C_OpenSession (t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &t->login);
    if (rv == CKR_OK)
        rv = F->C_Login (t->login, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
    if (rv == CKR_OK)
        rv = F->C_OpenSession (t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                               &t->shared);
    if (rv != CKR_OK) {
        fail ("token %s: C_OpenSession/C_Login = 0x%lx", t->label, rv);
        return rv;
    }
    snprintf (label, sizeof label, "mix-%ld-key-ec", pid);
    rv = key_pair (t, false, label, &t->ec_pub, &t->ec);
    if (rv == CKR_OK)
        rv = get_bytes (t->login, t->ec_pub, CKA_EC_PARAMS, params, &params_len);
    if (rv == CKR_OK)
        rv = get_bytes (t->login, t->ec_pub, CKA_EC_POINT, point, &point_len);
    if (rv == CKR_OK
        && (t->ec_pkey = pkey_from_point (params, params_len, point, point_len)) == NULL)
        rv = CKR_GENERAL_ERROR;
    if (rv != CKR_OK) {
        fail ("token %s: an ECDSA key pair: 0x%lx", t->label, rv);
        return rv;
    }
    snprintf (label, sizeof label, "mix-%ld-key-ed", pid);
    point_len = sizeof point;
    rv = key_pair (t, true, label, &t->ed_pub, &t->ed);
    if (rv == CKR_OK)
        rv = get_bytes (t->login, t->ed_pub, CKA_EC_POINT, point, &point_len);
    if (rv == CKR_OK && !ed_point (point, point_len, t->ed_pk))
        rv = CKR_GENERAL_ERROR;
    if (rv != CKR_OK) {
        fail ("token %s: an Ed25519 key pair: 0x%lx", t->label, rv);
        return rv;
    }
    snprintf (label, sizeof label, "mix-%ld-key-hmac", pid);
    st[4].ulValueLen = strlen (label);
    derive (label, t->hmac_key, sizeof t->hmac_key);
    rv = F->C_CreateObject (t->login, st, 6, &t->hmac);
    if (rv != CKR_OK)
        fail ("token %s: C_CreateObject of an HMAC key: 0x%lx", t->label, rv);
    return rv;
}

/* All objects of session s matching tmpl (malloc'd). */
static CK_RV
find_all (CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE **out,
          CK_ULONG *n_out)
{
    CK_OBJECT_HANDLE *all = NULL;
    CK_ULONG n = 0, got;
    CK_RV rv = F->C_FindObjectsInit (s, tmpl, count);

    while (rv == CKR_OK) {
        CK_OBJECT_HANDLE *grown = realloc (all, (n + 64) * sizeof *grown);
        if (grown == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        all = grown;
        rv = F->C_FindObjects (s, all + n, 64, &got);
        if (rv != CKR_OK || got == 0)
            break;
        n += got;
    }
    if (rv != CKR_OPERATION_ACTIVE) {
        CK_RV rv2 = F->C_FindObjectsFinal (s);
        if (rv == CKR_OK)
            rv = rv2;
    }
    if (rv != CKR_OK) {
        free (all);
        all = NULL;
        n = 0;
    }
    *out = all;
    *n_out = n;
    return rv;
}

/* The objects of this process on t (data objects and HMAC keys, not the fixed
 * keys) must be exactly those the workers hold. */
static unsigned long
token_consistent (mix_token *t, worker *ws, unsigned long n_w, long pid, unsigned long *n_objs)
{
    CK_OBJECT_CLASS classes[] = { CKO_DATA, CKO_SECRET_KEY };
    char prefix[32], keys[40];
    unsigned long problems = 0, held = 0, seen = 0;

    snprintf (prefix, sizeof prefix, "mix-%ld-", pid);
    snprintf (keys, sizeof keys, "mix-%ld-key-", pid);
    for (unsigned long i = 0; i < n_w; i++)
        if (ws[i].tok == t)
            held += ws[i].n_own;
    for (size_t c = 0; c < 2; c++) {
        CK_ATTRIBUTE tmpl = { CKA_CLASS, &classes[c], sizeof classes[c] };
        CK_OBJECT_HANDLE *all = NULL;
        CK_ULONG n = 0;
        CK_RV rv = find_all (t->login, &tmpl, 1, &all, &n);
        if (rv != CKR_OK) {
            fail ("token %s: searching objects: 0x%lx", t->label, rv);
            return problems + 1;
        }
        for (CK_ULONG k = 0; k < n; k++) {
            char label[64];
            bool mine = false;
            if (read_label (t->login, all[k], label, NULL, NULL) != CKR_OK) {
                fail ("token %s: an object found cannot be read", t->label);
                problems++;
                continue;
            }
            if (strncmp (label, prefix, strlen (prefix)) != 0
                || strncmp (label, keys, strlen (keys)) == 0)
                continue;
            seen++;
            for (unsigned long i = 0; i < n_w && !mine; i++)
                for (size_t j = 0; j < ws[i].n_own && !mine; j++)
                    mine = ws[i].tok == t && ws[i].own[j].h == all[k]
                           && strcmp (ws[i].own[j].label, label) == 0;
            if (!mine) {
                fail ("token %s: object %s is on the token but no thread holds it", t->label,
                      label);
                problems++;
            }
        }
        free (all);
    }
    if (seen != held) {
        fail ("token %s: the threads hold %lu objects, the token shows %lu", t->label, held,
              seen);
        problems++;
    }
    *n_objs = seen;
    return problems;
}

static void
print_counts (worker *ws, unsigned long n_w, bool shared)
{
    for (int op = 0; op < OP_N; op++) {
        rv_count sum[MAX_RVS * 4];
        size_t n_sum = 0;
        for (unsigned long i = 0; i < n_w; i++) {
            if (ws[i].shared != shared)
                continue;
            for (size_t k = 0; k < MAX_RVS && ws[i].rvs[op][k].n > 0; k++) {
                size_t j;
                for (j = 0; j < n_sum && sum[j].rv != ws[i].rvs[op][k].rv; j++)
                    ;
                if (j == n_sum && n_sum < sizeof sum / sizeof sum[0])
                    sum[n_sum++] = (rv_count) { ws[i].rvs[op][k].rv, 0 };
                if (j < n_sum)
                    sum[j].n += ws[i].rvs[op][k].n;
            }
        }
        if (n_sum == 0)
            continue;
        printf ("mix:   %-6s %-34s", shared ? "shared" : "own", op_names[op]);
        for (size_t j = 0; j < n_sum; j++) {
            const char *name = rv_name (sum[j].rv);
            if (name)
                printf (" %s=%lu", name, sum[j].n);
            else
                printf (" 0x%lx=%lu", sum[j].rv, sum[j].n);
        }
        printf ("\n");
    }
}

static void
destroy_mine (mix_token *t, worker *ws, unsigned long n_w)
{
    CK_OBJECT_HANDLE keys[] = { t->ec, t->ec_pub, t->ed, t->ed_pub, t->hmac };
    for (unsigned long i = 0; i < n_w; i++)
        for (size_t j = 0; j < ws[i].n_own; j++)
            if (ws[i].tok == t && ws[i].own[j].token
                && F->C_DestroyObject (t->login, ws[i].own[j].h) != CKR_OK)
                fail ("token %s: destroying %s at the end failed", t->label, ws[i].own[j].label);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (keys[k] != CK_INVALID_HANDLE && F->C_DestroyObject (t->login, keys[k]) != CKR_OK)
            fail ("token %s: destroying a key at the end failed", t->label);
}

int
mix_run (CK_FUNCTION_LIST_PTR f, unsigned long n_threads, unsigned long seconds)
{
    static worker ws[MAX_MIX_THREADS];
    mix_token toks[MAX_TOKENS];
    const char *labels[MAX_TOKENS] = { env_or ("TT_TOKEN", "test"), env_or ("TT_TOKEN2", "") };
    const char *pin = env_or ("TT_PIN", "1234");
    bool keep = strcmp (env_or ("TT_MIX_KEEP", "0"), "1") == 0;
    size_t n_tok = labels[1][0] != '\0' ? 2 : 1;
    unsigned long n_shared = n_threads >= 4 ? 3 : n_threads >= 2 ? 2 : 0;
    unsigned long n_second = n_tok == 2 ? n_threads / 4 : 0;
    unsigned long problems = 0, ops = 0, verified = 0, cross = 0, created = 0, destroyed = 0;
    unsigned long objs = 0, started = 0;
    long pid = (long) getpid ();
    double t0, deadline;

    F = f;
    if (n_threads > MAX_MIX_THREADS)
        return 2;
    memset (toks, 0, sizeof toks);
    for (size_t i = 0; i < n_tok; i++) {
        toks[i].label = labels[i];
        if (token_setup (&toks[i], pin, pid) != CKR_OK)
            return 1;
    }
    t0 = now ();
    deadline = t0 + (double) seconds;
    for (unsigned long i = 0; i < n_threads; i++) {
        worker *w = &ws[i];
        memset (w, 0, sizeof *w);
        w->idx = (unsigned) i;
        w->tok = &toks[i >= n_threads - n_second ? 1 : 0];
        w->shared = i < n_shared;
        w->sess = w->shared ? w->tok->shared : CK_INVALID_HANDLE;
        w->seed = (unsigned) (pid * 131 + (long) i * 7919);
        w->deadline = deadline;
        if (pthread_create (&w->thread, NULL, mix_worker, w) != 0) {
            fail ("pthread_create failed");
            problems++;
            break;
        }
        started++;
    }
    for (unsigned long i = 0; i < started; i++) {
        pthread_join (ws[i].thread, NULL);
        problems += ws[i].problems;
        ops += ws[i].ops;
        verified += ws[i].verified;
        cross += ws[i].cross;
        created += ws[i].created;
        destroyed += ws[i].destroyed;
    }
    for (size_t i = 0; i < n_tok; i++) {
        unsigned long n = 0;
        problems += token_consistent (&toks[i], ws, started, pid, &n);
        objs += n;
    }
    printf ("mix: %lu thread(s) (%lu on one shared session, %lu on a second token) x %lu s: "
            "%lu operations, %lu signatures verified with OpenSSL (%lu made by another "
            "thread's operation on the shared session), %lu objects created, %lu destroyed, "
            "%lu held and found on the token(s), %lu unexpected result(s), %.1f s\n",
            started, n_shared, n_second, seconds, ops, verified, cross, created, destroyed, objs,
            problems, now () - t0);
    print_counts (ws, started, false);
    print_counts (ws, started, true);
    for (unsigned long i = 0; i < started; i++)
        if (!ws[i].shared && ws[i].sess != CK_INVALID_HANDLE
            && F->C_CloseSession (ws[i].sess) != CKR_OK) {
            fail ("closing thread %lu's session failed", i);
            problems++;
        }
    for (size_t i = 0; i < n_tok; i++) {
        if (!keep)
            destroy_mine (&toks[i], ws, started);
        F->C_CloseSession (toks[i].shared);
        F->C_CloseSession (toks[i].login);
        EVP_PKEY_free (toks[i].ec_pkey);
    }
    return problems == 0 && ops > 0 ? 0 : 1;
}

/* ---- mixcheck ---- */

typedef struct check_stats {
    unsigned long data, secret, ec, ed, pub, problems;
} check_stats;

static CK_OBJECT_HANDLE
find_pub (CK_SESSION_HANDLE s, const CK_BYTE *id, CK_ULONG id_len)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, (void *) id, id_len } };
    CK_OBJECT_HANDLE *all = NULL, h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (find_all (s, t, 2, &all, &n) == CKR_OK && n == 1)
        h = all[0];
    free (all);
    return h;
}

static void
check_one (const char *tl, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, check_stats *st)
{
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    char label[64] = "";
    CK_BYTE id[64], value[MAX_DATA + 16], point[80], params[32], sig[128];
    CK_BYTE msg[] = "mixcheck: every object is usable";
    CK_ULONG id_len = sizeof id, value_len = sizeof value, point_len = sizeof point;
    CK_ULONG params_len = sizeof params, sig_len = sizeof sig;
    CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof cls } };
    CK_MECHANISM m = { 0, NULL, 0 };
    CK_OBJECT_HANDLE pub;
    bool good = false;
    CK_RV rv = F->C_GetAttributeValue (s, h, a, 1);

    if (rv == CKR_OK)
        rv = read_label (s, h, label, NULL, NULL);
    if (rv != CKR_OK) {
        fail ("token %s: object 0x%lx: C_GetAttributeValue = 0x%lx", tl, h, rv);
        st->problems++;
        return;
    }
    switch (cls) {
    case CKO_DATA:
        st->data++;
        good = get_bytes (s, h, CKA_VALUE, value, &value_len) == CKR_OK
               && value_ok (label, value, value_len);
        break;
    case CKO_SECRET_KEY: {
        CK_BYTE key[32];
        st->secret++;
        derive (label, key, sizeof key);
        m.mechanism = CKM_SHA256_HMAC;
        good = F->C_SignInit (s, &m, h) == CKR_OK
               && F->C_Sign (s, msg, sizeof msg, sig, &sig_len) == CKR_OK
               && hmac_matches (key, msg, sizeof msg, sig, sig_len);
        break;
    }
    case CKO_PUBLIC_KEY:
        st->pub++; /* checked with its private key */
        return;
    case CKO_PRIVATE_KEY: {
        EVP_PKEY *pk = NULL;
        CK_BYTE ed[32], digest[32];
        CK_ATTRIBUTE ka = { CKA_KEY_TYPE, &kt, sizeof kt };
        SHA256 (msg, sizeof msg, digest);
        if (F->C_GetAttributeValue (s, h, &ka, 1) != CKR_OK
            || get_bytes (s, h, CKA_ID, id, &id_len) != CKR_OK
            || (pub = find_pub (s, id, id_len)) == CK_INVALID_HANDLE
            || get_bytes (s, pub, CKA_EC_POINT, point, &point_len) != CKR_OK)
            break;
        if (kt == CKK_EC) {
            st->ec++;
            m.mechanism = CKM_ECDSA;
            good = get_bytes (s, pub, CKA_EC_PARAMS, params, &params_len) == CKR_OK
                   && (pk = pkey_from_point (params, params_len, point, point_len)) != NULL
                   && F->C_SignInit (s, &m, h) == CKR_OK
                   && F->C_Sign (s, digest, sizeof digest, sig, &sig_len) == CKR_OK
                   && ossl_verify_key (pk, digest, sizeof digest, sig, sig_len) == 1;
            EVP_PKEY_free (pk);
        } else if (kt == CKK_EC_EDWARDS) {
            st->ed++;
            m.mechanism = CKM_EDDSA;
            good = ed_point (point, point_len, ed) && F->C_SignInit (s, &m, h) == CKR_OK
                   && F->C_Sign (s, msg, sizeof msg, sig, &sig_len) == CKR_OK && sig_len == 64
                   && ossl_ed_verify (ed, msg, sizeof msg, sig);
        }
        break;
    }
    default:
        break;
    }
    if (!good) {
        fail ("token %s: object '%s' (class 0x%lx) is not usable as it should be", tl, label,
              cls);
        st->problems++;
    }
}

int
mix_check (CK_FUNCTION_LIST_PTR f)
{
    const char *labels[MAX_TOKENS] = { env_or ("TT_TOKEN", "test"), env_or ("TT_TOKEN2", "") };
    const char *pin = env_or ("TT_PIN", "1234");
    unsigned long problems = 0;

    F = f;
    for (size_t i = 0; i < MAX_TOKENS && labels[i][0] != '\0'; i++) {
        check_stats st = { 0 };
        CK_SLOT_ID slot;
        CK_SESSION_HANDLE s;
        CK_OBJECT_HANDLE *all = NULL;
        CK_ULONG n = 0;
        CK_RV rv;

        if (!find_token_slot (F, labels[i], &slot))
            return 1;
        rv = F->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
        if (rv == CKR_OK)
            rv = F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
        if (rv == CKR_OK)
            rv = find_all (s, NULL, 0, &all, &n);
        if (rv != CKR_OK) {
            fail ("token %s: session, login or search: 0x%lx", labels[i], rv);
            return 1;
        }
        for (CK_ULONG k = 0; k < n; k++)
            check_one (labels[i], s, all[k], &st);
        free (all);
        F->C_CloseSession (s);
        if (st.pub != st.ec + st.ed) {
            fail ("token %s: %lu public keys for %lu private keys", labels[i], st.pub,
                  st.ec + st.ed);
            st.problems++;
        }
        printf ("mixcheck: token %s: %lu objects: %lu data objects with their values, %lu HMAC "
                "keys, %lu ECDSA and %lu Ed25519 key pairs sign (checked with OpenSSL); %lu "
                "problem(s)\n",
                labels[i], n, st.data, st.secret, st.ec, st.ed, st.problems);
        problems += st.problems;
    }
    return problems == 0 ? 0 : 1;
}
