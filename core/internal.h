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
#include "base/ck.h"
#include "core.h"
#include "crypto/crypto.h"
#include "base/secbuf.h"
#include "schema.h"
#include "store/store.h"
#include "tpm/tpm.h"

#define TT_NOT_LOGGED_IN ((CK_USER_TYPE) -1)
#define TT_MIN_PIN 4
#define TT_MAX_PIN 128

struct tt_object {
    CK_OBJECT_HANDLE handle;
    const struct keytype *type; /* what the key does (core/keys/); NULL: not a key */
    int64_t store_id;          /* > 0: a token object stored under this id */
    CK_SESSION_HANDLE session; /* session objects: the owning session */
    attr_list *attrs;
    tpm_blob tpm_pub, tpm_priv; /* TPM-backed keys */
    uint8_t *wrapped_auth;      /* the key's authValue, wrapped by the token secret */
    size_t wrapped_auth_len;
    secbuf *ed_sk;              /* Ed25519: the unsealed key while cached */
    uint64_t ed_used_at;        /* ... last use (monotonic ms) */
    unsigned ed_uses;           /* ... signatures since it was unsealed */
    uint64_t hb_seq;            /* heartbeat key: the last sequence number used */
    bool damaged;               /* its row failed authentication (rowmac.c): refused */
    bool pending;               /* a private row not yet checked (no login yet) */
    bool plain_row;             /* a private row stored in the clear (before rowenc.h) */
    uint8_t row_hash[32];       /* the stored row as last checked */
    tt_object *next;
};

struct tt_token {
    CK_SLOT_ID slot_id;
    tpm *tpm;             /* the module's TPM (tokens are freed before it) */
    pthread_mutex_t lock; /* held for a whole core call on this token */
    store_token rec;      /* rec.id == 0: the slot's token is not initialized */
    bool removed;         /* deleted from the store by another process */
    int64_t seen_version; /* store_data_version when token_fresh_inlock last looked */
    unsigned epoch;       /* bumped when another process re-initialized it: the
                             sessions opened before are invalid (token_current_inlock) */
    bool event;           /* a slot event not yet reported (C_WaitForSlotEvent) */
    CK_USER_TYPE login;
    secbuf *secret; /* the token secret while logged in */
    secbuf *rowkey; /* the public rows' MAC key, once unsealed (rowmac.c) */
    uint8_t rowkey_for[32]; /* ... a hash of the sealed blob it came from */
    tt_object *objects;
    bool objects_loaded;
    unsigned sessions, rw_sessions;
    /* Up to the session table (module.c sets it): closes every session of
     * tok, for a token deleted under them. */
    void (*close_sessions) (tt_token *tok);
    /* set with it (token_forget_inlock): drops the login, the objects and the
     * row key, for anchor.c when another process re-initialized the token */
    void (*forget) (tt_token *tok);
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
    uint8_t *buf;                        /* CKM_ECDSA: the raw input so far; HMAC: the
                                            data not yet sent (at most one command's) */
    size_t buf_len;
    size_t buf_cap;                      /* > 0: buf holds that many bytes, wiped at the end */
    bool multi;                          /* an Update was called */
    size_t mac_len;                      /* HMAC: the output length */
    CK_OBJECT_HANDLE key;                /* the key object (Ed25519: its seed cache) */
    secbuf *sw_key;                      /* heartbeat: the software key's value */
    uint8_t nonce[16];                   /* heartbeat: the verifier's nonce */
    tpm_pcrs pcrs;                       /* the key's PCR binding, if any */
    uint8_t *pcr_values;                 /* ... and the values it is bound to */
    size_t pcr_values_len;
    tpm_hmac_seq *seq;                   /* HMAC: a TPM sequence, for longer data */
    CK_KEY_TYPE key_type;                /* attestation: the identity's (EC or Edwards) */
    tpm_pcrs att_pcrs;                   /* ... the PCRs to quote */
    CK_OBJECT_HANDLE *refs;              /* other objects the parameter names (the
                                            keys to certify), resolved at init and final */
    size_t n_refs;
    uint8_t *result;                     /* an output made once (the attestation bundle
                                            for the nonce in buf), kept for a length query */
    size_t result_len;
    uint8_t *rsa_spki;                   /* RSA: the public key (PSS encoding, verify) */
    size_t rsa_spki_len;
    bool rsa_pss;                        /* RSA PSS: hash, MGF1 hash, salt length */
    CK_MECHANISM_TYPE rsa_hash, rsa_mgf;
    size_t rsa_salt;
} sign_op;

struct tt_session {
    CK_SESSION_HANDLE handle;
    tt_token *token;
    unsigned epoch; /* tok->epoch when opened */
    CK_FLAGS flags;
    op_find *find;
    sign_op *sign, *verify;
    crypto_digest *digest;
    CK_MECHANISM_TYPE digest_mech;
    bool digest_multi; /* C_DigestUpdate was called */
};

/* context.c: the state the core shares, below everything that uses it:
 * the module's TPM (key types use tok->tpm), the handle counter; core_store
 * (core.h) too. module.c sets it up and tears it down. */
tpm *core_tpm (void);
CK_OBJECT_HANDLE core_next_handle (void);
void context_set_tpm (tpm *t);
void context_close (void); /* frees the TPM, closes the store */
/* atfork: no thread is in the store's first open, nor inside sqlite, across a
 * fork; the child sets the parent's TPM and store aside (returned: kept, never
 * used) */
void context_fork_prepare (void);
void context_fork_parent (void);
void context_fork_child (void);
tpm *context_forget (void);

/* module.c: true in a process that has libp11 loaded (see object_find_init_inlock). */
bool core_libp11_compat (void);

/* token.c */
void token_free (tt_token *tok);
void token_logout_inlock (tt_token *tok);
void token_forget_inlock (tt_token *tok);
/* anchor.c: re-reads the token row when another process changed it; CKR_SESSION_HANDLE_INVALID
 * (sessions invalidated, nothing to write) when it was re-initialized or deleted there. */
CK_RV token_current_inlock (tt_token *tok);
/* The same, only when another process committed to the store since tok last
 * looked (store_data_version): before each operation, at no TPM cost. */
CK_RV token_fresh_inlock (tt_token *tok);
/* A change that must never be undone (a private object destroyed), inside the
 * caller's store transaction: the token row's count goes up (logged in; a
 * no-op without a counter); token_bump_done after the commit moves the TPM's
 * counter after it (issue 15 item 3). */
CK_RV token_bump_inlock (tt_token *tok);
void token_bump_done (tt_token *tok);


static inline bool
token_user_logged_in (const tt_token *tok)
{
    return tok->login == CKU_USER && tok->secret != NULL;
}

/* object.c */
void object_free (tt_object *obj);
CK_RV object_load_inlock (tt_token *tok);
void object_drop_session_inlock (tt_token *tok, CK_SESSION_HANDLE h);
void object_drop_all_inlock (tt_token *tok);
void object_logout_inlock (tt_token *tok);
/* Whether a session of tok sees obj now (private objects: only logged in). */
bool object_visible (const tt_token *tok, const tt_object *obj);
/* Loads tok's objects from the store, or brings them up to date with it. */
CK_RV object_sync_inlock (tt_token *tok);
/* The same after a login: rows still needing the row key stay pending. */
CK_RV object_relogin_sync_inlock (tt_token *tok);
/* A visible object of tok by handle, or CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID. */
CK_RV object_lookup (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE h, CK_RV invalid,
                     tt_object **out);
/* Stores a new object or pair atomically (token objects), then links them to tok. */
CK_RV object_add_inlock (tt_token *tok, tt_session *sess, tt_object **objs, size_t n);
tt_object *object_new (attr_list *attrs);
/* True when obj is a TPM object: public and private blob and wrapped auth value
 * (a store row may lack any of them: such an object is no key). */
static inline bool
object_tpm_key (const tt_object *obj)
{
    return obj->tpm_pub.data != NULL && obj->tpm_priv.data != NULL && obj->wrapped_auth != NULL;
}

/* Session and login rules for holding (write: creating) an object with attrs. */
CK_RV object_access (tt_token *tok, tt_session *sess, const attr_list *attrs, bool write);
/* ops.c */
void session_ops_free (tt_session *sess);

#endif
