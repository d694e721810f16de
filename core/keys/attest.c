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
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define ATTEST_MAX_INPUT 64 /* attestation: the verifier's nonce */

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

/* The keys to certify (refs: NULL when gone), with their auth values
 * unwrapped (freed by the caller). */
static CK_RV
certified_keys (tt_token *tok, const sign_op *op, tt_object *const *refs, tt_object **objs,
                tpm_key *keys, secbuf **auths)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < op->n_refs; i++) {
        objs[i] = refs[i];
        if (objs[i] == NULL || objs[i]->tpm_pub.data == NULL || objs[i]->wrapped_auth == NULL)
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
identity_sign (tt_token *tok, tt_object *identity, sign_op *op, attest_buf *b)
{
    uint8_t sig[96], digest[48];
    size_t sig_len = sizeof sig;
    uint16_t alg;
    secbuf *sk = NULL, *auth = NULL;
    bool owned = true;
    CK_RV rv;

    if (op->key_type == CKK_EC_EDWARDS) {
        alg = ATTEST_SIG_ED25519;
        rv = eddsa_sk_inlock (tok, identity, op, &sk, &owned);
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
            rv = tpm_ec_sign (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
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

/* Makes op->result, the bundle for the nonce in op->buf, signed by identity
 * (CKR_DATA_LEN_RANGE for a bad nonce). It is made once: a length query keeps
 * it in op for the call that fetches it (a second quote would differ). */
static CK_RV
attest_build_inlock (tt_token *tok, sign_op *op, tt_object *identity, tt_object *const *refs,
                     CK_BYTE *out, CK_ULONG *out_len)
{
    tt_object *objs[ATTEST_MAX_KEYS] = { 0 };
    tpm_key keys[ATTEST_MAX_KEYS];
    secbuf *auths[ATTEST_MAX_KEYS] = { 0 };
    tpm_attest_result *res = calloc (1, sizeof *res);
    attest_buf b = { 0 };
    CK_RV rv;

    (void) out;
    (void) out_len;
    free (op->result);
    op->result = NULL;
    op->result_len = 0;
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
    rv = identity != NULL ? CKR_OK : CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = certified_keys (tok, op, refs, objs, keys, auths);
    if (rv == CKR_OK)
        rv = tpm_attest (tok->tpm, op->buf, op->buf_len, op->att_pcrs, keys, op->n_refs, res);
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
        put_result (&b, res, op->att_pcrs, objs, op->n_refs);
        if (b.failed)
            rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK) {
        size_t body = b.len - ATTEST_HEADER_LEN;
        for (int i = 0; i < 4; i++)
            b.p[8 + i] = (uint8_t) (body >> (24 - 8 * i));
        rv = identity_sign (tok, identity, op, &b);
    }
    if (rv == CKR_OK && b.failed)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        op->result = b.p;
        op->result_len = b.len;
        b.p = NULL;
        LOG_DEBUG ("attestation bundle: %zu bytes, %zu certified keys", op->result_len,
                   op->n_refs);
    }
    attest_buf_free (&b);
    for (size_t i = 0; i < ATTEST_MAX_KEYS; i++)
        secbuf_free (auths[i]);
    tpm_attest_result_clear (res);
    free (res);
    return rv;
}

/* The parameter is checked once the key is known (attest_init). */
static CK_RV
attest_param_later (sign_op *op, const CK_MECHANISM *mech)
{
    (void) op;
    (void) mech;
    return CKR_OK;
}

/* the identity: a TPM ECDSA key or a TPM-sealed Ed25519 key */
static CK_RV
attest_check_key (const mech_info *m, const tt_object *key, bool verify)
{
    CK_ULONG cls = 0, type = 0;

    (void) m;
    (void) verify;
    attr_list_ulong (key->attrs, CKA_CLASS, &cls);
    attr_list_ulong (key->attrs, CKA_KEY_TYPE, &type);
    if (cls != CKO_PRIVATE_KEY || (type != CKK_EC && type != CKK_EC_EDWARDS))
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

/* Validates the mechanism parameter into op (CKR_MECHANISM_PARAM_INVALID). */
static CK_RV
attest_param (const CK_MECHANISM *mech, sign_op *op)
{
    const CK_TPMTRUST_ATTEST_PARAMS *p = mech->pParameter;
    uint16_t bank;

    if (p == NULL || mech->ulParameterLen != sizeof *p) {
        LOG_ERROR ("CKM_TPMTRUST_ATTEST needs a CK_TPMTRUST_ATTEST_PARAMS parameter");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    bank = pcr_bank (p->pcrBank);
    if (bank == 0 || p->pcrMask > 0xffffff || p->ulKeyCount > ATTEST_MAX_KEYS
        || (p->ulKeyCount > 0 && p->phKeys == NULL)) {
        LOG_ERROR ("CK_TPMTRUST_ATTEST_PARAMS: pcrBank must be CKM_SHA_1/SHA256/SHA384/SHA512, "
                   "pcrMask PCRs 0-23, at most %d keys",
                   ATTEST_MAX_KEYS);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    op->att_pcrs = (tpm_pcrs) { bank, (uint32_t) p->pcrMask };
    if (p->ulKeyCount > 0) {
        op->refs = calloc (p->ulKeyCount, sizeof *op->refs);
        if (op->refs == NULL)
            return CKR_HOST_MEMORY;
        memcpy (op->refs, p->phKeys, p->ulKeyCount * sizeof *op->refs);
        op->n_refs = p->ulKeyCount;
    }
    return CKR_OK;
}

static CK_RV
attest_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
             bool verify)
{
    CK_RV rv = CKR_OK;

    (void) tok;
    (void) verify; /* sign only: bundles verify offline (attest-verify.c) */
    if (op->key_type == CKK_EC) {
        rv = ecdsa_key_init (op, key);
    } else {
        op->field = 32;
        op->point_len = 32;
    }
    if (rv == CKR_OK)
        rv = tpmkey_copy (op, key);
    if (rv == CKR_OK)
        rv = attest_param (mech, op);
    return rv;
}

/* The keys to certify must be TPM keys of this token. */
static CK_RV
attest_check_refs (const sign_op *op, tt_object *const *refs)
{
    for (size_t i = 0; i < op->n_refs; i++) {
        if (refs[i] == NULL || refs[i]->tpm_pub.data == NULL || refs[i]->wrapped_auth == NULL) {
            LOG_ERROR ("CKM_TPMTRUST_ATTEST: key handle %lu is not a TPM key of this token",
                       (unsigned long) op->refs[i]);
            return CKR_MECHANISM_PARAM_INVALID;
        }
    }
    return CKR_OK;
}

/* The identity (CKM_TPMTRUST_ATTEST on an EC or Edwards private key). Not found
 * by (class, CKK): its keys are ECDSA and Ed25519 keys. */
const keytype keytype_attest = {
    .name = "attestation identity",
    .param = attest_param_later,
    .check = attest_check_key,
    .tpm_sign = true,
    .init = attest_init,
    .check_refs = attest_check_refs,
    .check_result = tpmkey_check_result,
    .max_input = ATTEST_MAX_INPUT,
    .sign = attest_build_inlock,
};
