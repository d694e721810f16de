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

/* Module identity, as reported by C_GetInfo. */
#define TPMTRUST_MANUFACTURER "tpmtrust"

#endif
