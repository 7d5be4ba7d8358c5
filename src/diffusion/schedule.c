/* schedule.c — beta schedules and alphas_cumprod, reproducing diffusers' float32 arithmetic.
 * diffusers builds betas with torch in float32 (torch.linspace, `** 2`, 1 − betas) and
 * torch.cumprod, which on CPU accumulates a float tensor in double and rounds each output to
 * float. We do the same operations in the same precision, so the stored doubles equal the
 * float32 values (up to torch's vectorised linspace, which may differ from its scalar formula by
 * an ulp in places; alphas_cumprod then agrees to ~3e-7 relative). */
#include "diffusion/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* betas_for_alpha_bar caps each beta so alphas never reach zero (diffusers' max_beta). */
#define COSINE_MAX_BETA 0.999
/* The small offset s of Nichol & Dhariwal's cosine schedule (diffusers hard-codes 0.008). */
#define COSINE_OFFSET 0.008

/* torch.linspace(start, end, n, dtype=float32) by torch's own formula: the first half steps
 * forward from start, the second half backward from end, all in float. */
static void linspace_f32(float *out, float start, float end, int n)
{
    if (n == 1) {
        out[0] = start;
        return;
    }
    float step = (end - start) / (float)(n - 1);
    int half = n / 2;
    for (int i = 0; i < n; i++)
        out[i] = i < half ? start + step * (float)i : end - step * (float)(n - 1 - i);
}

/* The cosine alpha_bar(t) of "Improved DDPM", evaluated in double like Python's math module. */
static double cosine_alpha_bar(double t)
{
    double c = cos((t + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * M_PI / 2.0);
    return c * c;
}

/* Fills betas (T) in float32 as diffusers does for each kind. */
static void schedule_betas(float *betas, beta_schedule_kind kind, int T, double b0, double b1)
{
    switch (kind) {
    case SCHEDULE_LINEAR:
        linspace_f32(betas, (float)b0, (float)b1, T);
        break;
    case SCHEDULE_SCALED_LINEAR: /* linspace(sqrt(b0), sqrt(b1)) ** 2, roots taken in double */
        linspace_f32(betas, (float)sqrt(b0), (float)sqrt(b1), T);
        for (int i = 0; i < T; i++)
            betas[i] = betas[i] * betas[i];
        break;
    case SCHEDULE_SQUAREDCOS_CAP_V2: /* betas_for_alpha_bar: double, then torch.tensor(float32) */
        for (int i = 0; i < T; i++) {
            double t1 = (double)i / T, t2 = (double)(i + 1) / T;
            double beta = 1.0 - cosine_alpha_bar(t2) / cosine_alpha_bar(t1);
            betas[i] = (float)(beta < COSINE_MAX_BETA ? beta : COSINE_MAX_BETA);
        }
        break;
    }
}

static sara_status schedule_check(beta_schedule_kind kind, int T, double b0, double b1, prediction_kind pred)
{
    if (T < 1)
        return sara_fail(SARA_ERR_INVALID, "noise schedule: num_train_timesteps %d must be at least 1", T);
    if ((unsigned)kind > SCHEDULE_SQUAREDCOS_CAP_V2)
        return sara_fail(SARA_ERR_INVALID, "noise schedule: unknown beta schedule %d", (int)kind);
    if ((unsigned)pred > PREDICT_V)
        return sara_fail(SARA_ERR_INVALID, "noise schedule: unknown prediction type %d", (int)pred);
    if (kind != SCHEDULE_SQUAREDCOS_CAP_V2) {
        /* beta 0 would make 1 − alphas_cumprod zero and the samplers divide by it; written so NaN fails */
        if (!(b0 > 0.0 && b0 < 1.0) || !(b1 > 0.0 && b1 < 1.0))
            return sara_fail(SARA_ERR_INVALID, "noise schedule: beta_start %g and beta_end %g must lie in (0, 1)",
                             b0, b1);
    }
    return SARA_OK;
}

sara_status schedule_init(noise_schedule *s, beta_schedule_kind kind, int T, double beta_start, double beta_end,
                          prediction_kind pred)
{
    memset(s, 0, sizeof *s);
    SARA_TRY(schedule_check(kind, T, beta_start, beta_end, pred));
    float *betas = malloc((size_t)T * sizeof *betas);
    s->betas = malloc((size_t)T * sizeof *s->betas);
    s->alphas_cumprod = malloc((size_t)T * sizeof *s->alphas_cumprod);
    if (!betas || !s->betas || !s->alphas_cumprod) {
        free(betas);
        schedule_free(s);
        return sara_fail(SARA_ERR_NOMEM, "noise schedule: cannot allocate %d timesteps", T);
    }
    schedule_betas(betas, kind, T, beta_start, beta_end);
    double acc = 1.0; /* torch.cumprod's double accumulator for a float tensor on CPU */
    for (int i = 0; i < T; i++) {
        float alpha = 1.0f - betas[i];
        acc *= alpha;
        s->betas[i] = betas[i];
        s->alphas_cumprod[i] = (float)acc;
    }
    free(betas);
    s->num_train_timesteps = T;
    s->kind = kind;
    s->prediction = pred;
    s->beta_start = beta_start;
    s->beta_end = beta_end;
    return SARA_OK;
}

void schedule_free(noise_schedule *s)
{
    free(s->betas);
    free(s->alphas_cumprod);
    memset(s, 0, sizeof *s);
}

static const char *const schedule_names[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
static const char *const prediction_names[] = {"epsilon", "v_prediction"};

sara_status schedule_kind_parse(const char *name, beta_schedule_kind *k)
{
    for (int i = 0; i <= SCHEDULE_SQUAREDCOS_CAP_V2; i++)
        if (name && !strcmp(name, schedule_names[i])) {
            *k = (beta_schedule_kind)i;
            return SARA_OK;
        }
    return sara_fail(SARA_ERR_INVALID, "beta schedule '%s' is not one of: linear, scaled_linear, squaredcos_cap_v2",
                     name ? name : "(null)");
}

const char *schedule_kind_name(beta_schedule_kind k)
{
    return (unsigned)k <= SCHEDULE_SQUAREDCOS_CAP_V2 ? schedule_names[k] : "unknown";
}

sara_status prediction_kind_parse(const char *name, prediction_kind *p)
{
    for (int i = 0; i <= PREDICT_V; i++)
        if (name && !strcmp(name, prediction_names[i])) {
            *p = (prediction_kind)i;
            return SARA_OK;
        }
    return sara_fail(SARA_ERR_INVALID, "prediction type '%s' is not one of: epsilon, v_prediction",
                     name ? name : "(null)");
}

const char *prediction_kind_name(prediction_kind p)
{
    return (unsigned)p <= PREDICT_V ? prediction_names[p] : "unknown";
}
