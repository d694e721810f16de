/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool watchdog provision|register-key|beat|verify (docs/watchdog.md).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/config-file.h"
#include "pkcs11-tpmtrust.h"
#include "store/store.h"
#include "tools/sigv4.h"
#include "tools/tool.h"
#include "tools/tss2.h"
#include "tpm/tpm.h"
#include "verify/hbverify.h"

#define WD_LABEL "tpmtrust watchdog v1"

typedef struct nv_op {
    uint32_t index;
    unsigned long mask;
    const char *label;
    CK_OBJECT_HANDLE h;
} nv_op;

static CK_RV
nv_fn (tt_token *tok, tt_session *sess, void *arg)
{
    nv_op *op = arg;
    return object_provision_nv_inlock (tok, sess, op->index, op->mask, op->label, &op->h);
}

int
cmd_watchdog_provision (const tool_opts *o)
{
    tool_opts k = *o;
    if (o->nv) {
        nv_op op = { (uint32_t) o->nv_index, 0, o->label ? o->label : "wd-root", 0 };
        CK_MECHANISM_TYPE bank;
        CK_SESSION_HANDLE s;
        CK_RV rv;
        if (!parse_pcrs (o->pcrs ? o->pcrs : "sha256:7", &bank, &op.mask) || bank != CKM_SHA256) {
            fprintf (stderr, "tpmtrust-tool: --pcrs: the NV form takes sha256 PCRs\n");
            return 2;
        }
        rv = open_user_session (o->token, &s);
        if (rv == CKR_OK)
            rv = with_core_session (s, nv_fn, &op);
        if (rv != CKR_OK)
            return fail ("provisioning the NV root", rv);
        printf ("watchdog root '%s' in NV index 0x%08x, bound to PCRs %s\n", op.label, op.index,
                o->pcrs ? o->pcrs : "sha256:7");
        p11->C_CloseSession (s);
        return 0;
    }
    k.type = "hmac-sha256";
    k.label = o->label ? o->label : "wd-root";
    k.pcrs = o->pcrs ? o->pcrs : "sha256:7";
    k.derive = true; /* the per-boot key is derived from it */
    return cmd_key_generate (&k);
}

static void
put_le (unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char) (v >> (8 * i));
}

/* register-key: the key record on fd; beat: heartbeats on stdout. */
int
cmd_watchdog_key (const tool_opts *o, bool register_key)
{
    const char *root = o->label ? o->label : "wd-root";
    const char *boot_path = o->boot_id ? o->boot_id : "/proc/sys/kernel/random/boot_id";
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof cls },
                            { CKA_LABEL, (void *) root, strlen (root) } };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE kt[] = { { CKA_SENSITIVE, register_key ? &no : &yes, 1 },
                          { CKA_EXTRACTABLE, register_key ? &yes : &no, 1 } };
    unsigned char boot[64], rec[48], key[32], hb[80 + 256];
    CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS params = { boot, 0, (unsigned char *) WD_LABEL,
                                                  sizeof WD_LABEL - 1 };
    CK_MECHANISM derive = { CKM_TPMTRUST_WATCHDOG_DERIVE, &params, sizeof params };
    CK_MECHANISM beat = { CKM_TPMTRUST_HEARTBEAT, NULL, 0 };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE base, wk;
    CK_ULONG n = 0;
    FILE *bf = fopen (boot_path, "re");
    CK_RV rv;

    if (bf == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", boot_path, strerror (errno));
        return 1;
    }
    params.ulBootIdLen = fread (boot, 1, sizeof boot, bf);
    fclose (bf);
    while (params.ulBootIdLen > 0 && boot[params.ulBootIdLen - 1] == '\n')
        params.ulBootIdLen--;
    rv = open_user_session (o->token, &s);
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsInit (s, find, 2);
    if (rv == CKR_OK)
        rv = p11->C_FindObjects (s, &base, 1, &n);
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsFinal (s);
    if (rv == CKR_OK && n == 0) {
        fprintf (stderr, "tpmtrust-tool: no watchdog root '%s' ('tpmtrust-tool watchdog "
                         "provision' makes one)\n",
                 root);
        return 1;
    }
    if (rv == CKR_OK)
        rv = p11->C_DeriveKey (s, &derive, base, kt, 2, &wk);
    if (rv != CKR_OK)
        return fail ("deriving this boot's heartbeat key (if PCRs changed, the watchdog "
                     "will fire)",
                     rv);
    if (register_key) {
        /* The record the register ioctl takes: "TTWK", u16 version 1, u16 key length,
         * the key, u32 period ms, u32 timeout ms (docs/watchdog.md). */
        CK_ATTRIBUTE v = { CKA_VALUE, key, sizeof key };
        rv = p11->C_GetAttributeValue (s, wk, &v, 1);
        if (rv != CKR_OK || v.ulValueLen != 32)
            return fail ("reading the heartbeat key", rv);
        memcpy (rec, "TTWK", 4);
        put_le (rec + 4, 1, 2);
        put_le (rec + 6, 32, 2);
        memcpy (rec + 8, key, 32);
        put_le (rec + 40, o->period_ms, 4);
        put_le (rec + 44, o->timeout_ms, 4);
        explicit_bzero (key, sizeof key);
        if (write ((int) o->fd, rec, sizeof rec) != (ssize_t) sizeof rec) {
            explicit_bzero (rec, sizeof rec);
            fprintf (stderr, "tpmtrust-tool: writing fd %lu: %s\n", o->fd, strerror (errno));
            return 1;
        }
        explicit_bzero (rec, sizeof rec);
        p11->C_CloseSession (s);
        return 0;
    }
    for (unsigned long i = 0; i < o->count; i++) {
        CK_ULONG len = sizeof hb;
        size_t ml = o->meta ? strlen (o->meta) : 0;
        rv = p11->C_SignInit (s, &beat, wk);
        if (rv == CKR_OK)
            rv = p11->C_Sign (s, (CK_BYTE *) o->meta, ml, hb, &len);
        if (rv != CKR_OK)
            return fail ("making a heartbeat", rv);
        for (CK_ULONG j = 0; j < len; j++)
            printf ("%02x", hb[j]);
        printf ("\n");
        fflush (stdout);
        if (i + 1 < o->count)
            usleep ((useconds_t) (o->period_ms * 1000));
    }
    p11->C_CloseSession (s);
    return 0;
}

int
cmd_watchdog_verify (const tool_opts *o)
{
    unsigned char rec[48], msg[512];
    struct hb_verifier v;
    char line[1200];
    int bad = 0, good = 0;
    FILE *f = o->key_file ? fopen (o->key_file, "re") : NULL;

    if (f == NULL || fread (rec, 1, sizeof rec, f) != sizeof rec || memcmp (rec, "TTWK", 4) != 0) {
        fprintf (stderr, "tpmtrust-tool: --key-file must name a record from 'watchdog "
                         "register-key'\n");
        if (f)
            fclose (f);
        return 2;
    }
    fclose (f);
    hb_verifier_init (&v, rec + 8, (uint64_t) o->window_ms * 1000000u);
    explicit_bzero (rec, sizeof rec);
    while (fgets (line, sizeof line, stdin) != NULL) {
        struct timespec ts;
        size_t len;
        enum hb_result r;
        line[strcspn (line, "\r\n")] = '\0';
        len = parse_hex (line, msg, sizeof msg);
        clock_gettime (CLOCK_MONOTONIC, &ts);
        r = hb_verify (&v, msg, len, (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec,
                       NULL);
        printf ("%s\n", r == HB_OK ? "ok" : hb_result_str (r));
        if (r == HB_OK)
            good++;
        else
            bad++;
    }
    fprintf (stderr, "%d heartbeats verified, %d rejected\n", good, bad);
    return bad ? 1 : 0;
}
