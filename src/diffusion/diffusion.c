/* diffusion.c — forward noising, training targets and the MSE loss.
 * The per-sample coefficients are taken in float32 from the float32 alphas_cumprod, as diffusers
 * does when it indexes its float tensor, so x_t matches diffusers to rounding. */
#include "diffusion/diffusion.h"

#include <math.h>

#include "core/status.h"

/* sqrt(ac[t]) and sqrt(1 − ac[t]) in float, the precision diffusers computes them in. */
static void noise_coefs(const noise_schedule *s, int64_t t, float *signal, float *sigma)
{
    float ac = (float)s->alphas_cumprod[t];
    *signal = sqrtf(ac);
    *sigma = sqrtf(1.0f - ac);
}

void diffusion_add_noise(const noise_schedule *s, float *xt, const float *x0, const float *noise, const int64_t *t,
                         int B, int64_t n)
{
    for (int b = 0; b < B; b++) {
        float a, c;
        noise_coefs(s, t[b], &a, &c);
        int64_t off = (int64_t)b * n;
        for (int64_t i = off; i < off + n; i++)
            xt[i] = a * x0[i] + c * noise[i];
    }
}

void diffusion_target(const noise_schedule *s, float *target, const float *x0, const float *noise, const int64_t *t,
                      int B, int64_t n)
{
    for (int b = 0; b < B; b++) {
        int64_t off = (int64_t)b * n;
        if (s->prediction == PREDICT_EPSILON) {
            for (int64_t i = off; i < off + n; i++)
                target[i] = noise[i];
            continue;
        }
        float a, c;
        noise_coefs(s, t[b], &a, &c);
        for (int64_t i = off; i < off + n; i++)
            target[i] = a * noise[i] - c * x0[i];
    }
}

double diffusion_mse_loss(const float *pred, const float *target, int64_t count, float *dpred)
{
    if (count <= 0)
        return 0.0;
    double sum = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double d = (double)pred[i] - (double)target[i];
        sum += d * d;
    }
    if (dpred) {
        double scale = 2.0 / (double)count;
        for (int64_t i = 0; i < count; i++)
            dpred[i] = (float)(scale * ((double)pred[i] - (double)target[i]));
    }
    return sum / (double)count;
}

sara_status diffusion_sample_timesteps(sara_rng *r, int64_t *t, int B, int T)
{
    if (T < 1)
        return sara_fail(SARA_ERR_INVALID, "sample timesteps: num_train_timesteps %d must be at least 1", T);
    for (int b = 0; b < B; b++)
        t[b] = (int64_t)rng_below(r, (uint64_t)T);
    return SARA_OK;
}
