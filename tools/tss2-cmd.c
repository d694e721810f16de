/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool import-tss2 and export-tss2: TSS2 key files (tools/tss2.c
 * reads and writes them).
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

typedef struct tss2_op {
    tss2_key key;
    const char *label, *password;
    CK_OBJECT_HANDLE h, pub_h;
} tss2_op;

static CK_RV
adopt_fn (tt_token *tok, tt_session *sess, void *arg)
{
    tss2_op *op = arg;
    const char *pw = op->password;
    return object_adopt_inlock (tok, sess, op->key.pub, op->key.pub_len, op->key.priv,
                                op->key.priv_len, (const CK_UTF8CHAR *) pw, strlen (pw), op->label,
                                &op->h, &op->pub_h);
}

static CK_RV
export_fn (tt_token *tok, tt_session *sess, void *arg)
{
    tss2_op *op = arg;
    const char *pw = op->password ? op->password : "";
    return object_export_inlock (tok, sess, op->h, (const CK_UTF8CHAR *) pw, strlen (pw),
                                 &op->key.pub, &op->key.pub_len, &op->key.priv,
                                 &op->key.priv_len);
}

/*
 * Whether the adopted key takes the auth value it was adopted with: one
 * signature (ECDSA over a fixed digest, or an HMAC). The module answers a
 * wrong auth value (TPM_RC_AUTH_FAIL / BAD_AUTH) with CKR_TPMTRUST_OBJECT_DAMAGED
 * (and logs that the store row does not match the key).
 */
static CK_RV
try_adopted_key (CK_SESSION_HANDLE s, const tss2_op *op)
{
    CK_KEY_TYPE kt = CKK_EC;
    CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof kt };
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_BYTE digest[32] = { 0 }, out[128];
    CK_ULONG out_len = sizeof out;
    CK_RV rv = p11->C_GetAttributeValue (s, op->h, &a, 1);

    if (rv != CKR_OK)
        return rv;
    switch (kt) {
    case CKK_EC: break;
    case CKK_SHA_1_HMAC: m.mechanism = CKM_SHA_1_HMAC; break;
    case CKK_SHA384_HMAC: m.mechanism = CKM_SHA384_HMAC; break;
    case CKK_SHA512_HMAC: m.mechanism = CKM_SHA512_HMAC; break;
    default: m.mechanism = CKM_SHA256_HMAC; break;
    }
    rv = p11->C_SignInit (s, &m, op->h);
    if (rv == CKR_OK)
        rv = p11->C_Sign (s, digest, sizeof digest, out, &out_len);
    return rv;
}

int
cmd_import_tss2 (const tool_opts *o)
{
    const char *env = getenv ("TPMTRUST_KEY_PASSWORD");
    tss2_op op = { .label = o->label };
    CK_SESSION_HANDLE s;
    char err[256];
    const char *tried[2];
    size_t n_tried = 0;
    CK_RV rv;

    if (o->file == NULL || o->label == NULL) {
        fprintf (stderr, "tpmtrust-tool: import-tss2 needs --file and --label\n");
        return 2;
    }
    if (tss2_read (o->file, &op.key, err, sizeof err) != 0) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", o->file, err);
        return 1;
    }
    if (op.key.parent != 0x40000001 && op.key.parent != 0x81000001) {
        fprintf (stderr, "tpmtrust-tool: %s: parent 0x%08x: only keys under the storage root "
                         "key (0x40000001 or 0x81000001) can be adopted\n",
                 o->file, op.key.parent);
        tss2_key_clear (&op.key);
        return 1;
    }
    /*
     * Which auth value: the file's emptyAuth says whether there is one, but
     * tpm2_encodeobject before tpm2-tools 5.8 writes it inverted (FALSE for a
     * key without a password, TRUE for one with). So: the password when one
     * is set and the file says there is one, else the empty one, and then the
     * password if one is set. A key that takes none is not kept.
     */
    tried[n_tried++] = env != NULL && !op.key.empty_auth ? env : "";
    if (env != NULL && strcmp (env, tried[0]) != 0)
        tried[n_tried++] = env;
    rv = open_user_session (o->token, &s);
    for (size_t i = 0; rv == CKR_OK && i < n_tried; i++) {
        CK_RV used;
        op.password = tried[i];
        rv = with_core_session (s, adopt_fn, &op);
        if (rv != CKR_OK)
            break;
        used = try_adopted_key (s, &op);
        if (used == CKR_OK)
            break;
        if (used != CKR_TPMTRUST_OBJECT_DAMAGED && used != CKR_PIN_INCORRECT) {
            fprintf (stderr, "tpmtrust-tool: warning: the adopted key could not be tried "
                             "(0x%lx): its auth value is unchecked\n",
                     (unsigned long) used);
            break;
        }
        p11->C_DestroyObject (s, op.h);
        if (op.pub_h != CK_INVALID_HANDLE)
            p11->C_DestroyObject (s, op.pub_h);
        if (i + 1 < n_tried)
            fprintf (stderr, "tpmtrust-tool: %s: the key does not take an empty auth value, as "
                             "the file says: trying TPMTRUST_KEY_PASSWORD\n",
                     o->file);
        if (i + 1 == n_tried) {
            tss2_key_clear (&op.key);
            p11->C_CloseSession (s);
            if (env == NULL)
                fprintf (stderr, "tpmtrust-tool: %s has a password: set "
                                 "TPMTRUST_KEY_PASSWORD\n", o->file);
            else
                fprintf (stderr, "tpmtrust-tool: %s: the key does not take the password in "
                                 "TPMTRUST_KEY_PASSWORD: not adopted\n",
                         o->file);
            return 1;
        }
    }
    tss2_key_clear (&op.key);
    if (rv != CKR_OK)
        return fail ("adopting the key", rv);
    printf ("adopted %s as '%s'%s\n", o->file, o->label,
            op.pub_h != CK_INVALID_HANDLE ? " (private and public key objects)" : "");
    p11->C_CloseSession (s);
    return 0;
}

int
cmd_export_tss2 (const tool_opts *o)
{
    tss2_op op = { .label = o->label, .password = getenv ("TPMTRUST_KEY_PASSWORD") };
    CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_SECRET_KEY };
    CK_SESSION_HANDLE s;
    CK_ULONG n = 0;
    char err[256];
    CK_RV rv;

    if (o->file == NULL || o->label == NULL) {
        fprintf (stderr, "tpmtrust-tool: export-tss2 needs --label and --file\n");
        return 2;
    }
    rv = open_user_session (o->token, &s);
    for (size_t i = 0; rv == CKR_OK && n == 0 && i < 2; i++) {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &classes[i], sizeof classes[i] },
            { CKA_LABEL, (void *) o->label, strlen (o->label) },
        };
        rv = p11->C_FindObjectsInit (s, t, 2);
        if (rv == CKR_OK)
            rv = p11->C_FindObjects (s, &op.h, 1, &n);
        if (rv == CKR_OK)
            rv = p11->C_FindObjectsFinal (s);
    }
    if (rv == CKR_OK && n == 0) {
        fprintf (stderr, "tpmtrust-tool: no private or secret key labelled '%s'\n", o->label);
        return 1;
    }
    if (rv == CKR_OK)
        rv = with_core_session (s, export_fn, &op);
    if (rv != CKR_OK)
        return fail ("exporting the key", rv);
    op.key.parent = 0x40000001;
    op.key.empty_auth = op.password == NULL || op.password[0] == '\0';
    if (tss2_write (o->file, &op.key, err, sizeof err) != 0) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", o->file, err);
        tss2_key_clear (&op.key);
        return 1;
    }
    tss2_key_clear (&op.key);
    printf ("wrote '%s' to %s (%s)\n", o->label, o->file,
            op.password && op.password[0] ? "with the password from TPMTRUST_KEY_PASSWORD"
                                          : "empty auth: protect the file");
    p11->C_CloseSession (s);
    return 0;
}
