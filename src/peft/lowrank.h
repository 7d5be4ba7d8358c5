/* lowrank.h — SaRA's low-rank constraint: the nuclear norm ‖A‖_* (sum of singular values) and
 * its subgradient U Vᵀ, from an exact thin SVD (LAPACKE_dgesdd, in double). Singular values at
 * or below max(rows, cols)·DBL_EPSILON·σ_max are treated as zero and their vectors left out, so
 * the subgradient is U_r V_rᵀ over the numerical rank r: the minimum-norm element of the
 * subdifferential, unique even when A is rank-deficient (where a full U Vᵀ would depend on an
 * arbitrary basis of the null spaces). For a full-rank A it is PyTorch's gradient of
 * torch.linalg.matrix_norm(A, ord='nuc'). */
#ifndef SARA_PEFT_LOWRANK_H
#define SARA_PEFT_LOWRANK_H

#include <stdint.h>

#include "sara/sara.h"

/* *value = ‖a‖_* for a (rows, cols) row-major; if uvt is non-NULL it receives (rows, cols) U_r V_rᵀ.
 * A non-finite entry is SARA_ERR_NUMERIC; an SVD that does not converge too. */
sara_status lowrank_nuclear(const double *a, int64_t rows, int64_t cols, double *value, double *uvt);

/* The SaRA term of one tensor p viewed as (rows, cols) row-major with the trainable entries at the
 * sorted flat indices idx (nnz): A = P ⊙ M (p at idx, zero elsewhere). *value = ‖A‖_*, and
 * g[k] += scale · (U_r V_rᵀ)[idx[k]] for every k (g is the packed gradient, (nnz)).
 * Memory: three (rows, cols) doubles for the duration of the call. */
sara_status lowrank_masked_term(const float *p, int64_t rows, int64_t cols, const int64_t *idx, int64_t nnz,
                                double scale, double *value, float *g);

#endif
