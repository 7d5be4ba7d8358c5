/* lowrank.c — the nuclear norm and its subgradient through one thin SVD; see lowrank.h. Double
 * precision throughout: the SVD of a float matrix in float loses the small singular values that
 * decide the rank, and the cost is dominated by the SVD either way. */
#include "peft/lowrank.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* Thin SVD buffers of one (rows, cols) matrix: k = min(rows, cols). */
typedef struct {
    int64_t rows, cols, k;
    double *a;   /* (rows, cols), destroyed by the SVD */
    double *s;   /* (k) singular values, descending */
    double *u;   /* (rows, k) */
    double *vt;  /* (k, cols) */
} lowrank_svd;

static void svd_free(lowrank_svd *d)
{
    free(d->a);
    free(d->s);
    free(d->u);
    free(d->vt);
}

static sara_status svd_alloc(lowrank_svd *d, int64_t rows, int64_t cols)
{
    memset(d, 0, sizeof *d);
    if (rows <= 0 || cols <= 0 || rows > INT32_MAX || cols > INT32_MAX || rows > INT64_MAX / 8 / cols)
        return sara_fail(SARA_ERR_INVALID, "nuclear norm: invalid matrix size %lld×%lld", (long long)rows,
                         (long long)cols);
    d->rows = rows;
    d->cols = cols;
    d->k = rows < cols ? rows : cols;
    d->a = calloc((size_t)(rows * cols), sizeof(double));
    d->s = malloc((size_t)d->k * sizeof(double));
    d->u = malloc((size_t)(rows * d->k) * sizeof(double));
    d->vt = malloc((size_t)(d->k * cols) * sizeof(double));
    if (!d->a || !d->s || !d->u || !d->vt) {
        svd_free(d);
        return sara_fail(SARA_ERR_NOMEM, "nuclear norm: out of memory for a %lld×%lld SVD", (long long)rows,
                         (long long)cols);
    }
    return SARA_OK;
}

/* Runs the SVD of d->a; returns the numerical rank r in *rank and Σ σ in *value. */
static sara_status svd_run(lowrank_svd *d, int64_t *rank, double *value)
{
    for (int64_t e = 0; e < d->rows * d->cols; e++)
        if (!isfinite(d->a[e]))
            return sara_fail(SARA_ERR_NUMERIC, "nuclear norm: non-finite entry at flat index %lld", (long long)e);
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)d->rows, (lapack_int)d->cols, d->a,
                                     (lapack_int)d->cols, d->s, d->u, (lapack_int)d->k, d->vt, (lapack_int)d->cols);
    if (info != 0)
        return sara_fail(SARA_ERR_NUMERIC, "nuclear norm: SVD of a %lld×%lld matrix failed (LAPACK info %d)",
                         (long long)d->rows, (long long)d->cols, (int)info);
    /* numpy's matrix_rank tolerance: below it a singular value is rounding noise. */
    double tol = (double)(d->rows > d->cols ? d->rows : d->cols) * DBL_EPSILON * d->s[0];
    double sum = 0;
    int64_t r = 0;
    for (int64_t i = 0; i < d->k; i++) {
        sum += d->s[i];
        r += d->s[i] > tol;
    }
    *rank = r;
    *value = sum;
    return SARA_OK;
}

/* (U_r V_rᵀ)[i, j]: the dot product of row i of U and column j of Vᵀ over the first r vectors. */
static inline double uvt_at(const lowrank_svd *d, int64_t r, int64_t i, int64_t j)
{
    double s = 0;
    for (int64_t q = 0; q < r; q++)
        s += d->u[i * d->k + q] * d->vt[q * d->cols + j];
    return s;
}

sara_status lowrank_nuclear(const double *a, int64_t rows, int64_t cols, double *value, double *uvt)
{
    lowrank_svd d;
    SARA_TRY(svd_alloc(&d, rows, cols));
    memcpy(d.a, a, (size_t)(rows * cols) * sizeof(double));
    int64_t r = 0;
    sara_status s = svd_run(&d, &r, value);
    if (s == SARA_OK && uvt)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                uvt[i * cols + j] = uvt_at(&d, r, i, j);
    svd_free(&d);
    return s;
}

sara_status lowrank_masked_term(const float *p, int64_t rows, int64_t cols, const int64_t *idx, int64_t nnz,
                                double scale, double *value, float *g)
{
    lowrank_svd d;
    SARA_TRY(svd_alloc(&d, rows, cols));
    for (int64_t k = 0; k < nnz; k++)
        d.a[idx[k]] = p[idx[k]];
    int64_t r = 0;
    sara_status s = svd_run(&d, &r, value);
    /* Only the masked entries of U Vᵀ are needed: nnz·r work instead of a rows·cols·r product. */
    if (s == SARA_OK) {
#pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < nnz; k++)
            g[k] += (float)(scale * uvt_at(&d, r, idx[k] / cols, idx[k] % cols));
    }
    svd_free(&d);
    return s;
}
