/* SPDX-License-Identifier: BSD-2-Clause */
/* Small helpers shared by the module test programs. */
#ifndef TT_TEST_HELPERS_H
#define TT_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ck.h"

/* CLOCK_MONOTONIC in seconds. */
double now (void);
/* A 32-byte Cryptoki label: s blank padded (cut at 32 bytes). */
void pad32 (CK_UTF8CHAR out[32], const char *s);
/* A fixed-size Cryptoki string as the spec wants it: blank padded, no NUL. */
bool blank_padded (const CK_UTF8CHAR *p, size_t n);
/* Decodes hex into out (at most max bytes); returns the length or -1. */
long unhex (const char *hex, CK_BYTE *out, size_t max);

#endif
