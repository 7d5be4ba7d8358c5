/* sysmem.c — see sysmem.h. */
#include "core/sysmem.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/text_file.h"

/* /proc/meminfo is about 1.5 kB; a file far larger is not one. */
#define SYSMEM_MAX_BYTES (64 * 1024)
#define SYSMEM_KEY "MemAvailable:"

/* The line of text that starts with key, or NULL. */
static const char *line_starting(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *line = text; line; line = strchr(line, '\n')) {
        line += *line == '\n';
        if (!strncmp(line, key, n))
            return line;
    }
    return NULL;
}

/* "   N kB" at p: N, or 0 with *ok = 0 if it is not that. */
static unsigned long long parse_kb(const char *p, int *ok)
{
    while (*p == ' ' || *p == '\t')
        p++;
    *ok = 0;
    if (!isdigit((unsigned char)*p))
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long kb = strtoull(p, &end, 10);
    while (*end == ' ')
        end++;
    *ok = !errno && !strncmp(end, "kB", 2) && kb <= SIZE_MAX / 1024;
    return kb;
}

sara_status sysmem_available(const char *path, size_t *bytes)
{
    char *text = NULL;
    SARA_TRY(text_file_read(path, SYSMEM_MAX_BYTES, "meminfo file", &text, NULL));
    const char *line = line_starting(text, SYSMEM_KEY);
    int ok = 0;
    unsigned long long kb = line ? parse_kb(line + strlen(SYSMEM_KEY), &ok) : 0;
    sara_status s = SARA_OK;
    if (!line)
        s = sara_fail(SARA_ERR_FORMAT, "%s: no MemAvailable line", path);
    else if (!ok)
        s = sara_fail(SARA_ERR_FORMAT, "%s: MemAvailable is not a number of kB", path);
    else
        *bytes = (size_t)kb * 1024;
    free(text);
    return s;
}
