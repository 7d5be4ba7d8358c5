/* gemm.c — the one matrix-multiply entry point of the kernels: row-major BLAS sgemm/dgemm.
 * OpenBLAS threads itself, so callers invoke this from serial code only (never inside an
 * OpenMP parallel region). */
#include <cblas.h>

#include "ops/real.h"

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
