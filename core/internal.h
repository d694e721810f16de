/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Core's own structures: shared by the core files, opaque to p11/ and tools/.
 */
#ifndef TT_INTERNAL_H
#define TT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "attr.h"
#include "ck.h"
#include "core.h"
#include "crypto.h"
#include "secbuf.h"
#include "store/store.h"
#include "tpm.h"

#define TT_NOT_LOGGED_IN ((CK_USER_TYPE) -1)
#define TT_MIN_PIN 4
#define TT_MAX_PIN 128

struct tt_object {
    CK_OBJECT_HANDLE handle;
    int64_t store_id;          /* > 0: a token object stored under this id */
    CK_SESSION_HANDLE session; /* session objects: the owning session */
    attr_list *attrs;
    tpm_blob tpm_pub, tpm_priv; /* TPM-backed keys */
    uint8_t *wrapped_auth;      /* the key's authValue, wrapped by the token secret */
    size_t wrapped_auth_len;
    tt_object *next;
};

struct tt_token {
    CK_SLOT_ID slot_id;
    pthread_mutex_t lock; /* held for a whole core call on this token */
    store_token rec;      /* rec.id == 0: the slot's token is not initialized */
    bool removed;         /* deleted from the store by another process */
    CK_USER_TYPE login;
    secbuf *secret; /* the token secret while logged in */
    tt_object *objects;
    bool objects_loaded;
    unsigned sessions, rw_sessions;
};

typedef enum { OP_NONE, OP_FIND, OP_SIGN, OP_VERIFY, OP_DIGEST } op_kind;

typedef struct op_find {
    CK_OBJECT_HANDLE *handles;
    size_t n, pos;
} op_find;

typedef struct sign_op {
    const struct mech_info *mech;
    size_t field;                        /* curve field bytes */
    uint8_t point[1 + 2 * 48];           /* raw public point */
    size_t point_len;
    tpm_blob pub, priv;                  /* sign: the TPM key */
    uint8_t *wrapped_auth;
    size_t wrapped_auth_len;
    crypto_digest *digest;               /* hash-then-sign mechanisms */
    uint8_t *buf;                        /* CKM_ECDSA: the raw input so far */
    size_t buf_len;
    bool multi;                          /* an Update was called */
} sign_op;

struct tt_session {
    CK_SESSION_HANDLE handle;
    tt_token *token;
    CK_FLAGS flags;
    op_find *find;
    sign_op *sign, *verify;
    crypto_digest *digest;
    CK_MECHANISM_TYPE digest_mech;
    bool digest_multi; /* C_DigestUpdate was called */
};

/* module.c */
tpm *core_tpm (void);
CK_OBJECT_HANDLE core_next_handle (void);

/* token.c */
void token_free (tt_token *tok);
bool token_user_logged_in (const tt_token *tok);
void token_logout_inlock (tt_token *tok);

/* object.c */
void object_free (tt_object *obj);
CK_RV object_load_inlock (tt_token *tok);
void object_drop_session_inlock (tt_token *tok, CK_SESSION_HANDLE h);
void object_drop_all_inlock (tt_token *tok);
void object_logout_inlock (tt_token *tok);
/* A visible object of tok by handle, or CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID. */
CK_RV object_lookup (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_RV invalid,
                     tt_object **out);
/* Stores a new object or pair atomically (token objects), then links them to tok. */
CK_RV object_add_inlock (tt_token *tok, tt_session *sess, tt_object **objs, size_t n);
tt_object *object_new (attr_list *attrs);

/* ops.c */
void session_ops_free (tt_session *sess);

#endif
