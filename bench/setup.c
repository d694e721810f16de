/* SPDX-License-Identifier: BSD-2-Clause */
/* Keys in the comparison modules: generated when missing; what a module
 * could not make becomes a note under the table. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench.h"

static void
note (const char *what, CK_RV rv)
{
    printf ("NOTE %s (rv 0x%lx)\n", what, (unsigned long) rv);
}

/* Generates the keys a module does not have yet (foreign modules). */
int
sub_setup (void)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
    static const CK_BYTE ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h, h2;
    CK_BBOOL yes = CK_TRUE;
    CK_RV rv;
    if (!module_open (&s))
        return 2;
    for (int k = 0; k < K_N; k++) {
        const char *label = kinds[k].label;
        CK_ULONG ll = (CK_ULONG) strlen (label);
        CK_BYTE id = kinds[k].id;
        int found = find_key (s, kinds[k].cls, label, &h);
        if (found != 0)
            continue;
        if (k == K_HMAC) {
            CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
            CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
            CK_ULONG len = 32;
            CK_BYTE value[32];
            CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
            CK_ATTRIBUTE t[] = {
                { CKA_CLASS, &cls, sizeof cls }, { CKA_KEY_TYPE, &kt, sizeof kt },
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes },
                { CKA_SIGN, &yes, sizeof yes },  { CKA_VERIFY, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
                { CKA_VALUE_LEN, &len, sizeof len },
            };
            rv = F->C_GenerateKey (s, &m, t, N_ELEM (t), &h);
            if (rv == CKR_OK)
                continue;
            note ("HMAC key: C_GenerateKey(CKM_GENERIC_SECRET_KEY_GEN, 32 bytes) failed", rv);
            randombytes_buf (value, sizeof value);
            t[N_ELEM (t) - 1] = (CK_ATTRIBUTE) { CKA_VALUE, value, sizeof value };
            rv = F->C_CreateObject (s, t, N_ELEM (t), &h);
            if (rv != CKR_OK) {
                kt = CKK_SHA256_HMAC;
                rv = F->C_CreateObject (s, t, N_ELEM (t), &h);
            }
            sodium_memzero (value, sizeof value);
            if (rv != CKR_OK)
                note ("HMAC key: C_CreateObject(CKO_SECRET_KEY, CKK_GENERIC_SECRET and "
                      "CKK_SHA256_HMAC, CKA_VALUE 32 bytes) failed too",
                      rv);
        } else {
            CK_MECHANISM m = { k == K_ED ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
                               NULL, 0 };
            CK_ATTRIBUTE pub[] = {
                { CKA_EC_PARAMS, (void *) (k == K_ED ? ed25519 : p256),
                  k == K_ED ? sizeof ed25519 : sizeof p256 },
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_VERIFY, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
            };
            CK_ATTRIBUTE priv[] = {
                { CKA_TOKEN, &yes, sizeof yes }, { CKA_PRIVATE, &yes, sizeof yes },
                { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
                { CKA_LABEL, (void *) label, ll }, { CKA_ID, &id, 1 },
            };
            rv = F->C_GenerateKeyPair (s, &m, pub, N_ELEM (pub), priv, N_ELEM (priv), &h2, &h);
            if (rv != CKR_OK)
                note (k == K_ED ? "Ed25519 key: C_GenerateKeyPair(CKM_EC_EDWARDS_KEY_PAIR_GEN, "
                                  "OID 1.3.101.112) failed"
                                : "ECDSA key: C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN, P-256) failed",
                      rv);
        }
    }
    fflush (stdout);
    F->C_Finalize (NULL);
    return 0;
}

/* Keys in the other modules (notes say what a module could not make). */
bool
setup_modules (void)
{
    bool ok = true;
    for (int t = T_TP11; t < N_T; t++) {
        char out[1024], *p = out;
        if (!present (t))
            continue;
        if (run_sub ("setup", t, NULL, NULL, NULL, out, sizeof out) != 0) {
            fprintf (stderr, "tpmtrust-bench: %s: setup failed: is its token 'bench' initialised "
                             "with user PIN %s?\n", targets[t].name, pin);
            ok = false;
        }
        while ((p = strstr (p, "NOTE ")) != NULL) {
            char *end = strchr (p, '\n');
            size_t len = end ? (size_t) (end - p - 5) : strlen (p + 5), have;
            have = strlen (targets[t].notes);
            snprintf (targets[t].notes + have, sizeof targets[t].notes - have, "%s%.*s",
                      have ? "; " : "", (int) len, p + 5);
            p += 5;
        }
    }
    return ok;
}
