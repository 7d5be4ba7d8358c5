/* groupnorm.c — GroupNorm exactly as torch.nn.GroupNorm: statistics over (C/G channels × HW)
 * per (batch, group), biased variance, eps inside the square root, per-channel affine.
 * Statistics and the backward's sums are accumulated in double: groups are large (e.g. 16
 * channels × 64×64) and float sums would lose digits the tests can see. Each pass over the
 * data is one vectorised loop (OPS_VECTOR_CLONES); the backward reads dy and x once for all
 * its sums, which serve dx, dgamma and dbeta alike. Also here: GroupNorm followed by SiLU as
 * one op that keeps only the statistics (the backward recomputes the normalised values). */
#include <stdlib.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

/* Double sums with independent lanes combined in a fixed order (vectorisable, deterministic). */
#define GN_LANES 16

static double gn_combine(double *acc)
{
    for (int w = GN_LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* s[0] = Σ (a − ca), s[1] = Σ (a − ca)² over n. */
OPS_VECTOR_CLONES static void gn_moments(const real *a, double ca, size_t n, double s[2])
{
    double s1[GN_LANES] = {0}, s2[GN_LANES] = {0};
    size_t p = 0;
    for (; p + GN_LANES <= n; p += GN_LANES)
#pragma omp simd
        for (int j = 0; j < GN_LANES; j++) {
            double d = (double)a[p + j] - ca;
            s1[j] += d;
            s2[j] += d * d;
        }
    for (int j = 0; p < n; p++, j++) {
        double d = (double)a[p] - ca;
        s1[j] += d;
        s2[j] += d * d;
    }
    s[0] = gn_combine(s1);
    s[1] = gn_combine(s2);
}

/* s[0] = Σ dy, s[1] = Σ dy·(x − m) over n. */
OPS_VECTOR_CLONES static void gn_grad_sums(const real *dy, const real *x, double m, size_t n, double s[2])
{
    double s1[GN_LANES] = {0}, s2[GN_LANES] = {0};
    size_t p = 0;
    for (; p + GN_LANES <= n; p += GN_LANES)
#pragma omp simd
        for (int j = 0; j < GN_LANES; j++) {
            double g = (double)dy[p + j];
            s1[j] += g;
            s2[j] += g * ((double)x[p + j] - m);
        }
    for (int j = 0; p < n; p++, j++) {
        double g = (double)dy[p];
        s1[j] += g;
        s2[j] += g * ((double)x[p] - m);
    }
    s[0] = gn_combine(s1);
    s[1] = gn_combine(s2);
}

/* y = (x − m)·r·a + b over n */
OPS_VECTOR_CLONES static void gn_normalize(real *y, const real *x, real m, real r, real a, real b, int n)
{
#pragma omp simd
    for (int p = 0; p < n; p++)
        y[p] = (x[p] - m) * r * a + b;
}

/* dx += r·(dy·a − mg − (x − m)·r·mgx) over n */
OPS_VECTOR_CLONES static void gn_dx(real *dx, const real *dy, const real *x, real m, real r, real a, real mg,
                                    real mgx, int n)
{
#pragma omp simd
    for (int p = 0; p < n; p++) {
        real xh = (x[p] - m) * r;
        dx[p] += r * (dy[p] * a - mg - xh * mgx);
    }
}

/* The statistics of one group's n contiguous elements: mean and 1/sqrt(var + eps) (biased). One
 * pass, shifted by the group's first element: in double, with float data, the variance loses
 * no digits that float could hold unless |mean| / std > 1e4. */
static void gn_stats(const real *xg, size_t n, real eps, real *mean, real *rstd)
{
    double s[2], shift = (double)xg[0];
    gn_moments(xg, shift, n, s);
    double d = s[0] / (double)n, var = s[1] / (double)n - d * d;
    var = var > 0 ? var : 0;
    *mean = (real)(shift + d);
    *rstd = (real)(1.0 / sqrt(var + (double)eps));
}

void OPS_NAME(groupnorm_forward)(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                                 const real *beta, int B, int C, int HW, int G, real eps)
{
    OPS_PROF_SCOPE(OPS_PROF_NORM);
    int Cg = C / G;
    size_t n = (size_t)Cg * HW; /* elements per group, contiguous in NCHW */
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        const real *xg = x + (size_t)bg * n;
        real *yg = y + (size_t)bg * n;
        gn_stats(xg, n, eps, &mean[bg], &rstd[bg]);
        real mr = mean[bg], rs = rstd[bg];
        int g = bg % G;
        for (int cl = 0; cl < Cg; cl++) {
            int c = g * Cg + cl;
            gn_normalize(yg + (size_t)cl * HW, xg + (size_t)cl * HW, mr, rs, gamma ? gamma[c] : 1,
                         beta ? beta[c] : 0, HW);
        }
    }
}

typedef struct {
    const real *dy, *x, *mean, *rstd; /* (B, C, HW), (B, C, HW), (B, G), (B, G) */
    const double *sums;               /* (B, C, 2): Σ dy, Σ dy·(x − mean) per (b, c); NULL: compute */
    int B, C, HW, G;
} gn_grad_ctx;

/* Σ dy and Σ dy·(x − mean) over the pixels of channel c of item b. */
static void gn_channel_sums(const gn_grad_ctx *k, int b, int c, double s[2])
{
    size_t bc = (size_t)b * k->C + c;
    if (k->sums) {
        s[0] = k->sums[2 * bc];
        s[1] = k->sums[2 * bc + 1];
        return;
    }
    int bg = b * k->G + c / (k->C / k->G);
    gn_grad_sums(k->dy + bc * k->HW, k->x + bc * k->HW, k->mean[bg], (size_t)k->HW, s);
}

/* dgamma[c] = Σ_{b,p} dy · x̂ = Σ_b rstd · Σ_p dy · (x − mean) */
static real gn_gamma_grad(const void *ctx, int64_t c)
{
    const gn_grad_ctx *k = ctx;
    int g = (int)c / (k->C / k->G);
    double t = 0, s[2];
    for (int b = 0; b < k->B; b++) {
        gn_channel_sums(k, b, (int)c, s);
        t += (double)k->rstd[b * k->G + g] * s[1];
    }
    return (real)t;
}

/* dbeta[c] = Σ_{b,p} dy */
static real gn_beta_grad(const void *ctx, int64_t c)
{
    const gn_grad_ctx *k = ctx;
    double t = 0, s[2];
    for (int b = 0; b < k->B; b++) {
        gn_channel_sums(k, b, (int)c, s);
        t += s[0];
    }
    return (real)t;
}

/* With ĝ = dy·γ: dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) over group bg. */
static void gn_group_input_grad(real *dx, const gn_grad_ctx *k, const real *gamma, int bg)
{
    int Cg = k->C / k->G, HW = k->HW;
    double n = (double)Cg * HW;
    int b = bg / k->G, g = bg % k->G;
    real m = k->mean[bg], r = k->rstd[bg];
    double sg = 0, sgx = 0, s[2];
    for (int cl = 0; cl < Cg; cl++) {
        double a = gamma ? gamma[g * Cg + cl] : 1;
        gn_channel_sums(k, b, g * Cg + cl, s);
        sg += a * s[0];
        sgx += a * s[1];
    }
    real mg = (real)(sg / n), mgx = (real)(sgx * r / n);
    for (int cl = 0; cl < Cg; cl++) {
        size_t o = ((size_t)bg * Cg + cl) * HW;
        gn_dx(dx + o, k->dy + o, k->x + o, m, r, gamma ? gamma[g * Cg + cl] : 1, mg, mgx, HW);
    }
}

static void gn_input_grad(real *dx, const gn_grad_ctx *k, const real *gamma)
{
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < k->B * k->G; bg++)
        gn_group_input_grad(dx, k, gamma, bg);
}

void OPS_NAME(groupnorm_backward)(real *dx, const ops_sink_t *dgamma, const ops_sink_t *dbeta, const real *dy,
                                  const real *x, const real *mean, const real *rstd, const real *gamma, int B, int C,
                                  int HW, int G)
{
    OPS_PROF_SCOPE(OPS_PROF_NORM);
    gn_grad_ctx k = {dy, x, mean, rstd, NULL, B, C, HW, G};
    /* dx, dgamma and dbeta all need the same per-(b, c) sums: when more than one of them is
     * wanted, form the sums once (B·C pairs of doubles); else, or without the memory, each
     * consumer forms the sums it needs. */
    int consumers = (dx != NULL) + ops_sink_wanted(dgamma) + ops_sink_wanted(dbeta);
    double *sums = consumers > 1 ? malloc((size_t)B * C * 2 * sizeof *sums) : NULL;
    if (sums) {
        int Cg = C / G;
#pragma omp parallel for schedule(static)
        for (int bc = 0; bc < B * C; bc++) {
            int bg = bc / C * G + bc % C / Cg;
            gn_grad_sums(dy + (size_t)bc * HW, x + (size_t)bc * HW, mean[bg], (size_t)HW, sums + 2 * (size_t)bc);
        }
        k.sums = sums;
    }
    if (dx)
        gn_input_grad(dx, &k, gamma);
    OPS_NAME(ops_sink_each)(dgamma, C, gn_gamma_grad, &k);
    OPS_NAME(ops_sink_each)(dbeta, C, gn_beta_grad, &k);
    free(sums);
}

/* ------------------------------------------------------------------------------------------ */
/* GroupNorm followed by SiLU, fused (every ResNet block's norm1/norm2 → SiLU, conv_norm_out).
 * Only x and the statistics are kept: the normalised value v = (x − mean)·rstd·γ + β is formed
 * in registers, so neither v nor silu(v) has to be stored between forward and backward. Each
 * element is computed with exactly the operations of groupnorm_forward then silu_forward
 * (and of silu_backward then groupnorm_backward), so the results are bit-identical to the
 * unfused pair. */

/* y = silu((x − m)·r·a + b) over n */
OPS_VECTOR_CLONES static void gn_normalize_silu(real *y, const real *x, real m, real r, real a, real b, int n)
{
#pragma omp simd
    for (int p = 0; p < n; p++) {
        real v = (x[p] - m) * r * a + b;
        y[p] = v * ops_sigmoid(v);
    }
}

/* One channel: g ← g·silu'(v) in place, v = (x − m)·r·a + b, with silu'(v) = σ(v)·(1 + v·(1 − σ(v)));
 * then s[0] = Σ g, s[1] = Σ g·(x − m) of the new g, summed as gn_grad_sums does. */
OPS_VECTOR_CLONES static void gn_silu_grad_sums(real *g, const real *x, real m, real r, real a, real b, size_t n,
                                                double s[2])
{
    double s1[GN_LANES] = {0}, s2[GN_LANES] = {0}, md = (double)m;
    size_t p = 0;
    for (; p + GN_LANES <= n; p += GN_LANES)
#pragma omp simd
        for (int j = 0; j < GN_LANES; j++) {
            real v = (x[p + j] - m) * r * a + b, sg = ops_sigmoid(v);
            real d = g[p + j] * sg * (1 + v * (1 - sg));
            g[p + j] = d;
            s1[j] += (double)d;
            s2[j] += (double)d * ((double)x[p + j] - md);
        }
    for (int j = 0; p < n; p++, j++) {
        real v = (x[p] - m) * r * a + b, sg = ops_sigmoid(v);
        real d = g[p] * sg * (1 + v * (1 - sg));
        g[p] = d;
        s1[j] += (double)d;
        s2[j] += (double)d * ((double)x[p] - md);
    }
    s[0] = gn_combine(s1);
    s[1] = gn_combine(s2);
}

/* y = silu(GroupNorm(x)) of group bg from its statistics m, r. */
static void gn_silu_group(real *y, const real *x, real m, real r, const real *gamma, const real *beta, int bg, int Cg,
                          int HW, int G)
{
    size_t n = (size_t)Cg * HW;
    int g = bg % G;
    for (int cl = 0; cl < Cg; cl++) {
        int c = g * Cg + cl;
        size_t o = (size_t)bg * n + (size_t)cl * HW;
        gn_normalize_silu(y + o, x + o, m, r, gamma ? gamma[c] : 1, beta ? beta[c] : 0, HW);
    }
}

void OPS_NAME(groupnorm_silu_forward)(real *y, real *mean, real *rstd, const real *x, const real *gamma,
                                      const real *beta, int B, int C, int HW, int G, real eps)
{
    OPS_PROF_SCOPE(OPS_PROF_NORM);
    int Cg = C / G;
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        gn_stats(x + (size_t)bg * Cg * HW, (size_t)Cg * HW, eps, &mean[bg], &rstd[bg]);
        gn_silu_group(y, x, mean[bg], rstd[bg], gamma, beta, bg, Cg, HW, G);
    }
}

void OPS_NAME(groupnorm_silu_apply)(real *y, const real *x, const real *mean, const real *rstd, const real *gamma,
                                    const real *beta, int B, int C, int HW, int G)
{
    OPS_PROF_SCOPE(OPS_PROF_NORM);
    int Cg = C / G;
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++)
        gn_silu_group(y, x, mean[bg], rstd[bg], gamma, beta, bg, Cg, HW, G);
}

void OPS_NAME(groupnorm_silu_backward)(real *dx, const ops_sink_t *dgamma, const ops_sink_t *dbeta, real *dy,
                                       const real *x, const real *mean, const real *rstd, const real *gamma,
                                       const real *beta, int B, int C, int HW, int G)
{
    OPS_PROF_SCOPE(OPS_PROF_NORM);
    int Cg = C / G;
    /* (B, C, 2): Σ dv and Σ dv·(x − mean) per (b, c), which dx, dgamma and dbeta all need */
    double *sums = malloc((size_t)B * C * 2 * sizeof *sums);
    gn_grad_ctx k = {dy, x, mean, rstd, sums, B, C, HW, G};
    /* One group at a time: its sums, then (from the cache: a group is Cg·HW values of dv and x)
     * its dx, where two passes over the whole tensor read everything from memory twice. */
#pragma omp parallel for schedule(static)
    for (int bg = 0; bg < B * G; bg++) {
        for (int cl = 0; cl < Cg; cl++) {
            int c = bg % G * Cg + cl;
            size_t bc = (size_t)bg * Cg + cl;
            double unused[2];
            gn_silu_grad_sums(dy + bc * HW, x + bc * HW, mean[bg], rstd[bg], gamma ? gamma[c] : 1,
                              beta ? beta[c] : 0, (size_t)HW, sums ? sums + 2 * bc : unused);
        }
        if (sums && dx)
            gn_group_input_grad(dx, &k, gamma, bg);
    }
    if (!sums) { /* without the memory: dy now holds dv, and the plain backward forms its own sums */
        OPS_NAME(groupnorm_backward)(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, B, C, HW, G);
        return;
    }
    OPS_NAME(ops_sink_each)(dgamma, C, gn_gamma_grad, &k);
    OPS_NAME(ops_sink_each)(dbeta, C, gn_beta_grad, &k);
    free(sums);
}
