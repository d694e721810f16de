/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * coredump-secrets: does a process that used the module keep its secrets in
 * memory after C_Finalize? (tests/integration/coredump.sh drives it.)
 *
 *   coredump-secrets run SECRETS   loads $TT_MODULE, logs in to $TT_TOKEN with
 *       the PIN, changes it (C_SetPIN) and logs in with the new one, imports the
 *       HMAC key (C_CreateObject CKO_SECRET_KEY) and the Ed25519 seed
 *       (C_CreateObject CKO_PRIVATE_KEY with CKA_VALUE), signs with both (twice
 *       with Ed25519: the second signature comes from the module's seed cache),
 *       prints the MAC, signature and public key for an independent check;
 *       then the same HMAC key and seed again bound to PCR 7 (used in policy
 *       sessions: PolicyPCR AND PolicyAuthValue, the key's random auth value
 *       in the session's HMAC key) signing the same message (the same MAC and
 *       signature: printed as "same"), logs
 *       out, closes, calls C_Finalize, wipes its own copies of the
 *       secrets, then prints "READY <pid>" and waits for EOF on stdin so that
 *       the caller can take a core dump (gcore) of it.
 *       Positive controls, so that the scan can fail: a marker kept live in
 *       the heap, and another left in freed heap memory without wiping (what
 *       a leaked secret would look like).
 *   coredump-secrets scan CORE SECRETS   searches the dump for both PINs, their
 *       auth values (PBKDF2 with the token's salt, as the module derives them),
 *       the HMAC key, the seed, the Ed25519 expanded key (both halves of
 *       SHA-512(seed), the scalar also clamped) and the controls, and for an
 *       ESYS session value holding an object's auth value (whatever it is:
 *       the keys' auth values are random, see esys_session_values). Exit 0 only
 *       if both controls are found and no secret is, except where tpm2-tss
 *       keeps it (see known_place; TT_COREDUMP_STRICT=1 counts those too).
 *
 * SECRETS: lines name=hex (pin, pin2, hmac, seed, salt, live, freed), read with
 * read(2) so that no stdio buffer keeps a copy. The values are random per run
 * and never appear in a binary.
 */
#include "config.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "include/pkcs11-tpmtrust.h"
#include "tests/module/helpers.h"

#define MAX_SECRET 64

typedef struct secrets {
    CK_BYTE pin[MAX_SECRET], pin2[MAX_SECRET], hmac[MAX_SECRET], seed[MAX_SECRET];
    CK_BYTE salt[MAX_SECRET], live[MAX_SECRET], freed[MAX_SECRET];
    long pin_len, pin2_len, hmac_len, seed_len, salt_len, live_len, freed_len;
} secrets;

static CK_FUNCTION_LIST_PTR F;

/* Reads name=hex lines from path into s; wipes what it read. */
static bool
secrets_read (const char *path, secrets *s)
{
    char buf[2048];
    struct {
        const char *name;
        CK_BYTE *out;
        long *len;
    } fields[] = {
        { "pin", s->pin, &s->pin_len },     { "pin2", s->pin2, &s->pin2_len },
        { "hmac", s->hmac, &s->hmac_len },
        { "seed", s->seed, &s->seed_len },  { "salt", s->salt, &s->salt_len },
        { "live", s->live, &s->live_len },  { "freed", s->freed, &s->freed_len },
    };
    ssize_t n = 0, r;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    bool good = fd >= 0;

    memset (s, 0, sizeof *s);
    while (good && (size_t) n < sizeof buf - 1 && (r = read (fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    if (fd >= 0)
        close (fd);
    buf[good ? n : 0] = '\0';
    for (char *line = strtok (buf, "\n"); good && line != NULL; line = strtok (NULL, "\n")) {
        char *eq = strchr (line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strcmp (line, fields[i].name) == 0)
                *fields[i].len = unhex (eq + 1, fields[i].out, MAX_SECRET);
    }
    explicit_bzero (buf, sizeof buf);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (*fields[i].len <= 0) {
            fprintf (stderr, "coredump-secrets: %s: no valid %s=HEX line\n", path,
                     fields[i].name);
            good = false;
        }
    return good;
}

static void
hex_print (const char *name, const CK_BYTE *p, size_t len)
{
    printf ("%s=", name);
    for (size_t i = 0; i < len; i++)
        printf ("%02x", p[i]);
    printf ("\n");
}

#define CHECK(call)                                                                              \
    do {                                                                                         \
        CK_RV rv_ = (call);                                                                      \
        if (rv_ != CKR_OK) {                                                                     \
            fprintf (stderr, "coredump-secrets: %s = 0x%lx\n", #call, rv_);                     \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)

static int
run (const char *path)
{
    static const CK_BYTE oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    static CK_BYTE msg[] = "tpmtrust core dump test";
    secrets s;
    CK_OBJECT_CLASS sk = CKO_SECRET_KEY, pk = CKO_PRIVATE_KEY;
    CK_KEY_TYPE gen = CKK_GENERIC_SECRET, ed = CKK_EC_EDWARDS;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE hmac_t[] = {
        { CKA_CLASS, &sk, sizeof sk },    { CKA_KEY_TYPE, &gen, sizeof gen },
        { CKA_TOKEN, &yes, sizeof yes },  { CKA_SIGN, &yes, sizeof yes },
        { CKA_VALUE, s.hmac, 0 },
    };
    CK_ATTRIBUTE ed_t[] = {
        { CKA_CLASS, &pk, sizeof pk },    { CKA_KEY_TYPE, &ed, sizeof ed },
        { CKA_TOKEN, &yes, sizeof yes },  { CKA_SIGN, &yes, sizeof yes },
        { CKA_EC_PARAMS, (void *) oid_ed25519, sizeof oid_ed25519 },
        { CKA_VALUE, s.seed, 0 },
    };
    CK_ULONG pcr7 = 1UL << 7;
    CK_ATTRIBUTE hmac_pcr_t[] = {
        { CKA_CLASS, &sk, sizeof sk },    { CKA_KEY_TYPE, &gen, sizeof gen },
        { CKA_TOKEN, &yes, sizeof yes },  { CKA_SIGN, &yes, sizeof yes },
        { CKA_VALUE, s.hmac, 0 },         { CKA_TPMTRUST_PCR_MASK, &pcr7, sizeof pcr7 },
    };
    CK_ATTRIBUTE ed_pcr_t[] = {
        { CKA_CLASS, &pk, sizeof pk },    { CKA_KEY_TYPE, &ed, sizeof ed },
        { CKA_TOKEN, &yes, sizeof yes },  { CKA_SIGN, &yes, sizeof yes },
        { CKA_EC_PARAMS, (void *) oid_ed25519, sizeof oid_ed25519 },
        { CKA_VALUE, s.seed, 0 },         { CKA_TPMTRUST_PCR_MASK, &pcr7, sizeof pcr7 },
    };
    CK_MECHANISM m_hmac = { CKM_SHA256_HMAC, NULL, 0 }, m_ed = { CKM_EDDSA, NULL, 0 };
    CK_C_GetFunctionList get_list;
    CK_SESSION_HANDLE sess;
    CK_OBJECT_HANDLE hk, ek, hpk, epk;
    CK_SLOT_ID slot;
    CK_BYTE mac[64], sig[64], sig2[64], point[64], mac_pcr[64], sig_pcr[64];
    CK_ULONG mac_len = sizeof mac, sig_len = sizeof sig, point_len = sizeof point;
    CK_ULONG mac_pcr_len = sizeof mac_pcr;
    CK_ATTRIBUTE pt = { CKA_EC_POINT, point, sizeof point };
    char *live, *freed, line[16];
    const char *module = getenv ("TT_MODULE");
    void *dl;

    /* gcore attaches to us: allow it under Yama ptrace_scope 1 */
    prctl (PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    if (module == NULL || !secrets_read (path, &s))
        return 2;
    hmac_t[4].ulValueLen = (CK_ULONG) s.hmac_len;
    ed_t[5].ulValueLen = (CK_ULONG) s.seed_len;
    hmac_pcr_t[4].ulValueLen = (CK_ULONG) s.hmac_len;
    ed_pcr_t[5].ulValueLen = (CK_ULONG) s.seed_len;
    dl = dlopen (module, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf (stderr, "coredump-secrets: dlopen %s: %s\n", module, dlerror ());
        return 1;
    }
    *(void **) &get_list = dlsym (dl, "C_GetFunctionList");
    if (get_list == NULL || get_list (&F) != CKR_OK)
        return 1;
    CHECK (F->C_Initialize (NULL));
    if (!find_token_slot (F, getenv ("TT_TOKEN") ? getenv ("TT_TOKEN") : "test", &slot))
        return 1;
    CHECK (F->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sess));
    CHECK (F->C_Login (sess, CKU_USER, s.pin, (CK_ULONG) s.pin_len));
    /* a new PIN (the token secret sealed again under it), a login with it */
    CHECK (F->C_SetPIN (sess, s.pin, (CK_ULONG) s.pin_len, s.pin2, (CK_ULONG) s.pin2_len));
    CHECK (F->C_Logout (sess));
    CHECK (F->C_Login (sess, CKU_USER, s.pin2, (CK_ULONG) s.pin2_len));
    CHECK (F->C_CreateObject (sess, hmac_t, 5, &hk));
    CHECK (F->C_SignInit (sess, &m_hmac, hk));
    CHECK (F->C_Sign (sess, msg, sizeof msg - 1, mac, &mac_len));
    /* the seed last: its unseal is the last secret-bearing TPM response */
    CHECK (F->C_CreateObject (sess, ed_t, 6, &ek));
    CHECK (F->C_SignInit (sess, &m_ed, ek));
    CHECK (F->C_Sign (sess, msg, sizeof msg - 1, sig, &sig_len));
    sig_len = sizeof sig2;
    CHECK (F->C_SignInit (sess, &m_ed, ek)); /* from the cache */
    CHECK (F->C_Sign (sess, msg, sizeof msg - 1, sig2, &sig_len));
    CHECK (F->C_GetAttributeValue (sess, ek, &pt, 1));
    point_len = pt.ulValueLen;
    /* the same key and seed bound to PCR 7: used in policy sessions */
    CHECK (F->C_CreateObject (sess, hmac_pcr_t, 6, &hpk));
    CHECK (F->C_SignInit (sess, &m_hmac, hpk));
    CHECK (F->C_Sign (sess, msg, sizeof msg - 1, mac_pcr, &mac_pcr_len));
    CHECK (F->C_CreateObject (sess, ed_pcr_t, 7, &epk));
    sig_len = sizeof sig_pcr;
    CHECK (F->C_SignInit (sess, &m_ed, epk));
    CHECK (F->C_Sign (sess, msg, sizeof msg - 1, sig_pcr, &sig_len));
    CHECK (F->C_Logout (sess));
    CHECK (F->C_CloseSession (sess));
    CHECK (F->C_Finalize (NULL));

    /* our own copies go: what remains is the module's (and its libraries') */
    explicit_bzero (&s.pin, sizeof s.pin);
    explicit_bzero (&s.pin2, sizeof s.pin2);
    explicit_bzero (&s.hmac, sizeof s.hmac);
    explicit_bzero (&s.seed, sizeof s.seed);
    live = malloc ((size_t) s.live_len);
    freed = malloc ((size_t) s.freed_len);
    if (live == NULL || freed == NULL)
        return 1;
    memcpy (live, s.live, (size_t) s.live_len);
    memcpy (freed, s.freed, (size_t) s.freed_len);
    __asm__ volatile ("" : : "r"(freed), "r"(live) : "memory"); /* keep both copies */
    free (freed); /* not wiped: a leak like the ones we look for */
    explicit_bzero (s.live, sizeof s.live);
    explicit_bzero (s.freed, sizeof s.freed);

    printf ("msg=%s\n", (const char *) msg);
    hex_print ("hmac_sha256", mac, mac_len);
    hex_print ("ed25519_sig", sig, 64);
    printf ("ed25519_sig_again=%s\n", memcmp (sig, sig2, 64) == 0 ? "same" : "DIFFERENT");
    printf ("hmac_pcr=%s\n",
            mac_pcr_len == mac_len && memcmp (mac, mac_pcr, mac_len) == 0 ? "same" : "DIFFERENT");
    printf ("ed25519_pcr=%s\n", memcmp (sig, sig_pcr, 64) == 0 ? "same" : "DIFFERENT");
    hex_print ("ed25519_point", point, point_len);
    printf ("READY %ld\n", (long) getpid ());
    fflush (stdout);
    while (read (0, line, sizeof line) > 0)
        ;
    /* live stays referenced until here */
    return live[0] == 0x7f && live[1] == 0x7f ? 3 : 0;
}

/* Copies that tpm2-tss keeps in its own memory, recognized by what surrounds
 * them (core/tpm.c must deal with them; we may not change it here): a TPM
 * response buffer of ESYS's SAPI context: a TPM2B of 32 bytes whose response
 * starts 16 bytes earlier (tag 0x8001/0x8002), e.g. an Unseal response
 * decrypted in place by ESYS and left in the buffer. (An ESYS session's
 * sessionValue is not excused: see esys_session_values.) */
static const char *
known_place (const CK_BYTE *hay, size_t off)
{
    if (off >= 16 && hay[off - 16] == 0x80 && (hay[off - 15] == 0x01 || hay[off - 15] == 0x02)
        && hay[off - 2] == 0x00 && hay[off - 1] == 0x20)
        return "tpm2-tss SAPI response buffer";
    return NULL;
}

/* A sessionKey is 32 random bytes: at most a few are zero. (Freed malloc
 * chunks hold heap pointers, whose low bytes can read as a UINT16 64 and the
 * pointer after it as a "key" that also appears as a TPM2B: mostly zeros.) */
static bool
random_looking (const CK_BYTE *p, size_t n)
{
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += p[i] == 0;
    return zeros <= n / 8;
}

/* ESYS sessions (live, or freed unwiped) whose sessionValue holds an object's
 * auth value, whatever that value is (a key's is random, so it cannot be
 * looked for by value). tpm2-tss 3.2.1 (esys_types.h IESYS_SESSION,
 * esys_iutil.c iesys_compute_session_value): a session used to authorize an
 * object gets sessionValue = sessionKey || authValue, sizeSessionValue its
 * length (UINT16, host order) just before it; the sessionKey itself
 * (TPM2B_DIGEST: size, then the bytes) lies a few hundred bytes earlier in
 * the same struct. So: a UINT16 32 + n (n: 1..64 bytes of auth), then 32
 * bytes that also appear as a TPM2B of 32 shortly before, then n bytes not
 * all zero, the 32 looking random (random_looking). The module's own
 * sessions (core/tpm/fast.c) keep their key in a secbuf, which is not in the
 * dump. */
static unsigned long
esys_session_values (const CK_BYTE *hay, size_t len)
{
    unsigned long found = 0;

    for (size_t off = 600; off + 2 + 32 + 64 <= len; off++) {
        unsigned size = (unsigned) hay[off] | (unsigned) hay[off + 1] << 8;
        const CK_BYTE *key = hay + off + 2, *auth = key + 32;
        CK_BYTE tpm2b[2 + 32] = { 32, 0 };
        bool zero = true;

        if (size <= 32 || size > 32 + 64 || !random_looking (key, 32))
            continue;
        for (unsigned i = 0; i < size - 32; i++)
            zero = zero && auth[i] == 0;
        if (zero)
            continue;
        memcpy (tpm2b + 2, key, 32);
        if (memmem (hay + off - 600, 600, tpm2b, sizeof tpm2b) == NULL)
            continue;
        if (found < 4)
            printf ("%-28s 0x%zx: sessionKey || %u bytes of auth value\n",
                    "ESYS session value", off, size - 32);
        found++;
    }
    printf ("%-28s %lu place(s)\n", "ESYS session value", found);
    return found;
}

typedef struct hits {
    unsigned long ours, known; /* known: in tpm2-tss buffers (known_place) */
} hits;

/* Every place needle occurs in hay, printed (up to 4) with what it is in.
 * A freed small heap chunk has its first 16 bytes reused by malloc, so a
 * secret of 32 bytes or more is looked for by its first and its last 16 bytes
 * too; each place counts once (by where the whole would start). */
static hits
find_all (const CK_BYTE *hay, size_t hay_len, const CK_BYTE *needle, size_t len,
          const char *name)
{
    size_t starts[64], n = 0, part = len >= 32 ? 16 : len;
    size_t deltas[2] = { 0, len - part };
    hits h = { 0, 0 };

    printf ("%-28s", name);
    for (size_t d = 0; d < (part < len ? 2 : 1); d++) {
        const CK_BYTE *p = hay + deltas[d], *end = hay + hay_len;
        while (p < end && (p = memmem (p, (size_t) (end - p), needle + deltas[d], part)) != NULL) {
            size_t at = (size_t) (p - hay) - deltas[d], i;
            for (i = 0; i < n && starts[i] != at; i++)
                ;
            if (i == n && n < sizeof starts / sizeof starts[0])
                starts[n++] = at;
            p++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *known = known_place (hay, starts[i]);
        if (i < 4)
            printf (" 0x%zx%s%s%s", starts[i], known ? " (" : "", known ? known : "",
                    known ? ")" : "");
        if (known)
            h.known++;
        else
            h.ours++;
    }
    printf ("%s %zu place(s)\n", n > 4 ? " ..." : "", n);
    return h;
}

static CK_RV
pin_auth (const CK_BYTE *pin, long pin_len, const secrets *s, CK_BYTE auth[32])
{
    return PKCS5_PBKDF2_HMAC ((const char *) pin, (int) pin_len, s->salt, (int) s->salt_len,
                              10000, EVP_sha256 (), 32, auth) == 1 ? CKR_OK : CKR_GENERAL_ERROR;
}

static int
scan (const char *core, const char *path)
{
    secrets s;
    CK_BYTE h[64], clamped[32], auth[32], auth2[32];
    struct stat sb;
    const CK_BYTE *map;
    hits live, freed, all = { 0, 0 };
    bool strict = getenv ("TT_COREDUMP_STRICT") && strcmp (getenv ("TT_COREDUMP_STRICT"), "1") == 0;
    int fd;

    if (!secrets_read (path, &s))
        return 2;
    fd = open (core, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat (fd, &sb) != 0 || sb.st_size == 0) {
        fprintf (stderr, "coredump-secrets: cannot read %s\n", core);
        return 2;
    }
    map = mmap (NULL, (size_t) sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close (fd);
    if (map == MAP_FAILED)
        return 2;
    /* what the module derives: the Ed25519 expanded key, the PINs' auth values */
    SHA512 (s.seed, (size_t) s.seed_len, h);
    memcpy (clamped, h, 32);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    if (pin_auth (s.pin, s.pin_len, &s, auth) != CKR_OK
        || pin_auth (s.pin2, s.pin2_len, &s, auth2) != CKR_OK)
        return 2;
    printf ("core %s: %lld bytes\n", core, (long long) sb.st_size);
    {
        struct {
            const CK_BYTE *p;
            size_t len;
            const char *name;
        } look[] = {
            { s.pin, (size_t) s.pin_len, "PIN" },
            { s.pin2, (size_t) s.pin2_len, "new PIN (C_SetPIN)" },
            { auth, 32, "PIN auth (PBKDF2)" },
            { auth2, 32, "new PIN auth (PBKDF2)" },
            { s.hmac, (size_t) s.hmac_len, "HMAC key" },
            { s.seed, (size_t) s.seed_len, "Ed25519 seed" },
            { h, 32, "Ed25519 scalar (hashed)" },
            { clamped, 32, "Ed25519 scalar (clamped)" },
            { h + 32, 32, "Ed25519 nonce prefix" },
        };
        for (size_t i = 0; i < sizeof look / sizeof look[0]; i++) {
            hits x = find_all (map, (size_t) sb.st_size, look[i].p, look[i].len, look[i].name);
            all.ours += x.ours;
            all.known += x.known;
        }
    }
    all.ours += esys_session_values (map, (size_t) sb.st_size);
    live = find_all (map, (size_t) sb.st_size, s.live, (size_t) s.live_len,
                     "control: live marker");
    /* malloc reuses a freed chunk's first 16 bytes: found by its tail */
    freed = find_all (map, (size_t) sb.st_size, s.freed, (size_t) s.freed_len,
                      "control: freed marker");
    munmap ((void *) map, (size_t) sb.st_size);
    if (live.ours + live.known == 0 || freed.ours + freed.known == 0) {
        printf ("FAIL: a control is missing: this scan could not see secrets either\n");
        return 1;
    }
    if (all.known > 0)
        printf ("KNOWN: %lu copies in tpm2-tss's memory, not ours to wipe here (core/tpm.c or "
                "tpm2-tss)%s\n",
                all.known, strict ? "; TT_COREDUMP_STRICT=1 counts them" : "");
    if (strict)
        all.ours += all.known;
    printf ("%s: %lu copies of secrets after C_Finalize outside tpm2-tss's buffers\n",
            all.ours ? "FAIL" : "PASS", all.ours);
    return all.ours ? 1 : 0;
}

int
main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv[1], "run") == 0)
        return run (argv[2]);
    if (argc == 4 && strcmp (argv[1], "scan") == 0)
        return scan (argv[2], argv[3]);
    fprintf (stderr, "usage: coredump-secrets run SECRETS | scan CORE SECRETS\n");
    return 2;
}
