/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool attest ...: attestation snapshots (docs/attestation.md).
 */
#ifndef TT_ATTEST_CMD_H
#define TT_ATTEST_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/ck.h"

#define ATTEST_CMD_MAX_KEYS 16

typedef struct attest_opts {
    const char *token, *nonce, *pcrs, *identity, *out, *dir, *file;
    const char *ak_name, *ek_pub, *ek_ca, *ek_intermediates, *identity_pub, *persist;
    const char *keys[ATTEST_CMD_MAX_KEYS];
    size_t n_keys;
    const char *expect[24]; /* N=HEX */
    size_t n_expect;
} attest_opts;

/* What the tool lends the attest commands. */
typedef struct attest_env {
    CK_FUNCTION_LIST *p11;
    /* a R/W session on the token with the user logged in */
    CK_RV (*open_user_session) (const char *token, CK_SESSION_HANDLE *s);
    /* "sha256:0,1,7" → bank mechanism and mask */
    bool (*parse_pcrs) (const char *s, CK_MECHANISM_TYPE *bank, CK_ULONG *mask);
} attest_env;

/* sub: create, verify, extract, ak, ek, make-credential, activate-credential.
 * Returns the exit status (2 for a usage error). */
int attest_cmd (const attest_env *env, const char *sub, const attest_opts *o);
void attest_usage (FILE *f);

#endif
