/* test_ops_fast_paths.c — the fast kernel paths against independent references (the other
 * conv2d paths ride along against the same definition):
 *  - 3×3 stride-1 conv2d (Winograd F(2×2) and F(4×4), conv2d_winograd.c) against the
 *    convolution's definition, summed naively in double: the double kernels must agree to
 *    rounding (the transform algebra is exact), the float kernels within a tolerance scaled
 *    by the largest reference entry. Shapes cover both tile sizes, partial edge tiles,
 *    asymmetric and zero padding, several chunks with a short last one, blocks that split
 *    an image (tall and wide planes), and 1, 2 and 8 threads (the kernel's two schedules).
 *  - the batch split into chunks: a batch in one call equals the images one call at a time.
 *  - SiLU's vectorised sigmoid against the double formula over [−100, 100] and special values.
 *  - GroupNorm backward: dx alone equals dx of the call that also forms dgamma and dbeta.
 *  - ops_gemm's split of large products over threads against naive sums. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "test.h"

/* Float Winograd against the double definition, relative to the largest reference entry:
 * F(4×4) rounds about 3× worse than a direct float sum; at most 1.3e-6 observed here. */
#define WINO_TOL_F32 5e-6
/* Double kernels: only rounding separates them from the definition. */
#define WINO_TOL_F64 1e-12

/* ---------------------------------------------------------------- the definition */

static double ref_x(const double *x, const ops_conv_shape *s, int b, int c, int r, int q)
{
    if (r < 0 || r >= s->H || q < 0 || q >= s->W)
        return 0;
    return x[(((size_t)b * s->C + c) * s->H + r) * s->W + q];
}

/* y (B, O, Ho, Wo) = b + Σ_{c,kh,kw} x[b, c, ho·st − pt + kh, wo·st − pl + kw] · w[o, c, kh, kw] */
static void ref_conv_forward(double *y, const double *x, const double *w, const double *bias, const ops_conv_shape *s)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->O; o++)
            for (int ho = 0; ho < Ho; ho++)
                for (int wo = 0; wo < Wo; wo++) {
                    double t = bias[o];
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++)
                                t += ref_x(x, s, b, c, ho * s->stride - s->pad_t + kh, wo * s->stride - s->pad_l + kw) *
                                     w[(((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw];
                    y[(((size_t)b * s->O + o) * Ho + ho) * Wo + wo] = t;
                }
}

/* The adjoint of the above for dy: dx, dw, db are overwritten. */
static void ref_conv_backward(double *dx, double *dw, double *db, const double *dy, const double *x, const double *w,
                              const ops_conv_shape *s)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    memset(dx, 0, (size_t)s->B * s->C * s->H * s->W * sizeof *dx);
    memset(dw, 0, (size_t)s->O * s->C * s->KH * s->KW * sizeof *dw);
    memset(db, 0, (size_t)s->O * sizeof *db);
    for (int b = 0; b < s->B; b++)
        for (int o = 0; o < s->O; o++)
            for (int ho = 0; ho < Ho; ho++)
                for (int wo = 0; wo < Wo; wo++) {
                    double g = dy[(((size_t)b * s->O + o) * Ho + ho) * Wo + wo];
                    db[o] += g;
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int r = ho * s->stride - s->pad_t + kh, q = wo * s->stride - s->pad_l + kw;
                                if (r < 0 || r >= s->H || q < 0 || q >= s->W)
                                    continue;
                                size_t xi = (((size_t)b * s->C + c) * s->H + r) * s->W + q;
                                size_t wi = (((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                }
}

/* ---------------------------------------------------------------- helpers */

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* |got − want| ≤ tol · max|want| everywhere; reports the worst entry otherwise. */
static int close_f32(const char *what, const float *got, const double *want, size_t n, double tol)
{
    double lim = tol * max_abs(want, n), worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    if (worst <= lim)
        return 1;
    fprintf(stderr, "    %s[%zu]: got %.9g want %.9g (error %.3g, limit %.3g)\n", what, wi, got[wi], want[wi], worst,
            lim);
    return 0;
}

static int close_f64(const char *what, const double *got, const double *want, size_t n, double tol)
{
    double lim = tol * max_abs(want, n), worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    if (worst <= lim)
        return 1;
    fprintf(stderr, "    %s[%zu]: got %.17g want %.17g (error %.3g, limit %.3g)\n", what, wi, got[wi], want[wi], worst,
            lim);
    return 0;
}

/* Every buffer of one conv case, in both precisions; released by conv_bufs_free. */
typedef struct {
    ops_conv_shape s;
    size_t nx, nw, ny;
    double *x, *w, *b, *dy;          /* inputs */
    double *y, *dx, *dw, *db;        /* the definition's results */
    double *y64, *dx64, *dw64, *db64, *pre64, *scratch64;
    float *xf, *wf, *bf, *dyf, *yf, *dxf, *dwf, *dbf, *scratch;
} conv_bufs;

static void conv_bufs_free(conv_bufs *c)
{
    void *all[] = {c->x, c->w, c->b, c->dy, c->y, c->dx, c->dw, c->db, c->y64, c->dx64, c->dw64, c->db64, c->pre64,
                   c->scratch64, c->xf, c->wf, c->bf, c->dyf, c->yf, c->dxf, c->dwf, c->dbf, c->scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

static double *randn64(sara_rng *r, size_t n)
{
    double *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = rng_normal(r);
    return p;
}

static float *to_f32(const double *a, size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && a && i < n; i++)
        p[i] = (float)a[i];
    return p;
}

static int conv_bufs_make(conv_bufs *c, ops_conv_shape s, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->nx = (size_t)s.B * s.C * s.H * s.W;
    c->nw = (size_t)s.O * s.C * s.KH * s.KW;
    c->ny = (size_t)s.B * s.O * ops_conv_out_h(&s) * ops_conv_out_w(&s);
    size_t nmax = c->nx > c->nw ? c->nx : c->nw, ns = conv2d_scratch_numel(&s);
    sara_rng r;
    rng_seed(&r, seed);
    c->x = randn64(&r, c->nx), c->w = randn64(&r, c->nw), c->b = randn64(&r, (size_t)s.O), c->dy = randn64(&r, c->ny);
    c->pre64 = randn64(&r, nmax); /* what the += outputs hold before the kernel adds */
    c->y = malloc(c->ny * sizeof(double)), c->dx = malloc(c->nx * sizeof(double));
    c->dw = malloc(c->nw * sizeof(double)), c->db = malloc((size_t)s.O * sizeof(double));
    c->y64 = malloc(c->ny * sizeof(double)), c->dx64 = calloc(c->nx, sizeof(double));
    c->dw64 = calloc(c->nw, sizeof(double)), c->db64 = calloc((size_t)s.O, sizeof(double));
    c->scratch64 = malloc(ns * sizeof(double)), c->scratch = malloc(ns * sizeof(float));
    c->xf = to_f32(c->x, c->nx), c->wf = to_f32(c->w, c->nw), c->bf = to_f32(c->b, (size_t)s.O);
    c->dyf = to_f32(c->dy, c->ny), c->yf = malloc(c->ny * sizeof(float)), c->dxf = calloc(c->nx, sizeof(float));
    c->dwf = calloc(c->nw, sizeof(float)), c->dbf = calloc((size_t)s.O, sizeof(float));
    return c->x && c->w && c->b && c->dy && c->pre64 && c->y && c->dx && c->dw && c->db && c->y64 && c->dx64 &&
           c->dw64 && c->db64 && c->scratch64 && c->scratch && c->xf && c->wf && c->bf && c->dyf && c->yf &&
           c->dxf && c->dwf && c->dbf;
}

/* One shape: both precisions against the definition. The double gradients start from random
 * values (subtracted afterwards), so accumulation (+=) is checked too. */
static int conv_exact_case(const char *name, ops_conv_shape s, uint64_t seed)
{
    conv_bufs c;
    int ok = conv_bufs_make(&c, s, seed);
    if (ok) {
        ref_conv_forward(c.y, c.x, c.w, c.b, &s);
        ref_conv_backward(c.dx, c.dw, c.db, c.dy, c.x, c.w, &s);

        conv2d_forward_f64(c.y64, c.x, c.w, c.b, &s, c.scratch64);
        memcpy(c.dx64, c.pre64, c.nx * sizeof(double));
        memcpy(c.dw64, c.pre64, c.nw * sizeof(double));
        ops_sink_f64 sw64 = {.kind = OPS_SINK_DENSE, .dense = c.dw64}, sb64 = {.kind = OPS_SINK_DENSE, .dense = c.db64};
        conv2d_backward_f64(c.dx64, &sw64, &sb64, c.dy, c.x, c.w, &s, c.scratch64);
        for (size_t i = 0; i < c.nx; i++)
            c.dx64[i] -= c.pre64[i];
        for (size_t i = 0; i < c.nw; i++)
            c.dw64[i] -= c.pre64[i];

        conv2d_forward(c.yf, c.xf, c.wf, c.bf, &s, c.scratch);
        ops_sink swf = {.kind = OPS_SINK_DENSE, .dense = c.dwf}, sbf = {.kind = OPS_SINK_DENSE, .dense = c.dbf};
        conv2d_backward(c.dxf, &swf, &sbf, c.dyf, c.xf, c.wf, &s, c.scratch);

        char what[128];
        const char *parts[4] = {"y", "dx", "dw", "db"};
        const double *want[4] = {c.y, c.dx, c.dw, c.db}, *got64[4] = {c.y64, c.dx64, c.dw64, c.db64};
        const float *got32[4] = {c.yf, c.dxf, c.dwf, c.dbf};
        size_t n[4] = {c.ny, c.nx, c.nw, (size_t)s.O};
        for (int k = 0; k < 4 && ok; k++) {
            snprintf(what, sizeof what, "%s %s (double)", name, parts[k]);
            ok = close_f64(what, got64[k], want[k], n[k], WINO_TOL_F64);
            snprintf(what, sizeof what, "%s %s (float)", name, parts[k]);
            ok = ok && close_f32(what, got32[k], want[k], n[k], WINO_TOL_F32);
        }
    }
    conv_bufs_free(&c);
    return ok;
}

/* ---------------------------------------------------------------- tests */

/* Thread counts to run each shape with: one thread; each thread running whole chunks; more
 * threads than the kernel has chunk buffers (threads then share each phase of a chunk). */
static const int wino_threads[] = {1, 2, 8};

static int conv_exact_all_threads(const char *name, ops_conv_shape s, uint64_t seed)
{
    int keep = omp_get_max_threads(), ok = 1;
    for (size_t i = 0; i < sizeof wino_threads / sizeof wino_threads[0] && ok; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s, %d threads", name, wino_threads[i]);
        omp_set_num_threads(wino_threads[i]);
        ok = conv_exact_case(what, s, seed);
    }
    omp_set_num_threads(keep);
    return ok;
}

TEST(ops_winograd_conv_matches_definition)
{
    /* B, C, H, W, O, KH, KW, stride, pad_t, pad_l, pad_b, pad_r; the tile size each gets
     * follows from the output plane (conv2d_winograd.c, wino_kind_for). */
    CHECK(conv_exact_all_threads("8x8 pad 1 (4x4 tiles)", (ops_conv_shape){3, 5, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1}, 31));
    CHECK(conv_exact_all_threads("11x13 partial 4x4 tiles", (ops_conv_shape){2, 3, 11, 13, 4, 3, 3, 1, 1, 1, 1, 1}, 32));
    CHECK(conv_exact_all_threads("6x6 (2x2 tiles)", (ops_conv_shape){2, 3, 6, 6, 5, 3, 3, 1, 1, 1, 1, 1}, 33));
    CHECK(conv_exact_all_threads("2x2 (2x2 tiles)", (ops_conv_shape){2, 2, 2, 2, 3, 3, 3, 1, 1, 1, 1, 1}, 34));
    CHECK(conv_exact_all_threads("3x1 partial 2x2 tile", (ops_conv_shape){2, 2, 3, 1, 3, 3, 3, 1, 1, 1, 1, 1}, 35));
    CHECK(conv_exact_all_threads("asymmetric pad (0,1,2,0)", (ops_conv_shape){2, 4, 7, 9, 3, 3, 3, 1, 0, 1, 2, 0}, 36));
    CHECK(conv_exact_all_threads("no padding", (ops_conv_shape){2, 3, 10, 10, 2, 3, 3, 1, 0, 0, 0, 0}, 37));
    CHECK(conv_exact_all_threads("padding 2", (ops_conv_shape){1, 2, 5, 6, 2, 3, 3, 1, 2, 2, 2, 2}, 38));
    CHECK(conv_exact_all_threads("chunks of 16x16", (ops_conv_shape){7, 2, 16, 16, 3, 3, 3, 1, 1, 1, 1, 1}, 39));
    CHECK(conv_exact_all_threads("chunks of 6x6", (ops_conv_shape){15, 2, 6, 6, 2, 3, 3, 1, 1, 1, 1, 1}, 40));
    CHECK(conv_exact_all_threads("tall plane, blocks of tile rows", (ops_conv_shape){2, 2, 44, 40, 2, 3, 3, 1, 1, 1, 1, 1},
                                 41));
    /* the other paths of conv2d, against the same definition */
    CHECK(conv_exact_all_threads("1x1 (products per image)", (ops_conv_shape){3, 5, 6, 7, 4, 1, 1, 1, 0, 0, 0, 0}, 45));
    CHECK(conv_exact_all_threads("3x3 stride 2 (columns)", (ops_conv_shape){2, 3, 9, 8, 4, 3, 3, 2, 1, 1, 1, 1}, 46));
    CHECK(conv_exact_all_threads("wide plane, strips of a tile row", (ops_conv_shape){1, 2, 6, 261, 2, 3, 3, 1, 1, 1, 1, 1},
                                 42));
}

/* The batch goes through the kernel in chunks of whole images: one call over the batch must
 * give what one call per image gives (forward and dx: the same per-tile sums; dw and db: the
 * same terms, summed in another order). */
TEST(ops_winograd_batch_equals_images_one_by_one)
{
    ops_conv_shape s = {7, 3, 16, 16, 4, 3, 3, 1, 1, 1, 1, 1}, s1 = s;
    s1.B = 1;
    conv_bufs c;
    int ok = conv_bufs_make(&c, s, 43);
    float *y1 = malloc(c.ny * sizeof(float)), *dx1 = calloc(c.nx, sizeof(float));
    float *dw1 = calloc(c.nw, sizeof(float)), *db1 = calloc((size_t)s.O, sizeof(float));
    double *dw1d = malloc(c.nw * sizeof(double));
    ok = ok && y1 && dx1 && dw1 && db1 && dw1d;
    if (ok) {
        ops_sink sw = {.kind = OPS_SINK_DENSE, .dense = c.dwf}, sb = {.kind = OPS_SINK_DENSE, .dense = c.dbf};
        conv2d_forward(c.yf, c.xf, c.wf, c.bf, &s, c.scratch);
        conv2d_backward(c.dxf, &sw, &sb, c.dyf, c.xf, c.wf, &s, c.scratch);
        size_t ix = c.nx / s.B, iy = c.ny / s.B;
        ops_sink sw1 = {.kind = OPS_SINK_DENSE, .dense = dw1}, sb1 = {.kind = OPS_SINK_DENSE, .dense = db1};
        for (int b = 0; b < s.B; b++) {
            conv2d_forward(y1 + b * iy, c.xf + b * ix, c.wf, c.bf, &s1, c.scratch);
            conv2d_backward(dx1 + b * ix, &sw1, &sb1, c.dyf + b * iy, c.xf + b * ix, c.wf, &s1, c.scratch);
        }
        for (size_t i = 0; i < c.nw; i++)
            dw1d[i] = dw1[i];
        ok = !memcmp(y1, c.yf, c.ny * sizeof(float)) && !memcmp(dx1, c.dxf, c.nx * sizeof(float));
        CHECK_MSG(ok, "forward or dx differs between one call and per-image calls");
        ok = close_f32("dw, one call vs per image", c.dwf, dw1d, c.nw, WINO_TOL_F32);
    }
    free(y1), free(dx1), free(dw1), free(db1), free(dw1d);
    conv_bufs_free(&c);
    CHECK(ok);
}

/* σ is computed from a polynomial e^x with bit-level selects (ops_internal.h): SiLU against
 * the double formula, relative (with a floor far below float's range, where σ is cut to 0),
 * and its derivative, which is O(1) and crosses zero near x = −1.28, to float rounding. */
TEST(ops_silu_vectorised_matches_double)
{
    enum { N = 400001, SPECIAL = 10 };
    float *x = malloc((N + SPECIAL) * sizeof(float)), *y = malloc((N + SPECIAL) * sizeof(float));
    float *dy = malloc((N + SPECIAL) * sizeof(float)), *dx = calloc(N + SPECIAL, sizeof(float));
    CHECK(x && y && dy && dx);
    for (int i = 0; i < N; i++)
        x[i] = (float)(-100.0 + 200.0 * i / (N - 1));
    const float special[SPECIAL] = {0.0f, -0.0f, 87.0f, -87.0f, 88.5f, -88.5f, 1e30f, -1e30f, 1e-30f, -1e-30f};
    memcpy(x + N, special, sizeof special);
    for (int i = 0; i < N + SPECIAL; i++)
        dy[i] = 1.0f;
    silu_forward(y, x, N + SPECIAL);
    silu_backward(dx, dy, x, N + SPECIAL);
    int ok = 1;
    for (int i = 0; i < N + SPECIAL && ok; i++) {
        double v = x[i], s = 1 / (1 + exp(-v)), want_y = v * s, want_d = s * (1 + v * (1 - s));
        double ey = fabs(y[i] - want_y), ed = fabs(dx[i] - want_d);
        if (!(ey <= 1e-6 * fabs(want_y) + 1e-30) || !(ed <= 1e-6 * fabs(want_d) + 1e-7)) {
            fprintf(stderr, "    silu(%.9g) = %.9g (want %.9g), silu'(x) = %.9g (want %.9g)\n", x[i], y[i], want_y,
                    dx[i], want_d);
            ok = 0;
        }
    }
    float nan_in = NAN, nan_out = 0;
    silu_forward(&nan_out, &nan_in, 1);
    free(x), free(y), free(dy), free(dx);
    CHECK(ok);
    CHECK_MSG(isnan(nan_out), "silu(NaN) = %g", nan_out);
}

/* groupnorm_backward forms the per-channel sums once when several outputs need them; dx
 * alone must come out the same, bit for bit. */
TEST(ops_groupnorm_dx_alone_equals_dx_with_params)
{
    enum { B = 3, C = 8, HW = 37, G = 4, N = B * C * HW };
    sara_rng r;
    rng_seed(&r, 44);
    float x[N], dy[N], y[N], gamma[C], mean[B * G], rstd[B * G], dg[C] = {0}, db[C] = {0};
    float dx_all[N] = {0}, dx_alone[N] = {0};
    rng_fill_normal(&r, x, N);
    rng_fill_normal(&r, dy, N);
    rng_fill_normal(&r, gamma, C);
    groupnorm_forward(y, mean, rstd, x, gamma, NULL, B, C, HW, G, 1e-5f);
    ops_sink sg = {.kind = OPS_SINK_DENSE, .dense = dg}, sb = {.kind = OPS_SINK_DENSE, .dense = db};
    groupnorm_backward(dx_all, &sg, &sb, dy, x, mean, rstd, gamma, B, C, HW, G);
    groupnorm_backward(dx_alone, NULL, NULL, dy, x, mean, rstd, gamma, B, C, HW, G);
    CHECK(!memcmp(dx_all, dx_alone, sizeof dx_all));
}

/* ops_gemm splits large products into row or column blocks, one per thread (gemm.c): every
 * transpose combination, both split directions and a ragged last block, against naive sums. */
TEST(ops_gemm_split_matches_naive)
{
    /* M, N, K: above the split threshold (4e6 flops); N ≥ M splits columns, else rows */
    const int shapes[3][3] = {{37, 301, 211}, {301, 37, 211}, {64, 256, 130}};
    sara_rng r;
    rng_seed(&r, 47);
    int keep = omp_get_max_threads(), ok = 1;
    omp_set_num_threads(3); /* three blocks: the last one ragged for these sizes */
    for (int sh = 0; sh < 3 && ok; sh++)
        for (int t = 0; t < 4 && ok; t++) {
            int M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2], ta = t & 1, tb = t >> 1;
            int lda = ta ? M : K, ldb = tb ? K : N;
            double *A = randn64(&r, (size_t)M * K), *B = randn64(&r, (size_t)K * N), *C = randn64(&r, (size_t)M * N);
            double *want = malloc((size_t)M * N * sizeof *want);
            ok = A && B && C && want;
            for (int i = 0; ok && i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    want[i * N + j] = 0.5 * s - 2 * C[i * N + j];
                }
            if (ok) {
                ops_gemm_f64(ta, tb, M, N, K, 0.5, A, lda, B, ldb, -2, C, N);
                char what[64];
                snprintf(what, sizeof what, "gemm %dx%dx%d ta=%d tb=%d", M, N, K, ta, tb);
                ok = close_f64(what, C, want, (size_t)M * N, WINO_TOL_F64);
            }
            free(A), free(B), free(C), free(want);
        }
    omp_set_num_threads(keep);
    CHECK(ok);
}

/* ops_zero zeroes exactly [0, n), threaded above its split size, and leaves the neighbours. */
TEST(ops_zero_clears_exactly_the_range)
{
    enum { N = 200003 };
    static float buf[N + 2];
    int ok = 1;
    for (int t = 1; t <= 2 && ok; t++) {
        int saved = omp_get_max_threads();
        omp_set_num_threads(t);
        for (int i = 0; i < N + 2; i++)
            buf[i] = 1.5f;
        ops_zero(buf + 1, N);
        ops_zero(buf + 1, 0);
        omp_set_num_threads(saved);
        ok = buf[0] == 1.5f && buf[N + 1] == 1.5f;
        for (int i = 1; i <= N && ok; i++)
            ok = buf[i] == 0.0f;
    }
    CHECK(ok);
}

/* Wall seconds spent spinning for at least `sec`. */
static void prof_spin(double sec)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec) < sec);
}

static void prof_inner(void)
{
    OPS_PROF_SCOPE(OPS_PROF_SPARSE_DW);
    prof_spin(0.1);
}

static void prof_outer(void)
{
    OPS_PROF_SCOPE(OPS_PROF_LINEAR);
    prof_spin(0.01);
    prof_inner();
}

/* The op profile charges a scope its own time, inner scopes excluded, counts closed scopes, and
 * counts nothing while disabled. */
TEST(ops_profile_charges_nested_scopes_their_own_time)
{
    ops_prof_enable(0);
    ops_prof_reset();
    prof_outer();
    long calls = -1;
    CHECK(ops_prof_seconds(OPS_PROF_LINEAR, &calls) == 0 && calls == 0);
    ops_prof_enable(1);
    prof_outer();
    ops_prof_enable(0);
    double outer = ops_prof_seconds(OPS_PROF_LINEAR, &calls), inner = ops_prof_seconds(OPS_PROF_SPARSE_DW, NULL);
    CHECK(calls == 1);
    CHECK(outer >= 0.01 && outer < 0.1); /* its own 10 ms; with the inner 100 it would be ≥ 0.11 */
    CHECK(inner >= 0.1);
    ops_prof_reset();
    CHECK(ops_prof_seconds(OPS_PROF_SPARSE_DW, NULL) == 0);
}
