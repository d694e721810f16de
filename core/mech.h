/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mechanism table: one static row per mechanism; all code uses mech_lookup.
 */
#ifndef TT_MECH_H
#define TT_MECH_H

#include "ck.h"

typedef enum { MECH_KEYGEN_EC, MECH_ECDSA, MECH_DIGEST } mech_kind;

typedef struct mech_info {
    CK_MECHANISM_TYPE type;
    mech_kind kind;
    CK_FLAGS flags;
    CK_ULONG min_bits, max_bits;
    CK_MECHANISM_TYPE hash; /* hash-then-sign: the digest mechanism; 0 for raw */
} mech_info;

const mech_info *mech_lookup (CK_MECHANISM_TYPE type);

#endif
