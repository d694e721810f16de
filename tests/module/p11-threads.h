/* SPDX-License-Identifier: BSD-2-Clause */
/* What p11-threads.c shares with its mix mode (p11-mix.c). */
#ifndef TT_P11_THREADS_H
#define TT_P11_THREADS_H

#include <openssl/evp.h>

#include "base/ck.h"

/* One "p11-threads: FAIL: ..." line on stderr (at most 20 in all); thread-safe. */
void fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* The value of an environment variable, or dflt when unset or empty. */
const char *env_or (const char *name, const char *dflt);
/* Reports (through fail) and clears OpenSSL's error queue. */
void ssl_errors (const char *what);
/* An OpenSSL public key from CKA_EC_PARAMS and CKA_EC_POINT; NULL on failure. */
EVP_PKEY *pkey_from_point (const CK_BYTE *params, CK_ULONG params_len, const CK_BYTE *point,
                           CK_ULONG point_len);
/* ECDSA r||s over digest with key: 1 valid, 0 invalid, -1 error. */
int ossl_verify_key (EVP_PKEY *key, const CK_BYTE *digest, size_t digest_len, const CK_BYTE *sig,
                     size_t sig_len);

/* p11-mix.c: "mix N SECONDS" and "mixcheck" (see there); 0 when all went as expected. */
int mix_run (CK_FUNCTION_LIST_PTR f, unsigned long n_threads, unsigned long seconds);
int mix_check (CK_FUNCTION_LIST_PTR f);

#endif
