/* SPDX-License-Identifier: BSD-2-Clause */
/* Latency models of real TPMs (bench/tcti-models.c), shared by the ttdelay
 * TCTI (bench/tcti-delay.c) and tpmtrust-bench (for the floor). */
#ifndef TT_BENCH_TCTI_DELAY_H
#define TT_BENCH_TCTI_DELAY_H

#include <stdint.h>

struct ttdelay_model;

/* a pseudo command code: StartAuthSession without salt (tpmKey TPM2_RH_NULL) */
#define TTDELAY_CC_UNSALTED_SESSION 0x80000176u

/* NULL when unknown */
const struct ttdelay_model *ttdelay_model_find(const char *name);
/* "none, slb9670, ..." */
const char *ttdelay_model_names(void);
const char *ttdelay_model_title(const struct ttdelay_model *m);
/* the modelled execution time of one command, microseconds */
uint64_t ttdelay_latency_us(const struct ttdelay_model *m, uint32_t cc);
/* "Sign", "CreatePrimary", ... or "other" */
const char *ttdelay_cc_name(uint32_t cc);

#endif
