/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private rows encrypted at rest: see rowenc.h.
 */
#include "config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "rowenc"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "rowenc.h"

#define SEALED 0x02
#define NPUB crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define OVERHEAD (1 + NPUB + crypto_aead_xchacha20poly1305_ietf_ABYTES)
static const char key_label[] = "tpmtrust private attributes";
static const char ad_tag[] = "tpmtrust private row v1";

bool
rowenc_sealed (const store_blob *attrs)
{
    return attrs->data != NULL && attrs->len > 0 && attrs->data[0] == SEALED;
}

/* The key, and the associated data: the tag, the serial (17 bytes, NUL
 * padded) and the token id (8 bytes, big-endian). */
static CK_RV
key_and_ad (const tt_token *tok, secbuf **key, uint8_t ad[sizeof ad_tag + 17 + 8])
{
    uint64_t id = (uint64_t) tok->rec.id;

    *key = NULL;
    if (tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if ((*key = secbuf_new (32)) == NULL)
        return CKR_HOST_MEMORY;
    memcpy (ad, ad_tag, sizeof ad_tag);
    memset (ad + sizeof ad_tag, 0, 17);
    snprintf ((char *) ad + sizeof ad_tag, 17, "%s", tok->rec.serial);
    for (int i = 0; i < 8; i++)
        ad[sizeof ad_tag + 17 + i] = (uint8_t) (id >> (56 - 8 * i));
    return crypto_hmac_sha256 (tok->secret->data, tok->secret->len, (const uint8_t *) key_label,
                               sizeof key_label - 1, (*key)->data);
}

CK_RV
rowenc_seal (const tt_token *tok, store_blob *attrs)
{
    uint8_t ad[sizeof ad_tag + 17 + 8], *out = NULL;
    secbuf *key = NULL;
    CK_RV rv = key_and_ad (tok, &key, ad);

    if (rv == CKR_OK && (out = malloc (OVERHEAD + attrs->len)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        out[0] = SEALED;
        randombytes_buf (out + 1, NPUB);
        crypto_aead_xchacha20poly1305_ietf_encrypt (out + 1 + NPUB, NULL, attrs->data, attrs->len,
                                                    ad, sizeof ad, NULL, out + 1, key->data);
        sodium_memzero (attrs->data, attrs->len);
        free (attrs->data);
        attrs->data = out;
        attrs->len += OVERHEAD;
    }
    secbuf_free (key);
    return rv;
}

CK_RV
rowenc_decode (const tt_token *tok, const store_object *so, attr_list **out)
{
    uint8_t ad[sizeof ad_tag + 17 + 8];
    const uint8_t *in = so->attrs.data;
    secbuf *key = NULL, *plain = NULL;
    CK_RV rv;

    *out = NULL;
    if (!rowenc_sealed (&so->attrs))
        return attr_list_decode (so->attrs.data, so->attrs.len, out);
    rv = key_and_ad (tok, &key, ad);
    if (rv == CKR_OK && so->attrs.len < OVERHEAD)
        rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    if (rv == CKR_OK && (plain = secbuf_new (so->attrs.len - OVERHEAD)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK
        && crypto_aead_xchacha20poly1305_ietf_decrypt (plain->data, NULL, NULL, in + 1 + NPUB,
                                                       so->attrs.len - 1 - NPUB, ad, sizeof ad,
                                                       in + 1, key->data)
               != 0)
        rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    secbuf_free (key);
    if (rv == CKR_OK)
        rv = attr_list_decode (plain->data, plain->len, out);
    secbuf_free (plain);
    if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN && rv != CKR_HOST_MEMORY) {
        LOG_ERROR ("stored object %lld is refused: its encrypted attributes do not decrypt "
                   "under this token's secret; it was changed outside tpmtrust (or copied from "
                   "another token): restore the store from a backup or destroy the object",
                   (long long) so->id);
        rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    return rv;
}

attr_list *
rowenc_placeholder (void)
{
    attr_list *l = attr_list_new ();
    if (l != NULL
        && (attr_list_set_ulong (l, CKA_CLASS, CKO_DATA) != CKR_OK
            || attr_list_set_bool (l, CKA_TOKEN, true) != CKR_OK
            || attr_list_set_bool (l, CKA_PRIVATE, true) != CKR_OK)) {
        attr_list_free (l);
        l = NULL;
    }
    return l;
}
