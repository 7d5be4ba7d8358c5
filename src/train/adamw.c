/* adamw.c — the optimizer arithmetic; see adamw.h. Kept in double where torch keeps Python floats
 * (bias corrections, step size) so results agree with torch.optim.AdamW to float rounding. */
#include "train/adamw.h"

#include <math.h>
#include <string.h>

#include "core/status.h"

void adamw_default(adamw_hparams *h)
{
    h->beta1 = 0.9;
    h->beta2 = 0.999;
    h->eps = 1e-8;
    h->weight_decay = 1e-2;
}

/* The per-step constants, rounded once as torch rounds them. */
typedef struct {
    float decay, b1, b2, one_b1, one_b2, step_size, bc2_sqrt, eps;
} adamw_coeffs;

static adamw_coeffs adamw_coeffs_at(const adamw_hparams *h, int64_t step, double lr)
{
    const double bc1 = 1.0 - pow(h->beta1, (double)step), bc2 = 1.0 - pow(h->beta2, (double)step);
    /* torch scales by (1 - beta) computed in double, then rounded: keep that rounding. */
    return (adamw_coeffs){
        .decay = (float)(1.0 - lr * h->weight_decay),
        .b1 = (float)h->beta1,
        .b2 = (float)h->beta2,
        .one_b1 = (float)(1.0 - h->beta1),
        .one_b2 = (float)(1.0 - h->beta2),
        .step_size = (float)(lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = (float)h->eps,
    };
}

/* One element: the dense and the indexed update share this, so they agree bit for bit. */
static inline void adamw_element(float *p, float g, float *m, float *v, const adamw_coeffs *c)
{
    *p *= c->decay;
    *m = *m * c->b1 + c->one_b1 * g;
    *v = *v * c->b2 + c->one_b2 * g * g;
    float denom = sqrtf(*v) / c->bc2_sqrt + c->eps;
    *p -= c->step_size * (*m / denom);
}

void adamw_update(float *p, const float *g, float *m, float *v, int64_t n, const adamw_hparams *h, int64_t step,
                  double lr)
{
    const adamw_coeffs c = adamw_coeffs_at(h, step, lr);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        adamw_element(&p[i], g[i], &m[i], &v[i], &c);
}

void adamw_update_indexed(float *p, const int64_t *idx, const float *g, float *m, float *v, int64_t n,
                          const adamw_hparams *h, int64_t step, double lr)
{
    const adamw_coeffs c = adamw_coeffs_at(h, step, lr);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n; k++)
        adamw_element(&p[idx[k]], g[k], &m[k], &v[k], &c);
}

/* Σ g² in blocks: at most GRAD_SUM_BLOCKS of them (their count and bounds depend on n only),
 * each summed in GRAD_SUM_LANES running sums, the blocks added in order: threaded, and the same
 * bits whatever the thread count. */
#define GRAD_SUM_BLOCKS 256
#define GRAD_SUM_MIN_BLOCK 16384
#define GRAD_SUM_LANES 8

static double grad_block_sum_squares(const float *g, int64_t n)
{
    double lane[GRAD_SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + GRAD_SUM_LANES <= n; i += GRAD_SUM_LANES)
        for (int j = 0; j < GRAD_SUM_LANES; j++)
            lane[j] += (double)g[i + j] * g[i + j];
    for (int j = 0; i < n; i++, j++)
        lane[j] += (double)g[i] * g[i];
    double s = 0.0;
    for (int j = 0; j < GRAD_SUM_LANES; j++)
        s += lane[j];
    return s;
}

double grad_sum_squares(const float *g, int64_t n)
{
    int64_t len = (n + GRAD_SUM_BLOCKS - 1) / GRAD_SUM_BLOCKS;
    len = len < GRAD_SUM_MIN_BLOCK ? GRAD_SUM_MIN_BLOCK : len;
    int blocks = (int)((n + len - 1) / len);
    double part[GRAD_SUM_BLOCKS]; /* (blocks) */
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (int b = 0; b < blocks; b++) {
        int64_t i0 = b * len;
        part[b] = grad_block_sum_squares(g + i0, n - i0 < len ? n - i0 : len);
    }
    double s = 0.0;
    for (int b = 0; b < blocks; b++)
        s += part[b];
    return s;
}

double clip_factor(double norm, double max_norm)
{
    if (max_norm <= 0.0)
        return 1.0;
    double f = max_norm / (norm + 1e-6);
    return f < 1.0 ? f : 1.0;
}

static const char *const lr_names[] = {"constant", "cosine", "linear"};

sara_status lr_schedule_parse(const char *name, lr_schedule_kind *k)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, lr_names[i])) {
            *k = (lr_schedule_kind)i;
            return SARA_OK;
        }
    return sara_fail(SARA_ERR_INVALID, "unknown lr schedule '%s' (constant, cosine, linear)", name);
}

const char *lr_schedule_name(lr_schedule_kind k) { return lr_names[k]; }

double lr_at(lr_schedule_kind k, double base_lr, int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup)
        return base_lr * (double)step / (double)(warmup > 1 ? warmup : 1);
    if (k == LR_CONSTANT)
        return base_lr;
    double span = (double)(total - warmup);
    double progress = span > 0 ? (double)(step - warmup) / span : 1.0;
    if (progress > 1.0)
        progress = 1.0;
    if (k == LR_LINEAR)
        return base_lr * (1.0 - progress);
    return base_lr * 0.5 * (1.0 + cos(M_PI * progress)); /* num_cycles 0.5 */
}
