/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "fuzz/fuzz-common.h"
#include "pkcs11-tpmtrust.h"

CK_RV C_GetInterface (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR out,
                      CK_FLAGS flags);

void
fz_init (fz *f, const uint8_t *data, size_t len)
{
    memset (f, 0, sizeof *f);
    f->p = data;
    f->n = len;
}

void
fz_done (fz *f)
{
    for (size_t i = 0; i < f->n_arena; i++)
        free (f->arena[i]);
    free (f->arena);
    f->arena = NULL;
    f->n_arena = 0;
}

uint8_t
fz_u8 (fz *f)
{
    if (f->n == 0)
        return 0;
    f->n--;
    return *f->p++;
}

uint32_t
fz_u32 (fz *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t) fz_u8 (f) << (8 * i);
    return v;
}

CK_ULONG
fz_ulong (fz *f)
{
    CK_ULONG v = 0;
    for (size_t i = 0; i < sizeof v; i++)
        v |= (CK_ULONG) fz_u8 (f) << (8 * i);
    return v;
}

bool
fz_bool (fz *f)
{
    return fz_u8 (f) & 1;
}

size_t
fz_len (fz *f, size_t max)
{
    uint8_t b = fz_u8 (f);
    size_t v = b < 0xff ? b : (size_t) fz_u32 (f); /* large lengths are rare: they cost */
    return v > max ? max : v;
}

size_t
fz_pick (fz *f, size_t n)
{
    return n ? fz_u8 (f) % n : 0;
}

void *
fz_alloc (fz *f, size_t len)
{
    void **grown = realloc (f->arena, (f->n_arena + 1) * sizeof *grown);
    void *p = calloc (1, len ? len : 1);
    if (grown == NULL || p == NULL)
        abort (); /* the harness itself is out of memory */
    f->arena = grown;
    f->arena[f->n_arena++] = p;
    return p;
}

uint8_t *
fz_bytes (fz *f, size_t len)
{
    uint8_t *p = fz_alloc (f, len);
    size_t take = len < f->n ? len : f->n;
    memcpy (p, f->p, take);
    f->p += take;
    f->n -= take;
    return p;
}

/* Attribute types with their value kinds. */
enum { V_BYTES, V_BOOL, V_ULONG };

static const struct {
    CK_ATTRIBUTE_TYPE type;
    int kind;
} attr_kinds[] = {
    { CKA_CLASS, V_ULONG },
    { CKA_TOKEN, V_BOOL },
    { CKA_PRIVATE, V_BOOL },
    { CKA_LABEL, V_BYTES },
    { CKA_APPLICATION, V_BYTES },
    { CKA_VALUE, V_BYTES },
    { CKA_OBJECT_ID, V_BYTES },
    { CKA_CERTIFICATE_TYPE, V_ULONG },
    { CKA_ISSUER, V_BYTES },
    { CKA_SERIAL_NUMBER, V_BYTES },
    { CKA_TRUSTED, V_BOOL },
    { CKA_CERTIFICATE_CATEGORY, V_ULONG },
    { CKA_CHECK_VALUE, V_BYTES },
    { CKA_KEY_TYPE, V_ULONG },
    { CKA_SUBJECT, V_BYTES },
    { CKA_ID, V_BYTES },
    { CKA_SENSITIVE, V_BOOL },
    { CKA_ENCRYPT, V_BOOL },
    { CKA_DECRYPT, V_BOOL },
    { CKA_WRAP, V_BOOL },
    { CKA_UNWRAP, V_BOOL },
    { CKA_SIGN, V_BOOL },
    { CKA_SIGN_RECOVER, V_BOOL },
    { CKA_VERIFY, V_BOOL },
    { CKA_VERIFY_RECOVER, V_BOOL },
    { CKA_DERIVE, V_BOOL },
    { CKA_START_DATE, V_BYTES },
    { CKA_END_DATE, V_BYTES },
    { CKA_VALUE_LEN, V_ULONG },
    { CKA_EXTRACTABLE, V_BOOL },
    { CKA_LOCAL, V_BOOL },
    { CKA_NEVER_EXTRACTABLE, V_BOOL },
    { CKA_ALWAYS_SENSITIVE, V_BOOL },
    { CKA_KEY_GEN_MECHANISM, V_ULONG },
    { CKA_MODIFIABLE, V_BOOL },
    { CKA_COPYABLE, V_BOOL },
    { CKA_DESTROYABLE, V_BOOL },
    { CKA_EC_PARAMS, V_BYTES },
    { CKA_EC_POINT, V_BYTES },
    { CKA_ALWAYS_AUTHENTICATE, V_BOOL },
    { CKA_WRAP_WITH_TRUSTED, V_BOOL },
    { CKA_ALLOWED_MECHANISMS, V_BYTES },
    { CKA_PUBLIC_KEY_INFO, V_BYTES },
    { CKA_URL, V_BYTES },
    { CKA_HASH_OF_SUBJECT_PUBLIC_KEY, V_BYTES },
    { CKA_HASH_OF_ISSUER_PUBLIC_KEY, V_BYTES },
    { CKA_NAME_HASH_ALGORITHM, V_ULONG },
    { CKA_JAVA_MIDP_SECURITY_DOMAIN, V_ULONG },
    { CKA_MODULUS, V_BYTES },
    { CKA_MODULUS_BITS, V_ULONG },
    { CKA_WRAP_TEMPLATE, V_BYTES },
    { CKA_TPMTRUST_TPM_KEY, V_BOOL },
    { CKA_TPMTRUST_PCR_MASK, V_ULONG },
    { CKA_TPMTRUST_PCR_BANK, V_ULONG },
    { CKA_TPMTRUST_PCR_VALUES, V_BYTES },
    { CKA_TPMTRUST_NV_INDEX, V_ULONG },
    { CKA_VENDOR_DEFINED, V_BYTES },
    { 0x7fffffffUL, V_BYTES },
};

#define N_ATTR_KINDS (sizeof attr_kinds / sizeof attr_kinds[0])

const CK_MECHANISM_TYPE fuzz_mechs[] = {
    CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384, CKM_ECDSA_SHA512, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA,
    CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL, CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKM_SHA512_HMAC,
    CKM_SHA512_HMAC_GENERAL, CKM_TPMTRUST_WATCHDOG_DERIVE, CKM_TPMTRUST_HEARTBEAT, CKM_SHA_1,
    CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_RSA_PKCS, CKM_AES_CBC,
    CKM_ECDH1_DERIVE, CKM_VENDOR_DEFINED,
};
const size_t fuzz_n_mechs = sizeof fuzz_mechs / sizeof fuzz_mechs[0];

/* Values that take a template deep: curve OIDs, points, dates, mechanisms. */
static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t p384_oid[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const uint8_t ed_name[] = "\x13\x0c" "edwards25519";
static const uint8_t p256_g[] = { /* the P-256 generator, DER OCTET STRING */
    0x04, 0x41, 0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
    0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39,
    0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7,
    0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb,
    0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};
static const uint8_t ed_b[] = { /* the Ed25519 base point, DER OCTET STRING */
    0x04, 0x20, 0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
};
static const uint8_t date[] = "20240229";
static const CK_MECHANISM_TYPE mechs_allowed[] = { CKM_ECDSA, CKM_SHA256_HMAC, CKM_EDDSA };

static const struct {
    const void *v;
    size_t len;
} canned[] = {
    { p256_oid, sizeof p256_oid }, { p384_oid, sizeof p384_oid }, { ed_oid, sizeof ed_oid },
    { ed_name, sizeof ed_name - 1 }, { p256_g, sizeof p256_g },   { p256_g + 2, sizeof p256_g - 2 },
    { ed_b, sizeof ed_b },           { ed_b + 2, sizeof ed_b - 2 }, { date, 8 },
    { mechs_allowed, sizeof mechs_allowed },
};

CK_ATTRIBUTE *
fz_template (fz *f, size_t max, CK_ULONG *count)
{
    size_t n = fz_len (f, max);
    CK_ATTRIBUTE *t = fz_alloc (f, n * sizeof *t);

    for (size_t i = 0; i < n; i++) {
        uint8_t how = fz_u8 (f);
        size_t k = fz_pick (f, N_ATTR_KINDS);
        int kind = attr_kinds[k].kind;
        size_t len;

        t[i].type = (how & 0x80) ? fz_ulong (f) : attr_kinds[k].type;
        switch (how & 0x7) {
        case 0: /* a value of the attribute's kind */
        case 1:
        case 2:
            len = kind == V_BOOL ? sizeof (CK_BBOOL) : kind == V_ULONG ? sizeof (CK_ULONG)
                                                                      : fz_len (f, 4096);
            t[i].pValue = fz_bytes (f, len);
            t[i].ulValueLen = len;
            break;
        case 3: { /* a canned value */
            size_t c = fz_pick (f, sizeof canned / sizeof canned[0]);
            t[i].pValue = fz_alloc (f, canned[c].len);
            memcpy (t[i].pValue, canned[c].v, canned[c].len);
            t[i].ulValueLen = canned[c].len;
            break;
        }
        case 4: /* empty */
            t[i].pValue = fz_bool (f) ? NULL : fz_alloc (f, 0);
            t[i].ulValueLen = 0;
            break;
        case 5: /* NULL with a length: a caller error the module must catch */
            t[i].pValue = NULL;
            t[i].ulValueLen = fz_ulong (f);
            break;
        default: /* any bytes */
            len = fz_len (f, 8192);
            t[i].pValue = fz_bytes (f, len);
            t[i].ulValueLen = len;
            break;
        }
    }
    *count = n;
    return t;
}

CK_MECHANISM *
fz_mechanism (fz *f)
{
    CK_MECHANISM *m = fz_alloc (f, sizeof *m);
    uint8_t how = fz_u8 (f);
    size_t len;

    m->mechanism = (how & 0x80) ? fz_ulong (f) : fuzz_mechs[fz_pick (f, fuzz_n_mechs)];
    switch (how & 0x3) {
    case 0: /* none */
        break;
    case 1: /* the parameter the mechanism takes */
        if (m->mechanism == CKM_EDDSA) {
            CK_EDDSA_PARAMS *p = fz_alloc (f, sizeof *p);
            p->phFlag = fz_u8 (f);
            p->ulContextDataLen = fz_len (f, 512);
            p->pContextData = fz_bool (f) ? fz_bytes (f, p->ulContextDataLen) : NULL;
            m->pParameter = p;
            m->ulParameterLen = sizeof *p;
        } else if (m->mechanism == CKM_TPMTRUST_WATCHDOG_DERIVE) {
            CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS *p = fz_alloc (f, sizeof *p);
            p->ulBootIdLen = fz_len (f, 512);
            p->pBootId = fz_bool (f) ? fz_bytes (f, p->ulBootIdLen) : NULL;
            p->ulLabelLen = fz_len (f, 512);
            p->pLabel = fz_bool (f) ? fz_bytes (f, p->ulLabelLen) : NULL;
            m->pParameter = p;
            m->ulParameterLen = sizeof *p;
        } else if (m->mechanism == CKM_TPMTRUST_HEARTBEAT) {
            m->pParameter = fz_bytes (f, sizeof (CK_TPMTRUST_HEARTBEAT_PARAMS));
            m->ulParameterLen = sizeof (CK_TPMTRUST_HEARTBEAT_PARAMS);
        } else {
            CK_ULONG *v = fz_alloc (f, sizeof *v); /* *_HMAC_GENERAL: the MAC length */
            *v = fz_u8 (f);
            m->pParameter = v;
            m->ulParameterLen = sizeof *v;
        }
        break;
    case 2: /* any bytes; never the size of a struct that holds pointers */
        len = fz_len (f, 1024);
        if (len == sizeof (CK_EDDSA_PARAMS) || len == sizeof (CK_TPMTRUST_WATCHDOG_DERIVE_PARAMS))
            len++;
        m->pParameter = fz_bytes (f, len);
        m->ulParameterLen = len;
        break;
    default: /* NULL with a length */
        m->ulParameterLen = fz_ulong (f);
        break;
    }
    return m;
}

void
fuzz_env (void)
{
    setenv ("TPMTRUST_TCTI", "swtpm:host=127.0.0.1,port=1", 1);
    setenv ("TPMTRUST_STORE", ":memory:", 1);
    setenv ("TPMTRUST_CONF", "/dev/null", 1);
    setenv ("TPMTRUST_LOG_LEVEL", "trace", 0); /* the caller may choose */
    setenv ("TPMTRUST_LOG_FILE", "/dev/null", 0);
    setenv ("TSS2_LOG", "all+none", 1);
}

CK_FUNCTION_LIST_3_0 *
fuzz_module (void)
{
    CK_INTERFACE *iface = NULL;
    if (C_GetInterface (NULL, NULL, &iface, 0) != CKR_OK || iface == NULL)
        abort ();
    return iface->pFunctionList;
}

CK_SLOT_ID
fuzz_add_token (void)
{
    store_token t = { 0 };
    store *st = NULL;
    CK_SLOT_ID id;

    snprintf (t.label, sizeof t.label, "fuzz");
    snprintf (t.serial, sizeof t.serial, "0123456789abcdef");
    if (core_store (&st) != CKR_OK || store_blob_set (&t.salt, "0123456789abcdef", 16) != CKR_OK
        || store_blob_set (&t.so_pub, "pub", 3) != CKR_OK
        || store_blob_set (&t.so_priv, "priv", 4) != CKR_OK
        || store_token_add (st, &t, 0) != CKR_OK)
        abort ();
    id = (CK_SLOT_ID) t.id;
    store_token_clear (&t);
    return id;
}

static const uint8_t secret[32] = "fuzz token secret, 32 bytes ...";

const uint8_t *
fuzz_secret (void)
{
    return secret;
}

void
fuzz_fake_login (CK_SLOT_ID slot)
{
    tt_token *tok;
    if (core_slot_enter (slot, &tok) != CKR_OK)
        abort ();
    if (tok->secret == NULL) {
        tok->secret = secbuf_dup (secret, sizeof secret);
        tok->login = CKU_USER;
    }
    core_leave (tok);
}

void
fuzz_check_secbufs (void)
{
    if (secbuf_live () != 0) {
        fprintf (stderr, "fuzz: %zu secbufs not freed after C_Finalize\n", secbuf_live ());
        abort ();
    }
}
