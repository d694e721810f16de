/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-bench [MODULE] - throughput, latency and TPM command counts of the
 * tpmtrust PKCS#11 module, next to the raw limits of the same TPM measured in
 * the same run. Prints Markdown on standard output. Figures are reported,
 * never asserted: the exit status is 0 unless something could not be
 * measured at all.
 *
 * Environment:
 *   TPMTRUST_TCTI       TCTI for the raw ESAPI part (Tss2_TctiLdr_Initialize)
 *                       and for the module
 *   TT_MODULE           the module, when no MODULE argument is given
 *   TT_TOKEN / TT_PIN   token label (default "bench") and user PIN ("1234")
 *   BENCH_ROUNDS        rounds (default 5); each measurement is taken once a
 *                       round and the median over the rounds is printed
 *   BENCH_SECS          seconds per measurement and round (default 1.0)
 *   BENCH_LAT_RUNS      fresh processes for the latencies (default 5)
 *   BENCH_PCAP_DIR      where the pcap captures go (default /tmp)
 *
 * The token must hold, made by tpmtrust-tool key generate:
 *   label bench-ec (ecdsa-p256), bench-ed (ed25519), bench-hmac (hmac-sha256).
 *
 * swtpm serves one connection at a time, so the raw ESAPI context and the
 * module are never open together: each round opens ESAPI, measures, flushes
 * and closes it, then C_Initialize .. C_Finalize for the module part.
 *
 * Sub-modes (run by fork+exec of this binary):
 *   --sub latency MODULE    prints "LAT init_us login_us sign_us"
 *   --sub phase-a MODULE    dlopen + C_Initialize + C_GetSlotList + C_Finalize
 *   --sub phase-bc MODULE   C_Initialize .. first ECDSA signature (b), 100 more
 *                           signatures (c), C_Finalize (d); with the pcap TCTI
 *                           it prints "PCAP b c d" command counts read from
 *                           $TCTI_PCAP_FILE at each point
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
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

#include "core/ck.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))
#define MAX_ROUNDS 50

static const char *self_path, *module_path, *token_label = "bench", *pin = "1234";
static int rounds = 5, lat_runs = 5;
static double secs = 1.0;

static double
now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
median (const double *v, int n)
{
    double t[MAX_ROUNDS * 2];
    if (n <= 0)
        return -1;
    memcpy (t, v, (size_t) n * sizeof *t);
    qsort (t, (size_t) n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
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

/* Operations per second of op(i) (true = ok) for secs seconds; -1 on error. */
typedef bool (*op_fn) (void *arg);

static double
rate (op_fn op, void *arg)
{
    double t0 = now (), t;
    long n = 0;
    if (!op (arg)) /* warm-up, not counted */
        return -1;
    t0 = now ();
    do {
        if (!op (arg))
            return -1;
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

struct sodium_arg {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
};

static bool
op_sodium (void *arg)
{
    struct sodium_arg *s = arg;
    unsigned char msg[32] = { 1 }, sig[crypto_sign_BYTES];
    return crypto_sign_detached (sig, NULL, msg, sizeof msg, s->sk) == 0;
}

static double
raw_key_rate (int i, op_fn op)
{
    ESYS_TR key;
    double r;
    if (!load_raw (i, &key))
        return -1;
    r = rate (op, &key);
    Esys_FlushContext (esys, key);
    return r;
}

/* ====================================================================== */
/* The module                                                              */
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
module_load (void)
{
    void *dl;
    CK_C_GetFunctionList get_list;
    if (F != NULL)
        return true;
    dl = dlopen (module_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf (stderr, "tpmtrust-bench: dlopen %s: %s\n", module_path, dlerror ());
        return false;
    }
    *(void **) &get_list = dlsym (dl, "C_GetFunctionList");
    if (get_list == NULL) {
        fprintf (stderr, "tpmtrust-bench: no C_GetFunctionList in %s\n", module_path);
        return false;
    }
    return ck_ok (get_list (&F), "C_GetFunctionList");
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
    fprintf (stderr, "tpmtrust-bench: no token labelled '%s'\n", token_label);
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

static bool
find_key (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *) label, (CK_ULONG) strlen (label) },
    };
    CK_ULONG n = 0;
    if (!ck_ok (F->C_FindObjectsInit (s, tmpl, N_ELEM (tmpl)), "C_FindObjectsInit"))
        return false;
    if (!ck_ok (F->C_FindObjects (s, out, 1, &n), "C_FindObjects")) {
        F->C_FindObjectsFinal (s);
        return false;
    }
    F->C_FindObjectsFinal (s);
    if (n != 1) {
        fprintf (stderr, "tpmtrust-bench: key '%s' not found\n", label);
        return false;
    }
    return true;
}

struct sign_arg {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    CK_MECHANISM_TYPE mech;
    CK_ULONG in_len;
    double deadline; /* threads */
    long count;
    bool failed;
};

static bool
op_ck_sign (void *p)
{
    struct sign_arg *a = p;
    CK_MECHANISM m = { a->mech, NULL, 0 };
    CK_BYTE in[64], sig[256];
    CK_ULONG n = sizeof sig;
    memset (in, 0x3c, sizeof in);
    if (!ck_ok (F->C_SignInit (a->s, &m, a->key), "C_SignInit"))
        return false;
    return ck_ok (F->C_Sign (a->s, in, a->in_len, sig, &n), "C_Sign");
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

/* nthreads sessions signing in parallel for secs seconds. */
static double
threaded_rate (struct sign_arg *proto, CK_SESSION_HANDLE *sessions, int nthreads)
{
    pthread_t th[8];
    struct sign_arg a[8];
    double t0, t1;
    long total = 0;
    for (int i = 0; i < nthreads; i++) {
        a[i] = *proto;
        a[i].s = sessions[i];
        a[i].count = 0;
        a[i].failed = false;
        if (!op_ck_sign (&a[i])) /* warm-up */
            return -1;
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
            return -1;
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

/*
 * tcti-pcap (tpm2-tss 3.2.1) writes pcapng: a section header block
 * (0x0A0D0D0A, little-endian here), an interface description block (LINKTYPE
 * raw IPv4), then one enhanced packet block (type 6) per TPM command and per
 * response, each a fake IPv4 + TCP packet, host port 50000 -> TPM port 2321
 * for commands, the reverse for responses, TPM bytes as the TCP payload.
 * Counts commands: packets to port 2321 whose payload is a TPM command
 * header (tag 0x8001/0x8002, size, code 0x11F..0x1FF). -1 if unreadable.
 */
static long
pcap_count_commands (const char *path, long *responses, long *hist /* [256] or NULL */)
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
                    if (caplen >= ihl + thl + 10) {
                        unsigned tag = (unsigned) tpm[0] << 8 | tpm[1];
                        uint32_t code = be32 (tpm + 6);
                        if (tag == 0x8001 || tag == 0x8002) {
                            if (dport == 2321 && code >= 0x11F && code <= 0x1FF) {
                                cmds++;
                                if (hist != NULL)
                                    hist[code - 0x100]++;
                            }
                            else if (dport != 2321)
                                rsps++;
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
    case 0x131: return "CreatePrimary";
    case 0x144: return "StartUp";
    case 0x153: return "Create";
    case 0x157: return "Load";
    case 0x158: return "Quote";
    case 0x15D: return "Sign";
    case 0x15E: return "Unseal";
    case 0x161: return "ContextLoad";
    case 0x162: return "ContextSave";
    case 0x165: return "FlushContext";
    case 0x167: return "LoadExternal";
    case 0x173: return "ReadPublic";
    case 0x176: return "StartAuthSession";
    case 0x177: return "VerifySignature";
    case 0x17A: return "GetCapability";
    case 0x17B: return "GetRandom";
    case 0x17E: return "PCR_Read";
    case 0x17F: return "PolicyPCR";
    case 0x155: return "HMAC";
    case 0x16B: return "PolicyOR";
    case 0x16F: return "PolicyPassword";
    case 0x16C: return "PolicyAuthValue";
    case 0x183: return "PolicyCommandCode";
    case 0x189: return "PolicyGetDigest";
    case 0x191: return "Create (CreateLoaded)";
    default: return NULL;
    }
}

/* "Name xN, ..." from the "TAG code n" lines of a phase-bc child. */
static void
print_breakdown (const char *out, const char *tag)
{
    const char *p = out;
    bool first = true;
    size_t tl = strlen (tag);
    while ((p = strstr (p, tag)) != NULL) {
        unsigned cc;
        long n;
        if ((p == out || p[-1] == '\n') && p[tl] == ' '
            && sscanf (p + tl, " %x %ld", &cc, &n) == 2) {
            const char *name = cc_name (cc);
            if (name != NULL)
                printf ("%s%s %ld", first ? "" : ", ", name, n);
            else
                printf ("%s0x%x %ld", first ? "" : ", ", cc, n);
            first = false;
        }
        p += tl;
    }
    if (first)
        printf ("-");
}

/* ====================================================================== */
/* Sub-modes                                                               */
/* ====================================================================== */

static int
sub_latency (void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    struct sign_arg a = { .mech = CKM_ECDSA, .in_len = 32 };
    double t0, t1, t2, t3;
    if (!module_load ())
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
    double login_s = t3 - t2;
    if (!find_key (s, CKO_PRIVATE_KEY, "bench-ec", &key))
        return 2;
    a.s = s;
    a.key = key;
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
    if (!module_load () || !module_init ())
        return 2;
    if (!ck_ok (F->C_GetSlotList (CK_TRUE, slots, &n), "C_GetSlotList"))
        return 2;
    return ck_ok (F->C_Finalize (NULL), "C_Finalize") ? 0 : 2;
}

static int
sub_phase_bc (void)
{
    const char *file = getenv ("TCTI_PCAP_FILE");
    CK_SESSION_HANDLE s;
    struct sign_arg a = { .mech = CKM_ECDSA, .in_len = 32 };
    long b, c, d, hb[256] = { 0 }, hc[256] = { 0 };
    if (file == NULL)
        return 2;
    if (!module_load () || !module_init () || !find_slot () || !open_session (&s) || !login (s)
        || !find_key (s, CKO_PRIVATE_KEY, "bench-ec", &a.key))
        return 2;
    a.s = s;
    if (!op_ck_sign (&a))
        return 2;
    b = pcap_count_commands (file, NULL, hb);
    for (int i = 0; i < 100; i++)
        if (!op_ck_sign (&a))
            return 2;
    c = pcap_count_commands (file, NULL, hc);
    if (!ck_ok (F->C_Finalize (NULL), "C_Finalize"))
        return 2;
    d = pcap_count_commands (file, NULL, NULL);
    printf ("PCAP %ld %ld %ld\n", b, c - b, d - c);
    for (int i = 0; i < 256; i++)
        if (hb[i] != 0)
            printf ("CCB %x %ld\n", i + 0x100, hb[i]);
    for (int i = 0; i < 256; i++)
        if (hc[i] - hb[i] != 0)
            printf ("CCC %x %ld\n", i + 0x100, hc[i] - hb[i]);
    fflush (stdout);
    return 0;
}

/* ====================================================================== */
/* Driver                                                                  */
/* ====================================================================== */

/* fork+exec self "--sub MODE MODULE" with extra env; stdout into out. */
static int
run_sub (const char *mode, const char *pcap_file, char *out, size_t outlen)
{
    int fd[2], status;
    pid_t pid;
    size_t got = 0;
    ssize_t r;
    if (pipe (fd) != 0)
        return -1;
    pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close (fd[0]);
        dup2 (fd[1], STDOUT_FILENO);
        close (fd[1]);
        if (pcap_file != NULL) {
            const char *t = getenv ("TPMTRUST_TCTI");
            char *tt;
            if (t == NULL || asprintf (&tt, "pcap:%s", t) < 0)
                _exit (2);
            setenv ("TPMTRUST_TCTI", tt, 1);
            setenv ("TCTI_PCAP_FILE", pcap_file, 1);
        }
        execl (self_path, self_path, "--sub", mode, module_path, (char *) NULL);
        _exit (127);
    }
    close (fd[1]);
    while (got + 1 < outlen && (r = read (fd[0], out + got, outlen - 1 - got)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t) r;
    }
    out[got] = '\0';
    close (fd[0]);
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

enum {
    R_ESYS_SIGN, R_ESYS_HMAC, R_ESYS_UNSEAL, R_ESYS_RANDOM, R_SODIUM,
    M_ECDSA, M_ECDSA2, M_HMAC, M_ED25519,
    N_MEAS
};
static double res[N_MEAS][MAX_ROUNDS];
static double ratio[N_MEAS][MAX_ROUNDS];

static const struct {
    const char *name;
    int ref; /* -1: none */
} meas[N_MEAS] = {
    [R_ESYS_SIGN] = { "raw `Esys_Sign` ECDSA P-256 (password)", -1 },
    [R_ESYS_HMAC] = { "raw `Esys_HMAC` SHA-256, 64 B (password)", -1 },
    [R_ESYS_UNSEAL] = { "raw `Esys_Unseal` (password)", -1 },
    [R_ESYS_RANDOM] = { "raw `Esys_GetRandom` 32 B round trip", -1 },
    [R_SODIUM] = { "raw libsodium Ed25519 `crypto_sign_detached`", -1 },
    [M_ECDSA] = { "module CKM_ECDSA P-256, 32 B digest, 1 thread", R_ESYS_SIGN },
    [M_ECDSA2] = { "module CKM_ECDSA P-256, 2 threads / 2 sessions", R_ESYS_SIGN },
    [M_HMAC] = { "module CKM_SHA256_HMAC, 64 B, 1 thread", R_ESYS_HMAC },
    [M_ED25519] = { "module CKM_EDDSA Ed25519 (seed cached), 1 thread", R_SODIUM },
};

static const char *
ref_name (int ref)
{
    switch (ref) {
    case R_ESYS_SIGN: return "`Esys_Sign`";
    case R_ESYS_HMAC: return "`Esys_HMAC`";
    case R_SODIUM: return "libsodium";
    default: return "";
    }
}

static bool
raw_round (int r, struct sodium_arg *sk)
{
    bool ok = esys_open ();
    if (ok && raw_priv[0] == NULL)
        ok = create_raw_keys ();
    if (ok) {
        res[R_ESYS_SIGN][r] = raw_key_rate (RAW_ECDSA, op_esys_sign);
        res[R_ESYS_HMAC][r] = raw_key_rate (RAW_HMAC, op_esys_hmac);
        res[R_ESYS_UNSEAL][r] = raw_key_rate (RAW_SEAL, op_esys_unseal);
        res[R_ESYS_RANDOM][r] = rate (op_esys_random, NULL);
    }
    esys_close ();
    res[R_SODIUM][r] = rate (op_sodium, sk);
    return ok;
}

static bool
module_round (int r)
{
    CK_SESSION_HANDLE s[2];
    struct sign_arg ec = { .mech = CKM_ECDSA, .in_len = 32 };
    struct sign_arg hm = { .mech = CKM_SHA256_HMAC, .in_len = 64 };
    struct sign_arg ed = { .mech = CKM_EDDSA, .in_len = 32 };
    bool ok = module_init ();
    if (!ok)
        return false;
    ok = find_slot () && open_session (&s[0]) && open_session (&s[1]) && login (s[0])
         && find_key (s[0], CKO_PRIVATE_KEY, "bench-ec", &ec.key)
         && find_key (s[0], CKO_SECRET_KEY, "bench-hmac", &hm.key)
         && find_key (s[0], CKO_PRIVATE_KEY, "bench-ed", &ed.key);
    if (ok) {
        ec.s = hm.s = ed.s = s[0];
        res[M_ECDSA][r] = rate (op_ck_sign, &ec);
        res[M_ECDSA2][r] = threaded_rate (&ec, s, 2);
        res[M_HMAC][r] = rate (op_ck_sign, &hm);
        res[M_ED25519][r] = rate (op_ck_sign, &ed); /* warm-up caches the seed */
    }
    F->C_Finalize (NULL);
    return ok;
}

static void
fmt_rate (char *b, size_t n, double v)
{
    if (v < 0)
        snprintf (b, n, "error");
    else if (v >= 1000)
        snprintf (b, n, "%.0f", v);
    else
        snprintf (b, n, "%.1f", v);
}

int
main (int argc, char **argv)
{
    const char *e;
    struct sodium_arg sk;
    char line[4096];
    int status = 0;

    {
        static char exe[4096];
        ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            self_path = exe;
        } else {
            self_path = argv[0];
        }
    }
    if ((e = getenv ("TT_TOKEN")) != NULL && *e)
        token_label = e;
    if ((e = getenv ("TT_PIN")) != NULL && *e)
        pin = e;

    if (argc == 4 && strcmp (argv[1], "--sub") == 0) {
        module_path = argv[3];
        if (strcmp (argv[2], "latency") == 0)
            return sub_latency ();
        if (strcmp (argv[2], "phase-a") == 0)
            return sub_phase_a ();
        if (strcmp (argv[2], "phase-bc") == 0)
            return sub_phase_bc ();
        return 2;
    }
    module_path = argc > 1 ? argv[1] : getenv ("TT_MODULE");
    if (module_path == NULL || argc > 2) {
        fprintf (stderr, "usage: %s [MODULE]   (or TT_MODULE; TPMTRUST_TCTI required)\n", argv[0]);
        return 2;
    }
    if (getenv ("TPMTRUST_TCTI") == NULL) {
        fprintf (stderr, "tpmtrust-bench: TPMTRUST_TCTI is not set\n");
        return 2;
    }
    if ((e = getenv ("BENCH_ROUNDS")) != NULL && atoi (e) > 0)
        rounds = atoi (e) > MAX_ROUNDS ? MAX_ROUNDS : atoi (e);
    if ((e = getenv ("BENCH_SECS")) != NULL && atof (e) > 0)
        secs = atof (e);
    if ((e = getenv ("BENCH_LAT_RUNS")) != NULL && atoi (e) > 0)
        lat_runs = atoi (e) > 2 * MAX_ROUNDS ? 2 * MAX_ROUNDS : atoi (e);
    if (sodium_init () < 0) {
        fprintf (stderr, "tpmtrust-bench: sodium_init failed\n");
        return 2;
    }
    crypto_sign_keypair (sk.pk, sk.sk);
    if (!module_load ())
        return 2;

    /* ---- throughput rounds ---- */
    for (int r = 0; r < rounds; r++) {
        fprintf (stderr, "tpmtrust-bench: round %d/%d\n", r + 1, rounds);
        if (!raw_round (r, &sk) || !module_round (r)) {
            fprintf (stderr, "tpmtrust-bench: round %d failed\n", r + 1);
            status = 1;
        }
        for (int m = 0; m < N_MEAS; m++) {
            int ref = meas[m].ref;
            ratio[m][r] = (ref >= 0 && res[m][r] > 0 && res[ref][r] > 0)
                              ? res[m][r] / res[ref][r]
                              : -1;
        }
    }

    printf ("## tpmtrust benchmark\n\n");
    printf ("TCTI `%s`; %d rounds of %.2f s per measurement; medians over the rounds; "
            "ratios are taken per round against the raw limit measured in the same round.\n\n",
            getenv ("TPMTRUST_TCTI"), rounds, secs);
    printf ("| Measurement | median ops/s | min | max | ratio to raw (median) |\n");
    printf ("|---|---:|---:|---:|---|\n");
    for (int m = 0; m < N_MEAS; m++) {
        double v[MAX_ROUNDS], mn = 1e300, mx = -1;
        int nv = 0;
        char a[32], b[32], c[32];
        for (int r = 0; r < rounds; r++)
            if (res[m][r] > 0) {
                v[nv++] = res[m][r];
                mn = res[m][r] < mn ? res[m][r] : mn;
                mx = res[m][r] > mx ? res[m][r] : mx;
            }
        fmt_rate (a, sizeof a, nv ? median (v, nv) : -1);
        fmt_rate (b, sizeof b, nv ? mn : -1);
        fmt_rate (c, sizeof c, nv ? mx : -1);
        printf ("| %s | %s | %s | %s | ", meas[m].name, a, b, c);
        if (meas[m].ref < 0) {
            printf ("(limit) |\n");
        } else {
            int nr = 0;
            for (int r = 0; r < rounds; r++)
                if (ratio[m][r] > 0)
                    v[nr++] = ratio[m][r];
            if (nr)
                printf ("%.3f of %s |\n", median (v, nr), ref_name (meas[m].ref));
            else
                printf ("n/a |\n");
        }
    }

    /* ---- latencies, fresh processes ---- */
    {
        double lat[3][2 * MAX_ROUNDS];
        int n = 0;
        static const char *names[3] = { "C_Initialize", "first C_Login (after C_OpenSession)",
                                        "first signature (C_SignInit + C_Sign, CKM_ECDSA)" };
        for (int i = 0; i < lat_runs; i++) {
            double a, b, c;
            int rc = run_sub ("latency", NULL, line, sizeof line);
            if (rc == 0 && sscanf (line, "LAT %lf %lf %lf", &a, &b, &c) == 3) {
                lat[0][n] = a / 1000;
                lat[1][n] = b / 1000;
                lat[2][n] = c / 1000;
                n++;
            } else {
                fprintf (stderr, "tpmtrust-bench: latency child failed (rc %d)\n", rc);
                status = 1;
            }
        }
        printf ("\n### Latencies (median of %d fresh processes, fork+exec)\n\n", n);
        printf ("| Step | median ms | min ms | max ms |\n|---|---:|---:|---:|\n");
        for (int k = 0; k < 3; k++) {
            double mn = 1e300, mx = -1;
            for (int i = 0; i < n; i++) {
                mn = lat[k][i] < mn ? lat[k][i] : mn;
                mx = lat[k][i] > mx ? lat[k][i] : mx;
            }
            if (n)
                printf ("| %s | %.2f | %.2f | %.2f |\n", names[k], median (lat[k], n), mn, mx);
            else
                printf ("| %s | error | | |\n", names[k]);
        }
    }

    /* ---- TPM commands per phase (pcap TCTI) ---- */
    {
        const char *dir = getenv ("BENCH_PCAP_DIR");
        char fa[512], fb[512];
        long ca = -1, rsp = -1, pb = -1, pc = -1, pd = -1;
        int rc;
        if (dir == NULL || !*dir)
            dir = "/tmp";
        snprintf (fa, sizeof fa, "%s/tpmtrust-bench-a.%ld.pcapng", dir, (long) getpid ());
        snprintf (fb, sizeof fb, "%s/tpmtrust-bench-bc.%ld.pcapng", dir, (long) getpid ());
        unlink (fa);
        unlink (fb);
        rc = run_sub ("phase-a", fa, line, sizeof line);
        if (rc == 0)
            ca = pcap_count_commands (fa, &rsp, NULL);
        else
            fprintf (stderr, "tpmtrust-bench: phase a child failed (rc %d)\n", rc);
        rc = run_sub ("phase-bc", fb, line, sizeof line);
        if (rc != 0 || sscanf (line, "PCAP %ld %ld %ld", &pb, &pc, &pd) != 3)
            fprintf (stderr, "tpmtrust-bench: phase b/c child failed (rc %d)\n", rc);
        if (ca < 0 || pb < 0)
            status = 1;
        printf ("\n### TPM commands per phase (tpm2-tss pcap TCTI, pcapng, commands counted)\n\n");
        printf ("| Phase | TPM commands | by command code |\n|---|---:|---|\n");
        printf ("| (a) dlopen + C_Initialize + C_GetSlotList + C_Finalize | %ld | %s |\n", ca,
                ca == 0 && access (fa, F_OK) != 0 ? "TCTI never opened (no capture file)" : "");
        printf ("| (b) C_Initialize .. first CKM_ECDSA signature (slot, session, login, find) "
                "| %ld | ", pb);
        print_breakdown (line, "CCB");
        printf (" |\n| (c) 100 further CKM_ECDSA signatures | %ld (%.2f per signature) | ", pc,
                pc >= 0 ? pc / 100.0 : -1.0);
        print_breakdown (line, "CCC");
        printf (" |\n| (d) C_Finalize after (c) | %ld | |\n", pd);
        if (getenv ("BENCH_KEEP_PCAP") == NULL) {
            unlink (fa);
            unlink (fb);
        } else {
            fprintf (stderr, "tpmtrust-bench: captures kept: %s %s\n", fa, fb);
        }
    }
    for (int i = 0; i < RAW_N; i++) {
        Esys_Free (raw_priv[i]);
        Esys_Free (raw_pub[i]);
    }
    return status;
}
