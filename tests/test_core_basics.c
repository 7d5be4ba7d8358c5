/* test_core_basics.c — status messages, RNG streams, atomic files and the meminfo reader. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/sysmem.h"
#include "test.h"

TEST(status_message_and_prefix)
{
    CHECK(sara_fail(SARA_ERR_FORMAT, "%s: bad %d", "x.bin", 3) == SARA_ERR_FORMAT);
    CHECK(!strcmp(sara_last_error(), "x.bin: bad 3"));
    sara_error_prefix("loading %s", "model");
    CHECK(!strcmp(sara_last_error(), "loading model: x.bin: bad 3"));
}

TEST(rng_is_deterministic_and_normal)
{
    sara_rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        CHECK(rng_next_u64(&a) == rng_next_u64(&b));
    /* Moments of 200k normals: mean within 5 sigma of 0, variance within 5 sigma of 1. */
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    CHECK_MSG(fabs(mean) < 5.0 / sqrt(n), "mean %g", mean);
    CHECK_MSG(fabs(var - 1.0) < 5.0 * sqrt(2.0 / n), "var %g", var);
    uint64_t counts[7] = {0};
    for (int i = 0; i < 70000; i++)
        counts[rng_below(&a, 7)]++;
    for (int k = 0; k < 7; k++) /* each bucket ~10000 ± 5·sqrt(10000·6/7) */
        CHECK_MSG(llabs((long long)counts[k] - 10000) < 470, "bucket %d: %llu", k, (unsigned long long)counts[k]);
}

TEST(atomic_file_commit_and_abort)
{
    char path[600];
    snprintf(path, sizeof path, "%s/out.txt", test_tmpdir());
    atomic_file af;
    CHECK_OK(atomic_file_open(&af, path));
    CHECK_OK(atomic_file_write(&af, "first", 5));
    CHECK_OK(atomic_file_commit(&af));
    CHECK_OK(atomic_file_open(&af, path));
    CHECK_OK(atomic_file_write(&af, "second", 6));
    atomic_file_abort(&af); /* the committed file must be untouched */
    FILE *fp = fopen(path, "rb");
    CHECK(fp);
    char buf[16] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    CHECK(got == 5 && !strcmp(buf, "first"));
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", test_tmpdir());
    CHECK_ERR(atomic_file_open(&af, bad), SARA_ERR_IO, "no/such/dir/x");
}

/* Writes text to a file in the test folder and returns sysmem_available's status on it. */
static sara_status meminfo_from(const char *text, size_t *bytes)
{
    char path[600];
    snprintf(path, sizeof path, "%s/meminfo", test_tmpdir());
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return SARA_ERR_IO;
    fputs(text, fp);
    fclose(fp);
    return sysmem_available(path, bytes);
}

TEST(sysmem_reads_memavailable_and_rejects_what_is_not)
{
    size_t b = 0;
    CHECK_OK(meminfo_from("MemTotal:       16318412 kB\nMemFree:          891236 kB\n"
                          "MemAvailable:   11532048 kB\nBuffers:          311500 kB\n", &b));
    CHECK(b == (size_t)11532048 * 1024);
    CHECK_OK(meminfo_from("MemAvailable: 7 kB\n", &b)); /* the first line */
    CHECK(b == 7 * 1024);
    CHECK(meminfo_from("MemTotal: 5 kB\nMemFree: 3 kB\n", &b) == SARA_ERR_FORMAT); /* old kernels */
    CHECK(test_contains(sara_last_error(), "no MemAvailable line"));
    CHECK(meminfo_from("XMemAvailable: 5 kB\n", &b) == SARA_ERR_FORMAT);        /* not at a line start */
    CHECK(meminfo_from("MemAvailable: -5 kB\n", &b) == SARA_ERR_FORMAT);
    CHECK(meminfo_from("MemAvailable: 5 MB\n", &b) == SARA_ERR_FORMAT);
    CHECK(meminfo_from("MemAvailable: 99999999999999999999999 kB\n", &b) == SARA_ERR_FORMAT);
    CHECK(sysmem_available("/no/such/meminfo", &b) == SARA_ERR_IO);
    /* this machine's (Linux): a positive amount */
    CHECK_OK(sysmem_available(SYSMEM_MEMINFO, &b));
    CHECK(b > 0);
}
