/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "secbuf.h"

static size_t live; /* secbufs not yet freed: sodium_malloc memory is not seen by LSan */

secbuf *
secbuf_new (size_t len)
{
    secbuf *buf;

    if (sodium_init () < 0)
        return NULL;
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
    sodium_free (buf->data); /* wipes */
    sodium_free (buf);
    __atomic_sub_fetch (&live, 1, __ATOMIC_RELAXED);
}

size_t
secbuf_live (void)
{
    return __atomic_load_n (&live, __ATOMIC_RELAXED);
}
