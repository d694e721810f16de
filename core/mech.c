/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "core.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define SIGN_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS)
#define HMAC_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY)

static const hmac_key_type hmac_types[] = {
    { CKK_GENERIC_SECRET, 0, 0, 0 },
    { CKK_SHA_1_HMAC, CKM_SHA_1, 0x0004, 64 },
    { CKK_SHA256_HMAC, CKM_SHA256, 0x000B, 64 },
    { CKK_SHA384_HMAC, CKM_SHA384, 0x000C, 128 },
    { CKK_SHA512_HMAC, CKM_SHA512, 0x000D, 128 },
};

const hmac_key_type *
hmac_key_type_lookup (CK_KEY_TYPE type)
{
    for (size_t i = 0; i < sizeof hmac_types / sizeof hmac_types[0]; i++)
        if (hmac_types[i].key_type == type)
            return &hmac_types[i];
    return NULL;
}

uint16_t
mech_tpm_hash (CK_MECHANISM_TYPE hash)
{
    for (size_t i = 1; i < sizeof hmac_types / sizeof hmac_types[0]; i++)
        if (hmac_types[i].hash == hash)
            return hmac_types[i].tpm_hash;
    return 0;
}

static const mech_info mechs[] = {
    { CKM_EC_KEY_PAIR_GEN, MECH_KEYGEN_EC, CKF_HW | CKF_GENERATE_KEY_PAIR | EC_FLAGS, 256, 384, 0 },
    { CKM_ECDSA, MECH_ECDSA, SIGN_FLAGS, 256, 384, 0 },
    { CKM_ECDSA_SHA1, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA_1 },
    { CKM_ECDSA_SHA224, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA224 },
    { CKM_ECDSA_SHA256, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA256 },
    { CKM_ECDSA_SHA384, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA384 },
    { CKM_ECDSA_SHA512, MECH_ECDSA, SIGN_FLAGS, 256, 384, CKM_SHA512 },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, MECH_KEYGEN_EDWARDS, CKF_GENERATE_KEY_PAIR | EC_FLAGS, 255, 255,
      0 },
    { CKM_EDDSA, MECH_EDDSA, CKF_SIGN | CKF_VERIFY | EC_FLAGS, 255, 255, 0 },
    /* key sizes in bits (mechanisms spec, generic secret key generation): 1 to 128 bytes */
    { CKM_GENERIC_SECRET_KEY_GEN, MECH_KEYGEN_SECRET, CKF_HW | CKF_GENERATE, 8, 1024, 0 },
    { CKM_SHA_1_HMAC, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA_1, 0x0004, false },
    { CKM_SHA_1_HMAC_GENERAL, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA_1, 0x0004, true },
    { CKM_SHA256_HMAC, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA256, 0x000B, false },
    { CKM_SHA256_HMAC_GENERAL, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA256, 0x000B, true },
    { CKM_SHA384_HMAC, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA384, 0x000C, false },
    { CKM_SHA384_HMAC_GENERAL, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA384, 0x000C, true },
    { CKM_SHA512_HMAC, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA512, 0x000D, false },
    { CKM_SHA512_HMAC_GENERAL, MECH_HMAC, HMAC_FLAGS, 1, 128, CKM_SHA512, 0x000D, true },
    { CKM_TPMTRUST_WATCHDOG_DERIVE, MECH_WD_DERIVE, CKF_HW | CKF_DERIVE, 1, 128, 0 },
    { CKM_TPMTRUST_HEARTBEAT, MECH_HEARTBEAT, CKF_SIGN | CKF_VERIFY, 32, 32, 0 },
    { CKM_TPMTRUST_ATTEST, MECH_ATTEST, CKF_HW | CKF_SIGN, 255, 384, 0 },
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
