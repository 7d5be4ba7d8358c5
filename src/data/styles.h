/* styles.h — five deterministic style transforms of Fashion-MNIST images, the small-scale
 * counterpart of the SaRA paper's five style datasets (BarbieCore, CyberPunk, ElementFire,
 * Expedition, Hornify), and the writer of a styled image folder that `sara train --data` loads
 * with the Fashion-MNIST classes. Every style keeps the garment's silhouette (nothing is drawn
 * farther than STYLES_MAX_SPREAD pixels from it; the background stays 0) and depends on pixel
 * position or neighbourhood, so no per-pixel bias/scale reproduces it. docs/STYLES.md shows them. */
#ifndef SARA_DATA_STYLES_H
#define SARA_DATA_STYLES_H

#include <stddef.h>
#include <stdint.h>

#include "sara/sara.h"

#define STYLES_COUNT 5
/* A pixel belongs to the silhouette when its value exceeds this: Fashion-MNIST's background is
 * exactly 0, and its faintest anti-aliasing fringe carries no shape. */
#define STYLES_MASK_MIN 8
/* No style writes a non-zero pixel farther than this (Chebyshev distance) from the silhouette. */
#define STYLES_MAX_SPREAD 1
/* Base seed of the per-image random streams (rng_seed_stream(STYLES_SEED + style, index)). */
#define STYLES_SEED 0x5354594c45ULL /* "STYLE" */

typedef struct {
    const char *name;         /* "neon": a folder name and a --style value */
    const char *description;  /* one line, for `sara styles --list` */
} style_info;

extern const style_info styles_table[STYLES_COUNT];

/* The style's index in styles_table, or -1 for an unknown name. */
int styles_find(const char *name);

/* Styles one grey image in (h, w), 8-bit, background 0, into out (h, w). `index` (the image's
 * index in its Fashion-MNIST split) seeds the styles with random variation. A pure function:
 * equal arguments give equal bytes. h and w at least 3 and at most 4096. */
sara_status styles_apply(int style, const uint8_t *in, int h, int w, uint64_t index, uint8_t *out);

/* The exact inverse of the dataset loaders' p / 127.5 - 1: n floats in [-1, 1] back to the 8-bit
 * pixels they came from (values outside are clamped). */
void styles_pixels_from_float(const float *x, size_t n, uint8_t *out);

/* Styles one dataset image in place: img (S, S) floats in [-1, 1] holding an h×w garment centred
 * on a canvas of -1 (as dataset_load_fashion_mnist pads). The h×w centre goes to 8 bits, through
 * styles_apply and back, so the result equals loading the styled set written by `sara styles`;
 * the border stays as it is. tmp holds 2·h·w bytes. */
sara_status styles_apply_float(int style, float *img, int S, int h, int w, uint64_t index, uint8_t *tmp);

/* Writes a styled folder: dir/NNNNN.png for each of the n images (h, w) (centred on a
 * pad_to×pad_to canvas of 0 first, as dataset_load_fashion_mnist pads, so the loader's fit to
 * pad_to is a copy and the garment keeps the base model's scale and position), dir/metadata.jsonl
 * ({"file_name", "text": class_names[labels[i]], "source_index": indices[i]} a line) and
 * dir/preview.png (one row per class, the first preview_cols images of each, empty cells black).
 * images (n, h, w) are already styled; labels (n) in [0, num_classes). dir must exist. Every file
 * is written atomically. */
sara_status styles_write_folder(const char *dir, const uint8_t *images, const int64_t *labels, const int64_t *indices,
                                int n, int h, int w, int pad_to, const char *const *class_names, int num_classes,
                                int preview_cols);

#endif
