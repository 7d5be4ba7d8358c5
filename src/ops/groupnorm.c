/* groupnorm.c — GroupNorm exactly as torch.nn.GroupNorm: statistics over (C/G channels × HW)
 * per (batch, group), biased variance, eps inside the square root, per-channel affine.
 * Statistics and the backward's group sums are accumulated in double: groups are large
 * (e.g. 16 channels × 64×64) and float sums would lose digits the tests can see. */
#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(groupnorm_forward)(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                                 const real *beta, int B, int C, int HW, int G, real eps)
{
    int Cg = C / G;
    size_t n = (size_t)Cg * HW; /* elements per group, contiguous in NCHW */
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        const real *xg = x + (size_t)bg * n;
        real *yg = y + (size_t)bg * n;
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++)
            s += xg[i];
        double m = s / (double)n;
        for (size_t i = 0; i < n; i++) { /* two passes: no cancellation in E[x²] − E[x]² */
            double d = xg[i] - m;
            ss += d * d;
        }
        real mr = (real)m, rs = (real)(1.0 / sqrt(ss / (double)n + (double)eps));
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

/* dgamma[c] = Σ_{b,p} dy · x̂ */
static real gn_gamma_grad(const void *ctx, int64_t c)
{
    const gn_param_ctx *k = ctx;
    int g = (int)c / (k->C / k->G);
    double s = 0;
    for (int b = 0; b < k->B; b++) {
        size_t off = ((size_t)b * k->C + c) * k->HW;
        real m = k->mean[b * k->G + g], r = k->rstd[b * k->G + g];
        for (int p = 0; p < k->HW; p++)
            s += (double)(k->dy[off + p] * ((k->x[off + p] - m) * r));
    }
    return (real)s;
}

/* dbeta[c] = Σ_{b,p} dy */
static real gn_beta_grad(const void *ctx, int64_t c)
{
    const gn_param_ctx *k = ctx;
    double s = 0;
    for (int b = 0; b < k->B; b++) {
        const real *r = k->dy + ((size_t)b * k->C + c) * k->HW;
        for (int p = 0; p < k->HW; p++)
            s += r[p];
    }
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
                real a = gamma ? gamma[g * Cg + cl] : 1;
                for (int p = 0; p < HW; p++) {
                    size_t i = off + (size_t)cl * HW + p;
                    real gh = dy[i] * a;
                    sg += gh;
                    sgx += (double)(gh * ((x[i] - m) * r));
                }
            }
            real mg = (real)(sg / (double)n), mgx = (real)(sgx / (double)n);
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
