/* text_file.h — reading a small text file whole (config.json, sara.json, captions, option files):
 * one implementation with one set of messages, and a size cap so a wrong path to a huge file is an
 * error, not an allocation of gigabytes. */
#ifndef SARA_CORE_TEXT_FILE_H
#define SARA_CORE_TEXT_FILE_H

#include <stddef.h>

#include "sara/sara.h"

/* *out (NUL-terminated, malloc'd) and *len (may be NULL) from path. A file that cannot be opened
 * or read is SARA_ERR_IO; one over max_bytes is SARA_ERR_FORMAT "larger than N bytes, not a <what>". */
sara_status text_file_read(const char *path, size_t max_bytes, const char *what, char **out, size_t *len);

#endif
