/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Verifier for tpmtrust watchdog heartbeats.
 *
 * Self-contained: its own SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104),
 * no allocation, no libc beyond <stdint.h> and <stddef.h>, so the same file
 * builds in user space, freestanding, and in a Linux kernel module (where
 * <linux/types.h> stands in for those two headers).
 *
 * Heartbeat wire format, version 1 (all integers little-endian):
 *
 *   offset size field
 *   0      4    magic "TTHB" (0x54 0x54 0x48 0x42)
 *   4      2    version = 1
 *   6      2    flags = 0 (reserved; non-zero is rejected)
 *   8      8    sequence number (u64), strictly increasing per key
 *   16     8    timestamp, CLOCK_MONOTONIC nanoseconds of the sender (u64)
 *   24     16   verifier nonce (echoed; all zero when the verifier supplied none)
 *   40     2    metadata length M (u16, at most 256)
 *   42     M    metadata (opaque bytes)
 *   42+M   32   HMAC-SHA256 (key = the per-boot heartbeat key) over bytes [0, 42+M)
 *
 * Total length 74 + M.
 *
 * A struct hb_verifier holds the key and the replay state of one sender; it
 * has no lock, so calls on the same verifier must be serialized by the caller.
 */
#ifndef TT_HBVERIFY_H
#define TT_HBVERIFY_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define HB_MAGIC "TTHB"      /* bytes 0x54 0x54 0x48 0x42 at offset 0 */
#define HB_MAGIC_LEN 4
#define HB_VERSION 1
#define HB_HEADER_LEN 42     /* bytes before the metadata */
#define HB_NONCE_LEN 16
#define HB_KEY_LEN 32
#define HB_MAC_LEN 32
#define HB_MAX_META 256
#define HB_MIN_LEN (HB_HEADER_LEN + HB_MAC_LEN)               /* 74 */
#define HB_MAX_LEN (HB_HEADER_LEN + HB_MAX_META + HB_MAC_LEN) /* 330 */

enum hb_result {
    HB_OK = 0,
    HB_ERR_LENGTH,  /* too short, M > 256, or length != 74 + M */
    HB_ERR_MAGIC,   /* not "TTHB" */
    HB_ERR_VERSION, /* version != 1 */
    HB_ERR_FLAGS,   /* reserved flags not zero */
    HB_ERR_MAC,     /* HMAC does not match */
    HB_ERR_REPLAY,  /* sequence number <= the last accepted one */
    HB_ERR_TIME,    /* timestamp outside the window */
    HB_ERR_NONCE,   /* nonce differs from the expected one */
    HB_ERR_ARG,     /* NULL verifier or message */
};

struct hb_verifier {
    uint8_t key[HB_KEY_LEN];
    uint64_t last_seq; /* valid when have_last */
    int have_last;
    uint64_t window_ns;
};

/* Sets up v for one sender: copies the key, no sequence number seen yet. */
void hb_verifier_init (struct hb_verifier *v, const uint8_t key[HB_KEY_LEN], uint64_t window_ns);

/* Wipes v (key included). */
void hb_verifier_clear (struct hb_verifier *v);

/*
 * Verifies one heartbeat.
 *
 * now_ns: the verifier's view of the sender's clock (the same CLOCK_MONOTONIC
 * on the same machine); accepted when |now_ns - timestamp| <= window_ns.
 * expected_nonce: the nonce the verifier handed out (all zero for none), or
 * NULL to skip the nonce check.
 *
 * Checks in order: length, magic, version, flags, MAC, nonce, sequence, time;
 * the first failure is returned.  On HB_OK last_seq becomes the heartbeat's
 * sequence number; on any error v is left unchanged.  The MAC comparison is
 * constant-time.
 */
enum hb_result hb_verify (struct hb_verifier *v, const uint8_t *msg, size_t len, uint64_t now_ns,
                          const uint8_t expected_nonce[HB_NONCE_LEN]);

/* A static string naming r ("ok", "bad length", ...). */
const char *hb_result_str (enum hb_result r);

/* SHA-256 of data[0, len). */
void hb_sha256 (const uint8_t *data, size_t len, uint8_t out[32]);

/* HMAC-SHA256 with a key of any length (longer than 64 bytes is hashed first). */
void hb_hmac_sha256 (const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                     uint8_t out[32]);

/*
 * Builds a heartbeat into out, which must have room for HB_MIN_LEN + meta_len
 * bytes.  nonce may be NULL (all zero); meta may be NULL when meta_len is 0.
 * Returns the heartbeat's length, or 0 (out untouched) when key or out is
 * NULL, meta_len > HB_MAX_META, or meta is NULL with meta_len > 0.
 */
size_t hb_build (const uint8_t key[HB_KEY_LEN], uint64_t seq, uint64_t ts_ns,
                 const uint8_t nonce[HB_NONCE_LEN], const uint8_t *meta, size_t meta_len,
                 uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
