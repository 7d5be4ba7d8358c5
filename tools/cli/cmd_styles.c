/* cmd_styles.c — `sara styles`: writes the five styled Fashion-MNIST sets (src/data/styles.h),
 * one folder per style, ready for `sara train --init MODEL --data DIR/<style>`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/dirs.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/styles.h"
#include "options.h"

/* Source images stay 28×28 in the transforms and are padded to the base model's 32×32 on writing. */
#define STYLES_PAD_TO 32
#define STYLES_PREVIEW_COLS 8

typedef struct {
    const char *config, *out, *style, *split, *data_dir;
    int per_class, list;
} styles_args;

#define R(field, type, name, def, help) OPT_ROW(styles_args, field, type, name, def, help)
static const opt_spec styles_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(out, OPT_STRING, "out", NULL, "folder to write; each style goes to OUT/<style>/"),
    R(style, OPT_STRING, "style", "all", "a style name (see --list) or all"),
    R(per_class, OPT_INT, "per-class", "30", "images per class: the first N of each class in the split"),
    R(split, OPT_STRING, "split", "test", "Fashion-MNIST split the images come from (test: unseen by the base model)"),
    R(data_dir, OPT_STRING, "data-dir", NULL, "Fashion-MNIST folder (default $SARA_FASHION_MNIST or " FASHION_MNIST_DEFAULT_DIR ")"),
    R(list, OPT_FLAG, "list", NULL, "print the styles and exit"),
};
#undef R

static const opt_table styles_table_opts = {
    "styles", "sara styles — write styled Fashion-MNIST sets for fine-tuning", "sara styles --out DIR [options]",
    styles_specs, (int)(sizeof styles_specs / sizeof styles_specs[0]), 0};

/* The first per_class images of each class, in split order: pixels (n, 28, 28), labels, indices. */
static sara_status pick_sources(const sara_dataset *d, int per_class, uint8_t *pixels, int64_t *labels,
                                int64_t *indices, int *n)
{
    int taken[FASHION_MNIST_CLASSES] = {0};
    size_t side = (size_t)d->height * (size_t)d->width;
    *n = 0;
    for (int i = 0; i < d->count && *n < per_class * FASHION_MNIST_CLASSES; i++) {
        int k = (int)d->labels[i];
        if (k < 0 || k >= FASHION_MNIST_CLASSES || taken[k] >= per_class)
            continue;
        taken[k]++;
        styles_pixels_from_float(d->images + (size_t)i * side, side, pixels + (size_t)*n * side);
        labels[*n] = k;
        indices[(*n)++] = i;
    }
    for (int k = 0; k < FASHION_MNIST_CLASSES; k++)
        if (taken[k] < per_class)
            return sara_fail(SARA_ERR_INVALID, "%s: only %d images of class '%s' (--per-class %d)", d->source, taken[k],
                             fashion_mnist_class_names[k], per_class);
    return SARA_OK;
}

static sara_status write_style(const styles_args *a, int style, const uint8_t *src, const int64_t *labels,
                               const int64_t *indices, int n, int h, int w)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", a->out, styles_table[style].name);
    SARA_TRY(dirs_create(dir));
    size_t side = (size_t)h * (size_t)w;
    uint8_t *styled = malloc((size_t)n * side); /* (n, h, w) */
    if (!styled)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", dir);
    sara_status s = SARA_OK;
    for (int i = 0; i < n && s == SARA_OK; i++)
        s = styles_apply(style, src + (size_t)i * side, h, w, (uint64_t)indices[i], styled + (size_t)i * side);
    int cols = a->per_class < STYLES_PREVIEW_COLS ? a->per_class : STYLES_PREVIEW_COLS;
    if (s == SARA_OK)
        s = styles_write_folder(dir, styled, labels, indices, n, h, w, STYLES_PAD_TO, fashion_mnist_class_names,
                                FASHION_MNIST_CLASSES, cols);
    if (s == SARA_OK)
        fprintf(stderr, "wrote %s: %d images (%d per class), metadata.jsonl, preview.png\n", dir, n, a->per_class);
    free(styled);
    return s;
}

static sara_status run(const styles_args *a)
{
    int only = -1;
    if (strcmp(a->style, "all") && (only = styles_find(a->style)) < 0)
        return sara_fail(SARA_ERR_INVALID, "--style: unknown style '%s' (sara styles --list)", a->style);
    if (!a->out)
        return sara_fail(SARA_ERR_INVALID, "--out: required (the folder to write)");
    if (a->per_class <= 0)
        return sara_fail(SARA_ERR_INVALID, "--per-class: must be positive, not %d", a->per_class);
    sara_dataset d = {0};
    SARA_TRY(dataset_load_fashion_mnist(&d, a->data_dir, a->split, 0, 0));
    size_t side = (size_t)d.height * (size_t)d.width, cap = (size_t)a->per_class * FASHION_MNIST_CLASSES;
    uint8_t *pixels = malloc(cap * side); /* (cap, 28, 28) */
    int64_t *labels = malloc(cap * sizeof *labels), *indices = malloc(cap * sizeof *indices); /* (cap) */
    int n = 0;
    sara_status s = pixels && labels && indices ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "out of memory");
    if (s == SARA_OK)
        s = pick_sources(&d, a->per_class, pixels, labels, indices, &n);
    if (s == SARA_OK)
        s = dirs_create(a->out);
    for (int k = 0; k < STYLES_COUNT && s == SARA_OK; k++)
        if (only < 0 || only == k)
            s = write_style(a, k, pixels, labels, indices, n, d.height, d.width);
    free(pixels);
    free(labels);
    free(indices);
    dataset_free(&d);
    return s;
}

int cmd_styles(int argc, char **argv)
{
    styles_args a;
    int r = opts_parse_command(&styles_table_opts, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    if (a.list) {
        for (int k = 0; k < STYLES_COUNT; k++)
            printf("%-9s %s\n", styles_table[k].name, styles_table[k].description);
        return 0;
    }
    sara_status s = run(&a);
    return s == SARA_OK ? 0 : cli_fail(s);
}
