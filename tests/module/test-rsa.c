/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-rsa MODULE TOKEN PIN [N]
 *
 * RSA through the module, checked with OpenSSL's EVP API (TAP output):
 *  - C_GenerateKeyPair without CKA_PUBLIC_EXPONENT gives 65537; exponent 3 is
 *    CKR_ATTRIBUTE_VALUE_INVALID; CKA_MODULUS_BITS 1024 CKR_KEY_SIZE_RANGE; a
 *    private-exponent attribute in the template CKR_TEMPLATE_INCONSISTENT;
 *  - the private key has CKA_MODULUS / CKA_PUBLIC_EXPONENT / CKA_PUBLIC_KEY_INFO
 *    and no CKA_PRIVATE_EXPONENT (CKR_ATTRIBUTE_TYPE_INVALID);
 *  - C_Sign length query: the modulus' size, CKR_BUFFER_TOO_SMALL keeps the
 *    operation; CKM_SHA256_RSA_PKCS_PSS (salt 32) verified by EVP;
 *  - PSS parameters: hashAlg not the mechanism's, unknown MGF, salt too long,
 *    no parameter: CKR_MECHANISM_PARAM_INVALID; CKM_RSA_PKCS_PSS over 31 bytes
 *    (SHA-256): CKR_DATA_LEN_RANGE;
 *  - with N: then N more signatures in this session (the caller counts TPM
 *    commands on the bus).
 */
#include "config.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ck.h"
#include "tests/module/helpers.h"

static int n_test, n_fail;

static void
ok (bool c, const char *what)
{
    n_test++;
    if (!c)
        n_fail++;
    printf ("%sok %d - %s\n", c ? "" : "not ", n_test, what);
}

static void
rv_is (CK_RV got, CK_RV want, const char *what)
{
    char buf[256];
    snprintf (buf, sizeof buf, "%s: 0x%lx (want 0x%lx)", what, got, want);
    ok (got == want, buf);
}

static CK_FUNCTION_LIST *F;
static CK_SESSION_HANDLE S;

static CK_RV
gen (CK_ULONG bits, const CK_BYTE *e, CK_ULONG e_len, bool priv_exp, CK_OBJECT_HANDLE *pub,
     CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_BBOOL no = CK_FALSE;
    CK_BYTE d = 1;
    CK_ATTRIBUTE pt[] = { { CKA_TOKEN, &no, sizeof no },
                          { CKA_MODULUS_BITS, &bits, sizeof bits },
                          { CKA_PUBLIC_EXPONENT, (void *) e, e_len } };
    CK_ATTRIBUTE st[] = { { CKA_TOKEN, &no, sizeof no }, { CKA_PRIVATE_EXPONENT, &d, 1 } };
    return F->C_GenerateKeyPair (S, &m, pt, e ? 3 : 2, st, priv_exp ? 2 : 1, pub, priv);
}

static CK_RV
sign (CK_OBJECT_HANDLE key, CK_MECHANISM *m, const CK_BYTE *data, CK_ULONG len, CK_BYTE *sig,
      CK_ULONG *sig_len)
{
    CK_RV rv = F->C_SignInit (S, m, key);
    if (rv != CKR_OK)
        return rv;
    return F->C_Sign (S, (CK_BYTE *) data, len, sig, sig_len);
}

static bool
evp_pss_ok (const CK_BYTE *spki, CK_ULONG spki_len, const CK_BYTE *data, size_t len,
            const CK_BYTE *sig, size_t sig_len, int salt)
{
    const unsigned char *p = spki;
    EVP_PKEY *pk = d2i_PUBKEY (NULL, &p, (long) spki_len);
    EVP_MD_CTX *c = EVP_MD_CTX_new ();
    EVP_PKEY_CTX *pc = NULL;
    bool good = pk && c && EVP_DigestVerifyInit (c, &pc, EVP_sha256 (), NULL, pk) == 1
                && EVP_PKEY_CTX_set_rsa_padding (pc, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen (pc, salt) == 1
                && EVP_DigestVerify (c, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free (c);
    EVP_PKEY_free (pk);
    return good;
}

int
main (int argc, char **argv)
{
    static const CK_BYTE three[] = { 3 }, f4[] = { 1, 0, 1 }, f4z[] = { 0, 1, 0, 1 };
    CK_OBJECT_HANDLE pub, priv, p2, s2;
    CK_BYTE data[100], sig[512], *v = NULL, *spki = NULL;
    CK_ULONG len, spki_len = 0, n_more = argc > 4 ? strtoul (argv[4], NULL, 10) : 0;
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss };
    CK_ATTRIBUTE a;

    if (argc < 4) {
        fprintf (stderr, "usage: test-rsa MODULE TOKEN PIN [N]\n");
        return 2;
    }
    F = load_module (argv[1]);
    if (F == NULL || open_user_session (F, argv[2], argv[3], &S) != CKR_OK) {
        printf ("Bail out! no session\n");
        return 1;
    }
    memset (data, 0x5a, sizeof data);

    rv_is (gen (2048, three, 1, false, &p2, &s2), CKR_ATTRIBUTE_VALUE_INVALID, "exponent 3");
    rv_is (gen (1024, NULL, 0, false, &p2, &s2), CKR_KEY_SIZE_RANGE, "1024 bits");
    rv_is (gen (2048, NULL, 0, true, &p2, &s2), CKR_TEMPLATE_INCONSISTENT,
           "CKA_PRIVATE_EXPONENT in the template");
    rv_is (gen (2048, f4z, sizeof f4z, false, &p2, &s2), CKR_OK, "exponent 00 01 00 01");
    rv_is (gen (2048, NULL, 0, false, &pub, &priv), CKR_OK, "no exponent");
    ok (get_attr_alloc (F, S, priv, CKA_PUBLIC_EXPONENT, &v, &len) == CKR_OK && len == 3
            && memcmp (v, f4, 3) == 0,
        "the private key's CKA_PUBLIC_EXPONENT is 01 00 01");
    free (v);
    v = NULL;
    ok (get_attr_alloc (F, S, priv, CKA_MODULUS, &v, &len) == CKR_OK && len == 256
            && (v[0] & 0x80),
        "the private key's CKA_MODULUS: 256 bytes, top bit set");
    free (v);
    a = (CK_ATTRIBUTE) { CKA_PRIVATE_EXPONENT, NULL, 0 };
    rv_is (F->C_GetAttributeValue (S, priv, &a, 1), CKR_ATTRIBUTE_TYPE_INVALID,
           "CKA_PRIVATE_EXPONENT of the private key");
    ok (get_attr_alloc (F, S, pub, CKA_PUBLIC_KEY_INFO, &spki, &spki_len) == CKR_OK, "SPKI");

    /* length query, too small, then the signature */
    rv_is (F->C_SignInit (S, &m, priv), CKR_OK, "C_SignInit SHA256-RSA-PKCS-PSS");
    len = 0;
    rv_is (F->C_Sign (S, data, sizeof data, NULL, &len), CKR_OK, "length query");
    ok (len == 256, "length query: 256");
    len = 10;
    rv_is (F->C_Sign (S, data, sizeof data, sig, &len), CKR_BUFFER_TOO_SMALL, "buffer too small");
    len = sizeof sig;
    rv_is (F->C_Sign (S, data, sizeof data, sig, &len), CKR_OK, "C_Sign after the queries");
    ok (len == 256 && evp_pss_ok (spki, spki_len, data, sizeof data, sig, len, 32),
        "EVP verifies the PSS signature (salt 32)");
    sig[5] ^= 1;
    ok (!evp_pss_ok (spki, spki_len, data, sizeof data, sig, len, 32),
        "EVP rejects it with a bit changed");

    /* parameters */
    pss = (CK_RSA_PKCS_PSS_PARAMS) { CKM_SHA384, CKG_MGF1_SHA384, 32 };
    rv_is (F->C_SignInit (S, &m, priv), CKR_MECHANISM_PARAM_INVALID, "hashAlg SHA-384 for SHA256");
    pss = (CK_RSA_PKCS_PSS_PARAMS) { CKM_SHA256, 77, 32 };
    rv_is (F->C_SignInit (S, &m, priv), CKR_MECHANISM_PARAM_INVALID, "unknown MGF");
    pss = (CK_RSA_PKCS_PSS_PARAMS) { CKM_SHA256, CKG_MGF1_SHA256, 223 };
    rv_is (F->C_SignInit (S, &m, priv), CKR_MECHANISM_PARAM_INVALID, "salt 223 (max 222)");
    pss.sLen = 222;
    len = sizeof sig;
    rv_is (sign (priv, &m, data, sizeof data, sig, &len), CKR_OK, "salt 222");
    ok (evp_pss_ok (spki, spki_len, data, sizeof data, sig, len, 222), "EVP verifies salt 222");
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    rv_is (F->C_SignInit (S, &m, priv), CKR_MECHANISM_PARAM_INVALID, "no PSS parameter");
    m = (CK_MECHANISM) { CKM_RSA_PKCS_PSS, &pss, sizeof pss };
    pss.sLen = 32;
    len = sizeof sig;
    rv_is (sign (priv, &m, data, 31, sig, &len), CKR_DATA_LEN_RANGE, "RSA_PKCS_PSS over 31 bytes");
    m = (CK_MECHANISM) { CKM_RSA_PKCS, NULL, 0 };
    len = sizeof sig;
    rv_is (sign (priv, &m, data, 100, sig, &len), CKR_OK, "RSA_PKCS over 100 bytes");
    rv_is (F->C_VerifyInit (S, &m, pub), CKR_OK, "C_VerifyInit RSA_PKCS");
    rv_is (F->C_Verify (S, data, 100, sig, len), CKR_OK, "C_Verify RSA_PKCS");

    m = (CK_MECHANISM) { CKM_SHA256_RSA_PKCS, NULL, 0 };
    for (CK_ULONG i = 0; i < n_more; i++) {
        CK_RV rv;
        len = sizeof sig;
        rv = sign (priv, &m, data, sizeof data, sig, &len);
        if (rv != CKR_OK) {
            rv_is (rv, CKR_OK, "steady-state signature");
            break;
        }
    }
    if (n_more)
        ok (true, "steady-state signatures made");
    free (spki);
    F->C_CloseSession (S);
    F->C_Finalize (NULL);
    printf ("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
