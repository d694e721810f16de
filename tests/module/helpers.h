/* SPDX-License-Identifier: BSD-2-Clause */
/* Small helpers shared by the module test programs. */
#ifndef TT_TEST_HELPERS_H
#define TT_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/ck.h"

/* CLOCK_MONOTONIC in seconds. */
double now (void);
/* A 32-byte Cryptoki label: s blank padded (cut at 32 bytes). */
void pad32 (CK_UTF8CHAR out[32], const char *s);
/* A fixed-size Cryptoki string as the spec wants it: blank padded, no NUL. */
bool blank_padded (const CK_UTF8CHAR *p, size_t n);
/* Decodes hex into out (at most max bytes); returns the length or -1. */
long unhex (const char *hex, CK_BYTE *out, size_t max);
/* Ed25519 verification with OpenSSL (independent of the module's libsodium). */
bool ossl_ed_verify (const CK_BYTE pk[32], const CK_BYTE *msg, size_t len, const CK_BYTE *sig);

/* dlopen()s the module and gets its function table through C_GetFunctionList,
 * as a consumer does; prog names the caller in the message on failure. */
bool module_load (const char *prog, const char *path, CK_FUNCTION_LIST **out);
/* The slot holding the initialized token labelled label (message on stdout,
 * TAP comment style, when there is none). */
bool find_token_slot (CK_FUNCTION_LIST *f, const char *label, CK_SLOT_ID *out);

/* One attribute into a fresh calloc'd buffer (NUL-terminated for convenience;
 * the caller frees it). */
CK_RV get_attr_alloc (CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, CK_BYTE **val, CK_ULONG *len);

/* Independent checks with OpenSSL. ECDSA: r||s over SHA-256(msg) against a
 * DER SubjectPublicKeyInfo. Ed25519: a 64-byte signature against a raw
 * 32-byte public key. HMAC-SHA256 into out. */
bool ossl_ecdsa_verify (const CK_BYTE *spki, size_t spki_len, const CK_BYTE *msg, size_t len,
                        const CK_BYTE *rs, size_t rs_len);
bool ossl_ed_verify (const CK_BYTE pk[32], const CK_BYTE *msg, size_t len, const CK_BYTE *sig);
bool ossl_hmac256 (const CK_BYTE *key, size_t key_len, const CK_BYTE *data, size_t len,
                   CK_BYTE out[32]);

/* dlopen()s the module (never closed), C_GetFunctionList, C_Initialize with
 * OS locking; NULL with a message on stderr. */
CK_FUNCTION_LIST *load_module (const char *path);
/* A R/W session on the initialized token with this label, the user logged in. */
CK_RV open_user_session (CK_FUNCTION_LIST *f, const char *token, const char *pin,
                         CK_SESSION_HANDLE *s);

#endif
