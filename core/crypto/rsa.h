/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RSA in software (OpenSSL): the encodings around the TPM's raw RSA
 * operation (PKCS#1 v1.5 type 1 and PSS padding), public-key verification,
 * and the SubjectPublicKeyInfo of a modulus and exponent.
 */
#ifndef TT_CRYPTO_RSA_H
#define TT_CRYPTO_RSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ck.h"

#define CRYPTO_RSA_MAX_BYTES 512 /* 4096 bits */

/* DER SubjectPublicKeyInfo of (n, e), big-endian; malloc'd. */
CK_RV crypto_rsa_spki (const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                       uint8_t **der, size_t *der_len);
/* EMSA-PKCS1-v1_5 (type 1) of t into em (k bytes): CKR_DATA_LEN_RANGE when t
 * is longer than k - 11. */
CK_RV crypto_rsa_pad_pkcs1 (const uint8_t *t, size_t t_len, uint8_t *em, size_t k);
/* The DigestInfo prefix of a hash mechanism (CKM_SHA_1...), NULL if none. */
const uint8_t *crypto_rsa_digestinfo (CK_MECHANISM_TYPE hash, size_t *len);
/* EMSA-PSS of mhash (the hash's size) for the key spki: em gets k bytes
 * (the modulus' size), salt of salt_len random bytes, MGF1 with mgf_hash. */
CK_RV crypto_rsa_pad_pss (const uint8_t *spki, size_t spki_len, CK_MECHANISM_TYPE hash,
                          CK_MECHANISM_TYPE mgf_hash, size_t salt_len, const uint8_t *mhash,
                          uint8_t *em, size_t k);
/* Verification with the public key spki. pss false: PKCS#1 v1.5 over data
 * (hash 0: data is the DigestInfo itself; else data is the hash). pss true:
 * data is the hash. CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE. */
CK_RV crypto_rsa_verify (const uint8_t *spki, size_t spki_len, bool pss, CK_MECHANISM_TYPE hash,
                         CK_MECHANISM_TYPE mgf_hash, size_t salt_len, const uint8_t *data,
                         size_t len, const uint8_t *sig, size_t sig_len);

#endif
