/* SPDX-License-Identifier: BSD-2-Clause */
/* Throughput: the rows of the first table (raw limits, each module in
 * threads or processes) and their sub-modes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

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
bool
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
double
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

void
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

/* SPEC: "ecdsa:1,hmac:2,...". Prints "RATE ecdsa:1 ops/s" per item. */
int
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

int
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
