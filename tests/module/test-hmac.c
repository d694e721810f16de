/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-hmac [MODULE] MODE [ARGS] - HMAC keys held in the TPM, driven through
 * the PKCS#11 function list exactly as a consumer does (dlopen +
 * C_GetFunctionList). Prints TAP; exits 1 when a check fails, 2 on usage or
 * set-up errors.
 *
 *   vectors                RFC 4231 cases 1-7 (HMAC-SHA-256/384/512) and
 *                          RFC 2202 cases 1-7 (HMAC-SHA-1), with generic and
 *                          typed keys; C_Verify accepting / rejecting; length
 *                          queries; key type and parameter checks; keys around
 *                          the block size checked against OpenSSL
 *   chunks                 1 MiB of random data signed multi-part in chunks of
 *                          1 (10 KiB), 63, 64, 1024, 4096 and in one C_Sign,
 *                          plus lengths around the TPM's 1024-byte command
 *                          buffer; each MAC compared with OpenSSL; multi-part
 *                          C_VerifyUpdate
 *   attrs                  attributes of imported and generated keys, the
 *                          refusals (extractable, sizes, no login)
 *   store KEYHEX LABEL     import KEYHEX as a token object (generic secret)
 *   reuse LABEL MACHEX     find the token object LABEL and check that its
 *                          HMAC-SHA256 of "restart test" is MACHEX
 *
 * MODULE defaults to $TT_MODULE. The token is found by label ($TT_TOKEN,
 * default "hmac"); the user PIN is $TT_PIN (default 1234). Every expected MAC
 * is checked independently with OpenSSL's HMAC as well (for the published
 * vectors: that the vector was copied right).
 *
 * The module is never dlclose()d (it would hide leaks from ASan).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/ck.h"
#include "tests/module/helpers.h"
#include "tests/unit/tap.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))
#define MAX_MAC 64

static CK_FUNCTION_LIST *F;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static const char *pin;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_secret = CKO_SECRET_KEY;

/* ---- the four HMAC hashes ---- */

typedef struct {
    const char *name;    /* for messages and OpenSSL */
    CK_MECHANISM_TYPE mech, general;
    CK_KEY_TYPE key_type; /* the typed key for this hash */
    size_t size, block;
} hash_info;

enum { H_SHA1, H_SHA256, H_SHA384, H_SHA512, N_HASH };

static const hash_info hashes[N_HASH] = {
    { "SHA1", CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKK_SHA_1_HMAC, 20, 64 },
    { "SHA256", CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, CKK_SHA256_HMAC, 32, 64 },
    { "SHA384", CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKK_SHA384_HMAC, 48, 128 },
    { "SHA512", CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, CKK_SHA512_HMAC, 64, 128 },
};

/* ---- small helpers ---- */




static const char *
tohex (const CK_BYTE *p, size_t n)
{
    static char buf[4][2 * 256 + 1];
    static int which;
    char *s = buf[which++ % 4];
    if (n > 256)
        n = 256;
    for (size_t i = 0; i < n; i++)
        sprintf (s + 2 * i, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

/* HMAC with OpenSSL: the independent check. */
static bool
ossl_hmac (int hash, const CK_BYTE *key, size_t key_len, const CK_BYTE *data, size_t len,
           CK_BYTE *out)
{
    size_t out_len = 0;
    static const CK_BYTE empty[1];
    if (EVP_Q_mac (NULL, "HMAC", NULL, hashes[hash].name, NULL, key, key_len,
                   data ? data : empty, len, out, MAX_MAC, &out_len)
            == NULL
        || out_len != hashes[hash].size) {
        printf ("# EVP_Q_mac HMAC-%s failed\n", hashes[hash].name);
        return false;
    }
    return true;
}

static CK_RV
import_key (const CK_BYTE *key, size_t len, CK_KEY_TYPE type, bool token, const char *label,
            CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_secret, sizeof c_secret },
        { CKA_KEY_TYPE, &type, sizeof type },
        { CKA_VALUE, (void *) key, len },
        { CKA_TOKEN, token ? &yes : &no, sizeof (CK_BBOOL) },
        { CKA_SIGN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_LABEL, (void *) label, label ? strlen (label) : 0 },
    };
    *h = CK_INVALID_HANDLE;
    return F->C_CreateObject (sess, t, label ? N_ELEM (t) : N_ELEM (t) - 1, h);
}

static CK_MECHANISM
mech_of (int hash, CK_ULONG *general_len)
{
    CK_MECHANISM m = { hashes[hash].mech, NULL, 0 };
    if (general_len != NULL) {
        m.mechanism = hashes[hash].general;
        m.pParameter = general_len;
        m.ulParameterLen = sizeof *general_len;
    }
    return m;
}

/* One-shot C_Sign; *out_len in: buffer size, out: MAC length. */
static CK_RV
p11_sign (CK_OBJECT_HANDLE key, CK_MECHANISM *m, const CK_BYTE *data, size_t len, CK_BYTE *out,
          CK_ULONG *out_len)
{
    CK_RV rv = F->C_SignInit (sess, m, key);
    if (rv != CKR_OK)
        return rv;
    return F->C_Sign (sess, (CK_BYTE_PTR) data, len, out, out_len);
}

static CK_RV
p11_verify (CK_OBJECT_HANDLE key, CK_MECHANISM *m, const CK_BYTE *data, size_t len,
            const CK_BYTE *mac, size_t mac_len)
{
    CK_RV rv = F->C_VerifyInit (sess, m, key);
    if (rv != CKR_OK)
        return rv;
    return F->C_Verify (sess, (CK_BYTE_PTR) data, len, (CK_BYTE_PTR) mac, mac_len);
}

/* Signs data with key and checks the MAC is want (want_len bytes; general:
 * through the *_GENERAL mechanism with that length); then C_Verify accepts
 * it, and refuses it with one bit flipped and one byte short. */
static void
check_mac (const char *what, CK_OBJECT_HANDLE key, int hash, bool general, const CK_BYTE *data,
           size_t len, const CK_BYTE *want, size_t want_len)
{
    CK_ULONG glen = want_len;
    CK_MECHANISM m = mech_of (hash, general ? &glen : NULL);
    CK_BYTE mac[MAX_MAC + 8], bad[MAX_MAC];
    CK_ULONG mac_len = sizeof mac;
    CK_RV rv = p11_sign (key, &m, data, len, mac, &mac_len);

    ok (rv == CKR_OK && mac_len == want_len && memcmp (mac, want, want_len) == 0,
        "%s: C_Sign HMAC-%s%s = %s (rv 0x%lx, want %s)", what, hashes[hash].name,
        general ? "_GENERAL" : "", rv == CKR_OK ? tohex (mac, mac_len) : "-", rv,
        tohex (want, want_len));
    is_rv (p11_verify (key, &m, data, len, want, want_len), CKR_OK,
           "  C_Verify accepts the right MAC");
    memcpy (bad, want, want_len);
    bad[want_len / 2] ^= 0x10;
    is_rv (p11_verify (key, &m, data, len, bad, want_len), CKR_SIGNATURE_INVALID,
           "  C_Verify refuses a MAC with one bit flipped");
    is_rv (p11_verify (key, &m, data, len, want, want_len - 1), CKR_SIGNATURE_LEN_RANGE,
           "  C_Verify refuses a MAC one byte short");
}

/* ---- module set-up ---- */

static bool
find_slot (const char *label)
{
    return find_token_slot (F, label, &slot);
}

static CK_RV
login (void)
{
    CK_RV rv = F->C_Login (sess, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

/* ---- vectors ---- */

typedef struct {
    int no;
    const CK_BYTE *key;
    size_t key_len;
    const char *data;
    size_t data_len;
    const char *mac[N_HASH]; /* published value (hex) or NULL */
    size_t trunc;            /* > 0: the published value is truncated to this */
} vector;

static CK_BYTE k_0b[20], k_aa20[20], k_01_19[25], k_0c[20], k_aa131[131], k_aa80[80];
static char d_dd[50], d_cd[50];

static void
vectors_init (void)
{
    memset (k_0b, 0x0b, sizeof k_0b);
    memset (k_aa20, 0xaa, sizeof k_aa20);
    for (size_t i = 0; i < sizeof k_01_19; i++)
        k_01_19[i] = (CK_BYTE) (i + 1);
    memset (k_0c, 0x0c, sizeof k_0c);
    memset (k_aa131, 0xaa, sizeof k_aa131);
    memset (k_aa80, 0xaa, sizeof k_aa80);
    memset (d_dd, 0xdd, sizeof d_dd);
    memset (d_cd, 0xcd, sizeof d_cd);
}

#define S(s) s, sizeof (s) - 1

static const char d_hi[] = "Hi There";
static const char d_jefe[] = "what do ya want for nothing?";
static const char d_trunc[] = "Test With Truncation";
static const char d_big_key[] = "Test Using Larger Than Block-Size Key - Hash Key First";
static const char d_big_both_4231[] =
    "This is a test using a larger than block-size key and a larger than block-size data. "
    "The key needs to be hashed before being used by the HMAC algorithm.";
static const char d_big_both_2202[] =
    "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";

/* RFC 4231, sections 4.2-4.8: HMAC-SHA-256, -384, -512. */
static const vector rfc4231[] = {
    { 1, k_0b, sizeof k_0b, S (d_hi),
      { NULL, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
      0 },
    { 2, (const CK_BYTE *) "Jefe", 4, S (d_jefe),
      { NULL, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
      0 },
    { 3, k_aa20, sizeof k_aa20, d_dd, sizeof d_dd,
      { NULL, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
        "2a5ab39dc13814b94e3ab6e101a34f27",
        "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
        "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb" },
      0 },
    { 4, k_01_19, sizeof k_01_19, d_cd, sizeof d_cd,
      { NULL, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
        "6801dd23c4a7d679ccf8a386c674cffb",
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd" },
      0 },
    { 5, k_0c, sizeof k_0c, S (d_trunc),
      { NULL, "a3b6167473100ee06e0c796c2955552b", "3abf34c3503b2a23a46efc619baef897",
        "415fad6271580a531d4179bc891d87a6" },
      16 },
    { 6, k_aa131, sizeof k_aa131, S (d_big_key),
      { NULL, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" },
      0 },
    { 7, k_aa131, sizeof k_aa131, S (d_big_both_4231),
      { NULL, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
        "a678cc31e799176d3860e6110c46523e",
        "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
        "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" },
      0 },
};

/* RFC 2202, section 3: HMAC-SHA-1. Case 5 is given in full (the RFC also
 * gives its first 96 bits, checked through CKM_SHA_1_HMAC_GENERAL). */
static const vector rfc2202[] = {
    { 1, k_0b, sizeof k_0b, S (d_hi), { "b617318655057264e28bc0b6fb378c8ef146be00" }, 0 },
    { 2, (const CK_BYTE *) "Jefe", 4, S (d_jefe),
      { "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" }, 0 },
    { 3, k_aa20, sizeof k_aa20, d_dd, sizeof d_dd,
      { "125d7342b9ac11cd91a39af48aa17b4f63f175d3" }, 0 },
    { 4, k_01_19, sizeof k_01_19, d_cd, sizeof d_cd,
      { "4c9007f4026250c6bc8414f9bf50c86c2d7235da" }, 0 },
    { 5, k_0c, sizeof k_0c, S (d_trunc), { "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" }, 0 },
    { 6, k_aa80, sizeof k_aa80, S (d_big_key), { "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
      0 },
    { 7, k_aa80, sizeof k_aa80, S (d_big_both_2202),
      { "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" }, 0 },
};
#define RFC2202_5_96 "4c1a03424b55e07fe7f27be1"

/* One published case for the hashes it has, with a generic key (or its
 * refusal, over 128 bytes) and a typed key per hash. */
static void
run_vector (const char *rfc, const vector *v)
{
    CK_OBJECT_HANDLE generic = CK_INVALID_HANDLE, typed;
    char what[96];
    CK_RV rv;

    rv = import_key (v->key, v->key_len, CKK_GENERIC_SECRET, false, NULL, &generic);
    if (v->key_len > 128) {
        snprintf (what, sizeof what, "RFC %s case %d: a generic key of %zu bytes is refused", rfc,
                  v->no, v->key_len);
        is_rv (rv, CKR_KEY_SIZE_RANGE, what);
        generic = CK_INVALID_HANDLE;
    } else {
        snprintf (what, sizeof what, "RFC %s case %d: import a generic key of %zu bytes", rfc,
                  v->no, v->key_len);
        is_rv (rv, CKR_OK, what);
    }

    for (int h = 0; h < N_HASH; h++) {
        CK_BYTE want[MAX_MAC], check[MAX_MAC];
        size_t want_len;
        long n;

        if (v->mac[h] == NULL)
            continue;
        n = unhex (v->mac[h], want, sizeof want);
        want_len = v->trunc ? v->trunc : hashes[h].size;
        if (n != (long) want_len) {
            ok (false, "RFC %s case %d HMAC-%s: the published value has %ld bytes, want %zu", rfc,
                v->no, hashes[h].name, n, want_len);
            continue;
        }
        /* the vector was copied right: OpenSSL agrees with it */
        ok (ossl_hmac (h, v->key, v->key_len, (const CK_BYTE *) v->data, v->data_len, check)
                && memcmp (check, want, want_len) == 0,
            "RFC %s case %d HMAC-%s: OpenSSL computes the published value", rfc, v->no,
            hashes[h].name);

        if (generic != CK_INVALID_HANDLE) {
            snprintf (what, sizeof what, "RFC %s case %d, generic key", rfc, v->no);
            check_mac (what, generic, h, v->trunc != 0, (const CK_BYTE *) v->data, v->data_len,
                       want, want_len);
        }
        rv = import_key (v->key, v->key_len, hashes[h].key_type, false, NULL, &typed);
        snprintf (what, sizeof what, "RFC %s case %d: import a CKK_%s_HMAC key of %zu bytes", rfc,
                  v->no, hashes[h].name, v->key_len);
        is_rv (rv, CKR_OK, what);
        if (rv == CKR_OK) {
            snprintf (what, sizeof what, "RFC %s case %d, CKK_%s_HMAC key", rfc, v->no,
                      hashes[h].name);
            check_mac (what, typed, h, v->trunc != 0, (const CK_BYTE *) v->data, v->data_len,
                       want, want_len);
            if (h == H_SHA1 && v->no == 5) { /* HMAC-SHA-1-96 */
                n = unhex (RFC2202_5_96, want, sizeof want);
                check_mac ("RFC 2202 case 5 (96 bits), CKK_SHA1_HMAC key", typed, h, true,
                           (const CK_BYTE *) v->data, v->data_len, want, (size_t) n);
                if (generic != CK_INVALID_HANDLE)
                    check_mac ("RFC 2202 case 5 (96 bits), generic key", generic, h, true,
                               (const CK_BYTE *) v->data, v->data_len, want, (size_t) n);
            }
            F->C_DestroyObject (sess, typed);
        }
    }
    if (generic != CK_INVALID_HANDLE)
        F->C_DestroyObject (sess, generic);
}

/* Key lengths around the block sizes (and up to 128, the most the TPM holds),
 * generic and typed, each MAC checked against OpenSSL. A typed key longer
 * than its hash's block is hashed by the module; a generic one by the TPM. */
static void
run_key_lengths (void)
{
    static const size_t generic_lens[] = { 1, 63, 64, 65, 100, 127, 128 };
    static const char data[] = "key lengths around the block size";
    CK_BYTE key[300], want[MAX_MAC];
    CK_OBJECT_HANDLE h;
    char what[96];

    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (CK_BYTE) (i * 7 + 3);
    for (size_t i = 0; i < N_ELEM (generic_lens); i++) {
        size_t kl = generic_lens[i];
        CK_RV rv = import_key (key, kl, CKK_GENERIC_SECRET, false, NULL, &h);
        snprintf (what, sizeof what, "import a generic key of %zu bytes", kl);
        is_rv (rv, CKR_OK, what);
        if (rv != CKR_OK)
            continue;
        for (int hh = 0; hh < N_HASH; hh++) {
            CK_MECHANISM m = mech_of (hh, NULL);
            CK_BYTE mac[MAX_MAC];
            CK_ULONG mac_len = sizeof mac;
            rv = p11_sign (h, &m, (const CK_BYTE *) data, sizeof data - 1, mac, &mac_len);
            ok (rv == CKR_OK && ossl_hmac (hh, key, kl, (const CK_BYTE *) data, sizeof data - 1,
                                           want)
                    && mac_len == hashes[hh].size && memcmp (mac, want, mac_len) == 0,
                "generic %zu-byte key, HMAC-%s matches OpenSSL (rv 0x%lx)", kl, hashes[hh].name,
                rv);
        }
        F->C_DestroyObject (sess, h);
    }
    for (int hh = 0; hh < N_HASH; hh++) {
        size_t b = hashes[hh].block;
        size_t lens[] = { 1, b - 1, b, b + 1, 200, 300 };
        for (size_t i = 0; i < N_ELEM (lens); i++) {
            CK_MECHANISM m = mech_of (hh, NULL);
            CK_BYTE mac[MAX_MAC];
            CK_ULONG mac_len = sizeof mac;
            CK_RV rv = import_key (key, lens[i], hashes[hh].key_type, false, NULL, &h);
            snprintf (what, sizeof what, "import a CKK_%s_HMAC key of %zu bytes", hashes[hh].name,
                      lens[i]);
            is_rv (rv, CKR_OK, what);
            if (rv != CKR_OK)
                continue;
            rv = p11_sign (h, &m, (const CK_BYTE *) data, sizeof data - 1, mac, &mac_len);
            ok (rv == CKR_OK
                    && ossl_hmac (hh, key, lens[i], (const CK_BYTE *) data, sizeof data - 1, want)
                    && mac_len == hashes[hh].size && memcmp (mac, want, mac_len) == 0,
                "CKK_%s_HMAC %zu-byte key matches OpenSSL (rv 0x%lx)", hashes[hh].name, lens[i],
                rv);
            F->C_DestroyObject (sess, h);
        }
    }
}

/* Key type / mechanism mismatches, mechanism parameters, length queries. */
static void
run_misuse (void)
{
    static const CK_BYTE data[] = "length queries";
    CK_BYTE key[32], want[MAX_MAC], mac[MAX_MAC + 8];
    CK_OBJECT_HANDLE t256, gen;
    CK_ULONG mac_len, glen;
    CK_MECHANISM m;
    CK_RV rv;

    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (CK_BYTE) (0xa0 + i);
    is_rv (import_key (key, sizeof key, CKK_SHA256_HMAC, false, NULL, &t256), CKR_OK,
           "import a CKK_SHA256_HMAC key");
    is_rv (import_key (key, sizeof key, CKK_GENERIC_SECRET, false, NULL, &gen), CKR_OK,
           "import the same value as a generic key");

    /* a typed key serves only its own hash */
    m = mech_of (H_SHA512, NULL);
    is_rv (F->C_SignInit (sess, &m, t256), CKR_KEY_TYPE_INCONSISTENT,
           "CKK_SHA256_HMAC key, C_SignInit CKM_SHA512_HMAC");
    is_rv (F->C_VerifyInit (sess, &m, t256), CKR_KEY_TYPE_INCONSISTENT,
           "CKK_SHA256_HMAC key, C_VerifyInit CKM_SHA512_HMAC");
    glen = 10;
    m = mech_of (H_SHA1, &glen);
    is_rv (F->C_SignInit (sess, &m, t256), CKR_KEY_TYPE_INCONSISTENT,
           "CKK_SHA256_HMAC key, C_SignInit CKM_SHA_1_HMAC_GENERAL");
    m = mech_of (H_SHA384, NULL);
    is_rv (F->C_SignInit (sess, &m, t256), CKR_KEY_TYPE_INCONSISTENT,
           "CKK_SHA256_HMAC key, C_SignInit CKM_SHA384_HMAC");

    /* the same value as typed and as generic key gives the same MAC */
    {
        CK_BYTE a[MAX_MAC], b[MAX_MAC];
        CK_ULONG al = sizeof a, bl = sizeof b;
        m = mech_of (H_SHA256, NULL);
        rv = p11_sign (t256, &m, data, sizeof data - 1, a, &al);
        if (rv == CKR_OK)
            rv = p11_sign (gen, &m, data, sizeof data - 1, b, &bl);
        ok (rv == CKR_OK && al == 32 && bl == 32 && memcmp (a, b, 32) == 0
                && ossl_hmac (H_SHA256, key, sizeof key, data, sizeof data - 1, want)
                && memcmp (a, want, 32) == 0,
            "typed and generic key of the same value: same HMAC-SHA256, = OpenSSL (rv 0x%lx)",
            rv);
    }

    /* mechanism parameters */
    m = mech_of (H_SHA256, NULL);
    glen = 16;
    m.pParameter = &glen;
    m.ulParameterLen = sizeof glen;
    is_rv (F->C_SignInit (sess, &m, gen), CKR_MECHANISM_PARAM_INVALID,
           "CKM_SHA256_HMAC with a parameter");
    m = mech_of (H_SHA256, &glen);
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    is_rv (F->C_SignInit (sess, &m, gen), CKR_MECHANISM_PARAM_INVALID,
           "CKM_SHA256_HMAC_GENERAL without its parameter");
    glen = 0;
    m = mech_of (H_SHA256, &glen);
    is_rv (F->C_SignInit (sess, &m, gen), CKR_MECHANISM_PARAM_INVALID,
           "CKM_SHA256_HMAC_GENERAL length 0");
    glen = 33;
    is_rv (F->C_SignInit (sess, &m, gen), CKR_MECHANISM_PARAM_INVALID,
           "CKM_SHA256_HMAC_GENERAL length 33");
    glen = 65;
    m = mech_of (H_SHA512, &glen);
    is_rv (F->C_VerifyInit (sess, &m, gen), CKR_MECHANISM_PARAM_INVALID,
           "CKM_SHA512_HMAC_GENERAL length 65 (C_VerifyInit)");
    glen = 1;
    m = mech_of (H_SHA512, &glen);
    mac_len = sizeof mac;
    rv = p11_sign (gen, &m, data, sizeof data - 1, mac, &mac_len);
    ok (rv == CKR_OK && mac_len == 1
            && ossl_hmac (H_SHA512, key, sizeof key, data, sizeof data - 1, want)
            && mac[0] == want[0],
        "CKM_SHA512_HMAC_GENERAL length 1: the first byte of the HMAC (rv 0x%lx, len %lu)", rv,
        mac_len);

    /* length queries keep the operation; too small a buffer too */
    for (int general = 0; general < 2; general++) {
        size_t full = general ? 20 : 32;
        glen = 20;
        m = mech_of (H_SHA256, general ? &glen : NULL);
        ossl_hmac (H_SHA256, key, sizeof key, data, sizeof data - 1, want);
        is_rv (F->C_SignInit (sess, &m, gen), CKR_OK, "C_SignInit for the length query");
        mac_len = 0;
        rv = F->C_Sign (sess, (CK_BYTE_PTR) data, sizeof data - 1, NULL, &mac_len);
        ok (rv == CKR_OK && mac_len == full, "%s: C_Sign (NULL) = 0x%lx, length %lu (want %zu)",
            general ? "GENERAL 20" : "SHA256", rv, mac_len, full);
        mac_len = full - 1;
        rv = F->C_Sign (sess, (CK_BYTE_PTR) data, sizeof data - 1, mac, &mac_len);
        ok (rv == CKR_BUFFER_TOO_SMALL && mac_len == full,
            "  C_Sign into %zu bytes = 0x%lx (want CKR_BUFFER_TOO_SMALL), length %lu", full - 1,
            rv, mac_len);
        memset (mac, 0, sizeof mac);
        mac_len = sizeof mac;
        rv = F->C_Sign (sess, (CK_BYTE_PTR) data, sizeof data - 1, mac, &mac_len);
        ok (rv == CKR_OK && mac_len == full && memcmp (mac, want, full) == 0,
            "  the operation stayed active: C_Sign = 0x%lx, the right MAC", rv);
        rv = F->C_Sign (sess, (CK_BYTE_PTR) data, sizeof data - 1, mac, &mac_len);
        is_rv (rv, CKR_OPERATION_NOT_INITIALIZED, "  and then it is over");

        /* the same through C_SignFinal */
        is_rv (F->C_SignInit (sess, &m, gen), CKR_OK, "C_SignInit (multi-part length query)");
        is_rv (F->C_SignUpdate (sess, (CK_BYTE_PTR) data, 5), CKR_OK, "  C_SignUpdate");
        mac_len = 0;
        rv = F->C_SignFinal (sess, NULL, &mac_len);
        ok (rv == CKR_OK && mac_len == full, "  C_SignFinal (NULL) = 0x%lx, length %lu", rv,
            mac_len);
        mac_len = 3;
        rv = F->C_SignFinal (sess, mac, &mac_len);
        ok (rv == CKR_BUFFER_TOO_SMALL && mac_len == full,
            "  C_SignFinal into 3 bytes = 0x%lx, length %lu", rv, mac_len);
        is_rv (F->C_SignUpdate (sess, (CK_BYTE_PTR) data + 5, sizeof data - 1 - 5), CKR_OK,
               "  C_SignUpdate after the queries");
        mac_len = sizeof mac;
        rv = F->C_SignFinal (sess, mac, &mac_len);
        ok (rv == CKR_OK && mac_len == full && memcmp (mac, want, full) == 0,
            "  C_SignFinal = 0x%lx, the right MAC", rv);
    }

    /* C_Sign after C_SignUpdate is a misuse */
    m = mech_of (H_SHA256, NULL);
    is_rv (F->C_SignInit (sess, &m, gen), CKR_OK, "C_SignInit");
    is_rv (F->C_SignUpdate (sess, (CK_BYTE_PTR) data, 3), CKR_OK, "  C_SignUpdate");
    mac_len = sizeof mac;
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) data, 3, mac, &mac_len), CKR_OPERATION_ACTIVE,
           "  C_Sign after C_SignUpdate");
    /* C_SignInit twice */
    is_rv (F->C_SignInit (sess, &m, gen), CKR_OK, "C_SignInit");
    is_rv (F->C_SignInit (sess, &m, gen), CKR_OPERATION_ACTIVE, "  C_SignInit again");
    mac_len = sizeof mac;
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) data, 3, mac, &mac_len), CKR_OK, "  C_Sign ends it");

    F->C_DestroyObject (sess, t256);
    F->C_DestroyObject (sess, gen);
}

/* The token lists the HMAC mechanisms, for sign and verify. */
static void
run_mechanisms (void)
{
    CK_MECHANISM_TYPE list[128];
    CK_ULONG n = N_ELEM (list);
    CK_RV rv = F->C_GetMechanismList (slot, list, &n);

    is_rv (rv, CKR_OK, "C_GetMechanismList");
    for (int h = 0; rv == CKR_OK && h < N_HASH; h++) {
        for (int g = 0; g < 2; g++) {
            CK_MECHANISM_TYPE t = g ? hashes[h].general : hashes[h].mech;
            CK_MECHANISM_INFO info = { 0 };
            bool listed = false;
            for (CK_ULONG i = 0; i < n; i++)
                listed |= list[i] == t;
            ok (listed && F->C_GetMechanismInfo (slot, t, &info) == CKR_OK
                    && (info.flags & (CKF_SIGN | CKF_VERIFY)) == (CKF_SIGN | CKF_VERIFY),
                "HMAC-%s%s (0x%lx) listed, for sign and verify (flags 0x%lx)", hashes[h].name,
                g ? "_GENERAL" : "", t, info.flags);
        }
    }
    {
        CK_MECHANISM_INFO info = { 0 };
        ok (F->C_GetMechanismInfo (slot, CKM_GENERIC_SECRET_KEY_GEN, &info) == CKR_OK
                && (info.flags & CKF_GENERATE),
            "CKM_GENERIC_SECRET_KEY_GEN: CKF_GENERATE (flags 0x%lx, sizes %lu..%lu)", info.flags,
            info.ulMinKeySize, info.ulMaxKeySize);
    }
}

static void
mode_vectors (void)
{
    double t0 = now ();
    run_mechanisms ();
    vectors_init ();
    for (size_t i = 0; i < N_ELEM (rfc4231); i++)
        run_vector ("4231", &rfc4231[i]);
    for (size_t i = 0; i < N_ELEM (rfc2202); i++)
        run_vector ("2202", &rfc2202[i]);
    printf ("# published vectors: %.2fs\n", now () - t0);
    t0 = now ();
    run_key_lengths ();
    run_misuse ();
    printf ("# key lengths, misuse: %.2fs\n", now () - t0);
}

/* ---- chunks ---- */

#define MIB (1024 * 1024)

/* Signs data multi-part in chunks of size chunk; checks against want. */
static void
sign_chunked (CK_OBJECT_HANDLE key, const CK_BYTE *data, size_t len, size_t chunk,
              const CK_BYTE *want)
{
    CK_MECHANISM m = mech_of (H_SHA256, NULL);
    CK_BYTE mac[MAX_MAC];
    CK_ULONG mac_len = sizeof mac;
    double t0 = now ();
    CK_RV rv = F->C_SignInit (sess, &m, key);
    size_t calls = 0;

    for (size_t off = 0; rv == CKR_OK && off < len; off += chunk, calls++)
        rv = F->C_SignUpdate (sess, (CK_BYTE_PTR) data + off,
                              len - off < chunk ? len - off : chunk);
    if (rv == CKR_OK)
        rv = F->C_SignFinal (sess, mac, &mac_len);
    else
        F->C_SignInit (sess, NULL, key); /* 3.0: cancel */
    ok (rv == CKR_OK && mac_len == 32 && memcmp (mac, want, 32) == 0,
        "%zu bytes in %zu C_SignUpdate of %zu: HMAC-SHA256 matches OpenSSL (rv 0x%lx)", len,
        calls, chunk, rv);
    printf ("#   %zu bytes in chunks of %zu: %.2fs\n", len, chunk, now () - t0);
}

static void
mode_chunks (void)
{
    static const size_t chunks[] = { 63, 64, 1024, 4096 };
    static const size_t lens[] = { 0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 5000 };
    CK_BYTE key[64], want[MAX_MAC], mac[MAX_MAC];
    CK_BYTE *data = malloc (MIB);
    CK_OBJECT_HANDLE h;
    CK_MECHANISM m = mech_of (H_SHA256, NULL);
    CK_ULONG mac_len;
    double t0, t_all = now ();
    CK_RV rv;

    if (data == NULL || RAND_bytes (key, sizeof key) != 1 || RAND_bytes (data, MIB) != 1) {
        ok (false, "random key and data");
        free (data);
        return;
    }
    rv = import_key (key, sizeof key, CKK_GENERIC_SECRET, false, NULL, &h);
    is_rv (rv, CKR_OK, "import a random 64-byte generic key");
    if (rv != CKR_OK) {
        free (data);
        return;
    }

    /* lengths around the TPM's 1024-byte buffer: one-shot, and split in two
     * (with an empty update in between) */
    for (size_t i = 0; i < N_ELEM (lens); i++) {
        size_t len = lens[i], half = len / 2 + 1 > len ? len : len / 2 + 1;
        ossl_hmac (H_SHA256, key, sizeof key, data, len, want);
        mac_len = sizeof mac;
        rv = p11_sign (h, &m, data, len, mac, &mac_len);
        ok (rv == CKR_OK && mac_len == 32 && memcmp (mac, want, 32) == 0,
            "%zu bytes, one C_Sign: matches OpenSSL (rv 0x%lx)", len, rv);
        rv = F->C_SignInit (sess, &m, h);
        if (rv == CKR_OK)
            rv = F->C_SignUpdate (sess, data, half);
        if (rv == CKR_OK)
            rv = F->C_SignUpdate (sess, data + half, 0);
        if (rv == CKR_OK)
            rv = F->C_SignUpdate (sess, data + half, len - half);
        mac_len = sizeof mac;
        if (rv == CKR_OK)
            rv = F->C_SignFinal (sess, mac, &mac_len);
        ok (rv == CKR_OK && mac_len == 32 && memcmp (mac, want, 32) == 0,
            "%zu bytes as %zu + 0 + %zu: matches OpenSSL (rv 0x%lx)", len, half, len - half, rv);
        rv = F->C_VerifyInit (sess, &m, h);
        if (rv == CKR_OK)
            rv = F->C_VerifyUpdate (sess, data, half);
        if (rv == CKR_OK)
            rv = F->C_VerifyUpdate (sess, data + half, len - half);
        if (rv == CKR_OK)
            rv = F->C_VerifyFinal (sess, want, 32);
        is_rv (rv, CKR_OK, "  multi-part C_Verify accepts OpenSSL's MAC");
    }

    /* single bytes, over 10 KiB */
    ossl_hmac (H_SHA256, key, sizeof key, data, 10 * 1024, want);
    sign_chunked (h, data, 10 * 1024, 1, want);

    /* 1 MiB */
    t0 = now ();
    ossl_hmac (H_SHA256, key, sizeof key, data, MIB, want);
    printf ("# OpenSSL HMAC-SHA256 over 1 MiB: %.3fs\n", now () - t0);
    for (size_t i = 0; i < N_ELEM (chunks); i++)
        sign_chunked (h, data, MIB, chunks[i], want);
    t0 = now ();
    mac_len = sizeof mac;
    rv = p11_sign (h, &m, data, MIB, mac, &mac_len);
    ok (rv == CKR_OK && mac_len == 32 && memcmp (mac, want, 32) == 0,
        "1 MiB in one C_Sign: matches OpenSSL (rv 0x%lx)", rv);
    printf ("#   1 MiB in one C_Sign: %.2fs\n", now () - t0);

    /* multi-part verify of 1 MiB: the right MAC, then a wrong one */
    t0 = now ();
    rv = F->C_VerifyInit (sess, &m, h);
    for (size_t off = 0; rv == CKR_OK && off < MIB; off += 4000)
        rv = F->C_VerifyUpdate (sess, data + off, MIB - off < 4000 ? MIB - off : 4000);
    if (rv == CKR_OK)
        rv = F->C_VerifyFinal (sess, want, 32);
    is_rv (rv, CKR_OK, "1 MiB, C_VerifyUpdate in chunks of 4000: OpenSSL's MAC verifies");
    printf ("#   1 MiB C_VerifyUpdate: %.2fs\n", now () - t0);
    want[31] ^= 1;
    rv = F->C_VerifyInit (sess, &m, h);
    for (size_t off = 0; rv == CKR_OK && off < MIB; off += 65536)
        rv = F->C_VerifyUpdate (sess, data + off, 65536);
    if (rv == CKR_OK)
        rv = F->C_VerifyFinal (sess, want, 32);
    is_rv (rv, CKR_SIGNATURE_INVALID, "1 MiB, C_VerifyUpdate: a MAC with a bit flipped fails");
    rv = F->C_VerifyInit (sess, &m, h);
    if (rv == CKR_OK)
        rv = F->C_VerifyUpdate (sess, data, 5000);
    if (rv == CKR_OK)
        rv = F->C_VerifyFinal (sess, want, 31);
    is_rv (rv, CKR_SIGNATURE_LEN_RANGE, "C_VerifyFinal with a MAC one byte short");

    /* a sequence abandoned half-way does not disturb the next one */
    rv = F->C_SignInit (sess, &m, h);
    if (rv == CKR_OK)
        rv = F->C_SignUpdate (sess, data, 3000);
    is_rv (rv, CKR_OK, "start a sequence (3000 bytes)");
    is_rv (F->C_SignInit (sess, NULL, h), CKR_OK, "  and cancel it (C_SignInit NULL)");
    ossl_hmac (H_SHA256, key, sizeof key, data, 3000, want);
    mac_len = sizeof mac;
    rv = p11_sign (h, &m, data, 3000, mac, &mac_len);
    ok (rv == CKR_OK && memcmp (mac, want, 32) == 0, "  a new C_Sign of 3000 bytes is right");

    F->C_DestroyObject (sess, h);
    free (data);
    printf ("# chunks mode total: %.2fs\n", now () - t_all);
}

/* ---- attrs ---- */

static CK_OBJECT_HANDLE find_by_label (const char *label, CK_ULONG *count);

static CK_RV
get_ulong (CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
    CK_ATTRIBUTE a = { type, v, sizeof *v };
    return F->C_GetAttributeValue (sess, h, &a, 1);
}

static CK_RV
get_bool (CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BBOOL *v)
{
    CK_ATTRIBUTE a = { type, v, sizeof *v };
    return F->C_GetAttributeValue (sess, h, &a, 1);
}

static void
check_bool (const char *who, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, const char *name,
            CK_BBOOL want)
{
    CK_BBOOL v = 0x7f;
    CK_RV rv = get_bool (h, type, &v);
    ok (rv == CKR_OK && v == want, "%s: %s = %d (rv 0x%lx, want %d)", who, name, v, rv, want);
}

static void
check_value_hidden (const char *who, CK_OBJECT_HANDLE h)
{
    CK_BYTE buf[256];
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    CK_RV rv = F->C_GetAttributeValue (sess, h, &a, 1);
    ok (rv == CKR_ATTRIBUTE_SENSITIVE && a.ulValueLen == CK_UNAVAILABLE_INFORMATION,
        "%s: CKA_VALUE (size query) = 0x%lx (want CKR_ATTRIBUTE_SENSITIVE), length 0x%lx", who,
        rv, a.ulValueLen);
    a.pValue = buf;
    a.ulValueLen = sizeof buf;
    rv = F->C_GetAttributeValue (sess, h, &a, 1);
    ok (rv == CKR_ATTRIBUTE_SENSITIVE && a.ulValueLen == CK_UNAVAILABLE_INFORMATION,
        "%s: CKA_VALUE = 0x%lx (want CKR_ATTRIBUTE_SENSITIVE)", who, rv);
}

static void
check_attrs (const char *who, CK_OBJECT_HANDLE h, CK_ULONG value_len, bool generated)
{
    CK_ULONG v = 0;
    CK_RV rv;

    check_value_hidden (who, h);
    rv = get_ulong (h, CKA_VALUE_LEN, &v);
    ok (rv == CKR_OK && v == value_len, "%s: CKA_VALUE_LEN = %lu (rv 0x%lx, want %lu)", who, v,
        rv, value_len);
    check_bool (who, h, CKA_SENSITIVE, "CKA_SENSITIVE", CK_TRUE);
    check_bool (who, h, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", CK_FALSE);
    check_bool (who, h, CKA_LOCAL, "CKA_LOCAL", generated);
    check_bool (who, h, CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", generated);
    check_bool (who, h, CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", generated);
    rv = get_ulong (h, CKA_KEY_GEN_MECHANISM, &v);
    ok (rv == CKR_OK
            && v == (generated ? CKM_GENERIC_SECRET_KEY_GEN : CK_UNAVAILABLE_INFORMATION),
        "%s: CKA_KEY_GEN_MECHANISM = 0x%lx (rv 0x%lx)", who, v, rv);
}

static CK_RV
generate (CK_ULONG *value_len, CK_KEY_TYPE *type, bool token, const char *label,
          CK_BBOOL *extractable, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE t[8];
    CK_ULONG n = 0;

    t[n++] = (CK_ATTRIBUTE) { CKA_CLASS, &c_secret, sizeof c_secret };
    t[n++] = (CK_ATTRIBUTE) { CKA_TOKEN, token ? &yes : &no, sizeof (CK_BBOOL) };
    t[n++] = (CK_ATTRIBUTE) { CKA_SIGN, &yes, sizeof yes };
    t[n++] = (CK_ATTRIBUTE) { CKA_VERIFY, &yes, sizeof yes };
    if (value_len)
        t[n++] = (CK_ATTRIBUTE) { CKA_VALUE_LEN, value_len, sizeof *value_len };
    if (type)
        t[n++] = (CK_ATTRIBUTE) { CKA_KEY_TYPE, type, sizeof *type };
    if (label)
        t[n++] = (CK_ATTRIBUTE) { CKA_LABEL, (void *) label, strlen (label) };
    if (extractable)
        t[n++] = (CK_ATTRIBUTE) { CKA_EXTRACTABLE, extractable, sizeof *extractable };
    *h = CK_INVALID_HANDLE;
    return F->C_GenerateKey (sess, &m, t, n, h);
}

/* Signs "data" with h (HMAC hash hh) and verifies; returns the MAC in mac. */
static bool
sign_verify (const char *who, CK_OBJECT_HANDLE h, int hh, CK_BYTE *mac)
{
    static const CK_BYTE data[] = "sign and verify with a generated key";
    CK_MECHANISM m = mech_of (hh, NULL);
    CK_BYTE again[MAX_MAC];
    CK_ULONG mac_len = MAX_MAC, again_len = sizeof again;
    CK_RV rv = p11_sign (h, &m, data, sizeof data - 1, mac, &mac_len);
    bool good;

    if (rv == CKR_OK)
        rv = p11_sign (h, &m, data, sizeof data - 1, again, &again_len);
    good = rv == CKR_OK && mac_len == hashes[hh].size && again_len == mac_len
           && memcmp (mac, again, mac_len) == 0;
    ok (good, "%s: C_Sign HMAC-%s twice, the same MAC (rv 0x%lx)", who, hashes[hh].name, rv);
    is_rv (p11_verify (h, &m, data, sizeof data - 1, mac, hashes[hh].size), CKR_OK,
           "  C_Verify accepts it");
    memcpy (again, mac, hashes[hh].size);
    again[0] ^= 0x80;
    is_rv (p11_verify (h, &m, data, sizeof data - 1, again, hashes[hh].size),
           CKR_SIGNATURE_INVALID, "  C_Verify refuses it with a bit flipped");
    return good;
}

static void
mode_attrs (void)
{
    CK_BYTE key[131], mac32[MAX_MAC], mac17[MAX_MAC], mac[MAX_MAC];
    CK_OBJECT_HANDLE h, g32 = CK_INVALID_HANDLE, g17 = CK_INVALID_HANDLE, pub_key;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET, kt256 = CKK_SHA256_HMAC;
    CK_ULONG len;
    CK_MECHANISM m;
    CK_RV rv;

    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (CK_BYTE) (0x30 + i);

    /* an import */
    rv = import_key (key, 32, CKK_GENERIC_SECRET, false, NULL, &h);
    is_rv (rv, CKR_OK, "import a generic 32-byte key");
    if (rv == CKR_OK) {
        CK_ULONG cls = 0, type = 0;
        check_attrs ("imported", h, 32, false);
        ok (get_ulong (h, CKA_CLASS, &cls) == CKR_OK && cls == CKO_SECRET_KEY
                && get_ulong (h, CKA_KEY_TYPE, &type) == CKR_OK && type == CKK_GENERIC_SECRET,
            "imported: CKO_SECRET_KEY, CKK_GENERIC_SECRET");
        check_bool ("imported", h, CKA_PRIVATE, "CKA_PRIVATE (default)", CK_TRUE);
        /* they cannot be made extractable or non-sensitive afterwards */
        {
            CK_ATTRIBUTE a = { CKA_EXTRACTABLE, &yes, sizeof yes };
            CK_ATTRIBUTE s = { CKA_SENSITIVE, &no, sizeof no };
            is_rv (F->C_SetAttributeValue (sess, h, &a, 1), CKR_ATTRIBUTE_READ_ONLY,
                   "C_SetAttributeValue CKA_EXTRACTABLE TRUE");
            is_rv (F->C_SetAttributeValue (sess, h, &s, 1), CKR_ATTRIBUTE_READ_ONLY,
                   "C_SetAttributeValue CKA_SENSITIVE FALSE");
            CK_ATTRIBUTE v = { CKA_VALUE, key + 1, 32 };
            is_rv (F->C_SetAttributeValue (sess, h, &v, 1), CKR_ATTRIBUTE_READ_ONLY,
                   "C_SetAttributeValue CKA_VALUE");
            check_bool ("still", h, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", CK_FALSE);
            check_value_hidden ("still", h);
        }
        /* CKA_VALUE with other attributes: the others are still given */
        {
            CK_BYTE buf[64];
            CK_ULONG vl = 0;
            CK_ATTRIBUTE t[] = {
                { CKA_VALUE, buf, sizeof buf },
                { CKA_VALUE_LEN, &vl, sizeof vl },
            };
            rv = F->C_GetAttributeValue (sess, h, t, N_ELEM (t));
            ok (rv == CKR_ATTRIBUTE_SENSITIVE && t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION
                    && vl == 32,
                "CKA_VALUE + CKA_VALUE_LEN: 0x%lx, VALUE unavailable, VALUE_LEN %lu", rv, vl);
        }
        /* the value is not kept: a search by value finds nothing */
        {
            CK_ATTRIBUTE t[] = {
                { CKA_CLASS, &c_secret, sizeof c_secret },
                { CKA_VALUE, key, 32 },
            };
            CK_OBJECT_HANDLE found[4];
            CK_ULONG n = 99;
            rv = F->C_FindObjectsInit (sess, t, N_ELEM (t));
            if (rv == CKR_OK)
                rv = F->C_FindObjects (sess, found, N_ELEM (found), &n);
            F->C_FindObjectsFinal (sess);
            ok (rv == CKR_OK && n == 0, "C_FindObjects by CKA_VALUE finds nothing (rv 0x%lx, %lu)",
                rv, n);
        }
        /* a copy shares the TPM key; it cannot be made extractable either */
        {
            CK_ATTRIBUTE ext = { CKA_EXTRACTABLE, &yes, sizeof yes };
            CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
            CK_BYTE a[MAX_MAC], b[MAX_MAC];
            is_rv (F->C_CopyObject (sess, h, &ext, 1, &copy), CKR_ATTRIBUTE_READ_ONLY,
                   "C_CopyObject with CKA_EXTRACTABLE TRUE");
            rv = F->C_CopyObject (sess, h, NULL, 0, &copy);
            is_rv (rv, CKR_OK, "C_CopyObject");
            if (rv == CKR_OK) {
                check_attrs ("copy", copy, 32, false);
                ok (sign_verify ("original", h, H_SHA256, a)
                        && sign_verify ("copy", copy, H_SHA256, b) && memcmp (a, b, 32) == 0,
                    "the copy gives the original's HMAC");
                is_rv (F->C_DestroyObject (sess, copy), CKR_OK, "destroy the copy");
                ok (sign_verify ("original after the copy's end", h, H_SHA256, b)
                        && memcmp (a, b, 32) == 0,
                    "the original still works");
            }
        }
        F->C_DestroyObject (sess, h);
    }
    /* a typed key longer than its block: the length given, not the hash's */
    rv = import_key (key, 131, CKK_SHA256_HMAC, false, NULL, &h);
    is_rv (rv, CKR_OK, "import a CKK_SHA256_HMAC key of 131 bytes");
    if (rv == CKR_OK) {
        CK_ULONG type = 0;
        check_attrs ("imported 131 typed", h, 131, false);
        ok (get_ulong (h, CKA_KEY_TYPE, &type) == CKR_OK && type == CKK_SHA256_HMAC,
            "imported 131 typed: CKK_SHA256_HMAC");
        F->C_DestroyObject (sess, h);
    }
    /* CKA_SENSITIVE FALSE (pkcs11-tool's default) is raised to TRUE */
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_secret, sizeof c_secret }, { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_VALUE, key, 20 },                    { CKA_SENSITIVE, &no, sizeof no },
            { CKA_EXTRACTABLE, &no, sizeof no },
        };
        rv = F->C_CreateObject (sess, t, N_ELEM (t), &h);
        is_rv (rv, CKR_OK, "import with CKA_SENSITIVE FALSE");
        if (rv == CKR_OK) {
            check_attrs ("imported non-sensitive", h, 20, false);
            F->C_DestroyObject (sess, h);
        }
    }
    /* refusals */
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_secret, sizeof c_secret },
            { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_VALUE, key, 32 },
            { CKA_EXTRACTABLE, &yes, sizeof yes },
        };
        h = CK_INVALID_HANDLE;
        is_rv (F->C_CreateObject (sess, t, N_ELEM (t), &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "import with CKA_EXTRACTABLE TRUE is refused");
        /* CLASS and KEY_TYPE only: no CKA_VALUE */
        is_rv (F->C_CreateObject (sess, t, 2, &h), CKR_TEMPLATE_INCOMPLETE,
               "import without CKA_VALUE");
    }
    is_rv (import_key (key, 129, CKK_GENERIC_SECRET, false, NULL, &h), CKR_KEY_SIZE_RANGE,
           "a generic key of 129 bytes is refused");
    rv = import_key (key, 0, CKK_GENERIC_SECRET, false, NULL, &h);
    ok (rv == CKR_KEY_SIZE_RANGE || rv == CKR_ATTRIBUTE_VALUE_INVALID,
        "an empty CKA_VALUE is refused: 0x%lx (want CKR_KEY_SIZE_RANGE or "
        "CKR_ATTRIBUTE_VALUE_INVALID)",
        rv);
    {
        CK_KEY_TYPE aes = CKK_AES;
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_secret, sizeof c_secret },
            { CKA_KEY_TYPE, &aes, sizeof aes },
            { CKA_VALUE, key, 16 },
        };
        rv = F->C_CreateObject (sess, t, N_ELEM (t), &h);
        ok (rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT,
            "a CKK_AES key is refused: 0x%lx", rv);
    }

    /* generated keys (token objects) */
    len = 32;
    rv = generate (&len, NULL, true, "hmac-gen-32", NULL, &g32);
    is_rv (rv, CKR_OK, "C_GenerateKey CKA_VALUE_LEN 32 (token object)");
    if (rv == CKR_OK) {
        check_attrs ("generated 32", g32, 32, true);
        check_bool ("generated 32", g32, CKA_TOKEN, "CKA_TOKEN", CK_TRUE);
    }
    len = 17;
    rv = generate (&len, NULL, true, "hmac-gen-17", NULL, &g17);
    is_rv (rv, CKR_OK, "C_GenerateKey CKA_VALUE_LEN 17 (token object)");
    if (rv == CKR_OK)
        check_attrs ("generated 17", g17, 17, true);
    if (g32 != CK_INVALID_HANDLE && g17 != CK_INVALID_HANDLE) {
        bool a = sign_verify ("generated 32", g32, H_SHA256, mac32);
        bool b = sign_verify ("generated 17", g17, H_SHA256, mac17);
        ok (a && b && memcmp (mac32, mac17, 32) != 0,
            "the two generated keys give different MACs (%s vs %s)", tohex (mac32, 8),
            tohex (mac17, 8));
        sign_verify ("generated 32", g32, H_SHA1, mac);
        sign_verify ("generated 17", g17, H_SHA512, mac);
    }
    /* sizes the TPM makes itself (a digest's size) and others, generic and typed */
    {
        static const CK_ULONG sizes[] = { 1, 20, 48, 64, 128 };
        for (size_t i = 0; i < N_ELEM (sizes); i++) {
            char who[48];
            len = sizes[i];
            rv = generate (&len, NULL, false, NULL, NULL, &h);
            snprintf (who, sizeof who, "generated %lu", sizes[i]);
            is_rv (rv, CKR_OK, who);
            if (rv != CKR_OK)
                continue;
            check_bool (who, h, CKA_LOCAL, "CKA_LOCAL", CK_TRUE);
            sign_verify (who, h, H_SHA384, mac);
            F->C_DestroyObject (sess, h);
        }
    }
    /* a typed key longer than its hash's block, generated: the documented
     * range is 1..128 for every key type (an import of such a key works: it is
     * hashed first) */
    len = 100;
    rv = generate (&len, &kt256, false, NULL, NULL, &h);
    is_rv (rv, CKR_OK, "C_GenerateKey CKK_SHA256_HMAC, CKA_VALUE_LEN 100");
    if (rv == CKR_OK) {
        sign_verify ("generated CKK_SHA256_HMAC 100", h, H_SHA256, mac);
        F->C_DestroyObject (sess, h);
    }
    len = 32;
    rv = generate (&len, &kt256, false, NULL, NULL, &h);
    is_rv (rv, CKR_OK, "C_GenerateKey CKK_SHA256_HMAC, CKA_VALUE_LEN 32");
    if (rv == CKR_OK) {
        CK_ULONG type = 0;
        ok (get_ulong (h, CKA_KEY_TYPE, &type) == CKR_OK && type == CKK_SHA256_HMAC,
            "  its CKA_KEY_TYPE is CKK_SHA256_HMAC");
        sign_verify ("generated CKK_SHA256_HMAC", h, H_SHA256, mac);
        m = mech_of (H_SHA1, NULL);
        is_rv (F->C_SignInit (sess, &m, h), CKR_KEY_TYPE_INCONSISTENT,
               "  C_SignInit CKM_SHA_1_HMAC with it");
        F->C_DestroyObject (sess, h);
    }
    is_rv (generate (NULL, NULL, false, NULL, NULL, &h), CKR_TEMPLATE_INCOMPLETE,
           "C_GenerateKey without CKA_VALUE_LEN");
    len = 200;
    is_rv (generate (&len, NULL, false, NULL, NULL, &h), CKR_KEY_SIZE_RANGE,
           "C_GenerateKey CKA_VALUE_LEN 200");
    len = 129;
    is_rv (generate (&len, NULL, false, NULL, NULL, &h), CKR_KEY_SIZE_RANGE,
           "C_GenerateKey CKA_VALUE_LEN 129");
    len = 0;
    is_rv (generate (&len, NULL, false, NULL, NULL, &h), CKR_KEY_SIZE_RANGE,
           "C_GenerateKey CKA_VALUE_LEN 0");
    len = 32;
    is_rv (generate (&len, NULL, false, NULL, &yes, &h), CKR_ATTRIBUTE_VALUE_INVALID,
           "C_GenerateKey CKA_EXTRACTABLE TRUE");
    {
        CK_MECHANISM bad = { CKM_GENERIC_SECRET_KEY_GEN, &len, sizeof len };
        CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof len } };
        is_rv (F->C_GenerateKey (sess, &bad, t, 1, &h), CKR_MECHANISM_PARAM_INVALID,
               "CKM_GENERIC_SECRET_KEY_GEN with a parameter");
    }

    /* a public (CKA_PRIVATE FALSE) key, visible without login but not usable */
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_secret, sizeof c_secret },
            { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_VALUE, key, 32 },
            { CKA_PRIVATE, &no, sizeof no },
        };
        rv = F->C_CreateObject (sess, t, N_ELEM (t), &pub_key);
        is_rv (rv, CKR_OK, "import a CKA_PRIVATE FALSE key");
        if (rv != CKR_OK)
            pub_key = CK_INVALID_HANDLE;
    }

    /* without login */
    is_rv (F->C_Logout (sess), CKR_OK, "C_Logout");
    is_rv (import_key (key, 32, CKK_GENERIC_SECRET, false, NULL, &h), CKR_USER_NOT_LOGGED_IN,
           "not logged in: C_CreateObject of a (private) secret key");
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_secret, sizeof c_secret },
            { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_VALUE, key, 32 },
            { CKA_PRIVATE, &no, sizeof no },
        };
        is_rv (F->C_CreateObject (sess, t, N_ELEM (t), &h), CKR_USER_NOT_LOGGED_IN,
               "not logged in: C_CreateObject of a CKA_PRIVATE FALSE secret key");
    }
    len = 32;
    is_rv (generate (&len, NULL, false, NULL, NULL, &h), CKR_USER_NOT_LOGGED_IN,
           "not logged in: C_GenerateKey");
    if (pub_key != CK_INVALID_HANDLE) {
        CK_BYTE d[] = "x";
        m = mech_of (H_SHA256, NULL);
        rv = F->C_SignInit (sess, &m, pub_key);
        if (rv == CKR_OK) { /* then the sign itself must refuse */
            CK_ULONG ml = sizeof mac;
            rv = F->C_Sign (sess, d, 1, mac, &ml);
        }
        is_rv (rv, CKR_USER_NOT_LOGGED_IN, "not logged in: sign with a CKA_PRIVATE FALSE key");
        rv = F->C_VerifyInit (sess, &m, pub_key);
        if (rv == CKR_OK)
            rv = F->C_Verify (sess, d, 1, mac, 32);
        is_rv (rv, CKR_USER_NOT_LOGGED_IN, "not logged in: verify with a CKA_PRIVATE FALSE key");
    }
    is_rv (login (), CKR_OK, "C_Login again");
    if (pub_key != CK_INVALID_HANDLE) {
        CK_BYTE d[] = "x", want[MAX_MAC];
        CK_ULONG ml = sizeof mac;
        m = mech_of (H_SHA256, NULL);
        rv = p11_sign (pub_key, &m, d, 1, mac, &ml);
        ok (rv == CKR_OK && ossl_hmac (H_SHA256, key, 32, d, 1, want)
                && memcmp (mac, want, 32) == 0,
            "logged in: the CKA_PRIVATE FALSE key signs (rv 0x%lx)", rv);
        F->C_DestroyObject (sess, pub_key);
    }

    /* the generated token objects are still there after the new login (their
     * handles may have changed: find them again), still work, and go */
    {
        static const char *const labels[] = { "hmac-gen-32", "hmac-gen-17" };
        CK_BYTE *const macs[] = { mac32, mac17 };
        for (size_t i = 0; i < N_ELEM (labels); i++) {
            CK_ULONG count;
            CK_OBJECT_HANDLE g = find_by_label (labels[i], &count);
            ok (g != CK_INVALID_HANDLE && count == 1, "after login: one key labelled %s (%lu)",
                labels[i], count);
            if (g == CK_INVALID_HANDLE)
                continue;
            ok (sign_verify (labels[i], g, H_SHA256, mac) && memcmp (mac, macs[i], 32) == 0,
                "  %s gives the same HMAC-SHA256 as before", labels[i]);
            is_rv (F->C_DestroyObject (sess, g), CKR_OK, "  C_DestroyObject");
            g = find_by_label (labels[i], &count);
            ok (g == CK_INVALID_HANDLE && count == 0, "  %s is gone", labels[i]);
        }
    }
}

/* ---- store / reuse ---- */

static const char restart_data[] = "restart test";

static CK_OBJECT_HANDLE
find_by_label (const char *label, CK_ULONG *count)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_secret, sizeof c_secret },
        { CKA_LABEL, (void *) label, strlen (label) },
    };
    CK_OBJECT_HANDLE found[4] = { CK_INVALID_HANDLE };
    CK_RV rv = F->C_FindObjectsInit (sess, t, N_ELEM (t));

    *count = 0;
    if (rv == CKR_OK)
        rv = F->C_FindObjects (sess, found, N_ELEM (found), count);
    F->C_FindObjectsFinal (sess);
    return rv == CKR_OK && *count >= 1 ? found[0] : CK_INVALID_HANDLE;
}

static void
mode_store (const char *keyhex, const char *label)
{
    CK_BYTE key[256], mac[MAX_MAC], want[MAX_MAC];
    CK_ULONG mac_len = sizeof mac;
    CK_OBJECT_HANDLE h;
    CK_MECHANISM m = mech_of (H_SHA256, NULL);
    long n = unhex (keyhex, key, sizeof key);
    CK_RV rv;

    if (n <= 0) {
        ok (false, "store: KEYHEX is not hex (or too long)");
        return;
    }
    rv = import_key (key, (size_t) n, CKK_GENERIC_SECRET, true, label, &h);
    is_rv (rv, CKR_OK, "import the key as a token object");
    if (rv != CKR_OK)
        return;
    check_bool ("stored", h, CKA_TOKEN, "CKA_TOKEN", CK_TRUE);
    check_value_hidden ("stored", h);
    rv = p11_sign (h, &m, (const CK_BYTE *) restart_data, sizeof restart_data - 1, mac, &mac_len);
    ok (rv == CKR_OK && ossl_hmac (H_SHA256, key, (size_t) n, (const CK_BYTE *) restart_data,
                                   sizeof restart_data - 1, want)
            && memcmp (mac, want, 32) == 0,
        "it signs in this process too (rv 0x%lx)", rv);
    memset (key, 0, sizeof key);
}

static void
mode_reuse (const char *label, const char *machex)
{
    CK_BYTE want[MAX_MAC], mac[MAX_MAC];
    CK_ULONG mac_len = sizeof mac, count;
    CK_MECHANISM m = mech_of (H_SHA256, NULL);
    long n = unhex (machex, want, sizeof want);
    CK_OBJECT_HANDLE h = find_by_label (label, &count);
    CK_RV rv;

    ok (n == 32, "the expected MAC is 32 bytes of hex");
    ok (h != CK_INVALID_HANDLE && count == 1, "one secret key labelled '%s' (found %lu)", label,
        count);
    if (h == CK_INVALID_HANDLE || n != 32)
        return;
    check_value_hidden ("reloaded", h);
    rv = p11_sign (h, &m, (const CK_BYTE *) restart_data, sizeof restart_data - 1, mac, &mac_len);
    ok (rv == CKR_OK && mac_len == 32 && memcmp (mac, want, 32) == 0,
        "C_Sign HMAC-SHA256 \"%s\" = %s (rv 0x%lx), want %s", restart_data,
        rv == CKR_OK ? tohex (mac, mac_len) : "-", rv, machex);
    is_rv (p11_verify (h, &m, (const CK_BYTE *) restart_data, sizeof restart_data - 1, want, 32),
           CKR_OK, "C_Verify accepts the expected MAC");
}

/* ---- main ---- */

static void
usage (void)
{
    fprintf (stderr, "usage: test-hmac [MODULE] vectors|chunks|attrs\n"
                     "       test-hmac [MODULE] store KEYHEX LABEL\n"
                     "       test-hmac [MODULE] reuse LABEL MACHEX\n");
}

int
main (int argc, char **argv)
{
    const char *module, *mode, *token;
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    int a = 1;
    CK_RV rv;

    setvbuf (stdout, NULL, _IOLBF, 0);
    /* MODULE is optional: it is the first argument when that is not a mode */
    if (argc > 1 && strcmp (argv[1], "vectors") != 0 && strcmp (argv[1], "chunks") != 0
        && strcmp (argv[1], "attrs") != 0 && strcmp (argv[1], "store") != 0
        && strcmp (argv[1], "reuse") != 0)
        module = argv[a++];
    else
        module = getenv ("TT_MODULE");
    if (module == NULL || argc <= a) {
        usage ();
        return 2;
    }
    mode = argv[a++];
    if (((strcmp (mode, "store") == 0 || strcmp (mode, "reuse") == 0) && argc != a + 2)
        || (strcmp (mode, "store") != 0 && strcmp (mode, "reuse") != 0 && argc != a)) {
        usage ();
        return 2;
    }
    token = getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "hmac";
    pin = getenv ("TT_PIN") ? getenv ("TT_PIN") : "1234";

    if (!module_load ("test-hmac", module, &F))
        return 2;
    rv = F->C_Initialize (&init);
    is_rv (rv, CKR_OK, "C_Initialize");
    if (rv != CKR_OK)
        return tap_done ();
    if (!find_slot (token)) {
        ok (false, "token '%s' found", token);
        F->C_Finalize (NULL);
        return tap_done ();
    }
    rv = F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess);
    if (rv == CKR_OK)
        rv = login ();
    is_rv (rv, CKR_OK, "C_OpenSession + C_Login");
    if (rv == CKR_OK) {
        double t0 = now ();
        if (strcmp (mode, "vectors") == 0)
            mode_vectors ();
        else if (strcmp (mode, "chunks") == 0)
            mode_chunks ();
        else if (strcmp (mode, "attrs") == 0)
            mode_attrs ();
        else if (strcmp (mode, "store") == 0)
            mode_store (argv[a], argv[a + 1]);
        else
            mode_reuse (argv[a], argv[a + 1]);
        printf ("# %s: %.2fs\n", mode, now () - t0);
        F->C_CloseSession (sess);
    }
    is_rv (F->C_Finalize (NULL), CKR_OK, "C_Finalize");
    return tap_done ();
}
