/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A hostile store: rows written straight into the store's tables (any column
 * type, any bytes: another process, a damaged or planted file), then read by
 * the module as a consumer would: slots listed, sessions opened, every object
 * found, each attribute asked for (length, then value), sign and verify
 * initialized and run, objects copied, changed and destroyed, with and without
 * the user logged in (fake login: fuzz-common.c). The store is a shared-cache
 * in-memory database, so this harness writes rows over its own connection and
 * it vanishes when the module finalizes. Object rows are an attribute encoding
 * (attr_list_encode of a fuzzed template over a typical object of some class,
 * or raw bytes) and TPM blobs, with the auth value wrapped correctly under the
 * fake login's token secret when the input says so.
 */
#include "config.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "fuzz/fuzz-common.h"
#include "pkcs11-tpmtrust.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

#define STORE_URI "file:tpmtrust-fuzz-store?mode=memory&cache=shared"
#define MAX_TOKENS 3
#define MAX_OBJECTS 8

/* A column value of any type: NULL, integer, text or blob. */
static int
bind_any (fz *f, sqlite3_stmt *stmt, int col)
{
    uint8_t how = fz_u8 (f);
    size_t len;

    switch (how % 5) {
    case 0:
        return sqlite3_bind_null (stmt, col);
    case 1:
        return sqlite3_bind_int64 (stmt, col, (sqlite3_int64) fz_ulong (f));
    case 2:
        len = fz_len (f, 4096);
        return sqlite3_bind_text (stmt, col, (const char *) fz_bytes (f, len), (int) len,
                                  SQLITE_TRANSIENT);
    default:
        len = fz_len (f, 4096);
        return sqlite3_bind_blob (stmt, col, fz_bytes (f, len), (int) len, SQLITE_TRANSIENT);
    }
}

static void
insert_token (fz *f, sqlite3 *db, sqlite3_int64 *id)
{
    sqlite3_stmt *stmt = NULL;
    uint8_t how = fz_u8 (f);

    /* schema 2: the row key columns too (any bytes: a token with a row key
     * that does not unseal, or none) */
    if (sqlite3_prepare_v2 (db,
                            "INSERT INTO tokens (id, label, serial, salt, so_pub, so_priv, "
                            "user_pub, user_priv, mackey_pub, mackey_priv) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            -1, &stmt, NULL)
        != SQLITE_OK)
        abort ();
    if (how & 1)
        bind_any (f, stmt, 1);
    else
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) fz_pick (f, 8));
    for (int col = 2; col <= 8; col++)
        bind_any (f, stmt, col);
    for (int col = 9; col <= 10 && (how & 2); col++) /* else NULL: a schema 1 token */
        bind_any (f, stmt, col);
    if (sqlite3_step (stmt) == SQLITE_DONE)
        *id = sqlite3_last_insert_rowid (db);
    sqlite3_finalize (stmt);
}

/* A typical object of some class, as the module stores it. */
static attr_list *
base_object (fz *f)
{
    static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const uint8_t ed[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    attr_list *l = attr_list_new ();
    uint8_t kind = fz_u8 (f) % 7;
    CK_OBJECT_CLASS cls = kind == 0 ? CKO_DATA
                          : kind == 1 ? CKO_CERTIFICATE
                          : kind == 2 ? CKO_PUBLIC_KEY
                          : kind <= 4 ? CKO_PRIVATE_KEY
                                      : CKO_SECRET_KEY;

    if (l == NULL)
        abort ();
    attr_list_set_ulong (l, CKA_CLASS, cls);
    attr_list_set_bool (l, CKA_TOKEN, true);
    if (kind == 2 || kind == 3) {
        attr_list_set_ulong (l, CKA_KEY_TYPE, CKK_EC);
        attr_list_set (l, CKA_EC_PARAMS, p256, sizeof p256);
        attr_list_set (l, CKA_EC_POINT, fz_bytes (f, 67), 67);
    } else if (kind == 4) {
        attr_list_set_ulong (l, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        attr_list_set (l, CKA_EC_PARAMS, ed, sizeof ed);
        attr_list_set (l, CKA_EC_POINT, fz_bytes (f, 34), 34);
    } else if (kind == 5) {
        attr_list_set_ulong (l, CKA_KEY_TYPE, fz_bool (f) ? CKK_SHA256_HMAC : CKK_GENERIC_SECRET);
    } else if (kind == 6) { /* a heartbeat key: its value held by the module */
        attr_list_set_ulong (l, CKA_KEY_TYPE, CKK_SHA256_HMAC);
        attr_list_set (l, CKA_VALUE, fz_bytes (f, 32), 32);
    } else if (kind == 1) {
        attr_list_set_ulong (l, CKA_CERTIFICATE_TYPE, CKC_X_509);
        attr_list_set (l, CKA_VALUE, fz_bytes (f, 64), 64);
    }
    template_defaults (cls, l);
    if (fz_bool (f))
        attr_list_set_bool (l, CKA_PRIVATE, false);
    return l;
}

static void
insert_object (fz *f, sqlite3 *db, sqlite3_int64 token_id)
{
    sqlite3_stmt *stmt = NULL;
    uint8_t how = fz_u8 (f);
    uint8_t *enc = NULL, *wrapped = NULL;
    size_t enc_len = 0, wrapped_len = 0, pub_len = fz_len (f, 1024);
    uint8_t *pub = fz_bytes (f, pub_len);

    if (sqlite3_prepare_v2 (db,
                            "INSERT INTO objects (token_id, attrs, tpm_pub, tpm_priv, "
                            "wrapped_auth) VALUES (?, ?, ?, ?, ?)",
                            -1, &stmt, NULL)
        != SQLITE_OK)
        abort ();
    if (how & 1)
        bind_any (f, stmt, 1);
    else
        sqlite3_bind_int64 (stmt, 1, token_id);
    if (how & 2) {
        bind_any (f, stmt, 2);
    } else {
        attr_list *l = base_object (f);
        CK_ULONG n;
        CK_ATTRIBUTE *t = fz_template (f, 8, &n);
        for (CK_ULONG i = 0; i < n; i++)
            if (t[i].pValue != NULL || t[i].ulValueLen == 0)
                attr_list_set (l, t[i].type, t[i].pValue, t[i].ulValueLen);
        for (uint8_t drop = fz_u8 (f) % 4; drop > 0 && l->n > 0; drop--)
            attr_list_remove (l, l->a[fz_pick (f, l->n)].type);
        if (attr_list_encode (l, &enc, &enc_len) != CKR_OK)
            abort ();
        sqlite3_bind_blob (stmt, 2, enc, (int) enc_len, SQLITE_TRANSIENT);
        attr_list_free (l);
    }
    if (how & 4)
        bind_any (f, stmt, 3);
    else
        sqlite3_bind_blob (stmt, 3, pub, (int) pub_len, SQLITE_TRANSIENT);
    bind_any (f, stmt, 4);
    if (how & 8) { /* the auth value wrapped as the module does, under the fake login's secret */
        size_t alen = fz_len (f, 64);
        secbuf *key = secbuf_dup (fuzz_secret (), 32), *auth = secbuf_dup (fz_bytes (f, alen), alen);
        if (key == NULL || auth == NULL
            || crypto_wrap (key, pub, pub_len, auth, &wrapped, &wrapped_len) != CKR_OK)
            abort ();
        sqlite3_bind_blob (stmt, 5, wrapped, (int) wrapped_len, SQLITE_TRANSIENT);
        secbuf_free (key);
        secbuf_free (auth);
    } else {
        bind_any (f, stmt, 5);
    }
    sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    free (enc);
    free (wrapped);
}

/* Everything a consumer does with an object it found. */
static void
use_object (fz *f, CK_FUNCTION_LIST_3_0 *fl, CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE h)
{
    static const CK_ATTRIBUTE_TYPE types[] = {
        CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE, CKA_KEY_TYPE, CKA_ID,
        CKA_SENSITIVE, CKA_SIGN, CKA_VERIFY, CKA_EC_PARAMS, CKA_EC_POINT, CKA_PUBLIC_KEY_INFO,
        CKA_ALLOWED_MECHANISMS, CKA_VALUE_LEN, CKA_SUBJECT, CKA_START_DATE, CKA_MODIFIABLE,
        CKA_EXTRACTABLE, CKA_CERTIFICATE_TYPE, CKA_TPMTRUST_TPM_KEY, CKA_TPMTRUST_PCR_MASK,
        CKA_TPMTRUST_PCR_BANK, CKA_TPMTRUST_PCR_VALUES, CKA_TPMTRUST_NV_INDEX, CKA_MODULUS,
    };
    CK_ATTRIBUTE t[sizeof types / sizeof types[0]];
    CK_BYTE data[300], sig[512];
    CK_ULONG sig_len = sizeof sig, size;
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE session_copy = { CKA_TOKEN, &no, sizeof no };
    CK_ATTRIBUTE label = { CKA_LABEL, data, 5 };

    /* every attribute: the lengths, then the values at those lengths */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        t[i] = (CK_ATTRIBUTE) { types[i], NULL, 0 };
    fl->C_GetAttributeValue (sh, h, t, sizeof types / sizeof types[0]);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        CK_ATTRIBUTE one = { types[i], NULL, t[i].ulValueLen };
        if (t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[i].ulValueLen > (1 << 20))
            continue;
        one.pValue = fz_alloc (f, one.ulValueLen);
        fl->C_GetAttributeValue (sh, h, &one, 1);
    }
    fl->C_GetObjectSize (sh, h, &size);
    memset (data, 'x', sizeof data);
    for (int i = fz_u8 (f) % 4; i > 0; i--) {
        CK_MECHANISM *m = fz_mechanism (f);
        CK_ULONG dlen = fz_pick (f, sizeof data);
        if (fl->C_SignInit (sh, m, h) == CKR_OK) {
            sig_len = fz_bool (f) ? sizeof sig : fz_pick (f, 80);
            if (fl->C_Sign (sh, data, dlen, sig, &sig_len) == CKR_BUFFER_TOO_SMALL)
                fl->C_SignInit (sh, NULL, h); /* cancels */
        }
        if (fl->C_VerifyInit (sh, m, h) == CKR_OK)
            fl->C_Verify (sh, data, dlen, sig, fz_pick (f, 130));
    }
    if (fl->C_CopyObject (sh, h, &session_copy, fz_bool (f), &copy) == CKR_OK)
        fl->C_DestroyObject (sh, copy);
    if (fz_bool (f))
        fl->C_SetAttributeValue (sh, h, &label, 1);
    if (fz_bool (f))
        fl->C_DestroyObject (sh, h);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_env ();
    setenv ("TPMTRUST_STORE", STORE_URI, 1);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    CK_FUNCTION_LIST_3_0 *fl = fuzz_module ();
    sqlite3_int64 tokens[MAX_TOKENS] = { 0 };
    CK_SLOT_ID slots[8];
    CK_ULONG n_slots = 8;
    sqlite3 *db = NULL;
    store *st = NULL;
    uint8_t how;
    fz f;

    fz_init (&f, data, len);
    how = fz_u8 (&f);
    if (fl->C_Initialize (NULL) != CKR_OK || core_store (&st) != CKR_OK
        || sqlite3_open_v2 (STORE_URI, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL)
               != SQLITE_OK)
        abort ();
    for (size_t i = 0; i < 1 + how % MAX_TOKENS; i++)
        insert_token (&f, db, &tokens[i]);
    for (size_t i = 0, n = fz_u8 (&f) % (MAX_OBJECTS + 1); i < n; i++)
        insert_object (&f, db, tokens[fz_pick (&f, MAX_TOKENS)]);

    if (fl->C_GetSlotList (CK_TRUE, slots, &n_slots) == CKR_OK) {
        for (CK_ULONG i = 0; i < n_slots; i++) {
            CK_SESSION_HANDLE sh;
            CK_OBJECT_HANDLE found[MAX_OBJECTS * 2];
            CK_ULONG n_found = 0;
            CK_SLOT_INFO si;
            fl->C_GetSlotInfo (slots[i], &si);
            if (fl->C_OpenSession (slots[i], CKF_SERIAL_SESSION | (how & 0x10 ? CKF_RW_SESSION : 0),
                                   NULL, NULL, &sh)
                != CKR_OK)
                continue;
            if (how & 0x20)
                fuzz_fake_login (slots[i]);
            if (fl->C_FindObjectsInit (sh, NULL, 0) == CKR_OK) {
                fl->C_FindObjects (sh, found, MAX_OBJECTS * 2, &n_found);
                fl->C_FindObjectsFinal (sh);
            }
            for (CK_ULONG j = 0; j < n_found; j++)
                use_object (&f, fl, sh, found[j]);
            if (how & 0x40)
                fl->C_Logout (sh);
            fl->C_CloseSession (sh);
        }
    }
    if (fl->C_Finalize (NULL) != CKR_OK)
        abort ();
    sqlite3_close (db);
    fuzz_check_secbufs ();
    fz_done (&f);
    return 0;
}
