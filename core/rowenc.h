/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private rows encrypted at rest (issue 15 item 5). The attributes of a
 * CKA_PRIVATE token object are stored as
 *     0x02 || nonce (24) || XChaCha20-Poly1305 (encoded attributes) || tag (16)
 * under HMAC-SHA256 (token secret, "tpmtrust private attributes"), with the
 * token (its id and serial) as associated data; the row MAC (rowmac.c) covers
 * the ciphertext like any other column, and binds the row id. A plain encoded
 * list starts with 0x01 (attr.c): public rows, and private rows of a store
 * written before this, which are encrypted at the first login that can write.
 * Before login a private row is a placeholder: pending, unseen, no values.
 */
#ifndef TT_ROWENC_H
#define TT_ROWENC_H

#include "internal.h"

/* Whether a stored attributes column is encrypted. */
bool rowenc_sealed (const store_blob *attrs);
/* Encrypts the encoded attributes in attrs (malloc'd, replaced; the plain
 * bytes wiped): CKR_USER_NOT_LOGGED_IN without the token secret. */
CK_RV rowenc_seal (const tt_token *tok, store_blob *attrs);
/* Decodes a stored attributes column, decrypting it when sealed:
 * CKR_USER_NOT_LOGGED_IN for a sealed one without the token secret,
 * CKR_TPMTRUST_OBJECT_DAMAGED when it does not decrypt (logged, naming the
 * row), else attr_list_decode's answer. */
CK_RV rowenc_decode (const tt_token *tok, const store_object *so, attr_list **out);
/* What a sealed private row is before login: CKO_DATA, CKA_TOKEN and
 * CKA_PRIVATE TRUE, nothing else. */
attr_list *rowenc_placeholder (void);

#endif
