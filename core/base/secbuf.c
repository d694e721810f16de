/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/secbuf.h"

/*
 * Small secbufs (up to SLOT - sizeof (secbuf) bytes: auth values, PIN-derived
 * keys, session keys, seeds, expanded keys) come from one arena made by
 * sodium_malloc: locked in RAM, left out of core dumps, between guard pages.
 * sodium_malloc per buffer costs mmap + mprotect + munmap (TLB shootdowns on
 * every CPU), which was half of the time of a signature. Slots are taken and
 * given back with atomic bit operations (no lock: safe across fork), and
 * wiped when given back. Larger buffers, and all once the arena is full, get
 * sodium_malloc of their own.
 */
#define SLOT 256
#define SLOTS 256 /* 64 KiB */
#define WORDS (SLOTS / 64)

static size_t live; /* secbufs not yet freed: sodium_malloc memory is not seen by LSan */
static uint8_t *arena;
static uint64_t used[WORDS];
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static void
arena_init (void)
{
    if (sodium_init () >= 0)
        arena = sodium_malloc (SLOT * SLOTS);
}

static secbuf *
slot_take (void)
{
    for (int w = 0; arena != NULL && w < WORDS; w++) {
        uint64_t v = __atomic_load_n (&used[w], __ATOMIC_ACQUIRE);
        while (v != UINT64_MAX) {
            int bit = __builtin_ctzll (~v);
            if (__atomic_compare_exchange_n (&used[w], &v, v | (1ULL << bit), false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return (secbuf *) (void *) (arena + (size_t) (w * 64 + bit) * SLOT);
        }
    }
    return NULL;
}

static bool
slot_give (secbuf *buf)
{
    uint8_t *p = (uint8_t *) buf;
    size_t i;

    if (arena == NULL || p < arena || p >= arena + SLOT * SLOTS)
        return false;
    i = (size_t) (p - arena) / SLOT;
    sodium_memzero (p, SLOT);
    __atomic_fetch_and (&used[i / 64], ~(1ULL << (i % 64)), __ATOMIC_RELEASE);
    return true;
}

secbuf *
secbuf_new (size_t len)
{
    secbuf *buf = NULL;

    pthread_once (&arena_once, arena_init);
    if (sodium_init () < 0)
        return NULL;
    if (len <= SLOT - sizeof *buf && (buf = slot_take ()) != NULL) {
        buf->data = (unsigned char *) (buf + 1);
        buf->len = len;
        __atomic_add_fetch (&live, 1, __ATOMIC_RELAXED);
        return buf; /* the slot was wiped when given back */
    }
    buf = sodium_malloc (sizeof *buf);
    if (buf == NULL)
        return NULL;
    /* sodium_malloc (0) is legal, but keep one byte so data is never NULL. */
    buf->data = sodium_malloc (len ? len : 1);
    if (buf->data == NULL) {
        sodium_free (buf);
        return NULL;
    }
    sodium_memzero (buf->data, len ? len : 1);
    buf->len = len;
    __atomic_add_fetch (&live, 1, __ATOMIC_RELAXED);
    return buf;
}

secbuf *
secbuf_dup (const void *data, size_t len)
{
    secbuf *buf = secbuf_new (len);
    if (buf != NULL && len > 0)
        memcpy (buf->data, data, len);
    return buf;
}

void
secbuf_free (secbuf *buf)
{
    if (buf == NULL)
        return;
    __atomic_sub_fetch (&live, 1, __ATOMIC_RELAXED);
    if (slot_give (buf))
        return;
    sodium_free (buf->data); /* wipes */
    sodium_free (buf);
}

size_t
secbuf_live (void)
{
    return __atomic_load_n (&live, __ATOMIC_RELAXED);
}

void
secbuf_wipe_all_after_fork (void)
{
    for (size_t i = 0; arena != NULL && i < SLOTS; i++)
        sodium_memzero (arena + i * SLOT + sizeof (secbuf), SLOT - sizeof (secbuf));
}
