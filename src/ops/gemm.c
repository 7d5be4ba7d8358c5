/* gemm.c — the matrix-multiply entry points of the kernels: row-major BLAS sgemm/dgemm, one
 * product (threaded by OpenBLAS) or a batch of independent equal-shaped products (threaded by
 * OpenMP over the batch, one BLAS thread each). OpenBLAS threads itself, so callers invoke
 * these from serial code only (never inside an OpenMP parallel region). */
#include <cblas.h>
#include <omp.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(ops_gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                        const real *B, int ldb, real beta, real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* BLAS would leave C untouched for K = 0 only when beta = 1; be explicit. */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#ifdef OPS_DOUBLE
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void OPS_NAME(ops_gemm_batch)(int count, int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A,
                              int lda, size_t stride_a, const real *B, int ldb, size_t stride_b, real beta, real *C,
                              int ldc, size_t stride_c)
{
    int threads = omp_get_max_threads();
    if (threads <= 1 || count <= 1 || omp_in_parallel()) {
        for (int i = 0; i < count; i++)
            OPS_NAME(ops_gemm)(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                               C + i * stride_c, ldc);
        return;
    }
    /* One product per thread at a time, each on one BLAS thread: no BLAS thread hand-offs per
     * call, and every product is summed by one thread (deterministic). */
    int blas_threads = ops_blas_threads_single();
#pragma omp parallel for schedule(static)
    for (int i = 0; i < count; i++)
        OPS_NAME(ops_gemm)(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                           C + i * stride_c, ldc);
    ops_blas_threads_restore(blas_threads);
}

#ifndef OPS_DOUBLE
int ops_blas_threads_single(void)
{
    int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return n;
}

void ops_blas_threads_restore(int n) { openblas_set_num_threads(n); }
#endif
