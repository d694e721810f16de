/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: loading keys under the SRK and the cache of loaded keys (LRU,
 * keyed by a hash of the blobs), the blob (un)marshalling.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_sys.h>

#define LOG_MODULE "tpm"
#include "base/config-file.h"
#include "crypto/crypto.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "tpm/tpm.h"
#include "tpm/internal.h"

void
tpm_blob_clear (tpm_blob *b)
{
    free (b->data);
    b->data = NULL;
    b->len = 0;
}

CK_RV
tpm_auth_from_secbuf (const secbuf *auth, TPM2B_AUTH *out)
{
    if (auth->len > sizeof out->buffer)
        return CKR_ARGUMENTS_BAD;
    out->size = (UINT16) auth->len;
    memcpy (out->buffer, auth->data, auth->len);
    return CKR_OK;
}

/* Overwrites ESYS's copy of the handle's auth, then flushes the handle. */
void
tpm_unload_inlock (tpm *t, ESYS_TR *h)
{
    TPM2B_AUTH zero = { .size = sizeof zero.buffer };

    if (*h == ESYS_TR_NONE || t->esys == NULL)
        return;
    memset (zero.buffer, 0, sizeof zero.buffer);
    Esys_TR_SetAuth (t->esys, *h, &zero);
    tpm_flush_inlock (t, h);
}

CK_RV
tpm_blob_unmarshal (const tpm_blob *pub, const tpm_blob *priv, TPM2B_PUBLIC *p, TPM2B_PRIVATE *s)
{
    size_t off = 0;
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal (pub->data, pub->len, &off, p) != TSS2_RC_SUCCESS
        || off != pub->len)
        return CKR_DATA_INVALID;
    off = 0;
    if (s != NULL
        && (Tss2_MU_TPM2B_PRIVATE_Unmarshal (priv->data, priv->len, &off, s) != TSS2_RC_SUCCESS
            || off != priv->len))
        return CKR_DATA_INVALID;
    return CKR_OK;
}

CK_RV
tpm_blob_marshal (const TPM2B_PUBLIC *p, const TPM2B_PRIVATE *s, tpm_blob *pub, tpm_blob *priv)
{
    uint8_t buf[sizeof (TPM2B_PUBLIC) + sizeof (TPM2B_PRIVATE)];
    size_t off = 0;

    if (Tss2_MU_TPM2B_PUBLIC_Marshal (p, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    pub->data = malloc (off);
    if (pub->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (pub->data, buf, off);
    pub->len = off;
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Marshal (s, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    priv->data = malloc (off);
    if (priv->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (priv->data, buf, off);
    priv->len = off;
    return CKR_OK;
}

/* Loads a blob under the SRK and sets its auth. */
CK_RV
tpm_load_inlock (tpm *t, const tpm_blob *pub, const tpm_blob *priv, const secbuf *auth,
                 ESYS_TR *out)
{
    TPM2B_PUBLIC p = { 0 };
    TPM2B_PRIVATE s = { 0 };
    TPM2B_AUTH a = { 0 };
    TSS2_RC r;
    CK_RV rv = tpm_blob_unmarshal (pub, priv, &p, &s);

    *out = ESYS_TR_NONE;
    if (rv != CKR_OK) {
        LOG_ERROR ("a stored TPM blob is malformed: the store row is damaged");
        return CKR_TPMTRUST_OBJECT_DAMAGED;
    }
    rv = tpm_srk_inlock (t);
    if (rv != CKR_OK)
        return rv;
    do { /* out of object slots: make room from our cache */
        tpm_track_begin (t);
        r = Esys_Load (t->esys, t->srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &s, &p, out);
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? *out : ESYS_TR_NONE);
    } while (tpm_evicted_for (t, r));
    rv = tpm_rv (t, r, "loading a key");
    if (rv == CKR_OK && auth != NULL) {
        rv = tpm_auth_from_secbuf (auth, &a);
        if (rv == CKR_OK)
            rv = tpm_rv (t, Esys_TR_SetAuth (t->esys, *out, &a), "setting auth");
        sodium_memzero (&a, sizeof a);
    }
    if (rv != CKR_OK) {
        tpm_unload_inlock (t, out);
        if ((r & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (r & TPM2_RC_FMT1)
            && (r & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_INTEGRITY) {
            /* a TPM (or TPM seed) other than the blob's, or a damaged blob */
            if (t->cleared)
                LOG_ERROR ("the TPM rejects this key's blob: the TPM was cleared since the key "
                           "was made, and the key is gone with its old storage seed: "
                           "initialize the token again");
            else
                LOG_ERROR ("the TPM rejects this key's blob (integrity check): the store row is "
                           "damaged, or it was made by another TPM or before this TPM was "
                           "cleared");
            rv = CKR_TPMTRUST_OBJECT_DAMAGED;
        }
    }
    return rv;
}

/* After a command: true when it failed for want of an object slot and a
 * cached key was flushed to make room (the caller retries). */
bool
tpm_evicted_for (tpm *t, TSS2_RC r)
{
    return (r & ~TSS2_RC_LAYER_MASK) == TPM2_RC_OBJECT_MEMORY && tpm_cache_evict_inlock (t);
}

static void
key_id (const tpm_key *k, uint8_t id[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, k->pub->data, k->pub->len);
    crypto_hash_sha256_update (&st, k->priv->data, k->priv->len);
    crypto_hash_sha256_final (&st, id);
}

struct tpm_cached *
tpm_cache_find (tpm *t, ESYS_TR h)
{
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++)
        if (h != ESYS_TR_NONE && t->cache[i].h == h)
            return &t->cache[i];
    return NULL;
}

/* tpm_load_inlock for a key to use: a key the TPM rejects because it was
 * cleared is not damaged, the device lost it. */
static CK_RV
key_load_inlock (tpm *t, const tpm_key *k, ESYS_TR *h)
{
    CK_RV rv = tpm_load_inlock (t, k->pub, k->priv, k->auth, h);
    return rv == CKR_TPMTRUST_OBJECT_DAMAGED && t->cleared ? CKR_DEVICE_ERROR : rv;
}

CK_RV
tpm_key_get_inlock (tpm *t, const tpm_key *k, ESYS_TR *h)
{
    struct tpm_cached *slot = NULL;
    uint8_t id[32];
    CK_RV rv;

    if (t->cache_max == 0 || t->esys == NULL)
        return key_load_inlock (t, k, h);
    key_id (k, id);
    for (unsigned i = 0; i < TPM_CACHE_MAX; i++) {
        if (t->cache[i].h != ESYS_TR_NONE && memcmp (t->cache[i].id, id, sizeof id) == 0) {
            TPM2B_AUTH a = { 0 };
            t->cache[i].stamp = ++t->clock;
            *h = t->in_use = t->cache[i].h;
            rv = tpm_auth_from_secbuf (k->auth, &a);
            if (rv == CKR_OK)
                rv = tpm_rv (t, Esys_TR_SetAuth (t->esys, *h, &a), "setting auth");
            sodium_memzero (&a, sizeof a);
            return rv;
        }
    }
    /* a free slot among the first cache_max, else the least recently used */
    while (slot == NULL) {
        for (unsigned i = 0; i < t->cache_max && slot == NULL; i++)
            if (t->cache[i].h == ESYS_TR_NONE)
                slot = &t->cache[i];
        if (slot == NULL && !tpm_cache_evict_inlock (t))
            break;
    }
    rv = key_load_inlock (t, k, h);
    if (rv == CKR_OK && slot != NULL) {
        TPM2B_NAME *name = NULL;
        memcpy (slot->id, id, sizeof id);
        slot->h = t->in_use = *h;
        slot->name.size = 0;
        if (Esys_TR_GetTpmHandle (t->esys, *h, &slot->handle) == TSS2_RC_SUCCESS
            && Esys_TR_GetName (t->esys, *h, &name) == TSS2_RC_SUCCESS)
            slot->name = *name;
        Esys_Free (name);
        slot->stamp = ++t->clock;
    }
    return rv;
}

void
tpm_key_put_inlock (tpm *t, ESYS_TR *h)
{
    static const TPM2B_AUTH zero = { 0 };

    t->in_use = ESYS_TR_NONE;
    if (tpm_cache_find (t, *h) == NULL) {
        tpm_unload_inlock (t, h);
        return;
    }
    if (t->esys != NULL)
        Esys_TR_SetAuth (t->esys, *h, &zero); /* ESAPI keeps no copy between calls */
    *h = ESYS_TR_NONE;
}
