/* SPDX-License-Identifier: BSD-2-Clause */
/* The modules measured and the child processes that measure them
 * (fork+exec of this binary in a sub-mode). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct target targets[N_T] = {
    [T_RAW] = { "raw", NULL, NULL, "" },
    [T_TT] = { "tpmtrust", NULL, "TPMTRUST_TCTI", "" },
    [T_TP11] = { "tpm2-pkcs11", NULL, "TPM2_PKCS11_TCTI", "" },
    [T_SH] = { "SoftHSM", NULL, NULL, "" },
};

bool
present (int t)
{
    return t == T_RAW || targets[t].module != NULL;
}

/*
 * fork+exec "self --sub MODE MODULE [ARG]" for target t. env: "NAME=value"
 * added to the child's environment, or NULL. pcap_file: route the target's
 * TCTI through the pcap TCTI into that file.
 */
bool
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
size_t
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
int
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
int
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
