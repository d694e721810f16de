/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Cryptographic operations of a session: digest, sign (in the TPM), verify (in
 * software, with the public point), random. The length-query convention holds:
 * a NULL output buffer, or one too small, returns the length and keeps the
 * operation active; any other result ends it.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "ops"
#include "internal.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

#define MAX_RAW_INPUT (64 * 1024)        /* CKM_ECDSA: a digest, not a document */
#define MAX_EDDSA_INPUT (16 * 1024 * 1024) /* pure EdDSA signs the whole message */
/* heartbeat: sign takes the metadata; verify the message without its MAC */
#define HB_MAX_INPUT (TPMTRUST_HEARTBEAT_HEADER + TPMTRUST_HEARTBEAT_MAX_META)
#define ATTEST_MAX_INPUT 64 /* attestation: the verifier's nonce */

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
    if (op->buf != NULL && op->mech != NULL && op->mech->kind == MECH_HMAC)
        sodium_memzero (op->buf, TPM_HMAC_CHUNK);
    free (op->buf);
    free (op->pcr_values);
    free (op->att_keys);
    free (op->bundle);
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
    if (m == NULL || m->kind != MECH_DIGEST)
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

/* Key and mechanism fit, for sign (verify false) or verify. */
static CK_RV
sign_check_key (tt_token *tok, const mech_info *m, const tt_object *obj, bool verify)
{
    const CK_ATTRIBUTE *allowed = attr_list_find (obj->attrs, CKA_ALLOWED_MECHANISMS);
    CK_ULONG cls = 0, type = 0;
    bool in_tpm = m->kind != MECH_HEARTBEAT && (!verify || m->kind == MECH_HMAC);

    attr_list_ulong (obj->attrs, CKA_CLASS, &cls);
    attr_list_ulong (obj->attrs, CKA_KEY_TYPE, &type);
    if (m->kind == MECH_HEARTBEAT) {
        /* the per-boot key: a software key whose value the module holds */
        const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
        if (cls != CKO_SECRET_KEY || v == NULL || v->ulValueLen != 32)
            return CKR_KEY_TYPE_INCONSISTENT;
    } else if (m->kind == MECH_ATTEST) {
        /* the identity: a TPM ECDSA key or a TPM-sealed Ed25519 key */
        if (cls != CKO_PRIVATE_KEY || (type != CKK_EC && type != CKK_EC_EDWARDS))
            return CKR_KEY_TYPE_INCONSISTENT;
    } else if (m->kind == MECH_ECDSA || m->kind == MECH_EDDSA) {
        CK_KEY_TYPE want = m->kind == MECH_ECDSA ? CKK_EC : CKK_EC_EDWARDS;
        if (type != want || (verify ? cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY
                                    : cls != CKO_PRIVATE_KEY))
            return CKR_KEY_TYPE_INCONSISTENT;
    } else {
        /* a generic secret serves every HMAC; a typed key only its own hash */
        const hmac_key_type *kt = cls == CKO_SECRET_KEY ? hmac_key_type_lookup (type) : NULL;
        if (kt == NULL || (kt->hash != 0 && kt->hash != m->hash))
            return CKR_KEY_TYPE_INCONSISTENT;
    }
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

/* The mechanism parameter: none, or for *_HMAC_GENERAL the MAC length. */
static CK_RV
sign_param (const mech_info *m, const CK_MECHANISM *mech, size_t *mac_len)
{
    size_t full = m->kind == MECH_HMAC ? crypto_digest_size (m->hash) : 0;
    CK_ULONG len;

    *mac_len = full;
    if (m->kind == MECH_ATTEST)
        return CKR_OK; /* attest_param, once the key is known */
    if (m->kind == MECH_HEARTBEAT)
        return mech->ulParameterLen == (mech->pParameter ? sizeof (CK_TPMTRUST_HEARTBEAT_PARAMS)
                                                         : 0)
                   ? CKR_OK
                   : CKR_MECHANISM_PARAM_INVALID;
    if (m->kind == MECH_EDDSA && mech->pParameter != NULL) {
        /* Ed25519ctx and Ed25519ph are not offered: only pure Ed25519 */
        const CK_EDDSA_PARAMS *p = mech->pParameter;
        if (mech->ulParameterLen != sizeof *p || p->phFlag || p->ulContextDataLen != 0) {
            LOG_ERROR ("CKM_EDDSA: only pure Ed25519 (no prehash, no context) is supported");
            return CKR_MECHANISM_PARAM_INVALID;
        }
        return CKR_OK;
    }
    if (!m->general)
        return mech->pParameter == NULL && mech->ulParameterLen == 0
                   ? CKR_OK
                   : CKR_MECHANISM_PARAM_INVALID;
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof (CK_ULONG))
        return CKR_MECHANISM_PARAM_INVALID;
    memcpy (&len, mech->pParameter, sizeof len);
    if (len == 0 || len > full)
        return CKR_MECHANISM_PARAM_INVALID;
    *mac_len = len;
    return CKR_OK;
}

static CK_RV
sign_copy_key (sign_op *op, const tt_object *obj)
{
    op->pub.data = malloc (obj->tpm_pub.len);
    op->priv.data = malloc (obj->tpm_priv.len);
    op->wrapped_auth = malloc (obj->wrapped_auth_len);
    if (op->pub.data == NULL || op->priv.data == NULL || op->wrapped_auth == NULL)
        return CKR_HOST_MEMORY;
    memcpy (op->pub.data, obj->tpm_pub.data, op->pub.len = obj->tpm_pub.len);
    memcpy (op->priv.data, obj->tpm_priv.data, op->priv.len = obj->tpm_priv.len);
    memcpy (op->wrapped_auth, obj->wrapped_auth, op->wrapped_auth_len = obj->wrapped_auth_len);
    op->pcrs = pcr_of_object (obj->attrs);
    if (op->pcrs.mask != 0) {
        const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_TPMTRUST_PCR_VALUES);
        if (v != NULL && (op->pcr_values = malloc (v->ulValueLen ? v->ulValueLen : 1)) != NULL) {
            memcpy (op->pcr_values, v->pValue, v->ulValueLen);
            op->pcr_values_len = v->ulValueLen;
        }
    }
    return CKR_OK;
}

static CK_RV
sign_ec_key (sign_op *op, const tt_object *obj)
{
    const CK_ATTRIBUTE *params = attr_list_find (obj->attrs, CKA_EC_PARAMS);
    const CK_ATTRIBUTE *point = attr_list_find (obj->attrs, CKA_EC_POINT);

    op->field = params ? crypto_ec_params_size (params->pValue, params->ulValueLen) : 0;
    op->point_len = sizeof op->point;
    if (op->field == 0 || point == NULL
        || crypto_ec_point_raw (point->pValue, point->ulValueLen, op->field, op->point,
                                &op->point_len)
               != CKR_OK)
        return CKR_KEY_TYPE_INCONSISTENT;
    return op->mech->hash != 0 ? crypto_digest_new (op->mech->hash, &op->digest) : CKR_OK;
}

CK_RV
op_sign_init (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
              bool verify)
{
    sign_op **slot = verify ? &sess->verify : &sess->sign;
    const mech_info *m;
    tt_object *obj;
    sign_op *op;
    size_t mac_len = 0;
    CK_RV rv;

    if (mech == NULL) { /* PKCS#11 3.0: cancels the active operation */
        sign_end (sess, verify);
        return CKR_OK;
    }
    if (*slot != NULL)
        return CKR_OPERATION_ACTIVE;
    rv = object_lookup (tok, sess, key, CKR_KEY_HANDLE_INVALID, &obj);
    if (rv != CKR_OK)
        return rv;
    m = mech_lookup (mech->mechanism);
    if (m == NULL
        || (m->kind != MECH_ECDSA && m->kind != MECH_EDDSA && m->kind != MECH_HMAC
            && m->kind != MECH_HEARTBEAT && m->kind != MECH_ATTEST)
        || (verify && m->kind == MECH_ATTEST)) /* bundles verify offline: attest-verify.c */
        return CKR_MECHANISM_INVALID;
    rv = sign_param (m, mech, &mac_len);
    if (rv == CKR_OK)
        rv = sign_check_key (tok, m, obj, verify);
    if (rv != CKR_OK)
        return rv;

    op = calloc (1, sizeof *op);
    if (op == NULL)
        return CKR_HOST_MEMORY;
    op->mech = m;
    op->mac_len = mac_len;
    op->key = key;
    attr_list_ulong (obj->attrs, CKA_KEY_TYPE, &op->key_type);
    if (m->kind == MECH_ECDSA || (m->kind == MECH_ATTEST && op->key_type == CKK_EC)) {
        rv = sign_ec_key (op, obj);
    } else if (m->kind == MECH_EDDSA || m->kind == MECH_ATTEST) {
        const CK_ATTRIBUTE *point = attr_list_find (obj->attrs, CKA_EC_POINT);
        op->field = 32; /* signatures are 64 bytes */
        op->point_len = 32;
        /* verification needs the public key (checked when the object was made) */
        if (verify && (point == NULL
                       || crypto_ed25519_point_raw (point->pValue, point->ulValueLen, false,
                                                    op->point)
                              != CKR_OK))
            rv = CKR_KEY_TYPE_INCONSISTENT;
    } else if (m->kind == MECH_HEARTBEAT) {
        const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
        if (mech->pParameter != NULL)
            memcpy (op->nonce, ((const CK_TPMTRUST_HEARTBEAT_PARAMS *) mech->pParameter)->nonce,
                    sizeof op->nonce);
        if ((op->sw_key = secbuf_dup (v->pValue, v->ulValueLen)) == NULL)
            rv = CKR_HOST_MEMORY;
    } else if ((op->buf = malloc (TPM_HMAC_CHUNK)) == NULL) {
        rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK && m->kind != MECH_HEARTBEAT && (!verify || m->kind == MECH_HMAC))
        rv = sign_copy_key (op, obj);
    if (rv == CKR_OK && m->kind == MECH_ATTEST)
        rv = attest_param (tok, sess, mech, op);
    if (rv != CKR_OK) {
        op_sign_free (op);
        return rv;
    }
    *slot = op;
    return CKR_OK;
}

/* The key's authValue, unwrapped under the token secret. */
static CK_RV
sign_auth (tt_token *tok, const sign_op *op, secbuf **auth)
{
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    return crypto_unwrap (tok->secret, op->pub.data, op->pub.len, op->wrapped_auth,
                          op->wrapped_auth_len, auth);
}

/* HMAC input: kept until more than one command's worth has come, then sent
 * through a TPM sequence, always keeping the last (at most a command's) part
 * for the final command. */
static CK_RV
hmac_feed (tt_token *tok, sign_op *op, const CK_BYTE *data, size_t len)
{
    size_t total = op->buf_len + len, keep, send;
    secbuf *auth = NULL;
    CK_RV rv = CKR_OK;

    if (total <= TPM_HMAC_CHUNK) {
        if (len)
            memcpy (op->buf + op->buf_len, data, len);
        op->buf_len = total;
        return CKR_OK;
    }
    keep = total % TPM_HMAC_CHUNK ? total % TPM_HMAC_CHUNK : TPM_HMAC_CHUNK;
    send = total - keep; /* buf first, then the head of data */
    if (op->seq == NULL) {
        rv = sign_auth (tok, op, &auth);
        if (rv == CKR_OK)
            rv = tpm_hmac_start (core_tpm (), &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
                                 op->mech->tpm_hash, &op->seq);
        secbuf_free (auth);
    }
    if (rv == CKR_OK && op->buf_len > 0)
        rv = tpm_hmac_update (core_tpm (), op->seq, op->buf, op->buf_len);
    if (rv == CKR_OK)
        rv = tpm_hmac_update (core_tpm (), op->seq, data, send - op->buf_len);
    if (rv == CKR_OK) {
        memcpy (op->buf, data + (send - op->buf_len), keep);
        op->buf_len = keep;
    }
    return rv;
}

static CK_RV
op_feed (tt_token *tok, sign_op *op, const CK_BYTE *data, CK_ULONG len)
{
    uint8_t *grown;

    if (op->mech->kind == MECH_HMAC)
        return hmac_feed (tok, op, data, len);
    if (op->digest != NULL)
        return crypto_digest_update (op->digest, data, len);
    if (op->buf_len + len > (op->mech->kind == MECH_EDDSA       ? MAX_EDDSA_INPUT
                             : op->mech->kind == MECH_HEARTBEAT ? HB_MAX_INPUT
                             : op->mech->kind == MECH_ATTEST    ? ATTEST_MAX_INPUT
                                                                : MAX_RAW_INPUT))
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

/* The full HMAC of everything fed (mac receives the whole digest). */
static CK_RV
hmac_final (tt_token *tok, sign_op *op, uint8_t *mac, size_t *mac_len)
{
    secbuf *auth = NULL;
    CK_RV rv;

    if (op->seq != NULL) {
        rv = tpm_hmac_finish (core_tpm (), op->seq, op->buf, op->buf_len, mac, mac_len);
        op->seq = NULL; /* freed by finish */
        return rv;
    }
    rv = sign_auth (tok, op, &auth);
    if (rv == CKR_OK)
        rv = tpm_hmac (core_tpm (), &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
                       op->mech->tpm_hash, op->buf, op->buf_len, mac, mac_len);
    secbuf_free (auth);
    return rv;
}

/* The value ECDSA signs: the hash (or raw input) truncated to the field's
 * leftmost bytes, or left-padded with zeros. P-256/P-384 orders are whole bytes. */
static CK_RV
op_ecdsa_input (sign_op *op, uint8_t *e)
{
    uint8_t h[64];
    const uint8_t *in = op->buf;
    size_t n = op->buf_len;
    CK_RV rv;

    if (op->digest != NULL) {
        rv = crypto_digest_final (op->digest, h);
        if (rv != CKR_OK)
            return rv;
        in = h;
        n = crypto_digest_size (op->mech->hash);
    }
    memset (e, 0, op->field);
    if (n >= op->field)
        memcpy (e, in, op->field);
    else
        memcpy (e + op->field - n, in, n);
    return CKR_OK;
}

static size_t
sign_out_len (const sign_op *op)
{
    if (op->mech->kind == MECH_HEARTBEAT)
        return TPMTRUST_HEARTBEAT_HEADER + op->buf_len + TPMTRUST_HEARTBEAT_MAC;
    return op->mech->kind == MECH_HMAC ? op->mac_len : 2 * op->field;
}

static void
put_le (uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

/* A version-1 heartbeat (docs/watchdog.md) with the metadata fed, and its MAC. */
static CK_RV
heartbeat_sign (tt_token *tok, tt_session *sess, sign_op *op, CK_BYTE *out, CK_ULONG *out_len)
{
    size_t n = TPMTRUST_HEARTBEAT_HEADER + op->buf_len;
    struct timespec ts;
    tt_object *obj;
    CK_RV rv;

    if (op->buf_len > TPMTRUST_HEARTBEAT_MAX_META)
        return CKR_DATA_LEN_RANGE;
    rv = object_lookup (tok, sess, op->key, CKR_KEY_HANDLE_INVALID, &obj);
    if (rv != CKR_OK)
        return rv;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    memcpy (out, "TTHB", 4);
    put_le (out + 4, 1, 2); /* version */
    put_le (out + 6, 0, 2); /* flags */
    put_le (out + 8, ++obj->hb_seq, 8);
    put_le (out + 16, (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec, 8);
    memcpy (out + 24, op->nonce, 16);
    put_le (out + 40, op->buf_len, 2);
    if (op->buf_len)
        memcpy (out + 42, op->buf, op->buf_len);
    rv = crypto_hmac_sha256 (op->sw_key->data, op->sw_key->len, out, n, out + n);
    if (rv == CKR_OK)
        *out_len = n + TPMTRUST_HEARTBEAT_MAC;
    return rv;
}

/* Turns a TPM refusal into what it means for this key, with a log line. */
static void
sign_check_result (const sign_op *op, CK_RV *rv)
{
    if (*rv == CKR_PIN_INCORRECT) {
        LOG_ERROR ("the TPM refused this key's auth value: the store row does not match the key");
        *rv = CKR_TPMTRUST_OBJECT_DAMAGED;
    } else if (*rv == CKR_TPMTRUST_PCR_MISMATCH) {
        pcr_report (op->pcrs, op->pcr_values, op->pcr_values_len);
    }
}

CK_RV
op_sign_update (tt_token *tok, tt_session *sess, bool verify, const CK_BYTE *data, CK_ULONG len)
{
    sign_op *op = verify ? sess->verify : sess->sign;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    op->multi = true;
    if (op->bundle != NULL) { /* more nonce after a length query: a new bundle */
        free (op->bundle);
        op->bundle = NULL;
    }
    rv = op_feed (tok, op, data, len);
    if (rv != CKR_OK) {
        sign_check_result (op, &rv);
        sign_end (sess, verify);
    }
    return rv;
}

static CK_RV
ecdsa_sign (tt_token *tok, sign_op *op, CK_BYTE *sig, CK_ULONG *sig_len)
{
    uint8_t e[48];
    secbuf *auth = NULL;
    size_t out_len = *sig_len;
    CK_RV rv = op_ecdsa_input (op, e);

    if (rv == CKR_OK)
        rv = sign_auth (tok, op, &auth);
    if (rv == CKR_OK)
        rv = tpm_ec_sign (core_tpm (), &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs }, e,
                          op->field, sig, &out_len);
    if (rv == CKR_OK)
        *sig_len = out_len;
    secbuf_free (auth);
    return rv;
}

/* An attestation bundle for the nonce fed. It is made once: a length query
 * keeps it in op for the call that fetches it (a second quote would differ). */
static CK_RV
attest_sign (tt_token *tok, tt_session *sess, sign_op *op, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_RV rv = op->bundle ? CKR_OK : attest_build_inlock (tok, sess, op);

    if (rv == CKR_OK && (sig == NULL || *sig_len < op->bundle_len)) {
        rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = op->bundle_len;
        return rv; /* the operation stays active */
    }
    if (rv == CKR_OK) {
        memcpy (sig, op->bundle, op->bundle_len);
        *sig_len = op->bundle_len;
    }
    sign_check_result (op, &rv);
    sign_end (sess, false);
    return rv;
}

CK_RV
op_sign_final (tt_token *tok, tt_session *sess, CK_BYTE *sig, CK_ULONG *sig_len)
{
    sign_op *op = sess->sign;
    uint8_t mac[64];
    size_t mac_len = 0;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->mech->kind == MECH_ATTEST)
        return attest_sign (tok, sess, op, sig, sig_len);
    if (sig == NULL || *sig_len < sign_out_len (op)) {
        rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = sign_out_len (op);
        return rv;
    }
    if (op->mech->kind == MECH_ECDSA) {
        rv = ecdsa_sign (tok, op, sig, sig_len);
    } else if (op->mech->kind == MECH_HEARTBEAT) {
        rv = heartbeat_sign (tok, sess, op, sig, sig_len);
    } else if (op->mech->kind == MECH_EDDSA) {
        secbuf *sk = NULL;
        bool owned = true;
        rv = eddsa_sk_inlock (tok, sess, op, &sk, &owned);
        if (rv == CKR_OK)
            rv = crypto_ed25519_sign (sk, op->buf, op->buf_len, sig);
        if (rv == CKR_OK)
            *sig_len = 64;
        if (owned)
            secbuf_free (sk);
    } else {
        rv = hmac_final (tok, op, mac, &mac_len);
        if (rv == CKR_OK) {
            memcpy (sig, mac, op->mac_len);
            *sig_len = op->mac_len;
        }
        sodium_memzero (mac, sizeof mac); /* it may be a key itself (SigV4's kDate) */
    }
    sign_check_result (op, &rv);
    sign_end (sess, false);
    return rv;
}

CK_RV
op_sign (tt_token *tok, tt_session *sess, const CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
         CK_ULONG *sig_len)
{
    sign_op *op = sess->sign;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->multi) {
        sign_end (sess, false);
        return CKR_OPERATION_ACTIVE;
    }
    if (op->mech->kind == MECH_ATTEST) {
        /* a call after a length query gets the bundle already made, unless
         * it brings another nonce */
        if (op->bundle != NULL && (len != op->buf_len || memcmp (data, op->buf, len) != 0)) {
            free (op->bundle);
            op->bundle = NULL;
        }
        if (op->bundle == NULL) {
            op->buf_len = 0;
            rv = op_feed (tok, op, data, len);
            if (rv != CKR_OK) {
                sign_end (sess, false);
                return rv;
            }
        }
        return attest_sign (tok, sess, op, sig, sig_len);
    }
    if (sig == NULL || *sig_len < sign_out_len (op) + (op->mech->kind == MECH_HEARTBEAT ? len : 0)) {
        /* only reports the length (a heartbeat's grows with the metadata) */
        CK_RV r = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = sign_out_len (op) + (op->mech->kind == MECH_HEARTBEAT ? len : 0);
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
    uint8_t e[64];
    size_t mac_len = 0;
    CK_RV rv;

    if (op == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->mech->kind == MECH_ECDSA) {
        rv = op_ecdsa_input (op, e);
        if (rv == CKR_OK)
            rv = crypto_ecdsa_verify (op->field, op->point, op->point_len, e, op->field, sig,
                                      sig_len);
    } else if (op->mech->kind == MECH_EDDSA) {
        rv = crypto_ed25519_verify (op->point, op->buf, op->buf_len, sig, sig_len);
    } else if (op->mech->kind == MECH_HEARTBEAT) {
        rv = sig_len != TPMTRUST_HEARTBEAT_MAC ? CKR_SIGNATURE_LEN_RANGE
             : crypto_hmac_sha256 (op->sw_key->data, op->sw_key->len, op->buf, op->buf_len, e);
        if (rv == CKR_OK && sodium_memcmp (e, sig, TPMTRUST_HEARTBEAT_MAC) != 0)
            rv = CKR_SIGNATURE_INVALID;
    } else if (sig_len != op->mac_len) {
        rv = CKR_SIGNATURE_LEN_RANGE;
    } else {
        rv = hmac_final (tok, op, e, &mac_len);
        sign_check_result (op, &rv);
        if (rv == CKR_OK && sodium_memcmp (e, sig, op->mac_len) != 0)
            rv = CKR_SIGNATURE_INVALID;
        sodium_memzero (e, sizeof e);
    }
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
