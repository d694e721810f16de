/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpmtrust-tool's shared parts: the options every command reads, the module's
 * function table, and the helpers the command files share (tool-util.c).
 * One file per command group (token-cmd.c, key-cmd.c, sigv4-cmd.c,
 * tss2-cmd.c, watchdog-cmd.c, attest-cmd.c); main.c holds the command table,
 * parses the options and dispatches.
 */
#ifndef TT_TOOL_H
#define TT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/core.h"
#include "tools/attest-cmd.h"

extern CK_FUNCTION_LIST *p11;

typedef struct tool_opts {
    const char *label, *token, *file, *request;
    const char *access_key, *region, *service;
    const char *type, *id, *pcrs;
    const char *boot_id, *meta, *key_file;
    unsigned long period_ms, timeout_ms, count, window_ms, fd;
    bool login, aws, derive, nv;
    unsigned long nv_index;
    attest_opts attest;
} tool_opts;

/* tool-util.c */
const char *rv_name (CK_RV rv);
int fail (const char *what, CK_RV rv);
char *read_pin (const char *env, const char *prompt);
void wipe_free (char *s);
void secure_free (unsigned char *p, size_t len);
int read_secret (const char *path, bool aws, unsigned char **out, size_t *out_len);
void trim_copy (char *dst, const CK_UTF8CHAR *src, size_t len);
CK_RV find_slot (const char *label, CK_SLOT_ID *out, CK_TOKEN_INFO *info);
void uri_escape (FILE *f, const unsigned char *s, size_t len, bool all);
char *read_all (const char *path, size_t *len);
CK_RV open_user_session (const char *token, CK_SESSION_HANDLE *s);
bool parse_pcrs (const char *s, CK_MECHANISM_TYPE *bank, CK_ULONG *mask);
size_t parse_hex (const char *hex, unsigned char *out, size_t max);
CK_RV with_core_session (CK_SESSION_HANDLE s, CK_RV (*fn) (tt_token *, tt_session *, void *), void *arg);

/* token-cmd.c: token, object, doctor */
int cmd_token_list (void);
int cmd_token_init (const char *label);
int cmd_token_delete (const char *label);
int cmd_object_list (const char *label, bool login);
int cmd_doctor (void);
int cmd_srk_persist (const tool_opts *o);

/* key-cmd.c: keys, HMAC secrets */
int cmd_hmac_import (const tool_opts *o);
int cmd_key_generate (const tool_opts *o);
int cmd_key_pcr_status (const tool_opts *o);

/* sigv4-cmd.c */
int cmd_sigv4 (const tool_opts *o);

/* tss2-cmd.c: TSS2 key files */
int cmd_import_tss2 (const tool_opts *o);
int cmd_export_tss2 (const tool_opts *o);

/* watchdog-cmd.c */
int cmd_watchdog_provision (const tool_opts *o);
int cmd_watchdog_key (const tool_opts *o, bool register_key);
int cmd_watchdog_verify (const tool_opts *o);

#endif
