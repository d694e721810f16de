/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "config"
#include "base/config-file.h"
#include "base/log.h"

#define MAX_KEYS 16

static struct {
    char *key, *value;
} entries[MAX_KEYS];
static size_t n_entries;
static char conf_path[4096];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static char *
trim (char *s)
{
    char *end;
    while (isspace ((unsigned char) *s))
        s++;
    end = s + strlen (s);
    while (end > s && isspace ((unsigned char) end[-1]))
        *--end = '\0';
    return s;
}

static void
config_read (void)
{
    const char *env = getenv ("TPMTRUST_CONF");
    char line[4096];
    unsigned lineno = 0;
    FILE *f;

    snprintf (conf_path, sizeof conf_path, "%s",
              env && env[0] ? env : SYSCONFDIR "/tpmtrust/tpmtrust.conf");
    f = fopen (conf_path, "re");
    if (f == NULL)
        return;
    while (fgets (line, sizeof line, f) != NULL && n_entries < MAX_KEYS) {
        char *hash = strchr (line, '#'), *eq, *k, *v;
        lineno++;
        if (hash)
            *hash = '\0';
        k = trim (line);
        if (*k == '\0')
            continue;
        eq = strchr (k, '=');
        if (eq == NULL) {
            LOG_WARN ("%s:%u: expected 'key = value'", conf_path, lineno);
            continue;
        }
        *eq = '\0';
        k = trim (k);
        v = trim (eq + 1);
        entries[n_entries].key = strdup (k);
        entries[n_entries].value = strdup (v);
        if (entries[n_entries].key && entries[n_entries].value)
            n_entries++;
    }
    fclose (f);
}

const char *
config_get (const char *key)
{
    pthread_once (&once, config_read);
    for (size_t i = n_entries; i-- > 0;)
        if (strcmp (entries[i].key, key) == 0)
            return entries[i].value;
    return NULL;
}

const char *
config_path (void)
{
    pthread_once (&once, config_read);
    return conf_path;
}
