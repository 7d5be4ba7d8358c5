/* groupnorm.c — GroupNorm exactly as torch.nn.GroupNorm: statistics over (C/G channels × HW)
 * per (batch, group), biased variance, eps inside the square root, per-channel affine.
 * Statistics and the backward's group sums are accumulated in double: groups are large
 * (e.g. 16 channels × 64×64) and float sums would lose digits the tests can see. */
#include "ops/real.h"
#include "ops/ops_internal.h"

/* Double sums with independent lanes combined in a fixed order (vectorisable, deterministic). */
#define GN_LANES 8

static double gn_combine(double *acc)
{
    for (int w = GN_LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* Σ (a − ca)·(b − cb) over n; with b == NULL, Σ (a − ca). */
static double gn_sum(const real *a, double ca, const real *b, double cb, size_t n)
{
    double acc[GN_LANES] = {0};
    size_t p = 0;
    if (b) {
        for (; p + GN_LANES <= n; p += GN_LANES)
            for (int j = 0; j < GN_LANES; j++)
                acc[j] += ((double)a[p + j] - ca) * ((double)b[p + j] - cb);
        for (int j = 0; p < n; p++, j++)
            acc[j] += ((double)a[p] - ca) * ((double)b[p] - cb);
    } else {
        for (; p + GN_LANES <= n; p += GN_LANES)
            for (int j = 0; j < GN_LANES; j++)
                acc[j] += (double)a[p + j] - ca;
        for (int j = 0; p < n; p++, j++)
            acc[j] += (double)a[p] - ca;
    }
    return gn_combine(acc);
}

void OPS_NAME(groupnorm_forward)(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                                 const real *beta, int B, int C, int HW, int G, real eps)
{
    int Cg = C / G;
    size_t n = (size_t)Cg * HW; /* elements per group, contiguous in NCHW */
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        const real *xg = x + (size_t)bg * n;
        real *yg = y + (size_t)bg * n;
        double m = gn_sum(xg, 0, NULL, 0, n) / (double)n;
        /* two passes: no cancellation in E[x²] − E[x]² */
        double var = gn_sum(xg, m, xg, m, n) / (double)n;
        real mr = (real)m, rs = (real)(1.0 / sqrt(var + (double)eps));
        mean[bg] = mr;
        rstd[bg] = rs;
        int g = bg % G;
        for (int cl = 0; cl < Cg; cl++) {
            int c = g * Cg + cl;
            real a = gamma ? gamma[c] : 1, bb = beta ? beta[c] : 0;
            const real *xc = xg + (size_t)cl * HW;
            real *yc = yg + (size_t)cl * HW;
            for (int p = 0; p < HW; p++)
                yc[p] = (xc[p] - mr) * rs * a + bb;
        }
    }
}

typedef struct {
    const real *dy, *x, *mean, *rstd; /* (B, C, HW), (B, C, HW), (B, G), (B, G) */
    int B, C, HW, G;
} gn_param_ctx;

/* dgamma[c] = Σ_{b,p} dy · x̂ = Σ_b rstd · Σ_p dy · (x − mean) */
static real gn_gamma_grad(const void *ctx, int64_t c)
{
    const gn_param_ctx *k = ctx;
    int g = (int)c / (k->C / k->G);
    double s = 0;
    for (int b = 0; b < k->B; b++) {
        size_t off = ((size_t)b * k->C + c) * k->HW;
        int bg = b * k->G + g;
        s += (double)k->rstd[bg] * gn_sum(k->dy + off, 0, k->x + off, k->mean[bg], k->HW);
    }
    return (real)s;
}

/* dbeta[c] = Σ_{b,p} dy */
static real gn_beta_grad(const void *ctx, int64_t c)
{
    const gn_param_ctx *k = ctx;
    double s = 0;
    for (int b = 0; b < k->B; b++)
        s += gn_sum(k->dy + ((size_t)b * k->C + c) * k->HW, 0, NULL, 0, k->HW);
    return (real)s;
}

void OPS_NAME(groupnorm_backward)(real *dx, const ops_sink_t *dgamma, const ops_sink_t *dbeta, const real *dy,
                                  const real *x, const real *mean, const real *rstd, const real *gamma, int B, int C,
                                  int HW, int G)
{
    int Cg = C / G;
    size_t n = (size_t)Cg * HW;
    if (dx) {
        /* With ĝ = dy·γ: dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) over the group. */
#pragma omp parallel for schedule(static)
        for (int bg = 0; bg < B * G; bg++) {
            size_t off = (size_t)bg * n;
            int g = bg % G;
            real m = mean[bg], r = rstd[bg];
            double sg = 0, sgx = 0;
            for (int cl = 0; cl < Cg; cl++) {
                size_t o = off + (size_t)cl * HW;
                double a = gamma ? gamma[g * Cg + cl] : 1;
                sg += a * gn_sum(dy + o, 0, NULL, 0, HW);
                sgx += a * gn_sum(dy + o, 0, x + o, m, HW);
            }
            real mg = (real)(sg / (double)n), mgx = (real)(sgx * r / (double)n);
            for (int cl = 0; cl < Cg; cl++) {
                real a = gamma ? gamma[g * Cg + cl] : 1;
                for (int p = 0; p < HW; p++) {
                    size_t i = off + (size_t)cl * HW + p;
                    real xh = (x[i] - m) * r;
                    dx[i] += r * (dy[i] * a - mg - xh * mgx);
                }
            }
        }
    }
    gn_param_ctx pc = {dy, x, mean, rstd, B, C, HW, G};
    OPS_NAME(ops_sink_each)(dgamma, C, gn_gamma_grad, &pc);
    OPS_NAME(ops_sink_each)(dbeta, C, gn_beta_grad, &pc);
}
