/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool: what the command files share: error messages, PINs and secrets
 * read without argv, token and slot lookup, PCR lists, hex, a session's core
 * objects.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/config-file.h"
#include "pkcs11-tpmtrust.h"
#include "store/store.h"
#include "tools/sigv4.h"
#include "tools/tool.h"
#include "tools/tss2.h"
#include "tpm/tpm.h"
#include "verify/hbverify.h"

CK_FUNCTION_LIST *p11;

const char *
rv_name (CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
    case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_TPMTRUST_PCR_MISMATCH: return "CKR_TPMTRUST_PCR_MISMATCH (bound PCRs changed)";
    case CKR_TPMTRUST_OBJECT_DAMAGED: return "CKR_TPMTRUST_OBJECT_DAMAGED (damaged store row)";
    default: return "error";
    }
}

int
fail (const char *what, CK_RV rv)
{
    fprintf (stderr, "tpmtrust-tool: %s: %s (0x%lx)\n", what, rv_name (rv), rv);
    return 1;
}

/* A PIN from the environment variable, else from the terminal (/dev/tty,
 * so that standard input stays free for secrets), else from standard input. */
char *
read_pin (const char *env, const char *prompt)
{
    struct termios old, quiet;
    char buf[256];
    const char *v = getenv (env);
    FILE *in = fopen ("/dev/tty", "re");
    bool echo_off = false;
    char *copy;

    if (v != NULL) {
        if (in != NULL)
            fclose (in);
        return strdup (v);
    }
    if (in == NULL)
        in = stdin;
    fprintf (stderr, "%s: ", prompt);
    if (isatty (fileno (in)) && tcgetattr (fileno (in), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        echo_off = tcsetattr (fileno (in), TCSANOW, &quiet) == 0;
    }
    if (fgets (buf, sizeof buf, in) == NULL)
        buf[0] = '\0';
    if (echo_off) {
        tcsetattr (fileno (in), TCSANOW, &old);
        fputc ('\n', stderr);
    }
    if (in != stdin)
        fclose (in);
    buf[strcspn (buf, "\r\n")] = '\0';
    copy = strdup (buf);
    explicit_bzero (buf, sizeof buf);
    return copy;
}

void
wipe_free (char *s)
{
    if (s != NULL) {
        explicit_bzero (s, strlen (s));
        free (s);
    }
}

void
secure_free (unsigned char *p, size_t len)
{
    if (p != NULL) {
        explicit_bzero (p, len);
        free (p);
    }
}

/* A secret from a file or standard input (never argv). Trailing newlines are
 * dropped; with aws, "AWS4" is put in front (the SigV4 signing-key chain). */
int
read_secret (const char *path, bool aws, unsigned char **out, size_t *out_len)
{
    FILE *f = path && strcmp (path, "-") != 0 ? fopen (path, "re") : stdin;
    size_t cap = 4096, len = aws ? 4 : 0;
    unsigned char *buf;
    size_t n;

    if (f == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
        return -1;
    }
    if (f == stdin && isatty (STDIN_FILENO))
        fprintf (stderr, "Secret (end with Ctrl-D): ");
    buf = malloc (cap);
    if (buf == NULL)
        return -1;
    if (aws)
        memcpy (buf, "AWS4", 4);
    while ((n = fread (buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            fprintf (stderr, "tpmtrust-tool: the secret is longer than %zu bytes\n", cap);
            secure_free (buf, cap);
            if (f != stdin)
                fclose (f);
            return -1;
        }
    }
    if (f != stdin)
        fclose (f);
    while (len > (aws ? 4u : 0u) && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len == (aws ? 4u : 0u)) {
        fprintf (stderr, "tpmtrust-tool: the secret is empty\n");
        secure_free (buf, cap);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

void
trim_copy (char *dst, const CK_UTF8CHAR *src, size_t len)
{
    memcpy (dst, src, len);
    while (len > 0 && dst[len - 1] == ' ')
        len--;
    dst[len] = '\0';
}

/* Finds the slot whose token has this label (NULL: the first initialized token). */
CK_RV
find_slot (const char *label, CK_SLOT_ID *out, CK_TOKEN_INFO *info)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_RV rv = p11->C_GetSlotList (CK_TRUE, slots, &n);

    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        char l[33];
        if (p11->C_GetTokenInfo (slots[i], info) != CKR_OK
            || !(info->flags & CKF_TOKEN_INITIALIZED))
            continue;
        trim_copy (l, info->label, 32);
        if (label == NULL || strcmp (l, label) == 0) {
            *out = slots[i];
            return CKR_OK;
        }
    }
    return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}

void
uri_escape (FILE *f, const unsigned char *s, size_t len, bool all)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (!all && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || strchr ("-._~", c)))
            fputc (c, f);
        else
            fprintf (f, "%%%02x", c);
    }
}

char *
read_all (const char *path, size_t *len)
{
    FILE *f = path && strcmp (path, "-") != 0 ? fopen (path, "re") : stdin;
    size_t cap = 65536, n = 0, got;
    char *buf;

    if (f == NULL) {
        fprintf (stderr, "tpmtrust-tool: %s: %s\n", path, strerror (errno));
        return NULL;
    }
    buf = malloc (cap + 1);
    while (buf != NULL && (got = fread (buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc (buf, 2 * cap + 1);
            if (grown == NULL)
                free (buf);
            buf = grown;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose (f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Opens a R/W session on the token and logs the user in. */
CK_RV
open_user_session (const char *token, CK_SESSION_HANDLE *s)
{
    CK_TOKEN_INFO ti;
    CK_SLOT_ID slot;
    char *pin;
    CK_RV rv = find_slot (token, &slot, &ti);

    *s = CK_INVALID_HANDLE;
    if (rv == CKR_OK)
        rv = p11->C_OpenSession (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    if (rv == CKR_OK) {
        pin = read_pin ("TPMTRUST_PIN", "User PIN");
        rv = p11->C_Login (*s, CKU_USER, (CK_UTF8CHAR *) pin, strlen (pin));
        wipe_free (pin);
    }
    return rv;
}

/* "sha256:7,16" → bank mechanism and PCR mask; false if malformed. */
bool
parse_pcrs (const char *s, CK_MECHANISM_TYPE *bank, CK_ULONG *mask)
{
    static const struct {
        const char *name;
        CK_MECHANISM_TYPE mech;
    } banks[] = { { "sha1", CKM_SHA_1 }, { "sha256", CKM_SHA256 }, { "sha384", CKM_SHA384 },
                  { "sha512", CKM_SHA512 } };
    const char *colon = strchr (s, ':');
    char *end;

    *mask = 0;
    *bank = 0;
    for (size_t i = 0; colon && i < sizeof banks / sizeof banks[0]; i++)
        if (strlen (banks[i].name) == (size_t) (colon - s)
            && strncmp (s, banks[i].name, (size_t) (colon - s)) == 0)
            *bank = banks[i].mech;
    if (*bank == 0)
        return false;
    for (s = colon + 1; *s;) {
        long n = strtol (s, &end, 10);
        if (end == s || n < 0 || n > 23 || (*end != ',' && *end != '\0'))
            return false;
        *mask |= 1UL << n;
        s = *end ? end + 1 : end;
    }
    return *mask != 0;
}

size_t
parse_hex (const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;
    for (; hex[0] && hex[1] && n < max; hex += 2) {
        unsigned int b;
        if (sscanf (hex, "%2x", &b) != 1)
            return 0;
        out[n++] = (unsigned char) b;
    }
    return hex[0] ? 0 : n;
}

/* Runs fn on the core token and session behind an open session handle. */
CK_RV
with_core_session (CK_SESSION_HANDLE s, CK_RV (*fn) (tt_token *, tt_session *, void *), void *arg)
{
    tt_token *tok;
    tt_session *sess;
    CK_RV rv = core_session_enter (s, &tok, &sess);
    if (rv == CKR_OK) {
        rv = fn (tok, sess, arg);
        core_leave (tok);
    }
    return rv;
}
