/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation bundles, the bundle format: the TLV encoder and the parser (each
 * field checked, each at most once). Pure: no TPM, no state; every read is
 * bounds-checked. See attest-verify.h and docs/attestation.md.
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

uint16_t
attest_be16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

uint32_t
attest_be32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void
attest_errf (char *err, size_t err_len, const char *fmt, ...)
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
            attest_errf (err, err_len, "truncated field header at body offset %zu", off);
            return -1;
        }
        tag = attest_be16 (v.p + off);
        n = attest_be32 (v.p + off + 2);
        off += 6;
        if (n > v.len - off) {
            attest_errf (err, err_len, "field 0x%04x: length %u runs past the end", tag, n);
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
        attest_errf (err, err_len, "field 0x%04x appears twice", tag);
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
        attest_errf (err, err_len, "unknown key field 0x%04x", tag);
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
            attest_errf (err, err_len, "time field: %zu bytes, want 8", v.len);
            return -1;
        }
        if (set_once (&b->time_field, v, tag, err, err_len) != 0)
            return -1;
        b->time = (uint64_t) attest_be32 (v.p) << 32 | attest_be32 (v.p + 4);
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
            attest_errf (err, err_len, "PCR values field repeated or shorter than 6 bytes");
            return -1;
        }
        b->pcr_bank = attest_be16 (v.p);
        b->pcr_mask = attest_be32 (v.p + 2);
        b->pcr_values = (attest_bytes) { v.p + 6, v.len - 6 };
        return 0;
    case ATTEST_KEY:
        if (b->n_keys == ATTEST_MAX_KEYS) {
            attest_errf (err, err_len, "more than %d certified keys", ATTEST_MAX_KEYS);
            return -1;
        }
        if (walk (v, key_field, &b->keys[b->n_keys], err, err_len) != 0)
            return -1;
        if (b->keys[b->n_keys].pub.p == NULL || b->keys[b->n_keys].certify.p == NULL
            || b->keys[b->n_keys].certify_sig.p == NULL) {
            attest_errf (err, err_len, "certified key %zu lacks its public area, attestation or "
                                "signature",
                  b->n_keys + 1);
            return -1;
        }
        b->n_keys++;
        return 0;
    default:
        attest_errf (err, err_len, "unknown field 0x%04x (a newer bundle version?)", tag);
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
        attest_errf (err, err_len, "%zu bytes: not a bundle", len);
        return -1;
    }
    if (memcmp (b, ATTEST_MAGIC, 4) != 0) {
        attest_errf (err, err_len, "no TTAT magic: not a tpmtrust attestation bundle");
        return -1;
    }
    out->version = attest_be16 (b + 4);
    if (out->version != ATTEST_VERSION || attest_be16 (b + 6) != 0) {
        attest_errf (err, err_len, "version %u flags 0x%04x: this verifier reads version %d",
                     out->version, attest_be16 (b + 6), ATTEST_VERSION);
        return -1;
    }
    body = attest_be32 (b + 8);
    if (body > len - ATTEST_HEADER_LEN - 4) {
        attest_errf (err, err_len, "body length %u runs past the end", body);
        return -1;
    }
    off = ATTEST_HEADER_LEN + body;
    out->signed_part = (attest_bytes) { b, off };
    out->sig_alg = attest_be16 (b + off);
    out->sig = (attest_bytes) { b + off + 4, attest_be16 (b + off + 2) };
    if (out->sig.len != len - off - 4) {
        attest_errf (err, err_len, "signature length %zu does not end the bundle (%zu bytes left)",
              out->sig.len, len - off - 4);
        return -1;
    }
    if (walk ((attest_bytes) { b + ATTEST_HEADER_LEN, body }, body_field, out, err, err_len) != 0)
        return -1;
    if (out->nonce.p == NULL || out->identity.p == NULL || out->ak_pub.p == NULL
        || out->quote.p == NULL || out->quote_sig.p == NULL || out->pcr_values.p == NULL) {
        attest_errf (err, err_len,
                     "a required field is missing (nonce, identity, AK public, quote, "
                     "quote signature, PCR values)");
        return -1;
    }
    return 0;
}
