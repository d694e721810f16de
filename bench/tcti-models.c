/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-command latencies of real TPMs, in microseconds. The sources of each
 * figure, and how the unpublished ones were estimated, are in
 * docs/performance.md ("Latency models of real TPMs"): keep both in step.
 * CreatePrimary is modelled as an ECC P-256 primary (the module's SRK
 * template); RSA figures are in the docs only (no RSA primary is made).
 */
#include <stddef.h>
#include <string.h>

#include <tss2/tss2_tpm2_types.h>

#include "tcti-delay.h"

struct lat {
    uint32_t cc;
    uint32_t us;
};

struct ttdelay_model {
    const char *name, *title;
    uint32_t default_us;
    struct lat lat[28];
};

static const struct ttdelay_model models[] = {
    { "none", "no added latency (counting only)", 0, { { 0, 0 } } },
    { "slb9670", "Infineon OPTIGA SLB 9670 (SPI dTPM)", 5000,
      { { TPM2_CC_CreatePrimary, 231000 },
        { TPM2_CC_Create, 231000 },
        { TPM2_CC_Load, 25000 },
        { TPM2_CC_Sign, 69000 },
        { TPM2_CC_HMAC, 6000 },
        { TPM2_CC_Unseal, 8000 },
        { TPM2_CC_StartAuthSession, 232000 },
        { TTDELAY_CC_UNSALTED_SESSION, 8000 },
        { TPM2_CC_FlushContext, 1000 },
        { TPM2_CC_GetCapability, 2000 },
        { TPM2_CC_ReadClock, 1000 },
        { TPM2_CC_PCR_Read, 2000 },
        { TPM2_CC_GetRandom, 2300 },
        { TPM2_CC_ContextSave, 10000 },
        { TPM2_CC_ContextLoad, 10000 },
        { TPM2_CC_ReadPublic, 2000 },
        { TPM2_CC_TestParms, 1000 },
        { TPM2_CC_ECDH_ZGen, 232000 },
        { TPM2_CC_EvictControl, 30000 },
        { 0, 0 } } },
    { "ptt", "Intel PTT (firmware TPM in the CSME)", 2000,
      { { TPM2_CC_CreatePrimary, 60000 },
        { TPM2_CC_Create, 60000 },
        { TPM2_CC_Load, 8000 },
        { TPM2_CC_Sign, 20000 },
        { TPM2_CC_HMAC, 2000 },
        { TPM2_CC_Unseal, 3000 },
        { TPM2_CC_StartAuthSession, 25000 },
        { TTDELAY_CC_UNSALTED_SESSION, 2000 },
        { TPM2_CC_FlushContext, 500 },
        { TPM2_CC_GetCapability, 1000 },
        { TPM2_CC_ReadClock, 500 },
        { TPM2_CC_PCR_Read, 1000 },
        { TPM2_CC_GetRandom, 1000 },
        { TPM2_CC_ContextSave, 3000 },
        { TPM2_CC_ContextLoad, 3000 },
        { TPM2_CC_ReadPublic, 1000 },
        { TPM2_CC_TestParms, 500 },
        { TPM2_CC_ECDH_ZGen, 25000 },
        { TPM2_CC_EvictControl, 20000 },
        { 0, 0 } } },
    { "amdftpm", "AMD fTPM (firmware TPM in the PSP)", 3000,
      { { TPM2_CC_CreatePrimary, 100000 },
        { TPM2_CC_Create, 100000 },
        { TPM2_CC_Load, 12000 },
        { TPM2_CC_Sign, 30000 },
        { TPM2_CC_HMAC, 3000 },
        { TPM2_CC_Unseal, 5000 },
        { TPM2_CC_StartAuthSession, 40000 },
        { TTDELAY_CC_UNSALTED_SESSION, 3000 },
        { TPM2_CC_FlushContext, 1000 },
        { TPM2_CC_GetCapability, 1500 },
        { TPM2_CC_ReadClock, 1000 },
        { TPM2_CC_PCR_Read, 1500 },
        { TPM2_CC_GetRandom, 1500 },
        { TPM2_CC_ContextSave, 5000 },
        { TPM2_CC_ContextLoad, 5000 },
        { TPM2_CC_ReadPublic, 1500 },
        { TPM2_CC_TestParms, 1000 },
        { TPM2_CC_ECDH_ZGen, 40000 },
        { TPM2_CC_EvictControl, 30000 },
        { 0, 0 } } },
};

const struct ttdelay_model *ttdelay_model_find(const char *name)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (!strcmp(models[i].name, name))
            return &models[i];
    return NULL;
}

const char *ttdelay_model_names(void)
{
    return "none, slb9670, ptt, amdftpm";
}

const char *ttdelay_model_title(const struct ttdelay_model *m)
{
    return m->title;
}

uint64_t ttdelay_latency_us(const struct ttdelay_model *m, uint32_t cc)
{
    for (const struct lat *l = m->lat; l->cc; l++)
        if (l->cc == cc)
            return l->us;
    return m->default_us;
}

static const struct {
    uint32_t cc;
    const char *name;
} names[] = {
    { TPM2_CC_CreatePrimary, "CreatePrimary" }, { TPM2_CC_Create, "Create" },
    { TPM2_CC_Load, "Load" }, { TPM2_CC_Sign, "Sign" }, { TPM2_CC_HMAC, "HMAC" },
    { TPM2_CC_Unseal, "Unseal" }, { TPM2_CC_StartAuthSession, "StartAuthSession" },
    { TPM2_CC_FlushContext, "FlushContext" }, { TPM2_CC_GetCapability, "GetCapability" },
    { TPM2_CC_ReadClock, "ReadClock" }, { TPM2_CC_PCR_Read, "PCR_Read" },
    { TPM2_CC_GetRandom, "GetRandom" }, { TPM2_CC_ContextSave, "ContextSave" },
    { TPM2_CC_ContextLoad, "ContextLoad" }, { TPM2_CC_ReadPublic, "ReadPublic" },
    { TPM2_CC_TestParms, "TestParms" }, { TPM2_CC_ECDH_ZGen, "ECDH_ZGen" },
    { TPM2_CC_EvictControl, "EvictControl" }, { TPM2_CC_Startup, "Startup" },
    { TPM2_CC_NV_Read, "NV_Read" }, { TPM2_CC_NV_Increment, "NV_Increment" },
    { TPM2_CC_NV_DefineSpace, "NV_DefineSpace" },
};

const char *ttdelay_cc_name(uint32_t cc)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].cc == cc)
            return names[i].name;
    return "other";
}
