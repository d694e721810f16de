/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/module/helpers.h"

double
now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long
unhex (const char *hex, CK_BYTE *out, size_t max)
{
    size_t n = strlen (hex);
    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval (hex[2 * i]), lo = hexval (hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (CK_BYTE) (hi << 4 | lo);
    }
    return (long) (n / 2);
}

CK_FUNCTION_LIST *
load_module (const char *path)
{
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_C_GetFunctionList get_list;
    CK_FUNCTION_LIST *f = NULL;
    void *dl = path ? dlopen (path, RTLD_NOW | RTLD_LOCAL) : NULL;

    if (dl == NULL) {
        fprintf (stderr, "dlopen %s: %s\n", path ? path : "(no module)", path ? dlerror () : "");
        return NULL;
    }
    *(void **) &get_list = dlsym (dl, "C_GetFunctionList");
    if (get_list == NULL || get_list (&f) != CKR_OK || f->C_Initialize (&init) != CKR_OK) {
        fprintf (stderr, "%s: C_GetFunctionList or C_Initialize failed\n", path);
        return NULL;
    }
    return f;
}

CK_RV
open_user_session (CK_FUNCTION_LIST *f, const char *token, const char *pin, CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_UTF8CHAR want[32];
    CK_RV rv = strlen (token) <= 32 ? f->C_GetSlotList (CK_TRUE, slots, &n) : CKR_ARGUMENTS_BAD;

    memset (want, ' ', sizeof want);
    memcpy (want, token, strlen (token) <= 32 ? strlen (token) : 0);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo (slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED)
            || memcmp (ti.label, want, sizeof want) != 0)
            continue;
        rv = f->C_OpenSession (slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
        if (rv == CKR_OK)
            rv = f->C_Login (*s, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
        return rv;
    }
    return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}
