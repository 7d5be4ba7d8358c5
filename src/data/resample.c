/* resample.c — the pixel arithmetic between a decoded image and a training input: channel
 * conversion, separable resizing (area averaging down, bilinear up) and the square crop.
 * Resizing runs on floats in [0, 255] so no rounding happens before the final [-1, 1] scaling. */
#include "data/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* ITU-R BT.601 luma weights, as PIL's convert("L"). */
#define LUMA_R 0.299f
#define LUMA_G 0.587f
#define LUMA_B 0.114f

void image_to_planes(const uint8_t *pixels, int w, int h, int c, int channels, float *planes)
{
    size_t hw = (size_t)w * h;
    for (size_t p = 0; p < hw; p++) {
        const uint8_t *px = pixels + p * c;
        if (channels == 1) {
            planes[p] = c == 1 ? px[0] : LUMA_R * px[0] + LUMA_G * px[1] + LUMA_B * px[2];
        } else {
            for (int k = 0; k < 3; k++)
                planes[k * hw + p] = px[c == 1 ? 0 : k];
        }
    }
}

/* How one axis of length `in` maps to length `out`: output j is the sum over
 * i in [start[j], start[j] + len[j]) of weight[j * taps + i - start[j]] * input[i]. */
typedef struct {
    int taps;
    int *start, *len;   /* (out) */
    double *weight;     /* (out, taps) */
} axis_map;

static void axis_map_free(axis_map *m)
{
    free(m->start);
    free(m->len);
    free(m->weight);
}

/* Output j covers input [j * scale, (j + 1) * scale); each input pixel weighs by its overlap. */
static void axis_area(axis_map *m, int in, int out)
{
    double scale = (double)in / out;
    for (int j = 0; j < out; j++) {
        double lo = j * scale, hi = (j + 1) * scale;
        int i0 = (int)floor(lo), i1 = (int)ceil(hi);
        if (i1 > in)
            i1 = in;
        m->start[j] = i0;
        m->len[j] = i1 - i0;
        for (int i = i0; i < i1; i++) {
            double overlap = fmin(hi, i + 1.0) - fmax(lo, (double)i);
            m->weight[(size_t)j * m->taps + (i - i0)] = overlap / scale;
        }
    }
}

/* Output j samples input position (j + 0.5) * scale - 0.5, clamped to the edge pixels. */
static void axis_bilinear(axis_map *m, int in, int out)
{
    double scale = (double)in / out;
    for (int j = 0; j < out; j++) {
        double src = fmin(fmax((j + 0.5) * scale - 0.5, 0.0), in - 1.0);
        int i0 = (int)floor(src);
        double frac = src - i0;
        m->start[j] = i0;
        m->len[j] = i0 + 1 < in ? 2 : 1;
        m->weight[(size_t)j * m->taps] = m->len[j] == 2 ? 1.0 - frac : 1.0;
        if (m->len[j] == 2)
            m->weight[(size_t)j * m->taps + 1] = frac;
    }
}

static sara_status axis_map_make(axis_map *m, int in, int out)
{
    /* An area footprint of `scale` pixels touches at most ceil(scale) + 1 of them. */
    m->taps = out < in ? (int)ceil((double)in / out) + 1 : 2;
    m->start = malloc((size_t)out * sizeof *m->start);
    m->len = malloc((size_t)out * sizeof *m->len);
    m->weight = calloc((size_t)out * m->taps, sizeof *m->weight);
    if (!m->start || !m->len || !m->weight) {
        axis_map_free(m);
        return sara_fail(SARA_ERR_NOMEM, "image resize: out of memory");
    }
    if (out < in)
        axis_area(m, in, out);
    else
        axis_bilinear(m, in, out); /* out == in gives weight 1 at i = j: a copy */
    return SARA_OK;
}

/* dst (rows, out) from src (rows, in): resample every row with m. */
static void resample_rows(const float *src, int rows, int in, float *dst, int out, const axis_map *m)
{
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * in;
        for (int j = 0; j < out; j++) {
            const double *wt = m->weight + (size_t)j * m->taps;
            double acc = 0.0;
            for (int k = 0; k < m->len[j]; k++)
                acc += wt[k] * s[m->start[j] + k];
            dst[(size_t)r * out + j] = (float)acc;
        }
    }
}

/* dst (out, cols) from src (in, cols), in implied by m: resample every column with m. */
static void resample_cols(const float *src, int cols, float *dst, int out, const axis_map *m)
{
    for (int j = 0; j < out; j++) {
        const double *wt = m->weight + (size_t)j * m->taps;
        for (int x = 0; x < cols; x++) {
            double acc = 0.0;
            for (int k = 0; k < m->len[j]; k++)
                acc += wt[k] * src[(size_t)(m->start[j] + k) * cols + x];
            dst[(size_t)j * cols + x] = (float)acc;
        }
    }
}

sara_status image_resize(const float *src, int C, int h, int w, float *dst, int oh, int ow)
{
    if (C <= 0 || h <= 0 || w <= 0 || oh <= 0 || ow <= 0)
        return sara_fail(SARA_ERR_INVALID, "image resize: bad sizes (%d, %d, %d) -> (%d, %d)", C, h, w, oh, ow);
    axis_map mx = {0}, my = {0};
    float *tmp = malloc((size_t)C * h * ow * sizeof *tmp); /* (C, h, ow) */
    sara_status s = tmp ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "image resize: out of memory");
    if (s == SARA_OK)
        s = axis_map_make(&mx, w, ow);
    if (s == SARA_OK)
        s = axis_map_make(&my, h, oh);
    if (s == SARA_OK) {
        resample_rows(src, C * h, w, tmp, ow, &mx);
        for (int ch = 0; ch < C; ch++)
            resample_cols(tmp + (size_t)ch * h * ow, ow, dst + (size_t)ch * oh * ow, oh, &my);
    }
    axis_map_free(&mx);
    axis_map_free(&my);
    free(tmp);
    return s;
}

sara_status image_fit_square(const float *src, int C, int h, int w, int size, sara_rng *rng, float *dst)
{
    if (size <= 0)
        return sara_fail(SARA_ERR_INVALID, "image size %d must be positive", size);
    int oh = size, ow = size;
    if (h < w)
        ow = (int)llround((double)w * size / h);
    else if (w < h)
        oh = (int)llround((double)h * size / w);
    float *tmp = malloc((size_t)C * oh * ow * sizeof *tmp); /* (C, oh, ow) */
    if (!tmp)
        return sara_fail(SARA_ERR_NOMEM, "image resize: out of memory for %dx%d", ow, oh);
    sara_status s = image_resize(src, C, h, w, tmp, oh, ow);
    if (s == SARA_OK) {
        int x0 = rng ? (int)rng_below(rng, (uint64_t)(ow - size) + 1) : (ow - size) / 2;
        int y0 = rng ? (int)rng_below(rng, (uint64_t)(oh - size) + 1) : (oh - size) / 2;
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < size; y++)
                memcpy(dst + ((size_t)ch * size + y) * size, tmp + ((size_t)ch * oh + y0 + y) * ow + x0,
                       (size_t)size * sizeof *dst);
    }
    free(tmp);
    return s;
}
