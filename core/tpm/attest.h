/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM side of attestation snapshots (docs/attestation.md): the AK, the EK,
 * quotes, certifications and credential activation. Each call takes the tpm's
 * lock and leaves nothing loaded: the AK (and a created EK) are flushed at the
 * end, so the calls fit a TPM with 3 transient slots.
 *
 * The AK is a primary key of the endorsement hierarchy made from a fixed
 * template (restricted ECC P-256 signing key, ECDSA-SHA256, fixedTPM,
 * fixedParent, sensitiveDataOrigin, userWithAuth, noDA, empty auth and unique):
 * the TPM re-derives the same key after every reboot until it is cleared. When
 * TPMTRUST_AK_HANDLE (config: ak_handle) names a persistent handle that holds
 * this AK, it is used instead of being derived.
 *
 * The EK: the TCG EK credential profile's low-range template L-2 (ECC P-256)
 * or L-1 (RSA 2048), the one whose certificate NV index (0x01c0000a,
 * 0x01c00002) exists, ECC when neither does; read from its persistent handle
 * (0x81010002, 0x81010001) when that holds it, else derived.
 */
#ifndef TT_ATTEST_TPM_H
#define TT_ATTEST_TPM_H

#include "verify/attest-verify.h"
#include "tpm/tpm.h"

#define TPM_AK_MAX_KEYS ATTEST_MAX_KEYS

/* The AK's public area (marshalled TPM2B_PUBLIC). */
CK_RV tpm_ak_public (tpm *t, tpm_blob *pub);
/* Makes the AK persistent at handle (owner auth empty); CKR_ATTRIBUTE_VALUE_INVALID
 * when the handle holds something else. */
CK_RV tpm_ak_persist (tpm *t, uint32_t handle);
/* The EK's public area and its certificate (DER; cert->len 0 when there is none). */
CK_RV tpm_ek_public (tpm *t, tpm_blob *pub, tpm_blob *cert);

typedef struct tpm_attest_result {
    tpm_blob ak_pub, ek_pub, ek_cert;
    tpm_blob quote, quote_sig;           /* TPMS_ATTEST, TPMT_SIGNATURE */
    uint8_t pcr_values[24 * 64];         /* in PCR order, consistent with the quote */
    size_t pcr_len;
    tpm_blob certify[TPM_AK_MAX_KEYS];   /* TPMS_ATTEST of each key */
    tpm_blob certify_sig[TPM_AK_MAX_KEYS];
} tpm_attest_result;

/* Quote of pcrs with nonce (1..64 bytes), and TPM2_Certify of each key (its
 * auth value authorizes the certification) by the AK, qualified by the nonce.
 * CKR_ARGUMENTS_BAD for a bad nonce or too many keys. */
CK_RV tpm_attest (tpm *t, const uint8_t *nonce, size_t nonce_len, tpm_pcrs pcrs,
                  const tpm_key *keys, size_t n_keys, tpm_attest_result *out);
void tpm_attest_result_clear (tpm_attest_result *r);

/* TPM2_ActivateCredential with the AK and the EK: id_object and enc_secret are
 * the marshalled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET (with their size
 * fields). out (32 bytes) receives the credential. CKR_FUNCTION_FAILED (logged)
 * when the credential was not made for this TPM's EK and AK. */
CK_RV tpm_activate_credential (tpm *t, const uint8_t *id_object, size_t id_len,
                               const uint8_t *enc_secret, size_t enc_len, uint8_t *out,
                               size_t *out_len);

#endif
