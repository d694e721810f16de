/* SPDX-License-Identifier: BSD-2-Clause */
/* What is left in the TPM at the end, and the issue 8 targets judged from
 * the figures of the other sections. */
#include "config.h"

#include <stdio.h>

#include "bench.h"

static long left_objects = -1, left_sessions = -1;

/* Transient objects and sessions in the TPM, after every process ended. */
bool
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
void
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
