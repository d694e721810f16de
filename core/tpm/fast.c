/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The hot path's session: a salted HMAC session (salt ECDH-encrypted to the
 * SRK, AES-128-CFB parameter encryption) that this file runs itself over the
 * ESAPI context's SAPI context, instead of through ESAPI.
 *
 * Why: tpm2-tss 3.2.1's ESAPI spends about 2.5 ms of CPU on every command with
 * an HMAC session (it fetches OpenSSL 3 algorithms and builds contexts each
 * time), 6 to 20 times the TPM's own time for a signature or an HMAC. Here a
 * command costs two SHA-256 and two HMAC-SHA256 (libsodium, a few us), plus a
 * KDFa and an AES-CFB pass when the response is encrypted.
 *
 * What it protects is what ESAPI's session protected: the key's authValue
 * never crosses the bus (only HMACs keyed with sessionKey || authValue), the
 * response is authenticated (a forged or altered response is refused), and
 * with encrypt the response's first parameter (an HMAC result, unsealed data)
 * crosses the bus encrypted under a key derived from the session key and the
 * authValue. The session key comes from a salt only the TPM can recover.
 *
 * TPM 2.0 Part 1: 19.6 (HMAC sessions), 21 (parameter encryption), 11.4.10
 * (KDFa, KDFe); C.6.1 (ECC salt).
 */
#include "config.h"

#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_sys.h>

#define LOG_MODULE "tpm"
#include "crypto/crypto.h"
#include "base/log.h"
#include "tpm/internal.h"

#define NONCE 32

/* Starts a salted session of the given type (HMAC, or POLICY) in s. */
static CK_RV
sess_start (tpm *t, TPM2_SE type, struct tpm_fast *s, const char *what)
{
    static const TPMT_SYM_DEF cfb = {
        .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
    };
    TPM2B_NONCE caller = { .size = NONCE }, tpm_nonce = { .size = sizeof tpm_nonce.buffer };
    TPM2B_ENCRYPTED_SECRET enc = { 0 };
    TPMS_ECC_POINT eph = { .x.size = 32, .y.size = 32 };
    TPM2_HANDLE srk = 0, handle = 0;
    TSS2_SYS_CONTEXT *sys;
    uint8_t eph_point[65], salt[32];
    size_t off = 0;
    TSS2_RC r;
    CK_RV rv = tpm_srk_inlock (t);

    if (rv != CKR_OK)
        return rv;
    if ((sys = tpm_sys_of (t)) == NULL)
        return CKR_DEVICE_ERROR;
    if (!t->srk_point_ok || Esys_TR_GetTpmHandle (t->esys, t->srk, &srk) != TSS2_RC_SUCCESS) {
        LOG_ERROR ("no SRK public key for the session salt");
        return CKR_FUNCTION_FAILED;
    }
    rv = crypto_tpm_salt_p256 (t->srk_point, salt, eph_point);
    if (rv != CKR_OK) {
        LOG_ERROR ("cannot make a session salt (OpenSSL ECDH failed)");
        return rv;
    }
    memcpy (eph.x.buffer, eph_point + 1, 32);
    memcpy (eph.y.buffer, eph_point + 33, 32);
    if (Tss2_MU_TPMS_ECC_POINT_Marshal (&eph, enc.secret, sizeof enc.secret, &off)
        != TSS2_RC_SUCCESS) {
        sodium_memzero (salt, sizeof salt);
        return CKR_FUNCTION_FAILED;
    }
    enc.size = (UINT16) off;
    randombytes_buf (caller.buffer, NONCE);

    lease_pending (t->lease, true);
    r = Tss2_Sys_StartAuthSession (sys, srk, TPM2_RH_NULL, NULL, &caller, &enc, type, &cfb,
                                   TPM2_ALG_SHA256, &handle, &tpm_nonce, NULL);
    if (r == TSS2_RC_SUCCESS)
        lease_add (t->lease, handle, NULL, 0);
    else
        lease_pending (t->lease, false);
    rv = tpm_rv (t, r, what);
    if (rv == CKR_OK && tpm_nonce.size != NONCE)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK && (s->key = secbuf_new (32)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK) {
        /* unbound: sessionKey = KDFa(SHA-256, salt, "ATH", nonceTPM, nonceCaller) */
        crypto_kdfa_sha256 (salt, sizeof salt, "ATH", tpm_nonce.buffer, NONCE, caller.buffer,
                            NONCE, s->key->data, 32);
        s->handle = handle;
        s->retries = 0;
        memcpy (s->nonce_tpm, tpm_nonce.buffer, NONCE);
    } else if (r == TSS2_RC_SUCCESS && t->esys != NULL) {
        tpm_sys_flush (t, sys, handle);
    }
    sodium_memzero (salt, sizeof salt);
    return rv;
}

CK_RV
tpm_fast_begin_inlock (tpm *t)
{
    if (t->fast.handle != 0)
        return tpm_srk_inlock (t);
    return sess_start (t, TPM2_SE_HMAC, &t->fast, "starting the signing session");
}

/* A salted policy session (in s) that has met PolicyPCR (the selected PCRs as
 * they are now: the command fails with TPM_RC_POLICY_FAIL when they differ
 * from the bound values) and PolicyAuthValue (the key's authValue keys the
 * command's HMAC, as in an HMAC session). */
static CK_RV
policy_start (tpm *t, tpm_pcrs pcrs, struct tpm_fast *s)
{
    TPML_PCR_SELECTION sel = tpm_pcr_selection (pcrs);
    TPM2B_DIGEST now = { 0 }; /* empty: the TPM takes the current values */
    TSS2_SYS_CONTEXT *sys;
    CK_RV rv = sess_start (t, TPM2_SE_POLICY, s, "starting a policy session");

    if (rv == CKR_OK && (sys = tpm_sys_of (t)) != NULL)
        rv = tpm_rv (t, Tss2_Sys_PolicyPCR (sys, s->handle, NULL, &now, &sel, NULL), "PolicyPCR");
    if (rv == CKR_OK && (sys = tpm_sys_of (t)) != NULL)
        rv = tpm_rv (t, Tss2_Sys_PolicyAuthValue (sys, s->handle, NULL, NULL), "PolicyAuthValue");
    if (rv == CKR_OK && t->esys == NULL)
        rv = CKR_DEVICE_ERROR; /* the connection was lost (tpm_rv closed it) */
    if (rv != CKR_OK)
        tpm_sess_release_inlock (t, s, t->esys != NULL);
    return rv;
}

/* sessionKey || authValue without its trailing zeros (Part 1, 19.6.8). An
 * authValue longer than the digest of the object's nameAlg (the first two
 * bytes of its Name) was stored hashed with that algorithm, as ESAPI sends it
 * at creation (a key with a SHA-1 Name: a 20-byte HMAC key, CKA_VALUE_LEN 20). */
static size_t
hmac_key (const struct tpm_fast *s, const TPM2B_NAME *name, const secbuf *auth,
          uint8_t key[32 + 64])
{
    uint16_t alg = name->size >= 2 ? (uint16_t) (name->name[0] << 8 | name->name[1]) : 0;
    size_t digest = alg == TPM2_ALG_SHA1 ? 20 : alg == TPM2_ALG_SHA384 ? 48
                    : alg == TPM2_ALG_SHA512 ? 64 : 32;
    size_t n = auth != NULL ? auth->len : 0;

    memcpy (key, s->key->data, 32);
    if (n > digest) {
        crypto_digest *d = NULL;
        CK_MECHANISM_TYPE m = alg == TPM2_ALG_SHA1 ? CKM_SHA_1 : alg == TPM2_ALG_SHA384
                              ? CKM_SHA384 : alg == TPM2_ALG_SHA512 ? CKM_SHA512 : CKM_SHA256;
        if (crypto_digest_new (m, &d) != CKR_OK || crypto_digest_update (d, auth->data, n) != CKR_OK
            || crypto_digest_final (d, key + 32) != CKR_OK)
            memset (key + 32, 0, digest); /* the TPM will refuse: logged as a wrong auth */
        crypto_digest_free (d);
        n = digest;
    } else if (n) {
        memcpy (key + 32, auth->data, n);
    }
    while (n > 0 && key[32 + n - 1] == 0)
        n--;
    return 32 + n;
}

static void
hmac_parts (const uint8_t *key, size_t key_len, const uint8_t hash[32], const uint8_t *newer,
            const uint8_t *older, uint8_t attrs, uint8_t out[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init (&st, key, key_len);
    crypto_auth_hmacsha256_update (&st, hash, 32);
    crypto_auth_hmacsha256_update (&st, newer, NONCE);
    crypto_auth_hmacsha256_update (&st, older, NONCE);
    crypto_auth_hmacsha256_update (&st, &attrs, 1);
    crypto_auth_hmacsha256_final (&st, out);
    sodium_memzero (&st, sizeof st);
}

static void
be32 (uint32_t v, uint8_t out[4])
{
    out[0] = (uint8_t) (v >> 24);
    out[1] = (uint8_t) (v >> 16);
    out[2] = (uint8_t) (v >> 8);
    out[3] = (uint8_t) v;
}

/* Decrypts the response's first parameter in place in the SAPI context. */
static CK_RV
decrypt_response (TSS2_SYS_CONTEXT *sys, const uint8_t *key, size_t key_len,
                  const uint8_t *nonce_tpm, const uint8_t *nonce_caller)
{
    const uint8_t *enc = NULL;
    size_t size = 0;
    uint8_t kiv[32], buf[TPM2_MAX_DIGEST_BUFFER > 1024 ? TPM2_MAX_DIGEST_BUFFER : 1024];
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (Tss2_Sys_GetEncryptParam (sys, &size, &enc) != TSS2_RC_SUCCESS || size > sizeof buf)
        return rv;
    memcpy (buf, enc, size);
    /* the TPM encrypts with KDFa(sessionValue, "CFB", nonceTPM, nonceCaller):
     * 128 bits of key, then 128 of IV */
    crypto_kdfa_sha256 (key, key_len, "CFB", nonce_tpm, NONCE, nonce_caller, NONCE, kiv,
                        sizeof kiv);
    if (crypto_aes128_cfb (kiv, kiv + 16, buf, size, false) == CKR_OK
        && Tss2_Sys_SetEncryptParam (sys, size, buf) == TSS2_RC_SUCCESS)
        rv = CKR_OK;
    sodium_memzero (kiv, sizeof kiv);
    sodium_memzero (buf, size);
    return rv;
}

/* Before a command on loaded key h: starts the session, gives the SAPI
 * context, the key's TPM handle and its Name (cached with the key). */
static CK_RV
fast_prepare_inlock (tpm *t, struct tpm_fast *s, ESYS_TR h, TSS2_SYS_CONTEXT **sys,
                     TPM2_HANDLE *handle, TPM2B_NAME *name)
{
    TPM2B_NAME *n = NULL;
    const struct tpm_cached *c;
    CK_RV rv = s == &t->fast ? tpm_fast_begin_inlock (t) : CKR_OK;

    if (rv != CKR_OK)
        return rv;
    c = tpm_cache_find (t, h);
    if (c != NULL && c->name.size != 0 && Esys_GetSysContext (t->esys, sys) == TSS2_RC_SUCCESS) {
        *handle = c->handle;
        *name = c->name;
        return CKR_OK;
    }
    rv = CKR_FUNCTION_FAILED;
    if (Esys_GetSysContext (t->esys, sys) == TSS2_RC_SUCCESS
        && Esys_TR_GetTpmHandle (t->esys, h, handle) == TSS2_RC_SUCCESS
        && Esys_TR_GetName (t->esys, h, &n) == TSS2_RC_SUCCESS) {
        *name = *n;
        rv = CKR_OK;
    }
    Esys_Free (n);
    return rv;
}

/* Runs the command prepared in the SAPI context (Tss2_Sys_<Cmd>_Prepare) with
 * session s authorizing its first handle (its Name and authValue auth; name2:
 * the Name of a second handle, or NULL); the
 * hot path's session is continued, a policy session is not (the TPM flushes
 * it once the command succeeds);
 * encrypt: the response's first parameter comes back encrypted, and is
 * decrypted for Tss2_Sys_<Cmd>_Complete. The response's HMAC is checked.
 * TPM_FAST_RETRY: the TPM asked for the command again (RETRY, YIELDED,
 * TESTING): prepare it again and call again. */
#define TPM_FAST_RETRY (CKR_VENDOR_DEFINED | 0x7e7e7e7eUL)

static CK_RV
fast_execute_inlock (tpm *t, struct tpm_fast *s, TPM2_CC cc, const TPM2B_NAME *name,
                     const TPM2B_NAME *name2, const secbuf *auth, bool encrypt, const char *what)
{
    TSS2_SYS_CONTEXT *sys = tpm_sys_of (t);
    TSS2L_SYS_AUTH_COMMAND cmd = { .count = 1 };
    TSS2L_SYS_AUTH_RESPONSE rsp = { 0 };
    TPMS_AUTH_COMMAND *a = &cmd.auths[0];
    const uint8_t *params = NULL;
    size_t params_len = 0, key_len;
    uint8_t key[32 + 64], hash[32], mac[32], code[4], caller[NONCE];
    crypto_hash_sha256_state st;
    TSS2_RC r;
    CK_RV rv;

    if (sys == NULL || s->handle == 0)
        return CKR_FUNCTION_FAILED; /* tpm_fast_begin_inlock first */
    if ((r = Tss2_Sys_GetCpBuffer (sys, &params_len, &params)) != TSS2_RC_SUCCESS) {
        LOG_ERROR ("%s: %s", what, Tss2_RC_Decode (r));
        return CKR_FUNCTION_FAILED;
    }

    /* cpHash = SHA-256 (commandCode || Name of the handle || parameters) */
    be32 (cc, code);
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, code, 4);
    crypto_hash_sha256_update (&st, name->name, name->size);
    if (name2 != NULL) /* a second handle (not authorized: its Name only) */
        crypto_hash_sha256_update (&st, name2->name, name2->size);
    crypto_hash_sha256_update (&st, params, params_len);
    crypto_hash_sha256_final (&st, hash);

    randombytes_buf (caller, NONCE);
    a->sessionHandle = s->handle;
    a->nonce.size = NONCE;
    memcpy (a->nonce.buffer, caller, NONCE);
    a->sessionAttributes = (s == &t->fast ? TPMA_SESSION_CONTINUESESSION : 0)
                           | (encrypt ? TPMA_SESSION_ENCRYPT : 0);
    a->hmac.size = 32;
    key_len = hmac_key (s, name, auth, key);
    hmac_parts (key, key_len, hash, caller, s->nonce_tpm, a->sessionAttributes, a->hmac.buffer);

    r = Tss2_Sys_SetCmdAuths (sys, &cmd);
    if (r == TSS2_RC_SUCCESS)
        r = Tss2_Sys_Execute (sys);
    if ((r == TPM2_RC_RETRY || r == TPM2_RC_YIELDED || r == TPM2_RC_TESTING)
        && s->retries < 20) {
        /* the TPM did not start the command (ESAPI would resend it): the
         * session is untouched, the caller prepares the command again */
        sodium_memzero (key, sizeof key);
        usleep (1000 * s->retries++);
        return TPM_FAST_RETRY;
    }
    s->retries = 0;
    if (r == TSS2_RC_SUCCESS)
        r = Tss2_Sys_GetRspAuths (sys, &rsp);
    rv = tpm_rv (t, r, what);
    if (rv == CKR_OK && (rsp.count != 1 || rsp.auths[0].nonce.size != NONCE
                         || rsp.auths[0].hmac.size != 32
                         || Tss2_Sys_GetRpBuffer (sys, &params_len, &params) != TSS2_RC_SUCCESS)) {
        LOG_ERROR ("%s: the TPM's response has no proper session area (%u sessions, nonce %u, "
                   "HMAC %u bytes)",
                   what, (unsigned) rsp.count, (unsigned) rsp.auths[0].nonce.size,
                   (unsigned) rsp.auths[0].hmac.size);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv == CKR_OK) {
        /* rpHash = SHA-256 (responseCode 0 || commandCode || parameters) */
        static const uint8_t success[4] = { 0 };
        const TPMS_AUTH_RESPONSE *ra = &rsp.auths[0];
        crypto_hash_sha256_init (&st);
        crypto_hash_sha256_update (&st, success, 4);
        crypto_hash_sha256_update (&st, code, 4);
        crypto_hash_sha256_update (&st, params, params_len);
        crypto_hash_sha256_final (&st, hash);
        hmac_parts (key, key_len, hash, ra->nonce.buffer, caller, ra->sessionAttributes, mac);
        if (sodium_memcmp (mac, ra->hmac.buffer, 32) != 0) {
            LOG_ERROR ("%s: the TPM's response does not carry the session's HMAC: it was "
                       "altered on its way (or the TPM is not the one the session was made "
                       "with); the result is not used",
                       what);
            rv = CKR_DEVICE_ERROR;
        } else {
            memcpy (s->nonce_tpm, ra->nonce.buffer, NONCE);
            if (encrypt)
                rv = decrypt_response (sys, key, key_len, ra->nonce.buffer, caller);
        }
    }
    /* after a failure the session's nonces may no longer agree with the TPM's:
     * start a new one next time (a lost TPM took it with it); a policy
     * session is used once, and after success the TPM has flushed it */
    if (rv == CKR_OK && s != &t->fast)
        lease_del (t->lease, s->handle); /* gone with the command */
    if (rv != CKR_OK || s != &t->fast)
        tpm_sess_release_inlock (t, s, rv != CKR_OK && t->esys != NULL);
    sodium_memzero (key, sizeof key);
    sodium_memzero (&st, sizeof st);
    return rv;
}

CK_RV
tpm_fast_call_inlock (tpm *t, ESYS_TR h, TPM2_CC cc, tpm_fast_prep prep, void *arg,
                      const tpm_key *k, bool encrypt, const char *what, TSS2_SYS_CONTEXT **sys)
{
    struct tpm_fast policy = { 0 }, *s = &t->fast;
    TPM2_HANDLE handle = 0;
    TPM2B_NAME name;
    CK_RV rv = CKR_OK;

    if (k->pcrs.mask != 0) {
        s = &policy;
        rv = policy_start (t, k->pcrs, s);
    }
    while (rv == CKR_OK) {
        rv = fast_prepare_inlock (t, s, h, sys, &handle, &name);
        if (rv == CKR_OK)
            rv = tpm_rv (t, prep (*sys, handle, arg), what);
        if (rv == CKR_OK)
            rv = fast_execute_inlock (t, s, cc, &name, NULL, k->auth, encrypt, what);
        if (rv != TPM_FAST_RETRY)
            break;
        rv = CKR_OK;
    }
    if (s != &t->fast)
        tpm_sess_release_inlock (t, s, t->esys != NULL); /* when prepare failed */
    return rv;
}

/* NV_Read / NV_Increment of an index authorizing itself with an empty auth
 * (a token counter, core/tpm/counter.c), in the signing session: the caller
 * gives the index's Name as it must be, never read from the TPM, so that the
 * session's HMACs fail for an index of other attributes; the response's HMAC
 * makes the value read trustworthy. One TPM command. */
CK_RV
tpm_fast_nv_inlock (tpm *t, TPM2_HANDLE index, const TPM2B_NAME *name, bool increment,
                    uint8_t *out, uint16_t size)
{
    TSS2_SYS_CONTEXT *sys = NULL;
    TPM2B_MAX_NV_BUFFER data = { 0 };
    CK_RV rv = tpm_fast_begin_inlock (t);
    const char *what =
        increment ? "incrementing the token's counter" : "reading the token's counter";

    if (rv == CKR_OK && (sys = tpm_sys_of (t)) == NULL)
        rv = CKR_FUNCTION_FAILED;
    while (rv == CKR_OK) {
        TSS2_RC r = increment ? Tss2_Sys_NV_Increment_Prepare (sys, index, index)
                              : Tss2_Sys_NV_Read_Prepare (sys, index, index, size, 0);
        rv = tpm_rv (t, r, what);
        if (rv == CKR_OK)
            rv = fast_execute_inlock (t, &t->fast,
                                      increment ? TPM2_CC_NV_Increment : TPM2_CC_NV_Read, name,
                                      name, NULL, false, what);
        if (rv != TPM_FAST_RETRY)
            break;
        rv = CKR_OK;
    }
    if (rv == CKR_OK && !increment) {
        rv = tpm_rv (t, Tss2_Sys_NV_Read_Complete (sys, &data), what);
        if (rv == CKR_OK && data.size != size)
            rv = CKR_DEVICE_ERROR;
        if (rv == CKR_OK)
            memcpy (out, data.buffer, size);
    }
    return rv;
}
