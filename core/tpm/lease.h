/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Leases: what this process holds loaded in a TPM without a resource manager.
 *
 * On a raw TCTI (swtpm, mssim, /dev/tpm0) nothing flushes the transient objects
 * and sessions of a process that dies, is killed or _exit()s without
 * C_Finalize (OpenSSH does). To keep keys and sessions loaded across calls
 * anyway, each process records what it holds in a file of its own,
 *   $XDG_RUNTIME_DIR/tpmtrust/tpm-<hash of the TCTI>/<pid>.<start time>
 * (or /tmp/tpmtrust-<uid>/... without XDG_RUNTIME_DIR; directories 0700),
 * written before it acquires anything ("pending") and after (handle, and the
 * Name of an object). The next process that connects flushes what dead
 * processes recorded (see tpm_reclaim_inlock in tpm.c).
 *
 * File lines: "o HANDLE NAMEHEX" an object, "s HANDLE" a session, "p" an
 * acquisition under way. Every change rewrites the file (write + rename).
 */
#ifndef TT_TPM_LEASE_H
#define TT_TPM_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_MAX 16       /* handles one process holds at once */
#define LEASE_NAME_MAX 66  /* a TPM2B_NAME's bytes (hash alg + digest) */

typedef struct lease_entry {
    uint32_t handle;
    uint8_t name[LEASE_NAME_MAX];
    size_t name_len; /* 0 for a session */
} lease_entry;

/* The entries of a set of processes. */
typedef struct lease_set {
    lease_entry e[64];
    size_t n;
    bool pending; /* one of them was acquiring something */
} lease_set;

typedef struct tpm_lease tpm_lease;

/* NULL when no private directory can be used (logged once): the caller then
 * keeps nothing loaded between calls. */
tpm_lease *lease_open (const char *tcti_conf);
/* Removes this process's file and frees; NULL-safe. */
void lease_free (tpm_lease *l);
/* After fork in the child: frees without touching the parent's file. */
void lease_forget (tpm_lease *l);

void lease_pending (tpm_lease *l, bool on);
void lease_add (tpm_lease *l, uint32_t handle, const uint8_t *name, size_t name_len);
void lease_del (tpm_lease *l, uint32_t handle);
/* Drops every entry (the TPM was lost: nothing of ours is there any more). */
void lease_clear (tpm_lease *l);
bool lease_holds (const tpm_lease *l, uint32_t handle);

/* Reads the other processes' files: dead ones into dead, live ones into live.
 * Returns true when dead has anything. Once what dead holds is flushed,
 * lease_scan_done removes the dead processes' files (not before: a process
 * killed while reclaiming leaves them to the next one). */
bool lease_scan (tpm_lease *l, lease_set *dead, lease_set *live);
void lease_scan_done (tpm_lease *l);

#endif
