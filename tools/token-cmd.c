/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool: token list|init|delete, object list, doctor.
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
cmd_token_list (void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = p11->C_GetSlotList (CK_TRUE, slots, &n);

    if (rv != CKR_OK)
        return fail ("listing slots", rv);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33], serial[17];
        if (p11->C_GetTokenInfo (slots[i], &ti) != CKR_OK)
            continue;
        trim_copy (label, ti.label, 32);
        trim_copy (serial, ti.serialNumber, 16);
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            printf ("slot %lu: (empty: 'tpmtrust-tool token init' creates a token here)\n",
                    (unsigned long) slots[i]);
            continue;
        }
        printf ("slot %lu: token '%s' serial %s%s%s\n", (unsigned long) slots[i], label, serial,
                ti.flags & CKF_USER_PIN_INITIALIZED ? "" : " (user PIN not set)",
                ti.flags & CKF_USER_PIN_LOCKED ? " (PIN locked: TPM lockout)" : "");
        printf ("  uri: pkcs11:model=TPM%%202.0;manufacturer=tpmtrust;serial=%s;token=", serial);
        uri_escape (stdout, (unsigned char *) label, strlen (label), false);
        printf ("\n");
    }
    return 0;
}

int
cmd_token_init (const char *label)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;
    CK_UTF8CHAR padded[32];
    CK_SESSION_HANDLE s;
    char *so = NULL, *pin = NULL;
    CK_SLOT_ID slot = (CK_SLOT_ID) -1;
    CK_RV rv;
    int ret = 1;

    if (find_slot (label, &slot, &ti) == CKR_OK) {
        fprintf (stderr, "tpmtrust-tool: a token labelled '%s' exists already\n", label);
        return 1;
    }
    rv = p11->C_GetSlotList (CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n && slot == (CK_SLOT_ID) -1; i++)
        if (p11->C_GetTokenInfo (slots[i], &ti) == CKR_OK
            && !(ti.flags & CKF_TOKEN_INITIALIZED))
            slot = slots[i];
    if (slot == (CK_SLOT_ID) -1)
        return fail ("finding the empty slot", rv);
    so = read_pin ("TPMTRUST_SO_PIN", "SO PIN");
    pin = read_pin ("TPMTRUST_PIN", "User PIN");
    memset (padded, ' ', sizeof padded);
    memcpy (padded, label, strlen (label) < 32 ? strlen (label) : 32);
    rv = p11->C_InitToken (slot, (CK_UTF8CHAR *) so, strlen (so), padded);
    if (rv != CKR_OK) {
        fail ("initializing the token", rv);
        goto out;
    }
    rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK)
        rv = p11->C_Login (s, CKU_SO, (CK_UTF8CHAR *) so, strlen (so));
    if (rv == CKR_OK)
        rv = p11->C_InitPIN (s, (CK_UTF8CHAR *) pin, strlen (pin));
    if (rv != CKR_OK) {
        fail ("setting the user PIN", rv);
        goto out;
    }
    p11->C_CloseSession (s);
    printf ("token '%s' created in slot %lu\n", label, (unsigned long) slot);
    ret = 0;
out:
    wipe_free (so);
    wipe_free (pin);
    return ret;
}

int
cmd_token_delete (const char *label)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    tt_token *tok;
    CK_RV rv = find_slot (label, &slot, &ti);

    if (rv != CKR_OK) {
        fprintf (stderr, "tpmtrust-tool: no token labelled '%s'\n", label);
        return 1;
    }
    rv = core_slot_enter (slot, &tok);
    if (rv == CKR_OK) {
        rv = token_delete_inlock (tok);
        core_leave (tok);
    }
    if (rv != CKR_OK)
        return fail ("deleting the token", rv);
    printf ("token '%s' deleted\n", label);
    return 0;
}

static const char *
class_name (CK_OBJECT_CLASS c)
{
    switch (c) {
    case CKO_DATA: return "data";
    case CKO_CERTIFICATE: return "cert";
    case CKO_PUBLIC_KEY: return "public";
    case CKO_PRIVATE_KEY: return "private";
    case CKO_SECRET_KEY: return "secret-key";
    default: return "other";
    }
}

int
cmd_object_list (const char *label, bool login)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE objs[256];
    CK_ULONG n = 0;
    char tlabel[33], serial[17];
    CK_RV rv = find_slot (label, &slot, &ti);

    if (rv != CKR_OK) {
        fprintf (stderr, "tpmtrust-tool: no token%s%s%s\n", label ? " labelled '" : "",
                 label ? label : "", label ? "'" : "");
        return 1;
    }
    trim_copy (tlabel, ti.label, 32);
    trim_copy (serial, ti.serialNumber, 16);
    rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv == CKR_OK && login) {
        char *pin = read_pin ("TPMTRUST_PIN", "User PIN");
        rv = p11->C_Login (s, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin));
        wipe_free (pin);
    }
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsInit (s, NULL, 0);
    if (rv == CKR_OK)
        rv = p11->C_FindObjects (s, objs, 256, &n);
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsFinal (s);
    if (rv != CKR_OK)
        return fail ("listing objects", rv);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_OBJECT_CLASS cls = 0;
        CK_BBOOL token = 0;
        unsigned char olabel[256], id[256];
        CK_ATTRIBUTE a[] = {
            { CKA_CLASS, &cls, sizeof cls },
            { CKA_TOKEN, &token, sizeof token },
            { CKA_LABEL, olabel, sizeof olabel },
            { CKA_ID, id, sizeof id },
        };
        if (p11->C_GetAttributeValue (s, objs[i], a, 4) != CKR_OK)
            continue;
        if (!token)
            continue;
        printf ("%-8s label='%.*s' ", class_name (cls), (int) a[2].ulValueLen, olabel);
        printf ("\n  pkcs11:serial=%s;token=", serial);
        uri_escape (stdout, (unsigned char *) tlabel, strlen (tlabel), false);
        if (a[3].ulValueLen > 0) {
            printf (";id=");
            uri_escape (stdout, id, a[3].ulValueLen, true);
        }
        if (a[2].ulValueLen > 0) {
            printf (";object=");
            uri_escape (stdout, olabel, a[2].ulValueLen, false);
        }
        printf (";type=%s\n", class_name (cls));
    }
    p11->C_CloseSession (s);
    return 0;
}

static int
check (bool ok, const char *what, const char *detail, const char *fix)
{
    printf ("[%s] %s%s%s\n", ok ? " ok " : "FAIL", what, detail[0] ? ": " : "", detail);
    if (!ok && fix != NULL)
        printf ("       fix: %s\n", fix);
    return ok ? 0 : 1;
}

/* Does the TPM still hold each token's keys (not cleared since)? */
static int
doctor_tokens (tpm *t, store *st)
{
    store_token *list = NULL;
    size_t n = 0;
    char what[96], fix[160];
    int bad = 0;

    if (store_token_list (st, &list, &n) != CKR_OK)
        return check (false, "tokens", "the store cannot be read", NULL);
    for (size_t i = 0; i < n; i++) {
        CK_RV rv = token_tpm_check (t, &list[i]);
        snprintf (what, sizeof what, "token '%s' (serial %s)", list[i].label, list[i].serial);
        snprintf (fix, sizeof fix,
                  "its keys are gone: make it again ('tpmtrust-tool token delete --label %s', "
                  "then 'token init')",
                  list[i].label);
        if (rv == CKR_OK)
            bad += check (true, what, "its keys load in this TPM", NULL);
        else if (rv == CKR_TPMTRUST_OBJECT_DAMAGED)
            bad += check (false, what, "some of its store rows are damaged (see the log line)",
                          "delete the objects that fail and make them again");
        else if (rv != CKR_TOKEN_NOT_RECOGNIZED)
            bad += check (false, what, "not checked: the TPM did not answer", NULL);
        else
            bad += check (false, what,
                          "the TPM rejects all of it: the TPM was cleared since the token was "
                          "created, or the store comes from another TPM",
                          fix);
    }
    store_token_list_free (list, n);
    return bad;
}

int
cmd_doctor (void)
{
    tpm_info ti;
    char d[512];
    int bad = 0;
    tpm *t = tpm_new ();
    CK_RV rv = tpm_get_info (t, &ti);
    store *st = NULL;
    const char *path = getenv ("TPMTRUST_STORE");
    struct stat sb;

    printf ("config file: %s%s\n", config_path (),
            access (config_path (), R_OK) == 0 ? "" : " (not present: defaults apply)");
    if (rv == CKR_OK) {
        snprintf (d, sizeof d, "%s", ti.tcti);
        bad += check (true, "TPM reachable", d, NULL);
        snprintf (d, sizeof d, "%.4s %s, firmware %u.%u, spec level %u revision %u.%02u",
                  ti.manufacturer, ti.vendor, ti.firmware_major, ti.firmware_minor, ti.spec_level,
                  ti.spec_revision / 100, ti.spec_revision % 100);
        bad += check (true, "TPM", d, NULL);
        bad += check (true, "SRK",
                      ti.srk_persistent ? "persistent at 0x81000001"
                                        : "created per process ('tpmtrust-tool srk persist' "
                                          "saves a TPM2_CreatePrimary, 100 ms or more on "
                                          "hardware, per process)",
                      NULL);
        snprintf (d, sizeof d, "ECDSA P-256 yes, P-384 %s", ti.p384 ? "yes" : "no");
        bad += check (true, "algorithms", d, NULL);
        snprintf (d, sizeof d, "%u of %u failures counted%s, recovery %u s", ti.lockout_counter,
                  ti.max_auth_fail, ti.in_lockout ? ", IN LOCKOUT" : "", ti.lockout_interval);
        bad += check (!ti.in_lockout, "dictionary-attack lockout", d,
                      "wait for the lockout interval, or 'tpm2_dictionarylockout -c' with the "
                      "lockout auth");
    } else {
        bad += check (false, "TPM reachable", "no (the log line above names every TCTI tried)",
                      "set TPMTRUST_TCTI, add the user to the 'tss' group, or start a resource "
                      "manager");
    }
    rv = core_store (&st);
    if (path == NULL)
        path = st ? store_path (st) : "(default)";
    if (rv == CKR_OK) {
        snprintf (d, sizeof d, "%s, schema %d%s", store_path (st), store_schema_version (st),
                  store_readonly (st) ? ", read-only" : "");
        bad += check (true, "store", d, NULL);
        if (stat (store_path (st), &sb) == 0) {
            snprintf (d, sizeof d, "mode %03o", (unsigned) (sb.st_mode & 0777));
            bad += check ((sb.st_mode & 0077) == 0, "store permissions", d,
                          "chmod 600 the store file; only its owner should read it");
        }
        if (tpm_connected (t))
            bad += doctor_tokens (t, st);
    } else {
        bad += check (false, "store", path, "set TPMTRUST_STORE to a writable file");
    }
    tpm_free (t);
    printf ("%s\n", bad ? "problems found" : "all checks passed");
    return bad ? 1 : 0;
}

int
cmd_srk_persist (const tool_opts *o)
{
    tpm *t = tpm_new ();
    char *auth = NULL;
    bool existed = false;
    CK_RV rv;

    (void) o;
    if (getenv ("TPMTRUST_OWNER_AUTH") != NULL || isatty (STDIN_FILENO))
        auth = read_pin ("TPMTRUST_OWNER_AUTH", "Owner authorization (empty if none)");
    rv = t ? tpm_srk_persist (t, auth, &existed) : CKR_HOST_MEMORY;
    wipe_free (auth);
    tpm_free (t);
    if (rv == CKR_PIN_INCORRECT) {
        fprintf (stderr, "tpmtrust-tool: the TPM refused the owner authorization (set "
                         "TPMTRUST_OWNER_AUTH)\n");
        return 1;
    }
    if (rv != CKR_OK)
        return fail ("making the SRK persistent", rv);
    printf (existed ? "the SRK is already persistent at 0x81000001\n"
                    : "SRK persistent at 0x81000001 (TCG H-2 ECC P-256 template)\n");
    return 0;
}
