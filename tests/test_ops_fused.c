/* test_ops_fused.c — the fused GroupNorm+SiLU op (groupnorm.c) that lets training keep only the
 * statistics: its backward against central finite differences in double (the _f64 twin), and
 * in float every output bit for bit against the unfused pair it replaces (groupnorm then silu,
 * silu_backward then groupnorm_backward), including the recomputation `apply`. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "test.h"

#define GNS_EPS 1e-5
#define GNS_H 1e-6
/* As in test_ops_fd.c: truncation ~h² ≈ 1e-12, rounding ~1e-9; two orders of margin. */
#define GNS_ATOL 1e-7
#define GNS_RTOL 1e-6

typedef struct {
    int B, C, HW, G;
    double *x, *gamma, *beta, *g, *y, *mean, *rstd; /* (B, C, HW), (C), (C), (B, C, HW) ×2, (B, G) ×2 */
} gns_ctx;

/* loss = Σ g · silu(groupnorm(x)) */
static double gns_loss(gns_ctx *c)
{
    int64_t n = (int64_t)c->B * c->C * c->HW;
    groupnorm_silu_forward_f64(c->y, c->mean, c->rstd, c->x, c->gamma, c->beta, c->B, c->C, c->HW, c->G, GNS_EPS);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += c->y[i] * c->g[i];
    return s;
}

/* Central differences of the loss over every element of p (n) against analytic (n). */
static double gns_loss_any(void *c) { return gns_loss(c); }

static int gns_fd(const char *what, gns_ctx *c, double *p, const double *analytic, int64_t n)
{
    return test_fd_check(what, p, analytic, n, gns_loss_any, c, GNS_H, GNS_ATOL, GNS_RTOL);
}

TEST(ops_fd_groupnorm_silu)
{
    enum { B = 2, C = 4, HW = 21, G = 2, N = B * C * HW }; /* HW: a vector's worth and a tail */
    double x[N], gamma[C], beta[C], g[N], y[N], mean[B * G], rstd[B * G];
    double dx[N], dx_pre[N], dy[N], dgamma[C], dbeta[C];
    sara_rng r;
    rng_seed(&r, 31);
    for (int i = 0; i < N; i++) {
        x[i] = 2 * rng_normal(&r) + 0.5; /* a shifted mean: the statistics matter */
        g[i] = rng_normal(&r);
        dx_pre[i] = dx[i] = rng_normal(&r); /* backward must add to it */
    }
    for (int i = 0; i < C; i++) {
        gamma[i] = 1.5 * rng_normal(&r); /* wide enough to reach both tails of the sigmoid */
        beta[i] = rng_normal(&r);
        dgamma[i] = dbeta[i] = 0;
    }
    gns_ctx c = {B, C, HW, G, x, gamma, beta, g, y, mean, rstd};
    gns_loss(&c);
    memcpy(dy, g, sizeof dy); /* used up by backward */
    ops_sink_f64 sg = {.kind = OPS_SINK_DENSE, .dense = dgamma}, sb = {.kind = OPS_SINK_DENSE, .dense = dbeta};
    groupnorm_silu_backward_f64(dx, &sg, &sb, dy, x, mean, rstd, gamma, beta, B, C, HW, G);
    for (int i = 0; i < N; i++)
        dx[i] -= dx_pre[i];
    CHECK_MSG(gns_fd("groupnorm+silu dx", &c, x, dx, N), "dx != finite differences");
    CHECK_MSG(gns_fd("groupnorm+silu dgamma", &c, gamma, dgamma, C), "dgamma != finite differences");
    CHECK_MSG(gns_fd("groupnorm+silu dbeta", &c, beta, dbeta, C), "dbeta != finite differences");
}

/* Float: the fused op gives the very bits of the unfused pair, forward and backward. */
TEST(ops_groupnorm_silu_equals_unfused_bitwise)
{
    enum { B = 3, C = 8, HW = 37, G = 4, N = B * C * HW };
    static float x[N], gamma[C], beta[C], dy[N], dy_fused[N], n1[N], y_ref[N], y[N], y_again[N];
    static float mean_ref[B * G], rstd_ref[B * G], mean[B * G], rstd[B * G];
    static float dn[N], dx_ref[N], dx[N], dg_ref[C], db_ref[C], dg[C], db[C];
    sara_rng r;
    rng_seed(&r, 32);
    rng_fill_normal(&r, x, N);
    rng_fill_normal(&r, dy, N);
    rng_fill_normal(&r, gamma, C);
    rng_fill_normal(&r, beta, C);
    for (int i = 0; i < N; i++) {
        x[i] = 3 * x[i] - 1;
        dx_ref[i] = dx[i] = (float)i / N; /* the same pre-fill: both add to it */
    }
    for (int i = 0; i < C; i++)
        gamma[i] *= 4; /* normalised values well into both tails of the sigmoid */
    memset(dg_ref, 0, sizeof dg_ref);
    memset(db_ref, 0, sizeof db_ref);
    memset(dg, 0, sizeof dg);
    memset(db, 0, sizeof db);
    memset(dn, 0, sizeof dn);

    groupnorm_forward(n1, mean_ref, rstd_ref, x, gamma, beta, B, C, HW, G, (float)GNS_EPS);
    silu_forward(y_ref, n1, N);
    groupnorm_silu_forward(y, mean, rstd, x, gamma, beta, B, C, HW, G, (float)GNS_EPS);
    groupnorm_silu_apply(y_again, x, mean, rstd, gamma, beta, B, C, HW, G);
    CHECK(!memcmp(y, y_ref, sizeof y) && !memcmp(mean, mean_ref, sizeof mean) && !memcmp(rstd, rstd_ref, sizeof rstd));
    CHECK(!memcmp(y_again, y, sizeof y));

    ops_sink sg_ref = {.kind = OPS_SINK_DENSE, .dense = dg_ref}, sb_ref = {.kind = OPS_SINK_DENSE, .dense = db_ref};
    ops_sink sg = {.kind = OPS_SINK_DENSE, .dense = dg}, sb = {.kind = OPS_SINK_DENSE, .dense = db};
    silu_backward(dn, dy, n1, N);
    groupnorm_backward(dx_ref, &sg_ref, &sb_ref, dn, x, mean_ref, rstd_ref, gamma, B, C, HW, G);
    memcpy(dy_fused, dy, sizeof dy);
    groupnorm_silu_backward(dx, &sg, &sb, dy_fused, x, mean, rstd, gamma, beta, B, C, HW, G);
    CHECK(!memcmp(dx, dx_ref, sizeof dx));
    CHECK(!memcmp(dg, dg_ref, sizeof dg) && !memcmp(db, db_ref, sizeof db));
    CHECK_MSG(!memcmp(dy_fused, dn, sizeof dn), "dy must be left holding the norm output's gradient");
}
