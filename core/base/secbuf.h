/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * secbuf: a buffer for secrets (PINs, auth values, token secrets, key bytes).
 * Lives in sodium_malloc memory (guarded, locked); secbuf_free always wipes.
 */
#ifndef TT_SECBUF_H
#define TT_SECBUF_H

#include <stddef.h>

typedef struct secbuf {
    unsigned char *data;
    size_t len;
} secbuf;

/* A new zeroed buffer of len bytes (len may be 0); NULL when out of memory. */
secbuf *secbuf_new (size_t len);
/* A copy of data[0..len); NULL when out of memory. */
secbuf *secbuf_dup (const void *data, size_t len);
/* Wipes and frees; NULL-safe. */
void secbuf_free (secbuf *buf);
/* How many secbufs are allocated and not freed (the fuzzers' leak check: LSan
 * does not see sodium_malloc memory). */
size_t secbuf_live (void);
/* For a forked child (from an atfork handler: no lock, no allocation): wipes
 * the contents of every small secbuf, live or not, leaving their headers so
 * they can still be freed. Larger secbufs live only for the length of one
 * call and are not wiped. */
void secbuf_wipe_all_after_fork (void);

#endif
