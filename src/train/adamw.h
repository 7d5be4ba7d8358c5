/* adamw.h — AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction, eps
 * added after the square root), on flat float arrays; global-norm gradient clipping as
 * torch.nn.utils.clip_grad_norm_; learning-rate schedules as diffusers' get_scheduler. */
#ifndef SARA_TRAIN_ADAMW_H
#define SARA_TRAIN_ADAMW_H

#include <stdint.h>

#include "sara/sara.h"

typedef struct {
    double beta1, beta2, eps, weight_decay;   /* 0.9, 0.999, 1e-8, 1e-2 */
} adamw_hparams;

void adamw_default(adamw_hparams *h);
/* One step at 1-based step number `step`: p, m, v (n) updated in place from g (n). */
void adamw_update(float *p, const float *g, float *m, float *v, int64_t n, const adamw_hparams *h, int64_t step,
                  double lr);
/* The same update on the entries p[idx[k]] of a dense array, with packed g, m, v (n): bit-identical
 * to adamw_update on those entries. Entries not listed are never read or written. */
void adamw_update_indexed(float *p, const int64_t *idx, const float *g, float *m, float *v, int64_t n,
                          const adamw_hparams *h, int64_t step, double lr);

/* Σ g² over n, accumulated in double (deterministic order). */
double grad_sum_squares(const float *g, int64_t n);
/* torch's clip factor: min(1, max_norm / (norm + 1e-6)); max_norm ≤ 0 disables (returns 1). */
double clip_factor(double norm, double max_norm);

typedef enum { LR_CONSTANT, LR_COSINE, LR_LINEAR } lr_schedule_kind;
sara_status lr_schedule_parse(const char *name, lr_schedule_kind *k);
const char *lr_schedule_name(lr_schedule_kind k);
/* lr at 0-based step `step` of `total`, with linear warm-up over `warmup` steps (diffusers'
 * get_constant_schedule_with_warmup / get_cosine_schedule_with_warmup / get_linear_schedule_with_warmup). */
double lr_at(lr_schedule_kind k, double base_lr, int64_t step, int64_t warmup, int64_t total);

#endif
