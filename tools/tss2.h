/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TSS2 key files: "-----BEGIN TSS2 PRIVATE KEY-----", the format tpm2-openssl,
 * tpm2-tss-engine and openssl_tpm2_engine share:
 *   TPMKey ::= SEQUENCE { type OID (2.23.133.10.1.3, loadable key),
 *       emptyAuth [0] EXPLICIT BOOLEAN OPTIONAL, policy [1], secret [2] (unsupported),
 *       parent INTEGER, pubkey OCTET STRING (TPM2B_PUBLIC), privkey OCTET STRING (TPM2B_PRIVATE) }
 */
#ifndef TT_TSS2_H
#define TT_TSS2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tss2_key {
    uint8_t *pub, *priv; /* malloc'd */
    size_t pub_len, priv_len;
    bool empty_auth;
    uint32_t parent;
} tss2_key;

/* 0 on success; -1 with a message in err. */
int tss2_read (const char *path, tss2_key *k, char *err, size_t err_len);
/* The same from the file's bytes in memory (PEM). */
int tss2_parse (const uint8_t *pem, size_t pem_len, tss2_key *k, char *err, size_t err_len);
int tss2_write (const char *path, const tss2_key *k, char *err, size_t err_len);
void tss2_key_clear (tss2_key *k);

#endif
