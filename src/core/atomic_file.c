/* atomic_file.c — temp file, fsync, rename; see atomic_file.h. */
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/status.h"

static void atomic_file_free(atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->fp = NULL;
}

sara_status atomic_file_open(atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(n + 16);
    if (!af->path || !af->tmp_path) {
        atomic_file_free(af);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        sara_status s = sara_fail(SARA_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        atomic_file_free(af);
        return s;
    }
    /* mkstemp makes 0600; outputs are ordinary files, so honour the umask like fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { /* not fatal: the file is still correct */ }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        unlink(af->tmp_path);
        atomic_file_free(af);
        return sara_fail(SARA_ERR_IO, "%s: fdopen failed", path);
    }
    return SARA_OK;
}

/* The test-only write fault (atomic_file_fault_after): bytes left before writes fail; < 0: off. */
static long long fault_budget = -1;
static int fault_errno;

void atomic_file_fault_after(long long bytes, int err)
{
    fault_budget = bytes;
    fault_errno = err;
}

void atomic_file_fault_clear(void) { fault_budget = -1; }

sara_status atomic_file_write(atomic_file *af, const void *data, size_t n)
{
    if (fault_budget >= 0 && (unsigned long long)fault_budget < n) { /* as a full disk would */
        fault_budget = 0;
        return sara_fail(SARA_ERR_IO, "%s: write failed: %s", af->path, strerror(fault_errno));
    }
    if (fault_budget >= 0)
        fault_budget -= (long long)n;
    if (n && fwrite(data, 1, n, af->fp) != n)
        return sara_fail(SARA_ERR_IO, "%s: write failed: %s", af->path, strerror(errno));
    return SARA_OK;
}

void atomic_file_abort(atomic_file *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    atomic_file_free(af);
}

sara_status atomic_file_commit(atomic_file *af)
{
    const char *why = NULL;
    int err = 0;
    if (fflush(af->fp) != 0)
        why = "flush", err = errno;
    else if (fsync(fileno(af->fp)) != 0)
        why = "fsync", err = errno;
    if (fclose(af->fp) != 0 && !why)
        why = "close", err = errno;
    af->fp = NULL;
    if (!why && rename(af->tmp_path, af->path) != 0)
        why = "rename", err = errno;
    if (why) {
        sara_status s = sara_fail(SARA_ERR_IO, "%s: %s failed: %s", af->path, why, strerror(err));
        unlink(af->tmp_path);
        atomic_file_free(af);
        return s;
    }
    /* fsync the folder so the rename itself survives a crash. */
    char *dir_copy = strdup(af->path);
    if (dir_copy) {
        int dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir_copy);
    }
    atomic_file_free(af);
    return SARA_OK;
}

sara_status atomic_file_save_text(const char *path, const char *text)
{
    atomic_file af;
    SARA_TRY(atomic_file_open(&af, path));
    sara_status s = atomic_file_write(&af, text, strlen(text));
    if (s == SARA_OK)
        s = atomic_file_write(&af, "\n", 1);
    if (s != SARA_OK) {
        atomic_file_abort(&af);
        return s;
    }
    return atomic_file_commit(&af);
}

sara_status atomic_file_save_json(const char *path, cJSON *root)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory building the JSON", path);
    sara_status s = atomic_file_save_text(path, text);
    cJSON_free(text);
    return s;
}
