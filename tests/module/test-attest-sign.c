/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-attest-sign - CKM_TPMTRUST_ATTEST through the function list, as a
 * consumer calls it (dlopen + C_GetFunctionList): the mechanism's info, its
 * parameter and key checks, the nonce's length, the C_Sign length-query
 * convention (NULL output and a short buffer keep the operation and the bundle;
 * another nonce makes another bundle), multi-part C_SignUpdate/C_SignFinal,
 * and login. Each bundle is checked with the offline verifier. Prints TAP.
 *
 * Environment: TT_MODULE, TT_TOKEN (a token with the keys 'id' (TPM ECDSA)
 * and 'mac' (HMAC) and the public key 'id'), TT_PIN, TT_AK_NAME (the trusted
 * AK name, hex: the verifier fails closed without it), TT_RESTART_CMD
 * (optional: a command that restarts the TPM, run between two snapshots).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "verify/attest-verify.h"
#include "base/ck.h"
#include "pkcs11-tpmtrust.h"
#include "tests/module/helpers.h"
#include "tests/unit/tap.h"

static CK_FUNCTION_LIST *F;
static CK_SESSION_HANDLE sess;
static CK_BYTE ak_name[66]; /* the trusted AK name ($TT_AK_NAME) */
static size_t ak_name_len;

static CK_OBJECT_HANDLE
find (CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
                         { CKA_LABEL, (void *) label, strlen (label) } };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (F->C_FindObjectsInit (sess, t, 2) == CKR_OK) {
        F->C_FindObjects (sess, &h, 1, &n);
        F->C_FindObjectsFinal (sess);
    }
    return n == 1 ? h : CK_INVALID_HANDLE;
}

/* The bundle verifies offline with this nonce, with n certified keys. */
static void
check_bundle (const char *what, const CK_BYTE *b, CK_ULONG len, const char *nonce, size_t n_keys)
{
    static attest_report r;
    attest_bundle parsed;
    attest_expect e = { .nonce = (const uint8_t *) nonce, .nonce_len = strlen (nonce),
                        .ak_name = ak_name, .ak_name_len = ak_name_len };
    int failed = attest_verify (b, len, &e, &r);

    for (size_t i = 0; failed && i < r.n; i++)
        if (!r.checks[i].ok)
            printf ("# %s: %s\n", r.checks[i].name, r.checks[i].detail);
    ok (failed == 0 && attest_parse (b, len, &parsed, NULL, 0) == 0 && parsed.n_keys == n_keys,
        "%s: %lu bytes verify offline (%zu checks, %zu certified keys)", what, len, r.n,
        n_keys);
}

int
main (void)
{
    const char *token = getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "att";
    const char *pin = getenv ("TT_PIN") ? getenv ("TT_PIN") : "1234";
    CK_OBJECT_HANDLE id, mac, pub, keys[2];
    CK_TPMTRUST_ATTEST_PARAMS p = { CKM_SHA256, 0x83, keys, 2 };
    CK_MECHANISM m = { CKM_TPMTRUST_ATTEST, &p, sizeof p };
    CK_MECHANISM_INFO info;
    CK_BYTE *b = malloc (65536), *b2 = malloc (65536), big[65];
    CK_ULONG len = 0, len2, small;
    CK_RV rv;

    setenv ("TSS2_LOG", "all+none", 0);
    setvbuf (stdout, NULL, _IOLBF, 0);
    F = load_module (getenv ("TT_MODULE"));
    if (F == NULL || b == NULL || b2 == NULL)
        return 2;
    {
        long n = getenv ("TT_AK_NAME") ? unhex (getenv ("TT_AK_NAME"), ak_name, sizeof ak_name) : -1;
        if (n < 2) {
            fprintf (stderr, "test-attest-sign: set TT_AK_NAME to the AK's name (hex)\n");
            return 2;
        }
        ak_name_len = (size_t) n;
    }
    rv = open_user_session (F, token, pin, &sess);
    is_rv (rv, CKR_OK, "a user session on the token");
    if (rv != CKR_OK)
        return tap_done ();
    id = find (CKO_PRIVATE_KEY, "id");
    mac = find (CKO_SECRET_KEY, "mac");
    pub = find (CKO_PUBLIC_KEY, "id");
    ok (id != CK_INVALID_HANDLE && mac != CK_INVALID_HANDLE && pub != CK_INVALID_HANDLE,
        "keys 'id' (private, public) and 'mac'");
    keys[0] = id;
    keys[1] = mac;

    rv = F->C_GetMechanismInfo (0, CKM_TPMTRUST_ATTEST, &info);
    if (rv == CKR_SLOT_ID_INVALID) { /* slot ids are store ids: ask the session's */
        CK_SESSION_INFO si;
        F->C_GetSessionInfo (sess, &si);
        rv = F->C_GetMechanismInfo (si.slotID, CKM_TPMTRUST_ATTEST, &info);
    }
    ok (rv == CKR_OK && (info.flags & CKF_SIGN) && !(info.flags & CKF_VERIFY),
        "C_GetMechanismInfo: sign only (0x%lx, flags 0x%lx)", rv, info.flags);

    /* parameter and key checks */
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "no parameter");
    m.pParameter = &p;
    m.ulParameterLen = sizeof p - 1;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "a short parameter");
    m.ulParameterLen = sizeof p;
    p.pcrBank = CKM_MD5;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "an unknown PCR bank");
    p.pcrBank = CKM_SHA256;
    p.pcrMask = 1UL << 24;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "PCR 24");
    p.pcrMask = 0x83;
    keys[1] = pub;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID,
           "a public key to certify (not a TPM key)");
    keys[1] = 0xdead;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "an invalid handle to certify");
    keys[1] = mac;
    p.ulKeyCount = 17;
    is_rv (F->C_SignInit (sess, &m, id), CKR_MECHANISM_PARAM_INVALID, "17 keys");
    p.ulKeyCount = 2;
    is_rv (F->C_SignInit (sess, &m, pub), CKR_KEY_TYPE_INCONSISTENT, "a public key as identity");
    is_rv (F->C_SignInit (sess, &m, mac), CKR_KEY_TYPE_INCONSISTENT, "an HMAC key as identity");
    is_rv (F->C_VerifyInit (sess, &m, pub), CKR_MECHANISM_INVALID, "C_VerifyInit (verify offline)");

    /* the nonce: 1..64 bytes */
    is_rv (F->C_SignInit (sess, &m, id), CKR_OK, "C_SignInit");
    len = 65536;
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "", 0, b, &len), CKR_DATA_LEN_RANGE, "an empty nonce");
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "x", 1, b, &len), CKR_OPERATION_NOT_INITIALIZED,
           "... ends the operation");
    memset (big, 'n', sizeof big);
    F->C_SignInit (sess, &m, id);
    is_rv (F->C_Sign (sess, big, sizeof big, b, &len), CKR_DATA_LEN_RANGE, "a 65-byte nonce");

    /* length query, short buffer, fetch: one bundle */
    is_rv (F->C_SignInit (sess, &m, id), CKR_OK, "C_SignInit");
    len = 0;
    rv = F->C_Sign (sess, (CK_BYTE_PTR) "nonce-1", 7, NULL, &len);
    ok (rv == CKR_OK && len > 1000, "length query: 0x%lx, %lu bytes", rv, len);
    small = 100;
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "nonce-1", 7, b, &small), CKR_BUFFER_TOO_SMALL,
           "a short buffer");
    ok (small == len, "... reports the same length (%lu)", small);
    len2 = 65536;
    rv = F->C_Sign (sess, (CK_BYTE_PTR) "nonce-1", 7, b, &len2);
    ok (rv == CKR_OK && len2 == len, "the fetch returns the bundle of that length (0x%lx, %lu)", rv,
        len2);
    check_bundle ("after a length query", b, len2, "nonce-1", 2);
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "nonce-1", 7, b, &len2), CKR_OPERATION_NOT_INITIALIZED,
           "the operation ended with the fetch");

    /* another nonce after the length query: a bundle for it */
    F->C_SignInit (sess, &m, id);
    len = 0;
    F->C_Sign (sess, (CK_BYTE_PTR) "nonce-1", 7, NULL, &len);
    len2 = 65536;
    rv = F->C_Sign (sess, (CK_BYTE_PTR) "nonce-2!", 8, b2, &len2);
    is_rv (rv, CKR_OK, "another nonce after the length query");
    check_bundle ("... answers that nonce", b2, len2, "nonce-2!", 2);

    /* multi-part: the nonce in pieces; only the identity certified (without it,
     * nothing ties an ECDSA identity to the TPM: identity-in-tpm fails) */
    p.ulKeyCount = 1;
    F->C_SignInit (sess, &m, id);
    is_rv (F->C_SignUpdate (sess, (CK_BYTE_PTR) "multi", 5), CKR_OK, "C_SignUpdate");
    is_rv (F->C_SignUpdate (sess, (CK_BYTE_PTR) "-part", 5), CKR_OK, "C_SignUpdate");
    len = 0;
    is_rv (F->C_SignFinal (sess, NULL, &len), CKR_OK, "C_SignFinal length query");
    len2 = 65536;
    is_rv (F->C_SignFinal (sess, b, &len2), CKR_OK, "C_SignFinal");
    ok (len2 == len, "same length");
    check_bundle ("multi-part", b, len2, "multi-part", 1);

    /* no PCRs at all */
    p.pcrMask = 0;
    F->C_SignInit (sess, &m, id);
    len = 65536;
    is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "no-pcrs", 7, b, &len), CKR_OK, "no PCRs selected");
    check_bundle ("no PCRs", b, len, "no-pcrs", 1);
    p.ulKeyCount = 0;
    F->C_SignInit (sess, &m, id);
    len = 65536;
    F->C_Sign (sess, (CK_BYTE_PTR) "bare", 4, b, &len);
    {
        static attest_report r;
        attest_expect e = { .nonce = (const uint8_t *) "bare", .nonce_len = 4,
                            .ak_name = ak_name, .ak_name_len = ak_name_len };
        ok (attest_verify (b, len, &e, &r) == 1 && !r.checks[r.n - 2].ok
                && strcmp (r.checks[r.n - 2].name, "identity-in-tpm") == 0,
            "no key certified: identity-in-tpm fails, and only it");
    }

    /* a TPM restart between two snapshots in this process ($TT_RESTART_CMD
     * restarts the swtpm): the second one works the first time (the TPM
     * layer notices what it had loaded is gone, and runs the call again) */
    if (getenv ("TT_RESTART_CMD") != NULL) {
        p.ulKeyCount = 2;
        p.pcrMask = 0x83;
        F->C_SignInit (sess, &m, id);
        len = 65536;
        is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "before", 6, b, &len), CKR_OK,
               "a snapshot before the TPM restart");
        ok (system (getenv ("TT_RESTART_CMD")) == 0, "the TPM restarted ($TT_RESTART_CMD)");
        is_rv (F->C_SignInit (sess, &m, id), CKR_OK, "C_SignInit after the restart");
        len = 65536;
        is_rv (F->C_Sign (sess, (CK_BYTE_PTR) "after-restart", 13, b, &len), CKR_OK,
               "the first snapshot after the TPM restart");
        check_bundle ("after the restart", b, len, "after-restart", 2);
    }

    /* logged out: no snapshot */
    F->C_Logout (sess);
    rv = F->C_SignInit (sess, &m, id);
    ok (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID,
        "after C_Logout: no snapshot (0x%lx)", rv);

    F->C_CloseSession (sess);
    F->C_Finalize (NULL);
    free (b);
    free (b2);
    return tap_done ();
}
