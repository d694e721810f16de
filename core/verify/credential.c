/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation bundles, MakeCredential in software (KDFa, KDFe, the seed
 * encrypted to an EK) for credential activation. Pure: no TPM, no state; every
 * read is bounds-checked. See attest-verify.h and docs/attestation.md.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "verify/attest-verify.h"
#include "verify/attest-internal.h"

/* ---- MakeCredential ---- */

/* TPM KDFa (HMAC counter mode, SP 800-108): bits of output into out. */
static bool
kdfa (const EVP_MD *md, const uint8_t *key, size_t key_len, const char *label,
      const uint8_t *u, size_t u_len, const uint8_t *v, size_t v_len, uint32_t bits,
      uint8_t *out)
{
    size_t want = bits / 8, got = 0, l_len = strlen (label) + 1; /* with its NUL */
    size_t in_len = 4 + l_len + u_len + v_len + 4;
    uint8_t *in = malloc (in_len);

    if (in == NULL)
        return false;
    memcpy (in + 4, label, l_len);
    if (u_len)
        memcpy (in + 4 + l_len, u, u_len);
    if (v_len)
        memcpy (in + 4 + l_len + u_len, v, v_len);
    for (int i = 0; i < 4; i++)
        in[in_len - 4 + i] = (uint8_t) (bits >> (24 - 8 * i));
    for (uint32_t i = 1; got < want; i++) {
        uint8_t block[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        for (int j = 0; j < 4; j++)
            in[j] = (uint8_t) (i >> (24 - 8 * j));
        if (HMAC (md, key, (int) key_len, in, in_len, block, &n) == NULL) {
            free (in);
            return false;
        }
        memcpy (out + got, block, want - got < n ? want - got : n);
        got += want - got < n ? want - got : n;
        OPENSSL_cleanse (block, sizeof block);
    }
    free (in);
    return true;
}

/* TPM KDFe (SP 800-56A concatenation KDF) for ECDH: H(counter || Z || label || U || V). */
static bool
kdfe (const EVP_MD *md, const uint8_t *z, size_t z_len, const char *label, const uint8_t *u,
      size_t u_len, const uint8_t *v, size_t v_len, size_t want, uint8_t *out)
{
    size_t got = 0;
    for (uint32_t i = 1; got < want; i++) {
        uint8_t c[4]
            = { (uint8_t) (i >> 24), (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
        uint8_t block[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
        bool ok = ctx != NULL && EVP_DigestInit_ex (ctx, md, NULL) && EVP_DigestUpdate (ctx, c, 4)
                  && EVP_DigestUpdate (ctx, z, z_len)
                  && EVP_DigestUpdate (ctx, label, strlen (label) + 1)
                  && EVP_DigestUpdate (ctx, u, u_len) && EVP_DigestUpdate (ctx, v, v_len)
                  && EVP_DigestFinal_ex (ctx, block, &n);
        EVP_MD_CTX_free (ctx);
        if (!ok)
            return false;
        memcpy (out + got, block, want - got < n ? want - got : n);
        got += want - got < n ? want - got : n;
    }
    return true;
}

/* The seed, and the encrypted secret that carries it to the EK's TPM. */
static int
make_seed (const TPMT_PUBLIC *ek, EVP_PKEY *ek_key, const EVP_MD *md, uint8_t *seed,
           size_t seed_len, attest_buf *enc, char *err, size_t err_len)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *eph = NULL;
    int rc = -1;

    if (ek->type == TPM2_ALG_RSA) {
        static const char label[] = "IDENTITY";
        uint8_t out[512];
        size_t out_len = sizeof out;
        char *l = OPENSSL_memdup (label, sizeof label); /* with its NUL, as the TPM wants */
        ctx = EVP_PKEY_CTX_new (ek_key, NULL);
        if (RAND_bytes (seed, (int) seed_len) == 1 && ctx != NULL && l != NULL
            && EVP_PKEY_encrypt_init (ctx) > 0
            && EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) > 0
            && EVP_PKEY_CTX_set_rsa_oaep_md (ctx, md) > 0
            && EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, md) > 0
            && EVP_PKEY_CTX_set0_rsa_oaep_label (ctx, l, sizeof label) > 0) {
            l = NULL;
            if (EVP_PKEY_encrypt (ctx, out, &out_len, seed, seed_len) > 0) {
                attest_buf_u16 (enc, (uint16_t) out_len);
                attest_buf_put (enc, out, out_len);
                rc = 0;
            }
        }
        OPENSSL_free (l);
    } else {
        /* ECDH: an ephemeral key on the EK's curve; Z = x of d_e * Q_ek */
        size_t n = ek->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 ? 32 : 48;
        uint8_t z[48], pt[1 + 2 * 48];
        size_t z_len = sizeof z, pt_len = 0;
        EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
        if (gen != NULL && EVP_PKEY_keygen_init (gen) > 0
            && EVP_PKEY_CTX_set_group_name (gen, n == 32 ? "prime256v1" : "secp384r1") > 0
            && EVP_PKEY_keygen (gen, &eph) > 0
            && EVP_PKEY_get_octet_string_param (eph, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt,
                                                &pt_len)
            && pt_len == 1 + 2 * n && (ctx = EVP_PKEY_CTX_new (eph, NULL)) != NULL
            && EVP_PKEY_derive_init (ctx) > 0 && EVP_PKEY_derive_set_peer (ctx, ek_key) > 0
            && EVP_PKEY_derive (ctx, z, &z_len) > 0 && z_len == n) {
            uint8_t ekx[48] = { 0 };
            const TPM2B_ECC_PARAMETER *x = &ek->unique.ecc.x;
            memcpy (ekx + n - x->size, x->buffer, x->size);
            if (kdfe (md, z, n, "IDENTITY", pt + 1, n, ekx, n, seed_len, seed)) {
                attest_buf_u16 (enc, (uint16_t) (4 + 2 * n)); /* TPMS_ECC_POINT */
                attest_buf_u16 (enc, (uint16_t) n);
                attest_buf_put (enc, pt + 1, n);
                attest_buf_u16 (enc, (uint16_t) n);
                attest_buf_put (enc, pt + 1 + n, n);
                rc = 0;
            }
        }
        OPENSSL_cleanse (z, sizeof z);
        EVP_PKEY_CTX_free (gen);
    }
    if (rc != 0)
        attest_errf (err, err_len, "could not encrypt the seed to the EK");
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (eph);
    return rc;
}

int
attest_make_credential (const uint8_t *ek_pub, size_t ek_len, const uint8_t *ak_name,
                        size_t name_len, const uint8_t *secret, size_t secret_len, uint8_t **out,
                        size_t *out_len, char *err, size_t err_len)
{
    TPM2B_PUBLIC ek;
    EVP_PKEY *ek_key = NULL;
    const EVP_MD *md;
    EVP_CIPHER_CTX *c = NULL;
    attest_buf file = { 0 }, enc = { 0 };
    uint8_t seed[64], sym[32], hkey[64], plain[2 + 32], cipher[2 + 32], mac[EVP_MAX_MD_SIZE];
    uint8_t iv[16] = { 0 };
    size_t seed_len, sym_bits, plain_len = 2 + secret_len, mac_len = 0;
    int n1 = 0, n2 = 0, rc = -1;

    *out = NULL;
    if (secret_len == 0 || secret_len > 32 || name_len < 2 || name_len > 2 + 64) {
        attest_errf (err, err_len, "the secret must be 1..32 bytes and the AK name a TPM name");
        return -1;
    }
    if (attest_unmarshal_public (ek_pub, ek_len, &ek) != 0
        || (md = attest_tpm_md (ek.publicArea.nameAlg)) == NULL
        || (ek_key = attest_pkey_from_tpm (&ek.publicArea)) == NULL) {
        attest_errf (err, err_len, "the EK public key is not an RSA or ECC TPM2B_PUBLIC");
        return -1;
    }
    {
        const TPMT_SYM_DEF_OBJECT *s = ek.publicArea.type == TPM2_ALG_RSA
                                           ? &ek.publicArea.parameters.rsaDetail.symmetric
                                           : &ek.publicArea.parameters.eccDetail.symmetric;
        if (s->algorithm != TPM2_ALG_AES || s->mode.aes != TPM2_ALG_CFB
            || (s->keyBits.aes != 128 && s->keyBits.aes != 256)) {
            attest_errf (err, err_len, "the EK is not a storage key with AES-CFB");
            EVP_PKEY_free (ek_key);
            return -1;
        }
        sym_bits = s->keyBits.aes;
    }
    seed_len = (size_t) EVP_MD_get_size (md);
    if (make_seed (&ek.publicArea, ek_key, md, seed, seed_len, &enc, err, err_len) != 0)
        goto out;
    /* encIdentity = AES-CFB (KDFa (seed, "STORAGE", name), TPM2B_DIGEST credential) */
    plain[0] = (uint8_t) (secret_len >> 8);
    plain[1] = (uint8_t) secret_len;
    memcpy (plain + 2, secret, secret_len);
    if (!kdfa (md, seed, seed_len, "STORAGE", ak_name, name_len, NULL, 0, (uint32_t) sym_bits, sym)
        || !kdfa (md, seed, seed_len, "INTEGRITY", NULL, 0, NULL, 0, (uint32_t) seed_len * 8, hkey)
        || (c = EVP_CIPHER_CTX_new ()) == NULL
        || !EVP_EncryptInit_ex (c, sym_bits == 128 ? EVP_aes_128_cfb128 () : EVP_aes_256_cfb128 (),
                                NULL, sym, iv)
        || !EVP_EncryptUpdate (c, cipher, &n1, plain, (int) plain_len)
        || !EVP_EncryptFinal_ex (c, cipher + n1, &n2)) {
        attest_errf (err, err_len, "key derivation or encryption failed");
        goto out;
    }
    {
        /* outerHMAC = HMAC (KDFa (seed, "INTEGRITY"), encIdentity || name) */
        unsigned int ml = 0;
        uint8_t *hm_in = malloc (plain_len + name_len);
        if (hm_in == NULL)
            goto out;
        memcpy (hm_in, cipher, plain_len);
        memcpy (hm_in + plain_len, ak_name, name_len);
        if (HMAC (md, hkey, (int) seed_len, hm_in, plain_len + name_len, mac, &ml) == NULL) {
            free (hm_in);
            goto out;
        }
        free (hm_in);
        mac_len = ml;
    }
    attest_buf_u32 (&file, 0xBADCC0DE);
    attest_buf_u32 (&file, 1);
    attest_buf_u16 (&file, (uint16_t) (2 + mac_len + plain_len)); /* TPM2B_ID_OBJECT */
    attest_buf_u16 (&file, (uint16_t) mac_len);
    attest_buf_put (&file, mac, mac_len);
    attest_buf_put (&file, cipher, plain_len);
    attest_buf_put (&file, enc.p, enc.len); /* TPM2B_ENCRYPTED_SECRET */
    if (file.failed || enc.failed) {
        attest_errf (err, err_len, "out of memory");
        goto out;
    }
    *out = file.p;
    *out_len = file.len;
    file.p = NULL;
    rc = 0;
out:
    OPENSSL_cleanse (seed, sizeof seed);
    OPENSSL_cleanse (sym, sizeof sym);
    OPENSSL_cleanse (hkey, sizeof hkey);
    OPENSSL_cleanse (plain, sizeof plain);
    EVP_CIPHER_CTX_free (c);
    EVP_PKEY_free (ek_key);
    attest_buf_free (&file);
    attest_buf_free (&enc);
    return rc;
}

int
attest_credential_split (const uint8_t *file, size_t len, attest_bytes *id_object,
                         attest_bytes *enc_secret)
{
    size_t a, b;
    if (file == NULL || len < 12 || attest_be32 (file) != 0xBADCC0DE || attest_be32 (file + 4) != 1)
        return -1;
    a = attest_be16 (file + 8);
    if (a > len - 10 || len - 10 - a < 2)
        return -1;
    b = attest_be16 (file + 10 + a);
    if (b != len - 12 - a)
        return -1;
    *id_object = (attest_bytes) { file + 8, 2 + a };
    *enc_secret = (attest_bytes) { file + 10 + a, 2 + b };
    return 0;
}
