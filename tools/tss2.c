/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/tss2.h"

#define TSS2_LOADABLE_OID "2.23.133.10.1.3"
#define TSS2_PEM_NAME "TSS2 PRIVATE KEY"
#define TSS2_MAX_FILE (1024 * 1024) /* a key file is a few hundred bytes */

typedef struct {
    ASN1_OBJECT *type;
    ASN1_BOOLEAN empty_auth;
    ASN1_OCTET_STRING *secret;
    ASN1_INTEGER *parent;
    ASN1_OCTET_STRING *pubkey;
    ASN1_OCTET_STRING *privkey;
} TSS2KEY;

DECLARE_ASN1_FUNCTIONS (TSS2KEY)

ASN1_SEQUENCE (TSS2KEY) = {
    ASN1_SIMPLE (TSS2KEY, type, ASN1_OBJECT),
    /* a plain BOOLEAN, so that FALSE is written, not left out: tpm2-openssl
     * before 1.3.0 takes an absent emptyAuth for TRUE and never asks for the
     * password (then TPM_RC_AUTH_FAIL); tpm2-openssl writes it so too */
    ASN1_EXP_OPT (TSS2KEY, empty_auth, ASN1_BOOLEAN, 0),
    ASN1_EXP_OPT (TSS2KEY, secret, ASN1_OCTET_STRING, 2),
    ASN1_SIMPLE (TSS2KEY, parent, ASN1_INTEGER),
    ASN1_SIMPLE (TSS2KEY, pubkey, ASN1_OCTET_STRING),
    ASN1_SIMPLE (TSS2KEY, privkey, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END (TSS2KEY)

IMPLEMENT_ASN1_FUNCTIONS (TSS2KEY)

static int
say (char *err, size_t err_len, const char *msg)
{
    snprintf (err, err_len, "%s", msg);
    return -1;
}

void
tss2_key_clear (tss2_key *k)
{
    free (k->pub);
    free (k->priv);
    memset (k, 0, sizeof *k);
}

static int
take (const ASN1_OCTET_STRING *s, uint8_t **out, size_t *len)
{
    *len = (size_t) ASN1_STRING_length (s);
    *out = malloc (*len ? *len : 1);
    if (*out == NULL)
        return -1;
    memcpy (*out, ASN1_STRING_get0_data (s), *len);
    return 0;
}

int
tss2_parse (const uint8_t *pem, size_t pem_len, tss2_key *k, char *err, size_t err_len)
{
    BIO *bio = NULL;
    char *name = NULL, *header = NULL, oid[64];
    unsigned char *der = NULL;
    const unsigned char *p;
    long der_len = 0, parent;
    TSS2KEY *key = NULL;
    int ret = -1;

    memset (k, 0, sizeof *k);
    if (pem_len > INT_MAX || (bio = BIO_new_mem_buf (pem, (int) pem_len)) == NULL)
        return say (err, err_len, "cannot read the key file");
    if (!PEM_read_bio (bio, &name, &header, &der, &der_len) || strcmp (name, TSS2_PEM_NAME) != 0) {
        say (err, err_len, "not a PEM file with a '-----BEGIN TSS2 PRIVATE KEY-----' block");
        goto out;
    }
    p = der;
    key = d2i_TSS2KEY (NULL, &p, der_len);
    if (key == NULL || p != der + der_len) {
        say (err, err_len, "the TSS2 key is malformed (or carries a policy, which is not "
                           "supported)");
        goto out;
    }
    OBJ_obj2txt (oid, sizeof oid, key->type, 1);
    if (strcmp (oid, TSS2_LOADABLE_OID) != 0) {
        snprintf (err, err_len, "key type %s: only loadable keys (%s) are supported", oid,
                  TSS2_LOADABLE_OID);
        goto out;
    }
    if (key->secret != NULL) {
        say (err, err_len, "importable keys (with a secret) are not supported");
        goto out;
    }
    parent = ASN1_INTEGER_get (key->parent);
    if (parent < 0 || parent > 0xffffffffL) {
        say (err, err_len, "bad parent handle");
        goto out;
    }
    k->parent = (uint32_t) parent;
    k->empty_auth = key->empty_auth > 0; /* absent (-1): the key has a password */
    if (take (key->pubkey, &k->pub, &k->pub_len) != 0
        || take (key->privkey, &k->priv, &k->priv_len) != 0) {
        tss2_key_clear (k);
        say (err, err_len, "out of memory");
        goto out;
    }
    ret = 0;
out:
    ERR_clear_error ();
    TSS2KEY_free (key);
    OPENSSL_free (name);
    OPENSSL_free (header);
    OPENSSL_free (der);
    BIO_free (bio);
    return ret;
}

int
tss2_read (const char *path, tss2_key *k, char *err, size_t err_len)
{
    FILE *f = fopen (path, "re");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, n;
    int ret = -1;

    memset (k, 0, sizeof *k);
    if (f == NULL)
        return say (err, err_len, "cannot open the key file");
    do {
        if (len == cap) {
            uint8_t *grown = cap < TSS2_MAX_FILE ? realloc (buf, cap += 4096) : NULL;
            if (grown == NULL) {
                say (err, err_len, "the key file is too large");
                goto out;
            }
            buf = grown;
        }
        n = fread (buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    if (ferror (f))
        say (err, err_len, "cannot read the key file");
    else
        ret = tss2_parse (buf, len, k, err, err_len);
out:
    free (buf);
    fclose (f);
    return ret;
}

int
tss2_write (const char *path, const tss2_key *k, char *err, size_t err_len)
{
    TSS2KEY *key = TSS2KEY_new ();
    unsigned char *der = NULL;
    int der_len, ret = -1, fd;
    FILE *f = NULL;

    if (key == NULL)
        return say (err, err_len, "out of memory");
    key->type = OBJ_txt2obj (TSS2_LOADABLE_OID, 1);
    key->empty_auth = k->empty_auth ? 0xff : 0; /* present either way */
    if (key->type == NULL || !ASN1_INTEGER_set (key->parent, (long) k->parent)
        || !ASN1_OCTET_STRING_set (key->pubkey, k->pub, (int) k->pub_len)
        || !ASN1_OCTET_STRING_set (key->privkey, k->priv, (int) k->priv_len)
        || (der_len = i2d_TSS2KEY (key, &der)) <= 0) {
        say (err, err_len, "cannot encode the key");
        goto out;
    }
    /* 0600 whatever the umask (the file is a usable key on this TPM), never
     * written over */
    fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, err_len, "%s", errno == EEXIST ? "the file exists already: not overwritten"
                                                      : strerror (errno));
        goto out;
    }
    if ((f = fdopen (fd, "w")) == NULL) {
        snprintf (err, err_len, "%s", strerror (errno));
        close (fd);
        unlink (path);
        goto out;
    }
    if (!PEM_write (f, TSS2_PEM_NAME, "", der, der_len)) {
        say (err, err_len, "cannot write the file");
        goto out;
    }
    ret = 0;
out:
    if (f != NULL && fclose (f) != 0 && ret == 0)
        ret = say (err, err_len, "cannot write the file");
    if (f != NULL && ret != 0)
        unlink (path); /* ours, and incomplete */
    OPENSSL_free (der);
    TSS2KEY_free (key);
    return ret;
}
