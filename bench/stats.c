/* SPDX-License-Identifier: BSD-2-Clause */
/* Medians and rates: the statistics every measured figure goes through. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
median (const double *v, int n)
{
    double t[MAX_RUNS];
    if (n <= 0)
        return V_ERROR;
    memcpy (t, v, (size_t) n * sizeof *t);
    qsort (t, (size_t) n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Median, min and max of the positive values among v[0..n-1]; count kept. */
int
stats (const double *v, int n, double *med, double *mn, double *mx)
{
    double t[MAX_RUNS];
    int k = 0;
    *mn = 1e300;
    *mx = -1;
    for (int i = 0; i < n; i++)
        if (v[i] > 0) {
            t[k++] = v[i];
            *mn = v[i] < *mn ? v[i] : *mn;
            *mx = v[i] > *mx ? v[i] : *mx;
        }
    *med = k ? median (t, k) : V_ERROR;
    return k;
}

/* Operations per second of op(arg) (true = ok) for secs seconds. */
double
rate (op_fn op, void *arg)
{
    double t0, t;
    long n = 0;
    if (!op (arg)) /* warm-up, not counted */
        return V_ERROR;
    t0 = now ();
    do {
        if (!op (arg))
            return V_ERROR;
        n++;
        t = now ();
    } while (t - t0 < secs);
    return (double) n / (t - t0);
}
