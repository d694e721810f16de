/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The heartbeat verifier (core/verify/hbverify.c): its SHA-256 against the FIPS
 * 180-2 examples, its HMAC-SHA256 against RFC 4231 and against OpenSSL on
 * random inputs, the wire format against a heartbeat put together here by
 * hand, and the verification rules (sequence, replay, tampering, length,
 * time window, nonce, metadata bounds; an error never changes the state).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests/unit/tap.h"
#include "verify/hbverify.h"

#define SEC 1000000000ull

static int
unhex (const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen (hex), i;

    if (n % 2 || n / 2 > cap)
        return -1;
    for (i = 0; i < n / 2; i++) {
        unsigned int b;

        if (sscanf (hex + 2 * i, "%2x", &b) != 1)
            return -1;
        out[i] = (uint8_t) b;
    }
    return (int) (n / 2);
}

static int
eq_hex (const uint8_t *got, const char *want_hex)
{
    uint8_t want[64];
    int n = unhex (want_hex, want, sizeof want);

    return n > 0 && memcmp (got, want, (size_t) n) == 0;
}

/* ---- SHA-256 ---- */

static uint8_t million_a[1000000];

static void
test_sha256 (void)
{
    static const struct {
        const char *msg, *hex;
    } v[] = {
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    uint8_t out[32], ref[32], buf[300];
    unsigned int i, n, bad = 0;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        hb_sha256 ((const uint8_t *) v[i].msg, strlen (v[i].msg), out);
        ok (eq_hex (out, v[i].hex), "SHA-256 FIPS 180-2 vector \"%.10s%s\" (%zu bytes)", v[i].msg,
            strlen (v[i].msg) > 10 ? "..." : "", strlen (v[i].msg));
    }
    hb_sha256 (NULL, 0, out);
    ok (eq_hex (out, v[1].hex), "SHA-256 of (NULL, 0) is that of the empty message");

    memset (million_a, 'a', sizeof million_a);
    hb_sha256 (million_a, sizeof million_a, out);
    ok (eq_hex (out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        "SHA-256 FIPS 180-2 vector: one million 'a'");

    /* Every length across the padding boundaries (55/56/63/64/119/120/...) against OpenSSL. */
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t) (i * 131 + 7);
    for (n = 0; n <= sizeof buf; n++) {
        unsigned int rl = 0;

        hb_sha256 (buf, n, out);
        if (!EVP_Digest (buf, n, ref, &rl, EVP_sha256 (), NULL) || rl != 32 ||
            memcmp (out, ref, 32) != 0) {
            bad++;
            printf ("# SHA-256 differs from OpenSSL at length %u\n", n);
        }
    }
    ok (bad == 0, "SHA-256 equals OpenSSL's for every length 0..%zu", sizeof buf);
}

/* ---- HMAC-SHA256 ---- */

static void
test_hmac_rfc4231 (void)
{
    /* RFC 4231 section 4; case 5 (truncated output) is not applicable. */
    static const char data7[] = "This is a test using a larger than block-size key and a larger than "
                                "block-size data. The key needs to be hashed before being used by "
                                "the HMAC algorithm.";
    struct tc {
        int num;
        uint8_t key[131];
        size_t key_len;
        uint8_t data[160];
        size_t data_len;
        const char *hex;
    };
    static struct tc t[6];
    uint8_t out[32];
    unsigned int i;

    t[0].num = 1;
    memset (t[0].key, 0x0b, t[0].key_len = 20);
    memcpy (t[0].data, "Hi There", t[0].data_len = 8);
    t[0].hex = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";

    t[1].num = 2;
    memcpy (t[1].key, "Jefe", t[1].key_len = 4);
    memcpy (t[1].data, "what do ya want for nothing?", t[1].data_len = 28);
    t[1].hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    t[2].num = 3;
    memset (t[2].key, 0xaa, t[2].key_len = 20);
    memset (t[2].data, 0xdd, t[2].data_len = 50);
    t[2].hex = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";

    t[3].num = 4;
    t[3].key_len = (size_t) unhex ("0102030405060708090a0b0c0d0e0f10111213141516171819", t[3].key,
                                   sizeof t[3].key);
    memset (t[3].data, 0xcd, t[3].data_len = 50);
    t[3].hex = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";

    t[4].num = 6;
    memset (t[4].key, 0xaa, t[4].key_len = 131);
    memcpy (t[4].data, "Test Using Larger Than Block-Size Key - Hash Key First",
            t[4].data_len = 54);
    t[4].hex = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";

    t[5].num = 7;
    memset (t[5].key, 0xaa, t[5].key_len = 131);
    memcpy (t[5].data, data7, t[5].data_len = strlen (data7));
    t[5].hex = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";

    ok (t[3].key_len == 25 && t[5].data_len == 152, "RFC 4231 inputs have their stated lengths");
    for (i = 0; i < 6; i++) {
        hb_hmac_sha256 (t[i].key, t[i].key_len, t[i].data, t[i].data_len, out);
        ok (eq_hex (out, t[i].hex), "HMAC-SHA256 RFC 4231 test case %d", t[i].num);
    }
}

static void
test_hmac_openssl (void)
{
    static const size_t edge[] = { 0, 1, 31, 32, 55, 56, 63, 64, 65, 127, 128, 129 };
    uint8_t key[200], data[1000], out[32], ref[32];
    unsigned int i, rl, bad = 0, runs = 0;
    size_t j;

    srand (20240917);
    for (i = 0; i < 200; i++) {
        size_t kl, dl;

        if (i < 12 * 12) {
            kl = edge[i / 12]; /* every pair of edge lengths */
            dl = edge[i % 12];
        } else {
            kl = (size_t) rand () % (sizeof key + 1);
            dl = (size_t) rand () % (sizeof data + 1);
        }
        for (j = 0; j < kl; j++)
            key[j] = (uint8_t) rand ();
        for (j = 0; j < dl; j++)
            data[j] = (uint8_t) rand ();
        hb_hmac_sha256 (key, kl, data, dl, out);
        rl = 0;
        if (!HMAC (EVP_sha256 (), key, (int) kl, data, dl, ref, &rl) || rl != 32 ||
            memcmp (out, ref, 32) != 0) {
            bad++;
            printf ("# HMAC differs from OpenSSL: key %zu bytes, data %zu bytes\n", kl, dl);
        }
        runs++;
    }
    ok (bad == 0, "HMAC-SHA256 equals OpenSSL's HMAC() on %u inputs (edge and random lengths)",
        runs);
}

/* ---- heartbeats ---- */

static const uint8_t hb_key[32] = {
    0x8f, 0x1e, 0x33, 0x72, 0x05, 0xa9, 0xc4, 0x6d, 0x10, 0xfe, 0x27, 0x9b, 0x58, 0x61, 0xe2, 0x0c,
    0xd7, 0x3a, 0x44, 0xb5, 0x96, 0x2f, 0x81, 0x7e, 0x0a, 0xcc, 0x19, 0x53, 0xea, 0x68, 0xb1, 0x47,
};

static uint64_t
get64 (const uint8_t *p)
{
    uint64_t x = 0;
    int i;

    for (i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static void
put16 (uint8_t *p, unsigned int x)
{
    p[0] = (uint8_t) x;
    p[1] = (uint8_t) (x >> 8);
}

static void
put64 (uint8_t *p, uint64_t x)
{
    int i;

    for (i = 0; i < 8; i++)
        p[i] = (uint8_t) (x >> (8 * i));
}

/*
 * A heartbeat put together field by field, independently of hb_build, with
 * OpenSSL's HMAC; any field may be set to an invalid value.
 */
struct raw {
    const char *magic; /* 4 bytes */
    unsigned int version, flags, meta_len_field;
    uint64_t seq, ts;
    const uint8_t *nonce; /* NULL: zero */
    const uint8_t *meta;
    size_t meta_len;
    const uint8_t *key; /* NULL: hb_key */
};

static size_t
raw_build (const struct raw *r, uint8_t *out)
{
    unsigned int ml = 0;

    memcpy (out, r->magic, 4);
    put16 (out + 4, r->version);
    put16 (out + 6, r->flags);
    put64 (out + 8, r->seq);
    put64 (out + 16, r->ts);
    if (r->nonce)
        memcpy (out + 24, r->nonce, 16);
    else
        memset (out + 24, 0, 16);
    put16 (out + 40, r->meta_len_field);
    if (r->meta_len)
        memcpy (out + 42, r->meta, r->meta_len);
    if (!HMAC (EVP_sha256 (), r->key ? r->key : hb_key, 32, out, 42 + r->meta_len,
               out + 42 + r->meta_len, &ml) ||
        ml != 32)
        return 0;
    return 74 + r->meta_len;
}

static struct raw
raw_default (uint64_t seq, uint64_t ts)
{
    struct raw r;

    memset (&r, 0, sizeof r);
    r.magic = "TTHB";
    r.version = 1;
    r.seq = seq;
    r.ts = ts;
    return r;
}

/* The verifier still has exactly this state (and its key). */
static int
state_is (const struct hb_verifier *v, int have_last, uint64_t last_seq)
{
    return v->have_last == have_last && (!have_last || v->last_seq == last_seq) &&
           memcmp (v->key, hb_key, 32) == 0;
}

static void
test_wire_format (void)
{
    static const uint8_t nonce[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    static const uint8_t meta[5] = { 'h', 'e', 'l', 'l', 'o' };
    static const uint8_t head[42] = {
        0x54, 0x54, 0x48, 0x42,                         /* "TTHB" */
        0x01, 0x00,                                     /* version 1 */
        0x00, 0x00,                                     /* flags */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seq 0x0102030405060708 */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* ts 0x1122334455667788 */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        0x05, 0x00, /* M = 5 */
    };
    uint8_t built[HB_MAX_LEN], raw[HB_MAX_LEN], mac[32];
    struct hb_verifier v;
    struct raw r = raw_default (0x0102030405060708ull, 0x1122334455667788ull);
    size_t n, rn;
    unsigned int ml = 0;

    n = hb_build (hb_key, 0x0102030405060708ull, 0x1122334455667788ull, nonce, meta, 5, built);
    is_rv (n, 74 + 5, "hb_build length is 74 + M");
    ok (memcmp (built, head, 42) == 0, "header bytes are exactly as specified (little-endian)");
    ok (memcmp (built + 42, meta, 5) == 0, "metadata follows the header");
    {
        uint8_t tmp[47];

        memcpy (tmp, head, 42);
        memcpy (tmp + 42, meta, 5);
        HMAC (EVP_sha256 (), hb_key, 32, tmp, 47, mac, &ml);
    }
    ok (ml == 32 && memcmp (built + 47, mac, 32) == 0,
        "trailing MAC is OpenSSL's HMAC-SHA256 over bytes [0, 42+M)");

    r.nonce = nonce;
    r.meta = meta;
    r.meta_len = r.meta_len_field = 5;
    rn = raw_build (&r, raw);
    ok (rn == n && memcmp (raw, built, n) == 0, "hb_build equals a field-by-field construction");

    hb_verifier_init (&v, hb_key, 10);
    is_rv (hb_verify (&v, raw, rn, 0x1122334455667788ull, nonce), HB_OK,
           "a hand-made heartbeat verifies");
    ok (state_is (&v, 1, 0x0102030405060708ull), "last_seq is the heartbeat's sequence number");

    n = hb_build (hb_key, 0, 0, NULL, NULL, 0, built);
    is_rv (n, 74, "empty metadata, no nonce: 74 bytes");
    ok (built[40] == 0 && built[41] == 0 && memcmp (built + 24, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0,
        "M = 0 and an all-zero nonce");
    hb_verifier_clear (&v);
}

static void
test_stream_and_replay (void)
{
    static uint8_t msgs[101][HB_MAX_LEN];
    static size_t lens[101];
    uint8_t meta[HB_MAX_META], m[HB_MAX_LEN];
    struct hb_verifier v;
    uint64_t base = 5000 * SEC, seq = 0;
    unsigned int i, bad = 0;
    size_t n;

    for (i = 0; i < sizeof meta; i++)
        meta[i] = (uint8_t) (i ^ 0x5a);

    hb_verifier_init (&v, hb_key, 1 * SEC);
    ok (state_is (&v, 0, 0), "a fresh verifier has no last sequence number");

    /* seq 0 first, then strictly increasing with gaps; metadata of varying length */
    for (i = 0; i <= 100; i++) {
        uint64_t ts = base + i * 10000000ull; /* every 10 ms */

        lens[i] = hb_build (hb_key, seq, ts, NULL, meta, (i * 37) % (HB_MAX_META + 1), msgs[i]);
        if (lens[i] == 0 || hb_verify (&v, msgs[i], lens[i], ts + 3000000ull, NULL) != HB_OK ||
            !state_is (&v, 1, seq)) {
            bad++;
            printf ("# heartbeat %u (seq %llu) refused\n", i, (unsigned long long) seq);
        }
        seq += 1 + (i % 3 == 0 ? i : 0);
    }
    ok (bad == 0, "a stream of 101 heartbeats (seq 0, then increasing with gaps) all verify");
    seq = get64 (msgs[100] + 8);

    is_rv (hb_verify (&v, msgs[100], lens[100], base + SEC, NULL), HB_ERR_REPLAY,
           "the last heartbeat again: replay");
    ok (state_is (&v, 1, seq), "replay leaves last_seq alone");
    is_rv (hb_verify (&v, msgs[50], lens[50], base + SEC, NULL), HB_ERR_REPLAY,
           "an older heartbeat (reordered): replay");
    is_rv (hb_verify (&v, msgs[0], lens[0], base, NULL), HB_ERR_REPLAY, "seq 0 again: replay");
    n = hb_build (hb_key, seq - 1, base + SEC, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, base + SEC, NULL), HB_ERR_REPLAY,
           "a fresh heartbeat with seq = last - 1: replay");
    n = hb_build (hb_key, seq, base + SEC, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, base + SEC, NULL), HB_ERR_REPLAY,
           "a fresh heartbeat with seq = last (different content): replay");
    ok (state_is (&v, 1, seq), "still at the last accepted sequence number");
    n = hb_build (hb_key, seq + 1, base + SEC, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, base + SEC, NULL), HB_OK, "seq = last + 1 is accepted");
    ok (state_is (&v, 1, seq + 1), "and advances last_seq");
    n = hb_build (hb_key, UINT64_MAX, base + SEC, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, base + SEC, NULL), HB_OK, "seq = 2^64-1 is accepted");
    is_rv (hb_verify (&v, m, n, base + SEC, NULL), HB_ERR_REPLAY, "after it, nothing is");

    /* A second verifier (another boot, another key) does not accept these. */
    {
        struct hb_verifier w;
        uint8_t other[32];

        memcpy (other, hb_key, 32);
        other[31] ^= 1;
        hb_verifier_init (&w, other, 1 * SEC);
        is_rv (hb_verify (&w, msgs[0], lens[0], base, NULL), HB_ERR_MAC,
               "a heartbeat under another key: MAC error");
        ok (w.have_last == 0, "and the verifier stays fresh");
        hb_verifier_clear (&w);
    }
    hb_verifier_clear (&v);
}

static void
test_tamper (void)
{
    static const uint8_t nonce[16] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    uint8_t meta[20], msg[HB_MAX_LEN], t[HB_MAX_LEN + 1];
    struct hb_verifier v;
    size_t n, off, l;
    unsigned int bit;
    /* failures per region: magic, version, flags, seq/ts/nonce, M, metadata, MAC */
    unsigned int wrong[7] = { 0 }, flips[7] = { 0 }, state_bad = 0, trunc_bad = 0;
    static const char *region[7] = { "magic",    "version", "flags", "seq/timestamp/nonce",
                                     "M",        "metadata", "MAC" };
    uint64_t now = 777 * SEC;

    for (off = 0; off < sizeof meta; off++)
        meta[off] = (uint8_t) (0xa0 + off);
    hb_verifier_init (&v, hb_key, 2 * SEC);
    n = hb_build (hb_key, 41, now, NULL, NULL, 0, msg);
    is_rv (hb_verify (&v, msg, n, now, NULL), HB_OK, "setup: seq 41 accepted");

    n = hb_build (hb_key, 42, now, nonce, meta, sizeof meta, msg);
    for (off = 0; off < n; off++) {
        int rg;
        enum hb_result want, got;

        if (off < 4)
            rg = 0, want = HB_ERR_MAGIC;
        else if (off < 6)
            rg = 1, want = HB_ERR_VERSION;
        else if (off < 8)
            rg = 2, want = HB_ERR_FLAGS;
        else if (off < 40)
            rg = 3, want = HB_ERR_MAC;
        else if (off < 42)
            rg = 4, want = HB_ERR_LENGTH;
        else if (off < 42 + sizeof meta)
            rg = 5, want = HB_ERR_MAC;
        else
            rg = 6, want = HB_ERR_MAC;
        for (bit = 0; bit < 8; bit++) {
            memcpy (t, msg, n);
            t[off] ^= (uint8_t) (1u << bit);
            got = hb_verify (&v, t, n, now, NULL);
            flips[rg]++;
            if (got != want) {
                wrong[rg]++;
                printf ("# bit %u of byte %zu: %s, want %s\n", bit, off, hb_result_str (got),
                        hb_result_str (want));
            }
            if (!state_is (&v, 1, 41))
                state_bad++;
        }
    }
    for (off = 0; off < 7; off++)
        ok (wrong[off] == 0, "every bit flipped in %s (%u flips) is refused as expected",
            region[off], flips[off]);
    ok (state_bad == 0, "no refused heartbeat changed the verifier");

    for (l = 0; l < n; l++) {
        memcpy (t, msg, n);
        if (hb_verify (&v, t, l, now, NULL) != HB_ERR_LENGTH || !state_is (&v, 1, 41)) {
            trunc_bad++;
            printf ("# truncated to %zu bytes not refused as bad length\n", l);
        }
    }
    ok (trunc_bad == 0, "truncated to every length 0..%zu: bad length", n - 1);
    memcpy (t, msg, n);
    t[n] = 0;
    is_rv (hb_verify (&v, t, n + 1, now, NULL), HB_ERR_LENGTH, "one trailing byte: bad length");
    is_rv (hb_verify (&v, NULL, n, now, NULL), HB_ERR_ARG, "NULL message: invalid argument");
    is_rv (hb_verify (NULL, msg, n, now, NULL), HB_ERR_ARG, "NULL verifier: invalid argument");
    ok (state_is (&v, 1, 41), "state unchanged");

    is_rv (hb_verify (&v, msg, n, now, nonce), HB_OK, "the untampered heartbeat still verifies");
    ok (state_is (&v, 1, 42), "last_seq 42");
    hb_verifier_clear (&v);
}

static void
test_fields_with_valid_mac (void)
{
    uint8_t m[HB_MAX_LEN + 2], meta[HB_MAX_META + 1];
    struct hb_verifier v;
    struct raw r;
    size_t n;
    uint64_t now = 100 * SEC;

    memset (meta, 0x11, sizeof meta);
    hb_verifier_init (&v, hb_key, SEC);

    /* Each field wrong, with a MAC that is right for the bytes as sent. */
    r = raw_default (1, now);
    r.magic = "TTHC";
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_MAGIC, "magic \"TTHC\" (valid MAC): bad magic");
    r = raw_default (1, now);
    r.magic = "BHTT";
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_MAGIC, "magic byte-swapped: bad magic");
    r = raw_default (1, now);
    r.version = 2;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_VERSION, "version 2 (valid MAC): bad version");
    r = raw_default (1, now);
    r.version = 0x0100; /* 1 big-endian */
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_VERSION, "version 1 big-endian: bad version");
    r = raw_default (1, now);
    r.flags = 1;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_FLAGS, "flags 1 (valid MAC): flags refused");
    r = raw_default (1, now);
    r.flags = 0x8000;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_FLAGS, "flags 0x8000: flags refused");
    ok (state_is (&v, 0, 0), "nothing accepted so far");

    /* Metadata bounds. */
    n = hb_build (hb_key, 1, now, NULL, meta, HB_MAX_META, m);
    is_rv (n, HB_MAX_LEN, "256 bytes of metadata: a 330-byte heartbeat");
    is_rv (hb_verify (&v, m, n, now, NULL), HB_OK, "256 bytes of metadata verify");
    memset (m, 0xee, sizeof m);
    is_rv (hb_build (hb_key, 2, now, NULL, meta, HB_MAX_META + 1, m), 0,
           "hb_build refuses 257 bytes of metadata");
    ok (m[0] == 0xee && m[HB_MAX_LEN] == 0xee, "and writes nothing");
    is_rv (hb_build (hb_key, 2, now, NULL, NULL, 1, m), 0, "hb_build refuses meta NULL with M = 1");
    is_rv (hb_build (NULL, 2, now, NULL, NULL, 0, m), 0, "hb_build refuses a NULL key");
    is_rv (hb_build (hb_key, 2, now, NULL, NULL, 0, NULL), 0, "hb_build refuses a NULL output");

    r = raw_default (2, now);
    r.meta = meta;
    r.meta_len = r.meta_len_field = HB_MAX_META + 1;
    n = raw_build (&r, m);
    is_rv (n, 74 + 257, "a 331-byte heartbeat claiming M = 257 (valid MAC)");
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_LENGTH, "is refused: bad length");
    r.meta_len_field = 0xffff;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_LENGTH, "M = 65535: bad length");
    r = raw_default (2, now);
    r.meta = meta;
    r.meta_len = 10;
    r.meta_len_field = 9;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_LENGTH,
           "M one less than the metadata present: bad length");
    ok (state_is (&v, 1, 1), "none of these advanced last_seq");
    hb_verifier_clear (&v);
}

static void
test_time (void)
{
    uint8_t m[HB_MAX_LEN];
    struct hb_verifier v;
    uint64_t now = 1000 * SEC, w = 2 * SEC, seq = 10;
    size_t n;

#define TRY(ts_, now_, want_, what_)                                                              \
    do {                                                                                          \
        n = hb_build (hb_key, seq, (ts_), NULL, NULL, 0, m);                                      \
        is_rv (hb_verify (&v, m, n, (now_), NULL), (want_), (what_));                             \
        if ((want_) == HB_OK)                                                                     \
            seq++;                                                                                \
        else                                                                                      \
            ok (state_is (&v, 1, seq - 1), "  and last_seq stays %llu",                           \
                (unsigned long long) (seq - 1));                                                  \
    } while (0)

    hb_verifier_init (&v, hb_key, w);
    n = hb_build (hb_key, seq++, now, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_OK, "setup: ts = now");

    TRY (now - w, now, HB_OK, "ts = now - window (sent window ago): ok");
    TRY (now + w, now, HB_OK, "ts = now + window (sender's clock ahead): ok");
    TRY (now - w - 1, now, HB_ERR_TIME, "ts = now - window - 1: too old");
    TRY (now + w + 1, now, HB_ERR_TIME, "ts = now + window + 1: from the future");
    TRY (0, now, HB_ERR_TIME, "ts = 0: too old");
    TRY (UINT64_MAX, now, HB_ERR_TIME, "ts = 2^64-1: from the future");
    /* near the ends of the range, where a careless subtraction wraps */
    TRY (UINT64_MAX, 0, HB_ERR_TIME, "now = 0, ts = 2^64-1: refused (no wrap-around)");
    TRY (0, UINT64_MAX, HB_ERR_TIME, "now = 2^64-1, ts = 0: refused (no wrap-around)");
    TRY (UINT64_MAX - 1, UINT64_MAX, HB_OK, "now = 2^64-1, ts = 2^64-2: ok");
    TRY (1, 0, HB_OK, "now = 0, ts = 1: ok");
    TRY (w, 0, HB_OK, "now = 0, ts = window: ok");
    TRY (w + 1, 0, HB_ERR_TIME, "now = 0, ts = window + 1: refused");
    TRY (UINT64_MAX - w, UINT64_MAX, HB_OK, "now = 2^64-1, ts = now - window: ok");
    TRY (UINT64_MAX - w - 1, UINT64_MAX, HB_ERR_TIME, "now = 2^64-1, ts = now - window - 1: refused");

    /* a refused-as-stale heartbeat's sequence number is still free */
    n = hb_build (hb_key, seq, now - 10 * SEC, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_TIME, "stale heartbeat with seq s: time");
    n = hb_build (hb_key, seq, now, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_OK, "a timely heartbeat with the same seq s: ok");
    seq++;

    /* window 0: only ts == now */
    hb_verifier_init (&v, hb_key, 0);
    TRY (now, now, HB_OK, "window 0, ts = now: ok");
    TRY (now - 1, now, HB_ERR_TIME, "window 0, ts = now - 1: refused");
    TRY (now + 1, now, HB_ERR_TIME, "window 0, ts = now + 1: refused");

    /* window 2^64-1: anything */
    hb_verifier_init (&v, hb_key, UINT64_MAX);
    TRY (0, UINT64_MAX, HB_OK, "window 2^64-1, now = 2^64-1, ts = 0: ok");
    TRY (UINT64_MAX, 0, HB_OK, "window 2^64-1, now = 0, ts = 2^64-1: ok");
#undef TRY
    hb_verifier_clear (&v);
}

static void
test_nonce_and_order (void)
{
    static const uint8_t zero[16];
    uint8_t nonce[16], other[16], m[HB_MAX_LEN], other_key[32];
    struct hb_verifier v;
    struct raw r;
    uint64_t now = 50 * SEC;
    size_t n, i;

    for (i = 0; i < 16; i++)
        nonce[i] = (uint8_t) (0xc0 + i);
    memcpy (other, nonce, 16);
    other[15] ^= 0x80;
    memcpy (other_key, hb_key, 32);
    other_key[0] ^= 0x01;

    hb_verifier_init (&v, hb_key, SEC);
    n = hb_build (hb_key, 1, now, nonce, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, other), HB_ERR_NONCE, "nonce differs in one bit: nonce error");
    is_rv (hb_verify (&v, m, n, now, zero), HB_ERR_NONCE, "expected none (zero), got one: nonce error");
    ok (state_is (&v, 0, 0), "nonce errors change nothing");
    is_rv (hb_verify (&v, m, n, now, nonce), HB_OK, "the expected nonce: ok");

    n = hb_build (hb_key, 2, now, NULL, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, nonce), HB_ERR_NONCE,
           "expected a nonce, got none (zero): nonce error");
    is_rv (hb_verify (&v, m, n, now, zero), HB_OK, "expected zero, got zero: ok");
    n = hb_build (hb_key, 3, now, nonce, NULL, 0, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_OK, "no expected nonce: not checked");

    /* The documented order of checks: length, magic, version, flags, MAC, nonce, sequence, time. */
    r = raw_default (9, now);
    r.magic = "XXXX";
    r.meta_len_field = 1; /* and the length is wrong */
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_LENGTH, "bad length + bad magic: length first");
    r = raw_default (9, now);
    r.magic = "XXXX";
    r.version = 7;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_MAGIC, "bad magic + bad version: magic first");
    r = raw_default (9, now);
    r.version = 7;
    r.flags = 1;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_VERSION, "bad version + flags: version first");
    r = raw_default (9, now);
    r.flags = 1;
    r.key = other_key;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_FLAGS, "flags + bad MAC: flags first");
    r = raw_default (2, now + 10 * SEC); /* replayed, stale, wrong key and no nonce */
    r.key = other_key;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, nonce), HB_ERR_MAC, "bad MAC + nonce + replay + time: MAC first");
    r.key = NULL;
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, nonce), HB_ERR_NONCE, "nonce + replay + time: nonce first");
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_REPLAY, "replay + time: replay first");
    r = raw_default (4, now + 10 * SEC);
    n = raw_build (&r, m);
    is_rv (hb_verify (&v, m, n, now, NULL), HB_ERR_TIME, "only the time is wrong: time");
    ok (state_is (&v, 1, 3), "last_seq is that of the last accepted heartbeat");
    hb_verifier_clear (&v);
}

static void
test_misc (void)
{
    static const enum hb_result all[] = { HB_OK,        HB_ERR_LENGTH, HB_ERR_MAGIC, HB_ERR_VERSION,
                                          HB_ERR_FLAGS, HB_ERR_MAC,    HB_ERR_REPLAY, HB_ERR_TIME,
                                          HB_ERR_NONCE, HB_ERR_ARG };
    size_t i, j, k = sizeof all / sizeof all[0];
    int distinct = 1;
    struct hb_verifier v;
    const uint8_t *p;

    for (i = 0; i < k; i++)
        for (j = 0; j < k; j++)
            if (i != j && strcmp (hb_result_str (all[i]), hb_result_str (all[j])) == 0)
                distinct = 0;
    ok (distinct, "hb_result_str gives %zu distinct strings", k);
    ok (strcmp (hb_result_str (HB_OK), "ok") == 0, "HB_OK is \"ok\"");
    ok (hb_result_str ((enum hb_result) 99) != NULL, "an unknown value still gets a string");
    is_rv (HB_OK, 0, "HB_OK is 0");
    is_rv (HB_MIN_LEN, 74, "HB_MIN_LEN is 74");

    hb_verifier_init (&v, hb_key, 5);
    ok (v.window_ns == 5 && v.have_last == 0 && memcmp (v.key, hb_key, 32) == 0,
        "hb_verifier_init keeps key and window");
    hb_verifier_clear (&v);
    for (p = (const uint8_t *) &v, i = 0; i < sizeof v && p[i] == 0; i++)
        ;
    ok (i == sizeof v, "hb_verifier_clear zeroes the verifier, key included");
}

int
main (void)
{
    test_sha256 ();
    test_hmac_rfc4231 ();
    test_hmac_openssl ();
    test_wire_format ();
    test_stream_and_replay ();
    test_tamper ();
    test_fields_with_valid_mac ();
    test_time ();
    test_nonce_and_order ();
    test_misc ();
    return tap_done ();
}
