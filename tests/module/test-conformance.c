/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-conformance: the rules of the PKCS#11 Base Specification that a generic
 * conformance suite checks, as a table. Each row is one rule: an id, the
 * section it comes from, what it says, and the function that checks it. The
 * module is dlopen()ed as a consumer does and the whole table runs twice: through
 * the 3.0 table (C_GetInterface) and through the 2.40 table (C_GetFunctionList).
 *
 * Section numbers are those of the Base Specification v2.40 (OASIS Standard,
 * 2015). v3.0 keeps them up to §5.7 except in §5.4 and §5.6, where it inserts
 * C_GetInterfaceList/C_GetInterface (§5.4.5-6), C_SessionCancel (§5.6.5) and
 * C_LoginUser (§5.6.9); after §5.7 it inserts the message-based chapters, so
 * rows name the function as well as the 2.40 section. docs/conformance.md lists
 * the rules and the module's deliberate deviations.
 *
 * Needs a TPM (tests/with-swtpm.sh) and never enters a wrong PIN of a valid
 * length: the TPM's dictionary-attack counter stays at 0. Results are checked
 * independently where there are results (HMAC and SHA-256 with OpenSSL).
 * Prints TAP; exits 1 when a check fails.
 */
#include "config.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ck.h"
#include "tests/module/helpers.h"
#include "tests/unit/tap.h"

/* 2.40 flags p11-kit 0.24's header lacks */
#ifndef CKF_ERROR_STATE
#define CKF_ERROR_STATE 0x01000000UL
#endif
#ifndef CKF_EC_F_2M
#define CKF_EC_F_2M 0x00200000UL
#endif
#ifndef CKF_EC_ECPARAMETERS
#define CKF_EC_ECPARAMETERS 0x00400000UL
#endif

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))

#define SO_PIN "12345678"
#define USER_PIN "1234"
#define TOKEN_LABEL "conformance"
#define BAD_SLOT ((CK_SLOT_ID) 0x7fff1234)
#define BAD_SESSION ((CK_SESSION_HANDLE) 0x7ead0bad)
#define BAD_OBJECT ((CK_OBJECT_HANDLE) 0x7eadbeef)
#define RO (CKF_SERIAL_SESSION)
#define RW (CKF_SERIAL_SESSION | CKF_RW_SESSION)

/* ---- the run: which table, which token ---- */

static struct {
    const char *name;           /* "3.0" or "2.40" */
    CK_FUNCTION_LIST *fl;       /* the table of this run */
    CK_FUNCTION_LIST_3_0 *F3;   /* the same in the 3.0 run, else NULL */
    CK_C_GetInterfaceList get_interface_list;
    CK_C_GetInterface get_interface;
    CK_C_GetFunctionList get_function_list;
    bool initialized;           /* what the runner believes */
    CK_SLOT_ID slot;            /* the token with keys (0: not set up) */
    CK_SLOT_ID slot2;           /* a second token (0: none yet) */
} R;

#define F (R.fl)

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_pub = CKO_PUBLIC_KEY,
                       c_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE k_ec = CKK_EC, k_generic = CKK_GENERIC_SECRET;
static CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
/* the P-256 base point G, a DER OCTET STRING around the uncompressed point */
static const char p256_g_hex[] = "044104"
                                 "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                                 "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
static CK_BYTE hmac_key[32] = "conformance hmac key, 32 bytes!";
static const CK_BYTE msg[] = "the quick brown fox jumps over the lazy dog";

/* ---- reporting ---- */

static const char *rule_id = "";

static const struct {
    CK_RV rv;
    const char *name;
} rv_names[] = {
#define N(x) { x, #x }
    N (CKR_OK), N (CKR_HOST_MEMORY), N (CKR_SLOT_ID_INVALID), N (CKR_GENERAL_ERROR),
    N (CKR_FUNCTION_FAILED), N (CKR_ARGUMENTS_BAD), N (CKR_NO_EVENT), N (CKR_CANT_LOCK),
    N (CKR_ATTRIBUTE_READ_ONLY), N (CKR_ATTRIBUTE_SENSITIVE), N (CKR_ATTRIBUTE_TYPE_INVALID),
    N (CKR_ATTRIBUTE_VALUE_INVALID), N (CKR_ACTION_PROHIBITED), N (CKR_DATA_LEN_RANGE),
    N (CKR_DEVICE_ERROR), N (CKR_FUNCTION_NOT_SUPPORTED), N (CKR_KEY_HANDLE_INVALID),
    N (CKR_KEY_TYPE_INCONSISTENT), N (CKR_KEY_INDIGESTIBLE), N (CKR_MECHANISM_INVALID),
    N (CKR_MECHANISM_PARAM_INVALID), N (CKR_OBJECT_HANDLE_INVALID), N (CKR_OPERATION_ACTIVE),
    N (CKR_OPERATION_NOT_INITIALIZED), N (CKR_PIN_INCORRECT), N (CKR_SESSION_HANDLE_INVALID),
    N (CKR_SESSION_PARALLEL_NOT_SUPPORTED), N (CKR_SESSION_READ_ONLY), N (CKR_SESSION_EXISTS),
    N (CKR_SESSION_READ_ONLY_EXISTS), N (CKR_SESSION_READ_WRITE_SO_EXISTS),
    N (CKR_SIGNATURE_INVALID), N (CKR_SIGNATURE_LEN_RANGE), N (CKR_TEMPLATE_INCOMPLETE),
    N (CKR_TEMPLATE_INCONSISTENT), N (CKR_TOKEN_NOT_RECOGNIZED), N (CKR_USER_ALREADY_LOGGED_IN),
    N (CKR_USER_NOT_LOGGED_IN), N (CKR_USER_PIN_NOT_INITIALIZED), N (CKR_USER_TYPE_INVALID),
    N (CKR_USER_ANOTHER_ALREADY_LOGGED_IN), N (CKR_RANDOM_SEED_NOT_SUPPORTED),
    N (CKR_BUFFER_TOO_SMALL), N (CKR_CRYPTOKI_NOT_INITIALIZED),
    N (CKR_CRYPTOKI_ALREADY_INITIALIZED), N (CKR_KEY_SIZE_RANGE),
#undef N
};

static const char *
rv_name (CK_RV rv)
{
    static char buf[4][24];
    static int next;
    for (size_t i = 0; i < N_ELEM (rv_names); i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    next = (next + 1) % 4;
    snprintf (buf[next], sizeof buf[next], "0x%lx", rv);
    return buf[next];
}

static void check (bool cond, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void check_rv (CK_RV got, CK_RV want, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
check (bool cond, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    ok (cond, "%s %s: %s", R.name, rule_id, what);
}

static void
check_rv (CK_RV got, CK_RV want, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    ok (got == want, "%s %s: %s: %s%s%s", R.name, rule_id, what, rv_name (got),
        got == want ? "" : ", want ", got == want ? "" : rv_name (want));
}

/* got is one of the n codes in want (the spec lets the module pick). */
static void
check_rv_in (CK_RV got, const CK_RV *want, size_t n, const char *what)
{
    bool hit = false;
    for (size_t i = 0; i < n; i++)
        hit |= got == want[i];
    check (hit, "%s: %s", what, rv_name (got));
}

/* ---- small helpers ---- */

static CK_SESSION_HANDLE
open_session (CK_SLOT_ID slot, CK_FLAGS flags)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv = F->C_OpenSession (slot, flags, NULL, NULL, &s);
    if (rv != CKR_OK)
        check_rv (rv, CKR_OK, "C_OpenSession (slot %lu, flags 0x%lx)", slot, flags);
    return s;
}

static CK_RV
login (CK_SESSION_HANDLE s, CK_USER_TYPE user, const char *pin)
{
    return F->C_Login (s, user, (CK_UTF8CHAR_PTR) pin, (CK_ULONG) strlen (pin));
}

static CK_STATE
state_of (CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO si;
    return F->C_GetSessionInfo (s, &si) == CKR_OK ? si.state : (CK_STATE) -1;
}

/* The one object of class cls with this label, else CK_INVALID_HANDLE. */
static CK_OBJECT_HANDLE
find_one (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *) label, (CK_ULONG) strlen (label) } };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    if (F->C_FindObjectsInit (s, t, N_ELEM (t)) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (F->C_FindObjects (s, h, N_ELEM (h), &n) != CKR_OK)
        n = 0;
    F->C_FindObjectsFinal (s);
    return n == 1 ? h[0] : CK_INVALID_HANDLE;
}

/* All visible objects; how many (at most max), or -1. */
static long
find_all (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ULONG n = 0;
    CK_RV rv = F->C_FindObjectsInit (s, NULL, 0);
    if (rv == CKR_OK)
        rv = F->C_FindObjects (s, out, max, &n);
    F->C_FindObjectsFinal (s);
    return rv == CKR_OK ? (long) n : -1;
}

static CK_BBOOL
get_bool (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = 0xff;
    CK_ATTRIBUTE a = { type, &b, sizeof b };
    return F->C_GetAttributeValue (s, o, &a, 1) == CKR_OK ? b : 0xff;
}

static bool
openssl_hmac_sha256 (const CK_BYTE *data, size_t len, CK_BYTE out[32])
{
    unsigned int n = 32;
    return HMAC (EVP_sha256 (), hmac_key, sizeof hmac_key, data, len, out, &n) != NULL
           && n == 32;
}

/* A session of the token with the user logged in (checked), or CK_INVALID_HANDLE. */
static CK_SESSION_HANDLE
user_session (CK_FLAGS flags)
{
    CK_SESSION_HANDLE s = open_session (R.slot, flags);
    CK_RV rv = login (s, CKU_USER, USER_PIN);
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        check_rv (rv, CKR_OK, "C_Login USER (fixture)");
    return s;
}

/* ---- fixture: the token and its objects, made in the first run ---- */

static CK_SLOT_ID
slot_of_label (const char *label, CK_SLOT_ID *empty)
{
    CK_SLOT_ID list[64], found = 0;
    CK_ULONG n = N_ELEM (list);
    CK_UTF8CHAR want[32];

    pad32 (want, label);
    if (F->C_GetSlotList (CK_FALSE, list, &n) != CKR_OK)
        return 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (F->C_GetTokenInfo (list[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED) && empty != NULL)
            *empty = list[i];
        if ((ti.flags & CKF_TOKEN_INITIALIZED) && memcmp (ti.label, want, 32) == 0)
            found = list[i];
    }
    return found;
}

/* Initializes the empty slot's token with label; its slot, or 0. */
static CK_SLOT_ID
init_token (const char *label)
{
    CK_SLOT_ID empty = 0;
    CK_UTF8CHAR l[32];
    CK_RV rv;

    slot_of_label (label, &empty);
    pad32 (l, label);
    rv = F->C_InitToken (empty, (CK_UTF8CHAR_PTR) SO_PIN, strlen (SO_PIN), l);
    if (rv != CKR_OK) {
        check_rv (rv, CKR_OK, "C_InitToken '%s' (fixture)", label);
        return 0;
    }
    return empty;
}

static bool
make_objects (CK_SESSION_HANDLE s)
{
    CK_MECHANISM ec = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, ed = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv, h;
    CK_ATTRIBUTE ec_pub[] = { { CKA_TOKEN, &yes, 1 }, { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
                              { CKA_LABEL, "conf-ec", 7 } };
    CK_ATTRIBUTE ec_priv[] = { { CKA_TOKEN, &yes, 1 }, { CKA_LABEL, "conf-ec", 7 } };
    CK_ATTRIBUTE ed_pub[] = { { CKA_TOKEN, &yes, 1 },
                              { CKA_EC_PARAMS, oid_ed25519, sizeof oid_ed25519 },
                              { CKA_LABEL, "conf-ed", 7 } };
    CK_ATTRIBUTE ed_priv[] = { { CKA_TOKEN, &yes, 1 }, { CKA_LABEL, "conf-ed", 7 } };
    CK_ATTRIBUTE hmac[] = { { CKA_CLASS, &c_secret, sizeof c_secret },
                            { CKA_KEY_TYPE, &k_generic, sizeof k_generic },
                            { CKA_TOKEN, &yes, 1 },
                            { CKA_SIGN, &yes, 1 },
                            { CKA_VERIFY, &yes, 1 },
                            { CKA_VALUE, hmac_key, sizeof hmac_key },
                            { CKA_LABEL, "conf-hmac", 9 } };
    CK_ATTRIBUTE priv_data[] = { { CKA_CLASS, &c_data, sizeof c_data }, { CKA_TOKEN, &yes, 1 },
                                 { CKA_PRIVATE, &yes, 1 }, { CKA_LABEL, "conf-private", 12 },
                                 { CKA_VALUE, "secret", 6 } };
    CK_ATTRIBUTE pub_data[] = { { CKA_CLASS, &c_data, sizeof c_data }, { CKA_TOKEN, &yes, 1 },
                                { CKA_PRIVATE, &no, 1 }, { CKA_LABEL, "conf-public", 11 },
                                { CKA_VALUE, "public", 6 } };
    CK_RV rv[5];

    rv[0] = F->C_GenerateKeyPair (s, &ec, ec_pub, N_ELEM (ec_pub), ec_priv, N_ELEM (ec_priv), &pub,
                                  &priv);
    rv[1] = F->C_GenerateKeyPair (s, &ed, ed_pub, N_ELEM (ed_pub), ed_priv, N_ELEM (ed_priv), &pub,
                                  &priv);
    rv[2] = F->C_CreateObject (s, hmac, N_ELEM (hmac), &h);
    rv[3] = F->C_CreateObject (s, priv_data, N_ELEM (priv_data), &h);
    rv[4] = F->C_CreateObject (s, pub_data, N_ELEM (pub_data), &h);
    for (size_t i = 0; i < N_ELEM (rv); i++)
        if (rv[i] != CKR_OK)
            check_rv (rv[i], CKR_OK, "fixture object %zu", i);
    return rv[0] == CKR_OK && rv[1] == CKR_OK && rv[2] == CKR_OK && rv[3] == CKR_OK
           && rv[4] == CKR_OK;
}

/* The token "conformance" with a user PIN, an EC P-256 pair, an Ed25519 pair, an
 * HMAC key (value known here), a private and a public data object. */
static bool
fixture_token (void)
{
    CK_SESSION_HANDLE s;
    bool made;

    R.slot = slot_of_label (TOKEN_LABEL, NULL);
    if (R.slot != 0)
        return true;
    R.slot = init_token (TOKEN_LABEL);
    if (R.slot == 0)
        return false;
    s = open_session (R.slot, RW);
    if (login (s, CKU_SO, SO_PIN) != CKR_OK
        || F->C_InitPIN (s, (CK_UTF8CHAR_PTR) USER_PIN, strlen (USER_PIN)) != CKR_OK
        || F->C_Logout (s) != CKR_OK || login (s, CKU_USER, USER_PIN) != CKR_OK) {
        check (false, "fixture: SO login, C_InitPIN, user login");
        return false;
    }
    made = make_objects (s);
    F->C_CloseAllSessions (R.slot);
    return made;
}

/* ---- the rules ---- */

static CK_RV
mutex_create (CK_VOID_PTR_PTR m)
{
    *m = NULL;
    return CKR_OK;
}

static CK_RV
mutex_other (CK_VOID_PTR m)
{
    (void) m;
    return CKR_OK;
}

/* Every function but C_Initialize/C_GetFunctionList/C_GetInterface*. */
static void
r_not_initialized (void)
{
    CK_INFO info;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_INFO ssi;
    CK_MECHANISM_INFO mi;
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_SLOT_ID sl;
    CK_BYTE b[8];
    CK_ULONG n = 0;
    CK_UTF8CHAR label[32];
    CK_FUNCTION_LIST *fl = NULL;
    CK_INTERFACE *iface = NULL;
    struct {
        const char *fn;
        CK_RV rv;
    } calls[] = {
        { "C_GetInfo", F->C_GetInfo (&info) },
        { "C_GetSlotList", F->C_GetSlotList (CK_FALSE, NULL, &n) },
        { "C_GetSlotInfo", F->C_GetSlotInfo (1, &si) },
        { "C_GetTokenInfo", F->C_GetTokenInfo (1, &ti) },
        { "C_GetMechanismList", F->C_GetMechanismList (1, NULL, &n) },
        { "C_GetMechanismInfo", F->C_GetMechanismInfo (1, CKM_SHA256, &mi) },
        { "C_InitToken", F->C_InitToken (1, (CK_UTF8CHAR_PTR) SO_PIN, 8, label) },
        { "C_OpenSession", F->C_OpenSession (1, RO, NULL, NULL, &s) },
        { "C_CloseSession", F->C_CloseSession (1) },
        { "C_CloseAllSessions", F->C_CloseAllSessions (1) },
        { "C_GetSessionInfo", F->C_GetSessionInfo (1, &ssi) },
        { "C_Login", F->C_Login (1, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4) },
        { "C_Logout", F->C_Logout (1) },
        { "C_CreateObject", F->C_CreateObject (1, NULL, 0, &h) },
        { "C_FindObjectsInit", F->C_FindObjectsInit (1, NULL, 0) },
        { "C_DigestInit", F->C_DigestInit (1, &m) },
        { "C_SignInit", F->C_SignInit (1, &m, 1) },
        { "C_GenerateRandom", F->C_GenerateRandom (1, b, sizeof b) },
        { "C_SeedRandom", F->C_SeedRandom (1, b, sizeof b) },
        { "C_WaitForSlotEvent", F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &sl, NULL) },
        { "C_EncryptInit", F->C_EncryptInit (1, &m, 1) },
        { "C_Finalize", F->C_Finalize (NULL) },
    };
    memset (label, ' ', sizeof label);
    for (size_t i = 0; i < N_ELEM (calls); i++)
        check_rv (calls[i].rv, CKR_CRYPTOKI_NOT_INITIALIZED, "%s before C_Initialize", calls[i].fn);
    if (R.F3 != NULL) {
        check_rv (R.F3->C_LoginUser (1, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4, NULL, 0),
                  CKR_CRYPTOKI_NOT_INITIALIZED, "C_LoginUser before C_Initialize");
        check_rv (R.F3->C_SessionCancel (1, CKF_SIGN), CKR_CRYPTOKI_NOT_INITIALIZED,
                  "C_SessionCancel before C_Initialize");
        check_rv (R.F3->C_MessageSignInit (1, &m, 1), CKR_CRYPTOKI_NOT_INITIALIZED,
                  "C_MessageSignInit before C_Initialize");
    }
    check_rv (F->C_GetFunctionList (&fl), CKR_OK, "C_GetFunctionList works before C_Initialize");
    check_rv (R.get_interface (NULL, NULL, &iface, 0), CKR_OK,
              "C_GetInterface works before C_Initialize");
}

static void
r_init_reserved (void)
{
    CK_C_INITIALIZE_ARGS a;
    CK_INFO info;
    int x;
    memset (&a, 0, sizeof a);
    a.pReserved = &x;
    check_rv (F->C_Initialize (&a), CKR_ARGUMENTS_BAD, "C_Initialize, pReserved not NULL");
    a.flags = CKF_OS_LOCKING_OK;
    check_rv (F->C_Initialize (&a), CKR_ARGUMENTS_BAD,
              "C_Initialize, CKF_OS_LOCKING_OK and pReserved not NULL");
    check_rv (F->C_GetInfo (&info), CKR_CRYPTOKI_NOT_INITIALIZED, "not initialized by them");
}

static void
r_init_partial_mutex (void)
{
    CK_C_INITIALIZE_ARGS a;
    CK_INFO info;
    for (unsigned mask = 1; mask < 15; mask++) {
        for (int fl = 0; fl < 2; fl++) {
            memset (&a, 0, sizeof a);
            a.CreateMutex = mask & 1 ? mutex_create : NULL;
            a.DestroyMutex = mask & 2 ? mutex_other : NULL;
            a.LockMutex = mask & 4 ? mutex_other : NULL;
            a.UnlockMutex = mask & 8 ? mutex_other : NULL;
            a.flags = fl ? CKF_OS_LOCKING_OK : 0;
            check_rv (F->C_Initialize (&a), CKR_ARGUMENTS_BAD,
                      "C_Initialize, mutex callbacks %x of 1|2|4|8%s", mask,
                      fl ? ", CKF_OS_LOCKING_OK" : "");
        }
    }
    check_rv (F->C_GetInfo (&info), CKR_CRYPTOKI_NOT_INITIALIZED, "not initialized by them");
}

static void
r_init_app_mutex (void)
{
    CK_C_INITIALIZE_ARGS a = { mutex_create, mutex_other, mutex_other, mutex_other, 0, NULL };
    CK_INFO info;
    /* Case 3 of §5.4.1: the library must use them, or return CKR_CANT_LOCK. We
     * lock with the OS's primitives only. */
    check_rv (F->C_Initialize (&a), CKR_CANT_LOCK,
              "C_Initialize, all 4 callbacks without CKF_OS_LOCKING_OK");
    check_rv (F->C_GetInfo (&info), CKR_CRYPTOKI_NOT_INITIALIZED, "not initialized");
}

static void
r_init_flags (void)
{
    static const struct {
        const char *what;
        bool callbacks;
        CK_FLAGS flags;
    } cases[] = {
        { "no flags, no callbacks (single-threaded use)", false, 0 },
        { "CKF_OS_LOCKING_OK", false, CKF_OS_LOCKING_OK },
        { "CKF_OS_LOCKING_OK and all 4 callbacks", true, CKF_OS_LOCKING_OK },
        { "CKF_LIBRARY_CANT_CREATE_OS_THREADS (none are created)", false,
          CKF_LIBRARY_CANT_CREATE_OS_THREADS },
        { "CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK", false,
          CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK },
    };
    CK_INFO info;
    check_rv (F->C_Initialize (NULL), CKR_OK, "C_Initialize (NULL)");
    check_rv (F->C_Finalize (NULL), CKR_OK, "C_Finalize");
    for (size_t i = 0; i < N_ELEM (cases); i++) {
        CK_C_INITIALIZE_ARGS a;
        memset (&a, 0, sizeof a);
        if (cases[i].callbacks) {
            a.CreateMutex = mutex_create;
            a.DestroyMutex = a.LockMutex = a.UnlockMutex = mutex_other;
        }
        a.flags = cases[i].flags;
        check_rv (F->C_Initialize (&a), CKR_OK, "C_Initialize, %s", cases[i].what);
        check_rv (F->C_GetInfo (&info), CKR_OK, "C_GetInfo after it");
        check_rv (F->C_Finalize (NULL), CKR_OK, "C_Finalize");
    }
}

static void
r_init_twice (void)
{
    CK_INFO info;
    check_rv (F->C_Initialize (NULL), CKR_OK, "C_Initialize");
    check_rv (F->C_Initialize (NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED, "C_Initialize again");
    check_rv (F->C_GetInfo (&info), CKR_OK, "the library still works");
    check_rv (F->C_Finalize (NULL), CKR_OK, "one C_Finalize ends it");
    check_rv (F->C_GetInfo (&info), CKR_CRYPTOKI_NOT_INITIALIZED, "C_GetInfo after C_Finalize");
}

static void
r_finalize (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_SESSION_INFO si;
    CK_INFO info;
    int x;

    check_rv (F->C_Finalize (&x), CKR_ARGUMENTS_BAD, "C_Finalize, pReserved not NULL");
    check_rv (F->C_GetSessionInfo (s, &si), CKR_OK, "still initialized, the session still open");
    check_rv (F->C_Finalize (NULL), CKR_OK, "C_Finalize (NULL)");
    check_rv (F->C_GetInfo (&info), CKR_CRYPTOKI_NOT_INITIALIZED, "C_GetInfo after it");
    check_rv (F->C_Finalize (NULL), CKR_CRYPTOKI_NOT_INITIALIZED, "C_Finalize again");
    check_rv (F->C_Initialize (NULL), CKR_OK, "C_Initialize again");
    check_rv (F->C_GetSessionInfo (s, &si), CKR_SESSION_HANDLE_INVALID,
              "the session of before C_Finalize is gone");
}

static void
r_info (void)
{
    CK_INFO info;
    bool v30 = R.F3 != NULL;
    memset (&info, 0, sizeof info);
    check_rv (F->C_GetInfo (&info), CKR_OK, "C_GetInfo");
    check (v30 ? info.cryptokiVersion.major == 3 && info.cryptokiVersion.minor == 0
               : info.cryptokiVersion.major == 2 && info.cryptokiVersion.minor == 40,
           "cryptokiVersion %u.%u is the version of the table used (%s)",
           info.cryptokiVersion.major, info.cryptokiVersion.minor, R.name);
    check (blank_padded (info.manufacturerID, sizeof info.manufacturerID),
           "manufacturerID '%.32s' blank padded, no NUL", (char *) info.manufacturerID);
    check (blank_padded (info.libraryDescription, sizeof info.libraryDescription),
           "libraryDescription '%.32s' blank padded, no NUL", (char *) info.libraryDescription);
    check (info.flags == 0, "flags 0x%lx (all bits reserved)", info.flags);
    check_rv (F->C_GetInfo (NULL), CKR_ARGUMENTS_BAD, "C_GetInfo (NULL)");
}

/* Every function pointer of the table after the version is set. */
static void
r_function_list (void)
{
    CK_FUNCTION_LIST *fl = NULL;
    const unsigned char *base = (const unsigned char *) F;
    size_t first = offsetof (CK_FUNCTION_LIST, C_Initialize);
    size_t end = R.F3 != NULL ? sizeof (CK_FUNCTION_LIST_3_0) : sizeof (CK_FUNCTION_LIST);
    size_t missing = 0, n = 0;

    check_rv (R.get_function_list (NULL), CKR_ARGUMENTS_BAD, "C_GetFunctionList (NULL)");
    check_rv (R.get_function_list (&fl), CKR_OK, "C_GetFunctionList");
    check (fl != NULL && fl->version.major == 2 && fl->version.minor == 40,
           "C_GetFunctionList gives the 2.40 table");
    for (size_t off = first; off + sizeof (void (*) (void)) <= end; off += sizeof (void (*) (void))) {
        void (*fn) (void);
        memcpy (&fn, base + off, sizeof fn);
        missing += fn == NULL;
        n++;
    }
    check (missing == 0 && n == (R.F3 ? 92u : 68u), "all %zu functions of the %s table are set (%zu NULL)",
           n, R.name, missing);
}

static void
r_interface_list (void)
{
    CK_INTERFACE list[4];
    CK_ULONG n = 0;
    check_rv (R.get_interface_list (NULL, NULL), CKR_ARGUMENTS_BAD, "C_GetInterfaceList (NULL, NULL)");
    check_rv (R.get_interface_list (NULL, &n), CKR_OK, "C_GetInterfaceList length query");
    check (n == 2, "%lu interfaces (3.0 and 2.40)", n);
    n = 1;
    check_rv (R.get_interface_list (list, &n), CKR_BUFFER_TOO_SMALL, "room for 1");
    check (n == 2, "buffer too small: the count is still given (%lu)", n);
    n = N_ELEM (list);
    check_rv (R.get_interface_list (list, &n), CKR_OK, "C_GetInterfaceList");
    for (CK_ULONG i = 0; i < n && i < N_ELEM (list); i++) {
        const CK_VERSION *v = list[i].pFunctionList;
        check (strcmp ((char *) list[i].pInterfaceName, "PKCS 11") == 0 && v != NULL
                   && list[i].flags == 0, /* not fork safe: a child starts uninitialized */
               "interface %lu: \"%s\" %u.%u, flags 0x%lx", i, (char *) list[i].pInterfaceName,
               v ? v->major : 0, v ? v->minor : 0, list[i].flags);
    }
}

static void
r_interface (void)
{
    CK_INTERFACE *iface = NULL;
    CK_VERSION v240 = { 2, 40 }, v30 = { 3, 0 }, v99 = { 4, 50 };
    CK_FUNCTION_LIST *fl = NULL;

    check_rv (R.get_interface (NULL, NULL, &iface, 0), CKR_OK, "C_GetInterface (NULL, NULL)");
    check (iface != NULL && ((CK_VERSION *) iface->pFunctionList)->major == 3,
           "the default interface is the 3.0 one");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK, "3.0");
    check (iface != NULL && iface->pFunctionList == (void *) R.F3, "the 3.0 table of this run");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &iface, 0), CKR_OK, "2.40");
    R.get_function_list (&fl);
    check (iface != NULL && iface->pFunctionList == fl, "the table C_GetFunctionList gives");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, CKF_INTERFACE_FORK_SAFE),
              CKR_ARGUMENTS_BAD, "flags CKF_INTERFACE_FORK_SAFE (not offered)");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11 other", NULL, &iface, 0),
              CKR_ARGUMENTS_BAD, "an unknown name");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", &v99, &iface, 0), CKR_ARGUMENTS_BAD,
              "version 4.50");
    check_rv (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, 2), CKR_ARGUMENTS_BAD,
              "a flag no interface has");
    check_rv (R.get_interface (NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD, "ppInterface NULL");
}

static void
r_slot_list (void)
{
    CK_SLOT_ID list[64];
    CK_ULONG n = 0, n2;
    check_rv (F->C_GetSlotList (CK_FALSE, NULL, &n), CKR_OK, "length query");
    check (n >= 2 && n < N_ELEM (list), "%lu slots (the token and an empty one at least)", n);
    n2 = 1;
    check_rv (F->C_GetSlotList (CK_FALSE, list, &n2), CKR_BUFFER_TOO_SMALL, "room for 1");
    check (n2 == n, "buffer too small: *pulCount %lu (want %lu)", n2, n);
    n2 = N_ELEM (list);
    check_rv (F->C_GetSlotList (CK_FALSE, list, &n2), CKR_OK, "C_GetSlotList");
    check (n2 == n, "%lu slot ids", n2);
    n2 = N_ELEM (list);
    check_rv (F->C_GetSlotList (CK_TRUE, list, &n2), CKR_OK, "tokenPresent TRUE");
    check (n2 <= n, "a subset (%lu of %lu)", n2, n);
    check_rv (F->C_GetSlotList (CK_FALSE, list, NULL), CKR_ARGUMENTS_BAD, "pulCount NULL");
}

static void
r_slot_info (void)
{
    CK_SLOT_ID list[64];
    CK_ULONG n = N_ELEM (list);
    const CK_FLAGS known = CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
    check_rv (F->C_GetSlotList (CK_FALSE, list, &n), CKR_OK, "C_GetSlotList");
    for (CK_ULONG i = 0; i < n && i < N_ELEM (list); i++) {
        CK_SLOT_INFO si;
        memset (&si, 0, sizeof si);
        check_rv (F->C_GetSlotInfo (list[i], &si), CKR_OK, "C_GetSlotInfo (slot %lu)", list[i]);
        check (blank_padded (si.slotDescription, sizeof si.slotDescription)
                   && blank_padded (si.manufacturerID, sizeof si.manufacturerID),
               "slot %lu: slotDescription, manufacturerID blank padded, no NUL", list[i]);
        check ((si.flags & ~known) == 0 && (si.flags & CKF_TOKEN_PRESENT),
               "slot %lu: flags 0x%lx (token present, no unknown bits)", list[i], si.flags);
    }
    check_rv (F->C_GetSlotInfo (R.slot, NULL), CKR_ARGUMENTS_BAD, "pInfo NULL");
}

static void
r_token_info (void)
{
    const CK_FLAGS known = CKF_RNG | CKF_WRITE_PROTECTED | CKF_LOGIN_REQUIRED
                           | CKF_USER_PIN_INITIALIZED | CKF_RESTORE_KEY_NOT_NEEDED
                           | CKF_CLOCK_ON_TOKEN | CKF_PROTECTED_AUTHENTICATION_PATH
                           | CKF_DUAL_CRYPTO_OPERATIONS | CKF_TOKEN_INITIALIZED
                           | CKF_SECONDARY_AUTHENTICATION | CKF_USER_PIN_COUNT_LOW
                           | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED
                           | CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_COUNT_LOW
                           | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | CKF_SO_PIN_TO_BE_CHANGED
                           | CKF_ERROR_STATE;
    CK_SLOT_ID list[64];
    CK_ULONG n = N_ELEM (list);
    CK_TOKEN_INFO ti;

    check_rv (F->C_GetSlotList (CK_TRUE, list, &n), CKR_OK, "C_GetSlotList");
    for (CK_ULONG i = 0; i < n && i < N_ELEM (list); i++) {
        memset (&ti, 0, sizeof ti);
        check_rv (F->C_GetTokenInfo (list[i], &ti), CKR_OK, "C_GetTokenInfo (slot %lu)", list[i]);
        check (blank_padded (ti.label, 32) && blank_padded (ti.manufacturerID, 32)
                   && blank_padded (ti.model, 16)
                   && memchr (ti.serialNumber, 0, sizeof ti.serialNumber) == NULL,
               "slot %lu: label '%.32s', manufacturerID, model, serialNumber blank padded, no NUL",
               list[i], (char *) ti.label);
        check ((ti.flags & ~known) == 0, "slot %lu: flags 0x%lx, no unknown bits", list[i],
               ti.flags);
        check (ti.ulMinPinLen <= ti.ulMaxPinLen, "slot %lu: PIN length %lu-%lu", list[i],
               ti.ulMinPinLen, ti.ulMaxPinLen);
        check ((ti.flags & CKF_CLOCK_ON_TOKEN) || ti.utcTime[0] == ' ' || ti.utcTime[0] == 0,
               "slot %lu: no clock, no utcTime", list[i]);
    }
    {
        CK_SESSION_HANDLE a = open_session (R.slot, RO), b = open_session (R.slot, RO),
                          c = open_session (R.slot, RW);
        (void) a, (void) b, (void) c;
        check_rv (F->C_GetTokenInfo (R.slot, &ti), CKR_OK, "C_GetTokenInfo with 3 sessions");
        check (ti.ulSessionCount == 3 && ti.ulRwSessionCount == 1,
               "ulSessionCount %lu, ulRwSessionCount %lu (want 3, 1)", ti.ulSessionCount,
               ti.ulRwSessionCount);
    }
    check_rv (F->C_GetTokenInfo (R.slot, NULL), CKR_ARGUMENTS_BAD, "pInfo NULL");
}

static void
r_slot_invalid (void)
{
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_INFO mi;
    CK_SESSION_HANDLE s;
    CK_ULONG n = 0;
    CK_UTF8CHAR label[32];
    memset (label, ' ', sizeof label);
    check_rv (F->C_GetSlotInfo (BAD_SLOT, &si), CKR_SLOT_ID_INVALID, "C_GetSlotInfo");
    check_rv (F->C_GetTokenInfo (BAD_SLOT, &ti), CKR_SLOT_ID_INVALID, "C_GetTokenInfo");
    check_rv (F->C_GetMechanismList (BAD_SLOT, NULL, &n), CKR_SLOT_ID_INVALID,
              "C_GetMechanismList");
    check_rv (F->C_GetMechanismInfo (BAD_SLOT, CKM_SHA256, &mi), CKR_SLOT_ID_INVALID,
              "C_GetMechanismInfo");
    check_rv (F->C_InitToken (BAD_SLOT, (CK_UTF8CHAR_PTR) SO_PIN, 8, label), CKR_SLOT_ID_INVALID,
              "C_InitToken");
    check_rv (F->C_OpenSession (BAD_SLOT, RO, NULL, NULL, &s), CKR_SLOT_ID_INVALID,
              "C_OpenSession");
    check_rv (F->C_CloseAllSessions (BAD_SLOT), CKR_SLOT_ID_INVALID, "C_CloseAllSessions");
}

static void
r_mechanisms (void)
{
    const CK_FLAGS known = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN
                           | CKF_SIGN_RECOVER | CKF_VERIFY | CKF_VERIFY_RECOVER | CKF_GENERATE
                           | CKF_GENERATE_KEY_PAIR | CKF_WRAP | CKF_UNWRAP | CKF_DERIVE
                           | CKF_EC_F_P | CKF_EC_F_2M | CKF_EC_ECPARAMETERS | CKF_EC_NAMEDCURVE
                           | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS | 0x3e /* 3.0 message flags */;
    CK_MECHANISM_TYPE list[64];
    CK_ULONG n = 0, n2;
    CK_MECHANISM_INFO mi;
    CK_SESSION_HANDLE s = open_session (R.slot, RO);

    check_rv (F->C_GetMechanismList (R.slot, NULL, &n), CKR_OK, "length query");
    check (n > 0 && n <= N_ELEM (list), "%lu mechanisms", n);
    n2 = 1;
    check_rv (F->C_GetMechanismList (R.slot, list, &n2), CKR_BUFFER_TOO_SMALL, "room for 1");
    check (n2 == n, "buffer too small: the count %lu", n2);
    n2 = N_ELEM (list);
    check_rv (F->C_GetMechanismList (R.slot, list, &n2), CKR_OK, "C_GetMechanismList");
    check_rv (F->C_GetMechanismList (R.slot, list, NULL), CKR_ARGUMENTS_BAD, "pulCount NULL");
    for (CK_ULONG i = 0; i < n2 && i < N_ELEM (list); i++) {
        CK_RV rv = F->C_GetMechanismInfo (R.slot, list[i], &mi);
        check (rv == CKR_OK && mi.ulMinKeySize <= mi.ulMaxKeySize && (mi.flags & known) != 0
                   && (mi.flags & ~known) == 0,
               "mechanism 0x%lx: %s, key size %lu-%lu, flags 0x%lx", list[i], rv_name (rv),
               mi.ulMinKeySize, mi.ulMaxKeySize, mi.flags);
        if (rv == CKR_OK && (mi.flags & CKF_DIGEST)) {
            CK_MECHANISM m = { list[i], NULL, 0 };
            check_rv (F->C_DigestInit (s, &m), CKR_OK, "C_DigestInit 0x%lx (CKF_DIGEST)", list[i]);
            {
                CK_BYTE out[64];
                CK_ULONG len = sizeof out;
                check_rv (F->C_DigestFinal (s, out, &len), CKR_OK, "C_DigestFinal 0x%lx", list[i]);
            }
        } else if (rv == CKR_OK) {
            CK_MECHANISM m = { list[i], NULL, 0 };
            check_rv (F->C_DigestInit (s, &m), CKR_MECHANISM_INVALID,
                      "C_DigestInit 0x%lx (no CKF_DIGEST)", list[i]);
        }
    }
    check_rv (F->C_GetMechanismInfo (R.slot, CKM_GENERIC_SECRET_KEY_GEN, &mi), CKR_OK,
              "CKM_GENERIC_SECRET_KEY_GEN");
    check (mi.ulMinKeySize <= 256 && mi.ulMaxKeySize >= 256,
           "its key sizes are in bits: %lu-%lu covers the 32-byte keys OBJ-2 makes",
           mi.ulMinKeySize, mi.ulMaxKeySize);
    check_rv (F->C_GetMechanismInfo (R.slot, CKM_DSA, &mi), CKR_MECHANISM_INVALID,
              "C_GetMechanismInfo of an unlisted mechanism (CKM_DSA)");
    check_rv (F->C_GetMechanismInfo (R.slot, CKM_SHA256, NULL), CKR_ARGUMENTS_BAD, "pInfo NULL");
}

static void
r_wait_for_slot_event (void)
{
    CK_SLOT_ID ev = 0, empty = 0, slot2;
    char label[32];
    CK_RV rv;
    int i;

    for (i = 0; i < 64 && F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &ev, NULL) == CKR_OK; i++)
        ;
    check_rv (F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT,
              "CKF_DONT_BLOCK, nothing happened (after %d earlier events)", i);
    /* a new token: the empty slot is taken, a new empty slot appears */
    snprintf (label, sizeof label, "conformance 2 (%s)", R.name);
    slot2 = init_token (label);
    slot_of_label (label, &empty);
    rv = F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &ev, NULL);
    check (rv == CKR_OK && ev == empty && empty != 0,
           "after C_InitToken: an event for the new empty slot %lu (%s, slot %lu)", empty,
           rv_name (rv), ev);
    check_rv (F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT,
              "each event is reported once");
    check_rv (F->C_WaitForSlotEvent (CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD, "pSlot NULL");
    check_rv (F->C_WaitForSlotEvent (CKF_DONT_BLOCK, &ev, &ev), CKR_ARGUMENTS_BAD,
              "pReserved not NULL");
    /* deliberate deviation (docs/conformance.md): no blocking wait */
    check_rv (F->C_WaitForSlotEvent (0, &ev, NULL), CKR_FUNCTION_NOT_SUPPORTED,
              "blocking wait (not offered)");
    R.slot2 = slot2;
}

static void
r_open_session (void)
{
    CK_SESSION_HANDLE s;
    check_rv (F->C_OpenSession (R.slot, 0, NULL, NULL, &s), CKR_SESSION_PARALLEL_NOT_SUPPORTED,
              "without CKF_SERIAL_SESSION");
    check_rv (F->C_OpenSession (R.slot, CKF_RW_SESSION, NULL, NULL, &s),
              CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKF_RW_SESSION without CKF_SERIAL_SESSION");
    check_rv (F->C_OpenSession (R.slot, RO, NULL, NULL, NULL), CKR_ARGUMENTS_BAD,
              "phSession NULL");
}

/* Every function that takes a session, with the handle h. */
static void
all_session_calls (CK_SESSION_HANDLE h, const char *what)
{
    CK_SESSION_INFO si;
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    CK_OBJECT_HANDLE o, o2;
    CK_BYTE b[64], b2[64];
    CK_ULONG l = sizeof b, l2 = sizeof b2;
    const CK_RV want = CKR_SESSION_HANDLE_INVALID;
    struct {
        const char *fn;
        CK_RV rv;
    } calls[] = {
        { "C_InitPIN", F->C_InitPIN (h, (CK_UTF8CHAR_PTR) USER_PIN, 4) },
        { "C_SetPIN", F->C_SetPIN (h, (CK_UTF8CHAR_PTR) USER_PIN, 4, (CK_UTF8CHAR_PTR) USER_PIN, 4) },
        { "C_CloseSession", F->C_CloseSession (h) },
        { "C_GetSessionInfo", F->C_GetSessionInfo (h, &si) },
        { "C_GetOperationState", F->C_GetOperationState (h, b, &l) },
        { "C_SetOperationState", F->C_SetOperationState (h, b, 4, 0, 0) },
        { "C_Login", F->C_Login (h, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4) },
        { "C_Logout", F->C_Logout (h) },
        { "C_CreateObject", F->C_CreateObject (h, &a, 1, &o) },
        { "C_CopyObject", F->C_CopyObject (h, 1, NULL, 0, &o) },
        { "C_DestroyObject", F->C_DestroyObject (h, 1) },
        { "C_GetObjectSize", F->C_GetObjectSize (h, 1, &l) },
        { "C_GetAttributeValue", F->C_GetAttributeValue (h, 1, &a, 1) },
        { "C_SetAttributeValue", F->C_SetAttributeValue (h, 1, &a, 1) },
        { "C_FindObjectsInit", F->C_FindObjectsInit (h, NULL, 0) },
        { "C_FindObjects", F->C_FindObjects (h, &o, 1, &l) },
        { "C_FindObjectsFinal", F->C_FindObjectsFinal (h) },
        { "C_EncryptInit", F->C_EncryptInit (h, &m, 1) },
        { "C_Encrypt", F->C_Encrypt (h, b, 4, b2, &l2) },
        { "C_EncryptUpdate", F->C_EncryptUpdate (h, b, 4, b2, &l2) },
        { "C_EncryptFinal", F->C_EncryptFinal (h, b2, &l2) },
        { "C_DecryptInit", F->C_DecryptInit (h, &m, 1) },
        { "C_Decrypt", F->C_Decrypt (h, b, 4, b2, &l2) },
        { "C_DecryptUpdate", F->C_DecryptUpdate (h, b, 4, b2, &l2) },
        { "C_DecryptFinal", F->C_DecryptFinal (h, b2, &l2) },
        { "C_DigestInit", F->C_DigestInit (h, &m) },
        { "C_Digest", F->C_Digest (h, b, 4, b2, &l2) },
        { "C_DigestUpdate", F->C_DigestUpdate (h, b, 4) },
        { "C_DigestKey", F->C_DigestKey (h, 1) },
        { "C_DigestFinal", F->C_DigestFinal (h, b2, &l2) },
        { "C_SignInit", F->C_SignInit (h, &m, 1) },
        { "C_Sign", F->C_Sign (h, b, 4, b2, &l2) },
        { "C_SignUpdate", F->C_SignUpdate (h, b, 4) },
        { "C_SignFinal", F->C_SignFinal (h, b2, &l2) },
        { "C_SignRecoverInit", F->C_SignRecoverInit (h, &m, 1) },
        { "C_SignRecover", F->C_SignRecover (h, b, 4, b2, &l2) },
        { "C_VerifyInit", F->C_VerifyInit (h, &m, 1) },
        { "C_Verify", F->C_Verify (h, b, 4, b2, 4) },
        { "C_VerifyUpdate", F->C_VerifyUpdate (h, b, 4) },
        { "C_VerifyFinal", F->C_VerifyFinal (h, b2, 4) },
        { "C_VerifyRecoverInit", F->C_VerifyRecoverInit (h, &m, 1) },
        { "C_VerifyRecover", F->C_VerifyRecover (h, b, 4, b2, &l2) },
        { "C_DigestEncryptUpdate", F->C_DigestEncryptUpdate (h, b, 4, b2, &l2) },
        { "C_DecryptDigestUpdate", F->C_DecryptDigestUpdate (h, b, 4, b2, &l2) },
        { "C_SignEncryptUpdate", F->C_SignEncryptUpdate (h, b, 4, b2, &l2) },
        { "C_DecryptVerifyUpdate", F->C_DecryptVerifyUpdate (h, b, 4, b2, &l2) },
        { "C_GenerateKey", F->C_GenerateKey (h, &m, &a, 1, &o) },
        { "C_GenerateKeyPair", F->C_GenerateKeyPair (h, &m, &a, 1, &a, 1, &o, &o2) },
        { "C_WrapKey", F->C_WrapKey (h, &m, 1, 2, b2, &l2) },
        { "C_UnwrapKey", F->C_UnwrapKey (h, &m, 1, b, 4, &a, 1, &o) },
        { "C_DeriveKey", F->C_DeriveKey (h, &m, 1, &a, 1, &o) },
        { "C_SeedRandom", F->C_SeedRandom (h, b, 4) },
        { "C_GenerateRandom", F->C_GenerateRandom (h, b, 4) },
        { "C_GetFunctionStatus", F->C_GetFunctionStatus (h) },
        { "C_CancelFunction", F->C_CancelFunction (h) },
    };
    size_t bad = 0;
    for (size_t i = 0; i < N_ELEM (calls); i++) {
        if (calls[i].rv != want) {
            check_rv (calls[i].rv, want, "%s, %s", calls[i].fn, what);
            bad++;
        }
    }
    check (bad == 0, "%zu functions with %s: CKR_SESSION_HANDLE_INVALID (%zu did not)",
           N_ELEM (calls), what, bad);
    if (R.F3 != NULL) {
        CK_FUNCTION_LIST_3_0 *f = R.F3;
        struct {
            const char *fn;
            CK_RV rv;
        } c3[] = {
            { "C_LoginUser", f->C_LoginUser (h, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4, NULL, 0) },
            { "C_SessionCancel", f->C_SessionCancel (h, CKF_SIGN) },
            { "C_MessageEncryptInit", f->C_MessageEncryptInit (h, &m, 1) },
            { "C_EncryptMessage", f->C_EncryptMessage (h, NULL, 0, NULL, 0, b, 4, b2, &l2) },
            { "C_EncryptMessageBegin", f->C_EncryptMessageBegin (h, NULL, 0, NULL, 0) },
            { "C_EncryptMessageNext", f->C_EncryptMessageNext (h, NULL, 0, b, 4, b2, &l2, 0) },
            { "C_MessageEncryptFinal", f->C_MessageEncryptFinal (h) },
            { "C_MessageDecryptInit", f->C_MessageDecryptInit (h, &m, 1) },
            { "C_DecryptMessage", f->C_DecryptMessage (h, NULL, 0, NULL, 0, b, 4, b2, &l2) },
            { "C_DecryptMessageBegin", f->C_DecryptMessageBegin (h, NULL, 0, NULL, 0) },
            { "C_DecryptMessageNext", f->C_DecryptMessageNext (h, NULL, 0, b, 4, b2, &l2, 0) },
            { "C_MessageDecryptFinal", f->C_MessageDecryptFinal (h) },
            { "C_MessageSignInit", f->C_MessageSignInit (h, &m, 1) },
            { "C_SignMessage", f->C_SignMessage (h, NULL, 0, b, 4, b2, &l2) },
            { "C_SignMessageBegin", f->C_SignMessageBegin (h, NULL, 0) },
            { "C_SignMessageNext", f->C_SignMessageNext (h, NULL, 0, b, 4, b2, &l2) },
            { "C_MessageSignFinal", f->C_MessageSignFinal (h) },
            { "C_MessageVerifyInit", f->C_MessageVerifyInit (h, &m, 1) },
            { "C_VerifyMessage", f->C_VerifyMessage (h, NULL, 0, b, 4, b2, 4) },
            { "C_VerifyMessageBegin", f->C_VerifyMessageBegin (h, NULL, 0) },
            { "C_VerifyMessageNext", f->C_VerifyMessageNext (h, NULL, 0, b, 4, b2, 4) },
            { "C_MessageVerifyFinal", f->C_MessageVerifyFinal (h) },
        };
        bad = 0;
        for (size_t i = 0; i < N_ELEM (c3); i++) {
            if (c3[i].rv != want) {
                check_rv (c3[i].rv, want, "%s, %s", c3[i].fn, what);
                bad++;
            }
        }
        check (bad == 0, "%zu 3.0 functions with %s: CKR_SESSION_HANDLE_INVALID (%zu did not)",
               N_ELEM (c3), what, bad);
    }
}

static void
r_session_invalid (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_SESSION_HANDLE other = R.slot2 ? open_session (R.slot2, RO) : CK_INVALID_HANDLE;
    all_session_calls (BAD_SESSION, "a handle never issued");
    all_session_calls (CK_INVALID_HANDLE, "CK_INVALID_HANDLE");
    check_rv (F->C_CloseSession (s), CKR_OK, "C_CloseSession");
    all_session_calls (s, "a closed session");
    if (other != CK_INVALID_HANDLE) {
        CK_SESSION_INFO si;
        check_rv (F->C_GetSessionInfo (other, &si), CKR_OK,
                  "a session of another token is not affected");
    }
}

static void
r_session_info (void)
{
    CK_SESSION_HANDLE ro = open_session (R.slot, RO), rw = open_session (R.slot, RW);
    CK_SESSION_INFO si;
    memset (&si, 0xff, sizeof si);
    check_rv (F->C_GetSessionInfo (ro, &si), CKR_OK, "R/O session");
    check (si.slotID == R.slot && si.state == CKS_RO_PUBLIC_SESSION && si.flags == RO
               && si.ulDeviceError == 0,
           "R/O: slot %lu, state %lu (CKS_RO_PUBLIC_SESSION), flags 0x%lx (CKF_SERIAL_SESSION)",
           si.slotID, si.state, si.flags);
    check_rv (F->C_GetSessionInfo (rw, &si), CKR_OK, "R/W session");
    check (si.state == CKS_RW_PUBLIC_SESSION && si.flags == RW,
           "R/W: state %lu (CKS_RW_PUBLIC_SESSION), flags 0x%lx (SERIAL|RW)", si.state, si.flags);
    check_rv (F->C_GetSessionInfo (ro, NULL), CKR_ARGUMENTS_BAD, "pInfo NULL");
}

static void
r_login_shared (void)
{
    CK_SESSION_HANDLE ro = open_session (R.slot, RO), rw = open_session (R.slot, RW), ro2;
    check_rv (login (ro, CKU_USER, USER_PIN), CKR_OK, "C_Login USER in the R/O session");
    check (state_of (ro) == CKS_RO_USER_FUNCTIONS, "R/O session: CKS_RO_USER_FUNCTIONS");
    check (state_of (rw) == CKS_RW_USER_FUNCTIONS, "the R/W session too: CKS_RW_USER_FUNCTIONS");
    ro2 = open_session (R.slot, RO);
    check (state_of (ro2) == CKS_RO_USER_FUNCTIONS, "a session opened later: CKS_RO_USER_FUNCTIONS");
    check_rv (F->C_Logout (rw), CKR_OK, "C_Logout in the R/W session");
    check (state_of (ro) == CKS_RO_PUBLIC_SESSION && state_of (ro2) == CKS_RO_PUBLIC_SESSION
               && state_of (rw) == CKS_RW_PUBLIC_SESSION,
           "every session is public again");
    if (R.slot2 != 0) {
        CK_SESSION_HANDLE other = open_session (R.slot2, RW);
        check_rv (login (ro, CKU_USER, USER_PIN), CKR_OK, "C_Login USER again");
        check (state_of (other) == CKS_RW_PUBLIC_SESSION,
               "a session of another token stays public");
    }
}

static void
r_login_so (void)
{
    CK_SESSION_HANDLE ro = open_session (R.slot, RO), rw = open_session (R.slot, RW), s;
    check_rv (login (rw, CKU_SO, SO_PIN), CKR_SESSION_READ_ONLY_EXISTS,
              "C_Login SO with a R/O session open");
    check (state_of (rw) == CKS_RW_PUBLIC_SESSION, "nobody logged in");
    check_rv (F->C_CloseSession (ro), CKR_OK, "C_CloseSession R/O");
    check_rv (login (rw, CKU_SO, SO_PIN), CKR_OK, "C_Login SO, only R/W sessions");
    check (state_of (rw) == CKS_RW_SO_FUNCTIONS, "CKS_RW_SO_FUNCTIONS");
    check_rv (F->C_OpenSession (R.slot, RO, NULL, NULL, &s), CKR_SESSION_READ_WRITE_SO_EXISTS,
              "C_OpenSession R/O while the SO is logged in");
    s = open_session (R.slot, RW);
    check (state_of (s) == CKS_RW_SO_FUNCTIONS, "a new R/W session: CKS_RW_SO_FUNCTIONS");
}

static void
r_login_twice (void)
{
    CK_SESSION_HANDLE a = open_session (R.slot, RW), b = open_session (R.slot, RW);
    check_rv (login (a, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    check_rv (login (b, CKU_USER, USER_PIN), CKR_USER_ALREADY_LOGGED_IN,
              "C_Login USER in another session");
    check_rv (login (a, CKU_SO, SO_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
              "C_Login SO while the user is");
    check_rv (F->C_Logout (a), CKR_OK, "C_Logout");
    check_rv (login (b, CKU_SO, SO_PIN), CKR_OK, "C_Login SO");
    check_rv (login (a, CKU_USER, USER_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
              "C_Login USER while the SO is");
    check_rv (login (a, CKU_SO, SO_PIN), CKR_USER_ALREADY_LOGGED_IN, "C_Login SO again");
}

static void
r_login_args (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RW);
    char longpin[200];
    CK_TOKEN_INFO ti;
    memset (longpin, '1', sizeof longpin);
    check_rv (login (s, 42, USER_PIN), CKR_USER_TYPE_INVALID, "user type 42");
    check_rv (F->C_Login (s, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD, "pPin NULL");
    check_rv (F->C_Login (s, CKU_USER, NULL, 0), CKR_ARGUMENTS_BAD,
              "pPin NULL, length 0 (no protected authentication path)");
    check_rv (F->C_Logout (s), CKR_USER_NOT_LOGGED_IN, "C_Logout, nobody logged in");
    check_rv (F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) "12", 2), CKR_PIN_INCORRECT,
              "a 2-byte PIN (shorter than ulMinPinLen)");
    check_rv (F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) longpin, sizeof longpin),
              CKR_PIN_INCORRECT, "a 200-byte PIN (longer than ulMaxPinLen)");
    check_rv (F->C_GetTokenInfo (R.slot, &ti), CKR_OK, "C_GetTokenInfo");
    check (!(ti.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED)),
           "PINs of impossible length cost no try (flags 0x%lx)", ti.flags);
    check (state_of (s) == CKS_RW_PUBLIC_SESSION, "still public");
}

static void
r_close_all (void)
{
    CK_SESSION_HANDLE a = open_session (R.slot, RO), b = open_session (R.slot, RW), c;
    CK_SESSION_HANDLE other = R.slot2 ? open_session (R.slot2, RO) : CK_INVALID_HANDLE;
    CK_SESSION_INFO si;
    check_rv (login (a, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    check_rv (F->C_CloseAllSessions (R.slot), CKR_OK, "C_CloseAllSessions");
    check_rv (F->C_GetSessionInfo (a, &si), CKR_SESSION_HANDLE_INVALID, "the R/O one is closed");
    check_rv (F->C_GetSessionInfo (b, &si), CKR_SESSION_HANDLE_INVALID, "the R/W one is closed");
    if (other != CK_INVALID_HANDLE)
        check_rv (F->C_GetSessionInfo (other, &si), CKR_OK, "a session of another token is not");
    c = open_session (R.slot, RW);
    check (state_of (c) == CKS_RW_PUBLIC_SESSION, "a new session is public: the login went");
    check_rv (F->C_CloseAllSessions (R.slot), CKR_OK, "C_CloseAllSessions again, one open");
    check_rv (F->C_CloseAllSessions (R.slot), CKR_OK, "C_CloseAllSessions with none open");
}

static void
r_close_last (void)
{
    CK_SESSION_HANDLE a = open_session (R.slot, RO), b = open_session (R.slot, RO), c;
    check_rv (login (a, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    check_rv (F->C_CloseSession (a), CKR_OK, "close one of two");
    check (state_of (b) == CKS_RO_USER_FUNCTIONS, "the other stays logged in");
    check_rv (F->C_CloseSession (b), CKR_OK, "close the last");
    c = open_session (R.slot, RO);
    check (state_of (c) == CKS_RO_PUBLIC_SESSION, "the next session is public");
}

static void
r_session_cancel (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE key = find_one (s, CKO_SECRET_KEY, "conf-hmac"), h;
    CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 }, dm = { CKM_SHA256, NULL, 0 };
    CK_BYTE out[64];
    CK_ULONG len = sizeof out, n;

    check_rv (R.F3->C_SessionCancel (s, CKF_SIGN | CKF_DIGEST), CKR_OK, "nothing active");
    check_rv (F->C_SignInit (s, &hm, key), CKR_OK, "C_SignInit");
    check_rv (F->C_DigestInit (s, &dm), CKR_OK, "C_DigestInit");
    check_rv (F->C_FindObjectsInit (s, NULL, 0), CKR_OK, "C_FindObjectsInit");
    check_rv (R.F3->C_SessionCancel (s, CKF_SIGN), CKR_OK, "C_SessionCancel (CKF_SIGN)");
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, 4, out, &len), CKR_OPERATION_NOT_INITIALIZED,
              "the signature is cancelled");
    check_rv (F->C_DigestUpdate (s, (CK_BYTE_PTR) msg, 4), CKR_OK, "the digest is still active");
    check_rv (F->C_FindObjects (s, &h, 1, &n), CKR_OK, "the search too");
    check_rv (R.F3->C_SessionCancel (s, CKF_DIGEST | CKF_FIND_OBJECTS), CKR_OK,
              "C_SessionCancel (CKF_DIGEST | CKF_FIND_OBJECTS)");
    check_rv (F->C_DigestFinal (s, out, &len), CKR_OPERATION_NOT_INITIALIZED, "digest cancelled");
    check_rv (F->C_FindObjects (s, &h, 1, &n), CKR_OPERATION_NOT_INITIALIZED, "search cancelled");
    check_rv (F->C_SignInit (s, &hm, key), CKR_OK, "a new C_SignInit after the cancel");
}

static void
r_login_user (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_FUNCTION_LIST_3_0 *f = R.F3;
    check_rv (f->C_LoginUser (s, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4, NULL, 3),
              CKR_ARGUMENTS_BAD, "pUsername NULL with a length");
    check_rv (f->C_LoginUser (s, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4, (CK_UTF8CHAR_PTR) "me", 2),
              CKR_OK, "C_LoginUser USER");
    check (state_of (s) == CKS_RO_USER_FUNCTIONS, "CKS_RO_USER_FUNCTIONS, as after C_Login");
    check_rv (f->C_LoginUser (s, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN, 4, NULL, 0),
              CKR_USER_ALREADY_LOGGED_IN, "again");
    check_rv (F->C_Logout (s), CKR_OK, "C_Logout");
    check_rv (f->C_LoginUser (s, 42, (CK_UTF8CHAR_PTR) USER_PIN, 4, NULL, 0),
              CKR_USER_TYPE_INVALID, "user type 42");
}

static void
r_ro_public_objects (void)
{
    CK_SESSION_HANDLE ro = open_session (R.slot, RO), rw = open_session (R.slot, RW);
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data },
                         { CKA_TOKEN, &yes, 1 },
                         { CKA_PRIVATE, &no, 1 },
                         { CKA_LABEL, "ro", 2 } };
    CK_BYTE g[80];
    long glen = unhex (p256_g_hex, g, sizeof g);
    CK_ATTRIBUTE pk[] = { { CKA_CLASS, &c_pub, sizeof c_pub },
                          { CKA_KEY_TYPE, &k_ec, sizeof k_ec },
                          { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
                          { CKA_EC_POINT, g, (CK_ULONG) glen },
                          { CKA_TOKEN, &no, 1 } };

    check (state_of (ro) == CKS_RO_PUBLIC_SESSION, "CKS_RO_PUBLIC_SESSION");
    check_rv (F->C_CreateObject (ro, t, N_ELEM (t), &h), CKR_SESSION_READ_ONLY,
              "a public token object in the R/O session");
    t[1].pValue = &no;
    check_rv (F->C_CreateObject (ro, t, N_ELEM (t), &h), CKR_OK,
              "a public session data object in the R/O public session");
    check (get_bool (rw, h, CKA_TOKEN) == CK_FALSE, "visible to the token's other sessions");
    check_rv (F->C_DestroyObject (ro, h), CKR_OK, "C_DestroyObject of it in the R/O session");
    check_rv (F->C_CreateObject (ro, pk, N_ELEM (pk), &h), CKR_OK,
              "a public session EC public key in the R/O public session");
    t[2].pValue = &yes;
    check_rv (F->C_CreateObject (ro, t, N_ELEM (t), &h), CKR_USER_NOT_LOGGED_IN,
              "a private session object, nobody logged in");
    t[1].pValue = &yes;
    check_rv (F->C_CreateObject (rw, t, N_ELEM (t), &h), CKR_USER_NOT_LOGGED_IN,
              "a private token object in a R/W public session");
    check_rv (login (rw, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    check_rv (F->C_CreateObject (ro, t, N_ELEM (t), &h), CKR_SESSION_READ_ONLY,
              "a private token object in the R/O user session");
    t[1].pValue = &no;
    check_rv (F->C_CreateObject (ro, t, N_ELEM (t), &h), CKR_OK,
              "a private session object in the R/O user session");
}

static void
r_ro_public_generate (void)
{
    CK_SESSION_HANDLE ro = open_session (R.slot, RO);
    CK_MECHANISM gk = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 }, gp = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof len },
                         { CKA_TOKEN, &yes, 1 },
                         { CKA_PRIVATE, &no, 1 },
                         { CKA_SIGN, &yes, 1 } };
    CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 }, { CKA_TOKEN, &yes, 1 } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, 1 } };
    CK_OBJECT_HANDLE h, h2;
    static const CK_RV ro_or_login[] = { CKR_SESSION_READ_ONLY, CKR_USER_NOT_LOGGED_IN };

    check_rv (F->C_GenerateKey (ro, &gk, t, N_ELEM (t), &h), CKR_SESSION_READ_ONLY,
              "C_GenerateKey of a public token key in the R/O session");
    t[1].pValue = &no;
    t[2].pValue = &yes;
    check_rv (F->C_GenerateKey (ro, &gk, t, N_ELEM (t), &h), CKR_USER_NOT_LOGGED_IN,
              "C_GenerateKey of a private session key, nobody logged in");
    /* deliberate deviation (docs/conformance.md): a TPM key, even a public session
     * object, needs the token secret, so the user must be logged in */
    t[2].pValue = &no;
    check_rv (F->C_GenerateKey (ro, &gk, t, N_ELEM (t), &h), CKR_USER_NOT_LOGGED_IN,
              "C_GenerateKey of a public session key, nobody logged in (TPM key: login needed)");
    check_rv_in (F->C_GenerateKeyPair (ro, &gp, pub, N_ELEM (pub), priv, N_ELEM (priv), &h, &h2),
                 ro_or_login, N_ELEM (ro_or_login),
                 "C_GenerateKeyPair of token keys in the R/O public session: "
                 "CKR_SESSION_READ_ONLY or CKR_USER_NOT_LOGGED_IN");
    check_rv (login (ro, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    t[1].pValue = &yes;
    check_rv (F->C_GenerateKey (ro, &gk, t, N_ELEM (t), &h), CKR_SESSION_READ_ONLY,
              "C_GenerateKey of a token key in the R/O user session");
    t[1].pValue = &no;
    check_rv (F->C_GenerateKey (ro, &gk, t, N_ELEM (t), &h), CKR_OK,
              "C_GenerateKey of a session key in the R/O user session");
    check (get_bool (ro, h, CKA_TOKEN) == CK_FALSE, "a session object");
}

static void
r_private_invisible (void)
{
    CK_SESSION_HANDLE s = user_session (RW), pub_s;
    CK_OBJECT_HANDLE priv = find_one (s, CKO_DATA, "conf-private");
    CK_OBJECT_HANDLE key = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_OBJECT_HANDLE found[64], h;
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_ULONG size;
    long n_user, n_pub, privates = 0;

    check (priv != CK_INVALID_HANDLE && key != CK_INVALID_HANDLE,
           "logged in: the private data object and key are found");
    n_user = find_all (s, found, N_ELEM (found));
    check_rv (F->C_Logout (s), CKR_OK, "C_Logout");
    pub_s = open_session (R.slot, RO);
    n_pub = find_all (pub_s, found, N_ELEM (found));
    for (long i = 0; i < n_pub; i++)
        privates += get_bool (pub_s, found[i], CKA_PRIVATE) != CK_FALSE;
    check (n_pub > 0 && n_pub < n_user && privates == 0,
           "not logged in: C_FindObjects returns %ld objects (of %ld), %ld private", n_pub, n_user,
           privates);
    check (find_one (pub_s, CKO_DATA, "conf-public") != CK_INVALID_HANDLE,
           "the public data object is found");
    check (find_one (pub_s, CKO_DATA, "conf-private") == CK_INVALID_HANDLE,
           "the private one is not, even by its label");
    check_rv (F->C_GetAttributeValue (pub_s, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID,
              "C_GetAttributeValue with its old handle");
    check_rv (F->C_GetObjectSize (pub_s, priv, &size), CKR_OBJECT_HANDLE_INVALID,
              "C_GetObjectSize");
    check_rv (F->C_SetAttributeValue (s, priv, &a, 1), CKR_OBJECT_HANDLE_INVALID,
              "C_SetAttributeValue");
    check_rv (F->C_CopyObject (s, priv, NULL, 0, &h), CKR_OBJECT_HANDLE_INVALID, "C_CopyObject");
    check_rv (F->C_DestroyObject (s, priv), CKR_OBJECT_HANDLE_INVALID, "C_DestroyObject");
    check_rv (F->C_SignInit (s, &m, key), CKR_KEY_HANDLE_INVALID, "C_SignInit with the key");
    check_rv (login (s, CKU_SO, SO_PIN), CKR_SESSION_READ_ONLY_EXISTS, "C_Login SO (R/O open)");
    F->C_CloseSession (pub_s);
    check_rv (login (s, CKU_SO, SO_PIN), CKR_OK, "C_Login SO");
    check (find_one (s, CKO_DATA, "conf-private") == CK_INVALID_HANDLE,
           "the SO does not see private objects either");
}

static void
r_object_invalid (void)
{
    CK_SESSION_HANDLE s = user_session (RW);
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 }, d = { CKM_SHA256, NULL, 0 };
    CK_OBJECT_HANDLE h, bad[] = { BAD_OBJECT, CK_INVALID_HANDLE };
    CK_ULONG size;
    for (size_t i = 0; i < N_ELEM (bad); i++) {
        const char *w = bad[i] ? "a handle never issued" : "CK_INVALID_HANDLE";
        check_rv (F->C_CopyObject (s, bad[i], NULL, 0, &h), CKR_OBJECT_HANDLE_INVALID,
                  "C_CopyObject, %s", w);
        check_rv (F->C_DestroyObject (s, bad[i]), CKR_OBJECT_HANDLE_INVALID,
                  "C_DestroyObject, %s", w);
        check_rv (F->C_GetObjectSize (s, bad[i], &size), CKR_OBJECT_HANDLE_INVALID,
                  "C_GetObjectSize, %s", w);
        check_rv (F->C_GetAttributeValue (s, bad[i], &a, 1), CKR_OBJECT_HANDLE_INVALID,
                  "C_GetAttributeValue, %s", w);
        check_rv (F->C_SetAttributeValue (s, bad[i], &a, 1), CKR_OBJECT_HANDLE_INVALID,
                  "C_SetAttributeValue, %s", w);
        check_rv (F->C_SignInit (s, &m, bad[i]), CKR_KEY_HANDLE_INVALID, "C_SignInit, %s", w);
        check_rv (F->C_VerifyInit (s, &m, bad[i]), CKR_KEY_HANDLE_INVALID, "C_VerifyInit, %s", w);
        check_rv (F->C_DigestInit (s, &d), CKR_OK, "C_DigestInit");
        check_rv (F->C_DigestKey (s, bad[i]), CKR_KEY_HANDLE_INVALID, "C_DigestKey, %s", w);
        check_rv (F->C_DigestUpdate (s, (CK_BYTE_PTR) msg, 1), CKR_OPERATION_NOT_INITIALIZED,
                  "the failed C_DigestKey ended the digest");
    }
}

static void
r_get_attrs (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE key = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE kt = 0;
    CK_BYTE value[64], modulus[64], label[1], id[64];
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },         /* 0 ok */
        { CKA_VALUE, value, sizeof value },      /* 1 sensitive */
        { CKA_MODULUS, modulus, sizeof modulus }, /* 2 not an EC key's */
        { CKA_LABEL, label, sizeof label },      /* 3 too small */
        { CKA_ID, NULL, 0 },                     /* 4 length query */
        { CKA_KEY_TYPE, &kt, sizeof kt },        /* 5 ok */
    };
    static const CK_RV any3[] = { CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID,
                                  CKR_BUFFER_TOO_SMALL };
    CK_RV rv;

    check (key != CK_INVALID_HANDLE, "the private EC key");
    rv = F->C_GetAttributeValue (s, key, t, N_ELEM (t));
    check_rv_in (rv, any3, N_ELEM (any3),
                 "sensitive, invalid, too small and good attributes at once: one of "
                 "CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL");
    check (t[0].ulValueLen == sizeof cls && cls == CKO_PRIVATE_KEY, "CKA_CLASS still returned");
    check (t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION, "sensitive CKA_VALUE: %s",
           t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION ? "CK_UNAVAILABLE_INFORMATION" : "a length");
    check (t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION,
           "CKA_MODULUS (not an EC key's): CK_UNAVAILABLE_INFORMATION");
    check (t[3].ulValueLen == CK_UNAVAILABLE_INFORMATION,
           "CKA_LABEL in 1 byte: CK_UNAVAILABLE_INFORMATION");
    check (t[4].ulValueLen > 0 && t[4].ulValueLen != CK_UNAVAILABLE_INFORMATION,
           "CKA_ID with pValue NULL: its length (%lu)", t[4].ulValueLen);
    check (t[5].ulValueLen == sizeof kt && kt == CKK_EC, "CKA_KEY_TYPE (after them) returned");

    /* each failure alone gives its own code */
    {
        CK_ATTRIBUTE one = { CKA_VALUE, value, sizeof value };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_ATTRIBUTE_SENSITIVE,
                  "CKA_VALUE alone");
        one = (CK_ATTRIBUTE) { CKA_VALUE, NULL, 0 };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_ATTRIBUTE_SENSITIVE,
                  "CKA_VALUE alone, pValue NULL");
        check (one.ulValueLen == CK_UNAVAILABLE_INFORMATION, "no length for a sensitive value");
        one = (CK_ATTRIBUTE) { CKA_MODULUS, modulus, sizeof modulus };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_ATTRIBUTE_TYPE_INVALID,
                  "CKA_MODULUS alone");
        one = (CK_ATTRIBUTE) { 0x7fff0000UL, modulus, sizeof modulus };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_ATTRIBUTE_TYPE_INVALID,
                  "an unknown attribute type alone");
        one = (CK_ATTRIBUTE) { CKA_LABEL, label, sizeof label };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_BUFFER_TOO_SMALL,
                  "CKA_LABEL alone in 1 byte");
        one = (CK_ATTRIBUTE) { CKA_ID, id, sizeof id };
        check_rv (F->C_GetAttributeValue (s, key, &one, 1), CKR_OK, "CKA_ID alone");
        check (one.ulValueLen == t[4].ulValueLen, "as long as the length query said (%lu)",
               one.ulValueLen);
    }
}

static void
r_find_ops (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_OBJECT_HANDLE h;
    CK_ULONG n;
    check_rv (F->C_FindObjects (s, &h, 1, &n), CKR_OPERATION_NOT_INITIALIZED,
              "C_FindObjects without C_FindObjectsInit");
    check_rv (F->C_FindObjectsFinal (s), CKR_OPERATION_NOT_INITIALIZED,
              "C_FindObjectsFinal without C_FindObjectsInit");
    check_rv (F->C_FindObjectsInit (s, NULL, 0), CKR_OK, "C_FindObjectsInit");
    check_rv (F->C_FindObjectsInit (s, NULL, 0), CKR_OPERATION_ACTIVE, "C_FindObjectsInit again");
    check_rv (F->C_FindObjects (s, &h, 1, NULL), CKR_ARGUMENTS_BAD, "pulObjectCount NULL");
    check_rv (F->C_FindObjects (s, &h, 1, &n), CKR_OK, "the search is still active");
    check_rv (F->C_FindObjectsFinal (s), CKR_OK, "C_FindObjectsFinal");
    check_rv (F->C_FindObjectsFinal (s), CKR_OPERATION_NOT_INITIALIZED, "it ended");
}

/* §5.2 for C_Sign and C_SignFinal with mechanism m over key (the output is
 * want_len long); expect, when not NULL, is the right output (checked apart). */
static void
lenq_sign (CK_SESSION_HANDLE s, CK_MECHANISM *m, CK_OBJECT_HANDLE key, const char *what,
           CK_ULONG want_len, const CK_BYTE *expect)
{
    CK_BYTE out[128];
    CK_ULONG len;

    check_rv (F->C_SignInit (s, m, key), CKR_OK, "%s: C_SignInit", what);
    len = 0;
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, sizeof msg - 1, NULL, &len), CKR_OK,
              "%s: C_Sign, pSignature NULL", what);
    check (len == want_len, "%s: the length %lu (want %lu)", what, len, want_len);
    len = want_len - 1;
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len), CKR_BUFFER_TOO_SMALL,
              "%s: C_Sign, one byte short", what);
    check (len == want_len, "%s: too small: the length %lu", what, len);
    len = sizeof out;
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len), CKR_OK,
              "%s: C_Sign (the operation was still active)", what);
    check (len == want_len && (expect == NULL || memcmp (out, expect, len) == 0),
           "%s: %lu bytes%s", what, len, expect ? ", the same as OpenSSL's" : "");
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len),
              CKR_OPERATION_NOT_INITIALIZED, "%s: C_Sign after success: the operation ended", what);

    check_rv (F->C_SignInit (s, m, key), CKR_OK, "%s: C_SignInit (multi-part)", what);
    check_rv (F->C_SignUpdate (s, (CK_BYTE_PTR) msg, 10), CKR_OK, "%s: C_SignUpdate", what);
    check_rv (F->C_SignUpdate (s, (CK_BYTE_PTR) msg + 10, sizeof msg - 11), CKR_OK,
              "%s: C_SignUpdate", what);
    len = 0;
    check_rv (F->C_SignFinal (s, NULL, &len), CKR_OK, "%s: C_SignFinal, pSignature NULL", what);
    check (len == want_len, "%s: the length %lu", what, len);
    len = 1;
    check_rv (F->C_SignFinal (s, out, &len), CKR_BUFFER_TOO_SMALL, "%s: C_SignFinal, 1 byte", what);
    check (len == want_len, "%s: too small: the length %lu", what, len);
    len = sizeof out;
    check_rv (F->C_SignFinal (s, out, &len), CKR_OK, "%s: C_SignFinal", what);
    check (len == want_len && (expect == NULL || memcmp (out, expect, len) == 0),
           "%s: %lu bytes%s", what, len, expect ? ", the same as OpenSSL's" : "");
    check_rv (F->C_SignFinal (s, out, &len), CKR_OPERATION_NOT_INITIALIZED,
              "%s: C_SignFinal again: ended", what);
}

static void
r_lenq_sign (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE ec = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_OBJECT_HANDLE ed = find_one (s, CKO_PRIVATE_KEY, "conf-ed");
    CK_OBJECT_HANDLE hk = find_one (s, CKO_SECRET_KEY, "conf-hmac");
    CK_ULONG ten = 10;
    CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 }, eddsa = { CKM_EDDSA, NULL, 0 },
                 hmac = { CKM_SHA256_HMAC, NULL, 0 },
                 hmac10 = { CKM_SHA256_HMAC_GENERAL, &ten, sizeof ten };
    CK_BYTE mac[32];

    check (ec && ed && hk, "the keys are there");
    check (openssl_hmac_sha256 (msg, sizeof msg - 1, mac), "OpenSSL computes the HMAC");
    lenq_sign (s, &ecdsa, ec, "CKM_ECDSA_SHA256", 64, NULL);
    lenq_sign (s, &eddsa, ed, "CKM_EDDSA", 64, NULL);
    lenq_sign (s, &hmac, hk, "CKM_SHA256_HMAC", 32, mac);
    lenq_sign (s, &hmac10, hk, "CKM_SHA256_HMAC_GENERAL (10)", 10, mac);
}

static void
r_lenq_digest (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_BYTE out[64], want[32];
    CK_ULONG len;
    unsigned int n = 32;

    check (EVP_Digest (msg, sizeof msg - 1, want, &n, EVP_sha256 (), NULL) == 1, "OpenSSL SHA-256");
    check (state_of (s) == CKS_RO_PUBLIC_SESSION, "in a R/O public session");
    check_rv (F->C_DigestInit (s, &m), CKR_OK, "C_DigestInit, not logged in");
    len = 0;
    check_rv (F->C_Digest (s, (CK_BYTE_PTR) msg, sizeof msg - 1, NULL, &len), CKR_OK,
              "C_Digest, pDigest NULL");
    check (len == 32, "the length %lu", len);
    len = 31;
    check_rv (F->C_Digest (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len), CKR_BUFFER_TOO_SMALL,
              "C_Digest, one byte short");
    check (len == 32, "too small: the length %lu", len);
    len = sizeof out;
    check_rv (F->C_Digest (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len), CKR_OK, "C_Digest");
    check (len == 32 && memcmp (out, want, 32) == 0, "OpenSSL's SHA-256");
    check_rv (F->C_Digest (s, (CK_BYTE_PTR) msg, 1, out, &len), CKR_OPERATION_NOT_INITIALIZED,
              "C_Digest after success: ended");
    check_rv (F->C_DigestInit (s, &m), CKR_OK, "C_DigestInit (multi-part)");
    check_rv (F->C_DigestUpdate (s, (CK_BYTE_PTR) msg, sizeof msg - 1), CKR_OK, "C_DigestUpdate");
    len = 0;
    check_rv (F->C_DigestFinal (s, NULL, &len), CKR_OK, "C_DigestFinal, pDigest NULL");
    len = 8;
    check_rv (F->C_DigestFinal (s, out, &len), CKR_BUFFER_TOO_SMALL, "C_DigestFinal, 8 bytes");
    check (len == 32, "too small: the length %lu", len);
    len = sizeof out;
    check_rv (F->C_DigestFinal (s, out, &len), CKR_OK, "C_DigestFinal");
    check (len == 32 && memcmp (out, want, 32) == 0, "OpenSSL's SHA-256");
    check_rv (F->C_DigestFinal (s, out, &len), CKR_OPERATION_NOT_INITIALIZED, "ended");
}

static void
r_op_end_on_error (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE ec = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_OBJECT_HANDLE ecpub = find_one (s, CKO_PUBLIC_KEY, "conf-ec");
    CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 }, dm = { CKM_SHA256, NULL, 0 };
    CK_BYTE sig[64], out[64], *big = calloc (1, 70000);
    CK_ULONG len = sizeof sig;

    check_rv (F->C_SignInit (s, &raw, ec), CKR_OK, "C_SignInit CKM_ECDSA");
    check_rv (F->C_Sign (s, big, 70000, sig, &len), CKR_DATA_LEN_RANGE, "C_Sign of 70000 bytes");
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED,
              "the error ended the operation");
    check_rv (F->C_SignInit (s, &raw, ec), CKR_OK, "C_SignInit");
    check_rv (F->C_Sign (s, NULL, 32, sig, &len), CKR_ARGUMENTS_BAD, "C_Sign (NULL, 32)");
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED,
              "bad arguments ended it too");
    check_rv (F->C_SignInit (s, &raw, ec), CKR_OK, "C_SignInit");
    check_rv (F->C_SignUpdate (s, NULL, 5), CKR_ARGUMENTS_BAD, "C_SignUpdate (NULL, 5)");
    check_rv (F->C_SignFinal (s, sig, &len), CKR_OPERATION_NOT_INITIALIZED, "ended");
    memset (sig, 1, sizeof sig);
    check_rv (F->C_VerifyInit (s, &raw, ecpub), CKR_OK, "C_VerifyInit (public key)");
    check_rv (F->C_Verify (s, (CK_BYTE_PTR) msg, 32, sig, 64), CKR_SIGNATURE_INVALID,
              "C_Verify of a wrong signature");
    check_rv (F->C_Verify (s, (CK_BYTE_PTR) msg, 32, sig, 64), CKR_OPERATION_NOT_INITIALIZED,
              "the failed verification ended the operation");
    check_rv (F->C_VerifyInit (s, &raw, ecpub), CKR_OK, "C_VerifyInit");
    check_rv (F->C_VerifyFinal (s, NULL, 64), CKR_ARGUMENTS_BAD, "C_VerifyFinal (NULL, 64)");
    check_rv (F->C_VerifyFinal (s, sig, 64), CKR_OPERATION_NOT_INITIALIZED, "ended");
    check_rv (F->C_DigestInit (s, &dm), CKR_OK, "C_DigestInit");
    check_rv (F->C_DigestUpdate (s, NULL, 5), CKR_ARGUMENTS_BAD, "C_DigestUpdate (NULL, 5)");
    len = sizeof out;
    check_rv (F->C_DigestFinal (s, out, &len), CKR_OPERATION_NOT_INITIALIZED, "ended");
    check_rv (F->C_DigestInit (s, &dm), CKR_OK, "C_DigestInit");
    check_rv (F->C_DigestKey (s, ec), CKR_KEY_INDIGESTIBLE, "C_DigestKey of a TPM key");
    check_rv (F->C_DigestFinal (s, out, &len), CKR_OPERATION_NOT_INITIALIZED, "ended");
    free (big);
}

static void
r_op_active (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE hk = find_one (s, CKO_SECRET_KEY, "conf-hmac");
    CK_OBJECT_HANDLE ecpub = find_one (s, CKO_PUBLIC_KEY, "conf-ec");
    CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 }, dm = { CKM_SHA256, NULL, 0 },
                 v = { CKM_ECDSA, NULL, 0 };
    CK_BYTE mac[32], want[32], out[64];
    CK_ULONG len = sizeof mac;
    unsigned int n = 32;

    check_rv (F->C_SignInit (s, &hm, hk), CKR_OK, "C_SignInit");
    check_rv (F->C_SignInit (s, &hm, hk), CKR_OPERATION_ACTIVE, "C_SignInit again");
    check_rv (F->C_Sign (s, (CK_BYTE_PTR) msg, sizeof msg - 1, mac, &len), CKR_OK,
              "the first operation still works");
    check (openssl_hmac_sha256 (msg, sizeof msg - 1, want) && memcmp (mac, want, 32) == 0,
           "and gives OpenSSL's HMAC");
    check_rv (F->C_VerifyInit (s, &v, ecpub), CKR_OK, "C_VerifyInit");
    check_rv (F->C_VerifyInit (s, &v, ecpub), CKR_OPERATION_ACTIVE, "C_VerifyInit again");
    check_rv (F->C_DigestInit (s, &dm), CKR_OK, "C_DigestInit");
    check_rv (F->C_DigestInit (s, &dm), CKR_OPERATION_ACTIVE, "C_DigestInit again");
    len = sizeof out;
    check_rv (F->C_Digest (s, (CK_BYTE_PTR) msg, sizeof msg - 1, out, &len), CKR_OK,
              "the digest still works");
    check (EVP_Digest (msg, sizeof msg - 1, want, &n, EVP_sha256 (), NULL) == 1
               && memcmp (out, want, 32) == 0,
           "OpenSSL's SHA-256");
}

static void
r_op_not_initialized (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE ec = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_BYTE b[64];
    CK_ULONG l = sizeof b;
    const CK_RV want = CKR_OPERATION_NOT_INITIALIZED;
    check_rv (F->C_Sign (s, b, 4, b, &l), want, "C_Sign");
    check_rv (F->C_SignUpdate (s, b, 4), want, "C_SignUpdate");
    check_rv (F->C_SignFinal (s, b, &l), want, "C_SignFinal");
    check_rv (F->C_Verify (s, b, 4, b, 4), want, "C_Verify");
    check_rv (F->C_VerifyUpdate (s, b, 4), want, "C_VerifyUpdate");
    check_rv (F->C_VerifyFinal (s, b, 4), want, "C_VerifyFinal");
    check_rv (F->C_Digest (s, b, 4, b, &l), want, "C_Digest");
    check_rv (F->C_DigestUpdate (s, b, 4), want, "C_DigestUpdate");
    check_rv (F->C_DigestKey (s, ec), want, "C_DigestKey");
    check_rv (F->C_DigestFinal (s, b, &l), want, "C_DigestFinal");
    check_rv (F->C_GetOperationState (s, b, &l), want, "C_GetOperationState");
    check_rv (F->C_GetOperationState (s, b, NULL), CKR_ARGUMENTS_BAD,
              "C_GetOperationState (pulOperationStateLen NULL)");
    check_rv (F->C_SetOperationState (s, NULL, 4, 0, 0), CKR_ARGUMENTS_BAD,
              "C_SetOperationState (pOperationState NULL)");
}

static void
r_mech_invalid (void)
{
    CK_SESSION_HANDLE s = user_session (RO);
    CK_OBJECT_HANDLE ec = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_OBJECT_HANDLE hk = find_one (s, CKO_SECRET_KEY, "conf-hmac");
    CK_ULONG p = 1, zero = 0, big = 33;
    CK_MECHANISM dsa = { CKM_DSA, NULL, 0 }, rsa = { CKM_RSA_PKCS, NULL, 0 }, aes = { CKM_AES_KEY_GEN, NULL, 0 },
                 ecdsa = { CKM_ECDSA, NULL, 0 }, sha = { CKM_SHA256, &p, sizeof p },
                 ecdsa_p = { CKM_ECDSA, &p, sizeof p },
                 hg0 = { CKM_SHA256_HMAC_GENERAL, &zero, sizeof zero },
                 hg33 = { CKM_SHA256_HMAC_GENERAL, &big, sizeof big },
                 hgn = { CKM_SHA256_HMAC_GENERAL, NULL, 0 },
                 gen_p = { CKM_EC_KEY_PAIR_GEN, &p, sizeof p },
                 sgen_p = { CKM_GENERIC_SECRET_KEY_GEN, &p, sizeof p };
    CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 } };
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE sec[] = { { CKA_VALUE_LEN, &vlen, sizeof vlen } };
    CK_OBJECT_HANDLE h, h2;

    check_rv (F->C_DigestInit (s, &ecdsa), CKR_MECHANISM_INVALID, "C_DigestInit CKM_ECDSA");
    check_rv (F->C_DigestInit (s, &rsa), CKR_MECHANISM_INVALID, "C_DigestInit CKM_RSA_PKCS");
    check_rv (F->C_SignInit (s, &dsa, ec), CKR_MECHANISM_INVALID, "C_SignInit CKM_DSA");
    check_rv (F->C_VerifyInit (s, &dsa, ec), CKR_MECHANISM_INVALID, "C_VerifyInit CKM_DSA");
    check_rv (F->C_SignInit (s, &rsa, ec), CKR_KEY_TYPE_INCONSISTENT,
              "C_SignInit CKM_RSA_PKCS with an EC key");
    check_rv (F->C_VerifyInit (s, &rsa, ec), CKR_KEY_TYPE_INCONSISTENT,
              "C_VerifyInit CKM_RSA_PKCS with an EC key");
    check_rv (F->C_GenerateKey (s, &aes, sec, 1, &h), CKR_MECHANISM_INVALID,
              "C_GenerateKey CKM_AES_KEY_GEN");
    check_rv (F->C_GenerateKeyPair (s, &ecdsa, pub, 1, NULL, 0, &h, &h2), CKR_MECHANISM_INVALID,
              "C_GenerateKeyPair CKM_ECDSA");
    check_rv (F->C_DigestInit (s, &sha), CKR_MECHANISM_PARAM_INVALID,
              "C_DigestInit CKM_SHA256 with a parameter");
    check_rv (F->C_SignInit (s, &ecdsa_p, ec), CKR_MECHANISM_PARAM_INVALID,
              "C_SignInit CKM_ECDSA with a parameter");
    check_rv (F->C_SignInit (s, &hg0, hk), CKR_MECHANISM_PARAM_INVALID,
              "CKM_SHA256_HMAC_GENERAL, length 0");
    check_rv (F->C_SignInit (s, &hg33, hk), CKR_MECHANISM_PARAM_INVALID,
              "CKM_SHA256_HMAC_GENERAL, length 33");
    check_rv (F->C_SignInit (s, &hgn, hk), CKR_MECHANISM_PARAM_INVALID,
              "CKM_SHA256_HMAC_GENERAL without its parameter");
    check_rv (F->C_GenerateKeyPair (s, &gen_p, pub, 1, NULL, 0, &h, &h2),
              CKR_MECHANISM_PARAM_INVALID, "C_GenerateKeyPair with a parameter");
    check_rv (F->C_GenerateKey (s, &sgen_p, sec, 1, &h), CKR_MECHANISM_PARAM_INVALID,
              "C_GenerateKey with a parameter");
    check_rv (F->C_SignInit (s, &ecdsa, ec), CKR_OK, "the refusals started nothing");
}

static void
r_no_login (void)
{
    CK_SESSION_HANDLE s = open_session (R.slot, RO);
    CK_OBJECT_HANDLE ecpub = find_one (s, CKO_PUBLIC_KEY, "conf-ec");
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 }, v = { CKM_ECDSA, NULL, 0 };
    CK_BYTE rnd[1000], seed[300];
    size_t zeros = 0;

    check (state_of (s) == CKS_RO_PUBLIC_SESSION, "CKS_RO_PUBLIC_SESSION");
    check_rv (F->C_DigestInit (s, &m), CKR_OK, "C_DigestInit");
    memset (rnd, 0, sizeof rnd);
    check_rv (F->C_GenerateRandom (s, rnd, sizeof rnd), CKR_OK, "C_GenerateRandom, 1000 bytes");
    for (size_t i = 0; i < sizeof rnd; i++)
        zeros += rnd[i] == 0;
    check (zeros < 30, "random-looking (%zu zero bytes of 1000)", zeros);
    check_rv (F->C_GenerateRandom (s, rnd, 0), CKR_OK, "C_GenerateRandom, 0 bytes");
    check_rv (F->C_GenerateRandom (s, NULL, 5), CKR_ARGUMENTS_BAD, "C_GenerateRandom (NULL, 5)");
    memset (seed, 7, sizeof seed);
    check_rv (F->C_SeedRandom (s, seed, sizeof seed), CKR_OK,
              "C_SeedRandom, 300 bytes (mixed into the TPM's RNG with TPM2_StirRandom, 128 a command)");
    check_rv (F->C_SeedRandom (s, seed, 0), CKR_OK, "C_SeedRandom, 0 bytes");
    check_rv (F->C_SeedRandom (s, NULL, 4), CKR_ARGUMENTS_BAD, "C_SeedRandom (NULL, 4)");
    check_rv (F->C_VerifyInit (s, &v, ecpub), CKR_OK, "C_VerifyInit with a public key");
}

static void
r_unsupported (void)
{
    CK_SESSION_HANDLE s = user_session (RW);
    CK_OBJECT_HANDLE ec = find_one (s, CKO_PRIVATE_KEY, "conf-ec");
    CK_MECHANISM_TYPE list[64];
    CK_ULONG n = N_ELEM (list), l, bad = 0;
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_BYTE b[64];
    const CK_FLAGS stub_flags = CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER
                                | CKF_WRAP | CKF_UNWRAP | 0x1e /* CKF_MESSAGE_* */;
    const CK_RV want = CKR_FUNCTION_NOT_SUPPORTED;

    check_rv (F->C_GetMechanismList (R.slot, list, &n), CKR_OK, "C_GetMechanismList");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_MECHANISM_INFO mi;
        if (F->C_GetMechanismInfo (R.slot, list[i], &mi) == CKR_OK && (mi.flags & stub_flags))
            bad++;
    }
    check (bad == 0, "no mechanism offers encryption, decryption, recovery, wrapping or "
                     "messages (%lu do)", bad);
    l = sizeof b;
    check_rv (F->C_EncryptInit (s, &m, ec), want, "C_EncryptInit");
    check_rv (F->C_Encrypt (s, b, 4, b, &l), want, "C_Encrypt");
    check_rv (F->C_DecryptInit (s, &m, ec), want, "C_DecryptInit");
    check_rv (F->C_Decrypt (s, b, 4, b, &l), want, "C_Decrypt");
    check_rv (F->C_SignRecoverInit (s, &m, ec), want, "C_SignRecoverInit");
    check_rv (F->C_VerifyRecoverInit (s, &m, ec), want, "C_VerifyRecoverInit");
    check_rv (F->C_WrapKey (s, &m, ec, ec, b, &l), want, "C_WrapKey");
    check_rv (F->C_DigestEncryptUpdate (s, b, 4, b, &l), want, "C_DigestEncryptUpdate");
    if (R.F3 != NULL) {
        check_rv (R.F3->C_MessageSignInit (s, &m, ec), want, "C_MessageSignInit");
        check_rv (R.F3->C_MessageEncryptInit (s, &m, ec), want, "C_MessageEncryptInit");
    }
}

/* ---- the table ---- */

enum { PRE = 1, INIT = 2, V30 = 4 };

typedef struct {
    const char *id;
    const char *section;
    const char *rule;
    void (*check) (void);
    unsigned flags; /* PRE: runs with the library not initialized; V30: 3.0 table only */
} rule;

static const rule rules[] = {
    { "INIT-1", "2.40 §5.1.6 (CKR_CRYPTOKI_NOT_INITIALIZED), §5.4.4, 3.0 §5.4.5-6",
      "before C_Initialize every function returns CKR_CRYPTOKI_NOT_INITIALIZED, but "
      "C_GetFunctionList and C_GetInterface",
      r_not_initialized, PRE },
    { "INIT-2", "2.40 §5.4.1 C_Initialize, §3.7 CK_C_INITIALIZE_ARGS",
      "pReserved not NULL: CKR_ARGUMENTS_BAD", r_init_reserved, PRE },
    { "INIT-3", "2.40 §5.4.1 C_Initialize",
      "some but not all mutex callbacks: CKR_ARGUMENTS_BAD", r_init_partial_mutex, PRE },
    { "INIT-4", "2.40 §5.4.1 C_Initialize (case 3)",
      "all callbacks without CKF_OS_LOCKING_OK: the library uses them or returns CKR_CANT_LOCK",
      r_init_app_mutex, PRE },
    { "INIT-5", "2.40 §5.4.1 C_Initialize (cases 1, 2, 4), §3.7 flags",
      "NULL, no flags, CKF_OS_LOCKING_OK (with or without callbacks), "
      "CKF_LIBRARY_CANT_CREATE_OS_THREADS are accepted",
      r_init_flags, PRE },
    { "INIT-6", "2.40 §5.4.1 C_Initialize", "a second C_Initialize: CKR_CRYPTOKI_ALREADY_INITIALIZED",
      r_init_twice, PRE },
    { "INIT-7", "2.40 §5.4.2 C_Finalize",
      "pReserved not NULL: CKR_ARGUMENTS_BAD; C_Finalize ends the library and its sessions",
      r_finalize, INIT },
    { "INFO-1", "2.40 §5.4.3 C_GetInfo, §3.1 CK_INFO",
      "version of the table, strings blank padded and not NUL-terminated, flags 0", r_info, INIT },
    { "INFO-2", "2.40 §5.4.4 C_GetFunctionList, 3.0 §3.6 CK_FUNCTION_LIST_3_0",
      "C_GetFunctionList gives the complete 2.40 table", r_function_list, INIT },
    { "IFACE-1", "3.0 §5.4.5 C_GetInterfaceList, §5.2",
      "length query, CKR_BUFFER_TOO_SMALL with the count, \"PKCS 11\" interfaces",
      r_interface_list, INIT | V30 },
    { "IFACE-2", "3.0 §5.4.6 C_GetInterface",
      "default (NULL name) is 3.0; by version; unknown name, version or flag: CKR_ARGUMENTS_BAD",
      r_interface, INIT | V30 },
    { "SLOT-1", "2.40 §5.5.1 C_GetSlotList, §5.2",
      "length query and CKR_BUFFER_TOO_SMALL give the count", r_slot_list, INIT },
    { "SLOT-2", "2.40 §5.5.2 C_GetSlotInfo, §3.2 CK_SLOT_INFO",
      "strings blank padded and not NUL-terminated, known flags", r_slot_info, INIT },
    { "SLOT-3", "2.40 §5.5.3 C_GetTokenInfo, §3.2 CK_TOKEN_INFO",
      "strings blank padded and not NUL-terminated, known flags, session counts", r_token_info,
      INIT },
    { "SLOT-4", "2.40 §5.1.6 CKR_SLOT_ID_INVALID",
      "every function taking a slot rejects an unknown one", r_slot_invalid, INIT },
    { "SLOT-5", "2.40 §5.5.5 C_GetMechanismList, §5.5.6 C_GetMechanismInfo, §3.5",
      "length query; every listed mechanism has consistent info; unlisted: "
      "CKR_MECHANISM_INVALID; CKF_DIGEST is true to C_DigestInit",
      r_mechanisms, INIT },
    { "SLOT-6", "2.40 §5.5.4 C_WaitForSlotEvent",
      "CKF_DONT_BLOCK reports each new slot once, else CKR_NO_EVENT; bad arguments",
      r_wait_for_slot_event, INIT },
    { "SESS-1", "2.40 §5.6.1 C_OpenSession",
      "without CKF_SERIAL_SESSION: CKR_SESSION_PARALLEL_NOT_SUPPORTED", r_open_session, INIT },
    { "SESS-2", "2.40 §5.1.2 (functions that use a session handle)",
      "every function taking a session rejects an unknown, invalid or closed handle with "
      "CKR_SESSION_HANDLE_INVALID",
      r_session_invalid, INIT },
    { "SESS-3", "2.40 §5.6.4 C_GetSessionInfo, §3.3 CK_STATE",
      "R/O and R/W public states and flags", r_session_info, INIT },
    { "SESS-4", "2.40 §5.6.7 C_Login, §5.6.8 C_Logout (3.0 §5.6.8, §5.6.10)",
      "the login state is the token's: every session (and later ones) shows it; other tokens "
      "stay public",
      r_login_shared, INIT },
    { "SESS-5", "2.40 §5.6.7 C_Login, §5.6.1 C_OpenSession",
      "SO login with a R/O session open: CKR_SESSION_READ_ONLY_EXISTS; no R/O session "
      "while the SO is logged in",
      r_login_so, INIT },
    { "SESS-6", "2.40 §5.6.7 C_Login",
      "CKR_USER_ALREADY_LOGGED_IN, CKR_USER_ANOTHER_ALREADY_LOGGED_IN", r_login_twice, INIT },
    { "SESS-7", "2.40 §5.6.7 C_Login, §5.6.8 C_Logout",
      "bad user type, NULL PIN, logout when nobody is logged in; impossible PIN lengths",
      r_login_args, INIT },
    { "SESS-8", "2.40 §5.6.3 C_CloseAllSessions",
      "closes every session of that token only, and logs the token out", r_close_all, INIT },
    { "SESS-9", "2.40 §5.6.2 C_CloseSession",
      "closing the last session of a token logs it out", r_close_last, INIT },
    { "SESS-10", "3.0 §5.6.5 C_SessionCancel",
      "ends the operations its flags name, and only those", r_session_cancel, INIT | V30 },
    { "SESS-11", "3.0 §5.6.9 C_LoginUser", "behaves as C_Login; pUsername NULL with a length: "
      "CKR_ARGUMENTS_BAD", r_login_user, INIT | V30 },
    { "OBJ-1", "2.40 §5.7.1 C_CreateObject, §4.4 CKA_TOKEN/CKA_PRIVATE",
      "R/O sessions create session objects only; public session objects in a R/O public "
      "session; private objects only for the user",
      r_ro_public_objects, INIT },
    { "OBJ-2", "2.40 §5.14.1 C_GenerateKey, §5.14.2 C_GenerateKeyPair (3.0 §5.18)",
      "the same rules for generated keys (a TPM key needs the login: see conformance.md)",
      r_ro_public_generate, INIT },
    { "OBJ-3", "2.40 §4.4 CKA_PRIVATE, §5.6.8 C_Logout, §5.7.7-8 C_FindObjects",
      "private objects are invisible before login (search, handles) and to the SO",
      r_private_invisible, INIT },
    { "OBJ-4", "2.40 §5.1.6 CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID",
      "every function taking an object or key handle rejects an unknown one",
      r_object_invalid, INIT },
    { "OBJ-5", "2.40 §5.7.5 C_GetAttributeValue",
      "several failing attributes: every entry processed, CK_UNAVAILABLE_INFORMATION for "
      "each failure, one of the three codes",
      r_get_attrs, INIT },
    { "OBJ-6", "2.40 §5.7.7-9 C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal",
      "CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED", r_find_ops, INIT },
    { "OP-1", "2.40 §5.2, §5.11.2 C_Sign, §5.11.4 C_SignFinal (3.0 §5.13)",
      "length query and CKR_BUFFER_TOO_SMALL keep the operation active; success ends it; for "
      "ECDSA, EdDSA, HMAC",
      r_lenq_sign, INIT },
    { "OP-2", "2.40 §5.2, §5.10.2 C_Digest, §5.10.5 C_DigestFinal (3.0 §5.12)",
      "the same for digests, without login", r_lenq_digest, INIT },
    { "OP-3", "2.40 §5.10-5.12 (C_Sign: \"always terminates ... unless\")",
      "an error (bad data, bad arguments, bad signature, C_DigestKey) ends the operation",
      r_op_end_on_error, INIT },
    { "OP-4", "2.40 §5.10.1 C_DigestInit, §5.11.1 C_SignInit, §5.12.1 C_VerifyInit",
      "Init while active: CKR_OPERATION_ACTIVE, the active operation goes on", r_op_active, INIT },
    { "OP-5", "2.40 §5.10-5.12, §5.6.5 C_GetOperationState",
      "no operation: CKR_OPERATION_NOT_INITIALIZED", r_op_not_initialized, INIT },
    { "OP-6", "2.40 §5.1.6 CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID",
      "unknown mechanisms and bad parameters in every Init and generate function",
      r_mech_invalid, INIT },
    { "OP-7", "2.40 §5.10 digest, §5.15 C_SeedRandom/C_GenerateRandom (3.0 §5.19)",
      "digest, random, seed and public-key verification need no login", r_no_login, INIT },
    { "OP-8", "2.40 §5.1.6 CKR_FUNCTION_NOT_SUPPORTED, §5.5.6",
      "the encryption, recovery, wrapping and message functions are stubs, and no "
      "mechanism claims them",
      r_unsupported, INIT },
};

static void
run_table (void)
{
    for (size_t i = 0; i < N_ELEM (rules); i++) {
        const rule *r = &rules[i];
        if ((r->flags & V30) && R.F3 == NULL)
            continue;
        if ((r->flags & PRE) && R.initialized) {
            F->C_Finalize (NULL);
            R.initialized = false;
        }
        if ((r->flags & INIT) && !R.initialized) {
            CK_RV rv = F->C_Initialize (NULL);
            R.initialized = rv == CKR_OK;
            if (!R.initialized || !fixture_token ()) {
                ok (false, "%s %s: C_Initialize and the token: %s", R.name, r->id, rv_name (rv));
                continue;
            }
        }
        printf ("# %s %s [%s]: %s\n", R.name, r->id, r->section, r->rule);
        rule_id = r->id;
        r->check ();
        if (R.initialized) {
            F->C_CloseAllSessions (R.slot);
            if (R.slot2 != 0)
                F->C_CloseAllSessions (R.slot2);
        }
    }
    if (R.initialized)
        F->C_Finalize (NULL);
    R.initialized = false;
}

int
main (int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv ("TT_MODULE");
    CK_INTERFACE *iface = NULL;
    CK_VERSION v30 = { 3, 0 };
    void *mod;
    double t0 = now ();

    setvbuf (stdout, NULL, _IOLBF, 0);
    if (path == NULL || path[0] == '\0') {
        fprintf (stderr, "usage: %s MODULE.so (or set TT_MODULE)\n", argv[0]);
        return 2;
    }
    mod = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (mod == NULL) {
        ok (false, "dlopen %s: %s", path, dlerror ());
        return tap_done ();
    }
    R.get_function_list = (CK_C_GetFunctionList) dlsym (mod, "C_GetFunctionList");
    R.get_interface_list = (CK_C_GetInterfaceList) dlsym (mod, "C_GetInterfaceList");
    R.get_interface = (CK_C_GetInterface) dlsym (mod, "C_GetInterface");
    if (R.get_function_list == NULL || R.get_interface_list == NULL || R.get_interface == NULL) {
        ok (false, "the module exports C_GetFunctionList, C_GetInterfaceList, C_GetInterface");
        return tap_done ();
    }

    printf ("# %zu rules, through the 3.0 table (C_GetInterface), then the 2.40 table\n",
            N_ELEM (rules));
    if (R.get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0) == CKR_OK && iface != NULL) {
        R.name = "3.0";
        R.fl = iface->pFunctionList;
        R.F3 = iface->pFunctionList;
        run_table ();
    } else {
        ok (false, "C_GetInterface (\"PKCS 11\", 3.0)");
    }
    R.name = "2.40";
    R.F3 = NULL;
    R.fl = NULL;
    R.slot = R.slot2 = 0;
    if (R.get_function_list (&R.fl) == CKR_OK && R.fl != NULL)
        run_table ();
    else
        ok (false, "C_GetFunctionList");
    /* No dlclose: under ASan it would hide the module's leaks. */
    printf ("# %.2f s\n", now () - t0);
    return tap_done ();
}
