/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The store's rows: tokens and objects (see store.h), on the connection
 * store.c opens.
 */
#include "config.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "store"
#include "base/log.h"
#include "store/store-internal.h"

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
    rv = store_sql_rv (st, rc, sql);
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
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64 (stmt, 12, (sqlite3_int64) t->nv_index);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64 (stmt, 13, (sqlite3_int64) t->nv_count);
    if (rc == SQLITE_OK)
        rc = bind_blob (stmt, 14, &t->mac);
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
              "mackey_pub, mackey_priv, generation, nv_index, nv_count, mac) "
              "VALUES ((SELECT CASE WHEN ?1 IS NULL OR EXISTS (SELECT 1 FROM tokens WHERE id = ?1) "
              "THEN NULL ELSE ?1 END), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                      "mackey_priv = ?10, generation = ?11 + 1, nv_index = ?12, nv_count = ?13, "
                      "mac = ?14 WHERE id = ?1 AND generation = ?11",
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
    store_blob_clear (&t->mac);
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
        rv = store_sql_rv (st, rc, sql);
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
    t->nv_index = (uint32_t) sqlite3_column_int64 (stmt, 11);
    t->nv_count = (uint64_t) sqlite3_column_int64 (stmt, 12);
    if (rv == CKR_OK)
        rv = column_blob (stmt, 13, &t->mac);
    return rv;
}

CK_RV
store_token_list (store *st, store_token **out, size_t *count)
{
    void *arr = NULL;
    CK_RV rv = select_rows (st,
                            "SELECT id, label, serial, salt, so_pub, so_priv, user_pub, user_priv, "
                            "mackey_pub, mackey_priv, generation, nv_index, nv_count, mac "
                            "FROM tokens ORDER BY id",
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
                            "mackey_pub, mackey_priv, generation, nv_index, nv_count, mac "
                            "FROM tokens WHERE id = ?1",
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
