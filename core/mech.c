/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "core.h"
#include "mech.h"

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define SIGN_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS)

static const mech_info mechs[] = {
    { CKM_EC_KEY_PAIR_GEN, MECH_KEYGEN_EC, CKF_HW | CKF_GENERATE_KEY_PAIR | EC_FLAGS, 256, 384, 0 },
    { CKM_ECDSA, MECH_ECDSA, SIGN_FLAGS, 256, 384, 0 },
    { CKM_ECDSA_SHA1, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA_1 },
    { CKM_ECDSA_SHA224, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA224 },
    { CKM_ECDSA_SHA256, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA256 },
    { CKM_ECDSA_SHA384, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA384 },
    { CKM_ECDSA_SHA512, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA512 },
    { CKM_SHA_1, MECH_DIGEST, CKF_DIGEST, 0, 0, CKM_SHA_1 },
    { CKM_SHA224, MECH_DIGEST, CKF_DIGEST, 0, 0, CKM_SHA224 },
    { CKM_SHA256, MECH_DIGEST, CKF_DIGEST, 0, 0, CKM_SHA256 },
    { CKM_SHA384, MECH_DIGEST, CKF_DIGEST, 0, 0, CKM_SHA384 },
    { CKM_SHA512, MECH_DIGEST, CKF_DIGEST, 0, 0, CKM_SHA512 },
};

#define N_MECHS (sizeof mechs / sizeof mechs[0])

const mech_info *
mech_lookup (CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < N_MECHS; i++)
        if (mechs[i].type == type)
            return &mechs[i];
    return NULL;
}

CK_RV
mech_list (CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    CK_RV rv = CKR_OK;

    if (list != NULL && *count < N_MECHS)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list != NULL)
        for (size_t i = 0; i < N_MECHS; i++)
            list[i] = mechs[i].type;
    *count = N_MECHS;
    return rv;
}

CK_RV
mech_get_info (CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    const mech_info *m = mech_lookup (type);
    if (m == NULL)
        return CKR_MECHANISM_INVALID;
    info->ulMinKeySize = m->min_bits;
    info->ulMaxKeySize = m->max_bits;
    info->flags = m->flags;
    return CKR_OK;
}
