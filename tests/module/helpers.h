/* SPDX-License-Identifier: BSD-2-Clause */
/* Small helpers shared by the module test programs. */
#ifndef TT_TEST_HELPERS_H
#define TT_TEST_HELPERS_H

#include <stddef.h>

#include "core/ck.h"

/* CLOCK_MONOTONIC in seconds. */
double now (void);
/* Decodes hex into out (at most max bytes); returns the length or -1. */
long unhex (const char *hex, CK_BYTE *out, size_t max);

#endif
