/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool sigv4: an HTTP request signed with AWS SigV4, kDate from the
 * TPM (tools/sigv4.c does the rest).
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

/* kDate = HMAC-SHA256 ("AWS4" + secret, date) computed in the TPM through the module. */
typedef struct tpm_kdate {
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    CK_RV rv;
} tpm_kdate;

static int
tpm_kdate_fn (void *ctx, const char *date8, unsigned char kdate[32])
{
    tpm_kdate *k = ctx;
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_ULONG len = 32;

    k->rv = p11->C_SignInit (k->session, &m, k->key);
    if (k->rv == CKR_OK)
        k->rv = p11->C_Sign (k->session, (CK_BYTE *) date8, strlen (date8), kdate, &len);
    return k->rv == CKR_OK && len == 32 ? 0 : -1;
}

int
cmd_sigv4 (const tool_opts *o)
{
    const char *label = o->label ? o->label : "aws-sigv4";
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE find[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_LABEL, (void *) label, strlen (label) },
    };
    tpm_kdate k = { .session = CK_INVALID_HANDLE };
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    CK_ULONG n = 0;
    sigv4_http http;
    char sig[65], authz[1024], err[256], *pin, *text;
    size_t len = 0;
    int ret = 1;
    CK_RV rv;

    if (o->access_key == NULL || o->region == NULL || o->service == NULL) {
        fprintf (stderr, "tpmtrust-tool: sigv4 needs --access-key, --region and --service\n");
        return 2;
    }
    text = read_all (o->request, &len);
    if (text == NULL || sigv4_http_parse (text, len, &http) != 0) {
        fprintf (stderr, "tpmtrust-tool: the request is not an HTTP request (a request line, "
                         "header lines, a blank line, the body)\n");
        return 1;
    }
    http.req.access_key = o->access_key;
    http.req.region = o->region;
    http.req.service = o->service;
    rv = find_slot (o->token, &slot, &ti);
    if (rv == CKR_OK)
        rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &k.session);
    if (rv == CKR_OK) {
        pin = read_pin ("TPMTRUST_PIN", "User PIN");
        rv = p11->C_Login (k.session, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin));
        wipe_free (pin);
    }
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsInit (k.session, find, 2);
    if (rv == CKR_OK)
        rv = p11->C_FindObjects (k.session, &k.key, 1, &n);
    if (rv == CKR_OK)
        p11->C_FindObjectsFinal (k.session);
    if (rv != CKR_OK) {
        fail ("finding the key", rv);
    } else if (n == 0) {
        fprintf (stderr, "tpmtrust-tool: no secret key labelled '%s' (import one with "
                         "'tpmtrust-tool hmac import --aws')\n",
                 label);
    } else if (sigv4_sign (&http.req, tpm_kdate_fn, &k, sig, authz, sizeof authz, err,
                           sizeof err)
               != 0) {
        if (k.rv != CKR_OK)
            fail ("computing kDate in the TPM", k.rv);
        else
            fprintf (stderr, "tpmtrust-tool: signing: %s\n", err);
    } else {
        printf ("Authorization: %s\n", authz);
        ret = 0;
    }
    if (k.session != CK_INVALID_HANDLE)
        p11->C_CloseSession (k.session);
    sigv4_http_free (&http);
    return ret;
}
