/* fid.h — the Fréchet distance between Gaussian fits of two feature sets (the "FID" of a
 * feature network, SPEC.md §5): fitting mean and covariance in double, and the distance
 * d² = |μ1 − μ2|² + tr S1 + tr S2 − 2·tr sqrt(S1^½ S2 S1^½) with a symmetric eigen-solver.
 * FID from a few hundred samples is biased upward (the covariance estimate is noisy and the
 * bias shrinks like 1/n): compare numbers only at equal sample counts. */
#ifndef SARA_EVAL_FID_H
#define SARA_EVAL_FID_H

#include "sara/sara.h"

typedef struct {
    int n, d;      /* samples fitted, feature width */
    double *mean;  /* (d) */
    double *cov;   /* (d, d), row-major, unbiased (divided by n − 1) */
} fid_gaussian;

/* Fits features (n, d) (n >= 2). Non-finite features are an error. */
sara_status fid_gaussian_fit(fid_gaussian *g, const float *features, int n, int d);
/* Frees and zeroes; safe on a zeroed or freed fit. */
void fid_gaussian_free(fid_gaussian *g);

/* The squared Fréchet distance between N(mu1, s1) and N(mu2, s2): mu (d), s (d, d) symmetric
 * positive semi-definite (round-off negatives are tolerated). */
sara_status fid_frechet(int d, const double *mu1, const double *s1, const double *mu2, const double *s2, double *out);

/* fid_frechet of two fits of the same width. */
sara_status fid_distance(const fid_gaussian *a, const fid_gaussian *b, double *out);

/* Fits both feature sets (na, d) and (nb, d) and returns their distance. */
sara_status fid_from_features(const float *fa, int na, const float *fb, int nb, int d, double *out);

#endif
