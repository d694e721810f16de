/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The object store: the only user of sqlite3. Holds tokens (sealed token secret
 * blobs, salt, label, serial) and objects (encoded attributes, TPM blobs, the
 * wrapped per-object authValue). Nothing stored reveals a key without the TPM.
 *
 * All functions return CK_RV: CKR_TOKEN_WRITE_PROTECTED for a read-only store
 * (or one whose schema is newer than ours: it is read, never written),
 * CKR_DEVICE_MEMORY for a full disk, CKR_FUNCTION_FAILED when another process
 * held the write lock past the busy timeout (5 s), CKR_DEVICE_ERROR for other
 * store failures (a damaged file), each with a log line.
 * A store handle may be used from any thread: each call, and each transaction
 * (store_tx_begin to store_tx_commit or store_tx_rollback, by one thread), runs
 * alone on the connection.
 */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"

#define STORE_SCHEMA_VERSION 2

typedef struct store store;

typedef struct store_blob {
    uint8_t *data; /* malloc'd; NULL when empty */
    size_t len;
} store_blob;

typedef struct store_token {
    int64_t id;
    char label[33];  /* NUL-terminated, up to 32 bytes */
    char serial[17]; /* NUL-terminated, up to 16 bytes */
    store_blob salt;
    store_blob so_pub, so_priv;     /* token secret sealed under the SO PIN */
    store_blob user_pub, user_priv; /* ... under the user PIN; empty before C_InitPIN */
    store_blob mackey_pub, mackey_priv; /* the row-MAC key sealed under the SRK (no PIN);
                                           empty: a token from a v1 store, not yet upgraded */
    int64_t generation; /* bumped by every change of the row (store_token_put) */
    uint32_t nv_index;  /* the TPM counter anchoring it (0: none, see core/token.c) */
    uint64_t nv_count;  /* ... the value it must have */
    store_blob mac;     /* HMAC of the row under the token secret's key (core/rowmac.c) */
} store_token;

/* store_token_put's answer when the row's generation is no longer t's: another
 * process changed the token since t was read. Never returned by a C_* call. */
#define STORE_STALE ((CK_RV) (CKR_VENDOR_DEFINED | 0x5354414cUL))

typedef struct store_object {
    int64_t id;
    int64_t token_id;
    store_blob attrs;
    store_blob tpm_pub, tpm_priv; /* TPM2B_PUBLIC / TPM2B_PRIVATE, marshalled */
    store_blob wrapped_auth;      /* the object's authValue, AEAD-wrapped */
    store_blob mac;               /* HMAC-SHA256 of the row (core/rowmac.c); empty: v1 row */
} store_object;

/* Opens (creating when allowed) the store at path; ":memory:" for tests.
 * Falls back to read-only when the file cannot be written. */
CK_RV store_open (const char *path, store **out);
void store_close (store *st); /* NULL-safe */
const char *store_path (const store *st);
bool store_readonly (const store *st);
/* Whether changes can be made, before any TPM work: CKR_OK, else with a log line
 * CKR_TOKEN_WRITE_PROTECTED (read-only store, newer schema) or CKR_DEVICE_MEMORY
 * (opened read-only because its filesystem is full). */
CK_RV store_write_check (store *st);
int store_schema_version (store *st);
/* Changes whenever another connection (another process) commits to the
 * store; the same while only this one writes. No disk I/O: cheap enough to
 * ask before each operation. -1 on error. */
int64_t store_data_version (store *st);

/* For pthread_atfork: holds the store's lock across a fork, so that no thread
 * is inside sqlite (whose global mutexes a child would inherit held) when it
 * happens. NULL-safe. */
void store_fork_prepare (store *st);
void store_fork_parent (store *st);

CK_RV store_tx_begin (store *st);
CK_RV store_tx_commit (store *st);
void store_tx_rollback (store *st);

/* Tokens. add inserts a new token under want_id when that id is free (else,
 * or with want_id 0, under a new id) and writes the id back; put updates the
 * row t->id if its generation is still t->generation (then increments both),
 * else STORE_STALE and nothing is written. get reads one row (found: whether
 * it exists). list returns a malloc'd array. */
CK_RV store_token_add (store *st, store_token *t, int64_t want_id);
CK_RV store_token_put (store *st, store_token *t);
CK_RV store_token_get (store *st, int64_t id, store_token *out, bool *found);
CK_RV store_token_del (store *st, int64_t id); /* and its objects */
CK_RV store_token_list (store *st, store_token **out, size_t *count);
void store_token_clear (store_token *t);
void store_token_list_free (store_token *list, size_t count);

/* Objects. put inserts when o->id == 0 (writing the new id back), else updates. */
CK_RV store_object_put (store *st, store_object *o);
CK_RV store_object_del (store *st, int64_t id);
CK_RV store_object_list (store *st, int64_t token_id, store_object **out, size_t *count);
void store_object_clear (store_object *o);
void store_object_list_free (store_object *list, size_t count);

CK_RV store_blob_set (store_blob *b, const void *data, size_t len);
void store_blob_clear (store_blob *b);

#endif
