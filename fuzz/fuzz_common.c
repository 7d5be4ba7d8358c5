/* fuzz_common.c — what every fuzz target shares: the error-contract check and a scratch folder
 * for the targets whose loaders read real files. See fuzz.h. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fuzz_message_ok(sara_status s, const char *name)
{
    if (s == SARA_OK)
        return 1;
    const char *msg = sara_last_error();
    return msg[0] && !strchr(msg, '\n') && strstr(msg, name) != NULL;
}

static char scratch[512];

static void scratch_remove(void)
{
    if (!scratch[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", scratch);
}

const char *fuzz_scratch_dir(void)
{
    if (scratch[0])
        return scratch;
    /* /dev/shm when there is one: a fuzzer writes these files hundreds of times a second. */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/sara-fuzz-XXXXXX", base);
    if (!mkdtemp(scratch)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(scratch_remove);
    return scratch;
}

int fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    int ok = n == 0 || fwrite(data, 1, n, fp) == n; /* fwrite(NULL, ...) is undefined even for 0 bytes */
    return fclose(fp) == 0 && ok;
}
