/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ttdelay: a tpm2-tss TCTI that forwards every command to an inner TCTI and
 * makes each response arrive no earlier than a real TPM's latency for that
 * command code after it was sent (a latency model, see docs/performance.md
 * for the sources of the figures). It also counts the commands per command
 * code and, when TTDELAY_COUNTS names a file, appends the counts there at
 * finalize (one line per code: "0x%08x NAME COUNT", then "total N").
 *
 * Conf: model=NAME,tcti=INNER  (tcti= last: the rest of the string is the
 * inner TCTI's conf, commas included), e.g.
 *   ttdelay:model=slb9670,tcti=swtpm:host=127.0.0.1,port=2321
 * Models: none (counting only), slb9670, ptt, amdftpm.
 * Bench and test use only: never installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_tcti.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_tpm2_types.h>

#include "tcti-delay.h"

#define TTDELAY_MAGIC 0x7474646c61790001ULL
#define MAX_CODES 64

struct counted {
    uint32_t cc;
    unsigned n;
};

typedef struct {
    TSS2_TCTI_CONTEXT_COMMON_V2 common;
    uint64_t magic;
    TSS2_TCTI_CONTEXT *inner;
    const struct ttdelay_model *model;
    int pending;           /* a command was sent, its response not yet delivered */
    struct timespec due;   /* when the modelled TPM would have answered */
    struct counted counts[MAX_CODES];
    unsigned ncodes, total;
} ttdelay_ctx;

static ttdelay_ctx *ctx_of(TSS2_TCTI_CONTEXT *c)
{
    ttdelay_ctx *t = (ttdelay_ctx *)c;
    return (t && t->magic == TTDELAY_MAGIC) ? t : NULL;
}

static void count(ttdelay_ctx *t, uint32_t cc)
{
    t->total++;
    for (unsigned i = 0; i < t->ncodes; i++)
        if (t->counts[i].cc == cc) {
            t->counts[i].n++;
            return;
        }
    if (t->ncodes < MAX_CODES)
        t->counts[t->ncodes++] = (struct counted){ cc, 1 };
}

static TSS2_RC tt_transmit(TSS2_TCTI_CONTEXT *c, size_t size, const uint8_t *cmd)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    if (!cmd || size < 10)
        return TSS2_TCTI_RC_BAD_VALUE;
    uint32_t cc = (uint32_t)cmd[6] << 24 | (uint32_t)cmd[7] << 16 | (uint32_t)cmd[8] << 8 | cmd[9];
    TSS2_RC rc = Tss2_Tcti_Transmit(t->inner, size, cmd);
    if (rc != TSS2_RC_SUCCESS)
        return rc;
    count(t, cc);
    clock_gettime(CLOCK_MONOTONIC, &t->due);
    /* StartAuthSession with tpmKey TPM2_RH_NULL: no salt to decrypt (the
     * costly ECDH of a salted session), modelled apart */
    uint32_t key = size >= 14 ? ((uint32_t)cmd[10] << 24 | (uint32_t)cmd[11] << 16 |
                                 (uint32_t)cmd[12] << 8 | cmd[13]) : 0;
    uint64_t us = ttdelay_latency_us(t->model, cc == TPM2_CC_StartAuthSession && key == TPM2_RH_NULL
                                                   ? TTDELAY_CC_UNSALTED_SESSION : cc);
    t->due.tv_sec += (time_t)(us / 1000000);
    t->due.tv_nsec += (long)(us % 1000000) * 1000;
    if (t->due.tv_nsec >= 1000000000L) {
        t->due.tv_sec++;
        t->due.tv_nsec -= 1000000000L;
    }
    t->pending = 1;
    return rc;
}

static TSS2_RC tt_receive(TSS2_TCTI_CONTEXT *c, size_t *size, uint8_t *resp, int32_t timeout)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    TSS2_RC rc = Tss2_Tcti_Receive(t->inner, size, resp, timeout);
    /* The response is delivered (not only its size asked for): hold it until
     * the modelled TPM would have finished; the inner TPM's own time counts. */
    if (rc == TSS2_RC_SUCCESS && resp && t->pending) {
        t->pending = 0;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t->due, NULL) == EINTR)
            ;
    }
    return rc;
}

static void write_counts(const ttdelay_ctx *t)
{
    const char *path = getenv("TTDELAY_COUNTS");
    if (!path || !*path)
        return;
    char buf[MAX_CODES * 64 + 64];
    size_t off = 0;
    for (unsigned i = 0; i < t->ncodes; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "0x%08" PRIx32 " %s %u\n",
                                t->counts[i].cc, ttdelay_cc_name(t->counts[i].cc), t->counts[i].n);
    off += (size_t)snprintf(buf + off, sizeof buf - off, "total %u\n", t->total);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* one write: lines of concurrent processes do not interleave */
    if (write(fd, buf, off) != (ssize_t)off) {
        /* nothing to do: a test reading the file reports the short count */
    }
    close(fd);
}

static void tt_finalize(TSS2_TCTI_CONTEXT *c)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return;
    write_counts(t);
    if (t->inner)
        Tss2_TctiLdr_Finalize(&t->inner);
    t->magic = 0;
}

static TSS2_RC tt_cancel(TSS2_TCTI_CONTEXT *c)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    t->pending = 0;
    return Tss2_Tcti_Cancel(t->inner);
}

static TSS2_RC tt_poll(TSS2_TCTI_CONTEXT *c, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    return Tss2_Tcti_GetPollHandles(t->inner, h, n);
}

static TSS2_RC tt_locality(TSS2_TCTI_CONTEXT *c, uint8_t locality)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    return Tss2_Tcti_SetLocality(t->inner, locality);
}

static TSS2_RC tt_sticky(TSS2_TCTI_CONTEXT *c, TPM2_HANDLE *handle, uint8_t sticky)
{
    ttdelay_ctx *t = ctx_of(c);
    if (!t)
        return TSS2_TCTI_RC_BAD_CONTEXT;
    return Tss2_Tcti_MakeSticky(t->inner, handle, sticky);
}

TSS2_RC Tss2_Tcti_Ttdelay_Init(TSS2_TCTI_CONTEXT *c, size_t *size, const char *conf);
TSS2_RC Tss2_Tcti_Ttdelay_Init(TSS2_TCTI_CONTEXT *c, size_t *size, const char *conf)
{
    if (!size)
        return TSS2_TCTI_RC_BAD_VALUE;
    if (!c) {
        *size = sizeof(ttdelay_ctx);
        return TSS2_RC_SUCCESS;
    }
    if (*size < sizeof(ttdelay_ctx))
        return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
    if (!conf)
        conf = "";
    /* model=NAME, then tcti=REST */
    const struct ttdelay_model *model = ttdelay_model_find("none");
    const char *inner = NULL, *p = conf;
    while (*p) {
        if (!strncmp(p, "tcti=", 5)) {
            inner = p + 5;
            break;
        }
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 6 && !strncmp(p, "model=", 6)) {
            char name[32];
            if (len - 6 >= sizeof name)
                goto bad;
            memcpy(name, p + 6, len - 6);
            name[len - 6] = 0;
            model = ttdelay_model_find(name);
            if (!model) {
                fprintf(stderr, "ttdelay: unknown model \"%s\" (known: %s)\n", name,
                        ttdelay_model_names());
                return TSS2_TCTI_RC_BAD_VALUE;
            }
        } else {
            goto bad;
        }
        if (!end)
            break;
        p = end + 1;
    }
    ttdelay_ctx *t = (ttdelay_ctx *)c;
    memset(t, 0, sizeof *t);
    TSS2_RC rc = Tss2_TctiLdr_Initialize(inner && *inner ? inner : NULL, &t->inner);
    if (rc != TSS2_RC_SUCCESS) {
        fprintf(stderr, "ttdelay: inner TCTI \"%s\" failed to load: 0x%" PRIx32 "\n",
                inner ? inner : "(default)", rc);
        return rc;
    }
    t->magic = TTDELAY_MAGIC;
    t->model = model;
    TSS2_TCTI_CONTEXT_COMMON_V2 *cm = &t->common;
    cm->v1.magic = TTDELAY_MAGIC;
    cm->v1.version = 2;
    cm->v1.transmit = tt_transmit;
    cm->v1.receive = tt_receive;
    cm->v1.finalize = tt_finalize;
    cm->v1.cancel = tt_cancel;
    cm->v1.getPollHandles = tt_poll;
    cm->v1.setLocality = tt_locality;
    cm->makeSticky = tt_sticky;
    return TSS2_RC_SUCCESS;
bad:
    fprintf(stderr, "ttdelay: bad conf \"%s\" (want model=NAME,tcti=INNER)\n", conf);
    return TSS2_TCTI_RC_BAD_VALUE;
}

static const TSS2_TCTI_INFO info = {
    .version = 2,
    .name = "tcti-ttdelay",
    .description = "latency model of real TPMs around an inner TCTI (tpmtrust bench)",
    .config_help = "model=none|slb9670|ptt|amdftpm,tcti=<inner TCTI conf>",
    .init = Tss2_Tcti_Ttdelay_Init,
};

const TSS2_TCTI_INFO *Tss2_Tcti_Info(void);
const TSS2_TCTI_INFO *Tss2_Tcti_Info(void)
{
    return &info;
}
