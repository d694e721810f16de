/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Row authentication (issue 15): an HMAC-SHA256 over every object row, bound to
 * its token (id and serial), its row id and all its columns. Two keys:
 *  - private rows (CKA_PRIVATE TRUE): a key derived from the token secret, so
 *    only a holder of the PIN (and this TPM) can make one;
 *  - public rows: the token's row key, 32 random bytes sealed under the SRK
 *    without a PIN (tokens.mackey_pub/priv), unsealed once per process; a
 *    public row written while logged in carries a second MAC under the
 *    private rows' key, checked instead when logged in (no unseal then).
 * See docs/ARCHITECTURE.md (threat model) for what each stops.
 */
#ifndef TT_ROWMAC_H
#define TT_ROWMAC_H

#include "internal.h"

#define ROWMAC_LEN 32

typedef enum { ROW_OK, ROW_DAMAGED, ROW_PENDING } row_state;

/* The canonical MAC input of a row, hashed: what is authenticated. key may be
 * any 32 bytes. Pure: the fuzz target drives it. */
void rowmac_compute (const uint8_t *key, size_t key_len, int64_t token_id, const char *serial,
                     const store_object *so, uint8_t out[ROWMAC_LEN]);
/* A SHA-256 over the whole row (mac included): whether it changed since loaded. */
void rowmac_row_hash (const store_object *so, uint8_t out[32]);

/* Checks a row whose attributes decoded to attrs: ROW_OK, ROW_DAMAGED (with a
 * log line naming the object), ROW_PENDING (a private row before login; with
 * defer, a public row that needs the row key while it is not unsealed yet).
 * *rv: an error that kept the check from running (the TPM), else CKR_OK. */
row_state rowmac_check (tt_token *tok, const store_object *so, const attr_list *attrs, bool defer,
                        CK_RV *rv);
/* Fills so->mac for writing (empty for a token not yet upgraded). */
CK_RV rowmac_sign (tt_token *tok, store_object *so, const attr_list *attrs);
/* The token row's MAC (issue 15 item 3) under a key from the token secret,
 * over every column but the generation: sign sets rec->mac to a new blob (a
 * borrowed one is not freed); ok checks it. */
CK_RV rowmac_token_sign (const secbuf *secret, store_token *rec);
bool rowmac_token_ok (const secbuf *secret, const store_token *rec);
/* A new row key for a token record (C_InitToken, upgrade): sealed into rec,
 * the key itself into *key. */
CK_RV rowmac_new_key (store_token *rec, secbuf **key);
/* Upgrades a token of a v1 store (no row key) at login: a row key, and a MAC
 * on every row, in one transaction. No-op when done or the store is read-only. */
CK_RV rowmac_upgrade_inlock (tt_token *tok);

#endif
