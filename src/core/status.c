/* status.c — owns the per-thread last-error buffer behind sara_last_error(). */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One line is all a message may be; longer ones are truncated. */
#define SARA_ERROR_MAX 1024

static _Thread_local char error_buf[SARA_ERROR_MAX];

const char *sara_last_error(void) { return error_buf; }

const char *sara_status_name(sara_status s)
{
    switch (s) {
    case SARA_OK: return "ok";
    case SARA_ERR_IO: return "io error";
    case SARA_ERR_FORMAT: return "format error";
    case SARA_ERR_NOMEM: return "out of memory";
    case SARA_ERR_INVALID: return "invalid argument";
    case SARA_ERR_SHAPE: return "shape mismatch";
    case SARA_ERR_MISSING: return "missing";
    case SARA_ERR_NUMERIC: return "non-finite value";
    case SARA_ERR_UNSUPPORTED: return "unsupported";
    case SARA_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

/* Messages quote names and values taken from input files (tensor names, JSON keys, captions),
 * which may hold newlines or terminal escape sequences: every control byte becomes '?', so a
 * message stays one line and prints as plain text. (Found by fuzzing the adapter loader.) */
static void error_make_printable(char *buf)
{
    for (unsigned char *p = (unsigned char *)buf; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

sara_status sara_fail(sara_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    error_make_printable(error_buf);
    return s;
}

void sara_error_prefix(const char *fmt, ...)
{
    char prefix[SARA_ERROR_MAX], old[SARA_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    snprintf(error_buf, sizeof error_buf, "%s: %s", prefix, old);
    error_make_printable(error_buf);
}

void sara_error_clear(void) { error_buf[0] = '\0'; }
