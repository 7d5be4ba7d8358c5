/* bench_train.c — seconds per training step and peak RSS of the real training loop (train_run)
 * on the benchmark's reference configuration, for any fine-tuning method (full, lora, sara,
 * selective), plus this machine's sgemm peak so the step can be read as a fraction of it. Prints
 * one `RESULT key=value ...` line for bench/run_train_bench.sh and bench/run_methods_bench.sh,
 * which run this and the PyTorch script (bench/torch_train.py) in the same run and report ratios.
 *
 * The model is the reference configuration with PyTorch's default random initialisation (seed
 * INIT_SEED), so SaRA's selection is made on a random init: --budget N (exactly the N smallest
 * |p|) gives a known density; --info prints the parameter count, the LoRA parameters per unit of
 * rank and, for the given --budget / --threshold, SaRA's trainable count and θ, without training.
 * The progressive step is off by default (--progressive-iter defaults to the run's step count):
 * the timed window never contains it. With --wgrad-reps N the weight-gradient phase is timed on a
 * fresh model after training: backward with the method's gradient sinks minus backward with none
 * (input gradients only), medians of N of each.
 *   build/bench_train [--threads N] [--batch B] [--steps N] [--warmup N] [--method M] [--budget N] ...
 *   build/bench_train --help */
#include <cblas.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "ops/ops.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "peft/sara.h"
#include "train/train.h"

#include "bench_common.h"

#define BENCH_IMAGES 256       /* synthetic dataset size: enough for distinct batches */
#define INIT_SEED 1            /* the model's random init; the wgrad model repeats it, so masks agree */
#define DATA_SEED 7
#define WGRAD_SEED 11          /* inputs of the weight-gradient timing */
#define PEAK_N 2048            /* sgemm size used to measure the machine's peak */
#define PEAK_REPEATS 5
#define MIB (1024.0 * 1024.0)
#define PROGRESSIVE_UNSET INT64_MIN
#define BENCH_MAX_WIDTH 8      /* 512–1024 channels: beyond what this machine trains in minutes */


/* ------------------------------------------------------------------------------------------ */
/* options */

typedef struct {
    int threads, batch, steps, warmup, wgrad_reps, sgemm_peak, info, profile, help, checkpointing, width;
    const char *method;
    method_options mo; /* budget, threshold, targets, progressive_iter, lambda_rank, lora_rank, lora_alpha */
} bench_args;

typedef enum { ARG_INT, ARG_I64, ARG_DOUBLE, ARG_STRING, ARG_FLAG } arg_kind;

typedef struct {
    const char *name;
    arg_kind kind;
    size_t offset;
    const char *help;
} arg_spec;

#define A(name, kind, field, help) {name, kind, offsetof(bench_args, field), help}
static const arg_spec arg_specs[] = {
    A("threads", ARG_INT, threads, "threads (default 1)"),
    A("batch", ARG_INT, batch, "batch size (default 32)"),
    A("steps", ARG_INT, steps, "timed steps after the warm-up (default 5)"),
    A("warmup", ARG_INT, warmup, "untimed warm-up steps (default 1)"),
    A("method", ARG_STRING, method, "full, lora, sara or selective (default full)"),
    A("budget", ARG_I64, mo.budget, "sara/selective: train exactly the N smallest |p| (0: use --threshold)"),
    A("threshold", ARG_DOUBLE, mo.threshold, "sara/selective: train |p| < threshold (default 2e-3)"),
    A("targets", ARG_STRING, mo.targets, "sara/selective: all, weights, or a name substring (default all)"),
    A("progressive-iter", ARG_I64, mo.progressive_iter,
      "sara/selective: re-selection step (default: warmup + steps, i.e. never; -1: half of the run)"),
    A("lambda-rank", ARG_DOUBLE, mo.lambda_rank, "sara/selective: nuclear-norm weight (default 5e-4; 0: off)"),
    A("lora-rank", ARG_INT, mo.lora_rank, "lora: rank r (default 8)"),
    A("lora-alpha", ARG_DOUBLE, mo.lora_alpha, "lora: alpha (default 8)"),
    A("width", ARG_INT, width, "channels times this (default 1: the reference model; 2: about 4× the parameters)"),
    A("gradient-checkpointing", ARG_FLAG, checkpointing,
      "re-run ResNet/attention heads in backward instead of keeping them (as sara train's option)"),
    A("wgrad-reps", ARG_INT, wgrad_reps, "time the weight-gradient phase, median of N (default 0: off)"),
    A("sgemm-peak", ARG_INT, sgemm_peak, "1: measure the sgemm peak after training (default 1)"),
    A("info", ARG_FLAG, info, "print parameter counts (and SaRA's θ for --budget) and exit"),
    A("profile", ARG_FLAG, profile, "also print where the timed steps went, by kind of op (a Markdown table)"),
    A("help", ARG_FLAG, help, "this text"),
};
#undef A
#define N_ARGS ((int)(sizeof arg_specs / sizeof arg_specs[0]))

static void args_usage(void)
{
    printf("bench_train — seconds per training step and peak RSS on the reference configuration\n");
    for (int i = 0; i < N_ARGS; i++)
        printf("  --%-22s %s\n", arg_specs[i].name, arg_specs[i].help);
}

/* Stores `value` into the field of spec; 0 on success. */
static int arg_store(bench_args *a, const arg_spec *s, const char *value)
{
    char *field = (char *)a + s->offset, *end = NULL;
    if (s->kind == ARG_STRING) {
        *(const char **)field = value;
        return 0;
    }
    if (s->kind == ARG_DOUBLE) {
        double x = strtod(value, &end);
        if (*end || end == value || !isfinite(x))
            return 1;
        *(double *)field = x;
        return 0;
    }
    long long x = strtoll(value, &end, 10);
    if (*end || end == value)
        return 1;
    if (s->kind == ARG_INT) {
        if (x < -1000000000LL || x > 1000000000LL)
            return 1;
        *(int *)field = (int)x;
    } else
        *(int64_t *)field = x;
    return 0;
}

static int args_parse(bench_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    method_options_default(&a->mo);
    a->threads = 1;
    a->batch = 32;
    a->steps = 5;
    a->warmup = 1;
    a->sgemm_peak = 1;
    a->width = 1;
    a->method = "full";
    a->mo.progressive_iter = PROGRESSIVE_UNSET;
    for (int i = 1; i < argc; i++) {
        const arg_spec *s = NULL;
        for (int k = 0; k < N_ARGS && !s; k++)
            if (!strncmp(argv[i], "--", 2) && !strcmp(argv[i] + 2, arg_specs[k].name))
                s = &arg_specs[k];
        if (!s) {
            fprintf(stderr, "bench_train: unknown option %s (try --help)\n", argv[i]);
            return 1;
        }
        if (s->kind == ARG_FLAG) {
            *(int *)((char *)a + s->offset) = 1;
            continue;
        }
        if (i + 1 >= argc || arg_store(a, s, argv[++i])) {
            fprintf(stderr, "bench_train: --%s needs a valid value\n", s->name);
            return 1;
        }
    }
    if (a->batch <= 0 || a->steps <= 0 || a->warmup < 0 || a->wgrad_reps < 0) {
        fprintf(stderr, "bench_train: batch and steps must be positive, warmup and wgrad-reps not negative\n");
        return 1;
    }
    if (a->width < 1 || a->width > BENCH_MAX_WIDTH) {
        fprintf(stderr, "bench_train: --width must lie in [1, %d]\n", BENCH_MAX_WIDTH);
        return 1;
    }
    if (a->mo.progressive_iter == PROGRESSIVE_UNSET) /* ≥ the run's steps: never */
        a->mo.progressive_iter = (int64_t)a->warmup + a->steps;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* measurements */

/* CPU seconds of the whole process (all threads). Idle OpenMP threads sleep under the passive
 * wait policy, so this counts work, and other load on the machine disturbs it far less than
 * wall time: the *_cpu_s fields of the RESULT line. */
static double cpu_now(void) { return bench_clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Resident set size now (VmRSS), in MiB; NAN if /proc is not readable. */
static double rss_now_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = NAN;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lf", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb / 1024.0;
}

static double sgemm_peak_gflops(void)
{
    size_t n = PEAK_N;
    float *a = malloc(n * n * sizeof(float)), *b = malloc(n * n * sizeof(float)), *c = malloc(n * n * sizeof(float));
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return NAN;
    }
    for (size_t i = 0; i < n * n; i++)
        a[i] = b[i] = (float)(i % 13) * 0.01f;
    double best = 1e30;
    for (int r = 0; r < PEAK_REPEATS; r++) {
        double t0 = bench_clock_s(CLOCK_MONOTONIC);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a, (int)n, b, (int)n, 0.0f,
                    c, (int)n);
        double t = bench_clock_s(CLOCK_MONOTONIC) - t0;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)n * n * n / best / 1e9;
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof(double), bench_cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

typedef struct {
    double *times;          /* (steps) wall time of each timed step */
    double *cpu;            /* (steps) CPU time of each timed step (callback to callback) */
    double cpu_last;        /* cpu_now() at the previous callback */
    int n, warmup;
    int64_t trainable;
    size_t state_bytes, plan_bytes;
} timing;

static void on_step(const train_progress *p, void *ctx)
{
    timing *t = ctx;
    if (p->memory) {
        const train_memory *m = p->memory;
        t->trainable = m->trainable_params;
        t->state_bytes = m->method_state;
        t->plan_bytes = m->weights + m->method_state + m->ema + m->activations + m->act_grads + m->scratch +
                        m->batch_buffers;
    } else if (p->step == t->warmup) {
        ops_prof_reset(); /* a profile counts the timed steps only */
    } else if (p->step > t->warmup) {
        t->cpu[t->n] = cpu_now() - t->cpu_last;
        t->times[t->n++] = p->step_seconds;
    }
    t->cpu_last = cpu_now();
}

/* The profile of the timed steps (--profile): seconds per step by kind of op, and the rest. */
static void print_profile(const timing *t, const bench_args *a)
{
    double total = 0, ops = 0;
    for (int i = 0; i < t->n; i++)
        total += t->times[i];
    printf("\nWhere the step goes: %s, batch %d, %d threads, mean of %d timed steps (%.4f s)\n\n", a->method,
           a->batch, a->threads, t->n, total / t->n);
    printf("| op | s/step | share | scopes/step |\n|---|---|---|---|\n");
    for (int k = 0; k < OPS_PROF_KINDS; k++) {
        long calls;
        double sec = ops_prof_seconds(k, &calls);
        ops += sec;
        if (calls)
            printf("| %s | %.4f | %.1f %% | %.0f |\n", ops_prof_name(k), sec / t->n, 100 * sec / total,
                   (double)calls / t->n);
    }
    printf("| outside the ops (data, noise, loss, bookkeeping) | %.4f | %.1f %% | |\n\n", (total - ops) / t->n,
           100 * (total - ops) / total);
}

/* The options train_run gives the method (total steps and seed), for methods made outside it. */
static method_options run_method_options(const bench_args *a)
{
    method_options mo = a->mo;
    mo.total_steps = (int64_t)a->warmup + a->steps;
    mo.seed = 0; /* train_options_default's seed */
    return mo;
}

static sara_status model_new(unet **m, const unet_config *c)
{
    *m = NULL;
    SARA_TRY(unet_create(m, c));
    return unet_init_random(*m, INIT_SEED);
}

/* Times one backward of a fresh forward; sinks NULL: no parameter gradients. */
static sara_status timed_backward(unet *m, const float *x, const float *t, const int64_t *labels, int B, float *out,
                                  const float *dout, train_method *meth, const ops_sink *sinks, double *seconds,
                                  double *cpu_seconds)
{
    SARA_TRY(unet_forward(m, x, t, labels, B, out));
    meth->zero_grad(meth);
    double t0 = bench_clock_s(CLOCK_MONOTONIC), c0 = cpu_now();
    SARA_TRY(unet_backward(m, dout, NULL, sinks));
    *seconds = bench_clock_s(CLOCK_MONOTONIC) - t0;
    *cpu_seconds = cpu_now() - c0;
    return SARA_OK;
}

/* The weight-gradient phase on a fresh model with the same init and method: median backward time
 * with the method's sinks (bwd) and that minus the median without any parameter gradient (wgrad). */
static sara_status measure_wgrad(const bench_args *a, const unet_config *c, double *wgrad, double *bwd,
                                 double *wgrad_cpu, double *bwd_cpu)
{
    int B = a->batch, reps = a->wgrad_reps;
    size_t n = (size_t)B * (size_t)c->in_channels * (size_t)c->sample_size * (size_t)c->sample_size;
    unet *m = NULL;
    train_method *meth = NULL;
    method_options mo = run_method_options(a);
    float *x = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)), *dout = malloc(n * sizeof(float)); /* (B, C, S, S) */
    float *t = malloc((size_t)B * sizeof(float));                 /* (B) */
    int64_t *labels = malloc((size_t)B * sizeof(int64_t));         /* (B) */
    double *with = malloc((size_t)reps * 4 * sizeof(double)), *without = with ? with + reps : NULL; /* (reps) each */
    double *with_cpu = with ? with + 2 * reps : NULL, *without_cpu = with ? with + 3 * reps : NULL; /* (reps) each */
    sara_status s = x && out && dout && t && labels && with ? model_new(&m, c)
                                                            : sara_fail(SARA_ERR_NOMEM, "out of memory timing wgrad");
    if (s == SARA_OK)
        s = method_create(&meth, a->method, m, &mo);
    if (s == SARA_OK) {
        unet_set_gradient_checkpointing(m, a->checkpointing);
        s = unet_reserve(m, B);
    }
    if (s == SARA_OK) {
        sara_rng r;
        rng_seed(&r, WGRAD_SEED);
        rng_fill_normal(&r, x, (int64_t)n);
        rng_fill_normal(&r, dout, (int64_t)n);
        for (int i = 0; i < B; i++) {
            t[i] = (float)(int)(rng_uniform(&r) * 999.0);
            labels[i] = i % BENCH_CLASSES;
        }
    }
    for (int k = 0; k < reps && s == SARA_OK; k++) { /* interleaved, so drift in machine load hits both */
        s = timed_backward(m, x, t, labels, B, out, dout, meth, meth->sinks, &with[k], &with_cpu[k]);
        if (s == SARA_OK)
            s = timed_backward(m, x, t, labels, B, out, dout, meth, NULL, &without[k], &without_cpu[k]);
    }
    if (s == SARA_OK) {
        *bwd = median(with, reps);
        *wgrad = *bwd - median(without, reps);
        *bwd_cpu = median(with_cpu, reps);
        *wgrad_cpu = *bwd_cpu - median(without_cpu, reps);
    }
    method_free(meth);
    unet_free(m);
    free(x);
    free(out);
    free(dout);
    free(t);
    free(labels);
    free(with);
    return s;
}

/* --info: parameter counts, LoRA parameters per unit of rank, SaRA's selection for the options. */
static sara_status print_info(const bench_args *a, const unet_config *c)
{
    unet *m = NULL;
    train_method *meth = NULL;
    method_options mo = run_method_options(a);
    SARA_TRY(model_new(&m, c));
    int64_t total = unet_param_count(m), nnz = 0, lora1 = 0;
    float theta = 0;
    sara_status s = method_create(&meth, "sara", m, &mo);
    if (s == SARA_OK) {
        nnz = meth->trainable_count(meth);
        theta = sara_method_threshold(meth);
        method_free(meth);
        meth = NULL;
        mo.lora_rank = 1; /* LoRA's count is linear in r */
        s = method_create(&meth, "lora", m, &mo);
    }
    if (s == SARA_OK)
        lora1 = meth->trainable_count(meth);
    if (s == SARA_OK)
        printf("INFO params=%" PRId64 " lora_params_per_rank=%" PRId64 " sara_trainable=%" PRId64
               " density=%.5f theta=%.9g budget=%" PRId64 "\n",
               total, lora1, nnz, (double)nnz / (double)total, (double)theta, a->mo.budget);
    method_free(meth);
    unet_free(m);
    return s;
}

/* ------------------------------------------------------------------------------------------ */

static sara_status run_training(const bench_args *a, unet *m, timing *t)
{
    /* Synthetic data: the loop's cost does not depend on pixel values. */
    sara_dataset d = {.count = BENCH_IMAGES, .channels = 1, .height = 32, .width = 32, .num_classes = BENCH_CLASSES,
                      .source = "synthetic"};
    d.images = malloc((size_t)BENCH_IMAGES * 32 * 32 * sizeof(float)); /* (N, 1, 32, 32) */
    d.labels = malloc(BENCH_IMAGES * sizeof(int64_t));                 /* (N) */
    char out[] = "/tmp/sara-bench-XXXXXX";
    noise_schedule sched = {0};
    sara_status s = SARA_OK;
    if (!d.images || !d.labels)
        s = sara_fail(SARA_ERR_NOMEM, "out of memory for the synthetic data");
    else if (!mkdtemp(out))
        s = sara_fail(SARA_ERR_IO, "cannot create a scratch folder in /tmp");
    if (s == SARA_OK) {
        sara_rng r;
        rng_seed(&r, DATA_SEED);
        rng_fill_normal(&r, d.images, (int64_t)BENCH_IMAGES * 32 * 32);
        for (int i = 0; i < BENCH_IMAGES; i++)
            d.labels[i] = i % BENCH_CLASSES;
        train_options o;
        train_options_default(&o);
        o.out_dir = out;
        o.method = a->method;
        o.steps = (int64_t)a->warmup + a->steps;
        o.batch = a->batch;
        o.lr = 1e-4; /* the value does not change the cost */
        o.keep_last = 1;
        o.method_opts = a->mo;
        o.gradient_checkpointing = a->checkpointing;
        schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON);
        s = train_run(m, &sched, &d, &o, on_step, t);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", out);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_train: could not remove %s\n", out);
    }
    schedule_free(&sched);
    free(d.images);
    free(d.labels);
    return s;
}

static void fmt_seconds(char *buf, size_t cap, double x)
{
    if (isnan(x))
        snprintf(buf, cap, "na");
    else
        snprintf(buf, cap, "%.4f", x);
}

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    bench_args a;
    if (args_parse(&a, argc, argv))
        return 2;
    if (a.help) {
        args_usage();
        return 0;
    }
    sara_set_threads(a.threads);
    double base_rss = rss_now_mb();
    unet_config c;
    reference_config_wide(&c, a.width);
    if (a.info) {
        if (print_info(&a, &c) != SARA_OK) {
            fprintf(stderr, "bench_train: %s\n", sara_last_error());
            return 1;
        }
        return 0;
    }
    unet *m = NULL;
    timing t = {.times = calloc((size_t)a.steps + 1, sizeof(double)), .cpu = calloc((size_t)a.steps + 1, sizeof(double)),
                .warmup = a.warmup};
    sara_status s = t.times && t.cpu ? model_new(&m, &c) : sara_fail(SARA_ERR_NOMEM, "out of memory");
    ops_prof_enable(a.profile);
    ops_prof_reset();
    if (s == SARA_OK)
        s = run_training(&a, m, &t);
    ops_prof_enable(0);
    if (s != SARA_OK || t.n == 0) {
        fprintf(stderr, "bench_train: %s\n", sara_last_error());
        unet_free(m);
        free(t.times);
        free(t.cpu);
        return 1;
    }
    double min_s = t.times[0], max_s = t.times[0];
    for (int i = 1; i < t.n; i++) {
        min_s = t.times[i] < min_s ? t.times[i] : min_s;
        max_s = t.times[i] > max_s ? t.times[i] : max_s;
    }
    if (a.profile)
        print_profile(&t, &a);
    double cpu_med = median(t.cpu, t.n);
    double med = median(t.times, t.n), flops = 3.0 * unet_forward_flops(m, a.batch);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* before the wgrad timing and the sgemm peak, so they do not inflate it */
    unet_free(m);
    double wgrad = NAN, bwd = NAN, wgrad_cpu = NAN, bwd_cpu = NAN;
    if (a.wgrad_reps > 0 && measure_wgrad(&a, &c, &wgrad, &bwd, &wgrad_cpu, &bwd_cpu) != SARA_OK) {
        fprintf(stderr, "bench_train: %s\n", sara_last_error());
        free(t.times);
        free(t.cpu);
        return 1;
    }
    double peak = a.sgemm_peak ? sgemm_peak_gflops() : NAN;
    char ws[32], bs[32], wcs[32], bcs[32];
    fmt_seconds(ws, sizeof ws, wgrad);
    fmt_seconds(bs, sizeof bs, bwd);
    fmt_seconds(wcs, sizeof wcs, wgrad_cpu);
    fmt_seconds(bcs, sizeof bcs, bwd_cpu);
    printf("RESULT impl=sara method=%s threads=%d batch=%d steps=%d median_s=%.4f min_s=%.4f max_s=%.4f "
           "peak_rss_mb=%.1f base_rss_mb=%.1f trainable=%" PRId64 " state_mb=%.2f plan_mb=%.1f wgrad_s=%s bwd_s=%s "
           "budget=%" PRId64 " threshold=%g lora_rank=%d progressive_iter=%" PRId64 " lambda_rank=%g "
           "gflop_per_step=%.2f gflops=%.1f sgemm_peak_gflops=%.1f peak_fraction=%.3f cpu_median_s=%.4f "
           "wgrad_cpu_s=%s bwd_cpu_s=%s checkpointing=%d width=%d blas=\"%s\"\n",
           a.method, a.threads, a.batch, t.n, med, min_s, max_s, (double)ru.ru_maxrss / 1024.0, base_rss, t.trainable,
           (double)t.state_bytes / MIB, (double)t.plan_bytes / MIB, ws, bs, a.mo.budget, a.mo.threshold,
           a.mo.lora_rank, a.mo.progressive_iter, a.mo.lambda_rank, flops / 1e9, flops / med / 1e9, peak,
           flops / med / 1e9 / peak, cpu_med, wcs, bcs, a.checkpointing, a.width, sara_blas_description());
    free(t.times);
    free(t.cpu);
    return 0;
}
