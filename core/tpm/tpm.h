/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: the only code that talks ESAPI. One tpm per module, shared by
 * every token (swtpm and /dev/tpm0 serve one connection at a time). Each call
 * takes the tpm's own lock. The connection is opened on first use, never at
 * load or C_Initialize, and re-opened after the TPM went away.
 *
 * Object blobs are marshalled TPM2B_PUBLIC / TPM2B_PRIVATE under the SRK.
 * Secrets (auth values, sealed data) come and go only as secbuf, and cross the
 * bus only inside salted, parameter-encrypted sessions.
 *
 * Returns: CKR_DEVICE_ERROR when the TPM cannot be reached (the log names every
 * TCTI tried), CKR_PIN_INCORRECT for a wrong auth value, CKR_PIN_LOCKED when the
 * TPM is in dictionary-attack lockout, CKR_FUNCTION_FAILED otherwise.
 */
#ifndef TT_TPM_H
#define TT_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"
#include "base/secbuf.h"

typedef struct tpm tpm;

typedef struct tpm_blob {
    uint8_t *data; /* malloc'd */
    size_t len;
} tpm_blob;

typedef enum { TPM_CURVE_P256 = 0x0003, TPM_CURVE_P384 = 0x0004 } tpm_curve;

/* A PCR selection: one bank (a TPM hash id: 0x000B SHA-256, 0x0004 SHA-1...) and
 * PCRs 0..23 as a bit mask. mask 0: none. */
typedef struct tpm_pcrs {
    uint16_t bank;
    uint32_t mask;
} tpm_pcrs;

/* A key to use: its blobs, its auth value, and the PCRs its policy names (a key
 * bound to PCRs is used in a policy session: PolicyPCR AND PolicyAuthValue). */
typedef struct tpm_key {
    const tpm_blob *pub, *priv;
    const secbuf *auth;
    tpm_pcrs pcrs;
} tpm_key;

/* The policy a new key is bound to: PolicyPCR (values now) AND PolicyAuthValue. */
typedef struct tpm_policy {
    tpm_pcrs pcrs;
    uint8_t digest[32];
} tpm_policy;

typedef struct tpm_info {
    char tcti[128];
    char manufacturer[5];
    char vendor[17];
    uint32_t firmware_major, firmware_minor;
    uint32_t spec_level, spec_revision;
    bool srk_persistent; /* the SRK at 0x81000001 matched and is used */
    bool p384;
    uint32_t lockout_counter, max_auth_fail, lockout_interval, lockout_recovery;
    bool in_lockout;
} tpm_info;

tpm *tpm_new (void);
/* Flushes everything this process loaded, closes the connection; NULL-safe. */
void tpm_free (tpm *t);
/* Flushes what this process loaded and closes the connection; the next call
 * reconnects. */
void tpm_disconnect (tpm *t);
/* After fork in the child: drops the parent's connection without a word to the TPM. */
void tpm_forget (tpm *t);

void tpm_blob_clear (tpm_blob *b);

/* Fills in what doctor and C_GetTokenInfo report; opens the connection. */
CK_RV tpm_get_info (tpm *t, tpm_info *info);
/* Makes the module's SRK (its ECC P-256 template, the TCG H-2 storage key)
 * persistent at 0x81000001 with the owner authorization owner_auth (NULL or
 * "": empty), so that no process has to create it (TPM2_CreatePrimary costs
 * 100 ms or more on hardware). CKR_FUNCTION_FAILED, logged, when another key
 * is there; CKR_PIN_INCORRECT for a wrong owner authorization. *existed: the
 * SRK was there already (nothing done). */
CK_RV tpm_srk_persist (tpm *t, const char *owner_auth, bool *existed);
/* Only the DA counters (one command; reused for a second unless an
 * authorization failed since). */
CK_RV tpm_get_lockout (tpm *t, tpm_info *info);
bool tpm_connected (tpm *t);

/* len random bytes: the TPM's RNG XORed with the OS RNG (never plain on the bus). */
CK_RV tpm_random (tpm *t, uint8_t *buf, size_t len);
/* Mixes seed into the TPM's RNG (TPM2_StirRandom, the seed parameter-encrypted). */
CK_RV tpm_stir_random (tpm *t, const uint8_t *seed, size_t len);

/* The selected PCRs' current values, concatenated in PCR order. */
CK_RV tpm_pcr_read (tpm *t, tpm_pcrs pcrs, uint8_t *values, size_t *len);
/* A policy binding new keys to the selected PCRs' current values; values (may be
 * NULL) receives those values as tpm_pcr_read gives them. */
CK_RV tpm_pcr_policy (tpm *t, tpm_pcrs pcrs, tpm_policy *pol, uint8_t *values, size_t *len);

/* A secret in an NV index (owner hierarchy) readable only under PolicyPCR of the
 * selected PCRs' current values. provision: defines the index (CKR_ATTRIBUTE_VALUE_INVALID
 * when it exists) and writes secret (parameter-encrypted). read: in a salted policy
 * session, response-encrypted; CKR_TPMTRUST_PCR_MISMATCH when the PCRs changed. */
CK_RV tpm_nv_provision (tpm *t, uint32_t index, tpm_pcrs pcrs, const secbuf *secret,
                        uint8_t *values, size_t *values_len);
CK_RV tpm_nv_read_secret (tpm *t, uint32_t index, tpm_pcrs pcrs, size_t size, secbuf **out);

/* Token counters (core/tpm/counter.c): monotonic NV counters in the owner
 * hierarchy. index: where a token's counter lives, from its serial. define:
 * CKR_FUNCTION_REJECTED (logged) when the owner hierarchy needs an auth or
 * the index is taken; read/increment: CKR_KEY_HANDLE_INVALID when there is no
 * index, CKR_TPMTRUST_STORE_ROLLED_BACK when it is not such a counter. */
uint32_t tpm_counter_index (const char *serial);
uint32_t tpm_counter_next (uint32_t index); /* the one after, for a taken index */
CK_RV tpm_counter_exists (tpm *t, uint32_t index, bool *exists);
CK_RV tpm_counter_define (tpm *t, uint32_t index, uint64_t *value);
CK_RV tpm_counter_read (tpm *t, uint32_t index, uint64_t *value);
CK_RV tpm_counter_increment (tpm *t, uint32_t index); /* by exactly one (NV_Increment) */
CK_RV tpm_counter_undefine (tpm *t, uint32_t index);

/* Seals data under the SRK with authValue auth; da: dictionary-attack protected;
 * pol (may be NULL): the PCR policy the object is bound to. */
CK_RV tpm_seal (tpm *t, const secbuf *auth, const secbuf *data, bool da, const tpm_policy *pol,
                tpm_blob *pub, tpm_blob *priv);
/* CKR_TPMTRUST_PCR_MISMATCH when the key's PCRs no longer hold their values. */
CK_RV tpm_unseal (tpm *t, const tpm_key *k, secbuf **data);

/* Creates an ECC signing key in the TPM; point is the uncompressed 04||X||Y.
 * derive: it may also do ECDH (TPMA_OBJECT_DECRYPT), for CKA_DERIVE keys. */
CK_RV tpm_ec_create (tpm *t, tpm_curve curve, const secbuf *auth, const tpm_policy *pol,
                     bool derive, tpm_blob *pub, tpm_blob *priv, uint8_t *point,
                     size_t *point_len);
/* ECDH in the TPM (TPM2_ECDH_ZGen, the result response-encrypted): z gets the
 * shared point's x-coordinate, the curve's size. peer: the uncompressed point.
 * CKR_KEY_FUNCTION_NOT_PERMITTED for a key made without derive, with a log
 * line; CKR_DATA_INVALID (logged) for a point the TPM finds not on the curve. */
CK_RV tpm_ecdh_zgen (tpm *t, const tpm_key *k, const uint8_t *peer, size_t peer_len,
                     secbuf **z);
/* What a public blob holds: its TPM_ALG type (0x23 ECC, 0x08 keyed hash), ECC
 * curve (0 otherwise) and the size of its policy digest (0: no policy). */
CK_RV tpm_pub_summary (const tpm_blob *pub, uint16_t *type, uint16_t *curve, size_t *policy_len);
/* Reads curve and point from a public blob. */
CK_RV tpm_ec_public (const tpm_blob *pub, tpm_curve *curve, uint8_t *point, size_t *point_len);
/* ECDSA over digest (exactly the curve's size); sig receives r||s, 2 * size bytes. */
CK_RV tpm_ec_sign (tpm *t, const tpm_key *k, const uint8_t *digest, size_t digest_len,
                   uint8_t *sig, size_t *sig_len);

/* RSA keys (rsa.c): sign|decrypt keys with the NULL scheme, exponent 65537.
 * create: n gets the modulus (bits / 8 bytes). raw: the private operation
 * (TPM2_RSA_Decrypt, NULL scheme) on in (the modulus' size, below it); out
 * gets as many bytes; secret: the result comes back response-encrypted (a
 * decryption). bits_supported: TPM2_TestParms for an RSA key of that size. */
CK_RV tpm_rsa_create (tpm *t, unsigned bits, const secbuf *auth, const tpm_policy *pol,
                      tpm_blob *pub, tpm_blob *priv, uint8_t *n, size_t *n_len);
CK_RV tpm_rsa_public (const tpm_blob *pub, uint8_t *n, size_t *n_len);
CK_RV tpm_rsa_raw (tpm *t, const tpm_key *k, const uint8_t *in, size_t len, bool secret,
                   uint8_t *out, size_t *out_len);
CK_RV tpm_rsa_bits_supported (tpm *t, unsigned bits, bool *ok);

/* HMAC keys: keyed-hash objects under the SRK. hash: a TPM_ALG id (0x04 SHA-1,
 * 0x0B SHA-256, 0x0C SHA-384, 0x0D SHA-512). */
#define TPM_HMAC_MAX_KEY 128  /* what TPMs hold in a keyed-hash object (MAX_SYM_DATA) */
#define TPM_HMAC_CHUNK 1024   /* data per TPM2_HMAC / SequenceUpdate (MAX_DIGEST_BUFFER) */

/* Creates an HMAC key: with key bytes given (an import: they travel only in a
 * parameter-encrypted command), else generated inside the TPM (its size is the
 * digest size of name_hash). scheme_hash: the one hash the key may use, 0 for any. */
CK_RV tpm_hmac_create (tpm *t, uint16_t name_hash, uint16_t scheme_hash, const secbuf *key,
                       const secbuf *auth, const tpm_policy *pol, tpm_blob *pub,
                       tpm_blob *priv);
/* One TPM2_HMAC over at most TPM_HMAC_CHUNK bytes; the result comes back
 * response-encrypted. out must hold 64 bytes. */
CK_RV tpm_hmac (tpm *t, const tpm_key *k, uint16_t hash, const uint8_t *data, size_t len,
                uint8_t *out, size_t *out_len);
/* An HMAC sequence for longer data. Between calls the sequence is context-saved
 * and flushed, so it holds no transient slot. */
typedef struct tpm_hmac_seq tpm_hmac_seq;
CK_RV tpm_hmac_start (tpm *t, const tpm_key *k, uint16_t hash, tpm_hmac_seq **seq);
CK_RV tpm_hmac_update (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len);
/* Adds the last data (at most TPM_HMAC_CHUNK bytes), returns the HMAC, frees seq. */
CK_RV tpm_hmac_finish (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len, uint8_t *out,
                       size_t *out_len);
void tpm_hmac_seq_free (tpm_hmac_seq *seq); /* NULL-safe; nothing is loaded */

/* What a key blob made elsewhere (a TSS2 key file) is. */
typedef enum { TPM_KEY_OTHER, TPM_KEY_ECC_SIGN, TPM_KEY_HMAC } tpm_key_kind;
typedef struct tpm_key_desc {
    tpm_key_kind kind;
    tpm_curve curve;            /* ECC */
    uint8_t point[1 + 2 * 48];  /* ECC: uncompressed */
    size_t point_len;
    uint16_t hmac_hash;         /* HMAC: the scheme's hash, 0 for any */
    bool user_with_auth;        /* usable with its auth value alone (no policy) */
} tpm_key_desc;
CK_RV tpm_key_describe (const tpm_blob *pub, tpm_key_desc *d);
/* Loads and flushes: CKR_OK when the blob belongs under our SRK in this TPM. */
CK_RV tpm_key_check (tpm *t, const tpm_blob *pub, const tpm_blob *priv);
/* A new private blob for the same key with another auth value (TPM2_ObjectChangeAuth;
 * the new auth travels parameter-encrypted). The old blob stays valid. */
CK_RV tpm_change_auth (tpm *t, const tpm_key *k, const secbuf *new_auth, tpm_blob *new_priv);

/* Number of transient objects currently loaded in the TPM (all clients). */
CK_RV tpm_transient_count (tpm *t, uint32_t *count);

#endif
