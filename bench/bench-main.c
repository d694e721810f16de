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
 *
 * This file is the driver; each measured family has its own file (a
 * sub-mode and the section it prints), listed in bench.h.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

const char *self_path, *module_path, *token_label = "bench", *pin = "1234";
const char *tmp_dir = "/tmp";
int rounds = 5, lat_runs = 5, tool_runs = 5;
long mem_sigs = 100000, mem_tpm_sigs = 500, mem_warmup = 100;
double secs = 0.5;

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
    bool abrmd = false, ok;
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
    ok = setup_modules ();

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
    raw_keys_free ();
    return ok ? 0 : 1;
}
