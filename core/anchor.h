/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The token row's anchor (issue 15 items 3 and 4; docs/ARCHITECTURE.md "No
 * rollback"): its MAC under the token secret, its generation (the writers'
 * compare-and-swap) and the TPM counter its count follows. core/token.c calls
 * these for every change of the token row and at login.
 */
#ifndef TT_ANCHOR_H
#define TT_ANCHOR_H

#include "internal.h"

/* anchor_check_inlock: this process's copy of the row was older than the
 * counter, and the store's is not: read the row again and log in again. */
#define ANCHOR_STALE ((CK_RV) (CKR_VENDOR_DEFINED | 0x7e7e0001UL))

/* Saves rec (a copy of tok->rec with changes) with its MAC under secret, if
 * the stored row is still the one tok read; else reads it again and applies
 * the change again (rebuild, may be NULL) up to 3 times. bump: a change never
 * to be undone (the count goes up; anchor_advance after the commit). */
CK_RV anchor_save_inlock (tt_token *tok, const secbuf *secret, store_token *rec, bool bump,
                          void (*rebuild) (store_token *, const void *), const void *change);
/* After a committed bump: the TPM's counter follows the store. */
void anchor_advance (tt_token *tok);
/* A row whose counter is not settled (nv_count 0): increments or defines it
 * (fresh: a new token, at the first free index) and records its value. */
CK_RV anchor_settle_inlock (tt_token *tok, const secbuf *secret, bool fresh);
/* At login, with the unsealed secret: the row's MAC, and the store not older
 * than the counter (CKR_TPMTRUST_STORE_ROLLED_BACK, ANCHOR_STALE). */
CK_RV anchor_check_inlock (tt_token *tok, const secbuf *secret);

#endif
