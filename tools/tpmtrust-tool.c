/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool: administer tpmtrust tokens. Uses the module's own library:
 * Cryptoki calls through the same function table a consumer gets, and core/
 * for what Cryptoki cannot say (TPM facts, the store, deleting a token).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/config-file.h"
#include "core/core.h"
#include "tpm/tpm.h"
#include "pkcs11-tpmtrust.h"
#include "store/store.h"
#include "tools/attest-cmd.h"
#include "tools/sigv4.h"
#include "verify/hbverify.h"
#include "tools/tss2.h"

static CK_FUNCTION_LIST *p11;

typedef struct tool_opts {
    const char *label, *token, *file, *request;
    const char *access_key, *region, *service;
    const char *type, *id, *pcrs;
    const char *boot_id, *meta, *key_file;
    unsigned long period_ms, timeout_ms, count, window_ms, fd;
    bool login, aws, derive, nv;
    unsigned long nv_index;
    attest_opts attest;
} tool_opts;

static int
usage_main (FILE *f)
{
    fprintf (f, "Usage: tpmtrust-tool COMMAND [ARGS]\n"
                "\n"
                "Commands:\n"
                "  doctor                     check the TPM, the store and permissions\n"
                "  token list                 list tokens\n"
                "  token init --label L       create a token (PINs from TPMTRUST_SO_PIN and\n"
                "                             TPMTRUST_PIN, else asked on the terminal)\n"
                "  token delete --label L     delete a token and all its objects\n"
                "  object list [--token T] [--login]\n"
                "                             list objects with their PKCS#11 URIs\n"
                "  hmac import --label L [--token T] [--file F]\n"
                "                             import an HMAC secret (from F or standard input,\n"
                "                             never the command line) into the TPM\n"
                "  hmac import --aws [--label L] [--token T] [--file F]\n"
                "                             import an AWS secret access key as \"AWS4\"+secret\n"
                "                             (label aws-sigv4 by default)\n"
                "  key generate --type T --label L [--id HEX] [--pcrs BANK:N,N] [--token T]\n"
                "                             a TPM key: T is ecdsa-p256, ecdsa-p384, ed25519\n"
                "                             or hmac-sha256; --pcrs binds it to the current\n"
                "                             values of those PCRs (e.g. sha256:7,16)\n"
                "  key pcr-status [--token T] which keys are bound to PCRs, and whether\n"
                "                             those PCRs still hold their values (exit 1 if not)\n"
                "  import-tss2 --file F --label L [--token T]\n"
                "                             adopt a TSS2 key file (ECDSA or HMAC, parent\n"
                "                             0x40000001) as a token key; a key with a password\n"
                "                             takes it from TPMTRUST_KEY_PASSWORD (tried on the\n"
                "                             TPM once; a key that does not take it is not kept)\n"
                "  export-tss2 --label L --file F [--token T]\n"
                "                             write an ECDSA or HMAC key as a TSS2 key file for\n"
                "                             tpm2-openssl (-passin pass:...); its auth is\n"
                "                             TPMTRUST_KEY_PASSWORD, or empty (anyone with the\n"
                "                             file and this TPM can use it). F is created 0600\n"
                "                             and never overwritten\n"
                "  watchdog provision [--nv [--nv-index I]] [--label L] [--pcrs BANK:N] [--token T]\n"
                "                             the watchdog root: a TPM HMAC key bound to PCRs\n"
                "                             (default sha256:7), label wd-root; with --nv a\n"
                "                             secret in NV index I (0x01500020) read under them\n"
                "  watchdog register-key [--fd N] [--period-ms P] [--timeout-ms T] [--boot-id F]\n"
                "                             derive this boot's heartbeat key and write it with\n"
                "                             period and timeout to fd N (docs/watchdog.md)\n"
                "  watchdog beat [--count N] [--period-ms P] [--meta S] [--boot-id F]\n"
                "                             print N heartbeats (hex), one per period\n"
                "  watchdog verify --key-file F [--window-ms W]\n"
                "                             check hex heartbeats from standard input\n"
                "  attest ...                 attestation snapshots ('tpmtrust-tool attest --help');\n"
                "                             a file named by --out is created 0600 and never\n"
                "                             overwritten\n"
                "  sigv4 --access-key K --region R --service S [--request F] [--label L]\n"
                "                             sign the HTTP request in F (or standard input;\n"
                "                             it carries Host and X-Amz-Date) with AWS SigV4:\n"
                "                             kDate in the TPM, the rest in software; prints\n"
                "                             the Authorization header\n"
                "\n"
                "Environment: TPMTRUST_TCTI (TPM), TPMTRUST_STORE (store file),\n"
                "TPMTRUST_CONF (config file), TPMTRUST_LOG_LEVEL.\n"
                "Run 'tpmtrust-tool COMMAND --help' for a command's options.\n");
    return f == stderr ? 2 : 0;
}

static const char *
rv_name (CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_TPMTRUST_PCR_MISMATCH: return "CKR_TPMTRUST_PCR_MISMATCH (bound PCRs changed)";
    case CKR_TPMTRUST_OBJECT_DAMAGED: return "CKR_TPMTRUST_OBJECT_DAMAGED (damaged store row)";
    default: return "error";
    }
}

static int
fail (const char *what, CK_RV rv)
{
    fprintf (stderr, "tpmtrust-tool: %s: %s (0x%lx)\n", what, rv_name (rv), rv);
    return 1;
}

/* A PIN from the environment variable, else from the terminal (/dev/tty,
 * so that standard input stays free for secrets), else from standard input. */
static char *
read_pin (const char *env, const char *prompt)
{
    struct termios old, quiet;
    char buf[256];
    const char *v = getenv (env);
    FILE *in = fopen ("/dev/tty", "re");
    bool echo_off = false;
    char *copy;

    if (v != NULL) {
        if (in != NULL)
            fclose (in);
        return strdup (v);
    }
    if (in == NULL)
        in = stdin;
    fprintf (stderr, "%s: ", prompt);
    if (isatty (fileno (in)) && tcgetattr (fileno (in), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        echo_off = tcsetattr (fileno (in), TCSANOW, &quiet) == 0;
    }
    if (fgets (buf, sizeof buf, in) == NULL)
        buf[0] = '\0';
    if (echo_off) {
        tcsetattr (fileno (in), TCSANOW, &old);
        fputc ('\n', stderr);
    }
    if (in != stdin)
        fclose (in);
    buf[strcspn (buf, "\r\n")] = '\0';
    copy = strdup (buf);
    explicit_bzero (buf, sizeof buf);
    return copy;
}

static void
wipe_free (char *s)
{
    if (s != NULL) {
        explicit_bzero (s, strlen (s));
        free (s);
    }
}

static void
secure_free (unsigned char *p, size_t len)
{
    if (p != NULL) {
        explicit_bzero (p, len);
        free (p);
    }
}

/* A secret from a file or standard input (never argv). Trailing newlines are
 * dropped; with aws, "AWS4" is put in front (the SigV4 signing-key chain). */
static int
read_secret (const char *path, bool aws, unsigned char **out, size_t *out_len)
{
    FILE *f = path && strcmp (path, "-") != 0 ? fopen (path, "re") : stdin;
    size_t cap = 4096, len = aws ? 4 : 0;
    unsigned char *buf;
    size_t n;

    if (f == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
        return -1;
    }
    if (f == stdin && isatty (STDIN_FILENO))
        fprintf (stderr, "Secret (end with Ctrl-D): ");
    buf = malloc (cap);
    if (buf == NULL)
        return -1;
    if (aws)
        memcpy (buf, "AWS4", 4);
    while ((n = fread (buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            fprintf (stderr, "tpmtrust-tool: the secret is longer than %zu bytes\n", cap);
            secure_free (buf, cap);
            if (f != stdin)
                fclose (f);
            return -1;
        }
    }
    if (f != stdin)
        fclose (f);
    while (len > (aws ? 4u : 0u) && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len == (aws ? 4u : 0u)) {
        fprintf (stderr, "tpmtrust-tool: the secret is empty\n");
        secure_free (buf, cap);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static void
trim_copy (char *dst, const CK_UTF8CHAR *src, size_t len)
{
    memcpy (dst, src, len);
    while (len > 0 && dst[len - 1] == ' ')
        len--;
    dst[len] = '\0';
}

/* Finds the slot whose token has this label (NULL: the first initialized token). */
static CK_RV
find_slot (const char *label, CK_SLOT_ID *out, CK_TOKEN_INFO *info)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = p11->C_GetSlotList (CK_TRUE, slots, &n);

    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        char l[33];
        if (p11->C_GetTokenInfo (slots[i], info) != CKR_OK
            || !(info->flags & CKF_TOKEN_INITIALIZED))
            continue;
        trim_copy (l, info->label, 32);
        if (label == NULL || strcmp (l, label) == 0) {
            *out = slots[i];
            return CKR_OK;
        }
    }
    return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}

static void
uri_escape (FILE *f, const unsigned char *s, size_t len, bool all)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (!all && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || strchr ("-._~", c)))
            fputc (c, f);
        else
            fprintf (f, "%%%02x", c);
    }
}

static int
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

static int
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

static int
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

static int
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

static int
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
                                        : "created per process (a persistent SRK at 0x81000001 "
                                          "saves a command per process)",
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

static int
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

static char *
read_all (const char *path, size_t *len)
{
    FILE *f = path && strcmp (path, "-") != 0 ? fopen (path, "re") : stdin;
    size_t cap = 65536, n = 0, got;
    char *buf;

    if (f == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
        return NULL;
    }
    buf = malloc (cap + 1);
    while (buf != NULL && (got = fread (buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc (buf, 2 * cap + 1);
            if (grown == NULL)
                free (buf);
            buf = grown;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose (f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int
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

/* Opens a R/W session on the token and logs the user in. */
static CK_RV
open_user_session (const char *token, CK_SESSION_HANDLE *s)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    char *pin;
    CK_RV rv = find_slot (token, &slot, &ti);

    *s = CK_INVALID_HANDLE;
    if (rv == CKR_OK)
        rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv == CKR_OK) {
        pin = read_pin ("TPMTRUST_PIN", "User PIN");
        rv = p11->C_Login (*s, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin));
        wipe_free (pin);
    }
    return rv;
}

/* "sha256:7,16" → bank mechanism and PCR mask; false if malformed. */
static bool
parse_pcrs (const char *s, CK_MECHANISM_TYPE *bank, CK_ULONG *mask)
{
    static const struct {
        const char *name;
        CK_MECHANISM_TYPE mech;
    } banks[] = { { "sha1", CKM_SHA_1 }, { "sha256", CKM_SHA256 }, { "sha384", CKM_SHA384 },
                  { "sha512", CKM_SHA512 } };
    const char *colon = strchr (s, ':');
    char *end;

    *mask = 0;
    *bank = 0;
    for (size_t i = 0; colon && i < sizeof banks / sizeof banks[0]; i++)
        if (strlen (banks[i].name) == (size_t) (colon - s)
            && strncmp (s, banks[i].name, (size_t) (colon - s)) == 0)
            *bank = banks[i].mech;
    if (*bank == 0)
        return false;
    for (s = colon + 1; *s;) {
        long n = strtol (s, &end, 10);
        if (end == s || n < 0 || n > 23 || (*end != ',' && *end != '\0'))
            return false;
        *mask |= 1UL << n;
        s = *end ? end + 1 : end;
    }
    return *mask != 0;
}

static size_t
parse_hex (const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < max; hex += 2) {
        unsigned int b;
        if (sscanf (hex, "%2x", &b) != 1)
            return 0;
        out[n++] = (unsigned char) b;
    }
    return hex[0] ? 0 : n;
}

/* Runs fn on the core token and session behind an open session handle. */
static CK_RV
with_core_session (CK_SESSION_HANDLE s, CK_RV (*fn) (tt_token *, tt_session *, void *), void *arg)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = core_session_enter (s, &tok, &sess);
    if (rv == CKR_OK) {
        rv = fn (tok, sess, arg);
        core_leave (tok);
    }
    return rv;
}

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

static int
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

static int
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

static int cmd_key_generate (const tool_opts *o);

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

static int
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
static int
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

static int
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

static int
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

static int
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

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "label", required_argument, NULL, 'l' },
        { "token", required_argument, NULL, 't' },
        { "login", no_argument, NULL, 'L' },
        { "file", required_argument, NULL, 'f' },
        { "aws", no_argument, NULL, 'A' },
        { "request", required_argument, NULL, 'r' },
        { "access-key", required_argument, NULL, 'k' },
        { "region", required_argument, NULL, 'R' },
        { "service", required_argument, NULL, 'S' },
        { "type", required_argument, NULL, 'T' },
        { "id", required_argument, NULL, 'i' },
        { "pcrs", required_argument, NULL, 'P' },
        { "boot-id", required_argument, NULL, 'b' },
        { "meta", required_argument, NULL, 'm' },
        { "key-file", required_argument, NULL, 'K' },
        { "period-ms", required_argument, NULL, 'p' },
        { "timeout-ms", required_argument, NULL, 'o' },
        { "count", required_argument, NULL, 'c' },
        { "window-ms", required_argument, NULL, 'w' },
        { "fd", required_argument, NULL, 'F' },
        { "nv", no_argument, NULL, 'N' },
        { "nv-index", required_argument, NULL, 'I' },
        { "nonce", required_argument, NULL, 'n' },
        { "identity", required_argument, NULL, 'D' },
        { "key", required_argument, NULL, 'Y' },
        { "out", required_argument, NULL, 'O' },
        { "dir", required_argument, NULL, 'd' },
        { "expect-pcr", required_argument, NULL, 'E' },
        { "ak-name", required_argument, NULL, 'a' },
        { "ek-pub", required_argument, NULL, 'e' },
        { "ek-ca", required_argument, NULL, 'C' },
        { "identity-pub", required_argument, NULL, 'u' },
        { "persist", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    tool_opts o = { .nv_index = 0x01500020, .period_ms = 1000, .timeout_ms = 5000, .count = 1, .window_ms = 5000, .fd = 1 };
    int c, ret;
    const char *cmd, *sub;
    CK_RV rv;

    if (argc < 2)
        return usage_main (stderr);
    cmd = argv[1];
    if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0 || strcmp (cmd, "help") == 0)
        return usage_main (stdout);
    sub = argc > 2 && argv[2][0] != '-' ? argv[2] : "";
    optind = sub[0] ? 3 : 2;
    while ((c = getopt_long (argc, argv, "l:t:Lf:Ar:k:R:S:T:i:P:b:m:K:p:o:c:w:F:NI:n:D:Y:O:d:E:a:e:C:u:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            o.label = optarg;
            break;
        case 't':
            o.token = optarg;
            break;
        case 'L':
            o.login = true;
            break;
        case 'f':
            o.file = optarg;
            break;
        case 'A':
            o.aws = true;
            break;
        case 'r':
            o.request = optarg;
            break;
        case 'k':
            o.access_key = optarg;
            break;
        case 'R':
            o.region = optarg;
            break;
        case 'S':
            o.service = optarg;
            break;
        case 'T':
            o.type = optarg;
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'P':
            o.pcrs = optarg;
            break;
        case 'b':
            o.boot_id = optarg;
            break;
        case 'N':
            o.nv = true;
            break;
        case 'I':
            o.nv_index = strtoul (optarg, NULL, 0);
            break;
        case 'm':
            o.meta = optarg;
            break;
        case 'K':
            o.key_file = optarg;
            break;
        case 'p':
        case 'o':
        case 'c':
        case 'w':
        case 'F': {
            char *end;
            unsigned long v = strtoul (optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0') {
                fprintf (stderr, "tpmtrust-tool: '%s' is not a number\n", optarg);
                return 2;
            }
            *(c == 'p'   ? &o.period_ms
              : c == 'o' ? &o.timeout_ms
              : c == 'c' ? &o.count
              : c == 'w' ? &o.window_ms
                         : &o.fd) = v;
            break;
        }
        case 'n':
            o.attest.nonce = optarg;
            break;
        case 'D':
            o.attest.identity = optarg;
            break;
        case 'Y':
        case 'E':
            if ((c == 'Y' ? o.attest.n_keys : o.attest.n_expect) == ATTEST_CMD_MAX_KEYS) {
                fprintf (stderr, "tpmtrust-tool: at most %d --key / --expect-pcr\n",
                         ATTEST_CMD_MAX_KEYS);
                return 2;
            }
            if (c == 'Y')
                o.attest.keys[o.attest.n_keys++] = optarg;
            else
                o.attest.expect[o.attest.n_expect++] = optarg;
            break;
        case 'O':
            o.attest.out = optarg;
            break;
        case 'd':
            o.attest.dir = optarg;
            break;
        case 'a':
            o.attest.ak_name = optarg;
            break;
        case 'e':
            o.attest.ek_pub = optarg;
            break;
        case 'C':
            o.attest.ek_ca = optarg;
            break;
        case 'u':
            o.attest.identity_pub = optarg;
            break;
        case 's':
            o.attest.persist = optarg;
            break;
        case 'h':
            if (strcmp (cmd, "attest") == 0) {
                printf ("Usage: tpmtrust-tool attest SUBCOMMAND [ARGS] (docs/attestation.md)\n\n");
                attest_usage (stdout);
                return 0;
            }
            return usage_main (stdout);
        default:
            return usage_main (stderr);
        }
    }
    if (strcmp (cmd, "attest") == 0 && optind == argc - 1 && o.file == NULL)
        o.file = argv[optind++]; /* attest verify|extract FILE */
    if (optind < argc) {
        fprintf (stderr, "tpmtrust-tool: unexpected argument '%s' (secrets are never taken "
                         "from the command line: use --file or standard input)\n",
                 argv[optind]);
        return 2;
    }
    rv = C_GetFunctionList (&p11);
    if (rv == CKR_OK)
        rv = p11->C_Initialize (NULL);
    if (rv != CKR_OK)
        return fail ("initializing", rv);

    if (strcmp (cmd, "doctor") == 0)
        ret = cmd_doctor ();
    else if (strcmp (cmd, "token") == 0 && strcmp (sub, "list") == 0)
        ret = cmd_token_list ();
    else if (strcmp (cmd, "token") == 0 && strcmp (sub, "init") == 0 && o.label)
        ret = cmd_token_init (o.label);
    else if (strcmp (cmd, "token") == 0 && strcmp (sub, "delete") == 0 && o.label)
        ret = cmd_token_delete (o.label);
    else if (strcmp (cmd, "object") == 0 && strcmp (sub, "list") == 0)
        ret = cmd_object_list (o.token ? o.token : o.label, o.login);
    else if (strcmp (cmd, "hmac") == 0 && strcmp (sub, "import") == 0)
        ret = cmd_hmac_import (&o);
    else if (strcmp (cmd, "sigv4") == 0)
        ret = cmd_sigv4 (&o);
    else if (strcmp (cmd, "import-tss2") == 0)
        ret = cmd_import_tss2 (&o);
    else if (strcmp (cmd, "export-tss2") == 0)
        ret = cmd_export_tss2 (&o);
    else if (strcmp (cmd, "watchdog") == 0 && strcmp (sub, "provision") == 0)
        ret = cmd_watchdog_provision (&o);
    else if (strcmp (cmd, "watchdog") == 0 && strcmp (sub, "register-key") == 0)
        ret = cmd_watchdog_key (&o, true);
    else if (strcmp (cmd, "watchdog") == 0 && strcmp (sub, "beat") == 0)
        ret = cmd_watchdog_key (&o, false);
    else if (strcmp (cmd, "watchdog") == 0 && strcmp (sub, "verify") == 0)
        ret = cmd_watchdog_verify (&o);
    else if (strcmp (cmd, "key") == 0 && strcmp (sub, "generate") == 0)
        ret = cmd_key_generate (&o);
    else if (strcmp (cmd, "key") == 0 && strcmp (sub, "pcr-status") == 0)
        ret = cmd_key_pcr_status (&o);
    else if (strcmp (cmd, "attest") == 0) {
        attest_env env = { p11, open_user_session, parse_pcrs };
        o.attest.token = o.token;
        o.attest.file = o.file;
        o.attest.pcrs = o.pcrs;
        ret = attest_cmd (&env, sub, &o.attest);
    }
    else
        ret = usage_main (stderr);
    p11->C_Finalize (NULL);
    return ret;
}
