/* sara.h — the "sara" and "selective" methods (SPEC.md §1–2, §4) beyond the method interface:
 * read-only views of their masks and packed state, for tests and tools.
 *
 * sara: the trainable entries M0 of the target tensors are chosen once from the pretrained
 * weights (peft/mask.h); gradients go straight into packed buffers through sparse sinks (no dense
 * weight gradient is ever formed); AdamW runs on the packed values (moments packed too) and writes
 * only the selected entries of the model's dense weights, so every other entry stays bit-identical.
 * After clipping, step() adds the nuclear-norm subgradient λ·(U Vᵀ)[M] of one eligible tensor
 * (uniformly at random, or all) and, at the end of step `progressive_iter`, re-selects
 * M1 = M ∩ {|P| < θ}, keeping the moments of the survivors (progressive parameter adjustment).
 * selective: the same mask, low-rank term and re-selection, but every target tensor gets a DENSE
 * gradient buffer that is masked afterwards — the dense-gradient memory baseline (LT-SFT style). */
#ifndef SARA_PEFT_SARA_H
#define SARA_PEFT_SARA_H

#include <stdint.h>

#include "peft/method.h"

sara_status method_create_sara(train_method *self, const method_options *o);
sara_status method_create_selective(train_method *self, const method_options *o);

typedef struct {
    int64_t n0;             /* |M0| in this tensor */
    const int64_t *idx0;    /* (n0) sorted flat indices of M0 (what the adapter records) */
    const float *p0;        /* (n0) pretrained values at idx0 */
    int64_t n;              /* entries trained now: |M0|, or |M1| after the progressive step */
    const int64_t *idx;     /* (n) sorted flat indices of the current mask */
    const float *g, *m, *v; /* (n) packed gradient and AdamW moments */
} sara_tensor_view;

/* 1 if m is a "sara" or "selective" method (the views below need one). */
int sara_method_is(const train_method *m);
/* The state of parameter i (0 ≤ i < m->params->count). */
void sara_method_view(const train_method *m, int i, sara_tensor_view *out);
/* θ of the progressive step (the option, or the one a budget implied); 1 once it has happened. */
float sara_method_threshold(const train_method *m);
int sara_method_progressed(const train_method *m);
/* SHA-256 of the pretrained weights (peft/adapter.h), taken when the method was created. */
const char *sara_method_base_hash(const train_method *m);

#endif
