/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging. Define LOG_MODULE before including. The level is read once
 * (TPMTRUST_LOG_LEVEL: none, error, warn, info, debug, trace; default warn)
 * and messages go to stderr, or to TPMTRUST_LOG_FILE when set.
 * Never log secrets: PINs, auth values, key bytes, seeds.
 */
#ifndef TT_LOG_H
#define TT_LOG_H

enum { TT_LOG_NONE, TT_LOG_ERROR, TT_LOG_WARN, TT_LOG_INFO, TT_LOG_DEBUG, TT_LOG_TRACE };

void tt_log_init (void);
int tt_log_level (void);
void tt_log (int level, const char *module, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#ifndef LOG_MODULE
#define LOG_MODULE "tpmtrust"
#endif

#define LOG_ERROR(...) tt_log (TT_LOG_ERROR, LOG_MODULE, __VA_ARGS__)
#define LOG_WARN(...) tt_log (TT_LOG_WARN, LOG_MODULE, __VA_ARGS__)
#define LOG_INFO(...) tt_log (TT_LOG_INFO, LOG_MODULE, __VA_ARGS__)
#define LOG_DEBUG(...) tt_log (TT_LOG_DEBUG, LOG_MODULE, __VA_ARGS__)
#define LOG_TRACE(...) tt_log (TT_LOG_TRACE, LOG_MODULE, __VA_ARGS__)

#endif
