/* test_ops_torch.c — the float kernels against PyTorch 1.13 (float32, CPU), tensor by tensor.
 * Fixtures come from tools/fixtures/make_op_fixtures.py: inputs, parameters, upstream gradient
 * g, torch outputs and every gradient of Σ out·g. Shapes are taken from the fixture tensors,
 * options (stride, padding, groups, eps, heads) from its metadata. Tolerances are stated per
 * tensor below: float32 with a different summation order than torch, so ~1e-5 for
 * elementwise results and a little looser for long sums (weight gradients). */
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "ops/ops.h"
#include "test.h"

#define OPS_FIXTURES TEST_FIXTURES "/ops/"

/* Elementwise results and short dot products (≤ ~40 terms of O(1) values). */
#define TOL_ELEM_ATOL 1e-5
#define TOL_ELEM_RTOL 1e-5
/* Sums over batch × pixels (weight and bias gradients, GroupNorm's group sums): ~100 terms. */
#define TOL_SUM_ATOL 5e-5
#define TOL_SUM_RTOL 1e-5
/* Timestep embedding: the argument t·f reaches ~1000, where one float ulp of f moves sin by
 * ~1e-4 (torch's vectorised exp/sin and glibc's can differ by an ulp); 3e-6 observed here. */
#define TOL_TIMESTEP_ATOL 2e-4

/* One fixture file, read whole into static storage and closed at once, so a failing CHECK
 * can return from a test anywhere without leaking a mapping or a buffer. */
#define FX_MAX_TENSORS 32
#define FX_MAX_META 16
#define FX_POOL_FLOATS (1 << 16)

typedef struct {
    char name[48];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    float *f32;   /* float tensors */
    int64_t *i64; /* integer tensors */
} fx_tensor;

static struct {
    char file[256];
    fx_tensor t[FX_MAX_TENSORS];
    int count;
    char meta_key[FX_MAX_META][32], meta_val[FX_MAX_META][64];
    int meta_count;
    float pool[FX_POOL_FLOATS];
    int64_t ipool[256];
    size_t used, iused;
} fx;

static int fx_is_int(st_dtype d)
{
    return d == ST_I64 || d == ST_I32 || d == ST_I16 || d == ST_I8 || d == ST_U8 || d == ST_BOOL;
}

/* Loads OPS_FIXTURES<name>.safetensors; 0 (with a message) on failure. */
static int fx_load(const char *name)
{
    memset(fx.t, 0, sizeof fx.t);
    fx.count = fx.meta_count = 0;
    fx.used = fx.iused = 0;
    snprintf(fx.file, sizeof fx.file, OPS_FIXTURES "%s.safetensors", name);
    st_file *f = NULL;
    if (safetensors_open(fx.file, &f) != SARA_OK) {
        fprintf(stderr, "    %s\n", sara_last_error());
        return 0;
    }
    int ok = f->count <= FX_MAX_TENSORS && f->meta_count <= FX_MAX_META;
    for (int i = 0; ok && i < f->count; i++) {
        const st_tensor *s = &f->tensors[i];
        fx_tensor *t = &fx.t[fx.count++];
        snprintf(t->name, sizeof t->name, "%s", s->name);
        t->ndim = s->ndim;
        memcpy(t->shape, s->shape, sizeof t->shape);
        t->numel = s->numel;
        if (fx_is_int(s->dtype)) {
            ok = fx.iused + (size_t)s->numel <= sizeof fx.ipool / sizeof fx.ipool[0];
            t->i64 = fx.ipool + fx.iused;
            fx.iused += (size_t)s->numel;
            ok = ok && safetensors_read_i64(f, s, t->i64) == SARA_OK;
        } else {
            ok = fx.used + (size_t)s->numel <= FX_POOL_FLOATS;
            t->f32 = fx.pool + fx.used;
            fx.used += (size_t)s->numel;
            ok = ok && safetensors_read_f32(f, s, t->f32) == SARA_OK;
        }
    }
    for (int i = 0; ok && i < f->meta_count; i++) {
        snprintf(fx.meta_key[i], sizeof fx.meta_key[i], "%s", f->meta_keys[i]);
        snprintf(fx.meta_val[i], sizeof fx.meta_val[i], "%s", f->meta_values[i]);
        fx.meta_count++;
    }
    if (!ok)
        fprintf(stderr, "    %s: too large for the test's buffers or unreadable: %s\n", fx.file, sara_last_error());
    safetensors_close(f);
    return ok;
}

static const fx_tensor *fx_find(const char *name)
{
    for (int i = 0; i < fx.count; i++)
        if (!strcmp(fx.t[i].name, name))
            return &fx.t[i];
    fprintf(stderr, "    %s: no tensor '%s'\n", fx.file, name);
    return NULL;
}

/* The float data of a tensor that must hold `numel` elements, or NULL (reported). */
static float *fx_f32(const char *name, int64_t numel)
{
    const fx_tensor *t = fx_find(name);
    if (!t)
        return NULL;
    if (!t->f32 || t->numel != numel) {
        fprintf(stderr, "    %s: tensor '%s' has %lld elements, want %lld floats\n", fx.file, name,
                (long long)t->numel, (long long)numel);
        return NULL;
    }
    return t->f32;
}

/* An integer metadata value, or `fallback` when absent. */
static int fx_meta_int(const char *key, int fallback)
{
    for (int i = 0; i < fx.meta_count; i++)
        if (!strcmp(fx.meta_key[i], key))
            return atoi(fx.meta_val[i]);
    return fallback;
}

static double fx_meta_double(const char *key, double fallback)
{
    for (int i = 0; i < fx.meta_count; i++)
        if (!strcmp(fx.meta_key[i], key))
            return strtod(fx.meta_val[i], NULL);
    return fallback;
}

/* Zeroed scratch space outside the fixture pool, for the C outputs and gradients. */
static float work[1 << 15];
static size_t work_used;

static float *work_zero(int64_t n)
{
    if (work_used + (size_t)n > sizeof work / sizeof work[0]) {
        fprintf(stderr, "test_ops_torch: work buffer exhausted\n");
        abort();
    }
    float *p = work + work_used;
    work_used += (size_t)n;
    memset(p, 0, (size_t)n * sizeof *p);
    return p;
}

static ops_sink dense(float *p)
{
    return (ops_sink){.kind = OPS_SINK_DENSE, .dense = p};
}

/* ---------------------------------------------------------------- conv2d */

static int conv_torch_case(const char *name)
{
    work_used = 0;
    if (!fx_load(name))
        return 0;
    const fx_tensor *tx = fx_find("x"), *tw = fx_find("w");
    if (!tx || !tw || tx->ndim != 4 || tw->ndim != 4)
        return 0;
    ops_conv_shape s = {(int)tx->shape[0], (int)tx->shape[1], (int)tx->shape[2], (int)tx->shape[3],
                        (int)tw->shape[0], (int)tw->shape[2], (int)tw->shape[3], fx_meta_int("stride", 1),
                        fx_meta_int("pad_t", 0), fx_meta_int("pad_l", 0), fx_meta_int("pad_b", 0),
                        fx_meta_int("pad_r", 0)};
    int64_t nx = tx->numel, nw = tw->numel, ny = (int64_t)s.B * s.O * ops_conv_out_h(&s) * ops_conv_out_w(&s);
    float *x = fx_f32("x", nx), *w = fx_f32("w", nw), *b = fx_f32("b", s.O), *g = fx_f32("g", ny);
    float *y_t = fx_f32("y", ny), *dx_t = fx_f32("dx", nx), *dw_t = fx_f32("dw", nw), *db_t = fx_f32("db", s.O);
    if (!x || !w || !b || !g || !y_t || !dx_t || !dw_t || !db_t)
        return 0;
    float *y = work_zero(ny), *dx = work_zero(nx), *dw = work_zero(nw), *db = work_zero(s.O);
    float *scratch = work_zero((int64_t)conv2d_scratch_numel(&s));
    conv2d_forward(y, x, w, b, &s, scratch);
    ops_sink sw = dense(dw), sb = dense(db);
    conv2d_backward(dx, &sw, &sb, g, x, w, &s, scratch);
    char what[4][96];
    snprintf(what[0], sizeof what[0], "%s y", name);
    snprintf(what[1], sizeof what[1], "%s dx", name);
    snprintf(what[2], sizeof what[2], "%s dw", name);
    snprintf(what[3], sizeof what[3], "%s db", name);
    return test_allclose_f32(what[0], y, y_t, (size_t)ny, TOL_ELEM_ATOL, TOL_ELEM_RTOL) &&
           test_allclose_f32(what[1], dx, dx_t, (size_t)nx, TOL_ELEM_ATOL, TOL_ELEM_RTOL) &&
           test_allclose_f32(what[2], dw, dw_t, (size_t)nw, TOL_SUM_ATOL, TOL_SUM_RTOL) &&
           test_allclose_f32(what[3], db, db_t, (size_t)s.O, TOL_SUM_ATOL, TOL_SUM_RTOL);
}

TEST(ops_torch_conv2d)
{
    CHECK(conv_torch_case("conv2d_3x3_s1_p1"));
    CHECK(conv_torch_case("conv2d_3x3_s2_p1"));
    CHECK(conv_torch_case("conv2d_3x3_s2_down"));
    CHECK(conv_torch_case("conv2d_1x1"));
}

/* ---------------------------------------------------------------- linear */

TEST(ops_torch_linear)
{
    work_used = 0;
    CHECK(fx_load("linear"));
    const fx_tensor *tx = fx_find("x"), *tw = fx_find("w");
    CHECK(tx && tw && tx->ndim == 2 && tw->ndim == 2);
    int N = (int)tx->shape[0], In = (int)tx->shape[1], O = (int)tw->shape[0];
    float *x = fx_f32("x", N * In), *w = fx_f32("w", O * In), *b = fx_f32("b", O), *g = fx_f32("g", N * O);
    float *y_t = fx_f32("y", N * O), *dx_t = fx_f32("dx", N * In), *dw_t = fx_f32("dw", O * In);
    float *db_t = fx_f32("db", O);
    CHECK(x && w && b && g && y_t && dx_t && dw_t && db_t);
    float *y = work_zero(N * O), *dx = work_zero(N * In), *dw = work_zero(O * In), *db = work_zero(O);
    linear_forward(y, x, w, b, N, In, O);
    ops_sink sw = dense(dw), sb = dense(db);
    linear_backward(dx, &sw, &sb, g, x, w, N, In, O);
    CHECK_ALLCLOSE_F32("linear y", y, y_t, N * O, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("linear dx", dx, dx_t, N * In, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("linear dw", dw, dw_t, O * In, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("linear db", db, db_t, O, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
}

/* ---------------------------------------------------------------- groupnorm */

TEST(ops_torch_groupnorm)
{
    work_used = 0;
    CHECK(fx_load("groupnorm"));
    const fx_tensor *tx = fx_find("x");
    CHECK(tx && tx->ndim == 4);
    int B = (int)tx->shape[0], C = (int)tx->shape[1], HW = (int)(tx->shape[2] * tx->shape[3]);
    int G = fx_meta_int("groups", 0);
    float eps = (float)fx_meta_double("eps", -1);
    CHECK(G > 0 && C % G == 0 && eps > 0);
    int64_t n = tx->numel;
    float *x = fx_f32("x", n), *gamma = fx_f32("gamma", C), *beta = fx_f32("beta", C), *g = fx_f32("g", n);
    float *y_t = fx_f32("y", n), *dx_t = fx_f32("dx", n), *dgm_t = fx_f32("dgamma", C), *dbt_t = fx_f32("dbeta", C);
    float *mean_t = fx_f32("mean", B * G), *rstd_t = fx_f32("rstd", B * G);
    CHECK(x && gamma && beta && g && y_t && dx_t && dgm_t && dbt_t && mean_t && rstd_t);
    float *y = work_zero(n), *mean = work_zero(B * G), *rstd = work_zero(B * G), *dx = work_zero(n);
    float *dgm = work_zero(C), *dbt = work_zero(C);
    groupnorm_forward(y, mean, rstd, x, gamma, beta, B, C, HW, G, eps);
    ops_sink sg = dense(dgm), sb = dense(dbt);
    groupnorm_backward(dx, &sg, &sb, g, x, mean, rstd, gamma, B, C, HW, G);
    CHECK_ALLCLOSE_F32("groupnorm y", y, y_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("groupnorm mean", mean, mean_t, B * G, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("groupnorm rstd", rstd, rstd_t, B * G, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("groupnorm dx", dx, dx_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("groupnorm dgamma", dgm, dgm_t, C, TOL_SUM_ATOL, TOL_SUM_RTOL);
    CHECK_ALLCLOSE_F32("groupnorm dbeta", dbt, dbt_t, C, TOL_SUM_ATOL, TOL_SUM_RTOL);
}

/* ---------------------------------------------------------------- silu */

TEST(ops_torch_silu)
{
    work_used = 0;
    CHECK(fx_load("silu"));
    const fx_tensor *tx = fx_find("x");
    CHECK(tx);
    int64_t n = tx->numel;
    float *x = fx_f32("x", n), *g = fx_f32("g", n), *y_t = fx_f32("y", n), *dx_t = fx_f32("dx", n);
    CHECK(x && g && y_t && dx_t);
    float *y = work_zero(n), *dx = work_zero(n);
    silu_forward(y, x, n);
    silu_backward(dx, g, x, n);
    CHECK_ALLCLOSE_F32("silu y", y, y_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("silu dx", dx, dx_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    silu_forward(x, x, n); /* in place is allowed */
    CHECK_ALLCLOSE_F32("silu y in place", x, y, n, 0, 0);
}

/* ---------------------------------------------------------------- attention */

TEST(ops_torch_attention)
{
    work_used = 0;
    CHECK(fx_load("attention"));
    const fx_tensor *tq = fx_find("q");
    int heads = fx_meta_int("heads", 0);
    CHECK(tq && tq->ndim == 3 && heads > 0 && tq->shape[2] % heads == 0);
    int B = (int)tq->shape[0], T = (int)tq->shape[1], D = (int)tq->shape[2] / heads;
    int64_t n = tq->numel, np = (int64_t)B * heads * T * T;
    float *q = fx_f32("q", n), *k = fx_f32("k", n), *v = fx_f32("v", n), *g = fx_f32("g", n);
    float *out_t = fx_f32("out", n), *p_t = fx_f32("probs", np);
    float *dq_t = fx_f32("dq", n), *dk_t = fx_f32("dk", n), *dv_t = fx_f32("dv", n);
    CHECK(q && k && v && g && out_t && p_t && dq_t && dk_t && dv_t);
    float *out = work_zero(n), *probs = work_zero(np), *dq = work_zero(n), *dk = work_zero(n), *dv = work_zero(n);
    float *scratch = work_zero((int64_t)attention_scratch_numel(B, T, heads));
    attention_forward(out, probs, q, k, v, B, T, heads, D);
    attention_backward(dq, dk, dv, g, probs, q, k, v, B, T, heads, D, scratch);
    CHECK_ALLCLOSE_F32("attention out", out, out_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("attention probs", probs, p_t, np, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("attention dq", dq, dq_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("attention dk", dk, dk_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    CHECK_ALLCLOSE_F32("attention dv", dv, dv_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
}

/* ---------------------------------------------------------------- upsample */

TEST(ops_torch_upsample2x)
{
    work_used = 0;
    CHECK(fx_load("upsample2x"));
    const fx_tensor *tx = fx_find("x");
    CHECK(tx && tx->ndim == 4);
    int B = (int)tx->shape[0], C = (int)tx->shape[1], H = (int)tx->shape[2], W = (int)tx->shape[3];
    int64_t n = tx->numel;
    float *x = fx_f32("x", n), *g = fx_f32("g", 4 * n), *y_t = fx_f32("y", 4 * n), *dx_t = fx_f32("dx", n);
    CHECK(x && g && y_t && dx_t);
    float *y = work_zero(4 * n), *dx = work_zero(n);
    upsample2x_forward(y, x, B, C, H, W);
    upsample2x_backward(dx, g, B, C, H, W);
    CHECK_ALLCLOSE_F32("upsample2x y", y, y_t, 4 * n, 0, 0); /* a copy: exact */
    CHECK_ALLCLOSE_F32("upsample2x dx", dx, dx_t, n, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
}

/* ---------------------------------------------------------------- timestep embedding */

TEST(ops_torch_timestep_embedding)
{
    work_used = 0;
    CHECK(fx_load("timestep_embedding"));
    const fx_tensor *tt = fx_find("t");
    CHECK(tt && tt->f32);
    int N = (int)tt->numel;
    static const struct {
        const char *name;
        int dim, flip, shift;
    } cases[] = {{"out_d32_f1_s0", 32, 1, 0}, {"out_d9_f0_s1", 9, 0, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *want = fx_f32(cases[c].name, (int64_t)N * cases[c].dim);
        CHECK(want);
        float *out = work_zero((int64_t)N * cases[c].dim);
        timestep_embedding(out, tt->f32, N, cases[c].dim, cases[c].flip, (float)cases[c].shift);
        CHECK_ALLCLOSE_F32(cases[c].name, out, want, (size_t)N * cases[c].dim, TOL_TIMESTEP_ATOL, 0);
    }
}

/* ---------------------------------------------------------------- embedding */

TEST(ops_torch_embedding)
{
    work_used = 0;
    CHECK(fx_load("embedding"));
    const fx_tensor *tt = fx_find("table"), *ti = fx_find("ids");
    CHECK(tt && ti && tt->ndim == 2 && ti->i64);
    int V = (int)tt->shape[0], D = (int)tt->shape[1], N = (int)ti->numel;
    for (int i = 0; i < N; i++)
        CHECK(ti->i64[i] >= 0 && ti->i64[i] < V);
    float *table = fx_f32("table", V * D), *g = fx_f32("g", N * D), *y_t = fx_f32("y", N * D);
    float *dt_t = fx_f32("dtable", V * D);
    CHECK(table && g && y_t && dt_t);
    float *y = work_zero(N * D), *dt = work_zero(V * D);
    embedding_forward(y, table, ti->i64, N, D);
    ops_sink st = dense(dt);
    embedding_backward(&st, g, ti->i64, N, V, D);
    CHECK_ALLCLOSE_F32("embedding y", y, y_t, N * D, 0, 0); /* a copy: exact */
    CHECK_ALLCLOSE_F32("embedding dtable", dt, dt_t, V * D, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
}
