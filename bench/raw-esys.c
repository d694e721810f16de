/* SPDX-License-Identifier: BSD-2-Clause */
/* The raw limits of the TPM: ESAPI calls with password auth, no module in
 * between, and libsodium for Ed25519; the handles left in the TPM. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "bench.h"

static ESYS_CONTEXT *esys;
static TSS2_TCTI_CONTEXT *tcti;
static const TPM2B_AUTH key_auth = { .size = 5, .buffer = "bench" };

static bool
esys_ok (TSS2_RC rc, const char *what)
{
    if (rc == TSS2_RC_SUCCESS)
        return true;
    fprintf (stderr, "tpmtrust-bench: %s: %s (0x%x)\n", what, Tss2_RC_Decode (rc), rc);
    return false;
}

bool
esys_open (void)
{
    const char *conf = getenv ("TPMTRUST_TCTI");
    if (!esys_ok (Tss2_TctiLdr_Initialize (conf, &tcti), "Tss2_TctiLdr_Initialize"))
        return false;
    if (!esys_ok (Esys_Initialize (&esys, tcti, NULL), "Esys_Initialize")) {
        Tss2_TctiLdr_Finalize (&tcti);
        return false;
    }
    return true;
}

void
esys_close (void)
{
    if (esys != NULL)
        Esys_Finalize (&esys);
    if (tcti != NULL)
        Tss2_TctiLdr_Finalize (&tcti);
}

static bool
create_primary (ESYS_TR *out)
{
    TPM2B_SENSITIVE_CREATE in_sens = { 0 };
    TPM2B_PUBLIC in_pub = {
        .publicArea = {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
            .parameters.eccDetail = {
                .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
                               .mode.aes = TPM2_ALG_CFB },
                .scheme = { .scheme = TPM2_ALG_NULL },
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = { .scheme = TPM2_ALG_NULL },
            },
        },
    };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    return esys_ok (Esys_CreatePrimary (esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &in_sens, &in_pub, &outside, &pcrs, out,
                                        NULL, NULL, NULL, NULL),
                    "Esys_CreatePrimary");
}

TPM2B_PRIVATE *raw_priv[RAW_N];
static TPM2B_PUBLIC *raw_pub[RAW_N];

/* The three keys, created once (blobs kept; the primary is deterministic). */
bool
create_raw_keys (void)
{
    ESYS_TR primary;
    bool ok = true;
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION pcrs = { 0 };
    const TPMA_OBJECT base = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                             TPMA_OBJECT_USERWITHAUTH;
    TPM2B_PUBLIC pub[RAW_N] = {
        [RAW_ECDSA].publicArea = {
            .type = TPM2_ALG_ECC, .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = base | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT,
            .parameters.eccDetail = {
                .symmetric = { .algorithm = TPM2_ALG_NULL },
                .scheme = { .scheme = TPM2_ALG_ECDSA,
                            .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                .curveID = TPM2_ECC_NIST_P256,
                .kdf = { .scheme = TPM2_ALG_NULL },
            },
        },
        [RAW_HMAC].publicArea = {
            .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = base | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT,
            .parameters.keyedHashDetail.scheme = {
                .scheme = TPM2_ALG_HMAC, .details.hmac.hashAlg = TPM2_ALG_SHA256 },
        },
        [RAW_SEAL].publicArea = {
            .type = TPM2_ALG_KEYEDHASH, .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = base,
            .parameters.keyedHashDetail.scheme = { .scheme = TPM2_ALG_NULL },
        },
    };

    if (!create_primary (&primary))
        return false;
    for (int i = 0; i < RAW_N && ok; i++) {
        TPM2B_SENSITIVE_CREATE sens = { 0 };
        sens.sensitive.userAuth = key_auth;
        if (i == RAW_SEAL) {
            sens.sensitive.data.size = 32;
            randombytes_buf (sens.sensitive.data.buffer, 32);
        }
        ok = esys_ok (Esys_Create (esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &sens, &pub[i], &outside, &pcrs, &raw_priv[i], &raw_pub[i],
                                   NULL, NULL, NULL),
                      "Esys_Create");
    }
    Esys_FlushContext (esys, primary);
    return ok;
}

/* Loads key i (the primary is flushed again at once: swtpm has 3 slots). */
static bool
load_raw (int i, ESYS_TR *key)
{
    ESYS_TR primary;
    bool ok;
    if (!create_primary (&primary))
        return false;
    ok = esys_ok (Esys_Load (esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             raw_priv[i], raw_pub[i], key),
                  "Esys_Load");
    Esys_FlushContext (esys, primary);
    if (ok)
        ok = esys_ok (Esys_TR_SetAuth (esys, *key, &key_auth), "Esys_TR_SetAuth");
    return ok;
}

bool
op_esys_sign (void *arg)
{
    ESYS_TR key = *(ESYS_TR *) arg;
    TPM2B_DIGEST digest = { .size = 32 };
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
    TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
    TPMT_SIGNATURE *sig = NULL;
    memset (digest.buffer, 0x5a, 32);
    if (!esys_ok (Esys_Sign (esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                             &scheme, &validation, &sig),
                  "Esys_Sign"))
        return false;
    Esys_Free (sig);
    return true;
}

bool
op_esys_hmac (void *arg)
{
    ESYS_TR key = *(ESYS_TR *) arg;
    TPM2B_MAX_BUFFER buf = { .size = 64 };
    TPM2B_DIGEST *out = NULL;
    memset (buf.buffer, 0xa5, 64);
    if (!esys_ok (Esys_HMAC (esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf,
                             TPM2_ALG_SHA256, &out),
                  "Esys_HMAC"))
        return false;
    Esys_Free (out);
    return true;
}

bool
op_esys_unseal (void *arg)
{
    ESYS_TR obj = *(ESYS_TR *) arg;
    TPM2B_SENSITIVE_DATA *out = NULL;
    if (!esys_ok (Esys_Unseal (esys, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &out),
                  "Esys_Unseal"))
        return false;
    Esys_Free (out);
    return true;
}

bool
op_esys_random (void *arg)
{
    TPM2B_DIGEST *out = NULL;
    (void) arg;
    if (!esys_ok (Esys_GetRandom (esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 32, &out),
                  "Esys_GetRandom"))
        return false;
    Esys_Free (out);
    return true;
}

unsigned char sodium_sk[crypto_sign_SECRETKEYBYTES];

bool
op_sodium (void *arg)
{
    unsigned char msg[32] = { 1 }, sig[crypto_sign_BYTES];
    (void) arg;
    return crypto_sign_detached (sig, NULL, msg, sizeof msg, sodium_sk) == 0;
}

double
raw_key_rate (int i, op_fn op)
{
    ESYS_TR key;
    double r;
    if (!load_raw (i, &key))
        return V_ERROR;
    r = rate (op, &key);
    Esys_FlushContext (esys, key);
    return r;
}

/* Handles of one kind (TPM2_TRANSIENT_FIRST, TPM2_LOADED_SESSION_FIRST,
 * TPM2_ACTIVE_SESSION_FIRST) currently in the TPM; -1 on error. */
long
tpm_handle_count (TPM2_HC first)
{
    TPMI_YES_NO more;
    TPMS_CAPABILITY_DATA *cap = NULL;
    long n;
    if (!esys_ok (Esys_GetCapability (esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more, &cap),
                  "Esys_GetCapability"))
        return -1;
    n = (long) cap->data.handles.count;
    Esys_Free (cap);
    return n;
}

void
raw_keys_free (void)
{
    for (int i = 0; i < RAW_N; i++) {
        Esys_Free (raw_priv[i]);
        Esys_Free (raw_pub[i]);
    }
}
