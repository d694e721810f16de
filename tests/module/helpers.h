/* SPDX-License-Identifier: BSD-2-Clause */
/* Small helpers shared by the module test programs. */
#ifndef TT_TEST_HELPERS_H
#define TT_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ck.h"

/* CLOCK_MONOTONIC in seconds. */
double now (void);
/* Decodes hex into out (at most max bytes); returns the length or -1. */
long unhex (const char *hex, CK_BYTE *out, size_t max);
/* The slot of the initialized token labelled label; false (with a "# " line on
 * stdout saying why) when there is none. */
bool find_token_slot (CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot);
/* Ed25519 verification with OpenSSL (independent of the module's libsodium). */
bool ossl_ed_verify (const CK_BYTE pk[32], const CK_BYTE *msg, size_t len, const CK_BYTE *sig);

#endif
