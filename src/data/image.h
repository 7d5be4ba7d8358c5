/* image.h — image files in and out: decoding PNG and JPEG to 8-bit pixels, writing PNG
 * (single images and sample grids), and the resampling that fits any image to a square
 * training input. libpng and libjpeg never print or exit here: their errors come back as a
 * sara_status with a one-line message naming the file. */
#ifndef SARA_DATA_IMAGE_H
#define SARA_DATA_IMAGE_H

#include <stdint.h>

#include "core/rng.h"
#include "sara/sara.h"

/* Largest image accepted, in pixels: guards size arithmetic and memory against hostile headers. */
#define IMAGE_MAX_PIXELS (1LL << 28)

/* Decodes a PNG or JPEG file (chosen by magic bytes) to 8-bit interleaved pixels (h, w, c),
 * c in {1, 3}; the caller frees *pixels. PNG: 1/2/4/8/16-bit grey, grey+alpha, RGB, RGBA and
 * palette; 16-bit is scaled to 8-bit with rounding; alpha and tRNS transparency are dropped
 * (as PIL's convert("RGB") does). JPEG: grey, YCbCr and RGB; any libjpeg warning (truncated or
 * corrupt data) is an error, as a loader that silently trains on grey filler would be worse. */
sara_status image_read(const char *path, uint8_t **pixels, int *w, int *h, int *c);
/* The same decoding of a file's bytes already in memory; `path` only names it in messages. */
sara_status image_decode(const char *path, const uint8_t *data, size_t size, uint8_t **pixels, int *w, int *h,
                         int *c);

/* Writes 8-bit pixels (h, w, c), c in {1, 3}, as a PNG atomically (src/core/atomic_file.h). */
sara_status image_write_png(const char *path, const uint8_t *pixels, int w, int h, int c);

/* Padding between grid cells, in pixels, and its value: mid-grey separates cells on both the
 * black backgrounds of Fashion-MNIST and the light backgrounds of style images. */
#define IMAGE_GRID_PAD 2
#define IMAGE_GRID_PAD_VALUE 128

/* Writes n images (n, C, H, W) with values in [-1, 1] as one PNG: `cols` columns (at most n),
 * ceil(n / cols) rows, IMAGE_GRID_PAD pixels of padding around and between cells (empty cells
 * are padding too). A value x becomes round((x + 1) * 127.5) clamped to [0, 255]; NaN becomes 0.
 * C is 1 (grey) or 3 (RGB). Image i sits at row i / cols, column i % cols, its top-left pixel at
 * (PAD + row * (H + PAD), PAD + col * (W + PAD)). */
sara_status image_write_grid(const char *path, const float *images, int n, int C, int H, int W, int cols);

/* Converts 8-bit pixels (h, w, c), c in {1, 3}, to planes (channels, h, w) with values in
 * [0, 255], channels in {1, 3}: 3 -> 1 is luma 0.299 R + 0.587 G + 0.114 B, 1 -> 3 replicates. */
void image_to_planes(const uint8_t *pixels, int w, int h, int c, int channels, float *planes);

/* Resamples planes (C, h, w) to (C, oh, ow), each axis on its own: exact area averaging when
 * that axis shrinks (each output pixel is the overlap-weighted mean of the input pixels its
 * footprint covers, as PIL's BOX filter), bilinear with half-pixel centres and edge clamping
 * when it grows (torch's align_corners=False), a copy when it keeps its size. */
sara_status image_resize(const float *src, int C, int h, int w, float *dst, int oh, int ow);

/* Fits planes (C, h, w) to a size×size square: resize so the shorter side is `size` (the
 * longer side rounded to nearest), then crop the centre (offset floor((len - size) / 2)), or,
 * if rng is non-NULL, a uniformly random window drawn from rng (x offset first, then y). */
sara_status image_fit_square(const float *src, int C, int h, int w, int size, sara_rng *rng, float *dst);

#endif
