/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the store on an in-memory database and on a file. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/attr.h"
#include "core/core.h"
#include "store/store.h"
#include "tap.h"

CK_RV C_GetFunctionList (CK_FUNCTION_LIST_PTR_PTR list);

static void
fill_token (store_token *t, const char *label, const char *serial)
{
    memset (t, 0, sizeof *t);
    snprintf (t->label, sizeof t->label, "%s", label);
    snprintf (t->serial, sizeof t->serial, "%s", serial);
    store_blob_set (&t->salt, "salt", 4);
    store_blob_set (&t->so_pub, "pub", 3);
    store_blob_set (&t->so_priv, "priv", 4);
}

static void
test_memory (void)
{
    store *st = NULL;
    store_token t, *list = NULL;
    store_object o = { 0 }, *objs = NULL;
    size_t n = 0;

    is_rv (store_open (":memory:", &st), CKR_OK, "open in-memory store");
    ok (store_schema_version (st) == STORE_SCHEMA_VERSION, "schema version %d",
        store_schema_version (st));
    fill_token (&t, "first", "0011223344556677");
    is_rv (store_token_add (st, &t, 5), CKR_OK, "add token under id 5");
    ok (t.id == 5, "id 5 taken (%lld)", (long long) t.id);
    store_token_clear (&t);
    fill_token (&t, "second", "8899aabbccddeeff");
    is_rv (store_token_add (st, &t, 5), CKR_OK, "add a second token wanting id 5");
    ok (t.id != 5 && t.id > 0, "it gets another id (%lld)", (long long) t.id);
    store_token_clear (&t);
    fill_token (&t, "dup", "0011223344556677");
    ok (store_token_add (st, &t, 0) != CKR_OK, "a duplicate serial is refused");
    store_token_clear (&t);
    is_rv (store_token_list (st, &list, &n), CKR_OK, "list tokens");
    ok (n == 2 && strcmp (list[0].label, "first") == 0, "two tokens, in id order");
    { /* a token row changes by compare-and-swap on its generation */
        store_token a, b, now;
        bool found = false;
        is_rv (store_token_get (st, 5, &a, &found), CKR_OK, "get token 5");
        ok (found && a.generation == 0, "found, generation 0");
        store_token_get (st, 5, &b, &found);
        snprintf (a.label, sizeof a.label, "renamed");
        is_rv (store_token_put (st, &a), CKR_OK, "put with the generation read");
        ok (a.generation == 1, "the generation went up (%lld)", (long long) a.generation);
        snprintf (b.label, sizeof b.label, "stale");
        is_rv (store_token_put (st, &b), STORE_STALE, "a put from an older read: STORE_STALE");
        store_token_get (st, 5, &now, &found);
        ok (found && strcmp (now.label, "renamed") == 0 && now.generation == 1,
            "... and nothing was written ('%s', %lld)", now.label, (long long) now.generation);
        store_token_clear (&now);
        store_token_get (st, 99, &now, &found);
        ok (!found, "an absent id: not found");
        store_token_clear (&a);
        store_token_clear (&b);
        store_token_clear (&now);
    }
    o.token_id = 5;
    store_blob_set (&o.attrs, "\x01", 1);
    store_blob_set (&o.tpm_pub, "P", 1);
    is_rv (store_object_put (st, &o), CKR_OK, "insert object");
    ok (o.id > 0, "object id assigned");
    store_object_clear (&o);
    is_rv (store_object_list (st, 5, &objs, &n), CKR_OK, "list objects");
    ok (n == 1 && objs[0].tpm_pub.len == 1 && objs[0].tpm_priv.data == NULL,
        "blobs read back, NULL stays empty");
    store_object_list_free (objs, n);
    is_rv (store_token_del (st, 5), CKR_OK, "delete token");
    is_rv (store_object_list (st, 5, &objs, &n), CKR_OK, "list objects again");
    ok (n == 0, "its objects went with it");
    store_object_list_free (objs, n);
    /* a transaction rolled back leaves nothing */
    is_rv (store_tx_begin (st), CKR_OK, "begin");
    fill_token (&t, "gone", "ffffffffffffffff");
    store_token_add (st, &t, 0);
    store_token_clear (&t);
    store_tx_rollback (st);
    store_token_list_free (list, 2);
    store_token_list (st, &list, &n);
    ok (n == 1, "rollback left one token");
    store_token_list_free (list, n);
    store_close (st);
}

static void
test_files (void)
{
    char dir[] = "/tmp/tpmtrust-store-XXXXXX", path[128], cmd[256];
    store *st = NULL;
    struct stat sb;

    if (mkdtemp (dir) == NULL) {
        ok (0, "mkdtemp");
        return;
    }
    snprintf (path, sizeof path, "%s/sub/store.sqlite3", dir);
    is_rv (store_open (path, &st), CKR_OK, "create a file store (and its directory)");
    store_close (st);
    snprintf (cmd, sizeof cmd, "%s/sub", dir);
    ok (stat (cmd, &sb) == 0 && (sb.st_mode & 0777) == 0700, "its directory is 0700 (%o)",
        (unsigned) (sb.st_mode & 0777));
    ok (stat (path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "the store file is 0600 (%o)",
        (unsigned) (sb.st_mode & 0777));
    /* bump the schema version beyond ours with sqlite3 itself */
    snprintf (cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version = 99'", path);
    if (system (cmd) == 0) {
        store_token t = { .label = "x", .serial = "s" };
        store_token *list = NULL;
        size_t n = 1;
        is_rv (store_open (path, &st), CKR_OK, "a newer schema opens");
        ok (st != NULL && store_readonly (st), "... read-only");
        ok (st != NULL && store_schema_version (st) == 99, "... and keeps its version (%d)",
            st ? store_schema_version (st) : -1);
        if (st != NULL) {
            is_rv (store_token_list (st, &list, &n), CKR_OK, "... and is read");
            ok (n == 0, "... (%zu tokens)", n);
            store_token_list_free (list, n);
            store_blob_set (&t.salt, "salt", 4);
            store_blob_set (&t.so_pub, "p", 1);
            store_blob_set (&t.so_priv, "q", 1);
            is_rv (store_token_add (st, &t, 0), CKR_TOKEN_WRITE_PROTECTED,
                   "... but not written");
            store_token_clear (&t);
            store_close (st);
        }
    } else
        ok (0, "the sqlite3 CLI is needed (scripts/install-deps.sh installs it)");
    snprintf (cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version = %d'", path,
              STORE_SCHEMA_VERSION);
    ok (system (cmd) == 0, "schema back to ours");
    is_rv (store_open (path, &st), CKR_OK, "then it opens again");
    store_close (st);
    /* writable by others: refused */
    chmod (path, 0666);
    is_rv (store_open (path, &st), CKR_DEVICE_ERROR, "a store file writable by others is refused");
    chmod (path, 0600);
    snprintf (cmd, sizeof cmd, "%s/sub", dir);
    chmod (cmd, 0777);
    is_rv (store_open (path, &st), CKR_DEVICE_ERROR, "a world-writable store directory is refused");
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    ok (system (cmd) == 0, "clean up");
}

/* Threads sharing one store handle (as the tokens of a process do): each
 * transaction must stay whole, whatever the others do meanwhile. */
typedef struct tx_worker {
    store *st;
    int64_t token_id;
    unsigned committed, failures;
} tx_worker;

static void *
tx_worker_run (void *arg)
{
    tx_worker *w = arg;
    for (unsigned i = 0; i < 200; i++) {
        store_object a = { 0 }, b = { 0 };
        CK_RV rv = store_tx_begin (w->st);
        a.token_id = b.token_id = w->token_id;
        store_blob_set (&a.attrs, "\x01", 1);
        store_blob_set (&b.attrs, "\x02", 1);
        if (rv == CKR_OK)
            rv = store_object_put (w->st, &a);
        if (rv == CKR_OK)
            rv = store_object_put (w->st, &b);
        if (rv == CKR_OK && i % 3 == 0)
            store_tx_rollback (w->st);
        else if (rv == CKR_OK && (rv = store_tx_commit (w->st)) == CKR_OK)
            w->committed += 2;
        if (rv != CKR_OK) {
            store_tx_rollback (w->st);
            w->failures++;
        }
        store_object_clear (&a);
        store_object_clear (&b);
    }
    return NULL;
}

static void
test_threads (void)
{
    char dir[] = "/tmp/tpmtrust-store-XXXXXX", path[128];
    store *st = NULL;
    store_token t;
    tx_worker w[4];
    pthread_t th[4];
    unsigned want = 0, failures = 0;
    size_t total = 0;

    if (mkdtemp (dir) == NULL) {
        ok (false, "mkdtemp");
        return;
    }
    snprintf (path, sizeof path, "%s/store.sqlite3", dir);
    is_rv (store_open (path, &st), CKR_OK, "open a file store for threads");
    for (int i = 0; i < 4; i++) {
        char serial[17];
        snprintf (serial, sizeof serial, "%016d", i);
        fill_token (&t, "threads", serial);
        store_token_add (st, &t, 0);
        w[i] = (tx_worker) { st, t.id, 0, 0 };
        store_token_clear (&t);
    }
    for (int i = 0; i < 4; i++)
        pthread_create (&th[i], NULL, tx_worker_run, &w[i]);
    for (int i = 0; i < 4; i++) {
        store_object *objs = NULL;
        size_t n = 0;
        pthread_join (th[i], NULL);
        want += w[i].committed;
        failures += w[i].failures;
        if (store_object_list (st, w[i].token_id, &objs, &n) == CKR_OK)
            total += n;
        ok (n == w[i].committed, "thread %d: %zu objects stored, %u committed", i, n,
            w[i].committed);
        store_object_list_free (objs, n);
    }
    ok (failures == 0, "4 threads x 200 transactions on one handle: %u failed", failures);
    ok (total == want && want == 4 * 2 * 133, "%zu objects in all, %u committed", total, want);
    store_close (st);
    snprintf (path, sizeof path, "rm -rf '%s'", dir);
    ok (system (path) == 0, "temp dir removed");
}

/* Found by fuzz/fuzz-store: a stored key row with a public blob and a wrapped
 * auth value but no private blob passed C_SignInit's checks and was copied from
 * a NULL pointer (UB); such a row is no TPM key. */
static void
test_damaged_key_row (void)
{
    CK_FUNCTION_LIST_PTR fl = NULL;
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE sh;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    store_token t;
    store_object o = { 0 };
    attr_list *a = attr_list_new ();
    store *st = NULL;

    setenv ("TPMTRUST_STORE", ":memory:", 1);
    setenv ("TPMTRUST_TCTI", "swtpm:host=127.0.0.1,port=1", 1); /* no TPM is needed */
    C_GetFunctionList (&fl);
    is_rv (fl->C_Initialize (NULL), CKR_OK, "initialize on an in-memory store");
    core_store (&st);
    fill_token (&t, "damaged", "0123012301230123");
    store_token_add (st, &t, 0);
    slot = (CK_SLOT_ID) t.id;
    store_token_clear (&t);
    attr_list_set_ulong (a, CKA_CLASS, CKO_PRIVATE_KEY);
    attr_list_set_ulong (a, CKA_KEY_TYPE, CKK_EC);
    attr_list_set_bool (a, CKA_PRIVATE, false); /* visible without login */
    attr_list_set_bool (a, CKA_SIGN, true);
    attr_list_set (a, CKA_EC_PARAMS, "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
    attr_list_encode (a, &o.attrs.data, &o.attrs.len);
    o.token_id = (int64_t) slot;
    store_blob_set (&o.tpm_pub, "public", 6);
    store_blob_set (&o.wrapped_auth, "wrapped", 7); /* no tpm_priv */
    is_rv (store_object_put (st, &o), CKR_OK, "a key row without its private blob");
    store_object_clear (&o);
    attr_list_free (a);
    is_rv (fl->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &sh), CKR_OK, "open session");
    fl->C_FindObjectsInit (sh, NULL, 0);
    fl->C_FindObjects (sh, &h, 1, &n);
    fl->C_FindObjectsFinal (sh);
    ok (n == 1, "the row is an object");
    /* its public blob does not parse: refused as damaged (issue 15) */
    is_rv (fl->C_SignInit (sh, &mech, h), 0xd4540002UL, "it is no key to sign with");
    is_rv (fl->C_Finalize (NULL), CKR_OK, "finalize");
}

int
main (void)
{
    test_memory ();
    test_files ();
    test_threads ();
    test_damaged_key_row ();
    return tap_done ();
}
