/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-faults [MODULE] - one long-lived module user, driven line by line from
 * stdin, for tests/integration/tpm-faults.sh: the script stops, kills, restarts
 * and clears the TPM between (and during) the commands, and this process never
 * calls C_Initialize again.
 *
 * Each command prints one line "CMD: CKR_NAME[ detail]" (stdout, flushed):
 *   login | logout          C_Login / C_Logout (user, $TT_PIN, default 1234)
 *   setup                   creates (once) the token objects the others use:
 *                           an imported HMAC-SHA256 key "faults-hmac" with a known
 *                           value and an Ed25519 key pair "faults-ed"
 *   sign                    CKM_ECDSA_SHA256 with the key pair of CKA_ID 01,
 *                           checked with OpenSSL against its CKA_PUBLIC_KEY_INFO
 *   hmac                    one-part CKM_SHA256_HMAC, checked with OpenSSL
 *   hmac-multi              a 1 MiB multi-part HMAC (64 KiB updates), checked
 *   hmac-begin | hmac-end   the same in two commands: the first 64 KiB, then the
 *                           rest and C_SignFinal (a fault between them)
 *   eddsa                   CKM_EDDSA, checked with OpenSSL
 *   generate | create       a P-256 token key pair / a token data object
 *   count                   "count: CKR_OK N": token objects the module lists
 *   info                    C_GetTokenInfo; detail: the flags in hex
 *   hmac-stream SECONDS     multi-part HMAC with 64 KiB updates until one fails
 *                           (or SECONDS pass: then it is finished and checked);
 *                           first prints "hmac-stream: started"; the result line
 *                           names the failing update's code, the bytes fed and
 *                           what C_SignFinal says afterwards (the operation must
 *                           be over: CKR_OPERATION_NOT_INITIALIZED)
 *   generate-loop SECONDS   C_GenerateKeyPair until one fails; first prints
 *                           "generate-loop: started"; the result line gives the
 *                           failing code and "made N" (pairs that succeeded)
 *   quit
 * A check that fails prints "CMD: MISMATCH ...". Exit status 0 unless set-up
 * failed (1) or usage (2).
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ck.h"
#include "pkcs11-tpmtrust.h"
#include "tests/module/helpers.h"

#ifndef CKA_PUBLIC_KEY_INFO
#define CKA_PUBLIC_KEY_INFO (0x129UL)
#endif

static CK_FUNCTION_LIST *F;
static CK_SESSION_HANDLE sess;
static const CK_BYTE hmac_key[32] = "tpm-faults HMAC key of 32 bytes!";
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static const char *
rv_name (CK_RV rv)
{
    static char buf[32];
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
    case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
    case CKR_OPERATION_NOT_INITIALIZED: return "CKR_OPERATION_NOT_INITIALIZED";
    case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
    case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_TPMTRUST_OBJECT_DAMAGED: return "CKR_TPMTRUST_OBJECT_DAMAGED";
    default:
        snprintf (buf, sizeof buf, "0x%08lx", (unsigned long) rv);
        return buf;
    }
}

static void
say (const char *cmd, CK_RV rv, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static void
say (const char *cmd, CK_RV rv, const char *fmt, ...)
{
    printf ("%s: %s", cmd, rv_name (rv));
    if (fmt != NULL) {
        va_list ap;
        va_start (ap, fmt);
        putchar (' ');
        vprintf (fmt, ap);
        va_end (ap);
    }
    putchar ('\n');
    fflush (stdout);
}

/* The one object of class cls with CKA_ID id (or with label, when id is NULL). */
static CK_RV
find_one (CK_OBJECT_CLASS cls, const char *id, size_t id_len, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, (void *) id, id_len },
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv = F->C_FindObjectsInit (sess, t, 2);

    if (rv != CKR_OK)
        return rv;
    rv = F->C_FindObjects (sess, found, 2, &n);
    F->C_FindObjectsFinal (sess);
    if (rv == CKR_OK && n != 1)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        *out = found[0];
    return rv;
}

static CK_RV
count_objects (CK_ULONG *n)
{
    CK_OBJECT_HANDLE h[512];
    CK_RV rv = F->C_FindObjectsInit (sess, NULL, 0);

    *n = 0;
    if (rv != CKR_OK)
        return rv;
    rv = F->C_FindObjects (sess, h, 512, n);
    F->C_FindObjectsFinal (sess);
    return rv;
}

static void
cmd_sign (void)
{
    static const CK_BYTE msg[] = "signed across TPM faults";
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
    CK_OBJECT_HANDLE priv, pub;
    CK_BYTE sig[96], *spki = NULL;
    CK_ULONG sig_len = sizeof sig, spki_len = 0;
    CK_RV rv = find_one (CKO_PRIVATE_KEY, "\x01", 1, &priv);

    if (rv == CKR_OK)
        rv = F->C_SignInit (sess, &m, priv);
    if (rv == CKR_OK)
        rv = F->C_Sign (sess, (CK_BYTE *) msg, sizeof msg, sig, &sig_len);
    if (rv != CKR_OK) {
        say ("sign", rv, NULL);
        return;
    }
    if (find_one (CKO_PUBLIC_KEY, "\x01", 1, &pub) != CKR_OK
        || get_attr_alloc (F, sess, pub, CKA_PUBLIC_KEY_INFO, &spki, &spki_len) != CKR_OK)
        say ("sign", rv, "(no public key to check with)");
    else if (ossl_ecdsa_verify (spki, spki_len, msg, sizeof msg, sig, sig_len))
        say ("sign", rv, "verified");
    else
        printf ("sign: MISMATCH: OpenSSL rejects the signature\n");
    fflush (stdout);
    free (spki);
}

static CK_RV
hmac_check (const char *cmd, const CK_BYTE *data, size_t len, const CK_BYTE *mac, CK_ULONG mac_len)
{
    CK_BYTE want[32];
    if (!ossl_hmac256 (hmac_key, sizeof hmac_key, data, len, want) || mac_len != 32
        || memcmp (want, mac, 32) != 0) {
        printf ("%s: MISMATCH: the HMAC differs from OpenSSL's\n", cmd);
        fflush (stdout);
        return CKR_GENERAL_ERROR;
    }
    return CKR_OK;
}

/* cmd: "hmac", "hmac-multi", "hmac-begin" (init + the first 64 KiB) or
 * "hmac-end" (the rest + final) */
static void
cmd_hmac (const char *cmd)
{
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    bool one = strcmp (cmd, "hmac") == 0, begin = strcmp (cmd, "hmac-begin") == 0;
    bool end = strcmp (cmd, "hmac-end") == 0;
    size_t len = one ? 100 : 1024 * 1024;
    CK_BYTE *data = malloc (len), mac[32];
    CK_ULONG mac_len = sizeof mac;
    CK_OBJECT_HANDLE h;
    CK_RV rv = data ? find_one (CKO_SECRET_KEY, "faults-hmac", 11, &h) : CKR_HOST_MEMORY;

    for (size_t i = 0; data != NULL && i < len; i++)
        data[i] = (CK_BYTE) (i * 7 + 3);
    if (rv == CKR_OK && !end)
        rv = F->C_SignInit (sess, &m, h);
    if (rv == CKR_OK && one)
        rv = F->C_Sign (sess, data, len, mac, &mac_len);
    for (size_t off = end ? 65536 : 0; !one && rv == CKR_OK && off < (begin ? 65536 : len);
         off += 65536)
        rv = F->C_SignUpdate (sess, data + off, 65536);
    if (rv == CKR_OK && !one && !begin)
        rv = F->C_SignFinal (sess, mac, &mac_len);
    if (rv != CKR_OK || begin)
        say (cmd, rv, NULL);
    else if (hmac_check (cmd, data, len, mac, mac_len) == CKR_OK)
        say (cmd, rv, "verified");
    free (data);
}

static void
cmd_hmac_stream (double seconds)
{
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_BYTE chunk[65536], mac[32];
    CK_ULONG mac_len = sizeof mac;
    CK_OBJECT_HANDLE h;
    size_t fed = 0;
    double end = now () + seconds;
    CK_RV rv = find_one (CKO_SECRET_KEY, "faults-hmac", 11, &h), fin;

    memset (chunk, 0x5a, sizeof chunk);
    if (rv == CKR_OK)
        rv = F->C_SignInit (sess, &m, h);
    while (rv == CKR_OK) {
        rv = F->C_SignUpdate (sess, chunk, sizeof chunk);
        if (rv != CKR_OK)
            break;
        if (fed == 0) {
            printf ("hmac-stream: started\n");
            fflush (stdout);
        }
        fed += sizeof chunk;
        if (now () > end)
            break;
    }
    if (fed == 0) {
        printf ("hmac-stream: started\n"); /* the script waits for it */
    }
    fin = F->C_SignFinal (sess, mac, &mac_len);
    if (rv == CKR_OK)
        say ("hmac-stream", CKR_OK, "no fault in %.0f s (%zu bytes), final %s", seconds, fed,
             rv_name (fin));
    else
        say ("hmac-stream", rv, "after %zu bytes; final %s", fed, rv_name (fin));
}

static CK_RV
generate_pair (void)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE pt[] = {
        { CKA_EC_PARAMS, (void *) p256, sizeof p256 },
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_VERIFY, (void *) &yes, sizeof yes },
        { CKA_LABEL, "faults-gen", 10 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_SIGN, (void *) &yes, sizeof yes },
        { CKA_LABEL, "faults-gen", 10 },
    };
    CK_OBJECT_HANDLE pub, priv;
    return F->C_GenerateKeyPair (sess, &m, pt, 4, st, 3, &pub, &priv);
}

static void
cmd_generate_loop (double seconds)
{
    double end = now () + seconds;
    unsigned long made = 0;
    CK_RV rv = CKR_OK;

    while (rv == CKR_OK && now () < end) {
        rv = generate_pair ();
        if (rv == CKR_OK && made++ == 0) {
            printf ("generate-loop: started\n");
            fflush (stdout);
        }
    }
    if (made == 0)
        printf ("generate-loop: started\n");
    say ("generate-loop", rv, "made %lu", made);
}

static void
cmd_create (void)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_PRIVATE, (void *) &no, sizeof no },
        { CKA_LABEL, "faults-data", 11 },
        { CKA_VALUE, "data", 4 },
    };
    CK_OBJECT_HANDLE h;
    say ("create", F->C_CreateObject (sess, t, 5, &h), NULL);
}

static CK_RV
setup (void)
{
    static const CK_BYTE ed_params[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET, ed = CKK_EC_EDWARDS;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_KEY_TYPE, &kt, sizeof kt },
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_SIGN, (void *) &yes, sizeof yes },
        { CKA_ID, "faults-hmac", 11 },
        { CKA_VALUE, (void *) hmac_key, sizeof hmac_key },
    };
    CK_ATTRIBUTE pt[] = {
        { CKA_EC_PARAMS, (void *) ed_params, sizeof ed_params },
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_KEY_TYPE, &ed, sizeof ed },
        { CKA_ID, "faults-ed", 9 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, (void *) &yes, sizeof yes },
        { CKA_SIGN, (void *) &yes, sizeof yes },
        { CKA_KEY_TYPE, &ed, sizeof ed },
        { CKA_ID, "faults-ed", 9 },
    };
    CK_MECHANISM m = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h, h2;
    CK_RV rv = find_one (CKO_SECRET_KEY, "faults-hmac", 11, &h);

    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = F->C_CreateObject (sess, t, 6, &h);
    if (rv == CKR_OK)
        rv = find_one (CKO_PRIVATE_KEY, "faults-ed", 9, &h);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = F->C_GenerateKeyPair (sess, &m, pt, 4, st, 4, &h2, &h);
    return rv;
}

static void
cmd_eddsa (void)
{
    static const CK_BYTE msg[] = "Ed25519 across TPM faults";
    CK_MECHANISM m = { CKM_EDDSA, NULL, 0 };
    CK_OBJECT_HANDLE priv, pub;
    CK_BYTE sig[64], *point = NULL;
    CK_ULONG sig_len = sizeof sig, point_len = 0;
    CK_RV rv = find_one (CKO_PRIVATE_KEY, "faults-ed", 9, &priv);

    if (rv == CKR_OK)
        rv = F->C_SignInit (sess, &m, priv);
    if (rv == CKR_OK)
        rv = F->C_Sign (sess, (CK_BYTE *) msg, sizeof msg, sig, &sig_len);
    if (rv != CKR_OK) {
        say ("eddsa", rv, NULL);
        return;
    }
    /* CKA_EC_POINT: a DER OCTET STRING (04 20) around the 32-byte key */
    if (find_one (CKO_PUBLIC_KEY, "faults-ed", 9, &pub) == CKR_OK
        && get_attr_alloc (F, sess, pub, CKA_EC_POINT, &point, &point_len) == CKR_OK
        && point_len == 34 && sig_len == 64 && ossl_ed_verify (point + 2, msg, sizeof msg, sig))
        say ("eddsa", rv, "verified");
    else
        printf ("eddsa: MISMATCH: OpenSSL rejects the signature\n");
    fflush (stdout);
    free (point);
}

int
main (int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv ("TT_MODULE");
    const char *label = getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "test";
    const char *pin = getenv ("TT_PIN") ? getenv ("TT_PIN") : "1234";
    char line[256];
    CK_SLOT_ID slot;
    CK_RV rv;

    if (path == NULL || argc > 2) {
        fprintf (stderr, "usage: p11-faults [MODULE] (commands on stdin)\n");
        return 2;
    }
    if (!module_load ("p11-faults", path, &F))
        return 1;
    rv = F->C_Initialize (NULL);
    if (rv != CKR_OK || !find_token_slot (F, label, &slot)
        || (rv = F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess))
               != CKR_OK) {
        fprintf (stderr, "p11-faults: set-up failed (0x%lx)\n", (unsigned long) rv);
        return 1;
    }
    printf ("ready\n");
    fflush (stdout);
    while (fgets (line, sizeof line, stdin) != NULL) {
        char cmd[64] = "";
        double arg = 0;
        CK_ULONG n = 0;

        if (sscanf (line, "%63s %lf", cmd, &arg) < 1)
            continue;
        if (strcmp (cmd, "quit") == 0)
            break;
        else if (strcmp (cmd, "login") == 0)
            say (cmd, F->C_Login (sess, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin)), NULL);
        else if (strcmp (cmd, "logout") == 0)
            say (cmd, F->C_Logout (sess), NULL);
        else if (strcmp (cmd, "setup") == 0)
            say (cmd, setup (), NULL);
        else if (strcmp (cmd, "sign") == 0)
            cmd_sign ();
        else if (strncmp (cmd, "hmac", 4) == 0 && strcmp (cmd, "hmac-stream") != 0)
            cmd_hmac (cmd);
        else if (strcmp (cmd, "eddsa") == 0)
            cmd_eddsa ();
        else if (strcmp (cmd, "generate") == 0)
            say (cmd, generate_pair (), NULL);
        else if (strcmp (cmd, "create") == 0)
            cmd_create ();
        else if (strcmp (cmd, "count") == 0) {
            rv = count_objects (&n);
            say (cmd, rv, "%lu", (unsigned long) n);
        }
        else if (strcmp (cmd, "info") == 0) {
            CK_TOKEN_INFO ti;
            rv = F->C_GetTokenInfo (slot, &ti);
            say (cmd, rv, "0x%lx", rv == CKR_OK ? (unsigned long) ti.flags : 0UL);
        } else if (strcmp (cmd, "hmac-stream") == 0)
            cmd_hmac_stream (arg > 0 ? arg : 10);
        else if (strcmp (cmd, "generate-loop") == 0)
            cmd_generate_loop (arg > 0 ? arg : 10);
        else {
            printf ("%s: unknown command\n", cmd);
            fflush (stdout);
        }
    }
    F->C_Finalize (NULL);
    return 0;
}
