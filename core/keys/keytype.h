/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Key types: one const row per type, holding what that type does. The core
 * (create.c for creation, ops.c for sign/verify) calls through the row and
 * knows no key type by name; a NULL member means "not supported" and the core
 * returns the Cryptoki code for that (CKR_MECHANISM_INVALID, CKR_FUNCTION_NOT_SUPPORTED...).
 *
 * Layers: core/keys/ files may use the TPM layer (tok->tpm), crypto, attr,
 * mech and schema (template_check/defaults), but never call up into
 * object.c, token.c, module.c or ops.c: the objects an operation needs come
 * in as arguments.
 *
 * Adding a key type:
 *  1. a file core/keys/NAME.c (and its line in Makefile.am's libtpmtrust_la_SOURCES)
 *     with `const keytype keytype_NAME = { ... }` filling the members it supports;
 *  2. its extern below, and the row in keytype.c's `rows[]` if C_CreateObject
 *     and the store find it by (class, CKK);
 *  3. a row per mechanism in core/mech.c pointing at &keytype_NAME (flags say
 *     which functions: CKF_SIGN, CKF_VERIFY, CKF_GENERATE(_KEY_PAIR), CKF_DERIVE);
 *  4. its attributes in core/schema.c's class tables, if it has new ones;
 *  5. tests (tests/module/, tests/integration/) and docs/ARCHITECTURE.md.
 * No edit to ops.c, create.c or object.c.
 */
#ifndef TT_KEYTYPE_H
#define TT_KEYTYPE_H

#include "internal.h"
#include "mech.h"

/* A set of object classes, for `serves` and `creates`. */
#define KT_CLASS(cls) (1u << (cls))

typedef struct keytype {
    const char *name;
    /* Lookup by (class, CKK) (keytype_lookup): the classes served and the key
     * types (n_ck 0: every key type of those classes). creates: the classes
     * C_CreateObject may make (the others are refused with the class's message). */
    unsigned serves;
    const CK_KEY_TYPE *ck;
    size_t n_ck;
    unsigned creates;

    /* C_CreateObject: checks the template of class cls (defaults filled in)
     * and derives what it implies; import then puts the key where it lives
     * (the TPM), after the session and login checks. */
    CK_RV (*create_check) (CK_OBJECT_CLASS cls, attr_list *attrs);
    CK_RV (*import) (tt_token *tok, tt_object *obj);

    /* C_GenerateKey: generate_check reads the template (CKA_CLASS and defaults
     * not yet set); generate makes the key material for obj and its attributes. */
    CK_RV (*generate_check) (attr_list *attrs);
    CK_RV (*generate) (tt_token *tok, tt_object *obj);

    /* C_GenerateKeyPair: pair_check reads the key's parameters from both
     * templates before any TPM work (e.g. the curve) and records them in both;
     * generate_pair makes the key (attached to priv), sets the public
     * attributes of both and gives the public bytes CKA_ID is hashed from. */
    CK_KEY_TYPE pair_ck;
    CK_RV (*pair_check) (attr_list *pub, attr_list *priv);
    CK_RV (*generate_pair) (tt_token *tok, tt_object *pub, tt_object *priv, uint8_t *raw,
                            size_t *raw_len);

    /* C_DeriveKey: derive_param checks the mechanism parameter; derive checks
     * the base key and computes the new key (key->attrs from the template). */
    CK_RV (*derive_param) (const CK_MECHANISM *mech);
    CK_RV (*derive) (tt_token *tok, const CK_MECHANISM *mech, const tt_object *base,
                     const CK_ATTRIBUTE *tmpl, CK_ULONG count, tt_object *key);

    /* Sign and verify. param: the mechanism parameter (CKR_MECHANISM_PARAM_INVALID);
     * check: does the key fit the mechanism (CKR_KEY_TYPE_INCONSISTENT)?
     * tpm_sign/tpm_verify: the operation uses the key in the TPM (the key
     * must be a TPM key and the user logged in). init: fills op from key.
     * check_refs: the other objects the parameter names (op->refs, resolved
     * by the core, NULL when not visible). feed: the input (NULL: buffered up
     * to max_input bytes, or hashed into op->digest). out_len: the output's
     * length with pending bytes still to be fed (NULL: known only once made;
     * sign then makes it into op->result once, and the core hands it out).
     * sign/verify: the final step; key is the key object, NULL if it was
     * destroyed meanwhile, refs as for check_refs. */
    CK_RV (*param) (sign_op *op, const CK_MECHANISM *mech);
    CK_RV (*check) (const mech_info *m, const tt_object *key, bool verify);
    bool tpm_sign, tpm_verify;
    CK_RV (*init) (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
                   bool verify);
    CK_RV (*check_refs) (const sign_op *op, tt_object *const *refs);
    /* What a failure of feed (C_*Update), sign or verify means for this key
     * (a TPM refusal: a damaged row, changed PCRs), with a log line. */
    void (*check_result) (tt_token *tok, const sign_op *op, CK_RV *rv);
    CK_RV (*feed) (tt_token *tok, sign_op *op, const CK_BYTE *data, CK_ULONG len);
    size_t max_input;
    size_t (*out_len) (const sign_op *op, size_t pending);
    CK_RV (*sign) (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs,
                   CK_BYTE *out, CK_ULONG *out_len);
    CK_RV (*verify) (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len);

    /* Drops what the object caches (unsealed keys): on logout, object_free, fork. */
    void (*wipe) (tt_object *obj);
} keytype;

extern const keytype keytype_ecdsa, keytype_ed25519, keytype_hmac, keytype_heartbeat,
    keytype_attest, keytype_ecdh, keytype_rsa;

/* keytype.c: whether a stored object's TPM blob fits its attributes (key type,
 * curve, a PCR policy exactly when CKA_TPMTRUST_PCR_MASK is non-zero); false
 * with a log line naming row. Objects without a blob fit. */
bool keytype_row_ok (const tt_object *obj, int64_t row);
/* keytype.c: the row serving (cls, key type), NULL if none. */
const keytype *keytype_lookup (CK_OBJECT_CLASS cls, CK_KEY_TYPE kt);
/* ... by the object's CKA_CLASS and CKA_KEY_TYPE (NULL: not a key we know). */
const keytype *keytype_of (const attr_list *attrs);
/* ecdsa.c, for the attestation identity: op's curve and point from key. */
CK_RV ecdsa_key_init (sign_op *op, const tt_object *key);

/* hmac.c: HMAC key types: the one hash a typed key serves (0: CKK_GENERIC_SECRET, any). */
typedef struct hmac_key_type {
    CK_KEY_TYPE key_type;
    CK_MECHANISM_TYPE hash; /* 0 for generic */
    uint16_t tpm_hash;
    size_t block;           /* the hash's block size: longer keys are hashed first */
} hmac_key_type;

const hmac_key_type *hmac_key_type_lookup (CK_KEY_TYPE type);

/* ed25519.c: the expanded key for signing, from key's cache (key NULL: no
 * cache) or unsealed (then cached as configured); *owned says whether the
 * caller frees it. */
CK_RV eddsa_sk_inlock (tt_token *tok, tt_object *key, const sign_op *op, secbuf **sk,
                       bool *owned);

/* heartbeat.c: the watchdog's NV-index root (tools). attrs: checks the index
 * and mask and gives the object's attributes (CKR_ATTRIBUTE_VALUE_INVALID,
 * CKR_USER_NOT_LOGGED_IN); provision: defines the index with a fresh secret
 * under PolicyPCR of mask and records it in attrs. */
CK_RV heartbeat_nv_attrs (tt_token *tok, uint32_t index, unsigned long pcr_mask,
                          const char *label, attr_list **out);
CK_RV heartbeat_nv_provision (tt_token *tok, uint32_t index, unsigned long pcr_mask,
                              attr_list *attrs);

#endif
