/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test-module: drives the built PKCS#11 module exactly as a consumer does. It
 * dlopen()s the module (argv[1] or $TT_MODULE) and uses only the function
 * table it gets: once through C_GetInterface (the 3.0 table) and once through
 * C_GetFunctionList (the 2.40 table), each run on a token of its own.
 * Signatures are checked independently with the openssl command line tool.
 * The spec's general rules (argument checks, invalid handles, session states,
 * length queries...) are test-conformance's table; this is the scenario of a
 * consumer and what is particular to this module.
 *
 * Needs a TPM (tests/with-swtpm.sh sets up TPMTRUST_TCTI and TPMTRUST_STORE)
 * whose dictionary-attack lockout allows at least 3 failures: the whole
 * program makes 2 wrong login attempts. Prints TAP; exits 1 when a check fails.
 *
 * The module is never dlclose()d (it would hide leaks from ASan).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/ck.h"
#include "pkcs11-tpmtrust.h"
#include "tests/module/helpers.h"
#include "tests/unit/tap.h"

#define N_ELEM(a) (sizeof (a) / sizeof ((a)[0]))

/* Bail out of the current scenario when a check that later ones depend on fails. */
#define REQUIRE(cond, ...)                                                                       \
    do {                                                                                         \
        bool c_ = (cond);                                                                        \
        ok (c_, __VA_ARGS__);                                                                    \
        if (!c_) {                                                                               \
            printf ("# giving up on this run\n");                                                \
            return false;                                                                        \
        }                                                                                        \
    } while (0)

#define REQUIRE_RV(got, want, what)                                                              \
    do {                                                                                         \
        unsigned long g2_ = (unsigned long) (got), w2_ = (unsigned long) (want);                  \
        REQUIRE (g2_ == w2_, "%s: 0x%lx (want 0x%lx)", what, g2_, w2_);                          \
    } while (0)

#define SO_PIN "12345678"
#define USER_PIN "1234"
#define USER_PIN2 "5678"

static CK_FUNCTION_LIST *F;      /* the table of the current run */
static CK_FUNCTION_LIST_3_0 *F3; /* the same table in the 3.0 run, else NULL */
static char tmpdir[4096];
static int n_runs;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_cert = CKO_CERTIFICATE, c_pub = CKO_PUBLIC_KEY,
                       c_priv = CKO_PRIVATE_KEY;
static CK_KEY_TYPE k_ec = CKK_EC;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509;

/* namedCurve OIDs, DER */
static CK_BYTE oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static CK_BYTE oid_k256[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a }; /* secp256k1 */

/* The P-256 base point G, as a DER OCTET STRING around the uncompressed point. */
static CK_BYTE p256_g[] = {
    0x04, 0x41, 0x04, /* */
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
    0xc2, 0x96, /* x */
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
    0x51, 0xf5, /* y */
};

static const CK_BYTE sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22,
    0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
    0x15, 0xad,
};

/* Per-run state. */
typedef struct {
    const char *name; /* "3.0" or "2.40" */
    char label[33];   /* the token label (C_InitToken pads it) */
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE rw, ro;
    CK_OBJECT_HANDLE pub, priv;
    CK_BYTE id[8];
    CK_BYTE spki[256];
    CK_ULONG spki_len;
    CK_BYTE point[67]; /* CKA_EC_POINT of the generated pair */
} run_ctx;

/* ---- small helpers ---- */

static bool
all_zero (const CK_BYTE *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static int
write_file (const char *name, const void *data, size_t len)
{
    char path[4200];
    FILE *f;
    size_t n;

    snprintf (path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen (path, "wb");
    if (f == NULL)
        return -1;
    n = len ? fwrite (data, 1, len, f) : 0;
    if (fclose (f) != 0 || n != len)
        return -1;
    return 0;
}

static int
read_file (const char *name, CK_BYTE *buf, size_t max, size_t *len)
{
    char path[4200];
    FILE *f;

    snprintf (path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen (path, "rb");
    if (f == NULL)
        return -1;
    *len = fread (buf, 1, max, f);
    fclose (f);
    return *len > 0 && *len < max ? 0 : -1;
}

/* Runs a shell command in tmpdir (its stdout goes to our stderr, away from the
 * TAP stream); returns its exit status, or -1. */
static int sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
sh (const char *fmt, ...)
{
    char cmd[8192], full[sizeof tmpdir + sizeof cmd + 32];
    va_list ap;
    int st;

    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    snprintf (full, sizeof full, "cd '%s' && { %s ; } >&2", tmpdir, cmd);
    fflush (stdout);
    st = system (full);
    if (st == -1 || !WIFEXITED (st))
        return -1;
    return WEXITSTATUS (st);
}

/* DER length */
static size_t
der_len (CK_BYTE *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (CK_BYTE) len;
        return 1;
    }
    out[0] = 0x81;
    out[1] = (CK_BYTE) len;
    return 2;
}

/* One unsigned big-endian integer as a DER INTEGER. */
static size_t
der_uint (CK_BYTE *out, const CK_BYTE *v, size_t n)
{
    size_t o = 0;
    while (n > 1 && v[0] == 0)
        v++, n--;
    out[o++] = 0x02;
    o += der_len (out + o, n + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        out[o++] = 0;
    memcpy (out + o, v, n);
    return o + n;
}

/* Raw r||s (2 * field bytes) to a DER ECDSA-Sig-Value. */
static size_t
ecdsa_sig_der (const CK_BYTE *rs, size_t len, CK_BYTE *out)
{
    CK_BYTE body[2 * (3 + 66)];
    size_t n = der_uint (body, rs, len / 2);
    size_t o = 0;

    n += der_uint (body + n, rs + len / 2, len / 2);
    out[o++] = 0x30;
    o += der_len (out + o, n);
    memcpy (out + o, body, n);
    return o + n;
}

/* Reads one DER TLV at p (at most len bytes): sets the header and total sizes. */
static bool
der_tlv (const CK_BYTE *p, size_t len, CK_BYTE *tag, size_t *hdr, size_t *total)
{
    size_t l, h = 2;
    if (len < 2)
        return false;
    *tag = p[0];
    if (p[1] < 0x80) {
        l = p[1];
    } else {
        size_t nb = p[1] & 0x7f;
        if (nb == 0 || nb > 3 || len < 2 + nb)
            return false;
        l = 0;
        for (size_t i = 0; i < nb; i++)
            l = (l << 8) | p[2 + i];
        h += nb;
    }
    if (h + l > len)
        return false;
    *hdr = h;
    *total = h + l;
    return true;
}

/* The serial number, issuer and subject TLVs of a DER X.509 certificate. */
static bool
x509_parts (const CK_BYTE *der, size_t len, const CK_BYTE **serial, size_t *serial_len,
            const CK_BYTE **issuer, size_t *issuer_len, const CK_BYTE **subject,
            size_t *subject_len)
{
    CK_BYTE tag;
    size_t hdr, total;
    const CK_BYTE *p, *end;

    if (!der_tlv (der, len, &tag, &hdr, &total) || tag != 0x30)
        return false;
    p = der + hdr; /* tbsCertificate */
    if (!der_tlv (p, len - hdr, &tag, &hdr, &total) || tag != 0x30)
        return false;
    end = p + total;
    p += hdr;
    for (int i = 0; p < end; i++) {
        if (!der_tlv (p, (size_t) (end - p), &tag, &hdr, &total))
            return false;
        if (i == 0 && tag == 0xa0) { /* [0] version */
            i--;
        } else if (i == 0) {
            *serial = p;
            *serial_len = total;
        } else if (i == 2) {
            *issuer = p;
            *issuer_len = total;
        } else if (i == 4) {
            *subject = p;
            *subject_len = total;
            return true;
        }
        p += total;
    }
    return false;
}

/* ---- OpenSSL as the independent verifier ---- */

/* ECDSA over the given input as is (openssl truncates it like the module does),
 * with the public key given as a DER SubjectPublicKeyInfo; sig is raw r || s. */
/* Writes pub.der, the signed input (as name) and sig.der for openssl. */
static bool
write_verify_files (const CK_BYTE *spki, size_t spki_len, const char *name, const CK_BYTE *in,
                    size_t in_len, const CK_BYTE *sig, size_t sig_len)
{
    CK_BYTE der[160];
    size_t n;

    if (sig_len == 0 || sig_len > 2 * 66)
        return false;
    n = ecdsa_sig_der (sig, sig_len, der);
    return write_file ("pub.der", spki, spki_len) == 0 && write_file (name, in, in_len) == 0
           && write_file ("sig.der", der, n) == 0;
}

/* Raw ECDSA over in (truncated or padded by openssl as by us). */
static bool
openssl_verify_spki_raw (const CK_BYTE *spki, size_t spki_len, const CK_BYTE *in, size_t in_len,
                         const CK_BYTE *sig, size_t sig_len)
{
    return write_verify_files (spki, spki_len, "in.bin", in, in_len, sig, sig_len)
           && sh ("openssl pkeyutl -verify -pubin -keyform DER -inkey pub.der -in in.bin "
                  "-sigfile sig.der")
                  == 0;
}

/* ECDSA with digest md (sha256, sha384...) over a message. */
static bool
openssl_verify_spki_md (const CK_BYTE *spki, size_t spki_len, const char *md, const CK_BYTE *msg,
                        size_t msg_len, const CK_BYTE *sig, size_t sig_len)
{
    return write_verify_files (spki, spki_len, "msg.bin", msg, msg_len, sig, sig_len)
           && sh ("openssl dgst -%s -keyform DER -verify pub.der -signature sig.der msg.bin", md)
                  == 0;
}

/* The same with the run's token key pair. */
static bool
openssl_verify_raw (const run_ctx *c, const CK_BYTE *in, size_t in_len, const CK_BYTE *sig,
                    size_t sig_len)
{
    return openssl_verify_spki_raw (c->spki, c->spki_len, in, in_len, sig, sig_len);
}

static bool
openssl_verify_sha256 (const run_ctx *c, const CK_BYTE *msg, size_t msg_len, const CK_BYTE *sig,
                       size_t sig_len)
{
    return openssl_verify_spki_md (c->spki, c->spki_len, "sha256", msg, msg_len, sig, sig_len);
}

/* ---- module helpers ---- */

static CK_RV
get_attr (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, void *buf,
          CK_ULONG *len)
{
    CK_ATTRIBUTE a = { type, buf, *len };
    CK_RV rv = F->C_GetAttributeValue (s, o, &a, 1);
    *len = a.ulValueLen;
    return rv;
}

/* A CK_BBOOL attribute; 0xff when it cannot be read. */
static CK_BBOOL
get_bool (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = 0xff;
    CK_ULONG len = sizeof b;
    if (get_attr (s, o, type, &b, &len) != CKR_OK || len != sizeof b)
        return 0xff;
    return b;
}

/* Finds up to max objects; returns how many, or -1 on an error. */
static long
find (CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ULONG got = 0;
    CK_RV rv = F->C_FindObjectsInit (s, tmpl, n);
    if (rv != CKR_OK) {
        printf ("# C_FindObjectsInit: 0x%lx\n", rv);
        return -1;
    }
    rv = F->C_FindObjects (s, out, max, &got);
    if (F->C_FindObjectsFinal (s) != CKR_OK || rv != CKR_OK) {
        printf ("# C_FindObjects: 0x%lx\n", rv);
        return -1;
    }
    return (long) got;
}

static CK_FLAGS
token_flags (CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    if (F->C_GetTokenInfo (slot, &ti) != CKR_OK)
        return 0;
    return ti.flags;
}

static CK_STATE
session_state (CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO si;
    if (F->C_GetSessionInfo (s, &si) != CKR_OK)
        return (CK_STATE) -1;
    return si.state;
}

static CK_RV
login (CK_SESSION_HANDLE s, CK_USER_TYPE user, const char *pin)
{
    return F->C_Login (s, user, (CK_UTF8CHAR_PTR) pin, (CK_ULONG) strlen (pin));
}

/* Signs in with mech over data; sig must hold 64 bytes. */
static CK_RV
sign (CK_SESSION_HANDLE s, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key, const CK_BYTE *data,
      CK_ULONG len, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_RV rv = F->C_SignInit (s, &m, key);
    if (rv == CKR_OK)
        rv = F->C_Sign (s, (CK_BYTE_PTR) data, len, sig, sig_len);
    return rv;
}

static CK_RV
verify (CK_SESSION_HANDLE s, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key, const CK_BYTE *data,
        CK_ULONG len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_RV rv = F->C_VerifyInit (s, &m, key);
    if (rv == CKR_OK)
        rv = F->C_Verify (s, (CK_BYTE_PTR) data, len, (CK_BYTE_PTR) sig, sig_len);
    return rv;
}

/* ---- the scenario ---- */

/* C_Initialize's argument rules and C_GetInfo's format are test-conformance's
 * (INIT-*, INFO-1); here only what is ours. */
static bool
test_initialize (run_ctx *c)
{
    CK_INFO info;

    printf ("# %s: C_Initialize\n", c->name);
    REQUIRE_RV (F->C_Initialize (NULL), CKR_OK, "C_Initialize (NULL)");
    REQUIRE_RV (F->C_GetInfo (&info), CKR_OK, "C_GetInfo");
    ok (memcmp (info.manufacturerID, TPMTRUST_MANUFACTURER, strlen (TPMTRUST_MANUFACTURER)) == 0,
        "C_GetInfo: manufacturerID '%.32s'", (const char *) info.manufacturerID);
    return true;
}

/* The one slot without an initialized token; 0 (and a failed check) if not exactly one. */
static bool
find_empty_slot (CK_SLOT_ID *list, CK_ULONG n, CK_SLOT_ID *empty)
{
    int found = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        CK_RV rv = F->C_GetTokenInfo (list[i], &ti);
        if (rv != CKR_OK) {
            printf ("# C_GetTokenInfo (slot %lu): 0x%lx\n", list[i], rv);
            return false;
        }
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            found++;
            *empty = list[i];
        }
    }
    return found == 1;
}

static bool
test_slots (run_ctx *c)
{
    CK_SLOT_ID list[64], list2[64], empty = 0, empty2 = 0;
    CK_ULONG n = 0, n2 = 0, nm = 0;
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_UTF8CHAR label[32];
    CK_MECHANISM_TYPE mechs[64];
    CK_MECHANISM_INFO mi;
    CK_SESSION_HANDLE s;
    bool have_ecdsa = false, have_gen = false;

    printf ("# %s: slots and tokens\n", c->name);
    /* the list conventions are test-conformance's (SLOT-1) */
    n = N_ELEM (list);
    REQUIRE_RV (F->C_GetSlotList (CK_FALSE, list, &n), CKR_OK, "C_GetSlotList");
    REQUIRE (n >= 1 && n < N_ELEM (list), "C_GetSlotList: %lu slots", n);
    n2 = N_ELEM (list2);
    is_rv (F->C_GetSlotList (CK_TRUE, list2, &n2), CKR_OK, "C_GetSlotList (tokenPresent)");
    ok (n2 == n, "C_GetSlotList (tokenPresent): every slot has a token (%lu of %lu)", n2, n);
    REQUIRE (find_empty_slot (list, n, &empty), "exactly one slot has an uninitialized token");
    c->slot = empty;

    is_rv (F->C_GetSlotInfo (c->slot, &si), CKR_OK, "C_GetSlotInfo");
    ok (si.flags & CKF_TOKEN_PRESENT, "C_GetSlotInfo: token present");

    is_rv (F->C_GetTokenInfo (c->slot, &ti), CKR_OK, "C_GetTokenInfo, empty slot");
    ok (!(ti.flags & CKF_TOKEN_INITIALIZED) && !(ti.flags & CKF_USER_PIN_INITIALIZED),
        "empty slot: token not initialized (flags 0x%lx)", ti.flags);

    nm = N_ELEM (mechs);
    is_rv (F->C_GetMechanismList (c->slot, mechs, &nm), CKR_OK, "C_GetMechanismList");
    for (CK_ULONG i = 0; i < nm && i < N_ELEM (mechs); i++) {
        have_ecdsa |= mechs[i] == CKM_ECDSA;
        have_gen |= mechs[i] == CKM_EC_KEY_PAIR_GEN;
    }
    ok (have_ecdsa && have_gen, "mechanisms include CKM_ECDSA and CKM_EC_KEY_PAIR_GEN");
    is_rv (F->C_GetMechanismInfo (c->slot, CKM_ECDSA, &mi), CKR_OK, "C_GetMechanismInfo ECDSA");
    ok ((mi.flags & CKF_SIGN) && (mi.flags & CKF_VERIFY) && mi.ulMinKeySize <= 256
            && mi.ulMaxKeySize >= 256,
        "CKM_ECDSA: sign, verify, 256 bits (flags 0x%lx, %lu-%lu)", mi.flags, mi.ulMinKeySize,
        mi.ulMaxKeySize);

    is_rv (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
           CKR_TOKEN_NOT_RECOGNIZED, "C_OpenSession on the uninitialized token");
    pad32 (label, c->label);
    is_rv (F->C_InitToken (c->slot, (CK_UTF8CHAR_PTR) "123", 3, label), CKR_PIN_LEN_RANGE,
           "C_InitToken, 3-byte SO PIN");
    REQUIRE_RV (F->C_InitToken (c->slot, (CK_UTF8CHAR_PTR) SO_PIN, strlen (SO_PIN), label), CKR_OK,
                "C_InitToken");

    REQUIRE_RV (F->C_GetTokenInfo (c->slot, &ti), CKR_OK, "C_GetTokenInfo");
    ok (memcmp (ti.label, label, 32) == 0, "token label '%.32s' (blank padded)",
        (const char *) ti.label);
    ok (ti.serialNumber[0] != ' ' && ti.serialNumber[0] != 0
            && memchr (ti.serialNumber, 0, sizeof ti.serialNumber) == NULL,
        "token serial '%.16s' not empty", (const char *) ti.serialNumber);
    ok ((ti.flags & (CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RNG))
            == (CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RNG),
        "token flags 0x%lx: TOKEN_INITIALIZED, LOGIN_REQUIRED, RNG", ti.flags);
    ok (!(ti.flags & CKF_USER_PIN_INITIALIZED), "token flags: not USER_PIN_INITIALIZED");
    ok (ti.ulMinPinLen == 4 && ti.ulMaxPinLen >= 8, "PIN length %lu-%lu", ti.ulMinPinLen,
        ti.ulMaxPinLen);
    ok (ti.ulSessionCount == 0 && ti.ulRwSessionCount == 0, "no sessions (%lu, %lu)",
        ti.ulSessionCount, ti.ulRwSessionCount);

    n2 = N_ELEM (list2);
    REQUIRE_RV (F->C_GetSlotList (CK_FALSE, list2, &n2), CKR_OK, "C_GetSlotList after C_InitToken");
    ok (n2 == n + 1, "a slot appeared: %lu slots (were %lu)", n2, n);
    ok (find_empty_slot (list2, n2, &empty2) && empty2 != c->slot,
        "exactly one slot is empty again, and it is a new one (%lu, ours %lu)", empty2, c->slot);
    return true;
}

static bool
test_sessions (run_ctx *c)
{
    CK_SESSION_HANDLE ro2;
    CK_SESSION_INFO si;
    CK_FLAGS fl;
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE pub_t[] = { { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 } };
    CK_OBJECT_HANDLE pub, priv;

    printf ("# %s: sessions and login\n", c->name);
    /* session and login rules as such are test-conformance's (SESS-*) */
    REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION, NULL, NULL, &c->ro), CKR_OK,
                "C_OpenSession R/O");
    REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &c->rw),
                CKR_OK, "C_OpenSession R/W");
    ok (c->ro != c->rw && c->ro != CK_INVALID_HANDLE && c->rw != CK_INVALID_HANDLE,
        "two distinct valid session handles");
    is_rv (F->C_GetSessionInfo (c->ro, &si), CKR_OK, "C_GetSessionInfo R/O");
    ok (si.slotID == c->slot && si.state == CKS_RO_PUBLIC_SESSION
            && si.flags == CKF_SERIAL_SESSION,
        "R/O session: slot %lu state %lu flags 0x%lx", si.slotID, si.state, si.flags);
    ok (session_state (c->rw) == CKS_RW_PUBLIC_SESSION, "R/W session: CKS_RW_PUBLIC_SESSION");
    {
        CK_UTF8CHAR label[32];
        pad32 (label, c->label);
        is_rv (F->C_InitToken (c->slot, (CK_UTF8CHAR_PTR) SO_PIN, strlen (SO_PIN), label),
               CKR_SESSION_EXISTS, "C_InitToken with sessions open");
    }

    is_rv (login (c->rw, CKU_USER, USER_PIN), CKR_USER_PIN_NOT_INITIALIZED,
           "C_Login USER before C_InitPIN");
    is_rv (F->C_CloseSession (c->ro), CKR_OK, "C_CloseSession R/O");
    is_rv (F->C_GetSessionInfo (c->ro, &si), CKR_SESSION_HANDLE_INVALID,
           "C_GetSessionInfo on the closed session");
    REQUIRE_RV (login (c->rw, CKU_SO, SO_PIN), CKR_OK, "C_Login SO");
    ok (session_state (c->rw) == CKS_RW_SO_FUNCTIONS, "state CKS_RW_SO_FUNCTIONS");
    is_rv (F->C_InitPIN (c->rw, (CK_UTF8CHAR_PTR) "12", 2), CKR_PIN_LEN_RANGE,
           "C_InitPIN, 2-byte PIN");
    REQUIRE_RV (F->C_InitPIN (c->rw, (CK_UTF8CHAR_PTR) USER_PIN, strlen (USER_PIN)), CKR_OK,
                "C_InitPIN");
    fl = token_flags (c->slot);
    ok (fl & CKF_USER_PIN_INITIALIZED, "token flags 0x%lx: USER_PIN_INITIALIZED", fl);
    REQUIRE_RV (F->C_Logout (c->rw), CKR_OK, "C_Logout SO");
    ok (session_state (c->rw) == CKS_RW_PUBLIC_SESSION, "state CKS_RW_PUBLIC_SESSION after logout");

    is_rv (F->C_GenerateKeyPair (c->rw, &gen, pub_t, N_ELEM (pub_t), NULL, 0, &pub, &priv),
           CKR_USER_NOT_LOGGED_IN, "C_GenerateKeyPair, not logged in");
    is_rv (F->C_InitPIN (c->rw, (CK_UTF8CHAR_PTR) USER_PIN, strlen (USER_PIN)),
           CKR_USER_NOT_LOGGED_IN, "C_InitPIN, not logged in");

    is_rv (login (c->rw, CKU_USER, "9999"), CKR_PIN_INCORRECT, "C_Login USER, wrong PIN");
    fl = token_flags (c->slot);
    ok ((fl & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY))
            && !(fl & CKF_USER_PIN_LOCKED),
        "token flags 0x%lx: a failed login is counted, not locked", fl);
    ok (session_state (c->rw) == CKS_RW_PUBLIC_SESSION, "still public after the wrong PIN");
    REQUIRE_RV (login (c->rw, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    is_rv (F->C_GetSessionInfo (c->rw, &si), CKR_OK, "C_GetSessionInfo R/W");
    ok (si.state == CKS_RW_USER_FUNCTIONS && si.flags == (CKF_SERIAL_SESSION | CKF_RW_SESSION),
        "R/W session: state %lu (want CKS_RW_USER_FUNCTIONS) flags 0x%lx", si.state, si.flags);
    REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION, NULL, NULL, &c->ro), CKR_OK,
                "C_OpenSession R/O while logged in");
    ok (session_state (c->ro) == CKS_RO_USER_FUNCTIONS, "R/O session: CKS_RO_USER_FUNCTIONS");
    /* a third one, closed at once: the login survives */
    is_rv (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION, NULL, NULL, &ro2), CKR_OK,
           "C_OpenSession another R/O");
    is_rv (F->C_CloseSession (ro2), CKR_OK, "C_CloseSession it");
    ok (session_state (c->rw) == CKS_RW_USER_FUNCTIONS, "other sessions still logged in");
    return true;
}

/* fork(): the child sees an uninitialized module; the parent keeps working. */
static bool
test_fork (run_ctx *c)
{
    pid_t pid;
    int st = 0;
    CK_BYTE rnd[16];

    printf ("# %s: fork\n", c->name);
    fflush (stdout);
    fflush (stderr);
    pid = fork ();
    if (pid == 0) {
        CK_ULONG n = 0;
        CK_SESSION_INFO si;
        int code = 0;
        if (F->C_GetSlotList (CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 1;
        if (F->C_GetSessionInfo (c->rw, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 2;
        if (F->C_Finalize (NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
            code |= 4;
        /* exit(), not _exit(): whatever the module does at exit runs too. */
        exit (code);
    }
    REQUIRE (pid > 0, "fork: %s", pid < 0 ? strerror (errno) : "ok");
    while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
        ;
    ok (WIFEXITED (st) && (WEXITSTATUS (st) & 1) == 0,
        "child: C_GetSlotList gives CKR_CRYPTOKI_NOT_INITIALIZED (status 0x%x)", st);
    ok (WIFEXITED (st) && (WEXITSTATUS (st) & 2) == 0,
        "child: C_GetSessionInfo gives CKR_CRYPTOKI_NOT_INITIALIZED (status 0x%x)", st);
    ok (WIFEXITED (st) && (WEXITSTATUS (st) & 4) == 0,
        "child: C_Finalize gives CKR_CRYPTOKI_NOT_INITIALIZED (status 0x%x)", st);
    ok (session_state (c->rw) == CKS_RW_USER_FUNCTIONS, "parent: session still logged in");
    memset (rnd, 0, sizeof rnd);
    is_rv (F->C_GenerateRandom (c->rw, rnd, sizeof rnd), CKR_OK,
           "parent: C_GenerateRandom (TPM) after the child exited");
    ok (!all_zero (rnd, sizeof rnd), "parent: random bytes");
    return true;
}

static bool
make_cert (CK_BYTE *der, size_t max, size_t *len)
{
    if (sh ("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=t "
            "-days 1 -keyout /dev/null -outform DER -out cert.der 2>&1")
        != 0)
        return false;
    return read_file ("cert.der", der, max, len) == 0;
}

static bool
test_objects (run_ctx *c)
{
    char label[64], label2[64], buf[256];
    CK_BYTE value[] = "some data value";
    CK_OBJECT_HANDLE obj, sobj, copy, fixed, found[8], cert, gpub, h;
    CK_ULONG len, size = 0, bad_len = 4, cls_out = 0;
    CK_BYTE big_token[4] = { 1, 0, 0, 0 };
    CK_ULONG cls_wrong = CKO_DATA;
    CK_BYTE certder[4096], garbage[64];
    size_t certlen = 0;
    long nf;
    CK_RV rv;

    printf ("# %s: objects\n", c->name);
    snprintf (label, sizeof label, "data %s", c->name);
    snprintf (label2, sizeof label2, "renamed %s", c->name);
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_data, sizeof c_data },
            { CKA_TOKEN, &yes, sizeof yes },
            { CKA_LABEL, label, (CK_ULONG) strlen (label) },
            { CKA_VALUE, value, sizeof value },
        };
        REQUIRE_RV (F->C_CreateObject (c->rw, t, N_ELEM (t), &obj), CKR_OK,
                    "C_CreateObject data token object (R/W)");
        t[1].pValue = &no;
        is_rv (F->C_CreateObject (c->ro, t, N_ELEM (t), &sobj), CKR_OK,
               "C_CreateObject session object in a R/O session");
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), NULL), CKR_ARGUMENTS_BAD,
               "C_CreateObject, NULL phObject");
        is_rv (F->C_CreateObject (c->rw, t + 1, N_ELEM (t) - 1, &h), CKR_TEMPLATE_INCOMPLETE,
               "C_CreateObject without CKA_CLASS");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls_wrong, 4 }, { CKA_LABEL, label, 4 } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject, CKA_CLASS of 4 bytes");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data },
                             { CKA_TOKEN, big_token, bad_len } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject, CKA_TOKEN of 4 bytes");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data }, { 0x7fff0000UL, value, 4 } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_TYPE_INVALID,
               "C_CreateObject, unknown attribute type 0x7fff0000");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data }, { CKA_MODULUS, value, 8 } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_TEMPLATE_INCONSISTENT,
               "C_CreateObject, CKA_MODULUS on a data object");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data },
                             { CKA_TOKEN, &yes, sizeof yes },
                             { CKA_TOKEN, &no, sizeof no } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_TEMPLATE_INCONSISTENT,
               "C_CreateObject, CKA_TOKEN TRUE and FALSE");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data }, { CKA_LABEL, NULL, 5 } };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ARGUMENTS_BAD,
               "C_CreateObject, NULL pValue with a length");
    }
    memset (garbage, 0x11, sizeof garbage);
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_priv, sizeof c_priv },
                             { CKA_KEY_TYPE, &k_ec, sizeof k_ec },
                             { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
                             { CKA_VALUE, garbage, 32 } };
        rv = F->C_CreateObject (c->rw, t, N_ELEM (t), &h);
        ok (rv != CKR_OK, "C_CreateObject of a private key is refused (0x%lx)", rv);
    }

    /* C_GetAttributeValue */
    len = 0;
    is_rv (get_attr (c->rw, obj, CKA_VALUE, NULL, &len), CKR_OK, "CKA_VALUE length query");
    ok (len == sizeof value, "CKA_VALUE length %lu (want %zu)", len, sizeof value);
    len = 3;
    is_rv (get_attr (c->rw, obj, CKA_VALUE, buf, &len), CKR_BUFFER_TOO_SMALL,
           "CKA_VALUE, 3-byte buffer");
    ok (len == CK_UNAVAILABLE_INFORMATION, "too small: ulValueLen CK_UNAVAILABLE_INFORMATION");
    len = sizeof buf;
    is_rv (get_attr (c->rw, obj, CKA_VALUE, buf, &len), CKR_OK, "CKA_VALUE");
    ok (len == sizeof value && memcmp (buf, value, len) == 0, "CKA_VALUE as created");
    {
        CK_BYTE lab[64], tok = 0xff, priv = 0xff;
        CK_BYTE modulus[64];
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls_out, sizeof cls_out },
            { CKA_MODULUS, modulus, sizeof modulus },
            { CKA_LABEL, lab, sizeof lab },
            { CKA_TOKEN, &tok, sizeof tok },
            { CKA_PRIVATE, &priv, sizeof priv },
        };
        is_rv (F->C_GetAttributeValue (c->rw, obj, t, N_ELEM (t)), CKR_ATTRIBUTE_TYPE_INVALID,
               "C_GetAttributeValue with CKA_MODULUS on a data object");
        ok (t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION,
            "the invalid one: CK_UNAVAILABLE_INFORMATION");
        ok (t[0].ulValueLen == sizeof cls_out && cls_out == CKO_DATA, "CKA_CLASS still filled");
        ok (t[2].ulValueLen == strlen (label) && memcmp (lab, label, strlen (label)) == 0,
            "CKA_LABEL still filled");
        ok (t[3].ulValueLen == 1 && tok == CK_TRUE, "CKA_TOKEN still filled (TRUE)");
        ok (t[4].ulValueLen == 1 && priv == CK_FALSE, "CKA_PRIVATE default FALSE for data");
    }
    ok (get_bool (c->rw, obj, CKA_MODIFIABLE) == CK_TRUE, "CKA_MODIFIABLE default TRUE");

    /* C_SetAttributeValue */
    {
        CK_ATTRIBUTE t[] = { { CKA_LABEL, label2, (CK_ULONG) strlen (label2) } };
        is_rv (F->C_SetAttributeValue (c->ro, obj, t, 1), CKR_SESSION_READ_ONLY,
               "C_SetAttributeValue of a token object in a R/O session");
        is_rv (F->C_SetAttributeValue (c->rw, obj, t, 1), CKR_OK, "C_SetAttributeValue label");
        len = sizeof buf;
        is_rv (get_attr (c->rw, obj, CKA_LABEL, buf, &len), CKR_OK, "read the new label");
        ok (len == strlen (label2) && memcmp (buf, label2, len) == 0, "label is '%s'", label2);
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data },
                             { CKA_MODIFIABLE, &no, sizeof no },
                             { CKA_LABEL, "fixed", 5 } };
        CK_ATTRIBUTE s[] = { { CKA_LABEL, "changed", 7 } };
        REQUIRE_RV (F->C_CreateObject (c->rw, t, N_ELEM (t), &fixed), CKR_OK,
                    "C_CreateObject with CKA_MODIFIABLE FALSE");
        is_rv (F->C_SetAttributeValue (c->rw, fixed, s, 1), CKR_ACTION_PROHIBITED,
               "C_SetAttributeValue on a CKA_MODIFIABLE FALSE object");
        is_rv (F->C_DestroyObject (c->rw, fixed), CKR_OK, "C_DestroyObject of it");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data },
                             { CKA_COPYABLE, &no, sizeof no },
                             { CKA_DESTROYABLE, &no, sizeof no } };
        CK_ATTRIBUTE s1[] = { { CKA_COPYABLE, &yes, sizeof yes } };
        CK_ATTRIBUTE s2[] = { { CKA_CLASS, &c_cert, sizeof c_cert } };
        REQUIRE_RV (F->C_CreateObject (c->ro, t, N_ELEM (t), &fixed), CKR_OK,
                    "C_CreateObject session object, CKA_COPYABLE and CKA_DESTROYABLE FALSE");
        is_rv (F->C_CopyObject (c->ro, fixed, NULL, 0, &h), CKR_ACTION_PROHIBITED,
               "C_CopyObject of it");
        is_rv (F->C_DestroyObject (c->ro, fixed), CKR_ACTION_PROHIBITED, "C_DestroyObject of it");
        is_rv (F->C_SetAttributeValue (c->ro, fixed, s1, 1), CKR_ATTRIBUTE_READ_ONLY,
               "set its CKA_COPYABLE back to TRUE");
        is_rv (F->C_SetAttributeValue (c->ro, fixed, s2, 1), CKR_ATTRIBUTE_READ_ONLY,
               "set its CKA_CLASS");
        /* it goes away with the R/O session */
    }

    /* C_CopyObject, C_GetObjectSize, C_DestroyObject */
    {
        CK_ATTRIBUTE t[] = { { CKA_LABEL, "copy", 4 } };
        REQUIRE_RV (F->C_CopyObject (c->rw, obj, t, 1, &copy), CKR_OK, "C_CopyObject");
        ok (copy != obj, "the copy has its own handle");
        len = sizeof buf;
        is_rv (get_attr (c->rw, copy, CKA_LABEL, buf, &len), CKR_OK, "copy: CKA_LABEL");
        ok (len == 4 && memcmp (buf, "copy", 4) == 0, "copy: the new label");
        len = sizeof buf;
        is_rv (get_attr (c->rw, copy, CKA_VALUE, buf, &len), CKR_OK, "copy: CKA_VALUE");
        ok (len == sizeof value && memcmp (buf, value, len) == 0, "copy: same value");
        ok (get_bool (c->rw, copy, CKA_TOKEN) == CK_TRUE, "copy: a token object too");
    }
    is_rv (F->C_GetObjectSize (c->rw, obj, &size), CKR_OK, "C_GetObjectSize");
    ok (size >= sizeof value && size != CK_UNAVAILABLE_INFORMATION, "object size %lu", size);
    is_rv (F->C_DestroyObject (c->ro, copy), CKR_SESSION_READ_ONLY,
           "C_DestroyObject of a token object in a R/O session");
    is_rv (F->C_DestroyObject (c->rw, copy), CKR_OK, "C_DestroyObject of the copy");
    len = 0;
    is_rv (get_attr (c->rw, copy, CKA_LABEL, NULL, &len), CKR_OBJECT_HANDLE_INVALID,
           "the destroyed copy is gone");
    is_rv (F->C_DestroyObject (c->rw, copy), CKR_OBJECT_HANDLE_INVALID,
           "C_DestroyObject again");

    /* C_FindObjects */
    {
        CK_ATTRIBUTE t[] = { { CKA_LABEL, label2, (CK_ULONG) strlen (label2) } };
        CK_ULONG got = 0;
        REQUIRE_RV (F->C_FindObjectsInit (c->rw, t, 1), CKR_OK, "C_FindObjectsInit by label");
        is_rv (F->C_FindObjects (c->rw, found, N_ELEM (found), &got), CKR_OK, "C_FindObjects");
        ok (got == 1 && found[0] == obj, "found the one object by its label (%lu)", got);
        is_rv (F->C_FindObjects (c->rw, found, N_ELEM (found), &got), CKR_OK,
               "C_FindObjects again");
        ok (got == 0, "nothing more (%lu)", got);
        is_rv (F->C_FindObjectsFinal (c->rw), CKR_OK, "C_FindObjectsFinal");
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_LABEL, label, (CK_ULONG) strlen (label) } };
        nf = find (c->ro, t, 1, found, N_ELEM (found));
        ok (nf == 1 && found[0] == sobj, "old label: only the R/O session object (%ld)", nf);
        t[0].pValue = "no such label";
        t[0].ulValueLen = 13;
        nf = find (c->rw, t, 1, found, N_ELEM (found));
        ok (nf == 0, "unknown label: nothing found (%ld)", nf);
    }
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data } };
        nf = find (c->rw, t, 1, found, N_ELEM (found));
        /* ours: the token object and 2 session objects; not those of other tokens */
        ok (nf == 3, "data objects: 3 found (%ld)", nf);
    }

    /* X.509 certificate */
    REQUIRE (make_cert (certder, sizeof certder, &certlen),
             "openssl made a certificate (%zu bytes)", certlen);
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_cert, sizeof c_cert },
            { CKA_CERTIFICATE_TYPE, &x509, sizeof x509 },
            { CKA_VALUE, certder, (CK_ULONG) certlen },
            { CKA_TOKEN, &yes, sizeof yes },
        };
        const CK_BYTE *serial = NULL, *issuer = NULL, *subject = NULL;
        size_t serial_len = 0, issuer_len = 0, subject_len = 0;
        CK_BYTE got[512];

        REQUIRE (x509_parts (certder, certlen, &serial, &serial_len, &issuer, &issuer_len,
                             &subject, &subject_len),
                 "the certificate parses");
        REQUIRE_RV (F->C_CreateObject (c->rw, t, N_ELEM (t), &cert), CKR_OK,
                    "C_CreateObject X.509 certificate");
        len = sizeof got;
        is_rv (get_attr (c->rw, cert, CKA_SUBJECT, got, &len), CKR_OK, "certificate CKA_SUBJECT");
        ok (len == subject_len && memcmp (got, subject, len) == 0,
            "CKA_SUBJECT derived from the certificate (%lu bytes)", len);
        len = sizeof got;
        is_rv (get_attr (c->rw, cert, CKA_ISSUER, got, &len), CKR_OK, "certificate CKA_ISSUER");
        ok (len == issuer_len && memcmp (got, issuer, len) == 0, "CKA_ISSUER derived");
        len = sizeof got;
        is_rv (get_attr (c->rw, cert, CKA_SERIAL_NUMBER, got, &len), CKR_OK,
               "certificate CKA_SERIAL_NUMBER");
        ok (len == serial_len && memcmp (got, serial, len) == 0, "CKA_SERIAL_NUMBER derived");
        ok (get_bool (c->rw, cert, CKA_PRIVATE) == CK_FALSE, "certificate: CKA_PRIVATE FALSE");
        ok (get_bool (c->rw, cert, CKA_TRUSTED) == CK_FALSE, "certificate: CKA_TRUSTED FALSE");

        memset (garbage, 0x30, sizeof garbage);
        t[2].pValue = garbage;
        t[2].ulValueLen = sizeof garbage;
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject certificate with a garbage CKA_VALUE");
        t[2].pValue = certder;
        t[2].ulValueLen = (CK_ULONG) certlen - 1;
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject certificate, truncated CKA_VALUE");
        {
            CK_ATTRIBUTE t2[] = { { CKA_CLASS, &c_cert, sizeof c_cert },
                                  { CKA_CERTIFICATE_TYPE, &x509, sizeof x509 } };
            is_rv (F->C_CreateObject (c->rw, t2, N_ELEM (t2), &h), CKR_TEMPLATE_INCOMPLETE,
                   "C_CreateObject certificate without CKA_VALUE");
        }
    }

    /* EC public key from a point */
    {
        CK_BYTE bad[sizeof p256_g], got[128];
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_pub, sizeof c_pub },
            { CKA_KEY_TYPE, &k_ec, sizeof k_ec },
            { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
            { CKA_EC_POINT, p256_g, sizeof p256_g },
            { CKA_TOKEN, &no, sizeof no },
            { CKA_LOCAL, &no, sizeof no },
        };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_READ_ONLY,
               "C_CreateObject with CKA_LOCAL");
        REQUIRE_RV (F->C_CreateObject (c->rw, t, N_ELEM (t) - 1, &gpub), CKR_OK,
                    "C_CreateObject EC public key (P-256 G)");
        len = sizeof got;
        is_rv (get_attr (c->rw, gpub, CKA_EC_POINT, got, &len), CKR_OK, "its CKA_EC_POINT");
        ok (len == sizeof p256_g && memcmp (got, p256_g, len) == 0, "CKA_EC_POINT as given");
        ok (get_bool (c->rw, gpub, CKA_LOCAL) == CK_FALSE, "CKA_LOCAL FALSE");
        memcpy (bad, p256_g, sizeof bad);
        bad[sizeof bad - 1] ^= 0x01;
        t[3].pValue = bad;
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t) - 1, &h), CKR_ATTRIBUTE_VALUE_INVALID,
               "C_CreateObject EC public key, point not on the curve");
        t[3].pValue = p256_g;
        t[2].pValue = oid_k256;
        t[2].ulValueLen = sizeof oid_k256;
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t) - 1, &h), CKR_CURVE_NOT_SUPPORTED,
               "C_CreateObject EC public key on secp256k1");
        is_rv (F->C_DestroyObject (c->rw, gpub), CKR_OK, "C_DestroyObject of it");
        {
            CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
            CK_ATTRIBUTE t2[] = {
                { CKA_CLASS, &c_pub, sizeof c_pub },
                { CKA_KEY_TYPE, &k_ec, sizeof k_ec },
                { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
                { CKA_EC_POINT, p256_g, sizeof p256_g },
                { CKA_VERIFY, &no, sizeof no },
            };
            REQUIRE_RV (F->C_CreateObject (c->ro, t2, N_ELEM (t2), &gpub), CKR_OK,
                        "C_CreateObject EC public key, CKA_VERIFY FALSE");
            is_rv (F->C_VerifyInit (c->ro, &m, gpub), CKR_KEY_FUNCTION_NOT_PERMITTED,
                   "C_VerifyInit with it");
            is_rv (F->C_DestroyObject (c->ro, gpub), CKR_OK, "C_DestroyObject of it");
        }
    }
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_cert, sizeof c_cert },
            { CKA_CERTIFICATE_TYPE, &x509, sizeof x509 },
            { CKA_VALUE, certder, (CK_ULONG) certlen },
            { CKA_TRUSTED, &yes, sizeof yes },
        };
        is_rv (F->C_CreateObject (c->rw, t, N_ELEM (t), &h), CKR_ATTRIBUTE_READ_ONLY,
               "C_CreateObject certificate with CKA_TRUSTED TRUE as the user");
    }
    {
        CK_SESSION_HANDLE s2;
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_data, sizeof c_data }, { CKA_LABEL, "tmp", 3 } };
        REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_OK,
                    "C_OpenSession (another)");
        is_rv (F->C_CreateObject (s2, t, N_ELEM (t), &h), CKR_OK,
               "C_CreateObject session object in it");
        is_rv (F->C_GetObjectSize (c->rw, h, &size), CKR_OK, "other sessions see it");
        is_rv (F->C_CloseSession (s2), CKR_OK, "C_CloseSession");
        is_rv (F->C_GetObjectSize (c->rw, h, &size), CKR_OBJECT_HANDLE_INVALID,
               "its session objects went with it");
    }
    is_rv (F->C_DestroyObject (c->ro, sobj), CKR_OK, "C_DestroyObject of the session object");
    return true;
}

static bool
test_keys (run_ctx *c)
{
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    char label[64];
    CK_ATTRIBUTE pub_t[] = {
        { CKA_TOKEN, &yes, sizeof yes },     { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
        { CKA_VERIFY, &yes, sizeof yes },    { CKA_ID, c->id, sizeof c->id },
        { CKA_LABEL, label, 0 },
    };
    CK_ATTRIBUTE priv_t[] = {
        { CKA_TOKEN, &yes, sizeof yes },   { CKA_PRIVATE, &yes, sizeof yes },
        { CKA_SENSITIVE, &yes, sizeof yes }, { CKA_SIGN, &yes, sizeof yes },
        { CKA_ID, c->id, sizeof c->id },   { CKA_LABEL, label, 0 },
        { CKA_EXTRACTABLE, &yes, sizeof yes },
    };
    const CK_ULONG n_priv = N_ELEM (priv_t) - 1; /* without CKA_EXTRACTABLE */
    CK_OBJECT_HANDLE pub, priv, h, h2, copy, imp, found[8];
    CK_BYTE buf[256], id[32], digest[32], sig[80], sig2[80], good[64], in20[20], in64[64],
        bad[64];
    CK_BYTE msg[] = "the quick brown fox jumps over the lazy dog";
    CK_ULONG len, slen;
    CK_MECHANISM m_ecdsa = { CKM_ECDSA, NULL, 0 }, m_sha = { CKM_SHA256, NULL, 0 },
                 m_ecdsa256 = { CKM_ECDSA_SHA256, NULL, 0 };
    long nf;
    CK_RV rv;

    printf ("# %s: keys and signatures\n", c->name);
    snprintf (label, sizeof label, "key %s", c->name);
    pub_t[4].ulValueLen = priv_t[5].ulValueLen = (CK_ULONG) strlen (label);
    for (size_t i = 0; i < sizeof c->id; i++)
        c->id[i] = (CK_BYTE) (0xa0 + i + (size_t) n_runs);

    /* refusals first */
    pub_t[1].pValue = oid_k256;
    pub_t[1].ulValueLen = sizeof oid_k256;
    is_rv (F->C_GenerateKeyPair (c->rw, &gen, pub_t, N_ELEM (pub_t), priv_t, n_priv, &pub, &priv),
           CKR_CURVE_NOT_SUPPORTED, "C_GenerateKeyPair, secp256k1");
    pub_t[1].pValue = oid_p256;
    pub_t[1].ulValueLen = sizeof oid_p256;
    is_rv (F->C_GenerateKeyPair (c->rw, &gen, pub_t, N_ELEM (pub_t), priv_t, N_ELEM (priv_t), &pub,
                                 &priv),
           CKR_ATTRIBUTE_VALUE_INVALID, "C_GenerateKeyPair, private CKA_EXTRACTABLE TRUE");
    is_rv (F->C_GenerateKeyPair (c->ro, &gen, pub_t, N_ELEM (pub_t), priv_t, n_priv, &pub, &priv),
           CKR_SESSION_READ_ONLY, "C_GenerateKeyPair token keys in a R/O session");
    is_rv (F->C_GenerateKeyPair (c->rw, &m_ecdsa, pub_t, N_ELEM (pub_t), priv_t, n_priv, &pub,
                                 &priv),
           CKR_MECHANISM_INVALID, "C_GenerateKeyPair, CKM_ECDSA");
    is_rv (F->C_GenerateKeyPair (c->rw, &gen, pub_t + 2, N_ELEM (pub_t) - 2, priv_t, n_priv, &pub,
                                 &priv),
           CKR_TEMPLATE_INCOMPLETE, "C_GenerateKeyPair without CKA_EC_PARAMS");

    REQUIRE_RV (F->C_GenerateKeyPair (c->rw, &gen, pub_t, N_ELEM (pub_t), priv_t, n_priv, &pub,
                                      &priv),
                CKR_OK, "C_GenerateKeyPair P-256 token pair");
    c->pub = pub;
    c->priv = priv;
    ok (pub != priv, "distinct handles");

    /* the private key */
    len = sizeof buf;
    is_rv (get_attr (c->rw, priv, CKA_VALUE, buf, &len), CKR_ATTRIBUTE_SENSITIVE,
           "private key CKA_VALUE");
    ok (len == CK_UNAVAILABLE_INFORMATION, "CKA_VALUE: CK_UNAVAILABLE_INFORMATION");
    ok (get_bool (c->rw, priv, CKA_SENSITIVE) == CK_TRUE, "CKA_SENSITIVE TRUE");
    ok (get_bool (c->rw, priv, CKA_EXTRACTABLE) == CK_FALSE, "CKA_EXTRACTABLE FALSE");
    ok (get_bool (c->rw, priv, CKA_ALWAYS_SENSITIVE) == CK_TRUE, "CKA_ALWAYS_SENSITIVE TRUE");
    ok (get_bool (c->rw, priv, CKA_NEVER_EXTRACTABLE) == CK_TRUE, "CKA_NEVER_EXTRACTABLE TRUE");
    ok (get_bool (c->rw, priv, CKA_LOCAL) == CK_TRUE, "private CKA_LOCAL TRUE");
    ok (get_bool (c->rw, priv, CKA_PRIVATE) == CK_TRUE, "private CKA_PRIVATE TRUE");
    ok (get_bool (c->rw, priv, CKA_TOKEN) == CK_TRUE, "private CKA_TOKEN TRUE");
    ok (get_bool (c->rw, priv, CKA_TPMTRUST_TPM_KEY) == CK_TRUE, "CKA_TPMTRUST_TPM_KEY TRUE");
    ok (get_bool (c->rw, pub, CKA_LOCAL) == CK_TRUE, "public CKA_LOCAL TRUE");
    ok (get_bool (c->rw, pub, CKA_PRIVATE) == CK_FALSE, "public CKA_PRIVATE FALSE");
    {
        CK_ULONG mech = 0;
        len = sizeof mech;
        is_rv (get_attr (c->rw, priv, CKA_KEY_GEN_MECHANISM, &mech, &len), CKR_OK,
               "CKA_KEY_GEN_MECHANISM");
        ok (mech == CKM_EC_KEY_PAIR_GEN, "CKA_KEY_GEN_MECHANISM is CKM_EC_KEY_PAIR_GEN");
    }
    len = sizeof id;
    is_rv (get_attr (c->rw, priv, CKA_ID, id, &len), CKR_OK, "private CKA_ID");
    ok (len == sizeof c->id && memcmp (id, c->id, len) == 0, "private CKA_ID as given");
    len = sizeof id;
    is_rv (get_attr (c->rw, pub, CKA_ID, id, &len), CKR_OK, "public CKA_ID");
    ok (len == sizeof c->id && memcmp (id, c->id, len) == 0, "public key has the same CKA_ID");
    len = sizeof c->point;
    is_rv (get_attr (c->rw, pub, CKA_EC_POINT, c->point, &len), CKR_OK, "public CKA_EC_POINT");
    ok (len == 67 && c->point[0] == 0x04 && c->point[1] == 0x41 && c->point[2] == 0x04,
        "CKA_EC_POINT: 04 41 04 + 64 bytes (%lu bytes)", len);
    len = sizeof buf;
    is_rv (get_attr (c->rw, priv, CKA_EC_POINT, buf, &len), CKR_OK, "private CKA_EC_POINT");
    ok (len == 67 && memcmp (buf, c->point, 67) == 0, "private key: the same CKA_EC_POINT");
    len = sizeof buf;
    is_rv (get_attr (c->rw, priv, CKA_EC_PARAMS, buf, &len), CKR_OK, "private CKA_EC_PARAMS");
    ok (len == sizeof oid_p256 && memcmp (buf, oid_p256, len) == 0, "CKA_EC_PARAMS P-256");
    len = sizeof c->spki;
    REQUIRE_RV (get_attr (c->rw, pub, CKA_PUBLIC_KEY_INFO, c->spki, &len), CKR_OK,
                "public CKA_PUBLIC_KEY_INFO");
    c->spki_len = len;
    ok (len > 65 && c->spki[0] == 0x30 && memcmp (c->spki + len - 65, c->point + 2, 65) == 0,
        "CKA_PUBLIC_KEY_INFO: a SEQUENCE ending in the point (%lu bytes)", len);
    {
        CK_ATTRIBUTE t[] = { { CKA_SENSITIVE, &no, sizeof no } };
        is_rv (F->C_SetAttributeValue (c->rw, priv, t, 1), CKR_ATTRIBUTE_READ_ONLY,
               "set CKA_SENSITIVE FALSE");
        t[0].type = CKA_EXTRACTABLE;
        t[0].pValue = &yes;
        is_rv (F->C_SetAttributeValue (c->rw, priv, t, 1), CKR_ATTRIBUTE_READ_ONLY,
               "set CKA_EXTRACTABLE TRUE");
        ok (get_bool (c->rw, priv, CKA_SENSITIVE) == CK_TRUE, "still CKA_SENSITIVE");
    }

    /* CKM_ECDSA over a 32-byte digest: length query, too small, sign */
    for (size_t i = 0; i < sizeof digest; i++)
        digest[i] = (CK_BYTE) (i * 7 + 1);
    /* length queries and CKR_OPERATION_ACTIVE: test-conformance (OP-1, OP-4) */
    REQUIRE_RV (F->C_SignInit (c->rw, &m_ecdsa, priv), CKR_OK, "C_SignInit CKM_ECDSA");
    is_rv (F->C_SignInit (c->rw, NULL, priv), CKR_OK, "C_SignInit (NULL) cancels (3.0)");
    REQUIRE_RV (F->C_SignInit (c->rw, &m_ecdsa, priv), CKR_OK, "C_SignInit after the cancel");
    slen = sizeof sig;
    REQUIRE_RV (F->C_Sign (c->rw, digest, sizeof digest, sig, &slen), CKR_OK, "C_Sign");
    ok (slen == 64, "signature of %lu bytes", slen);
    memcpy (good, sig, sizeof good);
    len = sizeof sig2;
    is_rv (F->C_Sign (c->rw, digest, sizeof digest, sig2, &len), CKR_OPERATION_NOT_INITIALIZED,
           "C_Sign again: the operation ended");
    ok (openssl_verify_raw (c, digest, sizeof digest, sig, slen),
        "openssl pkeyutl verifies the CKM_ECDSA signature");
    memcpy (sig2, sig, 64);
    sig2[10] ^= 0x40;
    ok (!openssl_verify_raw (c, digest, sizeof digest, sig2, 64),
        "openssl pkeyutl rejects a modified signature");
    is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, sig, 64), CKR_OK,
           "C_Verify CKM_ECDSA with the public key");
    is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, sig2, 64), CKR_SIGNATURE_INVALID,
           "C_Verify, modified signature");
    is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, sig, 63), CKR_SIGNATURE_LEN_RANGE,
           "C_Verify, 63-byte signature");
    digest[0] ^= 1;
    is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, sig, 64), CKR_SIGNATURE_INVALID,
           "C_Verify, other digest");
    digest[0] ^= 1;
    is_rv (verify (c->rw, CKM_ECDSA, priv, digest, sizeof digest, sig, 64), CKR_OK,
           "C_Verify with the private key object");

    /* CKM_ECDSA with shorter and longer inputs */
    for (size_t i = 0; i < sizeof in20; i++)
        in20[i] = (CK_BYTE) (0xf0 - i);
    for (size_t i = 0; i < sizeof in64; i++)
        in64[i] = (CK_BYTE) (i * 13 + 5);
    slen = sizeof sig;
    is_rv (sign (c->rw, CKM_ECDSA, priv, in20, sizeof in20, sig, &slen), CKR_OK,
           "C_Sign CKM_ECDSA, 20-byte input");
    is_rv (verify (c->rw, CKM_ECDSA, pub, in20, sizeof in20, sig, slen), CKR_OK,
           "C_Verify it");
    ok (openssl_verify_raw (c, in20, sizeof in20, sig, slen), "openssl verifies it");
    slen = sizeof sig;
    is_rv (sign (c->rw, CKM_ECDSA, priv, in64, sizeof in64, sig, &slen), CKR_OK,
           "C_Sign CKM_ECDSA, 64-byte input");
    is_rv (verify (c->rw, CKM_ECDSA, pub, in64, sizeof in64, sig, slen), CKR_OK,
           "C_Verify it");
    ok (openssl_verify_raw (c, in64, sizeof in64, sig, slen), "openssl verifies it");
    memcpy (bad, in64, sizeof bad);
    bad[63] ^= 0xff; /* beyond the 32 bytes that count */
    is_rv (verify (c->rw, CKM_ECDSA, pub, bad, sizeof bad, sig, slen), CKR_OK,
           "C_Verify: the input is truncated to 32 bytes");
    bad[0] ^= 0xff;
    is_rv (verify (c->rw, CKM_ECDSA, pub, bad, sizeof bad, sig, slen), CKR_SIGNATURE_INVALID,
           "C_Verify: but the first 32 bytes count");

    /* CKM_ECDSA_SHA256 */
    slen = sizeof sig;
    is_rv (sign (c->rw, CKM_ECDSA_SHA256, priv, msg, sizeof msg - 1, sig, &slen), CKR_OK,
           "C_Sign CKM_ECDSA_SHA256");
    ok (slen == 64 && openssl_verify_sha256 (c, msg, sizeof msg - 1, sig, slen),
        "openssl dgst -sha256 verifies it");
    is_rv (verify (c->rw, CKM_ECDSA_SHA256, pub, msg, sizeof msg - 1, sig, slen), CKR_OK,
           "C_Verify CKM_ECDSA_SHA256");
    REQUIRE_RV (F->C_SignInit (c->rw, &m_ecdsa256, priv), CKR_OK, "C_SignInit CKM_ECDSA_SHA256");
    is_rv (F->C_SignUpdate (c->rw, msg, 4), CKR_OK, "C_SignUpdate 1");
    is_rv (F->C_SignUpdate (c->rw, msg + 4, 10), CKR_OK, "C_SignUpdate 2");
    is_rv (F->C_SignUpdate (c->rw, msg + 14, sizeof msg - 1 - 14), CKR_OK, "C_SignUpdate 3");
    slen = sizeof sig2;
    is_rv (F->C_SignFinal (c->rw, sig2, &slen), CKR_OK, "C_SignFinal");
    ok (slen == 64 && openssl_verify_sha256 (c, msg, sizeof msg - 1, sig2, slen),
        "openssl dgst -sha256 verifies the multi-part signature");
    is_rv (F->C_SignFinal (c->rw, sig2, &slen), CKR_OPERATION_NOT_INITIALIZED,
           "C_SignFinal again");
    is_rv (F->C_VerifyInit (c->rw, &m_ecdsa256, pub), CKR_OK, "C_VerifyInit CKM_ECDSA_SHA256");
    is_rv (F->C_VerifyUpdate (c->rw, msg, 20), CKR_OK, "C_VerifyUpdate 1");
    is_rv (F->C_VerifyUpdate (c->rw, msg + 20, sizeof msg - 1 - 20), CKR_OK, "C_VerifyUpdate 2");
    is_rv (F->C_VerifyFinal (c->rw, sig2, 64), CKR_OK, "C_VerifyFinal");
    msg[0] ^= 1;
    ok (!openssl_verify_sha256 (c, msg, sizeof msg - 1, sig2, 64),
        "openssl dgst rejects it for another message");
    is_rv (verify (c->rw, CKM_ECDSA_SHA256, pub, msg, sizeof msg - 1, sig2, 64),
           CKR_SIGNATURE_INVALID, "C_Verify rejects it for another message");
    msg[0] ^= 1;

    /* wrong keys and mechanisms */
    is_rv (F->C_SignInit (c->rw, &m_ecdsa, pub), CKR_KEY_TYPE_INCONSISTENT,
           "C_SignInit with the public key");
    is_rv (F->C_SignInit (c->rw, &m_sha, priv), CKR_MECHANISM_INVALID, "C_SignInit CKM_SHA256");

    /* two sessions sign at the same time, each with its own operation */
    {
        CK_BYTE d2[32], sa[80], sb[80];
        CK_ULONG la = sizeof sa, lb = sizeof sb;
        memset (d2, 0x33, sizeof d2);
        is_rv (F->C_SignInit (c->rw, &m_ecdsa, priv), CKR_OK, "C_SignInit in the R/W session");
        is_rv (F->C_SignInit (c->ro, &m_ecdsa256, priv), CKR_OK, "C_SignInit in the R/O session");
        is_rv (F->C_Sign (c->ro, msg, sizeof msg - 1, sb, &lb), CKR_OK, "C_Sign in the R/O one");
        is_rv (F->C_Sign (c->rw, d2, sizeof d2, sa, &la), CKR_OK, "C_Sign in the R/W one");
        ok (openssl_verify_raw (c, d2, sizeof d2, sa, la)
                && openssl_verify_sha256 (c, msg, sizeof msg - 1, sb, lb),
            "openssl verifies both, each with its own mechanism");
    }

    /* signing in the R/O session works too */
    slen = sizeof sig;
    is_rv (sign (c->ro, CKM_ECDSA, priv, digest, sizeof digest, sig, &slen), CKR_OK,
           "C_Sign in the R/O session");
    ok (openssl_verify_raw (c, digest, sizeof digest, sig, slen), "openssl verifies it");

    /* a public key object imported from the raw point verifies */
    {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &c_pub, sizeof c_pub },
            { CKA_KEY_TYPE, &k_ec, sizeof k_ec },
            { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 },
            { CKA_EC_POINT, c->point + 2, 65 }, /* raw, not DER */
        };
        REQUIRE_RV (F->C_CreateObject (c->ro, t, N_ELEM (t), &imp), CKR_OK,
                    "C_CreateObject public key from the raw point");
        len = sizeof buf;
        is_rv (get_attr (c->ro, imp, CKA_EC_POINT, buf, &len), CKR_OK, "its CKA_EC_POINT");
        ok (len == 67 && memcmp (buf, c->point, 67) == 0, "kept as a DER OCTET STRING");
        is_rv (verify (c->ro, CKM_ECDSA, imp, digest, sizeof digest, sig, slen), CKR_OK,
               "C_Verify with the imported public key");
    }

    /* C_CopyObject of the private key */
    {
        CK_ATTRIBUTE t[] = { { CKA_LABEL, "key copy", 8 }, { CKA_TOKEN, &no, sizeof no } };
        REQUIRE_RV (F->C_CopyObject (c->rw, priv, t, N_ELEM (t), &copy), CKR_OK,
                    "C_CopyObject of the private key (as a session object)");
        ok (get_bool (c->rw, copy, CKA_TPMTRUST_TPM_KEY) == CK_TRUE
                && get_bool (c->rw, copy, CKA_SENSITIVE) == CK_TRUE
                && get_bool (c->rw, copy, CKA_TOKEN) == CK_FALSE,
            "the copy: a sensitive TPM key, a session object");
        slen = sizeof sig;
        is_rv (sign (c->rw, CKM_ECDSA, copy, digest, sizeof digest, sig, &slen), CKR_OK,
               "the copy signs");
        is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, sig, slen), CKR_OK,
               "with the original key pair");
        ok (openssl_verify_raw (c, digest, sizeof digest, sig, slen), "openssl verifies it");
        t[1].pValue = &yes;
        REQUIRE_RV (F->C_CopyObject (c->rw, priv, t, N_ELEM (t), &h2), CKR_OK,
                    "C_CopyObject of the private key (as a token object)");
        slen = sizeof sig;
        is_rv (sign (c->rw, CKM_ECDSA_SHA256, h2, msg, sizeof msg - 1, sig, &slen), CKR_OK,
               "the token copy signs");
        ok (openssl_verify_sha256 (c, msg, sizeof msg - 1, sig, slen), "openssl verifies it");
        is_rv (F->C_DestroyObject (c->rw, h2), CKR_OK, "C_DestroyObject of the token copy");
        {
            CK_ATTRIBUTE s[] = { { CKA_SENSITIVE, &no, sizeof no } };
            is_rv (F->C_CopyObject (c->rw, priv, s, 1, &h), CKR_ATTRIBUTE_READ_ONLY,
                   "C_CopyObject with CKA_SENSITIVE FALSE");
        }
    }

    {
        CK_ATTRIBUTE t[] = { { CKA_SIGN, &no, sizeof no } };
        is_rv (F->C_SetAttributeValue (c->rw, copy, t, 1), CKR_OK, "the copy: set CKA_SIGN FALSE");
        is_rv (F->C_SignInit (c->rw, &m_ecdsa, copy), CKR_KEY_FUNCTION_NOT_PERMITTED,
               "C_SignInit with it");
    }

    /* issue 15 item 7: a copy never relaxes a usage flag of an unmodifiable key */
    {
        CK_ATTRIBUTE t[] = { { CKA_MODIFIABLE, &no, sizeof no } };
        CK_ATTRIBUTE up[] = { { CKA_SIGN, &yes, sizeof yes } };
        CK_OBJECT_HANDLE fixed = CK_INVALID_HANDLE, h3 = CK_INVALID_HANDLE;
        REQUIRE_RV (F->C_CopyObject (c->rw, copy, t, 1, &fixed), CKR_OK,
                    "C_CopyObject with CKA_MODIFIABLE FALSE (CKA_SIGN FALSE)");
        is_rv (F->C_CopyObject (c->rw, fixed, up, 1, &h3), CKR_ATTRIBUTE_READ_ONLY,
               "C_CopyObject of the unmodifiable key with CKA_SIGN TRUE");
        is_rv (F->C_SignInit (c->rw, &m_ecdsa, fixed), CKR_KEY_FUNCTION_NOT_PERMITTED,
               "the unmodifiable copy still does not sign");
        is_rv (F->C_CopyObject (c->rw, copy, up, 1, &h3), CKR_OK,
               "a modifiable key's copy may set CKA_SIGN TRUE");
        if (h3 != CK_INVALID_HANDLE)
            F->C_DestroyObject (c->rw, h3);
        F->C_DestroyObject (c->rw, fixed);
    }

    /* a session key pair, in the R/O session */
    {
        CK_ATTRIBUTE st_pub[] = { { CKA_EC_PARAMS, oid_p256, sizeof oid_p256 } };
        CK_OBJECT_HANDLE spub, spriv;
        REQUIRE_RV (F->C_GenerateKeyPair (c->ro, &gen, st_pub, 1, NULL, 0, &spub, &spriv), CKR_OK,
                    "C_GenerateKeyPair session pair in the R/O session");
        ok (get_bool (c->ro, spriv, CKA_TOKEN) == CK_FALSE
                && get_bool (c->ro, spriv, CKA_PRIVATE) == CK_TRUE
                && get_bool (c->ro, spriv, CKA_SENSITIVE) == CK_TRUE
                && get_bool (c->ro, spriv, CKA_SIGN) == CK_TRUE
                && get_bool (c->ro, spub, CKA_VERIFY) == CK_TRUE,
            "defaults: a private sensitive session key that signs");
        len = sizeof id;
        is_rv (get_attr (c->ro, spub, CKA_ID, id, &len), CKR_OK, "its CKA_ID");
        ok (len > 0 && len != CK_UNAVAILABLE_INFORMATION, "a CKA_ID was made up (%lu bytes)",
            len);
        slen = sizeof sig2;
        is_rv (sign (c->ro, CKM_ECDSA_SHA256, spriv, msg, sizeof msg - 1, sig2, &slen), CKR_OK,
               "the session key signs");
        is_rv (verify (c->ro, CKM_ECDSA_SHA256, spub, msg, sizeof msg - 1, sig2, slen), CKR_OK,
               "C_Verify with its public key");
        is_rv (verify (c->ro, CKM_ECDSA_SHA256, pub, msg, sizeof msg - 1, sig2, slen),
               CKR_SIGNATURE_INVALID, "not with the token public key");
        is_rv (F->C_DestroyObject (c->ro, spriv), CKR_OK, "C_DestroyObject session private key");
        is_rv (F->C_DestroyObject (c->ro, spub), CKR_OK, "C_DestroyObject session public key");
    }

    /* other curves and hashes, with session keys */
    {
        static CK_BYTE oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
        CK_ATTRIBUTE t384[] = { { CKA_EC_PARAMS, oid_p384, sizeof oid_p384 } };
        CK_OBJECT_HANDLE kpub, kpriv;
        CK_BYTE spki[256], point[128], s384[128], in48[48];
        CK_ULONG spki_len = sizeof spki, plen = sizeof point, l384;

        slen = sizeof sig2;
        is_rv (sign (c->ro, CKM_ECDSA_SHA512, priv, msg, sizeof msg - 1, sig2, &slen), CKR_OK,
               "P-256 key: C_Sign CKM_ECDSA_SHA512");
        ok (slen == 64
                && openssl_verify_spki_md (c->spki, c->spki_len, "sha512", msg, sizeof msg - 1,
                                           sig2, slen),
            "openssl dgst -sha512 verifies it (the hash truncated to 256 bits)");
        slen = sizeof sig2;
        is_rv (sign (c->ro, CKM_ECDSA_SHA1, priv, msg, sizeof msg - 1, sig2, &slen), CKR_OK,
               "P-256 key: C_Sign CKM_ECDSA_SHA1");
        ok (slen == 64
                && openssl_verify_spki_md (c->spki, c->spki_len, "sha1", msg, sizeof msg - 1,
                                           sig2, slen),
            "openssl dgst -sha1 verifies it (the hash left-padded)");

        REQUIRE_RV (F->C_GenerateKeyPair (c->ro, &gen, t384, 1, NULL, 0, &kpub, &kpriv), CKR_OK,
                    "C_GenerateKeyPair P-384 session pair");
        is_rv (get_attr (c->ro, kpub, CKA_EC_POINT, point, &plen), CKR_OK, "P-384 CKA_EC_POINT");
        ok (plen == 99 && point[0] == 0x04 && point[1] == 0x61 && point[2] == 0x04,
            "P-384 CKA_EC_POINT: 04 61 04 + 96 bytes (%lu bytes)", plen);
        REQUIRE_RV (get_attr (c->ro, kpub, CKA_PUBLIC_KEY_INFO, spki, &spki_len), CKR_OK,
                    "P-384 CKA_PUBLIC_KEY_INFO");
        l384 = 0;
        is_rv (sign (c->ro, CKM_ECDSA_SHA384, kpriv, msg, sizeof msg - 1, NULL, &l384), CKR_OK,
               "P-384: C_Sign length query");
        ok (l384 == 96, "P-384 signature length %lu (want 96)", l384);
        l384 = sizeof s384;
        is_rv (F->C_Sign (c->ro, msg, sizeof msg - 1, s384, &l384), CKR_OK,
               "P-384: C_Sign CKM_ECDSA_SHA384");
        ok (l384 == 96 && openssl_verify_spki_md (spki, spki_len, "sha384", msg, sizeof msg - 1,
                                                  s384, l384),
            "openssl dgst -sha384 verifies it");
        is_rv (verify (c->ro, CKM_ECDSA_SHA384, kpub, msg, sizeof msg - 1, s384, l384), CKR_OK,
               "P-384: C_Verify");
        is_rv (verify (c->ro, CKM_ECDSA_SHA384, kpub, msg, sizeof msg - 1, s384, 64),
               CKR_SIGNATURE_LEN_RANGE, "P-384: C_Verify, 64-byte signature");
        for (size_t i = 0; i < sizeof in48; i++)
            in48[i] = (CK_BYTE) (0x80 + i);
        l384 = sizeof s384;
        is_rv (sign (c->ro, CKM_ECDSA, kpriv, in48, sizeof in48, s384, &l384), CKR_OK,
               "P-384: C_Sign CKM_ECDSA, 48-byte input");
        ok (l384 == 96 && openssl_verify_spki_raw (spki, spki_len, in48, sizeof in48, s384, l384),
            "openssl pkeyutl verifies it");
        l384 = sizeof s384;
        is_rv (sign (c->ro, CKM_ECDSA, kpriv, digest, sizeof digest, s384, &l384), CKR_OK,
               "P-384: C_Sign CKM_ECDSA, 32-byte input");
        ok (l384 == 96
                && openssl_verify_spki_raw (spki, spki_len, digest, sizeof digest, s384, l384),
            "openssl pkeyutl verifies it (the input left-padded)");
        is_rv (F->C_DestroyObject (c->ro, kpriv), CKR_OK, "C_DestroyObject P-384 private key");
        is_rv (F->C_DestroyObject (c->ro, kpub), CKR_OK, "C_DestroyObject P-384 public key");
    }

    /* by CKA_ID: both halves */
    {
        CK_ATTRIBUTE t[] = { { CKA_ID, c->id, sizeof c->id } };
        nf = find (c->rw, t, 1, found, N_ELEM (found));
        ok (nf == 3, "by CKA_ID: public, private and the session copy (%ld)", nf);
    }

    {
        char renamed[64];
        CK_ATTRIBUTE t[] = { { CKA_LABEL, renamed, 0 } };
        snprintf (renamed, sizeof renamed, "renamed key %s", c->name);
        t[0].ulValueLen = (CK_ULONG) strlen (renamed);
        is_rv (F->C_SetAttributeValue (c->rw, priv, t, 1), CKR_OK, "rename the private key");
    }

    /* C_Logout: private objects go away */
    REQUIRE_RV (F->C_Logout (c->ro), CKR_OK, "C_Logout");
    ok (session_state (c->rw) == CKS_RW_PUBLIC_SESSION, "R/W session now public");
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_priv, sizeof c_priv } };
        nf = find (c->rw, t, 1, found, N_ELEM (found));
        ok (nf == 0, "no private keys found after C_Logout (%ld)", nf);
        t[0].type = CKA_ID;
        t[0].pValue = c->id;
        t[0].ulValueLen = sizeof c->id;
        nf = find (c->rw, t, 1, found, N_ELEM (found));
        ok (nf == 1 && found[0] == pub, "by CKA_ID: only the public key (%ld)", nf);
    }
    len = 0;
    is_rv (get_attr (c->rw, priv, CKA_LABEL, NULL, &len), CKR_OBJECT_HANDLE_INVALID,
           "the private key handle after C_Logout");
    is_rv (get_attr (c->rw, copy, CKA_LABEL, NULL, &len), CKR_OBJECT_HANDLE_INVALID,
           "the private session copy after C_Logout");
    rv = F->C_SignInit (c->rw, &m_ecdsa, priv);
    ok (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_USER_NOT_LOGGED_IN,
        "C_SignInit with it after C_Logout: 0x%lx", rv);
    ok (get_bool (c->rw, pub, CKA_VERIFY) == CK_TRUE, "the public key is still there");
    is_rv (verify (c->rw, CKM_ECDSA, pub, digest, sizeof digest, good, sizeof good), CKR_OK,
           "C_Verify without login");
    is_rv (F->C_Logout (c->rw), CKR_USER_NOT_LOGGED_IN, "C_Logout again");
    is_rv (login (c->rw, CKU_CONTEXT_SPECIFIC, USER_PIN), CKR_USER_NOT_LOGGED_IN,
           "C_Login CKU_CONTEXT_SPECIFIC, not logged in");

    /* a signature started before C_Logout cannot finish after it */
    REQUIRE_RV (login (c->rw, CKU_USER, USER_PIN), CKR_OK, "C_Login USER again");
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_priv, sizeof c_priv },
                             { CKA_ID, c->id, sizeof c->id } };
        nf = find (c->rw, t, N_ELEM (t), found, N_ELEM (found));
        REQUIRE (nf == 1, "the private token key is found again (%ld)", nf);
        c->priv = priv = found[0];
        snprintf (label, sizeof label, "renamed key %s", c->name);
        len = sizeof buf;
        is_rv (get_attr (c->rw, priv, CKA_LABEL, buf, &len), CKR_OK, "its CKA_LABEL");
        ok (len == strlen (label) && memcmp (buf, label, len) == 0, "it kept the new label");
    }
    slen = sizeof sig;
    is_rv (sign (c->rw, CKM_ECDSA, priv, digest, sizeof digest, sig, &slen), CKR_OK,
           "it signs under its new handle");
    ok (openssl_verify_raw (c, digest, sizeof digest, sig, slen), "openssl verifies it");
    is_rv (F->C_SignInit (c->rw, &m_ecdsa, priv), CKR_OK, "C_SignInit, then C_Logout");
    is_rv (login (c->rw, CKU_CONTEXT_SPECIFIC, USER_PIN), CKR_OPERATION_NOT_INITIALIZED,
           "C_Login CKU_CONTEXT_SPECIFIC without CKA_ALWAYS_AUTHENTICATE");
    is_rv (F->C_Logout (c->rw), CKR_OK, "C_Logout");
    slen = sizeof sig;
    rv = F->C_Sign (c->rw, digest, sizeof digest, sig, &slen);
    ok (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign of that operation after C_Logout: 0x%lx", rv);
    return true;
}

/* Not logged in: digest and random. */
static bool
test_digest_random (run_ctx *c)
{
    CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
    CK_BYTE out[64], rnd[100];
    CK_ULONG len;

    printf ("# %s: digest and random without login\n", c->name);
    ok (session_state (c->ro) == CKS_RO_PUBLIC_SESSION, "R/O session: public");
    /* length queries, CKR_OPERATION_ACTIVE and bad mechanisms: test-conformance (OP-*) */
    REQUIRE_RV (F->C_DigestInit (c->ro, &m), CKR_OK, "C_DigestInit CKM_SHA256");
    len = sizeof out;
    is_rv (F->C_Digest (c->ro, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_OK, "C_Digest \"abc\"");
    ok (len == 32 && memcmp (out, sha256_abc, 32) == 0, "SHA-256 (\"abc\") is the known vector");
    {
        CK_BYTE state[64];
        CK_ULONG slen = sizeof state;
        REQUIRE_RV (F->C_DigestInit (c->ro, &m), CKR_OK, "C_DigestInit again");
        is_rv (F->C_GetOperationState (c->ro, state, &slen), CKR_STATE_UNSAVEABLE,
               "C_GetOperationState during a digest");
        is_rv (F->C_DigestInit (c->ro, NULL), CKR_OK, "C_DigestInit (NULL) cancels (3.0)");
        len = sizeof out;
        is_rv (F->C_DigestFinal (c->ro, out, &len), CKR_OPERATION_NOT_INITIALIZED,
               "nothing active after the cancel");
        REQUIRE_RV (F->C_DigestInit (c->ro, &m), CKR_OK, "C_DigestInit for multi-part");
        is_rv (F->C_DigestUpdate (c->ro, (CK_BYTE_PTR) "a", 1), CKR_OK, "C_DigestUpdate");
        len = sizeof out;
        is_rv (F->C_Digest (c->ro, (CK_BYTE_PTR) "bc", 2, out, &len), CKR_OPERATION_ACTIVE,
               "C_Digest cannot finish a multi-part digest");
        is_rv (F->C_DigestFinal (c->ro, out, &len), CKR_OPERATION_NOT_INITIALIZED,
               "and that ended it");
    }
    REQUIRE_RV (F->C_DigestInit (c->ro, &m), CKR_OK, "C_DigestInit for multi-part");
    is_rv (F->C_DigestUpdate (c->ro, (CK_BYTE_PTR) "a", 1), CKR_OK, "C_DigestUpdate \"a\"");
    is_rv (F->C_DigestUpdate (c->ro, (CK_BYTE_PTR) "bc", 2), CKR_OK, "C_DigestUpdate \"bc\"");
    len = sizeof out;
    memset (out, 0, sizeof out);
    is_rv (F->C_DigestFinal (c->ro, out, &len), CKR_OK, "C_DigestFinal");
    ok (len == 32 && memcmp (out, sha256_abc, 32) == 0, "multi-part: the same vector");

    memset (rnd, 0, sizeof rnd);
    is_rv (F->C_GenerateRandom (c->ro, rnd, sizeof rnd), CKR_OK, "C_GenerateRandom 100 bytes");
    ok (!all_zero (rnd, sizeof rnd), "random bytes are not all zero");
    return true;
}

static bool
test_pins (run_ctx *c)
{
    CK_SESSION_HANDLE s;
    CK_RV rv;

    printf ("# %s: C_SetPIN, C_CloseAllSessions\n", c->name);
    REQUIRE_RV (login (c->rw, CKU_USER, USER_PIN), CKR_OK, "C_Login USER");
    is_rv (F->C_SetPIN (c->ro, (CK_UTF8CHAR_PTR) USER_PIN, 4, (CK_UTF8CHAR_PTR) USER_PIN2, 4),
           CKR_SESSION_READ_ONLY, "C_SetPIN in a R/O session");
    is_rv (F->C_SetPIN (c->rw, (CK_UTF8CHAR_PTR) USER_PIN, 4, (CK_UTF8CHAR_PTR) "12", 2),
           CKR_PIN_LEN_RANGE, "C_SetPIN to a 2-byte PIN");
    REQUIRE_RV (F->C_SetPIN (c->rw, (CK_UTF8CHAR_PTR) USER_PIN, 4, (CK_UTF8CHAR_PTR) USER_PIN2, 4),
                CKR_OK, "C_SetPIN 1234 -> 5678");
    is_rv (F->C_Logout (c->rw), CKR_OK, "C_Logout");
    if (F3 != NULL)
        rv = F3->C_LoginUser (c->rw, CKU_USER, (CK_UTF8CHAR_PTR) USER_PIN2, 4, NULL, 0);
    else
        rv = login (c->rw, CKU_USER, USER_PIN2);
    REQUIRE_RV (rv, CKR_OK, F3 ? "C_LoginUser with the new PIN" : "C_Login with the new PIN");
    ok (session_state (c->ro) == CKS_RO_USER_FUNCTIONS, "logged in");

    /* unsupported functions, slot events, C_SessionCancel: test-conformance (OP-8, SLOT-6) */
    {
        CK_MECHANISM d = { CKM_ECDH1_DERIVE, NULL, 0 }, m = { CKM_AES_CBC, NULL, 0 };
        CK_OBJECT_HANDLE h;
        /* ECDH itself: tests/integration/ecdh.sh */
        is_rv (F->C_DeriveKey (c->rw, &d, c->priv, NULL, 0, &h), CKR_MECHANISM_PARAM_INVALID,
               "C_DeriveKey with CKM_ECDH1_DERIVE and no parameter");
        is_rv (F->C_GenerateKey (c->rw, &m, NULL, 0, &h), CKR_MECHANISM_INVALID,
               "C_GenerateKey with CKM_AES_CBC");
    }

    REQUIRE_RV (F->C_CloseAllSessions (c->slot), CKR_OK, "C_CloseAllSessions");
    is_rv (F->C_GetSessionInfo (c->rw, NULL), CKR_SESSION_HANDLE_INVALID,
           "the R/W session is closed");
    {
        CK_SESSION_INFO si;
        is_rv (F->C_GetSessionInfo (c->ro, &si), CKR_SESSION_HANDLE_INVALID,
               "the R/O session is closed");
    }
    REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
                CKR_OK, "C_OpenSession");
    ok (session_state (s) == CKS_RW_PUBLIC_SESSION, "C_CloseAllSessions logged out");
    c->rw = s;
    return true;
}

/* The token of the previous run (another C_Initialize ago) kept its PIN and key. */
static bool
test_previous (run_ctx *c, const char *prev_label)
{
    CK_SLOT_ID list[64], slot = 0;
    CK_ULONG n = N_ELEM (list);
    CK_UTF8CHAR want[32];
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE found[8], priv, pub;
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    CK_BYTE digest[32], sig[64];
    CK_ULONG slen = sizeof sig;
    int hits = 0;
    long nf;

    printf ("# %s: the token of the previous run\n", c->name);
    pad32 (want, prev_label);
    REQUIRE_RV (F->C_GetSlotList (CK_FALSE, list, &n), CKR_OK, "C_GetSlotList");
    for (CK_ULONG i = 0; i < n && i < N_ELEM (list); i++) {
        if (F->C_GetTokenInfo (list[i], &ti) == CKR_OK && memcmp (ti.label, want, 32) == 0) {
            hits++;
            slot = list[i];
        }
    }
    REQUIRE (hits == 1, "the token '%s' is still there", prev_label);
    REQUIRE_RV (F->C_GetTokenInfo (slot, &ti), CKR_OK, "its C_GetTokenInfo");
    ok ((ti.flags & (CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED))
            == (CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED),
        "initialized, with a user PIN (flags 0x%lx)", ti.flags);
    REQUIRE_RV (F->C_OpenSession (slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK,
                "C_OpenSession on it");
    REQUIRE_RV (login (s, CKU_USER, USER_PIN2), CKR_OK, "C_Login with the PIN it was changed to");
    {
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &c_priv, sizeof c_priv } };
        nf = find (s, t, 1, found, N_ELEM (found));
        REQUIRE (nf == 1, "its private key (%ld)", nf);
        priv = found[0];
        t[0].pValue = &c_pub;
        nf = find (s, t, 1, found, N_ELEM (found));
        REQUIRE (nf == 1, "its public key (%ld)", nf);
        pub = found[0];
    }
    memset (digest, 0x5a, sizeof digest);
    is_rv (sign (s, CKM_ECDSA, priv, digest, sizeof digest, sig, &slen), CKR_OK, "it signs");
    is_rv (verify (s, CKM_ECDSA, pub, digest, sizeof digest, sig, slen), CKR_OK,
           "C_Verify with its public key");
    is_rv (F->C_SignInit (c->rw, &m, priv), CKR_KEY_HANDLE_INVALID,
           "its key handle means nothing in a session of another token");
    is_rv (F->C_CloseSession (s), CKR_OK, "C_CloseSession");
    return true;
}

/* C_InitToken again on our token: needs the SO PIN, wipes the objects and the
 * user PIN, keeps the slot. Then the SO changes the SO PIN. */
static bool
test_reinit (run_ctx *c)
{
    CK_UTF8CHAR label[32];
    CK_TOKEN_INFO ti;
    CK_OBJECT_HANDLE found[8];
    char newlabel[40];
    long nf;

    printf ("# %s: C_InitToken again\n", c->name);
    is_rv (F->C_CloseAllSessions (c->slot), CKR_OK, "C_CloseAllSessions");
    snprintf (newlabel, sizeof newlabel, "%s again", c->label);
    pad32 (label, newlabel);
    REQUIRE_RV (F->C_InitToken (c->slot, (CK_UTF8CHAR_PTR) SO_PIN, strlen (SO_PIN), label), CKR_OK,
                "C_InitToken on the initialized token, with its SO PIN");
    REQUIRE_RV (F->C_GetTokenInfo (c->slot, &ti), CKR_OK, "C_GetTokenInfo");
    ok (memcmp (ti.label, label, 32) == 0, "the new label '%.32s'", (const char *) ti.label);
    ok ((ti.flags & CKF_TOKEN_INITIALIZED) && !(ti.flags & CKF_USER_PIN_INITIALIZED),
        "initialized, no user PIN any more (flags 0x%lx)", ti.flags);
    REQUIRE_RV (F->C_OpenSession (c->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &c->rw),
                CKR_OK, "C_OpenSession");
    nf = find (c->rw, NULL, 0, found, N_ELEM (found));
    ok (nf == 0, "no objects left (%ld)", nf);
    is_rv (login (c->rw, CKU_USER, USER_PIN2), CKR_USER_PIN_NOT_INITIALIZED,
           "the old user PIN is gone");
    REQUIRE_RV (login (c->rw, CKU_SO, SO_PIN), CKR_OK, "C_Login SO");
    is_rv (F->C_SetPIN (c->rw, (CK_UTF8CHAR_PTR) SO_PIN, strlen (SO_PIN),
                        (CK_UTF8CHAR_PTR) "87654321", 8),
           CKR_OK, "C_SetPIN of the SO PIN");
    is_rv (F->C_Logout (c->rw), CKR_OK, "C_Logout");
    is_rv (login (c->rw, CKU_SO, "87654321"), CKR_OK, "C_Login SO with the new SO PIN");
    is_rv (F->C_Logout (c->rw), CKR_OK, "C_Logout");
    return true;
}

/* C_Finalize's rules are test-conformance's (INIT-1, INIT-7). */
static bool
test_finalize (run_ctx *c)
{
    printf ("# %s: C_Finalize\n", c->name);
    REQUIRE_RV (F->C_Finalize (NULL), CKR_OK, "C_Finalize");
    return true;
}

static void
scenario (const char *name, const char *prev_label)
{
    run_ctx c;
    bool initialized = false;

    memset (&c, 0, sizeof c);
    c.name = name;
    snprintf (c.label, sizeof c.label, "tpmtrust test %s", name);
    n_runs++;
    if (!test_initialize (&c))
        return;
    initialized = true;
    if (test_slots (&c) && test_sessions (&c) && test_fork (&c) && test_objects (&c)
        && test_keys (&c) && test_digest_random (&c) && test_pins (&c)
        && (prev_label == NULL || (test_previous (&c, prev_label) && test_reinit (&c)))
        && test_finalize (&c))
        initialized = false;
    if (initialized) /* gave up half way: leave the module clean for the next run */
        F->C_Finalize (NULL);
}

int
main (int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv ("TT_MODULE");
    const char *base = getenv ("TT_TMP");
    CK_C_GetFunctionList get_function_list;
    CK_C_GetInterfaceList get_interface_list;
    CK_C_GetInterface get_interface;
    CK_INTERFACE *iface = NULL;
    CK_FUNCTION_LIST *fl = NULL;
    CK_VERSION v30 = { 3, 0 };
    struct timespec t0, t1;
    void *mod;
    int rc;

    setvbuf (stdout, NULL, _IOLBF, 0);
    clock_gettime (CLOCK_MONOTONIC, &t0);
    if (path == NULL || path[0] == '\0') {
        fprintf (stderr, "usage: %s MODULE.so (or set TT_MODULE)\n", argv[0]);
        return 2;
    }
    if (base == NULL || base[0] != '/' || strchr (base, '\'') != NULL
        || strlen (base) > sizeof tmpdir - 32)
        base = "/tmp";
    snprintf (tmpdir, sizeof tmpdir, "%s/test-module.XXXXXX", base);
    if (mkdtemp (tmpdir) == NULL) {
        fprintf (stderr, "mkdtemp %s: %s\n", tmpdir, strerror (errno));
        return 2;
    }

    mod = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    ok (mod != NULL, "dlopen %s%s%s", path, mod ? "" : ": ", mod ? "" : dlerror ());
    if (mod == NULL)
        return tap_done ();
    get_function_list = (CK_C_GetFunctionList) dlsym (mod, "C_GetFunctionList");
    get_interface_list = (CK_C_GetInterfaceList) dlsym (mod, "C_GetInterfaceList");
    get_interface = (CK_C_GetInterface) dlsym (mod, "C_GetInterface");
    ok (get_function_list && get_interface_list && get_interface,
        "the module exports C_GetFunctionList, C_GetInterfaceList, C_GetInterface");
    ok (dlsym (mod, "C_Initialize") == NULL && dlsym (mod, "C_Sign") == NULL,
        "and not the other entry points");
    if (!get_function_list || !get_interface_list || !get_interface)
        return tap_done ();

    /* ---- run 1: the 3.0 interface (its conventions: test-conformance IFACE-*) ---- */
    printf ("# run 1: C_GetInterface\n");
    (void) get_interface_list;
    is_rv (get_interface ((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK,
           "C_GetInterface (\"PKCS 11\", 3.0)");
    if (iface != NULL && iface->pFunctionList != NULL) {
        F3 = iface->pFunctionList;
        F = iface->pFunctionList;
        scenario ("3.0", NULL);
    } else {
        ok (false, "C_GetInterface gave no table");
    }

    /* ---- run 2: the 2.40 function list ---- */
    printf ("# run 2: C_GetFunctionList\n");
    F3 = NULL;
    fl = NULL;
    is_rv (get_function_list (&fl), CKR_OK, "C_GetFunctionList");
    if (fl != NULL) {
        F = fl;
        scenario ("2.40", n_runs == 1 ? "tpmtrust test 3.0" : NULL);
    } else {
        ok (false, "C_GetFunctionList gave no table");
    }

    sh ("rm -f cert.der pub.der in.bin msg.bin sig.der");
    if (rmdir (tmpdir) != 0)
        fprintf (stderr, "rmdir %s: %s\n", tmpdir, strerror (errno));
    /* No dlclose: under ASan it would hide the module's leaks and symbols. */
    clock_gettime (CLOCK_MONOTONIC, &t1);
    printf ("# %.2f s\n", (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    rc = tap_done ();
    return rc;
}
