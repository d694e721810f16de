/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool attest: make a snapshot through the module (C_Sign with
 * CKM_TPMTRUST_ATTEST), verify one offline (core/verify/attest-verify.c), take one
 * apart for tpm2_checkquote, show the AK and EK, and run the credential
 * protocol that ties the AK to the EK.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpm/attest.h"
#include "verify/attest-verify.h"
#include "tpm/tpm.h"
#include "pkcs11-tpmtrust.h"
#include "tools/attest-cmd.h"

void
attest_usage (FILE *f)
{
    fprintf (f,
             "  attest create --nonce HEX --identity ID [--pcrs BANK:N,N] [--key ID]... --out F\n"
             "                             a snapshot signed by the identity key (CKA_ID hex or\n"
             "                             label): quote of the PCRs (default sha256:0-7) and\n"
             "                             certification of the identity and each --key\n"
             "  attest verify F --nonce HEX [--expect-pcr N=HEX]... [--ak-name HEX]\n"
             "                [--ek-ca PEM [--ek-intermediates DIR]] [--identity-pub PEM]\n"
             "                             check a snapshot offline; every check is printed,\n"
             "                             exit 1 when one fails; without the trusted AK's name\n"
             "                             (--ak-name, from credential activation) a bundle\n"
             "                             is unauthenticated: it always fails; --ek-ca: the\n"
             "                             EK certificate must chain to these roots, through\n"
             "                             the certificates in DIR if need be\n"
             "  attest extract F --dir D   quote.msg, quote.sig, pcrs.bin, pcr-list, ak.pem ...\n"
             "                             for tpm2_checkquote (docs/attestation.md)\n"
             "  attest ak [--dir D] [--persist HANDLE]\n"
             "                             the attestation key's name and public key\n"
             "  attest ek [--dir D]        the endorsement key and its certificate\n"
             "  attest make-credential --ek-pub F --ak-name HEX --file SECRET --out CRED\n"
             "                             (offline) a credential only the TPM holding that EK\n"
             "                             and AK can open\n"
             "  attest activate-credential --file CRED [--out F]\n"
             "                             open it with this TPM's EK and AK; prints the secret\n");
}

static int
err_rv (const char *what, CK_RV rv)
{
    fprintf (stderr, "tpmtrust-tool: %s: 0x%lx%s\n", what, (unsigned long) rv,
             rv == CKR_DEVICE_ERROR ? " (the TPM could not be reached or used: see the log)" : "");
    return 1;
}

/* Hex to malloc'd bytes; NULL (and a message) when not hex. */
static uint8_t *
unhex (const char *what, const char *s, size_t *len)
{
    size_t n = strlen (s);
    uint8_t *out;

    if (n == 0 || n % 2 != 0 || strspn (s, "0123456789abcdefABCDEF") != n) {
        fprintf (stderr, "tpmtrust-tool: %s: expected an even number of hex digits\n", what);
        return NULL;
    }
    out = malloc (n / 2);
    for (size_t i = 0; out != NULL && i < n / 2; i++) {
        unsigned v;
        sscanf (s + 2 * i, "%2x", &v);
        out[i] = (uint8_t) v;
    }
    *len = n / 2;
    return out;
}

static void
print_hex (FILE *f, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf (f, "%02x", p[i]);
}

static uint8_t *
read_file (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
        return NULL;
    }
    if (fseek (f, 0, SEEK_END) == 0 && (n = ftell (f)) >= 0 && n <= ATTEST_MAX_LEN
        && fseek (f, 0, SEEK_SET) == 0 && (buf = malloc ((size_t) n + 1)) != NULL
        && fread (buf, 1, (size_t) n, f) == (size_t) n) {
        *len = (size_t) n;
    } else {
        fprintf (stderr, "tpmtrust-tool: %s: cannot read it (at most %d bytes)\n", path,
                 ATTEST_MAX_LEN);
        free (buf);
        buf = NULL;
    }
    fclose (f);
    return buf;
}

/*
 * A file named by --out (dir NULL: a bundle, a credential, its secret) is new,
 * 0600, never written over; the files extract, ak and ek write into a --dir are
 * replaced (new ones 0600 too).
 */
static int
write_file (const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    FILE *f = NULL;
    int fd;

    if (dir != NULL)
        snprintf (path, sizeof path, "%s/%s", dir, name);
    else
        snprintf (path, sizeof path, "%s", name);
    fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | (dir != NULL ? O_TRUNC : O_EXCL), 0600);
    if (fd < 0 && errno == EEXIST) {
        fprintf (stderr, "tpmtrust-tool: %s exists already: not overwritten (remove it or "
                         "choose another --out)\n",
                 path);
        return -1;
    }
    if (fd >= 0 && (f = fdopen (fd, "wb")) == NULL)
        close (fd);
    if (f != NULL && fwrite (data, 1, len, f) == len) {
        if (fclose (f) == 0)
            return 0;
        f = NULL;
    }
    fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
    if (f != NULL)
        fclose (f);
    if (fd >= 0 && dir == NULL)
        unlink (path); /* ours, and incomplete */
    return -1;
}

/* A private key (or secret key) by CKA_ID in hex, else by label. */
static CK_RV
find_key (CK_FUNCTION_LIST *p11, CK_SESSION_HANDLE s, const char *id, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS classes[] = { CKO_PRIVATE_KEY, CKO_SECRET_KEY };
    size_t n_bytes = 0;
    uint8_t *bytes = strspn (id, "0123456789abcdefABCDEF") == strlen (id) && strlen (id) % 2 == 0
                         ? unhex ("id", id, &n_bytes)
                         : NULL;
    CK_RV rv = CKR_OK;

    for (int by_label = bytes ? 0 : 1; by_label < 2; by_label++)
        for (size_t c = 0; rv == CKR_OK && c < 2; c++) {
            CK_ATTRIBUTE t[] = {
                { CKA_CLASS, &classes[c], sizeof classes[c] },
                by_label ? (CK_ATTRIBUTE) { CKA_LABEL, (void *) id, strlen (id) }
                         : (CK_ATTRIBUTE) { CKA_ID, bytes, n_bytes },
            };
            CK_ULONG n = 0;
            rv = p11->C_FindObjectsInit (s, t, 2);
            if (rv == CKR_OK)
                rv = p11->C_FindObjects (s, out, 1, &n);
            if (rv == CKR_OK)
                rv = p11->C_FindObjectsFinal (s);
            if (rv == CKR_OK && n == 1) {
                free (bytes);
                return CKR_OK;
            }
        }
    free (bytes);
    if (rv == CKR_OK)
        fprintf (stderr, "tpmtrust-tool: no private or secret key with CKA_ID or label '%s'\n", id);
    return rv == CKR_OK ? CKR_KEY_HANDLE_INVALID : rv;
}

static int
cmd_create (const attest_env *env, const attest_opts *o)
{
    CK_FUNCTION_LIST *p11 = env->p11;
    CK_MECHANISM_TYPE bank = CKM_SHA256;
    CK_ULONG mask = 0xff, n_keys = 0, len = 0;
    CK_OBJECT_HANDLE identity, keys[ATTEST_CMD_MAX_KEYS + 1];
    CK_TPMTRUST_ATTEST_PARAMS params;
    CK_MECHANISM m = { CKM_TPMTRUST_ATTEST, &params, sizeof params };
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    uint8_t *nonce = NULL, *bundle = NULL;
    size_t nonce_len = 0;
    int ret = 1;
    CK_RV rv;

    if (o->nonce == NULL || o->identity == NULL || o->out == NULL) {
        fprintf (stderr, "tpmtrust-tool: attest create needs --nonce, --identity and --out\n");
        return 2;
    }
    if ((nonce = unhex ("--nonce", o->nonce, &nonce_len)) == NULL)
        return 2;
    if (o->pcrs != NULL && !env->parse_pcrs (o->pcrs, &bank, &mask)) {
        fprintf (stderr, "tpmtrust-tool: --pcrs %s: expected e.g. sha256:0,1,7\n", o->pcrs);
        free (nonce);
        return 2;
    }
    rv = env->open_user_session (o->token, &s);
    if (rv == CKR_OK)
        rv = find_key (p11, s, o->identity, &identity);
    if (rv == CKR_OK)
        keys[n_keys++] = identity; /* the identity is certified too: it lives in this TPM */
    for (size_t i = 0; rv == CKR_OK && i < o->n_keys; i++) {
        CK_OBJECT_HANDLE h;
        bool dup = false;
        rv = find_key (p11, s, o->keys[i], &h);
        for (CK_ULONG j = 0; rv == CKR_OK && j < n_keys; j++)
            dup |= keys[j] == h;
        if (rv == CKR_OK && !dup)
            keys[n_keys++] = h;
    }
    params = (CK_TPMTRUST_ATTEST_PARAMS) { bank, mask, keys, n_keys };
    if (rv == CKR_OK)
        rv = p11->C_SignInit (s, &m, identity);
    if (rv == CKR_OK) /* the length query makes the bundle; the next call fetches it */
        rv = p11->C_Sign (s, nonce, nonce_len, NULL, &len);
    if (rv == CKR_OK && (bundle = malloc (len)) == NULL)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = p11->C_Sign (s, nonce, nonce_len, bundle, &len);
    if (rv != CKR_OK) {
        err_rv ("making the snapshot", rv);
    } else if (write_file (NULL, o->out, bundle, len) == 0) {
        attest_bundle b;
        uint8_t name[66];
        size_t name_len = 0;
        printf ("wrote %s: %lu bytes, %lu certified key%s\n", o->out, (unsigned long) len,
                (unsigned long) n_keys, n_keys == 1 ? "" : "s");
        if (attest_parse (bundle, len, &b, NULL, 0) == 0
            && attest_tpm_name (b.ak_pub.p, b.ak_pub.len, name, &name_len) == 0) {
            printf ("AK name: ");
            print_hex (stdout, name, name_len);
            printf ("\n");
        }
        ret = 0;
    }
    if (s != CK_INVALID_HANDLE)
        p11->C_CloseSession (s);
    free (bundle);
    free (nonce);
    return ret;
}

/* A PEM or DER public key file as DER SubjectPublicKeyInfo. */
static uint8_t *
read_spki (const char *path, size_t *len)
{
    size_t n = 0;
    uint8_t *data = read_file (path, &n), *der = data ? attest_spki_from (data, n, len) : NULL;
    if (data != NULL && der == NULL)
        fprintf (stderr, "tpmtrust-tool: %s: not a public key (PEM or DER)\n", path);
    free (data);
    return der;
}

static int
cmd_verify (const attest_opts *o)
{
    attest_expect e;
    attest_report *r = calloc (1, sizeof *r);
    uint8_t *bundle = NULL, *nonce = NULL, *ak = NULL, *id = NULL;
    size_t len = 0, passed = 0;
    int ret = 2;

    memset (&e, 0, sizeof e);
    if (r == NULL)
        return 1;
    if (o->file == NULL || o->nonce == NULL) {
        fprintf (stderr, "tpmtrust-tool: attest verify needs the bundle file and --nonce\n");
        goto out;
    }
    if ((nonce = unhex ("--nonce", o->nonce, &e.nonce_len)) == NULL)
        goto out;
    e.nonce = nonce;
    if (o->ak_name != NULL && (ak = unhex ("--ak-name", o->ak_name, &e.ak_name_len)) == NULL)
        goto out;
    e.ak_name = ak;
    if (o->identity_pub != NULL && (id = read_spki (o->identity_pub, &e.identity_len)) == NULL)
        goto out;
    e.identity = id;
    e.ek_ca_file = o->ek_ca;
    e.ek_intermediates_dir = o->ek_intermediates;
    for (size_t i = 0; i < o->n_expect; i++) {
        char *end;
        long pcr = strtol (o->expect[i], &end, 10);
        uint8_t *v;
        size_t vl = 0;
        if (end == o->expect[i] || *end != '=' || pcr < 0 || pcr > 23
            || (v = unhex ("--expect-pcr", end + 1, &vl)) == NULL || vl > 64) {
            fprintf (stderr, "tpmtrust-tool: --expect-pcr %s: expected N=HEX\n", o->expect[i]);
            goto out;
        }
        e.pcr_mask |= 1u << pcr;
        memcpy (e.pcr_value[pcr], v, vl);
        e.pcr_value_len[pcr] = vl;
        free (v);
    }
    ret = 1;
    if ((bundle = read_file (o->file, &len)) == NULL)
        goto out;
    attest_verify (bundle, len, &e, r);
    for (size_t i = 0; i < r->n; i++)
        printf ("[%s] %s: %s\n", r->checks[i].ok ? " ok " : "FAIL", r->checks[i].name,
                r->checks[i].detail);
    if (r->ak_name_len) {
        printf ("AK name: ");
        print_hex (stdout, r->ak_name, r->ak_name_len);
        printf ("\n");
    }
    if (r->reset_count || r->restart_count || r->clock)
        printf ("TPM clock: %llu ms, reset count %u, restart count %u, %s\n",
                (unsigned long long) r->clock, r->reset_count, r->restart_count,
                r->safe ? "safe" : "not safe");
    /* what was and was not established, then the verdict */
    printf ("established:");
    for (size_t i = 0; i < r->n; i++)
        if (r->checks[i].ok)
            printf ("%s %s", passed++ ? "," : "", r->checks[i].name);
    printf ("\nNOT established:");
    for (size_t i = 0, n = 0; i < r->n; i++)
        if (!r->checks[i].ok)
            printf ("%s %s", n++ ? "," : "", r->checks[i].name);
    printf ("%s\n", r->failed ? "" : " (nothing)");
    if (!r->ak_trusted)
        printf ("UNAUTHENTICATED: the AK is not a trusted one (%s), so nothing ties this bundle "
                "to a TPM; the %zu checks that passed hold for a bundle made in software too\n",
                e.ak_name ? "it differs from --ak-name" : "no --ak-name given", passed);
    else if (r->failed)
        printf ("VERIFICATION FAILED: %d of %zu checks failed\n", r->failed, r->n);
    else
        printf ("verified: all %zu checks passed (the AK is the trusted one)\n", r->n);
    ret = r->failed || !r->ak_trusted ? 1 : 0;
out:
    free (bundle);
    free (nonce);
    free (ak);
    free (id);
    free (r);
    return ret;
}

static int
write_pem (const char *dir, const char *name, attest_bytes pub)
{
    char *pem = attest_public_pem (pub.p, pub.len);
    int rc = pem ? write_file (dir, name, pem, strlen (pem)) : -1;
    free (pem);
    return rc;
}

static int
cmd_extract (const attest_opts *o)
{
    static const char *banks[] = { [0x04] = "sha1", [0x0b] = "sha256", [0x0c] = "sha384",
                                   [0x0d] = "sha512" };
    attest_bundle *b = calloc (1, sizeof *b);
    char err[200], list[128], name[64];
    uint8_t *bundle = NULL;
    size_t len = 0, off;
    int rc = 0;

    if (b == NULL || o->file == NULL || o->dir == NULL) {
        fprintf (stderr, "tpmtrust-tool: attest extract needs the bundle file and --dir\n");
        free (b);
        return 2;
    }
    if ((bundle = read_file (o->file, &len)) == NULL || attest_parse (bundle, len, b, err, sizeof err) != 0) {
        if (bundle != NULL)
            fprintf (stderr, "tpmtrust-tool: %s: %s\n", o->file, err);
        free (bundle);
        free (b);
        return 1;
    }
    mkdir (o->dir, 0755);
    off = (size_t) snprintf (list, sizeof list, "%s:",
                             b->pcr_bank < 0x0e && banks[b->pcr_bank] ? banks[b->pcr_bank] : "?");
    for (int i = 0; i < 24; i++)
        if (b->pcr_mask & (1u << i))
            off += (size_t) snprintf (list + off, sizeof list - off, "%s%d",
                                      list[off - 1] == ':' ? "" : ",", i);
    snprintf (list + off, sizeof list - off, "\n");
    rc |= write_file (o->dir, "quote.msg", b->quote.p, b->quote.len);
    rc |= write_file (o->dir, "quote.sig", b->quote_sig.p, b->quote_sig.len);
    rc |= write_file (o->dir, "pcrs.bin", b->pcr_values.p, b->pcr_values.len);
    rc |= write_file (o->dir, "pcr-list", list, strlen (list));
    rc |= write_file (o->dir, "nonce.bin", b->nonce.p, b->nonce.len);
    rc |= write_file (o->dir, "ak.pub", b->ak_pub.p, b->ak_pub.len);
    rc |= write_pem (o->dir, "ak.pem", b->ak_pub);
    rc |= write_file (o->dir, "identity.der", b->identity.p, b->identity.len);
    if (b->ek_pub.p != NULL) {
        rc |= write_file (o->dir, "ek.pub", b->ek_pub.p, b->ek_pub.len);
        rc |= write_pem (o->dir, "ek.pem", b->ek_pub);
    }
    if (b->ek_cert.p != NULL)
        rc |= write_file (o->dir, "ek.crt", b->ek_cert.p, b->ek_cert.len);
    for (size_t i = 0; i < b->n_keys; i++) {
        snprintf (name, sizeof name, "key%zu.pub", i + 1);
        rc |= write_file (o->dir, name, b->keys[i].pub.p, b->keys[i].pub.len);
        snprintf (name, sizeof name, "key%zu.certify", i + 1);
        rc |= write_file (o->dir, name, b->keys[i].certify.p, b->keys[i].certify.len);
        snprintf (name, sizeof name, "key%zu.sig", i + 1);
        rc |= write_file (o->dir, name, b->keys[i].certify_sig.p, b->keys[i].certify_sig.len);
    }
    if (rc == 0)
        printf ("extracted to %s; check the quote independently with:\n"
                "  tpm2_checkquote -u %s/ak.pem -m %s/quote.msg -s %s/quote.sig \\\n"
                "      -f %s/pcrs.bin -l %.*s -g sha256 -q <nonce hex>\n",
                o->dir, o->dir, o->dir, o->dir, o->dir, (int) strcspn (list, "\n"), list);
    free (bundle);
    free (b);
    return rc ? 1 : 0;
}

static void
show_public (const char *what, const tpm_blob *pub)
{
    uint8_t name[66];
    size_t name_len = 0;
    char *pem = attest_public_pem (pub->data, pub->len);

    if (attest_tpm_name (pub->data, pub->len, name, &name_len) == 0) {
        printf ("%s name: ", what);
        print_hex (stdout, name, name_len);
        printf ("\n");
    }
    if (pem != NULL)
        printf ("%s", pem);
    free (pem);
}

static int
cmd_ak (const attest_opts *o)
{
    tpm *t = tpm_new ();
    tpm_blob pub = { 0 };
    CK_RV rv = CKR_OK;
    int ret = 0;

    if (o->persist != NULL) {
        rv = tpm_ak_persist (t, (uint32_t) strtoul (o->persist, NULL, 0));
        if (rv == CKR_OK)
            printf ("the AK is persistent at %s: set TPMTRUST_AK_HANDLE=%s (or ak_handle in "
                    "the config file) to use it\n",
                    o->persist, o->persist);
    }
    if (rv == CKR_OK)
        rv = tpm_ak_public (t, &pub);
    if (rv != CKR_OK) {
        ret = err_rv ("deriving the AK", rv);
    } else {
        show_public ("AK", &pub);
        if (o->dir != NULL) {
            mkdir (o->dir, 0755);
            if (write_file (o->dir, "ak.pub", pub.data, pub.len) != 0
                || write_pem (o->dir, "ak.pem", (attest_bytes) { pub.data, pub.len }) != 0)
                ret = 1;
        }
    }
    tpm_blob_clear (&pub);
    tpm_free (t);
    return ret;
}

static int
cmd_ek (const attest_opts *o)
{
    tpm *t = tpm_new ();
    tpm_blob pub = { 0 }, cert = { 0 };
    CK_RV rv = tpm_ek_public (t, &pub, &cert);
    int ret = 0;

    if (rv != CKR_OK) {
        ret = err_rv ("reading the EK", rv);
    } else {
        show_public ("EK", &pub);
        printf ("EK certificate: %s\n", cert.len ? "present" : "none in the TPM");
        if (o->dir != NULL) {
            mkdir (o->dir, 0755);
            if (write_file (o->dir, "ek.pub", pub.data, pub.len) != 0
                || write_pem (o->dir, "ek.pem", (attest_bytes) { pub.data, pub.len }) != 0
                || (cert.len && write_file (o->dir, "ek.crt", cert.data, cert.len) != 0))
                ret = 1;
        }
    }
    tpm_blob_clear (&pub);
    tpm_blob_clear (&cert);
    tpm_free (t);
    return ret;
}

static int
cmd_make_credential (const attest_opts *o)
{
    uint8_t *ek = NULL, *secret = NULL, *name = NULL, *out = NULL;
    size_t ek_len = 0, secret_len = 0, name_len = 0, out_len = 0;
    char err[200];
    int ret = 1;

    if (o->ek_pub == NULL || o->ak_name == NULL || o->file == NULL || o->out == NULL) {
        fprintf (stderr, "tpmtrust-tool: attest make-credential needs --ek-pub, --ak-name, "
                         "--file (the secret) and --out\n");
        return 2;
    }
    if ((name = unhex ("--ak-name", o->ak_name, &name_len)) == NULL)
        return 2;
    if ((ek = read_file (o->ek_pub, &ek_len)) != NULL
        && (secret = read_file (o->file, &secret_len)) != NULL) {
        if (attest_make_credential (ek, ek_len, name, name_len, secret, secret_len, &out,
                                    &out_len, err, sizeof err)
            != 0)
            fprintf (stderr, "tpmtrust-tool: make-credential: %s\n", err);
        else if (write_file (NULL, o->out, out, out_len) == 0)
            ret = 0;
    }
    if (secret != NULL)
        memset (secret, 0, secret_len);
    free (secret);
    free (ek);
    free (name);
    free (out);
    return ret;
}

static int
cmd_activate_credential (const attest_opts *o)
{
    attest_bytes id, enc;
    uint8_t *file = NULL, out[64];
    size_t len = 0, out_len = sizeof out;
    tpm *t;
    CK_RV rv;
    int ret = 1;

    if (o->file == NULL) {
        fprintf (stderr, "tpmtrust-tool: attest activate-credential needs --file\n");
        return 2;
    }
    if ((file = read_file (o->file, &len)) == NULL)
        return 1;
    if (attest_credential_split (file, len, &id, &enc) != 0) {
        fprintf (stderr, "tpmtrust-tool: %s is not a credential file (tpm2_makecredential's "
                         "format)\n",
                 o->file);
        free (file);
        return 1;
    }
    t = tpm_new ();
    rv = tpm_activate_credential (t, id.p, id.len, enc.p, enc.len, out, &out_len);
    tpm_free (t);
    if (rv != CKR_OK) {
        err_rv ("activating the credential (made for another TPM's EK, or another AK?)", rv);
    } else if (o->out != NULL) {
        ret = write_file (NULL, o->out, out, out_len) == 0 ? 0 : 1;
    } else {
        print_hex (stdout, out, out_len);
        printf ("\n");
        ret = 0;
    }
    memset (out, 0, sizeof out);
    free (file);
    return ret;
}

int
attest_cmd (const attest_env *env, const char *sub, const attest_opts *o)
{
    if (strcmp (sub, "create") == 0)
        return cmd_create (env, o);
    if (strcmp (sub, "verify") == 0)
        return cmd_verify (o);
    if (strcmp (sub, "extract") == 0)
        return cmd_extract (o);
    if (strcmp (sub, "ak") == 0)
        return cmd_ak (o);
    if (strcmp (sub, "ek") == 0)
        return cmd_ek (o);
    if (strcmp (sub, "make-credential") == 0)
        return cmd_make_credential (o);
    if (strcmp (sub, "activate-credential") == 0)
        return cmd_activate_credential (o);
    fprintf (stderr, "Usage: tpmtrust-tool attest SUBCOMMAND [ARGS] (docs/attestation.md)\n\n");
    attest_usage (stderr);
    return 2;
}
