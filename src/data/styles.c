/* styles.c — the five style transforms and the styled-folder writer. Each transform works on
 * 8-bit pixels (h, w) through a silhouette mask (value > STYLES_MASK_MIN) and writes only inside
 * it or, for the neon glow, one pixel around it; the random ones draw from a seeded stream per
 * (style, image index), so a styled set is reproducible bit for bit. */
#include "data/styles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "core/status.h"
#include "data/image.h"

#define STYLES_MAX_SIDE 4096
#define PIXEL_MAX 255.0
#define PIXEL_HALF_RANGE 127.5 /* the loaders' scale: p / 127.5 - 1 */

enum { STYLE_NEON, STYLE_STRIPES, STYLE_HALFTONE, STYLE_FIRE, STYLE_EMBOSS };

const style_info styles_table[STYLES_COUNT] = {
    {"neon", "bright 1-pixel outline with a soft outer glow; the interior dimmed to a faint trace"},
    {"stripes", "diagonal stripes (period 4, phase per image) inside the silhouette, bright and dark bands"},
    {"halftone", "binary clustered-dot halftone screen (4x4 cells) inside the silhouette"},
    {"fire", "heat rising from the garment's hem: bright bottom, dark top, jagged flame tongues and flicker"},
    {"emboss", "grey relief: flat mid-grey with light top-left and shadowed bottom-right edges"},
};

int styles_find(const char *name)
{
    for (int i = 0; name && i < STYLES_COUNT; i++)
        if (!strcmp(name, styles_table[i].name))
            return i;
    return -1;
}

typedef struct {
    const uint8_t *in;  /* (h, w) */
    uint8_t *out;       /* (h, w) */
    uint8_t *mask;      /* (h, w): 1 inside the silhouette */
    int h, w;
    sara_rng rng;
} style_ctx;

static uint8_t to_u8(double v)
{
    return (uint8_t)(v <= 0 ? 0 : v >= PIXEL_MAX ? PIXEL_MAX : lround(v));
}

static int in_mask(const style_ctx *c, int y, int x)
{
    return y >= 0 && y < c->h && x >= 0 && x < c->w && c->mask[y * c->w + x];
}

/* ---- neon: edges light up, the inside goes dark — an edge map no per-pixel map can make. */
#define NEON_EDGE 255
#define NEON_GLOW 96         /* background pixels touching the outline */
#define NEON_INTERIOR 0.18   /* interior keeps this fraction of its value: texture, faintly */

static int neon_is_edge(const style_ctx *c, int y, int x)
{
    return in_mask(c, y, x) &&
           (!in_mask(c, y - 1, x) || !in_mask(c, y + 1, x) || !in_mask(c, y, x - 1) || !in_mask(c, y, x + 1));
}

static void style_neon(style_ctx *c)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            uint8_t v = 0;
            if (neon_is_edge(c, y, x))
                v = NEON_EDGE;
            else if (c->mask[y * c->w + x])
                v = to_u8(NEON_INTERIOR * c->in[y * c->w + x]);
            else
                for (int dy = -1; dy <= 1 && !v; dy++)
                    for (int dx = -1; dx <= 1 && !v; dx++)
                        if (neon_is_edge(c, y + dy, x + dx))
                            v = NEON_GLOW;
            c->out[y * c->w + x] = v;
        }
}

/* ---- stripes: a texture fixed to the pixel grid, x + y. */
#define STRIPE_PERIOD 4
#define STRIPE_WIDTH 2       /* bright band width in pixels along x */
#define STRIPE_BRIGHT_BASE 0.6 /* bright band: 0.6 + 0.4 · value (keeps dark garments striped) */
#define STRIPE_DARK 0.2      /* dark band keeps this fraction of the value */

static void style_stripes(style_ctx *c)
{
    int phase = (int)rng_below(&c->rng, STRIPE_PERIOD);
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            int i = y * c->w + x;
            double v = c->in[i] / PIXEL_MAX;
            int bright = (x + y + phase) % STRIPE_PERIOD < STRIPE_WIDTH;
            double o = bright ? STRIPE_BRIGHT_BASE + (1 - STRIPE_BRIGHT_BASE) * v : STRIPE_DARK * v;
            c->out[i] = c->mask[i] ? to_u8(PIXEL_MAX * o) : 0;
        }
}

/* ---- halftone: ordered dithering against a clustered-dot threshold matrix, so tone becomes
 * the size of a dot and the output is only 0 or 255. Tone is compressed into [LOW, HIGH] so the
 * brightest cloth still shows the screen and the darkest still shows a dot. */
#define HALFTONE_CELL 4
#define HALFTONE_LOW 0.22
#define HALFTONE_HIGH 0.78
/* Fill order of a cell: the centre first, spiralling out, so dots grow as round clusters. */
static const uint8_t halftone_order[HALFTONE_CELL][HALFTONE_CELL] = {
    {12, 5, 6, 13}, {4, 0, 1, 7}, {11, 3, 2, 8}, {15, 10, 9, 14}};

static void style_halftone(style_ctx *c)
{
    const double cells = HALFTONE_CELL * HALFTONE_CELL;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            int i = y * c->w + x;
            double tone = HALFTONE_LOW + (HALFTONE_HIGH - HALFTONE_LOW) * (c->in[i] / PIXEL_MAX);
            int on = tone * cells > halftone_order[y % HALFTONE_CELL][x % HALFTONE_CELL] + 0.5;
            c->out[i] = c->mask[i] && on ? (uint8_t)PIXEL_MAX : 0;
        }
}

/* ---- fire: heat falls from the hem (the silhouette's lowest row) to its top; a smooth random
 * offset per column raises flame tongues and a per-pixel flicker breaks the bands. */
#define FIRE_KNOT 3          /* columns between random tongue heights (linear in between) */
#define FIRE_BASE 1.15       /* heat at the hem before the fall-off */
#define FIRE_FALL 1.3        /* heat lost from hem to top */
#define FIRE_TONGUE 0.35     /* tongue amplitude, in heat units */
#define FIRE_FLICKER 0.12    /* per-pixel flicker amplitude */
#define FIRE_CLOTH 0.25      /* share of the garment's own value kept in the heat */
#define FIRE_EMBER 0.2       /* least heat inside the silhouette, so the top stays visible */
#define FIRE_GAMMA 1.3       /* darkens the cool part: flames look brighter at their core */

static void fire_rows(const style_ctx *c, int *top, int *bottom)
{
    *top = c->h, *bottom = -1;
    for (int i = 0; i < c->h * c->w; i++)
        if (c->mask[i]) {
            int y = i / c->w;
            *top = y < *top ? y : *top;
            *bottom = y > *bottom ? y : *bottom;
        }
}

static void style_fire(style_ctx *c)
{
    int top, bottom, knots = c->w / FIRE_KNOT + 2;
    double knot[STYLES_MAX_SIDE / FIRE_KNOT + 2]; /* (knots) tongue heights in [-1, 1] */
    fire_rows(c, &top, &bottom);
    for (int k = 0; k < knots; k++)
        knot[k] = 2 * rng_uniform(&c->rng) - 1;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            int i = y * c->w + x;
            /* Drawn for every pixel, inside or not, so the stream does not depend on the mask. */
            double flicker = FIRE_FLICKER * (2 * rng_uniform(&c->rng) - 1);
            if (!c->mask[i]) {
                c->out[i] = 0;
                continue;
            }
            int k = x / FIRE_KNOT;
            double f = (double)(x % FIRE_KNOT) / FIRE_KNOT;
            double tongue = (1 - f) * knot[k] + f * knot[k + 1];
            double t = (double)(bottom - y) / (bottom - top + 1); /* 0 at the hem, ->1 at the top */
            double heat = FIRE_BASE - FIRE_FALL * t + FIRE_TONGUE * tongue + flicker;
            heat *= 1 - FIRE_CLOTH + FIRE_CLOTH * (c->in[i] / PIXEL_MAX);
            heat = heat < FIRE_EMBER ? FIRE_EMBER : heat > 1 ? 1 : heat;
            c->out[i] = to_u8(PIXEL_MAX * pow(heat, FIRE_GAMMA));
        }
}

/* ---- emboss: a directional derivative (light from the top left) on a mid-grey plate. */
#define EMBOSS_GREY 128.0
#define EMBOSS_GAIN 1.0
#define EMBOSS_MIN 24        /* darkest shadow inside the silhouette, so the shape stays whole */

static int pixel_or_zero(const style_ctx *c, int y, int x)
{
    return y >= 0 && y < c->h && x >= 0 && x < c->w ? c->in[y * c->w + x] : 0;
}

static void style_emboss(style_ctx *c)
{
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) {
            int i = y * c->w + x;
            double d = pixel_or_zero(c, y - 1, x - 1) - pixel_or_zero(c, y + 1, x + 1);
            uint8_t v = to_u8(EMBOSS_GREY + EMBOSS_GAIN * d);
            c->out[i] = c->mask[i] ? (v < EMBOSS_MIN ? EMBOSS_MIN : v) : 0;
        }
}

sara_status styles_apply(int style, const uint8_t *in, int h, int w, uint64_t index, uint8_t *out)
{
    if (style < 0 || style >= STYLES_COUNT)
        return sara_fail(SARA_ERR_INVALID, "unknown style %d (0..%d)", style, STYLES_COUNT - 1);
    if (h < 3 || w < 3 || h > STYLES_MAX_SIDE || w > STYLES_MAX_SIDE)
        return sara_fail(SARA_ERR_INVALID, "style %s: image %dx%d (sides 3..%d)", styles_table[style].name, h, w,
                         STYLES_MAX_SIDE);
    style_ctx c = {in, out, malloc((size_t)h * (size_t)w), h, w, {{0}}};
    if (!c.mask)
        return sara_fail(SARA_ERR_NOMEM, "style %s: out of memory", styles_table[style].name);
    for (int i = 0; i < h * w; i++)
        c.mask[i] = in[i] > STYLES_MASK_MIN;
    rng_seed_stream(&c.rng, STYLES_SEED + (uint64_t)style, index);
    switch (style) {
    case STYLE_NEON: style_neon(&c); break;
    case STYLE_STRIPES: style_stripes(&c); break;
    case STYLE_HALFTONE: style_halftone(&c); break;
    case STYLE_FIRE: style_fire(&c); break;
    default: style_emboss(&c); break;
    }
    free(c.mask);
    return SARA_OK;
}

/* ---- the styled folder */

#define STYLES_NAME_MAX 32 /* "NNNNN.png" and such */

/* in (h, w) centred on canvas (pad, pad) of 0; the odd extra row/column goes bottom/right. */
void styles_pixels_from_float(const float *x, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = to_u8((x[i] + 1.0) * PIXEL_HALF_RANGE);
}

sara_status styles_apply_float(int style, float *img, int S, int h, int w, uint64_t index, uint8_t *tmp)
{
    if (S < h || S < w)
        return sara_fail(SARA_ERR_SHAPE, "styles: a %dx%d image does not fit a %dx%d canvas", h, w, S, S);
    int top = (S - h) / 2, left = (S - w) / 2; /* as the loader centres it */
    uint8_t *px = tmp, *styled = tmp + (size_t)h * w; /* (h, w) each */
    for (int y = 0; y < h; y++)
        styles_pixels_from_float(img + (size_t)(top + y) * S + left, (size_t)w, px + (size_t)y * w);
    SARA_TRY(styles_apply(style, px, h, w, index, styled));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            img[(size_t)(top + y) * S + left + x] = (float)styled[y * w + x] / (float)PIXEL_HALF_RANGE - 1.0f;
    return SARA_OK;
}

static void styles_pad(const uint8_t *in, int h, int w, int pad, uint8_t *canvas)
{
    int top = (pad - h) / 2, left = (pad - w) / 2;
    memset(canvas, 0, (size_t)pad * (size_t)pad);
    for (int y = 0; y < h; y++)
        memcpy(canvas + (size_t)(y + top) * (size_t)pad + left, in + (size_t)y * (size_t)w, (size_t)w);
}

static sara_status styles_write_metadata(const char *dir, const int64_t *labels, const int64_t *indices, int n,
                                         const char *const *class_names)
{
    char path[4096], name[STYLES_NAME_MAX];
    snprintf(path, sizeof path, "%s/metadata.jsonl", dir);
    atomic_file af;
    SARA_TRY(atomic_file_open(&af, path));
    sara_status s = SARA_OK;
    for (int i = 0; i < n && s == SARA_OK; i++) {
        cJSON *j = cJSON_CreateObject();
        snprintf(name, sizeof name, "%05d.png", i);
        char *line = NULL;
        if (j && cJSON_AddStringToObject(j, "file_name", name) &&
            cJSON_AddStringToObject(j, "text", class_names[labels[i]]) &&
            cJSON_AddNumberToObject(j, "source_index", (double)indices[i]))
            line = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!line) {
            s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        s = atomic_file_write(&af, line, strlen(line));
        if (s == SARA_OK)
            s = atomic_file_write(&af, "\n", 1);
        free(line);
    }
    if (s != SARA_OK) {
        atomic_file_abort(&af);
        return s;
    }
    return atomic_file_commit(&af);
}

/* One row per class: the first `cols` images of each class, in order; missing cells stay -1. */
static sara_status styles_write_preview(const char *dir, const uint8_t *padded, const int64_t *labels, int n, int pad,
                                        int num_classes, int cols)
{
    size_t cell = (size_t)pad * (size_t)pad;
    float *grid = malloc((size_t)num_classes * (size_t)cols * cell * sizeof *grid); /* (classes·cols, 1, pad, pad) */
    int *filled = calloc((size_t)num_classes, sizeof *filled);                     /* (classes) */
    char path[4096];
    snprintf(path, sizeof path, "%s/preview.png", dir);
    if (!grid || !filled) {
        free(grid);
        free(filled);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < (size_t)num_classes * (size_t)cols * cell; i++)
        grid[i] = -1.0f;
    for (int i = 0; i < n; i++) {
        int k = (int)labels[i];
        if (filled[k] >= cols)
            continue;
        float *dst = grid + ((size_t)k * (size_t)cols + (size_t)filled[k]++) * cell;
        for (size_t p = 0; p < cell; p++)
            dst[p] = padded[(size_t)i * cell + p] / 127.5f - 1.0f; /* the loaders' pixel mapping */
    }
    sara_status s = image_write_grid(path, grid, num_classes * cols, 1, pad, pad, cols);
    free(grid);
    free(filled);
    return s;
}

sara_status styles_write_folder(const char *dir, const uint8_t *images, const int64_t *labels, const int64_t *indices,
                                int n, int h, int w, int pad_to, const char *const *class_names, int num_classes,
                                int preview_cols)
{
    if (n <= 0 || h <= 0 || w <= 0 || pad_to < h || pad_to < w || pad_to > STYLES_MAX_SIDE || num_classes <= 0 ||
        preview_cols <= 0)
        return sara_fail(SARA_ERR_INVALID, "%s: bad styled set (%d images %dx%d on %d, %d classes, %d columns)", dir, n,
                         h, w, pad_to, num_classes, preview_cols);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= num_classes)
            return sara_fail(SARA_ERR_INVALID, "%s: image %d has label %lld (%d classes)", dir, i,
                             (long long)labels[i], num_classes);
    size_t cell = (size_t)pad_to * (size_t)pad_to;
    uint8_t *padded = malloc((size_t)n * cell); /* (n, pad_to, pad_to) */
    if (!padded)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", dir);
    sara_status s = SARA_OK;
    char path[4096];
    for (int i = 0; i < n && s == SARA_OK; i++) {
        styles_pad(images + (size_t)i * (size_t)h * (size_t)w, h, w, pad_to, padded + (size_t)i * cell);
        snprintf(path, sizeof path, "%s/%05d.png", dir, i);
        s = image_write_png(path, padded + (size_t)i * cell, pad_to, pad_to, 1);
    }
    if (s == SARA_OK)
        s = styles_write_metadata(dir, labels, indices, n, class_names);
    if (s == SARA_OK)
        s = styles_write_preview(dir, padded, labels, n, pad_to, num_classes, preview_cols);
    free(padded);
    return s;
}
