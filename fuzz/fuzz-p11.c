/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The Cryptoki surface in process: C_Initialize arguments, then a sequence of
 * C_* calls read from the input (fuzz-common.c): templates for C_CreateObject,
 * C_CopyObject, C_SetAttributeValue, C_FindObjectsInit, attribute requests for
 * C_GetAttributeValue (length queries included), mechanisms with their
 * parameters (vendor ones included) for C_SignInit, C_VerifyInit, C_DigestInit,
 * C_GenerateKey*, C_DeriveKey, and every output buffer as a length query or at a
 * fuzzed size. No TPM: TPM-bound calls fail with CKR_DEVICE_ERROR. A token is in
 * the in-memory store, and the first byte may log it in without the TPM, so the
 * paths behind the user's login run too. Each input ends with C_Finalize; a
 * secbuf left over is a leak (fuzz_check_secbufs), the rest is LSan's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz-common.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

#define MAX_OPS 48
#define MAX_HANDLES 16
#define MAX_SESSIONS 4

typedef struct state {
    CK_FUNCTION_LIST_3_0 *fl;
    fz f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE sess[MAX_SESSIONS];
    size_t n_sess;
    CK_OBJECT_HANDLE obj[MAX_HANDLES];
    size_t n_obj;
} state;

static CK_RV
mutex_fn (void *p)
{
    (void) p;
    return CKR_OK;
}

static CK_RV
create_mutex (void **p)
{
    *p = NULL;
    return CKR_OK;
}

static CK_SESSION_HANDLE
pick_session (state *s)
{
    uint8_t b = fz_u8 (&s->f);
    if (b >= 0xf8 || s->n_sess == 0)
        return b == 0xff ? fz_ulong (&s->f) : b;
    return s->sess[b % s->n_sess];
}

static CK_OBJECT_HANDLE
pick_object (state *s)
{
    uint8_t b = fz_u8 (&s->f);
    if (b >= 0xf8 || s->n_obj == 0)
        return b == 0xff ? fz_ulong (&s->f) : b;
    return s->obj[b % s->n_obj];
}

static void
keep_object (state *s, CK_RV rv, CK_OBJECT_HANDLE h)
{
    if (rv != CKR_OK || h == CK_INVALID_HANDLE)
        return;
    if (s->n_obj < MAX_HANDLES)
        s->obj[s->n_obj++] = h;
    else
        s->obj[h % MAX_HANDLES] = h;
}

/* An output buffer: NULL (a length query) or of the length *len says. */
static CK_BYTE *
out_buf (state *s, CK_ULONG *len)
{
    uint8_t b = fz_u8 (&s->f);
    *len = fz_len (&s->f, 1024);
    if (b & 1)
        return NULL;
    if (b & 2)
        *len = b & 4 ? 64 : 512; /* large enough for most */
    return fz_alloc (&s->f, *len);
}

/* C_GetAttributeValue's template: each entry a length query or a buffer. */
static CK_ATTRIBUTE *
get_template (state *s, CK_ULONG *count)
{
    CK_ATTRIBUTE *t = fz_template (&s->f, 24, count);
    for (CK_ULONG i = 0; i < *count; i++) {
        uint8_t b = fz_u8 (&s->f);
        if (b & 1) {
            t[i].pValue = NULL;
            t[i].ulValueLen = b & 2 ? 0 : fz_ulong (&s->f);
        } else {
            t[i].ulValueLen = b & 2 ? fz_len (&s->f, 256) : 256;
            t[i].pValue = fz_alloc (&s->f, t[i].ulValueLen);
        }
    }
    return t;
}

static void
initialize (state *s)
{
    CK_C_INITIALIZE_ARGS *args = NULL;
    uint8_t how = fz_u8 (&s->f);

    if (how & 1) {
        args = fz_alloc (&s->f, sizeof *args);
        args->flags = fz_ulong (&s->f);
        if (how & 2)
            args->CreateMutex = create_mutex;
        if (how & 4)
            args->DestroyMutex = mutex_fn;
        if (how & 8)
            args->LockMutex = mutex_fn;
        if (how & 16)
            args->UnlockMutex = mutex_fn;
        if (how & 32)
            args->pReserved = s; /* must be refused */
    }
    if (s->fl->C_Initialize (args) != CKR_OK && s->fl->C_Initialize (NULL) != CKR_OK)
        abort ();
}

static void
one_call (state *s, uint8_t op)
{
    CK_FUNCTION_LIST_3_0 *fl = s->fl;
    fz *f = &s->f;
    CK_ATTRIBUTE *t, *t2;
    CK_ULONG n, n2, len;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    CK_MECHANISM *m;
    CK_BYTE *buf, *data;
    CK_RV rv;
    /* read first, in this order, whatever the call: a seed's bytes mean the same
     * to every compiler */
    CK_SESSION_HANDLE sh = pick_session (s);
    CK_OBJECT_HANDLE oh = pick_object (s);
    /* op 200 and up: the same call with NULL for every pointer argument P() marks
     * (a caller's mistake the module must answer with CKR_ARGUMENTS_BAD) */
    bool nul = op >= 200;
#define P(x) (nul ? NULL : (x))

    switch (op % 40) {
    case 0: { /* C_OpenSession on the token, the empty slot or any id */
        CK_SESSION_HANDLE opened = CK_INVALID_HANDLE;
        uint8_t b = fz_u8 (f);
        CK_SLOT_ID slot = b < 0xc0 ? s->slot : b < 0xf0 ? s->slot + 1 : fz_ulong (f);
        CK_FLAGS flags = b & 1 ? fz_ulong (f) : CKF_SERIAL_SESSION | (b & 2 ? CKF_RW_SESSION : 0);
        if (fl->C_OpenSession (slot, flags, NULL, NULL, P (&opened)) == CKR_OK
            && s->n_sess < MAX_SESSIONS)
            s->sess[s->n_sess++] = opened;
        break;
    }
    case 1:
        fl->C_CloseSession (sh);
        break;
    case 2:
    case 3:
    case 4:
        t = fz_template (f, 32, &n);
        rv = fl->C_CreateObject (sh, P (t), n, P (&h));
        keep_object (s, rv, h);
        break;
    case 5:
        t = fz_template (f, 16, &n);
        rv = fl->C_CopyObject (sh, oh, P (t), n, P (&h));
        keep_object (s, rv, h);
        break;
    case 6:
        fl->C_DestroyObject (sh, oh);
        break;
    case 7:
    case 8:
        t = get_template (s, &n);
        fl->C_GetAttributeValue (sh, oh, P (t), n);
        break;
    case 9:
        t = fz_template (f, 16, &n);
        fl->C_SetAttributeValue (sh, oh, P (t), n);
        break;
    case 10: { /* a whole search */
        CK_OBJECT_HANDLE found[8];
        t = fz_template (f, 8, &n);
        if (fl->C_FindObjectsInit (sh, t, n) == CKR_OK) {
            while (fl->C_FindObjects (sh, found, fz_pick (f, 9), &n2) == CKR_OK && n2 > 0)
                for (CK_ULONG i = 0; i < n2; i++)
                    keep_object (s, CKR_OK, found[i]);
            fl->C_FindObjectsFinal (sh);
        }
        break;
    }
    case 11:
        t = fz_template (f, 8, &n);
        fl->C_FindObjectsInit (sh, P (t), n);
        break;
    case 12: {
        CK_OBJECT_HANDLE found[8];
        fl->C_FindObjects (sh, P (found), fz_pick (f, 9), P (&n));
        break;
    }
    case 13:
        fl->C_FindObjectsFinal (sh);
        break;
    case 14:
        fl->C_GetObjectSize (sh, oh, P (&n));
        break;
    case 15:
        m = fz_mechanism (f);
        fl->C_SignInit (sh, fz_u8 (f) == 0xff ? NULL : m, oh);
        break;
    case 16:
        len = fz_len (f, 2048);
        data = fz_bytes (f, len);
        buf = out_buf (s, &n);
        fl->C_Sign (sh, P (data), len, buf, P (&n));
        break;
    case 17:
        len = fz_len (f, 4096);
        fl->C_SignUpdate (sh, P (fz_bytes (f, len)), len);
        break;
    case 18:
        buf = out_buf (s, &n);
        fl->C_SignFinal (sh, buf, P (&n));
        break;
    case 19:
        m = fz_mechanism (f);
        fl->C_VerifyInit (sh, fz_u8 (f) == 0xff ? NULL : m, oh);
        break;
    case 20:
        len = fz_len (f, 2048);
        data = fz_bytes (f, len);
        n = fz_len (f, 512);
        fl->C_Verify (sh, P (data), len, P (fz_bytes (f, n)), n);
        break;
    case 21:
        len = fz_len (f, 4096);
        fl->C_VerifyUpdate (sh, P (fz_bytes (f, len)), len);
        break;
    case 22:
        n = fz_len (f, 512);
        fl->C_VerifyFinal (sh, P (fz_bytes (f, n)), n);
        break;
    case 23:
        fl->C_DigestInit (sh, P (fz_mechanism (f)));
        break;
    case 24:
        len = fz_len (f, 2048);
        data = fz_bytes (f, len);
        buf = out_buf (s, &n);
        fl->C_Digest (sh, P (data), len, buf, P (&n));
        break;
    case 25:
        len = fz_len (f, 2048);
        fl->C_DigestUpdate (sh, P (fz_bytes (f, len)), len);
        break;
    case 26:
        fl->C_DigestKey (sh, oh);
        break;
    case 27:
        buf = out_buf (s, &n);
        fl->C_DigestFinal (sh, buf, P (&n));
        break;
    case 28:
        m = fz_mechanism (f);
        t = fz_template (f, 16, &n);
        rv = fl->C_GenerateKey (sh, P (m), P (t), n, P (&h));
        keep_object (s, rv, h);
        break;
    case 29:
        m = fz_mechanism (f);
        t = fz_template (f, 16, &n);
        t2 = fz_template (f, 16, &n2);
        rv = fl->C_GenerateKeyPair (sh, P (m), P (t), n, P (t2), n2, P (&h), P (&h2));
        keep_object (s, rv, h);
        keep_object (s, rv, h2);
        break;
    case 30:
        m = fz_mechanism (f);
        t = fz_template (f, 16, &n);
        rv = fl->C_DeriveKey (sh, P (m), oh, P (t), n, P (&h));
        keep_object (s, rv, h);
        break;
    case 31: { /* login (the TPM checks PINs: CKR_DEVICE_ERROR), or a fake one */
        CK_USER_TYPE user = fz_pick (f, 4);
        len = fz_len (f, 300);
        if (user == 3)
            fuzz_fake_login (s->slot);
        else
            fl->C_Login (sh, user, P (fz_bytes (f, len)), len);
        break;
    }
    case 32:
        fl->C_Logout (sh);
        break;
    case 33: {
        CK_SESSION_INFO info;
        CK_MECHANISM_INFO mi;
        CK_SLOT_INFO si;
        CK_INFO gi;
        fl->C_GetSessionInfo (sh, P (&info));
        fl->C_GetMechanismInfo (s->slot, fz_mechanism (f)->mechanism, P (&mi));
        fl->C_GetSlotInfo (fz_bool (f) ? s->slot : fz_ulong (f), P (&si));
        fl->C_GetInfo (P (&gi));
        break;
    }
    case 34: { /* the list calls, as length queries and into short buffers */
        CK_MECHANISM_TYPE mechs[64];
        CK_SLOT_ID slots[8];
        uint8_t b;
        n = fz_pick (f, 65);
        fl->C_GetMechanismList (s->slot, fz_bool (f) ? NULL : mechs, P (&n));
        n = fz_pick (f, 9);
        b = fz_u8 (f);
        fl->C_GetSlotList (b & 1, b & 2 ? NULL : slots, P (&n));
        break;
    }
    case 35:
        buf = out_buf (s, &n);
        fl->C_GetOperationState (sh, buf, P (&n));
        len = fz_len (f, 256);
        fl->C_SetOperationState (sh, P (fz_bytes (f, len)), len, oh, oh);
        break;
    case 36:
        len = fz_len (f, 256);
        fl->C_SeedRandom (sh, P (fz_bytes (f, len)), len);
        break;
    case 37: { /* TPM-bound: CKR_DEVICE_ERROR, quickly */
        CK_TOKEN_INFO ti;
        len = fz_len (f, 64);
        fl->C_GenerateRandom (sh, P (fz_alloc (f, len)), len);
        fl->C_GetTokenInfo (s->slot, P (&ti));
        break;
    }
    case 38: { /* PIN changes and a token init on the empty slot (the TPM says no) */
        CK_UTF8CHAR label[32];
        CK_ULONG a = fz_len (f, 300), b = fz_len (f, 300);
        CK_BYTE *pa = fz_bytes (f, a), *pb = fz_bytes (f, b);
        memset (label, ' ', sizeof label);
        fl->C_InitPIN (sh, P (pa), a);
        fl->C_SetPIN (sh, P (pa), a, P (pb), b);
        fl->C_InitToken (s->slot + fz_pick (f, 2), P (pb), b, P (label));
        break;
    }
    default:
        if (fz_bool (f))
            fl->C_CloseAllSessions (s->slot);
        else
            fl->C_SessionCancel (sh, fz_ulong (f));
        break;
    }
#undef P
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_env ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    state s = { 0 };

    fz_init (&s.f, data, len);
    s.fl = fuzz_module ();
    initialize (&s);
    s.slot = fuzz_add_token ();
    for (int i = 0; i < MAX_OPS && s.f.n > 0; i++)
        one_call (&s, fz_u8 (&s.f));
    if (s.fl->C_Finalize (NULL) != CKR_OK)
        abort ();
    fuzz_check_secbufs ();
    fz_done (&s.f);
    return 0;
}
