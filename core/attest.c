/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation snapshots through C_Sign (CKM_TPMTRUST_ATTEST): the identity key
 * signs a bundle (docs/attestation.md) made for the verifier's nonce: a quote
 * of the selected PCRs and TPM2_Certify of the selected token keys by the AK,
 * the AK and EK public parts, the EK certificate, the identity public key.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "attest"
#include "tpm/attest.h"
#include "verify/attest-verify.h"
#include "internal.h"
#include "base/log.h"
#include "mech.h"
#include "pkcs11-tpmtrust.h"

/* The identity's SubjectPublicKeyInfo: CKA_PUBLIC_KEY_INFO, else from CKA_EC_POINT. */
static CK_RV
identity_spki (const tt_object *obj, CK_KEY_TYPE type, attest_buf *b)
{
    const CK_ATTRIBUTE *info = attr_list_find (obj->attrs, CKA_PUBLIC_KEY_INFO);
    const CK_ATTRIBUTE *point = attr_list_find (obj->attrs, CKA_EC_POINT);
    const CK_ATTRIBUTE *params = attr_list_find (obj->attrs, CKA_EC_PARAMS);
    uint8_t raw[1 + 2 * 48], ed[44], *der = NULL;
    size_t raw_len = sizeof raw, der_len = 0, field;
    CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;

    if (info != NULL && info->ulValueLen > 0) {
        attest_buf_field (b, ATTEST_IDENTITY, info->pValue, info->ulValueLen);
        return CKR_OK;
    }
    if (point == NULL)
        return rv;
    if (type == CKK_EC_EDWARDS
        && crypto_ed25519_point_raw (point->pValue, point->ulValueLen, false, raw) == CKR_OK) {
        crypto_ed25519_spki (raw, ed);
        attest_buf_field (b, ATTEST_IDENTITY, ed, sizeof ed);
        return CKR_OK;
    }
    field = params ? crypto_ec_params_size (params->pValue, params->ulValueLen) : 0;
    if (type == CKK_EC && field != 0
        && crypto_ec_point_raw (point->pValue, point->ulValueLen, field, raw, &raw_len) == CKR_OK
        && (rv = crypto_ec_spki (field, raw, raw_len, &der, &der_len)) == CKR_OK)
        attest_buf_field (b, ATTEST_IDENTITY, der, der_len);
    free (der);
    return rv;
}

static void
put_attr (attest_buf *b, uint16_t tag, const tt_object *obj, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *a = attr_list_find (obj->attrs, type);
    if (a != NULL && a->ulValueLen > 0)
        attest_buf_field (b, tag, a->pValue, a->ulValueLen);
}

/* The keys to certify, with their auth values unwrapped (freed by the caller). */
static CK_RV
certified_keys (tt_token *tok, tt_session *sess, const sign_op *op, tt_object **objs,
                tpm_key *keys, secbuf **auths)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < op->att_n; i++) {
        rv = object_lookup (tok, sess, op->att_keys[i], CKR_KEY_HANDLE_INVALID, &objs[i]);
        if (rv == CKR_OK && (objs[i]->tpm_pub.data == NULL || objs[i]->wrapped_auth == NULL))
            rv = CKR_KEY_HANDLE_INVALID;
        if (rv == CKR_OK)
            rv = crypto_unwrap (tok->secret, objs[i]->tpm_pub.data, objs[i]->tpm_pub.len,
                                objs[i]->wrapped_auth, objs[i]->wrapped_auth_len, &auths[i]);
        if (rv == CKR_OK)
            keys[i] = (tpm_key) { &objs[i]->tpm_pub, &objs[i]->tpm_priv, auths[i],
                                  { 0, 0 } };
    }
    return rv;
}

static void
put_result (attest_buf *b, const tpm_attest_result *res, tpm_pcrs pcrs, tt_object **objs,
            size_t n)
{
    size_t mark;

    attest_buf_field (b, ATTEST_AK_PUBLIC, res->ak_pub.data, res->ak_pub.len);
    attest_buf_field (b, ATTEST_EK_PUBLIC, res->ek_pub.data, res->ek_pub.len);
    if (res->ek_cert.len > 0)
        attest_buf_field (b, ATTEST_EK_CERT, res->ek_cert.data, res->ek_cert.len);
    attest_buf_field (b, ATTEST_QUOTE, res->quote.data, res->quote.len);
    attest_buf_field (b, ATTEST_QUOTE_SIG, res->quote_sig.data, res->quote_sig.len);
    mark = attest_buf_open (b, ATTEST_PCR_VALUES);
    attest_buf_u16 (b, pcrs.bank);
    attest_buf_u32 (b, pcrs.mask);
    attest_buf_put (b, res->pcr_values, res->pcr_len);
    attest_buf_close (b, mark);
    for (size_t i = 0; i < n; i++) {
        mark = attest_buf_open (b, ATTEST_KEY);
        put_attr (b, ATTEST_KEY_ID, objs[i], CKA_ID);
        put_attr (b, ATTEST_KEY_LABEL, objs[i], CKA_LABEL);
        attest_buf_field (b, ATTEST_KEY_PUBLIC, objs[i]->tpm_pub.data, objs[i]->tpm_pub.len);
        attest_buf_field (b, ATTEST_KEY_CERTIFY, res->certify[i].data, res->certify[i].len);
        attest_buf_field (b, ATTEST_KEY_CERTIFY_SIG, res->certify_sig[i].data,
                          res->certify_sig[i].len);
        attest_buf_close (b, mark);
    }
}

/* The identity's signature over b (header and body), appended as the trailer. */
static CK_RV
identity_sign (tt_token *tok, tt_session *sess, sign_op *op, attest_buf *b)
{
    uint8_t sig[96], digest[48];
    size_t sig_len = sizeof sig;
    uint16_t alg;
    secbuf *sk = NULL, *auth = NULL;
    bool owned = true;
    CK_RV rv;

    if (op->key_type == CKK_EC_EDWARDS) {
        alg = ATTEST_SIG_ED25519;
        rv = eddsa_sk_inlock (tok, sess, op, &sk, &owned);
        if (rv == CKR_OK)
            rv = crypto_ed25519_sign (sk, b->p, b->len, sig);
        sig_len = 64;
        if (owned)
            secbuf_free (sk);
    } else {
        crypto_digest *d = NULL;
        CK_MECHANISM_TYPE hash = op->field == 48 ? CKM_SHA384 : CKM_SHA256;
        alg = op->field == 48 ? ATTEST_SIG_ECDSA_P384_SHA384 : ATTEST_SIG_ECDSA_P256_SHA256;
        rv = crypto_digest_new (hash, &d);
        if (rv == CKR_OK)
            rv = crypto_digest_update (d, b->p, b->len);
        if (rv == CKR_OK)
            rv = crypto_digest_final (d, digest);
        crypto_digest_free (d);
        if (rv == CKR_OK)
            rv = crypto_unwrap (tok->secret, op->pub.data, op->pub.len, op->wrapped_auth,
                                op->wrapped_auth_len, &auth);
        if (rv == CKR_OK)
            rv = tpm_ec_sign (core_tpm (), &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
                              digest, op->field, sig, &sig_len);
        secbuf_free (auth);
    }
    if (rv == CKR_OK) {
        attest_buf_u16 (b, alg);
        attest_buf_u16 (b, (uint16_t) sig_len);
        attest_buf_put (b, sig, sig_len);
    }
    return rv;
}

CK_RV
attest_build_inlock (tt_token *tok, tt_session *sess, sign_op *op)
{
    tt_object *identity, *objs[ATTEST_MAX_KEYS] = { 0 };
    tpm_key keys[ATTEST_MAX_KEYS];
    secbuf *auths[ATTEST_MAX_KEYS] = { 0 };
    tpm_attest_result *res = calloc (1, sizeof *res);
    attest_buf b = { 0 };
    CK_RV rv;

    free (op->bundle);
    op->bundle = NULL;
    op->bundle_len = 0;
    if (res == NULL)
        return CKR_HOST_MEMORY;
    if (op->buf_len == 0 || op->buf_len > ATTEST_MAX_NONCE) {
        LOG_ERROR ("CKM_TPMTRUST_ATTEST: the data is the verifier's nonce, 1 to %d bytes",
                   ATTEST_MAX_NONCE);
        free (res);
        return CKR_DATA_LEN_RANGE;
    }
    if (!token_user_logged_in (tok)) {
        free (res);
        return CKR_USER_NOT_LOGGED_IN;
    }
    rv = object_lookup (tok, sess, op->key, CKR_KEY_HANDLE_INVALID, &identity);
    if (rv == CKR_OK)
        rv = certified_keys (tok, sess, op, objs, keys, auths);
    if (rv == CKR_OK)
        rv = tpm_attest (core_tpm (), op->buf, op->buf_len, op->att_pcrs, keys, op->att_n, res);
    if (rv == CKR_OK) {
        attest_buf_put (&b, ATTEST_MAGIC, 4);
        attest_buf_u16 (&b, ATTEST_VERSION);
        attest_buf_u16 (&b, 0);
        attest_buf_u32 (&b, 0); /* body length, set below */
        attest_buf_field (&b, ATTEST_NONCE, op->buf, op->buf_len);
        {
            uint8_t t[8];
            uint64_t now = (uint64_t) time (NULL);
            for (int i = 0; i < 8; i++)
                t[i] = (uint8_t) (now >> (56 - 8 * i));
            attest_buf_field (&b, ATTEST_TIME, t, sizeof t);
        }
        rv = identity_spki (identity, op->key_type, &b);
    }
    if (rv == CKR_OK) {
        put_attr (&b, ATTEST_IDENTITY_ID, identity, CKA_ID);
        put_attr (&b, ATTEST_IDENTITY_LABEL, identity, CKA_LABEL);
        put_result (&b, res, op->att_pcrs, objs, op->att_n);
        if (b.failed)
            rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK) {
        size_t body = b.len - ATTEST_HEADER_LEN;
        for (int i = 0; i < 4; i++)
            b.p[8 + i] = (uint8_t) (body >> (24 - 8 * i));
        rv = identity_sign (tok, sess, op, &b);
    }
    if (rv == CKR_OK && b.failed)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        op->bundle = b.p;
        op->bundle_len = b.len;
        b.p = NULL;
        LOG_DEBUG ("attestation bundle: %zu bytes, %zu certified keys", op->bundle_len, op->att_n);
    }
    attest_buf_free (&b);
    for (size_t i = 0; i < ATTEST_MAX_KEYS; i++)
        secbuf_free (auths[i]);
    tpm_attest_result_clear (res);
    free (res);
    return rv;
}

CK_RV
attest_param (tt_token *tok, tt_session *sess, const CK_MECHANISM *mech, sign_op *op)
{
    const CK_TPMTRUST_ATTEST_PARAMS *p = mech->pParameter;
    uint16_t bank;

    if (p == NULL || mech->ulParameterLen != sizeof *p) {
        LOG_ERROR ("CKM_TPMTRUST_ATTEST needs a CK_TPMTRUST_ATTEST_PARAMS parameter");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    bank = mech_tpm_hash (p->pcrBank);
    if (bank == 0 || p->pcrMask > 0xffffff || p->ulKeyCount > ATTEST_MAX_KEYS
        || (p->ulKeyCount > 0 && p->phKeys == NULL)) {
        LOG_ERROR ("CK_TPMTRUST_ATTEST_PARAMS: pcrBank must be CKM_SHA_1/SHA256/SHA384/SHA512, "
                   "pcrMask PCRs 0-23, at most %d keys",
                   ATTEST_MAX_KEYS);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    op->att_pcrs = (tpm_pcrs) { bank, (uint32_t) p->pcrMask };
    if (p->ulKeyCount > 0) {
        op->att_keys = calloc (p->ulKeyCount, sizeof *op->att_keys);
        if (op->att_keys == NULL)
            return CKR_HOST_MEMORY;
    }
    for (size_t i = 0; i < p->ulKeyCount; i++) {
        tt_object *obj;
        if (object_lookup (tok, sess, p->phKeys[i], CKR_KEY_HANDLE_INVALID, &obj) != CKR_OK
            || obj->tpm_pub.data == NULL || obj->wrapped_auth == NULL) {
            LOG_ERROR ("CKM_TPMTRUST_ATTEST: key handle %lu is not a TPM key of this token",
                       (unsigned long) p->phKeys[i]);
            return CKR_MECHANISM_PARAM_INVALID;
        }
        op->att_keys[op->att_n++] = p->phKeys[i];
    }
    return CKR_OK;
}
