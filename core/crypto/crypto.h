/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Software crypto: the only OpenSSL (and, with secbuf, libsodium) user in core.
 * Digests, ECDSA verification, EC encodings, X.509 field extraction, the PIN
 * KDF and the AEAD that wraps per-object auth values under the token secret.
 */
#ifndef TT_CRYPTO_H
#define TT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"
#include "base/secbuf.h"

typedef struct crypto_digest crypto_digest;

/* An OpenSSL engine made the default for EC keys (libp11 with `openssl -engine
 * pkcs11`) breaks software EC work in this process, tpm2-tss's salted sessions
 * included: pause takes it out of the EC defaults, resume puts it back. Call
 * them around such work, under a lock. NULL-safe; no-ops without an engine. */
void *crypto_engine_pause (void);
void crypto_engine_resume (void *paused);

/* mech: CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512. */
size_t crypto_digest_size (CK_MECHANISM_TYPE mech); /* 0: unknown */
CK_RV crypto_digest_new (CK_MECHANISM_TYPE mech, crypto_digest **out);
CK_RV crypto_digest_update (crypto_digest *d, const uint8_t *data, size_t len);
/* out must hold crypto_digest_size bytes; the context can be reused after final. */
CK_RV crypto_digest_final (crypto_digest *d, uint8_t *out);
void crypto_digest_free (crypto_digest *d);

/* EC curves by their DER OID (CKA_EC_PARAMS). size: field bytes, 0 if unknown. */
size_t crypto_ec_params_size (const uint8_t *params, size_t len);
/* The DER namedCurve OID for a field size (32: P-256, 48: P-384); NULL if none. */
const uint8_t *crypto_ec_params_for_size (size_t size, size_t *len);
/* CKA_EC_POINT: wraps a raw point as DER OCTET STRING, or unwraps one (accepting
 * a raw uncompressed point too). raw must hold 1 + 2 * 48 bytes. */
CK_RV crypto_ec_point_der (const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len);
CK_RV crypto_ec_point_raw (const uint8_t *in, size_t in_len, size_t field, uint8_t *raw,
                           size_t *raw_len);
/* Checks the point is on the curve. */
CK_RV crypto_ec_point_check (size_t field, const uint8_t *raw, size_t raw_len);
/* ECDSA verification of r||s over digest (any length, truncated as ECDSA says).
 * CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE on mismatch. */
CK_RV crypto_ecdsa_verify (size_t field, const uint8_t *raw_point, size_t point_len,
                           const uint8_t *digest, size_t digest_len, const uint8_t *sig,
                           size_t sig_len);
/* DER SubjectPublicKeyInfo for an EC point (CKA_PUBLIC_KEY_INFO); malloc'd. */
CK_RV crypto_ec_spki (size_t field, const uint8_t *raw_point, size_t point_len, uint8_t **der,
                      size_t *der_len);

/* Ed25519 (libsodium). CKA_EC_PARAMS: the OID 1.3.101.112, or the
 * PrintableString "edwards25519"; we emit the OID. */
bool crypto_ed25519_params (const uint8_t *params, size_t len);
const uint8_t *crypto_ed25519_oid (size_t *len);
/* CKA_EC_POINT: DER OCTET STRING of the 32-byte key, or the raw key, to raw;
 * check: also that it is a valid point (35 us: at object creation only). */
CK_RV crypto_ed25519_point_raw (const uint8_t *in, size_t in_len, bool check, uint8_t raw[32]);
/* The expanded secret key (64 bytes, a secbuf) and public key for a 32-byte seed. */
CK_RV crypto_ed25519_expand (const secbuf *seed, secbuf **sk, uint8_t pk[32]);
CK_RV crypto_ed25519_sign (const secbuf *sk, const uint8_t *msg, size_t len, uint8_t sig[64]);
/* CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE on mismatch. */
CK_RV crypto_ed25519_verify (const uint8_t pk[32], const uint8_t *msg, size_t len,
                             const uint8_t *sig, size_t sig_len);
/* DER SubjectPublicKeyInfo of an Ed25519 key (44 bytes). */
void crypto_ed25519_spki (const uint8_t pk[32], uint8_t der[44]);

/* Parses an X.509 DER certificate; each out (may be NULL) gets a malloc'd DER field. */
CK_RV crypto_x509_fields (const uint8_t *der, size_t len, uint8_t **subject, size_t *subject_len,
                          uint8_t **issuer, size_t *issuer_len, uint8_t **serial,
                          size_t *serial_len);

/* Wipes a buffer (not optimized away). */
void crypto_wipe (void *p, size_t len);

/* HMAC-SHA256 and SHA-256 in software. */
CK_RV crypto_hmac_sha256 (const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                          uint8_t out[32]);
void crypto_sha256 (const uint8_t *data, size_t len, uint8_t out[32]);

/* A 20-byte BLAKE2b of data: object ids. */
void crypto_generichash_20 (const uint8_t *data, size_t len, uint8_t out[20]);

/* authValue for a PIN: PBKDF2-HMAC-SHA256 (salt, pin), 32 bytes. */
CK_RV crypto_pin_auth (const uint8_t *salt, size_t salt_len, const uint8_t *pin, size_t pin_len,
                       secbuf **out);

/* XChaCha20-Poly1305 under key (32 bytes); ad binds the wrap to its object.
 * wrap output: nonce || ciphertext || tag, malloc'd. unwrap: CKR_TPMTRUST_OBJECT_DAMAGED
 * when the wrap is truncated or its tag does not verify (with a log line). */
CK_RV crypto_wrap (const secbuf *key, const uint8_t *ad, size_t ad_len, const secbuf *plain,
                   uint8_t **out, size_t *out_len);
CK_RV crypto_unwrap (const secbuf *key, const uint8_t *ad, size_t ad_len, const uint8_t *in,
                     size_t in_len, secbuf **plain);

/* TPM session cryptography, SHA-256 sessions (TPM 2.0 Part 1 11.4.10, 21). */
/* KDFa(SHA-256, key, label, u, v, 8 * out_len). */
CK_RV crypto_kdfa_sha256 (const uint8_t *key, size_t key_len, const char *label, const uint8_t *u,
                          size_t u_len, const uint8_t *v, size_t v_len, uint8_t *out,
                          size_t out_len);
/* A session salt for a P-256 TPM key (04||X||Y): an ephemeral key eph_point
 * (04||X||Y, what the TPM gets) and salt = KDFe(SHA-256, ECDH x, "SECRET",
 * eph x, tpm x, 256). */
CK_RV crypto_tpm_salt_p256 (const uint8_t tpm_point[65], uint8_t salt[32], uint8_t eph_point[65]);
/* AES-128-CFB in place. */
CK_RV crypto_aes128_cfb (const uint8_t key[16], const uint8_t iv[16], uint8_t *buf, size_t len,
                         bool encrypt);

#endif
