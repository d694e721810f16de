/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "tpm"
#include "crypto/crypto.h"
#include "base/log.h"
#include "tpm/lease.h"

#define DEAD_MAX 32

struct tpm_lease {
    char dir[512];
    char file[600];
    char *dead[DEAD_MAX]; /* files of dead processes read by lease_scan */
    size_t n_dead;
    lease_entry e[LEASE_MAX];
    size_t n;
    bool pending;
};

/* Field 22 of /proc/PID/stat: the start time, so that a reused pid is not
 * taken for the process that wrote a file; 0 when unknown. zombie: the
 * process has ended and waits for its parent (kill (pid, 0) still succeeds). */
static unsigned long long
start_time (long pid, bool *zombie)
{
    char path[64], buf[1024];
    unsigned long long st = 0;
    const char *p;
    size_t n;
    FILE *f;

    *zombie = false;
    snprintf (path, sizeof path, "/proc/%ld/stat", pid);
    if ((f = fopen (path, "r")) == NULL)
        return 0;
    n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    p = strrchr (buf, ')'); /* the command name may hold spaces */
    if (p != NULL && p[1] == ' ')
        *zombie = p[2] == 'Z' || p[2] == 'X';
    for (int field = 2; p != NULL && field < 22; field++)
        p = strchr (p + 1, ' ');
    if (p != NULL)
        st = strtoull (p + 1, NULL, 10);
    return st;
}

static bool
alive (long pid, unsigned long long st)
{
    bool zombie;
    unsigned long long now;

    if (kill ((pid_t) pid, 0) != 0 && errno != EPERM)
        return false;
    now = start_time (pid, &zombie);
    return !zombie && (st == 0 || now == st);
}

/* mkdir 0700 and check it is ours and private. */
static bool
private_dir (const char *path)
{
    struct stat s;

    if (mkdir (path, 0700) != 0 && errno != EEXIST)
        return false;
    if (lstat (path, &s) != 0 || !S_ISDIR (s.st_mode) || s.st_uid != geteuid ()
        || (s.st_mode & 077) != 0) {
        LOG_WARN ("%s is not a private directory of this user: TPM objects are flushed after "
                  "every call (slower); remove it or set XDG_RUNTIME_DIR",
                  path);
        return false;
    }
    return true;
}

tpm_lease *
lease_open (const char *tcti_conf)
{
    const char *xdg = getenv ("XDG_RUNTIME_DIR");
    char base[400];
    uint8_t h[32];
    bool zombie;
    tpm_lease *l;

    if (xdg != NULL && xdg[0] == '/')
        snprintf (base, sizeof base, "%s/tpmtrust", xdg);
    else
        snprintf (base, sizeof base, "/tmp/tpmtrust-%lu", (unsigned long) geteuid ());
    if (!private_dir (base))
        return NULL;
    if ((l = calloc (1, sizeof *l)) == NULL)
        return NULL;
    crypto_sha256 ((const uint8_t *) tcti_conf, strlen (tcti_conf), h);
    snprintf (l->dir, sizeof l->dir, "%s/tpm-%02x%02x%02x%02x%02x%02x%02x%02x", base, h[0], h[1],
              h[2], h[3], h[4], h[5], h[6], h[7]);
    if (!private_dir (l->dir)) {
        free (l);
        return NULL;
    }
    snprintf (l->file, sizeof l->file, "%s/%ld.%llu", l->dir, (long) getpid (),
              start_time ((long) getpid (), &zombie));
    return l;
}

static void
lease_write (tpm_lease *l)
{
    char buf[LEASE_MAX * (2 * LEASE_NAME_MAX + 16) + 8], tmp[640];
    size_t off = 0;
    int fd;

    if (l->n == 0 && !l->pending) {
        unlink (l->file);
        return;
    }
    if (l->pending)
        off += (size_t) snprintf (buf + off, sizeof buf - off, "p\n");
    for (size_t i = 0; i < l->n; i++) {
        off += (size_t) snprintf (buf + off, sizeof buf - off, "%c %08x",
                                  l->e[i].name_len ? 'o' : 's', l->e[i].handle);
        if (l->e[i].name_len)
            buf[off++] = ' ';
        for (size_t j = 0; j < l->e[i].name_len; j++)
            off += (size_t) snprintf (buf + off, sizeof buf - off, "%02x", l->e[i].name[j]);
        buf[off++] = '\n';
    }
    snprintf (tmp, sizeof tmp, "%s.tmp", l->file);
    fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write (fd, buf, off) != (ssize_t) off || close (fd) != 0
        || rename (tmp, l->file) != 0) {
        LOG_DEBUG ("cannot write %s: %s", l->file, strerror (errno));
        if (fd >= 0)
            unlink (tmp);
    }
}

void
lease_free (tpm_lease *l)
{
    if (l == NULL)
        return;
    unlink (l->file);
    lease_forget (l);
}

void
lease_forget (tpm_lease *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_dead; i++)
        free (l->dead[i]);
    free (l);
}

void
lease_pending (tpm_lease *l, bool on)
{
    if (l == NULL || l->pending == on)
        return;
    l->pending = on;
    lease_write (l);
}

void
lease_add (tpm_lease *l, uint32_t handle, const uint8_t *name, size_t name_len)
{
    if (l == NULL)
        return;
    if (l->n < LEASE_MAX && name_len <= LEASE_NAME_MAX) {
        l->e[l->n].handle = handle;
        l->e[l->n].name_len = name_len;
        if (name_len)
            memcpy (l->e[l->n].name, name, name_len);
        l->n++;
    } else {
        LOG_WARN ("more than %d TPM handles held at once: handle 0x%08x is not recorded",
                  LEASE_MAX, handle);
    }
    l->pending = false;
    lease_write (l);
}

void
lease_del (tpm_lease *l, uint32_t handle)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        if (l->e[i].handle == handle) {
            l->e[i] = l->e[--l->n];
            lease_write (l);
            return;
        }
    }
}

void
lease_clear (tpm_lease *l)
{
    if (l == NULL)
        return;
    l->n = 0;
    l->pending = false;
    lease_write (l);
}

bool
lease_holds (const tpm_lease *l, uint32_t handle)
{
    for (size_t i = 0; l != NULL && i < l->n; i++)
        if (l->e[i].handle == handle)
            return true;
    return false;
}

static int
hexval (int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void
read_file (const char *path, lease_set *into)
{
    char line[256];
    FILE *f = fopen (path, "r");

    if (f == NULL)
        return;
    while (fgets (line, sizeof line, f) != NULL && into->n < sizeof into->e / sizeof into->e[0]) {
        lease_entry *e = &into->e[into->n];
        char *p;
        if (line[0] == 'p') {
            into->pending = true;
            continue;
        }
        if ((line[0] != 'o' && line[0] != 's') || line[1] != ' ')
            continue;
        e->handle = (uint32_t) strtoul (line + 2, &p, 16);
        e->name_len = 0;
        if (line[0] == 'o') {
            if (*p++ != ' ')
                continue;
            while (e->name_len < LEASE_NAME_MAX && hexval (p[0]) >= 0 && hexval (p[1]) >= 0) {
                e->name[e->name_len++] = (uint8_t) (hexval (p[0]) << 4 | hexval (p[1]));
                p += 2;
            }
            if (e->name_len == 0)
                continue;
        }
        into->n++;
    }
    fclose (f);
}

void
lease_scan_done (tpm_lease *l)
{
    for (size_t i = 0; l != NULL && i < l->n_dead; i++) {
        char tmp[900];
        if (l->dead[i] == NULL)
            continue;
        unlink (l->dead[i]);
        snprintf (tmp, sizeof tmp, "%s.tmp", l->dead[i]);
        unlink (tmp);
        free (l->dead[i]);
    }
    if (l != NULL)
        l->n_dead = 0;
}

bool
lease_scan (tpm_lease *l, lease_set *dead, lease_set *live)
{
    DIR *d;
    struct dirent *de;

    memset (dead, 0, sizeof *dead);
    memset (live, 0, sizeof *live);
    if (l == NULL || (d = opendir (l->dir)) == NULL)
        return false;
    while ((de = readdir (d)) != NULL) {
        char path[900], *end;
        long pid = strtol (de->d_name, &end, 10);
        unsigned long long st;

        if (pid <= 0 || *end != '.')
            continue;
        st = strtoull (end + 1, &end, 10);
        snprintf (path, sizeof path, "%s/%s", l->dir, de->d_name);
        if (*end != '\0') { /* a temp file: its writer's own file says the rest */
            continue;
        }
        if (strcmp (path, l->file) == 0)
            continue;
        if (alive (pid, st)) {
            read_file (path, live);
        } else if (l->n_dead < DEAD_MAX) {
            read_file (path, dead);
            l->dead[l->n_dead++] = strdup (path);
        }
    }
    closedir (d);
    return dead->n > 0 || dead->pending;
}
