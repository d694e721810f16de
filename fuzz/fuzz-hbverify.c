/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The watchdog heartbeat verifier (core/verify/hbverify.c; the same file builds into
 * a kernel module, so it must survive anything on the wire). Checked against an
 * independent implementation: its SHA-256 and HMAC-SHA256 against OpenSSL's;
 * every accepted heartbeat re-checked field by field (length, MAC by OpenSSL,
 * sequence, window); hb_build's output accepted, and with any one byte changed
 * refused. The input: key, window, clock, nonce use, then messages.
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz-common.h"
#include "verify/hbverify.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

static uint64_t
le64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void
differential (const uint8_t *key, size_t key_len, const uint8_t *msg, size_t len)
{
    uint8_t a[32], b[32];
    unsigned int b_len = 0;

    hb_sha256 (msg, len, a);
    SHA256 (msg, len, b);
    if (memcmp (a, b, 32) != 0)
        abort ();
    hb_hmac_sha256 (key, key_len, msg, len, a);
    if (HMAC (EVP_sha256 (), key, (int) key_len, msg, len, b, &b_len) == NULL || b_len != 32
        || memcmp (a, b, 32) != 0)
        abort ();
}

/* What HB_OK promises, checked without the verifier's code. */
static void
recheck (const uint8_t *key, const uint8_t *msg, size_t len, uint64_t now, uint64_t window,
         const uint8_t *nonce, int had_last, uint64_t last)
{
    uint8_t mac[32];
    unsigned int mac_len = 0;
    size_t meta = msg[40] | (size_t) msg[41] << 8;
    uint64_t seq = le64 (msg + 8), ts = le64 (msg + 16);

    if (len != 74 + meta || meta > 256 || memcmp (msg, "TTHB", 4) != 0 || msg[4] != 1 || msg[5]
        || msg[6] || msg[7])
        abort ();
    HMAC (EVP_sha256 (), key, 32, msg, 42 + meta, mac, &mac_len);
    if (memcmp (mac, msg + 42 + meta, 32) != 0)
        abort ();
    if ((nonce != NULL && memcmp (msg + 24, nonce, 16) != 0) || (had_last && seq <= last) || (now > ts ? now - ts : ts - now) > window)
        abort ();
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_env ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    struct hb_verifier v;
    uint8_t key[32], nonce[16], built[HB_MAX_LEN];
    uint64_t window, now;
    bool use_nonce;
    size_t klen, n;
    fz f;

    fz_init (&f, data, len);
    memcpy (key, fz_bytes (&f, 32), 32);
    window = fz_ulong (&f);
    now = fz_ulong (&f);
    use_nonce = fz_bool (&f);
    memcpy (nonce, fz_bytes (&f, 16), 16);
    hb_verifier_init (&v, key, window);

    /* messages as they come off the wire */
    for (int i = 0; i < 4 && f.n > 0; i++) {
        uint8_t *msg;
        int had_last = v.have_last;
        uint64_t last = v.last_seq;
        n = fz_len (&f, 400);
        msg = fz_bytes (&f, n);
        if (hb_verify (&v, msg, n, now, use_nonce ? nonce : NULL) == HB_OK)
            recheck (key, msg, n, now, window, use_nonce ? nonce : NULL, had_last, last);
        else if (v.have_last != had_last || v.last_seq != last)
            abort (); /* a refused heartbeat leaves the verifier as it was */
        now += fz_u8 (&f);
    }

    /* what the sender builds is accepted; one byte changed, it is not */
    n = fz_len (&f, 300);
    {
        uint8_t *meta = fz_bytes (&f, n);
        uint64_t seq = fz_ulong (&f);
        size_t blen = hb_build (key, seq, now, use_nonce ? nonce : NULL, meta, n, built);
        if (n > HB_MAX_META) {
            if (blen != 0)
                abort ();
        } else {
            struct hb_verifier fresh;
            size_t pos;
            if (blen != HB_MIN_LEN + n)
                abort ();
            hb_verifier_init (&fresh, key, 0);
            if (hb_verify (&fresh, built, blen, now, use_nonce ? nonce : NULL) != HB_OK)
                abort ();
            pos = fz_pick (&f, 255) % blen;
            built[pos] ^= (uint8_t) (1 + fz_pick (&f, 255));
            hb_verifier_init (&fresh, key, 0);
            if (hb_verify (&fresh, built, blen, now, use_nonce ? nonce : NULL) == HB_OK)
                abort ();
            hb_verifier_clear (&fresh);
        }
    }

    /* the hash and MAC against OpenSSL, keys of any length */
    klen = fz_len (&f, 200);
    differential (fz_bytes (&f, klen), klen, data, len);
    hb_verifier_clear (&v);
    fz_done (&f);
    return 0;
}
