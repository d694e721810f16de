/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ed25519 with a TPM-sealed seed. TPMs do not implement Ed25519: the 32-byte
 * seed is sealed under the SRK with a random per-object auth value (and, if
 * asked, a PCR policy), unsealed on demand inside a response-encrypted Unseal,
 * and held expanded in guarded memory for a bounded idle time and number of
 * signatures. Signing is libsodium's (crypto.c).
 *
 * Cache settings (environment or config file), defaults in parentheses:
 *   TPMTRUST_ED25519_CACHE_SECONDS / ed25519_cache_seconds (300): idle time
 *   TPMTRUST_ED25519_CACHE_USES / ed25519_cache_uses (100000): signatures
 * 0 for either means unseal for every signature. The cache is wiped on
 * C_Logout, when the last session closes, on C_Finalize and in a forked child.
 * A cached key bound to PCRs is used only after a PCR_Read shows its PCRs
 * still hold their bound values.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "eddsa"
#include "base/config-file.h"
#include "keys/keytype.h"
#include "keys/tpmkey.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

#define MAX_EDDSA_INPUT (16 * 1024 * 1024) /* pure EdDSA signs the whole message */
/* template and mechanism messages keep the names of the layers that check them */
#define OBJECT_ERROR(...) tt_log (TT_LOG_ERROR, "object", __VA_ARGS__)
#define OPS_ERROR(...) tt_log (TT_LOG_ERROR, "ops", __VA_ARGS__)

static unsigned long cache_seconds = 300, cache_uses = 100000;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static unsigned long
setting (const char *env, const char *key, unsigned long dflt)
{
    const char *v = getenv (env);
    char *end;
    unsigned long n;

    if (v == NULL)
        v = config_get (key);
    if (v == NULL)
        return dflt;
    n = strtoul (v, &end, 10);
    if (end == v || *end != '\0') {
        LOG_WARN ("%s = '%s' is not a number: using %lu", key, v, dflt);
        return dflt;
    }
    return n;
}

static void
settings_read (void)
{
    cache_seconds = setting ("TPMTRUST_ED25519_CACHE_SECONDS", "ed25519_cache_seconds", 300);
    cache_uses = setting ("TPMTRUST_ED25519_CACHE_USES", "ed25519_cache_uses", 100000);
}

static uint64_t
now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
eddsa_wipe (tt_object *obj)
{
    secbuf_free (obj->ed_sk);
    obj->ed_sk = NULL;
    obj->ed_uses = 0;
}

/* Seals seed (NULL: a new one) as priv's TPM object and gives the public key. */
static CK_RV
eddsa_seal_inlock (tt_token *tok, tt_object *priv, const secbuf *seed, uint8_t pk[32])
{
    secbuf *fresh = NULL, *sk = NULL, *auth = NULL;
    tpm_blob pub_blob = { 0 }, priv_blob = { 0 };
    tpm_pcrs pcrs = { 0, 0 };
    tpm_policy pol;
    CK_RV rv = CKR_OK;

    if (tok->secret == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    if (seed == NULL) {
        fresh = secbuf_new (32);
        rv = fresh ? tpm_random (tok->tpm, fresh->data, 32) : CKR_HOST_MEMORY;
        seed = fresh;
    }
    if (rv == CKR_OK)
        rv = crypto_ed25519_expand (seed, &sk, pk);
    if (rv == CKR_OK)
        rv = pcr_from_template (priv->attrs, &pcrs);
    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (tok->tpm, priv->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = tpmkey_auth_new (tok, &auth);
    if (rv == CKR_OK)
        rv = tpm_seal (tok->tpm, auth, seed, false, pcrs.mask ? &pol : NULL, &pub_blob,
                       &priv_blob);
    if (rv == CKR_OK)
        rv = tpmkey_take (tok, priv, &pub_blob, &priv_blob, auth);
    tpm_blob_clear (&pub_blob);
    tpm_blob_clear (&priv_blob);
    secbuf_free (auth);
    secbuf_free (sk);
    secbuf_free (fresh);
    return rv;
}

/* C_CreateObject of a private key with CKA_VALUE = seed: sealed at once. */
static CK_RV
eddsa_import_inlock (tt_token *tok, tt_object *obj)
{
    const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
    const uint8_t *oid;
    size_t oid_len;
    uint8_t pk[32], der[34];
    size_t der_len = sizeof der;
    secbuf *seed;
    CK_ULONG cls = 0;
    bool b;
    CK_RV rv;

    if (attr_list_ulong (obj->attrs, CKA_CLASS, &cls) && cls == CKO_PUBLIC_KEY)
        return CKR_OK; /* nothing secret to seal */
    if (attr_list_bool (obj->attrs, CKA_EXTRACTABLE, &b) && b) {
        LOG_ERROR ("TPM keys cannot be extractable (CKA_EXTRACTABLE TRUE)");
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (v->ulValueLen != 32) {
        LOG_ERROR ("an Ed25519 private key's CKA_VALUE is its 32-byte seed (RFC 8032), not %lu "
                   "bytes",
                   v->ulValueLen);
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    seed = secbuf_dup (v->pValue, 32);
    attr_list_remove (obj->attrs, CKA_VALUE); /* wiped: it lives on only sealed in the TPM */
    if (seed == NULL)
        return CKR_HOST_MEMORY;
    rv = eddsa_seal_inlock (tok, obj, seed, pk);
    secbuf_free (seed);
    oid = crypto_ed25519_oid (&oid_len);
    if (rv == CKR_OK)
        rv = crypto_ec_point_der (pk, 32, der, &der_len);
    if (rv == CKR_OK)
        rv = attr_list_set (obj->attrs, CKA_EC_POINT, der, der_len);
    if (rv == CKR_OK)
        rv = attr_list_set (obj->attrs, CKA_EC_PARAMS, oid, oid_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_ALWAYS_SENSITIVE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_NEVER_EXTRACTABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_LOCAL, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong (obj->attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK)
        rv = attr_list_set_bool (obj->attrs, CKA_TPMTRUST_TPM_KEY, true);
    return rv;
}

CK_RV
eddsa_sk_inlock (tt_token *tok, tt_object *obj, const sign_op *op, secbuf **sk, bool *owned)
{
    secbuf *auth = NULL, *seed = NULL;
    uint64_t now = now_ms ();
    CK_RV rv;

    pthread_once (&settings_once, settings_read);
    *sk = NULL;
    *owned = true;
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    /* obj NULL: destroyed meanwhile: sign without a cache */
    if (obj != NULL && obj->ed_sk != NULL && op->pcrs.mask != 0) {
        /* A cached key bound to PCRs is only as good as those PCRs: one PCR_Read
         * per use instead of an unseal. If they changed, the unseal below fails
         * with CKR_TPMTRUST_PCR_MISMATCH as it should. */
        char list[256];
        if (pcr_changed (tok->tpm, op->pcrs, op->pcr_values, op->pcr_values_len, list, sizeof list) != 0)
            eddsa_wipe (obj);
    }
    if (obj != NULL && obj->ed_sk != NULL) {
        if (now - obj->ed_used_at <= cache_seconds * 1000 && obj->ed_uses < cache_uses) {
            obj->ed_used_at = now;
            obj->ed_uses++;
            *sk = obj->ed_sk;
            *owned = false;
            return CKR_OK;
        }
        eddsa_wipe (obj); /* idle too long, or used enough */
    }
    rv = crypto_unwrap (tok->secret, op->pub.data, op->pub.len, op->wrapped_auth,
                        op->wrapped_auth_len, &auth);
    if (rv == CKR_OK)
        rv = tpm_unseal (tok->tpm, &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs }, &seed);
    if (rv == CKR_OK)
        rv = crypto_ed25519_expand (seed, sk, NULL);
    secbuf_free (seed);
    secbuf_free (auth);
    if (rv == CKR_OK && obj != NULL && cache_seconds > 0 && cache_uses > 0) {
        obj->ed_sk = *sk;
        obj->ed_used_at = now;
        obj->ed_uses = 1;
        *owned = false;
    }
    return rv;
}

static CK_RV
eddsa_params_check (const CK_ATTRIBUTE *params)
{
    if (!crypto_ed25519_params (params->pValue, params->ulValueLen)) {
        OBJECT_ERROR ("CKA_EC_PARAMS: only Ed25519 (OID 1.3.101.112 or \"edwards25519\")");
        return CKR_CURVE_NOT_SUPPORTED;
    }
    return CKR_OK;
}

static CK_RV
eddsa_create_check (CK_OBJECT_CLASS cls, attr_list *attrs)
{
    const CK_ATTRIBUTE *a;
    const uint8_t *oid;
    uint8_t raw[32];
    size_t oid_len;
    CK_RV rv = eddsa_params_check (attr_list_find (attrs, CKA_EC_PARAMS));

    if (rv != CKR_OK)
        return rv;
    if (cls == CKO_PRIVATE_KEY) {
        if (attr_list_find (attrs, CKA_VALUE) == NULL) {
            OBJECT_ERROR ("an Ed25519 private key needs CKA_VALUE (the 32-byte seed)");
            return CKR_TEMPLATE_INCOMPLETE;
        }
        return CKR_OK; /* sealed by eddsa_import_inlock */
    }
    a = attr_list_find (attrs, CKA_EC_POINT);
    rv = crypto_ed25519_point_raw (a->pValue, a->ulValueLen, true, raw);
    if (rv != CKR_OK) {
        OBJECT_ERROR ("CKA_EC_POINT is not an Ed25519 public key (32 bytes, or a DER "
                      "OCTET STRING of them)");
        return rv;
    }
    oid = crypto_ed25519_oid (&oid_len);
    rv = attr_list_set (attrs, CKA_EC_PARAMS, oid, oid_len);
    if (rv == CKR_OK)
        rv = keytype_public_finish (attrs, raw, 32);
    return rv;
}

static CK_RV
eddsa_pair_check (attr_list *pub, attr_list *priv)
{
    const CK_ATTRIBUTE *params;
    const uint8_t *oid;
    size_t oid_len;
    CK_RV rv = keytype_pair_params (pub, priv, &params);

    if (rv != CKR_OK)
        return rv;
    if (!crypto_ed25519_params (params->pValue, params->ulValueLen)) {
        OBJECT_ERROR ("CKA_EC_PARAMS: only Ed25519 (OID 1.3.101.112 or \"edwards25519\") is "
                      "supported");
        return CKR_CURVE_NOT_SUPPORTED;
    }
    oid = crypto_ed25519_oid (&oid_len); /* always emitted as the OID */
    return keytype_pair_set_params (pub, priv, oid, oid_len);
}

/* The sealed Ed25519 seed of a new pair: attached to priv; its public key. */
static CK_RV
eddsa_generate_pair (tt_token *tok, tt_object *pub, tt_object *priv, uint8_t *raw,
                     size_t *raw_len)
{
    uint8_t spki[44];
    CK_RV rv = eddsa_seal_inlock (tok, priv, NULL, raw);

    *raw_len = 32;
    if (rv == CKR_OK) {
        crypto_ed25519_spki (raw, spki);
        rv = keytype_pair_public (pub, priv, raw, 32, spki, sizeof spki);
    }
    return rv;
}

static CK_RV
eddsa_param (sign_op *op, const CK_MECHANISM *mech)
{
    const CK_EDDSA_PARAMS *p = mech->pParameter;

    if (p == NULL)
        return keytype_no_param (op, mech);
    /* Ed25519ctx and Ed25519ph are not offered: only pure Ed25519 */
    if (mech->ulParameterLen != sizeof *p || p->phFlag || p->ulContextDataLen != 0) {
        OPS_ERROR ("CKM_EDDSA: only pure Ed25519 (no prehash, no context) is supported");
        return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

static CK_RV
eddsa_check (const mech_info *m, const tt_object *key, bool verify)
{
    (void) m;
    return keytype_check_pair (key, CKK_EC_EDWARDS, verify);
}

static CK_RV
eddsa_init (tt_token *tok, const tt_object *key, const CK_MECHANISM *mech, sign_op *op,
            bool verify)
{
    const CK_ATTRIBUTE *point = attr_list_find (key->attrs, CKA_EC_POINT);

    (void) tok;
    (void) mech;
    op->field = 32; /* signatures are 64 bytes */
    op->point_len = 32;
    if (!verify)
        return tpmkey_copy (op, key);
    /* verification needs the public key (checked when the object was made) */
    if (point == NULL
        || crypto_ed25519_point_raw (point->pValue, point->ulValueLen, false, op->point)
               != CKR_OK)
        return CKR_KEY_TYPE_INCONSISTENT;
    return CKR_OK;
}

static size_t
eddsa_out_len (const sign_op *op, size_t pending)
{
    (void) op;
    (void) pending;
    return 64;
}

static CK_RV
eddsa_sign (tt_token *tok, sign_op *op, tt_object *key, tt_object *const *refs, CK_BYTE *sig,
            CK_ULONG *sig_len)
{
    secbuf *sk = NULL;
    bool owned = true;
    CK_RV rv = eddsa_sk_inlock (tok, key, op, &sk, &owned);

    (void) refs;
    if (rv == CKR_OK)
        rv = crypto_ed25519_sign (sk, op->buf, op->buf_len, sig);
    if (rv == CKR_OK)
        *sig_len = 64;
    if (owned)
        secbuf_free (sk);
    return rv;
}

static CK_RV
eddsa_verify (tt_token *tok, sign_op *op, const CK_BYTE *sig, CK_ULONG sig_len)
{
    (void) tok;
    return crypto_ed25519_verify (op->point, op->buf, op->buf_len, sig, sig_len);
}

static const CK_KEY_TYPE eddsa_ck[] = { CKK_EC_EDWARDS };

const keytype keytype_ed25519 = {
    .name = "Ed25519",
    .serves = KT_CLASS (CKO_PUBLIC_KEY) | KT_CLASS (CKO_PRIVATE_KEY),
    .ck = eddsa_ck,
    .n_ck = 1,
    .creates = KT_CLASS (CKO_PUBLIC_KEY) | KT_CLASS (CKO_PRIVATE_KEY),
    .create_check = eddsa_create_check,
    .import = eddsa_import_inlock,
    .pair_ck = CKK_EC_EDWARDS,
    .pair_check = eddsa_pair_check,
    .generate_pair = eddsa_generate_pair,
    .param = eddsa_param,
    .check = eddsa_check,
    .tpm_sign = true,
    .init = eddsa_init,
    .check_result = tpmkey_check_result,
    .max_input = MAX_EDDSA_INPUT,
    .out_len = eddsa_out_len,
    .sign = eddsa_sign,
    .verify = eddsa_verify,
    .wipe = eddsa_wipe,
};
