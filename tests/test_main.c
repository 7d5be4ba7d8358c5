/* test_main.c — the test runner: runs registered tests in name order (all, or those whose
 * name contains argv[1]), each in a fresh temporary directory, and prints one line per test
 * and, last, "N passed, N failed". Exits non-zero if any test failed. */
#include "test.h"

#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEST_MAX 2048

typedef struct {
    const char *name;
    test_fn fn;
} test_case;

static test_case tests[TEST_MAX];
static int test_count;
static int current_failed;
static char current_tmpdir[512];

void test_register(const char *name, test_fn fn)
{
    if (test_count < TEST_MAX)
        tests[test_count++] = (test_case){name, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    current_failed = 1;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int test_contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}

int test_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

const char *test_tmpdir(void)
{
    if (!current_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(current_tmpdir, sizeof current_tmpdir, "%s/sara-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(current_tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return current_tmpdir;
}

const char *test_tmp_path(const char *name)
{
    static char buf[8][700];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

void test_write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

int test_fd_check(const char *what, double *x, const double *analytic, int64_t n, test_loss_fn loss, void *ctx,
                  double h, double atol, double rtol)
{
    double *num = malloc((size_t)n * sizeof *num);
    if (!num)
        return 0;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lp = loss(ctx);
        x[i] = keep - h;
        double lm = loss(ctx);
        x[i] = keep;
        num[i] = (lp - lm) / (2 * h);
    }
    omp_set_num_threads(threads);
    int ok = test_allclose_f64(what, analytic, num, (size_t)n, atol, rtol);
    free(num);
    return ok;
}

static void remove_tmpdir(void)
{
    if (current_tmpdir[0]) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", current_tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", current_tmpdir);
        current_tmpdir[0] = '\0';
    }
}

#define ALLCLOSE_BODY(T)                                                             \
    size_t worst = 0, bad = 0;                                                       \
    double worst_excess = -1.0;                                                      \
    for (size_t i = 0; i < n; i++) {                                                 \
        double g = (double)got[i], w = (double)want[i];                              \
        double lim = atol + rtol * fabs(w), err = fabs(g - w);                       \
        if (!(err <= lim)) { /* also catches NaN */                                  \
            bad++;                                                                   \
            if (!(err - lim <= worst_excess)) {                                      \
                worst_excess = err - lim;                                            \
                worst = i;                                                           \
            }                                                                        \
        }                                                                            \
    }                                                                                \
    if (bad) {                                                                       \
        fprintf(stderr, "    %s: %zu of %zu elements differ; worst [%zu] got %.9g want %.9g" \
                " (atol %.3g rtol %.3g)\n", what, bad, n, worst, (double)got[worst],   \
                (double)want[worst], atol, rtol);                                    \
        return 0;                                                                    \
    }                                                                                \
    return 1;

int test_allclose_f32(const char *what, const float *got, const float *want, size_t n, double atol, double rtol)
{
    ALLCLOSE_BODY(float)
}

int test_allclose_f64(const char *what, const double *got, const double *want, size_t n, double atol, double rtol)
{
    ALLCLOSE_BODY(double)
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const test_case *)a)->name, ((const test_case *)b)->name);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    qsort(tests, (size_t)test_count, sizeof tests[0], by_name);
    for (int i = 0; i < test_count; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        current_failed = 0;
        tests[i].fn();
        remove_tmpdir();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%s %s (%.2fs)\n", current_failed ? "FAIL" : "ok  ", tests[i].name, secs);
        fflush(stdout);
        if (current_failed)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : (passed ? 0 : 1);
}
