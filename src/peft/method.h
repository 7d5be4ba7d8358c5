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
#include "model/unet.h"
#include "ops/ops.h"
#include "train/adamw.h"

typedef struct {
    adamw_hparams adamw;
    int64_t total_steps;        /* of the run (SaRA's progressive step defaults to half of it) */
    uint64_t seed;              /* random selection, random low-rank tensor choice */
    /* SaRA and selective (SPEC.md §2) */
    double threshold;           /* θ: select |p| < θ (2e-3) */
    int64_t budget;             /* > 0: select exactly the `budget` smallest |p| instead (ties by flat index) */
    const char *selection;      /* "smallest" (SaRA), "largest" or "random" (ablations, same count) */
    const char *targets;        /* "all" tensors, "weights" (ndim ≥ 2), or a substring of the names */
    int64_t progressive_iter;   /* re-selection step; < 0: total_steps / 2; ≥ total_steps: never */
    double lambda_rank;         /* nuclear-norm weight (5e-4); 0 disables the low-rank term */
    int lowrank_all;            /* 1: every eligible tensor each step; 0: one at random */
    int lowrank_conv;           /* 1: conv kernels (out, in·kh·kw) are eligible too */
    int lowrank_min_dim;        /* eligible when min(rows, cols) > this (64; tests lower it) */
    /* LoRA */
    int lora_rank;
    double lora_alpha;
    const char *lora_targets;   /* substring of the weight names to adapt (NULL or "": every conv and linear) */
} method_options;

void method_options_default(method_options *o);

typedef struct train_method train_method;
struct train_method {
    const char *name;
    unet *model;
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
    /* Optional (NULL for full): extra `"key":value` pairs for the step's metrics line, comma-separated,
     * no leading comma ("" when none) — e.g. SaRA's |M0|, |M1|, low-rank term. */
    void (*step_metrics)(train_method *self, char *buf, size_t cap);
    /* Optional (NULL for full): writes the adapter file of the run (SPEC.md §3) to path;
     * config_json is the effective training configuration for its metadata. */
    sara_status (*export_adapter)(train_method *self, const char *path, const char *config_json);
    void (*destroy)(train_method *self);
};

/* name: "full", "lora", "sara", "selective" (method.c's table). The method trains the model's parameters
 * (or what it attaches) in place. */
sara_status method_create(train_method **out, const char *name, unet *model, const method_options *o);
void method_free(train_method *m);

#endif
