/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "core.h"
#include "keys/keytype.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define SIGN_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS)
#define HMAC_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY)
#define RSA_FLAGS (CKF_HW | CKF_SIGN | CKF_VERIFY)

static const mech_info mechs[] = {
    { CKM_EC_KEY_PAIR_GEN, &keytype_ecdsa, CKF_HW | CKF_GENERATE_KEY_PAIR | EC_FLAGS, 256, 384, 0 },
    { CKM_ECDSA, &keytype_ecdsa, SIGN_FLAGS, 256, 384, 0 },
    { CKM_ECDSA_SHA1, &keytype_ecdsa, SIGN_FLAGS, 256, 384, CKM_SHA_1 },
    { CKM_ECDSA_SHA224, &keytype_ecdsa, SIGN_FLAGS, 256, 384, CKM_SHA224 },
    { CKM_ECDSA_SHA256, &keytype_ecdsa, SIGN_FLAGS, 256, 384, CKM_SHA256 },
    { CKM_ECDSA_SHA384, &keytype_ecdsa, SIGN_FLAGS, 256, 384, CKM_SHA384 },
    { CKM_ECDSA_SHA512, &keytype_ecdsa, SIGN_FLAGS, 256, 384, CKM_SHA512 },
    { CKM_ECDH1_DERIVE, &keytype_ecdh, CKF_HW | CKF_DERIVE | EC_FLAGS, 256, 384, 0 },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, &keytype_ed25519, CKF_GENERATE_KEY_PAIR | EC_FLAGS, 255, 255,
      0 },
    { CKM_EDDSA, &keytype_ed25519, CKF_SIGN | CKF_VERIFY | EC_FLAGS, 255, 255, 0 },
    /* key sizes in bits (mechanisms spec, generic secret key generation): 1 to 128 bytes */
    { CKM_GENERIC_SECRET_KEY_GEN, &keytype_hmac, CKF_HW | CKF_GENERATE, 8, 1024, 0 },
    { CKM_SHA_1_HMAC, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA_1, 0x0004, false },
    { CKM_SHA_1_HMAC_GENERAL, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA_1, 0x0004, true },
    { CKM_SHA256_HMAC, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA256, 0x000B, false },
    { CKM_SHA256_HMAC_GENERAL, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA256, 0x000B, true },
    { CKM_SHA384_HMAC, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA384, 0x000C, false },
    { CKM_SHA384_HMAC_GENERAL, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA384, 0x000C, true },
    { CKM_SHA512_HMAC, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA512, 0x000D, false },
    { CKM_SHA512_HMAC_GENERAL, &keytype_hmac, HMAC_FLAGS, 1, 128, CKM_SHA512, 0x000D, true },
    { CKM_TPMTRUST_WATCHDOG_DERIVE, &keytype_heartbeat, CKF_HW | CKF_DERIVE, 1, 128, 0 },
    { CKM_TPMTRUST_HEARTBEAT, &keytype_heartbeat, CKF_SIGN | CKF_VERIFY, 32, 32, 0 },
    { CKM_TPMTRUST_ATTEST, &keytype_attest, CKF_HW | CKF_SIGN, 255, 384, 0 },
    /* RSA: the TPM's raw RSA on software PKCS#1 v1.5 / PSS encodings (keys/rsa.c) */
    { CKM_RSA_PKCS_KEY_PAIR_GEN, &keytype_rsa, CKF_HW | CKF_GENERATE_KEY_PAIR, 2048, 3072, 0 },
    { CKM_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, 0 },
    { CKM_SHA1_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA_1 },
    { CKM_SHA224_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA224 },
    { CKM_SHA256_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA256 },
    { CKM_SHA384_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA384 },
    { CKM_SHA512_RSA_PKCS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA512 },
    { CKM_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, 0 },
    { CKM_SHA1_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA_1 },
    { CKM_SHA224_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA224 },
    { CKM_SHA256_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA256 },
    { CKM_SHA384_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA384 },
    { CKM_SHA512_RSA_PKCS_PSS, &keytype_rsa, RSA_FLAGS, 2048, 3072, CKM_SHA512 },
    { CKM_SHA_1, NULL, CKF_DIGEST, 0, 0, CKM_SHA_1 },
    { CKM_SHA224, NULL, CKF_DIGEST, 0, 0, CKM_SHA224 },
    { CKM_SHA256, NULL, CKF_DIGEST, 0, 0, CKM_SHA256 },
    { CKM_SHA384, NULL, CKF_DIGEST, 0, 0, CKM_SHA384 },
    { CKM_SHA512, NULL, CKF_DIGEST, 0, 0, CKM_SHA512 },
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
