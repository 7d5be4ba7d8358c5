/* sara.h — the public API of libsara: status codes and the last-error message.
 * A user includes only this header. Every library call returns a sara_status;
 * on failure sara_last_error() holds one line naming the file, tensor or option
 * and what is wrong. The library never exits and never prints errors itself. */
#ifndef SARA_SARA_H
#define SARA_SARA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SARA_VERSION "0.1.0"

typedef enum {
    SARA_OK = 0,
    SARA_ERR_IO,        /* a file could not be opened, read, written, synced or renamed */
    SARA_ERR_FORMAT,    /* a file's contents are malformed (header, JSON, image, idx) */
    SARA_ERR_NOMEM,     /* an allocation failed or a size overflowed */
    SARA_ERR_INVALID,   /* an argument or option is invalid */
    SARA_ERR_SHAPE,     /* a tensor's shape or dtype disagrees with what the model needs */
    SARA_ERR_MISSING,   /* a required tensor, key or file is absent */
    SARA_ERR_NUMERIC,   /* a NaN or Inf appeared where a finite value is required */
    SARA_ERR_UNSUPPORTED, /* a valid input that this version does not implement */
    SARA_ERR_INTERRUPTED /* stopped on request (train_options.stop) after saving its state */
} sara_status;

/* The message of the most recent failure in this thread ("" if none). */
const char *sara_last_error(void);

/* A short name for a status code ("io error", "format error", ...). */
const char *sara_status_name(sara_status s);

#ifdef __cplusplus
}
#endif
#endif
