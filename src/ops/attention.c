/* attention.c — multi-head scaled dot-product self-attention without mask, on token-major
 * q, k, v (B, T, heads·D). Products run per (batch, head) through BLAS with leading dimension
 * heads·D (no head split copies), for each head the batch items in parallel; the softmax and
 * its backward run row-parallel over all (batch, head, query) rows between the products. */
#include "ops/real.h"
#include "ops/ops_internal.h"

#ifndef OPS_DOUBLE
size_t attention_scratch_numel(int B, int T, int heads)
{
    return (size_t)B * heads * (size_t)T * T;
}
#endif

/* Row-wise softmax in place over rows (rows, T), max subtracted for range safety. */
static void attention_softmax_rows(real *p, int64_t rows, int T)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        real *row = p + (size_t)r * T;
        real mx = row[0];
        for (int j = 1; j < T; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (int j = 0; j < T; j++)
            row[j] = r_exp(row[j] - mx);
        real inv = 1 / ops_sum(row, T);
        for (int j = 0; j < T; j++)
            row[j] *= inv;
    }
}

void OPS_NAME(attention_forward)(real *out, real *probs, const real *q, const real *k, const real *v, int B, int T,
                                 int heads, int D)
{
    OPS_PROF_SCOPE(OPS_PROF_ATTN);
    int ld = heads * D;
    real scale = 1 / r_sqrt((real)D);
    size_t tt = (size_t)T * T, xs = (size_t)T * ld, ps = (size_t)heads * tt; /* per-item strides */
    for (int h = 0; h < heads; h++) /* S (T, T) = q_h (T, D) · k_hᵀ (D, T) / sqrt(D), items in parallel */
        OPS_NAME(ops_gemm_batch)(B, 0, 1, T, T, D, scale, q + (size_t)h * D, ld, xs, k + (size_t)h * D, ld, xs, 0,
                                 probs + (size_t)h * tt, T, ps);
    attention_softmax_rows(probs, (int64_t)B * heads * T, T);
    for (int h = 0; h < heads; h++) /* out_h (T, D) = P (T, T) · v_h (T, D) */
        OPS_NAME(ops_gemm_batch)(B, 0, 0, T, D, T, 1, probs + (size_t)h * tt, T, ps, v + (size_t)h * D, ld, xs, 0,
                                 out + (size_t)h * D, ld, xs);
}

/* dS = P ⊙ (dP − rowsum(dP ⊙ P)), in place over dP (rows, T). */
static void attention_softmax_backward_rows(real *dp, const real *p, int64_t rows, int T)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        real *g = dp + (size_t)r * T;
        const real *pr = p + (size_t)r * T;
        real s = ops_dot(g, pr, T);
        for (int j = 0; j < T; j++)
            g[j] = pr[j] * (g[j] - s);
    }
}

void OPS_NAME(attention_backward)(real *dq, real *dk, real *dv, const real *dout, const real *probs, const real *q,
                                  const real *k, const real *v, int B, int T, int heads, int D, real *scratch)
{
    OPS_PROF_SCOPE(OPS_PROF_ATTN);
    int ld = heads * D;
    real scale = 1 / r_sqrt((real)D);
    size_t tt = (size_t)T * T, xs = (size_t)T * ld, ps = (size_t)heads * tt; /* per-item strides */
    for (int h = 0; h < heads; h++) {
        size_t off = (size_t)h * D;
        if (dv) /* dv_h (T, D) += Pᵀ (T, T) · dout_h (T, D) */
            OPS_NAME(ops_gemm_batch)(B, 1, 0, T, D, T, 1, probs + h * tt, T, ps, dout + off, ld, xs, 1, dv + off, ld,
                                     xs);
        if (dq || dk) /* dP (T, T) = dout_h (T, D) · v_hᵀ (D, T) */
            OPS_NAME(ops_gemm_batch)(B, 0, 1, T, T, D, 1, dout + off, ld, xs, v + off, ld, xs, 0, scratch + h * tt, T,
                                     ps);
    }
    if (!dq && !dk)
        return;
    attention_softmax_backward_rows(scratch, probs, (int64_t)B * heads * T, T);
    for (int h = 0; h < heads; h++) {
        size_t off = (size_t)h * D;
        if (dq) /* dq_h (T, D) += dS · k_h / sqrt(D) */
            OPS_NAME(ops_gemm_batch)(B, 0, 0, T, D, T, scale, scratch + h * tt, T, ps, k + off, ld, xs, 1, dq + off,
                                     ld, xs);
        if (dk) /* dk_h (T, D) += dSᵀ · q_h / sqrt(D) */
            OPS_NAME(ops_gemm_batch)(B, 1, 0, T, D, T, scale, scratch + h * tt, T, ps, q + off, ld, xs, 1, dk + off,
                                     ld, xs);
    }
}
