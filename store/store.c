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

/* One connection serves every token of the process (and tpmtrust-tool), from
 * any thread: lock (recursive) makes each call, and each transaction from
 * store_tx_begin to its commit or rollback, one thread's at a time. Without it,
 * two tokens' transactions interleave on the connection: one's BEGIN fails
 * inside the other's, one's COMMIT commits the other's rows. */
struct store {
    sqlite3 *db;
    char *path;
    bool readonly;
    bool newer; /* schema newer than ours: read, never written */
    bool full;  /* opened read-only because its filesystem is full */
    pthread_mutex_t lock;
    bool tx_held; /* a transaction holds lock (by the thread that holds it) */
};

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
    NULL,
};

/* Migrations: migrations[v] takes a store from version v to v + 1. */
static const char *const *const migrations[] = { schema_v1, schema_v2 };

static CK_RV
sql_rv (store *st, int rc, const char *what)
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
    return sql_rv (st, sqlite3_exec (st->db, sql, NULL, NULL, NULL), sql);
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

static CK_RV
store_migrate (store *st)
{
    int v = schema_version (st);
    CK_RV rv;
    char sql[64];

    if (v < 0)
        return sql_rv (st, sqlite3_errcode (st->db), "reading the schema version");
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

CK_RV
store_blob_set (store_blob *b, const void *data, size_t len)
{
    store_blob_clear (b);
    if (len == 0 || data == NULL)
        return CKR_OK;
    b->data = malloc (len);
    if (b->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (b->data, data, len);
    b->len = len;
    return CKR_OK;
}

void
store_blob_clear (store_blob *b)
{
    free (b->data);
    b->data = NULL;
    b->len = 0;
}

static int
bind_blob (sqlite3_stmt *stmt, int i, const store_blob *b)
{
    if (b->data == NULL)
        return sqlite3_bind_null (stmt, i);
    return sqlite3_bind_blob (stmt, i, b->data, (int) b->len, SQLITE_TRANSIENT);
}

static CK_RV
column_blob (sqlite3_stmt *stmt, int i, store_blob *b)
{
    return store_blob_set (b, sqlite3_column_blob (stmt, i), (size_t) sqlite3_column_bytes (stmt, i));
}

/* Prepares, runs the binder, steps once; for statements that return no rows.
 * rowid: the row inserted; changes: how many rows it changed. */
static CK_RV
run_counted (store *st, const char *sql, int (*bind) (sqlite3_stmt *, const void *),
             const void *arg, int64_t *rowid, int *changes)
{
    sqlite3_stmt *stmt = NULL;
    CK_RV rv;
    int rc;

    pthread_mutex_lock (&st->lock);
    rc = sqlite3_prepare_v2 (st->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK && bind != NULL)
        rc = bind (stmt, arg);
    if (rc == SQLITE_OK)
        rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE && rowid != NULL)
        *rowid = sqlite3_last_insert_rowid (st->db);
    if (rc == SQLITE_DONE && changes != NULL)
        *changes = sqlite3_changes (st->db);
    sqlite3_finalize (stmt);
    rv = sql_rv (st, rc, sql);
    pthread_mutex_unlock (&st->lock);
    return rv;
}

static CK_RV
run (store *st, const char *sql, int (*bind) (sqlite3_stmt *, const void *), const void *arg,
     int64_t *rowid)
{
    return run_counted (st, sql, bind, arg, rowid, NULL);
}

static int
bind_token (sqlite3_stmt *stmt, const void *arg)
{
    const store_token *t = arg;
    int rc = t->id ? sqlite3_bind_int64 (stmt, 1, t->id) : sqlite3_bind_null (stmt, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text (stmt, 2, t->label, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text (stmt, 3, t->serial, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 4, &t->salt);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 5, &t->so_pub);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 6, &t->so_priv);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 7, &t->user_pub);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 8, &t->user_priv);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 9, &t->mackey_pub);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 10, &t->mackey_priv);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64 (stmt, 11, t->generation);
    return rc;
}

CK_RV
store_token_add (store *st, store_token *t, int64_t want_id)
{
    int64_t rowid = 0;
    CK_RV rv;

    t->id = want_id;
    rv = run (st,
              "INSERT INTO tokens (id, label, serial, salt, so_pub, so_priv, user_pub, user_priv, "
              "mackey_pub, mackey_priv, generation) "
              "VALUES ((SELECT CASE WHEN ?1 IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE id = ?1) "
              "THEN NULL ELSE ?1 END), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
              bind_token, t, &rowid);
    t->id = rv == CKR_OK ? rowid : 0;
    return rv;
}

CK_RV
store_token_put (store *st, store_token *t)
{
    int changes = 0;
    CK_RV rv;

    if (t->id == 0)
        return CKR_ARGUMENTS_BAD;
    rv = run_counted (st,
                      "UPDATE tokens SET label = ?2, serial = ?3, salt = ?4, so_pub = ?5, "
                      "so_priv = ?6, user_pub = ?7, user_priv = ?8, mackey_pub = ?9, "
                      "mackey_priv = ?10, generation = ?11 + 1 WHERE id = ?1 AND generation = ?11",
                      bind_token, t, NULL, &changes);
    if (rv == CKR_OK && changes != 1)
        return STORE_STALE;
    if (rv == CKR_OK)
        t->generation++;
    return rv;
}

static int
bind_id (sqlite3_stmt *stmt, const void *arg)
{
    return sqlite3_bind_int64 (stmt, 1, *(const int64_t *) arg);
}

CK_RV
store_token_del (store *st, int64_t id)
{
    return run (st, "DELETE FROM tokens WHERE id = ?1", bind_id, &id, NULL);
}

void
store_token_clear (store_token *t)
{
    store_blob_clear (&t->salt);
    store_blob_clear (&t->so_pub);
    store_blob_clear (&t->so_priv);
    store_blob_clear (&t->user_pub);
    store_blob_clear (&t->user_priv);
    store_blob_clear (&t->mackey_pub);
    store_blob_clear (&t->mackey_priv);
}

void
store_token_list_free (store_token *list, size_t count)
{
    for (size_t i = 0; list != NULL && i < count; i++)
        store_token_clear (&list[i]);
    free (list);
}

/* Runs a SELECT; calls row() for each result row into a growing array. */
static CK_RV
select_rows (store *st, const char *sql, const int64_t *id, size_t elem,
             CK_RV (*row) (sqlite3_stmt *, void *), void **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    uint8_t *arr = NULL;
    size_t n = 0;
    CK_RV rv = CKR_OK;
    int rc;

    pthread_mutex_lock (&st->lock);
    rc = sqlite3_prepare_v2 (st->db, sql, -1, &stmt, NULL);

    if (rc == SQLITE_OK && id != NULL)
        rc = sqlite3_bind_int64 (stmt, 1, *id);
    while (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        uint8_t *grown = realloc (arr, (n + 1) * elem);
        if (grown == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        arr = grown;
        memset (arr + n * elem, 0, elem);
        rv = row (stmt, arr + n * elem);
        n++;
        if (rv != CKR_OK)
            break;
        rc = SQLITE_OK;
    }
    if (rv == CKR_OK)
        rv = sql_rv (st, rc, sql);
    sqlite3_finalize (stmt);
    pthread_mutex_unlock (&st->lock);
    *out = arr;
    *count = n;
    return rv;
}

static CK_RV
token_row (sqlite3_stmt *stmt, void *elem)
{
    store_token *t = elem;
    const char *label = (const char *) sqlite3_column_text (stmt, 1);
    const char *serial = (const char *) sqlite3_column_text (stmt, 2);
    CK_RV rv;

    t->id = sqlite3_column_int64 (stmt, 0);
    snprintf (t->label, sizeof t->label, "%s", label ? label : "");
    snprintf (t->serial, sizeof t->serial, "%s", serial ? serial : "");
    rv = column_blob (stmt, 3, &t->salt);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 4, &t->so_pub);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 5, &t->so_priv);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 6, &t->user_pub);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 7, &t->user_priv);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 8, &t->mackey_pub);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 9, &t->mackey_priv);
    t->generation = sqlite3_column_int64 (stmt, 10);
    return rv;
}

CK_RV
store_token_list (store *st, store_token **out, size_t *count)
{
    void *arr = NULL;
    CK_RV rv = select_rows (st,
                            "SELECT id, label, serial, salt, so_pub, so_priv, user_pub, user_priv, "
                            "mackey_pub, mackey_priv, generation FROM tokens ORDER BY id",
                            NULL, sizeof (store_token), token_row, &arr, count);
    if (rv != CKR_OK) {
        store_token_list_free (arr, *count);
        arr = NULL;
        *count = 0;
    }
    *out = arr;
    return rv;
}

CK_RV
store_token_get (store *st, int64_t id, store_token *out, bool *found)
{
    store_token *arr = NULL;
    size_t n = 0;
    CK_RV rv = select_rows (st,
                            "SELECT id, label, serial, salt, so_pub, so_priv, user_pub, user_priv, "
                            "mackey_pub, mackey_priv, generation FROM tokens WHERE id = ?1",
                            &id, sizeof (store_token), token_row, (void **) &arr, &n);

    memset (out, 0, sizeof *out);
    *found = rv == CKR_OK && n == 1;
    if (*found) {
        *out = arr[0];
        memset (&arr[0], 0, sizeof arr[0]);
    }
    store_token_list_free (arr, n);
    return rv;
}

static int
bind_object (sqlite3_stmt *stmt, const void *arg)
{
    const store_object *o = arg;
    int rc = o->id ? sqlite3_bind_int64 (stmt, 1, o->id) : sqlite3_bind_null (stmt, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64 (stmt, 2, o->token_id);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 3, &o->attrs);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 4, &o->tpm_pub);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 5, &o->tpm_priv);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 6, &o->wrapped_auth);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 7, &o->mac);
    return rc;
}

CK_RV
store_object_put (store *st, store_object *o)
{
    int64_t rowid = 0;
    CK_RV rv;

    if (o->attrs.data == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = run (st,
              o->id ? "UPDATE objects SET token_id = ?2, attrs = ?3, tpm_pub = ?4, "
                      "tpm_priv = ?5, wrapped_auth = ?6, mac = ?7 WHERE id = ?1"
                    : "INSERT INTO objects (id, token_id, attrs, tpm_pub, tpm_priv, wrapped_auth, "
                      "mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
              bind_object, o, &rowid);
    if (rv == CKR_OK && o->id == 0)
        o->id = rowid;
    return rv;
}

CK_RV
store_object_del (store *st, int64_t id)
{
    return run (st, "DELETE FROM objects WHERE id = ?1", bind_id, &id, NULL);
}

static CK_RV
object_row (sqlite3_stmt *stmt, void *elem)
{
    store_object *o = elem;
    CK_RV rv;

    o->id = sqlite3_column_int64 (stmt, 0);
    o->token_id = sqlite3_column_int64 (stmt, 1);
    rv = column_blob (stmt, 2, &o->attrs);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 3, &o->tpm_pub);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 4, &o->tpm_priv);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 5, &o->wrapped_auth);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 6, &o->mac);
    return rv;
}

void
store_object_clear (store_object *o)
{
    store_blob_clear (&o->attrs);
    store_blob_clear (&o->tpm_pub);
    store_blob_clear (&o->tpm_priv);
    store_blob_clear (&o->wrapped_auth);
    store_blob_clear (&o->mac);
}

void
store_object_list_free (store_object *list, size_t count)
{
    for (size_t i = 0; list != NULL && i < count; i++)
        store_object_clear (&list[i]);
    free (list);
}

CK_RV
store_object_list (store *st, int64_t token_id, store_object **out, size_t *count)
{
    void *arr = NULL;
    CK_RV rv = select_rows (st,
                            "SELECT id, token_id, attrs, tpm_pub, tpm_priv, wrapped_auth, mac "
                            "FROM objects WHERE token_id = ?1 ORDER BY id",
                            &token_id, sizeof (store_object), object_row, &arr, count);
    if (rv != CKR_OK) {
        store_object_list_free (arr, *count);
        arr = NULL;
        *count = 0;
    }
    *out = arr;
    return rv;
}
