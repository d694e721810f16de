/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Attestation bundles: the offline verifier (each check named in the report).
 * The format is in bundle.c, TPM structures in tpm-struct.c, MakeCredential in
 * credential.c. See attest-verify.h and docs/attestation.md. Pure: nothing here
 * talks to a TPM or keeps state; every read is bounds-checked.
 */
#include "config.h"

#include <dirent.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "verify/attest-verify.h"
#include "verify/attest-internal.h"

/* ---- verifier ---- */

static void
hex (const uint8_t *p, size_t len, char *out, size_t out_len)
{
    size_t i;
    if (out_len == 0)
        return;
    out[0] = '\0';
    for (i = 0; i < len && 2 * i + 2 < out_len; i++)
        snprintf (out + 2 * i, 3, "%02x", p[i]);
    if (i < len && out_len > 4)
        memcpy (out + out_len - 4, "...", 4);
}

static bool
report (attest_report *r, const char *name, bool ok, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static bool
report (attest_report *r, const char *name, bool ok, const char *fmt, ...)
{
    va_list ap;
    attest_check *c;

    if (!ok)
        r->failed++;
    if (r->n == ATTEST_MAX_CHECKS)
        return ok;
    c = &r->checks[r->n++];
    snprintf (c->name, sizeof c->name, "%s", name);
    c->ok = ok;
    va_start (ap, fmt);
    vsnprintf (c->detail, sizeof c->detail, fmt, ap);
    va_end (ap);
    return ok;
}

static bool
bytes_eq (const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp (a, b, a_len) == 0);
}

/* The identity key signed the header and body. */
static void
check_identity (const attest_bundle *b, const attest_expect *e, attest_report *r)
{
    const uint8_t *p = b->identity.p;
    EVP_PKEY *pkey = d2i_PUBKEY (NULL, &p, (long) b->identity.len);
    const EVP_MD *md = NULL;
    uint8_t *der = NULL;
    size_t half = 0, der_len = 0;
    bool ok = false;

    if (pkey == NULL || p != b->identity.p + b->identity.len) {
        report (r, "identity-signature", false, "the identity key is not a DER public key");
        EVP_PKEY_free (pkey);
        return;
    }
    if (b->sig_alg == ATTEST_SIG_ED25519 && EVP_PKEY_is_a (pkey, "ED25519")) {
        ok = attest_pkey_verify (pkey, NULL, b->signed_part.p, b->signed_part.len, b->sig.p,
                                 b->sig.len);
    } else if ((b->sig_alg == ATTEST_SIG_ECDSA_P256_SHA256
                || b->sig_alg == ATTEST_SIG_ECDSA_P384_SHA384)
               && EVP_PKEY_is_a (pkey, "EC")) {
        half = b->sig_alg == ATTEST_SIG_ECDSA_P256_SHA256 ? 32 : 48;
        md = half == 32 ? EVP_sha256 () : EVP_sha384 ();
        if (b->sig.len == 2 * half && EVP_PKEY_get_bits (pkey) == (int) (8 * half))
            der = attest_ecdsa_der (b->sig.p, half, b->sig.p + half, half, &der_len);
        ok = der != NULL
             && attest_pkey_verify (pkey, md, b->signed_part.p, b->signed_part.len, der, der_len);
    }
    if (ok)
        report (r, "identity-signature", true, "the %s identity key '%.*s' signed the bundle",
                EVP_PKEY_get0_type_name (pkey),
                (int) (b->identity_label.len < 64 ? b->identity_label.len : 64),
                b->identity_label.p ? (const char *) b->identity_label.p : "");
    else
        report (r, "identity-signature", false,
                "the bundle's signature (algorithm %u) does not verify with its identity key: "
                "the bundle was altered or not signed by that key",
                b->sig_alg);
    OPENSSL_free (der);
    EVP_PKEY_free (pkey);
    if (e->identity != NULL)
        report (r, "identity-expected",
                bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len),
                "the identity key is %sthe expected one",
                bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len) ? ""
                                                                                        : "NOT ");
}

#define AK_REQUIRED (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM \
                     | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)

/* A restricted signing key: only such a key proves the TPM made what it signs. */
static bool
check_ak (const attest_bundle *b, const attest_expect *e, attest_report *r, TPM2B_PUBLIC *ak)
{
    char h[2 * sizeof r->ak_name + 1];
    bool ok;

    if (attest_unmarshal_public (b->ak_pub.p, b->ak_pub.len, ak) != 0
        || attest_tpm_name (b->ak_pub.p, b->ak_pub.len, r->ak_name, &r->ak_name_len) != 0)
        return report (r, "ak-public", false, "the AK public area is not a TPM2B_PUBLIC");
    ok = (ak->publicArea.objectAttributes & AK_REQUIRED) == AK_REQUIRED
         && !(ak->publicArea.objectAttributes & TPMA_OBJECT_DECRYPT);
    report (r, "ak-public", ok,
            ok ? "restricted signing key, fixedTPM, fixedParent, sensitiveDataOrigin, as its "
                 "public area says (attributes 0x%08x)"
               : "attributes 0x%08x: not a restricted, TPM-bound signing key, so its signatures "
                 "prove nothing",
            ak->publicArea.objectAttributes);
    hex (r->ak_name, r->ak_name_len, h, sizeof h);
    /* Fail closed: nothing in a bundle ties its AK to a TPM. Its attributes,
     * the quote's qualified signer and the EK (with its certificate) are the
     * bundle's own claims, which software can make as well; only a trusted AK
     * name, learned out of band (credential activation), authenticates it. */
    if (e->ak_name != NULL) {
        r->ak_trusted = bytes_eq (e->ak_name, e->ak_name_len, r->ak_name, r->ak_name_len);
        report (r, "ak-name", r->ak_trusted, "%s (%s the trusted AK name)", h,
                r->ak_trusted ? "matches" : "DIFFERS from");
    } else {
        report (r, "ak-trust", false,
                "NOT ESTABLISHED: no trusted AK name given (--ak-name): nothing ties AK %s to a "
                "TPM, a bundle made in software passes every other check; learn the AK name "
                "by credential activation against the EK (docs/attestation.md)",
                h);
    }
    return ok;
}

/* The AK signed a TPM-generated attestation of type want (the return value:
 * its contents can be trusted), carrying the nonce (reported apart). */
static bool
check_attest (const char *what, attest_bytes att, attest_bytes sig, uint16_t want,
              const TPM2B_PUBLIC *ak, const attest_expect *e, attest_report *r,
              TPMS_ATTEST *out)
{
    char name[32], why[128] = "";
    bool ok, signed_ok;

    snprintf (name, sizeof name, "%s-signature", what);
    signed_ok = attest_tpm_sig_verify (&ak->publicArea, att.p, att.len, sig, why, sizeof why);
    report (r, name, signed_ok, signed_ok ? "the AK signed it" : "%s", why);
    snprintf (name, sizeof name, "%s-structure", what);
    if (attest_unmarshal_attest (att, out) != 0)
        return report (r, name, false, "not a TPMS_ATTEST");
    if (out->magic != TPM2_GENERATED_VALUE || out->type != want)
        return report (r, name, false, "magic 0x%08x type 0x%04x: not a TPM-generated %s",
                       out->magic, out->type, want == TPM2_ST_ATTEST_QUOTE ? "quote" : "certify");
    report (r, name, true, "TPM-generated (magic 0xff544347), type 0x%04x", out->type);
    snprintf (name, sizeof name, "%s-nonce", what);
    ok = e->nonce != NULL
         && bytes_eq (out->extraData.buffer, out->extraData.size, e->nonce, e->nonce_len);
    report (r, name, ok, ok ? "carries the expected nonce"
                         : e->nonce ? "its qualifying data is not the expected nonce"
                                    : "no expected nonce given");
    return signed_ok;
}

static size_t
pcr_count (uint32_t mask)
{
    return (size_t) __builtin_popcount (mask);
}

/* The hash of a TPMT_SIGNATURE's scheme (ECDSA or RSASSA); NULL for others. */
static const EVP_MD *
sig_md (attest_bytes sig)
{
    TPMT_SIGNATURE s;
    size_t off = 0;

    memset (&s, 0, sizeof s);
    if (Tss2_MU_TPMT_SIGNATURE_Unmarshal (sig.p, sig.len, &off, &s) != TSS2_RC_SUCCESS)
        return NULL;
    if (s.sigAlg == TPM2_ALG_ECDSA)
        return attest_tpm_md (s.signature.ecdsa.hash);
    if (s.sigAlg == TPM2_ALG_RSASSA)
        return attest_tpm_md (s.signature.rsassa.hash);
    return NULL;
}

/* TPM2_Quote's pcrDigest is the hash, with the signing scheme's hash (not the
 * bank's), of the selected PCR values concatenated in selection order. */
static void
check_pcrs (const attest_bundle *b, const attest_expect *e, const TPMS_ATTEST *q,
            attest_report *r)
{
    const TPML_PCR_SELECTION *sel = &q->attested.quote.pcrSelect;
    const EVP_MD *md = attest_tpm_md (b->pcr_bank), *qmd = sig_md (b->quote_sig);
    size_t size = md ? (size_t) EVP_MD_get_size (md) : 0;
    uint8_t digest[64];
    unsigned int dl = 0;
    uint32_t mask = 0;
    bool ok;

    if (sel->count == 1 && sel->pcrSelections[0].hash == b->pcr_bank
        && sel->pcrSelections[0].sizeofSelect <= 4)
        for (int i = 0; i < sel->pcrSelections[0].sizeofSelect; i++)
            mask |= (uint32_t) sel->pcrSelections[0].pcrSelect[i] << (8 * i);
    ok = (sel->count == 0 && b->pcr_mask == 0) || (sel->count == 1 && mask == b->pcr_mask);
    if (!ok || md == NULL || qmd == NULL || b->pcr_mask > 0xffffff
        || b->pcr_values.len != pcr_count (b->pcr_mask) * size) {
        report (r, "pcr-digest", false,
                "the PCR values (bank 0x%04x, mask 0x%06x, %zu bytes) do not match the quote's "
                "selection",
                b->pcr_bank, b->pcr_mask, b->pcr_values.len);
        return;
    }
    EVP_Digest (b->pcr_values.p, b->pcr_values.len, digest, &dl, qmd, NULL);
    ok = bytes_eq (digest, dl, q->attested.quote.pcrDigest.buffer,
                   q->attested.quote.pcrDigest.size);
    report (r, "pcr-digest", ok,
            ok ? "the %zu PCR values hash to the quoted digest"
               : "the %zu PCR values do NOT hash to the quoted digest (values altered)",
            pcr_count (b->pcr_mask));
    for (int i = 0; i < 24; i++) {
        char name[16], want[130], got[130];
        size_t idx = pcr_count (b->pcr_mask & ((1u << i) - 1));
        if (!(e->pcr_mask & (1u << i)))
            continue;
        snprintf (name, sizeof name, "pcr-%d", i);
        if (!(b->pcr_mask & (1u << i))) {
            report (r, name, false, "PCR %d is not in the quote", i);
            continue;
        }
        hex (b->pcr_values.p + idx * size, size, got, sizeof got);
        hex (e->pcr_value[i], e->pcr_value_len[i], want, sizeof want);
        ok = bytes_eq (e->pcr_value[i], e->pcr_value_len[i], b->pcr_values.p + idx * size, size);
        report (r, name, ok, ok ? "%s as expected" : "%s, expected %s", got, want);
    }
}

/* The AK's qualified name says it is a primary key of the endorsement hierarchy. */
static void
check_hierarchy (const TPMS_ATTEST *q, const attest_report *r, attest_report *out)
{
    static const uint8_t endorsement[4] = { 0x40, 0x00, 0x00, 0x0b };
    uint8_t buf[4 + sizeof r->ak_name], qn[2 + 64];
    unsigned int n = 0;
    const EVP_MD *md = r->ak_name_len >= 2 ? attest_tpm_md (attest_be16 (r->ak_name)) : NULL;
    bool ok;

    memcpy (buf, endorsement, 4);
    memcpy (buf + 4, r->ak_name, r->ak_name_len);
    qn[0] = r->ak_name[0];
    qn[1] = r->ak_name[1];
    ok = md != NULL && EVP_Digest (buf, 4 + r->ak_name_len, qn + 2, &n, md, NULL)
         && bytes_eq (qn, 2 + n, q->qualifiedSigner.name, q->qualifiedSigner.size);
    report (out, "ak-hierarchy", ok,
            ok ? "the quote names the AK a primary key of the endorsement hierarchy (the AK's "
                 "own statement: worth what the AK's trust is)"
               : "the quote's qualified signer is not an endorsement-hierarchy primary AK");
}

#define KEY_REQUIRED (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)

static void
check_keys (const attest_bundle *b, const attest_expect *e, const TPM2B_PUBLIC *ak,
            const TPMS_ATTEST *q, attest_report *r)
{
    const uint8_t *ip = b->identity.p;
    EVP_PKEY *identity = d2i_PUBKEY (NULL, &ip, (long) b->identity.len);
    size_t identity_at = 0; /* 1-based: the certified key that is the identity */

    for (size_t i = 0; i < b->n_keys; i++) {
        const attest_key_view *k = &b->keys[i];
        char what[16], name[32], label[64];
        uint8_t kn[2 + 64];
        size_t kn_len = 0;
        TPM2B_PUBLIC pub;
        TPMS_ATTEST c;
        bool ok;

        snprintf (what, sizeof what, "key%u", (unsigned) (i + 1));
        snprintf (label, sizeof label, "%.*s", (int) (k->label.len < 60 ? k->label.len : 60),
                  k->label.p ? (const char *) k->label.p : "");
        if (!check_attest (what, k->certify, k->certify_sig, TPM2_ST_ATTEST_CERTIFY, ak, e, r, &c))
            continue;
        snprintf (name, sizeof name, "%s-name", what);
        if (attest_unmarshal_public (k->pub.p, k->pub.len, &pub) != 0
            || attest_tpm_name (k->pub.p, k->pub.len, kn, &kn_len) != 0) {
            report (r, name, false, "'%s': the key's public area is not a TPM2B_PUBLIC", label);
            continue;
        }
        ok = bytes_eq (kn, kn_len, c.attested.certify.name.name, c.attested.certify.name.size);
        report (r, name, ok,
                ok ? "'%s': the certified name is the name of its public area"
                   : "'%s': the certified name is NOT the name of its public area",
                label);
        snprintf (name, sizeof name, "%s-attributes", what);
        ok = (pub.publicArea.objectAttributes & KEY_REQUIRED) == KEY_REQUIRED;
        if (ok)
            report (r, name, true,
                    "'%s': fixedTPM and fixedParent: it lives in this TPM and cannot leave it%s",
                    label,
                    (pub.publicArea.objectAttributes & TPMA_OBJECT_SENSITIVEDATAORIGIN)
                        ? " (its secret was generated inside it)"
                        : " (its secret came from outside: imported or sealed data)");
        else
            report (r, name, false, "'%s': attributes 0x%08x lack fixedTPM/fixedParent", label,
                    pub.publicArea.objectAttributes);
        snprintf (name, sizeof name, "%s-same-boot", what);
        ok = c.clockInfo.resetCount == q->clockInfo.resetCount
             && c.clockInfo.restartCount == q->clockInfo.restartCount;
        report (r, name, ok, ok ? "certified in the same TPM boot as the quote"
                                : "certified in another TPM boot than the quote");
        if (identity != NULL && identity_at == 0 && pub.publicArea.type == TPM2_ALG_ECC) {
            EVP_PKEY *kp = attest_pkey_from_tpm (&pub.publicArea);
            if (kp != NULL && EVP_PKEY_eq (kp, identity) == 1)
                identity_at = i + 1;
            EVP_PKEY_free (kp);
        }
    }
    /* The identity is worth what ties it to the TPM: its certification. */
    if (identity != NULL && identity_at != 0)
        report (r, "identity-in-tpm", true,
                "the identity key is certified key %zu: it lives in this TPM", identity_at);
    else if (identity != NULL && EVP_PKEY_is_a (identity, "EC"))
        report (r, "identity-in-tpm", false,
                "the ECDSA identity key is not among the certified keys: nothing ties it to "
                "this TPM");
    else if (identity != NULL && e->identity != NULL
             && bytes_eq (e->identity, e->identity_len, b->identity.p, b->identity.len))
        report (r, "identity-in-tpm", true,
                "an Ed25519 identity (its seed is TPM-sealed data, whose public key a TPM cannot "
                "certify): trusted as the expected identity key");
    else if (identity != NULL)
        report (r, "identity-in-tpm", false,
                "NOT ESTABLISHED: an Ed25519 identity cannot be certified by the TPM, so nothing "
                "ties it to this TPM: give the expected identity key (--identity-pub)");
    EVP_PKEY_free (identity);
}


/* Every certificate in the files of dir (PEM, several a file, or DER); NULL
 * when none could be read. */
static STACK_OF (X509) *
load_cert_dir (const char *dir)
{
    STACK_OF (X509) *certs = sk_X509_new_null ();
    DIR *d = opendir (dir);
    struct dirent *de;

    while (certs != NULL && d != NULL && (de = readdir (d)) != NULL) {
        char path[4096];
        BIO *bio;
        X509 *x;
        if (de->d_name[0] == '.'
            || (size_t) snprintf (path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path
            || (bio = BIO_new_file (path, "rb")) == NULL)
            continue;
        while ((x = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL)
            if (sk_X509_push (certs, x) == 0)
                X509_free (x);
        if (BIO_reset (bio) == 0 && (x = d2i_X509_bio (bio, NULL)) != NULL
            && sk_X509_push (certs, x) == 0)
            X509_free (x);
        BIO_free (bio);
    }
    if (d != NULL)
        closedir (d);
    ERR_clear_error (); /* the PEM reader's end of file, files that are not certificates */
    if (certs != NULL && sk_X509_num (certs) == 0) {
        sk_X509_free (certs);
        certs = NULL;
    }
    return certs;
}

static void
check_ek (const attest_bundle *b, const attest_expect *e, attest_report *r)
{
    TPM2B_PUBLIC ek;
    EVP_PKEY *ek_key = NULL, *cert_key = NULL;
    const uint8_t *p = b->ek_cert.p;
    X509 *cert = NULL;
    bool ok;

    if (b->ek_pub.p == NULL) {
        report (r, "ek-public", false, "the bundle has no EK public key");
        return;
    }
    if (attest_unmarshal_public (b->ek_pub.p, b->ek_pub.len, &ek) != 0
        || (ek_key = attest_pkey_from_tpm (&ek.publicArea)) == NULL) {
        report (r, "ek-public", false, "the EK public area is not an RSA or ECC TPM2B_PUBLIC");
        return;
    }
    /* Public data anyone can copy into a bundle: the AK is not tied to it here
     * (only the credential activation behind a trusted AK name does that). */
    report (r, "ek-public", true,
            "%s EK (as the bundle says: it does not show that the AK is in this EK's TPM)",
            ek.publicArea.type == TPM2_ALG_RSA ? "RSA" : "ECC");
    if (b->ek_cert.p == NULL) {
        if (e->ek_ca_file != NULL)
            report (r, "ek-cert", false, "the TPM had no EK certificate to check against %s",
                    e->ek_ca_file);
        EVP_PKEY_free (ek_key);
        return;
    }
    cert = d2i_X509 (NULL, &p, (long) b->ek_cert.len);
    cert_key = cert ? X509_get0_pubkey (cert) : NULL;
    ok = cert_key != NULL && EVP_PKEY_eq (cert_key, ek_key) == 1;
    report (r, "ek-cert", ok,
            ok ? "the EK certificate certifies this EK public key"
               : "the EK certificate does not certify this EK public key");
    if (ok && e->ek_ca_file != NULL) {
        X509_STORE *store = X509_STORE_new ();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
        STACK_OF (X509) *untrusted = NULL;
        if (e->ek_intermediates_dir != NULL
            && (untrusted = load_cert_dir (e->ek_intermediates_dir)) == NULL) {
            report (r, "ek-chain", false, "no certificate could be read from %s",
                    e->ek_intermediates_dir);
            X509_STORE_CTX_free (ctx);
            X509_STORE_free (store);
            X509_free (cert);
            EVP_PKEY_free (ek_key);
            return;
        }
        ok = store != NULL && ctx != NULL
             && X509_STORE_load_file (store, e->ek_ca_file) == 1
             && X509_STORE_CTX_init (ctx, store, cert, untrusted) == 1;
        if (ok) {
            /* EK certificates carry TCG extensions OpenSSL does not know */
            X509_STORE_CTX_set_flags (ctx, X509_V_FLAG_IGNORE_CRITICAL | X509_V_FLAG_PARTIAL_CHAIN);
            ok = X509_verify_cert (ctx) == 1;
        }
        report (r, "ek-chain", ok,
                ok ? "the EK certificate chains to %s"
                   : "the EK certificate does not chain to %s (%s)",
                e->ek_ca_file,
                ok || ctx == NULL ? ""
                                  : X509_verify_cert_error_string (X509_STORE_CTX_get_error (ctx)));
        X509_STORE_CTX_free (ctx);
        X509_STORE_free (store);
        sk_X509_pop_free (untrusted, X509_free);
    }
    X509_free (cert);
    EVP_PKEY_free (ek_key);
}

int
attest_verify (const uint8_t *bundle, size_t len, const attest_expect *expect,
               attest_report *r)
{
    static const attest_expect none = { 0 };
    const attest_expect *e = expect ? expect : &none;
    attest_bundle *b = calloc (1, sizeof *b);
    TPM2B_PUBLIC ak;
    TPMS_ATTEST q;
    char err[200] = "";
    bool ok;

    memset (r, 0, sizeof *r);
    if (b == NULL)
        return report (r, "format", false, "out of memory"), r->failed;
    if (attest_parse (bundle, len, b, err, sizeof err) != 0) {
        report (r, "format", false, "%s", err);
        free (b);
        return r->failed;
    }
    report (r, "format", true, "version %u, %zu bytes, %zu certified key%s", b->version, len,
            b->n_keys, b->n_keys == 1 ? "" : "s");
    check_identity (b, e, r);
    ok = e->nonce != NULL && bytes_eq (b->nonce.p, b->nonce.len, e->nonce, e->nonce_len);
    report (r, "nonce", ok, ok ? "the bundle answers the expected nonce"
                            : e->nonce ? "the bundle answers another nonce"
                                       : "no expected nonce given");
    if (check_ak (b, e, r, &ak)
        && check_attest ("quote", b->quote, b->quote_sig, TPM2_ST_ATTEST_QUOTE, &ak, e, r, &q)) {
        r->clock = q.clockInfo.clock;
        r->reset_count = q.clockInfo.resetCount;
        r->restart_count = q.clockInfo.restartCount;
        r->safe = q.clockInfo.safe == TPM2_YES;
        r->firmware = q.firmwareVersion;
        check_hierarchy (&q, r, r);
        check_pcrs (b, e, &q, r);
        check_keys (b, e, &ak, &q, r);
    } else if (b->n_keys > 0 || e->pcr_mask != 0) {
        report (r, "quote", false, "PCRs and certified keys not checked: the AK or quote failed");
    }
    check_ek (b, e, r);
    free (b);
    return r->failed;
}
