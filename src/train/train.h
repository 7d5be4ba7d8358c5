/* train.h — the training loop: dataset → batch → noise → model forward → loss → backward →
 * method (full / SaRA / LoRA) → optimizer → checkpoint. Deterministic: same seed and thread count
 * give a bit-identical run, and a resumed run is bit-identical to an uninterrupted one, because a
 * checkpoint holds the whole state (weights, optimizer moments, EMA, step, RNG, data position). */
#ifndef SARA_TRAIN_TRAIN_H
#define SARA_TRAIN_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "data/batch.h"
#include "data/dataset.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "peft/method.h"
#include "train/adamw.h"

typedef struct {
    const char *out_dir;        /* checkpoints/, model/, adapter.safetensors, metrics.jsonl go here */
    const char *method;         /* "full" */
    int64_t steps;              /* total optimizer steps */
    int batch;
    double lr;
    lr_schedule_kind lr_schedule;
    int64_t warmup;
    double max_grad_norm;       /* global-norm clipping; 0 disables */
    method_options method_opts; /* AdamW and the method's own options (total_steps and seed are set by train_run) */
    uint64_t seed;
    int64_t save_every;         /* checkpoint period in steps; 0: only at the end */
    int keep_last;              /* checkpoints kept (older ones deleted); ≥ 1 */
    double ema_decay;           /* 0: no EMA; else the exported model is the EMA of the weights */
    double label_dropout;       /* probability of training on the null label (for guidance) */
    int64_t null_label;         /* the "no class" label, or -1 */
    int resume;                 /* continue from the newest checkpoint in out_dir */
    int max_bad_steps;          /* stop after this many consecutive non-finite steps */
    int gradient_checkpointing; /* 1: re-run ResNet/attention heads in backward (less memory, same bits) */
    const char *config_json;    /* the effective configuration, stored in checkpoints (may be NULL) */
    /* Polled after every step (may be NULL): non-zero asks the run to stop. It writes a checkpoint
     * of the step just done and returns SARA_ERR_INTERRUPTED; --resume continues bit-exactly. The
     * library installs no signal handler: the CLI's SIGINT/SIGTERM handler sets this flag. */
    volatile sig_atomic_t *stop;
} train_options;

void train_options_default(train_options *o);

/* What training will hold in memory, reported once before step 1. */
typedef struct {
    size_t weights;             /* parameters */
    size_t method_state;        /* gradients + optimizer moments of the method */
    size_t ema;                 /* EMA copy of the weights (0 when off) */
    size_t activations;         /* saved forward activations at the batch size */
    size_t act_grads;           /* activation gradients during backward */
    size_t scratch;             /* im2col / attention scratch */
    size_t batch_buffers;       /* noisy inputs, targets, predictions */
    int64_t total_params, trainable_params;
    int64_t resumed_from;       /* step of the checkpoint resumed from, or 0 */
} train_memory;

typedef struct {
    const train_memory *memory; /* non-NULL only for the report before step 1 (step = resumed_from) */
    int64_t step, total;        /* step just done (1-based) of total */
    double loss, lr, grad_norm;
    double step_seconds;        /* wall time of this step */
    int skipped;                /* 1 if the step was skipped (non-finite loss or gradient) */
    const char *nonfinite;      /* when skipped: where the first NaN/Inf is — "parameter <name>",
                                 * "activation of <module>", "loss", "gradient of <name>" */
    int checkpointed;           /* 1 if a checkpoint was written after this step */
} train_progress;

typedef void (*train_progress_fn)(const train_progress *p, void *ctx);

/* Trains m in place on `data` with the noise schedule `sched`; calls cb after every step.
 * Faults: a step whose loss or gradient norm is not finite is skipped (no update) and the first
 * non-finite parameter, activation or gradient is named (train_progress.nonfinite, metrics.jsonl);
 * after max_bad_steps consecutive skipped steps the run stops with SARA_ERR_NUMERIC. Checkpoints
 * are written only from finite weights, and a periodic one due at a skipped step waits for the
 * next good step, so the newest checkpoint is always a good state. A checkpoint or output that
 * cannot be written stops the run with SARA_ERR_IO; the previous checkpoint is untouched. */
sara_status train_run(unet *m, const noise_schedule *sched, const sara_dataset *data, const train_options *o,
                      train_progress_fn cb, void *cb_ctx);

/* Newest checkpoint path in out_dir/checkpoints (into buf), or SARA_ERR_MISSING. */
sara_status train_find_checkpoint(const char *out_dir, char *buf, size_t cap);

#endif
