/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * enospc-shim.so - LD_PRELOAD stand-in for a full filesystem, for tests that
 * cannot mount a small tmpfs (not root). Writes that would grow one of the
 * files named in TT_ENOSPC_FILES (colon-separated absolute paths) fail with
 * ENOSPC, as on a full filesystem; writes inside a file's current size (and
 * every other file) go through. Used by tests/integration/store-faults.sh.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t write (int fd, const void *buf, size_t n);
ssize_t pwrite (int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64 (int fd, const void *buf, size_t n, off_t off);

/* True when writing n bytes at off (-1: the current offset) grows a listed file. */
static int
grows_listed (int fd, size_t n, off_t off)
{
    const char *list = getenv ("TT_ENOSPC_FILES");
    char link[64], path[PATH_MAX];
    struct stat sb;
    ssize_t len;
    size_t plen;

    if (list == NULL || n == 0)
        return 0;
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    len = readlink (link, path, sizeof path - 1);
    if (len <= 0)
        return 0;
    path[len] = '\0';
    plen = (size_t) len;
    for (const char *p = list; *p != '\0';) {
        const char *end = strchr (p, ':');
        size_t l = end ? (size_t) (end - p) : strlen (p);
        if (l == plen && memcmp (p, path, l) == 0) {
            if (off < 0)
                off = lseek (fd, 0, SEEK_CUR);
            return fstat (fd, &sb) == 0 && off >= 0 && (off_t) ((size_t) off + n) > sb.st_size;
        }
        p += l + (end != NULL);
    }
    return 0;
}

typedef ssize_t (*write_fn) (int, const void *, size_t);
typedef ssize_t (*pwrite_fn) (int, const void *, size_t, off_t);

/* The C library's functions, found on first use. */
static void *
real (void **cache, const char *name)
{
    if (*cache == NULL)
        *cache = dlsym (RTLD_NEXT, name);
    return *cache;
}

static void *real_write, *real_pwrite, *real_pwrite64;

ssize_t
write (int fd, const void *buf, size_t n)
{
    write_fn f = (write_fn) real (&real_write, "write");
    if (grows_listed (fd, n, -1)) {
        errno = ENOSPC;
        return -1;
    }
    return f (fd, buf, n);
}

static ssize_t
guarded_pwrite (void **cache, const char *name, int fd, const void *buf, size_t n, off_t off)
{
    pwrite_fn f = (pwrite_fn) real (cache, name);
    if (grows_listed (fd, n, off)) {
        errno = ENOSPC;
        return -1;
    }
    return f (fd, buf, n, off);
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
    return guarded_pwrite (&real_pwrite, "pwrite", fd, buf, n, off);
}

ssize_t
pwrite64 (int fd, const void *buf, size_t n, off_t off)
{
    return guarded_pwrite (&real_pwrite64, "pwrite64", fd, buf, n, off);
}
