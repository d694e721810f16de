/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool: key generate, key pcr-status, hmac import.
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

int
cmd_hmac_import (const tool_opts *o)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = o->aws ? CKK_SHA256_HMAC : CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    const char *label = o->label ? o->label : o->aws ? "aws-sigv4" : NULL;
    unsigned char *value = NULL;
    size_t len = 0;
    char *pin = NULL;
    int ret = 1;
    CK_RV rv;

    if (label == NULL) {
        fprintf (stderr, "tpmtrust-tool: hmac import needs --label (or --aws)\n");
        return 2;
    }
    rv = find_slot (o->token, &slot, &ti);
    if (rv != CKR_OK) {
        fprintf (stderr, "tpmtrust-tool: no token%s%s\n", o->token ? " labelled " : "",
                 o->token ? o->token : "");
        return 1;
    }
    if (read_secret (o->file, o->aws, &value, &len) != 0)
        return 1;
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls, sizeof cls },
            { CKA_KEY_TYPE, &kt, sizeof kt },
            { CKA_TOKEN, &yes, sizeof yes },
            { CKA_PRIVATE, &yes, sizeof yes },
            { CKA_SENSITIVE, &yes, sizeof yes },
            { CKA_EXTRACTABLE, &no, sizeof no },
            { CKA_SIGN, &yes, sizeof yes },
            { CKA_VERIFY, &yes, sizeof yes },
            { CKA_LABEL, (void *) label, strlen (label) },
            { CKA_ID, (void *) label, strlen (label) }, /* pkcs11-tool selects by --id */
            { CKA_VALUE, value, len },
        };
        pin = read_pin ("TPMTRUST_PIN", "User PIN");
        rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
        if (rv == CKR_OK)
            rv = p11->C_Login (s, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin));
        if (rv == CKR_OK)
            rv = p11->C_CreateObject (s, t, sizeof t / sizeof t[0], &h);
    }
    secure_free (value, len);
    wipe_free (pin);
    if (rv != CKR_OK) {
        fail ("importing the key", rv);
    } else {
        printf ("imported %s key '%s' (CKA_ID = the label, %zu bytes) into the TPM%s\n",
                o->aws ? "AWS SigV4 (\"AWS4\" + secret, HMAC-SHA256)" : "HMAC", label, len,
                o->aws ? ": sign with 'tpmtrust-tool sigv4'" : "");
        ret = 0;
    }
    if (s != CK_INVALID_HANDLE)
        p11->C_CloseSession (s);
    return ret;
}

int
cmd_key_generate (const tool_opts *o)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const CK_BYTE p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
    static const CK_BYTE ed[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM_TYPE bank = CKM_SHA256;
    CK_ULONG mask = 0, value_len = 32;
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE hmac = CKK_SHA256_HMAC;
    CK_MECHANISM mech = { 0, NULL, 0 };
    const CK_BYTE *params = NULL;
    size_t params_len = 0, id_len = 0;
    unsigned char id[64];
    CK_ATTRIBUTE pub[4], priv[9];
    CK_ULONG n_pub = 0, n_priv = 0;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h1, h2;
    CK_RV rv;

    if (o->type == NULL || o->label == NULL) {
        fprintf (stderr, "tpmtrust-tool: key generate needs --type and --label\n");
        return 2;
    }
    if (o->pcrs != NULL && !parse_pcrs (o->pcrs, &bank, &mask)) {
        fprintf (stderr, "tpmtrust-tool: --pcrs %s: expected a bank and PCRs 0-23, e.g. "
                         "sha256:7,16\n",
                 o->pcrs);
        return 2;
    }
    if (o->id != NULL && (id_len = parse_hex (o->id, id, sizeof id)) == 0) {
        fprintf (stderr, "tpmtrust-tool: --id %s: expected hex bytes\n", o->id);
        return 2;
    }
    if (strcmp (o->type, "ecdsa-p256") == 0 || strcmp (o->type, "ecdsa-p384") == 0) {
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        bool p256_wanted = strcmp (o->type, "ecdsa-p256") == 0;
        params = p256_wanted ? p256 : p384;
        params_len = p256_wanted ? sizeof p256 : sizeof p384;
    } else if (strcmp (o->type, "ed25519") == 0) {
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        params = ed;
        params_len = sizeof ed;
    } else if (strcmp (o->type, "hmac-sha256") == 0) {
        mech.mechanism = CKM_GENERIC_SECRET_KEY_GEN;
    } else {
        fprintf (stderr, "tpmtrust-tool: --type %s: use ecdsa-p256, ecdsa-p384, ed25519 or "
                         "hmac-sha256\n",
                 o->type);
        return 2;
    }
#define ADD(arr, n, t, p, l) (arr[n++] = (CK_ATTRIBUTE) { (t), (void *) (p), (l) })
    ADD (priv, n_priv, CKA_TOKEN, &yes, sizeof yes);
    ADD (priv, n_priv, CKA_LABEL, o->label, strlen (o->label));
    if (id_len)
        ADD (priv, n_priv, CKA_ID, id, id_len);
    if (o->derive)
        ADD (priv, n_priv, CKA_DERIVE, &yes, sizeof yes);
    if (mask) {
        ADD (priv, n_priv, CKA_TPMTRUST_PCR_MASK, &mask, sizeof mask);
        ADD (priv, n_priv, CKA_TPMTRUST_PCR_BANK, &bank, sizeof bank);
    }
    if (params != NULL) {
        ADD (pub, n_pub, CKA_TOKEN, &yes, sizeof yes);
        ADD (pub, n_pub, CKA_LABEL, o->label, strlen (o->label));
        ADD (pub, n_pub, CKA_EC_PARAMS, params, params_len);
        if (id_len)
            ADD (pub, n_pub, CKA_ID, id, id_len);
    } else {
        ADD (priv, n_priv, CKA_CLASS, &secret, sizeof secret);
        ADD (priv, n_priv, CKA_KEY_TYPE, &hmac, sizeof hmac);
        ADD (priv, n_priv, CKA_VALUE_LEN, &value_len, sizeof value_len);
    }
#undef ADD
    rv = open_user_session (o->token, &s);
    if (rv == CKR_OK)
        rv = params ? p11->C_GenerateKeyPair (s, &mech, pub, n_pub, priv, n_priv, &h1, &h2)
                    : p11->C_GenerateKey (s, &mech, priv, n_priv, &h1);
    if (rv != CKR_OK)
        return fail ("generating the key", rv);
    printf ("generated %s key '%s'%s%s\n", o->type, o->label, o->pcrs ? " bound to PCRs " : "",
            o->pcrs ? o->pcrs : "");
    p11->C_CloseSession (s);
    return 0;
}

int
cmd_key_pcr_status (const tool_opts *o)
{
    CK_OBJECT_HANDLE objs[256];
    CK_ULONG n = 0;
    CK_SESSION_HANDLE s;
    int bound = 0, changed = 0;
    tpm *t = tpm_new ();
    CK_RV rv = open_user_session (o->token, &s);

    if (rv == CKR_OK)
        rv = p11->C_FindObjectsInit (s, NULL, 0);
    if (rv == CKR_OK)
        rv = p11->C_FindObjects (s, objs, 256, &n);
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsFinal (s);
    if (rv != CKR_OK) {
        tpm_free (t);
        return fail ("listing keys", rv);
    }
    for (CK_ULONG i = 0; i < n; i++) {
        unsigned char label[256], values[24 * 64], now[24 * 64];
        CK_ULONG mask = 0, bank = 0;
        CK_ATTRIBUTE a[] = {
            { CKA_TPMTRUST_PCR_MASK, &mask, sizeof mask },
            { CKA_TPMTRUST_PCR_BANK, &bank, sizeof bank },
            { CKA_TPMTRUST_PCR_VALUES, values, sizeof values },
            { CKA_LABEL, label, sizeof label },
        };
        size_t now_len = sizeof now, size;
        tpm_pcrs pcrs;
        if (p11->C_GetAttributeValue (s, objs[i], a, 4) != CKR_OK || mask == 0)
            continue;
        bound++;
        pcrs.bank = bank == CKM_SHA_1 ? 0x0004 : bank == CKM_SHA384 ? 0x000C
                    : bank == CKM_SHA512 ? 0x000D : 0x000B;
        pcrs.mask = (uint32_t) mask;
        size = pcrs.bank == 0x0004 ? 20 : pcrs.bank == 0x000C ? 48 : pcrs.bank == 0x000D ? 64 : 32;
        printf ("'%.*s': %s PCRs", (int) a[3].ulValueLen, label,
                pcrs.bank == 0x0004 ? "sha1" : pcrs.bank == 0x000C ? "sha384"
                : pcrs.bank == 0x000D ? "sha512" : "sha256");
        for (int p = 0; p < 24; p++)
            if (mask & (1UL << p))
                printf (" %d", p);
        if (tpm_pcr_read (t, pcrs, now, &now_len) != CKR_OK || now_len != a[2].ulValueLen) {
            printf (": cannot read them now\n");
            changed++;
            continue;
        }
        {
            size_t off = 0;
            bool same = true;
            for (int p = 0; p < 24; p++) {
                if (!(mask & (1UL << p)))
                    continue;
                if (memcmp (now + off, values + off, size) != 0) {
                    printf ("%s%d", same ? ": CHANGED: " : ", ", p);
                    same = false;
                }
                off += size;
            }
            printf ("%s\n", same ? ": match (usable)" : " (the key refuses to work until they return)");
            changed += !same;
        }
    }
    p11->C_CloseSession (s);
    tpm_free (t);
    printf ("%d key%s bound to PCRs, %d no longer matching\n", bound, bound == 1 ? "" : "s",
            changed);
    return changed ? 1 : 0;
}
