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
#include "store/store.h"
#include "tpm/tpm.h"

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
    secbuf *ed_sk;              /* Ed25519: the unsealed key while cached */
    uint64_t ed_used_at;        /* ... last use (monotonic ms) */
    unsigned ed_uses;           /* ... signatures since it was unsealed */
    uint64_t hb_seq;            /* heartbeat key: the last sequence number used */
    tt_object *next;
};

struct tt_token {
    CK_SLOT_ID slot_id;
    pthread_mutex_t lock; /* held for a whole core call on this token */
    store_token rec;      /* rec.id == 0: the slot's token is not initialized */
    bool removed;         /* deleted from the store by another process */
    bool event;           /* a slot event not yet reported (C_WaitForSlotEvent) */
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
    uint8_t *buf;                        /* CKM_ECDSA: the raw input so far; HMAC: the
                                            data not yet sent (at most one command's) */
    size_t buf_len;
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
    CK_OBJECT_HANDLE *att_keys;          /* ... the keys to certify */
    size_t att_n;
    uint8_t *bundle;                     /* ... the bundle made for the nonce in buf */
    size_t bundle_len;
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
/* True in a process that has libp11 loaded (see object_find_init_inlock). */
bool core_libp11_compat (void);
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
/* True when obj is a TPM object: public and private blob and wrapped auth value
 * (a store row may lack any of them: such an object is no key). */
bool object_tpm_key (const tt_object *obj);
/* Template rules (object.c): see the schema there. Schema flags: */
#define A_CREATE 0x01     /* may be given in a template */
#define A_MODIFY 0x02     /* C_SetAttributeValue and C_CopyObject may change it */
#define A_REQUIRE 0x04    /* C_CreateObject needs it */
#define A_SENSITIVE 0x08  /* valid for the class, never revealed */
#define A_TRUE_ONLY 0x10  /* may change only from FALSE to TRUE */
#define A_FALSE_ONLY 0x20 /* may change only from TRUE to FALSE */
#define A_COPY 0x40       /* C_CopyObject may change it */
#define A_NOGEN 0x80      /* computed by key generation, not given */
#define A_EMPTY 0x100     /* defaults to an empty value */

CK_RV template_check (CK_OBJECT_CLASS cls, const attr_list *tmpl, unsigned allowed,
                      unsigned forbidden);
CK_RV template_defaults (CK_OBJECT_CLASS cls, attr_list *list);
CK_RV template_required (CK_OBJECT_CLASS cls, const attr_list *list);
/* Session and login rules for holding (write: creating) an object with attrs. */
CK_RV object_access (tt_token *tok, tt_session *sess, const attr_list *attrs, bool write);
/* A fresh random authValue for a TPM key. */
CK_RV object_auth_new (secbuf **out);
/* Gives obj the TPM key's blobs (taken) and its auth wrapped under the token secret. */
CK_RV object_take_tpm_key (tt_token *tok, tt_object *obj, tpm_blob *pub, tpm_blob *priv,
                           const secbuf *auth);

/* pcr.c: PCR binding. from_template: what a template (or the config default)
 * asks for (mask 0: nothing). bind: makes the policy for the current values and
 * records mask, bank and values in attrs. changed: how many bound PCRs differ now
 * (their names in list), -1 if unknown. report: logs that. */
CK_RV pcr_from_template (const attr_list *tmpl, tpm_pcrs *out);
CK_RV pcr_bind (attr_list *attrs, tpm_pcrs pcrs, tpm_policy *pol);
tpm_pcrs pcr_of_object (const attr_list *attrs);
int pcr_changed (tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len, char *list,
                 size_t list_len);
void pcr_report (tpm_pcrs pcrs, const uint8_t *bound, size_t bound_len);

/* eddsa.c: Ed25519 with the seed sealed in the TPM. seal: seals seed (NULL: a
 * new one) as priv's TPM object and gives the public key. import: C_CreateObject
 * of a private key with CKA_VALUE = seed. sk: the expanded key for signing, from
 * the object's cache or unsealed (then cached as configured); *owned says
 * whether the caller frees it. wipe: forgets a cached key. */
CK_RV eddsa_seal_inlock (tt_token *tok, tt_object *priv, const secbuf *seed, uint8_t pk[32]);
CK_RV eddsa_import_inlock (tt_token *tok, tt_object *obj);
CK_RV eddsa_sk_inlock (tt_token *tok, tt_session *sess, const sign_op *op, secbuf **sk,
                       bool *owned);
void eddsa_wipe (tt_object *obj);
void token_wipe_caches (tt_token *tok);

/* secret.c: HMAC keys in the TPM */
CK_RV secret_import_inlock (tt_token *tok, tt_object *obj);

/* ops.c */
void session_ops_free (tt_session *sess);

/* attest.c: CKM_TPMTRUST_ATTEST. param: validates the mechanism parameter into
 * op (CKR_MECHANISM_PARAM_INVALID). build: makes op->bundle for the nonce in
 * op->buf, signed by op's identity key (CKR_DATA_LEN_RANGE for a bad nonce). */
CK_RV attest_param (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech, sign_op *op);
CK_RV attest_build_inlock (tt_token *tok, tt_session *sess, sign_op *op);

#endif
