/* sample.c — the UNet as the sampler's denoiser, batched generation and class grids. The
 * denoiser is the inference forward: it keeps no activations for a backward, so sampling needs
 * only the skip connections and one layer's buffers. */
#include "train/sample.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "data/image.h"

/* Stream ids keep the per-image starting noise and the per-batch sampler noise independent. */
#define SAMPLE_STREAM_IMAGE 0x1000000ULL
#define SAMPLE_STREAM_BATCH 0x2000000ULL

static sara_status unet_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels, float *out)
{
    return unet_infer((unet *)ctx, x, t, labels, B, out);
}

sara_status sample_images(unet *m, const noise_schedule *s, const sampler_options *o, const int64_t *labels, int n,
                          int batch, uint64_t seed, float *out)
{
    const unet_config *c = unet_get_config(m);
    int C = c->in_channels, S = c->sample_size;
    int64_t per = (int64_t)C * S * S;
    if (batch <= 0)
        return sara_fail(SARA_ERR_INVALID, "sampling batch must be positive, got %d", batch);
    for (int i = 0; i < n; i++) {
        sara_rng r;
        rng_seed_stream(&r, seed, SAMPLE_STREAM_IMAGE + (uint64_t)i);
        rng_fill_normal(&r, out + i * per, per);
    }
    for (int first = 0; first < n; first += batch) {
        int B = n - first < batch ? n - first : batch;
        sara_rng r;
        rng_seed_stream(&r, seed, SAMPLE_STREAM_BATCH + (uint64_t)first);
        SARA_TRY(sampler_run(s, o, unet_denoise, m, out + first * per, labels ? labels + first : NULL, B, C, S, S, &r));
    }
    return SARA_OK;
}

sara_status sample_class_grid(unet *m, const noise_schedule *s, const sampler_options *o, int num_classes,
                              int per_class, int batch, uint64_t seed, const char *png_path)
{
    const unet_config *c = unet_get_config(m);
    int rows = num_classes > 0 ? num_classes : 1, n = rows * per_class;
    if (per_class <= 0)
        return sara_fail(SARA_ERR_INVALID, "images per class must be positive, got %d", per_class);
    int64_t per = (int64_t)c->in_channels * c->sample_size * c->sample_size;
    float *images = malloc((size_t)n * (size_t)per * sizeof(float));  /* (n, C, S, S) */
    int64_t *labels = malloc((size_t)n * sizeof(int64_t));            /* (n) */
    sara_status st = images && labels ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "out of memory for %d samples", n);
    for (int i = 0; i < n && labels; i++)
        labels[i] = i / per_class;
    if (st == SARA_OK)
        st = sample_images(m, s, o, num_classes > 0 ? labels : NULL, n, batch, seed, images);
    if (st == SARA_OK)
        st = image_write_grid(png_path, images, n, c->in_channels, c->sample_size, c->sample_size, per_class);
    free(images);
    free(labels);
    return st;
}
