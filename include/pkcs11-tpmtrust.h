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

/* Module identity, as reported by C_GetInfo. */
#define TPMTRUST_MANUFACTURER "tpmtrust"

#endif
