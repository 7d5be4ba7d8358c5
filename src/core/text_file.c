/* text_file.c — see text_file.h. */
#include "core/text_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

sara_status text_file_read(const char *path, size_t max_bytes, const char *what, char **out, size_t *len)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sara_fail(SARA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(max_bytes + 1);
    if (!buf) {
        fclose(fp);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    }
    /* One byte past the cap tells "exactly at the cap" from "over it". */
    size_t n = fread(buf, 1, max_bytes + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > max_bytes) {
        free(buf);
        return bad ? sara_fail(SARA_ERR_IO, "%s: read failed", path)
                   : sara_fail(SARA_ERR_FORMAT, "%s: larger than %zu bytes, not a %s", path, max_bytes, what);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return SARA_OK;
}
