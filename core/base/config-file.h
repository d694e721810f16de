/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The config file: TPMTRUST_CONF, else /etc/tpmtrust/tpmtrust.conf. Lines of
 * "key = value"; '#' starts a comment. Keys: tcti, store, log_level.
 * Read once; a missing file is no error.
 */
#ifndef TT_CONFIG_FILE_H
#define TT_CONFIG_FILE_H

/* The value for key, or NULL. The string lives until process exit. */
const char *config_get (const char *key);
/* The path the config was read from (it may not exist). */
const char *config_path (void);

#endif
