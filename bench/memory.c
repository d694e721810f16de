/* SPDX-License-Identifier: BSD-2-Clause */
/* Memory growth of one tpmtrust process over many signatures. */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

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
int
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

long mem_rss2[3] = { -1, -1, -1 }, mem_heap2[3] = { -1, -1, -1 };
long mem_half[3];

bool
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
