/* attention.c — multi-head scaled dot-product self-attention without mask, on token-major
 * q, k, v (B, T, heads·D). Products run per (batch, head) through BLAS with leading dimension
 * heads·D (no head split copies); the softmax and its backward run row-parallel over all
 * (batch, head, query) rows between the BLAS calls, never around them. */
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
    int ld = heads * D;
    real scale = 1 / r_sqrt((real)D);
    size_t tt = (size_t)T * T;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) { /* S (T, T) = q_h (T, D) · k_hᵀ (D, T) / sqrt(D) */
            size_t off = (size_t)b * T * ld + (size_t)h * D;
            OPS_NAME(ops_gemm)(0, 1, T, T, D, scale, q + off, ld, k + off, ld, 0, probs + ((size_t)b * heads + h) * tt, T);
        }
    attention_softmax_rows(probs, (int64_t)B * heads * T, T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) { /* out_h (T, D) = P (T, T) · v_h (T, D) */
            size_t off = (size_t)b * T * ld + (size_t)h * D;
            OPS_NAME(ops_gemm)(0, 0, T, D, T, 1, probs + ((size_t)b * heads + h) * tt, T, v + off, ld, 0, out + off, ld);
        }
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
    int ld = heads * D;
    real scale = 1 / r_sqrt((real)D);
    size_t tt = (size_t)T * T;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            size_t off = (size_t)b * T * ld + (size_t)h * D;
            const real *p = probs + ((size_t)b * heads + h) * tt; /* (T, T) */
            if (dv) /* dv_h (T, D) += Pᵀ (T, T) · dout_h (T, D) */
                OPS_NAME(ops_gemm)(1, 0, T, D, T, 1, p, T, dout + off, ld, 1, dv + off, ld);
            if (dq || dk) /* dP (T, T) = dout_h (T, D) · v_hᵀ (D, T) */
                OPS_NAME(ops_gemm)(0, 1, T, T, D, 1, dout + off, ld, v + off, ld, 0, scratch + ((size_t)b * heads + h) * tt, T);
        }
    if (!dq && !dk)
        return;
    attention_softmax_backward_rows(scratch, probs, (int64_t)B * heads * T, T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < heads; h++) {
            size_t off = (size_t)b * T * ld + (size_t)h * D;
            const real *ds = scratch + ((size_t)b * heads + h) * tt; /* (T, T) */
            if (dq) /* dq_h (T, D) += dS · k_h / sqrt(D) */
                OPS_NAME(ops_gemm)(0, 0, T, D, T, scale, ds, T, k + off, ld, 1, dq + off, ld);
            if (dk) /* dk_h (T, D) += dSᵀ · q_h / sqrt(D) */
                OPS_NAME(ops_gemm)(1, 0, T, D, T, scale, ds, T, q + off, ld, 1, dk + off, ld);
        }
}
