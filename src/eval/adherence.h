/* adherence.h — prompt adherence for class-conditional models (the paper's CLIP-score role,
 * SPEC.md §5): for each requested class, the fraction of the samples generated for it that a
 * classifier assigns to it (arg-max of its logits); overall, the mean over the requested classes. */
#ifndef SARA_EVAL_ADHERENCE_H
#define SARA_EVAL_ADHERENCE_H

#include <stdint.h>

#include "sara/sara.h"

/* logits (n, k), requested (n) in [0, k) -> count (k) samples requested per class, per_class (k)
 * fraction classified as requested (NaN where count is 0), *overall the mean of per_class over
 * classes with count > 0. Ties in the logits go to the lowest class index. */
sara_status adherence_compute(const float *logits, const int64_t *requested, int n, int k, int *count,
                              double *per_class, double *overall);

#endif
