/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: random bytes, objects created under the SRK (command
 * parameter encryption), sealing and unsealing data.
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
tpm_stir_random (tpm *t, const uint8_t *seed, size_t len)
{
    size_t off = 0;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_session_inlock (t, TPMA_SESSION_DECRYPT); /* the seed travels encrypted */
    while (rv == CKR_OK && off < len) {
        TPM2B_SENSITIVE_DATA in = { .size = (UINT16) (len - off > 128 ? 128 : len - off) };
        TSS2_RC r;
        memcpy (in.buffer, seed + off, in.size);
        r = Esys_StirRandom (t->esys, t->session, ESYS_TR_NONE, ESYS_TR_NONE, &in);
        sodium_memzero (&in, sizeof in);
        rv = tpm_rv (t, r, "stirring the TPM's random number generator");
        tpm_session_failed (t, rv);
        if (rv == CKR_OK)
            off += 128;
    }
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_random (tpm *t, uint8_t *buf, size_t len)
{
    size_t off = 0;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    while (rv == CKR_OK && off < len) {
        TPM2B_DIGEST *rnd = NULL;
        size_t want = len - off > 32 ? 32 : len - off;
        TSS2_RC r = Esys_GetRandom (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    (UINT16) want, &rnd);
        rv = tpm_rv (t, r, "getting random bytes");
        if (rv == CKR_OK && rnd->size == 0)
            rv = CKR_FUNCTION_FAILED;
        if (rv == CKR_OK) {
            memcpy (buf + off, rnd->buffer, rnd->size);
            off += rnd->size;
        }
        Esys_Free (rnd);
    }
    tpm_unlock (t);
    if (rv == CKR_OK) {
        /* Mix in the OS RNG: what crossed the bus alone does not give the output. */
        uint8_t os[256];
        for (size_t i = 0; i < len; i += sizeof os) {
            size_t n = len - i < sizeof os ? len - i : sizeof os;
            randombytes_buf (os, n);
            for (size_t j = 0; j < n; j++)
                buf[i + j] ^= os[j];
        }
        sodium_memzero (os, sizeof os);
    }
    return rv;
}

/* Esys_Create under the SRK in the salted session with command parameter
 * encryption (the sensitive part travels encrypted); marshals the result. */
CK_RV
tpm_create (tpm *t, const TPM2B_SENSITIVE_CREATE *in, TPM2B_PUBLIC *tmpl, const tpm_policy *pol,
            const char *what, tpm_blob *pub, tpm_blob *priv, TPM2B_PUBLIC **out_pub)
{
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    TPM2B_PRIVATE *out_priv = NULL;
    TSS2_RC r;
    CK_RV rv;

    *out_pub = NULL;
    if (pol != NULL && pol->pcrs.mask != 0) {
        /* only the policy authorizes use: PolicyPCR AND PolicyAuthValue */
        tmpl->publicArea.authPolicy.size = sizeof pol->digest;
        memcpy (tmpl->publicArea.authPolicy.buffer, pol->digest, sizeof pol->digest);
        tmpl->publicArea.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
    }
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_session_inlock (t, TPMA_SESSION_DECRYPT);
    if (rv == CKR_OK) {
        do /* Create needs a free object slot */
            r = Esys_Create (t->esys, t->srk, t->session, ESYS_TR_NONE, ESYS_TR_NONE, in, tmpl,
                             &outside, &pcrs, &out_priv, out_pub, NULL, NULL, NULL);
        while (tpm_evicted_for (t, r));
        if ((r & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_CURVE) {
            LOG_ERROR ("%s: this TPM does not implement the requested curve", what);
            rv = CKR_CURVE_NOT_SUPPORTED;
        } else {
            rv = tpm_rv (t, r, what);
        }
        tpm_session_failed (t, rv);
    }
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK)
        rv = tpm_blob_marshal (*out_pub, out_priv, pub, priv);
    Esys_Free (out_priv);
    if (rv != CKR_OK) {
        Esys_Free (*out_pub);
        *out_pub = NULL;
        tpm_blob_clear (pub);
        tpm_blob_clear (priv);
    }
    return rv;
}

CK_RV
tpm_seal (tpm *t, const secbuf *auth, const secbuf *data, bool da, const tpm_policy *pol,
          tpm_blob *pub, tpm_blob *priv)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_USERWITHAUTH | (da ? 0 : TPMA_OBJECT_NODA),
            .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
        },
    };
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv;

    if (data->len > sizeof in.sensitive.data.buffer
        || auth->len > sizeof in.sensitive.userAuth.buffer)
        return CKR_ARGUMENTS_BAD;
    in.sensitive.data.size = (UINT16) data->len;
    memcpy (in.sensitive.data.buffer, data->data, data->len);
    tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);
    rv = tpm_create (t, &in, &tmpl, pol, "sealing a secret", pub, priv, &out_pub);
    sodium_memzero (&in, sizeof in);
    Esys_Free (out_pub);
    return rv;
}

/* The hot path's commands (tpm_fast_call_inlock): their _Prepare with the
 * key's TPM handle. */
static TSS2_RC
prep_unseal (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    (void) arg;
    return Tss2_Sys_Unseal_Prepare (sys, key);
}

CK_RV
tpm_unseal (tpm *t, const tpm_key *k, secbuf **data)
{
    TPM2B_SENSITIVE_DATA *out = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    *data = NULL;
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        TSS2_SYS_CONTEXT *sys = NULL;
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_Unseal, prep_unseal, NULL, k, true,
                                   "unsealing", &sys);
        if (rv == CKR_OK && ((out = calloc (1, sizeof *out)) == NULL
                             || Tss2_Sys_Unseal_Complete (sys, out) != TSS2_RC_SUCCESS))
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        free (out); /* none: it failed */
        out = NULL;
        goto again;
    }
    tpm_unlock (t);
    if (rv == CKR_OK) {
        *data = secbuf_dup (out->buffer, out->size);
        if (*data == NULL)
            rv = CKR_HOST_MEMORY;
    }
    if (out != NULL) {
        sodium_memzero (out, sizeof *out);
        free (out); /* Esys_Free is free */
    }
    return rv;
}
