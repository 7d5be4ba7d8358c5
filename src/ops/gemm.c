/* gemm.c — the matrix-multiply entry points of the kernels: row-major BLAS sgemm/dgemm, one
 * product (split in blocks over the OpenMP threads) or a batch of independent equal-shaped
 * products (threaded over the batch), every BLAS call on one BLAS thread. Inside a parallel
 * region (a kernel's own threads) both run on the calling thread. */
#include <cblas.h>
#include <omp.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

/* Products below this many flops run on the calling thread: splitting them would cost more
 * in waking threads (tens of µs each under a passive wait policy) than it saves. */
#define GEMM_SPLIT_MIN_FLOPS 4e6
/* Column blocks of a split product are multiples of this (whole SIMD vectors). */
#define GEMM_SPLIT_ALIGN 16

/* The BLAS call itself, on however many threads BLAS is set to. */
static void gemm_blas(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
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

/* Every product runs on one BLAS thread; a large one is split into one block of rows or of
 * columns (whichever side is longer) per OpenMP thread. Why not let OpenBLAS thread it: its
 * idle threads spin for a while after each call and then compete for the cores with the
 * OpenMP threads of the next kernel; this way only OpenMP threads ever run. Each entry of C
 * is formed by one BLAS call over all of K: results depend on the thread count only through
 * the block bounds, not on timing. */
void OPS_NAME(ops_gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                        const real *B, int ldb, real beta, real *C, int ldc)
{
    if (omp_in_parallel()) { /* a kernel's own threads: BLAS already set to one thread */
        gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int threads = omp_get_max_threads();
    if (threads <= 1 || 2.0 * M * N * K < GEMM_SPLIT_MIN_FLOPS) {
        int blas = ops_blas_threads_single();
        gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        ops_blas_threads_restore(blas);
        return;
    }
    int by_cols = N >= M, len = by_cols ? N : M;
    int step = (len + threads - 1) / threads;
    if (by_cols)
        step = (step + GEMM_SPLIT_ALIGN - 1) / GEMM_SPLIT_ALIGN * GEMM_SPLIT_ALIGN;
    int blas = ops_blas_threads_single();
#pragma omp parallel for schedule(static)
    for (int i0 = 0; i0 < len; i0 += step) {
        int n = len - i0 < step ? len - i0 : step;
        if (by_cols) /* C[:, i0:i0+n] = op(A) · op(B)[:, i0:i0+n] */
            gemm_blas(trans_a, trans_b, M, n, K, alpha, A, lda, trans_b ? B + (size_t)i0 * ldb : B + i0, ldb, beta,
                      C + i0, ldc);
        else /* C[i0:i0+n, :] = op(A)[i0:i0+n, :] · op(B) */
            gemm_blas(trans_a, trans_b, n, N, K, alpha, trans_a ? A + i0 : A + (size_t)i0 * lda, lda, B, ldb, beta,
                      C + (size_t)i0 * ldc, ldc);
    }
    ops_blas_threads_restore(blas);
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
        gemm_blas(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
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
