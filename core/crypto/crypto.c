/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

/* ENGINE_* is deprecated in OpenSSL 3, but engines are what we must step around. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/engine.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "crypto"
#include "crypto/crypto.h"
#include "crypto/md.h"
#include "pkcs11-tpmtrust.h"
#include "base/log.h"

#define PIN_KDF_ITERATIONS 10000

struct crypto_digest {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
};

const EVP_MD *
crypto_md (CK_MECHANISM_TYPE mech)
{
    switch (mech) {
    case CKM_SHA_1:
        return EVP_sha1 ();
    case CKM_SHA224:
        return EVP_sha224 ();
    case CKM_SHA256:
        return EVP_sha256 ();
    case CKM_SHA384:
        return EVP_sha384 ();
    case CKM_SHA512:
        return EVP_sha512 ();
    default:
        return NULL;
    }
}

size_t
crypto_digest_size (CK_MECHANISM_TYPE mech)
{
    const EVP_MD *md = crypto_md (mech);
    return md ? (size_t) EVP_MD_get_size (md) : 0;
}

CK_RV
crypto_digest_new (CK_MECHANISM_TYPE mech, crypto_digest **out)
{
    crypto_digest *d;

    *out = NULL;
    if (crypto_md (mech) == NULL)
        return CKR_MECHANISM_INVALID;
    d = calloc (1, sizeof *d);
    if (d == NULL)
        return CKR_HOST_MEMORY;
    d->md = crypto_md (mech);
    d->ctx = EVP_MD_CTX_new ();
    if (d->ctx == NULL || !EVP_DigestInit_ex (d->ctx, d->md, NULL)) {
        crypto_digest_free (d);
        return CKR_HOST_MEMORY;
    }
    *out = d;
    return CKR_OK;
}

CK_RV
crypto_digest_update (crypto_digest *d, const uint8_t *data, size_t len)
{
    return EVP_DigestUpdate (d->ctx, data, len) ? CKR_OK : CKR_FUNCTION_FAILED;
}

CK_RV
crypto_digest_final (crypto_digest *d, uint8_t *out)
{
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex (d->ctx, out, &len) || !EVP_DigestInit_ex (d->ctx, d->md, NULL))
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

void
crypto_digest_free (crypto_digest *d)
{
    if (d == NULL)
        return;
    EVP_MD_CTX_free (d->ctx);
    free (d);
}

void *
crypto_engine_pause (void)
{
    ENGINE *e = ENGINE_get_pkey_meth_engine (EVP_PKEY_EC);
    if (e != NULL) {
        LOG_DEBUG ("an OpenSSL engine (%s) handles EC keys by default: stepping around it",
                   ENGINE_get_id (e));
        ENGINE_unregister_pkey_meths (e);
    }
    return e;
}

void
crypto_engine_resume (void *paused)
{
    ENGINE *e = paused;
    if (e == NULL)
        return;
    ENGINE_set_default_pkey_meths (e);
    ENGINE_finish (e);
}

static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };

size_t
crypto_ec_params_size (const uint8_t *params, size_t len)
{
    if (len == sizeof oid_p256 && memcmp (params, oid_p256, len) == 0)
        return 32;
    if (len == sizeof oid_p384 && memcmp (params, oid_p384, len) == 0)
        return 48;
    return 0;
}

const uint8_t *
crypto_ec_params_for_size (size_t size, size_t *len)
{
    if (size == 32) {
        *len = sizeof oid_p256;
        return oid_p256;
    }
    if (size == 48) {
        *len = sizeof oid_p384;
        return oid_p384;
    }
    return NULL;
}

static const char *
group_name (size_t field)
{
    return field == 32 ? "prime256v1" : field == 48 ? "secp384r1" : NULL;
}

CK_RV
crypto_ec_point_der (const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len)
{
    if (raw_len > 127 || *der_len < raw_len + 2)
        return CKR_BUFFER_TOO_SMALL;
    der[0] = 0x04;
    der[1] = (uint8_t) raw_len;
    memcpy (der + 2, raw, raw_len);
    *der_len = raw_len + 2;
    return CKR_OK;
}

CK_RV
crypto_ec_point_raw (const uint8_t *in, size_t in_len, size_t field, uint8_t *raw, size_t *raw_len)
{
    size_t want = 1 + 2 * field;

    if (in_len == want + 2 && in[0] == 0x04 && in[1] == want)
        in += 2, in_len -= 2; /* DER OCTET STRING */
    if (in_len != want || in[0] != 0x04 || *raw_len < want)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy (raw, in, want);
    *raw_len = want;
    return crypto_ec_point_check (field, raw, want);
}

CK_RV
crypto_ec_point_check (size_t field, const uint8_t *raw, size_t raw_len)
{
    int nid = field == 32 ? NID_X9_62_prime256v1 : field == 48 ? NID_secp384r1 : NID_undef;
    EC_GROUP *group = nid != NID_undef ? EC_GROUP_new_by_curve_name (nid) : NULL;
    EC_POINT *pt = group ? EC_POINT_new (group) : NULL;
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (pt != NULL && EC_POINT_oct2point (group, pt, raw, raw_len, NULL)
        && EC_POINT_is_on_curve (group, pt, NULL) == 1)
        rv = CKR_OK;
    EC_POINT_free (pt);
    EC_GROUP_free (group);
    return rv;
}

static EVP_PKEY *
ec_pkey (size_t field, const uint8_t *raw_point, size_t point_len)
{
    const char *name = group_name (field);
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM params[3];

    if (name == NULL)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, (char *) name, 0);
    params[1] = OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, (void *) raw_point,
                                                   point_len);
    params[2] = OSSL_PARAM_construct_end ();
    ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init (ctx) <= 0
        || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free (ctx);
    return pkey;
}

static CK_RV ecdsa_verify (size_t field, const uint8_t *raw_point, size_t point_len,
                           const uint8_t *digest, size_t digest_len, const uint8_t *sig,
                           size_t sig_len);

CK_RV
crypto_ecdsa_verify (size_t field, const uint8_t *raw_point, size_t point_len,
                     const uint8_t *digest, size_t digest_len, const uint8_t *sig, size_t sig_len)
{
    void *paused = crypto_engine_pause ();
    CK_RV rv = ecdsa_verify (field, raw_point, point_len, digest, digest_len, sig, sig_len);
    crypto_engine_resume (paused);
    return rv;
}

static CK_RV
ecdsa_verify (size_t field, const uint8_t *raw_point, size_t point_len, const uint8_t *digest,
              size_t digest_len, const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    int der_len, ok;
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (sig_len != 2 * field)
        return CKR_SIGNATURE_LEN_RANGE;
    pkey = ec_pkey (field, raw_point, point_len);
    es = ECDSA_SIG_new ();
    r = BN_bin2bn (sig, (int) field, NULL);
    s = BN_bin2bn (sig + field, (int) field, NULL);
    if (pkey == NULL || es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0 (es, r, s))
        goto out;
    r = s = NULL; /* owned by es */
    der_len = i2d_ECDSA_SIG (es, &der);
    ctx = EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL);
    if (der_len <= 0 || ctx == NULL || EVP_PKEY_verify_init (ctx) <= 0)
        goto out;
    ok = EVP_PKEY_verify (ctx, der, (size_t) der_len, digest, digest_len);
    rv = ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
    BN_free (r);
    BN_free (s);
    ECDSA_SIG_free (es);
    OPENSSL_free (der);
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (pkey);
    return rv;
}

CK_RV
crypto_ec_spki (size_t field, const uint8_t *raw_point, size_t point_len, uint8_t **der,
                size_t *der_len)
{
    void *paused = crypto_engine_pause ();
    EVP_PKEY *pkey = ec_pkey (field, raw_point, point_len);
    unsigned char *buf = NULL;
    int len = pkey ? i2d_PUBKEY (pkey, &buf) : -1;

    EVP_PKEY_free (pkey);
    crypto_engine_resume (paused);
    if (len <= 0)
        return CKR_FUNCTION_FAILED;
    *der = malloc ((size_t) len);
    if (*der != NULL)
        memcpy (*der, buf, (size_t) len);
    OPENSSL_free (buf);
    *der_len = (size_t) len;
    return *der ? CKR_OK : CKR_HOST_MEMORY;
}

static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const uint8_t name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
                                        's',  '2',  '5', '5', '1', '9' };

bool
crypto_ed25519_params (const uint8_t *params, size_t len)
{
    return (len == sizeof oid_ed25519 && memcmp (params, oid_ed25519, len) == 0)
           || (len == sizeof name_ed25519 && memcmp (params, name_ed25519, len) == 0);
}

const uint8_t *
crypto_ed25519_oid (size_t *len)
{
    *len = sizeof oid_ed25519;
    return oid_ed25519;
}

CK_RV
crypto_ed25519_point_raw (const uint8_t *in, size_t in_len, bool check, uint8_t raw[32])
{
    if (in_len == 34 && in[0] == 0x04 && in[1] == 32)
        in += 2, in_len -= 2;
    if (in_len != 32 || (check && crypto_core_ed25519_is_valid_point (in) != 1))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy (raw, in, 32);
    return CKR_OK;
}

CK_RV
crypto_ed25519_expand (const secbuf *seed, secbuf **out, uint8_t pk[32])
{
    secbuf *sk = secbuf_new (crypto_sign_SECRETKEYBYTES);
    uint8_t pk_[32];

    *out = NULL;
    if (seed->len != crypto_sign_SEEDBYTES)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (sk == NULL)
        return CKR_HOST_MEMORY;
    crypto_sign_seed_keypair (pk ? pk : pk_, sk->data, seed->data);
    *out = sk;
    return CKR_OK;
}

CK_RV
crypto_ed25519_sign (const secbuf *sk, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    if (sk->len != crypto_sign_SECRETKEYBYTES)
        return CKR_ARGUMENTS_BAD;
    return crypto_sign_detached (sig, NULL, msg, len, sk->data) == 0 ? CKR_OK
                                                                   : CKR_FUNCTION_FAILED;
}

CK_RV
crypto_ed25519_verify (const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t *sig,
                       size_t sig_len)
{
    if (sig_len != crypto_sign_BYTES)
        return CKR_SIGNATURE_LEN_RANGE;
    return crypto_sign_verify_detached (sig, msg, len, pk) == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

void
crypto_ed25519_spki (const uint8_t pk[32], uint8_t der[44])
{
    static const uint8_t prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                        0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
    memcpy (der, prefix, sizeof prefix);
    memcpy (der + sizeof prefix, pk, 32);
}

static CK_RV
der_out (int len, unsigned char *buf, uint8_t **out, size_t *out_len)
{
    if (out == NULL) {
        OPENSSL_free (buf);
        return CKR_OK;
    }
    *out = NULL;
    if (len <= 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = malloc ((size_t) len);
    if (*out != NULL)
        memcpy (*out, buf, (size_t) len);
    OPENSSL_free (buf);
    *out_len = (size_t) len;
    return *out ? CKR_OK : CKR_HOST_MEMORY;
}

CK_RV
crypto_x509_fields (const uint8_t *der, size_t len, uint8_t **subject, size_t *subject_len,
                    uint8_t **issuer, size_t *issuer_len, uint8_t **serial, size_t *serial_len)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509 (NULL, &p, (long) len);
    unsigned char *buf;
    int n;
    CK_RV rv = CKR_OK;

    if (cert == NULL || p != der + len) {
        X509_free (cert);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    buf = NULL;
    n = i2d_X509_NAME (X509_get_subject_name (cert), &buf);
    rv = der_out (n, buf, subject, subject_len);
    buf = NULL;
    n = i2d_X509_NAME (X509_get_issuer_name (cert), &buf);
    if (rv == CKR_OK)
        rv = der_out (n, buf, issuer, issuer_len);
    else
        OPENSSL_free (buf);
    buf = NULL;
    n = i2d_ASN1_INTEGER (X509_get_serialNumber (cert), &buf);
    if (rv == CKR_OK)
        rv = der_out (n, buf, serial, serial_len);
    else
        OPENSSL_free (buf);
    X509_free (cert);
    return rv;
}

void
crypto_wipe (void *p, size_t len)
{
    sodium_memzero (p, len);
}

CK_RV
crypto_hmac_sha256 (const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                    uint8_t out[32])
{
    unsigned int n = 0;
    return HMAC (EVP_sha256 (), key, (int) key_len, data, len, out, &n) != NULL && n == 32
               ? CKR_OK
               : CKR_FUNCTION_FAILED;
}

void
crypto_sha256 (const uint8_t *data, size_t len, uint8_t out[32])
{
    crypto_hash_sha256 (out, data, len);
}

void
crypto_generichash_20 (const uint8_t *data, size_t len, uint8_t out[20])
{
    crypto_generichash (out, 20, data, len, NULL, 0);
}

CK_RV
crypto_pin_auth (const uint8_t *salt, size_t salt_len, const uint8_t *pin, size_t pin_len,
                 secbuf **out)
{
    secbuf *auth = secbuf_new (32);

    *out = NULL;
    if (auth == NULL)
        return CKR_HOST_MEMORY;
    if (!PKCS5_PBKDF2_HMAC ((const char *) pin, (int) pin_len, salt, (int) salt_len,
                            PIN_KDF_ITERATIONS, EVP_sha256 (), 32, auth->data)) {
        secbuf_free (auth);
        return CKR_FUNCTION_FAILED;
    }
    *out = auth;
    return CKR_OK;
}

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

CK_RV
crypto_wrap (const secbuf *key, const uint8_t *ad, size_t ad_len, const secbuf *plain,
             uint8_t **out, size_t *out_len)
{
    size_t len = NONCE_LEN + plain->len + TAG_LEN;
    uint8_t *buf;
    unsigned long long clen = 0;

    if (key->len != crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
        return CKR_ARGUMENTS_BAD;
    buf = malloc (len);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    randombytes_buf (buf, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt (buf + NONCE_LEN, &clen, plain->data, plain->len,
                                                ad, ad_len, NULL, buf, key->data);
    *out = buf;
    *out_len = NONCE_LEN + (size_t) clen;
    return CKR_OK;
}

CK_RV
crypto_unwrap (const secbuf *key, const uint8_t *ad, size_t ad_len, const uint8_t *in,
               size_t in_len, secbuf **plain)
{
    secbuf *p;
    unsigned long long plen = 0;

    *plain = NULL;
    if (key->len != crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
        return CKR_ENCRYPTED_DATA_INVALID;
    if (in_len < NONCE_LEN + TAG_LEN) {
        LOG_ERROR ("a wrapped key auth value is %zu bytes, too short: the store row is damaged",
                   in_len);
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    p = secbuf_new (in_len - NONCE_LEN - TAG_LEN);
    if (p == NULL)
        return CKR_HOST_MEMORY;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt (p->data, &plen, NULL, in + NONCE_LEN,
                                                    in_len - NONCE_LEN, ad, ad_len, in,
                                                    key->data)
        != 0) {
        secbuf_free (p);
        LOG_ERROR ("a wrapped key auth value does not decrypt under this token's secret: the "
                   "store row is damaged or belongs to another token");
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    *plain = p;
    return CKR_OK;
}

/* TPM session cryptography (TPM 2.0 Part 1, 11.4.10 KDFa / 11.4.10.3 KDFe,
 * 21 parameter encryption), SHA-256 only. */

CK_RV
crypto_kdfa_sha256 (const uint8_t *key, size_t key_len, const char *label, const uint8_t *u,
                    size_t u_len, const uint8_t *v, size_t v_len, uint8_t *out, size_t out_len)
{
    uint8_t bits[4] = { (uint8_t) (out_len * 8 >> 24), (uint8_t) (out_len * 8 >> 16),
                        (uint8_t) (out_len * 8 >> 8), (uint8_t) (out_len * 8) };
    uint8_t block[32];

    for (uint32_t i = 1, off = 0; off < out_len; i++, off += 32) {
        crypto_auth_hmacsha256_state st;
        uint8_t ctr[4] = { (uint8_t) (i >> 24), (uint8_t) (i >> 16), (uint8_t) (i >> 8),
                           (uint8_t) i };
        crypto_auth_hmacsha256_init (&st, key, key_len);
        crypto_auth_hmacsha256_update (&st, ctr, 4);
        crypto_auth_hmacsha256_update (&st, (const uint8_t *) label, strlen (label) + 1);
        crypto_auth_hmacsha256_update (&st, u, u_len);
        crypto_auth_hmacsha256_update (&st, v, v_len);
        crypto_auth_hmacsha256_update (&st, bits, 4);
        crypto_auth_hmacsha256_final (&st, block);
        sodium_memzero (&st, sizeof st);
        memcpy (out + off, block, out_len - off < 32 ? out_len - off : 32);
    }
    sodium_memzero (block, sizeof block);
    return CKR_OK;
}

CK_RV
crypto_tpm_salt_p256 (const uint8_t tpm_point[65], uint8_t salt[32], uint8_t eph_point[65])
{
    void *paused = crypto_engine_pause ();
    EVP_PKEY *peer = ec_pkey (32, tpm_point, 65), *eph = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t z[32];
    size_t z_len = sizeof z, pt_len = 0;
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (peer != NULL)
        eph = EVP_EC_gen ("P-256");
    if (eph != NULL
        && EVP_PKEY_get_octet_string_param (eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, eph_point, 65,
                                            &pt_len)
               == 1
        && pt_len == 65 && (ctx = EVP_PKEY_CTX_new (eph, NULL)) != NULL
        && EVP_PKEY_derive_init (ctx) > 0 && EVP_PKEY_derive_set_peer (ctx, peer) > 0
        && EVP_PKEY_derive (ctx, z, &z_len) > 0 && z_len == sizeof z) {
        /* KDFe: SHA-256 (counter 1 || Z || "SECRET\0" || ephemeral x || TPM key x) */
        static const uint8_t one[4] = { 0, 0, 0, 1 };
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init (&st);
        crypto_hash_sha256_update (&st, one, 4);
        crypto_hash_sha256_update (&st, z, sizeof z);
        crypto_hash_sha256_update (&st, (const uint8_t *) "SECRET", 7);
        crypto_hash_sha256_update (&st, eph_point + 1, 32);
        crypto_hash_sha256_update (&st, tpm_point + 1, 32);
        crypto_hash_sha256_final (&st, salt);
        sodium_memzero (&st, sizeof st);
        rv = CKR_OK;
    }
    sodium_memzero (z, sizeof z);
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (eph);
    EVP_PKEY_free (peer);
    crypto_engine_resume (paused);
    return rv;
}

/* fetched once (per-use fetching is much of what makes tpm2-tss 3.2 slow) */
static EVP_CIPHER *cfb;
static pthread_once_t cfb_once = PTHREAD_ONCE_INIT;

static void
fetch_cfb (void)
{
    cfb = EVP_CIPHER_fetch (NULL, "AES-128-CFB", NULL);
}

CK_RV
crypto_aes128_cfb (const uint8_t key[16], const uint8_t iv[16], uint8_t *buf, size_t len,
                   bool encrypt)
{
    EVP_CIPHER_CTX *ctx;
    int n = 0;
    CK_RV rv = CKR_FUNCTION_FAILED;

    pthread_once (&cfb_once, fetch_cfb);
    if (cfb == NULL || (ctx = EVP_CIPHER_CTX_new ()) == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_CipherInit_ex2 (ctx, cfb, key, iv, encrypt ? 1 : 0, NULL) == 1
        && EVP_CipherUpdate (ctx, buf, &n, buf, (int) len) == 1 && (size_t) n == len)
        rv = CKR_OK;
    EVP_CIPHER_CTX_free (ctx);
    return rv;
}
