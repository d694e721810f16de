/* SPDX-License-Identifier: BSD-2-Clause */
/* Whole process: `pkcs11-tool --login --sign`, fresh runs per module. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

double tool_ratio = -1;

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

bool
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
