/* test_ops_sparse.c — a sparse parameter sink must deliver exactly the gather of the dense
 * gradient: for a random sorted index subset (always holding the first and last element),
 * values[k] after backward == dense[index[k]] after backward, both starting from the same
 * non-zero contents (so += is checked too). Float kernels, the engine's precision; the sparse
 * paths sum in a different order than BLAS, hence a small tolerance rather than bit equality.
 * Also: backward is bit-identical when repeated (fixed thread count). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "ops/ops.h"
#include "test.h"

/* Float sums of a few hundred O(1) products in two different orders. */
#define SPARSE_ATOL 1e-5
#define SPARSE_RTOL 1e-5
/* Fraction of entries selected: large enough to span several 256-entry blocks in linear. */
#define SPARSE_KEEP 0.3

/* Everything one parameter's sink comparison needs; sp_free releases it. */
typedef struct {
    int64_t numel, nnz;
    float *dense;    /* (numel) the dense sink */
    int64_t *index;  /* (nnz) */
    float *values;   /* (nnz) the sparse sink */
    float *gathered; /* (nnz) dense[index] after backward */
} sp_param;

static void sp_free(sp_param *p)
{
    free(p->dense);
    free(p->index);
    free(p->values);
    free(p->gathered);
    memset(p, 0, sizeof *p);
}

/* Random dense start, random sorted subset holding 0 and numel−1, values = dense[index]. */
static int sp_make(sp_param *p, int64_t numel, sara_rng *r)
{
    memset(p, 0, sizeof *p);
    p->numel = numel;
    p->dense = malloc((size_t)numel * sizeof(float));
    p->index = malloc((size_t)numel * sizeof(int64_t));
    p->values = malloc((size_t)numel * sizeof(float));
    p->gathered = malloc((size_t)numel * sizeof(float));
    if (!p->dense || !p->index || !p->values || !p->gathered)
        return 0;
    rng_fill_normal(r, p->dense, numel);
    for (int64_t e = 0; e < numel; e++)
        if (e == 0 || e == numel - 1 || rng_uniform(r) < SPARSE_KEEP)
            p->index[p->nnz++] = e;
    for (int64_t k = 0; k < p->nnz; k++)
        p->values[k] = p->dense[p->index[k]];
    return 1;
}

static ops_sink sp_dense_sink(sp_param *p)
{
    return (ops_sink){.kind = OPS_SINK_DENSE, .dense = p->dense};
}

static ops_sink sp_sparse_sink(sp_param *p)
{
    return (ops_sink){.kind = OPS_SINK_SPARSE, .index = p->index, .values = p->values, .nnz = p->nnz};
}

static int sp_compare(const char *what, sp_param *p)
{
    for (int64_t k = 0; k < p->nnz; k++)
        p->gathered[k] = p->dense[p->index[k]];
    return test_allclose_f32(what, p->values, p->gathered, (size_t)p->nnz, SPARSE_ATOL, SPARSE_RTOL);
}

static float *randn_f32(sara_rng *r, int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (p)
        rng_fill_normal(r, p, n);
    return p;
}

TEST(ops_sparse_sink_linear)
{
    sara_rng r;
    rng_seed(&r, 21);
    enum { N = 7, IN = 300, O = 5 };
    float *x = randn_f32(&r, N * IN), *w = randn_f32(&r, O * IN), *dy = randn_f32(&r, N * O);
    sp_param pw = {0}, pb = {0};
    int ok = x && w && dy && sp_make(&pw, O * IN, &r) && sp_make(&pb, O, &r);
    if (ok) {
        ops_sink dw = sp_dense_sink(&pw), db = sp_dense_sink(&pb);
        linear_backward(NULL, &dw, &db, dy, x, w, N, IN, O);
        dw = sp_sparse_sink(&pw);
        db = sp_sparse_sink(&pb);
        linear_backward(NULL, &dw, &db, dy, x, w, N, IN, O);
        ok = sp_compare("linear dw sparse", &pw) && sp_compare("linear db sparse", &pb);
    }
    free(x), free(w), free(dy);
    sp_free(&pw), sp_free(&pb);
    CHECK(ok);
}

/* One conv shape: weight and bias sinks, sparse against dense. */
static int conv_sparse_case(const char *name, ops_conv_shape s, uint64_t seed)
{
    sara_rng r;
    rng_seed(&r, seed);
    int64_t nx = (int64_t)s.B * s.C * s.H * s.W, nw = (int64_t)s.O * s.C * s.KH * s.KW;
    int64_t ny = (int64_t)s.B * s.O * ops_conv_out_h(&s) * ops_conv_out_w(&s);
    float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
    float *scratch = malloc(conv2d_scratch_numel(&s) * sizeof(float));
    sp_param pw = {0}, pb = {0};
    int ok = x && w && dy && scratch && sp_make(&pw, nw, &r) && sp_make(&pb, s.O, &r);
    if (ok) {
        ops_sink dw = sp_dense_sink(&pw), db = sp_dense_sink(&pb);
        conv2d_backward(NULL, &dw, &db, dy, x, w, &s, scratch);
        dw = sp_sparse_sink(&pw);
        db = sp_sparse_sink(&pb);
        conv2d_backward(NULL, &dw, &db, dy, x, w, &s, scratch);
        char what[96];
        snprintf(what, sizeof what, "%s dw sparse", name);
        ok = sp_compare(what, &pw);
        snprintf(what, sizeof what, "%s db sparse", name);
        ok = ok && sp_compare(what, &pb);
    }
    free(x), free(w), free(dy), free(scratch);
    sp_free(&pw), sp_free(&pb);
    return ok;
}

TEST(ops_sparse_sink_conv2d)
{
    /* B, C, H, W, O, KH, KW, stride, pad_t, pad_l, pad_b, pad_r */
    CHECK(conv_sparse_case("conv 3x3 s2 pad(0,1,1,0)", (ops_conv_shape){2, 4, 7, 7, 5, 3, 3, 2, 0, 1, 1, 0}, 22));
    CHECK(conv_sparse_case("conv 3x3 s1 pad(1,1,1,1)", (ops_conv_shape){2, 6, 6, 5, 8, 3, 3, 1, 1, 1, 1, 1}, 23));
    CHECK(conv_sparse_case("conv 1x1 pointwise", (ops_conv_shape){2, 6, 5, 5, 4, 1, 1, 1, 0, 0, 0, 0}, 24));
}

TEST(ops_sparse_sink_groupnorm)
{
    sara_rng r;
    rng_seed(&r, 25);
    enum { B = 2, C = 6, HW = 9, G = 3, N = B * C * HW };
    float *x = randn_f32(&r, N), *gamma = randn_f32(&r, C), *beta = randn_f32(&r, C), *dy = randn_f32(&r, N);
    float y[N], mean[B * G], rstd[B * G];
    sp_param pg = {0}, pb = {0};
    int ok = x && gamma && beta && dy && sp_make(&pg, C, &r) && sp_make(&pb, C, &r);
    if (ok) {
        groupnorm_forward(y, mean, rstd, x, gamma, beta, B, C, HW, G, 1e-5f);
        ops_sink dg = sp_dense_sink(&pg), db = sp_dense_sink(&pb);
        groupnorm_backward(NULL, &dg, &db, dy, x, mean, rstd, gamma, B, C, HW, G);
        dg = sp_sparse_sink(&pg);
        db = sp_sparse_sink(&pb);
        groupnorm_backward(NULL, &dg, &db, dy, x, mean, rstd, gamma, B, C, HW, G);
        ok = sp_compare("groupnorm dgamma sparse", &pg) && sp_compare("groupnorm dbeta sparse", &pb);
    }
    free(x), free(gamma), free(beta), free(dy);
    sp_free(&pg), sp_free(&pb);
    CHECK(ok);
}

TEST(ops_sparse_sink_embedding)
{
    sara_rng r;
    rng_seed(&r, 26);
    enum { N = 6, V = 7, D = 4 };
    static const int64_t ids[N] = {6, 2, 0, 2, 6, 2}; /* repeats, first and last rows, unused rows */
    float *dy = randn_f32(&r, N * D);
    sp_param pt = {0};
    int ok = dy && sp_make(&pt, V * D, &r);
    if (ok) {
        ops_sink dt = sp_dense_sink(&pt);
        embedding_backward(&dt, dy, ids, N, V, D);
        dt = sp_sparse_sink(&pt);
        embedding_backward(&dt, dy, ids, N, V, D);
        ok = sp_compare("embedding dtable sparse", &pt);
    }
    free(dy);
    sp_free(&pt);
    CHECK(ok);
}

TEST(ops_sink_add_dense_and_none)
{
    sara_rng r;
    rng_seed(&r, 27);
    enum { N = 50 };
    float g[N];
    rng_fill_normal(&r, g, N);
    sp_param p = {0};
    int ok = sp_make(&p, N, &r);
    if (ok) {
        ops_sink none = {.kind = OPS_SINK_NONE}, d = sp_dense_sink(&p), s = sp_sparse_sink(&p);
        ops_sink_add_dense(&none, g, N); /* touches nothing */
        ops_sink_add_dense(NULL, g, N);
        ops_sink_add_dense(&d, g, N);
        ops_sink_add_dense(&s, g, N);
        ok = sp_compare("sink_add_dense", &p);
    }
    sp_free(&p);
    CHECK(ok);
}

/* Same inputs, same thread count: bit-identical gradients (the determinism contract). */
TEST(ops_backward_is_deterministic)
{
    sara_rng r;
    rng_seed(&r, 28);
    ops_conv_shape s = {2, 8, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1};
    int64_t nx = (int64_t)s.B * s.C * s.H * s.W, nw = (int64_t)s.O * s.C * 9, ny = (int64_t)s.B * s.O * 81;
    float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
    float *scratch = malloc(conv2d_scratch_numel(&s) * sizeof(float));
    float *dx[2] = {calloc((size_t)nx, sizeof(float)), calloc((size_t)nx, sizeof(float))};
    float *dw[2] = {calloc((size_t)nw, sizeof(float)), calloc((size_t)nw, sizeof(float))};
    float db[2][6] = {{0}};
    int ok = x && w && dy && scratch && dx[0] && dx[1] && dw[0] && dw[1];
    for (int run = 0; ok && run < 2; run++) {
        ops_sink sw = {.kind = OPS_SINK_DENSE, .dense = dw[run]}, sb = {.kind = OPS_SINK_DENSE, .dense = db[run]};
        conv2d_backward(dx[run], &sw, &sb, dy, x, w, &s, scratch);
    }
    if (ok)
        ok = !memcmp(dx[0], dx[1], (size_t)nx * sizeof(float)) && !memcmp(dw[0], dw[1], (size_t)nw * sizeof(float)) &&
             !memcmp(db[0], db[1], sizeof db[0]);
    free(x), free(w), free(dy), free(scratch), free(dx[0]), free(dx[1]), free(dw[0]), free(dw[1]);
    CHECK(ok);
}

/* ---- the two sparse weight-gradient paths (sampled dots, dense row-block tiles) ----
 * Each forced in turn and under the automatic choice, at a density on each side of the
 * crossovers (CONV_TILE_DENSITY_* 0.2–0.55, LINEAR_TILE_DENSITY 0.03): the packed gradient must be
 * the gather of the dense gradient, computed in double (tolerance below), and the two paths
 * must agree with each other to the same tolerance. */

#include <omp.h>

static const double PATH_DENSITIES[] = {0.01, 0.6};
/* A float sum of n unit-scale products, taken in another order, differs by up to about
 * eps·n (the partial sums grow to ~√n, each rounding is ~eps·√n, ~√n of them matter):
 * absolute tolerance max(SPARSE_ATOL, PATH_ATOL_PER_TERM · n), relative SPARSE_RTOL. */
#define PATH_ATOL_PER_TERM 4e-8
/* Winograd's row-block tiles (3×3 stride 1, tile path) carry Winograd's float error: within
 * this fraction of the largest reference entry, as test_ops_fast_paths.c bounds the dense one. */
#define PATH_WINO_TOL 5e-6
static const int PATHS[] = {OPS_SPARSE_DW_SAMPLED, OPS_SPARSE_DW_TILE, OPS_SPARSE_DW_AUTO};
static const char *const PATH_NAMES[] = {"sampled", "tile", "auto"};

/* A sorted subset at density d holding the first and last entry; values zeroed. */
static int64_t path_subset(int64_t *index, int64_t numel, double d, sara_rng *r)
{
    int64_t nnz = 0;
    for (int64_t e = 0; e < numel; e++)
        if (e == 0 || e == numel - 1 || rng_uniform(r) < d)
            index[nnz++] = e;
    return nnz;
}

/* dense (nw) = the dense weight gradient, computed by the double kernels from float inputs. */
static int path_dense_f64(float *dense, const float *x, const float *w, const float *dy, int64_t nx, int64_t nw,
                          int64_t ny, const ops_conv_shape *s, int N, int In, int O)
{
    double *xd = malloc((size_t)nx * sizeof(double)), *wd = malloc((size_t)nw * sizeof(double));
    double *dyd = malloc((size_t)ny * sizeof(double)), *dd = calloc((size_t)nw, sizeof(double));
    double *scratch = s ? malloc(conv2d_scratch_numel(s) * sizeof(double)) : NULL;
    int ok = xd && wd && dyd && dd && (!s || scratch);
    if (ok) {
        for (int64_t i = 0; i < nx; i++)
            xd[i] = x[i];
        for (int64_t i = 0; i < nw; i++)
            wd[i] = w[i];
        for (int64_t i = 0; i < ny; i++)
            dyd[i] = dy[i];
        ops_sink_f64 d = {.kind = OPS_SINK_DENSE, .dense = dd};
        if (s)
            conv2d_backward_f64(NULL, &d, NULL, dyd, xd, wd, s, scratch);
        else
            linear_backward_f64(NULL, &d, NULL, dyd, xd, wd, N, In, O);
        for (int64_t i = 0; i < nw; i++)
            dense[i] = (float)dd[i];
    }
    free(xd), free(wd), free(dyd), free(dd), free(scratch);
    return ok;
}

/* One layer (conv when s is non-NULL, else linear N, In, O): dense gradient, then each path. */
static int path_case(const char *name, const ops_conv_shape *s, int N, int In, int O, uint64_t seed)
{
    sara_rng r;
    rng_seed(&r, seed);
    int64_t nx, ny, nw;
    if (s) {
        nx = (int64_t)s->B * s->C * s->H * s->W;
        ny = (int64_t)s->B * s->O * ops_conv_out_h(s) * ops_conv_out_w(s);
        nw = (int64_t)s->O * s->C * s->KH * s->KW;
    } else {
        nx = (int64_t)N * In, ny = (int64_t)N * O, nw = (int64_t)O * In;
    }
    double terms = s ? (double)s->B * ops_conv_out_h(s) * ops_conv_out_w(s) : N; /* products per entry */
    double atol = PATH_ATOL_PER_TERM * terms > SPARSE_ATOL ? PATH_ATOL_PER_TERM * terms : SPARSE_ATOL;
    float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
    float *dense = calloc((size_t)nw, sizeof(float)), *gathered = malloc((size_t)nw * sizeof(float));
    float *vals[3] = {malloc((size_t)nw * sizeof(float)), malloc((size_t)nw * sizeof(float)),
                      malloc((size_t)nw * sizeof(float))};
    int64_t *index = malloc((size_t)nw * sizeof(int64_t));
    float *scratch = s ? malloc(conv2d_scratch_numel(s) * sizeof(float)) : NULL;
    int ok = x && w && dy && dense && gathered && vals[0] && vals[1] && vals[2] && index && (!s || scratch);
    if (ok) /* the dense reference in double: free of Winograd's float error */
        ok = path_dense_f64(dense, x, w, dy, nx, nw, ny, s, N, In, O);
    double wino_atol = 0;
    for (int64_t i = 0; ok && s && s->KH == 3 && s->KW == 3 && s->stride == 1 && i < nw; i++)
        wino_atol = fmax(wino_atol, PATH_WINO_TOL * fabs(dense[i]));
    for (size_t di = 0; ok && di < sizeof PATH_DENSITIES / sizeof PATH_DENSITIES[0]; di++) {
        int64_t nnz = path_subset(index, nw, PATH_DENSITIES[di], &r);
        for (int64_t k = 0; k < nnz; k++)
            gathered[k] = dense[index[k]];
        for (int p = 0; ok && p < 3; p++) {
            memset(vals[p], 0, (size_t)nnz * sizeof(float));
            ops_sink sp = {.kind = OPS_SINK_SPARSE, .index = index, .values = vals[p], .nnz = nnz};
            ops_sparse_dw_path_set(PATHS[p]);
            if (s)
                conv2d_backward(NULL, &sp, NULL, dy, x, w, s, scratch);
            else
                linear_backward(NULL, &sp, NULL, dy, x, w, N, In, O);
            char what[128];
            snprintf(what, sizeof what, "%s, density %.2f, %s path vs dense", name, PATH_DENSITIES[di], PATH_NAMES[p]);
            double tol = PATHS[p] == OPS_SPARSE_DW_SAMPLED ? atol : fmax(atol, wino_atol);
            ok = test_allclose_f32(what, vals[p], gathered, (size_t)nnz, tol, SPARSE_RTOL);
        }
        ops_sparse_dw_path_set(OPS_SPARSE_DW_AUTO);
        char what[128];
        snprintf(what, sizeof what, "%s, density %.2f, tile vs sampled", name, PATH_DENSITIES[di]);
        ok = ok && test_allclose_f32(what, vals[1], vals[0], (size_t)nnz, fmax(atol, wino_atol), SPARSE_RTOL);
    }
    ops_sparse_dw_path_set(OPS_SPARSE_DW_AUTO);
    free(x), free(w), free(dy), free(dense), free(gathered), free(vals[0]), free(vals[1]), free(vals[2]);
    free(index), free(scratch);
    return ok;
}

TEST(ops_sparse_dw_paths_conv2d)
{
    /* B, C, H, W, O, KH, KW, stride, pad_t, pad_l, pad_b, pad_r */
    CHECK(path_case("conv 3x3 s1 pad 1", &(ops_conv_shape){3, 6, 9, 7, 8, 3, 3, 1, 1, 1, 1, 1}, 0, 0, 0, 31));
    /* several chunks of images (phase planes of 48×48×8 fill CSP_CHUNK_FLOATS in 3 images) */
    CHECK(path_case("conv 3x3 s1 multi-chunk", &(ops_conv_shape){4, 8, 48, 48, 5, 3, 3, 1, 1, 1, 1, 1}, 0, 0, 0, 32));
    CHECK(path_case("conv 3x3 s2 pad(0,1,1,0)", &(ops_conv_shape){2, 4, 9, 8, 5, 3, 3, 2, 0, 1, 1, 0}, 0, 0, 0, 33));
    CHECK(path_case("conv 3x3 s2 pad 1", &(ops_conv_shape){2, 5, 10, 10, 7, 3, 3, 2, 1, 1, 1, 1}, 0, 0, 0, 34));
    CHECK(path_case("conv 1x1 pointwise", &(ops_conv_shape){3, 12, 5, 6, 9, 1, 1, 1, 0, 0, 0, 0}, 0, 0, 0, 35));
    CHECK(path_case("conv 1x1 s2", &(ops_conv_shape){2, 4, 7, 7, 3, 1, 1, 2, 0, 0, 0, 0}, 0, 0, 0, 36));
    /* many row blocks: a tile of 9·64 columns holds 56 rows at most */
    CHECK(path_case("conv 3x3 s1 C=64 O=130", &(ops_conv_shape){1, 64, 4, 4, 130, 3, 3, 1, 1, 1, 1, 1}, 0, 0, 0, 37));
}

TEST(ops_sparse_dw_paths_linear)
{
    CHECK(path_case("linear 300->5", NULL, 7, 300, 5, 41));
    /* attention projection: (B·T, heads·D) → (B·T, heads·D) */
    CHECK(path_case("attention projection 64->64", NULL, 2 * 16, 64, 64, 42));
    /* rows wider than a tile budget's share: one row per tile */
    CHECK(path_case("linear 9000->3", NULL, 3, 9000, 3, 43));
}

/* The tile path never forms a whole tensor's dW: its largest tile is at most half of the
 * tensor (and within the tile budget), and it is formed at all (the path ran). */
TEST(ops_sparse_dw_tile_is_bounded)
{
    sara_rng r;
    rng_seed(&r, 44);
    ops_conv_shape s = {2, 64, 6, 6, 96, 3, 3, 1, 1, 1, 1, 1};
    int64_t nx = (int64_t)s.B * s.C * 36, nw = (int64_t)s.O * s.C * 9, ny = (int64_t)s.B * s.O * 36;
    enum { LN = 8, LIN = 200, LO = 40 };
    float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
    float *vals = calloc((size_t)nw, sizeof(float)), *scratch = malloc(conv2d_scratch_numel(&s) * sizeof(float));
    int64_t *index = malloc((size_t)nw * sizeof(int64_t));
    int ok = x && w && dy && vals && scratch && index;
    if (ok) {
        ops_sink sp = {.kind = OPS_SINK_SPARSE, .index = index, .values = vals, .nnz = path_subset(index, nw, 0.5, &r)};
        ops_sparse_dw_path_set(OPS_SPARSE_DW_TILE);
        ops_sparse_dw_tile_peak_reset();
        conv2d_backward(NULL, &sp, NULL, dy, x, w, &s, scratch);
        int64_t peak = ops_sparse_dw_tile_peak();
        ok = peak > 0 && peak <= nw / 2 && peak <= 32768;
        if (!ok)
            fprintf(stderr, "conv tile peak %lld of %lld\n", (long long)peak, (long long)nw);
        sp.nnz = path_subset(index, LO * LIN, 0.5, &r);
        ops_sparse_dw_tile_peak_reset();
        linear_backward(NULL, &sp, NULL, dy, x, w, LN, LIN, LO);
        peak = ops_sparse_dw_tile_peak();
        ok = ok && peak > 0 && peak <= LO * LIN / 2;
        if (!ok)
            fprintf(stderr, "linear tile peak %lld of %d\n", (long long)peak, LO * LIN);
    }
    ops_sparse_dw_path_set(OPS_SPARSE_DW_AUTO);
    free(x), free(w), free(dy), free(vals), free(scratch), free(index);
    CHECK(ok);
}

/* One sparse weight gradient of conv shape s at density 0.2 into v[t] for each of the
 * thread counts threads[0..nt) (values start at zero); 0 when out of memory. */
static int sparse_dw_by_threads(float **v, const int *threads, int nt, const ops_conv_shape *s, int path,
                                uint64_t seed, int64_t *nnz_out)
{
    sara_rng r;
    rng_seed(&r, seed);
    int64_t hw = (int64_t)s->H * s->W, ohw = (int64_t)ops_conv_out_h(s) * ops_conv_out_w(s);
    int64_t nx = s->B * s->C * hw, nw = (int64_t)s->O * s->C * 9, ny = s->B * s->O * ohw;
    float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
    float *scratch = malloc(conv2d_scratch_numel(s) * sizeof(float));
    int64_t *index = malloc((size_t)nw * sizeof(int64_t));
    int ok = x && w && dy && scratch && index, saved = omp_get_max_threads();
    int64_t nnz = ok ? path_subset(index, nw, 0.2, &r) : 0;
    ops_sparse_dw_path_set(path);
    for (int t = 0; ok && t < nt; t++) {
        omp_set_num_threads(threads[t]);
        ops_sink sp = {.kind = OPS_SINK_SPARSE, .index = index, .values = v[t], .nnz = nnz};
        conv2d_backward(NULL, &sp, NULL, dy, x, w, s, scratch);
    }
    omp_set_num_threads(saved);
    ops_sparse_dw_path_set(OPS_SPARSE_DW_AUTO);
    free(x), free(w), free(dy), free(scratch), free(index);
    *nnz_out = nnz;
    return ok;
}

/* The sampled path and the direct tiles sum every entry by one thread in a fixed order that
 * does not depend on the thread count: 1 and 2 threads give the same bits (the determinism
 * and resume contract only needs "same thread count", this is stronger). Winograd's tiles
 * (3×3 stride 1) sum per worker, like full fine-tuning's dense Winograd dW: same thread count,
 * same bits (next test). */
TEST(ops_sparse_dw_paths_thread_independent)
{
    static const ops_conv_shape shapes[2] = {{3, 8, 12, 12, 10, 3, 3, 1, 1, 1, 1, 1},
                                             {3, 8, 12, 12, 10, 3, 3, 2, 1, 1, 1, 1}};
    static const int threads[2] = {1, 2};
    int ok = 1;
    for (int p = 0; ok && p < 2; p++) {
        int64_t nw = (int64_t)shapes[p].O * shapes[p].C * 9, nnz = 0;
        float *v[2] = {calloc((size_t)nw, sizeof(float)), calloc((size_t)nw, sizeof(float))};
        ok = v[0] && v[1] && sparse_dw_by_threads(v, threads, 2, &shapes[p], PATHS[p], 45, &nnz);
        ok = ok && !memcmp(v[0], v[1], (size_t)nnz * sizeof(float));
        if (!ok)
            fprintf(stderr, "%s path: 1 and 2 threads differ\n", PATH_NAMES[p]);
        free(v[0]), free(v[1]);
    }
    CHECK(ok);
}

/* Winograd's row-block tiles on 1, 2 and 8 threads (chunks owned by workers, or phases shared)
 * against the double dense gradient, F(4×4) over several chunks and F(2×2) with many row
 * blocks; a repeat on the same thread count gives the same bits; and the tiles ran, each below
 * half the tensor. */
TEST(ops_sparse_dw_winograd_tiles_match_dense)
{
    /* 12×12 planes: F(4×4), 6 images a chunk; 5×5: F(2×2), R = 7·O/25 rows a block */
    static const ops_conv_shape shapes[2] = {{16, 8, 12, 12, 10, 3, 3, 1, 1, 1, 1, 1},
                                             {5, 7, 5, 5, 61, 3, 3, 1, 1, 1, 1, 1}};
    static const int threads[4] = {1, 2, 8, 2};
    int ok = 1;
    for (int c = 0; ok && c < 2; c++) {
        const ops_conv_shape *s = &shapes[c];
        int64_t nw = (int64_t)s->O * s->C * 9, nnz = 0;
        int64_t nx = (int64_t)s->B * s->C * s->H * s->W, ny = (int64_t)s->B * s->O * s->H * s->W;
        float *v[4], *dense = malloc((size_t)nw * sizeof(float)), *gathered = malloc((size_t)nw * sizeof(float));
        int64_t *index = malloc((size_t)nw * sizeof(int64_t));
        for (int t = 0; t < 4; t++)
            v[t] = calloc((size_t)nw, sizeof(float));
        ops_sparse_dw_tile_peak_reset();
        ok = v[0] && v[1] && v[2] && v[3] && dense && gathered && index &&
             sparse_dw_by_threads(v, threads, 4, s, OPS_SPARSE_DW_TILE, 46 + c, &nnz);
        int64_t peak = ops_sparse_dw_tile_peak();
        if (ok && !(peak > 0 && peak <= nw / 2)) {
            fprintf(stderr, "Winograd tile peak %lld of %lld\n", (long long)peak, (long long)nw);
            ok = 0;
        }
        sara_rng r; /* the same draws as sparse_dw_by_threads */
        rng_seed(&r, 46 + c);
        float *x = randn_f32(&r, nx), *w = randn_f32(&r, nw), *dy = randn_f32(&r, ny);
        ok = ok && x && w && dy && path_subset(index, nw, 0.2, &r) == nnz &&
             path_dense_f64(dense, x, w, dy, nx, nw, ny, s, 0, 0, 0);
        double tol = SPARSE_ATOL;
        for (int64_t i = 0; i < nw; i++)
            tol = fmax(tol, PATH_WINO_TOL * fabs(dense[i]));
        for (int64_t k = 0; ok && k < nnz; k++)
            gathered[k] = dense[index[k]];
        for (int t = 0; ok && t < 3; t++) {
            char what[96];
            snprintf(what, sizeof what, "Winograd tiles, shape %d, %d threads", c, threads[t]);
            ok = test_allclose_f32(what, v[t], gathered, (size_t)nnz, tol, SPARSE_RTOL);
        }
        ok = ok && !memcmp(v[1], v[3], (size_t)nnz * sizeof(float));
        free(x), free(w), free(dy), free(dense), free(gathered), free(index);
        for (int t = 0; t < 4; t++)
            free(v[t]);
    }
    CHECK(ok);
}
