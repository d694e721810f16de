/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM layer: ECDSA keys: creation (P-256, P-384), their public points,
 * signing on the hot path.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_sys.h>

#define LOG_MODULE "tpm"
#include "base/config-file.h"
#include "crypto/crypto.h"
#include "base/log.h"
#include "pkcs11-tpmtrust.h"
#include "tpm/tpm.h"
#include "tpm/internal.h"

struct sign_args {
    const TPM2B_DIGEST *digest;
    const TPMT_SIG_SCHEME *scheme;
    const TPMT_TK_HASHCHECK *ticket;
};

static TSS2_RC
prep_sign (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    const struct sign_args *a = arg;
    return Tss2_Sys_Sign_Prepare (sys, key, a->digest, a->scheme, a->ticket);
}

static size_t
curve_bytes (TPMI_ECC_CURVE curve)
{
    return curve == TPM2_ECC_NIST_P384 ? 48 : curve == TPM2_ECC_NIST_P256 ? 32 : 0;
}

CK_RV
tpm_ec_point_from_public (const TPM2B_PUBLIC *p, uint8_t *point, size_t *point_len)
{
    const TPMS_ECC_POINT *u = &p->publicArea.unique.ecc;
    size_t n = curve_bytes (p->publicArea.parameters.eccDetail.curveID);

    if (n == 0 || u->x.size > n || u->y.size > n || *point_len < 1 + 2 * n)
        return CKR_DATA_INVALID;
    memset (point, 0, 1 + 2 * n);
    point[0] = 0x04;
    memcpy (point + 1 + n - u->x.size, u->x.buffer, u->x.size);
    memcpy (point + 1 + 2 * n - u->y.size, u->y.buffer, u->y.size);
    *point_len = 1 + 2 * n;
    return CKR_OK;
}

CK_RV
tpm_pub_summary (const tpm_blob *pub, uint16_t *type, uint16_t *curve, size_t *policy_len)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    if (rv != CKR_OK)
        return CKR_DATA_INVALID;
    *type = p.publicArea.type;
    *curve = p.publicArea.type == TPM2_ALG_ECC ? p.publicArea.parameters.eccDetail.curveID : 0;
    *policy_len = p.publicArea.authPolicy.size;
    return CKR_OK;
}

CK_RV
tpm_ec_public (const tpm_blob *pub, tpm_curve *curve, uint8_t *point, size_t *point_len)
{
    TPM2B_PUBLIC p = { 0 };
    CK_RV rv = tpm_blob_unmarshal (pub, NULL, &p, NULL);
    if (rv != CKR_OK || p.publicArea.type != TPM2_ALG_ECC)
        return CKR_DATA_INVALID;
    *curve = (tpm_curve) p.publicArea.parameters.eccDetail.curveID;
    return tpm_ec_point_from_public (&p, point, point_len);
}

CK_RV
tpm_ec_create (tpm *t, tpm_curve curve, const secbuf *auth, const tpm_policy *pol, bool derive,
               tpm_blob *pub, tpm_blob *priv, uint8_t *point, size_t *point_len)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_PUBLIC tmpl = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                                | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                                | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT,
            .parameters.eccDetail = {
                .symmetric = { .algorithm = TPM2_ALG_NULL },
                .scheme = { .scheme = TPM2_ALG_NULL },
                .curveID = (TPMI_ECC_CURVE) curve,
                .kdf = { .scheme = TPM2_ALG_NULL },
            },
        },
    };
    TPM2B_PUBLIC *out_pub = NULL;
    CK_RV rv = tpm_auth_from_secbuf (auth, &in.sensitive.userAuth);

    if (derive)
        tmpl.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT; /* ECDH_ZGen */
    if (rv == CKR_OK)
        rv = tpm_create (t, &in, &tmpl, pol, "creating an ECC key", pub, priv, &out_pub);
    sodium_memzero (&in, sizeof in);
    if (rv == CKR_OK)
        rv = tpm_ec_point_from_public (out_pub, point, point_len);
    Esys_Free (out_pub);
    if (rv != CKR_OK) {
        tpm_blob_clear (pub);
        tpm_blob_clear (priv);
    }
    return rv;
}

CK_RV
tpm_ec_sign (tpm *t, const tpm_key *k, const uint8_t *digest, size_t digest_len, uint8_t *sig,
             size_t *sig_len)
{
    TPM2B_DIGEST d = { .size = (UINT16) digest_len };
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
    TPMT_TK_HASHCHECK ticket = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE out = { 0 };
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv;

    if (digest_len == 32)
        scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    else if (digest_len == 48)
        scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA384;
    else
        return CKR_ARGUMENTS_BAD;
    if (*sig_len < 2 * digest_len)
        return CKR_BUFFER_TOO_SMALL;
    memcpy (d.buffer, digest, digest_len);

    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* the hot path: one TPM2_Sign in our own HMAC session (a PCR-bound
         * key: in a policy session) */
        TSS2_SYS_CONTEXT *sys = NULL;
        struct sign_args a = { &d, &scheme, &ticket };
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_Sign, prep_sign, &a, k, false, "signing", &sys);
        if (rv == CKR_OK && Tss2_Sys_Sign_Complete (sys, &out) != TSS2_RC_SUCCESS)
            rv = CKR_FUNCTION_FAILED;
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK) {
        const TPM2B_ECC_PARAMETER *rr = &out.signature.ecdsa.signatureR;
        const TPM2B_ECC_PARAMETER *ss = &out.signature.ecdsa.signatureS;
        if (rr->size > digest_len || ss->size > digest_len) {
            rv = CKR_FUNCTION_FAILED;
        } else {
            memset (sig, 0, 2 * digest_len);
            memcpy (sig + digest_len - rr->size, rr->buffer, rr->size);
            memcpy (sig + 2 * digest_len - ss->size, ss->buffer, ss->size);
            *sig_len = 2 * digest_len;
        }
    }
    return rv;
}

static TSS2_RC
prep_zgen (TSS2_SYS_CONTEXT *sys, TPM2_HANDLE key, void *arg)
{
    return Tss2_Sys_ECDH_ZGen_Prepare (sys, key, arg);
}

CK_RV
tpm_ecdh_zgen (tpm *t, const tpm_key *k, const uint8_t *peer, size_t peer_len, secbuf **z)
{
    TPM2B_ECC_POINT in = { 0 }, out = { 0 };
    ESYS_TR h = ESYS_TR_NONE;
    size_t n = (peer_len - 1) / 2;
    CK_RV rv;

    *z = NULL;
    if (peer_len < 3 || peer[0] != 0x04 || peer_len != 1 + 2 * n || n > sizeof in.point.x.buffer)
        return CKR_ARGUMENTS_BAD;
    in.point.x.size = in.point.y.size = (UINT16) n;
    memcpy (in.point.x.buffer, peer + 1, n);
    memcpy (in.point.y.buffer, peer + 1 + n, n);

    pthread_mutex_lock (&t->lock);
again:
    rv = tpm_key_get_inlock (t, k, &h);
    if (rv == CKR_OK) {
        /* one TPM2_ECDH_ZGen in our own session, the shared point
         * response-encrypted (a PCR-bound key: in a policy session) */
        TSS2_SYS_CONTEXT *sys = NULL;
        rv = tpm_fast_call_inlock (t, h, TPM2_CC_ECDH_ZGen, prep_zgen, &in, k, true,
                                   "computing an ECDH shared secret", &sys);
        if (rv == CKR_OK && Tss2_Sys_ECDH_ZGen_Complete (sys, &out) != TSS2_RC_SUCCESS)
            rv = CKR_FUNCTION_FAILED;
        if (sys != NULL)
            tpm_fast_wipe_response (sys);
    }
    tpm_key_put_inlock (t, &h);
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    if (rv == CKR_OK && (out.point.x.size > n || (*z = secbuf_new (n)) == NULL))
        rv = out.point.x.size > n ? CKR_FUNCTION_FAILED : CKR_HOST_MEMORY;
    if (rv == CKR_OK) /* the x-coordinate as a field element: left-padded */
        memcpy ((*z)->data + n - out.point.x.size, out.point.x.buffer, out.point.x.size);
    sodium_memzero (&out, sizeof out);
    return rv;
}
