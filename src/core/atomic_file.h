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

#endif
