/* diffusion.h — the training side of a DDPM: noising clean samples at random timesteps, the
 * regression target (epsilon or v) and the MSE loss with its gradient. Formulas follow
 * diffusers' DDPMScheduler.add_noise / get_velocity and the train_unconditional example. */
#ifndef SARA_DIFFUSION_DIFFUSION_H
#define SARA_DIFFUSION_DIFFUSION_H

#include <stdint.h>

#include "core/rng.h"
#include "diffusion/schedule.h"

/* x_t = sqrt(ac[t])·x0 + sqrt(1−ac[t])·noise, per sample b with its own t[b].
 * xt, x0, noise: (B, n) with n = C·H·W; t: (B), each in [0, T). xt may alias x0 or noise. */
void diffusion_add_noise(const noise_schedule *s, float *xt, const float *x0, const float *noise, const int64_t *t,
                         int B, int64_t n);

/* The training target for s->prediction: noise itself, or v = sqrt(ac)·noise − sqrt(1−ac)·x0.
 * target, x0, noise: (B, n); t: (B). */
void diffusion_target(const noise_schedule *s, float *target, const float *x0, const float *noise, const int64_t *t,
                      int B, int64_t n);

/* Mean squared error over count elements, accumulated in double. If dpred is non-NULL it
 * receives d loss / d pred = 2(pred − target)/count (written, not accumulated).
 * pred, target, dpred: (count). */
double diffusion_mse_loss(const float *pred, const float *target, int64_t count, float *dpred);

/* Uniform training timesteps in [0, T): t (B). Fails (SARA_ERR_INVALID) if T < 1. */
sara_status diffusion_sample_timesteps(sara_rng *r, int64_t *t, int B, int T);

#endif
