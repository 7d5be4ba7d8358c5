/* fuzz_png.c — image decoding (PNG and JPEG, chosen by magic bytes) from memory, then what the
 * folder loader does with a decoded image: conversion to 1 and 3 planes and the fit to a small
 * square (resize + centre crop, and a random crop). */
#include <stdlib.h>

#include "core/rng.h"
#include "data/image.h"
#include "fuzz.h"

/* Square side the decoded image is fitted to (small: the fuzzer's time goes into decoding). */
#define FUZZ_FIT_SIZE 8
/* Larger images are decoded but not resampled: resampling cost grows with the pixel count. */
#define FUZZ_FIT_MAX_PIXELS (1 << 20)

static sara_status fit(const uint8_t *pixels, int w, int h, int c)
{
    float out[3 * FUZZ_FIT_SIZE * FUZZ_FIT_SIZE]; /* (3, size, size) */
    float *planes = malloc((size_t)3 * w * h * sizeof *planes); /* (3, h, w) */
    if (!planes)
        return SARA_ERR_NOMEM;
    sara_status s = SARA_OK;
    for (int channels = 1; channels <= 3 && s == SARA_OK; channels += 2) {
        image_to_planes(pixels, w, h, c, channels, planes);
        sara_rng rng;
        rng_seed(&rng, (uint64_t)w * 31 + (uint64_t)h);
        s = image_fit_square(planes, channels, h, w, FUZZ_FIT_SIZE, NULL, out);
        if (s == SARA_OK)
            s = image_fit_square(planes, channels, h, w, FUZZ_FIT_SIZE, &rng, out);
    }
    free(planes);
    if (s != SARA_OK)
        abort(); /* any decoded image must fit: image_decode bounds the size */
    return s;
}

sara_status fuzz_png(const uint8_t *data, size_t size)
{
    uint8_t *pixels = NULL;
    int w = 0, h = 0, c = 0;
    sara_status s = image_decode(FUZZ_NAME_PNG, data, size, &pixels, &w, &h, &c);
    if (s == SARA_OK) {
        if (w <= 0 || h <= 0 || (c != 1 && c != 3))
            abort();
        if ((long long)w * h <= FUZZ_FIT_MAX_PIXELS)
            s = fit(pixels, w, h, c);
    }
    free(pixels);
    return s;
}

FUZZ_ENTRY(fuzz_png, FUZZ_NAME_PNG)
