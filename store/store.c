/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "store"
#include "base/log.h"
#include "store.h"
#include "store/store-internal.h"

/* How long a change waits for another process's write lock before giving up. */
#define STORE_BUSY_TIMEOUT_MS 5000

static const char *const schema_v1[] = {
    "CREATE TABLE tokens ("
    " id INTEGER PRIMARY KEY,"
    " label TEXT NOT NULL,"
    " serial TEXT NOT NULL UNIQUE,"
    " salt BLOB NOT NULL,"
    " so_pub BLOB NOT NULL, so_priv BLOB NOT NULL,"
    " user_pub BLOB, user_priv BLOB)",
    "CREATE TABLE objects ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " token_id INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,"
    " attrs BLOB NOT NULL,"
    " tpm_pub BLOB, tpm_priv BLOB, wrapped_auth BLOB)",
    "CREATE INDEX objects_by_token ON objects(token_id)",
    NULL,
};

/* v2: rows are authenticated (issue 15). A token gets its row-MAC key sealed
 * under the SRK; each object row a MAC over all its columns (core/rowmac.c).
 * Rows of a v1 store have neither until the module writes them (at login). */
static const char *const schema_v2[] = {
    "ALTER TABLE tokens ADD COLUMN mackey_pub BLOB",
    "ALTER TABLE tokens ADD COLUMN mackey_priv BLOB",
    "ALTER TABLE objects ADD COLUMN mac BLOB",
    /* every change of the token row is a compare-and-swap on it (issue 15 item 4) */
    "ALTER TABLE tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
    /* the generation's anchor in a TPM counter (item 3), and the row's MAC */
    "ALTER TABLE tokens ADD COLUMN nv_index INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tokens ADD COLUMN nv_count INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tokens ADD COLUMN mac BLOB",
    NULL,
};

/* Migrations: migrations[v] takes a store from version v to v + 1. */
static const char *const *const migrations[] = { schema_v1, schema_v2 };

CK_RV
store_sql_rv (store *st, int rc, const char *what)
{
    int base = rc & 0xff;

    if (base == SQLITE_OK || base == SQLITE_DONE || base == SQLITE_ROW)
        return CKR_OK;
    LOG_ERROR ("store %s: %s failed: %s", st->path, what, sqlite3_errmsg (st->db));
    switch (base) {
    case SQLITE_READONLY:
        if (st->full) {
            LOG_ERROR ("the filesystem holding %s is full: free space and retry (nothing was "
                       "changed; signing still works)",
                       st->path);
            return CKR_DEVICE_MEMORY;
        }
        if (st->newer)
            LOG_ERROR ("the store %s has a newer schema than this tpmtrust understands: it is "
                       "only read; upgrade tpmtrust to change it",
                       st->path);
        else
            LOG_ERROR ("the store is read-only: signing works, changes need write access to %s "
                       "and its directory",
                       st->path);
        return CKR_TOKEN_WRITE_PROTECTED;
    case SQLITE_FULL:
        LOG_ERROR ("the filesystem holding %s is full: free space and retry (nothing was "
                   "changed; signing still works)",
                   st->path);
        return CKR_DEVICE_MEMORY;
    case SQLITE_IOERR:
        if (sqlite3_system_errno (st->db) == ENOSPC || sqlite3_system_errno (st->db) == EDQUOT
            || sqlite3_system_errno (st->db) == EFBIG) {
            LOG_ERROR ("the filesystem holding %s is full (%s): free space and retry (nothing "
                       "was changed; signing still works)",
                       st->path, strerror (sqlite3_system_errno (st->db)));
            return CKR_DEVICE_MEMORY;
        }
        return CKR_DEVICE_ERROR;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        LOG_ERROR ("the store %s is locked: another process held its write lock for longer than "
                   "the busy timeout (%d s); nothing was changed, retry ('fuser %s' names the "
                   "processes that have it open)",
                   st->path, STORE_BUSY_TIMEOUT_MS / 1000, st->path);
        return CKR_FUNCTION_FAILED;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        LOG_ERROR ("the store file is damaged: restore %s from a backup", st->path);
        return CKR_DEVICE_ERROR;
    case SQLITE_NOMEM:
        return CKR_HOST_MEMORY;
    default:
        return CKR_DEVICE_ERROR;
    }
}

static CK_RV
exec (store *st, const char *sql)
{
    return store_sql_rv (st, sqlite3_exec (st->db, sql, NULL, NULL, NULL), sql);
}

/* Without st->lock: store_open runs it before anyone else has the handle (and
 * under core_store's lock, which the store's lock must never be taken under). */
static int
schema_version (store *st)
{
    sqlite3_stmt *stmt = NULL;
    int v = -1;

    if (sqlite3_prepare_v2 (st->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
        && sqlite3_step (stmt) == SQLITE_ROW)
        v = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    return v;
}

int
store_schema_version (store *st)
{
    int v;

    pthread_mutex_lock (&st->lock);
    v = schema_version (st);
    pthread_mutex_unlock (&st->lock);
    return v;
}

int64_t
store_data_version (store *st)
{
    sqlite3_stmt *stmt = NULL;
    int64_t v = -1;

    pthread_mutex_lock (&st->lock);
    if (sqlite3_prepare_v2 (st->db, "PRAGMA data_version", -1, &stmt, NULL) == SQLITE_OK
        && sqlite3_step (stmt) == SQLITE_ROW)
        v = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    pthread_mutex_unlock (&st->lock);
    return v;
}

static CK_RV
store_migrate (store *st)
{
    int v = schema_version (st);
    CK_RV rv;
    char sql[64];

    if (v < 0)
        return store_sql_rv (st, sqlite3_errcode (st->db), "reading the schema version");
    if (v == STORE_SCHEMA_VERSION || st->newer)
        return CKR_OK;
    if (st->readonly) {
        LOG_ERROR ("store %s needs an upgrade from schema %d to %d but is read-only", st->path, v,
                   STORE_SCHEMA_VERSION);
        return CKR_TOKEN_WRITE_PROTECTED;
    }
    rv = exec (st, "BEGIN IMMEDIATE");
    if (rv != CKR_OK)
        return rv;
    /* Re-read inside the write lock: another process may have migrated. */
    for (v = schema_version (st); rv == CKR_OK && v < STORE_SCHEMA_VERSION; v++) {
        for (const char *const *s = migrations[v]; rv == CKR_OK && *s != NULL; s++)
            rv = exec (st, *s);
        snprintf (sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (rv == CKR_OK)
            rv = exec (st, sql);
    }
    if (rv == CKR_OK)
        return exec (st, "COMMIT");
    exec (st, "ROLLBACK");
    return rv;
}

/* True when the last error on st came from a full filesystem (or quota). */
static bool
store_disk_full (store *st)
{
    int e = sqlite3_system_errno (st->db);
    return (sqlite3_errcode (st->db) & 0xff) == SQLITE_FULL || e == ENOSPC || e == EDQUOT
           || e == EFBIG;
}

/* A WAL store cannot be opened normally on a full filesystem: its shared-memory
 * index (-shm) cannot be made. When no change waits in its -wal file, the main
 * file is the whole store: read it as an immutable file (no locks, no -shm).
 * Changes then get CKR_DEVICE_MEMORY until the process opens the store again. */
static CK_RV
store_open_full (store *st)
{
    static const char hexd[] = "0123456789abcdef";
    size_t n = strlen (st->path);
    char *wal = malloc (n + 5), *uri = malloc (3 * n + 32), *u;
    struct stat sb;
    CK_RV rv = CKR_HOST_MEMORY;

    if (wal == NULL || uri == NULL)
        goto out;
    snprintf (wal, n + 5, "%s-wal", st->path);
    if (stat (wal, &sb) == 0 && sb.st_size > 0) {
        LOG_ERROR ("the filesystem holding %s is full, and the store's latest changes are still "
                   "in %s: it cannot be read until space is freed",
                   st->path, wal);
        rv = CKR_DEVICE_MEMORY;
        goto out;
    }
    u = uri + sprintf (uri, "file:");
    for (const char *p = st->path; *p != '\0'; p++)
        if (*p == '%' || *p == '?' || *p == '#') {
            *u++ = '%';
            *u++ = hexd[(unsigned char) *p >> 4];
            *u++ = hexd[*p & 0xf];
        } else {
            *u++ = *p;
        }
    strcpy (u, "?immutable=1");
    sqlite3_close (st->db);
    st->db = NULL;
    if (sqlite3_open_v2 (uri, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK
        || schema_version (st) < 0) {
        LOG_ERROR ("the filesystem holding %s is full and the store cannot be read: %s",
                   st->path, st->db ? sqlite3_errmsg (st->db) : "out of memory");
        rv = CKR_DEVICE_MEMORY;
        goto out;
    }
    sqlite3_extended_result_codes (st->db, 1);
    st->readonly = st->full = true;
    LOG_WARN ("the filesystem holding %s is full: the store is opened read-only (signing works; "
              "changes get CKR_DEVICE_MEMORY): free space",
              st->path);
    rv = CKR_OK;
out:
    free (wal);
    free (uri);
    return rv;
}

CK_RV
store_write_check (store *st)
{
    if (st->full) {
        LOG_ERROR ("the filesystem holding %s is full: free space and retry (nothing was "
                   "changed; signing still works)",
                   st->path);
        return CKR_DEVICE_MEMORY;
    }
    if (st->newer) {
        LOG_ERROR ("the store %s has a newer schema than this tpmtrust understands: it is only "
                   "read; upgrade tpmtrust to change it",
                   st->path);
        return CKR_TOKEN_WRITE_PROTECTED;
    }
    if (st->readonly) {
        LOG_ERROR ("the store %s is read-only: signing works, changes need write access to it "
                   "and its directory",
                   st->path);
        return CKR_TOKEN_WRITE_PROTECTED;
    }
    return CKR_OK;
}

/* Creates the file 0600 (and a missing parent directory 0700) before sqlite does. */
static void
store_create_file (const char *path)
{
    char *dir = strdup (path);
    char *slash = dir ? strrchr (dir, '/') : NULL;
    int fd;

    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir (dir, 0700) != 0 && errno != EEXIST)
            LOG_WARN ("cannot create store directory %s: %s", dir, strerror (errno));
    }
    free (dir);
    fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close (fd);
}

/* Anyone who can write the store's directory or file can replace or damage
 * it: refuse a world-writable one. */
static CK_RV
store_check_modes (const char *path)
{
    char *dir = strdup (path);
    char *slash = dir ? strrchr (dir, '/') : NULL;
    struct stat sb;
    CK_RV rv = CKR_OK;

    if (dir == NULL)
        return CKR_HOST_MEMORY;
    if (slash != NULL)
        *slash = '\0';
    if (stat (slash == NULL ? "." : slash == dir ? "/" : dir, &sb) == 0 && (sb.st_mode & S_IWOTH)) {
        LOG_ERROR ("the store's directory %s is writable by everyone: anyone could replace the "
                   "store. Use a private directory ('chmod 700', or set TPMTRUST_STORE)",
                   slash == NULL ? "." : slash == dir ? "/" : dir);
        rv = CKR_DEVICE_ERROR;
    } else if (stat (path, &sb) == 0 && (sb.st_mode & (S_IWOTH | S_IWGRP))) {
        LOG_ERROR ("the store %s is writable by others: 'chmod 600 %s'", path, path);
        rv = CKR_DEVICE_ERROR;
    }
    free (dir);
    return rv;
}

CK_RV
store_open (const char *path, store **out)
{
    store *st;
    int rc;
    CK_RV rv;
    bool memory = strcmp (path, ":memory:") == 0;
    bool uri = strncmp (path, "file:", 5) == 0; /* e.g. file:/path?mode=ro */

    *out = NULL;
    st = calloc (1, sizeof *st);
    if (st == NULL || (st->path = strdup (path)) == NULL) {
        free (st);
        return CKR_HOST_MEMORY;
    }
    {
        pthread_mutexattr_t ma;
        pthread_mutexattr_init (&ma);
        pthread_mutexattr_settype (&ma, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init (&st->lock, &ma);
        pthread_mutexattr_destroy (&ma);
    }
    if (!memory && !uri && access (path, F_OK) != 0)
        store_create_file (path);
    if (!memory && !uri && (rv = store_check_modes (path)) != CKR_OK) {
        store_close (st);
        return rv;
    }
    rc = sqlite3_open_v2 (path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                          NULL);
    if (rc != SQLITE_OK && !memory) {
        sqlite3_close (st->db);
        st->db = NULL;
        rc = sqlite3_open_v2 (path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    }
    if (rc != SQLITE_OK) {
        LOG_ERROR ("cannot open the store %s: %s (set TPMTRUST_STORE or store= in the config "
                   "file to a writable location)",
                   path, st->db ? sqlite3_errmsg (st->db) : sqlite3_errstr (rc));
        store_close (st);
        return CKR_DEVICE_ERROR;
    }
    st->readonly = sqlite3_db_readonly (st->db, "main") == 1;
    sqlite3_busy_timeout (st->db, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes (st->db, 1);
    if (!memory && !uri && schema_version (st) < 0 && store_disk_full (st)
        && (rv = store_open_full (st)) != CKR_OK) {
        store_close (st);
        return rv;
    }
    /* A newer schema is read as far as our queries can, and never written (not
     * even its journal mode): this connection refuses every change. */
    if (schema_version (st) > STORE_SCHEMA_VERSION) {
        st->newer = st->readonly = true;
        exec (st, "PRAGMA query_only = ON");
        LOG_WARN ("store %s has schema version %d, newer than this tpmtrust understands (%d): "
                  "opened read-only (signing works, changes get CKR_TOKEN_WRITE_PROTECTED); "
                  "upgrade tpmtrust to change it. Nothing in it is rewritten",
                  path, schema_version (st), STORE_SCHEMA_VERSION);
    }
    exec (st, "PRAGMA foreign_keys = ON");
    exec (st, "PRAGMA secure_delete = ON");
    if (!st->readonly && !memory) {
        sqlite3_exec (st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        exec (st, "PRAGMA synchronous = FULL");
    }
    rv = store_migrate (st);
    if (rv != CKR_OK) {
        store_close (st);
        return rv;
    }
    if (st->readonly)
        LOG_INFO ("store %s opened read-only", path);
    *out = st;
    return CKR_OK;
}

void
store_fork_prepare (store *st)
{
    if (st != NULL)
        pthread_mutex_lock (&st->lock);
}

void
store_fork_parent (store *st)
{
    if (st != NULL)
        pthread_mutex_unlock (&st->lock);
}

void
store_close (store *st)
{
    if (st == NULL)
        return;
    if (st->db != NULL && sqlite3_close (st->db) != SQLITE_OK)
        LOG_WARN ("closing the store %s: %s", st->path, sqlite3_errmsg (st->db));
    pthread_mutex_destroy (&st->lock);
    free (st->path);
    free (st);
}

const char *
store_path (const store *st)
{
    return st->path;
}

bool
store_readonly (const store *st)
{
    return st->readonly;
}

/* A transaction keeps st->lock from begin to its end: other threads' calls
 * wait for it (the holder's own calls go through: the lock is recursive). */
CK_RV
store_tx_begin (store *st)
{
    CK_RV rv;

    pthread_mutex_lock (&st->lock);
    rv = exec (st, "BEGIN IMMEDIATE");
    if (rv == CKR_OK)
        st->tx_held = true; /* keeps the lock */
    else
        pthread_mutex_unlock (&st->lock);
    return rv;
}

/* Releases the transaction's hold on the lock once sqlite says it is over
 * (a failed COMMIT leaves it open for the caller's rollback). */
static void
tx_release (store *st)
{
    if (st->tx_held && sqlite3_get_autocommit (st->db)) {
        st->tx_held = false;
        pthread_mutex_unlock (&st->lock);
    }
}

CK_RV
store_tx_commit (store *st)
{
    CK_RV rv;

    pthread_mutex_lock (&st->lock);
    rv = exec (st, "COMMIT");
    tx_release (st);
    pthread_mutex_unlock (&st->lock);
    return rv;
}

void
store_tx_rollback (store *st)
{
    pthread_mutex_lock (&st->lock);
    if (!sqlite3_get_autocommit (st->db))
        exec (st, "ROLLBACK");
    tx_release (st);
    pthread_mutex_unlock (&st->lock);
}
