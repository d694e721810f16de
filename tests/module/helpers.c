/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

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

void
pad32 (CK_UTF8CHAR out[32], const char *s)
{
    size_t n = strlen (s);
    memset (out, ' ', 32);
    memcpy (out, s, n < 32 ? n : 32);
}

bool
blank_padded (const CK_UTF8CHAR *p, size_t n)
{
    return memchr (p, 0, n) == NULL && p[n - 1] == ' ';
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
