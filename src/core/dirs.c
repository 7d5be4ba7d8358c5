/* dirs.c — see dirs.h. */
#include "core/dirs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"

#define DIRS_PATH_MAX 4096

static sara_status make_one(const char *path)
{
    struct stat st;
    if (mkdir(path, 0777) == 0 || (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return SARA_OK;
    if (errno == EEXIST)
        return sara_fail(SARA_ERR_IO, "%s: exists and is not a folder", path);
    return sara_fail(SARA_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
}

sara_status dirs_create(const char *path)
{
    char buf[DIRS_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return sara_fail(SARA_ERR_INVALID, "%.64s: folder path empty or too long", path);
    memcpy(buf, path, n + 1);
    /* Each parent in turn: a '/' after the first character ends one (a leading '/' is the root). */
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        sara_status s = make_one(buf);
        buf[i] = '/';
        if (s != SARA_OK)
            return s;
    }
    return make_one(buf);
}
