/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Row authentication: see rowmac.h and docs/ARCHITECTURE.md ("The store").
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "rowmac"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "rowenc.h"
#include "rowmac.h"

#define ROWKEY_LEN 32
static const char row_tag[] = "tpmtrust object row v2";
static const char priv_label[] = "tpmtrust row mac: private rows";

static void
put_u64 (crypto_hash_sha256_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) (v >> (56 - 8 * i));
    crypto_hash_sha256_update (h, b, sizeof b);
}

/* A column: its length (all ones for NULL) and bytes. */
static void
put_col (crypto_hash_sha256_state *h, const store_blob *b)
{
    put_u64 (h, b->data == NULL ? UINT64_MAX : (uint64_t) b->len);
    if (b->data != NULL && b->len > 0)
        crypto_hash_sha256_update (h, b->data, b->len);
}

static void
row_digest (int64_t token_id, const char *serial, const store_object *so, bool with_mac,
            uint8_t out[32])
{
    crypto_hash_sha256_state h;
    uint8_t ser[17] = { 0 };

    crypto_hash_sha256_init (&h);
    crypto_hash_sha256_update (&h, (const uint8_t *) row_tag, sizeof row_tag);
    snprintf ((char *) ser, sizeof ser, "%s", serial != NULL ? serial : "");
    crypto_hash_sha256_update (&h, ser, sizeof ser);
    put_u64 (&h, (uint64_t) token_id);
    put_u64 (&h, (uint64_t) so->id);
    put_col (&h, &so->attrs);
    put_col (&h, &so->tpm_pub);
    put_col (&h, &so->tpm_priv);
    put_col (&h, &so->wrapped_auth);
    if (with_mac)
        put_col (&h, &so->mac);
    crypto_hash_sha256_final (&h, out);
}

void
rowmac_compute (const uint8_t *key, size_t key_len, int64_t token_id, const char *serial,
                const store_object *so, uint8_t out[ROWMAC_LEN])
{
    uint8_t d[32];
    row_digest (token_id, serial, so, false, d);
    if (crypto_hmac_sha256 (key, key_len, d, sizeof d, out) != CKR_OK)
        memset (out, 0, ROWMAC_LEN);
}

void
rowmac_row_hash (const store_object *so, uint8_t out[32])
{
    row_digest (so->token_id, "", so, true, out);
}

static const char token_tag[] = "tpmtrust token row v2";
static const char token_mac_label[] = "tpmtrust row mac: token row";

CK_RV
rowmac_token_sign (const secbuf *secret, store_token *rec)
{
    crypto_hash_sha256_state h;
    uint8_t d[32], k[32], mac[ROWMAC_LEN], ser[17] = { 0 }, lab[33] = { 0 };
    CK_RV rv;

    crypto_hash_sha256_init (&h);
    crypto_hash_sha256_update (&h, (const uint8_t *) token_tag, sizeof token_tag);
    snprintf ((char *) ser, sizeof ser, "%s", rec->serial);
    snprintf ((char *) lab, sizeof lab, "%s", rec->label);
    crypto_hash_sha256_update (&h, ser, sizeof ser);
    crypto_hash_sha256_update (&h, lab, sizeof lab);
    put_u64 (&h, (uint64_t) rec->id);
    put_col (&h, &rec->salt);
    put_col (&h, &rec->so_pub);
    put_col (&h, &rec->so_priv);
    put_col (&h, &rec->user_pub);
    put_col (&h, &rec->user_priv);
    put_col (&h, &rec->mackey_pub);
    put_col (&h, &rec->mackey_priv);
    put_u64 (&h, rec->nv_index);
    put_u64 (&h, rec->nv_count);
    crypto_hash_sha256_final (&h, d);
    rv = crypto_hmac_sha256 (secret->data, secret->len, (const uint8_t *) token_mac_label,
                             sizeof token_mac_label - 1, k);
    if (rv == CKR_OK)
        rv = crypto_hmac_sha256 (k, sizeof k, d, sizeof d, mac);
    sodium_memzero (k, sizeof k);
    rec->mac.data = NULL; /* borrowed, or none: the caller owns the old one */
    rec->mac.len = 0;
    if (rv == CKR_OK)
        rv = store_blob_set (&rec->mac, mac, sizeof mac);
    return rv;
}

bool
rowmac_token_ok (const secbuf *secret, const store_token *rec)
{
    store_token copy = *rec;
    bool ok = rec->mac.data != NULL && rec->mac.len == ROWMAC_LEN
              && rowmac_token_sign (secret, &copy) == CKR_OK
              && sodium_memcmp (copy.mac.data, rec->mac.data, ROWMAC_LEN) == 0;
    store_blob_clear (&copy.mac);
    return ok;
}

/* The private rows' key: HMAC(token secret, label). */
static CK_RV
private_key (const tt_token *tok, uint8_t out[32])
{
    return crypto_hmac_sha256 (tok->secret->data, tok->secret->len, (const uint8_t *) priv_label,
                               sizeof priv_label - 1, out);
}

/* tok->rowkey for tok->rec, unsealing it on first use (TPM2_Load + TPM2_Unseal). */
static CK_RV
public_key (tt_token *tok, const secbuf **out)
{
    tpm_blob p = { tok->rec.mackey_pub.data, tok->rec.mackey_pub.len };
    tpm_blob s = { tok->rec.mackey_priv.data, tok->rec.mackey_priv.len };
    secbuf *none = secbuf_new (0), *key = NULL;
    tpm_key k = { &p, &s, none, { 0, 0 } };
    uint8_t for_blob[32];
    CK_RV rv;

    crypto_sha256 (p.data, p.len, for_blob);
    if (tok->rowkey != NULL && sodium_memcmp (for_blob, tok->rowkey_for, 32) == 0) {
        secbuf_free (none);
        *out = tok->rowkey;
        return CKR_OK;
    }
    secbuf_free (tok->rowkey);
    tok->rowkey = NULL;
    rv = none == NULL ? CKR_HOST_MEMORY : tpm_unseal (core_tpm (), &k, &key);
    secbuf_free (none);
    if (rv == CKR_OK && key->len != ROWKEY_LEN) {
        LOG_ERROR ("token '%s': its row key has the wrong size: the token row is damaged",
                   tok->rec.label);
        rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    if (rv != CKR_OK) {
        secbuf_free (key);
        LOG_ERROR ("token '%s': its row key (the key that authenticates its public objects) "
                   "cannot be unsealed: public objects are refused",
                   tok->rec.label);
        return rv;
    }
    tok->rowkey = key;
    memcpy (tok->rowkey_for, for_blob, 32);
    *out = key;
    return CKR_OK;
}

static bool
token_upgraded (const tt_token *tok)
{
    return tok->rec.mackey_pub.data != NULL && tok->rec.mackey_priv.data != NULL;
}

static void
log_damaged (const store_object *so, const attr_list *attrs, const char *why)
{
    const CK_ATTRIBUTE *label = attrs != NULL ? attr_list_find (attrs, CKA_LABEL) : NULL;
    const CK_ATTRIBUTE *id = attrs != NULL ? attr_list_find (attrs, CKA_ID) : NULL;
    char hex[2 * 20 + 1] = "";

    if (id != NULL && id->ulValueLen > 0)
        sodium_bin2hex (hex, sizeof hex, id->pValue, id->ulValueLen > 20 ? 20 : id->ulValueLen);
    LOG_ERROR ("stored object %lld (label '%.*s', id %s) is refused: %s; it was changed outside "
               "tpmtrust (or copied from another store): restore the store from a backup or "
               "destroy the object",
               (long long) so->id, label != NULL ? (int) label->ulValueLen : 0,
               label != NULL ? (const char *) label->pValue : "", hex[0] ? hex : "-", why);
}

row_state
rowmac_check (tt_token *tok, const store_object *so, const attr_list *attrs, bool defer,
              CK_RV *rv)
{
    uint8_t want[ROWMAC_LEN], k[32];
    bool priv = attr_list_bool_or (attrs, CKA_PRIVATE, true);
    const uint8_t *have = so->mac.data;
    const secbuf *pk = NULL;

    *rv = CKR_OK;
    if (so->mac.data == NULL) {
        if (!token_upgraded (tok))
            return ROW_OK; /* a v1 row of a v1 token: authenticated at its first login */
        log_damaged (so, attrs, "its row has no MAC");
        return ROW_DAMAGED;
    }
    /* private rows: the secret's MAC; public rows: the row key's MAC, then
     * (when written logged in) the secret's too */
    if ((priv ? so->mac.len != ROWMAC_LEN
              : so->mac.len != ROWMAC_LEN && so->mac.len != 2 * ROWMAC_LEN)
        || !token_upgraded (tok)) {
        log_damaged (so, attrs, "its MAC is malformed (or its token has no row key)");
        return ROW_DAMAGED;
    }
    if (priv || (tok->secret != NULL && so->mac.len == 2 * ROWMAC_LEN)) {
        /* logged in, a public row's second MAC saves unsealing the row key */
        if (tok->secret == NULL)
            return ROW_PENDING;
        *rv = private_key (tok, k);
        if (*rv != CKR_OK)
            return ROW_PENDING;
        rowmac_compute (k, sizeof k, tok->rec.id, tok->rec.serial, so, want);
        sodium_memzero (k, sizeof k);
        if (!priv)
            have += ROWMAC_LEN;
    } else {
        if (defer && tok->rowkey == NULL)
            return ROW_PENDING; /* checked when needed: perhaps after a login */
        *rv = public_key (tok, &pk);
        if (*rv != CKR_OK)
            return ROW_PENDING;
        rowmac_compute (pk->data, pk->len, tok->rec.id, tok->rec.serial, so, want);
    }
    if (sodium_memcmp (want, have, ROWMAC_LEN) != 0) {
        log_damaged (so, attrs, "its MAC does not verify");
        return ROW_DAMAGED;
    }
    return ROW_OK;
}

CK_RV
rowmac_sign (tt_token *tok, store_object *so, const attr_list *attrs)
{
    uint8_t mac[2 * ROWMAC_LEN], k[32];
    size_t n = ROWMAC_LEN;
    const secbuf *pk = NULL;
    bool priv = attr_list_bool_or (attrs, CKA_PRIVATE, true);
    CK_RV rv = CKR_OK;

    so->mac.data = NULL;
    so->mac.len = 0;
    if (!token_upgraded (tok))
        return CKR_OK;
    if (priv && tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if (!priv) {
        rv = public_key (tok, &pk);
        if (rv == CKR_OK)
            rowmac_compute (pk->data, pk->len, tok->rec.id, tok->rec.serial, so, mac);
    }
    if (rv == CKR_OK && tok->secret != NULL) {
        rv = private_key (tok, k);
        if (rv == CKR_OK)
            rowmac_compute (k, sizeof k, tok->rec.id, tok->rec.serial, so,
                            priv ? mac : mac + ROWMAC_LEN);
        n = priv ? ROWMAC_LEN : 2 * ROWMAC_LEN;
        sodium_memzero (k, sizeof k);
    }
    if (rv == CKR_OK)
        rv = store_blob_set (&so->mac, mac, n);
    return rv;
}

CK_RV
rowmac_new_key (store_token *rec, secbuf **key)
{
    secbuf *k = secbuf_new (ROWKEY_LEN), *none = secbuf_new (0);
    tpm_blob p = { 0 }, s = { 0 };
    CK_RV rv = k == NULL || none == NULL ? CKR_HOST_MEMORY
                                         : tpm_random (core_tpm (), k->data, ROWKEY_LEN);

    if (rv == CKR_OK)
        rv = tpm_seal (core_tpm (), none, k, false, NULL, &p, &s);
    if (rv == CKR_OK)
        rv = store_blob_set (&rec->mackey_pub, p.data, p.len);
    if (rv == CKR_OK)
        rv = store_blob_set (&rec->mackey_priv, s.data, s.len);
    tpm_blob_clear (&p);
    tpm_blob_clear (&s);
    secbuf_free (none);
    if (rv != CKR_OK) {
        secbuf_free (k);
        k = NULL;
    }
    *key = k;
    return rv;
}

/* Upgrade of a v1 token: trust on first login. Its rows are taken as they are
 * (as v1 did) and from then on authenticated. */
CK_RV
rowmac_upgrade_inlock (tt_token *tok)
{
    store_token rec = tok->rec;
    store_object *list = NULL;
    secbuf *key = NULL;
    size_t n = 0;
    store *st;
    CK_RV rv;

    if (token_upgraded (tok) || tok->secret == NULL || tok->rec.id == 0)
        return CKR_OK;
    rv = core_store (&st);
    if (rv != CKR_OK || store_readonly (st) || store_write_check (st) != CKR_OK)
        return CKR_OK; /* stays a v1 token: read-only */
    rec.mackey_pub.data = rec.mackey_priv.data = NULL;
    rv = rowmac_new_key (&rec, &key);
    if (rv == CKR_OK)
        rv = store_tx_begin (st);
    if (rv != CKR_OK)
        goto out;
    rv = store_object_list (st, tok->rec.id, &list, &n);
    if (rv == CKR_OK)
        rv = rowmac_token_sign (tok->secret, &rec);
    if (rv == CKR_OK)
        rv = store_token_put (st, &rec); /* STORE_STALE: another process changed it: next login */
    if (rv == CKR_OK) {
        /* the key in place: MACs with it */
        store_token old = tok->rec;
        tok->rec.generation = rec.generation;
        tok->rec.mackey_pub = rec.mackey_pub;
        tok->rec.mackey_priv = rec.mackey_priv;
        tok->rec.mac = rec.mac;
        secbuf_free (tok->rowkey);
        tok->rowkey = key;
        key = NULL;
        crypto_sha256 (rec.mackey_pub.data, rec.mackey_pub.len, tok->rowkey_for);
        for (size_t i = 0; i < n && rv == CKR_OK; i++) {
            attr_list *attrs = NULL;
            if (list[i].mac.data != NULL
                || rowenc_decode (tok, &list[i], &attrs) != CKR_OK)
                continue; /* damaged rows stay so */
            rv = rowmac_sign (tok, &list[i], attrs);
            if (rv == CKR_OK)
                rv = store_object_put (st, &list[i]);
            attr_list_free (attrs);
        }
        if (rv == CKR_OK)
            rv = store_tx_commit (st);
        if (rv != CKR_OK) {
            tok->rec.mackey_pub = old.mackey_pub;
            tok->rec.mackey_priv = old.mackey_priv;
            tok->rec.generation = old.generation; /* the transaction is undone */
            tok->rec.mac = old.mac;
            secbuf_free (tok->rowkey);
            tok->rowkey = NULL;
        } else {
            store_blob_clear (&old.mac);
        }
    }
    if (rv != CKR_OK)
        store_tx_rollback (st);
    else
        LOG_INFO ("token '%s': upgraded to authenticated rows (%zu objects)", tok->rec.label, n);
out:
    if (rv != CKR_OK) {
        store_blob_clear (&rec.mackey_pub);
        store_blob_clear (&rec.mackey_priv);
        if (rec.mac.data != tok->rec.mac.data)
            store_blob_clear (&rec.mac);
    }
    store_object_list_free (list, n);
    secbuf_free (key);
    return rv;
}
