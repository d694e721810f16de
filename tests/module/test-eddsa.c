/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-eddsa [MODULE] MODE [ARGS] - Ed25519 with a TPM-sealed seed, and keys
 * bound to PCRs, driven through the PKCS#11 function list exactly as a
 * consumer does (dlopen + C_GetFunctionList). Prints TAP; exits 1 when a check
 * fails, 2 on usage or set-up errors.
 *
 *   rfc8032               RFC 8032 section 7.1 TEST 1-3: each vector checked
 *                         with libsodium first (that it was copied right); the
 *                         seed imported with C_CreateObject, the computed
 *                         CKA_EC_POINT and the signature compared byte for byte
 *                         with the published ones; C_Verify with the private
 *                         key and with public-key objects made from the
 *                         published key (raw 32 bytes and DER), refusing a
 *                         flipped bit and wrong lengths
 *   generate              C_GenerateKeyPair with both CKA_EC_PARAMS forms, the
 *                         attributes, signatures checked with OpenSSL, 1 MiB
 *                         multi-part = single-part, Ed25519ph / context
 *                         refused, CKA_VALUE sensitive, the refusals, logout
 *                         (also with an operation active and the key cached)
 *                         and login again
 *   bind MASK [VALUESHEX] creates, bound to the PCRs of MASK (sha256 bank), an
 *                         ECDSA P-256 pair (CKA_ID "pe"), an HMAC-SHA256 key
 *                         (label "ph") and an Ed25519 pair (CKA_ID "pd") as
 *                         token objects (replacing older ones); checks the
 *                         CKA_TPMTRUST_PCR_* attributes (VALUES = VALUESHEX
 *                         when given) and that each key signs now
 *   use ok|mismatch       finds those three keys and signs with each: with ok
 *                         every signature verifies (OpenSSL); with mismatch
 *                         each use fails with CKR_TPMTRUST_PCR_MISMATCH and
 *                         the keys are still there
 *   cache-pcr             an Ed25519 seed bound to PCR 16, signed with once
 *                         (its key now cached), then PCR 16 is extended
 *                         (system ("tpm2_pcrextend ...") while the module is
 *                         idle): the next signature must fail with
 *                         CKR_TPMTRUST_PCR_MISMATCH like the bound ECDSA key
 *                         beside it; after tpm2_pcrreset 16 both sign again
 *   store SEEDHEX LABEL   imports SEEDHEX as a token Ed25519 key, signs once
 *   reuse LABEL MSGHEX SIGHEX
 *                         finds the token key LABEL, checks its signature of
 *                         MSGHEX is SIGHEX
 *   bench                 (no assertions) Ed25519 signatures per second through
 *                         the module with the key cached, uncached (a child
 *                         process run with TPMTRUST_ED25519_CACHE_USES=0) and
 *                         raw libsodium crypto_sign_detached, and the ratios
 *
 * MODULE defaults to $TT_MODULE. The token is found by label ($TT_TOKEN,
 * default "ed"); the user PIN is $TT_PIN (default 1234). The module is never
 * dlclose()d (it would hide leaks from ASan).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "base/ck.h"
#include "pkcs11-tpmtrust.h"
#include "tests/module/helpers.h"
#include "tests/unit/tap.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))

static CK_FUNCTION_LIST *F;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static const char *pin, *module_path;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_priv = CKO_PRIVATE_KEY, c_pub = CKO_PUBLIC_KEY,
                       c_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE k_ed = CKK_EC_EDWARDS, k_ec = CKK_EC, k_hmac256 = CKK_SHA256_HMAC;
static CK_MECHANISM_TYPE bank_sha256 = CKM_SHA256;

static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                        's',  '2',  '5', '5', '1', '9' };
static const CK_BYTE oid_ed448[] = { 0x06, 0x03, 0x2b, 0x65, 0x71 };
static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE spki_prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                         0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

/* ---- small helpers ---- */




static const char *
tohex (const CK_BYTE *p, size_t n)
{
    static char buf[6][2 * 128 + 4];
    static int which;
    char *s = buf[which++ % 6];
    bool cut = n > 128;
    if (p == NULL)
        return "-";
    if (cut)
        n = 128;
    for (size_t i = 0; i < n; i++)
        sprintf (s + 2 * i, "%02x", p[i]);
    strcpy (s + 2 * n, cut ? ".." : "");
    return s;
}

/* A template being built; the values must outlive its use. */
typedef struct {
    CK_ATTRIBUTE a[32];
    CK_ULONG n;
} tmpl;

static void
add (tmpl *t, CK_ATTRIBUTE_TYPE type, const void *v, CK_ULONG len)
{
    if (t->n < N_ELEM (t->a))
        t->a[t->n++] = (CK_ATTRIBUTE) { type, (void *) v, len };
}

/* One attribute into a fresh buffer (NUL-terminated for convenience). */
static CK_RV
get_attr (CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BYTE **val, CK_ULONG *len)
{
    return get_attr_alloc (F, sess, h, type, val, len);
}

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

/* The attribute's value is exactly want. */
static void
check_bytes (const char *who, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, const char *name,
             const CK_BYTE *want, size_t want_len)
{
    CK_BYTE *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = get_attr (h, type, &v, &len);
    ok (rv == CKR_OK && len == want_len && memcmp (v, want, want_len) == 0,
        "%s: %s = %s (rv 0x%lx, want %s)", who, name, rv == CKR_OK ? tohex (v, len) : "-", rv,
        tohex (want, want_len));
    free (v);
}

static void
check_bool (const char *who, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, const char *name,
            CK_BBOOL want)
{
    CK_BBOOL v = 2;
    CK_RV rv = get_bool (h, type, &v);
    ok (rv == CKR_OK && v == want, "%s: %s is %s (rv 0x%lx, got %d)", who, name,
        want ? "TRUE" : "FALSE", rv, (int) v);
}

static void
check_ulong (const char *who, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, const char *name,
             CK_ULONG want)
{
    CK_ULONG v = 0;
    CK_RV rv = get_ulong (h, type, &v);
    ok (rv == CKR_OK && v == want, "%s: %s = 0x%lx (rv 0x%lx, want 0x%lx)", who, name, v, rv,
        want);
}

/* CKA_VALUE cannot be read: CKR_ATTRIBUTE_SENSITIVE, length unavailable. */
static void
check_value_hidden (const char *who, CK_OBJECT_HANDLE h)
{
    CK_BYTE buf[64];
    CK_ATTRIBUTE a = { CKA_VALUE, NULL, 0 };
    CK_RV rv = F->C_GetAttributeValue (sess, h, &a, 1);
    ok (rv == CKR_ATTRIBUTE_SENSITIVE && a.ulValueLen == CK_UNAVAILABLE_INFORMATION,
        "%s: CKA_VALUE (length query) is CKR_ATTRIBUTE_SENSITIVE: 0x%lx, length 0x%lx", who, rv,
        a.ulValueLen);
    memset (buf, 0xee, sizeof buf);
    a.pValue = buf;
    a.ulValueLen = sizeof buf;
    rv = F->C_GetAttributeValue (sess, h, &a, 1);
    ok (rv == CKR_ATTRIBUTE_SENSITIVE && a.ulValueLen == CK_UNAVAILABLE_INFORMATION
            && buf[0] == 0xee && buf[31] == 0xee,
        "%s: CKA_VALUE (into a buffer) is CKR_ATTRIBUTE_SENSITIVE, nothing written: 0x%lx", who,
        rv);
}

/* The Ed25519 key of object h from its CKA_EC_POINT, which must be a DER
 * OCTET STRING of 32 bytes. */
static bool
ed_point (CK_OBJECT_HANDLE h, CK_BYTE pk[32])
{
    CK_BYTE *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = get_attr (h, CKA_EC_POINT, &v, &len);
    bool good = rv == CKR_OK && len == 34 && v[0] == 0x04 && v[1] == 0x20;
    if (good)
        memcpy (pk, v + 2, 32);
    else
        printf ("# CKA_EC_POINT of 0x%lx: rv 0x%lx, %s\n", h, rv, tohex (v, len));
    free (v);
    return good;
}

static CK_OBJECT_HANDLE
find_one (CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type, const char *val, CK_ULONG *count)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { type, (void *) val, strlen (val) },
    };
    CK_OBJECT_HANDLE found[4] = { CK_INVALID_HANDLE };
    CK_RV rv = F->C_FindObjectsInit (sess, t, N_ELEM (t));

    *count = 0;
    if (rv == CKR_OK) {
        rv = F->C_FindObjects (sess, found, N_ELEM (found), count);
        F->C_FindObjectsFinal (sess);
    }
    if (rv != CKR_OK)
        printf ("# find class 0x%lx attribute 0x%lx '%s': 0x%lx\n", cls, type, val, rv);
    return rv == CKR_OK && *count >= 1 ? found[0] : CK_INVALID_HANDLE;
}

/* Destroys every object of class cls whose attribute type is val. */
static void
destroy_all (CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type, const char *val)
{
    CK_ULONG count;
    CK_OBJECT_HANDLE h;
    int guard = 0;
    while ((h = find_one (cls, type, val, &count)) != CK_INVALID_HANDLE && guard++ < 16)
        if (F->C_DestroyObject (sess, h) != CKR_OK)
            break;
}

/* ---- signing and verifying through the module ---- */

static CK_MECHANISM m_eddsa = { CKM_EDDSA, NULL, 0 };

static CK_RV
p11_sign (CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *data, size_t len, CK_BYTE *sig,
          CK_ULONG *sig_len)
{
    CK_RV rv = F->C_SignInit (sess, m, key);
    if (rv != CKR_OK)
        return rv;
    return F->C_Sign (sess, (CK_BYTE_PTR) data, len, sig, sig_len);
}

static CK_RV
p11_verify (CK_MECHANISM *m, CK_OBJECT_HANDLE key, const CK_BYTE *data, size_t len,
            const CK_BYTE *sig, size_t sig_len)
{
    CK_RV rv = F->C_VerifyInit (sess, m, key);
    if (rv != CKR_OK)
        return rv;
    return F->C_Verify (sess, (CK_BYTE_PTR) data, len, (CK_BYTE_PTR) sig, sig_len);
}

/* CKM_EDDSA, one part; the signature must be 64 bytes. */
static CK_RV
ed_sign (CK_OBJECT_HANDLE key, const CK_BYTE *msg, size_t len, CK_BYTE sig[64])
{
    CK_BYTE buf[80];
    CK_ULONG n = sizeof buf;
    CK_RV rv = p11_sign (&m_eddsa, key, msg, len, buf, &n);
    if (rv == CKR_OK && n != 64) {
        printf ("# C_Sign CKM_EDDSA gave %lu bytes\n", n);
        return CKR_GENERAL_ERROR;
    }
    if (rv == CKR_OK)
        memcpy (sig, buf, 64);
    return rv;
}

/* ---- independent checks ---- */

/* ---- creating keys ---- */

/* C_CreateObject of an Ed25519 private key from a seed (CKA_VALUE). */
static CK_RV
ed_import (const CK_BYTE *seed, size_t seed_len, const CK_BYTE *params, size_t params_len,
           bool token, const char *label, const CK_ULONG *pcr_mask, CK_OBJECT_HANDLE *h)
{
    tmpl t = { .n = 0 };
    add (&t, CKA_CLASS, &c_priv, sizeof c_priv);
    add (&t, CKA_KEY_TYPE, &k_ed, sizeof k_ed);
    add (&t, CKA_EC_PARAMS, params, params_len);
    add (&t, CKA_VALUE, seed, seed_len);
    add (&t, CKA_TOKEN, token ? &yes : &no, sizeof yes);
    add (&t, CKA_SIGN, &yes, sizeof yes);
    if (label != NULL) {
        add (&t, CKA_LABEL, label, strlen (label));
        add (&t, CKA_ID, label, strlen (label));
    }
    if (pcr_mask != NULL) {
        add (&t, CKA_TPMTRUST_PCR_MASK, pcr_mask, sizeof *pcr_mask);
        add (&t, CKA_TPMTRUST_PCR_BANK, &bank_sha256, sizeof bank_sha256);
    }
    *h = CK_INVALID_HANDLE;
    return F->C_CreateObject (sess, t.a, t.n, h);
}

/* C_CreateObject of an Ed25519 public key. */
static CK_RV
ed_pub_create (const CK_BYTE *point, size_t point_len, const CK_BYTE *params, size_t params_len,
               CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_pub, sizeof c_pub },
        { CKA_KEY_TYPE, &k_ed, sizeof k_ed },
        { CKA_EC_PARAMS, (void *) params, params_len },
        { CKA_EC_POINT, (void *) point, point_len },
        { CKA_VERIFY, &yes, sizeof yes },
    };
    *h = CK_INVALID_HANDLE;
    return F->C_CreateObject (sess, t, N_ELEM (t), h);
}

/* C_GenerateKeyPair: Ed25519 (ec false) or ECDSA P-256; label doubles as CKA_ID. */
static CK_RV
pair_generate (bool ec, const CK_BYTE *params, size_t params_len, bool token, const char *label,
               const CK_ULONG *pcr_mask, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { ec ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    tmpl pt = { .n = 0 }, st = { .n = 0 };

    add (&pt, CKA_EC_PARAMS, params, params_len);
    add (&pt, CKA_TOKEN, token ? &yes : &no, sizeof yes);
    add (&pt, CKA_VERIFY, &yes, sizeof yes);
    add (&pt, CKA_KEY_TYPE, ec ? &k_ec : &k_ed, sizeof k_ed);
    add (&st, CKA_TOKEN, token ? &yes : &no, sizeof yes);
    add (&st, CKA_SIGN, &yes, sizeof yes);
    add (&st, CKA_KEY_TYPE, ec ? &k_ec : &k_ed, sizeof k_ed);
    if (label != NULL) {
        add (&pt, CKA_LABEL, label, strlen (label));
        add (&pt, CKA_ID, label, strlen (label));
        add (&st, CKA_LABEL, label, strlen (label));
        add (&st, CKA_ID, label, strlen (label));
    }
    if (pcr_mask != NULL) {
        add (&st, CKA_TPMTRUST_PCR_MASK, pcr_mask, sizeof *pcr_mask);
        add (&st, CKA_TPMTRUST_PCR_BANK, &bank_sha256, sizeof bank_sha256);
    }
    *pub = *priv = CK_INVALID_HANDLE;
    return F->C_GenerateKeyPair (sess, &m, pt.a, pt.n, st.a, st.n, pub, priv);
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

/* ==== rfc8032 ==== */

typedef struct {
    int no;
    const char *seed, *pk, *msg, *sig;
} rfc_vector;

/* RFC 8032, section 7.1 (Ed25519): TEST 1, TEST 2, TEST 3. */
static const rfc_vector rfc8032[] = {
    { 1, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
    { 2, "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
    { 3, "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
      "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};

/* C_Verify with key: accepts sig, refuses it with a bit flipped, one byte
 * short and one byte long, and over another message. */
static void
check_verify (const char *who, CK_OBJECT_HANDLE key, const CK_BYTE *msg, size_t len,
              const CK_BYTE sig[64])
{
    CK_BYTE bad[65], other[8] = { 0 };
    is_rv (p11_verify (&m_eddsa, key, msg, len, sig, 64), CKR_OK,
           "  C_Verify accepts the signature");
    memcpy (bad, sig, 64);
    bad[64] = 0;
    bad[10] ^= 0x04;
    is_rv (p11_verify (&m_eddsa, key, msg, len, bad, 64), CKR_SIGNATURE_INVALID,
           "  C_Verify refuses it with one bit flipped (R)");
    memcpy (bad, sig, 64);
    bad[40] ^= 0x80;
    is_rv (p11_verify (&m_eddsa, key, msg, len, bad, 64), CKR_SIGNATURE_INVALID,
           "  C_Verify refuses it with one bit flipped (S)");
    is_rv (p11_verify (&m_eddsa, key, msg, len, sig, 63), CKR_SIGNATURE_LEN_RANGE,
           "  C_Verify refuses a 63-byte signature");
    memcpy (bad, sig, 64);
    is_rv (p11_verify (&m_eddsa, key, msg, len, bad, 65), CKR_SIGNATURE_LEN_RANGE,
           "  C_Verify refuses a 65-byte signature");
    if (len > 0) {
        memcpy (other, msg, len < sizeof other ? len : sizeof other);
        other[0] ^= 1;
    }
    is_rv (p11_verify (&m_eddsa, key, other, len ? (len < sizeof other ? len : sizeof other) : 1,
                       sig, 64),
           CKR_SIGNATURE_INVALID, "  C_Verify refuses the signature over another message");
    (void) who;
}

static void
mode_rfc8032 (void)
{
    for (size_t i = 0; i < N_ELEM (rfc8032); i++) {
        const rfc_vector *v = &rfc8032[i];
        CK_BYTE seed[32], pk[32], msg[8], sig[64], got[64], pk_sodium[32],
            sk_sodium[crypto_sign_SECRETKEYBYTES], sig_sodium[64], der[34];
        CK_BYTE *params = NULL;
        CK_ULONG params_len = 0;
        CK_OBJECT_HANDLE priv, pub_raw, pub_der;
        long mlen = unhex (v->msg, msg, sizeof msg);
        char who[64];
        CK_RV rv;

        snprintf (who, sizeof who, "TEST %d", v->no);
        printf ("# RFC 8032 7.1 TEST %d (message of %ld bytes)\n", v->no, mlen);
        if (unhex (v->seed, seed, 32) != 32 || unhex (v->pk, pk, 32) != 32
            || unhex (v->sig, sig, 64) != 64 || mlen < 0) {
            ok (false, "%s: the vector decodes (32-byte seed and key, 64-byte signature)", who);
            continue;
        }

        /* the vector, checked with libsodium and OpenSSL: copied right */
        crypto_sign_seed_keypair (pk_sodium, sk_sodium, seed);
        ok (memcmp (pk_sodium, pk, 32) == 0, "%s: libsodium derives the published public key",
            who);
        crypto_sign_detached (sig_sodium, NULL, msg, (unsigned long long) mlen, sk_sodium);
        ok (memcmp (sig_sodium, sig, 64) == 0,
            "%s: libsodium crypto_sign_detached gives the published signature", who);
        ok (crypto_sign_verify_detached (sig, msg, (unsigned long long) mlen, pk) == 0
                && ossl_ed_verify (pk, msg, (size_t) mlen, sig),
            "%s: libsodium and OpenSSL verify the published signature", who);
        sodium_memzero (sk_sodium, sizeof sk_sodium);

        /* import the seed */
        rv = ed_import (seed, 32, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &priv);
        is_rv (rv, CKR_OK, "C_CreateObject CKO_PRIVATE_KEY CKK_EC_EDWARDS with the seed");
        if (rv != CKR_OK)
            continue;
        memcpy (der, "\x04\x20", 2);
        memcpy (der + 2, pk, 32);
        check_bytes (who, priv, CKA_EC_POINT, "computed CKA_EC_POINT", der, 34);
        check_bytes (who, priv, CKA_EC_PARAMS, "CKA_EC_PARAMS", oid_ed25519, sizeof oid_ed25519);
        check_ulong (who, priv, CKA_KEY_TYPE, "CKA_KEY_TYPE", CKK_EC_EDWARDS);
        check_value_hidden (who, priv);
        check_bool (who, priv, CKA_SENSITIVE, "CKA_SENSITIVE", CK_TRUE);
        check_bool (who, priv, CKA_EXTRACTABLE, "CKA_EXTRACTABLE", CK_FALSE);
        check_bool (who, priv, CKA_LOCAL, "CKA_LOCAL", CK_FALSE);
        check_bool (who, priv, CKA_TPMTRUST_TPM_KEY, "CKA_TPMTRUST_TPM_KEY", CK_TRUE);

        /* length queries, then the signature */
        if (v->no == 1) {
            CK_ULONG n = 0;
            CK_BYTE small[63];
            rv = F->C_SignInit (sess, &m_eddsa, priv);
            is_rv (rv, CKR_OK, "C_SignInit CKM_EDDSA");
            rv = F->C_Sign (sess, msg, (CK_ULONG) mlen, NULL, &n);
            ok (rv == CKR_OK && n == 64, "C_Sign with no buffer: CKR_OK, length %lu (rv 0x%lx)",
                n, rv);
            n = sizeof small;
            rv = F->C_Sign (sess, msg, (CK_ULONG) mlen, small, &n);
            ok (rv == CKR_BUFFER_TOO_SMALL && n == 64,
                "C_Sign into 63 bytes: CKR_BUFFER_TOO_SMALL, length %lu (rv 0x%lx)", n, rv);
            n = sizeof got;
            rv = F->C_Sign (sess, msg, (CK_ULONG) mlen, got, &n);
            ok (rv == CKR_OK && n == 64 && memcmp (got, sig, 64) == 0,
                "%s: after the length queries the operation signs: %s (rv 0x%lx)", who,
                rv == CKR_OK ? tohex (got, 32) : "-", rv);
            n = sizeof got;
            is_rv (F->C_Sign (sess, msg, (CK_ULONG) mlen, got, &n), CKR_OPERATION_NOT_INITIALIZED,
                   "  and the operation is over");
        }
        memset (got, 0, sizeof got);
        rv = ed_sign (priv, msg, (size_t) mlen, got);
        ok (rv == CKR_OK && memcmp (got, sig, 64) == 0,
            "%s: C_Sign CKM_EDDSA = published signature\n#   got  %s\n#   want %s (rv 0x%lx)",
            who, rv == CKR_OK ? tohex (got, 64) : "-", tohex (sig, 64), rv);
        memset (got, 0, sizeof got);
        rv = ed_sign (priv, msg, (size_t) mlen, got);
        ok (rv == CKR_OK && memcmp (got, sig, 64) == 0,
            "%s: signing again (the key now cached) gives the same signature (rv 0x%lx)", who,
            rv);
        /* multi-part, a byte at a time */
        rv = F->C_SignInit (sess, &m_eddsa, priv);
        for (long j = 0; rv == CKR_OK && j < mlen; j++)
            rv = F->C_SignUpdate (sess, msg + j, 1);
        if (rv == CKR_OK) {
            CK_ULONG n = sizeof got;
            memset (got, 0, sizeof got);
            rv = F->C_SignFinal (sess, got, &n);
        }
        ok (rv == CKR_OK && memcmp (got, sig, 64) == 0,
            "%s: C_SignUpdate byte by byte + C_SignFinal = published signature (rv 0x%lx)", who,
            rv);

        printf ("# %s: C_Verify with the private key object\n", who);
        check_verify (who, priv, msg, (size_t) mlen, sig);

        /* public-key objects from the published key: raw 32 bytes, DER */
        rv = ed_pub_create (pk, 32, oid_ed25519, sizeof oid_ed25519, &pub_raw);
        is_rv (rv, CKR_OK, "C_CreateObject CKO_PUBLIC_KEY, CKA_EC_POINT raw 32 bytes");
        if (rv == CKR_OK) {
            check_bytes (who, pub_raw, CKA_EC_POINT, "public (raw): CKA_EC_POINT kept as DER", der,
                         34);
            check_verify (who, pub_raw, msg, (size_t) mlen, sig);
            F->C_DestroyObject (sess, pub_raw);
        }
        rv = ed_pub_create (der, 34, name_ed25519, sizeof name_ed25519, &pub_der);
        is_rv (rv, CKR_OK,
               "C_CreateObject CKO_PUBLIC_KEY, CKA_EC_POINT DER, CKA_EC_PARAMS \"edwards25519\"");
        if (rv == CKR_OK) {
            check_bytes (who, pub_der, CKA_EC_POINT, "public (DER): CKA_EC_POINT", der, 34);
            if (get_attr (pub_der, CKA_EC_PARAMS, &params, &params_len) == CKR_OK)
                ok (params_len == sizeof oid_ed25519
                        && memcmp (params, oid_ed25519, params_len) == 0,
                    "%s: public (DER): CKA_EC_PARAMS reported as the OID: %s", who,
                    tohex (params, params_len));
            else
                ok (false, "%s: public (DER): CKA_EC_PARAMS readable", who);
            free (params);
            params = NULL;
            check_verify (who, pub_der, msg, (size_t) mlen, sig);
            F->C_DestroyObject (sess, pub_der);
        }
        is_rv (F->C_DestroyObject (sess, priv), CKR_OK, "C_DestroyObject of the imported key");
    }

    /* public keys that are not Ed25519 keys */
    {
        static const CK_BYTE zero[32], identity[32] = { 1 };
        CK_BYTE short_key[31] = { 0 }, wrongtag[34] = { 0x03, 0x20 };
        CK_OBJECT_HANDLE h;
        CK_RV rv = ed_pub_create (zero, 32, oid_ed25519, sizeof oid_ed25519, &h);
        is_rv (rv, CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject of an Ed25519 public key of 32 zero bytes (small order)");
        rv = ed_pub_create (identity, 32, oid_ed25519, sizeof oid_ed25519, &h);
        is_rv (rv, CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject of the identity point as an Ed25519 public key");
        memset (short_key, 0x42, sizeof short_key);
        rv = ed_pub_create (short_key, sizeof short_key, oid_ed25519, sizeof oid_ed25519, &h);
        is_rv (rv, CKR_ATTRIBUTE_VALUE_INVALID, "C_CreateObject of a 31-byte Ed25519 public key");
        unhex (rfc8032[0].pk, wrongtag + 2, 32);
        rv = ed_pub_create (wrongtag, sizeof wrongtag, oid_ed25519, sizeof oid_ed25519, &h);
        is_rv (rv, CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject of an Ed25519 public key as a BIT STRING (tag 03)");
        rv = ed_pub_create (wrongtag + 2, 32, oid_ed448, sizeof oid_ed448, &h);
        is_rv (rv, CKR_CURVE_NOT_SUPPORTED, "C_CreateObject of a public key with the Ed448 OID");
    }
}

/* ==== generate ==== */

/* The attributes of a freshly generated pair; pk receives the public key. */
static bool
check_generated (const char *who, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, CK_BYTE pk[32])
{
    CK_BYTE pk2[32], spki[44];
    CK_BYTE *id1 = NULL, *id2 = NULL;
    CK_ULONG l1 = 0, l2 = 0;
    bool good;

    good = ed_point (pub, pk) && ed_point (priv, pk2);
    ok (good && memcmp (pk, pk2, 32) == 0,
        "%s: both objects carry CKA_EC_POINT 04 20 + the same 32 bytes (%s)", who,
        good ? tohex (pk, 32) : "-");
    if (!good)
        return false;
    memcpy (spki, spki_prefix, sizeof spki_prefix);
    memcpy (spki + sizeof spki_prefix, pk, 32);
    for (int i = 0; i < 2; i++) {
        CK_OBJECT_HANDLE h = i ? priv : pub;
        char w[96];
        snprintf (w, sizeof w, "%s %s", who, i ? "private" : "public");
        check_bytes (w, h, CKA_EC_PARAMS, "CKA_EC_PARAMS (always the OID)", oid_ed25519,
                     sizeof oid_ed25519);
        check_ulong (w, h, CKA_KEY_TYPE, "CKA_KEY_TYPE", CKK_EC_EDWARDS);
        check_bytes (w, h, CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO", spki, sizeof spki);
        check_bool (w, h, CKA_LOCAL, "CKA_LOCAL", CK_TRUE);
        check_ulong (w, h, CKA_KEY_GEN_MECHANISM, "CKA_KEY_GEN_MECHANISM",
                     CKM_EC_EDWARDS_KEY_PAIR_GEN);
    }
    check_bool (who, priv, CKA_SENSITIVE, "private CKA_SENSITIVE", CK_TRUE);
    check_bool (who, priv, CKA_ALWAYS_SENSITIVE, "private CKA_ALWAYS_SENSITIVE", CK_TRUE);
    check_bool (who, priv, CKA_EXTRACTABLE, "private CKA_EXTRACTABLE", CK_FALSE);
    check_bool (who, priv, CKA_NEVER_EXTRACTABLE, "private CKA_NEVER_EXTRACTABLE", CK_TRUE);
    check_bool (who, priv, CKA_PRIVATE, "private CKA_PRIVATE", CK_TRUE);
    check_bool (who, priv, CKA_TPMTRUST_TPM_KEY, "private CKA_TPMTRUST_TPM_KEY", CK_TRUE);
    check_value_hidden (who, priv);
    if (get_attr (pub, CKA_ID, &id1, &l1) == CKR_OK && get_attr (priv, CKA_ID, &id2, &l2) == CKR_OK)
        ok (l1 > 0 && l1 == l2 && memcmp (id1, id2, l1) == 0, "%s: one CKA_ID for both: %s", who,
            tohex (id1, l1));
    else
        ok (false, "%s: CKA_ID readable", who);
    free (id1);
    free (id2);
    return true;
}

/* Signs msg with priv, checks the signature with OpenSSL, libsodium and the
 * public key object; a tampered copy must fail OpenSSL (non-vacuous). */
static bool
sign_and_check (const char *who, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                const CK_BYTE pk[32], const CK_BYTE *msg, size_t len, CK_BYTE sig[64])
{
    CK_BYTE bad[64];
    CK_RV rv = ed_sign (priv, msg, len, sig);
    bool a, b, c;

    is_rv (rv, CKR_OK, "C_Sign CKM_EDDSA");
    if (rv != CKR_OK)
        return false;
    a = ossl_ed_verify (pk, msg, len, sig);
    b = crypto_sign_verify_detached (sig, msg, len, pk) == 0;
    ok (a && b, "%s: OpenSSL (EVP_DigestVerify, ED25519) and libsodium verify the signature of "
                "%zu bytes: %s",
        who, len, tohex (sig, 16));
    memcpy (bad, sig, 64);
    bad[63] ^= 0x01;
    c = ossl_ed_verify (pk, msg, len, bad);
    ok (!c, "%s: OpenSSL refuses the signature with a bit flipped", who);
    if (pub != CK_INVALID_HANDLE)
        is_rv (p11_verify (&m_eddsa, pub, msg, len, sig, 64), CKR_OK,
               "  C_Verify with the public key object");
    return a && b && !c;
}

static void
mode_generate (void)
{
    static const char token_label[] = "ed-gen-token";
    CK_OBJECT_HANDLE pub1, priv1, pub2, priv2, tpub, tpriv, h;
    CK_BYTE pk1[32], pk2[32], tpk[32], sig[64], sig2[64], sig_before[64];
    CK_BYTE msg[] = "tpmtrust Ed25519 test message";
    size_t mlen = sizeof msg - 1;
    bool have1 = false, have2 = false, have_t = false;
    CK_RV rv;
    double t;

    /* both forms of CKA_EC_PARAMS */
    rv = pair_generate (false, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &pub1, &priv1);
    is_rv (rv, CKR_OK, "C_GenerateKeyPair CKM_EC_EDWARDS_KEY_PAIR_GEN, CKA_EC_PARAMS = OID");
    if (rv == CKR_OK)
        have1 = check_generated ("OID pair", pub1, priv1, pk1);
    rv = pair_generate (false, name_ed25519, sizeof name_ed25519, false, NULL, NULL, &pub2,
                        &priv2);
    is_rv (rv, CKR_OK,
           "C_GenerateKeyPair CKM_EC_EDWARDS_KEY_PAIR_GEN, CKA_EC_PARAMS = \"edwards25519\"");
    if (rv == CKR_OK)
        have2 = check_generated ("edwards25519 pair", pub2, priv2, pk2);
    if (have1 && have2)
        ok (memcmp (pk1, pk2, 32) != 0, "the two generated keys differ");
    /* the curve name in only the private template */
    {
        CK_MECHANISM m = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
        CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &no, sizeof no } };
        CK_ATTRIBUTE st[] = { { CKA_EC_PARAMS, (void *) name_ed25519, sizeof name_ed25519 } };
        CK_OBJECT_HANDLE a, b;
        CK_BYTE pk3[32];
        rv = F->C_GenerateKeyPair (sess, &m, pt, N_ELEM (pt), st, N_ELEM (st), &a, &b);
        is_rv (rv, CKR_OK, "C_GenerateKeyPair with CKA_EC_PARAMS only in the private template");
        if (rv == CKR_OK) {
            check_bytes ("params in private template", a, CKA_EC_PARAMS,
                         "public CKA_EC_PARAMS (the OID)", oid_ed25519, sizeof oid_ed25519);
            if (ed_point (a, pk3))
                sign_and_check ("params in private template", a, b, pk3, msg, mlen, sig);
            F->C_DestroyObject (sess, a);
            F->C_DestroyObject (sess, b);
        }
    }

    /* signatures, checked independently */
    if (have1) {
        t = now ();
        sign_and_check ("OID pair", pub1, priv1, pk1, msg, mlen, sig);
        printf ("# first signature (unseal + expand + sign): %.1f ms\n", (now () - t) * 1e3);
        t = now ();
        rv = ed_sign (priv1, msg, mlen, sig2);
        printf ("# second signature (cached): %.3f ms\n", (now () - t) * 1e3);
        ok (rv == CKR_OK && memcmp (sig, sig2, 64) == 0,
            "signing the same message again gives the same signature (deterministic)");
        sign_and_check ("OID pair, empty message", pub1, priv1, pk1, NULL, 0, sig2);
        /* a pure CK_EDDSA_PARAMS (no prehash, no context) is accepted */
        {
            CK_EDDSA_PARAMS p = { CK_FALSE, 0, NULL };
            CK_MECHANISM m = { CKM_EDDSA, &p, sizeof p };
            CK_BYTE s3[64];
            CK_ULONG n = sizeof s3;
            rv = p11_sign (&m, priv1, msg, mlen, s3, &n);
            ok (rv == CKR_OK && n == 64 && memcmp (s3, sig, 64) == 0,
                "CK_EDDSA_PARAMS { phFlag FALSE, no context } = pure Ed25519 (rv 0x%lx)", rv);
        }
    }
    if (have2)
        sign_and_check ("edwards25519 pair", pub2, priv2, pk2, msg, mlen, sig2);

    /* 1 MiB: multi-part in chunks = single-part */
    if (have1) {
        const size_t big = 1024 * 1024;
        static const CK_ULONG chunks[] = { 1000, 4096, 65536, 333333 };
        CK_BYTE *data = malloc (big), one[64], part[64];
        CK_ULONG n = sizeof one;

        if (data == NULL || RAND_bytes (data, (int) big) != 1) {
            ok (false, "1 MiB of random data");
            free (data);
            data = NULL;
        }
        if (data != NULL) {
            t = now ();
            rv = p11_sign (&m_eddsa, priv1, data, big, one, &n);
            ok (rv == CKR_OK && n == 64 && ossl_ed_verify (pk1, data, big, one),
                "1 MiB single-part C_Sign: OpenSSL verifies (rv 0x%lx, %.1f ms)", rv,
                (now () - t) * 1e3);
            for (size_t c = 0; c < N_ELEM (chunks); c++) {
                size_t off = 0;
                rv = F->C_SignInit (sess, &m_eddsa, priv1);
                while (rv == CKR_OK && off < big) {
                    CK_ULONG l = chunks[c] < big - off ? chunks[c] : (CK_ULONG) (big - off);
                    rv = F->C_SignUpdate (sess, data + off, l);
                    off += l;
                }
                n = sizeof part;
                memset (part, 0, sizeof part);
                if (rv == CKR_OK)
                    rv = F->C_SignFinal (sess, part, &n);
                ok (rv == CKR_OK && n == 64 && memcmp (part, one, 64) == 0,
                    "1 MiB in chunks of %lu (C_SignUpdate) = single-part (rv 0x%lx)", chunks[c],
                    rv);
            }
            /* multi-part verify */
            rv = F->C_VerifyInit (sess, &m_eddsa, pub1);
            for (size_t off = 0; rv == CKR_OK && off < big; off += 65536)
                rv = F->C_VerifyUpdate (sess, data + off, 65536);
            if (rv == CKR_OK)
                rv = F->C_VerifyFinal (sess, one, 64);
            is_rv (rv, CKR_OK, "1 MiB C_VerifyUpdate in chunks of 65536 + C_VerifyFinal");
            data[big - 1] ^= 1;
            rv = F->C_VerifyInit (sess, &m_eddsa, pub1);
            for (size_t off = 0; rv == CKR_OK && off < big; off += 65536)
                rv = F->C_VerifyUpdate (sess, data + off, 65536);
            if (rv == CKR_OK)
                rv = F->C_VerifyFinal (sess, one, 64);
            is_rv (rv, CKR_SIGNATURE_INVALID, "  the last byte changed: CKR_SIGNATURE_INVALID");
            /* C_Sign after C_SignUpdate is refused (and ends the operation) */
            rv = F->C_SignInit (sess, &m_eddsa, priv1);
            if (rv == CKR_OK)
                rv = F->C_SignUpdate (sess, data, 10);
            n = sizeof part;
            if (rv == CKR_OK)
                rv = F->C_Sign (sess, data, 10, part, &n);
            is_rv (rv, CKR_OPERATION_ACTIVE, "C_Sign after C_SignUpdate");
            free (data);
        }
    }

    /* refusals */
    if (have1) {
        CK_BYTE ctx[] = "context";
        CK_EDDSA_PARAMS ph = { CK_TRUE, 0, NULL }, withctx = { CK_FALSE, 7, ctx },
                        both = { CK_TRUE, 7, ctx };
        CK_MECHANISM m;
        m = (CK_MECHANISM) { CKM_EDDSA, &ph, sizeof ph };
        is_rv (F->C_SignInit (sess, &m, priv1), CKR_MECHANISM_PARAM_INVALID,
               "C_SignInit Ed25519ph (phFlag TRUE)");
        is_rv (F->C_VerifyInit (sess, &m, pub1), CKR_MECHANISM_PARAM_INVALID,
               "C_VerifyInit Ed25519ph (phFlag TRUE)");
        m = (CK_MECHANISM) { CKM_EDDSA, &withctx, sizeof withctx };
        is_rv (F->C_SignInit (sess, &m, priv1), CKR_MECHANISM_PARAM_INVALID,
               "C_SignInit Ed25519ctx (a context)");
        m = (CK_MECHANISM) { CKM_EDDSA, &both, sizeof both };
        is_rv (F->C_SignInit (sess, &m, priv1), CKR_MECHANISM_PARAM_INVALID,
               "C_SignInit Ed25519ph with a context");
        m = (CK_MECHANISM) { CKM_EDDSA, &ph, sizeof ph - 1 };
        is_rv (F->C_SignInit (sess, &m, priv1), CKR_MECHANISM_PARAM_INVALID,
               "C_SignInit CKM_EDDSA with a parameter of the wrong size");
        /* nothing was left active by the refusals */
        rv = ed_sign (priv1, msg, mlen, sig2);
        ok (rv == CKR_OK && memcmp (sig, sig2, 64) == 0,
            "after the refusals the key signs as before (rv 0x%lx)", rv);
        m = (CK_MECHANISM) { CKM_ECDSA, NULL, 0 };
        is_rv (F->C_SignInit (sess, &m, priv1), CKR_KEY_TYPE_INCONSISTENT,
               "C_SignInit CKM_ECDSA with an Ed25519 key");
        is_rv (F->C_SignInit (sess, &m_eddsa, pub1), CKR_KEY_TYPE_INCONSISTENT,
               "C_SignInit CKM_EDDSA with the public key");
        {
            CK_OBJECT_HANDLE ep, es;
            rv = pair_generate (true, oid_p256, sizeof oid_p256, false, NULL, NULL, &ep, &es);
            is_rv (rv, CKR_OK, "C_GenerateKeyPair P-256 (for a mismatch)");
            if (rv == CKR_OK) {
                is_rv (F->C_SignInit (sess, &m_eddsa, es), CKR_KEY_TYPE_INCONSISTENT,
                       "C_SignInit CKM_EDDSA with a P-256 key");
                F->C_DestroyObject (sess, ep);
                F->C_DestroyObject (sess, es);
            }
        }
    }
    rv = pair_generate (false, oid_ed448, sizeof oid_ed448, false, NULL, NULL, &h, &h);
    is_rv (rv, CKR_CURVE_NOT_SUPPORTED, "C_GenerateKeyPair with the Ed448 OID");
    rv = pair_generate (false, oid_p256, sizeof oid_p256, false, NULL, NULL, &h, &h);
    is_rv (rv, CKR_CURVE_NOT_SUPPORTED,
           "C_GenerateKeyPair CKM_EC_EDWARDS_KEY_PAIR_GEN with the P-256 OID");
    {
        CK_MECHANISM m = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
        CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &no, sizeof no } };
        CK_ATTRIBUTE st[] = { { CKA_EXTRACTABLE, &yes, sizeof yes },
                              { CKA_EC_PARAMS, (void *) oid_ed25519, sizeof oid_ed25519 } };
        CK_OBJECT_HANDLE a, b;
        is_rv (F->C_GenerateKeyPair (sess, &m, pt, N_ELEM (pt), st, 1, &a, &b),
               CKR_TEMPLATE_INCOMPLETE, "C_GenerateKeyPair without CKA_EC_PARAMS");
        is_rv (F->C_GenerateKeyPair (sess, &m, pt, N_ELEM (pt), st, N_ELEM (st), &a, &b),
               CKR_ATTRIBUTE_VALUE_INVALID, "C_GenerateKeyPair with CKA_EXTRACTABLE TRUE");
    }

    /* seed imports that are refused */
    {
        CK_BYTE seed[40];
        randombytes_buf (seed, sizeof seed);
        is_rv (ed_import (seed, 31, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &h),
               CKR_ATTRIBUTE_VALUE_INVALID, "import of a 31-byte seed");
        is_rv (ed_import (seed, 33, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &h),
               CKR_ATTRIBUTE_VALUE_INVALID, "import of a 33-byte seed");
        is_rv (ed_import (seed, 64, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &h),
               CKR_ATTRIBUTE_VALUE_INVALID,
               "import of 64 bytes (libsodium's seed||pk secret key form)");
        is_rv (ed_import (seed, 32, oid_ed448, sizeof oid_ed448, false, NULL, NULL, &h),
               CKR_CURVE_NOT_SUPPORTED, "import of a seed with the Ed448 OID");
        {
            CK_ATTRIBUTE bad_tmpl[] = {
                { CKA_CLASS, &c_priv, sizeof c_priv },
                { CKA_KEY_TYPE, &k_ed, sizeof k_ed },
                { CKA_EC_PARAMS, (void *) oid_ed25519, sizeof oid_ed25519 },
                { CKA_EXTRACTABLE, &yes, sizeof yes },
                { CKA_VALUE, seed, 32 },
            };
            is_rv (F->C_CreateObject (sess, bad_tmpl, N_ELEM (bad_tmpl), &h), CKR_ATTRIBUTE_VALUE_INVALID,
                   "import with CKA_EXTRACTABLE TRUE");
            is_rv (F->C_CreateObject (sess, bad_tmpl, 3, &h), CKR_TEMPLATE_INCOMPLETE,
                   "import without CKA_VALUE");
        }
        /* CKA_PRIVATE FALSE: generation refuses it; an import must either
         * refuse it too or give a key that cannot sign without login */
        {
            CK_ATTRIBUTE bad_tmpl[] = {
                { CKA_CLASS, &c_priv, sizeof c_priv },
                { CKA_KEY_TYPE, &k_ed, sizeof k_ed },
                { CKA_EC_PARAMS, (void *) oid_ed25519, sizeof oid_ed25519 },
                { CKA_VALUE, seed, 32 },
                { CKA_PRIVATE, &no, sizeof no },
            };
            rv = F->C_CreateObject (sess, bad_tmpl, N_ELEM (bad_tmpl), &h);
            if (rv == CKR_OK) {
                CK_BYTE s[64];
                printf ("# note: an Ed25519 seed import with CKA_PRIVATE FALSE is accepted "
                        "(C_GenerateKeyPair refuses CKA_PRIVATE FALSE)\n");
                is_rv (F->C_Logout (sess), CKR_OK, "C_Logout (CKA_PRIVATE FALSE key)");
                rv = ed_sign (h, msg, mlen, s);
                is_rv (rv, CKR_USER_NOT_LOGGED_IN,
                       "not logged in: the CKA_PRIVATE FALSE Ed25519 key does not sign");
                is_rv (login (), CKR_OK, "C_Login again");
                F->C_DestroyObject (sess, h);
            } else {
                is_rv (rv, CKR_ATTRIBUTE_VALUE_INVALID, "import with CKA_PRIVATE FALSE is refused");
            }
        }
        sodium_memzero (seed, sizeof seed);
    }

    /* logout, sign without login, login again */
    destroy_all (CKO_PRIVATE_KEY, CKA_LABEL, token_label);
    destroy_all (CKO_PUBLIC_KEY, CKA_LABEL, token_label);
    rv = pair_generate (false, oid_ed25519, sizeof oid_ed25519, true, token_label, NULL, &tpub,
                        &tpriv);
    is_rv (rv, CKR_OK, "C_GenerateKeyPair Ed25519 as token objects");
    if (rv == CKR_OK) {
        check_bool ("token pair", tpriv, CKA_TOKEN, "CKA_TOKEN", CK_TRUE);
        have_t = ed_point (tpub, tpk) && sign_and_check ("token pair", tpub, tpriv, tpk, msg,
                                                         mlen, sig_before);
    }
    if (have_t) {
        CK_ULONG n = sizeof sig, count;
        /* an operation begun while logged in, the key cached: after C_Logout it
         * must not produce a signature */
        rv = F->C_SignInit (sess, &m_eddsa, tpriv);
        is_rv (rv, CKR_OK, "C_SignInit (the key is cached)");
        is_rv (F->C_Logout (sess), CKR_OK, "C_Logout with the operation active");
        memset (sig, 0, sizeof sig);
        rv = rv == CKR_OK ? F->C_Sign (sess, msg, mlen, sig, &n) : CKR_OPERATION_NOT_INITIALIZED;
        ok (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_OPERATION_NOT_INITIALIZED,
            "C_Sign after C_Logout (operation begun before): 0x%lx (want "
            "CKR_USER_NOT_LOGGED_IN, or CKR_OPERATION_NOT_INITIALIZED if logout ended it)",
            rv);
        ok (sodium_is_zero (sig, sizeof sig), "  no signature was written");
        F->C_SignInit (sess, NULL, CK_INVALID_HANDLE); /* cancel, if still active */
        rv = F->C_SignInit (sess, &m_eddsa, tpriv);
        if (rv == CKR_OK) {
            n = sizeof sig;
            rv = F->C_Sign (sess, msg, mlen, sig, &n);
        }
        ok (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID,
            "not logged in: C_SignInit with the old handle: 0x%lx (want "
            "CKR_USER_NOT_LOGGED_IN or CKR_KEY_HANDLE_INVALID)",
            rv);
        h = find_one (CKO_PRIVATE_KEY, CKA_LABEL, token_label, &count);
        ok (h == CK_INVALID_HANDLE && count == 0,
            "not logged in: the private key is not visible (%lu found)", count);
        h = find_one (CKO_PUBLIC_KEY, CKA_LABEL, token_label, &count);
        ok (h != CK_INVALID_HANDLE && count == 1,
            "not logged in: the public key is visible (%lu found)", count);
        if (h != CK_INVALID_HANDLE)
            is_rv (p11_verify (&m_eddsa, h, msg, mlen, sig_before, 64), CKR_OK,
                   "not logged in: C_Verify with the public token key (software)");
        {
            CK_BYTE seed[32];
            CK_OBJECT_HANDLE a, b;
            randombytes_buf (seed, sizeof seed);
            is_rv (ed_import (seed, 32, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &a),
                   CKR_USER_NOT_LOGGED_IN, "not logged in: seed import");
            is_rv (pair_generate (false, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &a,
                                  &b),
                   CKR_USER_NOT_LOGGED_IN, "not logged in: C_GenerateKeyPair");
        }
        is_rv (login (), CKR_OK, "C_Login again");
        h = find_one (CKO_PRIVATE_KEY, CKA_LABEL, token_label, &count);
        ok (h != CK_INVALID_HANDLE && count == 1, "after login: the private key found by label");
        if (h != CK_INVALID_HANDLE) {
            t = now ();
            rv = ed_sign (h, msg, mlen, sig);
            ok (rv == CKR_OK && memcmp (sig, sig_before, 64) == 0,
                "after login: the key signs, the same signature as before (rv 0x%lx, %.1f ms)",
                rv, (now () - t) * 1e3);
            is_rv (F->C_DestroyObject (sess, h), CKR_OK, "C_DestroyObject (token private key)");
        }
        destroy_all (CKO_PUBLIC_KEY, CKA_LABEL, token_label);
        h = find_one (CKO_PUBLIC_KEY, CKA_LABEL, token_label, &count);
        ok (count == 0, "the token pair is gone");
    }
}

/* ==== bind / use ==== */

static const char hmac_msg[] = "pcr-bound message";
/* the HMAC key of "ph": known, so that its MAC can be checked with OpenSSL */
static const CK_BYTE ph_key[32] = "tpmtrust pcr-bound hmac key 0001";

static int
popcount (CK_ULONG v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

static void
check_pcr_attrs (const char *who, CK_OBJECT_HANDLE h, CK_ULONG mask, const CK_BYTE *values,
                 long values_len)
{
    CK_BYTE *v = NULL;
    CK_ULONG len = 0, want_len = 32 * (CK_ULONG) popcount (mask);
    CK_RV rv;

    check_ulong (who, h, CKA_TPMTRUST_PCR_MASK, "CKA_TPMTRUST_PCR_MASK", mask);
    check_ulong (who, h, CKA_TPMTRUST_PCR_BANK, "CKA_TPMTRUST_PCR_BANK", CKM_SHA256);
    rv = get_attr (h, CKA_TPMTRUST_PCR_VALUES, &v, &len);
    ok (rv == CKR_OK && len == want_len,
        "%s: CKA_TPMTRUST_PCR_VALUES readable, %lu bytes (32 per PCR: want %lu; rv 0x%lx)", who,
        len, want_len, rv);
    if (values != NULL && values_len >= 0)
        ok (rv == CKR_OK && len == (CK_ULONG) values_len && memcmp (v, values, len) == 0,
            "%s: CKA_TPMTRUST_PCR_VALUES = the PCR values read by tpm2_pcrread: %s", who,
            tohex (v, len));
    free (v);
    {
        CK_ULONG other = mask ^ 1;
        CK_ATTRIBUTE a = { CKA_TPMTRUST_PCR_MASK, &other, sizeof other };
        is_rv (F->C_SetAttributeValue (sess, h, &a, 1), CKR_ATTRIBUTE_READ_ONLY,
               "  C_SetAttributeValue CKA_TPMTRUST_PCR_MASK is refused (read-only)");
    }
}

static CK_RV
hmac_import (const CK_BYTE *key, size_t len, bool token, const char *label,
             const CK_ULONG *pcr_mask, const CK_MECHANISM_TYPE *bank, CK_OBJECT_HANDLE *h)
{
    tmpl t = { .n = 0 };
    add (&t, CKA_CLASS, &c_secret, sizeof c_secret);
    add (&t, CKA_KEY_TYPE, &k_hmac256, sizeof k_hmac256);
    add (&t, CKA_VALUE, key, len);
    add (&t, CKA_TOKEN, token ? &yes : &no, sizeof yes);
    add (&t, CKA_SIGN, &yes, sizeof yes);
    add (&t, CKA_VERIFY, &yes, sizeof yes);
    if (label != NULL) {
        add (&t, CKA_LABEL, label, strlen (label));
        add (&t, CKA_ID, label, strlen (label));
    }
    if (pcr_mask != NULL)
        add (&t, CKA_TPMTRUST_PCR_MASK, pcr_mask, sizeof *pcr_mask);
    if (bank != NULL)
        add (&t, CKA_TPMTRUST_PCR_BANK, bank, sizeof *bank);
    *h = CK_INVALID_HANDLE;
    return F->C_CreateObject (sess, t.a, t.n, h);
}

/* The three bound keys' uses. expect: CKR_OK (and the results verify) or
 * CKR_TPMTRUST_PCR_MISMATCH. */
static void
use_ecdsa (CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, CK_RV expect)
{
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_BYTE sig[96], *spki = NULL;
    CK_ULONG n = sizeof sig, spki_len = 0;
    CK_RV rv = p11_sign (&m, priv, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), sig, &n);

    if (expect != CKR_OK) {
        is_rv (rv, expect, "ECDSA P-256 'pe': C_Sign CKM_ECDSA_SHA256 (want the PCR mismatch)");
        return;
    }
    is_rv (rv, CKR_OK, "ECDSA P-256 'pe': C_Sign CKM_ECDSA_SHA256");
    if (rv != CKR_OK)
        return;
    rv = get_attr (pub, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
    ok (rv == CKR_OK && n == 64
            && ossl_ecdsa_verify (spki, spki_len, (const CK_BYTE *) hmac_msg, strlen (hmac_msg),
                                  sig, n),
        "ECDSA P-256 'pe': OpenSSL verifies the signature (%lu bytes)", n);
    sig[5] ^= 1;
    ok (rv == CKR_OK
            && !ossl_ecdsa_verify (spki, spki_len, (const CK_BYTE *) hmac_msg, strlen (hmac_msg),
                                   sig, n),
        "ECDSA P-256 'pe': OpenSSL refuses it with a bit flipped");
    free (spki);
}

static void
use_hmac (CK_OBJECT_HANDLE key, CK_RV expect)
{
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_BYTE mac[32], want[32];
    CK_ULONG n = sizeof mac;
    CK_RV rv = p11_sign (&m, key, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), mac, &n);
    bool have = ossl_hmac256 (ph_key, sizeof ph_key, (const CK_BYTE *) hmac_msg,
                              strlen (hmac_msg), want);

    if (expect != CKR_OK) {
        is_rv (rv, expect, "HMAC 'ph': C_Sign CKM_SHA256_HMAC (want the PCR mismatch)");
        is_rv (have ? p11_verify (&m, key, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), want,
                                  32)
                    : CKR_GENERAL_ERROR,
               expect, "HMAC 'ph': C_Verify (in the TPM) (want the PCR mismatch)");
        return;
    }
    ok (rv == CKR_OK && n == 32 && have && memcmp (mac, want, 32) == 0,
        "HMAC 'ph': C_Sign CKM_SHA256_HMAC = OpenSSL's HMAC (rv 0x%lx): %s", rv,
        rv == CKR_OK ? tohex (mac, 32) : "-");
    is_rv (have ? p11_verify (&m, key, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), want, 32)
                : CKR_GENERAL_ERROR,
           CKR_OK, "HMAC 'ph': C_Verify accepts OpenSSL's HMAC");
}

static void
use_ed (CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, CK_RV expect)
{
    CK_BYTE pk[32], sig[64];
    CK_RV rv = ed_sign (priv, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), sig);

    if (expect != CKR_OK) {
        is_rv (rv, expect, "Ed25519 'pd': C_Sign CKM_EDDSA (want the PCR mismatch)");
        rv = ed_sign (priv, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), sig);
        is_rv (rv, expect, "Ed25519 'pd': C_Sign CKM_EDDSA again (want the PCR mismatch)");
        return;
    }
    is_rv (rv, CKR_OK, "Ed25519 'pd': C_Sign CKM_EDDSA");
    ok (rv == CKR_OK && ed_point (pub, pk)
            && ossl_ed_verify (pk, (const CK_BYTE *) hmac_msg, strlen (hmac_msg), sig),
        "Ed25519 'pd': OpenSSL verifies the signature");
}

static void
mode_bind (const char *mask_s, const char *values_hex)
{
    CK_BYTE values[24 * 32];
    long values_len = -1;
    char *end;
    CK_ULONG mask;
    CK_OBJECT_HANDLE epub, epriv, hk, dpub, dpriv, h;
    CK_RV rv;

    errno = 0;
    mask = strtoul (mask_s, &end, 0);
    if (errno != 0 || *end != '\0' || mask == 0) {
        ok (false, "bind: MASK '%s' is a non-zero number", mask_s);
        return;
    }
    if (values_hex != NULL
        && (values_len = unhex (values_hex, values, sizeof values)) < 0) {
        ok (false, "bind: VALUESHEX is hex of at most %zu bytes", sizeof values);
        return;
    }
    printf ("# binding to PCR mask 0x%lx (%d PCRs), sha256 bank\n", mask, popcount (mask));

    /* refusals first: nothing is created */
    {
        CK_ULONG bad_mask = mask | (1UL << 24);
        CK_MECHANISM_TYPE bad_bank = CKM_MD5;
        is_rv (hmac_import (ph_key, 32, false, NULL, &bad_mask, NULL, &h),
               CKR_ATTRIBUTE_VALUE_INVALID, "CKA_TPMTRUST_PCR_MASK with bit 24 (no PCR 24)");
        is_rv (hmac_import (ph_key, 32, false, NULL, &mask, &bad_bank, &h),
               CKR_ATTRIBUTE_VALUE_INVALID, "CKA_TPMTRUST_PCR_BANK CKM_MD5");
    }

    destroy_all (CKO_PRIVATE_KEY, CKA_ID, "pe");
    destroy_all (CKO_PUBLIC_KEY, CKA_ID, "pe");
    destroy_all (CKO_SECRET_KEY, CKA_LABEL, "ph");
    destroy_all (CKO_PRIVATE_KEY, CKA_ID, "pd");
    destroy_all (CKO_PUBLIC_KEY, CKA_ID, "pd");

    rv = pair_generate (true, oid_p256, sizeof oid_p256, true, "pe", &mask, &epub, &epriv);
    is_rv (rv, CKR_OK, "C_GenerateKeyPair ECDSA P-256 'pe', bound");
    if (rv == CKR_OK) {
        check_pcr_attrs ("ECDSA 'pe'", epriv, mask, values_len >= 0 ? values : NULL, values_len);
        use_ecdsa (epub, epriv, CKR_OK);
    }
    rv = hmac_import (ph_key, sizeof ph_key, true, "ph", &mask, &bank_sha256, &hk);
    is_rv (rv, CKR_OK, "C_CreateObject HMAC-SHA256 key 'ph', bound");
    if (rv == CKR_OK) {
        check_pcr_attrs ("HMAC 'ph'", hk, mask, values_len >= 0 ? values : NULL, values_len);
        check_value_hidden ("HMAC 'ph'", hk);
        use_hmac (hk, CKR_OK);
    }
    rv = pair_generate (false, oid_ed25519, sizeof oid_ed25519, true, "pd", &mask, &dpub, &dpriv);
    is_rv (rv, CKR_OK, "C_GenerateKeyPair Ed25519 'pd', bound");
    if (rv == CKR_OK) {
        check_pcr_attrs ("Ed25519 'pd'", dpriv, mask, values_len >= 0 ? values : NULL,
                         values_len);
        use_ed (dpub, dpriv, CKR_OK);
    }
    /* an imported Ed25519 seed can be bound too (session object) */
    {
        CK_BYTE seed[32], pk[32], sk[64], sig[64], want[64];
        CK_BYTE m[] = "x";
        randombytes_buf (seed, sizeof seed);
        crypto_sign_seed_keypair (pk, sk, seed);
        crypto_sign_detached (want, NULL, m, 1, sk);
        rv = ed_import (seed, 32, oid_ed25519, sizeof oid_ed25519, false, NULL, &mask, &h);
        is_rv (rv, CKR_OK, "C_CreateObject of an Ed25519 seed, bound");
        if (rv == CKR_OK) {
            check_pcr_attrs ("imported Ed25519", h, mask, values_len >= 0 ? values : NULL,
                             values_len);
            rv = ed_sign (h, m, 1, sig);
            ok (rv == CKR_OK && memcmp (sig, want, 64) == 0,
                "the bound imported seed signs as libsodium does (rv 0x%lx)", rv);
            F->C_DestroyObject (sess, h);
        }
        sodium_memzero (seed, sizeof seed);
        sodium_memzero (sk, sizeof sk);
    }
}

static void
mode_use (const char *expect_s)
{
    CK_RV expect;
    CK_ULONG c1, c2, c3, c4, c5;
    CK_OBJECT_HANDLE epriv, epub, hk, dpriv, dpub;

    if (strcmp (expect_s, "ok") == 0) {
        expect = CKR_OK;
    } else if (strcmp (expect_s, "mismatch") == 0) {
        expect = CKR_TPMTRUST_PCR_MISMATCH;
    } else {
        ok (false, "use: EXPECT is ok or mismatch, not '%s'", expect_s);
        return;
    }
    epriv = find_one (CKO_PRIVATE_KEY, CKA_ID, "pe", &c1);
    epub = find_one (CKO_PUBLIC_KEY, CKA_ID, "pe", &c2);
    hk = find_one (CKO_SECRET_KEY, CKA_LABEL, "ph", &c3);
    dpriv = find_one (CKO_PRIVATE_KEY, CKA_ID, "pd", &c4);
    dpub = find_one (CKO_PUBLIC_KEY, CKA_ID, "pd", &c5);
    ok (c1 == 1 && c2 == 1, "one ECDSA pair 'pe' (%lu private, %lu public)", c1, c2);
    ok (c3 == 1, "one HMAC key 'ph' (%lu)", c3);
    ok (c4 == 1 && c5 == 1, "one Ed25519 pair 'pd' (%lu private, %lu public)", c4, c5);
    if (epriv != CK_INVALID_HANDLE && epub != CK_INVALID_HANDLE)
        use_ecdsa (epub, epriv, expect);
    if (hk != CK_INVALID_HANDLE)
        use_hmac (hk, expect);
    if (dpriv != CK_INVALID_HANDLE && dpub != CK_INVALID_HANDLE)
        use_ed (dpub, dpriv, expect);
    if (expect != CKR_OK) {
        /* nothing was deleted, and the bound values are unchanged */
        CK_ULONG n1, n2, n3;
        find_one (CKO_PRIVATE_KEY, CKA_ID, "pe", &n1);
        find_one (CKO_SECRET_KEY, CKA_LABEL, "ph", &n2);
        find_one (CKO_PRIVATE_KEY, CKA_ID, "pd", &n3);
        ok (n1 == 1 && n2 == 1 && n3 == 1, "after the refusals the three keys are still there");
    }
}

/* ==== cache-pcr ==== */

#define PCR_EXTEND                                                                               \
    "tpm2_pcrextend 16:sha256="                                                                  \
    "c0ffee0000000000000000000000000000000000000000000000000000c0ffee >/dev/null"
#define PCR_RESET "tpm2_pcrreset 16 >/dev/null"

static void
mode_cache_pcr (void)
{
    CK_ULONG mask = 1UL << 16;
    CK_OBJECT_HANDLE ed, epub, epriv;
    CK_BYTE seed[32], sig[64], sig0[64], rs[96];
    CK_BYTE m[] = "cached key, changed PCR";
    CK_MECHANISM ecm = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_ULONG n;
    CK_RV rv, rv_ec;
    const char *uses = getenv ("TPMTRUST_ED25519_CACHE_USES");

    printf ("# TPMTRUST_ED25519_CACHE_USES=%s\n", uses ? uses : "(unset: 100000)");
    if (getenv ("TPM2TOOLS_TCTI") == NULL) {
        ok (false, "cache-pcr needs TPM2TOOLS_TCTI (run under tests/with-swtpm.sh)");
        return;
    }
    ok (system (PCR_RESET) == 0, "tpm2_pcrreset 16");
    randombytes_buf (seed, sizeof seed);
    rv = ed_import (seed, 32, oid_ed25519, sizeof oid_ed25519, false, NULL, &mask, &ed);
    is_rv (rv, CKR_OK, "import an Ed25519 seed bound to PCR 16");
    sodium_memzero (seed, sizeof seed);
    rv_ec = pair_generate (true, oid_p256, sizeof oid_p256, false, NULL, &mask, &epub, &epriv);
    is_rv (rv_ec, CKR_OK, "generate an ECDSA P-256 pair bound to PCR 16");
    if (rv != CKR_OK)
        return;
    rv = ed_sign (ed, m, sizeof m - 1, sig0);
    is_rv (rv, CKR_OK, "the bound Ed25519 key signs (its expanded key is now cached)");
    if (rv != CKR_OK)
        return;

    ok (system (PCR_EXTEND) == 0, "tpm2_pcrextend 16 (the module idle)");
    if (rv_ec == CKR_OK) {
        n = sizeof rs;
        is_rv (p11_sign (&ecm, epriv, m, sizeof m - 1, rs, &n), CKR_TPMTRUST_PCR_MISMATCH,
               "control: the bound ECDSA key now fails with CKR_TPMTRUST_PCR_MISMATCH");
    }
    memset (sig, 0, sizeof sig);
    rv = ed_sign (ed, m, sizeof m - 1, sig);
    is_rv (rv, CKR_TPMTRUST_PCR_MISMATCH,
           "the bound Ed25519 key, cached before PCR 16 changed, fails with "
           "CKR_TPMTRUST_PCR_MISMATCH");
    if (rv == CKR_OK)
        printf ("# the cached Ed25519 key signed although its PCR changed\n");

    ok (system (PCR_RESET) == 0, "tpm2_pcrreset 16: PCR 16 back to its bound value");
    rv = ed_sign (ed, m, sizeof m - 1, sig);
    ok (rv == CKR_OK && memcmp (sig, sig0, 64) == 0,
        "the Ed25519 key signs again, the same signature (rv 0x%lx)", rv);
    if (rv_ec == CKR_OK) {
        n = sizeof rs;
        is_rv (p11_sign (&ecm, epriv, m, sizeof m - 1, rs, &n), CKR_OK,
               "the ECDSA key signs again");
        F->C_DestroyObject (sess, epub);
        F->C_DestroyObject (sess, epriv);
    }
    F->C_DestroyObject (sess, ed);
}

/* ==== store / reuse ==== */

static void
mode_store (const char *seed_hex, const char *label)
{
    CK_BYTE seed[32], pk[32], sk[64], want[64], sig[64], der[34];
    CK_BYTE m[] = "stored";
    CK_OBJECT_HANDLE h;
    CK_RV rv;

    if (unhex (seed_hex, seed, sizeof seed) != 32) {
        ok (false, "store: SEEDHEX is 32 bytes of hex");
        return;
    }
    crypto_sign_seed_keypair (pk, sk, seed);
    crypto_sign_detached (want, NULL, m, sizeof m - 1, sk);
    sodium_memzero (sk, sizeof sk);
    destroy_all (CKO_PRIVATE_KEY, CKA_LABEL, label);
    rv = ed_import (seed, 32, oid_ed25519, sizeof oid_ed25519, true, label, NULL, &h);
    sodium_memzero (seed, sizeof seed);
    is_rv (rv, CKR_OK, "import the seed as a token object");
    if (rv != CKR_OK)
        return;
    memcpy (der, "\x04\x20", 2);
    memcpy (der + 2, pk, 32);
    check_bytes ("stored", h, CKA_EC_POINT, "CKA_EC_POINT", der, 34);
    check_bool ("stored", h, CKA_TOKEN, "CKA_TOKEN", CK_TRUE);
    check_value_hidden ("stored", h);
    rv = ed_sign (h, m, sizeof m - 1, sig);
    ok (rv == CKR_OK && memcmp (sig, want, 64) == 0,
        "it signs in this process too, as libsodium does (rv 0x%lx)", rv);
}

static void
mode_reuse (const char *label, const char *msg_hex, const char *sig_hex)
{
    CK_BYTE msg[256], want[64], sig[64];
    long mlen = unhex (msg_hex, msg, sizeof msg);
    CK_ULONG count;
    CK_OBJECT_HANDLE h = find_one (CKO_PRIVATE_KEY, CKA_LABEL, label, &count);
    CK_RV rv;

    ok (mlen >= 0 && unhex (sig_hex, want, sizeof want) == 64,
        "MSGHEX is hex, SIGHEX 64 bytes of hex");
    ok (h != CK_INVALID_HANDLE && count == 1, "one private key labelled '%s' (found %lu)", label,
        count);
    if (h == CK_INVALID_HANDLE || mlen < 0)
        return;
    check_value_hidden ("reloaded", h);
    rv = ed_sign (h, msg, (size_t) mlen, sig);
    ok (rv == CKR_OK && memcmp (sig, want, 64) == 0,
        "C_Sign CKM_EDDSA of %ld bytes = %s (rv 0x%lx), want %s", mlen,
        rv == CKR_OK ? tohex (sig, 64) : "-", rv, tohex (want, 64));
}

/* ==== bench ==== */

#define BENCH_MSG_LEN 64

/* Signs for about secs seconds (at least min_n, at most max_n times) with
 * key; returns signatures per second, or -1. */
static double
bench_module (CK_OBJECT_HANDLE key, double secs, long min_n, long max_n, long *count)
{
    CK_BYTE msg[BENCH_MSG_LEN], sig[64];
    double t0 = now (), t;
    long n = 0;

    memset (msg, 'b', sizeof msg);
    do {
        msg[0] = (CK_BYTE) n;
        if (ed_sign (key, msg, sizeof msg, sig) != CKR_OK)
            return -1;
        n++;
        t = now () - t0;
    } while ((t < secs || n < min_n) && n < max_n);
    *count = n;
    return (double) n / t;
}

static double
bench_sodium (double secs, long *count)
{
    unsigned char seed[32], pk[32], sk[64], msg[BENCH_MSG_LEN], sig[64];
    double t0 = now (), t;
    long n = 0;

    randombytes_buf (seed, sizeof seed);
    crypto_sign_seed_keypair (pk, sk, seed);
    memset (msg, 'b', sizeof msg);
    do {
        for (int i = 0; i < 100; i++, n++) {
            msg[0] = (unsigned char) n;
            crypto_sign_detached (sig, NULL, msg, sizeof msg, sk);
        }
        t = now () - t0;
    } while (t < secs);
    *count = n;
    return (double) n / t;
}

/* The uncached measurement, run in a child (TPMTRUST_ED25519_CACHE_USES=0):
 * prints one line "uncached RATE COUNT" on stdout. */
static int
mode_bench_uncached (void)
{
    CK_OBJECT_HANDLE pub, priv;
    long n = 0;
    double rate;
    CK_RV rv = pair_generate (false, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &pub,
                              &priv);
    if (rv != CKR_OK) {
        fprintf (stderr, "test-eddsa bench-uncached: C_GenerateKeyPair: 0x%lx\n", rv);
        return 1;
    }
    rate = bench_module (priv, 2.0, 5, 2000, &n);
    if (rate < 0) {
        fprintf (stderr, "test-eddsa bench-uncached: a signature failed\n");
        return 1;
    }
    printf ("uncached %.3f %ld\n", rate, n);
    return 0;
}

static double
run_uncached_child (const char *self, long *count)
{
    int fd[2];
    pid_t pid;
    char line[128] = "";
    double rate = -1;
    FILE *f;
    int status = 0;

    if (pipe (fd) != 0)
        return -1;
    fflush (stdout);
    pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *args[] = { (char *) self, (char *) module_path, (char *) "bench-uncached", NULL };
        dup2 (fd[1], 1);
        close (fd[0]);
        close (fd[1]);
        setenv ("TPMTRUST_ED25519_CACHE_USES", "0", 1);
        execv (self, args);
        _exit (127);
    }
    close (fd[1]);
    f = fdopen (fd[0], "r");
    if (f != NULL) {
        while (fgets (line, sizeof line, f) != NULL)
            if (sscanf (line, "uncached %lf %ld", &rate, count) == 2)
                break;
        fclose (f);
    }
    waitpid (pid, &status, 0);
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        return -1;
    return rate;
}

static void
mode_bench (const char *self)
{
    CK_OBJECT_HANDLE pub, priv;
    CK_BYTE msg[BENCH_MSG_LEN], sig[64];
    long n_cached = 0, n_raw = 0, n_unc = 0;
    double cached, raw, unc, first;
    CK_RV rv = pair_generate (false, oid_ed25519, sizeof oid_ed25519, false, NULL, NULL, &pub,
                              &priv);
    double t;

    is_rv (rv, CKR_OK, "bench: C_GenerateKeyPair Ed25519");
    if (rv != CKR_OK)
        return;
    memset (msg, 'b', sizeof msg);
    t = now ();
    rv = ed_sign (priv, msg, sizeof msg, sig);
    first = now () - t;
    is_rv (rv, CKR_OK, "bench: first signature");
    if (rv != CKR_OK)
        return;
    cached = bench_module (priv, 1.0, 100, 10000000, &n_cached);
    raw = bench_sodium (1.0, &n_raw);
    unc = run_uncached_child (self, &n_unc);
    printf ("# bench: %d-byte messages, one C_SignInit + C_Sign per signature\n", BENCH_MSG_LEN);
    printf ("# bench: first signature after generation (unseal + expand + sign): %.2f ms\n",
            first * 1e3);
    printf ("# bench: module, key cached:            %10.0f signatures/s (%ld in %.2fs, "
            "%.1f us each)\n",
            cached, n_cached, n_cached / cached, 1e6 / cached);
    if (unc > 0)
        printf ("# bench: module, uncached (CACHE_USES=0): %8.1f signatures/s (%ld in %.2fs, "
                "%.2f ms each)\n",
                unc, n_unc, n_unc / unc, 1e3 / unc);
    else
        printf ("# bench: module, uncached: the child process failed\n");
    printf ("# bench: raw libsodium crypto_sign_detached: %6.0f signatures/s (%ld in %.2fs, "
            "%.1f us each)\n",
            raw, n_raw, n_raw / raw, 1e6 / raw);
    printf ("# bench: ratio raw libsodium / module cached = %.2f\n", raw / cached);
    if (unc > 0)
        printf ("# bench: ratio module cached / module uncached = %.0f; raw / uncached = %.0f\n",
                cached / unc, raw / unc);
    ok (cached > 0 && raw > 0, "bench: the measurements ran");
    F->C_DestroyObject (sess, pub);
    F->C_DestroyObject (sess, priv);
}

/* ---- main ---- */

static void
usage (void)
{
    fprintf (stderr, "usage: test-eddsa [MODULE] rfc8032|generate|cache-pcr|bench\n"
                     "       test-eddsa [MODULE] bind MASK [VALUESHEX]\n"
                     "       test-eddsa [MODULE] use ok|mismatch\n"
                     "       test-eddsa [MODULE] store SEEDHEX LABEL\n"
                     "       test-eddsa [MODULE] reuse LABEL MSGHEX SIGHEX\n");
}

static const struct {
    const char *name;
    int min_args, max_args;
} modes[] = {
    { "rfc8032", 0, 0 }, { "generate", 0, 0 }, { "bind", 1, 2 },  { "use", 1, 1 },
    { "cache-pcr", 0, 0 }, { "store", 2, 2 }, { "reuse", 3, 3 }, { "bench", 0, 0 },
    { "bench-uncached", 0, 0 },
};

static int
mode_index (const char *s)
{
    for (size_t i = 0; i < N_ELEM (modes); i++)
        if (strcmp (s, modes[i].name) == 0)
            return (int) i;
    return -1;
}

int
main (int argc, char **argv)
{
    const char *mode, *token;
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    char self[4096];
    ssize_t self_len;
    int a = 1, mi, nargs;
    bool child;
    CK_RV rv;

    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc > 1 && mode_index (argv[1]) < 0)
        module_path = argv[a++];
    else
        module_path = getenv ("TT_MODULE");
    if (module_path == NULL || argc <= a || (mi = mode_index (argv[a])) < 0) {
        usage ();
        return 2;
    }
    mode = argv[a++];
    nargs = argc - a;
    if (nargs < modes[mi].min_args || nargs > modes[mi].max_args) {
        usage ();
        return 2;
    }
    child = strcmp (mode, "bench-uncached") == 0;
    token = getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "ed";
    pin = getenv ("TT_PIN") ? getenv ("TT_PIN") : "1234";
    self_len = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (self_len <= 0) {
        fprintf (stderr, "test-eddsa: readlink /proc/self/exe: %s\n", strerror (errno));
        return 2;
    }
    self[self_len] = '\0';
    if (sodium_init () < 0) {
        fprintf (stderr, "test-eddsa: sodium_init failed\n");
        return 2;
    }

    if (!module_load ("test-eddsa", module_path, &F))
        return 2;
    rv = F->C_Initialize (&init);
    if (child) { /* no TAP: one result line for the parent */
        int rc = 1;
        if (rv == CKR_OK && find_slot (token)
            && F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess)
                   == CKR_OK
            && login () == CKR_OK)
            rc = mode_bench_uncached ();
        else
            fprintf (stderr, "test-eddsa bench-uncached: set-up failed\n");
        F->C_Finalize (NULL);
        return rc;
    }
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
        if (strcmp (mode, "rfc8032") == 0)
            mode_rfc8032 ();
        else if (strcmp (mode, "generate") == 0)
            mode_generate ();
        else if (strcmp (mode, "bind") == 0)
            mode_bind (argv[a], nargs > 1 ? argv[a + 1] : NULL);
        else if (strcmp (mode, "use") == 0)
            mode_use (argv[a]);
        else if (strcmp (mode, "cache-pcr") == 0)
            mode_cache_pcr ();
        else if (strcmp (mode, "store") == 0)
            mode_store (argv[a], argv[a + 1]);
        else if (strcmp (mode, "reuse") == 0)
            mode_reuse (argv[a], argv[a + 1], argv[a + 2]);
        else
            mode_bench (self);
        printf ("# %s: %.2fs\n", mode, now () - t0);
        F->C_CloseSession (sess);
    }
    is_rv (F->C_Finalize (NULL), CKR_OK, "C_Finalize");
    return tap_done ();
}
