/* SPDX-License-Identifier: BSD-2-Clause */
/* Inside core/crypto/ only: the OpenSSL digest of a CKM_SHA* mechanism. */
#ifndef TT_CRYPTO_MD_H
#define TT_CRYPTO_MD_H

#include <openssl/evp.h>

#include "base/ck.h"

/* NULL for a mechanism that is not CKM_SHA_1 or CKM_SHA224..512 (crypto.c). */
const EVP_MD *crypto_md (CK_MECHANISM_TYPE mech);

#endif
