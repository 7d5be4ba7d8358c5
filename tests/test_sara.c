/* test_sara.c — the "sara" and "selective" methods and their parts on the tiny UNet:
 * packed gradients against the dense ones for every layer kind; frozen entries bit-identical
 * through training and the progressive step; M1's definition; the selection rules against a
 * brute-force sort; the nuclear norm against finite differences and PyTorch; packed AdamW against
 * torch.optim.AdamW and against the dense update; the low-rank term's wiring; memory O(nnz). */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "diffusion/diffusion.h"
#include "model/unet.h"
#include "peft/lowrank.h"
#include "peft/mask.h"
#include "peft/method.h"
#include "peft/sara.h"
#include "test.h"
#include "train/adamw.h"

#define TINY TEST_FIXTURES "/unet/tiny"
#define SARA_FIXTURES TEST_FIXTURES "/sara"
#define TB 4              /* batch */
#define TN (TB * 64)      /* batch × 1 × 8 × 8 */

/* One random batch through the model: dout = d MSE(pred, random target) / d pred, then backward
 * into `sinks` (after zero_grad when meth is given). Same rng state → same batch. */
static sara_status tiny_backward(unet *m, sara_rng *r, train_method *meth, const ops_sink *sinks)
{
    float x[TN], target[TN], pred[TN], dpred[TN], t[TB];
    int64_t labels[TB];
    rng_fill_normal(r, x, TN);
    rng_fill_normal(r, target, TN);
    for (int i = 0; i < TB; i++) {
        t[i] = (float)rng_below(r, 1000);
        labels[i] = (int64_t)rng_below(r, 3);
    }
    SARA_TRY(unet_forward(m, x, t, labels, TB, pred));
    diffusion_mse_loss(pred, target, TN, dpred);
    if (meth)
        meth->zero_grad(meth);
    return unet_backward(m, dpred, NULL, sinks ? sinks : meth->sinks);
}

/* zero_grad, backward, clip at 1.0, step: what the training loop does. */
static sara_status tiny_train_step(unet *m, sara_rng *r, train_method *meth, int64_t step, double lr)
{
    SARA_TRY(tiny_backward(m, r, meth, NULL));
    meth->scale_grad(meth, (float)clip_factor(sqrt(meth->grad_sum_squares(meth)), 1.0));
    meth->step(meth, step, lr);
    return SARA_OK;
}

static void sara_opts(method_options *o, const char *selection, double threshold)
{
    method_options_default(o);
    o->selection = selection;
    o->threshold = threshold;
    o->seed = 11;
}

/* ------------------------------------------------------------------------------------------ */

typedef enum { KIND_CONV, KIND_LINEAR, KIND_NORM, KIND_EMBEDDING, KIND_BIAS, KIND_COUNT } layer_kind;
static const char *const kind_names[KIND_COUNT] = {"conv", "linear", "groupnorm", "embedding", "bias"};

static layer_kind kind_of(const param_entry *e)
{
    if (strstr(e->name, "class_embedding"))
        return KIND_EMBEDDING;
    if (e->ndim == 4)
        return KIND_CONV;
    if (e->ndim == 2)
        return KIND_LINEAR;
    if (strstr(e->name, "norm") && strstr(e->name, ".weight"))
        return KIND_NORM;
    return KIND_BIAS;
}

/* Dense gradient of every parameter (full's sinks) and the packed ones of sara and selective on
 * the same batch. sara's sparse kernels sum in another order than BLAS: close, not equal;
 * selective gathers the very dense gradient: equal bit for bit. A random selection of 40 % puts
 * entries in every tensor, including the norm scales (|γ| ≈ 1 would never be "small"). */
TEST(sara_packed_gradient_equals_dense_gather_for_every_layer_kind)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    CHECK_OK(unet_reserve(m, TB));
    param_table *p = unet_params(m);
    method_options o;
    sara_opts(&o, "random", 0.05);
    train_method *full = NULL, *sara = NULL, *sel = NULL;
    CHECK_OK(method_create(&full, "full", m, &o));
    CHECK_OK(method_create(&sara, "sara", m, &o));
    CHECK_OK(method_create(&sel, "selective", m, &o));
    sara_rng r0, r;
    rng_seed(&r0, 5);
    r = r0;
    CHECK_OK(tiny_backward(m, &r, full, NULL));
    r = r0;
    CHECK_OK(tiny_backward(m, &r, sara, NULL));
    r = r0;
    CHECK_OK(tiny_backward(m, &r, sel, NULL));
    sel->grad_sum_squares(sel); /* selective masks its dense gradients on first use */
    const float *dense_all = NULL;
    int64_t covered[KIND_COUNT] = {0};
    int ok = 1;
    for (int i = 0; i < p->count && ok; i++) {
        sara_tensor_view a, b;
        sara_method_view(sara, i, &a);
        sara_method_view(sel, i, &b);
        dense_all = full->sinks[i].dense;
        CHECK(a.n == b.n && a.n > 0 && !memcmp(a.idx, b.idx, (size_t)a.n * sizeof(int64_t)));
        float *want = malloc((size_t)a.n * sizeof(float));
        double scale = 0;
        for (int64_t k = 0; k < a.n; k++) {
            want[k] = dense_all[a.idx[k]];
            scale = fabs(want[k]) > scale ? fabs(want[k]) : scale;
        }
        ok = test_allclose_f32(p->entries[i].name, a.g, want, (size_t)a.n, 1e-5 * scale + 1e-7, 1e-4) &&
             !memcmp(b.g, want, (size_t)a.n * sizeof(float));
        if (!ok)
            fprintf(stderr, "    %s: sara or selective differs from the dense gradient\n", p->entries[i].name);
        covered[kind_of(&p->entries[i])] += a.n;
        free(want);
    }
    CHECK(ok);
    for (int k = 0; k < KIND_COUNT; k++)
        CHECK_MSG(covered[k] > 0, "no selected entry of kind %s", kind_names[k]);
    /* A sparse sink really is sparse: sara's sinks point at packed buffers of nnz entries. */
    for (int i = 0; i < p->count; i++)
        CHECK(sara->sinks[i].kind == OPS_SINK_SPARSE && sel->sinks[i].kind == OPS_SINK_DENSE);
    method_free(full);
    method_free(sara);
    method_free(sel);
    unet_free(m);
}

/* ------------------------------------------------------------------------------------------ */

static int in_sorted(const int64_t *idx, int64_t n, int64_t e)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (idx[mid] < e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && idx[lo] == e;
}

/* Entries of tensor i outside idx (n) are bitwise equal in a and b. */
static int complement_equal(const param_table *p, int i, const float *a, const float *b, const int64_t *idx, int64_t n)
{
    for (int64_t e = 0; e < p->entries[i].numel; e++)
        if (!in_sorted(idx, n, e) && memcmp(&a[p->entries[i].offset + e], &b[p->entries[i].offset + e], sizeof(float)))
            return 0;
    return 1;
}

/* Six steps with the progressive step after step 3 and the low-rank term on (min dim lowered so
 * the tiny model has eligible tensors): entries outside M0 never change; entries of M0 \ M1 do
 * not change after step 3; M1 = {e ∈ M0 : |P_3[e]| < θ} exactly; M0's entries did train. */
static void check_frozen(const char *method, const char *targets)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    CHECK_OK(unet_reserve(m, TB));
    param_table *p = unet_params(m);
    method_options o;
    sara_opts(&o, "smallest", 0.05);
    o.targets = targets;
    o.total_steps = 6;
    o.progressive_iter = 3;
    o.lowrank_min_dim = 8;
    o.lambda_rank = 1e-2;
    train_method *meth = NULL, *twin = NULL;
    CHECK_OK(method_create(&meth, method, m, &o));
    /* A twin without the progressive step on a second copy of the model: identical up to step 3,
     * so the survivors' moments after the step must be the twin's at the same entries. */
    unet *m2 = NULL;
    CHECK_OK(unet_load(&m2, TINY));
    CHECK_OK(unet_reserve(m2, TB));
    o.progressive_iter = 6;
    CHECK_OK(method_create(&twin, method, m2, &o));
    float *base = malloc(p->numel * sizeof(float)), *at3 = malloc(p->numel * sizeof(float));
    memcpy(base, p->data, p->numel * sizeof(float));
    sara_rng r, r2;
    rng_seed(&r, 9);
    r2 = r;
    for (int64_t s = 1; s <= 6; s++) {
        CHECK_OK(tiny_train_step(m, &r, meth, s, 1e-2));
        CHECK(sara_method_progressed(meth) == (s >= 3));
        if (s > 3)
            continue;
        CHECK_OK(tiny_train_step(m2, &r2, twin, s, 1e-2));
        CHECK(!memcmp(p->data, unet_params(m2)->data, p->numel * sizeof(float)));
        if (s < 3)
            continue;
        memcpy(at3, p->data, p->numel * sizeof(float));
        for (int i = 0; i < p->count; i++) {
            sara_tensor_view a, b;
            sara_method_view(meth, i, &a);
            sara_method_view(twin, i, &b);
            for (int64_t k = 0, j = 0; k < a.n; k++, j++) {
                while (b.idx[j] != a.idx[k])
                    j++;
                CHECK_MSG(a.m[k] == b.m[j] && a.v[k] == b.v[j], "%s: moments of a survivor were not kept",
                          p->entries[i].name);
            }
        }
    }
    method_free(twin);
    unet_free(m2);
    float theta = sara_method_threshold(meth);
    CHECK(theta == 0.05f);
    int64_t changed = 0, n0 = 0, n1 = 0;
    for (int i = 0; i < p->count; i++) {
        sara_tensor_view v;
        sara_method_view(meth, i, &v);
        n0 += v.n0;
        n1 += v.n;
        CHECK_MSG(complement_equal(p, i, p->data, base, v.idx0, v.n0), "%s: an entry outside M0 changed",
                  p->entries[i].name);
        CHECK_MSG(complement_equal(p, i, p->data, at3, v.idx, v.n), "%s: an entry outside M1 changed after the "
                  "progressive step", p->entries[i].name);
        int64_t k1 = 0;
        const float *x3 = at3 + p->entries[i].offset, *x = params_ptr(p, i);
        for (int64_t k = 0; k < v.n0; k++) {
            int64_t e = v.idx0[k];
            changed += x[e] != base[p->entries[i].offset + e];
            if (fabsf(x3[e]) < theta) { /* the definition of M1, in order */
                CHECK_MSG(k1 < v.n && v.idx[k1] == e, "%s: M1 lacks entry %lld", p->entries[i].name, (long long)e);
                k1++;
            }
        }
        CHECK_MSG(k1 == v.n, "%s: M1 has entries outside its definition", p->entries[i].name);
        if (strcmp(targets, "all") && p->entries[i].ndim < 2)
            CHECK(v.n0 == 0);
    }
    CHECK_MSG(n1 > 0 && n1 < n0 && changed > n0 / 2, "n0 %lld n1 %lld changed %lld", (long long)n0, (long long)n1,
              (long long)changed);
    CHECK(meth->trainable_count(meth) == n1);
    char metrics[256];
    meth->step_metrics(meth, metrics, sizeof metrics);
    char want[128];
    snprintf(want, sizeof want, "\"m0\":%lld,\"m1\":%lld,\"lowrank\":", (long long)n0, (long long)n1);
    CHECK_MSG(test_contains(metrics, want), "metrics %s", metrics);
    free(base);
    free(at3);
    method_free(meth);
    unet_free(m);
}

TEST(sara_frozen_entries_bit_identical_through_progressive_step)
{
    check_frozen("sara", "all");
}

TEST(sara_frozen_entries_bit_identical_weights_only_selective)
{
    check_frozen("selective", "weights");
}

/* ------------------------------------------------------------------------------------------ */
/* selection rules against a brute-force sort of (|p|, tensor, index) */

typedef struct {
    float a;
    int tensor;
    int64_t e;
} ranked;

static int ranked_cmp(const void *x, const void *y)
{
    const ranked *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->tensor != q->tensor)
        return p->tensor - q->tensor;
    return p->e < q->e ? -1 : p->e > q->e;
}

/* Three tensors whose |values| come from a handful of levels (many ties), signs mixed. */
static void tie_table(param_table *t)
{
    params_init(t);
    int64_t s0[2] = {7, 9}, s1[1] = {13}, s2[4] = {2, 3, 2, 2};
    params_add(t, "a.weight", 2, s0, NULL);
    params_add(t, "b.bias", 1, s1, NULL);
    params_add(t, "c.weight", 4, s2, NULL);
    params_alloc(t);
    sara_rng r;
    rng_seed(&r, 3);
    static const float levels[5] = {0.0f, 1e-3f, 2e-3f, 0.5f, 3.0f};
    for (int i = 0; i < t->count; i++)
        for (int64_t e = 0; e < t->entries[i].numel; e++)
            params_ptr(t, i)[e] = levels[rng_below(&r, 5)] * (rng_below(&r, 2) ? -1.0f : 1.0f);
}

/* 1 if the mask equals the entries of sorted[first, first + c). */
static int mask_is(const sara_mask *mk, const param_table *t, const ranked *sorted, int64_t first, int64_t c)
{
    int64_t total = 0;
    for (int i = 0; i < t->count; i++)
        total += mk->nnz[i];
    if (total != c)
        return 0;
    for (int64_t k = first; k < first + c; k++)
        if (!in_sorted(mk->index[sorted[k].tensor], mk->nnz[sorted[k].tensor], sorted[k].e))
            return 0;
    return 1;
}

TEST(sara_selection_budget_ties_largest_random)
{
    param_table t;
    tie_table(&t);
    uint8_t tg[3];
    CHECK_OK(mask_targets(&t, "all", tg));
    int64_t total = 0;
    ranked all[256];
    for (int i = 0; i < t.count; i++)
        for (int64_t e = 0; e < t.entries[i].numel; e++)
            all[total++] = (ranked){fabsf(params_ptr(&t, i)[e]), i, e};
    qsort(all, (size_t)total, sizeof *all, ranked_cmp);
    method_options o;
    sara_opts(&o, "smallest", 1e-3);
    sara_mask mk;
    for (int64_t n = 1; n <= total; n += 7) { /* budgets cutting through tie groups */
        o.budget = n;
        o.selection = "smallest";
        CHECK_OK(mask_select(&mk, &t, tg, &o));
        CHECK_MSG(mask_is(&mk, &t, all, 0, n), "budget %lld: not the first %lld of the order", (long long)n,
                  (long long)n);
        CHECK(mk.threshold == nextafterf(all[n - 1].a, INFINITY)); /* smallest θ with M0 ⊆ {|p| < θ} */
        mask_free(&mk);
        o.selection = "largest";
        CHECK_OK(mask_select(&mk, &t, tg, &o));
        CHECK_MSG(mask_is(&mk, &t, all, total - n, n), "largest %lld: not the last of the order", (long long)n);
        mask_free(&mk);
    }
    /* threshold mode: |p| < θ strictly (1e-3 itself is a level: excluded) */
    o.budget = 0;
    o.selection = "smallest";
    CHECK_OK(mask_select(&mk, &t, tg, &o));
    int64_t below = 0;
    while (below < total && all[below].a < 1e-3f)
        below++;
    CHECK(below > 0 && below < total && mask_is(&mk, &t, all, 0, below));
    mask_free(&mk);
    /* random: the same count, sorted unique indices, reproducible, seed-dependent */
    o.selection = "random";
    sara_mask r1, r2, r3;
    CHECK_OK(mask_select(&r1, &t, tg, &o));
    CHECK_OK(mask_select(&r2, &t, tg, &o));
    o.seed = 12;
    CHECK_OK(mask_select(&r3, &t, tg, &o));
    CHECK(r1.total == below && r3.total == below);
    int same12 = 1, same13 = 1;
    for (int i = 0; i < t.count; i++) {
        for (int64_t k = 1; k < r1.nnz[i]; k++)
            CHECK(r1.index[i][k] > r1.index[i][k - 1]);
        same12 &= r1.nnz[i] == r2.nnz[i] && (!r1.nnz[i] || !memcmp(r1.index[i], r2.index[i], (size_t)r1.nnz[i] * 8));
        same13 &= r1.nnz[i] == r3.nnz[i] && (!r1.nnz[i] || !memcmp(r1.index[i], r3.index[i], (size_t)r1.nnz[i] * 8));
    }
    CHECK(same12 && !same13);
    mask_free(&r1);
    mask_free(&r2);
    mask_free(&r3);
    /* targets */
    CHECK_OK(mask_targets(&t, "weights", tg));
    CHECK(tg[0] && !tg[1] && tg[2]);
    CHECK_OK(mask_targets(&t, "b.", tg));
    CHECK(!tg[0] && tg[1] && !tg[2]);
    CHECK_ERR(mask_targets(&t, "nothing", tg), SARA_ERR_INVALID, "no parameter tensor matches");
    o.budget = total + 1;
    CHECK_OK(mask_targets(&t, "all", tg));
    CHECK_ERR(mask_select(&mk, &t, tg, &o), SARA_ERR_INVALID, "exceeds");
    o.budget = 0;
    o.selection = "biggest";
    CHECK_ERR(mask_select(&mk, &t, tg, &o), SARA_ERR_INVALID, "selection 'biggest'");
    params_free(&t);
}

/* ------------------------------------------------------------------------------------------ */
/* nuclear norm */

/* ‖a‖_* by the same SVD, for the finite differences. */
static double nuc(const double *a, int rows, int cols)
{
    double v = NAN;
    return lowrank_nuclear(a, rows, cols, &v, NULL) == SARA_OK ? v : NAN;
}

TEST(sara_nuclear_norm_subgradient_matches_finite_differences)
{
    enum { R = 7, C = 5 };
    double a[R * C], g[R * C], v = 0;
    sara_rng r;
    rng_seed(&r, 21);
    for (int e = 0; e < R * C; e++)
        a[e] = rng_normal(&r);
    CHECK_OK(lowrank_nuclear(a, R, C, &v, g));
    /* Central differences, h = 1e-6: the norm is smooth here (distinct, nonzero singular values),
     * error O(h²)·curvature + rounding 1e-16/h ≈ 1e-9. */
    const double h = 1e-6;
    double fd[R * C];
    for (int e = 0; e < R * C; e++) {
        double x = a[e];
        a[e] = x + h;
        double up = nuc(a, R, C);
        a[e] = x - h;
        double down = nuc(a, R, C);
        a[e] = x;
        fd[e] = (up - down) / (2 * h);
    }
    CHECK_ALLCLOSE_F64("d‖A‖*/dA", g, fd, R * C, 1e-7, 1e-6);
    /* the masked SaRA form: g[k] += scale·(U Vᵀ)[idx[k]] of the matrix that is p on the mask */
    float p[R * C];
    int64_t idx[R * C], n = 0;
    double pm[R * C] = {0}, uvt[R * C], vm = 0, vm_ref = 0;
    for (int e = 0; e < R * C; e++) {
        p[e] = (float)a[e];
        if (rng_uniform(&r) < 0.5) {
            idx[n++] = e;
            pm[e] = p[e];
        }
    }
    float gp[R * C] = {0};
    CHECK_OK(lowrank_masked_term(p, R, C, idx, n, 0.5, &vm, gp));
    CHECK_OK(lowrank_nuclear(pm, R, C, &vm_ref, uvt));
    CHECK(fabs(vm - vm_ref) <= 1e-12 * vm_ref);
    for (int64_t k = 0; k < n; k++) {
        double x = pm[idx[k]];
        pm[idx[k]] = x + h;
        double up = nuc(pm, R, C);
        pm[idx[k]] = x - h;
        double down = nuc(pm, R, C);
        pm[idx[k]] = x;
        double want = 0.5 * (up - down) / (2 * h);
        CHECK_MSG(fabs(gp[k] - want) <= 1e-6 + 1e-5 * fabs(want), "masked entry %lld: %g vs %g", (long long)idx[k],
                  gp[k], want);
    }
    /* rank-deficient input: zero matrix → 0 and no subgradient */
    double z[6] = {0}, gz[6];
    CHECK_OK(lowrank_nuclear(z, 2, 3, &v, gz));
    CHECK(v == 0 && gz[0] == 0 && gz[5] == 0);
    z[1] = NAN;
    CHECK_ERR(lowrank_nuclear(z, 2, 3, &v, gz), SARA_ERR_NUMERIC, "non-finite");
}

TEST(sara_nuclear_norm_matches_pytorch)
{
    st_file *f = NULL;
    CHECK_OK(safetensors_open(SARA_FIXTURES "/nuclear.safetensors", &f));
    int cases = atoi(safetensors_meta(f, "cases"));
    CHECK(cases == 3);
    for (int k = 0; k < cases; k++) {
        char name[32];
        snprintf(name, sizeof name, "a%d", k);
        const st_tensor *ta = safetensors_find(f, name);
        CHECK(ta && ta->dtype == ST_F64 && ta->ndim == 2);
        int64_t rows = ta->shape[0], cols = ta->shape[1], n = ta->numel;
        double a[256], g[256], want_g[256], want_v, v = 0;
        CHECK(n <= 256);
        memcpy(a, f->data + ta->begin, (size_t)n * 8);
        snprintf(name, sizeof name, "grad%d", k);
        memcpy(want_g, f->data + safetensors_find(f, name)->begin, (size_t)n * 8);
        snprintf(name, sizeof name, "value%d", k);
        memcpy(&want_v, f->data + safetensors_find(f, name)->begin, 8);
        CHECK_OK(lowrank_nuclear(a, rows, cols, &v, g));
        /* both are float64 LAPACK SVDs: agreement to ~1e-13 */
        CHECK_MSG(fabs(v - want_v) <= 1e-12 * want_v, "case %d: %.17g vs %.17g", k, v, want_v);
        CHECK_ALLCLOSE_F64("nuclear-norm gradient", g, want_g, (size_t)n, 1e-11, 1e-9);
    }
    safetensors_close(f);
}

/* ------------------------------------------------------------------------------------------ */
/* packed AdamW */

TEST(sara_packed_adamw_matches_torch_and_dense_update)
{
    st_file *f = NULL;
    CHECK_OK(safetensors_open(SARA_FIXTURES "/adamw.safetensors", &f));
    const st_tensor *tp0 = safetensors_find(f, "p0");
    CHECK(tp0 && tp0->numel == 37);
    enum { N = 37, DENSE = 101, STEPS = 5 };
    float packed0[N], grads[STEPS][N], want_p[N], want_m[N], want_v[N];
    CHECK_OK(safetensors_read_f32(f, tp0, packed0));
    for (int s = 0; s < STEPS; s++) {
        char name[16];
        snprintf(name, sizeof name, "grad%d", s);
        CHECK_OK(safetensors_read_f32(f, safetensors_find(f, name), grads[s]));
    }
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "p"), want_p));
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "exp_avg"), want_m));
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "exp_avg_sq"), want_v));
    const double lrs[STEPS] = {1e-3, 8e-4, 6e-4, 4e-4, 2e-4};
    /* the packed values live at scattered indices of a dense array of other values */
    float dense[DENSE], before[DENSE], m[N] = {0}, v[N] = {0};
    float cp[N], cm[N] = {0}, cv[N] = {0}; /* contiguous twin for the dense update */
    int64_t idx[N];
    for (int e = 0; e < DENSE; e++)
        dense[e] = 0.25f + (float)e;
    for (int k = 0; k < N; k++) {
        idx[k] = 2 * k + (k % 3 == 0);
        dense[idx[k]] = cp[k] = packed0[k];
    }
    memcpy(before, dense, sizeof dense);
    adamw_hparams h;
    adamw_default(&h);
    for (int s = 0; s < STEPS; s++) {
        adamw_update_indexed(dense, idx, grads[s], m, v, N, &h, s + 1, lrs[s]);
        adamw_update(cp, grads[s], cm, cv, N, &h, s + 1, lrs[s]);
    }
    float got[N];
    for (int k = 0; k < N; k++)
        got[k] = dense[idx[k]];
    CHECK_MSG(!memcmp(got, cp, sizeof got) && !memcmp(m, cm, sizeof m) && !memcmp(v, cv, sizeof v),
              "indexed update differs from the dense one");
    for (int e = 0; e < DENSE; e++)
        if (!in_sorted(idx, N, e))
            CHECK_MSG(!memcmp(&dense[e], &before[e], sizeof(float)), "entry %d outside the mask changed", e);
    /* torch does the same float32 operations: agreement to rounding */
    CHECK_ALLCLOSE_F32("p vs torch", got, want_p, N, 1e-9, 1e-6);
    CHECK_ALLCLOSE_F32("exp_avg vs torch", m, want_m, N, 1e-12, 1e-6);
    CHECK_ALLCLOSE_F32("exp_avg_sq vs torch", v, want_v, N, 1e-18, 1e-6);
    safetensors_close(f);
}

/* ------------------------------------------------------------------------------------------ */
/* the low-rank term inside step() */

/* With every eligible tensor each step, one step must equal: packed AdamW on the clipped gradient
 * plus λ·(U Vᵀ)[M] from lowrank_nuclear of P ⊙ M taken before the update; the logged term is
 * λ·Σ‖P ⊙ M‖_*. */
TEST(sara_lowrank_term_added_after_clipping)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    CHECK_OK(unet_reserve(m, TB));
    param_table *p = unet_params(m);
    method_options o;
    sara_opts(&o, "smallest", 0.05);
    o.lowrank_min_dim = 8;
    o.lowrank_all = 1;
    o.lambda_rank = 0.05;
    train_method *meth = NULL;
    CHECK_OK(method_create(&meth, "sara", m, &o));
    sara_rng r;
    rng_seed(&r, 4);
    CHECK_OK(tiny_backward(m, &r, meth, NULL));
    meth->scale_grad(meth, (float)clip_factor(sqrt(meth->grad_sum_squares(meth)), 1.0));
    /* the expected update, tensor by tensor, on copies */
    float *want = malloc(p->numel * sizeof(float));
    memcpy(want, p->data, p->numel * sizeof(float));
    double term = 0;
    int eligible = 0;
    for (int i = 0; i < p->count; i++) {
        sara_tensor_view v;
        sara_method_view(meth, i, &v);
        if (v.n == 0)
            continue;
        float *g = malloc((size_t)v.n * sizeof(float)), *mm = calloc((size_t)v.n, 4), *vv = calloc((size_t)v.n, 4);
        memcpy(g, v.g, (size_t)v.n * sizeof(float));
        const param_entry *e = &p->entries[i];
        if (e->ndim == 2 && (e->shape[0] < e->shape[1] ? e->shape[0] : e->shape[1]) > 8) {
            int64_t rows = e->shape[0], cols = e->shape[1];
            double *pm = calloc((size_t)e->numel, 8), *uvt = malloc((size_t)e->numel * 8), val = 0;
            for (int64_t k = 0; k < v.n; k++)
                pm[v.idx[k]] = params_ptr(p, i)[v.idx[k]];
            CHECK_OK(lowrank_nuclear(pm, rows, cols, &val, uvt));
            for (int64_t k = 0; k < v.n; k++)
                g[k] += (float)(0.05 * uvt[v.idx[k]]);
            term += 0.05 * val;
            eligible++;
            free(pm);
            free(uvt);
        }
        adamw_update_indexed(want + e->offset, v.idx, g, mm, vv, v.n, &o.adamw, 1, 1e-3);
        free(g);
        free(mm);
        free(vv);
    }
    meth->step(meth, 1, 1e-3);
    CHECK_MSG(eligible >= 4, "only %d eligible tensors", eligible);
    CHECK_MSG(!memcmp(want, p->data, p->numel * sizeof(float)), "step differs from AdamW on g + λ(UVᵀ)[M]");
    char metrics[256], expect[64];
    meth->step_metrics(meth, metrics, sizeof metrics);
    snprintf(expect, sizeof expect, "\"lowrank\":%.9g", term);
    CHECK_MSG(test_contains(metrics, expect), "metrics %s, want %s", metrics, expect);
    free(want);
    method_free(meth);
    unet_free(m);
}

/* ------------------------------------------------------------------------------------------ */

/* Gradient + optimizer memory: full 12 B per parameter; sara 24 B per selected entry (+8 B
 * reserved for M1 while the progressive step is pending); selective adds 4 B per target entry. */
TEST(sara_state_bytes_are_o_nnz)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    method_options o;
    sara_opts(&o, "smallest", 2e-3);
    train_method *full = NULL, *sara = NULL, *sel = NULL, *sara_ppa = NULL;
    CHECK_OK(method_create(&full, "full", m, &o));
    CHECK_OK(method_create(&sara, "sara", m, &o));
    CHECK_OK(method_create(&sel, "selective", m, &o));
    o.total_steps = 10;
    CHECK_OK(method_create(&sara_ppa, "sara", m, &o));
    int64_t nnz = sara->trainable_count(sara), total = unet_param_count(m);
    CHECK(nnz > 0 && nnz < total / 20);
    CHECK(sara->state_bytes(sara) == (size_t)nnz * 24);
    CHECK(sara_ppa->state_bytes(sara_ppa) == (size_t)nnz * 32);
    CHECK(sel->state_bytes(sel) == (size_t)nnz * 24 + (size_t)total * 4);
    fprintf(stderr, "    tiny model: %lld params, θ = 2e-3 selects %lld (%.2f %%); state bytes: full %zu, sara %zu "
            "(%zu with PPA pending), selective %zu\n", (long long)total, (long long)nnz, 100.0 * (double)nnz / (double)total,
            full->state_bytes(full), sara->state_bytes(sara), sara_ppa->state_bytes(sara_ppa), sel->state_bytes(sel));
    method_free(full);
    method_free(sara);
    method_free(sel);
    method_free(sara_ppa);
    unet_free(m);
}

TEST(sara_rejects_bad_options)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    method_options o;
    sara_opts(&o, "smallest", -1);
    train_method *meth = NULL;
    CHECK_ERR(method_create(&meth, "sara", m, &o), SARA_ERR_INVALID, "threshold");
    sara_opts(&o, "smallest", 2e-3);
    o.lambda_rank = -1;
    CHECK_ERR(method_create(&meth, "selective", m, &o), SARA_ERR_INVALID, "lambda_rank");
    sara_opts(&o, "smallest", 2e-3);
    o.targets = "no_such_tensor";
    CHECK_ERR(method_create(&meth, "sara", m, &o), SARA_ERR_INVALID, "no parameter tensor");
    CHECK_ERR(method_create(&meth, "sparse", m, &o), SARA_ERR_INVALID, "full, lora, sara, selective");
    CHECK(meth == NULL);
    unet_free(m);
}

/* ------------------------------------------------------------------------------------------ */

/* save_state → file → load_state into a method created afresh on the base weights restores every
 * packed buffer bit for bit, including tensors whose every entry froze at the progressive step
 * (zero-length state tensors); a run with other selection options or another base is refused. */
TEST(sara_state_round_trip_and_mismatch_errors)
{
    unet *m = NULL, *fresh = NULL;
    CHECK_OK(unet_load(&m, TINY));
    CHECK_OK(unet_reserve(m, TB));
    method_options o;
    sara_opts(&o, "smallest", 0.05);
    o.total_steps = 4;
    o.progressive_iter = 2;
    train_method *a = NULL, *b = NULL;
    CHECK_OK(method_create(&a, "sara", m, &o));
    sara_rng r;
    rng_seed(&r, 6);
    for (int s = 1; s <= 2; s++)
        CHECK_OK(tiny_train_step(m, &r, a, s, 0.05));
    char path[600];
    snprintf(path, sizeof path, "%s/state.safetensors", test_tmpdir());
    st_writer *w = NULL;
    CHECK_OK(st_writer_create(&w));
    CHECK_OK(a->save_state(a, w));
    CHECK_OK(st_writer_write(w, path));
    st_writer_free(w);
    st_file *f = NULL;
    CHECK_OK(safetensors_open(path, &f));
    CHECK_OK(unet_load(&fresh, TINY));
    CHECK_OK(method_create(&b, "sara", fresh, &o));
    CHECK_OK(b->load_state(b, f));
    int emptied = 0;
    param_table *p = unet_params(m);
    for (int i = 0; i < p->count; i++) {
        sara_tensor_view x, y;
        sara_method_view(a, i, &x);
        sara_method_view(b, i, &y);
        size_t n = (size_t)x.n;
        CHECK(x.n0 == y.n0 && x.n == y.n);
        if (x.n0)
            CHECK(!memcmp(x.idx0, y.idx0, (size_t)x.n0 * 8) && !memcmp(x.p0, y.p0, (size_t)x.n0 * 4));
        if (n)
            CHECK(!memcmp(x.idx, y.idx, n * 8) && !memcmp(x.m, y.m, n * 4) && !memcmp(x.v, y.v, n * 4));
        CHECK(b->sinks[i].kind == (y.n ? OPS_SINK_SPARSE : OPS_SINK_NONE) && (!y.n || b->sinks[i].index == y.idx));
        emptied += x.n0 > 0 && x.n == 0;
    }
    CHECK_MSG(emptied > 0, "no tensor froze completely: the zero-length case is not exercised");
    CHECK(sara_method_progressed(b) && b->trainable_count(b) == a->trainable_count(a));
    method_free(b);
    o.threshold = 0.04;
    CHECK_OK(method_create(&b, "sara", fresh, &o));
    CHECK_ERR(b->load_state(b, f), SARA_ERR_INVALID, "θ");
    method_free(b);
    o.threshold = 0.05;
    o.targets = "weights";
    CHECK_OK(method_create(&b, "sara", fresh, &o));
    CHECK_ERR(b->load_state(b, f), SARA_ERR_INVALID, "differ from this run's selection");
    method_free(b);
    o.targets = "all";
    unet_params(fresh)->data[0] += 1.0f;
    CHECK_OK(method_create(&b, "sara", fresh, &o));
    CHECK_ERR(b->load_state(b, f), SARA_ERR_INVALID, "another base model");
    method_free(b);
    safetensors_close(f);
    method_free(a);
    unet_free(m);
    unet_free(fresh);
}
