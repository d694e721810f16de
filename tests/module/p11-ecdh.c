/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-ecdh MODULE TOKEN PIN ID PEER KDF SHARED LEN [hmac DATA]
 *
 * C_DeriveKey (CKM_ECDH1_DERIVE) with the private key whose CKA_ID is ID (hex)
 * and the peer's uncompressed point PEER (hex); KDF is null, sha1, sha224,
 * sha256, sha384 or sha512; SHARED the shared data (hex, "-" for none); LEN
 * the CKA_VALUE_LEN asked (0: none given). Prints the derived value in hex
 * (read back: CKA_SENSITIVE FALSE, CKA_EXTRACTABLE TRUE). With "hmac DATA"
 * the key is made with CKA_SIGN TRUE instead (it goes into the TPM) and the
 * HMAC-SHA256 of DATA (hex) under it is printed. Exit 0 on success; on a
 * Cryptoki error prints "CKR 0x..." and exits 3. With P11_ECDH_SPKI=FILE the
 * key's CKA_PUBLIC_KEY_INFO (DER) is written there first. The caller compares
 * the output with OpenSSL's (tests/integration/ecdh.sh).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ck.h"
#include "tests/module/helpers.h"

static int
fail (const char *what, CK_RV rv)
{
    printf ("CKR 0x%lx\n", rv);
    fprintf (stderr, "p11-ecdh: %s: 0x%lx\n", what, rv);
    return 3;
}

static void
hex_out (const CK_BYTE *p, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        printf ("%02x", p[i]);
    printf ("\n");
}

int
main (int argc, char **argv)
{
    static const struct {
        const char *name;
        CK_ULONG kdf;
    } kdfs[] = { { "null", CKD_NULL },       { "sha1", CKD_SHA1_KDF },
                 { "sha224", CKD_SHA224_KDF }, { "sha256", CKD_SHA256_KDF },
                 { "sha384", CKD_SHA384_KDF }, { "sha512", CKD_SHA512_KDF } };
    CK_BYTE id[64], peer[128], shared[256], data[256], out[1024];
    long id_len, peer_len, shared_len = 0, data_len = 0;
    CK_ECDH1_DERIVE_PARAMS p = { 0 };
    CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &p, sizeof p };
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len, n = 0, kdf = (CK_ULONG) -1;
    CK_OBJECT_HANDLE key, derived;
    CK_SESSION_HANDLE s;
    CK_FUNCTION_LIST *f;
    bool hmac;
    CK_RV rv;

    if (argc != 9 && argc != 11) {
        fprintf (stderr, "usage: p11-ecdh MODULE TOKEN PIN ID PEER KDF SHARED LEN [hmac DATA]\n");
        return 2;
    }
    hmac = argc == 11 && strcmp (argv[9], "hmac") == 0;
    for (size_t i = 0; i < sizeof kdfs / sizeof kdfs[0]; i++)
        if (strcmp (argv[6], kdfs[i].name) == 0)
            kdf = kdfs[i].kdf;
    id_len = unhex (argv[4], id, sizeof id);
    peer_len = unhex (argv[5], peer, sizeof peer);
    if (strcmp (argv[7], "-") != 0)
        shared_len = unhex (argv[7], shared, sizeof shared);
    if (hmac)
        data_len = unhex (argv[10], data, sizeof data);
    len = strtoul (argv[8], NULL, 10);
    if (id_len <= 0 || peer_len <= 0 || shared_len < 0 || data_len < 0 || kdf == (CK_ULONG) -1) {
        fprintf (stderr, "p11-ecdh: bad arguments\n");
        return 2;
    }
    f = load_module (argv[1]);
    if (f == NULL)
        return 1;
    rv = open_user_session (f, argv[2], argv[3], &s);
    if (rv != CKR_OK)
        return fail ("login", rv);
    {
        CK_ATTRIBUTE find[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, id, (CK_ULONG) id_len } };
        if ((rv = f->C_FindObjectsInit (s, find, 2)) != CKR_OK
            || (rv = f->C_FindObjects (s, &key, 1, &n)) != CKR_OK || n != 1)
            return fail ("finding the key", rv != CKR_OK ? rv : CKR_KEY_HANDLE_INVALID);
        f->C_FindObjectsFinal (s);
    }
    if (getenv ("P11_ECDH_SPKI") != NULL) {
        CK_BYTE *spki = NULL;
        CK_ULONG spki_len = 0;
        FILE *fp = fopen (getenv ("P11_ECDH_SPKI"), "wb");
        rv = get_attr_alloc (f, s, key, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
        if (fp == NULL || rv != CKR_OK || fwrite (spki, 1, spki_len, fp) != spki_len) {
            fprintf (stderr, "p11-ecdh: writing the public key: 0x%lx\n", rv);
            return 1;
        }
        fclose (fp);
        free (spki);
    }
    p.kdf = kdf;
    p.public_data = peer;
    p.public_data_len = (CK_ULONG) peer_len;
    p.shared_data = shared_len ? shared : NULL;
    p.shared_data_len = (CK_ULONG) shared_len;
    {
        CK_ATTRIBUTE t[7] = { { CKA_CLASS, &secret, sizeof secret },
                              { CKA_KEY_TYPE, &generic, sizeof generic },
                              { CKA_TOKEN, &no, sizeof no } };
        CK_ULONG nt = 3;
        if (hmac) {
            t[nt++] = (CK_ATTRIBUTE){ CKA_SIGN, &yes, sizeof yes };
        } else {
            t[nt++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &no, sizeof no };
            t[nt++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &yes, sizeof yes };
        }
        if (len)
            t[nt++] = (CK_ATTRIBUTE){ CKA_VALUE_LEN, &len, sizeof len };
        rv = f->C_DeriveKey (s, &mech, key, t, nt, &derived);
        if (rv != CKR_OK)
            return fail ("C_DeriveKey", rv);
    }
    if (hmac) {
        CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
        CK_ULONG out_len = sizeof out;
        if ((rv = f->C_SignInit (s, &m, derived)) != CKR_OK
            || (rv = f->C_Sign (s, data, (CK_ULONG) data_len, out, &out_len)) != CKR_OK)
            return fail ("C_Sign (CKM_SHA256_HMAC) with the derived key", rv);
        {
            CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };
            if (f->C_GetAttributeValue (s, derived, &v, 1) != CKR_ATTRIBUTE_SENSITIVE) {
                fprintf (stderr, "p11-ecdh: the TPM HMAC key's CKA_VALUE is readable\n");
                return 1;
            }
        }
        hex_out (out, out_len);
    } else {
        CK_ATTRIBUTE v = { CKA_VALUE, out, sizeof out };
        if ((rv = f->C_GetAttributeValue (s, derived, &v, 1)) != CKR_OK)
            return fail ("reading CKA_VALUE", rv);
        hex_out (out, v.ulValueLen);
    }
    f->C_Finalize (NULL);
    return 0;
}
