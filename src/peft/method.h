/* method.h — a fine-tuning method as the training loop sees it. The loop never knows which
 * method runs: it asks for the per-parameter gradient sinks to pass to unet_backward, then calls
 * zero_grad / grad_sum_squares / scale_grad / step, and save_state / load_state for checkpoints.
 * Only a method knows about masks (SaRA), adapters (LoRA) or dense gradients (full). Switching
 * method is one argument to method_create. */
#ifndef SARA_PEFT_METHOD_H
#define SARA_PEFT_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"
#include "core/safetensors.h"
#include "ops/ops.h"
#include "train/adamw.h"

typedef struct {
    adamw_hparams adamw;
} method_options;

void method_options_default(method_options *o);

typedef struct train_method train_method;
struct train_method {
    const char *name;
    param_table *params;     /* the model's parameters, trained in place */
    ops_sink *sinks;         /* (params->count): what unet_backward writes gradients into */
    void *state;
    void (*zero_grad)(train_method *self);
    double (*grad_sum_squares)(train_method *self);
    void (*scale_grad)(train_method *self, float factor);
    /* One optimizer update at 1-based step number `step` with learning rate lr. */
    void (*step)(train_method *self, int64_t step, double lr);
    int64_t (*trainable_count)(const train_method *self);
    /* Bytes of gradient and optimizer state this method holds. */
    size_t (*state_bytes)(const train_method *self);
    /* Adds the optimizer state tensors to w (borrowed until written). */
    sara_status (*save_state)(train_method *self, st_writer *w);
    /* Restores the optimizer state saved by save_state; `origin` names the file in errors. */
    sara_status (*load_state)(train_method *self, const st_file *f);
    void (*destroy)(train_method *self);
};

/* name: "full" (this version). The method trains `params` in place. */
sara_status method_create(train_method **out, const char *name, param_table *params, const method_options *o);
void method_free(train_method *m);

#endif
