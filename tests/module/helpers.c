/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

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

bool
module_load (const char *prog, const char *path, CK_FUNCTION_LIST **out)
{
    CK_C_GetFunctionList get_list;
    void *dl = dlopen (path, RTLD_NOW | RTLD_LOCAL);

    if (dl == NULL) {
        fprintf (stderr, "%s: dlopen %s: %s\n", prog, path, dlerror ());
        return false;
    }
    *(void **) &get_list = dlsym (dl, "C_GetFunctionList");
    if (get_list == NULL || get_list (out) != CKR_OK) {
        fprintf (stderr, "%s: C_GetFunctionList unavailable\n", prog);
        return false;
    }
    return true;
}

bool
find_token_slot (CK_FUNCTION_LIST *f, const char *label, CK_SLOT_ID *out)
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
            *out = slots[i];
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

/* r||s (2 * field bytes) over SHA-256(msg), checked against an SPKI. */
bool
ossl_ecdsa_verify (const CK_BYTE *spki, size_t spki_len, const CK_BYTE *msg, size_t len,
                   const CK_BYTE *rs, size_t rs_len)
{
    const unsigned char *p = spki;
    EVP_PKEY *k = d2i_PUBKEY (NULL, &p, (long) spki_len);
    ECDSA_SIG *s = ECDSA_SIG_new ();
    BIGNUM *r = BN_bin2bn (rs, (int) (rs_len / 2), NULL),
           *ss = BN_bin2bn (rs + rs_len / 2, (int) (rs_len / 2), NULL);
    unsigned char *der = NULL;
    int der_len = -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new ();
    bool good = false;

    if (k != NULL && s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0 (s, r, ss) == 1) {
        r = ss = NULL; /* owned by s */
        der_len = i2d_ECDSA_SIG (s, &der);
    }
    if (der_len > 0 && c != NULL)
        good = EVP_DigestVerifyInit (c, NULL, EVP_sha256 (), NULL, k) == 1
               && EVP_DigestVerify (c, der, (size_t) der_len, msg, len) == 1;
    EVP_MD_CTX_free (c);
    OPENSSL_free (der);
    BN_free (r);
    BN_free (ss);
    ECDSA_SIG_free (s);
    EVP_PKEY_free (k);
    return good;
}

bool
ossl_hmac256 (const CK_BYTE *key, size_t key_len, const CK_BYTE *data, size_t len, CK_BYTE out[32])
{
    size_t out_len = 0;
    return EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, data, len, out, 32,
                      &out_len)
               != NULL
           && out_len == 32;
}

CK_RV
get_attr_alloc (CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                CK_ATTRIBUTE_TYPE type, CK_BYTE **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = { type, NULL, 0 };
    CK_RV rv = f->C_GetAttributeValue (s, h, &a, 1);

    *val = NULL;
    *len = 0;
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    a.pValue = calloc (1, a.ulValueLen + 1);
    if (a.pValue == NULL)
        return CKR_HOST_MEMORY;
    rv = f->C_GetAttributeValue (s, h, &a, 1);
    if (rv != CKR_OK) {
        free (a.pValue);
        return rv;
    }
    *val = a.pValue;
    *len = a.ulValueLen;
    return CKR_OK;
}

CK_FUNCTION_LIST *
load_module (const char *path)
{
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_FUNCTION_LIST *f = NULL;

    if (path == NULL || !module_load ("test", path, &f))
        return NULL;
    if (f->C_Initialize (&init) != CKR_OK) {
        fprintf (stderr, "%s: C_Initialize failed\n", path);
        return NULL;
    }
    return f;
}

CK_RV
open_user_session (CK_FUNCTION_LIST *f, const char *token, const char *pin, CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID slot;
    CK_RV rv;

    if (!find_token_slot (f, token, &slot))
        return CKR_TOKEN_NOT_PRESENT;
    rv = f->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv == CKR_OK)
        rv = f->C_Login (*s, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
    return rv;
}
