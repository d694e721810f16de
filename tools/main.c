/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool: administer tpmtrust tokens. Uses the module's own library:
 * Cryptoki calls through the same function table a consumer gets, and core/
 * for what Cryptoki cannot say (TPM facts, the store, deleting a token).
 *
 * This file is the dispatcher: the command table (one row per command: its
 * words, its handler, its synopsis, what it does and each option it takes,
 * with what that option means for it), option parsing, the general usage and
 * each command's --help. Adding a command: its handler in the file of its
 * group (tool.h), and a row in `commands` below; an option no command had yet
 * also needs its line in `options`.
 *
 * Exit codes: 0 success, 1 the command failed (the reason on stderr), 2 a
 * usage error (unknown command or option, a missing argument).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

/* Every option of every command: long name, argument, short letter. */
static const struct option options[] = {
    { "label", required_argument, NULL, 'l' },
    { "token", required_argument, NULL, 't' },
    { "login", no_argument, NULL, 'L' },
    { "file", required_argument, NULL, 'f' },
    { "aws", no_argument, NULL, 'A' },
    { "request", required_argument, NULL, 'r' },
    { "access-key", required_argument, NULL, 'k' },
    { "region", required_argument, NULL, 'R' },
    { "service", required_argument, NULL, 'S' },
    { "type", required_argument, NULL, 'T' },
    { "id", required_argument, NULL, 'i' },
    { "pcrs", required_argument, NULL, 'P' },
    { "boot-id", required_argument, NULL, 'b' },
    { "meta", required_argument, NULL, 'm' },
    { "key-file", required_argument, NULL, 'K' },
    { "period-ms", required_argument, NULL, 'p' },
    { "timeout-ms", required_argument, NULL, 'o' },
    { "count", required_argument, NULL, 'c' },
    { "window-ms", required_argument, NULL, 'w' },
    { "fd", required_argument, NULL, 'F' },
    { "nv", no_argument, NULL, 'N' },
    { "nv-index", required_argument, NULL, 'I' },
    { "nonce", required_argument, NULL, 'n' },
    { "identity", required_argument, NULL, 'D' },
    { "key", required_argument, NULL, 'Y' },
    { "out", required_argument, NULL, 'O' },
    { "dir", required_argument, NULL, 'd' },
    { "expect-pcr", required_argument, NULL, 'E' },
    { "ak-name", required_argument, NULL, 'a' },
    { "ek-pub", required_argument, NULL, 'e' },
    { "ek-ca", required_argument, NULL, 'C' },
    { "ek-intermediates", required_argument, NULL, 'X' },
    { "identity-pub", required_argument, NULL, 'u' },
    { "persist", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};
#define N_OPTIONS (sizeof options / sizeof options[0] - 1)

typedef struct opt_help {
    const char *name; /* as in options[] */
    const char *help; /* "ARG  what it means", one line */
} opt_help;

#define MAX_OPTS 8

typedef struct tool_cmd {
    const char *group, *verb; /* verb NULL: a command of one word */
    int (*run) (const tool_opts *o);
    const char *args;    /* the synopsis after the command's words */
    const char *summary; /* what it does (lines of the general usage) */
    const char *required; /* an option it cannot go without, or NULL */
    opt_help opts[MAX_OPTS];
} tool_cmd;

static int
run_doctor (const tool_opts *o)
{
    (void) o;
    return cmd_doctor ();
}

static int
run_token_list (const tool_opts *o)
{
    (void) o;
    return cmd_token_list ();
}

static int
run_token_init (const tool_opts *o)
{
    return cmd_token_init (o->label);
}

static int
run_token_delete (const tool_opts *o)
{
    return cmd_token_delete (o->label);
}

static int
run_object_list (const tool_opts *o)
{
    return cmd_object_list (o->token ? o->token : o->label, o->login);
}

static int
run_register_key (const tool_opts *o)
{
    return cmd_watchdog_key (o, true);
}

static int
run_beat (const tool_opts *o)
{
    return cmd_watchdog_key (o, false);
}

static int run_attest (const tool_opts *o);

#define TOKEN_OPT { "token", "T  the token's label (default: the first initialized token)" }
#define PCRS_HELP "BANK:N,N  bind the key to the current values of these PCRs (e.g. sha256:7,16)"

static const tool_cmd commands[] = {
    { "doctor", NULL, run_doctor, "", "check the TPM, the store and permissions", NULL, { { 0 } } },
    { "srk", "persist", cmd_srk_persist, "",
      "make the storage root key persistent at 0x81000001\n(owner authorization from "
      "TPMTRUST_OWNER_AUTH, else\nasked on a terminal, else empty): no process has to\ncreate it",
      NULL, { { 0 } } },
    { "token", "list", run_token_list, "", "list tokens", NULL, { { 0 } } },
    { "token", "init", run_token_init, "--label L",
      "create a token (PINs from TPMTRUST_SO_PIN and\nTPMTRUST_PIN, else asked on the terminal)",
      "label", { { "label", "L  the new token's label (up to 32 bytes)" } } },
    { "token", "delete", run_token_delete, "--label L", "delete a token and all its objects",
      "label", { { "label", "L  the label of the token to delete" } } },
    { "object", "list", run_object_list, "[--token T] [--login]",
      "list objects with their PKCS#11 URIs", NULL,
      { TOKEN_OPT,
        { "label", "T  the same as --token" },
        { "login", "   log in (TPMTRUST_PIN or asked) to list private objects too" } } },
    { "hmac", "import", cmd_hmac_import, "--label L [--aws] [--token T] [--file F]",
      "import an HMAC secret (from F or standard input,\nnever the command line) into the "
      "TPM; with --aws\nan AWS secret access key as \"AWS4\"+secret (label\naws-sigv4 by default)",
      NULL,
      { { "label", "L  the key's label (with --aws: aws-sigv4 by default)" },
        { "aws", "   the secret is an AWS secret access key: stored as \"AWS4\"+secret" },
        TOKEN_OPT,
        { "file", "F  read the secret from F (default: standard input; never argv)" } } },
    { "key", "generate", cmd_key_generate, "--type T --label L [--id HEX] [--pcrs BANK:N,N] [--token T]",
      "a TPM key: T is ecdsa-p256, ecdsa-p384, ed25519\nor hmac-sha256; --pcrs binds it to the "
      "current\nvalues of those PCRs (e.g. sha256:7,16)",
      NULL,
      { { "type", "T  ecdsa-p256, ecdsa-p384, ed25519 or hmac-sha256" },
        { "label", "L  the key's label" },
        { "id", "HEX  its CKA_ID (default: the module's, from the public key)" },
        { "pcrs", PCRS_HELP },
        TOKEN_OPT } },
    { "key", "pcr-status", cmd_key_pcr_status, "[--token T]",
      "which keys are bound to PCRs, and whether\nthose PCRs still hold their values (exit 1 if "
      "not)",
      NULL, { TOKEN_OPT } },
    { "import-tss2", NULL, cmd_import_tss2, "--file F --label L [--token T]",
      "adopt a TSS2 key file (ECDSA or HMAC, parent\n0x40000001) as a token key; a key with a "
      "password\ntakes it from TPMTRUST_KEY_PASSWORD (tried on the\nTPM once; a key that does "
      "not take it is not kept)",
      NULL,
      { { "file", "F  the TSS2 PEM key file (tpm2-openssl, tpm2_encodeobject)" },
        { "label", "L  the label the key gets on the token" },
        TOKEN_OPT } },
    { "export-tss2", NULL, cmd_export_tss2, "--label L --file F [--token T]",
      "write an ECDSA or HMAC key as a TSS2 key file for\ntpm2-openssl (-passin pass:...); its "
      "auth is\nTPMTRUST_KEY_PASSWORD, or empty (anyone with the\nfile and this TPM can use it). F "
      "is created 0600\nand never overwritten",
      NULL,
      { { "label", "L  the key to export" },
        { "file", "F  the file to write (created 0600, never overwritten)" },
        TOKEN_OPT } },
    { "watchdog", "provision", cmd_watchdog_provision,
      "[--nv [--nv-index I]] [--label L] [--pcrs BANK:N] [--token T]",
      "the watchdog root: a TPM HMAC key bound to PCRs\n(default sha256:7), label wd-root; with "
      "--nv a\nsecret in NV index I (0x01500020) read under them",
      NULL,
      { { "nv", "   keep the root in an NV index instead of a key" },
        { "nv-index", "I  the NV index (default 0x01500020)" },
        { "label", "L  the root's label (default wd-root)" },
        { "pcrs", "BANK:N,N  the PCRs the root is bound to (default sha256:7)" },
        TOKEN_OPT } },
    { "watchdog", "register-key", run_register_key,
      "[--fd N] [--period-ms P] [--timeout-ms T] [--boot-id F]",
      "derive this boot's heartbeat key and write it with\nperiod and timeout to fd N "
      "(docs/watchdog.md)",
      NULL,
      { { "fd", "N  the file descriptor to write the record to (default 1)" },
        { "period-ms", "P  the heartbeat period in ms (default 1000)" },
        { "timeout-ms", "T  the watchdog timeout in ms (default 5000)" },
        { "boot-id", "F  the boot id file (default /proc/sys/kernel/random/boot_id)" },
        { "label", "L  the root's label (default wd-root)" },
        TOKEN_OPT } },
    { "watchdog", "beat", run_beat, "[--count N] [--period-ms P] [--meta S] [--boot-id F]",
      "print N heartbeats (hex), one per period", NULL,
      { { "count", "N  how many heartbeats (default 1)" },
        { "period-ms", "P  the time between two, in ms (default 1000)" },
        { "meta", "S  metadata carried in each heartbeat" },
        { "boot-id", "F  the boot id file (default /proc/sys/kernel/random/boot_id)" },
        { "label", "L  the root's label (default wd-root)" },
        TOKEN_OPT } },
    { "watchdog", "verify", cmd_watchdog_verify, "--key-file F [--window-ms W]",
      "check hex heartbeats from standard input", "key-file",
      { { "key-file", "F  the heartbeat key record (as register-key wrote it)" },
        { "window-ms", "W  how late a heartbeat may be (default 5000)" } } },
    { "attest", NULL, run_attest, "SUBCOMMAND ...",
      "attestation snapshots ('tpmtrust-tool attest --help');\na file named by --out is "
      "created 0600 and never\noverwritten",
      NULL, { { 0 } } },
    { "sigv4", NULL, cmd_sigv4, "--access-key K --region R --service S [--request F] [--label L]",
      "sign the HTTP request in F (or standard input;\nit carries Host and X-Amz-Date) with AWS "
      "SigV4:\nkDate in the TPM, the rest in software; prints\nthe Authorization header",
      NULL,
      { { "access-key", "K  the access key id (AKIA...)" },
        { "region", "R  the AWS region (us-east-1...)" },
        { "service", "S  the service's signing name (s3, iam, sts...)" },
        { "request", "F  the HTTP request (default: standard input)" },
        { "label", "L  the TPM key with the secret (default aws-sigv4)" },
        TOKEN_OPT } },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int
run_attest (const tool_opts *o)
{
    (void) o;
    return 0; /* dispatched in main: attest has its own subcommands (attest-cmd.c) */
}

static void
print_name (FILE *f, const tool_cmd *c)
{
    fprintf (f, "%s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
}

/* The summary's lines, each indented by indent (the first after col). */
static void
print_lines (FILE *f, const char *text, int col, int indent)
{
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr (p, '\n');
        size_t n = nl ? (size_t) (nl - p) : strlen (p);
        int pad = col < indent ? indent - col : col > 0;
        fprintf (f, "%*s%.*s\n", pad, "", (int) n, p);
        col = 0;
        p += n + (nl != NULL);
    }
}

static int
usage_main (FILE *f)
{
    fprintf (f, "Usage: tpmtrust-tool COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const tool_cmd *c = &commands[i];
        int col = fprintf (f, "  ") + fprintf (f, "%s%s%s", c->group, c->verb ? " " : "",
                                                c->verb ? c->verb : "");
        if (c->args[0] != '\0')
            col += fprintf (f, " %s", c->args);
        if (col > 28) {
            fputc ('\n', f);
            col = 0;
        }
        print_lines (f, c->summary, col, 29);
    }
    fprintf (f, "\nEnvironment: TPMTRUST_TCTI (TPM), TPMTRUST_STORE (store file),\n"
                "TPMTRUST_CONF (config file), TPMTRUST_LOG_LEVEL.\n"
                "Run 'tpmtrust-tool COMMAND --help' for a command's options.\n"
                "Exit status: 0 success, 1 the command failed, 2 a usage error.\n");
    return f == stderr ? 2 : 0;
}

static void
usage_command (FILE *f, const tool_cmd *c)
{
    fprintf (f, "Usage: tpmtrust-tool ");
    print_name (f, c);
    fprintf (f, "%s%s\n\n", c->args[0] ? " " : "", c->args);
    print_lines (f, c->summary, 0, 0);
    if (c->opts[0].name != NULL) {
        fprintf (f, "\nOptions:\n");
        for (size_t i = 0; i < MAX_OPTS && c->opts[i].name != NULL; i++) {
            const char *h = c->opts[i].help, *sp = strstr (h, "  ");
            int w = sp ? (int) (sp - h) : 0;
            char arg[32];
            snprintf (arg, sizeof arg, "--%s%s%.*s", c->opts[i].name, w && h[0] != ' ' ? " " : "",
                      h[0] == ' ' ? 0 : w, h);
            fprintf (f, "  %-22s %s\n", arg, sp ? sp + 2 : h);
        }
    }
    fprintf (f, "  %-22s %s\n", "--help", "this text");
}

/* The group's commands (tpmtrust-tool GROUP --help). */
static void
usage_group (FILE *f, const char *group)
{
    fprintf (f, "Usage: tpmtrust-tool %s COMMAND [ARGS]\n\nCommands:\n", group);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp (commands[i].group, group) == 0) {
            fprintf (f, "  %s %s%s%s\n", group, commands[i].verb, commands[i].args[0] ? " " : "",
                     commands[i].args);
        }
    fprintf (f, "\nRun 'tpmtrust-tool %s COMMAND --help' for a command's options.\n", group);
}

static const tool_cmd *
find_command (const char *group, const char *verb, bool *group_known)
{
    *group_known = false;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const tool_cmd *c = &commands[i];
        if (strcmp (c->group, group) != 0)
            continue;
        *group_known = true;
        if (c->verb == NULL || (verb != NULL && strcmp (c->verb, verb) == 0))
            return c;
    }
    return NULL;
}

static bool
command_takes (const tool_cmd *c, const char *name)
{
    if (strcmp (c->group, "attest") == 0) /* attest-cmd.c checks its own */
        return true;
    for (size_t i = 0; i < MAX_OPTS && c->opts[i].name != NULL; i++)
        if (strcmp (c->opts[i].name, name) == 0)
            return true;
    return false;
}

static int
number (const char *s, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul (s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf (stderr, "tpmtrust-tool: '%s' is not a number\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

/* One option into o (c: its short letter); -1 on a bad value. */
static int
take_option (tool_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'l': o->label = arg; break;
    case 't': o->token = arg; break;
    case 'L': o->login = true; break;
    case 'f': o->file = arg; break;
    case 'A': o->aws = true; break;
    case 'r': o->request = arg; break;
    case 'k': o->access_key = arg; break;
    case 'R': o->region = arg; break;
    case 'S': o->service = arg; break;
    case 'T': o->type = arg; break;
    case 'i': o->id = arg; break;
    case 'P': o->pcrs = arg; break;
    case 'b': o->boot_id = arg; break;
    case 'N': o->nv = true; break;
    case 'I': o->nv_index = strtoul (arg, NULL, 0); break;
    case 'm': o->meta = arg; break;
    case 'K': o->key_file = arg; break;
    case 'p': return number (arg, &o->period_ms);
    case 'o': return number (arg, &o->timeout_ms);
    case 'c': return number (arg, &o->count);
    case 'w': return number (arg, &o->window_ms);
    case 'F': return number (arg, &o->fd);
    case 'n': o->attest.nonce = arg; break;
    case 'D': o->attest.identity = arg; break;
    case 'Y':
    case 'E':
        if ((c == 'Y' ? o->attest.n_keys : o->attest.n_expect) == ATTEST_CMD_MAX_KEYS) {
            fprintf (stderr, "tpmtrust-tool: at most %d --key / --expect-pcr\n",
                     ATTEST_CMD_MAX_KEYS);
            return -1;
        }
        if (c == 'Y')
            o->attest.keys[o->attest.n_keys++] = arg;
        else
            o->attest.expect[o->attest.n_expect++] = arg;
        break;
    case 'O': o->attest.out = arg; break;
    case 'd': o->attest.dir = arg; break;
    case 'a': o->attest.ak_name = arg; break;
    case 'e': o->attest.ek_pub = arg; break;
    case 'C': o->attest.ek_ca = arg; break;
    case 'X': o->attest.ek_intermediates = arg; break;
    case 'u': o->attest.identity_pub = arg; break;
    case 's': o->attest.persist = arg; break;
    default: return -1;
    }
    return 0;
}

static const char *
option_name (int c)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].val == c)
            return options[i].name;
    return "?";
}

static void
short_options (char *out)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        *out++ = (char) options[i].val;
        if (options[i].has_arg == required_argument)
            *out++ = ':';
    }
    *out = '\0';
}

int
main (int argc, char **argv)
{
    tool_opts o = { .nv_index = 0x01500020, .period_ms = 1000, .timeout_ms = 5000, .count = 1,
                    .window_ms = 5000, .fd = 1 };
    char shorts[2 * N_OPTIONS + 1];
    const tool_cmd *cmd;
    const char *group, *verb;
    bool group_known, help = false;
    int c, ret;
    CK_RV rv;

    if (argc < 2)
        return usage_main (stderr);
    group = argv[1];
    if (strcmp (group, "--help") == 0 || strcmp (group, "-h") == 0 || strcmp (group, "help") == 0)
        return usage_main (stdout);
    verb = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
    cmd = find_command (group, verb, &group_known);
    if (cmd == NULL && group_known && verb == NULL) { /* "token", "token --help" */
        bool asked = argc > 2 && strcmp (argv[2], "--help") == 0;
        usage_group (asked ? stdout : stderr, group);
        return asked ? 0 : 2;
    }
    if (cmd == NULL) {
        if (group_known)
            fprintf (stderr, "tpmtrust-tool: unknown command '%s %s' (try 'tpmtrust-tool %s --help')\n",
                     group, verb, group);
        else
            fprintf (stderr, "tpmtrust-tool: unknown command '%s' (try 'tpmtrust-tool --help')\n",
                     group);
        return 2;
    }
    optind = cmd->verb != NULL || (strcmp (group, "attest") == 0 && verb != NULL) ? 3 : 2;
    short_options (shorts);
    opterr = 0;
    while ((c = getopt_long (argc, argv, shorts, options, NULL)) != -1) {
        if (c == 'h') {
            help = true;
            continue;
        }
        if (c == '?' || c == ':') {
            fprintf (stderr, "tpmtrust-tool: %s: %s '%s' (try 'tpmtrust-tool %s%s%s --help')\n",
                     group, c == ':' ? "an argument is missing for" : "unknown option",
                     argv[optind - 1], group, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
            return 2;
        }
        if (!command_takes (cmd, option_name (c))) {
            fprintf (stderr, "tpmtrust-tool: ");
            print_name (stderr, cmd);
            fprintf (stderr, " does not take --%s (try 'tpmtrust-tool ", option_name (c));
            print_name (stderr, cmd);
            fprintf (stderr, " --help')\n");
            return 2;
        }
        if (take_option (&o, c, optarg) != 0)
            return 2;
    }
    if (help && strcmp (group, "attest") == 0) {
        printf ("Usage: tpmtrust-tool attest SUBCOMMAND [ARGS] (docs/attestation.md)\n\n");
        attest_usage (stdout);
        return 0;
    }
    if (help) {
        usage_command (stdout, cmd);
        return 0;
    }
    if (strcmp (group, "attest") == 0 && optind == argc - 1 && o.file == NULL)
        o.file = argv[optind++]; /* attest verify|extract FILE */
    if (optind < argc) {
        fprintf (stderr, "tpmtrust-tool: unexpected argument '%s' (secrets are never taken "
                         "from the command line: use --file or standard input)\n",
                 argv[optind]);
        return 2;
    }
    if (cmd->required != NULL
        && ((strcmp (cmd->required, "label") == 0 && o.label == NULL)
            || (strcmp (cmd->required, "key-file") == 0 && o.key_file == NULL))) {
        fprintf (stderr, "tpmtrust-tool: ");
        print_name (stderr, cmd);
        fprintf (stderr, " needs --%s (try 'tpmtrust-tool ", cmd->required);
        print_name (stderr, cmd);
        fprintf (stderr, " --help')\n");
        return 2;
    }
    rv = C_GetFunctionList (&p11);
    if (rv == CKR_OK)
        rv = p11->C_Initialize (NULL);
    if (rv != CKR_OK)
        return fail ("initializing", rv);
    if (strcmp (group, "attest") == 0) {
        attest_env env = { p11, open_user_session, parse_pcrs };
        o.attest.token = o.token;
        o.attest.file = o.file;
        o.attest.pcrs = o.pcrs;
        ret = attest_cmd (&env, verb ? verb : "", &o.attest);
    } else {
        ret = cmd->run (&o);
    }
    p11->C_Finalize (NULL);
    return ret;
}
