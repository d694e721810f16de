/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside the store: the connection (store.c: opening, schema, transactions)
 * and what rows.c (the token and object rows) needs of it.
 */
#ifndef TT_STORE_INTERNAL_H
#define TT_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

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

/* An sqlite result as CK_RV (see store.h), with a log line naming what failed. */
CK_RV store_sql_rv (store *st, int rc, const char *what);

#endif
