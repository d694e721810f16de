/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TPM side of attestation snapshots: see attest-tpm.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#define LOG_MODULE "attest"
#include "tpm/attest.h"
#include "base/config-file.h"
#include "crypto/crypto.h"
#include "base/log.h"
#include "tpm/internal.h"

/* The AK template (docs/attestation.md). */
static const TPM2B_PUBLIC ak_template = {
    .publicArea = {
        .type = TPM2_ALG_ECC,
        .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                            | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH
                            | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED
                            | TPMA_OBJECT_SIGN_ENCRYPT,
        .parameters.eccDetail = {
            .symmetric = { .algorithm = TPM2_ALG_NULL },
            .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
            .curveID = TPM2_ECC_NIST_P256,
            .kdf = { .scheme = TPM2_ALG_NULL },
        },
    },
};

/* TCG EK Credential Profile: PolicySecret(TPM_RH_ENDORSEMENT) */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

#define EK_ATTRS                                                                                 \
    (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN           \
     | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)

typedef struct ek_kind {
    const char *name;
    TPM2_HANDLE cert_index, persistent;
    TPMI_ALG_PUBLIC type;
} ek_kind;

static const ek_kind ek_kinds[] = {
    { "ECC P-256 (template L-2)", 0x01c0000a, 0x81010002, TPM2_ALG_ECC },
    { "RSA 2048 (template L-1)", 0x01c00002, 0x81010001, TPM2_ALG_RSA },
};

static TPM2B_PUBLIC
ek_template (const ek_kind *k)
{
    TPM2B_PUBLIC p = { .publicArea = { .type = k->type, .nameAlg = TPM2_ALG_SHA256,
                                       .objectAttributes = EK_ATTRS } };
    TPMT_PUBLIC *a = &p.publicArea;

    a->authPolicy.size = sizeof ek_policy;
    memcpy (a->authPolicy.buffer, ek_policy, sizeof ek_policy);
    if (k->type == TPM2_ALG_ECC) {
        a->parameters.eccDetail.symmetric = (TPMT_SYM_DEF_OBJECT) {
            .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
        };
        a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        a->unique.ecc.x.size = 32;
        a->unique.ecc.y.size = 32;
    } else {
        a->parameters.rsaDetail.symmetric = (TPMT_SYM_DEF_OBJECT) {
            .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB
        };
        a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        a->parameters.rsaDetail.keyBits = 2048;
        a->parameters.rsaDetail.exponent = 0;
        a->unique.rsa.size = 256;
    }
    return p;
}

static bool
same_symmetric (const TPMT_SYM_DEF_OBJECT *a, const TPMT_SYM_DEF_OBJECT *b)
{
    return a->algorithm == b->algorithm
           && (a->algorithm == TPM2_ALG_NULL
               || (a->keyBits.aes == b->keyBits.aes && a->mode.aes == b->mode.aes));
}

/* Everything but the unique field (the key itself) matches. */
static bool
same_template (const TPMT_PUBLIC *a, const TPMT_PUBLIC *b)
{
    const TPMS_ECC_PARMS *ea = &a->parameters.eccDetail, *eb = &b->parameters.eccDetail;
    const TPMS_RSA_PARMS *ra = &a->parameters.rsaDetail, *rb = &b->parameters.rsaDetail;

    if (a->type != b->type || a->nameAlg != b->nameAlg
        || a->objectAttributes != b->objectAttributes || a->authPolicy.size != b->authPolicy.size
        || memcmp (a->authPolicy.buffer, b->authPolicy.buffer, a->authPolicy.size) != 0)
        return false;
    if (a->type == TPM2_ALG_ECC)
        return same_symmetric (&ea->symmetric, &eb->symmetric)
               && ea->scheme.scheme == eb->scheme.scheme
               && (ea->scheme.scheme == TPM2_ALG_NULL
                   || ea->scheme.details.ecdsa.hashAlg == eb->scheme.details.ecdsa.hashAlg)
               && ea->curveID == eb->curveID && ea->kdf.scheme == eb->kdf.scheme;
    return a->type == TPM2_ALG_RSA && same_symmetric (&ra->symmetric, &rb->symmetric)
           && ra->scheme.scheme == rb->scheme.scheme && ra->keyBits == rb->keyBits
           && (ra->exponent ? ra->exponent : 65537) == (rb->exponent ? rb->exponent : 65537);
}

/* A loaded AK or EK: flushed at the end unless it is persistent (then closed). */
typedef struct loaded {
    ESYS_TR h;
    bool persistent;
    TPM2B_PUBLIC *pub; /* Esys-allocated */
} loaded;

static void
loaded_drop (tpm *t, loaded *l)
{
    if (l->h != ESYS_TR_NONE && t->esys != NULL) {
        if (l->persistent)
            Esys_TR_Close (t->esys, &l->h);
        else
            tpm_flush_inlock (t, &l->h);
    }
    l->h = ESYS_TR_NONE;
    l->persistent = false;
    Esys_Free (l->pub);
    l->pub = NULL;
}

/* The object at a persistent handle when it was made from tmpl. */
static bool
persistent_match (tpm *t, TPM2_HANDLE handle, const TPM2B_PUBLIC *tmpl, loaded *out)
{
    if (handle == 0 || !tpm_handle_exists_inlock (t, handle))
        return false;
    if (Esys_TR_FromTPMPublic (t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out->h)
            == TSS2_RC_SUCCESS
        && Esys_ReadPublic (t->esys, out->h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out->pub,
                            NULL, NULL)
               == TSS2_RC_SUCCESS
        && same_template (&out->pub->publicArea, &tmpl->publicArea)) {
        out->persistent = true;
        return true;
    }
    LOG_INFO ("persistent handle 0x%08x holds another key: deriving it instead", handle);
    out->persistent = true;
    loaded_drop (t, out);
    return false;
}

static CK_RV
create_primary_inlock (tpm *t, ESYS_TR hierarchy, const TPM2B_PUBLIC *tmpl, const char *what,
                       loaded *out)
{
    TPM2B_SENSITIVE_CREATE in = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION none = { 0 };
    TSS2_RC r;
    CK_RV rv;

    /* the AK, the EK, the SRK and a key to certify: make room (a TPM may have
     * only 3 object slots, and cached keys hold some) */
    tpm_cache_flush_inlock (t);
    tpm_track_begin (t);
    r = Esys_CreatePrimary (t->esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in,
                            tmpl, &outside, &none, &out->h, &out->pub, NULL, NULL, NULL);
    tpm_track_end (t, r == TSS2_RC_SUCCESS ? out->h : ESYS_TR_NONE);
    rv = tpm_rv (t, r, what);
    if (rv == CKR_PIN_INCORRECT) {
        LOG_ERROR ("%s: the endorsement hierarchy has an auth value: the AK and EK need it empty "
                   "(or persist them with tpm2-tools)",
                   what);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv != CKR_OK)
        out->h = ESYS_TR_NONE;
    return rv;
}

static uint32_t
ak_handle_setting (void)
{
    const char *v = getenv ("TPMTRUST_AK_HANDLE");
    if (v == NULL || v[0] == '\0')
        v = config_get ("ak_handle");
    return v ? (uint32_t) strtoul (v, NULL, 0) : 0;
}

/* Connects; first drops what this process kept loaded when the TPM was
 * restarted since the last call: the primaries made here come before any use
 * of that state, and would be left in the TPM when it failed the call. */
static CK_RV
connect_inlock (tpm *t)
{
    tpm_check_state_inlock (t, "attestation");
    return tpm_connect_inlock (t);
}

static CK_RV
ak_load_inlock (tpm *t, loaded *ak)
{
    CK_RV rv = connect_inlock (t);
    if (rv != CKR_OK || persistent_match (t, ak_handle_setting (), &ak_template, ak))
        return rv;
    return create_primary_inlock (t, ESYS_TR_RH_ENDORSEMENT, &ak_template, "deriving the AK", ak);
}

static CK_RV
public_blob (const TPM2B_PUBLIC *p, tpm_blob *out)
{
    uint8_t buf[sizeof *p];
    size_t off = 0;

    if (Tss2_MU_TPM2B_PUBLIC_Marshal (p, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    if ((out->data = malloc (off)) == NULL)
        return CKR_HOST_MEMORY;
    memcpy (out->data, buf, off);
    out->len = off;
    return CKR_OK;
}

/* Reads NV index into cert (malloc'd) in chunks. */
static CK_RV
nv_read_all_inlock (tpm *t, TPM2_HANDLE index, tpm_blob *cert)
{
    TPM2B_NV_PUBLIC *info = NULL;
    ESYS_TR nv = ESYS_TR_NONE;
    size_t size = 0;
    CK_RV rv = tpm_rv (t, Esys_TR_FromTPMPublic (t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE,
                                                 ESYS_TR_NONE, &nv),
                       "opening the EK certificate NV index");
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_NV_ReadPublic (t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                            &info, NULL),
                     "reading the EK certificate's NV public area");
    if (rv == CKR_OK) {
        size = info->nvPublic.dataSize;
        cert->data = malloc (size ? size : 1);
        rv = cert->data ? CKR_OK : CKR_HOST_MEMORY;
    }
    for (size_t off = 0; rv == CKR_OK && off < size;) {
        TPM2B_MAX_NV_BUFFER *data = NULL;
        UINT16 want = (UINT16) (size - off > 512 ? 512 : size - off);
        rv = tpm_rv (t, Esys_NV_Read (t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE, want, (UINT16) off, &data),
                     "reading the EK certificate");
        if (rv == CKR_OK && data->size != want)
            rv = CKR_FUNCTION_FAILED;
        if (rv == CKR_OK) {
            memcpy (cert->data + off, data->buffer, want);
            off += want;
        }
        Esys_Free (data);
    }
    /* NV certificates are often padded: keep the DER SEQUENCE's own length */
    if (rv == CKR_OK && size >= 4 && cert->data[0] == 0x30 && cert->data[1] == 0x82) {
        size_t der = 4 + ((size_t) cert->data[2] << 8 | cert->data[3]);
        if (der < size)
            size = der;
    }
    if (rv == CKR_OK)
        cert->len = size;
    else
        tpm_blob_clear (cert);
    Esys_Free (info);
    if (nv != ESYS_TR_NONE && t->esys != NULL)
        Esys_TR_Close (t->esys, &nv);
    return rv;
}

/* The EK (see attest-tpm.h); cert (may be NULL) receives its certificate. */
static CK_RV
ek_load_inlock (tpm *t, loaded *ek, tpm_blob *cert)
{
    const ek_kind *k = &ek_kinds[0];
    TPM2B_PUBLIC tmpl;
    CK_RV rv = connect_inlock (t);

    for (size_t i = 0; rv == CKR_OK && i < sizeof ek_kinds / sizeof ek_kinds[0]; i++)
        if (tpm_handle_exists_inlock (t, ek_kinds[i].cert_index)) {
            k = &ek_kinds[i];
            if (cert != NULL)
                rv = nv_read_all_inlock (t, k->cert_index, cert);
            break;
        }
    if (rv != CKR_OK)
        return rv;
    LOG_DEBUG ("EK: %s", k->name);
    tmpl = ek_template (k);
    if (persistent_match (t, k->persistent, &tmpl, ek))
        return CKR_OK;
    return create_primary_inlock (t, ESYS_TR_RH_ENDORSEMENT, &tmpl, "deriving the EK", ek);
}

CK_RV
tpm_ak_public (tpm *t, tpm_blob *pub)
{
    loaded ak = { ESYS_TR_NONE, false, NULL };
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    do { /* once more when the TPM was restarted under us (tpm_retry_inlock) */
        tpm_blob_clear (pub);
        rv = ak_load_inlock (t, &ak);
        if (rv == CKR_OK)
            rv = public_blob (ak.pub, pub);
        loaded_drop (t, &ak);
    } while (tpm_retry_inlock (t, rv));
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_ak_persist (tpm *t, uint32_t handle)
{
    loaded ak = { ESYS_TR_NONE, false, NULL };
    ESYS_TR out = ESYS_TR_NONE;
    CK_RV rv;

    if (handle < 0x81000000 || handle > 0x817fffff)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock (&t->lock);
again:
    rv = connect_inlock (t);
    if (rv == CKR_OK && persistent_match (t, handle, &ak_template, &ak)) {
        LOG_INFO ("the AK is persistent at 0x%08x already", handle);
    } else if (rv == CKR_OK && tpm_handle_exists_inlock (t, handle)) {
        LOG_ERROR ("persistent handle 0x%08x holds another object: choose a free one "
                   "('tpm2_getcap handles-persistent')",
                   handle);
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    } else if (rv == CKR_OK) {
        rv = create_primary_inlock (t, ESYS_TR_RH_ENDORSEMENT, &ak_template, "deriving the AK",
                                    &ak);
        if (rv == CKR_OK)
            rv = tpm_rv (t, Esys_EvictControl (t->esys, ESYS_TR_RH_OWNER, ak.h, ESYS_TR_PASSWORD,
                                               ESYS_TR_NONE, ESYS_TR_NONE, handle, &out),
                         "making the AK persistent");
        if (out != ESYS_TR_NONE && t->esys != NULL)
            Esys_TR_Close (t->esys, &out);
        out = ESYS_TR_NONE;
    }
    loaded_drop (t, &ak);
    if (tpm_retry_inlock (t, rv))
        goto again;
    tpm_unlock (t);
    return rv;
}

CK_RV
tpm_ek_public (tpm *t, tpm_blob *pub, tpm_blob *cert)
{
    loaded ek = { ESYS_TR_NONE, false, NULL };
    CK_RV rv;

    pthread_mutex_lock (&t->lock);
    do {
        tpm_blob_clear (pub);
        tpm_blob_clear (cert);
        rv = ek_load_inlock (t, &ek, cert);
        if (rv == CKR_OK)
            rv = public_blob (ek.pub, pub);
        loaded_drop (t, &ek);
    } while (tpm_retry_inlock (t, rv));
    tpm_unlock (t);
    if (rv != CKR_OK)
        tpm_blob_clear (cert);
    return rv;
}

void
tpm_attest_result_clear (tpm_attest_result *r)
{
    tpm_blob_clear (&r->ak_pub);
    tpm_blob_clear (&r->ek_pub);
    tpm_blob_clear (&r->ek_cert);
    tpm_blob_clear (&r->quote);
    tpm_blob_clear (&r->quote_sig);
    for (size_t i = 0; i < TPM_AK_MAX_KEYS; i++) {
        tpm_blob_clear (&r->certify[i]);
        tpm_blob_clear (&r->certify_sig[i]);
    }
    r->pcr_len = 0;
}

/* The attestation (its TPMS_ATTEST bytes) and signature, marshalled. */
static CK_RV
attest_blobs (const TPM2B_ATTEST *a, const TPMT_SIGNATURE *s, tpm_blob *att, tpm_blob *sig)
{
    uint8_t buf[sizeof *s];
    size_t off = 0;

    if (Tss2_MU_TPMT_SIGNATURE_Marshal (s, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
        return CKR_FUNCTION_FAILED;
    att->data = malloc (a->size ? a->size : 1);
    sig->data = malloc (off);
    if (att->data == NULL || sig->data == NULL)
        return CKR_HOST_MEMORY;
    memcpy (att->data, a->attestationData, a->size);
    att->len = a->size;
    memcpy (sig->data, buf, off);
    sig->len = off;
    return CKR_OK;
}

static CK_MECHANISM_TYPE
hash_mech (uint16_t alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return CKM_SHA_1;
    case TPM2_ALG_SHA256:
        return CKM_SHA256;
    case TPM2_ALG_SHA384:
        return CKM_SHA384;
    case TPM2_ALG_SHA512:
        return CKM_SHA512;
    default:
        return CKM_VENDOR_DEFINED;
    }
}

/* The quoted PCR digest is the hash of the values read: nothing changed in
 * between. TPM2_Quote hashes them with the signing scheme's hash (hash), not
 * with the bank's algorithm. */
static bool
quote_matches (const TPM2B_ATTEST *a, TPMI_ALG_HASH hash, const uint8_t *values, size_t len)
{
    TPMS_ATTEST q;
    crypto_digest *d = NULL;
    uint8_t digest[64];
    size_t off = 0;
    bool ok = false;

    if (Tss2_MU_TPMS_ATTEST_Unmarshal (a->attestationData, a->size, &off, &q) != TSS2_RC_SUCCESS)
        return false;
    if (crypto_digest_new (hash_mech (hash), &d) == CKR_OK
        && crypto_digest_update (d, values, len) == CKR_OK
        && crypto_digest_final (d, digest) == CKR_OK)
        ok = q.attested.quote.pcrDigest.size == crypto_digest_size (hash_mech (hash))
             && memcmp (digest, q.attested.quote.pcrDigest.buffer,
                        q.attested.quote.pcrDigest.size)
                    == 0;
    crypto_digest_free (d);
    return ok;
}

static CK_RV
quote_inlock (tpm *t, ESYS_TR ak, const TPM2B_DATA *nonce, tpm_pcrs pcrs, tpm_attest_result *out)
{
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA,
                               .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
    TPML_PCR_SELECTION sel = pcrs.mask ? tpm_pcr_selection (pcrs) : (TPML_PCR_SELECTION) { 0 };
    CK_RV rv = CKR_OK;

    /* Another process may extend a PCR between the read and the quote: retry. */
    for (int attempt = 0; attempt < 5; attempt++) {
        TPM2B_ATTEST *quoted = NULL;
        TPMT_SIGNATURE *sig = NULL;
        out->pcr_len = sizeof out->pcr_values;
        rv = pcrs.mask ? tpm_pcr_read_inlock (t, pcrs, out->pcr_values, &out->pcr_len) : CKR_OK;
        if (pcrs.mask == 0)
            out->pcr_len = 0;
        if (rv == CKR_OK)
            rv = tpm_rv (t, Esys_Quote (t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        nonce, &scheme, &sel, &quoted, &sig),
                         "quoting PCRs");
        if (rv == CKR_OK && pcrs.mask != 0
            && !quote_matches (quoted, scheme.details.ecdsa.hashAlg, out->pcr_values,
                               out->pcr_len)) {
            LOG_INFO ("a PCR changed between reading and quoting: quoting again");
            rv = CKR_FUNCTION_FAILED;
            Esys_Free (quoted);
            Esys_Free (sig);
            continue;
        }
        if (rv == CKR_OK)
            rv = attest_blobs (quoted, sig, &out->quote, &out->quote_sig);
        Esys_Free (quoted);
        Esys_Free (sig);
        return rv;
    }
    LOG_ERROR ("the PCRs kept changing while they were quoted");
    return rv;
}

static CK_RV
certify_inlock (tpm *t, ESYS_TR ak, const TPM2B_DATA *nonce, const tpm_key *k, tpm_blob *att,
                tpm_blob *sig)
{
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA,
                               .details.ecdsa.hashAlg = TPM2_ALG_SHA256 };
    TPM2B_ATTEST *info = NULL;
    TPMT_SIGNATURE *s = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    CK_RV rv = tpm_load_inlock (t, k->pub, k->priv, k->auth, &h);

    /* Certify needs the key's ADMIN role: its auth value (no adminWithPolicy),
     * in the salted session; a PCR-bound key is certified whatever its PCRs. */
    if (rv == CKR_OK)
        rv = tpm_session_inlock (t, 0);
    if (rv == CKR_OK) {
        rv = tpm_rv (t, Esys_Certify (t->esys, h, ak, t->session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      nonce, &scheme, &info, &s),
                     "certifying a key with the AK");
        tpm_session_failed (t, rv);
    }
    tpm_unload_inlock (t, &h);
    if (rv == CKR_OK)
        rv = attest_blobs (info, s, att, sig);
    Esys_Free (info);
    Esys_Free (s);
    return rv;
}

CK_RV
tpm_attest (tpm *t, const uint8_t *nonce, size_t nonce_len, tpm_pcrs pcrs, const tpm_key *keys,
            size_t n_keys, tpm_attest_result *out)
{
    loaded ak = { ESYS_TR_NONE, false, NULL }, ek = { ESYS_TR_NONE, false, NULL };
    TPM2B_DATA q = { .size = (UINT16) nonce_len };
    CK_RV rv;

    memset (out, 0, sizeof *out);
    if (nonce_len == 0 || nonce_len > sizeof q.buffer || n_keys > TPM_AK_MAX_KEYS
        || (pcrs.mask & ~0xffffffu) != 0)
        return CKR_ARGUMENTS_BAD;
    memcpy (q.buffer, nonce, nonce_len);
    pthread_mutex_lock (&t->lock);
again:
    /* the EK first, flushed before the AK and keys take the slots */
    rv = ek_load_inlock (t, &ek, &out->ek_cert);
    if (rv == CKR_OK)
        rv = public_blob (ek.pub, &out->ek_pub);
    loaded_drop (t, &ek);
    if (rv == CKR_OK)
        rv = ak_load_inlock (t, &ak);
    if (rv == CKR_OK)
        rv = public_blob (ak.pub, &out->ak_pub);
    if (rv == CKR_OK)
        rv = quote_inlock (t, ak.h, &q, pcrs, out);
    for (size_t i = 0; rv == CKR_OK && i < n_keys; i++)
        rv = certify_inlock (t, ak.h, &q, &keys[i], &out->certify[i], &out->certify_sig[i]);
    loaded_drop (t, &ak);
    if (tpm_retry_inlock (t, rv)) {
        /* the TPM was restarted (or cleared) since the last call: what the
         * connection had loaded is gone and it was closed; all over again */
        tpm_attest_result_clear (out);
        goto again;
    }
    tpm_unlock (t);
    if (rv != CKR_OK)
        tpm_attest_result_clear (out);
    return rv;
}

CK_RV
tpm_activate_credential (tpm *t, const uint8_t *id_object, size_t id_len,
                         const uint8_t *enc_secret, size_t enc_len, uint8_t *out, size_t *out_len)
{
    loaded ak = { ESYS_TR_NONE, false, NULL }, ek = { ESYS_TR_NONE, false, NULL };
    TPM2B_ID_OBJECT blob = { 0 };
    TPM2B_ENCRYPTED_SECRET secret = { 0 };
    TPMT_SYM_DEF none = { .algorithm = TPM2_ALG_NULL };
    TPM2B_DIGEST *cred = NULL;
    ESYS_TR s = ESYS_TR_NONE;
    size_t o1 = 0, o2 = 0;
    CK_RV rv;

    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal (id_object, id_len, &o1, &blob) != TSS2_RC_SUCCESS
        || o1 != id_len
        || Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal (enc_secret, enc_len, &o2, &secret)
               != TSS2_RC_SUCCESS
        || o2 != enc_len)
        return CKR_DATA_INVALID;
    pthread_mutex_lock (&t->lock);
again:
    rv = ek_load_inlock (t, &ek, NULL);
    if (rv == CKR_OK)
        rv = ak_load_inlock (t, &ak);
    /* the EK is used under its policy: PolicySecret (endorsement hierarchy) */
    if (rv == CKR_OK) {
        TSS2_RC r;
        tpm_track_begin (t);
        r = Esys_StartAuthSession (t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, &s);
        tpm_track_end (t, r == TSS2_RC_SUCCESS ? s : ESYS_TR_NONE);
        rv = tpm_rv (t, r, "starting the EK's policy session");
    }
    if (rv == CKR_OK)
        rv = tpm_rv (t, Esys_PolicySecret (t->esys, ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD,
                                           ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL,
                                           NULL),
                     "PolicySecret (endorsement)");
    if (rv == CKR_OK) {
        TSS2_RC r = Esys_ActivateCredential (t->esys, ak.h, ek.h, ESYS_TR_PASSWORD, s,
                                             ESYS_TR_NONE, &blob, &secret, &cred);
        if (r != TSS2_RC_SUCCESS) {
            LOG_ERROR ("activating the credential failed (%s): it was not made for this TPM's "
                       "EK and AK",
                       Tss2_RC_Decode (r));
            rv = tpm_rv (t, r, "activating the credential");
            if (rv != CKR_DEVICE_ERROR)
                rv = CKR_FUNCTION_FAILED;
        }
    }
    tpm_flush_inlock (t, &s);
    loaded_drop (t, &ak);
    loaded_drop (t, &ek);
    if (tpm_retry_inlock (t, rv)) {
        Esys_Free (cred); /* none: it failed */
        cred = NULL;
        goto again;
    }
    tpm_unlock (t);
    if (rv == CKR_OK && (cred->size > *out_len))
        rv = CKR_BUFFER_TOO_SMALL;
    if (rv == CKR_OK) {
        memcpy (out, cred->buffer, cred->size);
        *out_len = cred->size;
    }
    Esys_Free (cred);
    return rv;
}
