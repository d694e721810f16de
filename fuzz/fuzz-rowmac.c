/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The authenticated row decoder (core/rowmac.c, issue 15): an object row of
 * fuzzed columns (attribute encoding, TPM public and private blobs, wrapped
 * auth value, MAC) as the module checks it on load: its attributes decoded,
 * its MAC checked (public rows under the token's row key, private rows under
 * the token secret's key), and, when the MAC is good, its TPM public blob
 * against its attributes (keytype_row_ok). The input says whether the MAC is
 * the right one (computed here, so the blob checks run on fuzzed blobs), a
 * wrong one or raw bytes, and whether the user is logged in. No TPM: the row
 * key is given to the token as if unsealed. Invariants: a row with a wrong or
 * missing MAC is never ROW_OK; a right MAC is ROW_OK or ROW_PENDING (private,
 * logged out) unless its blob does not fit.
 * Then the private rows' encryption (core/rowenc.c): a sealed column of fuzzed
 * bytes never decrypts; logged in, the fuzzed attributes sealed and decoded
 * come back the same, and with one bit flipped are refused.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/keys/keytype.h"
#include "core/rowenc.h"
#include "core/rowmac.h"
#include "fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t len);

static void
col (fz *f, store_blob *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    if (fz_bool (f)) {
        size_t n = fz_len (f, max);
        b->data = fz_bytes (f, n);
        b->len = n;
        if (b->data == NULL)
            b->len = 0;
    }
}

static void
sealed_rows (tt_token *tok, store_object *so, const attr_list *attrs, fz *f)
{
    store_object row = *so;
    attr_list *back = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;

    /* the fuzzed column as if sealed: never decrypts */
    if (so->attrs.data != NULL && so->attrs.len > 0) {
        uint8_t first = so->attrs.data[0];
        so->attrs.data[0] = 0x02;
        if (rowenc_decode (tok, so, &back) == CKR_OK)
            abort (); /* forged ciphertext believed */
        so->attrs.data[0] = first;
    }
    if (attrs == NULL || tok->secret == NULL || attr_list_encode (attrs, &a, &a_len) != CKR_OK)
        return;
    row.attrs.data = a;
    row.attrs.len = a_len;
    if (attr_list_encode (attrs, &b, &b_len) != CKR_OK || rowenc_seal (tok, &row.attrs) != CKR_OK
        || !rowenc_sealed (&row.attrs))
        abort (); /* a: now freed, row.attrs the sealed column */
    if (rowenc_decode (tok, &row, &back) != CKR_OK)
        abort (); /* our own seal refused */
    if (attr_list_encode (back, &a, &a_len) != CKR_OK || a_len != b_len
        || memcmp (a, b, b_len) != 0)
        abort (); /* it came back different */
    attr_list_free (back);
    back = NULL;
    row.attrs.data[1 + fz_pick (f, row.attrs.len - 1)] ^= (uint8_t) (1u << fz_pick (f, 8));
    if (rowenc_decode (tok, &row, &back) == CKR_OK)
        abort (); /* a changed ciphertext believed */
    store_blob_clear (&row.attrs);
    free (a);
    free (b);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t len)
{
    static const uint8_t rowkey[32] = { 7 }, secret[32] = { 9 }, sealed[] = "sealed";
    tt_token tok = { 0 };
    store_object so = { 0 };
    attr_list *attrs = NULL;
    uint8_t mac[ROWMAC_LEN], key[32];
    uint8_t mode;
    fz f;
    CK_RV rv;

    fz_init (&f, data, len);
    tok.rec.id = 1 + fz_pick (&f, 4);
    snprintf (tok.rec.serial, sizeof tok.rec.serial, "%016x", (unsigned) fz_u32 (&f));
    tok.rec.mackey_pub.data = (uint8_t *) sealed;
    tok.rec.mackey_pub.len = sizeof sealed;
    tok.rec.mackey_priv = tok.rec.mackey_pub;
    tok.rowkey = secbuf_dup (rowkey, sizeof rowkey);
    crypto_sha256 (sealed, sizeof sealed, tok.rowkey_for);
    if (fz_bool (&f)) {
        tok.secret = secbuf_dup (secret, sizeof secret);
        tok.login = CKU_USER;
    }
    so.id = (int64_t) fz_u32 (&f);
    so.token_id = tok.rec.id;
    col (&f, &so.attrs, 4096);
    col (&f, &so.tpm_pub, 1024);
    col (&f, &so.tpm_priv, 1024);
    col (&f, &so.wrapped_auth, 128);
    mode = fz_u8 (&f) % 3;
    if (tok.rowkey != NULL && attr_list_decode (so.attrs.data, so.attrs.len, &attrs) == CKR_OK) {
        bool priv = attr_list_bool_or (attrs, CKA_PRIVATE, true), right = false;
        uint8_t big[2 * ROWMAC_LEN];
        if (mode == 0) { /* the right MAC, as the module writes it */
            right = rowmac_sign (&tok, &so, attrs) == CKR_OK && so.mac.data != NULL;
            if (right && fz_bool (&f)) { /* one bit flipped */
                so.mac.data[fz_pick (&f, so.mac.len)] ^= (uint8_t) (1u << fz_pick (&f, 8));
                right = false;
            }
        } else {
            if (mode == 1) { /* MACs under another key */
                memset (key, 0x55, sizeof key);
                rowmac_compute (key, sizeof key, tok.rec.id, tok.rec.serial, &so, big);
                memcpy (big + ROWMAC_LEN, big, ROWMAC_LEN);
            } else {
                memcpy (big, fz_bytes (&f, sizeof big), sizeof big);
            }
            memcpy (mac, big, sizeof mac);
            if (fz_bool (&f)) {
                so.mac.data = fz_alloc (&f, sizeof big);
                memcpy (so.mac.data, big, sizeof big);
                so.mac.len = fz_pick (&f, sizeof big + 1);
            }
        }
        row_state st = rowmac_check (&tok, &so, attrs, fz_bool (&f), &rv);
        if (st == ROW_OK && !right)
            abort (); /* a row that is not authentic was believed */
        if (right && st == ROW_DAMAGED)
            abort (); /* an authentic row was refused */
        if (right && st == ROW_PENDING && priv && tok.secret != NULL)
            abort ();
        if (st == ROW_OK) {
            tt_object *obj = object_new (attrs);
            if (obj != NULL) {
                obj->tpm_pub.data = so.tpm_pub.data;
                obj->tpm_pub.len = so.tpm_pub.len;
                (void) keytype_row_ok (obj, so.id);
                obj->tpm_pub.data = NULL;
                obj->attrs = NULL;
                obj->type = NULL;
                object_free (obj);
            }
        }
    }
    if (mode == 0)
        store_blob_clear (&so.mac);
    sealed_rows (&tok, &so, attrs, &f);
    attr_list_free (attrs);
    secbuf_free (tok.rowkey);
    secbuf_free (tok.secret);
    fz_done (&f);
    fuzz_check_secbufs ();
    return 0;
}
