/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Secret keys: HMAC keys held by the TPM as keyed-hash objects. An imported
 * value (C_CreateObject CKA_VALUE) goes into the TPM inside a
 * parameter-encrypted TPM2_Create and is wiped at once; it is never stored or
 * returned. Generated keys are made by the TPM when it can make that size.
 */
#include "config.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "secret"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

static const hmac_key_type hmac_types[] = {
    { CKK_GENERIC_SECRET, 0, 0, 0 },
    { CKK_SHA_1_HMAC, CKM_SHA_1, 0x0004, 64 },
    { CKK_SHA256_HMAC, CKM_SHA256, 0x000B, 64 },
    { CKK_SHA384_HMAC, CKM_SHA384, 0x000C, 128 },
    { CKK_SHA512_HMAC, CKM_SHA512, 0x000D, 128 },
};

const hmac_key_type *
hmac_key_type_lookup (CK_KEY_TYPE type)
{
    for (size_t i = 0; i < sizeof hmac_types / sizeof hmac_types[0]; i++)
        if (hmac_types[i].key_type == type)
            return &hmac_types[i];
    return NULL;
}


/* A TPM key cannot be extractable. CKA_SENSITIVE FALSE (pkcs11-tool's default)
 * is raised to TRUE: the value lives only in the TPM. CKA_PRIVATE FALSE only
 * makes the object visible before login; using it always needs the user PIN
 * (its auth value is wrapped by the token secret). */
static CK_RV
secret_check_protection (const attr_list *attrs)
{
    bool b;
    if (attr_list_bool (attrs, CKA_EXTRACTABLE, &b) && b) {
        LOG_ERROR ("TPM keys cannot be extractable (CKA_EXTRACTABLE TRUE)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (attr_list_bool (attrs, CKA_SENSITIVE, &b) && !b)
        LOG_INFO ("CKA_SENSITIVE FALSE raised to TRUE: the key's value lives only in the TPM");
    return CKR_OK;
}

static const hmac_key_type *
secret_key_type (const attr_list *attrs)
{
    CK_ULONG kt = CKK_GENERIC_SECRET;
    const hmac_key_type *t;

    attr_list_ulong (attrs, CKA_KEY_TYPE, &kt);
    t = hmac_key_type_lookup (kt);
    if (t == NULL)
        LOG_ERROR ("secret keys of type 0x%lx are not supported (generic secret and "
                   "SHA-1/256/384/512 HMAC keys are)",
                   kt);
    return t;
}

/* Sets what every TPM secret key says of itself. */
static CK_RV
secret_finish_attrs (attr_list *attrs, CK_ULONG value_len, bool generated)
{
    CK_RV rv = attr_list_set_ulong (attrs, CKA_VALUE_LEN, value_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_ALWAYS_SENSITIVE, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_NEVER_EXTRACTABLE, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, generated);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM,
                                  generated ? CKM_GENERIC_SECRET_KEY_GEN
                                            : CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_TPMTRUST_TPM_KEY, true);
    return rv;
}

/* Creates the TPM object for obj from value (NULL: the TPM makes a key of
 * name_hash's digest size) and attaches it. */
static CK_RV
secret_to_tpm (tt_token *tok, tt_object *obj, const hmac_key_type *kt, uint16_t name_hash,
               const secbuf *value)
{
    tpm_blob pub = { 0 }, priv = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    secbuf *auth = NULL;
    CK_RV rv;

    if (tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    /* A TPM takes a given keyed-hash key only up to the block of the object's
     * limiting hash (the name hash, for a key without a fixed scheme): give a
     * long generic key SHA-512's 128-byte block. The TPM hashes it per HMAC. */
    if (kt->tpm_hash == 0 && name_hash == 0 && value != NULL && value->len > 64)
        name_hash = 0x000D;
    rv = pcr_from_template (obj->attrs, &pcrs);
    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (tok->tpm, obj->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = tpmkey_auth_new (tok, &auth);
    if (rv == CKR_OK)
        rv = tpm_hmac_create (tok->tpm, name_hash, kt->tpm_hash, value, auth,
                              pcrs.mask ? &pol : NULL, &pub, &priv);
    if (rv == CKR_OK)
        rv = tpmkey_take (tok, obj, &pub, &priv, auth);
    tpm_blob_clear (&pub);
    tpm_blob_clear (&priv);
    secbuf_free (auth);
    return rv;
}

/* HMAC hashes a key longer than the block first (RFC 2104): so can we, and
 * then it fits the TPM. Only a typed key knows its hash. */
static CK_RV
secret_prehash (const hmac_key_type *kt, secbuf **value)
{
    secbuf *h;
    crypto_digest *d = NULL;
    CK_RV rv;

    if (kt->hash == 0 || (*value)->len <= kt->block)
        return CKR_OK;
    h = secbuf_new (crypto_digest_size (kt->hash));
    rv = h ? crypto_digest_new (kt->hash, &d) : CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = crypto_digest_update (d, (*value)->data, (*value)->len);
    if (rv == CKR_OK)
        rv = crypto_digest_final (d, h->data);
    crypto_digest_free (d);
    if (rv != CKR_OK) {
        secbuf_free (h);
        return rv;
    }
    secbuf_free (*value);
    *value = h;
    return CKR_OK;
}

static CK_RV
secret_import_inlock (tt_token *tok, tt_object *obj)
{
    const hmac_key_type *kt = secret_key_type (obj->attrs);
    const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
    secbuf *value = NULL;
    CK_ULONG value_len;
    CK_RV rv;

    if (kt == NULL)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    rv = secret_check_protection (obj->attrs);
    if (rv != CKR_OK)
        return rv;
    value_len = v->ulValueLen;
    value = secbuf_dup (v->pValue, v->ulValueLen);
    attr_list_remove (obj->attrs, CKA_VALUE); /* wiped: it lives on only in the TPM */
    if (value == NULL)
        return CKR_HOST_MEMORY;
    rv = secret_prehash (kt, &value);
    if (rv == CKR_OK && (value->len == 0 || value->len > TPM_HMAC_MAX_KEY)) {
        LOG_ERROR ("an HMAC key of %lu bytes: the TPM holds 1 to %d bytes (a typed "
                   "CKK_SHA*_HMAC key of any length works: it is hashed first)",
                   value_len, TPM_HMAC_MAX_KEY);
        rv = CKR_KEY_SIZE_RANGE;
    }
    if (rv == CKR_OK)
        rv = secret_to_tpm (tok, obj, kt, 0, value);
    if (rv == CKR_OK)
        rv = secret_finish_attrs (obj->attrs, value_len, false);
    secbuf_free (value);
    return rv;
}

/* C_GenerateKey's template: CKA_VALUE_LEN, and the key type (generic unless given). */
static CK_RV
secret_generate_check (attr_list *attrs)
{
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    if (!attr_list_ulong (attrs, CKA_VALUE_LEN, &len)) {
        LOG_ERROR ("CKM_GENERIC_SECRET_KEY_GEN needs CKA_VALUE_LEN");
        rv = CKR_TEMPLATE_INCOMPLETE;
    }
    if (rv == CKR_OK && (len == 0 || len > TPM_HMAC_MAX_KEY)) {
        LOG_ERROR ("CKA_VALUE_LEN %lu: the TPM holds HMAC keys of 1 to %d bytes", len,
                   TPM_HMAC_MAX_KEY);
        rv = CKR_KEY_SIZE_RANGE;
    }
    if (rv == CKR_OK && attr_list_find (attrs, CKA_KEY_TYPE) == NULL)
        rv = attr_list_set_ulong (attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    if (rv == CKR_OK)
        rv = secret_key_type (attrs) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = secret_check_protection (attrs);
    return rv;
}

/* The key for obj (its template checked): made by the TPM or from its RNG. */
static CK_RV
secret_generate (tt_token *tok, tt_object *obj)
{
    static const struct {
        size_t len;
        uint16_t tpm_hash;
    } tpm_made[] = { { 20, 0x0004 }, { 32, 0x000B }, { 48, 0x000C }, { 64, 0x000D } };
    const hmac_key_type *kt = secret_key_type (obj->attrs);
    secbuf *value = NULL;
    uint16_t name_hash = 0;
    CK_ULONG len = 0;
    CK_RV rv = CKR_OK;

    attr_list_ulong (obj->attrs, CKA_VALUE_LEN, &len);
    /* The TPM makes keys of a digest's size (of the object's name hash, which
     * we match to the key's HMAC hash); other sizes come from our RNG. */
    for (size_t i = 0; i < sizeof tpm_made / sizeof tpm_made[0]; i++)
        if (tpm_made[i].len == len && (kt->tpm_hash == 0 || kt->tpm_hash == tpm_made[i].tpm_hash))
            name_hash = tpm_made[i].tpm_hash;
    if (name_hash == 0) {
        value = secbuf_new (len);
        rv = value ? tpm_random (tok->tpm, value->data, len) : CKR_HOST_MEMORY;
        if (rv == CKR_OK)
            rv = secret_prehash (kt, &value);
    }
    if (rv == CKR_OK)
        rv = secret_to_tpm (tok, obj, kt, name_hash, value);
    if (rv == CKR_OK)
        rv = secret_finish_attrs (obj->attrs, len, true);
    secbuf_free (value);
    return rv;
}

/* The mechanism parameter: none, or for *_HMAC_GENERAL the MAC length. */
static CK_RV
hmac_param (sign_op *op, const CK_MECHANISM *mech)
{
    size_t full = crypto_digest_size (op->mech->hash);
    CK_ULONG len;

    op->mac_len = full;
    if (!op->mech->general)
        return keytype_no_param (op, mech);
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof (CK_ULONG))
        return CKR_MECHANISM_PARAM_INVALID;
    memcpy (&len, mech->pParameter, sizeof len);
    if (len == 0 || len > full)
        return CKR_MECHANISM_PARAM_INVALID;
    op->mac_len = len;
    return CKR_OK;
}

/* A generic secret serves every HMAC; a typed key only its own hash. */
static CK_RV
hmac_check (const mech_info *m, const tt_object *key, bool verify)
{
    CK_ULONG cls = 0, type = 0;
    const hmac_key_type *kt;

    (void) verify;
    attr_list_ulong (key->attrs, CKA_CLASS, &cls);
    attr_list_ulong (key->attrs, CKA_KEY_TYPE, &type);
    kt = cls == CKO_SECRET_KEY ? hmac_key_type_lookup (type) : NULL;
    if (kt == NULL || (kt->hash != 0 && kt->hash != m->hash))
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

static CK_RV
hmac_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
           bool verify)
{
    (void) tok;
    (void) mech;
    (void) verify;
    if ((op->buf = malloc (TPM_HMAC_CHUNK)) == NULL)
        return CKR_HOST_MEMORY;
    op->buf_cap = TPM_HMAC_CHUNK;
    return tpmkey_copy (op, key);
}

/* HMAC input: kept until more than one command's worth has come, then sent
 * through a TPM sequence, always keeping the last (at most a command's) part
 * for the final command. */
static CK_RV
hmac_feed (tt_token *tok, sign_op *op, const CK_BYTE *data, CK_ULONG len)
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
        rv = tpmkey_auth (tok, op, &auth);
        if (rv == CKR_OK)
            rv = tpm_hmac_start (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
                                 op->mech->tpm_hash, &op->seq);
        secbuf_free (auth);
    }
    if (rv == CKR_OK && op->buf_len > 0)
        rv = tpm_hmac_update (tok->tpm, op->seq, op->buf, op->buf_len);
    if (rv == CKR_OK)
        rv = tpm_hmac_update (tok->tpm, op->seq, data, send - op->buf_len);
    if (rv == CKR_OK) {
        memcpy (op->buf, data + (send - op->buf_len), keep);
        op->buf_len = keep;
    }
    return rv;
}

/* The full HMAC of everything fed (mac receives the whole digest). */
static CK_RV
hmac_final (tt_token *tok, sign_op *op, uint8_t *mac, size_t *mac_len)
{
    secbuf *auth = NULL;
    CK_RV rv;

    if (op->seq != NULL) {
        rv = tpm_hmac_finish (tok->tpm, op->seq, op->buf, op->buf_len, mac, mac_len);
        op->seq = NULL; /* freed by finish */
        return rv;
    }
    rv = tpmkey_auth (tok, op, &auth);
    if (rv == CKR_OK)
        rv = tpm_hmac (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs },
                       op->mech->tpm_hash, op->buf, op->buf_len, mac, mac_len);
    secbuf_free (auth);
    return rv;
}

static size_t
hmac_out_len (const sign_op *op, size_t pending)
{
    (void) pending;
    return op->mac_len;
}

static CK_RV
hmac_sign (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs, CK_BYTE *sig,
           CK_ULONG *sig_len)
{
    uint8_t mac[64];
    size_t mac_len = 0;
    CK_RV rv = hmac_final (tok, op, mac, &mac_len);

    (void) key;
    (void) refs;
    if (rv == CKR_OK) {
        memcpy (sig, mac, op->mac_len);
        *sig_len = op->mac_len;
    }
    sodium_memzero (mac, sizeof mac); /* it may be a key itself (SigV4's kDate) */
    return rv;
}

static CK_RV
hmac_verify (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    uint8_t e[64];
    size_t mac_len = 0;
    CK_RV rv;

    if (sig_len != op->mac_len)
        return CKR_SIGNATURE_LEN_RANGE;
    rv = hmac_final (tok, op, e, &mac_len);
    if (rv == CKR_OK && sodium_memcmp (e, sig, op->mac_len) != 0)
        rv = CKR_SIGNATURE_INVALID;
    sodium_memzero (e, sizeof e);
    return rv;
}

const keytype keytype_hmac = {
    .name = "HMAC",
    .serves = KT_CLASS (CKO_SECRET_KEY),
    .n_ck = 0, /* every secret key: import names the types it does not take */
    .creates = KT_CLASS (CKO_SECRET_KEY),
    .import = secret_import_inlock, /* the value goes into the TPM, and only there */
    .generate_check = secret_generate_check,
    .generate = secret_generate,
    .param = hmac_param,
    .check = hmac_check,
    .tpm_sign = true,
    .tpm_verify = true,
    .init = hmac_init,
    .check_result = tpmkey_check_result,
    .feed = hmac_feed,
    .out_len = hmac_out_len,
    .sign = hmac_sign,
    .verify = hmac_verify,
};
