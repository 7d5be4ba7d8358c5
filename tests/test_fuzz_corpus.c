/* test_fuzz_corpus.c — replays every committed fuzz input (every file in fuzz/corpus/<target>/) through the
 * same entry points the libFuzzer binaries use (fuzz/fuzz.h), so `make test` (and, under the
 * sanitizers, `make asan`) covers every seed and every regression input. File names carry the
 * expectation: "ok-*" must load, "bad-*" must be refused, "regress-*" (inputs that once crashed)
 * may do either; every refusal must be one line naming the input. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "test.h"

#define CORPUS_DIR "fuzz/corpus"
#define CORPUS_MAX_BYTES (1 << 22) /* seeds are small; a bigger file is a mistake */

typedef struct {
    const char *name;
    sara_status (*fn)(const uint8_t *data, size_t size);
    const char *input_name;
} fuzz_target;

static const fuzz_target targets[] = {
    {"safetensors", fuzz_safetensors, FUZZ_NAME_SAFETENSORS},
    {"adapter", fuzz_adapter, FUZZ_NAME_ADAPTER},
    {"config", fuzz_config, FUZZ_NAME_CONFIG},
    {"png", fuzz_png, FUZZ_NAME_PNG},
    {"idx", fuzz_idx, FUZZ_NAME_IDX},
    {"metadata_jsonl", fuzz_metadata_jsonl, FUZZ_NAME_METADATA_JSONL},
};

static uint8_t *read_whole(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = fp ? malloc(CORPUS_MAX_BYTES) : NULL;
    *n = buf ? fread(buf, 1, CORPUS_MAX_BYTES, fp) : 0;
    if (fp)
        fclose(fp);
    return buf;
}

/* Replays one target's corpus; returns the number of files, or -1 after reporting a failure. */
static int replay(const fuzz_target *t, int *ok_count, int *bad_count)
{
    char dir[256], path[600];
    snprintf(dir, sizeof dir, CORPUS_DIR "/%s", t->name);
    DIR *d = opendir(dir);
    if (!d) {
        test_fail(__FILE__, __LINE__, "%s: missing corpus folder", dir);
        return -1;
    }
    int files = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) && !failed) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        uint8_t *data = read_whole(path, &n);
        if (!data || n == CORPUS_MAX_BYTES) {
            test_fail(__FILE__, __LINE__, "%s: unreadable or too large", path);
            failed = 1;
        } else {
            sara_status s = t->fn(data, n);
            int want_ok = !strncmp(e->d_name, "ok-", 3), want_bad = !strncmp(e->d_name, "bad-", 4);
            *ok_count += s == SARA_OK;
            *bad_count += s != SARA_OK;
            if ((want_ok && s != SARA_OK) || (want_bad && s == SARA_OK)) {
                test_fail(__FILE__, __LINE__, "%s: got %s (%s)", path, sara_status_name(s),
                          s ? sara_last_error() : "accepted");
                failed = 1;
            } else if (!fuzz_message_ok(s, t->input_name)) {
                test_fail(__FILE__, __LINE__, "%s: message '%s' is not one line naming %s", path, sara_last_error(),
                          t->input_name);
                failed = 1;
            }
            files++;
        }
        free(data);
    }
    closedir(d);
    return failed ? -1 : files;
}

TEST(fuzz_corpus_replays_cleanly)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        int ok = 0, bad = 0, n = replay(&targets[i], &ok, &bad);
        CHECK(n >= 0);
        /* A corpus must exercise both sides: some inputs accepted, some refused. */
        CHECK_MSG(ok >= 2 && bad >= 3, "%s: %d accepted, %d refused (too few seeds)", targets[i].name, ok, bad);
    }
}
