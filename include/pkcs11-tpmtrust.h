/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust vendor extensions to PKCS#11. Every constant is based at
 * CKx_VENDOR_DEFINED | 0x54540000 ("TT").
 */
#ifndef PKCS11_TPMTRUST_H
#define PKCS11_TPMTRUST_H

#define CKA_TPMTRUST_BASE (0x80000000UL | 0x54540000UL)
#define CKM_TPMTRUST_BASE (0x80000000UL | 0x54540000UL)
#define CKR_TPMTRUST_BASE (0x80000000UL | 0x54540000UL)

/* CK_BBOOL, read-only: TRUE when the object's key lives in (is wrapped by) the TPM. */
#define CKA_TPMTRUST_TPM_KEY (CKA_TPMTRUST_BASE + 0x01)

/*
 * PCR binding. At creation (C_GenerateKeyPair's private template, C_GenerateKey,
 * C_CreateObject of a secret or Ed25519 private key) CKA_TPMTRUST_PCR_MASK binds a
 * TPM-backed key to the current values of those PCRs: its TPM policy is
 * PolicyPCR AND PolicyAuthValue. Read-only afterwards.
 *   CKA_TPMTRUST_PCR_MASK   CK_ULONG: bit i selects PCR i (0..23)
 *   CKA_TPMTRUST_PCR_BANK   CK_MECHANISM_TYPE: the bank, CKM_SHA256 (default) or CKM_SHA_1,
 *                           CKM_SHA384, CKM_SHA512
 *   CKA_TPMTRUST_PCR_VALUES byte array, read-only: the bound values, in PCR order
 * Using such a key after one of its PCRs changed fails with
 * CKR_TPMTRUST_PCR_MISMATCH, and the log names the PCRs that differ. Nothing is
 * deleted: the key works again once the PCRs hold their values.
 */
#define CKA_TPMTRUST_PCR_MASK (CKA_TPMTRUST_BASE + 0x10)
#define CKA_TPMTRUST_PCR_BANK (CKA_TPMTRUST_BASE + 0x11)
#define CKA_TPMTRUST_PCR_VALUES (CKA_TPMTRUST_BASE + 0x12)

#define CKR_TPMTRUST_PCR_MISMATCH (CKR_TPMTRUST_BASE + 0x01)

/*
 * A stored object whose key material is damaged: its wrapped auth value does not
 * decrypt under the token secret with its TPM public blob, or the TPM refuses its
 * auth value. Using it fails with this code and a log line naming the object;
 * other objects are unaffected and nothing is rewritten (docs/robustness.md).
 */
#define CKR_TPMTRUST_OBJECT_DAMAGED (CKR_TPMTRUST_BASE + 0x02)

/* The store is older than the TPM's counter for the token (it was restored
 * from a copy, rolled back): C_Login refuses, and the log says which token and
 * by how many changes. See docs/ARCHITECTURE.md, "No rollback". */
#define CKR_TPMTRUST_STORE_ROLLED_BACK (CKR_TPMTRUST_BASE + 0x03)

/*
 * Watchdog heartbeats (docs/watchdog.md).
 * CKM_TPMTRUST_WATCHDOG_DERIVE, C_DeriveKey on the root secret (a TPM HMAC key bound
 * to PCRs, CKA_DERIVE TRUE): the per-boot heartbeat key, a session CKO_SECRET_KEY of
 * 32 bytes = HKDF-SHA256 (salt = the root secret, held in the TPM;
 * IKM = SHA-256 (the root's PCR values now) || boot id; info = label). Sensitive and
 * not extractable unless the template says CKA_SENSITIVE FALSE / CKA_EXTRACTABLE TRUE
 * (to hand it to the kernel). A changed PCR: CKR_TPMTRUST_PCR_MISMATCH.
 * CKM_TPMTRUST_HEARTBEAT, C_Sign with that key: the data is the optional metadata
 * (at most 256 bytes); the signature is a whole version-1 heartbeat, message and
 * HMAC-SHA256 (74 + metadata bytes). C_Verify: data = the message without its MAC,
 * signature = the MAC.
 */
#define CKM_TPMTRUST_WATCHDOG_DERIVE (CKM_TPMTRUST_BASE + 0x20)
/* CK_ULONG, read-only: a watchdog root held in this TPM NV index (not a TPM key) */
#define CKA_TPMTRUST_NV_INDEX (CKA_TPMTRUST_BASE + 0x20)
#define CKM_TPMTRUST_HEARTBEAT (CKM_TPMTRUST_BASE + 0x21)

typedef struct CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS {
    unsigned char *pBootId; /* e.g. /proc/sys/kernel/random/boot_id */
    unsigned long ulBootIdLen;
    unsigned char *pLabel; /* e.g. "tpmtrust watchdog v1" */
    unsigned long ulLabelLen;
} CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS;

typedef struct CK_TPMTRUST_HEARTBEAT_PARAMS {
    unsigned char nonce[16]; /* the verifier's challenge, echoed in the heartbeat */
} CK_TPMTRUST_HEARTBEAT_PARAMS;

#define TPMTRUST_HEARTBEAT_HEADER 42
#define TPMTRUST_HEARTBEAT_MAC 32
#define TPMTRUST_HEARTBEAT_MAX_META 256

/*
 * Attestation snapshots (docs/attestation.md).
 * CKM_TPMTRUST_ATTEST, C_Sign with a token identity key (a TPM ECDSA private key,
 * or an Ed25519 key with a TPM-sealed seed): the data is the verifier's nonce
 * (1 to 64 bytes); the parameter selects the PCRs to quote and the token keys
 * to certify. The signature is a whole version-1 bundle: TPM2_Quote of the PCRs
 * with the nonce by the attestation key (AK), the PCR values, TPM2_Certify of
 * each key by the AK, the AK and EK public parts and the EK certificate, signed
 * by the identity key (ECDSA over SHA-256 (P-256) / SHA-384 (P-384) of the
 * bundle, or Ed25519). A C_Sign length query (NULL output) already makes the
 * bundle; the next C_Sign with the same nonce returns that same bundle.
 */
#define CKM_TPMTRUST_ATTEST (CKM_TPMTRUST_BASE + 0x30)

typedef struct CK_TPMTRUST_ATTEST_PARAMS {
    unsigned long pcrBank;  /* CKM_SHA256 (usual), CKM_SHA_1, CKM_SHA384, CKM_SHA512 */
    unsigned long pcrMask;  /* bit i quotes PCR i (0..23); 0: no PCRs */
    unsigned long *phKeys;  /* CK_OBJECT_HANDLEs of TPM keys to certify (may be NULL) */
    unsigned long ulKeyCount; /* at most 16 */
} CK_TPMTRUST_ATTEST_PARAMS;

/* Module identity, as reported by C_GetInfo. */
#define TPMTRUST_MANUFACTURER "tpmtrust"

#endif
