/* atomic_file.h — "nothing is written half": every output file is written to PATH.tmp.XXXXXX
 * in the same folder, flushed, fsynced, renamed over PATH, and the folder fsynced. On any
 * failure the temporary is removed and PATH is left as it was. */
#ifndef SARA_CORE_ATOMIC_FILE_H
#define SARA_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "sara/sara.h"

typedef struct {
    FILE *fp;        /* write here */
    char *path;      /* final name */
    char *tmp_path;  /* temporary name */
} atomic_file;

sara_status atomic_file_open(atomic_file *af, const char *path);
/* Flush, fsync, close, rename to the final path, fsync the folder. Frees af either way. */
sara_status atomic_file_commit(atomic_file *af);
/* Close and remove the temporary; the final path is untouched. */
void atomic_file_abort(atomic_file *af);
/* Writes n bytes to af->fp, failing with the final path named. */
sara_status atomic_file_write(atomic_file *af, const void *data, size_t n);

/* The whole of path: text and a final newline (JSON documents, config files), atomically. */
sara_status atomic_file_save_text(const char *path, const char *text);
struct cJSON;
/* The JSON document root, printed, as the whole of path (atomic_file_save_text); frees root.
 * root NULL (a failed build) is an out-of-memory error naming path. */
sara_status atomic_file_save_json(const char *path, struct cJSON *root);

/* Fault injection, for tests only (the library never calls it): after `bytes` more bytes have gone
 * through atomic_file_write in this process, every later write fails with errno `err` (ENOSPC: a
 * full disk), until atomic_file_fault_clear. Not thread-safe; tests set it around one call. */
void atomic_file_fault_after(long long bytes, int err);
void atomic_file_fault_clear(void);

#endif
