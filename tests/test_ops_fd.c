/* test_ops_fd.c — every backward kernel against central finite differences, in double (the
 * _f64 twins of src/ops). For each op: loss = Σ out·g with random g; the analytic gradient of
 * every input and parameter element (dense sinks) must match (loss(x+h) − loss(x−h)) / 2h.
 * Gradient buffers are pre-filled with random values and the pre-fill is subtracted after
 * backward, so the tests also prove that every kernel accumulates (+=) instead of writing.
 * Also here: ops_gemm against naive loops, and closed-form checks of the forward-only ops. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "test.h"

#define FD_H 1e-6
/* Central differences at h = 1e-6 in double: truncation ~h² ≈ 1e-12, rounding ~1e-16·|loss|/h
 * ≈ 1e-9 for these sizes; the tolerance leaves two orders of magnitude of margin. */
#define FD_ATOL 1e-7
#define FD_RTOL 1e-6

/* Bump allocator over a static pool, reset per test: a failing CHECK can return anywhere
 * without leaking (LeakSanitizer runs in `make asan`). */
#define POOL_DOUBLES (1 << 16)
static double pool[POOL_DOUBLES];
static size_t pool_used;
static sara_rng fd_rng;

static void fd_begin(uint64_t seed)
{
    pool_used = 0;
    rng_seed(&fd_rng, seed);
}

static double *buf_zero(int64_t n)
{
    if (pool_used + (size_t)n > POOL_DOUBLES) {
        fprintf(stderr, "test_ops_fd: pool exhausted\n");
        abort();
    }
    double *p = pool + pool_used;
    pool_used += (size_t)n;
    memset(p, 0, (size_t)n * sizeof *p);
    return p;
}

static double *buf_randn(int64_t n)
{
    double *p = buf_zero(n);
    for (int64_t i = 0; i < n; i++)
        p[i] = rng_normal(&fd_rng);
    return p;
}

/* A gradient destination pre-filled with noise; acc_delta() leaves only what backward added. */
typedef struct {
    double *g, *pre;
    int64_t n;
} acc_buf;

static acc_buf acc_make(int64_t n)
{
    acc_buf a = {buf_randn(n), buf_zero(n), n};
    memcpy(a.pre, a.g, (size_t)n * sizeof(double));
    return a;
}

static double *acc_delta(acc_buf *a)
{
    for (int64_t i = 0; i < a->n; i++)
        a->g[i] -= a->pre[i];
    return a->g;
}

static ops_sink_f64 dense_sink(acc_buf *a)
{
    return (ops_sink_f64){.kind = OPS_SINK_DENSE, .dense = a->g};
}

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Compares analytic (n) with central differences of loss over every element of x (n). */
static int fd_check(const char *what, double *x, const double *analytic, int64_t n, loss_fn loss, void *ctx)
{
    return test_fd_check(what, x, analytic, n, loss, ctx, FD_H, FD_ATOL, FD_RTOL);
}

#define CHECK_FD(what, x, analytic, n, loss, ctx) \
    CHECK_MSG(fd_check(what, x, analytic, n, loss, ctx), "%s: analytic gradient != finite differences", what)

/* ---------------------------------------------------------------- gemm */

static void naive_gemm(int ta, int tb, int M, int N, int K, double alpha, const double *A, int lda,
                       const double *B, int ldb, double beta, double *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = alpha * s + beta * C[i * ldc + j];
        }
}

TEST(ops_gemm_matches_naive_loops)
{
    fd_begin(1);
    enum { M = 3, N = 4, K = 5, LD = 7 }; /* leading dimension 7 > every width: strides are honoured */
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            double *A = buf_randn(LD * LD), *B = buf_randn(LD * LD), *C = buf_randn(LD * LD);
            double *ref = buf_zero(LD * LD);
            float Af[LD * LD], Bf[LD * LD], Cf[LD * LD], reff[LD * LD];
            memcpy(ref, C, sizeof(double) * LD * LD);
            for (int i = 0; i < LD * LD; i++) {
                Af[i] = (float)A[i];
                Bf[i] = (float)B[i];
                Cf[i] = (float)C[i];
            }
            naive_gemm(ta, tb, M, N, K, 0.5, A, LD, B, LD, 2.0, ref, LD);
            ops_gemm_f64(ta, tb, M, N, K, 0.5, A, LD, B, LD, 2.0, C, LD);
            CHECK_ALLCLOSE_F64("gemm f64", C, ref, LD * LD, 1e-13, 1e-13);
            for (int i = 0; i < LD * LD; i++)
                reff[i] = (float)ref[i];
            ops_gemm(ta, tb, M, N, K, 0.5f, Af, LD, Bf, LD, 2.0f, Cf, LD);
            CHECK_ALLCLOSE_F32("gemm f32", Cf, reff, LD * LD, 1e-5, 1e-5);
        }
}

/* ---------------------------------------------------------------- linear */

typedef struct {
    int N, In, O;
    double *x, *w, *b, *g, *y;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    linear_forward_f64(c->y, c->x, c->w, c->b, c->N, c->In, c->O);
    return dot(c->y, c->g, (int64_t)c->N * c->O);
}

TEST(ops_fd_linear)
{
    fd_begin(2);
    lin_ctx c = {.N = 3, .In = 4, .O = 5};
    c.x = buf_randn(c.N * c.In);
    c.w = buf_randn(c.O * c.In);
    c.b = buf_randn(c.O);
    c.g = buf_randn(c.N * c.O);
    c.y = buf_zero(c.N * c.O);
    acc_buf dx = acc_make(c.N * c.In), dw = acc_make(c.O * c.In), db = acc_make(c.O);
    ops_sink_f64 sw = dense_sink(&dw), sb = dense_sink(&db);
    linear_backward_f64(dx.g, &sw, &sb, c.g, c.x, c.w, c.N, c.In, c.O);
    CHECK_FD("linear dx", c.x, acc_delta(&dx), dx.n, lin_loss, &c);
    CHECK_FD("linear dw", c.w, acc_delta(&dw), dw.n, lin_loss, &c);
    CHECK_FD("linear db", c.b, acc_delta(&db), db.n, lin_loss, &c);
}

/* ---------------------------------------------------------------- conv2d */

typedef struct {
    ops_conv_shape s;
    double *x, *w, *b, *g, *y, *scratch;
} conv_ctx;

static int64_t conv_out_numel(const ops_conv_shape *s)
{
    return (int64_t)s->B * s->O * ops_conv_out_h(s) * ops_conv_out_w(s);
}

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    conv2d_forward_f64(c->y, c->x, c->w, c->b, &c->s, c->scratch);
    return dot(c->y, c->g, conv_out_numel(&c->s));
}

/* Runs the finite-difference check of conv2d on one shape; returns 0 (after reporting) on failure. */
static int conv_fd_case(const char *name, ops_conv_shape s, uint64_t seed)
{
    fd_begin(seed);
    conv_ctx c = {.s = s};
    int64_t nx = (int64_t)s.B * s.C * s.H * s.W, nw = (int64_t)s.O * s.C * s.KH * s.KW;
    c.x = buf_randn(nx);
    c.w = buf_randn(nw);
    c.b = buf_randn(s.O);
    c.g = buf_randn(conv_out_numel(&s));
    c.y = buf_zero(conv_out_numel(&s));
    c.scratch = buf_zero((int64_t)conv2d_scratch_numel(&s));
    acc_buf dx = acc_make(nx), dw = acc_make(nw), db = acc_make(s.O);
    ops_sink_f64 sw = dense_sink(&dw), sb = dense_sink(&db);
    conv2d_backward_f64(dx.g, &sw, &sb, c.g, c.x, c.w, &s, c.scratch);
    char what[96];
    snprintf(what, sizeof what, "%s dx", name);
    if (!fd_check(what, c.x, acc_delta(&dx), nx, conv_loss, &c))
        return 0;
    snprintf(what, sizeof what, "%s dw", name);
    if (!fd_check(what, c.w, acc_delta(&dw), nw, conv_loss, &c))
        return 0;
    snprintf(what, sizeof what, "%s db", name);
    return fd_check(what, c.b, acc_delta(&db), s.O, conv_loss, &c);
}

TEST(ops_fd_conv2d)
{
    /* B, C, H, W, O, KH, KW, stride, pad_t, pad_l, pad_b, pad_r */
    CHECK(conv_fd_case("conv 3x3 s1 pad(1,1,1,1)", (ops_conv_shape){2, 4, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1}, 10));
    CHECK(conv_fd_case("conv 3x3 s1 pad(1,0,2,1)", (ops_conv_shape){2, 4, 5, 5, 3, 3, 3, 1, 1, 0, 2, 1}, 11));
    /* diffusers Downsample2D with padding=0 pads (right 1, bottom 1) then stride 2 */
    CHECK(conv_fd_case("conv 3x3 s2 pad(0,0,1,1)", (ops_conv_shape){2, 4, 5, 5, 3, 3, 3, 2, 0, 0, 1, 1}, 12));
    /* stride 2 with the last input row/column unused by the floor division */
    CHECK(conv_fd_case("conv 3x3 s2 pad(1,1,1,1) 6x5", (ops_conv_shape){2, 4, 6, 5, 3, 3, 3, 2, 1, 1, 1, 1}, 13));
    CHECK(conv_fd_case("conv 1x1 s1 (pointwise path)", (ops_conv_shape){2, 4, 5, 5, 3, 1, 1, 1, 0, 0, 0, 0}, 14));
    CHECK(conv_fd_case("conv 1x1 s2 pad(0,1,0,0)", (ops_conv_shape){2, 4, 5, 5, 3, 1, 1, 2, 0, 1, 0, 0}, 15));
    CHECK(conv_fd_case("conv 2x3 s1 nonsquare", (ops_conv_shape){1, 2, 4, 6, 2, 2, 3, 1, 0, 1, 1, 0}, 16));
}

/* ---------------------------------------------------------------- groupnorm */

typedef struct {
    int B, C, HW, G;
    double *x, *gamma, *beta, *g, *y, *mean, *rstd;
} gn_ctx;

#define GN_EPS 1e-5

static double gn_loss(void *p)
{
    gn_ctx *c = p;
    groupnorm_forward_f64(c->y, c->mean, c->rstd, c->x, c->gamma, c->beta, c->B, c->C, c->HW, c->G, GN_EPS);
    return dot(c->y, c->g, (int64_t)c->B * c->C * c->HW);
}

TEST(ops_fd_groupnorm)
{
    fd_begin(3);
    gn_ctx c = {.B = 2, .C = 4, .HW = 25, .G = 2};
    int64_t n = (int64_t)c.B * c.C * c.HW;
    c.x = buf_randn(n);
    c.gamma = buf_randn(c.C);
    c.beta = buf_randn(c.C);
    c.g = buf_randn(n);
    c.y = buf_zero(n);
    c.mean = buf_zero(c.B * c.G);
    c.rstd = buf_zero(c.B * c.G);
    gn_loss(&c);
    /* The saved statistics are torch's: biased variance, eps inside the root. */
    for (int bg = 0; bg < c.B * c.G; bg++) {
        const double *xg = c.x + (size_t)bg * (c.C / c.G) * c.HW;
        int m = c.C / c.G * c.HW;
        double s = 0, ss = 0;
        for (int i = 0; i < m; i++)
            s += xg[i];
        for (int i = 0; i < m; i++)
            ss += (xg[i] - s / m) * (xg[i] - s / m);
        CHECK(fabs(c.mean[bg] - s / m) < 1e-14);
        CHECK(fabs(c.rstd[bg] - 1 / sqrt(ss / m + GN_EPS)) < 1e-12);
    }
    acc_buf dx = acc_make(n), dgm = acc_make(c.C), dbt = acc_make(c.C);
    ops_sink_f64 sg = dense_sink(&dgm), sb = dense_sink(&dbt);
    groupnorm_backward_f64(dx.g, &sg, &sb, c.g, c.x, c.mean, c.rstd, c.gamma, c.B, c.C, c.HW, c.G);
    CHECK_FD("groupnorm dx", c.x, acc_delta(&dx), n, gn_loss, &c);
    CHECK_FD("groupnorm dgamma", c.gamma, acc_delta(&dgm), c.C, gn_loss, &c);
    CHECK_FD("groupnorm dbeta", c.beta, acc_delta(&dbt), c.C, gn_loss, &c);
}

/* ---------------------------------------------------------------- silu */

typedef struct {
    int64_t n;
    double *x, *g, *y;
} silu_ctx;

static double silu_loss(void *p)
{
    silu_ctx *c = p;
    silu_forward_f64(c->y, c->x, c->n);
    return dot(c->y, c->g, c->n);
}

TEST(ops_fd_silu)
{
    fd_begin(4);
    silu_ctx c = {.n = 40};
    c.x = buf_randn(c.n);
    for (int64_t i = 0; i < c.n; i++)
        c.x[i] *= 4; /* reach into both tails of the sigmoid */
    c.g = buf_randn(c.n);
    c.y = buf_zero(c.n);
    silu_loss(&c);
    for (int64_t i = 0; i < c.n; i++)
        CHECK(fabs(c.y[i] - c.x[i] / (1 + exp(-c.x[i]))) < 1e-15 * (1 + fabs(c.x[i])));
    acc_buf dx = acc_make(c.n);
    silu_backward_f64(dx.g, c.g, c.x, c.n);
    CHECK_FD("silu dx", c.x, acc_delta(&dx), c.n, silu_loss, &c);
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    int B, T, heads, D;
    double *q, *k, *v, *g, *out, *probs;
} attn_ctx;

static double attn_loss(void *p)
{
    attn_ctx *c = p;
    attention_forward_f64(c->out, c->probs, c->q, c->k, c->v, c->B, c->T, c->heads, c->D);
    return dot(c->out, c->g, (int64_t)c->B * c->T * c->heads * c->D);
}

TEST(ops_fd_attention)
{
    fd_begin(5);
    attn_ctx c = {.B = 2, .T = 6, .heads = 2, .D = 3};
    int64_t n = (int64_t)c.B * c.T * c.heads * c.D;
    c.q = buf_randn(n);
    c.k = buf_randn(n);
    c.v = buf_randn(n);
    c.g = buf_randn(n);
    c.out = buf_zero(n);
    c.probs = buf_zero((int64_t)c.B * c.heads * c.T * c.T);
    attn_loss(&c);
    for (int r = 0; r < c.B * c.heads * c.T; r++) { /* rows of P are distributions */
        double s = 0;
        for (int j = 0; j < c.T; j++)
            s += c.probs[r * c.T + j];
        CHECK(fabs(s - 1) < 1e-14);
    }
    acc_buf dq = acc_make(n), dk = acc_make(n), dv = acc_make(n);
    double *scratch = buf_zero((int64_t)attention_scratch_numel(c.B, c.T, c.heads));
    attention_backward_f64(dq.g, dk.g, dv.g, c.g, c.probs, c.q, c.k, c.v, c.B, c.T, c.heads, c.D, scratch);
    CHECK_FD("attention dq", c.q, acc_delta(&dq), n, attn_loss, &c);
    CHECK_FD("attention dk", c.k, acc_delta(&dk), n, attn_loss, &c);
    CHECK_FD("attention dv", c.v, acc_delta(&dv), n, attn_loss, &c);
    /* NULL destinations are skipped, and the others do not depend on them. */
    acc_buf dv2 = acc_make(n);
    attention_backward_f64(NULL, NULL, dv2.g, c.g, c.probs, c.q, c.k, c.v, c.B, c.T, c.heads, c.D, scratch);
    CHECK_ALLCLOSE_F64("attention dv alone", acc_delta(&dv2), dv.g, n, 1e-14, 1e-14);
}

/* ---------------------------------------------------------------- upsample */

typedef struct {
    int B, C, H, W;
    double *x, *g, *y;
} up_ctx;

static double up_loss(void *p)
{
    up_ctx *c = p;
    upsample2x_forward_f64(c->y, c->x, c->B, c->C, c->H, c->W);
    return dot(c->y, c->g, (int64_t)c->B * c->C * 4 * c->H * c->W);
}

TEST(ops_fd_upsample2x)
{
    fd_begin(6);
    up_ctx c = {.B = 2, .C = 3, .H = 3, .W = 4};
    int64_t n = (int64_t)c.B * c.C * c.H * c.W;
    c.x = buf_randn(n);
    c.g = buf_randn(4 * n);
    c.y = buf_zero(4 * n);
    up_loss(&c);
    /* y[b, c, i, j] = x[b, c, i/2, j/2] */
    for (int bc = 0; bc < c.B * c.C; bc++)
        for (int i = 0; i < 2 * c.H; i++)
            for (int j = 0; j < 2 * c.W; j++)
                CHECK(c.y[(bc * 2 * c.H + i) * 2 * c.W + j] == c.x[(bc * c.H + i / 2) * c.W + j / 2]);
    acc_buf dx = acc_make(n);
    upsample2x_backward_f64(dx.g, c.g, c.B, c.C, c.H, c.W);
    CHECK_FD("upsample2x dx", c.x, acc_delta(&dx), n, up_loss, &c);
}

/* ---------------------------------------------------------------- embedding */

typedef struct {
    int N, V, D;
    const int64_t *ids;
    double *table, *g, *y;
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    embedding_forward_f64(c->y, c->table, c->ids, c->N, c->D);
    return dot(c->y, c->g, (int64_t)c->N * c->D);
}

TEST(ops_fd_embedding)
{
    fd_begin(7);
    static const int64_t ids[] = {3, 0, 3, 4, 1, 3}; /* repeats accumulate; id 2 unused */
    emb_ctx c = {.N = 6, .V = 5, .D = 3, .ids = ids};
    c.table = buf_randn(c.V * c.D);
    c.g = buf_randn(c.N * c.D);
    c.y = buf_zero(c.N * c.D);
    acc_buf dt = acc_make(c.V * c.D);
    ops_sink_f64 st = dense_sink(&dt);
    embedding_backward_f64(&st, c.g, c.ids, c.N, c.V, c.D);
    CHECK_FD("embedding dtable", c.table, acc_delta(&dt), dt.n, emb_loss, &c);
}

/* ---------------------------------------------------------------- plumbing */

typedef struct {
    int B, C1, C2, HW;
    double *a, *b, *g, *y;
} cat_ctx;

static double cat_loss(void *p)
{
    cat_ctx *c = p;
    concat_channels_forward_f64(c->y, c->a, c->b, c->B, c->C1, c->C2, c->HW);
    return dot(c->y, c->g, (int64_t)c->B * (c->C1 + c->C2) * c->HW);
}

TEST(ops_fd_concat_channels)
{
    fd_begin(8);
    cat_ctx c = {.B = 2, .C1 = 3, .C2 = 2, .HW = 5};
    int64_t na = c.B * c.C1 * c.HW, nb = c.B * c.C2 * c.HW;
    c.a = buf_randn(na);
    c.b = buf_randn(nb);
    c.g = buf_randn(na + nb);
    c.y = buf_zero(na + nb);
    acc_buf da = acc_make(na), db = acc_make(nb);
    concat_channels_backward_f64(da.g, db.g, c.g, c.B, c.C1, c.C2, c.HW);
    CHECK_FD("concat da", c.a, acc_delta(&da), na, cat_loss, &c);
    CHECK_FD("concat db", c.b, acc_delta(&db), nb, cat_loss, &c);
    acc_buf db2 = acc_make(nb); /* da NULL is skipped */
    concat_channels_backward_f64(NULL, db2.g, c.g, c.B, c.C1, c.C2, c.HW);
    CHECK_ALLCLOSE_F64("concat db alone", acc_delta(&db2), db.g, nb, 1e-14, 1e-14);
}

typedef struct {
    int B, C, HW;
    double *h0, *t, *g, *h;
} bias_ctx;

static double bias_loss(void *p)
{
    bias_ctx *c = p;
    int64_t n = (int64_t)c->B * c->C * c->HW;
    memcpy(c->h, c->h0, (size_t)n * sizeof(double));
    add_channel_bias_forward_f64(c->h, c->t, c->B, c->C, c->HW);
    return dot(c->h, c->g, n);
}

TEST(ops_fd_add_channel_bias)
{
    fd_begin(9);
    bias_ctx c = {.B = 2, .C = 3, .HW = 7};
    int64_t n = c.B * c.C * c.HW;
    c.h0 = buf_randn(n);
    c.t = buf_randn(c.B * c.C);
    c.g = buf_randn(n);
    c.h = buf_zero(n);
    acc_buf dt = acc_make(c.B * c.C);
    add_channel_bias_backward_f64(dt.g, c.g, c.B, c.C, c.HW);
    CHECK_FD("add_channel_bias dt", c.t, acc_delta(&dt), dt.n, bias_loss, &c);
}

typedef struct {
    int B, R, Cc;
    double *x, *g, *y;
} tr_ctx;

static double tr_loss(void *p)
{
    tr_ctx *c = p;
    transpose_forward_f64(c->y, c->x, c->B, c->R, c->Cc);
    return dot(c->y, c->g, (int64_t)c->B * c->R * c->Cc);
}

TEST(ops_fd_transpose)
{
    fd_begin(10);
    /* 33 × 34 crosses the 32-wide tiles in both directions */
    tr_ctx c = {.B = 2, .R = 33, .Cc = 34};
    int64_t n = (int64_t)c.B * c.R * c.Cc;
    c.x = buf_randn(n);
    c.g = buf_randn(n);
    c.y = buf_zero(n);
    tr_loss(&c);
    for (int b = 0; b < c.B; b++)
        for (int r = 0; r < c.R; r++)
            for (int k = 0; k < c.Cc; k++)
                CHECK(c.y[((size_t)b * c.Cc + k) * c.R + r] == c.x[((size_t)b * c.R + r) * c.Cc + k]);
    acc_buf dx = acc_make(n);
    transpose_backward_f64(dx.g, c.g, c.B, c.R, c.Cc);
    CHECK_FD("transpose dx", c.x, acc_delta(&dx), n, tr_loss, &c);
}

TEST(ops_elementwise_closed_form)
{
    fd_begin(11);
    enum { N = 37 };
    double *a = buf_randn(N), *b = buf_randn(N), *y = buf_zero(N), *z = buf_randn(N), *z0 = buf_zero(N);
    memcpy(z0, z, sizeof(double) * N);
    ops_add_f64(y, a, b, N);
    ops_accumulate_f64(z, a, N);
    for (int i = 0; i < N; i++) {
        CHECK(y[i] == a[i] + b[i]);
        CHECK(z[i] == z0[i] + a[i]);
    }
    ops_scale_f64(y, -0.5, N);
    for (int i = 0; i < N; i++)
        CHECK(y[i] == -0.5 * (a[i] + b[i]));
    ops_add_f64(a, a, b, N); /* aliasing output and input is allowed */
    for (int i = 0; i < N; i++)
        CHECK(a[i] == -2 * y[i]);
}

/* ---------------------------------------------------------------- timestep embedding */

TEST(ops_timestep_embedding_closed_form)
{
    enum { N = 3, DIM = 9, HALF = DIM / 2 };
    const double t[N] = {0, 1, 999};
    double out[N * DIM], flip[N * DIM];
    for (int shift = 0; shift < 2; shift++) {
        timestep_embedding_f64(out, t, N, DIM, 0, shift);
        timestep_embedding_f64(flip, t, N, DIM, 1, shift);
        for (int n = 0; n < N; n++) {
            const double *r = out + n * DIM, *f = flip + n * DIM;
            for (int j = 0; j < HALF; j++) {
                double arg = t[n] * exp(-log(10000.0) * j / (HALF - shift));
                CHECK(fabs(r[j] - sin(arg)) < 1e-12 && fabs(r[HALF + j] - cos(arg)) < 1e-12);
                CHECK(f[j] == r[HALF + j] && f[HALF + j] == r[j]); /* flip swaps the halves */
            }
            CHECK(r[DIM - 1] == 0 && f[DIM - 1] == 0); /* odd dim: zero pad */
        }
    }
    /* The float twin agrees at t = 0 and 1 (large t amplifies the float rounding of the frequency). */
    float tf[2] = {0, 1}, of[2 * DIM];
    timestep_embedding(of, tf, 2, DIM, 1, 1.0f);
    timestep_embedding_f64(out, t, 2, DIM, 1, 1.0);
    for (int i = 0; i < 2 * DIM; i++)
        CHECK(fabs(of[i] - out[i]) < 1e-6);
}
