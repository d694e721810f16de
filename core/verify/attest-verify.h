/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation snapshot bundles (docs/attestation.md): the wire format, its
 * encoder, a bounds-checked parser and the offline verifier. Pure functions of
 * their arguments: no TPM, no store, no global state; OpenSSL and tss2-mu only.
 * Safe on hostile input (every length is checked before it is read), so the
 * same code serves tpmtrust-tool, the module and a fuzzer.
 *
 * Bundle, version 1 (integers big-endian, as in TPM structures):
 *
 *   "TTAT" | u16 version = 1 | u16 flags = 0 | u32 body length B
 *   body: B bytes of fields, each u16 tag | u32 length | value
 *   u16 signature algorithm | u16 signature length | signature
 *
 * The identity key signs bytes [0, 12 + B): header and body.
 */
#ifndef TT_ATTEST_VERIFY_H
#define TT_ATTEST_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATTEST_MAGIC "TTAT"
#define ATTEST_VERSION 1
#define ATTEST_HEADER_LEN 12
#define ATTEST_MAX_NONCE 64
#define ATTEST_MAX_KEYS 16
#define ATTEST_MAX_LEN (1024 * 1024)

/* Field tags. Each appears at most once except ATTEST_KEY (one per certified
 * key, its value is itself a list of ATTEST_KEY_* fields). */
enum attest_tag {
    ATTEST_NONCE = 0x0001,          /* the verifier's nonce, 1..64 bytes */
    ATTEST_TIME = 0x0002,           /* u64 host time, seconds since 1970 (not TPM-attested) */
    ATTEST_IDENTITY = 0x0003,       /* DER SubjectPublicKeyInfo of the identity key */
    ATTEST_IDENTITY_ID = 0x0004,    /* its CKA_ID */
    ATTEST_IDENTITY_LABEL = 0x0005, /* its CKA_LABEL */
    ATTEST_AK_PUBLIC = 0x0010,      /* TPM2B_PUBLIC of the AK */
    ATTEST_EK_PUBLIC = 0x0011,      /* TPM2B_PUBLIC of the EK */
    ATTEST_EK_CERT = 0x0012,        /* DER X.509 EK certificate, when the TPM has one */
    ATTEST_QUOTE = 0x0020,          /* TPMS_ATTEST of TPM2_Quote (tpm2_quote -m) */
    ATTEST_QUOTE_SIG = 0x0021,      /* TPMT_SIGNATURE by the AK (tpm2_quote -s) */
    ATTEST_PCR_VALUES = 0x0022,     /* u16 bank (TPM alg id) | u32 mask | digests in PCR order */
    ATTEST_KEY = 0x0030,            /* a certified key: */
    ATTEST_KEY_ID = 0x0031,         /*   CKA_ID */
    ATTEST_KEY_LABEL = 0x0032,      /*   CKA_LABEL */
    ATTEST_KEY_PUBLIC = 0x0033,     /*   TPM2B_PUBLIC of its TPM object */
    ATTEST_KEY_CERTIFY = 0x0034,    /*   TPMS_ATTEST of TPM2_Certify by the AK */
    ATTEST_KEY_CERTIFY_SIG = 0x0035 /*   TPMT_SIGNATURE by the AK */
};

/* Identity signature algorithms. ECDSA signatures are r || s (2 x field size). */
enum attest_sig_alg {
    ATTEST_SIG_ECDSA_P256_SHA256 = 1,
    ATTEST_SIG_ECDSA_P384_SHA384 = 2,
    ATTEST_SIG_ED25519 = 3
};

typedef struct attest_bytes {
    const uint8_t *p; /* points into the bundle; NULL when absent */
    size_t len;
} attest_bytes;

typedef struct attest_key_view {
    attest_bytes id, label, pub, certify, certify_sig;
} attest_key_view;

/* A parsed bundle: views into the caller's buffer. */
typedef struct attest_bundle {
    uint16_t version;
    attest_bytes signed_part; /* header + body */
    attest_bytes nonce, identity, identity_id, identity_label;
    uint64_t time;
    attest_bytes time_field; /* its 8 bytes; NULL when absent */
    attest_bytes ak_pub, ek_pub, ek_cert, quote, quote_sig;
    uint16_t pcr_bank;
    uint32_t pcr_mask;
    attest_bytes pcr_values; /* the digests only */
    attest_key_view keys[ATTEST_MAX_KEYS];
    size_t n_keys;
    uint16_t sig_alg;
    attest_bytes sig;
} attest_bundle;

/* 0 when b[0, len) is a well-formed version-1 bundle (required fields present,
 * no unknown or repeated field, lengths consistent); else -1 and err says why.
 * Checks no signature. */
int attest_parse (const uint8_t *b, size_t len, attest_bundle *out, char *err, size_t err_len);

/* What the verifier expects. NULL / 0 fields are not expected; the nonce is
 * required (a bundle without the verifier's nonce proves nothing about when). */
typedef struct attest_expect {
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *ak_name; /* the trusted AK name (nameAlg || digest); required */
    size_t ak_name_len;
    const uint8_t *identity; /* DER SPKI of the expected identity key */
    size_t identity_len;
    uint32_t pcr_mask;           /* PCRs with an expected value */
    uint8_t pcr_value[24][64];   /* ... in the bundle's bank */
    size_t pcr_value_len[24];
    const char *ek_ca_file;      /* PEM: trusted roots for the EK certificate chain */
    const char *ek_intermediates_dir; /* certificates (PEM or DER files) the chain may
                                         go through, not trusted themselves; may be NULL */
} attest_expect;

#define ATTEST_MAX_CHECKS 64

typedef struct attest_check {
    char name[32];
    bool ok;
    char detail[240];
} attest_check;

typedef struct attest_report {
    attest_check checks[ATTEST_MAX_CHECKS];
    size_t n;
    int failed;
    /* facts, valid when the matching check passed */
    uint8_t ak_name[2 + 64];
    size_t ak_name_len;
    uint64_t clock, firmware;
    uint32_t reset_count, restart_count;
    bool safe;
    /* the AK is the trusted one (expect->ak_name given and equal to its name) */
    bool ak_trusted;
} attest_report;

/* Verifies a bundle offline. Every check made is in report (name, ok,
 * detail); returns report->failed, 0 when every check passed. Never reads
 * outside bundle[0, len).
 *
 * Fails closed: a bundle proves nothing about a TPM unless its AK is trusted,
 * so without expect->ak_name the check "ak-trust" fails (NOT ESTABLISHED) and
 * the result is never 0; with it, "ak-name" fails when the AK differs. An
 * Ed25519 identity (which no TPM can certify) is trusted only as
 * expect->identity. */
int attest_verify (const uint8_t *bundle, size_t len, const attest_expect *expect,
                   attest_report *report);

/* The TPM name (nameAlg || H(TPMT_PUBLIC)) of a marshalled TPM2B_PUBLIC;
 * name must hold 66 bytes. -1 when pub is malformed. */
int attest_tpm_name (const uint8_t *pub, size_t pub_len, uint8_t *name, size_t *name_len);

/* A marshalled TPM2B_PUBLIC (ECC or RSA) as PEM SubjectPublicKeyInfo, malloc'd
 * NUL-terminated; NULL when it is no such key. */
char *attest_public_pem (const uint8_t *pub, size_t pub_len);

/* A public key, PEM or DER, as DER SubjectPublicKeyInfo (malloc'd); NULL if it
 * is none. */
uint8_t *attest_spki_from (const uint8_t *data, size_t len, size_t *out_len);

/* Encoder: a growing buffer; a failed allocation sets failed and later calls
 * do nothing. */
typedef struct attest_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} attest_buf;

void attest_buf_put (attest_buf *b, const void *data, size_t len);
void attest_buf_u16 (attest_buf *b, uint16_t v);
void attest_buf_u32 (attest_buf *b, uint32_t v);
void attest_buf_u64 (attest_buf *b, uint64_t v);
/* One field: tag, length, value. */
void attest_buf_field (attest_buf *b, uint16_t tag, const void *value, size_t len);
/* A field whose value follows: returns a mark for attest_buf_close. */
size_t attest_buf_open (attest_buf *b, uint16_t tag);
void attest_buf_close (attest_buf *b, size_t mark);
void attest_buf_free (attest_buf *b);

/*
 * TPM2_MakeCredential in software, for a verifier holding an EK public key
 * (marshalled TPM2B_PUBLIC: RSA with OAEP, or ECC with ECDH; the EK's nameAlg
 * and symmetric definition). secret: 1..32 bytes; ak_name: the name the
 * credential is bound to. out (malloc'd): tpm2-tools' credential file,
 * 0xBADCC0DE | u32 1 | TPM2B_ID_OBJECT | TPM2B_ENCRYPTED_SECRET.
 * 0, or -1 with err.
 */
int attest_make_credential (const uint8_t *ek_pub, size_t ek_len, const uint8_t *ak_name,
                            size_t name_len, const uint8_t *secret, size_t secret_len,
                            uint8_t **out, size_t *out_len, char *err, size_t err_len);
/* Splits a credential file into its TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET
 * (views into file, with their size prefixes). */
int attest_credential_split (const uint8_t *file, size_t len, attest_bytes *id_object,
                             attest_bytes *enc_secret);

#endif
