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

/* dlopen()s the module (never closed), C_GetFunctionList, C_Initialize with
 * OS locking; NULL with a message on stderr. */
CK_FUNCTION_LIST *load_module (const char *path);
/* A R/W session on the initialized token with this label, the user logged in. */
CK_RV open_user_session (CK_FUNCTION_LIST *f, const char *token, const char *pin,
                         CK_SESSION_HANDLE *s);

#endif
