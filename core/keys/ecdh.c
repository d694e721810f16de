/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ECDH (CKM_ECDH1_DERIVE) with a TPM EC key: the TPM computes the shared point
 * (TPM2_ECDH_ZGen, its x-coordinate Z response-encrypted on the bus); the KDF
 * (CKD_NULL, or ANSI X9.63 with SHA-1/224/256/384/512) runs here. The new key is
 * a session secret key: with CKA_SIGN or CKA_VERIFY it goes into the TPM as an
 * HMAC key (the value then lives only there), else its value stays in the
 * object (readable only as CKA_SENSITIVE FALSE and CKA_EXTRACTABLE allow), for
 * consumers that move it into a software token (NSS in TLS 1.2).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "object"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define MAX_SHARED_DATA 1024
#define MAX_DERIVED 1024 /* bytes of key a KDF may be asked for */

/* The KDF's hash, CKM_SHA* (0: CKD_NULL; -1: not supported). */
static long
kdf_hash (CK_ULONG kdf)
{
    switch (kdf) {
    case CKD_NULL: return 0;
    case CKD_SHA1_KDF: return CKM_SHA_1;
    case CKD_SHA224_KDF: return CKM_SHA224;
    case CKD_SHA256_KDF: return CKM_SHA256;
    case CKD_SHA384_KDF: return CKM_SHA384;
    case CKD_SHA512_KDF: return CKM_SHA512;
    default: return -1;
    }
}

static CK_RV
ecdh_param (const CK_MECHANISM *mech)
{
    const CK_ECDH1_DERIVE_PARAMS *p = mech->pParameter;

    if (p == NULL || mech->ulParameterLen != sizeof *p) {
        LOG_ERROR ("CKM_ECDH1_DERIVE needs a CK_ECDH1_DERIVE_PARAMS");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (kdf_hash (p->kdf) < 0) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: KDF 0x%lx is not supported (CKD_NULL and "
                   "CKD_SHA1/224/256/384/512_KDF are)",
                   (unsigned long) p->kdf);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if ((p->shared_data == NULL && p->shared_data_len != 0)
        || (p->kdf == CKD_NULL && p->shared_data_len != 0)
        || p->shared_data_len > MAX_SHARED_DATA) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: shared data only with a KDF (at most %d bytes)",
                   MAX_SHARED_DATA);
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (p->public_data == NULL || p->public_data_len == 0) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: the other party's public point is missing");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

/* ANSI X9.63: K = H (Z || 00000001 || shared) || H (Z || 00000002 || shared) ... */
static CK_RV
x963_kdf (CK_MECHANISM_TYPE hash, const secbuf *z, const uint8_t *shared, size_t shared_len,
          uint8_t *out, size_t out_len)
{
    size_t h = crypto_digest_size (hash);
    uint8_t block[64];
    crypto_digest *d = NULL;
    CK_RV rv = crypto_digest_new (hash, &d);

    for (uint32_t i = 1, done = 0; rv == CKR_OK && done < out_len; i++, done += h) {
        uint8_t ctr[4] = { (uint8_t) (i >> 24), (uint8_t) (i >> 16), (uint8_t) (i >> 8),
                           (uint8_t) i };
        rv = crypto_digest_update (d, z->data, z->len);
        if (rv == CKR_OK)
            rv = crypto_digest_update (d, ctr, sizeof ctr);
        if (rv == CKR_OK && shared_len)
            rv = crypto_digest_update (d, shared, shared_len);
        if (rv == CKR_OK)
            rv = crypto_digest_final (d, block);
        if (rv == CKR_OK)
            memcpy (out + done, block, out_len - done < h ? out_len - done : h);
    }
    crypto_wipe (block, sizeof block);
    crypto_digest_free (d);
    return rv;
}

/* The new key's attributes from the template; *len: the key length asked
 * (0: the KDF's natural one); *in_tpm: whether it goes into the TPM as an HMAC key
 * (the template asks for CKA_SIGN or CKA_VERIFY and not CKA_EXTRACTABLE), else
 * it is a value that neither signs nor verifies here. */
static CK_RV
derived_attrs (const CK_ATTRIBUTE *tmpl, CK_ULONG count, attr_list **out, CK_ULONG *len,
               bool *in_tpm)
{
    attr_list *a = NULL;
    CK_ULONG v;
    CK_RV rv = keytype_derived_begin (tmpl, count, "CKM_ECDH1_DERIVE", &a);

    *len = 0;
    *in_tpm = rv == CKR_OK
              && (attr_list_bool_or (a, CKA_SIGN, false) || attr_list_bool_or (a, CKA_VERIFY, false))
              && !attr_list_bool_or (a, CKA_EXTRACTABLE, false);
    if (rv != CKR_OK)
        return rv;
    if (attr_list_ulong (a, CKA_KEY_TYPE, &v) && v != CKK_GENERIC_SECRET
        && hmac_key_type_lookup (v) == NULL) {
        LOG_ERROR ("CKM_ECDH1_DERIVE makes CKK_GENERIC_SECRET or HMAC keys (key type 0x%lx)", v);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK && attr_list_ulong (a, CKA_VALUE_LEN, len) && (*len == 0 || *len > MAX_DERIVED)) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: CKA_VALUE_LEN %lu (1 to %d bytes)", *len, MAX_DERIVED);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK && !*in_tpm) /* a value here: it neither signs nor verifies */
        rv = attr_list_set_bool (a, CKA_SIGN, false);
    if (rv == CKR_OK && !*in_tpm)
        rv = attr_list_set_bool (a, CKA_VERIFY, false);
    rv = keytype_derived_end (&a, CKK_GENERIC_SECRET, rv);
    *out = a;
    return rv;
}

/* Z from the TPM for base (a TPM EC private key with CKA_DERIVE) and the peer's
 * point (raw or a DER OCTET STRING), checked on base's curve first. */
static CK_RV
shared_z (tt_token *tok, const tt_object *base, const CK_ECDH1_DERIVE_PARAMS *p, secbuf **z)
{
    const CK_ATTRIBUTE *params = attr_list_find (base->attrs, CKA_EC_PARAMS);
    sign_op op = { 0 };
    uint8_t peer[1 + 2 * 48];
    size_t peer_len = sizeof peer;
    secbuf *auth = NULL;
    CK_ULONG cls = 0, kt = 0;
    CK_RV rv = CKR_OK;

    attr_list_ulong (base->attrs, CKA_CLASS, &cls);
    attr_list_ulong (base->attrs, CKA_KEY_TYPE, &kt);
    if (cls != CKO_PRIVATE_KEY || kt != CKK_EC || !object_tpm_key (base))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!attr_list_bool_or (base->attrs, CKA_DERIVE, false)) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: the key has CKA_DERIVE FALSE");
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    }
    op.field = params ? crypto_ec_params_size (params->pValue, params->ulValueLen) : 0;
    if (op.field == 0)
        return CKR_KEY_TYPE_INCONSISTENT;
    if ((crypto_ec_point_raw (p->public_data, p->public_data_len, op.field, peer, &peer_len)
                != CKR_OK
         || crypto_ec_point_check (op.field, peer, peer_len) != CKR_OK)) {
        LOG_ERROR ("CKM_ECDH1_DERIVE: the public data is not an uncompressed point on the "
                   "key's curve (P-%u)",
                   op.field == 48 ? 384 : 256);
        rv = CKR_MECHANISM_PARAM_INVALID;
    }
    /* the operation's view of the key, without copies: its blobs, auth, PCRs */
    op.pub = base->tpm_pub;
    op.priv = base->tpm_priv;
    op.wrapped_auth = base->wrapped_auth;
    op.wrapped_auth_len = base->wrapped_auth_len;
    op.pcrs = pcr_of_object (base->attrs);
    if (rv == CKR_OK)
        rv = tpmkey_auth (tok, &op, &auth);
    if (rv == CKR_OK)
        rv = tpm_ecdh_zgen (tok->tpm, &(tpm_key) { &op.pub, &op.priv, auth, op.pcrs }, peer,
                            peer_len, z);
    if (rv == CKR_TPMTRUST_PCR_MISMATCH) {
        const CK_ATTRIBUTE *values = attr_list_find (base->attrs, CKA_TPMTRUST_PCR_VALUES);
        if (values != NULL)
            pcr_report (tok->tpm, op.pcrs, values->pValue, values->ulValueLen);
    } else if (rv == CKR_PIN_INCORRECT || rv == CKR_DATA_INVALID) {
        tpmkey_check_result (tok, &op, &rv);
    }
    secbuf_free (auth);
    return rv;
}

static CK_RV
ecdh_derive (tt_token *tok, const CK_MECHANISM *mech, const tt_object *base,
             const CK_ATTRIBUTE *tmpl, CK_ULONG count, tt_object *key)
{
    const CK_ECDH1_DERIVE_PARAMS *p = mech->pParameter; /* checked */
    long hash = kdf_hash (p->kdf);
    attr_list *attrs = NULL;
    secbuf *z = NULL, *value = NULL;
    CK_ULONG len = 0;
    bool sensitive, extractable, tpm_hmac;
    CK_RV rv;

    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    rv = derived_attrs (tmpl, count, &attrs, &len, &tpm_hmac);
    if (rv == CKR_OK)
        rv = shared_z (tok, base, p, &z);
    if (rv == CKR_OK && hash == 0 && len > z->len) {
        LOG_ERROR ("CKM_ECDH1_DERIVE with CKD_NULL: CKA_VALUE_LEN %lu is more than the "
                   "%zu-byte shared secret",
                   len, z->len);
        rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK) {
        /* CKD_NULL: Z itself (its leftmost CKA_VALUE_LEN bytes); a KDF: as many
         * bytes as asked, else one hash's worth */
        size_t n = len ? len : hash == 0 ? z->len : crypto_digest_size ((CK_MECHANISM_TYPE) hash);
        if ((value = secbuf_new (n)) == NULL)
            rv = CKR_HOST_MEMORY;
        else if (hash == 0)
            memcpy (value->data, z->data, n);
        else
            rv = x963_kdf ((CK_MECHANISM_TYPE) hash, z, p->shared_data, p->shared_data_len,
                           value->data, n);
    }
    sensitive = attr_list_bool_or (attrs, CKA_SENSITIVE, true);
    extractable = attr_list_bool_or (attrs, CKA_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set (attrs, CKA_VALUE, value->data, value->len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_VALUE_LEN, value->len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_ALWAYS_SENSITIVE,
                                 sensitive && attr_list_bool_or (base->attrs,
                                                                 CKA_ALWAYS_SENSITIVE, false));
    if (rv == CKR_OK)
        rv = attr_list_set_bool (attrs, CKA_NEVER_EXTRACTABLE,
                                 !extractable && attr_list_bool_or (base->attrs,
                                                                    CKA_NEVER_EXTRACTABLE,
                                                                    false));
    if (rv == CKR_OK) {
        key->attrs = attrs;
        attrs = NULL;
        if (tpm_hmac) {
            /* to be used for HMAC: into the TPM, like an imported HMAC key */
            key->type = &keytype_hmac;
            rv = keytype_hmac.import (tok, key);
        }
        /* else a value (key->type stays this row: no sign or verify), for
         * C_GetAttributeValue as its CKA_SENSITIVE and CKA_EXTRACTABLE allow */
    }
    attr_list_free (attrs);
    secbuf_free (value);
    secbuf_free (z);
    return rv;
}

/* CKM_ECDH1_DERIVE on TPM EC keys. Not found by (class, CKK): ECDSA's row
 * serves EC keys; this one is reached through the mechanism table. */
const keytype keytype_ecdh = {
    .name = "ECDH",
    .derive_param = ecdh_param,
    .derive = ecdh_derive,
};
