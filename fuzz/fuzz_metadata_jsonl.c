/* fuzz_metadata_jsonl.c — the image-folder loader's metadata.jsonl parsing and labelling (the
 * half of dataset_load_folder before any image is decoded), on arbitrary text read through
 * fmemopen. The folder it refers to holds a.png, b.png and sub/c.jpg (empty: nothing is decoded).
 * Each input runs twice: with classes discovered from the texts, and against fixed class names
 * (a fine-tuned model's) that texts must match and integer labels must stay below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset_priv.h"
#include "fuzz.h"

static const char *jsonl_dir(void)
{
    static char dir[600];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/jsonl", fuzz_scratch_dir());
        char sub[700];
        snprintf(sub, sizeof sub, "%s/sub", dir);
        if ((mkdir(dir, 0777) != 0 || mkdir(sub, 0777) != 0) || !fuzz_write_file(dir, "a.png", NULL, 0) ||
            !fuzz_write_file(dir, "b.png", NULL, 0) || !fuzz_write_file(sub, "c.jpg", NULL, 0))
            abort();
    }
    return dir;
}

static sara_status parse(const uint8_t *data, size_t size, const char *const *fixed, int num_fixed)
{
    /* fmemopen refuses a zero-length buffer; an empty file reads the same as one blank line. */
    static char blank[] = "\n";
    FILE *fp = size ? fmemopen((void *)data, size, "rb") : fmemopen(blank, 1, "rb");
    if (!fp)
        abort();
    sara_dataset d;
    sara_status s = dataset_folder_labels_jsonl(&d, jsonl_dir(), FUZZ_NAME_METADATA_JSONL, fp, fixed, num_fixed);
    fclose(fp);
    if (s == SARA_OK) {
        if (d.count < 1 || d.num_classes < 1 || (fixed && d.num_classes != num_fixed) || d.images)
            abort();
        for (int i = 0; i < d.count; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes)
                abort();
    }
    dataset_free(&d);
    return s;
}

sara_status fuzz_metadata_jsonl(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {"cat", "dog", "T-shirt/top"};
    sara_status s = parse(data, size, NULL, 0);
    if (s == SARA_OK)
        s = parse(data, size, fixed, 3);
    return s;
}

FUZZ_ENTRY(fuzz_metadata_jsonl, FUZZ_NAME_METADATA_JSONL)
