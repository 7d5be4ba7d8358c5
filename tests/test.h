/* test.h — the tiny test framework: TEST(name) registers a function at load time, CHECK*
 * macros fail the running test with file:line and return from it. The runner (test_main.c)
 * runs every test, or those whose name contains argv[1], and ends with "N passed, N failed". */
#ifndef SARA_TEST_H
#define SARA_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sara/sara.h"

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Directory of committed fixtures, relative to the repository root (tests run from there). */
#define TEST_FIXTURES "tests/fixtures"

/* A fresh empty directory under $TMPDIR for this test; removed by the runner afterwards. */
const char *test_tmpdir(void);
/* "<test_tmpdir()>/<name>" in one of 8 rotating buffers (valid until 8 more calls). */
const char *test_tmp_path(const char *name);
/* Writes text to path (best effort: a failure shows up when the test reads the file). */
void test_write_text(const char *path, const char *text);

/* Central differences of loss(ctx) over every element of x (n, double) with step h, compared with
 * analytic (n) at (atol, rtol); on one thread, because thousands of tiny calls would otherwise
 * each wait for a second OpenMP thread on a loaded machine. 1 when close. */
typedef double (*test_loss_fn)(void *ctx);
int test_fd_check(const char *what, double *x, const double *analytic, int64_t n, test_loss_fn loss, void *ctx,
                  double h, double atol, double rtol);

#define TEST(name)                                                      \
    static void name(void);                                             \
    __attribute__((constructor)) static void name##_register(void)      \
    {                                                                   \
        test_register(#name, name);                                     \
    }                                                                   \
    static void name(void)

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);          \
            return;                                                     \
        }                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                            \
    do {                                                                \
        if (!(cond)) {                                                  \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                 \
            return;                                                     \
        }                                                               \
    } while (0)

/* Expects SARA_OK; on failure prints the status and sara_last_error(). */
#define CHECK_OK(expr)                                                  \
    do {                                                                \
        sara_status check_s_ = (expr);                                  \
        if (check_s_ != SARA_OK) {                                      \
            test_fail(__FILE__, __LINE__, "%s -> %s: %s", #expr,        \
                      sara_status_name(check_s_), sara_last_error());   \
            return;                                                     \
        }                                                               \
    } while (0)

/* Expects a specific failing status, and that the error message contains `needle`. */
#define CHECK_ERR(expr, status, needle)                                 \
    do {                                                                \
        sara_status check_s_ = (expr);                                  \
        CHECK_MSG(check_s_ == (status), "%s -> %s (want %s): %s", #expr, \
                  sara_status_name(check_s_), sara_status_name(status), \
                  sara_last_error());                                   \
        CHECK_MSG(test_contains(sara_last_error(), (needle)),           \
                  "%s: message '%s' lacks '%s'", #expr, sara_last_error(), (needle)); \
    } while (0)

int test_contains(const char *haystack, const char *needle);
/* 1 if both files exist and hold the same bytes. */
int test_same_file(const char *a, const char *b);

/* |got-want| <= atol + rtol*|want| elementwise; prints the worst element and returns 0 on failure. */
int test_allclose_f32(const char *what, const float *got, const float *want, size_t n, double atol, double rtol);
int test_allclose_f64(const char *what, const double *got, const double *want, size_t n, double atol, double rtol);

#define CHECK_ALLCLOSE_F32(what, got, want, n, atol, rtol) \
    CHECK_MSG(test_allclose_f32(what, got, want, n, atol, rtol), "%s not close", what)
#define CHECK_ALLCLOSE_F64(what, got, want, n, atol, rtol) \
    CHECK_MSG(test_allclose_f64(what, got, want, n, atol, rtol), "%s not close", what)

#endif
