/* cmd_train.c — `sara train`: builds or loads the model, loads the data, prints the effective
 * configuration and the memory plan, trains with a progress line, then exports the model folder
 * (diffusers layout + sara.json) and a sample grid. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/status.h"
#include "core/sysmem.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "diffusion/sampler.h"
#include "model/unet.h"
#include "options.h"
#include "train/model_info.h"
#include "train/sample.h"
#include "train/train.h"

#define FASHION_MNIST "fashion-mnist"
#define DENSE_DEFAULT_LR 1e-3 /* full and lora, when --lr is not given */

/* SaRA's learning rate for a threshold θ: the official recipe's fit 1e-3·exp(−350·θ) (SPEC.md §2).
 * With --budget the formula still uses --threshold (the budget's θ is known only after selection). */
static double sara_default_lr(double theta) { return 1e-3 * exp(-350.0 * theta); }

typedef struct {
    const char *config, *out, *init, *model_config, *data, *data_dir, *method, *lr_schedule;
    const char *beta_schedule, *prediction_type, *lora_targets;
    const char *selection, *targets;               /* sara / selective */
    int64_t budget, progressive_iter;
    double threshold, lambda_rank;
    int lowrank_all, lowrank_conv;
    int limit, batch, keep_last, threads, num_train_timesteps, samples_per_class, sample_steps, log_every, lora_rank;
    int max_bad_steps;
    int64_t steps, warmup, seed, save_every;
    double lora_alpha;
    double lr, max_grad_norm, weight_decay, beta1, beta2, adam_eps, ema_decay, label_dropout, guidance;
    int resume, random_crop, gradient_checkpointing;
} train_args;

#define R(field, type, name, def, help) OPT_ROW(train_args, field, type, name, def, help)
static const opt_spec train_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options (keys with _); the command line overrides it"),
    R(out, OPT_STRING, "out", "runs/default", "output folder: model/, checkpoints/, metrics.jsonl, samples.png"),
    R(init, OPT_STRING, "init", NULL, "model folder to fine-tune (config.json + diffusion_pytorch_model.safetensors)"),
    R(model_config, OPT_STRING, "model-config", NULL, "diffusers config.json to train from scratch (default: built-in)"),
    R(data, OPT_STRING, "data", FASHION_MNIST, "'fashion-mnist' or an image folder (class folders, metadata.jsonl, .txt)"),
    R(data_dir, OPT_STRING, "data-dir", NULL, "where the Fashion-MNIST idx files are (default: found automatically)"),
    R(limit, OPT_INT, "limit", "0", "use only the first N images (0: all)"),
    R(random_crop, OPT_FLAG, "random-crop", NULL, "image folders: a seeded random square crop per image instead of the center"),
    R(method, OPT_STRING, "method", "full", "fine-tuning method: full, lora, sara or selective (SaRA's mask, dense gradients)"),
    R(lora_rank, OPT_INT, "lora-rank", "8", "LoRA rank r"),
    R(lora_alpha, OPT_DOUBLE, "lora-alpha", "8", "LoRA alpha (the branch is scaled by alpha / r)"),
    R(lora_targets, OPT_STRING, "lora-targets", NULL, "adapt only weights whose names contain this (default: every conv and linear)"),
    R(steps, OPT_I64, "steps", "1000", "optimizer steps"),
    R(batch, OPT_INT, "batch", "32", "batch size"),
    R(lr, OPT_DOUBLE, "lr", "0", "peak learning rate; 0: the method's default (full, lora 1e-3; sara/selective "
                                 "1e-3·exp(−350·threshold), 4.97e-4 at 2e-3)"),
    R(lr_schedule, OPT_STRING, "lr-schedule", "cosine", "constant, cosine or linear"),
    R(warmup, OPT_I64, "warmup", "0", "linear warm-up steps"),
    R(max_grad_norm, OPT_DOUBLE, "max-grad-norm", "1.0", "global gradient-norm clipping (0: off)"),
    R(weight_decay, OPT_DOUBLE, "weight-decay", "1e-2", "AdamW decoupled weight decay"),
    R(beta1, OPT_DOUBLE, "beta1", "0.9", "AdamW beta1"),
    R(beta2, OPT_DOUBLE, "beta2", "0.999", "AdamW beta2"),
    R(adam_eps, OPT_DOUBLE, "adam-eps", "1e-8", "AdamW epsilon"),
    R(ema_decay, OPT_DOUBLE, "ema-decay", "0", "export an EMA of the weights with this decay (0: off)"),
    R(label_dropout, OPT_DOUBLE, "label-dropout", "0.1", "probability of the null label, for guidance (needs a spare class)"),
    R(seed, OPT_I64, "seed", "0", "random seed (data order, noise, timesteps, initial weights)"),
    R(save_every, OPT_I64, "save-every", "500", "checkpoint every N steps (and at the end)"),
    R(keep_last, OPT_INT, "keep-last", "2", "checkpoints to keep"),
    R(resume, OPT_FLAG, "resume", NULL, "continue from the newest checkpoint in --out"),
    R(max_bad_steps, OPT_INT, "max-bad-steps", "10", "stop after this many consecutive steps with a NaN/Inf loss or "
                                                     "gradient (each is skipped; the last good checkpoint is kept)"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
    R(gradient_checkpointing, OPT_FLAG, "gradient-checkpointing", NULL, "keep only block outputs and re-run each ResNet/"
                                        "attention block's first half in backward: less memory, same gradients, slower"),
    R(beta_schedule, OPT_STRING, "beta-schedule", "linear", "noise schedule when training from scratch"),
    R(prediction_type, OPT_STRING, "prediction-type", "epsilon", "epsilon or v_prediction (from scratch)"),
    R(num_train_timesteps, OPT_INT, "num-train-timesteps", "1000", "diffusion steps (from scratch)"),
    R(samples_per_class, OPT_INT, "samples-per-class", "8", "columns of the final sample grid (0: none)"),
    R(sample_steps, OPT_INT, "sample-steps", "50", "DDIM steps for the sample grid"),
    R(guidance, OPT_DOUBLE, "guidance", "1.0", "classifier-free guidance scale for the sample grid"),
    R(log_every, OPT_INT, "log-every", "10", "progress line period when stderr is not a terminal"),
    /* sara / selective (SPEC.md §2) */
    R(threshold, OPT_DOUBLE, "threshold", "2e-3", "sara: train the entries with |p| < threshold"),
    R(budget, OPT_I64, "budget", "0", "sara: train exactly the N smallest |p| instead (0: use --threshold)"),
    R(selection, OPT_STRING, "selection", "smallest", "sara: smallest, or largest / random of the same count (ablations)"),
    R(targets, OPT_STRING, "targets", "all", "sara: all tensors, weights (ndim >= 2), or tensors whose name contains S"),
    R(progressive_iter, OPT_I64, "progressive-iter", "-1", "sara: re-selection step (-1: steps/2; >= steps: never)"),
    R(lambda_rank, OPT_DOUBLE, "lambda-rank", "5e-4", "sara: nuclear-norm weight (0: no low-rank term)"),
    R(lowrank_all, OPT_FLAG, "lowrank-all", NULL, "sara: low-rank term on every eligible tensor each step (default: one at random)"),
    R(lowrank_conv, OPT_FLAG, "lowrank-conv", NULL, "sara: conv kernels (out, in·kh·kw) are eligible for the low-rank term too"),
};
#undef R

static const opt_table train_table = {
    "train", "sara train — train or fine-tune a diffusion UNet on the CPU", "sara train [options]", train_specs,
    (int)(sizeof train_specs / sizeof train_specs[0]), 0};

void cli_default_model_config(unet_config *c)
{
    unet_config_default(c);
    c->sample_size = 32;
    c->in_channels = c->out_channels = 1;
    c->num_blocks = 3;
    int channels[3] = {32, 64, 64};
    for (int i = 0; i < 3; i++) {
        c->block_out_channels[i] = channels[i];
        c->down_attn[i] = i == 2; /* attention at the 8×8 level */
        c->up_attn[i] = i == 0;
    }
    c->layers_per_block = 1;
    c->norm_num_groups = 8;
    c->attention_head_dim = 32;
    c->num_class_embeds = 11; /* ten Fashion-MNIST classes + the null class */
}

typedef struct {
    int tty, log_every;
    int checkpointing;         /* --gradient-checkpointing, for the advice when memory is short */
    int64_t steps_done;
    double elapsed;
} progress_state;

/* A plan larger than what the machine can give now would end in an out-of-memory kill, maybe
 * hours in: say so before step 1 (a warning, not an error: memory may be freed meanwhile). */
static void warn_if_short(size_t total, int checkpointing)
{
    size_t avail = 0;
    char b[2][32];
    if (sysmem_available(SYSMEM_MEMINFO, &avail) != SARA_OK || total <= avail)
        return;
    fprintf(stderr, "warning: the plan needs %s but %s is available now: lower --batch%s\n",
            cli_bytes(total, b[0], 32), cli_bytes(avail, b[1], 32), checkpointing ? "" : " or add --gradient-checkpointing");
}

static void print_plan(const train_memory *m, int checkpointing)
{
    char b[7][32];
    size_t total = m->weights + m->method_state + m->ema + m->activations + m->act_grads + m->scratch + m->batch_buffers;
    fprintf(stderr,
            "memory plan: weights %s | gradients+optimizer %s | ema %s | activations %s | activation grads %s | "
            "scratch+batch %s | total %s\n",
            cli_bytes(m->weights, b[0], 32), cli_bytes(m->method_state, b[1], 32), cli_bytes(m->ema, b[2], 32),
            cli_bytes(m->activations, b[3], 32), cli_bytes(m->act_grads, b[4], 32),
            cli_bytes(m->scratch + m->batch_buffers, b[5], 32), cli_bytes(total, b[6], 32));
    warn_if_short(total, checkpointing);
    fprintf(stderr, "parameters: %" PRId64 " total, %" PRId64 " trainable\n", m->total_params, m->trainable_params);
    if (m->resumed_from)
        fprintf(stderr, "resuming after step %" PRId64 "\n", m->resumed_from);
}

static void on_progress(const train_progress *p, void *ctx)
{
    progress_state *ps = ctx;
    if (p->memory) {
        print_plan(p->memory, ps->checkpointing);
        return;
    }
    ps->elapsed += p->step_seconds;
    double rate = ps->elapsed > 0 ? (double)(++ps->steps_done) / ps->elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - p->step) / rate : 0;
    int last = p->step == p->total;
    if (!ps->tty && !last && !p->skipped && p->step % ps->log_every)
        return;
    fprintf(stderr, "%sstep %" PRId64 "/%" PRId64 " | %.2f it/s | ETA %d:%02d | loss %.4f | lr %.2e | grad norm %.3f%s%s%s",
            ps->tty ? "\r\033[K" : "", p->step, p->total, rate, (int)(eta / 60), (int)eta % 60, p->loss, p->lr,
            p->grad_norm, p->skipped ? " | SKIPPED, non-finite: " : "", p->skipped && p->nonfinite ? p->nonfinite : "",
            ps->tty && !last && !p->skipped ? "" : "\n"); /* on a terminal a skipped step keeps its line */
}

/* ---- SIGINT / SIGTERM: the handler only sets a flag that train_run polls after each step; the
 * run then writes a checkpoint and returns SARA_ERR_INTERRUPTED. SA_RESETHAND makes a second
 * Ctrl-C kill at once, as users expect when a step is slow. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void stop_signals_install(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

/* After training: sampling is not interruptible with a checkpoint, so signals kill again. */
static void stop_signals_restore(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

static sara_status build_model(const train_args *a, unet **m, model_info *mi)
{
    if (a->init) {
        SARA_TRY(unet_load(m, a->init));
        return model_info_load(mi, a->init, unet_get_config(*m));
    }
    unet_config c;
    if (a->model_config)
        SARA_TRY(unet_config_load(&c, a->model_config));
    else
        cli_default_model_config(&c);
    SARA_TRY(unet_create(m, &c));
    SARA_TRY(unet_init_random(*m, (uint64_t)a->seed));
    model_info_default(mi, &c);
    mi->num_classes = 0; /* set from the dataset */
    SARA_TRY(schedule_kind_parse(a->beta_schedule, &mi->beta_schedule));
    SARA_TRY(prediction_kind_parse(a->prediction_type, &mi->prediction));
    mi->num_train_timesteps = a->num_train_timesteps;
    return SARA_OK;
}

static sara_status load_data(const train_args *a, const unet_config *c, const model_info *mi, sara_dataset *d)
{
    if (!strcmp(a->data, FASHION_MNIST))
        return dataset_load_fashion_mnist(d, a->data_dir, "train", a->limit, c->sample_size);
    /* A fine-tuned conditional model keeps its classes: captions must name them. */
    const char *names[MODEL_INFO_MAX_CLASSES];
    int fixed = a->init && mi->num_classes > 0 ? mi->num_classes : 0;
    for (int i = 0; i < fixed; i++)
        names[i] = mi->class_names[i];
    SARA_TRY(dataset_load_folder(d, a->data, c->sample_size, c->in_channels, a->random_crop, (uint64_t)a->seed,
                                 fixed ? names : NULL, fixed));
    if (a->limit > 0 && a->limit < d->count)
        d->count = a->limit;
    return SARA_OK;
}

/* Classes of a model trained from scratch come from the data; a spare embedding is the null class. */
static sara_status classes_from_data(model_info *mi, const unet_config *c, const sara_dataset *d)
{
    if (mi->num_classes > 0 || c->num_class_embeds <= 0)
        return SARA_OK;
    if (d->num_classes > MODEL_INFO_MAX_CLASSES) /* checked now, not when sara.json is saved at the end */
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %d classes (at most %d)", d->source, d->num_classes,
                         MODEL_INFO_MAX_CLASSES);
    mi->num_classes = d->num_classes;
    for (int i = 0; i < d->num_classes && i < MODEL_INFO_MAX_CLASSES; i++)
        snprintf(mi->class_names[i], MODEL_INFO_NAME_MAX, "%s", d->class_names[i]);
    mi->null_label = c->num_class_embeds > d->num_classes ? d->num_classes : -1;
    return SARA_OK;
}

static sara_status run(const train_args *a, const char *config_json)
{
    unet *m = NULL;
    model_info *mi = calloc(1, sizeof *mi);
    sara_dataset d = {0};
    noise_schedule sched = {0};
    if (!mi)
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    sara_status s = build_model(a, &m, mi);
    if (s == SARA_OK)
        s = load_data(a, unet_get_config(m), mi, &d);
    if (s == SARA_OK)
        s = classes_from_data(mi, unet_get_config(m), &d);
    if (s == SARA_OK)
        s = model_info_schedule(mi, &sched);
    train_options o;
    train_options_default(&o);
    o.out_dir = a->out;
    o.method = a->method;
    o.steps = a->steps;
    o.batch = a->batch;
    o.lr = a->lr;
    o.warmup = a->warmup;
    o.max_grad_norm = a->max_grad_norm;
    o.method_opts.adamw = (adamw_hparams){a->beta1, a->beta2, a->adam_eps, a->weight_decay};
    o.method_opts.threshold = a->threshold;
    o.method_opts.budget = a->budget;
    o.method_opts.selection = a->selection;
    o.method_opts.targets = a->targets;
    o.method_opts.progressive_iter = a->progressive_iter;
    o.method_opts.lambda_rank = a->lambda_rank;
    o.method_opts.lowrank_all = a->lowrank_all;
    o.method_opts.lowrank_conv = a->lowrank_conv;
    o.method_opts.lora_rank = a->lora_rank;
    o.method_opts.lora_alpha = a->lora_alpha;
    o.method_opts.lora_targets = a->lora_targets;
    o.seed = (uint64_t)a->seed;
    o.save_every = a->save_every;
    o.keep_last = a->keep_last;
    o.ema_decay = a->ema_decay;
    o.label_dropout = a->label_dropout;
    o.null_label = mi->null_label;
    o.resume = a->resume;
    o.max_bad_steps = a->max_bad_steps;
    o.gradient_checkpointing = a->gradient_checkpointing;
    o.config_json = config_json;
    o.stop = &stop_signal;
    if (s == SARA_OK)
        s = lr_schedule_parse(a->lr_schedule, &o.lr_schedule);
    if (s == SARA_OK) {
        fprintf(stderr, "data: %s, %d images %d×%d×%d, %d classes\n", d.source, d.count, d.channels, d.height, d.width,
                d.num_classes);
        fprintf(stderr, "blas: %s\n", sara_blas_description());
        progress_state ps = {.tty = isatty(2),
                             .log_every = a->log_every > 0 ? a->log_every : 1,
                             .checkpointing = a->gradient_checkpointing};
        struct sigaction old[2];
        stop_signals_install(old);
        s = train_run(m, &sched, &d, &o, on_progress, &ps);
        stop_signals_restore(old);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model", a->out);
    if (s == SARA_OK)
        s = model_info_save(mi, path);
    if (s == SARA_OK && a->samples_per_class > 0) {
        sampler_options so;
        sampler_options_default(&so);
        so.steps = a->sample_steps;
        so.guidance_scale = a->guidance;
        so.null_label = mi->null_label;
        snprintf(path, sizeof path, "%s/samples.png", a->out);
        s = sample_class_grid(m, &sched, &so, mi->num_classes, a->samples_per_class, a->batch, (uint64_t)a->seed, path);
        if (s == SARA_OK)
            fprintf(stderr, "samples: %s\n", path);
    }
    if (s == SARA_OK)
        fprintf(stderr, "model: %s/model\n", a->out);
    schedule_free(&sched);
    dataset_free(&d);
    unet_free(m);
    free(mi);
    return s;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int r = opts_parse_command(&train_table, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    sara_set_threads(a.threads);
    if (a.lr == 0) /* the method's default, resolved before the configuration is printed and saved */
        a.lr = strcmp(a.method, "sara") && strcmp(a.method, "selective") ? DENSE_DEFAULT_LR : sara_default_lr(a.threshold);
    char *json = opts_to_json(&train_table, &a);
    fprintf(stderr, "config: %s\n", json ? json : "?");
    sara_status s = run(&a, json);
    free(json);
    if (s == SARA_ERR_INTERRUPTED) { /* the shell convention for death by a signal: 128 + its number */
        fprintf(stderr, "sara: %s; continue with --resume\n", sara_last_error());
        return 128 + (stop_signal ? stop_signal : SIGINT);
    }
    return s == SARA_OK ? 0 : cli_fail(s);
}
