/* sampler.c — DDPM and DDIM sampling loops and their single steps, after diffusers'
 * DDPMScheduler.step and DDIMScheduler.step (default configs: leading spacing, steps_offset 0,
 * set_alpha_to_one, fixed_small variance, use_clipped_model_output False, no thresholding).
 * Step coefficients are computed in double from the float32 alphas_cumprod and applied per
 * element in double; diffusers works in float32, so results agree to float rounding. */
#include "diffusion/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* DDPMScheduler clamps the posterior variance before taking its root ("fixed_small"). */
#define DDPM_MIN_VARIANCE 1e-20
/* set_alpha_to_one: past the last step the sample is clean, alphas_cumprod = 1. */
#define FINAL_ALPHA_CUMPROD 1.0

void sampler_options_default(sampler_options *o)
{
    *o = (sampler_options){.kind = SAMPLER_DDIM,
                           .steps = SAMPLER_DEFAULT_STEPS,
                           .eta = 0.0,
                           .guidance_scale = 1.0,
                           .null_label = -1,
                           .clip_sample = 1,
                           .clip_sample_range = 1.0};
}

static const char *const sampler_names[] = {"ddpm", "ddim"};

sara_status sampler_kind_parse(const char *name, sampler_kind *k)
{
    for (int i = 0; i <= SAMPLER_DDIM; i++)
        if (name && !strcmp(name, sampler_names[i])) {
            *k = (sampler_kind)i;
            return SARA_OK;
        }
    return sara_fail(SARA_ERR_INVALID, "sampler '%s' is not one of: ddpm, ddim", name ? name : "(null)");
}

const char *sampler_kind_name(sampler_kind k) { return (unsigned)k <= SAMPLER_DDIM ? sampler_names[k] : "unknown"; }

sara_status sampler_timesteps(const noise_schedule *s, int steps, int64_t *ts)
{
    int T = s->num_train_timesteps;
    if (steps < 1 || steps > T)
        return sara_fail(SARA_ERR_INVALID, "sampler: steps %d must lie in [1, num_train_timesteps = %d]", steps, T);
    int64_t ratio = T / steps;
    for (int i = 0; i < steps; i++)
        ts[i] = (int64_t)(steps - 1 - i) * ratio;
    return SARA_OK;
}

static double alpha_prev(const noise_schedule *s, int64_t prev_t)
{
    return prev_t >= 0 ? s->alphas_cumprod[prev_t] : FINAL_ALPHA_CUMPROD;
}

/* Square roots of alphas_cumprod[t] and 1 − alphas_cumprod[t], shared by both steps. */
typedef struct {
    double sa, sb;
    prediction_kind pred;
    int clip;
    double range;
} x0_coefs;

static x0_coefs x0_coefs_make(const noise_schedule *s, const sampler_options *o, int64_t t)
{
    double a = s->alphas_cumprod[t];
    return (x0_coefs){sqrt(a), sqrt(1.0 - a), s->prediction, o->clip_sample, o->clip_sample_range};
}

/* The model's estimate of the clean sample (clipped if asked) and of the noise, unclipped:
 * diffusers re-derives epsilon from the clipped x0 only with use_clipped_model_output. */
static inline double predict_x0(const x0_coefs *c, double m, double x, double *eps)
{
    double x0;
    if (c->pred == PREDICT_EPSILON) {
        x0 = (x - c->sb * m) / c->sa;
        *eps = m;
    } else { /* v = sa·eps − sb·x0 and x = sa·x0 + sb·eps, with sa² + sb² = 1 */
        x0 = c->sa * x - c->sb * m;
        *eps = c->sa * m + c->sb * x;
    }
    if (c->clip)
        x0 = x0 < -c->range ? -c->range : x0 > c->range ? c->range : x0;
    return x0;
}

void sampler_ddim_step(const noise_schedule *s, const sampler_options *o, int64_t t, int64_t prev_t,
                       const float *model_out, const float *x, const float *noise, float *out, int64_t n)
{
    x0_coefs c = x0_coefs_make(s, o, t);
    double a_t = s->alphas_cumprod[t], a_p = alpha_prev(s, prev_t);
    /* sigma_t(eta) of DDIM eq. (16) */
    double variance = (1.0 - a_p) / (1.0 - a_t) * (1.0 - a_t / a_p);
    double std = o->eta * sqrt(variance);
    double dir2 = 1.0 - a_p - std * std;
    double dir = dir2 > 0.0 ? sqrt(dir2) : 0.0; /* guards rounding at eta = 1 */
    double sp = sqrt(a_p);
    int noisy = o->eta > 0.0;
    for (int64_t i = 0; i < n; i++) {
        double eps, x0 = predict_x0(&c, model_out[i], x[i], &eps);
        double v = sp * x0 + dir * eps; /* DDIM eq. (12) */
        if (noisy)
            v += std * noise[i];
        out[i] = (float)v;
    }
}

void sampler_ddpm_step(const noise_schedule *s, const sampler_options *o, int64_t t, int64_t prev_t,
                       const float *model_out, const float *x, const float *noise, float *out, int64_t n)
{
    x0_coefs c = x0_coefs_make(s, o, t);
    double a_t = s->alphas_cumprod[t], a_p = alpha_prev(s, prev_t);
    double b_t = 1.0 - a_t, b_p = 1.0 - a_p;
    double cur_alpha = a_t / a_p, cur_beta = 1.0 - cur_alpha; /* the beta of the strided step */
    /* posterior mean coefficients, DDPM eq. (7) */
    double c_x0 = sqrt(a_p) * cur_beta / b_t;
    double c_xt = sqrt(cur_alpha) * b_p / b_t;
    double variance = b_p / b_t * cur_beta;
    double std = sqrt(variance > DDPM_MIN_VARIANCE ? variance : DDPM_MIN_VARIANCE);
    int noisy = t > 0;
    for (int64_t i = 0; i < n; i++) {
        double eps, x0 = predict_x0(&c, model_out[i], x[i], &eps);
        double v = c_x0 * x0 + c_xt * x[i];
        if (noisy)
            v += std * noise[i];
        out[i] = (float)v;
    }
}

static sara_status sampler_check(const noise_schedule *s, const sampler_options *o, denoise_fn fn,
                                 const int64_t *labels, int B, int C, int H, int W, const sara_rng *rng)
{
    if (!s->alphas_cumprod || !fn)
        return sara_fail(SARA_ERR_INVALID, "sampler: schedule or denoiser missing");
    if ((unsigned)o->kind > SAMPLER_DDIM)
        return sara_fail(SARA_ERR_INVALID, "sampler: unknown kind %d", (int)o->kind);
    if (B < 1 || C < 1 || H < 1 || W < 1)
        return sara_fail(SARA_ERR_INVALID, "sampler: shape (%d, %d, %d, %d) must be positive", B, C, H, W);
    if ((double)B * C * H * W > (double)(SIZE_MAX / 4 / sizeof(float))) /* double: the product cannot overflow */
        return sara_fail(SARA_ERR_NOMEM, "sampler: shape (%d, %d, %d, %d) is too large", B, C, H, W);
    if (o->steps < 1 || o->steps > s->num_train_timesteps)
        return sara_fail(SARA_ERR_INVALID, "sampler: steps %d must lie in [1, num_train_timesteps = %d]", o->steps,
                         s->num_train_timesteps);
    if (o->kind == SAMPLER_DDIM && !(o->eta >= 0.0 && o->eta <= 1.0))
        return sara_fail(SARA_ERR_INVALID, "sampler: DDIM eta %g must lie in [0, 1]", o->eta);
    if (o->clip_sample && !(o->clip_sample_range > 0.0))
        return sara_fail(SARA_ERR_INVALID, "sampler: clip_sample_range %g must be positive", o->clip_sample_range);
    if (!isfinite(o->guidance_scale))
        return sara_fail(SARA_ERR_INVALID, "sampler: guidance_scale %g is not finite", o->guidance_scale);
    if (o->guidance_scale != 1.0 && (!labels || o->null_label < 0))
        return sara_fail(SARA_ERR_INVALID,
                         "sampler: guidance_scale %g needs class labels and a null_label >= 0 (got %lld)",
                         o->guidance_scale, (long long)o->null_label);
    if (!rng && (o->kind == SAMPLER_DDPM || o->eta > 0.0))
        return sara_fail(SARA_ERR_INVALID, "sampler: %s with eta %g needs a random generator",
                         sampler_kind_name(o->kind), o->eta);
    return SARA_OK;
}

/* Buffers for one run. */
typedef struct {
    int64_t *ts;        /* (steps) */
    float *tb;          /* (B) the current timestep as the model sees it */
    int64_t *null_lab;  /* (B) all null_label, for the unconditional pass */
    float *pred;        /* (B, C, H, W) model output, guided */
    float *uncond;      /* (B, C, H, W) unconditional output, when guiding */
    float *noise;       /* (B, C, H, W) step noise, when the sampler is stochastic */
} sampler_work;

static void sampler_work_free(sampler_work *w)
{
    free(w->ts);
    free(w->tb);
    free(w->null_lab);
    free(w->pred);
    free(w->uncond);
    free(w->noise);
}

static sara_status sampler_work_alloc(sampler_work *w, const sampler_options *o, int B, int64_t count, int guided,
                                      int noisy)
{
    memset(w, 0, sizeof *w);
    size_t bytes = (size_t)count * sizeof(float);
    w->ts = malloc((size_t)o->steps * sizeof *w->ts);
    w->tb = malloc((size_t)B * sizeof *w->tb);
    w->pred = malloc(bytes);
    w->null_lab = guided ? malloc((size_t)B * sizeof *w->null_lab) : NULL;
    w->uncond = guided ? malloc(bytes) : NULL;
    w->noise = noisy ? malloc(bytes) : NULL;
    if (!w->ts || !w->tb || !w->pred || (guided && (!w->null_lab || !w->uncond)) || (noisy && !w->noise)) {
        sampler_work_free(w);
        return sara_fail(SARA_ERR_NOMEM, "sampler: cannot allocate buffers for %lld elements", (long long)count);
    }
    for (int b = 0; guided && b < B; b++)
        w->null_lab[b] = o->null_label;
    return SARA_OK;
}

/* The model output at the current timestep: one pass, or with guidance u + w·(c − u). */
static sara_status sampler_predict(const sampler_options *o, denoise_fn fn, void *ctx, sampler_work *w,
                                   const float *x, const int64_t *labels, int B, int64_t count)
{
    SARA_TRY(fn(ctx, B, x, w->tb, labels, w->pred));
    if (w->uncond) {
        SARA_TRY(fn(ctx, B, x, w->tb, w->null_lab, w->uncond));
        float g = (float)o->guidance_scale;
        for (int64_t i = 0; i < count; i++)
            w->pred[i] = w->uncond[i] + g * (w->pred[i] - w->uncond[i]);
    }
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(w->pred[i]))
            return sara_fail(SARA_ERR_NUMERIC, "denoiser output is not finite at element %lld", (long long)i);
    return SARA_OK;
}

sara_status sampler_run(const noise_schedule *s, const sampler_options *o, denoise_fn fn, void *ctx, float *x,
                        const int64_t *labels, int B, int C, int H, int W, sara_rng *rng)
{
    SARA_TRY(sampler_check(s, o, fn, labels, B, C, H, W, rng));
    int64_t count = (int64_t)B * C * H * W;
    int guided = o->guidance_scale != 1.0;
    int noisy = o->kind == SAMPLER_DDPM || o->eta > 0.0;
    sampler_work w;
    SARA_TRY(sampler_work_alloc(&w, o, B, count, guided, noisy));
    sara_status st = sampler_timesteps(s, o->steps, w.ts);
    int64_t stride = s->num_train_timesteps / o->steps;
    for (int i = 0; st == SARA_OK && i < o->steps; i++) {
        int64_t t = w.ts[i], prev = t - stride;
        for (int b = 0; b < B; b++)
            w.tb[b] = (float)t;
        st = sampler_predict(o, fn, ctx, &w, x, labels, B, count);
        if (st != SARA_OK) {
            sara_error_prefix("sampling step %d/%d (t = %lld)", i + 1, o->steps, (long long)t);
            break;
        }
        /* draw noise only where diffusers would, so a seed's stream does not depend on unused draws */
        int draw = noisy && (o->kind == SAMPLER_DDIM || t > 0);
        if (draw)
            rng_fill_normal(rng, w.noise, count);
        if (o->kind == SAMPLER_DDIM)
            sampler_ddim_step(s, o, t, prev, w.pred, x, w.noise, x, count);
        else
            sampler_ddpm_step(s, o, t, prev, w.pred, x, w.noise, x, count);
    }
    sampler_work_free(&w);
    return st;
}
