/* fid.c — Gaussian fits and the Fréchet distance (see fid.h).
 *
 * Why tr sqrt(S1^½ S2 S1^½) and not tr sqrtm(S1 S2) as the reference implementations write it:
 * S1 S2 is not symmetric, so its square root needs a general (Schur, complex) sqrtm whose
 * imaginary round-off has to be discarded by hand, and which fails on singular covariances
 * (fewer samples than features). S1^½ S2 S1^½ = A·(A S2) with A = S1^½, and (A S2)·A has the same
 * eigenvalues as A·(A S2) = S1 S2, so the traces of their square roots agree; but it is symmetric
 * positive semi-definite, so two symmetric eigen-decompositions (LAPACK dsyevd) give it in real
 * arithmetic, and eigenvalues that round-off pushed below zero are clamped to 0. */
#include "eval/fid.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

void fid_gaussian_free(fid_gaussian *g)
{
    free(g->mean);
    free(g->cov);
    memset(g, 0, sizeof *g);
}

sara_status fid_gaussian_fit(fid_gaussian *g, const float *features, int n, int d)
{
    memset(g, 0, sizeof *g);
    if (n < 2 || d < 1)
        return sara_fail(SARA_ERR_INVALID, "FID: a Gaussian fit needs at least 2 samples of width >= 1 (got %d of %d)",
                         n, d);
    double *x = malloc((size_t)n * (size_t)d * sizeof *x); /* (n, d) centred */
    g->mean = calloc((size_t)d, sizeof *g->mean);
    g->cov = malloc((size_t)d * (size_t)d * sizeof *g->cov);
    if (!x || !g->mean || !g->cov) {
        free(x);
        fid_gaussian_free(g);
        return sara_fail(SARA_ERR_NOMEM, "FID: out of memory for %d × %d features", n, d);
    }
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++) {
        if (!isfinite(features[i])) {
            free(x);
            fid_gaussian_free(g);
            return sara_fail(SARA_ERR_NUMERIC, "FID: feature %zu of sample %zu is not finite", i % (size_t)d,
                             i / (size_t)d);
        }
        x[i] = features[i];
        g->mean[i % (size_t)d] += x[i];
    }
    for (int j = 0; j < d; j++)
        g->mean[j] /= n;
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
        x[i] -= g->mean[i % (size_t)d];
    /* cov = xᵀx / (n − 1); dsyrk fills the upper triangle, mirrored below */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / (n - 1), x, d, 0.0, g->cov, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++)
            g->cov[(size_t)i * d + j] = g->cov[(size_t)j * d + i];
    free(x);
    g->n = n;
    g->d = d;
    return SARA_OK;
}

/* a (d, d) symmetric → its eigenvalues w (d) and, in a, the eigenvectors as columns. */
static sara_status sym_eigen(int d, double *a, double *w, const char *what)
{
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, a, d, w);
    if (info != 0)
        return sara_fail(SARA_ERR_NUMERIC, "FID: the eigen-decomposition of %s failed (LAPACK info %d)", what,
                         (int)info);
    return SARA_OK;
}

/* out (d, d) = V diag(f) Vᵀ for eigenvectors v (d, d) as columns; tmp (d, d). */
static void sym_rebuild(int d, const double *v, const double *f, double *tmp, double *out)
{
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++)
            tmp[(size_t)i * d + j] = v[(size_t)i * d + j] * f[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, tmp, d, v, d, 0.0, out, d);
}

sara_status fid_frechet(int d, const double *mu1, const double *s1, const double *mu2, const double *s2, double *out)
{
    if (d < 1)
        return sara_fail(SARA_ERR_INVALID, "FID: feature width %d", d);
    size_t dd = (size_t)d * (size_t)d;
    double *buf = malloc((4 * dd + 2 * (size_t)d) * sizeof *buf);
    if (!buf)
        return sara_fail(SARA_ERR_NOMEM, "FID: out of memory for %d × %d matrices", d, d);
    double *v = buf, *root = v + dd, *tmp = root + dd, *m = tmp + dd; /* each (d, d) */
    double *w = m + dd, *f = w + d;                                    /* each (d) */
    double diff2 = 0, trace = 0;
    for (int i = 0; i < d; i++) {
        diff2 += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        trace += s1[(size_t)i * d + i] + s2[(size_t)i * d + i];
    }
    memcpy(v, s1, dd * sizeof *v);
    sara_status s = sym_eigen(d, v, w, "the first covariance");
    if (s == SARA_OK) {
        for (int i = 0; i < d; i++)
            f[i] = sqrt(fmax(w[i], 0.0)); /* round-off negatives: the matrix is PSD */
        sym_rebuild(d, v, f, tmp, root); /* S1^½ */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, root, d, s2, d, 0.0, tmp, d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, tmp, d, root, d, 0.0, m, d);
        for (int i = 0; i < d; i++) /* symmetric up to round-off: make it exactly so */
            for (int j = 0; j < i; j++)
                m[(size_t)i * d + j] = m[(size_t)j * d + i] = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]);
        s = sym_eigen(d, m, w, "S1^½ S2 S1^½");
    }
    if (s == SARA_OK) {
        double tr_sqrt = 0;
        for (int i = 0; i < d; i++)
            tr_sqrt += sqrt(fmax(w[i], 0.0));
        double r = diff2 + trace - 2.0 * tr_sqrt;
        /* a distance: a tiny negative value is round-off */
        *out = r < 0 ? 0 : r;
        if (!isfinite(r))
            s = sara_fail(SARA_ERR_NUMERIC, "FID: the distance is not finite");
    }
    free(buf);
    return s;
}

sara_status fid_distance(const fid_gaussian *a, const fid_gaussian *b, double *out)
{
    if (a->d != b->d)
        return sara_fail(SARA_ERR_SHAPE, "FID: feature widths differ (%d and %d)", a->d, b->d);
    return fid_frechet(a->d, a->mean, a->cov, b->mean, b->cov, out);
}

sara_status fid_from_features(const float *fa, int na, const float *fb, int nb, int d, double *out)
{
    fid_gaussian a, b = {0};
    sara_status s = fid_gaussian_fit(&a, fa, na, d);
    if (s == SARA_OK)
        s = fid_gaussian_fit(&b, fb, nb, d);
    if (s == SARA_OK)
        s = fid_distance(&a, &b, out);
    fid_gaussian_free(&a);
    fid_gaussian_free(&b);
    return s;
}
