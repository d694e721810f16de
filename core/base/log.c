/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"

static int log_level = -1;
static FILE *log_file;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = { "none", "error", "warn", "info", "debug", "trace" };

static void
log_setup (void)
{
    const char *env = getenv ("TPMTRUST_LOG_LEVEL");
    const char *path = getenv ("TPMTRUST_LOG_FILE");

    log_level = TT_LOG_WARN;
    if (env != NULL) {
        for (int i = 0; i <= TT_LOG_TRACE; i++)
            if (strcasecmp (env, level_names[i]) == 0 || (env[0] - '0' == i && env[1] == '\0'))
                log_level = i;
    }
    if (path != NULL && path[0] != '\0')
        log_file = fopen (path, "ae");
}

void
tt_log_init (void)
{
    pthread_once (&log_once, log_setup);
}

int
tt_log_level (void)
{
    tt_log_init ();
    return log_level;
}

void
tt_log (int level, const char *module, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (level > tt_log_level ())
        return;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    fprintf (log_file ? log_file : stderr, "tpmtrust[%s] %s: %s\n", module, level_names[level],
             msg);
    if (log_file)
        fflush (log_file);
}
