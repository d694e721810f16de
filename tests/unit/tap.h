/* SPDX-License-Identifier: BSD-2-Clause */
/* A tiny TAP producer for the unit and module tests. */
#ifndef TT_TAP_H
#define TT_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                                            \
    do {                                                                                         \
        tap_n++;                                                                                 \
        if (cond) {                                                                              \
            printf ("ok %d - ", tap_n);                                                          \
        } else {                                                                                 \
            tap_failed++;                                                                        \
            printf ("not ok %d - %s:%d: ", tap_n, __FILE__, __LINE__);                           \
        }                                                                                        \
        printf (__VA_ARGS__);                                                                    \
        printf ("\n");                                                                           \
        fflush (stdout);                                                                         \
    } while (0)

#define is_rv(got, want, what)                                                                   \
    do {                                                                                         \
        unsigned long g_ = (unsigned long) (got), w_ = (unsigned long) (want);                    \
        ok (g_ == w_, "%s: 0x%lx (want 0x%lx)", what, g_, w_);                                   \
    } while (0)

static int
tap_done (void)
{
    printf ("1..%d\n", tap_n);
    if (tap_failed)
        fprintf (stderr, "%d of %d checks failed\n", tap_failed, tap_n);
    return tap_failed ? 1 : 0;
}

#endif
