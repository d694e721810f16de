/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mechanism table: one static row per mechanism; all code uses mech_lookup.
 */
#ifndef TT_MECH_H
#define TT_MECH_H

#include "base/ck.h"

#include <stdbool.h>
#include <stdint.h>

struct keytype;

typedef struct mech_info {
    CK_MECHANISM_TYPE type;
    const struct keytype *key; /* the key type that implements it (core/keys/); NULL: digests */
    CK_FLAGS flags;            /* also what it does: CKF_SIGN, CKF_GENERATE_KEY_PAIR... */
    CK_ULONG min_bits, max_bits;
    CK_MECHANISM_TYPE hash; /* hash-then-sign and HMAC: the digest mechanism; 0 for raw */
    uint16_t tpm_hash;      /* HMAC: the TPM's id of that hash */
    bool general;           /* *_HMAC_GENERAL: CK_MAC_GENERAL_PARAMS gives the length */
} mech_info;

const mech_info *mech_lookup (CK_MECHANISM_TYPE type);

#endif
