/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

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

bool
find_token_slot (CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = sizeof slots / sizeof slots[0];
    CK_UTF8CHAR want[32];
    size_t len = strlen (label);
    CK_RV rv;

    if (len > 32)
        return false;
    memset (want, ' ', sizeof want);
    memcpy (want, label, len);
    rv = f->C_GetSlotList (CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        printf ("# C_GetSlotList: 0x%lx\n", rv);
        return false;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo (slots[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED)
            && memcmp (ti.label, want, sizeof want) == 0) {
            *slot = slots[i];
            return true;
        }
    }
    printf ("# no initialized token labelled '%s' among %lu slot(s)\n", label, n);
    return false;
}

bool
ossl_ed_verify (const CK_BYTE pk[32], const CK_BYTE *msg, size_t len, const CK_BYTE *sig)
{
    static const CK_BYTE empty[1];
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pk, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new ();
    bool good = k != NULL && c != NULL && EVP_DigestVerifyInit (c, NULL, NULL, NULL, k) == 1
                && EVP_DigestVerify (c, sig, 64, msg ? msg : empty, len) == 1;
    EVP_MD_CTX_free (c);
    EVP_PKEY_free (k);
    return good;
}
