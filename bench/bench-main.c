/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-bench [MODULE]          the whole benchmark (bench/run-bench.sh
 *                                  prepares the TPM, tokens and keys first)
 * tpmtrust-bench --abrmd [MODULE]  only the rows measured through tpm2-abrmd
 *                                  (run while tpm2-abrmd owns the swtpm)
 *
 * Throughput, latency, TPM command counts, whole-process time and memory
 * growth of the tpmtrust PKCS#11 module, next to the raw limits of the same
 * TPM measured in the same round, and, when given, the same figures for
 * tpm2-pkcs11 and SoftHSM. Prints Markdown on standard output. Figures are
 * reported, never asserted: the exit status is 0 when every row could be
 * measured (or its module is not installed), 1 when some measurement failed.
 *
 * Environment:
 *   TPMTRUST_TCTI       TCTI of the raw ESAPI part and of tpmtrust (required)
 *   TT_MODULE           tpmtrust, when no MODULE argument is given
 *   TT_TOKEN / TT_PIN   token label (default "bench") and user PIN ("1234"),
 *                       the same in every module
 *   BENCH_TPM2_PKCS11_MODULE  tpm2-pkcs11 (its TCTI is TPM2_PKCS11_TCTI, its
 *                       store TPM2_PKCS11_STORE: run-bench.sh sets both)
 *   BENCH_SOFTHSM_MODULE      SoftHSM (SOFTHSM2_CONF)
 *   BENCH_ROUNDS        rounds (default 5); each throughput is measured once
 *                       a round and the median over the rounds is printed
 *   BENCH_SECS          seconds per throughput measurement and round (0.5)
 *   BENCH_LAT_RUNS      fresh processes for the latencies (default 5)
 *   BENCH_TOOL_RUNS     fresh `pkcs11-tool --login --sign` runs per module (5)
 *   BENCH_MEM_SIGS      Ed25519 signatures of the memory run (100000)
 *   BENCH_MEM_TPM_SIGS  ECDSA and HMAC signatures of the memory run (500 each)
 *   BENCH_MEM_WARMUP    ECDSA and HMAC signatures before it (100 each)
 *   BENCH_ABRMD_MD      Markdown written by a --abrmd run, printed after the
 *                       first table
 *   BENCH_TMPDIR        captures and scratch files (default /tmp);
 *                       BENCH_KEEP_PCAP=1 keeps the captures
 *
 * Keys, found by label in every module's token: bench-ec (ECDSA P-256,
 * CKA_ID 01: `pkcs11-tool --sign` selects by id), bench-ed (Ed25519, 02),
 * bench-hmac (HMAC secret key, 03). tpmtrust's are made by
 * tpmtrust-tool; in the other modules the program generates what is missing
 * (a key a module cannot make is reported as "not supported", with the
 * reason under the table).
 *
 * swtpm serves one connection at a time, so the raw ESAPI context and a
 * module are never open together: each round opens ESAPI, measures, flushes
 * and closes it, then each module is measured in a fresh child process
 * (C_Initialize .. C_Finalize). tpm2-pkcs11 persists a primary key at
 * 0x81000001 and keeps objects loaded, so run-bench.sh gives it its own swtpm.
 *
 * Sub-modes (fork+exec of this binary; MODULE is the module's path):
 *   --sub setup MODULE         generate the missing keys; prints NOTE lines
 *   --sub rates MODULE SPEC    SPEC "ecdsa:1,hmac:2,...": mechanism:threads;
 *                              prints "RATE ecdsa:1 ops/s" (-2: no key)
 *   --sub signer MODULE MECH   one signing process: prints READY, waits for a
 *                              byte on stdin, signs BENCH_SECS, prints
 *                              "DONE count seconds"
 *   --sub latency MODULE       prints "LAT init_us login_us sign_us"
 *   --sub phase-a MODULE       dlopen + C_Initialize + C_GetSlotList + C_Finalize
 *   --sub phase-bc MODULE MECH C_Initialize .. first signature (b), 100 more
 *                              (c), C_Finalize (d); with the pcap TCTI prints
 *                              "PCAP b c d" command counts read from
 *                              $TCTI_PCAP_FILE, and per command code
 *   --sub mem MODULE           RSS and heap before and after BENCH_MEM_SIGS
 *                              cached Ed25519 and BENCH_MEM_TPM_SIGS ECDSA and
 *                              HMAC signatures
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "base/ck.h"
#include "tests/module/helpers.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))
#define MAX_ROUNDS 50
#define MAX_RUNS 100
#define PCAP_SIGS 100

/* Special values of a measurement (a measured one is > 0). */
#define V_ERROR (-1.0)      /* tried and failed */
#define V_UNSUPPORTED (-2.0) /* the module cannot make or use that key */
#define V_ABSENT (-3.0)      /* the module is not installed */

static const char *self_path, *module_path, *token_label = "bench", *pin = "1234";
static const char *tmp_dir = "/tmp";
static int rounds = 5, lat_runs = 5, tool_runs = 5;
static long mem_sigs = 100000, mem_tpm_sigs = 500, mem_warmup = 100;
static double secs = 0.5;

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
median (const double *v, int n)
{
    double t[MAX_RUNS];
    if (n <= 0)
        return V_ERROR;
    memcpy (t, v, (size_t) n * sizeof *t);
    qsort (t, (size_t) n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Median, min and max of the positive values among v[0..n-1]; count kept. */
static int
stats (const double *v, int n, double *med, double *mn, double *mx)
{
    double t[MAX_RUNS];
    int k = 0;
    *mn = 1e300;
    *mx = -1;
    for (int i = 0; i < n; i++)
        if (v[i] > 0) {
            t[k++] = v[i];
            *mn = v[i] < *mn ? v[i] : *mn;
            *mx = v[i] > *mx ? v[i] : *mx;
        }
    *med = k ? median (t, k) : V_ERROR;
    return k;
}

/* ====================================================================== */
/* Raw ESAPI limits                                                        */
/* ====================================================================== */

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

static bool
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

static void
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

enum { RAW_ECDSA, RAW_HMAC, RAW_SEAL, RAW_N };
static TPM2B_PRIVATE *raw_priv[RAW_N];
static TPM2B_PUBLIC *raw_pub[RAW_N];

/* The three keys, created once (blobs kept; the primary is deterministic). */
static bool
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

/* Operations per second of op(arg) (true = ok) for secs seconds. */
typedef bool (*op_fn) (void *arg);

static double
rate (op_fn op, void *arg)
{
    double t0, t;
    long n = 0;
    if (!op (arg)) /* warm-up, not counted */
        return V_ERROR;
    t0 = now ();
    do {
        if (!op (arg))
            return V_ERROR;
        n++;
        t = now ();
    } while (t - t0 < secs);
    return (double) n / (t - t0);
}

static bool
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

static bool
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

static bool
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

static bool
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

static unsigned char sodium_sk[crypto_sign_SECRETKEYBYTES];

static bool
op_sodium (void *arg)
{
    unsigned char msg[32] = { 1 }, sig[crypto_sign_BYTES];
    (void) arg;
    return crypto_sign_detached (sig, NULL, msg, sizeof msg, sodium_sk) == 0;
}

static double
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
static long
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

/* ====================================================================== */
/* A module, in a child process                                            */
/* ====================================================================== */

static CK_FUNCTION_LIST *F;
static CK_SLOT_ID slot;

static bool
ck_ok (CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return true;
    fprintf (stderr, "tpmtrust-bench: %s: rv 0x%lx\n", what, (unsigned long) rv);
    return false;
}

static bool
bench_load (void)
{
    return F != NULL || module_load ("tpmtrust-bench", module_path, &F);
}

static bool
module_init (void)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    return ck_ok (F->C_Initialize (&args), "C_Initialize");
}

static bool
find_slot (void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = N_ELEM (slots);
    if (!ck_ok (F->C_GetSlotList (CK_TRUE, slots, &n), "C_GetSlotList"))
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33];
        size_t len;
        if (F->C_GetTokenInfo (slots[i], &ti) != CKR_OK)
            continue;
        memcpy (label, ti.label, 32);
        label[32] = '\0';
        len = 32;
        while (len > 0 && label[len - 1] == ' ')
            label[--len] = '\0';
        if (strcmp (label, token_label) == 0) {
            slot = slots[i];
            return true;
        }
    }
    fprintf (stderr, "tpmtrust-bench: %s: no token labelled '%s'\n", module_path, token_label);
    return false;
}

static bool
open_session (CK_SESSION_HANDLE *s)
{
    return ck_ok (F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s),
                  "C_OpenSession");
}

static bool
login (CK_SESSION_HANDLE s)
{
    CK_RV rv = F->C_Login (s, CKU_USER, (CK_UTF8CHAR_PTR) pin, (CK_ULONG) strlen (pin));
    if (rv == CKR_USER_ALREADY_LOGGED_IN)
        rv = CKR_OK;
    return ck_ok (rv, "C_Login");
}

/* C_Initialize, the token, one session, C_Login. */
static bool
module_open (CK_SESSION_HANDLE *s)
{
    return bench_load () && module_init () && find_slot () && open_session (s) && login (*s);
}

/* 1 found, 0 not there, -1 error. */
static int
find_key (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *) label, (CK_ULONG) strlen (label) },
    };
    CK_ULONG n = 0;
    if (!ck_ok (F->C_FindObjectsInit (s, tmpl, N_ELEM (tmpl)), "C_FindObjectsInit"))
        return -1;
    if (!ck_ok (F->C_FindObjects (s, out, 1, &n), "C_FindObjects")) {
        F->C_FindObjectsFinal (s);
        return -1;
    }
    F->C_FindObjectsFinal (s);
    return n == 1;
}

/* The three mechanisms every module is measured with. */
enum { K_ECDSA, K_HMAC, K_ED, K_N };
static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_OBJECT_CLASS cls;
    const char *label;
    CK_ULONG in_len;
    CK_BYTE id; /* CKA_ID: pkcs11-tool --sign selects a key by --id only */
} kinds[K_N] = {
    [K_ECDSA] = { "ecdsa", CKM_ECDSA, CKO_PRIVATE_KEY, "bench-ec", 32, 1 },
    [K_HMAC] = { "hmac", CKM_SHA256_HMAC, CKO_SECRET_KEY, "bench-hmac", 64, 3 },
    [K_ED] = { "ed", CKM_EDDSA, CKO_PRIVATE_KEY, "bench-ed", 32, 2 },
};

static int
kind_of (const char *name)
{
    for (int k = 0; k < K_N; k++)
        if (strcmp (kinds[k].name, name) == 0)
            return k;
    return -1;
}

struct sign_arg {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    int kind;
    double deadline; /* threads */
    long count;
    bool failed;
};

static bool
op_ck_sign (void *p)
{
    struct sign_arg *a = p;
    CK_MECHANISM m = { kinds[a->kind].mech, NULL, 0 };
    CK_BYTE in[64], sig[256];
    CK_ULONG n = sizeof sig;
    memset (in, 0x3c, sizeof in);
    if (!ck_ok (F->C_SignInit (a->s, &m, a->key), "C_SignInit"))
        return false;
    return ck_ok (F->C_Sign (a->s, in, kinds[a->kind].in_len, sig, &n), "C_Sign");
}

static void *
sign_thread (void *p)
{
    struct sign_arg *a = p;
    while (now () < a->deadline) {
        if (!op_ck_sign (a)) {
            a->failed = true;
            break;
        }
        a->count++;
    }
    return NULL;
}

/* nthreads sessions signing in parallel for secs seconds; total ops/s. */
static double
threaded_rate (const struct sign_arg *proto, const CK_SESSION_HANDLE *sessions, int nthreads)
{
    pthread_t th[2];
    struct sign_arg a[2];
    double t0, t1;
    long total = 0;
    for (int i = 0; i < nthreads; i++) {
        a[i] = *proto;
        a[i].s = sessions[i];
        a[i].count = 0;
        a[i].failed = false;
        if (!op_ck_sign (&a[i])) /* warm-up */
            return V_ERROR;
    }
    t0 = now ();
    for (int i = 0; i < nthreads; i++) {
        a[i].deadline = t0 + secs;
        pthread_create (&th[i], NULL, sign_thread, &a[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join (th[i], NULL);
    t1 = now ();
    for (int i = 0; i < nthreads; i++) {
        if (a[i].failed)
            return V_ERROR;
        total += a[i].count;
    }
    return (double) total / (t1 - t0);
}

/* ====================================================================== */
/* pcapng command counting                                                 */
/* ====================================================================== */

static uint32_t
le32 (const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint32_t
be32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Handles in the handle area of the commands whose sessions we inspect. */
static int
cc_handles (uint32_t cc)
{
    switch (cc) {
    case 0x155: /* HMAC */
    case 0x15D: /* Sign */
    case 0x15E: /* Unseal */
        return 1;
    default:
        return -1;
    }
}

/* True if the authorization area of command cmd (len bytes, tag 0x8002)
 * holds a session with the encrypt attribute: the TPM encrypts the first
 * response parameter (TPM 2.0 Part 1, 21.2; Part 3, authorization area). */
static bool
cmd_response_encrypted (const unsigned char *cmd, size_t len, int handles)
{
    size_t off = 10 + 4 * (size_t) handles, end;
    if (handles < 0 || off + 4 > len)
        return false;
    end = off + 4 + be32 (cmd + off);
    off += 4;
    if (end > len)
        return false;
    while (off + 4 + 2 <= end) {
        size_t nonce = (size_t) cmd[off + 4] << 8 | cmd[off + 5];
        size_t at = off + 6 + nonce, hmac;
        if (at + 3 > end)
            return false;
        if (cmd[at] & 0x40) /* TPMA_SESSION_ENCRYPT */
            return true;
        hmac = (size_t) cmd[at + 1] << 8 | cmd[at + 2];
        off = at + 3 + hmac;
    }
    return false;
}

/*
 * tcti-pcap (tpm2-tss 3.2.1) writes pcapng: a section header block
 * (0x0A0D0D0A, little-endian here), an interface description block (LINKTYPE
 * raw IPv4), then one enhanced packet block (type 6) per TPM command and per
 * response, each a fake IPv4 + TCP packet, host port 50000 -> TPM port 2321
 * for commands, the reverse for responses, TPM bytes as the TCP payload.
 * Counts commands: packets to port 2321 whose payload is a TPM command
 * header (tag 0x8001/0x8002, size, code 0x11F..0x1FF); hist[code - 0x100]
 * counts them per code and enc[] those asking for response encryption.
 * -1 if unreadable.
 */
static long
pcap_count_commands (const char *path, long *responses, long *hist, long *enc)
{
    FILE *f = fopen (path, "rb");
    unsigned char *buf;
    long size, cmds = 0, rsps = 0;
    size_t off = 0;
    if (f == NULL) {
        /* tcti-pcap creates the file at the TCTI's initialisation: no file
         * means the TCTI was never opened, so no command was sent. */
        if (errno == ENOENT) {
            if (responses != NULL)
                *responses = 0;
            return 0;
        }
        return -1;
    }
    fseek (f, 0, SEEK_END);
    size = ftell (f);
    rewind (f);
    buf = malloc ((size_t) size + 1);
    if (buf == NULL || fread (buf, 1, (size_t) size, f) != (size_t) size) {
        fclose (f);
        free (buf);
        return -1;
    }
    fclose (f);
    while (off + 12 <= (size_t) size) {
        uint32_t type = le32 (buf + off), len = le32 (buf + off + 4);
        if (len < 12 || len % 4 != 0 || off + len > (size_t) size)
            break;
        if (type == 6 && len >= 32) {
            const unsigned char *pkt = buf + off + 28;
            uint32_t caplen = le32 (buf + off + 20);
            if (caplen <= len - 32 && caplen >= 20 && (pkt[0] >> 4) == 4) {
                size_t ihl = (size_t) (pkt[0] & 15) * 4;
                if (pkt[9] == 6 && caplen >= ihl + 20) {
                    const unsigned char *tcp = pkt + ihl;
                    unsigned dport = (unsigned) tcp[2] << 8 | tcp[3];
                    size_t thl = (size_t) (tcp[12] >> 4) * 4;
                    const unsigned char *tpm = tcp + thl;
                    size_t tlen = caplen >= ihl + thl ? caplen - ihl - thl : 0;
                    if (tlen >= 10) {
                        unsigned tag = (unsigned) tpm[0] << 8 | tpm[1];
                        uint32_t code = be32 (tpm + 6);
                        if (tag == 0x8001 || tag == 0x8002) {
                            if (dport == 2321 && code >= 0x11F && code <= 0x1FF) {
                                cmds++;
                                if (hist != NULL)
                                    hist[code - 0x100]++;
                                if (enc != NULL && tag == 0x8002
                                    && cmd_response_encrypted (tpm, tlen, cc_handles (code)))
                                    enc[code - 0x100]++;
                            } else if (dport != 2321) {
                                rsps++;
                            }
                        }
                    }
                }
            }
        }
        off += len;
    }
    free (buf);
    if (responses != NULL)
        *responses = rsps;
    return cmds;
}

static const char *
cc_name (unsigned cc)
{
    switch (cc) {
    case 0x12C: return "HierarchyChangeAuth";
    case 0x131: return "CreatePrimary";
    case 0x13E: return "SequenceComplete";
    case 0x144: return "Startup";
    case 0x153: return "Create";
    case 0x155: return "HMAC";
    case 0x157: return "Load";
    case 0x158: return "Quote";
    case 0x15B: return "SequenceUpdate";
    case 0x15D: return "Sign";
    case 0x15E: return "Unseal";
    case 0x161: return "ContextLoad";
    case 0x162: return "ContextSave";
    case 0x165: return "FlushContext";
    case 0x167: return "LoadExternal";
    case 0x16B: return "PolicyOR";
    case 0x16C: return "PolicyAuthValue";
    case 0x16F: return "PolicyPassword";
    case 0x173: return "ReadPublic";
    case 0x176: return "StartAuthSession";
    case 0x177: return "VerifySignature";
    case 0x17A: return "GetCapability";
    case 0x17B: return "GetRandom";
    case 0x17E: return "PCR_Read";
    case 0x17F: return "PolicyPCR";
    case 0x181: return "ReadClock";
    case 0x183: return "PolicyCommandCode";
    case 0x18A: return "TestParms";
    case 0x189: return "PolicyGetDigest";
    case 0x191: return "CreateLoaded";
    default: return NULL;
    }
}

/* ====================================================================== */
/* Child processes                                                         */
/* ====================================================================== */

/* The modules measured. tcti_var: the environment variable holding the
 * module's TCTI (wrapped by pcap: for the captures); NULL without a TPM. */
enum { T_RAW, T_TT, T_TP11, T_SH, N_T };
static struct target {
    const char *name;
    const char *module;
    const char *tcti_var;
    char notes[1024];
} targets[N_T] = {
    [T_RAW] = { "raw", NULL, NULL, "" },
    [T_TT] = { "tpmtrust", NULL, "TPMTRUST_TCTI", "" },
    [T_TP11] = { "tpm2-pkcs11", NULL, "TPM2_PKCS11_TCTI", "" },
    [T_SH] = { "SoftHSM", NULL, NULL, "" },
};

struct child {
    pid_t pid;
    int to, from; /* its stdin and stdout */
};

/*
 * fork+exec "self --sub MODE MODULE [ARG]" for target t. env: "NAME=value"
 * added to the child's environment, or NULL. pcap_file: route the target's
 * TCTI through the pcap TCTI into that file.
 */
static bool
child_start (struct child *c, const char *mode, int t, const char *arg, const char *env,
             const char *pcap_file)
{
    int in[2], out[2];
    if (pipe (in) != 0)
        return false;
    if (pipe (out) != 0) {
        close (in[0]);
        close (in[1]);
        return false;
    }
    c->pid = fork ();
    if (c->pid < 0) {
        close (in[0]);
        close (in[1]);
        close (out[0]);
        close (out[1]);
        return false;
    }
    if (c->pid == 0) {
        dup2 (in[0], STDIN_FILENO);
        dup2 (out[1], STDOUT_FILENO);
        close (in[0]);
        close (in[1]);
        close (out[0]);
        close (out[1]);
        if (pcap_file != NULL) {
            const char *var = targets[t].tcti_var, *v = var ? getenv (var) : NULL;
            char *w;
            if (v == NULL || asprintf (&w, "pcap:%s", v) < 0)
                _exit (2);
            setenv (var, w, 1);
            setenv ("TCTI_PCAP_FILE", pcap_file, 1);
        }
        if (env != NULL)
            putenv (strdup (env));
        execl (self_path, self_path, "--sub", mode, targets[t].module, arg, (char *) NULL);
        _exit (127);
    }
    close (in[0]);
    close (out[1]);
    c->to = in[1];
    c->from = out[0];
    return true;
}

/* Reads from fd until EOF (or a newline when line is true) into out. */
static size_t
read_fd (int fd, char *out, size_t outlen, bool line)
{
    size_t got = 0;
    ssize_t r;
    while (got + 1 < outlen) {
        r = read (fd, out + got, line ? 1 : outlen - 1 - got);
        if (r == 0)
            break;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t) r;
        if (line && out[got - 1] == '\n')
            break;
    }
    out[got] = '\0';
    return got;
}

/* Closes the pipes, waits; the exit status or -1. */
static int
child_finish (struct child *c)
{
    int status;
    if (c->to >= 0)
        close (c->to);
    if (c->from >= 0)
        close (c->from);
    c->to = c->from = -1;
    while (waitpid (c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Runs a sub-mode to its end; its stdout in out; the exit status. */
static int
run_sub (const char *mode, int t, const char *arg, const char *env, const char *pcap_file,
         char *out, size_t outlen)
{
    struct child c;
    out[0] = '\0';
    if (!child_start (&c, mode, t, arg, env, pcap_file))
        return -1;
    close (c.to);
    c.to = -1;
    read_fd (c.from, out, outlen, false);
    return child_finish (&c);
}

/* ====================================================================== */
/* Sub-modes                                                               */
/* ====================================================================== */

static void
note (const char *what, CK_RV rv)
{
    printf ("NOTE %s (rv 0x%lx)\n", what, (unsigned long) rv);
}

/* Generates the keys a module does not have yet (foreign modules). */
static int
sub_setup (void)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const CK_BYTE ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h, h2;
    CK_BBOOL yes = CK_TRUE;
    CK_RV rv;
    if (!module_open (&s))
        return 2;
    for (int k = 0; k < K_N; k++) {
        const char *label = kinds[k].label;
        CK_ULONG ll = (CK_ULONG) strlen (label);
        CK_BYTE id = kinds[k].id;
        int found = find_key (s, kinds[k].cls, label, &h);
        if (found != 0)
            continue;
        if (k == K_HMAC) {
            CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
            CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
            CK_ULONG len = 32;
            CK_BYTE value[32];
            CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
            CK_ATTRIBUTE t[] = {
                { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes },
                { CKA_SIGN, &yes, sizeof yes },  { CKA_VERIFY, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
                { CKA_VALUE_LEN, &len, sizeof len },
            };
            rv = F->C_GenerateKey (s, &m, t, N_ELEM (t), &h);
            if (rv == CKR_OK)
                continue;
            note ("HMAC key: C_GenerateKey(CKM_GENERIC_SECRET_KEY_GEN, 32 bytes) failed", rv);
            randombytes_buf (value, sizeof value);
            t[N_ELEM (t) - 1] = (CK_ATTRIBUTE) { CKA_VALUE, value, sizeof value };
            rv = F->C_CreateObject (s, t, N_ELEM (t), &h);
            if (rv != CKR_OK) {
                kt = CKK_SHA256_HMAC;
                rv = F->C_CreateObject (s, t, N_ELEM (t), &h);
            }
            sodium_memzero (value, sizeof value);
            if (rv != CKR_OK)
                note ("HMAC key: C_CreateObject(CKO_SECRET_KEY, CKK_GENERIC_SECRET and "
                      "CKK_SHA256_HMAC, CKA_VALUE 32 bytes) failed too",
                      rv);
        } else {
            CK_MECHANISM m = { k == K_ED ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
                               NULL, 0 };
            CK_ATTRIBUTE pub[] = {
                { CKA_EC_PARAMS, (void *) (k == K_ED ? ed25519 : p256),
                  k == K_ED ? sizeof ed25519 : sizeof p256 },
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_VERIFY, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
            };
            CK_ATTRIBUTE priv[] = {
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes },
                { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
            };
            rv = F->C_GenerateKeyPair (s, &m, pub, N_ELEM (pub), priv, N_ELEM (priv), &h2, &h);
            if (rv != CKR_OK)
                note (k == K_ED ? "Ed25519 key: C_GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, "
                                  "OID 1.3.101.112) failed"
                                : "ECDSA key: C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, P-256) failed",
                      rv);
        }
    }
    fflush (stdout);
    F->C_Finalize (NULL);
    return 0;
}

/* SPEC: "ecdsa:1,hmac:2,...". Prints "RATE ecdsa:1 ops/s" per item. */
static int
sub_rates (const char *spec)
{
    CK_SESSION_HANDLE s[2];
    char *copy = strdup (spec), *save = NULL;
    if (copy == NULL || !module_open (&s[0]) || !open_session (&s[1]))
        return 2;
    for (char *item = strtok_r (copy, ",", &save); item != NULL;
         item = strtok_r (NULL, ",", &save)) {
        char name[16];
        int threads = 1, k, found;
        struct sign_arg a = { .s = s[0] };
        double v;
        if (sscanf (item, "%15[a-z]:%d", name, &threads) != 2 || (k = kind_of (name)) < 0
            || threads < 1 || threads > 2)
            return 2;
        a.kind = k;
        found = find_key (s[0], kinds[k].cls, kinds[k].label, &a.key);
        if (found < 0)
            v = V_ERROR;
        else if (found == 0)
            v = V_UNSUPPORTED;
        else if (threads == 1)
            v = rate (op_ck_sign, &a);
        else
            v = threaded_rate (&a, s, threads);
        printf ("RATE %s %.3f\n", item, v);
    }
    fflush (stdout);
    free (copy);
    return ck_ok (F->C_Finalize (NULL), "C_Finalize") ? 0 : 2;
}

static int
sub_signer (const char *mech)
{
    CK_SESSION_HANDLE s;
    struct sign_arg a = { .kind = kind_of (mech) };
    char go;
    double t0, t;
    long n = 0;
    if (a.kind < 0 || !module_open (&s) || find_key (s, kinds[a.kind].cls,
                                                      kinds[a.kind].label, &a.key) != 1)
        return 2;
    a.s = s;
    if (!op_ck_sign (&a)) /* warm-up */
        return 2;
    printf ("READY\n");
    fflush (stdout);
    if (read (STDIN_FILENO, &go, 1) != 1)
        return 2;
    t0 = now ();
    do {
        if (!op_ck_sign (&a))
            return 2;
        n++;
        t = now ();
    } while (t - t0 < secs);
    printf ("DONE %ld %.6f\n", n, t - t0);
    fflush (stdout);
    return ck_ok (F->C_Finalize (NULL), "C_Finalize") ? 0 : 2;
}

static int
sub_latency (void)
{
    CK_SESSION_HANDLE s;
    struct sign_arg a = { .kind = K_ECDSA };
    double t0, t1, t2, t3, login_s;
    if (!bench_load ())
        return 2;
    t0 = now ();
    if (!module_init ())
        return 2;
    t1 = now ();
    if (!find_slot () || !open_session (&s))
        return 2;
    t2 = now ();
    if (!login (s))
        return 2;
    t3 = now ();
    login_s = t3 - t2;
    if (find_key (s, CKO_PRIVATE_KEY, kinds[K_ECDSA].label, &a.key) != 1)
        return 2;
    a.s = s;
    t2 = now ();
    if (!op_ck_sign (&a))
        return 2;
    t3 = now ();
    printf ("LAT %.0f %.0f %.0f\n", (t1 - t0) * 1e6, login_s * 1e6, (t3 - t2) * 1e6);
    fflush (stdout);
    F->C_Finalize (NULL);
    return 0;
}

static int
sub_phase_a (void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = N_ELEM (slots);
    if (!bench_load () || !module_init ())
        return 2;
    if (!ck_ok (F->C_GetSlotList (CK_TRUE, slots, &n), "C_GetSlotList"))
        return 2;
    return ck_ok (F->C_Finalize (NULL), "C_Finalize") ? 0 : 2;
}

static int
sub_phase_bc (const char *mech)
{
    const char *file = getenv ("TCTI_PCAP_FILE");
    CK_SESSION_HANDLE s;
    struct sign_arg a = { .kind = kind_of (mech) };
    long b, c, d, hb[256] = { 0 }, hc[256] = { 0 }, eb[256] = { 0 }, ec[256] = { 0 };
    if (file == NULL || a.kind < 0)
        return 2;
    if (!module_open (&s) || find_key (s, kinds[a.kind].cls, kinds[a.kind].label, &a.key) != 1)
        return 2;
    a.s = s;
    if (!op_ck_sign (&a))
        return 2;
    b = pcap_count_commands (file, NULL, hb, eb);
    for (int i = 0; i < PCAP_SIGS; i++)
        if (!op_ck_sign (&a))
            return 2;
    c = pcap_count_commands (file, NULL, hc, ec);
    if (!ck_ok (F->C_Finalize (NULL), "C_Finalize"))
        return 2;
    d = pcap_count_commands (file, NULL, NULL, NULL);
    printf ("PCAP %ld %ld %ld\n", b, c - b, d - c);
    for (int i = 0; i < 256; i++) {
        if (hb[i] != 0)
            printf ("CCB %x %ld\n", i + 0x100, hb[i]);
        if (hc[i] - hb[i] != 0)
            printf ("CCC %x %ld\n", i + 0x100, hc[i] - hb[i]);
        if (ec[i] - eb[i] != 0)
            printf ("ENC %x %ld\n", i + 0x100, ec[i] - eb[i]);
    }
    fflush (stdout);
    return 0;
}

/* Resident set (VmRSS) in KiB, -1 if unknown. */
static long
rss_kib (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line[256];
    long v = -1;
    if (f == NULL)
        return -1;
    while (fgets (line, sizeof line, f) != NULL)
        if (sscanf (line, "VmRSS: %ld", &v) == 1)
            break;
    fclose (f);
    return v;
}

/* Bytes allocated through malloc and still in use (glibc), -1 if unknown. */
static long
heap_bytes (void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2 ();
    return (long) (mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

/* Signs n times with kind k; false on the first failure. */
static bool
sign_n (struct sign_arg *a, long n)
{
    for (long i = 0; i < n; i++)
        if (!op_ck_sign (a))
            return false;
    return true;
}

/*
 * Memory: after a warm-up (so that caches, the TPM connection and the
 * allocator's arenas exist), mem_sigs cached Ed25519 signatures, then
 * mem_tpm_sigs ECDSA and mem_tpm_sigs HMAC signatures (each through the
 * TPM), each run in two halves. Prints "MEM rss heap" at the 7 checkpoints
 * (KiB, bytes): a leak grows in both halves, a cache filling up only in the
 * first.
 */
static int
sub_mem (void)
{
    static const int order[3] = { K_ED, K_ECDSA, K_HMAC };
    CK_SESSION_HANDLE s;
    struct sign_arg a[K_N];
    if (!module_open (&s))
        return 2;
    for (int k = 0; k < K_N; k++) {
        a[k] = (struct sign_arg) { .s = s, .kind = k };
        if (find_key (s, kinds[k].cls, kinds[k].label, &a[k].key) != 1)
            return 2;
    }
    if (!sign_n (&a[K_ED], 1000) || !sign_n (&a[K_ECDSA], mem_warmup)
        || !sign_n (&a[K_HMAC], mem_warmup))
        return 2;
    printf ("MEM %ld %ld\n", rss_kib (), heap_bytes ());
    for (int i = 0; i < 3; i++) {
        long n = order[i] == K_ED ? mem_sigs : mem_tpm_sigs;
        for (int half = 0; half < 2; half++) {
            if (!sign_n (&a[order[i]], half ? n - n / 2 : n / 2))
                return 2;
            printf ("MEM %ld %ld\n", rss_kib (), heap_bytes ());
        }
    }
    fflush (stdout);
    return ck_ok (F->C_Finalize (NULL), "C_Finalize") ? 0 : 2;
}

/* ====================================================================== */
/* Throughput rows                                                         */
/* ====================================================================== */

enum {
    R_SIGN, R_HMAC, R_UNSEAL, R_RANDOM, R_SODIUM,
    TT_EC1, TT_EC2, TT_HM1, TT_HM2, TT_EDC1, TT_EDC2, TT_EDU1, TT_EDU2,
    TP_EC1, TP_EC2, TP_HM1,
    SH_EC1, SH_EC2, SH_HM1, SH_ED1,
    A_SIGN, A_HMAC, A_UNSEAL, A_SODIUM,
    A_EC1P, A_EC2P, A_HM2P, A_EDC2P, A_EDU2P,
    N_ROWS
};

#define UNCACHED "TPMTRUST_ED25519_CACHE_USES=0"

/*
 * target T_RAW rows are measured in this process (raw: which raw limit);
 * the others by a child: par > 0 threads in one "rates" child, par < 0
 * that many "signer" processes at once.
 */
static const struct row {
    const char *name; /* exactly what was measured */
    int ref;          /* row of the raw limit this is divided by, -1: none */
    int target, kind, par;
    const char *env;
    bool abrmd; /* measured by the --abrmd run */
} rows[N_ROWS] = {
    [R_SIGN] = { "raw `Esys_Sign` ECDSA P-256, 32 B digest, password auth", -1, T_RAW, RAW_ECDSA },
    [R_HMAC] = { "raw `Esys_HMAC` SHA-256 over 64 B, password auth", -1, T_RAW, RAW_HMAC },
    [R_UNSEAL] = { "raw `Esys_Unseal` 32 B, password auth", -1, T_RAW, RAW_SEAL },
    [R_RANDOM] = { "raw `Esys_GetRandom` 32 B (TPM round trip)", -1, T_RAW, RAW_N },
    [R_SODIUM] = { "raw libsodium Ed25519 `crypto_sign_detached`, 32 B", -1, T_RAW, -1 },
    [TT_EC1] = { "tpmtrust CKM_ECDSA P-256 (C_SignInit + C_Sign, 32 B digest), 1 thread", R_SIGN,
                 T_TT, K_ECDSA, 1 },
    [TT_EC2] = { "tpmtrust CKM_ECDSA P-256, 2 threads, a session each (sum)", R_SIGN, T_TT, K_ECDSA,
                 2 },
    [TT_HM1] = { "tpmtrust CKM_SHA256_HMAC over 64 B, key in the TPM, result response-encrypted "
                 "(see captures), 1 thread",
                 R_HMAC, T_TT, K_HMAC, 1 },
    [TT_HM2] = { "tpmtrust CKM_SHA256_HMAC over 64 B, 2 threads (sum)", R_HMAC, T_TT, K_HMAC, 2 },
    [TT_EDC1] = { "tpmtrust CKM_EDDSA Ed25519 over 32 B, expanded seed cached (default), 1 thread",
                  R_SODIUM, T_TT, K_ED, 1 },
    [TT_EDC2] = { "tpmtrust CKM_EDDSA Ed25519, cached, 2 threads (sum)", R_SODIUM, T_TT, K_ED, 2 },
    [TT_EDU1] = { "tpmtrust CKM_EDDSA Ed25519, uncached (`" UNCACHED "`: seed unsealed per "
                  "signature), 1 thread",
                  R_UNSEAL, T_TT, K_ED, 1, UNCACHED },
    [TT_EDU2] = { "tpmtrust CKM_EDDSA Ed25519, uncached, 2 threads (sum)", R_UNSEAL, T_TT, K_ED, 2,
                  UNCACHED },
    [TP_EC1] = { "tpm2-pkcs11 CKM_ECDSA P-256, 32 B digest, 1 thread (own swtpm)", R_SIGN, T_TP11,
                 K_ECDSA, 1 },
    [TP_EC2] = { "tpm2-pkcs11 CKM_ECDSA P-256, 2 threads (sum)", R_SIGN, T_TP11, K_ECDSA, 2 },
    [TP_HM1] = { "tpm2-pkcs11 CKM_SHA256_HMAC over 64 B, 1 thread", R_HMAC, T_TP11, K_HMAC, 1 },
    [SH_EC1] = { "SoftHSM CKM_ECDSA P-256, 32 B digest, 1 thread (software)", -1, T_SH, K_ECDSA,
                 1 },
    [SH_EC2] = { "SoftHSM CKM_ECDSA P-256, 2 threads (sum)", -1, T_SH, K_ECDSA, 2 },
    [SH_HM1] = { "SoftHSM CKM_SHA256_HMAC over 64 B, 1 thread", -1, T_SH, K_HMAC, 1 },
    [SH_ED1] = { "SoftHSM CKM_EDDSA Ed25519 over 32 B, 1 thread", R_SODIUM, T_SH, K_ED, 1 },
    [A_SIGN] = { "raw `Esys_Sign` ECDSA P-256, password auth, through tpm2-abrmd", -1, T_RAW,
                 RAW_ECDSA, 0, NULL, true },
    [A_HMAC] = { "raw `Esys_HMAC` SHA-256 over 64 B, password auth, through tpm2-abrmd", -1, T_RAW,
                 RAW_HMAC, 0, NULL, true },
    [A_UNSEAL] = { "raw `Esys_Unseal` 32 B, password auth, through tpm2-abrmd", -1, T_RAW,
                   RAW_SEAL, 0, NULL, true },
    [A_SODIUM] = { "raw libsodium Ed25519, 32 B (measured in these rounds)", -1, T_RAW, -1, 0,
                   NULL, true },
    [A_EC1P] = { "tpmtrust CKM_ECDSA P-256, 1 process", A_SIGN, T_TT, K_ECDSA, -1, NULL, true },
    [A_EC2P] = { "tpmtrust CKM_ECDSA P-256, 2 processes at once (sum)", A_SIGN, T_TT, K_ECDSA, -2,
                 NULL, true },
    [A_HM2P] = { "tpmtrust CKM_SHA256_HMAC over 64 B, 2 processes (sum)", A_HMAC, T_TT, K_HMAC, -2,
                 NULL, true },
    [A_EDC2P] = { "tpmtrust CKM_EDDSA Ed25519, cached, 2 processes (sum)", A_SODIUM, T_TT, K_ED,
                  -2, NULL, true },
    [A_EDU2P] = { "tpmtrust CKM_EDDSA Ed25519, uncached, 2 processes (sum)", A_UNSEAL, T_TT, K_ED,
                  -2, UNCACHED, true },
};

static double res[N_ROWS][MAX_ROUNDS];

static const char *
ref_name (int ref)
{
    switch (ref) {
    case R_SIGN: case A_SIGN: return "`Esys_Sign`";
    case R_HMAC: case A_HMAC: return "`Esys_HMAC`";
    case R_UNSEAL: case A_UNSEAL: return "`Esys_Unseal`";
    case R_SODIUM: case A_SODIUM: return "libsodium";
    default: return "";
    }
}

static bool
present (int t)
{
    return t == T_RAW || targets[t].module != NULL;
}

/* The raw rows of this run, measured in this process. */
static bool
raw_round (int r, bool abrmd)
{
    static const op_fn ops[RAW_N + 1] = { op_esys_sign, op_esys_hmac, op_esys_unseal,
                                          op_esys_random };
    bool ok = esys_open ();
    if (ok && raw_priv[0] == NULL)
        ok = create_raw_keys ();
    for (int i = 0; i < N_ROWS; i++) {
        if (rows[i].target != T_RAW || rows[i].abrmd != abrmd)
            continue;
        if (rows[i].kind < 0)
            res[i][r] = rate (op_sodium, NULL);
        else if (!ok)
            res[i][r] = V_ERROR;
        else if (rows[i].kind == RAW_N)
            res[i][r] = rate (ops[RAW_N], NULL);
        else
            res[i][r] = raw_key_rate (rows[i].kind, ops[rows[i].kind]);
    }
    esys_close ();
    return ok;
}

/* All threaded rows of target t with environment env: one child. */
static bool
rates_round (int r, int t, const char *env, bool abrmd)
{
    char spec[256] = "", out[2048];
    const char *p;
    bool ok = true;
    int rc;
    for (int i = 0; i < N_ROWS; i++) {
        if (rows[i].target != t || rows[i].par <= 0 || rows[i].abrmd != abrmd
            || (rows[i].env == NULL) != (env == NULL))
            continue;
        res[i][r] = V_ERROR;
        snprintf (spec + strlen (spec), sizeof spec - strlen (spec), "%s%s:%d",
                  spec[0] ? "," : "", kinds[rows[i].kind].name, rows[i].par);
    }
    if (!spec[0])
        return true;
    rc = run_sub ("rates", t, spec, env, NULL, out, sizeof out);
    for (int i = 0; i < N_ROWS; i++) {
        char item[32];
        if (rows[i].target != t || rows[i].par <= 0 || rows[i].abrmd != abrmd
            || (rows[i].env == NULL) != (env == NULL))
            continue;
        snprintf (item, sizeof item, "RATE %s:%d ", kinds[rows[i].kind].name, rows[i].par);
        if ((p = strstr (out, item)) != NULL)
            res[i][r] = atof (p + strlen (item));
        if (res[i][r] == V_ERROR)
            ok = false;
    }
    if (rc != 0) {
        fprintf (stderr, "tpmtrust-bench: %s rates child (%s) exited %d\n", targets[t].name, spec,
                 rc);
        ok = false;
    }
    return ok;
}

/* -par signer processes at once; their summed ops/s. */
static double
procs_rate (const struct row *row)
{
    struct child c[2];
    int n = -row->par, started = 0;
    double total = 0;
    char line[128];
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        ok = child_start (&c[i], "signer", row->target, kinds[row->kind].name, row->env, NULL);
        started += ok;
    }
    for (int i = 0; i < started && ok; i++) {
        read_fd (c[i].from, line, sizeof line, true);
        ok = strcmp (line, "READY\n") == 0;
    }
    for (int i = 0; i < started && ok; i++)
        ok = write (c[i].to, "g", 1) == 1;
    for (int i = 0; i < started; i++) {
        long cnt;
        double el;
        if (ok) {
            read_fd (c[i].from, line, sizeof line, false);
            if (sscanf (line, "DONE %ld %lf", &cnt, &el) == 2 && el > 0)
                total += (double) cnt / el;
            else
                ok = false;
        }
        if (child_finish (&c[i]) != 0)
            ok = false;
    }
    return ok && started == n ? total : V_ERROR;
}

/* One round of the rows of this run (abrmd or not). */
static bool
measure_round (int r, bool abrmd)
{
    bool ok = raw_round (r, abrmd);
    for (int t = T_TT; t < N_T; t++) {
        if (!present (t)) {
            for (int i = 0; i < N_ROWS; i++)
                if (rows[i].target == t)
                    res[i][r] = V_ABSENT;
            continue;
        }
        ok = rates_round (r, t, NULL, abrmd) && ok;
        ok = rates_round (r, t, UNCACHED, abrmd) && ok;
    }
    for (int i = 0; i < N_ROWS; i++)
        if (rows[i].par < 0 && rows[i].abrmd == abrmd) {
            res[i][r] = procs_rate (&rows[i]);
            ok = res[i][r] > 0 && ok;
        }
    return ok;
}

static void
fmt_rate (char *b, size_t n, double v)
{
    if (v == V_UNSUPPORTED)
        snprintf (b, n, "not supported");
    else if (v == V_ABSENT)
        snprintf (b, n, "not installed");
    else if (v <= 0)
        snprintf (b, n, "error");
    else if (v >= 1000)
        snprintf (b, n, "%.0f", v);
    else
        snprintf (b, n, "%.1f", v);
}

/* Median over the rounds of row i; the special value if no round measured. */
static double
row_median (int i, double *mn, double *mx)
{
    double med;
    if (stats (res[i], rounds, &med, mn, mx) == 0)
        return res[i][0] < 0 ? res[i][0] : V_ERROR;
    return med;
}

/* Median over the rounds of row i / its ref in the same round; -1 if none. */
static double
row_ratio (int i)
{
    double v[MAX_ROUNDS];
    int n = 0;
    if (rows[i].ref < 0)
        return -1;
    for (int r = 0; r < rounds; r++)
        if (res[i][r] > 0 && res[rows[i].ref][r] > 0)
            v[n++] = res[i][r] / res[rows[i].ref][r];
    return n ? median (v, n) : -1;
}

static void
print_table (bool abrmd)
{
    printf ("| Measurement | median ops/s | min | max | ratio to the raw limit (median) |\n");
    printf ("|---|---:|---:|---:|---|\n");
    for (int i = 0; i < N_ROWS; i++) {
        double mn, mx, med, q;
        char a[32], b[32], c[32];
        if (rows[i].abrmd != abrmd)
            continue;
        med = row_median (i, &mn, &mx);
        fmt_rate (a, sizeof a, med);
        fmt_rate (b, sizeof b, med > 0 ? mn : med);
        fmt_rate (c, sizeof c, med > 0 ? mx : med);
        printf ("| %s | %s | %s | %s | ", rows[i].name, a, med > 0 ? b : "", med > 0 ? c : "");
        q = row_ratio (i);
        if (med <= 0)
            printf (" |\n");
        else if (rows[i].target == T_RAW)
            printf ("(limit) |\n");
        else if (rows[i].ref < 0)
            printf ("(software, no TPM) |\n");
        else if (q > 0)
            printf ("%.3f of %s |\n", q, ref_name (rows[i].ref));
        else
            printf (" |\n");
    }
}

/* ====================================================================== */
/* The other sections                                                      */
/* ====================================================================== */

static bool
section_latency (void)
{
    static const char *steps[3] = {
        "C_Initialize (after dlopen)",
        "first C_Login (after C_GetSlotList, C_GetTokenInfo, C_OpenSession)",
        "first signature: C_FindObjects excluded, C_SignInit + C_Sign CKM_ECDSA P-256",
    };
    char cell[N_T][3][64];
    bool ok = true;
    for (int t = T_TT; t < N_T; t++) {
        double v[3][MAX_RUNS];
        int n = 0;
        for (int i = 0; i < lat_runs && present (t); i++) {
            char line[256];
            double a, b, c;
            int rc = run_sub ("latency", t, NULL, NULL, NULL, line, sizeof line);
            if (rc == 0 && sscanf (line, "LAT %lf %lf %lf", &a, &b, &c) == 3) {
                v[0][n] = a / 1000;
                v[1][n] = b / 1000;
                v[2][n] = c / 1000;
                n++;
            } else {
                fprintf (stderr, "tpmtrust-bench: %s latency child failed (rc %d)\n",
                         targets[t].name, rc);
                ok = false;
            }
        }
        for (int k = 0; k < 3; k++) {
            double med, mn, mx;
            if (!present (t))
                snprintf (cell[t][k], sizeof cell[t][k], "not installed");
            else if (stats (v[k], n, &med, &mn, &mx) == 0)
                snprintf (cell[t][k], sizeof cell[t][k], "error");
            else
                snprintf (cell[t][k], sizeof cell[t][k], "%.2f (%.2f-%.2f)", med, mn, mx);
        }
    }
    printf ("\n### Latencies of a fresh process (ms, median (min-max) of %d fork+exec runs)\n\n",
            lat_runs);
    printf ("| Step | tpmtrust | tpm2-pkcs11 | SoftHSM |\n|---|---|---|---|\n");
    for (int k = 0; k < 3; k++)
        printf ("| %s | %s | %s | %s |\n", steps[k], cell[T_TT][k], cell[T_TP11][k],
                cell[T_SH][k]);
    return ok;
}

/* "Name n, ..." of a per-command-code histogram (hist[code - 0x100]). */
static void
print_hist (const long *hist)
{
    bool first = true;
    for (unsigned i = 0; i < 256; i++) {
        const char *name = cc_name (i + 0x100);
        if (hist[i] == 0)
            continue;
        if (name != NULL)
            printf ("%s%s %ld", first ? "" : ", ", name, hist[i]);
        else
            printf ("%s0x%x %ld", first ? "" : ", ", i + 0x100, hist[i]);
        first = false;
    }
    if (first)
        printf ("-");
}

/* The same from the "TAG code n" lines of a phase-bc child. */
static void
print_breakdown (const char *out, const char *tag)
{
    const char *p = out;
    long hist[256] = { 0 };
    size_t tl = strlen (tag);
    while ((p = strstr (p, tag)) != NULL) {
        unsigned cc;
        long n;
        if ((p == out || p[-1] == '\n') && p[tl] == ' '
            && sscanf (p + tl, " %x %ld", &cc, &n) == 2 && cc >= 0x100 && cc <= 0x1FF)
            hist[cc - 0x100] += n;
        p += tl;
    }
    print_hist (hist);
}

/* Commands of code cc in the "TAG code n" lines. */
static long
breakdown_count (const char *out, const char *tag, unsigned want)
{
    const char *p = out;
    size_t tl = strlen (tag);
    while ((p = strstr (p, tag)) != NULL) {
        unsigned cc;
        long n;
        if ((p == out || p[-1] == '\n') && p[tl] == ' '
            && sscanf (p + tl, " %x %ld", &cc, &n) == 2 && cc == want)
            return n;
        p += tl;
    }
    return 0;
}

/* Results the targets summary uses. */
static long cmds_a = -1, cmds_b = -1, cmds_c = -1, hmac_c = -1, hmac_enc = -1, hmac_cmds = -1;

static bool
section_pcap (void)
{
    bool ok = true;
    int seq = 0;
    printf ("\n### TPM commands per phase (tpm2-tss pcap TCTI on the module's TCTI, commands "
            "counted in the pcapng capture)\n\n");
    printf ("| Module | Phase | TPM commands | by command code |\n|---|---|---:|---|\n");
    for (int t = T_TT; t < N_T; t++) {
        char fa[512], line[8192];
        long ca, rsp = -1, ha[256] = { 0 };
        int rc;
        if (targets[t].tcti_var == NULL)
            continue;
        if (!present (t)) {
            printf ("| %s | all | not installed | |\n", targets[t].name);
            continue;
        }
        snprintf (fa, sizeof fa, "%s/tpmtrust-bench-%ld-%d.pcapng", tmp_dir, (long) getpid (),
                  seq++);
        unlink (fa);
        rc = run_sub ("phase-a", t, NULL, NULL, fa, line, sizeof line);
        ca = rc == 0 ? pcap_count_commands (fa, &rsp, ha, NULL) : -1;
        if (rc != 0)
            fprintf (stderr, "tpmtrust-bench: %s phase a child failed (rc %d)\n", targets[t].name,
                     rc);
        if (ca < 0)
            ok = false;
        if (t == T_TT)
            cmds_a = ca;
        printf ("| %s | (a) dlopen + C_Initialize + C_GetSlotList + C_Finalize | %ld | ",
                targets[t].name, ca);
        if (ca == 0 && access (fa, F_OK) != 0)
            printf ("TCTI never opened (no capture file)");
        else
            print_hist (ha);
        printf (" |\n");
        if (getenv ("BENCH_KEEP_PCAP") == NULL)
            unlink (fa);
        for (int k = K_ECDSA; k <= K_HMAC; k++) {
            long pb = -1, pc = -1, pd = -1;
            if (k == K_HMAC && t != T_TT)
                continue; /* tpm2-pkcs11 cannot make an HMAC key through PKCS#11 */
            snprintf (fa, sizeof fa, "%s/tpmtrust-bench-%ld-%d.pcapng", tmp_dir,
                      (long) getpid (), seq++);
            unlink (fa);
            rc = run_sub ("phase-bc", t, kinds[k].name, NULL, fa, line, sizeof line);
            if (rc != 0 || sscanf (line, "PCAP %ld %ld %ld", &pb, &pc, &pd) != 3) {
                fprintf (stderr, "tpmtrust-bench: %s phase b/c (%s) child failed (rc %d)\n",
                         targets[t].name, kinds[k].name, rc);
                ok = false;
                pb = pc = pd = -1;
            }
            if (t == T_TT && k == K_ECDSA) {
                cmds_b = pb;
                cmds_c = pc;
            }
            printf ("| %s | (b) C_Initialize .. first %s (slot, session, login, find key) | %ld "
                    "| ",
                    targets[t].name, kinds[k].mech == CKM_ECDSA ? "CKM_ECDSA" : "CKM_SHA256_HMAC",
                    pb);
            print_breakdown (line, "CCB");
            printf (" |\n| %s | (c) %d further %s signatures | %ld (%.2f per signature) | ",
                    targets[t].name, PCAP_SIGS,
                    kinds[k].mech == CKM_ECDSA ? "CKM_ECDSA" : "CKM_SHA256_HMAC 64 B", pc,
                    pc >= 0 ? (double) pc / PCAP_SIGS : -1.0);
            print_breakdown (line, "CCC");
            if (k == K_HMAC) {
                hmac_cmds = breakdown_count (line, "CCC", 0x155);
                hmac_enc = breakdown_count (line, "ENC", 0x155);
                hmac_c = pc;
                printf ("; TPM2_HMAC commands asking for response encryption (a session with "
                        "the encrypt attribute): %ld of %ld",
                        hmac_enc, hmac_cmds);
            }
            printf (" |\n| %s | (d) C_Finalize after (c) | %ld | |\n", targets[t].name, pd);
            if (getenv ("BENCH_KEEP_PCAP") == NULL)
                unlink (fa);
            else
                fprintf (stderr, "tpmtrust-bench: capture kept: %s\n", fa);
        }
    }
    return ok;
}

static double tool_ratio = -1;

/* Whole `pkcs11-tool --login --sign` process, wall time, ms; -1 on error. */
static double
tool_run (int t, const char *in, const char *out)
{
    pid_t pid;
    int status;
    double t0 = now (), t1;
    struct stat st;
    unlink (out);
    pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open ("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2 (nul, STDIN_FILENO);
            dup2 (nul, STDOUT_FILENO);
            dup2 (nul, STDERR_FILENO);
        }
        char id[8];
        snprintf (id, sizeof id, "%02x", kinds[K_ECDSA].id);
        execlp ("pkcs11-tool", "pkcs11-tool", "--module", targets[t].module, "--token-label",
                token_label, "--login", "--pin", pin, "--sign", "--mechanism", "ECDSA", "--id", id,
                "--input-file", in, "--output-file", out, (char *) NULL);
        _exit (127);
    }
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    t1 = now ();
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0 || stat (out, &st) != 0
        || st.st_size != 64)
        return -1;
    return (t1 - t0) * 1000;
}

static bool
section_tool (void)
{
    char in[512], out[512];
    double med[N_T], mn[N_T], mx[N_T];
    bool ok = true;
    int fd;
    unsigned char digest[32];
    snprintf (in, sizeof in, "%s/tpmtrust-bench-%ld.digest", tmp_dir, (long) getpid ());
    snprintf (out, sizeof out, "%s/tpmtrust-bench-%ld.sig", tmp_dir, (long) getpid ());
    randombytes_buf (digest, sizeof digest);
    fd = open (in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write (fd, digest, sizeof digest) != (ssize_t) sizeof digest)
        ok = false;
    if (fd >= 0)
        close (fd);
    for (int t = T_TT; t < N_T; t++) {
        double v[MAX_RUNS];
        int n = 0;
        for (int i = 0; i < tool_runs && present (t) && ok; i++) {
            v[n] = tool_run (t, in, out);
            if (v[n] < 0) {
                fprintf (stderr, "tpmtrust-bench: %s: pkcs11-tool --sign failed\n",
                         targets[t].name);
                ok = false;
            } else {
                n++;
            }
        }
        if (stats (v, n, &med[t], &mn[t], &mx[t]) == 0)
            med[t] = present (t) ? V_ERROR : V_ABSENT;
    }
    unlink (in);
    unlink (out);
    if (med[T_TT] > 0 && med[T_SH] > 0)
        tool_ratio = med[T_TT] / med[T_SH];
    printf ("\n### Whole process: `pkcs11-tool --login --pin .. --sign --mechanism ECDSA` over a "
            "32 B digest (wall ms of fork+exec to exit, %d fresh runs; each signature checked to "
            "be 64 bytes)\n\n",
            tool_runs);
    printf ("| Module | median ms | min | max | ratio to SoftHSM |\n|---|---:|---:|---:|---|\n");
    for (int t = T_TT; t < N_T; t++) {
        if (med[t] <= 0) {
            printf ("| %s | %s | | | |\n", targets[t].name,
                    med[t] == V_ABSENT ? "not installed" : "error");
            continue;
        }
        printf ("| %s | %.1f | %.1f | %.1f | ", targets[t].name, med[t], mn[t], mx[t]);
        if (med[T_SH] > 0)
            printf ("%.2f |\n", med[t] / med[T_SH]);
        else
            printf ("(SoftHSM not installed) |\n");
    }
    return ok;
}

/* Second-half growth per memory phase, for the targets; -1: not measured. */
static long mem_rss2[3] = { -1, -1, -1 }, mem_heap2[3] = { -1, -1, -1 };
static long mem_half[3];

static bool
section_mem (void)
{
    static const char *what[3] = { "Ed25519, cached", "ECDSA P-256 (TPM)",
                                   "HMAC-SHA256 over 64 B (TPM)" };
    char out[1024];
    const char *p = out;
    long rss[7], heap[7];
    int n = 0, rc = run_sub ("mem", T_TT, NULL, NULL, NULL, out, sizeof out);
    while (n < 7 && (p = strstr (p, "MEM ")) != NULL) {
        if (sscanf (p, "MEM %ld %ld", &rss[n], &heap[n]) == 2)
            n++;
        p += 4;
    }
    printf ("\n### Memory of one tpmtrust process (RSS: VmRSS of /proc/self/status; heap: glibc "
            "mallinfo2 bytes in use), after a warm-up of 1000 Ed25519, %ld ECDSA and %ld HMAC "
            "signatures; each run in two halves: a leak grows in both, a cache only in the "
            "first\n\n",
            mem_warmup, mem_warmup);
    printf ("| Signatures (one after the other, one session) | RSS growth KiB, 1st half | 2nd "
            "half | heap growth bytes, 1st half | 2nd half |\n|---|---:|---:|---:|---:|\n");
    if (rc != 0 || n != 7) {
        fprintf (stderr, "tpmtrust-bench: memory child failed (rc %d)\n", rc);
        printf ("| all | error | | | |\n");
        return false;
    }
    for (int i = 0; i < 3; i++) {
        int c = 2 * i;
        long total = i == 0 ? mem_sigs : mem_tpm_sigs;
        mem_half[i] = total - total / 2;
        mem_rss2[i] = rss[c + 2] - rss[c + 1];
        mem_heap2[i] = heap[c + 2] - heap[c + 1];
        printf ("| %ld x %s | %ld | %ld | %ld | %ld |\n", total, what[i], rss[c + 1] - rss[c],
                mem_rss2[i], heap[c + 1] - heap[c], mem_heap2[i]);
    }
    printf ("\nRSS %ld KiB after the warm-up, %ld KiB at the end; heap %ld bytes, then %ld.\n",
            rss[0], rss[6], heap[0], heap[6]);
    return true;
}

static long left_objects = -1, left_sessions = -1;

/* Transient objects and sessions in the TPM, after every process ended. */
static bool
section_left (void)
{
    long loaded = -1, saved = -1;
    if (esys_open ()) {
        left_objects = tpm_handle_count (TPM2_TRANSIENT_FIRST);
        loaded = tpm_handle_count (TPM2_LOADED_SESSION_FIRST);
        saved = tpm_handle_count (TPM2_ACTIVE_SESSION_FIRST);
        left_sessions = loaded >= 0 && saved >= 0 ? loaded + saved : -1;
    }
    esys_close ();
    printf ("\nLeft in tpmtrust's TPM after all processes ended (Esys_GetCapability): %ld "
            "transient objects, %ld loaded sessions, %ld saved sessions.\n",
            left_objects, loaded, saved);
    return left_objects >= 0 && left_sessions >= 0;
}

static void
target_line (const char *what, const char *goal, const char *now_s, int met)
{
    printf ("| %s | %s | %s | %s |\n", what, goal, now_s,
            met < 0 ? "not measured" : met ? "met" : "not met");
}

/* The issue 8 targets, judged from the figures above (never asserted). */
static void
section_targets (void)
{
    char b[256];
    double q;
    printf ("\n### Against the issue 8 targets (reported, never asserted)\n\n");
    printf ("| Target | goal | measured | |\n|---|---|---|---|\n");
    q = row_ratio (TT_EC1);
    snprintf (b, sizeof b, "%.3f x", q);
    target_line ("ECDSA P-256 steady state, 1 thread, vs raw password-auth `Esys_Sign`", ">= 0.7 x",
                 q > 0 ? b : "-", q > 0 ? q >= 0.7 : -1);
    q = row_ratio (TT_HM1);
    snprintf (b, sizeof b, "%.3f x (response-encrypted: %ld of %ld TPM2_HMAC)", q, hmac_enc,
              hmac_cmds);
    target_line ("HMAC-SHA256 with response encryption vs raw password-auth `Esys_HMAC`",
                 ">= 0.5 x", q > 0 ? b : "-",
                 q > 0 ? q >= 0.5 && hmac_enc == hmac_cmds && hmac_cmds > 0 : -1);
    q = row_ratio (TT_EDC1);
    snprintf (b, sizeof b, "%.3f x", q);
    target_line ("Ed25519 cached vs raw libsodium", ">= 0.5 x", q > 0 ? b : "-",
                 q > 0 ? q >= 0.5 : -1);
    snprintf (b, sizeof b, "ECDSA %.2f, HMAC %.2f", cmds_c / (double) PCAP_SIGS,
              hmac_c / (double) PCAP_SIGS);
    target_line ("TPM commands per signature in steady state (swtpm, no resource manager)", "1",
                 cmds_c >= 0 ? b : "-", cmds_c >= 0 ? cmds_c <= PCAP_SIGS : -1);
    snprintf (b, sizeof b, "%ld", cmds_b);
    target_line ("TPM commands from C_Initialize to the first signature of a fresh process",
                 "<= 10", cmds_b >= 0 ? b : "-", cmds_b >= 0 ? cmds_b <= 10 : -1);
    snprintf (b, sizeof b, "%ld", cmds_a);
    target_line ("TPM commands to load the module, list slots and finalize", "0",
                 cmds_a >= 0 ? b : "-", cmds_a >= 0 ? cmds_a == 0 : -1);
    snprintf (b, sizeof b, "%.2f x", tool_ratio);
    target_line ("whole-process `pkcs11-tool --login --sign` vs SoftHSM", "<= 1.5 x",
                 tool_ratio > 0 ? b : "SoftHSM not installed",
                 tool_ratio > 0 ? tool_ratio <= 1.5 : -1);
    {
        bool measured = mem_heap2[0] != -1, grew = false;
        for (int i = 0; i < 3 && measured; i++)
            grew = grew || mem_heap2[i] > 8 * mem_half[i] || mem_rss2[i] > 64;
        snprintf (b, sizeof b, "2nd halves: Ed25519 %+ld B / %+ld KiB, ECDSA %+ld B / %+ld KiB, "
                  "HMAC %+ld B / %+ld KiB",
                  mem_heap2[0], mem_rss2[0], mem_heap2[1], mem_rss2[1], mem_heap2[2], mem_rss2[2]);
        char what[256];
        snprintf (what, sizeof what, "no memory growth over %ld Ed25519, %ld ECDSA and %ld HMAC "
                  "signatures (second half of each run: heap <= 8 bytes per signature, RSS <= "
                  "64 KiB)", mem_sigs, mem_tpm_sigs, mem_tpm_sigs);
        target_line (what, "no growth", measured ? b : "-", measured ? !grew : -1);
    }
    snprintf (b, sizeof b, "%ld objects, %ld sessions", left_objects, left_sessions);
    target_line ("TPM objects and sessions left loaded", "0", left_objects >= 0 ? b : "-",
                 left_objects >= 0 ? left_objects == 0 && left_sessions == 0 : -1);
}

/* ====================================================================== */
/* Driver                                                                  */
/* ====================================================================== */

static long
env_long (const char *name, long dflt, long lo, long hi)
{
    const char *e = getenv (name);
    long v;
    if (e == NULL || !*e)
        return dflt;
    v = atol (e);
    return v < lo ? lo : v > hi ? hi : v;
}

static const char *
env_module (const char *name)
{
    const char *e = getenv (name);
    return e != NULL && *e && access (e, R_OK) == 0 ? e : NULL;
}

static int
sub_main (const char *mode, const char *arg)
{
    if (strcmp (mode, "setup") == 0)
        return sub_setup ();
    if (strcmp (mode, "rates") == 0 && arg != NULL)
        return sub_rates (arg);
    if (strcmp (mode, "signer") == 0 && arg != NULL)
        return sub_signer (arg);
    if (strcmp (mode, "latency") == 0)
        return sub_latency ();
    if (strcmp (mode, "phase-a") == 0)
        return sub_phase_a ();
    if (strcmp (mode, "phase-bc") == 0 && arg != NULL)
        return sub_phase_bc (arg);
    if (strcmp (mode, "mem") == 0)
        return sub_mem ();
    return 2;
}

int
main (int argc, char **argv)
{
    const char *e;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    bool abrmd = false, ok = true;
    static char exe[4096];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);

    if (n > 0) {
        exe[n] = '\0';
        self_path = exe;
    } else {
        self_path = argv[0];
    }
    if ((e = getenv ("TT_TOKEN")) != NULL && *e)
        token_label = e;
    if ((e = getenv ("TT_PIN")) != NULL && *e)
        pin = e;
    if ((e = getenv ("BENCH_TMPDIR")) != NULL && *e)
        tmp_dir = e;
    if ((e = getenv ("BENCH_SECS")) != NULL && atof (e) > 0)
        secs = atof (e);
    rounds = (int) env_long ("BENCH_ROUNDS", 5, 1, MAX_ROUNDS);
    lat_runs = (int) env_long ("BENCH_LAT_RUNS", 5, 1, MAX_RUNS);
    tool_runs = (int) env_long ("BENCH_TOOL_RUNS", 5, 1, MAX_RUNS);
    mem_sigs = env_long ("BENCH_MEM_SIGS", 100000, 1, 100000000);
    mem_tpm_sigs = env_long ("BENCH_MEM_TPM_SIGS", 500, 2, 1000000);
    mem_warmup = env_long ("BENCH_MEM_WARMUP", 100, 1, 1000000);
    if (sodium_init () < 0) {
        fprintf (stderr, "tpmtrust-bench: sodium_init failed\n");
        return 2;
    }
    signal (SIGPIPE, SIG_IGN); /* a signer child that died: write fails instead */

    if (argc >= 4 && argc <= 5 && strcmp (argv[1], "--sub") == 0) {
        module_path = argv[3];
        return sub_main (argv[2], argc == 5 ? argv[4] : NULL);
    }
    if (argc >= 2 && strcmp (argv[1], "--abrmd") == 0) {
        abrmd = true;
        argv++;
        argc--;
    }
    module_path = argc > 1 ? argv[1] : getenv ("TT_MODULE");
    if (module_path == NULL || argc > 2) {
        fprintf (stderr, "usage: %s [--abrmd] [MODULE]   (or TT_MODULE; TPMTRUST_TCTI required)\n",
                 argv[0]);
        return 2;
    }
    if (getenv ("TPMTRUST_TCTI") == NULL) {
        fprintf (stderr, "tpmtrust-bench: TPMTRUST_TCTI is not set\n");
        return 2;
    }
    targets[T_TT].module = module_path;
    if (!abrmd) {
        targets[T_TP11].module = env_module ("BENCH_TPM2_PKCS11_MODULE");
        targets[T_SH].module = env_module ("BENCH_SOFTHSM_MODULE");
    }
    crypto_sign_keypair (pk, sodium_sk);

    /* Keys in the other modules (notes say what a module could not make). */
    for (int t = T_TP11; t < N_T; t++) {
        char out[1024], *p = out;
        if (!present (t))
            continue;
        if (run_sub ("setup", t, NULL, NULL, NULL, out, sizeof out) != 0) {
            fprintf (stderr, "tpmtrust-bench: %s: setup failed: is its token 'bench' initialised "
                             "with user PIN %s?\n", targets[t].name, pin);
            ok = false;
        }
        while ((p = strstr (p, "NOTE ")) != NULL) {
            char *end = strchr (p, '\n');
            size_t len = end ? (size_t) (end - p - 5) : strlen (p + 5), have;
            have = strlen (targets[t].notes);
            snprintf (targets[t].notes + have, sizeof targets[t].notes - have, "%s%.*s",
                      have ? "; " : "", (int) len, p + 5);
            p += 5;
        }
    }

    for (int r = 0; r < rounds; r++) {
        fprintf (stderr, "tpmtrust-bench: %sround %d/%d\n", abrmd ? "tpm2-abrmd " : "", r + 1,
                 rounds);
        if (!measure_round (r, abrmd)) {
            fprintf (stderr, "tpmtrust-bench: round %d: some measurement failed\n", r + 1);
            ok = false;
        }
    }

    if (abrmd) {
        printf ("\n### Through tpm2-abrmd (TCTI `%s` on the same swtpm; processes signing at "
                "once; ratios against the raw limits through tpm2-abrmd in the same round)\n\n",
                getenv ("TPMTRUST_TCTI"));
        print_table (true);
        return ok ? 0 : 1;
    }

    printf ("## tpmtrust benchmark\n\n");
    printf ("TCTI `%s` (swtpm, no resource manager); %d rounds of %.2f s per measurement; "
            "medians over the rounds; ratios are taken per round against the raw limit measured "
            "in the same round, then the median. Each module is measured in a fresh process "
            "per round (C_Initialize, C_Login, then the signatures).\n\n",
            getenv ("TPMTRUST_TCTI"), rounds, secs);
    print_table (false);
    for (int t = T_TP11; t < N_T; t++)
        if (targets[t].notes[0])
            printf ("\n%s: %s.\n", targets[t].name, targets[t].notes);
    if ((e = getenv ("BENCH_ABRMD_MD")) != NULL && *e) {
        FILE *f = fopen (e, "r");
        char buf[4096];
        size_t got;
        if (f == NULL) {
            printf ("\n### Through tpm2-abrmd\n\nnot measured (%s missing)\n", e);
            ok = false;
        } else {
            while ((got = fread (buf, 1, sizeof buf, f)) > 0)
                fwrite (buf, 1, got, stdout);
            fclose (f);
        }
    } else {
        printf ("\n### Through tpm2-abrmd\n\nnot measured (run through bench/run-bench.sh)\n");
        ok = false;
    }
    fflush (stdout);
    ok = section_latency () && ok;
    fflush (stdout);
    ok = section_pcap () && ok;
    fflush (stdout);
    ok = section_tool () && ok;
    fflush (stdout);
    ok = section_mem () && ok;
    ok = section_left () && ok;
    section_targets ();
    for (int i = 0; i < RAW_N; i++) {
        Esys_Free (raw_priv[i]);
        Esys_Free (raw_pub[i]);
    }
    return ok ? 0 : 1;
}
