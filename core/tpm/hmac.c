/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: HMAC keys (keyed-hash objects): creation from a value or by
 * the TPM, one-command HMACs on the hot path, and sequences for longer data
 * (context-saved between calls).
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

struct hmac_args {
    const TPM2B_MAX_BUFFER *data;
    TPMI_ALG_HASH hash;
};

static TSS2_RC
prep_hmac (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    const struct hmac_args *a = arg;
    return Tss2_Sys_HMAC_Prepare (sys, key, a->data, a->hash);
}

CK_RV
tpm_hmac_create (tpm *t, uint16_t name_hash, uint16_t scheme_hash, const secbuf *key,
                 const secbuf *auth, const tpm_policy *pol, tpm_blob *pub, tpm_blob *priv)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_KEYEDHASH,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA
                                | TPMA_OBJECT_SIGN_ENCRYPT
                                | (key == NULL ? TPMA_OBJECT_SENSITIVEDATAORIGIN : 0),
        },
    };
    TPMT_KEYEDHASH_SCHEME *scheme = &tmpl.publicArea.parameters.keyedHashDetail.scheme;
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv;

    tmpl.publicArea.nameAlg = name_hash ? name_hash : TPM2_ALG_SHA256;
    if (scheme_hash != 0) {
        scheme->scheme = TPM2_ALG_HMAC;
        scheme->details.hmac.hashAlg = scheme_hash;
    } else {
        /* A TPM takes a sign-only keyed hash only with a fixed HMAC scheme; a key
         * for any hash must be sign + decrypt with the NULL scheme. */
        scheme->scheme = TPM2_ALG_NULL;
        tmpl.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
    }
    if (key != NULL && (key->len == 0 || key->len > TPM_HMAC_MAX_KEY))
        return CKR_KEY_SIZE_RANGE;
    if (key != NULL) {
        in.sensitive.data.size = (UINT16) key->len;
        memcpy (in.sensitive.data.buffer, key->data, key->len);
    }
    rv = tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);
    if (rv == CKR_OK)
        rv = tpm_create (t, &in, &tmpl, pol,
                         key ? "importing an HMAC key" : "creating an HMAC key", pub, priv,
                         &out_pub);
    sodium_memzero (&in, sizeof in);
    Esys_Free (out_pub);
    return rv;
}

static CK_RV
digest_out (TPM2B_DIGEST *d, uint8_t *out, size_t *out_len)
{
    CK_RV rv = d->size <= 64 ? CKR_OK : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK) {
        memcpy (out, d->buffer, d->size);
        *out_len = d->size;
    }
    sodium_memzero (d, sizeof *d);
    Esys_Free (d);
    return rv;
}

CK_RV
tpm_hmac (tpm *t, const tpm_key *k, uint16_t hash, const uint8_t *data, size_t len, uint8_t *out,
          size_t *out_len)
{
    TPM2B_MAX_BUFFER buf = { .size = (UINT16) len };
    TPM2B_DIGEST *result = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    if (len > TPM_HMAC_CHUNK)
        return CKR_ARGUMENTS_BAD;
    if (len)
        memcpy (buf.buffer, data, len);
    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* the hot path: one TPM2_HMAC, the result response-encrypted (a
         * PCR-bound key: in a policy session) */
        TSS2_SYS_CONTEXT *sys = NULL;
        struct hmac_args a = { &buf, hash };
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_HMAC, prep_hmac, &a, k, true,
                                   "computing an HMAC", &sys);
        if (rv == CKR_OK && ((result = calloc (1, sizeof *result)) == NULL
                             || Tss2_Sys_HMAC_Complete (sys, result) != TSS2_RC_SUCCESS))
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv)) {
        Esys_Free (result); /* none: it failed */
        result = NULL;
        goto again;
    }
    tpm_unlock (t);
    if (rv == CKR_OK)
        rv = digest_out (result, out, out_len);
    return rv;
}

struct tpm_hmac_seq {
    TPMS_CONTEXT *saved; /* the sequence object, context-saved */
};

void
tpm_hmac_seq_free (tpm_hmac_seq *seq)
{
    if (seq == NULL)
        return;
    Esys_Free (seq->saved);
    free (seq);
}

/* Saves the loaded sequence h into seq and flushes it. */
static CK_RV
seq_save_inlock (tpm *t, tpm_hmac_seq *seq, ESYS_TR *h)
{
    CK_RV rv;

    Esys_Free (seq->saved);
    seq->saved = NULL;
    if (t->esys == NULL) { /* the TPM was lost, and the sequence with it */
        *h = ESYS_TR_NONE;
        return CKR_DEVICE_ERROR;
    }
    rv = tpm_rv (t, Esys_ContextSave (t->esys, *h, &seq->saved), "saving an HMAC sequence");
    tpm_flush_inlock (t, h);
    return rv;
}

CK_RV
tpm_hmac_start (tpm *t, const tpm_key *k, uint16_t hash, tpm_hmac_seq **out)
{
    TPM2B_AUTH seq_auth = { 0 }; /* ours alone: the handle is not shared */
    tpm_hmac_seq *seq = calloc (1, sizeof *seq);
    ESYS_TR h = ESYS_TR_NONE, s = ESYS_TR_NONE, sequence = ESYS_TR_NONE;
    CK_RV rv = seq ? CKR_OK : CKR_HOST_MEMORY;

    *out = NULL;
    pthread_mutex_lock (&t->lock);
again:
    if (rv == CKR_OK)
        rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK)
        rv = tpm_key_session_inlock (t, k, 0, &s);
    if (rv == CKR_OK) {
        TSS2_RC r;
        tpm_track_begin (t);
        do /* the sequence needs a free object slot */
            r = Esys_HMAC_Start (t->esys, h, s, ESYS_TR_NONE, ESYS_TR_NONE, &seq_auth, hash,
                                 &sequence);
        while (tpm_evicted_for (t, r));
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? sequence : ESYS_TR_NONE);
        rv = tpm_rv (t, r, "starting an HMAC sequence");
        tpm_key_session_done (t, k, &s, rv);
    }
    tpm_key_put_inlock (t, &h);
    if (rv == CKR_OK)
        rv = seq_save_inlock (t, seq, &sequence);
    if (tpm_retry_inlock (t, rv)) {
        sequence = ESYS_TR_NONE; /* gone with the connection */
        rv = CKR_OK;
        goto again;
    }
    tpm_unlock (t);
    if (rv != CKR_OK) {
        tpm_hmac_seq_free (seq);
        return rv;
    }
    *out = seq;
    return CKR_OK;
}

static CK_RV
seq_load_inlock (tpm *t, tpm_hmac_seq *seq, ESYS_TR *h)
{
    CK_RV rv = tpm_connect_inlock (t);
    if (rv == CKR_OK) {
        TSS2_RC r;
        do {
            tpm_track_begin (t);
            r = Esys_ContextLoad (t->esys, seq->saved, h);
            tpm_track_end (t, r == TSS2_RC_SUCCESS ? *h : ESYS_TR_NONE);
        } while (tpm_evicted_for (t, r));
        rv = tpm_rv (t, r, "loading an HMAC sequence");
        if (rv != CKR_OK && t->restarted)
            LOG_ERROR ("a multi-part HMAC was under way: the TPM lost it; start it again");
    }
    return rv;
}

CK_RV
tpm_hmac_update (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len)
{
    TPM2B_MAX_BUFFER buf;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    rv = seq_load_inlock (t, seq, &h);
    for (size_t off = 0; rv == CKR_OK && off < len; off += buf.size) {
        buf.size = (UINT16) (len - off > TPM_HMAC_CHUNK ? TPM_HMAC_CHUNK : len - off);
        memcpy (buf.buffer, data + off, buf.size);
        rv = tpm_rv (t, Esys_SequenceUpdate (t->esys, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                             ESYS_TR_NONE, &buf),
                     "updating an HMAC sequence");
    }
    if (h != ESYS_TR_NONE) {
        CK_RV save = seq_save_inlock (t, seq, &h);
        if (rv == CKR_OK)
            rv = save;
    }
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_hmac_finish (tpm *t, tpm_hmac_seq *seq, const uint8_t *data, size_t len, uint8_t *out,
                 size_t *out_len)
{
    TPM2B_MAX_BUFFER buf = { .size = (UINT16) len };
    TPM2B_DIGEST *result = NULL;
    TPMT_TK_HASHCHECK *ticket = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv = len <= TPM_HMAC_CHUNK ? CKR_OK : CKR_ARGUMENTS_BAD;

    if (len && rv == CKR_OK)
        memcpy (buf.buffer, data, len);
    pthread_mutex_lock (&t->lock);
    if (rv == CKR_OK)
        rv = seq_load_inlock (t, seq, &h);
    if (rv == CKR_OK)
        rv = tpm_session_inlock (t, TPMA_SESSION_ENCRYPT);
    if (rv == CKR_OK) {
        TPM2_HANDLE handle = 0;
        Esys_TR_GetTpmHandle (t->esys, h, &handle);
        rv = tpm_rv (t, Esys_SequenceComplete (t->esys, h, t->session, ESYS_TR_NONE,
                                               ESYS_TR_NONE, &buf, ESYS_TR_RH_NULL, &result,
                                               &ticket),
                     "completing an HMAC sequence");
        tpm_esys_wipe_response (t);
        tpm_session_failed (t, rv);
        if (rv == CKR_OK) {
            h = ESYS_TR_NONE; /* SequenceComplete flushes the sequence */
            lease_del (t->lease, handle);
        }
    }
    tpm_flush_inlock (t, &h);
    tpm_unlock (t);
    Esys_Free (ticket);
    tpm_hmac_seq_free (seq);
    if (rv == CKR_OK)
        rv = digest_out (result, out, out_len);
    return rv;
}
