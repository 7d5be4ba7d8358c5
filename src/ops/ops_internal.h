/* ops_internal.h — private helpers shared by the src/ops kernels (include after real.h):
 * precision-matched libm calls and the per-element sink dispatcher. Not part of the public
 * interface; nothing outside src/ops includes it. */
#ifndef SARA_OPS_INTERNAL_H
#define SARA_OPS_INTERNAL_H

#include <math.h>

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

static inline real ops_dot(const real *a, const real *b, int64_t n)
{
    real acc[OPS_LANES] = {0};
    int64_t p = 0;
    for (; p + OPS_LANES <= n; p += OPS_LANES)
        for (int j = 0; j < OPS_LANES; j++)
            acc[j] += a[p + j] * b[p + j];
    for (int j = 0; p < n; p++, j++)
        acc[j] += a[p] * b[p];
    for (int w = OPS_LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
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
    for (int w = OPS_LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++)
            acc[j] += acc[j + w];
    return acc[0];
}

/* C_i (M, N) = alpha · op(A_i) op(B_i) + beta · C_i for i < count, where X_i = X + i·stride_x;
 * the products run in parallel, each on one thread. Serial callers only, like ops_gemm. */
void OPS_NAME(ops_gemm_batch)(int count, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                              int lda, size_t stride_a, const real *B, int ldb, size_t stride_b, real beta, real *C,
                              int ldc, size_t stride_c);

/* Winograd F(2×2, 3×3) convolution (conv2d_winograd.c) for 3×3 stride-1 shapes, any padding:
 * conv2d.c routes such shapes here. scratch: conv_winograd_scratch_numel(s) elements. The weight
 * gradient goes to a dense dw (O, C, 3, 3) +=, or is skipped when dw is NULL; likewise dx. */
int conv_winograd_applies(const ops_conv_shape *s);
size_t conv_winograd_scratch_numel(const ops_conv_shape *s);
void OPS_NAME(conv_winograd_forward)(real *y, const real *x, const real *w, const real *b, const ops_conv_shape *s,
                                     real *scratch);
void OPS_NAME(conv_winograd_backward)(real *dx, real *dw, const real *dy, const real *x, const real *w,
                                      const ops_conv_shape *s, real *scratch);

/* 1 if the sink wants any gradient at all (non-NULL and not OPS_SINK_NONE). */
static inline int ops_sink_wanted(const ops_sink_t *sink)
{
    return sink && sink->kind != OPS_SINK_NONE && (sink->kind != OPS_SINK_SPARSE || sink->nnz > 0);
}

#endif
