/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * p11-crash [MODULE] MODE ARGS - crash consistency: processes killed with
 * SIGKILL in the middle of changing the token must leave it whole.
 *
 *   p11-crash [MODULE] kill N SEED  N times: fork a worker, wait until it has
 *                                   logged in, SIGKILL it after a random delay
 *                                   (log-uniform, 50 us .. 50 ms; one kill in
 *                                   eight is timed from the fork instead, so
 *                                   it lands in C_Initialize or C_Login).
 *                                   Prints which call each kill interrupted.
 *   p11-crash [MODULE] work SEED    one worker, without a killer: changes the
 *                                   token at random until TT_CRASH_OPS calls
 *                                   (default 400) are done
 *   p11-crash [MODULE] check        uses every object of the token, prints
 *                                   "objects N" and a summary; exits 1 on any
 *                                   object that is damaged or unusable
 *
 * The worker creates data objects and imported HMAC secrets (C_CreateObject),
 * generates HMAC secrets (C_GenerateKey), EC P-256 and Ed25519 key pairs
 * (C_GenerateKeyPair), changes labels (C_SetAttributeValue), copies
 * (C_CopyObject), destroys (C_DestroyObject), signs, and re-seals the user
 * PIN (C_SetPIN to the same PIN: a rewrite of the token row). All objects are
 * token objects. The first byte of every CKA_ID (of a data object: its
 * CKA_APPLICATION, in hex) names what the object is, the
 * rest is random; the values of data objects and imported secrets are
 * SHA-256("crash-data"/"crash-hmac" || CKA_ID), so the checker knows them.
 *
 * The checker verifies independently of the module: data values compared,
 * imported HMACs against OpenSSL's HMAC, ECDSA and Ed25519 signatures with
 * OpenSSL against the key's CKA_PUBLIC_KEY_INFO, objects with one CKA_ID
 * carry one public key; generated secrets (unknown to anyone) sign and the
 * module's C_Verify accepts the MAC and refuses it with a bit flipped. It
 * also logs in as SO and as user (the token's sealed secrets are intact).
 *
 * MODULE defaults to $TT_MODULE; the token is $TT_TOKEN (default "crash"),
 * the PINs $TT_PIN (1234) and $TT_SO_PIN (12345678).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/ck.h"
#include "tests/module/helpers.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))
#define ID_LEN 8
#define MAX_OBJECTS 256
#define KEEP_OBJECTS 24 /* the worker destroys more often above this */

static CK_FUNCTION_LIST *F;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static const char *pin, *so_pin, *module;
static unsigned long failures;

static CK_BBOOL yes = CK_TRUE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE k_hmac256 = CKK_SHA256_HMAC, k_generic = CKK_GENERIC_SECRET;
static const CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const CK_BYTE msg[] = "crash consistency: a message to sign";

/* What a CKA_ID's first byte says the object is. */
enum { K_DATA = 'D', K_HMAC = 'H', K_GEN = 'G', K_EC = 'E', K_ED = 'P' };

/* The calls the worker makes; the killer reports which one a kill interrupted. */
enum op {
    OP_NONE,
    OP_DATA,
    OP_HMAC,
    OP_GEN,
    OP_EC,
    OP_ED,
    OP_LABEL,
    OP_COPY,
    OP_DESTROY,
    OP_SIGN,
    OP_SETPIN,
    OP_FIND,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "outside a call (start-up, C_Initialize, C_Login)",
    "C_CreateObject (data)",
    "C_CreateObject (HMAC secret)",
    "C_GenerateKey",
    "C_GenerateKeyPair (EC P-256)",
    "C_GenerateKeyPair (Ed25519)",
    "C_SetAttributeValue (label)",
    "C_CopyObject",
    "C_DestroyObject",
    "C_Sign",
    "C_SetPIN (same PIN)",
    "C_FindObjects",
};

/* Shared with the killer (an anonymous shared mapping made before fork). */
typedef struct {
    volatile int op;
    volatile unsigned long done;
} progress;
static progress *shared;

static void fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static void
fail (const char *fmt, ...)
{
    va_list ap;

    if (failures++ < 30) {
        fputs ("p11-crash: FAIL: ", stdout);
        va_start (ap, fmt);
        vprintf (fmt, ap);
        va_end (ap);
        fputc ('\n', stdout);
    }
}

/* xorshift64*: reproducible from the seed the driver prints */
static uint64_t rng_state;

static uint64_t
rnd (void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void
rnd_seed (uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; i < 4; i++)
        rnd ();
}

static void
set_op (enum op op)
{
    if (shared != NULL) {
        shared->op = op;
        if (op == OP_NONE)
            shared->done++;
    }
}

/* SHA-256(tag || id): the value of a data object or an imported secret. */
static void
derive (const char *tag, const CK_BYTE *id, CK_BYTE out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new ();
    unsigned int n = 0;

    if (c == NULL || EVP_DigestInit_ex (c, EVP_sha256 (), NULL) != 1
        || EVP_DigestUpdate (c, tag, strlen (tag)) != 1 || EVP_DigestUpdate (c, id, ID_LEN) != 1
        || EVP_DigestFinal_ex (c, out, &n) != 1 || n != 32) {
        fprintf (stderr, "p11-crash: SHA-256 failed\n");
        exit (2);
    }
    EVP_MD_CTX_free (c);
}

static void
new_id (int kind, CK_BYTE id[ID_LEN])
{
    id[0] = (CK_BYTE) kind;
    if (RAND_bytes (id + 1, ID_LEN - 1) != 1) {
        fprintf (stderr, "p11-crash: RAND_bytes failed\n");
        exit (2);
    }
}

/* One attribute into a fresh buffer. */
static CK_RV
get_attr (CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_BYTE **val, CK_ULONG *len)
{
    return get_attr_alloc (F, sess, h, type, val, len);
}

/* The object's id: CKA_ID, or a data object's CKA_APPLICATION in hex. */
static CK_RV
get_id (CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, CK_BYTE id[ID_LEN])
{
    CK_BYTE *v = NULL;
    CK_ULONG len = 0;
    CK_RV rv = get_attr (h, cls == CKO_DATA ? CKA_APPLICATION : CKA_ID, &v, &len);

    if (rv == CKR_OK && cls == CKO_DATA && unhex ((const char *) v, id, ID_LEN) != ID_LEN)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    else if (rv == CKR_OK && cls != CKO_DATA && len == ID_LEN)
        memcpy (id, v, ID_LEN);
    else if (rv == CKR_OK && cls != CKO_DATA)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    free (v);
    return rv;
}

/* Every object the session sees (after login: all of them, as all are ours). */
static CK_RV
find_all (CK_OBJECT_HANDLE *out, CK_ULONG *n)
{
    CK_RV rv = F->C_FindObjectsInit (sess, NULL, 0);
    if (rv == CKR_OK) {
        rv = F->C_FindObjects (sess, out, MAX_OBJECTS, n);
        CK_RV rv2 = F->C_FindObjectsFinal (sess);
        if (rv == CKR_OK)
            rv = rv2;
    }
    return rv;
}

static CK_RV
sign (CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_RV rv = F->C_SignInit (sess, &m, key);
    if (rv == CKR_OK)
        rv = F->C_Sign (sess, (CK_BYTE_PTR) msg, sizeof msg, sig, sig_len);
    return rv;
}

/* ==== the worker ==== */

static CK_RV
create_data (void)
{
    CK_BYTE id[ID_LEN], value[32];
    char label[] = "crash-data", app[2 * ID_LEN + 1];
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_data, sizeof c_data },   { CKA_TOKEN, &yes, sizeof yes },
        { CKA_PRIVATE, &yes, sizeof yes },       { CKA_APPLICATION, app, 2 * ID_LEN },
        { CKA_LABEL, label, sizeof label - 1 }, { CKA_VALUE, value, sizeof value },
    };
    CK_OBJECT_HANDLE h;

    new_id (K_DATA, id);
    for (int i = 0; i < ID_LEN; i++)
        snprintf (app + 2 * i, 3, "%02x", id[i]);
    derive ("crash-data", id, value);
    return F->C_CreateObject (sess, t, N_ELEM (t), &h);
}

static CK_RV
create_hmac (void)
{
    CK_BYTE id[ID_LEN], value[32];
    char label[] = "crash-hmac";
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_secret, sizeof c_secret },
        { CKA_KEY_TYPE, &k_hmac256, sizeof k_hmac256 },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_SIGN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_ID, id, sizeof id },
        { CKA_LABEL, label, sizeof label - 1 },
        { CKA_VALUE, value, sizeof value },
    };
    CK_OBJECT_HANDLE h;

    new_id (K_HMAC, id);
    derive ("crash-hmac", id, value);
    return F->C_CreateObject (sess, t, N_ELEM (t), &h);
}

static CK_RV
generate_secret (void)
{
    CK_BYTE id[ID_LEN];
    CK_ULONG len = 32;
    char label[] = "crash-gen";
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &c_secret, sizeof c_secret },
        { CKA_KEY_TYPE, &k_generic, sizeof k_generic },
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_SIGN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_VALUE_LEN, &len, sizeof len },
        { CKA_ID, id, sizeof id },
        { CKA_LABEL, label, sizeof label - 1 },
    };
    CK_OBJECT_HANDLE h;

    new_id (K_GEN, id);
    return F->C_GenerateKey (sess, &m, t, N_ELEM (t), &h);
}

static CK_RV
generate_pair (bool ed)
{
    CK_BYTE id[ID_LEN];
    char label[] = "crash-pair";
    CK_MECHANISM m = { ed ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE pt[] = {
        { CKA_TOKEN, &yes, sizeof yes },
        { CKA_VERIFY, &yes, sizeof yes },
        { CKA_ID, id, sizeof id },
        { CKA_LABEL, label, sizeof label - 1 },
        { CKA_EC_PARAMS, (void *) (ed ? oid_ed25519 : oid_p256),
          ed ? sizeof oid_ed25519 : sizeof oid_p256 },
    };
    CK_ATTRIBUTE st[] = {
        { CKA_TOKEN, &yes, sizeof yes },     { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
        { CKA_ID, id, sizeof id },           { CKA_LABEL, label, sizeof label - 1 },
    };
    CK_OBJECT_HANDLE pub, priv;

    new_id (ed ? K_ED : K_EC, id);
    return F->C_GenerateKeyPair (sess, &m, pt, N_ELEM (pt), st, N_ELEM (st), &pub, &priv);
}

static CK_RV
set_label (CK_OBJECT_HANDLE h)
{
    char label[32];
    CK_ATTRIBUTE t = { CKA_LABEL, label, 0 };

    t.ulValueLen = (CK_ULONG) snprintf (label, sizeof label, "crash-relabelled-%u",
                                        (unsigned) (rnd () % 100000));
    return F->C_SetAttributeValue (sess, h, &t, 1);
}

static CK_RV
copy_object (CK_OBJECT_HANDLE h)
{
    char label[] = "crash-copy";
    CK_ATTRIBUTE t = { CKA_LABEL, label, sizeof label - 1 };
    CK_OBJECT_HANDLE copy;

    return F->C_CopyObject (sess, h, &t, 1, &copy);
}

/* Signs with h when it is a key that signs. */
static CK_RV
sign_with (CK_OBJECT_HANDLE h)
{
    CK_BYTE id[ID_LEN], sig[128];
    CK_ULONG sig_len = sizeof sig;
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof cls };
    CK_RV rv = F->C_GetAttributeValue (sess, h, &a, 1);

    if (rv == CKR_OK)
        rv = get_id (h, cls, id);
    if (rv == CKR_OK && (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY))
        rv = sign (id[0] == K_ED ? CKM_EDDSA
                   : id[0] == K_EC ? CKM_ECDSA_SHA256
                                   : CKM_SHA256_HMAC,
                   h, sig, &sig_len);
    return rv;
}

static CK_RV
login (CK_USER_TYPE who, const char *p)
{
    CK_RV rv = F->C_Login (sess, who, (CK_UTF8CHAR_PTR) p, strlen (p));
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

/* One random call; any error is a failure (nothing here may fail). */
static bool
work_one (void)
{
    CK_OBJECT_HANDLE objs[MAX_OBJECTS], pick = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    unsigned r = (unsigned) (rnd () % 100);
    enum op op;
    CK_RV rv;

    set_op (OP_FIND);
    rv = find_all (objs, &n);
    set_op (OP_NONE);
    if (rv != CKR_OK) {
        fail ("C_FindObjects: 0x%lx", rv);
        return false;
    }
    if (n > 0)
        pick = objs[rnd () % n];
    if (n > KEEP_OBJECTS && r < 50)
        op = OP_DESTROY;
    else
        op = r < 10 ? OP_DATA
             : r < 20 ? OP_HMAC
             : r < 28 ? OP_GEN
             : r < 40 ? OP_EC
             : r < 50 ? OP_ED
             : r < 62 ? OP_LABEL
             : r < 70 ? OP_COPY
             : r < 84 ? OP_DESTROY
             : r < 97 ? OP_SIGN
                      : OP_SETPIN;
    if (n == 0 && (op == OP_LABEL || op == OP_COPY || op == OP_DESTROY || op == OP_SIGN))
        op = OP_EC;
    set_op (op);
    switch (op) {
    case OP_DATA: rv = create_data (); break;
    case OP_HMAC: rv = create_hmac (); break;
    case OP_GEN: rv = generate_secret (); break;
    case OP_EC: rv = generate_pair (false); break;
    case OP_ED: rv = generate_pair (true); break;
    case OP_LABEL: rv = set_label (pick); break;
    case OP_COPY: rv = copy_object (pick); break;
    case OP_DESTROY: rv = F->C_DestroyObject (sess, pick); break;
    case OP_SIGN: rv = sign_with (pick); break;
    default:
        rv = F->C_SetPIN (sess, (CK_UTF8CHAR_PTR) pin, strlen (pin), (CK_UTF8CHAR_PTR) pin,
                          strlen (pin));
        break;
    }
    set_op (OP_NONE);
    if (rv != CKR_OK)
        fail ("%s: 0x%lx", op_names[op], rv);
    return rv == CKR_OK;
}

/* Opens a session on the token and logs in as user. */
static bool
open_user (const char *token)
{
    CK_C_INITIALIZE_ARGS init = { .flags = CKF_OS_LOCKING_OK };
    CK_RV rv = F->C_Initialize (&init);

    if (rv != CKR_OK) {
        fail ("C_Initialize: 0x%lx", rv);
        return false;
    }
    if (!find_token_slot (F, token, &slot)) {
        fail ("token '%s' not found", token);
        return false;
    }
    rv = F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess);
    if (rv == CKR_OK)
        rv = login (CKU_USER, pin);
    if (rv != CKR_OK)
        fail ("C_OpenSession + C_Login: 0x%lx", rv);
    return rv == CKR_OK;
}

/* The worker: logs in, tells the killer (ready_fd), then works. */
static int
mode_work (const char *token, uint64_t seed, int ready_fd)
{
    const char *s = getenv ("TT_CRASH_OPS");
    unsigned long ops = s != NULL ? strtoul (s, NULL, 10) : 400;

    rnd_seed (seed);
    if (!open_user (token))
        return 1;
    if (ready_fd >= 0 && (write (ready_fd, "r", 1) != 1 || close (ready_fd) != 0))
        return 1;
    for (unsigned long i = 0; i < ops; i++)
        if (!work_one ())
            return 1;
    F->C_Finalize (NULL);
    return 0;
}

/* ==== the killer ==== */

static void
sleep_us (double us)
{
    struct timespec ts = { (time_t) (us / 1e6), (long) (fmod (us, 1e6) * 1000) };
    while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
mode_kill (const char *token, unsigned long n, uint64_t seed)
{
    unsigned long at_op[OP_COUNT] = { 0 }, killed = 0, finished = 0, early = 0, ops = 0;
    double t0 = now (), min_us = 1e12, max_us = 0;

    shared = mmap (NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror ("p11-crash: mmap");
        return 2;
    }
    rnd_seed (seed);
    printf ("p11-crash: %lu workers, seed %llu\n", n, (unsigned long long) seed);
    for (unsigned long i = 0; i < n && failures == 0; i++) {
        int fds[2], status = 0;
        bool from_fork = rnd () % 8 == 0;
        /* log-uniform between 50 us and 50 ms */
        double us = exp (log (50.0) + (double) (rnd () % 1000000) / 1e6 * log (1000.0));
        uint64_t wseed = rnd ();
        pid_t pid;
        char c;

        if (pipe (fds) != 0) {
            perror ("p11-crash: pipe");
            return 2;
        }
        shared->op = OP_NONE;
        shared->done = 0;
        fflush (stdout);
        pid = fork ();
        if (pid < 0) {
            perror ("p11-crash: fork");
            return 2;
        }
        if (pid == 0) {
            close (fds[0]);
            int rc = module_load ("p11-crash", module, &F) ? mode_work (token, wseed, fds[1]) : 2;
            fflush (stdout); /* a worker's FAIL lines */
            _exit (rc);
        }
        close (fds[1]);
        if (!from_fork) {
            struct pollfd p = { fds[0], POLLIN, 0 };
            /* until logged in (or dead) */
            if (poll (&p, 1, 30000) != 1 || read (fds[0], &c, 1) != 1) {
                kill (pid, SIGKILL);
                waitpid (pid, &status, 0);
                fail ("worker %lu (seed %llu) did not log in: %s", i, (unsigned long long) wseed,
                      WIFEXITED (status) ? "it exited" : "timeout");
                close (fds[0]);
                break;
            }
        }
        sleep_us (us);
        kill (pid, SIGKILL);
        if (waitpid (pid, &status, 0) != pid) {
            perror ("p11-crash: waitpid");
            return 2;
        }
        /* only now: a worker timed from the fork may still tell it logged in
         * (with the read end closed, that write would be its death by SIGPIPE) */
        close (fds[0]);
        ops += shared->done;
        if (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL) {
            killed++;
            early += from_fork;
            at_op[shared->op]++;
            min_us = us < min_us ? us : min_us;
            max_us = us > max_us ? us : max_us;
        } else if (WIFEXITED (status) && WEXITSTATUS (status) == 0) {
            finished++;
        } else {
            fail ("worker %lu (seed %llu) failed: %s %d", i, (unsigned long long) wseed,
                  WIFEXITED (status) ? "exit" : "signal",
                  WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
        }
    }
    printf ("p11-crash: %lu killed (%lu timed from the fork), %lu finished first, %lu calls "
            "completed, delays %.0f us .. %.1f ms, %.1fs\n",
            killed, early, finished, ops, min_us, max_us / 1000, now () - t0);
    for (int op = 0; op < OP_COUNT; op++)
        if (at_op[op] != 0)
            printf ("p11-crash:   %4lu kills in %s\n", at_op[op], op_names[op]);
    printf ("p11-crash: %lu failure(s)\n", failures);
    return failures != 0;
}

/* ==== the checker ==== */

typedef struct {
    CK_BYTE id[ID_LEN];
    CK_BYTE *spki;
    CK_ULONG spki_len;
} key_seen;

static key_seen seen[MAX_OBJECTS];
static size_t n_seen;

/* All objects with one CKA_ID are one key: the same public key info. */
static void
note_spki (CK_OBJECT_HANDLE h, const CK_BYTE *id, CK_BYTE *spki, CK_ULONG len)
{
    for (size_t i = 0; i < n_seen; i++)
        if (memcmp (seen[i].id, id, ID_LEN) == 0) {
            if (seen[i].spki_len != len || memcmp (seen[i].spki, spki, len) != 0)
                fail ("object %lu: its public key info differs from another object with its "
                      "CKA_ID", h);
            free (spki);
            return;
        }
    memcpy (seen[n_seen].id, id, ID_LEN);
    seen[n_seen].spki = spki;
    seen[n_seen++].spki_len = len;
}

static void
check_key_pair_member (CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls, const CK_BYTE *id)
{
    CK_BYTE *spki = NULL, sig[128];
    CK_ULONG spki_len = 0, sig_len = sizeof sig;
    bool ed = id[0] == K_ED;
    CK_RV rv = get_attr (h, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
    const unsigned char *p = spki;
    EVP_PKEY *k = rv == CKR_OK ? d2i_PUBKEY (NULL, &p, (long) spki_len) : NULL;

    if (k == NULL || EVP_PKEY_get_base_id (k) != (ed ? EVP_PKEY_ED25519 : EVP_PKEY_EC)) {
        fail ("object %lu (%s key): no usable CKA_PUBLIC_KEY_INFO (0x%lx)", h,
              ed ? "Ed25519" : "EC", rv);
        free (spki);
        EVP_PKEY_free (k);
        return;
    }
    EVP_PKEY_free (k);
    if (cls == CKO_PRIVATE_KEY) {
        rv = sign (ed ? CKM_EDDSA : CKM_ECDSA_SHA256, h, sig, &sig_len);
        if (rv != CKR_OK)
            fail ("object %lu (%s private key): C_Sign: 0x%lx", h, ed ? "Ed25519" : "EC", rv);
        else if (ed ? !(sig_len == 64 && spki_len == 44
                        && ossl_ed_verify (spki + 12, msg, sizeof msg, sig))
                    : !ossl_ecdsa_verify (spki, spki_len, msg, sizeof msg, sig, sig_len))
            fail ("object %lu (%s private key): OpenSSL rejects its signature", h,
                  ed ? "Ed25519" : "EC");
    }
    note_spki (h, id, spki, spki_len);
}

static void
check_secret (CK_OBJECT_HANDLE h, const CK_BYTE *id)
{
    CK_BYTE mac[64], key[32], want[32];
    CK_ULONG mac_len = sizeof mac;
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_RV rv = sign (CKM_SHA256_HMAC, h, mac, &mac_len);

    if (rv != CKR_OK || mac_len != 32) {
        fail ("object %lu (HMAC secret): C_Sign: 0x%lx, %lu bytes", h, rv, mac_len);
        return;
    }
    if (id[0] == K_HMAC) {
        derive ("crash-hmac", id, key);
        if (!ossl_hmac256 (key, sizeof key, msg, sizeof msg, want) || memcmp (want, mac, 32) != 0)
            fail ("object %lu (imported HMAC secret): the MAC differs from OpenSSL's", h);
        return;
    }
    /* generated: nobody knows the value; the TPM must agree with itself */
    rv = F->C_VerifyInit (sess, &m, h);
    if (rv == CKR_OK)
        rv = F->C_Verify (sess, (CK_BYTE_PTR) msg, sizeof msg, mac, mac_len);
    if (rv != CKR_OK)
        fail ("object %lu (generated secret): C_Verify of its own MAC: 0x%lx", h, rv);
    mac[3] ^= 0x10;
    rv = F->C_VerifyInit (sess, &m, h);
    if (rv == CKR_OK)
        rv = F->C_Verify (sess, (CK_BYTE_PTR) msg, sizeof msg, mac, mac_len);
    if (rv != CKR_SIGNATURE_INVALID)
        fail ("object %lu (generated secret): C_Verify of a damaged MAC: 0x%lx", h, rv);
}

static void
check_object (CK_OBJECT_HANDLE h, unsigned long counts[256])
{
    CK_OBJECT_CLASS cls = 0;
    CK_BBOOL token = CK_FALSE;
    CK_ATTRIBUTE a[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_TOKEN, &token, sizeof token } };
    CK_BYTE id[ID_LEN], *label = NULL, *value = NULL, want[32];
    CK_ULONG label_len = 0, value_len = 0;
    CK_RV rv = F->C_GetAttributeValue (sess, h, a, N_ELEM (a));

    if (rv == CKR_OK)
        rv = get_id (h, cls, id);
    if (rv == CKR_OK)
        rv = get_attr (h, CKA_LABEL, &label, &label_len);
    if (rv != CKR_OK || !token || label_len < 5 || memcmp (label, "crash", 5) != 0) {
        fail ("object %lu: class/token/id/label unreadable or not ours (0x%lx)", h, rv);
        goto out;
    }
    switch (id[0]) {
    case K_DATA:
        if (cls != CKO_DATA || get_attr (h, CKA_VALUE, &value, &value_len) != CKR_OK
            || value_len != 32 || (derive ("crash-data", id, want), memcmp (want, value, 32) != 0))
            fail ("object %lu (data): class 0x%lx or its value is not what was stored", h, cls);
        break;
    case K_HMAC:
    case K_GEN:
        if (cls != CKO_SECRET_KEY)
            fail ("object %lu: class 0x%lx for a secret key", h, cls);
        else
            check_secret (h, id);
        break;
    case K_EC:
    case K_ED:
        if (cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
            fail ("object %lu: class 0x%lx for a key pair member", h, cls);
        else
            check_key_pair_member (h, cls, id);
        break;
    default:
        fail ("object %lu: unknown kind 0x%02x in CKA_ID", h, id[0]);
        goto out;
    }
    counts[id[0] + (cls == CKO_PUBLIC_KEY)]++;
out:
    free (label);
    free (value);
}

static int
mode_check (const char *token)
{
    CK_OBJECT_HANDLE objs[MAX_OBJECTS];
    CK_ULONG n = 0;
    CK_TOKEN_INFO ti;
    unsigned long counts[256] = { 0 };
    double t0 = now ();
    CK_RV rv;

    if (!open_user (token))
        goto done;
    rv = F->C_GetTokenInfo (slot, &ti);
    if (rv != CKR_OK || !(ti.flags & CKF_USER_PIN_INITIALIZED)
        || (ti.flags & (CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW)))
        fail ("C_GetTokenInfo: 0x%lx, flags 0x%lx", rv, rv == CKR_OK ? ti.flags : 0);
    rv = find_all (objs, &n);
    if (rv != CKR_OK) {
        fail ("C_FindObjects: 0x%lx", rv);
        goto done;
    }
    if (n == MAX_OBJECTS)
        fail ("%d objects or more: the worker should keep fewer", MAX_OBJECTS);
    for (CK_ULONG i = 0; i < n; i++)
        check_object (objs[i], counts);
    /* the SO's sealed copy of the token secret is intact too */
    rv = F->C_Logout (sess);
    if (rv == CKR_OK)
        rv = login (CKU_SO, so_pin);
    if (rv == CKR_OK)
        rv = F->C_Logout (sess);
    if (rv != CKR_OK)
        fail ("SO login: 0x%lx", rv);
    rv = F->C_Finalize (NULL);
    if (rv != CKR_OK)
        fail ("C_Finalize: 0x%lx", rv);
    printf ("objects %lu\n", n);
    printf ("p11-crash check: %lu objects (%lu data, %lu imported HMAC, %lu generated HMAC, "
            "%lu+%lu EC private+public, %lu+%lu Ed25519 private+public) used and checked with "
            "OpenSSL in %.1fs\n",
            n, counts[K_DATA], counts[K_HMAC], counts[K_GEN], counts[K_EC], counts[K_EC + 1],
            counts[K_ED], counts[K_ED + 1], now () - t0);
done:
    for (size_t i = 0; i < n_seen; i++)
        free (seen[i].spki);
    printf ("p11-crash check: %lu failure(s)\n", failures);
    return failures != 0;
}

static void
usage (void)
{
    fprintf (stderr, "usage: p11-crash [MODULE] kill N SEED | work SEED | check\n");
}

int
main (int argc, char **argv)
{
    const char *token, *mode;
    int a = 1;

    setvbuf (stdout, NULL, _IOLBF, 0);
    module = getenv ("TT_MODULE");
    if (argc > 1 && strcmp (argv[1], "kill") != 0 && strcmp (argv[1], "work") != 0
        && strcmp (argv[1], "check") != 0)
        module = argv[a++];
    if (module == NULL || argc <= a) {
        usage ();
        return 2;
    }
    mode = argv[a++];
    token = getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "crash";
    pin = getenv ("TT_PIN") ? getenv ("TT_PIN") : "1234";
    so_pin = getenv ("TT_SO_PIN") ? getenv ("TT_SO_PIN") : "12345678";
    if (strcmp (mode, "kill") == 0 && argc == a + 2) {
        unsigned long n = strtoul (argv[a], NULL, 10);
        uint64_t seed = strtoull (argv[a + 1], NULL, 10);
        /* the killer itself never loads the module: each worker starts clean */
        if (n == 0) {
            usage ();
            return 2;
        }
        return mode_kill (token, n, seed);
    }
    if (!module_load ("p11-crash", module, &F))
        return 2;
    if (strcmp (mode, "work") == 0 && argc == a + 1)
        return mode_work (token, strtoull (argv[a], NULL, 10), -1);
    if (strcmp (mode, "check") == 0 && argc == a)
        return mode_check (token);
    usage ();
    return 2;
}
