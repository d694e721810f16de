/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: RSA keys: creation (2048, 3072 bits, exponent 65537), their
 * modulus, and the raw RSA private operation (TPM2_RSA_Decrypt with the NULL
 * scheme) on the hot path. The padding (PKCS#1 v1.5, PSS) is made in
 * software by the caller (core/keys/rsa.c): TPMs' own RSAPSS scheme uses the
 * largest salt, and TLS 1.3 needs salt = hash length.
 */
#include "config.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_sys.h>

#define LOG_MODULE "tpm"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "tpm/tpm.h"
#include "tpm/internal.h"

static CK_RV
modulus_from_public (const TPM2B_PUBLIC *p, uint8_t *n, size_t *n_len)
{
    const TPM2B_PUBLIC_KEY_RSA *u = &p->publicArea.unique.rsa;
    size_t k = p->publicArea.parameters.rsaDetail.keyBits / 8;

    if (p->publicArea.type != TPM2_ALG_RSA || k == 0 || u->size > k || *n_len < k)
        return CKR_DATA_INVALID;
    memset (n, 0, k);
    memcpy (n + k - u->size, u->buffer, u->size);
    *n_len = k;
    return CKR_OK;
}

CK_RV
tpm_rsa_public (const tpm_blob *pub, uint8_t *n, size_t *n_len)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    if (rv != CKR_OK)
        return CKR_DATA_INVALID;
    return modulus_from_public (&p, n, n_len);
}

CK_RV
tpm_rsa_create (tpm *t, unsigned bits, const secbuf *auth, const tpm_policy *pol, tpm_blob *pub,
                tpm_blob *priv, uint8_t *n, size_t *n_len)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_RSA,
            .nameAlg = TPM2_ALG_SHA256,
            /* sign|decrypt with the NULL scheme: RSA_Decrypt(NULL) is the raw
             * private operation, for signatures and decryption alike */
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT
                                | TPMA_OBJECT_DECRYPT,
            .parameters.rsaDetail = {
                .symmetric = { .algorithm = TPM2_ALG_NULL },
                .scheme = { .scheme = TPM2_ALG_NULL },
                .keyBits = (TPMI_RSA_KEY_BITS) bits,
                .exponent = 0, /* 65537 */
            },
        },
    };
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv = tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);

    if (rv == CKR_OK)
        rv = tpm_create (t, &in, &tmpl, pol, "creating an RSA key", pub, priv, &out_pub);
    sodium_memzero (&in, sizeof in);
    if (rv == CKR_OK)
        rv = modulus_from_public (out_pub, n, n_len);
    Esys_Free (out_pub);
    if (rv != CKR_OK) {
        tpm_blob_clear (pub);
        tpm_blob_clear (priv);
    }
    return rv;
}

struct raw_args {
    const TPM2B_PUBLIC_KEY_RSA *in;
    const TPMT_RSA_DECRYPT *scheme;
    const TPM2B_DATA *label;
};

static TSS2_RC
prep_raw (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    const struct raw_args *a = arg;
    return Tss2_Sys_RSA_Decrypt_Prepare (sys, key, a->in, a->scheme, a->label);
}

CK_RV
tpm_rsa_raw (tpm *t, const tpm_key *k, const uint8_t *in, size_t len, bool secret, uint8_t *out,
             size_t *out_len)
{
    TPM2B_PUBLIC_KEY_RSA c = { .size = (UINT16) len }, m = { 0 };
    TPMT_RSA_DECRYPT scheme = { .scheme = TPM2_ALG_NULL };
    TPM2B_DATA label = { 0 };
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    if (len == 0 || len > sizeof c.buffer || *out_len < len)
        return CKR_ARGUMENTS_BAD;
    memcpy (c.buffer, in, len);

    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* the hot path: one TPM2_RSA_Decrypt in our own session; a secret
         * result (a decryption) comes back response-encrypted */
        TSS2_SYS_CONTEXT *sys = NULL;
        struct raw_args a = { &c, &scheme, &label };
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_RSA_Decrypt, prep_raw, &a, k, secret,
                                   secret ? "decrypting with an RSA key"
                                          : "signing with an RSA key",
                                   &sys);
        if (rv == CKR_OK && Tss2_Sys_RSA_Decrypt_Complete (sys, &m) != TSS2_RC_SUCCESS)
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL && secret)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK && m.size > len)
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK) { /* the result as an integer of the modulus' size: left-padded */
        memset (out, 0, len);
        memcpy (out + len - m.size, m.buffer, m.size);
        *out_len = len;
    }
    sodium_memzero (&m, sizeof m);
    return rv;
}

CK_RV
tpm_rsa_bits_supported (tpm *t, unsigned bits, bool *ok)
{
    TPMT_PUBLIC_PARMS parms = {
        .type = TPM2_ALG_RSA,
        .parameters.rsaDetail = {
            .symmetric = { .algorithm = TPM2_ALG_NULL },
            .scheme = { .scheme = TPM2_ALG_NULL },
            .keyBits = (TPMI_RSA_KEY_BITS) bits,
        },
    };
    TSS2_RC r;
    CK_RV rv;

    *ok = false;
    pthread_mutex_lock (&t->lock);
    rv = tpm_connect_inlock (t);
    if (rv == CKR_OK) {
        r = Esys_TestParms (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms);
        *ok = r == TSS2_RC_SUCCESS;
        if (!*ok && (r & TSS2_RC_LAYER_MASK) != 0 && (r & TSS2_RC_LAYER_MASK) != TSS2_RESMGR_TPM_RC_LAYER)
            rv = tpm_rv (t, r, "asking the TPM about RSA key sizes");
    }
    tpm_unlock (t);
    return rv;
}
