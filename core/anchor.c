/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The token row's anchor: see anchor.h.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "token"
#include "anchor.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "rowmac.h"

/* A read-only store (or one with a newer schema). */
static bool
anchor_store_readonly (void)
{
    store *st;
    return core_store (&st) == CKR_OK && store_readonly (st);
}

/* The token's row as the store has it now, when it is newer than ours
 * (issue 15 item 4). Changed by another process (a PIN set, a row key made):
 * taken, CKR_OK. Re-initialized there (a new salt: a new token secret) or
 * deleted: this process's view and login are of a token that is gone, so its
 * sessions become invalid (tok->epoch), its objects and login are dropped and
 * the new row is taken: CKR_SESSION_HANDLE_INVALID, and nothing is written. */
CK_RV
token_current_inlock (tt_token *tok)
{
    store_token fresh = { 0 };
    bool found = false;
    store *st;
    CK_RV rv;

    if (tok->rec.id == 0 || tok->removed)
        return CKR_OK; /* not initialized (or gone): nothing to compare */
    rv = core_store (&st);
    if (rv == CKR_OK)
        rv = store_token_get (st, tok->rec.id, &fresh, &found);
    if (rv != CKR_OK || (found && fresh.generation == tok->rec.generation)) {
        store_token_clear (&fresh);
        return rv;
    }
    if (found && fresh.salt.len == tok->rec.salt.len
        && sodium_memcmp (fresh.salt.data, tok->rec.salt.data, fresh.salt.len) == 0) {
        store_token_clear (&tok->rec);
        tok->rec = fresh;
        return CKR_OK;
    }
    LOG_ERROR ("token '%s' (serial %s) was %s by another process since this one read it: its "
               "sessions here are no longer valid (nothing was written); open a new session",
               tok->rec.label, tok->rec.serial, found ? "re-initialized" : "deleted");
    tok->epoch++;
    if (tok->forget != NULL)
        tok->forget (tok); /* its login, objects and row key */
    if (found) {
        store_token_clear (&tok->rec);
        tok->rec = fresh;
    } else {
        tok->removed = true;
    }
    return CKR_SESSION_HANDLE_INVALID;
}

CK_RV
token_fresh_inlock (tt_token *tok)
{
    store *st;
    int64_t v;

    if (tok->rec.id == 0 || tok->removed || core_store (&st) != CKR_OK)
        return CKR_OK;
    v = store_data_version (st);
    if (v == tok->seen_version && v != -1)
        return CKR_OK;
    tok->seen_version = v;
    return token_current_inlock (tok);
}

/* Saves rec (tok->rec with changes) if the stored row is still the one tok
 * read: the generation is its compare-and-swap. A row changed meanwhile by
 * another process is read again and the change made on it (rebuild: puts the
 * change into the fresh copy), up to 3 times. The row gets its MAC under the
 * token secret; bump: one more change that must never be undone (the counter
 * goes up after the commit: anchor_advance). */
CK_RV
anchor_save_inlock (tt_token *tok, const secbuf *secret, store_token *rec, bool bump,
                   void (*rebuild) (store_token *, const void *), const void *change)
{
    store *st;
    CK_RV rv = core_store (&st);

    for (int tries = 0; rv == CKR_OK; tries++) {
        if (bump && rec->nv_index != 0 && rec->nv_count != 0)
            rec->nv_count = tok->rec.nv_count + 1;
        rv = rowmac_token_sign (secret, rec);
        if (rv == CKR_OK)
            rv = store_token_put (st, rec);
        if (rv != STORE_STALE)
            break;
        store_blob_clear (&rec->mac);
        rv = tries < 2 ? token_current_inlock (tok) : CKR_FUNCTION_FAILED;
        if (rv == CKR_OK) {
            *rec = tok->rec; /* borrowed: rebuild replaces what changes */
            if (rebuild != NULL)
                rebuild (rec, change);
        }
    }
    if (rv == CKR_OK) {
        store_blob_clear (&tok->rec.mac);
        tok->rec.mac = rec->mac;
        tok->rec.generation = rec->generation;
        tok->rec.nv_index = rec->nv_index;
        tok->rec.nv_count = rec->nv_count;
    } else if (rec->mac.data != tok->rec.mac.data) {
        store_blob_clear (&rec->mac);
    }
    return rv;
}

/* Brings the TPM's counter up to the value the store holds now, under the
 * store's write lock: every change of the count is written under it too, so
 * two processes' changes never move the counter past the store (an increment
 * is made only while the counter is behind the committed value). *now: the
 * counter afterwards; *target: the store's value. */
static CK_RV
counter_catch_up (tt_token *tok, uint64_t *now, uint64_t *target)
{
    store_token fresh = { 0 };
    bool found = false;
    store *st;
    CK_RV rv = core_store (&st);

    if (rv == CKR_OK)
        rv = store_tx_begin (st);
    if (rv != CKR_OK)
        return rv;
    rv = store_token_get (st, tok->rec.id, &fresh, &found);
    if (rv == CKR_OK && !found)
        rv = CKR_TOKEN_NOT_PRESENT;
    *target = fresh.nv_count;
    if (rv == CKR_OK)
        rv = tpm_counter_read (core_tpm (), tok->rec.nv_index, now);
    for (int i = 0; rv == CKR_OK && *now < *target && i < 8; i++)
        if ((rv = tpm_counter_increment (core_tpm (), tok->rec.nv_index)) == CKR_OK)
            (*now)++; /* NV_Increment adds exactly one: no read after it */
    store_tx_rollback (st); /* nothing written: the lock only */
    store_token_clear (&fresh);
    return rv;
}

/* After a committed change that must never be undone: the TPM's counter
 * follows the store (a failure leaves the store ahead, which the next change
 * or login puts right). */
void
anchor_advance (tt_token *tok)
{
    uint64_t now = 0, target = 0;
    CK_RV rv;

    if (tok->rec.nv_index == 0 || tok->rec.nv_count == 0)
        return;
    rv = counter_catch_up (tok, &now, &target);
    if (rv != CKR_OK || now < target)
        LOG_WARN ("token '%s': the change is saved, but its TPM counter could not follow "
                  "(0x%lx): the next login moves it",
                  tok->rec.label, (unsigned long) rv);
    else if (now > target)
        LOG_ERROR ("token '%s': its TPM counter (0x%08x) is at %llu, the store at %llu: another "
                   "program moved the counter; the next login will refuse this store as rolled "
                   "back",
                   tok->rec.label, tok->rec.nv_index, (unsigned long long) now,
                   (unsigned long long) target);
}

CK_RV
token_bump_inlock (tt_token *tok)
{
    store_token rec = tok->rec;
    if (tok->secret == NULL || tok->rec.nv_index == 0 || tok->rec.nv_count == 0)
        return CKR_OK;
    return anchor_save_inlock (tok, tok->secret, &rec, true, NULL, NULL);
}

void
token_bump_done (tt_token *tok)
{
    anchor_advance (tok);
}

typedef struct anchor_change {
    uint32_t index;
    uint64_t count;
} anchor_change;

static void
put_anchor (store_token *rec, const void *arg)
{
    const anchor_change *c = arg;
    rec->nv_index = c->index;
    rec->nv_count = c->count;
}

static CK_RV
save_anchor_inlock (tt_token *tok, const secbuf *secret, uint32_t index, uint64_t count)
{
    store_token rec = tok->rec;
    anchor_change c = { index, count };
    put_anchor (&rec, &c);
    return anchor_save_inlock (tok, secret, &rec, false, put_anchor, &c);
}

/* The anchor of a token row whose counter is not settled yet (nv_count 0: a
 * new token, a re-initialized one, or an upgraded one): its counter is
 * incremented, or defined when there is none (fresh: a new token, at the
 * first free index from its own; a TPM whose owner hierarchy needs an auth:
 * none, the weaker mode), and the row records its value. */
CK_RV
anchor_settle_inlock (tt_token *tok, const secbuf *secret, bool fresh)
{
    uint32_t index = tok->rec.nv_index;
    uint64_t now = 0;
    bool exists = false;
    CK_RV rv = tpm_counter_exists (core_tpm (), index, &exists);

    for (int i = 0; fresh && rv == CKR_OK && exists && i < 16; i++) {
        index = tpm_counter_next (index); /* taken: another token's, or another program's */
        rv = tpm_counter_exists (core_tpm (), index, &exists);
    }
    if (rv == CKR_OK && exists) {
        rv = fresh ? CKR_FUNCTION_REJECTED : tpm_counter_increment (core_tpm (), index);
        if (rv == CKR_OK)
            rv = tpm_counter_read (core_tpm (), index, &now);
    } else if (rv == CKR_OK) {
        rv = tpm_counter_define (core_tpm (), index, &now);
        if (rv == CKR_OK)
            LOG_INFO ("token '%s': its TPM counter is NV index 0x%08x (at %llu)", tok->rec.label,
                      index, (unsigned long long) now);
    }
    if (rv == CKR_FUNCTION_REJECTED) {
        index = 0; /* logged: no rollback protection */
        rv = CKR_OK;
    }
    if (rv != CKR_OK)
        return rv;
    return save_anchor_inlock (tok, secret, index, index != 0 ? now : 0);
}

/* At login, with the token secret (issue 15 item 3): the token row must carry
 * its MAC, and the store be as new as the TPM's counter says. A row without a
 * MAC (a store of an earlier version) gets one and a counter, unless the TPM
 * has a counter for this token already: then the row lost its anchor (edited,
 * or an old copy). */
CK_RV
anchor_check_inlock (tt_token *tok, const secbuf *secret)
{
    uint64_t now = 0;
    bool writable = !anchor_store_readonly ();
    CK_RV rv;

    if (tok->rec.mac.data == NULL) {
        uint32_t index = tpm_counter_index (tok->rec.serial);
        bool exists = false;
        if (!writable)
            return CKR_OK; /* read-only: stays as it is */
        rv = tpm_counter_exists (core_tpm (), index, &exists);
        if (rv != CKR_OK)
            return rv;
        if (exists) {
            LOG_ERROR ("token '%s' (serial %s): the TPM holds its counter (NV index 0x%08x), "
                       "but its store row has no MAC: the row was edited, or the store is a "
                       "copy older than the counter: refused (CKR_TPMTRUST_STORE_ROLLED_BACK)",
                       tok->rec.label, tok->rec.serial, index);
            return CKR_TPMTRUST_STORE_ROLLED_BACK;
        }
        rv = save_anchor_inlock (tok, secret, index, 0);
        return rv == CKR_OK ? anchor_settle_inlock (tok, secret, false) : rv;
    }
    if (!rowmac_token_ok (secret, &tok->rec)) {
        LOG_ERROR ("token '%s' (serial %s): its store row does not carry its MAC: it was changed "
                   "outside tpmtrust (a seal or counter field edited, or copied from another "
                   "token): refused",
                   tok->rec.label, tok->rec.serial);
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    if (tok->rec.nv_index == 0)
        return CKR_OK; /* the weaker mode: no counter (see docs/ARCHITECTURE.md) */
    if (tok->rec.nv_count == 0)
        return writable ? anchor_settle_inlock (tok, secret, false) : CKR_OK;
    rv = tpm_counter_read (core_tpm (), tok->rec.nv_index, &now);
    if (rv == CKR_KEY_HANDLE_INVALID) {
        LOG_ERROR ("token '%s' (serial %s): its TPM counter (NV index 0x%08x) is gone: the TPM "
                   "was cleared, or the token was deleted and this store is an old copy: refused",
                   tok->rec.label, tok->rec.serial, tok->rec.nv_index);
        return CKR_TPMTRUST_STORE_ROLLED_BACK;
    }
    if (rv == CKR_OK && now != tok->rec.nv_count && writable) {
        /* behind: a change whose increment did not happen (a crash, a lost
         * TPM); ahead: perhaps another process's change committed since this
         * one read the row. Both looked at again under the store's lock. */
        uint64_t target = 0;
        rv = counter_catch_up (tok, &now, &target);
        if (rv == CKR_OK && now == target)
            return target == tok->rec.nv_count ? CKR_OK : ANCHOR_STALE;
    }
    if (rv != CKR_OK)
        return rv;
    if (now != tok->rec.nv_count) {
        LOG_ERROR ("token '%s' (serial %s): the store is %s than the TPM's counter (%llu "
                   "change(s) %s): it was rolled back (restored from an older copy), and its PINs "
                   "and keys as they were then are refused; put the newest copy of the store "
                   "back (or initialize the token again)",
                   tok->rec.label, tok->rec.serial, now > tok->rec.nv_count ? "older" : "newer",
                   (unsigned long long) (now > tok->rec.nv_count ? now - tok->rec.nv_count
                                                                 : tok->rec.nv_count - now),
                   now > tok->rec.nv_count ? "behind" : "ahead");
        return CKR_TPMTRUST_STORE_ROLLED_BACK;
    }
    return CKR_OK;
}

