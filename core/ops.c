/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Cryptographic operations of a session: digest, sign and verify, random. Sign
 * and verify go through the mechanism's key type (core/keys/keytype.h): this
 * file holds what every type shares: the session's operation state, the
 * key's checks, multi-part input, and the length-query convention: a NULL
 * output buffer, or one too small, returns the length and keeps the operation
 * active; any other result ends it.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "ops"
#include "internal.h"
#include "keys/keytype.h"
#include "base/log.h"
#include "mech.h"

static void
op_sign_free (sign_op *op)
{
    if (op == NULL)
        return;
    crypto_digest_free (op->digest);
    tpm_hmac_seq_free (op->seq);
    secbuf_free (op->sw_key);
    tpm_blob_clear (&op->pub);
    tpm_blob_clear (&op->priv);
    free (op->wrapped_auth);
    if (op->buf != NULL && op->buf_cap > 0)
        sodium_memzero (op->buf, op->buf_cap);
    free (op->buf);
    free (op->pcr_values);
    free (op->refs);
    free (op->result);
    free (op->rsa_spki);
    free (op);
}

static void
digest_end (tt_session *sess)
{
    crypto_digest_free (sess->digest);
    sess->digest = NULL;
    sess->digest_multi = false;
}

CK_RV
op_digest_init (tt_session *sess, const CK_MECHANISM *mech)
{
    const mech_info *m;

    if (mech == NULL) { /* PKCS#11 3.0: cancels the active operation */
        digest_end (sess);
        return CKR_OK;
    }
    if (sess->digest != NULL)
        return CKR_OPERATION_ACTIVE;
    m = mech_lookup (mech->mechanism);
    if (m == NULL || !(m->flags & CKF_DIGEST))
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    sess->digest_mech = m->type;
    return crypto_digest_new (m->type, &sess->digest);
}

CK_RV
op_digest_update (tt_session *sess, const CK_BYTE *data, CK_ULONG len)
{
    CK_RV rv;
    if (sess->digest == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    sess->digest_multi = true;
    rv = crypto_digest_update (sess->digest, data, len);
    if (rv != CKR_OK)
        digest_end (sess);
    return rv;
}

CK_RV
op_digest_final (tt_session *sess, CK_BYTE *out, CK_ULONG *out_len)
{
    size_t n;
    CK_RV rv;

    if (sess->digest == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    n = crypto_digest_size (sess->digest_mech);
    if (out == NULL) {
        *out_len = n;
        return CKR_OK;
    }
    if (*out_len < n) {
        *out_len = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    rv = crypto_digest_final (sess->digest, out);
    if (rv == CKR_OK)
        *out_len = n;
    digest_end (sess);
    return rv;
}

CK_RV
op_digest_key (tt_token *tok, tt_session *sess, CK_OBJECT_HANDLE key)
{
    tt_object *obj;
    CK_RV rv;

    if (sess->digest == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    /* TPM keys never leave the TPM: there is nothing to digest. Like any
     * failed C_DigestUpdate, this ends the operation. */
    rv = object_lookup (tok, sess, key, CKR_KEY_HANDLE_INVALID, &obj);
    digest_end (sess);
    return rv != CKR_OK ? rv : CKR_KEY_INDIGESTIBLE;
}

CK_RV
op_digest (tt_session *sess, const CK_BYTE *data, CK_ULONG len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_RV rv;

    if (sess->digest == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (sess->digest_multi) { /* C_Digest cannot finish a multi-part digest */
        digest_end (sess);
        return CKR_OPERATION_ACTIVE;
    }
    if (out == NULL || *out_len < crypto_digest_size (sess->digest_mech))
        return op_digest_final (sess, out, out_len); /* only reports the length */
    rv = op_digest_update (sess, data, len);
    if (rv == CKR_OK)
        rv = op_digest_final (sess, out, out_len);
    return rv;
}

static void
sign_end (tt_session *sess, bool verify)
{
    sign_op **slot = verify ? &sess->verify : &sess->sign;
    op_sign_free (*slot);
    *slot = NULL;
}

/* Key and mechanism fit, for sign (verify false) or verify: the key type's
 * own check, then the key's permissions and, for TPM work, the login. */
static CK_RV
sign_check_key (tt_token *tok, const mech_info *m, const tt_object *obj, bool verify)
{
    const keytype *kt = m->key;
    const CK_ATTRIBUTE *allowed = attr_list_find (obj->attrs, CKA_ALLOWED_MECHANISMS);
    bool in_tpm = verify ? kt->tpm_verify : kt->tpm_sign;
    CK_RV rv = kt->check ? kt->check (m, obj, verify) : CKR_OK;

    if (rv != CKR_OK)
        return rv;
    if (!attr_list_bool_or (obj->attrs, verify ? CKA_VERIFY : CKA_SIGN, verify))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (allowed != NULL && allowed->ulValueLen > 0) {
        bool ok = false;
        for (size_t i = 0; i < allowed->ulValueLen / sizeof (CK_MECHANISM_TYPE); i++)
            ok |= ((CK_MECHANISM_TYPE *) allowed->pValue)[i] == m->type;
        if (!ok)
            return CKR_MECHANISM_INVALID;
    }
    if (in_tpm && !object_tpm_key (obj))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (in_tpm && !token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

/* The other objects op's parameter names (op->refs) as they are now: NULL
 * where one is gone or not visible. *out has op->n_refs entries (freed by the caller). */
static CK_RV
sign_refs (tt_token *tok, tt_session *sess, const sign_op *op, tt_object ***out)
{
    tt_object **refs = NULL;

    *out = NULL;
    if (op->n_refs == 0)
        return CKR_OK;
    refs = calloc (op->n_refs, sizeof *refs);
    if (refs == NULL)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < op->n_refs; i++)
        if (object_lookup (tok, sess, op->refs[i], CKR_KEY_HANDLE_INVALID, &refs[i]) != CKR_OK)
            refs[i] = NULL;
    *out = refs;
    return CKR_OK;
}

CK_RV
op_sign_init (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
              bool verify)
{
    sign_op **slot = verify ? &sess->verify : &sess->sign;
    const mech_info *m;
    const keytype *kt;
    tt_object *obj, **refs = NULL;
    sign_op *op;
    CK_RV rv;

    if (mech == NULL) { /* PKCS#11 3.0: cancels the active operation */
        sign_end (sess, verify);
        return CKR_OK;
    }
    if (*slot != NULL)
        return CKR_OPERATION_ACTIVE;
    /* not with a key of a token another process re-initialized meanwhile */
    rv = token_fresh_inlock (tok);
    if (rv == CKR_OK)
        rv = object_lookup (tok, sess, key, CKR_KEY_HANDLE_INVALID, &obj);
    if (rv != CKR_OK)
        return rv;
    m = mech_lookup (mech->mechanism);
    kt = m != NULL ? m->key : NULL;
    if (kt == NULL || !(m->flags & (verify ? CKF_VERIFY : CKF_SIGN))
        || (verify ? kt->verify == NULL : kt->sign == NULL))
        return CKR_MECHANISM_INVALID;

    op = calloc (1, sizeof *op);
    if (op == NULL)
        return CKR_HOST_MEMORY;
    op->mech = m;
    op->key = key;
    rv = kt->param (op, mech);
    if (rv == CKR_OK)
        rv = sign_check_key (tok, m, obj, verify);
    if (rv == CKR_OK) {
        attr_list_ulong (obj->attrs, CKA_KEY_TYPE, &op->key_type);
        rv = kt->init (tok, obj, mech, op, verify);
    }
    if (rv == CKR_OK && op->n_refs > 0 && kt->check_refs != NULL) {
        rv = sign_refs (tok, sess, op, &refs);
        if (rv == CKR_OK)
            rv = kt->check_refs (op, refs);
        free (refs);
    }
    if (rv != CKR_OK) {
        op_sign_free (op);
        return rv;
    }
    *slot = op;
    return CKR_OK;
}

/* What a failed step means for op's key (the key type says, e.g. for a TPM refusal). */
static void
sign_check_result (tt_token *tok, const sign_op *op, CK_RV *rv)
{
    if (*rv != CKR_OK && op->mech->key->check_result != NULL)
        op->mech->key->check_result (tok, op, rv);
}

static CK_RV
op_feed (tt_token *tok, sign_op *op, const CK_BYTE *data, CK_ULONG len)
{
    const keytype *kt = op->mech->key;
    uint8_t *grown;

    if (kt->feed != NULL)
        return kt->feed (tok, op, data, len);
    if (op->digest != NULL)
        return crypto_digest_update (op->digest, data, len);
    if (op->buf_len + len > kt->max_input)
        return CKR_DATA_LEN_RANGE;
    grown = realloc (op->buf, op->buf_len + len + 1);
    if (grown == NULL)
        return CKR_HOST_MEMORY;
    op->buf = grown;
    if (len)
        memcpy (op->buf + op->buf_len, data, len);
    op->buf_len += len;
    return CKR_OK;
}

CK_RV
op_sign_update (tt_token *tok, tt_session *sess, bool verify, const CK_BYTE *data, CK_ULONG len)
{
    sign_op *op = verify ? sess->verify : sess->sign;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    op->multi = true;
    if (op->result != NULL) { /* more input after a length query: a new result */
        free (op->result);
        op->result = NULL;
    }
    rv = op_feed (tok, op, data, len);
    if (rv != CKR_OK) {
        sign_check_result (tok, op, &rv);
        sign_end (sess, verify);
    }
    return rv;
}

/* The key type's final step, with the key object and op's other objects as they are now. */
static CK_RV
sign_call (tt_token *tok, tt_session *sess, sign_op *op, CK_BYTE *sig, CK_ULONG *sig_len)
{
    tt_object *key = NULL, **refs = NULL;
    CK_RV rv;

    if (object_lookup (tok, sess, op->key, CKR_KEY_HANDLE_INVALID, &key) != CKR_OK)
        key = NULL; /* destroyed meanwhile: the key type decides */
    rv = sign_refs (tok, sess, op, &refs);
    if (rv == CKR_OK)
        rv = op->mech->key->sign (tok, op, key, refs, sig, sig_len);
    free (refs);
    return rv;
}

/* An output known only once made (the attestation bundle for the nonce fed):
 * made once; a length query keeps it in op for the call that fetches it. */
static CK_RV
sign_made_once (tt_token *tok, tt_session *sess, sign_op *op, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_RV rv = op->result ? CKR_OK : sign_call (tok, sess, op, NULL, NULL);

    if (rv == CKR_OK && (sig == NULL || *sig_len < op->result_len)) {
        rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = op->result_len;
        return rv; /* the operation stays active */
    }
    if (rv == CKR_OK) {
        memcpy (sig, op->result, op->result_len);
        *sig_len = op->result_len;
    }
    sign_check_result (tok, op, &rv);
    sign_end (sess, false);
    return rv;
}

CK_RV
op_sign_final (tt_token *tok, tt_session *sess, CK_BYTE *sig, CK_ULONG *sig_len)
{
    sign_op *op = sess->sign;
    const keytype *kt;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    kt = op->mech->key;
    if (kt->out_len == NULL)
        return sign_made_once (tok, sess, op, sig, sig_len);
    if (sig == NULL || *sig_len < kt->out_len (op, 0)) {
        rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = kt->out_len (op, 0);
        return rv;
    }
    rv = sign_call (tok, sess, op, sig, sig_len);
    sign_check_result (tok, op, &rv);
    sign_end (sess, false);
    return rv;
}

CK_RV
op_sign (tt_token *tok, tt_session *sess, const CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
         CK_ULONG *sig_len)
{
    sign_op *op = sess->sign;
    const keytype *kt;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->multi) {
        sign_end (sess, false);
        return CKR_OPERATION_ACTIVE;
    }
    kt = op->mech->key;
    if (kt->out_len == NULL) {
        /* a call after a length query gets the result already made, unless
         * it brings other data */
        if (op->result != NULL && (len != op->buf_len || memcmp (data, op->buf, len) != 0)) {
            free (op->result);
            op->result = NULL;
        }
        if (op->result == NULL) {
            op->buf_len = 0;
            rv = op_feed (tok, op, data, len);
            if (rv != CKR_OK) {
                sign_end (sess, false);
                return rv;
            }
        }
        return sign_made_once (tok, sess, op, sig, sig_len);
    }
    if (sig == NULL || *sig_len < kt->out_len (op, len)) {
        /* only reports the length (which may grow with the data: a heartbeat's) */
        CK_RV r = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = kt->out_len (op, len);
        return r;
    }
    rv = op_feed (tok, op, data, len);
    if (rv != CKR_OK) {
        sign_end (sess, false);
        return rv;
    }
    return op_sign_final (tok, sess, sig, sig_len);
}

CK_RV
op_verify_final (tt_token *tok, tt_session *sess, const CK_BYTE *sig, CK_ULONG sig_len)
{
    sign_op *op = sess->verify;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    rv = op->mech->key->verify (tok, op, sig, sig_len);
    sign_check_result (tok, op, &rv);
    sign_end (sess, true);
    return rv;
}

CK_RV
op_verify (tt_token *tok, tt_session *sess, const CK_BYTE *data, CK_ULONG len, const CK_BYTE *sig,
           CK_ULONG sig_len)
{
    sign_op *op = sess->verify;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->multi) {
        sign_end (sess, true);
        return CKR_OPERATION_ACTIVE;
    }
    rv = op_feed (tok, op, data, len);
    if (rv != CKR_OK) {
        sign_end (sess, true);
        return rv;
    }
    return op_verify_final (tok, sess, sig, sig_len);
}

CK_RV
op_cancel (tt_session *sess, CK_FLAGS flags)
{
    if (flags & CKF_SIGN)
        sign_end (sess, false);
    if (flags & CKF_VERIFY)
        sign_end (sess, true);
    if (flags & CKF_DIGEST)
        digest_end (sess);
    if ((flags & CKF_FIND_OBJECTS) && sess->find != NULL) {
        free (sess->find->handles);
        free (sess->find);
        sess->find = NULL;
    }
    return CKR_OK;
}

void
session_ops_free (tt_session *sess)
{
    op_cancel (sess, CKF_SIGN | CKF_VERIFY | CKF_DIGEST | CKF_FIND_OBJECTS);
}

CK_RV
op_state_unsaveable (tt_session *sess)
{
    if (sess->find == NULL && sess->sign == NULL && sess->verify == NULL && sess->digest == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    return CKR_STATE_UNSAVEABLE;
}

CK_RV
op_random (CK_BYTE *out, CK_ULONG len)
{
    return tpm_random (core_tpm (), out, len);
}

CK_RV
op_seed_random (const CK_BYTE *seed, CK_ULONG len)
{
    return len ? tpm_stir_random (core_tpm (), seed, len) : CKR_OK;
}
