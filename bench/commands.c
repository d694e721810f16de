/* SPDX-License-Identifier: BSD-2-Clause */
/* TPM commands per phase of a fresh process (load, first signature, steady
 * state, finalize), counted in the pcap TCTI's captures. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

int
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

int
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

long cmds_a = -1, cmds_b = -1, cmds_c = -1, hmac_c = -1, hmac_enc = -1, hmac_cmds = -1;

bool
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
