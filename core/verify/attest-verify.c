/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation bundles: encoder, parser, offline verifier, and MakeCredential
 * in software. See attest-verify.h and docs/attestation.md. Pure: nothing here
 * talks to a TPM or keeps state; every read is bounds-checked.
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

/* ---- encoder ---- */

void
attest_buf_put (attest_buf *b, const void *data, size_t len)
{
    if (b->failed)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        uint8_t *grown;
        while (cap < b->len + len)
            cap *= 2;
        grown = realloc (b->p, cap);
        if (grown == NULL) {
            b->failed = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    if (len)
        memcpy (b->p + b->len, data, len);
    b->len += len;
}

void
attest_buf_u16 (attest_buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t) (v >> 8), (uint8_t) v };
    attest_buf_put (b, x, 2);
}

void
attest_buf_u32 (attest_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v };
    attest_buf_put (b, x, 4);
}

void
attest_buf_u64 (attest_buf *b, uint64_t v)
{
    attest_buf_u32 (b, (uint32_t) (v >> 32));
    attest_buf_u32 (b, (uint32_t) v);
}

void
attest_buf_field (attest_buf *b, uint16_t tag, const void *value, size_t len)
{
    if (len > UINT32_MAX) {
        b->failed = true;
        return;
    }
    attest_buf_u16 (b, tag);
    attest_buf_u32 (b, (uint32_t) len);
    attest_buf_put (b, value, len);
}

size_t
attest_buf_open (attest_buf *b, uint16_t tag)
{
    attest_buf_u16 (b, tag);
    attest_buf_u32 (b, 0);
    return b->len;
}

void
attest_buf_close (attest_buf *b, size_t mark)
{
    size_t n = b->len - mark;
    if (b->failed || mark < 4 || mark > b->len)
        return;
    b->p[mark - 4] = (uint8_t) (n >> 24);
    b->p[mark - 3] = (uint8_t) (n >> 16);
    b->p[mark - 2] = (uint8_t) (n >> 8);
    b->p[mark - 1] = (uint8_t) n;
}

void
attest_buf_free (attest_buf *b)
{
    free (b->p);
    memset (b, 0, sizeof *b);
}

/* ---- parser ---- */

static uint16_t
be16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
be32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void errf (char *err, size_t err_len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
errf (char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || err_len == 0)
        return;
    va_start (ap, fmt);
    vsnprintf (err, err_len, fmt, ap);
    va_end (ap);
}

/* Walks the fields of v: calls fn for each. -1 on a truncated field. */
typedef int (*field_fn) (void *ctx, uint16_t tag, attest_bytes v, char *err, size_t err_len);

static int
walk (attest_bytes v, field_fn fn, void *ctx, char *err, size_t err_len)
{
    size_t off = 0;
    while (off < v.len) {
        uint16_t tag;
        uint32_t n;
        if (v.len - off < 6) {
            errf (err, err_len, "truncated field header at body offset %zu", off);
            return -1;
        }
        tag = be16 (v.p + off);
        n = be32 (v.p + off + 2);
        off += 6;
        if (n > v.len - off) {
            errf (err, err_len, "field 0x%04x: length %u runs past the end", tag, n);
            return -1;
        }
        if (fn (ctx, tag, (attest_bytes) { v.p + off, n }, err, err_len) != 0)
            return -1;
        off += n;
    }
    return 0;
}

static int
set_once (attest_bytes *slot, attest_bytes v, uint16_t tag, char *err, size_t err_len)
{
    if (slot->p != NULL) {
        errf (err, err_len, "field 0x%04x appears twice", tag);
        return -1;
    }
    /* an empty field is present: give it a non-NULL pointer */
    *slot = v;
    return 0;
}

static int
key_field (void *ctx, uint16_t tag, attest_bytes v, char *err, size_t err_len)
{
    attest_key_view *k = ctx;
    switch (tag) {
    case ATTEST_KEY_ID:
        return set_once (&k->id, v, tag, err, err_len);
    case ATTEST_KEY_LABEL:
        return set_once (&k->label, v, tag, err, err_len);
    case ATTEST_KEY_PUBLIC:
        return set_once (&k->pub, v, tag, err, err_len);
    case ATTEST_KEY_CERTIFY:
        return set_once (&k->certify, v, tag, err, err_len);
    case ATTEST_KEY_CERTIFY_SIG:
        return set_once (&k->certify_sig, v, tag, err, err_len);
    default:
        errf (err, err_len, "unknown key field 0x%04x", tag);
        return -1;
    }
}

static int
body_field (void *ctx, uint16_t tag, attest_bytes v, char *err, size_t err_len)
{
    attest_bundle *b = ctx;

    switch (tag) {
    case ATTEST_NONCE:
        return set_once (&b->nonce, v, tag, err, err_len);
    case ATTEST_TIME:
        if (v.len != 8) {
            errf (err, err_len, "time field: %zu bytes, want 8", v.len);
            return -1;
        }
        if (set_once (&b->time_field, v, tag, err, err_len) != 0)
            return -1;
        b->time = (uint64_t) be32 (v.p) << 32 | be32 (v.p + 4);
        return 0;
    case ATTEST_IDENTITY:
        return set_once (&b->identity, v, tag, err, err_len);
    case ATTEST_IDENTITY_ID:
        return set_once (&b->identity_id, v, tag, err, err_len);
    case ATTEST_IDENTITY_LABEL:
        return set_once (&b->identity_label, v, tag, err, err_len);
    case ATTEST_AK_PUBLIC:
        return set_once (&b->ak_pub, v, tag, err, err_len);
    case ATTEST_EK_PUBLIC:
        return set_once (&b->ek_pub, v, tag, err, err_len);
    case ATTEST_EK_CERT:
        return set_once (&b->ek_cert, v, tag, err, err_len);
    case ATTEST_QUOTE:
        return set_once (&b->quote, v, tag, err, err_len);
    case ATTEST_QUOTE_SIG:
        return set_once (&b->quote_sig, v, tag, err, err_len);
    case ATTEST_PCR_VALUES:
        if (b->pcr_values.p != NULL || v.len < 6) {
            errf (err, err_len, "PCR values field repeated or shorter than 6 bytes");
            return -1;
        }
        b->pcr_bank = be16 (v.p);
        b->pcr_mask = be32 (v.p + 2);
        b->pcr_values = (attest_bytes) { v.p + 6, v.len - 6 };
        return 0;
    case ATTEST_KEY:
        if (b->n_keys == ATTEST_MAX_KEYS) {
            errf (err, err_len, "more than %d certified keys", ATTEST_MAX_KEYS);
            return -1;
        }
        if (walk (v, key_field, &b->keys[b->n_keys], err, err_len) != 0)
            return -1;
        if (b->keys[b->n_keys].pub.p == NULL || b->keys[b->n_keys].certify.p == NULL
            || b->keys[b->n_keys].certify_sig.p == NULL) {
            errf (err, err_len, "certified key %zu lacks its public area, attestation or "
                                "signature",
                  b->n_keys + 1);
            return -1;
        }
        b->n_keys++;
        return 0;
    default:
        errf (err, err_len, "unknown field 0x%04x (a newer bundle version?)", tag);
        return -1;
    }
}

int
attest_parse (const uint8_t *b, size_t len, attest_bundle *out, char *err, size_t err_len)
{
    uint32_t body;
    size_t off;

    memset (out, 0, sizeof *out);
    if (b == NULL || len < ATTEST_HEADER_LEN + 4 || len > ATTEST_MAX_LEN) {
        errf (err, err_len, "%zu bytes: not a bundle", len);
        return -1;
    }
    if (memcmp (b, ATTEST_MAGIC, 4) != 0) {
        errf (err, err_len, "no TTAT magic: not a tpmtrust attestation bundle");
        return -1;
    }
    out->version = be16 (b + 4);
    if (out->version != ATTEST_VERSION || be16 (b + 6) != 0) {
        errf (err, err_len, "version %u flags 0x%04x: this verifier reads version %d", out->version,
              be16 (b + 6), ATTEST_VERSION);
        return -1;
    }
    body = be32 (b + 8);
    if (body > len - ATTEST_HEADER_LEN - 4) {
        errf (err, err_len, "body length %u runs past the end", body);
        return -1;
    }
    off = ATTEST_HEADER_LEN + body;
    out->signed_part = (attest_bytes) { b, off };
    out->sig_alg = be16 (b + off);
    out->sig = (attest_bytes) { b + off + 4, be16 (b + off + 2) };
    if (out->sig.len != len - off - 4) {
        errf (err, err_len, "signature length %zu does not end the bundle (%zu bytes left)",
              out->sig.len, len - off - 4);
        return -1;
    }
    if (walk ((attest_bytes) { b + ATTEST_HEADER_LEN, body }, body_field, out, err, err_len) != 0)
        return -1;
    if (out->nonce.p == NULL || out->identity.p == NULL || out->ak_pub.p == NULL
        || out->quote.p == NULL || out->quote_sig.p == NULL || out->pcr_values.p == NULL) {
        errf (err, err_len, "a required field is missing (nonce, identity, AK public, quote, "
                            "quote signature, PCR values)");
        return -1;
    }
    return 0;
}

/* ---- TPM structures ---- */

static const EVP_MD *
tpm_md (uint16_t alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return EVP_sha1 ();
    case TPM2_ALG_SHA256:
        return EVP_sha256 ();
    case TPM2_ALG_SHA384:
        return EVP_sha384 ();
    case TPM2_ALG_SHA512:
        return EVP_sha512 ();
    default:
        return NULL;
    }
}

static int
unmarshal_public (const uint8_t *p, size_t len, TPM2B_PUBLIC *out)
{
    size_t off = 0;
    memset (out, 0, sizeof *out);
    if (p == NULL || len < 2 || be16 (p) != len - 2)
        return -1;
    return Tss2_MU_TPM2B_PUBLIC_Unmarshal (p, len, &off, out) == TSS2_RC_SUCCESS && off == len
               ? 0
               : -1;
}

int
attest_tpm_name (const uint8_t *pub, size_t pub_len, uint8_t *name, size_t *name_len)
{
    TPM2B_PUBLIC p;
    const EVP_MD *md;
    unsigned int n = 0;

    if (unmarshal_public (pub, pub_len, &p) != 0
        || (md = tpm_md (p.publicArea.nameAlg)) == NULL)
        return -1;
    name[0] = (uint8_t) (p.publicArea.nameAlg >> 8);
    name[1] = (uint8_t) p.publicArea.nameAlg;
    if (!EVP_Digest (pub + 2, pub_len - 2, name + 2, &n, md, NULL))
        return -1;
    *name_len = 2 + n;
    return 0;
}

static EVP_PKEY *
pkey_from_params (const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = bld ? OSSL_PARAM_BLD_to_param (bld) : NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init (ctx) <= 0
        || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free (params);
    EVP_PKEY_CTX_free (ctx);
    return pkey;
}

/* The public key of an ECC (P-256, P-384) or RSA TPM object. */
static EVP_PKEY *
pkey_from_tpm (const TPMT_PUBLIC *a)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
    EVP_PKEY *pkey = NULL;

    if (bld == NULL)
        return NULL;
    if (a->type == TPM2_ALG_ECC) {
        const TPMS_ECC_POINT *u = &a->unique.ecc;
        size_t n = a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256   ? 32
                   : a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P384 ? 48
                                                                           : 0;
        uint8_t pt[1 + 2 * 48] = { 0x04 };
        if (n != 0 && u->x.size <= n && u->y.size <= n) {
            memcpy (pt + 1 + n - u->x.size, u->x.buffer, u->x.size);
            memcpy (pt + 1 + 2 * n - u->y.size, u->y.buffer, u->y.size);
            if (OSSL_PARAM_BLD_push_utf8_string (bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                 n == 32 ? "prime256v1" : "secp384r1", 0)
                && OSSL_PARAM_BLD_push_octet_string (bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * n))
                pkey = pkey_from_params ("EC", bld);
        }
    } else if (a->type == TPM2_ALG_RSA && a->unique.rsa.size > 0) {
        BIGNUM *n = BN_bin2bn (a->unique.rsa.buffer, a->unique.rsa.size, NULL);
        BIGNUM *e = BN_new ();
        uint32_t exp = a->parameters.rsaDetail.exponent ? a->parameters.rsaDetail.exponent : 65537;
        if (n != NULL && e != NULL && BN_set_word (e, exp)
            && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, n)
            && OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, e))
            pkey = pkey_from_params ("RSA", bld);
        BN_free (n);
        BN_free (e);
    }
    OSSL_PARAM_BLD_free (bld);
    return pkey;
}

char *
attest_public_pem (const uint8_t *pub, size_t pub_len)
{
    TPM2B_PUBLIC p;
    EVP_PKEY *pkey;
    BIO *bio;
    char *out = NULL, *data;
    long n;

    if (unmarshal_public (pub, pub_len, &p) != 0 || (pkey = pkey_from_tpm (&p.publicArea)) == NULL)
        return NULL;
    bio = BIO_new (BIO_s_mem ());
    if (bio != NULL && PEM_write_bio_PUBKEY (bio, pkey) && (n = BIO_get_mem_data (bio, &data)) > 0
        && (out = malloc ((size_t) n + 1)) != NULL) {
        memcpy (out, data, (size_t) n);
        out[n] = '\0';
    }
    BIO_free (bio);
    EVP_PKEY_free (pkey);
    return out;
}

uint8_t *
attest_spki_from (const uint8_t *data, size_t len, size_t *out_len)
{
    BIO *bio = BIO_new_mem_buf (data, (int) (len > INT32_MAX ? 0 : len));
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY (bio, NULL, NULL, NULL) : NULL;
    const uint8_t *p = data;
    uint8_t *der = NULL, *out;
    int n;

    if (pkey == NULL)
        pkey = d2i_PUBKEY (NULL, &p, (long) len);
    BIO_free (bio);
    if (pkey == NULL)
        return NULL;
    n = i2d_PUBKEY (pkey, &der);
    EVP_PKEY_free (pkey);
    if (n <= 0)
        return NULL;
    out = malloc ((size_t) n);
    if (out != NULL) {
        memcpy (out, der, (size_t) n);
        *out_len = (size_t) n;
    }
    OPENSSL_free (der);
    return out;
}

/* Verifies a DER or raw signature over msg with md (NULL for Ed25519). */
static bool
pkey_verify (EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *msg, size_t len,
             const uint8_t *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    bool ok = ctx != NULL && EVP_DigestVerifyInit (ctx, NULL, md, NULL, pkey) > 0
              && EVP_DigestVerify (ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free (ctx);
    return ok;
}

/* r || s (or two TPM2B halves) as a DER ECDSA-Sig-Value; malloc'd. */
static uint8_t *
ecdsa_der (const uint8_t *r, size_t r_len, const uint8_t *s, size_t s_len, size_t *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new ();
    BIGNUM *br = BN_bin2bn (r, (int) r_len, NULL), *bs = BN_bin2bn (s, (int) s_len, NULL);
    uint8_t *der = NULL;
    int n;

    if (es == NULL || br == NULL || bs == NULL || !ECDSA_SIG_set0 (es, br, bs)) {
        BN_free (br);
        BN_free (bs);
        ECDSA_SIG_free (es);
        return NULL;
    }
    n = i2d_ECDSA_SIG (es, &der);
    ECDSA_SIG_free (es);
    if (n <= 0)
        return NULL;
    *der_len = (size_t) n;
    return der;
}

/* A TPMT_SIGNATURE (ECDSA or RSASSA) by key over msg. why gets the reason. */
static bool
tpm_sig_verify (const TPMT_PUBLIC *key, const uint8_t *msg, size_t len, attest_bytes sig,
                char *why, size_t why_len)
{
    TPMT_SIGNATURE s;
    EVP_PKEY *pkey = NULL;
    uint8_t *der = NULL;
    size_t off = 0, der_len = 0;
    bool ok = false;

    memset (&s, 0, sizeof s);
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal (sig.p, sig.len, &off, &s) != TSS2_RC_SUCCESS
        || off != sig.len) {
        errf (why, why_len, "the signature is not a TPMT_SIGNATURE");
        return false;
    }
    if ((pkey = pkey_from_tpm (key)) == NULL) {
        errf (why, why_len, "the key is not a P-256/P-384 or RSA key");
        return false;
    }
    if (s.sigAlg == TPM2_ALG_ECDSA && key->type == TPM2_ALG_ECC
        && tpm_md (s.signature.ecdsa.hash) != NULL) {
        der = ecdsa_der (s.signature.ecdsa.signatureR.buffer, s.signature.ecdsa.signatureR.size,
                         s.signature.ecdsa.signatureS.buffer, s.signature.ecdsa.signatureS.size,
                         &der_len);
        ok = der != NULL
             && pkey_verify (pkey, tpm_md (s.signature.ecdsa.hash), msg, len, der, der_len);
    } else if (s.sigAlg == TPM2_ALG_RSASSA && key->type == TPM2_ALG_RSA
               && tpm_md (s.signature.rsassa.hash) != NULL) {
        ok = pkey_verify (pkey, tpm_md (s.signature.rsassa.hash), msg, len,
                          s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
    } else {
        errf (why, why_len, "signature algorithm 0x%04x does not fit the key", s.sigAlg);
        EVP_PKEY_free (pkey);
        return false;
    }
    if (!ok)
        errf (why, why_len, "the signature does not verify");
    OPENSSL_free (der);
    EVP_PKEY_free (pkey);
    return ok;
}

static int
unmarshal_attest (attest_bytes a, TPMS_ATTEST *out)
{
    size_t off = 0;
    memset (out, 0, sizeof *out);
    return a.p != NULL && Tss2_MU_TPMS_ATTEST_Unmarshal (a.p, a.len, &off, out) == TSS2_RC_SUCCESS
                   && off == a.len
               ? 0
               : -1;
}

/* ---- verifier ---- */

static void
hex (const uint8_t *p, size_t len, char *out, size_t out_len)
{
    size_t i;
    if (out_len == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < len && 2 * i + 2 < out_len; i++)
        snprintf (out + 2 * i, 3, "%02x", p[i]);
    if (i < len && out_len > 4)
        memcpy (out + out_len - 4, "...", 4);
}

static bool
report (attest_report *r, const char *name, bool ok, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static bool
report (attest_report *r, const char *name, bool ok, const char *fmt, ...)
{
    va_list ap;
    attest_check *c;

    if (!ok)
        r->failed++;
    if (r->n == ATTEST_MAX_CHECKS)
        return ok;
    c = &r->checks[r->n++];
    snprintf (c->name, sizeof c->name, "%s", name);
    c->ok = ok;
    va_start (ap, fmt);
    vsnprintf (c->detail, sizeof c->detail, fmt, ap);
    va_end (ap);
    return ok;
}

static bool
bytes_eq (const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp (a, b, a_len) == 0);
}

/* The identity key signed the header and body. */
static void
check_identity (const attest_bundle *b, const attest_expect *e, attest_report *r)
{
    const uint8_t *p = b->identity.p;
    EVP_PKEY *pkey = d2i_PUBKEY (NULL, &p, (long) b->identity.len);
    const EVP_MD *md = NULL;
    uint8_t *der = NULL;
    size_t half = 0, der_len = 0;
    bool ok = false;

    if (pkey == NULL || p != b->identity.p + b->identity.len) {
        report (r, "identity-signature", false, "the identity key is not a DER public key");
        EVP_PKEY_free (pkey);
        return;
    }
    if (b->sig_alg == ATTEST_SIG_ED25519 && EVP_PKEY_is_a (pkey, "ED25519")) {
        ok = pkey_verify (pkey, NULL, b->signed_part.p, b->signed_part.len, b->sig.p, b->sig.len);
    } else if ((b->sig_alg == ATTEST_SIG_ECDSA_P256_SHA256
                || b->sig_alg == ATTEST_SIG_ECDSA_P384_SHA384)
               && EVP_PKEY_is_a (pkey, "EC")) {
        half = b->sig_alg == ATTEST_SIG_ECDSA_P256_SHA256 ? 32 : 48;
        md = half == 32 ? EVP_sha256 () : EVP_sha384 ();
        if (b->sig.len == 2 * half && EVP_PKEY_get_bits (pkey) == (int) (8 * half))
            der = ecdsa_der (b->sig.p, half, b->sig.p + half, half, &der_len);
        ok = der != NULL
             && pkey_verify (pkey, md, b->signed_part.p, b->signed_part.len, der, der_len);
    }
    if (ok)
        report (r, "identity-signature", true, "the %s identity key '%.*s' signed the bundle",
                EVP_PKEY_get0_type_name (pkey), (int) (b->identity_label.len < 64 ? b->identity_label.len : 64),
                b->identity_label.p ? (const char *) b->identity_label.p : "");
    else
        report (r, "identity-signature", false,
                "the bundle's signature (algorithm %u) does not verify with its identity key: "
                "the bundle was altered or not signed by that key",
                b->sig_alg);
    OPENSSL_free (der);
    EVP_PKEY_free (pkey);
    if (e->identity != NULL)
        report (r, "identity-expected",
                bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len),
                "the identity key is %sthe expected one",
                bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len) ? ""
                                                                                        : "NOT ");
}

#define AK_REQUIRED (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM \
                     | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)

/* A restricted signing key: only such a key proves the TPM made what it signs. */
static bool
check_ak (const attest_bundle *b, const attest_expect *e, attest_report *r, TPM2B_PUBLIC *ak)
{
    char h[2 * sizeof r->ak_name + 1];
    bool ok;

    if (unmarshal_public (b->ak_pub.p, b->ak_pub.len, ak) != 0
        || attest_tpm_name (b->ak_pub.p, b->ak_pub.len, r->ak_name, &r->ak_name_len) != 0)
        return report (r, "ak-public", false, "the AK public area is not a TPM2B_PUBLIC");
    ok = (ak->publicArea.objectAttributes & AK_REQUIRED) == AK_REQUIRED
         && !(ak->publicArea.objectAttributes & TPMA_OBJECT_DECRYPT);
    report (r, "ak-public", ok,
            ok ? "restricted signing key, fixedTPM, fixedParent, sensitiveDataOrigin, as its "
                 "public area says (attributes 0x%08x)"
               : "attributes 0x%08x: not a restricted, TPM-bound signing key, so its signatures "
                 "prove nothing",
            ak->publicArea.objectAttributes);
    hex (r->ak_name, r->ak_name_len, h, sizeof h);
    /* Fail closed: nothing in a bundle ties its AK to a TPM. Its attributes,
     * the quote's qualified signer and the EK (with its certificate) are the
     * bundle's own claims, which software can make as well; only a trusted AK
     * name, learned out of band (credential activation), authenticates it. */
    if (e->ak_name != NULL) {
        r->ak_trusted = bytes_eq (e->ak_name, e->ak_name_len, r->ak_name, r->ak_name_len);
        report (r, "ak-name", r->ak_trusted, "%s (%s the trusted AK name)", h,
                r->ak_trusted ? "matches" : "DIFFERS from");
    } else {
        report (r, "ak-trust", false,
                "NOT ESTABLISHED: no trusted AK name given (--ak-name): nothing ties AK %s to a "
                "TPM, a bundle made in software passes every other check; learn the AK name "
                "by credential activation against the EK (docs/attestation.md)",
                h);
    }
    return ok;
}

/* The AK signed a TPM-generated attestation of type want (the return value:
 * its contents can be trusted), carrying the nonce (reported apart). */
static bool
check_attest (const char *what, attest_bytes att, attest_bytes sig, uint16_t want,
              const TPM2B_PUBLIC *ak, const attest_expect *e, attest_report *r,
              TPMS_ATTEST *out)
{
    char name[32], why[128] = "";
    bool ok, signed_ok;

    snprintf (name, sizeof name, "%s-signature", what);
    signed_ok = tpm_sig_verify (&ak->publicArea, att.p, att.len, sig, why, sizeof why);
    report (r, name, signed_ok, signed_ok ? "the AK signed it" : "%s", why);
    snprintf (name, sizeof name, "%s-structure", what);
    if (unmarshal_attest (att, out) != 0)
        return report (r, name, false, "not a TPMS_ATTEST");
    if (out->magic != TPM2_GENERATED_VALUE || out->type != want)
        return report (r, name, false, "magic 0x%08x type 0x%04x: not a TPM-generated %s",
                       out->magic, out->type, want == TPM2_ST_ATTEST_QUOTE ? "quote" : "certify");
    report (r, name, true, "TPM-generated (magic 0xff544347), type 0x%04x", out->type);
    snprintf (name, sizeof name, "%s-nonce", what);
    ok = e->nonce != NULL
         && bytes_eq (out->extraData.buffer, out->extraData.size, e->nonce, e->nonce_len);
    report (r, name, ok, ok ? "carries the expected nonce"
                         : e->nonce ? "its qualifying data is not the expected nonce"
                                    : "no expected nonce given");
    return signed_ok;
}

static size_t
pcr_count (uint32_t mask)
{
    return (size_t) __builtin_popcount (mask);
}

/* The hash of a TPMT_SIGNATURE's scheme (ECDSA or RSASSA); NULL for others. */
static const EVP_MD *
sig_md (attest_bytes sig)
{
    TPMT_SIGNATURE s;
    size_t off = 0;

    memset (&s, 0, sizeof s);
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal (sig.p, sig.len, &off, &s) != TSS2_RC_SUCCESS)
        return NULL;
    if (s.sigAlg == TPM2_ALG_ECDSA)
        return tpm_md (s.signature.ecdsa.hash);
    if (s.sigAlg == TPM2_ALG_RSASSA)
        return tpm_md (s.signature.rsassa.hash);
    return NULL;
}

/* TPM2_Quote's pcrDigest is the hash, with the signing scheme's hash (not the
 * bank's), of the selected PCR values concatenated in selection order. */
static void
check_pcrs (const attest_bundle *b, const attest_expect *e, const TPMS_ATTEST *q,
            attest_report *r)
{
    const TPML_PCR_SELECTION *sel = &q->attested.quote.pcrSelect;
    const EVP_MD *md = tpm_md (b->pcr_bank), *qmd = sig_md (b->quote_sig);
    size_t size = md ? (size_t) EVP_MD_get_size (md) : 0;
    uint8_t digest[64];
    unsigned int dl = 0;
    uint32_t mask = 0;
    bool ok;

    if (sel->count == 1 && sel->pcrSelections[0].hash == b->pcr_bank
        && sel->pcrSelections[0].sizeofSelect <= 4)
        for (int i = 0; i < sel->pcrSelections[0].sizeofSelect; i++)
            mask |= (uint32_t) sel->pcrSelections[0].pcrSelect[i] << (8 * i);
    ok = (sel->count == 0 && b->pcr_mask == 0) || (sel->count == 1 && mask == b->pcr_mask);
    if (!ok || md == NULL || qmd == NULL || b->pcr_mask > 0xffffff
        || b->pcr_values.len != pcr_count (b->pcr_mask) * size) {
        report (r, "pcr-digest", false,
                "the PCR values (bank 0x%04x, mask 0x%06x, %zu bytes) do not match the quote's "
                "selection",
                b->pcr_bank, b->pcr_mask, b->pcr_values.len);
        return;
    }
    EVP_Digest (b->pcr_values.p, b->pcr_values.len, digest, &dl, qmd, NULL);
    ok = bytes_eq (digest, dl, q->attested.quote.pcrDigest.buffer, q->attested.quote.pcrDigest.size);
    report (r, "pcr-digest", ok,
            ok ? "the %zu PCR values hash to the quoted digest"
               : "the %zu PCR values do NOT hash to the quoted digest (values altered)",
            pcr_count (b->pcr_mask));
    for (int i = 0; i < 24; i++) {
        char name[16], want[130], got[130];
        size_t idx = pcr_count (b->pcr_mask & ((1u << i) - 1));
        if (!(e->pcr_mask & (1u << i)))
            continue;
        snprintf (name, sizeof name, "pcr-%d", i);
        if (!(b->pcr_mask & (1u << i))) {
            report (r, name, false, "PCR %d is not in the quote", i);
            continue;
        }
        hex (b->pcr_values.p + idx * size, size, got, sizeof got);
        hex (e->pcr_value[i], e->pcr_value_len[i], want, sizeof want);
        ok = bytes_eq (e->pcr_value[i], e->pcr_value_len[i], b->pcr_values.p + idx * size, size);
        report (r, name, ok, ok ? "%s as expected" : "%s, expected %s", got, want);
    }
}

/* The AK's qualified name says it is a primary key of the endorsement hierarchy. */
static void
check_hierarchy (const TPMS_ATTEST *q, const attest_report *r, attest_report *out)
{
    static const uint8_t endorsement[4] = { 0x40, 0x00, 0x00, 0x0b };
    uint8_t buf[4 + sizeof r->ak_name], qn[2 + 64];
    unsigned int n = 0;
    const EVP_MD *md = r->ak_name_len >= 2 ? tpm_md (be16 (r->ak_name)) : NULL;
    bool ok;

    memcpy (buf, endorsement, 4);
    memcpy (buf + 4, r->ak_name, r->ak_name_len);
    qn[0] = r->ak_name[0];
    qn[1] = r->ak_name[1];
    ok = md != NULL && EVP_Digest (buf, 4 + r->ak_name_len, qn + 2, &n, md, NULL)
         && bytes_eq (qn, 2 + n, q->qualifiedSigner.name, q->qualifiedSigner.size);
    report (out, "ak-hierarchy", ok,
            ok ? "the quote names the AK a primary key of the endorsement hierarchy (the AK's "
                 "own statement: worth what the AK's trust is)"
               : "the quote's qualified signer is not an endorsement-hierarchy primary AK");
}

#define KEY_REQUIRED (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

static void
check_keys (const attest_bundle *b, const attest_expect *e, const TPM2B_PUBLIC *ak,
            const TPMS_ATTEST *q, attest_report *r)
{
    const uint8_t *ip = b->identity.p;
    EVP_PKEY *identity = d2i_PUBKEY (NULL, &ip, (long) b->identity.len);
    size_t identity_at = 0; /* 1-based: the certified key that is the identity */

    for (size_t i = 0; i < b->n_keys; i++) {
        const attest_key_view *k = &b->keys[i];
        char what[16], name[32], label[64];
        uint8_t kn[2 + 64];
        size_t kn_len = 0;
        TPM2B_PUBLIC pub;
        TPMS_ATTEST c;
        bool ok;

        snprintf (what, sizeof what, "key%u", (unsigned) (i + 1));
        snprintf (label, sizeof label, "%.*s", (int) (k->label.len < 60 ? k->label.len : 60),
                  k->label.p ? (const char *) k->label.p : "");
        if (!check_attest (what, k->certify, k->certify_sig, TPM2_ST_ATTEST_CERTIFY, ak, e, r, &c))
            continue;
        snprintf (name, sizeof name, "%s-name", what);
        if (unmarshal_public (k->pub.p, k->pub.len, &pub) != 0
            || attest_tpm_name (k->pub.p, k->pub.len, kn, &kn_len) != 0) {
            report (r, name, false, "'%s': the key's public area is not a TPM2B_PUBLIC", label);
            continue;
        }
        ok = bytes_eq (kn, kn_len, c.attested.certify.name.name, c.attested.certify.name.size);
        report (r, name, ok,
                ok ? "'%s': the certified name is the name of its public area"
                   : "'%s': the certified name is NOT the name of its public area",
                label);
        snprintf (name, sizeof name, "%s-attributes", what);
        ok = (pub.publicArea.objectAttributes & KEY_REQUIRED) == KEY_REQUIRED;
        if (ok)
            report (r, name, true,
                    "'%s': fixedTPM and fixedParent: it lives in this TPM and cannot leave it%s",
                    label,
                    (pub.publicArea.objectAttributes & TPMA_OBJECT_SENSITIVEDATAORIGIN)
                        ? " (its secret was generated inside it)"
                        : " (its secret came from outside: imported or sealed data)");
        else
            report (r, name, false, "'%s': attributes 0x%08x lack fixedTPM/fixedParent", label,
                    pub.publicArea.objectAttributes);
        snprintf (name, sizeof name, "%s-same-boot", what);
        ok = c.clockInfo.resetCount == q->clockInfo.resetCount
             && c.clockInfo.restartCount == q->clockInfo.restartCount;
        report (r, name, ok, ok ? "certified in the same TPM boot as the quote"
                                : "certified in another TPM boot than the quote");
        if (identity != NULL && identity_at == 0 && pub.publicArea.type == TPM2_ALG_ECC) {
            EVP_PKEY *kp = pkey_from_tpm (&pub.publicArea);
            if (kp != NULL && EVP_PKEY_eq (kp, identity) == 1)
                identity_at = i + 1;
            EVP_PKEY_free (kp);
        }
    }
    /* The identity is worth what ties it to the TPM: its certification. */
    if (identity != NULL && identity_at != 0)
        report (r, "identity-in-tpm", true,
                "the identity key is certified key %zu: it lives in this TPM", identity_at);
    else if (identity != NULL && EVP_PKEY_is_a (identity, "EC"))
        report (r, "identity-in-tpm", false,
                "the ECDSA identity key is not among the certified keys: nothing ties it to "
                "this TPM");
    else if (identity != NULL && e->identity != NULL
             && bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len))
        report (r, "identity-in-tpm", true,
                "an Ed25519 identity (its seed is TPM-sealed data, whose public key a TPM cannot "
                "certify): trusted as the expected identity key");
    else if (identity != NULL)
        report (r, "identity-in-tpm", false,
                "NOT ESTABLISHED: an Ed25519 identity cannot be certified by the TPM, so nothing "
                "ties it to this TPM: give the expected identity key (--identity-pub)");
    EVP_PKEY_free (identity);
}

static void
check_ek (const attest_bundle *b, const attest_expect *e, attest_report *r)
{
    TPM2B_PUBLIC ek;
    EVP_PKEY *ek_key = NULL, *cert_key = NULL;
    const uint8_t *p = b->ek_cert.p;
    X509 *cert = NULL;
    bool ok;

    if (b->ek_pub.p == NULL) {
        report (r, "ek-public", false, "the bundle has no EK public key");
        return;
    }
    if (unmarshal_public (b->ek_pub.p, b->ek_pub.len, &ek) != 0
        || (ek_key = pkey_from_tpm (&ek.publicArea)) == NULL) {
        report (r, "ek-public", false, "the EK public area is not an RSA or ECC TPM2B_PUBLIC");
        return;
    }
    /* Public data anyone can copy into a bundle: the AK is not tied to it here
     * (only the credential activation behind a trusted AK name does that). */
    report (r, "ek-public", true,
            "%s EK (as the bundle says: it does not show that the AK is in this EK's TPM)",
            ek.publicArea.type == TPM2_ALG_RSA ? "RSA" : "ECC");
    if (b->ek_cert.p == NULL) {
        if (e->ek_ca_file != NULL)
            report (r, "ek-cert", false, "the TPM had no EK certificate to check against %s",
                    e->ek_ca_file);
        EVP_PKEY_free (ek_key);
        return;
    }
    cert = d2i_X509 (NULL, &p, (long) b->ek_cert.len);
    cert_key = cert ? X509_get0_pubkey (cert) : NULL;
    ok = cert_key != NULL && EVP_PKEY_eq (cert_key, ek_key) == 1;
    report (r, "ek-cert", ok,
            ok ? "the EK certificate certifies this EK public key"
               : "the EK certificate does not certify this EK public key");
    if (ok && e->ek_ca_file != NULL) {
        X509_STORE *store = X509_STORE_new ();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
        ok = store != NULL && ctx != NULL
             && X509_STORE_load_file (store, e->ek_ca_file) == 1
             && X509_STORE_CTX_init (ctx, store, cert, NULL) == 1;
        if (ok) {
            /* EK certificates carry TCG extensions OpenSSL does not know */
            X509_STORE_CTX_set_flags (ctx, X509_V_FLAG_IGNORE_CRITICAL | X509_V_FLAG_PARTIAL_CHAIN);
            ok = X509_verify_cert (ctx) == 1;
        }
        report (r, "ek-chain", ok, ok ? "the EK certificate chains to %s" : "the EK certificate "
                                                                            "does not chain to %s (%s)",
                e->ek_ca_file,
                ok ? "" : ctx ? X509_verify_cert_error_string (X509_STORE_CTX_get_error (ctx)) : "");
        X509_STORE_CTX_free (ctx);
        X509_STORE_free (store);
    }
    X509_free (cert);
    EVP_PKEY_free (ek_key);
}

int
attest_verify (const uint8_t *bundle, size_t len, const attest_expect *expect,
               attest_report *r)
{
    static const attest_expect none = { 0 };
    const attest_expect *e = expect ? expect : &none;
    attest_bundle *b = calloc (1, sizeof *b);
    TPM2B_PUBLIC ak;
    TPMS_ATTEST q;
    char err[200] = "";
    bool ok;

    memset (r, 0, sizeof *r);
    if (b == NULL)
        return report (r, "format", false, "out of memory"), r->failed;
    if (attest_parse (bundle, len, b, err, sizeof err) != 0) {
        report (r, "format", false, "%s", err);
        free (b);
        return r->failed;
    }
    report (r, "format", true, "version %u, %zu bytes, %zu certified key%s", b->version, len,
            b->n_keys, b->n_keys == 1 ? "" : "s");
    check_identity (b, e, r);
    ok = e->nonce != NULL && bytes_eq (b->nonce.p, b->nonce.len, e->nonce, e->nonce_len);
    report (r, "nonce", ok, ok ? "the bundle answers the expected nonce"
                            : e->nonce ? "the bundle answers another nonce"
                                       : "no expected nonce given");
    if (check_ak (b, e, r, &ak)
        && check_attest ("quote", b->quote, b->quote_sig, TPM2_ST_ATTEST_QUOTE, &ak, e, r, &q)) {
        r->clock = q.clockInfo.clock;
        r->reset_count = q.clockInfo.resetCount;
        r->restart_count = q.clockInfo.restartCount;
        r->safe = q.clockInfo.safe == TPM2_YES;
        r->firmware = q.firmwareVersion;
        check_hierarchy (&q, r, r);
        check_pcrs (b, e, &q, r);
        check_keys (b, e, &ak, &q, r);
    } else if (b->n_keys > 0 || e->pcr_mask != 0) {
        report (r, "quote", false, "PCRs and certified keys not checked: the AK or quote failed");
    }
    check_ek (b, e, r);
    free (b);
    return r->failed;
}

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
        uint8_t c[4] = { (uint8_t) (i >> 24), (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
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
        errf (err, err_len, "could not encrypt the seed to the EK");
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
        errf (err, err_len, "the secret must be 1..32 bytes and the AK name a TPM name");
        return -1;
    }
    if (unmarshal_public (ek_pub, ek_len, &ek) != 0 || (md = tpm_md (ek.publicArea.nameAlg)) == NULL
        || (ek_key = pkey_from_tpm (&ek.publicArea)) == NULL) {
        errf (err, err_len, "the EK public key is not an RSA or ECC TPM2B_PUBLIC");
        return -1;
    }
    {
        const TPMT_SYM_DEF_OBJECT *s = ek.publicArea.type == TPM2_ALG_RSA
                                           ? &ek.publicArea.parameters.rsaDetail.symmetric
                                           : &ek.publicArea.parameters.eccDetail.symmetric;
        if (s->algorithm != TPM2_ALG_AES || s->mode.aes != TPM2_ALG_CFB
            || (s->keyBits.aes != 128 && s->keyBits.aes != 256)) {
            errf (err, err_len, "the EK is not a storage key with AES-CFB");
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
        errf (err, err_len, "key derivation or encryption failed");
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
        errf (err, err_len, "out of memory");
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
    if (file == NULL || len < 12 || be32 (file) != 0xBADCC0DE || be32 (file + 4) != 1)
        return -1;
    a = be16 (file + 8);
    if (a > len - 10 || len - 10 - a < 2)
        return -1;
    b = be16 (file + 10 + a);
    if (b != len - 12 - a)
        return -1;
    *id_object = (attest_bytes) { file + 8, 2 + a };
    *enc_secret = (attest_bytes) { file + 10 + a, 2 + b };
    return 0;
}
