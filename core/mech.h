/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mechanism table: one static row per mechanism; all code uses mech_lookup.
 */
#ifndef TT_MECH_H
#define TT_MECH_H

#include "base/ck.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MECH_KEYGEN_EC,
    MECH_KEYGEN_EDWARDS,
    MECH_KEYGEN_SECRET,
    MECH_ECDSA,
    MECH_EDDSA,
    MECH_HMAC,
    MECH_DIGEST,
    MECH_WD_DERIVE,
    MECH_HEARTBEAT,
    MECH_ATTEST
} mech_kind;

typedef struct mech_info {
    CK_MECHANISM_TYPE type;
    mech_kind kind;
    CK_FLAGS flags;
    CK_ULONG min_bits, max_bits;
    CK_MECHANISM_TYPE hash; /* hash-then-sign and HMAC: the digest mechanism; 0 for raw */
    uint16_t tpm_hash;      /* HMAC: the TPM's id of that hash */
    bool general;           /* *_HMAC_GENERAL: CK_MAC_GENERAL_PARAMS gives the length */
} mech_info;

/* HMAC key types: the one hash a typed key serves (0: CKK_GENERIC_SECRET, any). */
typedef struct hmac_key_type {
    CK_KEY_TYPE key_type;
    CK_MECHANISM_TYPE hash; /* 0 for generic */
    uint16_t tpm_hash;
    size_t block;           /* the hash's block size: longer keys are hashed first */
} hmac_key_type;

const hmac_key_type *hmac_key_type_lookup (CK_KEY_TYPE type);
/* The TPM hash id for a digest mechanism (CKM_SHA256...), 0 if none. */
uint16_t mech_tpm_hash (CK_MECHANISM_TYPE hash);

const mech_info *mech_lookup (CK_MECHANISM_TYPE type);

#endif
