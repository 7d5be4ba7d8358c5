/* status.h — setting the per-thread last-error message that sara_last_error() returns.
 * Library code fails with `return sara_fail(SARA_ERR_FORMAT, "%s: header length %llu exceeds file size", path, n);`
 * so that the status and its one-line message are produced together. */
#ifndef SARA_CORE_STATUS_H
#define SARA_CORE_STATUS_H

#include "sara/sara.h"

/* Records a formatted message for sara_last_error() and returns `s`. */
sara_status sara_fail(sara_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current last-error message with "prefix: " (for adding context while unwinding). */
void sara_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clears the last-error message. */
void sara_error_clear(void);

/* Propagates a failing status: TRY(expr) returns from the caller if expr != SARA_OK. */
#define SARA_TRY(expr)                  \
    do {                                \
        sara_status sara_try_s_ = (expr); \
        if (sara_try_s_ != SARA_OK)     \
            return sara_try_s_;         \
    } while (0)

#endif
