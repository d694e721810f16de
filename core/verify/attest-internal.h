/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the files of the attestation verifier share (bundle.c, tpm-struct.c,
 * attest-verify.c, credential.c); not for callers outside core/verify/.
 */
#ifndef TT_ATTEST_INTERNAL_H
#define TT_ATTEST_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "verify/attest-verify.h"

/* bundle.c: big-endian reads (the caller checked the length). */
uint16_t attest_be16 (const uint8_t *p);
uint32_t attest_be32 (const uint8_t *p);
/* Formats an error into err (err_len bytes; err may be NULL). */
void attest_errf (char *err, size_t err_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* tpm-struct.c: the OpenSSL digest of a TPM hash algorithm id, NULL if none. */
const EVP_MD *attest_tpm_md (uint16_t alg);
/* A marshalled TPM2B_PUBLIC (all len bytes of it): 0, else -1. */
int attest_unmarshal_public (const uint8_t *p, size_t len, TPM2B_PUBLIC *out);
/* A marshalled TPMS_ATTEST (all of a): 0, else -1. */
int attest_unmarshal_attest (attest_bytes a, TPMS_ATTEST *out);
/* The public key of an ECC (P-256, P-384) or RSA TPM object; NULL if none. */
EVP_PKEY *attest_pkey_from_tpm (const TPMT_PUBLIC *a);
/* Verifies a DER or raw signature over msg with md (NULL for Ed25519). */
bool attest_pkey_verify (EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *msg, size_t len,
                         const uint8_t *sig, size_t sig_len);
/* r || s (or two TPM2B halves) as a DER ECDSA-Sig-Value; malloc'd, NULL on failure. */
uint8_t *attest_ecdsa_der (const uint8_t *r, size_t r_len, const uint8_t *s, size_t s_len,
                           size_t *der_len);
/* A TPMT_SIGNATURE (ECDSA or RSASSA) by key over msg; why gets the reason. */
bool attest_tpm_sig_verify (const TPMT_PUBLIC *key, const uint8_t *msg, size_t len,
                            attest_bytes sig, char *why, size_t why_len);

#endif
