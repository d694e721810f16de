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
#include "internal.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"

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

void
eddsa_wipe (tt_object *obj)
{
    secbuf_free (obj->ed_sk);
    obj->ed_sk = NULL;
    obj->ed_uses = 0;
}

void
token_wipe_caches (tt_token *tok)
{
    for (tt_object *o = tok->objects; o != NULL; o = o->next)
        eddsa_wipe (o);
}

CK_RV
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
        rv = fresh ? tpm_random (core_tpm (), fresh->data, 32) : CKR_HOST_MEMORY;
        seed = fresh;
    }
    if (rv == CKR_OK)
        rv = crypto_ed25519_expand (seed, &sk, pk);
    if (rv == CKR_OK)
        rv = pcr_from_template (priv->attrs, &pcrs);
    if (rv == CKR_OK && pcrs.mask != 0)
        rv = pcr_bind (priv->attrs, pcrs, &pol);
    if (rv == CKR_OK)
        rv = object_auth_new (&auth);
    if (rv == CKR_OK)
        rv = tpm_seal (core_tpm (), auth, seed, false, pcrs.mask ? &pol : NULL, &pub_blob,
                       &priv_blob);
    if (rv == CKR_OK)
        rv = object_take_tpm_key (tok, priv, &pub_blob, &priv_blob, auth);
    tpm_blob_clear (&pub_blob);
    tpm_blob_clear (&priv_blob);
    secbuf_free (auth);
    secbuf_free (sk);
    secbuf_free (fresh);
    return rv;
}

CK_RV
eddsa_import_inlock (tt_token *tok, tt_object *obj)
{
    const CK_ATTRIBUTE *v = attr_list_find (obj->attrs, CKA_VALUE);
    const uint8_t *oid;
    size_t oid_len;
    uint8_t pk[32], der[34];
    size_t der_len = sizeof der;
    secbuf *seed;
    bool b;
    CK_RV rv;

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
eddsa_sk_inlock (tt_token *tok, tt_session *sess, const sign_op *op, secbuf **sk, bool *owned)
{
    tt_object *obj = NULL;
    secbuf *auth = NULL, *seed = NULL;
    uint64_t now = now_ms ();
    CK_RV rv;

    pthread_once (&settings_once, settings_read);
    *sk = NULL;
    *owned = true;
    if (!token_user_logged_in (tok))
        return CKR_USER_NOT_LOGGED_IN;
    if (object_lookup (tok, sess, op->key, CKR_KEY_HANDLE_INVALID, &obj) != CKR_OK)
        obj = NULL; /* destroyed meanwhile: sign without a cache */
    if (obj != NULL && obj->ed_sk != NULL && op->pcrs.mask != 0) {
        /* A cached key bound to PCRs is only as good as those PCRs: one PCR_Read
         * per use instead of an unseal. If they changed, the unseal below fails
         * with CKR_TPMTRUST_PCR_MISMATCH as it should. */
        char list[256];
        if (pcr_changed (op->pcrs, op->pcr_values, op->pcr_values_len, list, sizeof list) != 0)
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
        rv = tpm_unseal (core_tpm (), &(tpm_key) { &op->pub, &op->priv, auth, op->pcrs }, &seed);
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
