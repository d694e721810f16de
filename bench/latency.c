/* SPDX-License-Identifier: BSD-2-Clause */
/* Latencies of a fresh process: C_Initialize, the first C_Login, the first
 * signature. */
#include "config.h"

#include <stdio.h>

#include "bench.h"

int
sub_latency (void)
{
    CK_SESSION_HANDLE s;
    struct sign_arg a = { .kind = K_ECDSA };
    double t0, t1, t2, t3, login_s;
    if (!bench_load ())
        return 2;
    t0 = now ();
    if (!module_init ())
        return 2;
    t1 = now ();
    if (!find_slot () || !open_session (&s))
        return 2;
    t2 = now ();
    if (!user_login (s))
        return 2;
    t3 = now ();
    login_s = t3 - t2;
    if (find_key (s, CKO_PRIVATE_KEY, kinds[K_ECDSA].label, &a.key) != 1)
        return 2;
    a.s = s;
    t2 = now ();
    if (!op_ck_sign (&a))
        return 2;
    t3 = now ();
    printf ("LAT %.0f %.0f %.0f\n", (t1 - t0) * 1e6, login_s * 1e6, (t3 - t2) * 1e6);
    fflush (stdout);
    F->C_Finalize (NULL);
    return 0;
}

bool
section_latency (void)
{
    static const char *steps[3] = {
        "C_Initialize (after dlopen)",
        "first C_Login (after C_GetSlotList, C_GetTokenInfo, C_OpenSession)",
        "first signature: C_FindObjects excluded, C_SignInit + C_Sign CKM_ECDSA P-256",
    };
    char cell[N_T][3][64];
    bool ok = true;
    for (int t = T_TT; t < N_T; t++) {
        double v[3][MAX_RUNS];
        int n = 0;
        for (int i = 0; i < lat_runs && present (t); i++) {
            char line[256];
            double a, b, c;
            int rc = run_sub ("latency", t, NULL, NULL, NULL, line, sizeof line);
            if (rc == 0 && sscanf (line, "LAT %lf %lf %lf", &a, &b, &c) == 3) {
                v[0][n] = a / 1000;
                v[1][n] = b / 1000;
                v[2][n] = c / 1000;
                n++;
            } else {
                fprintf (stderr, "tpmtrust-bench: %s latency child failed (rc %d)\n",
                         targets[t].name, rc);
                ok = false;
            }
        }
        for (int k = 0; k < 3; k++) {
            double med, mn, mx;
            if (!present (t))
                snprintf (cell[t][k], sizeof cell[t][k], "not installed");
            else if (stats (v[k], n, &med, &mn, &mx) == 0)
                snprintf (cell[t][k], sizeof cell[t][k], "error");
            else
                snprintf (cell[t][k], sizeof cell[t][k], "%.2f (%.2f-%.2f)", med, mn, mx);
        }
    }
    printf ("\n### Latencies of a fresh process (ms, median (min-max) of %d fork+exec runs)\n\n",
            lat_runs);
    printf ("| Step | tpmtrust | tpm2-pkcs11 | SoftHSM |\n|---|---|---|---|\n");
    for (int k = 0; k < 3; k++)
        printf ("| %s | %s | %s | %s |\n", steps[k], cell[T_TT][k], cell[T_TP11][k],
                cell[T_SH][k]);
    return ok;
}
