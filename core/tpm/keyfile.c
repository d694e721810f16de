/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: what TSS2 key files need: describing and checking a blob, and
 * a key with a new auth value (ObjectChangeAuth).
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

CK_RV
tpm_key_describe (const tpm_blob *pub, tpm_key_desc *d)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    const TPMT_PUBLIC *a = &p.publicArea;

    memset (d, 0, sizeof *d);
    if (rv != CKR_OK)
        return rv;
    d->user_with_auth = (a->objectAttributes & TPMA_OBJECT_USERWITHAUTH) != 0;
    if (a->type == TPM2_ALG_ECC && (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)
        && !(a->objectAttributes & TPMA_OBJECT_RESTRICTED)) {
        d->kind = TPM_KEY_ECC_SIGN;
        d->curve = (tpm_curve) a->parameters.eccDetail.curveID;
        d->point_len = sizeof d->point;
        return tpm_ec_point_from_public (&p, d->point, &d->point_len);
    }
    if (a->type == TPM2_ALG_KEYEDHASH && (a->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
        d->kind = TPM_KEY_HMAC;
        if (a->parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_HMAC)
            d->hmac_hash = a->parameters.keyedHashDetail.scheme.details.hmac.hashAlg;
        return CKR_OK;
    }
    d->kind = TPM_KEY_OTHER;
    return CKR_OK;
}

CK_RV
tpm_key_check (tpm *t, const tpm_blob *pub, const tpm_blob *priv)
{
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    do {
        rv = tpm_load_inlock (t, pub, priv, NULL, &h);
        tpm_unload_inlock (t, &h);
    } while (tpm_retry_inlock (t, rv));
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_change_auth (tpm *t, const tpm_key *k, const secbuf *new_auth, tpm_blob *new_priv)
{
    TPM2B_AUTH a = { 0 };
    TPM2B_PRIVATE *out = NULL;
    ESYS_TR h = ESYS_TR_NONE, s = ESYS_TR_NONE;
    uint8_t buf[sizeof (TPM2B_PRIVATE)];
    size_t off = 0;
    CK_RV rv = tpm_auth_from_secbuf (new_auth, &a);

    pthread_mutex_lock (&t->lock);
again:
    if (rv == CKR_OK)
        rv = tpm_load_inlock (t, k->pub, k->priv, k->auth, &h);
    if (rv == CKR_OK)
        rv = tpm_key_session_inlock (t, k, TPMA_SESSION_DECRYPT, &s);
    if (rv == CKR_OK) {
        rv = tpm_rv (t, Esys_ObjectChangeAuth (t->esys, h, t->srk, s, ESYS_TR_NONE, ESYS_TR_NONE,
                                               &a, &out),
                     "changing a key's auth value");
        tpm_key_session_done (t, k, &s, rv);
    }
    tpm_unload_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        Esys_Free (out); /* none: it failed */
        out = NULL;
        rv = CKR_OK;
        goto again;
    }
    tpm_unlock (t);
    sodium_memzero (&a, sizeof a);
    if (rv == CKR_OK
        && Tss2_MU_TPM2B_PRIVATE_Marshal (out, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK && (new_priv->data = malloc (off)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        memcpy (new_priv->data, buf, off);
        new_priv->len = off;
    }
    Esys_Free (out);
    return rv;
}
