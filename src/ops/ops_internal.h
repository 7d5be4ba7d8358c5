/* ops_internal.h — private helpers shared by the src/ops kernels (include after real.h):
 * precision-matched libm calls and the per-element sink dispatcher. Not part of the public
 * interface; nothing outside src/ops includes it. */
#ifndef SARA_OPS_INTERNAL_H
#define SARA_OPS_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "ops/real.h"

/* libm at the working precision, so the float build never widens to double by accident. */
#ifdef OPS_DOUBLE
#define r_exp exp
#define r_log log
#define r_sqrt sqrt
#define r_sin sin
#define r_cos cos
#else
#define r_exp expf
#define r_log logf
#define r_sqrt sqrtf
#define r_sin sinf
#define r_cos cosf
#endif

/* Hot vectorised loops live in functions marked OPS_VECTOR_CLONES: GCC compiles them for
 * AVX-512, AVX2 and baseline x86-64 and picks one at load time (function multi-versioning),
 * because the build targets baseline x86-64, whose vectors hold 4 floats. The clones round
 * identically: no fast-math, and -std=c11 keeps floating-point contraction (FMA) off.
 * Parallel regions call such functions; the outlined OpenMP bodies themselves are not cloned. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define OPS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define OPS_VECTOR_CLONES
#endif

/* σ(x) = 1 / (1 + e^−x) inside vectorised loops (`#pragma omp simd`): libm's exp is an opaque
 * call per element, which kept SiLU scalar. The float build computes e = e^−|x| as 2^n · e^r,
 * n = round(−|x| / ln 2), |r| ≤ ln2 / 2, with e^r from its Taylor series to r⁷ (truncation
 * (ln2/2)⁸ / 8! ≈ 5e-9, below float rounding): σ is within ~2e-7 relative of the exact value.
 * Then σ = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, and σ = 0 below x = −87, where e^x would
 * leave the normal floats. Selections are made on the bits (integer compares), because float
 * compares may trap and so block if-conversion and vectorisation under GCC's default
 * -ftrapping-math. The double build keeps libm: its tests are finite differences at 1e-6. */
#ifdef OPS_DOUBLE
static inline double ops_sigmoid(double x) { return 1 / (1 + exp(-x)); }
#else
#define OPS_SIGMOID_CUT_BITS 0x42ae0000u      /* 87.0f: e^−87 ≈ 1.6e-38 is still a normal float */
#define OPS_ROUND_MAGIC 12582912.0f           /* 1.5 · 2^23: adding it rounds a float to an integer */
#define OPS_LN2_HI 0.693145751953125f         /* ln 2 in two parts, so that n · LN2_HI is exact */
#define OPS_LN2_LO 1.42860676533018704e-06f

/* e^−m for 0 ≤ m ≤ 87 */
static inline float ops_exp_neg(float m)
{
    float n = (m * -1.44269504088896341f + OPS_ROUND_MAGIC) - OPS_ROUND_MAGIC; /* round(−m · log2 e) */
    float r = (-m - n * OPS_LN2_HI) - n * OPS_LN2_LO;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23}; /* 2^n from its exponent bits; n ≥ −126 */
    return p * scale.f;
}

static inline float ops_sigmoid(float x)
{
    union fbits {
        float f;
        uint32_t u;
    } v = {.f = x}, m, num, one = {.f = 1.0f};
    uint32_t neg = 0u - (v.u >> 31);                            /* all ones for x < 0 */
    m.u = v.u & 0x7fffffffu;                                     /* |x| (NaN: ≥ the cut) */
    uint32_t far = 0u - (uint32_t)(m.u >= OPS_SIGMOID_CUT_BITS); /* all ones for |x| ≥ 87 */
    m.u = m.u < OPS_SIGMOID_CUT_BITS ? m.u : OPS_SIGMOID_CUT_BITS;
    float e = ops_exp_neg(m.f);
    num.f = e;
    num.u = ((num.u & ~far) & neg) | (one.u & ~neg); /* x < 0: e (0 when far), else 1 */
    return num.f / (1.0f + e);
}
#endif

/* The gradient of one flat element e of a parameter, computed on demand. Used for vector
 * parameters (biases, norm scales) so that no dense temporary has to be allocated and a
 * sparse sink only computes its selected entries. Must be safe to call from many threads. */
typedef real (*ops_elem_grad_fn)(const void *ctx, int64_t e);

/* sink += fn(e) for every wanted element e in [0, numel) (all of them for a dense sink, the
 * selected ones for a sparse sink); parallel over elements, each summed by one thread. */
void OPS_NAME(ops_sink_each)(const ops_sink_t *sink, int64_t numel, ops_elem_grad_fn fn, const void *ctx);

/* Reductions with OPS_LANES independent partial sums, combined in a fixed order: the compiler
 * vectorises them (a single accumulator is a serial chain it may not reorder), and the
 * result still depends only on n, never on threads. */
#define OPS_LANES 16

/* The OPS_LANES partial sums combined in a fixed tree: lane j + w into lane j for w = 8, 4, 2,
 * 1. Written out level by level because GCC keeps the loop over w a loop of scalar adds
 * through memory, which cost a short dot more than its products. */
_Static_assert(OPS_LANES == 16, "ops_lanes_sum is written out for 16 lanes");
static inline real ops_lanes_sum(real *acc)
{
    for (int j = 0; j < 8; j++)
        acc[j] += acc[j + 8];
    for (int j = 0; j < 4; j++)
        acc[j] += acc[j + 4];
    for (int j = 0; j < 2; j++)
        acc[j] += acc[j + 2];
    return acc[0] + acc[1];
}

static inline real ops_dot(const real *a, const real *b, int64_t n)
{
    real acc[OPS_LANES] = {0};
    int64_t p = 0;
    for (; p + OPS_LANES <= n; p += OPS_LANES)
        for (int j = 0; j < OPS_LANES; j++)
            acc[j] += a[p + j] * b[p + j];
    for (int j = 0; p < n; p++, j++)
        acc[j] += a[p] * b[p];
    return ops_lanes_sum(acc);
}

static inline real ops_sum(const real *a, int64_t n)
{
    real acc[OPS_LANES] = {0};
    int64_t p = 0;
    for (; p + OPS_LANES <= n; p += OPS_LANES)
        for (int j = 0; j < OPS_LANES; j++)
            acc[j] += a[p + j];
    for (int j = 0; p < n; p++, j++)
        acc[j] += a[p];
    return ops_lanes_sum(acc);
}

/* C_i (M, N) = alpha · op(A_i) op(B_i) + beta · C_i for i < count, where X_i = X + i·stride_x;
 * the products run in parallel, each on one thread (in turn on the calling thread when called
 * from a parallel region, like ops_gemm). */
void OPS_NAME(ops_gemm_batch)(int count, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                              int lda, size_t stride_a, const real *B, int ldb, size_t stride_b, real beta, real *C,
                              int ldc, size_t stride_c);

/* OpenBLAS to one thread (returns the count it had) and back: around OpenMP regions whose
 * threads call BLAS themselves, each for its own product. */
int ops_blas_threads_single(void);
void ops_blas_threads_restore(int n);

/* Winograd convolution (conv2d_winograd.c) for 3×3 stride-1 shapes, any padding:
 * conv2d.c routes such shapes here. scratch: conv_winograd_scratch_numel(s) elements. The weight
 * gradient goes to the dw sink (O, C, 3, 3) +=: dense, or sparse when
 * conv_winograd_sparse_applies(s) (gathered from row-block tiles, never the whole tensor's);
 * skipped when not wanted; dx likewise when NULL. */
int conv_winograd_applies(const ops_conv_shape *s);
int conv_winograd_sparse_applies(const ops_conv_shape *s);
size_t conv_winograd_scratch_numel(const ops_conv_shape *s);
void OPS_NAME(conv_winograd_forward)(real *y, const real *x, const real *w, const real *b, const ops_conv_shape *s,
                                     real *scratch);
void OPS_NAME(conv_winograd_backward)(real *dx, const ops_sink_t *dw, const real *dy, const real *x, const real *w,
                                      const ops_conv_shape *s, real *scratch);

/* The selected entries of a conv weight gradient (conv2d_sparse.c): dw sparse sink (O, C, KH, KW)
 * += from dy (B, O, Ho, Wo) and x (B, C, H, W); scratch: conv_sparse_scratch_numel(s). */
size_t conv_sparse_scratch_numel(const ops_conv_shape *s);
void OPS_NAME(conv_weight_grad_sparse)(const ops_sink_t *dw, const real *dy, const real *x, const ops_conv_shape *s,
                                       real *scratch);
/* 1 if a sparse weight gradient of nnz of numel entries takes the tile path: forced by
 * ops_sparse_dw_path_set, else density ≥ crossover. */
int ops_sparse_dw_use_tile(int64_t nnz, int64_t numel, double crossover);
/* 1 if a sparse weight gradient of nnz entries of a conv of shape s goes through Winograd's
 * row-block tiles (conv_winograd_backward with the sparse sink) instead of
 * conv_weight_grad_sparse: a 3×3 stride-1 shape that takes them, dense enough or forced TILE. */
int conv_sparse_dw_by_winograd(int64_t nnz, const ops_conv_shape *s);
/* Records a tile of numel elements for ops_sparse_dw_tile_peak. */
void ops_sparse_dw_tile_note(int64_t numel);

/* First k in [0, n) with index[k] >= e (index sorted ascending): where a sparse sink's entries
 * of a row block begin. */
static inline int64_t ops_index_lower_bound(const int64_t *index, int64_t n, int64_t e)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (index[mid] < e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 if the sink wants any gradient at all (non-NULL and not OPS_SINK_NONE). */
static inline int ops_sink_wanted(const ops_sink_t *sink)
{
    return sink && sink->kind != OPS_SINK_NONE && (sink->kind != OPS_SINK_SPARSE || sink->nnz > 0);
}

#endif
