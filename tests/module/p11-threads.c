/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-threads [MODULE] MODE ARGS - concurrency and endurance driver for the
 * module, loaded with dlopen like any PKCS#11 consumer.
 *
 *   p11-threads [MODULE] threads N M   N threads, one session each, M CKM_ECDSA
 *                                      signs each; every signature is checked
 *                                      with OpenSSL
 *   p11-threads [MODULE] sign M        one thread, M signs; every 100th (and
 *                                      the last) is checked with OpenSSL
 *   p11-threads [MODULE] mix N S       N threads mixing signs, searches, object
 *                                      creation and destruction for S seconds,
 *                                      on shared and own sessions (p11-mix.c)
 *   p11-threads [MODULE] mixcheck      every object on the token is usable
 *
 * MODULE defaults to $TT_MODULE. The token is found by label ($TT_TOKEN,
 * default "test"), the user PIN is $TT_PIN (default 1234) and the key pair is
 * the one whose CKA_ID is $TT_KEY_ID (hex, default 01). With TT_NO_FINALIZE=1
 * the process exits with its sessions open and without C_Finalize (as many
 * tools do on errors), to check that the module still cleans up the TPM.
 *
 * Signatures are verified independently of the module: the public key is
 * rebuilt from CKA_EC_PARAMS + CKA_EC_POINT (and, when the module provides
 * CKA_PUBLIC_KEY_INFO, checked to be the same key), r||s is converted to a DER
 * ECDSA-Sig-Value and checked with EVP_PKEY_verify. Each thread also checks
 * once that a signature over a different digest does NOT verify, so the check
 * cannot pass vacuously.
 *
 * Prints one summary line; exits 0 only if every call and every check
 * succeeded, 1 on any failure, 2 on usage errors.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/ck.h"
#include "tests/module/helpers.h"
#include "tests/module/p11-threads.h"

#ifndef CKA_PUBLIC_KEY_INFO
#define CKA_PUBLIC_KEY_INFO (0x129UL)
#endif

#define MAX_SIG 132 /* r||s for P-521 */
#define MAX_THREADS 64
#define MAX_ERRORS_SHOWN 20

static CK_FUNCTION_LIST_PTR p11;
static CK_SLOT_ID slot;
static CK_BYTE key_id[64];
static CK_ULONG key_id_len;
static EVP_PKEY *pubkey;
static size_t field_len; /* bytes of r (and of s) */

static unsigned long errors_shown;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

void
fail (const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock (&print_lock);
    if (errors_shown++ < MAX_ERRORS_SHOWN) {
        fputs ("p11-threads: FAIL: ", stderr);
        va_start (ap, fmt);
        vfprintf (stderr, fmt, ap);
        va_end (ap);
        fputc ('\n', stderr);
    } else if (errors_shown == MAX_ERRORS_SHOWN + 1) {
        fputs ("p11-threads: (further failures not shown)\n", stderr);
    }
    pthread_mutex_unlock (&print_lock);
}

const char *
env_or (const char *name, const char *dflt)
{
    const char *v = getenv (name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static bool
parse_count (const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul (s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
        return false;
    *out = v;
    return true;
}

static bool
parse_hex (const char *s, CK_BYTE *out, size_t max, CK_ULONG *len)
{
    size_t n = strlen (s);

    if (n == 0 || n % 2 != 0 || n / 2 > max)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int b;
        char pair[3] = { s[2 * i], s[2 * i + 1], '\0' };
        char *end;
        b = (unsigned int) strtoul (pair, &end, 16);
        if (*end != '\0')
            return false;
        out[i] = (CK_BYTE) b;
    }
    *len = n / 2;
    return true;
}

/* Finds the single object of CLASS with our CKA_ID in session S. */
static CK_RV
find_key (CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof cls },
        { CKA_ID, key_id, key_id_len },
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;
    CK_RV rv, rv2;

    rv = p11->C_FindObjectsInit (s, tmpl, 2);
    if (rv != CKR_OK)
        return rv;
    rv = p11->C_FindObjects (s, found, 2, &n);
    rv2 = p11->C_FindObjectsFinal (s);
    if (rv == CKR_OK)
        rv = rv2;
    if (rv != CKR_OK)
        return rv;
    if (n != 1)
        return n == 0 ? CKR_OBJECT_HANDLE_INVALID : CKR_GENERAL_ERROR;
    *out = found[0];
    return CKR_OK;
}

/* Reads one attribute into a fresh buffer. */
static CK_RV
get_attr (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_BYTE **val,
          CK_ULONG *len)
{
    return get_attr_alloc (p11, s, o, type, val, len);
}

void
ssl_errors (const char *what)
{
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error ()) != 0) {
        ERR_error_string_n (e, buf, sizeof buf);
        fail ("%s: openssl: %s", what, buf);
    }
}

/*
 * EVP_PKEY from CKA_EC_PARAMS (a DER OID) and CKA_EC_POINT (a DER OCTET
 * STRING holding the uncompressed point; a bare point is accepted too).
 */
EVP_PKEY *
pkey_from_point (const CK_BYTE *params, CK_ULONG params_len, const CK_BYTE *point,
                 CK_ULONG point_len)
{
    const unsigned char *p = params;
    ASN1_OBJECT *oid = d2i_ASN1_OBJECT (NULL, &p, (long) params_len);
    ASN1_OCTET_STRING *os = NULL;
    const unsigned char *raw = point;
    size_t raw_len = point_len;
    const char *group;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *ossl = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    int nid;

    if (oid == NULL || p != params + params_len) {
        fail ("CKA_EC_PARAMS is not a DER OID (named curves only)");
        goto out;
    }
    nid = OBJ_obj2nid (oid);
    group = nid != NID_undef ? OBJ_nid2sn (nid) : NULL;
    if (group == NULL) {
        fail ("CKA_EC_PARAMS: unknown curve");
        goto out;
    }
    p = point;
    os = d2i_ASN1_OCTET_STRING (NULL, &p, (long) point_len);
    if (os != NULL && p == point + point_len) {
        raw = ASN1_STRING_get0_data (os);
        raw_len = (size_t) ASN1_STRING_length (os);
    } else {
        fprintf (stderr, "p11-threads: note: CKA_EC_POINT is not DER-wrapped\n");
        ERR_clear_error ();
    }
    if (raw_len < 3 || raw[0] != 0x04 || raw_len % 2 != 1) {
        fail ("CKA_EC_POINT is not an uncompressed point (%zu bytes)", raw_len);
        goto out;
    }
    field_len = (raw_len - 1) / 2;
    bld = OSSL_PARAM_BLD_new ();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string (bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0)
        || !OSSL_PARAM_BLD_push_octet_string (bld, OSSL_PKEY_PARAM_PUB_KEY, raw, raw_len)
        || (ossl = OSSL_PARAM_BLD_to_param (bld)) == NULL
        || (ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL)) == NULL
        || EVP_PKEY_fromdata_init (ctx) <= 0
        || EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, ossl) <= 0) {
        ssl_errors ("public key from CKA_EC_POINT");
        fail ("cannot build an OpenSSL key from CKA_EC_PARAMS/CKA_EC_POINT (curve %s)", group);
        EVP_PKEY_free (pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free (ctx);
    OSSL_PARAM_free (ossl);
    OSSL_PARAM_BLD_free (bld);
    ASN1_OCTET_STRING_free (os);
    ASN1_OBJECT_free (oid);
    return pkey;
}

/* Reads the public key (CKA_ID = key_id) into pubkey, using session S. */
static bool
load_public_key (CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE pub;
    CK_BYTE *params = NULL, *point = NULL, *spki = NULL;
    CK_ULONG params_len, point_len, spki_len;
    bool ok = false;
    CK_RV rv;

    rv = find_key (s, CKO_PUBLIC_KEY, &pub);
    if (rv != CKR_OK) {
        fail ("no single public key with that CKA_ID: 0x%lx", rv);
        return false;
    }
    rv = get_attr (s, pub, CKA_EC_PARAMS, &params, &params_len);
    if (rv == CKR_OK)
        rv = get_attr (s, pub, CKA_EC_POINT, &point, &point_len);
    if (rv != CKR_OK) {
        fail ("public key: C_GetAttributeValue(CKA_EC_PARAMS/CKA_EC_POINT) = 0x%lx", rv);
        goto out;
    }
    pubkey = pkey_from_point (params, params_len, point, point_len);
    if (pubkey == NULL)
        goto out;
    ok = true;

    /* Optional cross-check: CKA_PUBLIC_KEY_INFO must be the same key. */
    rv = get_attr (s, pub, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
    if (rv == CKR_OK && spki_len > 0) {
        const unsigned char *p = spki;
        EVP_PKEY *k2 = d2i_PUBKEY (NULL, &p, (long) spki_len);
        if (k2 == NULL || p != spki + spki_len) {
            ssl_errors ("CKA_PUBLIC_KEY_INFO");
            fail ("CKA_PUBLIC_KEY_INFO is not a DER SubjectPublicKeyInfo");
            ok = false;
        } else if (EVP_PKEY_eq (pubkey, k2) != 1) {
            fail ("CKA_PUBLIC_KEY_INFO and CKA_EC_POINT are different keys");
            ok = false;
        }
        EVP_PKEY_free (k2);
    }
out:
    free (params);
    free (point);
    free (spki);
    return ok;
}

/* 1: valid, 0: invalid, -1: error. SIG is r||s. */
int
ossl_verify_key (EVP_PKEY *key, const CK_BYTE *digest, size_t digest_len, const CK_BYTE *sig,
                 size_t sig_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int der_len, ret = -1;

    if (sig_len != 2 * field_len)
        return 0;
    es = ECDSA_SIG_new ();
    r = BN_bin2bn (sig, (int) field_len, NULL);
    s = BN_bin2bn (sig + field_len, (int) field_len, NULL);
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0 (es, r, s)) {
        BN_free (r);
        BN_free (s);
        goto out;
    }
    der_len = i2d_ECDSA_SIG (es, &der);
    if (der_len <= 0)
        goto out;
    ctx = EVP_PKEY_CTX_new (key, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init (ctx) <= 0)
        goto out;
    ret = EVP_PKEY_verify (ctx, der, (size_t) der_len, digest, digest_len);
    if (ret < 0)
        ret = -1;
out:
    if (ret < 0)
        ssl_errors ("verify");
    ERR_clear_error ();
    EVP_PKEY_CTX_free (ctx);
    OPENSSL_free (der);
    ECDSA_SIG_free (es);
    return ret;
}

static int
ossl_verify (const CK_BYTE *digest, size_t digest_len, const CK_BYTE *sig, size_t sig_len)
{
    return ossl_verify_key (pubkey, digest, digest_len, sig, sig_len);
}

typedef struct {
    unsigned idx;
    unsigned long n_signs;
    unsigned long verify_every; /* 1: all; K: i % K == 0 and the last */
    unsigned long signs_ok;
    unsigned long verified;
    unsigned long failures;
    pthread_t thread;
} worker;

static void *
worker_run (void *arg)
{
    worker *w = arg;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE priv;
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    bool negative_done = false;
    CK_RV rv;

    rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        fail ("thread %u: C_OpenSession = 0x%lx", w->idx, rv);
        w->failures++;
        return NULL;
    }
    rv = find_key (s, CKO_PRIVATE_KEY, &priv);
    if (rv != CKR_OK) {
        fail ("thread %u: no single private key with that CKA_ID: 0x%lx", w->idx, rv);
        w->failures++;
        goto out;
    }
    for (unsigned long i = 0; i < w->n_signs; i++) {
        CK_BYTE digest[32], sig[MAX_SIG];
        CK_ULONG sig_len = sizeof sig;
        int v;

        if (RAND_bytes (digest, sizeof digest) != 1) {
            fail ("thread %u: RAND_bytes failed", w->idx);
            w->failures++;
            continue;
        }
        rv = p11->C_SignInit (s, &mech, priv);
        if (rv != CKR_OK) {
            fail ("thread %u sign %lu: C_SignInit = 0x%lx", w->idx, i, rv);
            w->failures++;
            continue;
        }
        rv = p11->C_Sign (s, digest, sizeof digest, sig, &sig_len);
        if (rv != CKR_OK) {
            fail ("thread %u sign %lu: C_Sign = 0x%lx", w->idx, i, rv);
            w->failures++;
            continue;
        }
        if (sig_len != 2 * field_len) {
            fail ("thread %u sign %lu: signature is %lu bytes, expected %zu", w->idx, i, sig_len,
                  2 * field_len);
            w->failures++;
            continue;
        }
        w->signs_ok++;
        if (i % w->verify_every != 0 && i != w->n_signs - 1)
            continue;
        v = ossl_verify (digest, sizeof digest, sig, sig_len);
        if (v != 1) {
            fail ("thread %u sign %lu: OpenSSL says the signature is %s", w->idx, i,
                  v == 0 ? "INVALID" : "unverifiable (error)");
            w->failures++;
            continue;
        }
        w->verified++;
        if (!negative_done) {
            /* The same signature over another digest must not verify. */
            digest[0] ^= 0x01;
            v = ossl_verify (digest, sizeof digest, sig, sig_len);
            if (v != 0) {
                fail ("thread %u: a signature verified over the wrong digest (%d)", w->idx, v);
                w->failures++;
            }
            negative_done = true;
        }
    }
out:
    rv = p11->C_CloseSession (s);
    if (rv != CKR_OK) {
        fail ("thread %u: C_CloseSession = 0x%lx", w->idx, rv);
        w->failures++;
    }
    return NULL;
}

static void
usage (void)
{
    fprintf (stderr, "usage: p11-threads [MODULE] threads N M\n"
                     "       p11-threads [MODULE] init\n"
                     "       p11-threads [MODULE] sign M\n"
                     "       p11-threads [MODULE] mix N SECONDS\n"
                     "       p11-threads [MODULE] mixcheck\n"
                     "env: TT_MODULE, TT_TOKEN (test), TT_PIN (1234), TT_KEY_ID (01),\n"
                     "     TT_NO_FINALIZE (0); mix: TT_TOKEN2, TT_MIX_KEEP (0)\n");
}

int
main (int argc, char **argv)
{
    const char *module, *mode, *pin;
    CK_C_GetFunctionList get_list;
    CK_C_INITIALIZE_ARGS init = { 0 };
    CK_SESSION_HANDLE login_sess = CK_INVALID_HANDLE;
    unsigned long n_threads = 1, n_signs = 0;
    worker workers[MAX_THREADS];
    unsigned long signs_ok = 0, verified = 0, failures = 0;
    bool initialized = false;
    void *dl;
    double t0, dt;
    int argi = 1;
    CK_RV rv;

    /* MODULE is optional: anything that is not a mode name. */
    if (argc > 1 && strcmp (argv[1], "threads") != 0 && strcmp (argv[1], "sign") != 0
        && strcmp (argv[1], "init") != 0 && strcmp (argv[1], "mix") != 0
        && strcmp (argv[1], "mixcheck") != 0)
        module = argv[argi++];
    else
        module = getenv ("TT_MODULE");
    if (module == NULL || argc <= argi) {
        usage ();
        return 2;
    }
    mode = argv[argi++];
    if (strcmp (mode, "threads") == 0 && argc - argi == 2) {
        if (!parse_count (argv[argi], MAX_THREADS, &n_threads)
            || !parse_count (argv[argi + 1], 10000000, &n_signs)) {
            usage ();
            return 2;
        }
    } else if (strcmp (mode, "mix") == 0 && argc - argi == 2) {
        if (!parse_count (argv[argi], MAX_THREADS, &n_threads)
            || !parse_count (argv[argi + 1], 3600, &n_signs)) {
            usage ();
            return 2;
        }
    } else if (strcmp (mode, "mixcheck") == 0 && argc == argi) {
        /* see p11-mix.c */
    } else if (strcmp (mode, "init") == 0 && argc == argi) {
        /* only what a program that scans modules does: load, initialize, info, finalize */
    } else if (strcmp (mode, "sign") == 0 && argc - argi == 1) {
        if (!parse_count (argv[argi], 10000000, &n_signs)) {
            usage ();
            return 2;
        }
    } else {
        usage ();
        return 2;
    }
    if (!parse_hex (env_or ("TT_KEY_ID", "01"), key_id, sizeof key_id, &key_id_len)) {
        fprintf (stderr, "p11-threads: TT_KEY_ID must be hex\n");
        return 2;
    }
    pin = env_or ("TT_PIN", "1234");

    dl = dlopen (module, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf (stderr, "p11-threads: FAIL: dlopen %s: %s\n", module, dlerror ());
        return 1;
    }
    *(void **) &get_list = dlsym (dl, "C_GetFunctionList");
    if (get_list == NULL || get_list (&p11) != CKR_OK || p11 == NULL) {
        fprintf (stderr, "p11-threads: FAIL: C_GetFunctionList unavailable\n");
        return 1;
    }

    init.flags = CKF_OS_LOCKING_OK;
    rv = p11->C_Initialize (&init);
    if (rv != CKR_OK) {
        fail ("C_Initialize = 0x%lx", rv);
        failures++;
        goto done;
    }
    initialized = true;
    if (strcmp (mode, "mix") == 0 || strcmp (mode, "mixcheck") == 0) {
        /* n_signs is the duration in seconds here */
        failures += strcmp (mode, "mix") == 0 ? mix_run (p11, n_threads, n_signs) != 0
                                              : mix_check (p11) != 0;
        goto done;
    }
    if (strcmp (mode, "init") == 0) {
        CK_INFO info;
        rv = p11->C_GetInfo (&info);
        if (rv == CKR_OK)
            rv = p11->C_Finalize (NULL);
        printf ("init: C_Initialize, C_GetInfo, C_Finalize: 0x%lx\n", rv);
        return rv == CKR_OK ? 0 : 1;
    }
    if (!find_token_slot (p11, env_or ("TT_TOKEN", "test"), &slot)) {
        fail ("no token labelled %s", env_or ("TT_TOKEN", "test"));
        failures++;
        goto done;
    }
    /* Login is per token: this session stays open (and logged in) while the
     * workers run, since closing a token's last session logs it out. */
    rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &login_sess);
    if (rv == CKR_OK)
        rv = p11->C_Login (login_sess, CKU_USER, (CK_UTF8CHAR_PTR) pin, strlen (pin));
    if (rv != CKR_OK) {
        fail ("C_OpenSession/C_Login = 0x%lx", rv);
        failures++;
        goto done;
    }
    if (!load_public_key (login_sess)) {
        failures++;
        goto done;
    }

    memset (workers, 0, sizeof workers);
    t0 = now ();
    for (unsigned long i = 0; i < n_threads; i++) {
        int err;
        workers[i].idx = (unsigned) i;
        workers[i].n_signs = n_signs;
        workers[i].verify_every = strcmp (mode, "threads") == 0 ? 1 : 100;
        err = pthread_create (&workers[i].thread, NULL, worker_run, &workers[i]);
        if (err != 0) {
            fail ("pthread_create: %s", strerror (err));
            failures++;
            n_threads = i;
            break;
        }
    }
    for (unsigned long i = 0; i < n_threads; i++) {
        pthread_join (workers[i].thread, NULL);
        signs_ok += workers[i].signs_ok;
        verified += workers[i].verified;
        failures += workers[i].failures;
    }
    dt = now () - t0;
    if (signs_ok != n_threads * n_signs && failures == 0)
        failures++; /* cannot happen; belt and braces */
    printf ("p11-threads: %s: %lu thread(s) x %lu signs: %lu signed, %lu verified with OpenSSL, "
            "%lu failure(s), %.2f s (%.1f signs/s)\n",
            mode, n_threads, n_signs, signs_ok, verified, failures, dt,
            dt > 0 ? (double) signs_ok / dt : 0.0);

done:
    if (initialized && strcmp (env_or ("TT_NO_FINALIZE", "0"), "1") == 0) {
        fprintf (stderr, "p11-threads: TT_NO_FINALIZE=1: exiting without C_Finalize\n");
        return failures == 0 ? 0 : 1;
    }
    if (login_sess != CK_INVALID_HANDLE) {
        rv = p11->C_CloseSession (login_sess);
        if (rv != CKR_OK) {
            fail ("C_CloseSession = 0x%lx", rv);
            failures++;
        }
    }
    if (initialized) {
        rv = p11->C_Finalize (NULL);
        if (rv != CKR_OK) {
            fail ("C_Finalize = 0x%lx", rv);
            failures++;
        }
    }
    EVP_PKEY_free (pubkey);
    dlclose (dl);
    if (failures != 0)
        fprintf (stderr, "p11-threads: FAILED (%lu failure(s))\n", failures);
    return failures == 0 ? 0 : 1;
}
