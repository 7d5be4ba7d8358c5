/* mask.h — SaRA's selection of trainable entries (SPEC.md §2): which tensors are targets, and
 * within them which flat entries form M0. One selection serves both "sara" and "selective".
 *
 * Order used everywhere: entries are ranked by the key (|p| in fp32, tensor order in the
 * parameter table, flat row-major index) — i.e. by |p|, ties broken first by the tensor's
 * position in the table, then by flat index. NaN ranks above +inf.
 *  - smallest (SaRA): threshold mode takes every target entry with |p| < θ (fp32 comparison, θ
 *    rounded to fp32; strict); budget mode takes exactly the first N entries of the order. The
 *    two agree: the threshold selection is the first #{|p| < θ} entries of the order.
 *  - largest (ablation): the LAST c entries of the order, c = the smallest selection's count
 *    (so among equal |p| at the boundary, the later (tensor, index) ones).
 *  - random (ablation): c entries uniformly without replacement (selection sampling over the
 *    target entries in (tensor, index) order, from rng_seed_stream(seed, MASK_RNG_STREAM)).
 * The threshold the progressive step re-applies is θ (threshold mode) or, for a budget, the
 * smallest fp32 θ with M0 ⊆ {|p| < θ} for the smallest selection: nextafterf of the N-th |p|.
 * The largest and random ablations re-apply that same θ (so their M1 is M0 ∩ {|P| < θ} too). */
#ifndef SARA_PEFT_MASK_H
#define SARA_PEFT_MASK_H

#include <stdint.h>

#include "core/params.h"
#include "peft/method.h"

#define MASK_RNG_STREAM 0x5a5a /* rng stream of the random selection (the loop uses 1) */

typedef struct {
    int count;          /* tensors (the parameter table's count) */
    int64_t *nnz;       /* (count) selected entries per tensor */
    int64_t **index;    /* (count) each (nnz[i]) sorted flat indices, NULL when nnz[i] = 0 */
    int64_t total;      /* Σ nnz */
    float threshold;    /* θ for the progressive step (see above) */
} sara_mask;

/* is_target (p->count): 1 for the tensors `targets` names: "all", "weights" (ndim ≥ 2), or
 * every tensor whose name contains the string. No tensor matching is an error. */
sara_status mask_targets(const param_table *p, const char *targets, uint8_t *is_target);

/* Selects M0 among the target entries of p per o->threshold / o->budget / o->selection / o->seed. */
sara_status mask_select(sara_mask *out, const param_table *p, const uint8_t *is_target, const method_options *o);

void mask_free(sara_mask *m);

#endif
