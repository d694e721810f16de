/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the files of tpmtrust-bench share (bench-main.c describes the program).
 *
 *   bench-main.c   options, sub-mode dispatch, the run order, the report
 *   stats.c        median, min/max, operations per second
 *   raw-esys.c     the raw ESAPI context and keys, op_esys_*, libsodium
 *   p11.c          a module in a child: loading, token, sessions, signing
 *   child.c        the modules measured, fork+exec of the sub-modes
 *   pcap.c         TPM commands counted in the pcap TCTI's captures
 *   setup.c        the comparison modules' keys
 *   throughput.c   the first table: raw limits and module throughput
 *   latency.c      latencies of a fresh process
 *   commands.c     TPM commands per phase
 *   tool.c         whole `pkcs11-tool --sign` processes
 *   memory.c       memory growth over many signatures
 *   summary.c      what is left in the TPM; the issue 8 targets
 *
 * Each variable declared here is defined in exactly one of them.
 */
#ifndef TT_BENCH_H
#define TT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <sodium.h>
#include <tss2/tss2_esys.h>

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

/* Options (bench-main.c: from the environment and the command line). */
extern const char *self_path, *module_path, *token_label, *pin;
extern const char *tmp_dir;
extern int rounds, lat_runs, tool_runs;
extern long mem_sigs, mem_tpm_sigs, mem_warmup;
extern double secs;

/* stats.c */
double median (const double *v, int n);
int stats (const double *v, int n, double *med, double *mn, double *mx);
/* Operations per second of op(arg) (true = ok) for secs seconds. */
typedef bool (*op_fn) (void *arg);
double rate (op_fn op, void *arg);

/* raw-esys.c: the raw limits, in the parent between the modules' children. */
enum { RAW_ECDSA, RAW_HMAC, RAW_SEAL, RAW_N };
extern TPM2B_PRIVATE *raw_priv[RAW_N];
extern unsigned char sodium_sk[crypto_sign_SECRETKEYBYTES];
bool esys_open (void);
void esys_close (void);
bool create_raw_keys (void);
void raw_keys_free (void);
double raw_key_rate (int i, op_fn op);
bool op_esys_sign (void *arg);
bool op_esys_hmac (void *arg);
bool op_esys_unseal (void *arg);
bool op_esys_random (void *arg);
bool op_sodium (void *arg);
long tpm_handle_count (TPM2_HC first);

/* p11.c: the module of a sub-mode child (module_path). */
extern CK_FUNCTION_LIST *F;
/* The three mechanisms every module is measured with. */
enum { K_ECDSA, K_HMAC, K_ED, K_N };
extern const struct kind {
    const char *name;
    CK_MECHANISM_TYPE mech;
    CK_OBJECT_CLASS cls;
    const char *label;
    CK_ULONG in_len;
    CK_BYTE id; /* CKA_ID: pkcs11-tool --sign selects a key by --id only */
} kinds[K_N];

struct sign_arg {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    int kind;
    double deadline; /* threads */
    long count;
    bool failed;
};

bool ck_ok (CK_RV rv, const char *what);
bool bench_load (void);
bool module_init (void);
bool find_slot (void);
bool open_session (CK_SESSION_HANDLE *s);
bool user_login (CK_SESSION_HANDLE s);
bool module_open (CK_SESSION_HANDLE *s);
int find_key (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out);
int kind_of (const char *name);
bool op_ck_sign (void *p);
double threaded_rate (const struct sign_arg *proto, const CK_SESSION_HANDLE *sessions,
                      int nthreads);

/* child.c: the modules measured. tcti_var: the environment variable holding
 * the module's TCTI (wrapped by pcap: for the captures); NULL without a TPM. */
enum { T_RAW, T_TT, T_TP11, T_SH, N_T };
extern struct target {
    const char *name;
    const char *module;
    const char *tcti_var;
    char notes[1024];
} targets[N_T];

struct child {
    pid_t pid;
    int to, from; /* its stdin and stdout */
};

bool present (int t);
bool child_start (struct child *c, const char *mode, int t, const char *arg, const char *env,
                  const char *pcap_file);
size_t read_fd (int fd, char *out, size_t outlen, bool line);
int child_finish (struct child *c);
int run_sub (const char *mode, int t, const char *arg, const char *env, const char *pcap_file,
             char *out, size_t outlen);

/* pcap.c */
long pcap_count_commands (const char *path, long *responses, long *hist, long *enc);
void print_hist (const long *hist);
void print_breakdown (const char *out, const char *tag);
long breakdown_count (const char *out, const char *tag, unsigned want);

/* The rows of the throughput table (throughput.c). */
enum {
    R_SIGN, R_HMAC, R_UNSEAL, R_RANDOM, R_SODIUM,
    TT_EC1, TT_EC2, TT_HM1, TT_HM2, TT_EDC1, TT_EDC2, TT_EDU1, TT_EDU2,
    TP_EC1, TP_EC2, TP_HM1,
    SH_EC1, SH_EC2, SH_HM1, SH_ED1,
    A_SIGN, A_HMAC, A_UNSEAL, A_SODIUM,
    A_EC1P, A_EC2P, A_HM2P, A_EDC2P, A_EDU2P,
    N_ROWS
};

/* The families: a sub-mode run by a child, the section printed by the parent. */
int sub_setup (void);
bool setup_modules (void);

int sub_rates (const char *spec);
int sub_signer (const char *mech);
bool measure_round (int r, bool abrmd);
double row_ratio (int i);
void print_table (bool abrmd);

int sub_latency (void);
bool section_latency (void);

int sub_phase_a (void);
int sub_phase_bc (const char *mech);
bool section_pcap (void);
/* Results the targets summary uses. */
extern long cmds_a, cmds_b, cmds_c, hmac_c, hmac_enc, hmac_cmds;

bool section_tool (void);
extern double tool_ratio;

int sub_mem (void);
bool section_mem (void);
/* Second-half growth per memory phase, for the targets; -1: not measured. */
extern long mem_rss2[3], mem_heap2[3], mem_half[3];

bool section_left (void);
void section_targets (void);

#endif
