/* sample.h — generating images from a UNet with a sampler: fixed seeds, batched, and the
 * class grid (one row per class) that `sara sample` and training previews write. */
#ifndef SARA_TRAIN_SAMPLE_H
#define SARA_TRAIN_SAMPLE_H

#include <stdint.h>

#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "model/unet.h"

/* out (n, C, S, S) for labels (n) (NULL when unconditional). Image i's starting noise depends
 * only on (seed, i), so a sample does not change with the batch size or the count. */
sara_status sample_images(unet *m, const noise_schedule *s, const sampler_options *o, const int64_t *labels, int n,
                          int batch, uint64_t seed, float *out);

/* A PNG grid with one row per class (classes 0..num_classes−1; one row if unconditional) and
 * per_class columns. */
sara_status sample_class_grid(unet *m, const noise_schedule *s, const sampler_options *o, int num_classes,
                              int per_class, int batch, uint64_t seed, const char *png_path);

#endif
