/* sampler.h — generating samples from a trained denoiser with diffusers' DDPM or DDIM
 * scheduler ("leading" timestep spacing, steps_offset 0, set_alpha_to_one, fixed_small
 * variance), optionally with classifier-free guidance. The model is reached through a callback
 * so this module knows nothing about UNets. Single steps are exposed for testing. */
#ifndef SARA_DIFFUSION_SAMPLER_H
#define SARA_DIFFUSION_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"
#include "diffusion/schedule.h"

/* The model: writes its prediction (epsilon or v, per the schedule) for a batch of B samples.
 * x (B, C, H, W), t (B) timesteps as floats, labels (B) or NULL, out (B, C, H, W).
 * The sampler never calls it with more than the B passed to sampler_run. */
typedef sara_status (*denoise_fn)(void *ctx, int B, const float *x, const float *t, const int64_t *labels,
                                  float *out);

typedef enum { SAMPLER_DDPM, SAMPLER_DDIM } sampler_kind;

typedef struct {
    sampler_kind kind;
    int steps;               /* inference steps, 1..T */
    double eta;              /* DDIM noise weight in [0, 1]; 0 = deterministic (DDPM ignores it) */
    double guidance_scale;   /* 1 = no classifier-free guidance */
    int64_t null_label;      /* the "no class" label used for the unconditional pass (>= 0 when guiding) */
    int clip_sample;         /* clamp predicted x0 to ±clip_sample_range (diffusers default: on) */
    double clip_sample_range;
} sampler_options;

#define SAMPLER_DEFAULT_STEPS 50

/* DDIM, 50 steps, eta 0, no guidance, null_label -1, clip_sample on with range 1 (diffusers). */
void sampler_options_default(sampler_options *o);

/* "ddpm", "ddim". */
sara_status sampler_kind_parse(const char *name, sampler_kind *k);
const char *sampler_kind_name(sampler_kind k);

/* The descending timesteps (steps) of "leading" spacing: (steps−1−i)·(T // steps).
 * Each step goes from ts[i] to ts[i] − T // steps (negative = the clean sample). */
sara_status sampler_timesteps(const noise_schedule *s, int steps, int64_t *ts);

/* One DDIM step from timestep t to prev_t (prev_t < 0: to the clean sample, alpha 1).
 * model_out, x, out: (n), one sample or a whole batch sharing t; out may alias x.
 * noise (n) is needed only when o->eta > 0 (may be NULL otherwise). */
void sampler_ddim_step(const noise_schedule *s, const sampler_options *o, int64_t t, int64_t prev_t,
                       const float *model_out, const float *x, const float *noise, float *out, int64_t n);

/* One DDPM ancestral step (fixed_small variance) from t to prev_t; noise (n) is added only
 * when t > 0 (may be NULL when t == 0). Shapes as sampler_ddim_step. */
void sampler_ddpm_step(const noise_schedule *s, const sampler_options *o, int64_t t, int64_t prev_t,
                       const float *model_out, const float *x, const float *noise, float *out, int64_t n);

/* Runs the whole chain. x (B, C, H, W): in, the initial noise; out, the sample. labels (B) or
 * NULL (required when guiding). rng supplies step noise (DDPM, or DDIM with eta > 0) and may
 * be NULL otherwise. A failing denoiser's status is returned with the step prefixed; a
 * non-finite prediction fails with SARA_ERR_NUMERIC. */
sara_status sampler_run(const noise_schedule *s, const sampler_options *o, denoise_fn fn, void *ctx, float *x,
                        const int64_t *labels, int B, int C, int H, int W, sara_rng *rng);

#endif
