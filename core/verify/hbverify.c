/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Verifier for tpmtrust watchdog heartbeats; see hbverify.h for the format.
 *
 * Deliberately free of libc (not even memcpy/memset: byte loops instead) and
 * of allocation; stack use stays well under 1 KiB.  Bytes are read and
 * written one at a time, so host endianness and alignment do not matter.
 */
#include "verify/hbverify.h"

/* ---- small helpers ---- */

static void
hb_copy (uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Zeroes n bytes in a way the compiler may not drop as a dead store. */
static void
hb_wipe (void *p, size_t n)
{
    volatile uint8_t *b = (volatile uint8_t *) p;
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = 0;
}

/* 1 when a[0, n) == b[0, n), else 0; the time taken does not depend on the contents. */
static int
hb_ct_equal (const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t diff = 0;
    size_t i;
    uint32_t d;

    for (i = 0; i < n; i++)
        diff |= (uint8_t) (a[i] ^ b[i]);
    d = diff;
    /* d in [0, 255]: (d - 1) >> 8 has bit 0 set only for d == 0. */
    return (int) (1u & ((d - 1u) >> 8));
}

static uint16_t
hb_get16 (const uint8_t *p)
{
    return (uint16_t) (p[0] | (p[1] << 8));
}

static uint64_t
hb_get64 (const uint8_t *p)
{
    uint64_t x = 0;
    int i;

    for (i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static void
hb_put16 (uint8_t *p, uint16_t x)
{
    p[0] = (uint8_t) x;
    p[1] = (uint8_t) (x >> 8);
}

static void
hb_put64 (uint8_t *p, uint64_t x)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t) (x >> (8 * i));
}

/* ---- SHA-256, FIPS 180-4 ---- */

struct hb_sha256_ctx {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t buf[64];
    size_t used; /* bytes in buf */
};

static const uint32_t hb_k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define HB_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
hb_sha256_block (uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    uint32_t a, b, c, d, e, f, g, hh, t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t) p[4 * i] << 24) | ((uint32_t) p[4 * i + 1] << 16) |
               ((uint32_t) p[4 * i + 2] << 8) | (uint32_t) p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = HB_ROTR (w[i - 15], 7) ^ HB_ROTR (w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = HB_ROTR (w[i - 2], 17) ^ HB_ROTR (w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }

    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    f = h[5];
    g = h[6];
    hh = h[7];
    for (i = 0; i < 64; i++) {
        t1 = hh + (HB_ROTR (e, 6) ^ HB_ROTR (e, 11) ^ HB_ROTR (e, 25)) + ((e & f) ^ (~e & g)) +
             hb_k256[i] + w[i];
        t2 = (HB_ROTR (a, 2) ^ HB_ROTR (a, 13) ^ HB_ROTR (a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;

    /* The schedule is derived from (possibly secret) input: do not leave it on the stack. */
    hb_wipe (w, sizeof w);
}

static void
hb_sha256_init (struct hb_sha256_ctx *c)
{
    c->h[0] = 0x6a09e667;
    c->h[1] = 0xbb67ae85;
    c->h[2] = 0x3c6ef372;
    c->h[3] = 0xa54ff53a;
    c->h[4] = 0x510e527f;
    c->h[5] = 0x9b05688c;
    c->h[6] = 0x1f83d9ab;
    c->h[7] = 0x5be0cd19;
    c->total = 0;
    c->used = 0;
}

static void
hb_sha256_update (struct hb_sha256_ctx *c, const uint8_t *data, size_t len)
{
    c->total += len;
    if (c->used) {
        size_t take = 64 - c->used;

        if (take > len)
            take = len;
        hb_copy (c->buf + c->used, data, take);
        c->used += take;
        data += take;
        len -= take;
        if (c->used < 64)
            return;
        hb_sha256_block (c->h, c->buf);
        c->used = 0;
    }
    while (len >= 64) {
        hb_sha256_block (c->h, data);
        data += 64;
        len -= 64;
    }
    hb_copy (c->buf, data, len);
    c->used = len;
}

static void
hb_sha256_final (struct hb_sha256_ctx *c, uint8_t out[32])
{
    uint64_t bits = c->total * 8;
    int i;

    c->buf[c->used++] = 0x80;
    if (c->used > 56) {
        while (c->used < 64)
            c->buf[c->used++] = 0;
        hb_sha256_block (c->h, c->buf);
        c->used = 0;
    }
    while (c->used < 56)
        c->buf[c->used++] = 0;
    for (i = 0; i < 8; i++)
        c->buf[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
    hb_sha256_block (c->h, c->buf);

    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t) (c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t) (c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t) (c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t) c->h[i];
    }
    hb_wipe (c, sizeof *c);
}

void
hb_sha256 (const uint8_t *data, size_t len, uint8_t out[32])
{
    struct hb_sha256_ctx c;

    hb_sha256_init (&c);
    hb_sha256_update (&c, data, len);
    hb_sha256_final (&c, out);
}

/* ---- HMAC-SHA256, RFC 2104 ---- */

void
hb_hmac_sha256 (const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                uint8_t out[32])
{
    struct hb_sha256_ctx c;
    uint8_t k[64], inner[32];
    size_t i;

    for (i = 0; i < 64; i++)
        k[i] = 0;
    if (key_len > 64)
        hb_sha256 (key, key_len, k);
    else
        hb_copy (k, key, key_len);

    for (i = 0; i < 64; i++)
        k[i] ^= 0x36;
    hb_sha256_init (&c);
    hb_sha256_update (&c, k, 64);
    hb_sha256_update (&c, data, len);
    hb_sha256_final (&c, inner);

    for (i = 0; i < 64; i++)
        k[i] ^= 0x36 ^ 0x5c;
    hb_sha256_init (&c);
    hb_sha256_update (&c, k, 64);
    hb_sha256_update (&c, inner, 32);
    hb_sha256_final (&c, out);

    hb_wipe (k, sizeof k);
    hb_wipe (inner, sizeof inner);
}

/* ---- heartbeats ---- */

#define HB_OFF_MAGIC 0
#define HB_OFF_VERSION 4
#define HB_OFF_FLAGS 6
#define HB_OFF_SEQ 8
#define HB_OFF_TIME 16
#define HB_OFF_NONCE 24
#define HB_OFF_METALEN 40

static const uint8_t hb_magic[HB_MAGIC_LEN] = { 0x54, 0x54, 0x48, 0x42 };
static const uint8_t hb_zero_nonce[HB_NONCE_LEN];

void
hb_verifier_init (struct hb_verifier *v, const uint8_t key[HB_KEY_LEN], uint64_t window_ns)
{
    if (!v)
        return;
    if (key)
        hb_copy (v->key, key, HB_KEY_LEN);
    else
        hb_wipe (v->key, HB_KEY_LEN);
    v->last_seq = 0;
    v->have_last = 0;
    v->window_ns = window_ns;
}

void
hb_verifier_clear (struct hb_verifier *v)
{
    if (v)
        hb_wipe (v, sizeof *v);
}

enum hb_result
hb_verify (struct hb_verifier *v, const uint8_t *msg, size_t len, uint64_t now_ns,
           const uint8_t expected_nonce[HB_NONCE_LEN])
{
    uint8_t mac[HB_MAC_LEN];
    size_t meta_len;
    uint64_t seq, ts, age;
    int mac_ok;

    if (!v || !msg)
        return HB_ERR_ARG;

    /* length: the fixed part, then M within bounds and matching exactly */
    if (len < HB_MIN_LEN)
        return HB_ERR_LENGTH;
    meta_len = hb_get16 (msg + HB_OFF_METALEN);
    if (meta_len > HB_MAX_META || len != HB_MIN_LEN + meta_len)
        return HB_ERR_LENGTH;

    if (!hb_ct_equal (msg + HB_OFF_MAGIC, hb_magic, HB_MAGIC_LEN))
        return HB_ERR_MAGIC;
    if (hb_get16 (msg + HB_OFF_VERSION) != HB_VERSION)
        return HB_ERR_VERSION;
    if (hb_get16 (msg + HB_OFF_FLAGS) != 0)
        return HB_ERR_FLAGS;

    hb_hmac_sha256 (v->key, HB_KEY_LEN, msg, HB_HEADER_LEN + meta_len, mac);
    mac_ok = hb_ct_equal (mac, msg + HB_HEADER_LEN + meta_len, HB_MAC_LEN);
    hb_wipe (mac, sizeof mac);
    if (!mac_ok)
        return HB_ERR_MAC;

    /* Authenticated from here on. */
    if (expected_nonce && !hb_ct_equal (msg + HB_OFF_NONCE, expected_nonce, HB_NONCE_LEN))
        return HB_ERR_NONCE;

    seq = hb_get64 (msg + HB_OFF_SEQ);
    if (v->have_last && seq <= v->last_seq)
        return HB_ERR_REPLAY;

    /* |now - ts| without wrap-around: subtract the smaller from the larger. */
    ts = hb_get64 (msg + HB_OFF_TIME);
    age = now_ns >= ts ? now_ns - ts : ts - now_ns;
    if (age > v->window_ns)
        return HB_ERR_TIME;

    v->last_seq = seq;
    v->have_last = 1;
    return HB_OK;
}

const char *
hb_result_str (enum hb_result r)
{
    switch (r) {
    case HB_OK:
        return "ok";
    case HB_ERR_LENGTH:
        return "bad length";
    case HB_ERR_MAGIC:
        return "bad magic";
    case HB_ERR_VERSION:
        return "unsupported version";
    case HB_ERR_FLAGS:
        return "reserved flags set";
    case HB_ERR_MAC:
        return "MAC mismatch";
    case HB_ERR_REPLAY:
        return "replayed or reordered sequence number";
    case HB_ERR_TIME:
        return "timestamp outside the window";
    case HB_ERR_NONCE:
        return "nonce mismatch";
    case HB_ERR_ARG:
        return "invalid argument";
    }
    return "unknown result";
}

size_t
hb_build (const uint8_t key[HB_KEY_LEN], uint64_t seq, uint64_t ts_ns,
          const uint8_t nonce[HB_NONCE_LEN], const uint8_t *meta, size_t meta_len, uint8_t *out)
{
    if (!key || !out || meta_len > HB_MAX_META || (meta_len && !meta))
        return 0;

    hb_copy (out + HB_OFF_MAGIC, hb_magic, HB_MAGIC_LEN);
    hb_put16 (out + HB_OFF_VERSION, HB_VERSION);
    hb_put16 (out + HB_OFF_FLAGS, 0);
    hb_put64 (out + HB_OFF_SEQ, seq);
    hb_put64 (out + HB_OFF_TIME, ts_ns);
    hb_copy (out + HB_OFF_NONCE, nonce ? nonce : hb_zero_nonce, HB_NONCE_LEN);
    hb_put16 (out + HB_OFF_METALEN, (uint16_t) meta_len);
    if (meta_len)
        hb_copy (out + HB_HEADER_LEN, meta, meta_len);
    hb_hmac_sha256 (key, HB_KEY_LEN, out, HB_HEADER_LEN + meta_len, out + HB_HEADER_LEN + meta_len);
    return HB_MIN_LEN + meta_len;
}
