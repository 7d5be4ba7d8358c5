/* bench_train.c — seconds per training step and peak RSS of the real training loop (train_run)
 * on the benchmark's reference configuration, plus this machine's sgemm peak so the step can be
 * read as a fraction of it. Prints one `RESULT key=value ...` line for bench/run_train_bench.sh,
 * which runs this and the PyTorch script (bench/torch_train.py) in the same run and reports ratios.
 *   build/bench_train [--threads N] [--batch B] [--steps N] [--warmup N] [--method M] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "model/unet.h"
#include "diffusion/schedule.h"
#include "train/train.h"

#define BENCH_IMAGES 256       /* synthetic dataset size: enough for distinct batches */
#define BENCH_CLASSES 10
#define PEAK_N 2048            /* sgemm size used to measure the machine's peak */
#define PEAK_REPEATS 5

/* The reference configuration of the engine issue: 32×32×1, (64, 128, 128), two layers per
 * block, attention at the 8×8 level, 10 classes. bench/torch_train.py builds the same. */
static void reference_config(unet_config *c)
{
    unet_config_default(c);
    c->sample_size = 32;
    c->in_channels = c->out_channels = 1;
    c->num_blocks = 3;
    int ch[3] = {64, 128, 128};
    for (int i = 0; i < 3; i++) {
        c->block_out_channels[i] = ch[i];
        c->down_attn[i] = i == 2;
        c->up_attn[i] = i == 0;
    }
    c->layers_per_block = 2;
    c->norm_num_groups = 32;
    c->attention_head_dim = 32;
    c->num_class_embeds = BENCH_CLASSES;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double sgemm_peak_gflops(void)
{
    size_t n = PEAK_N;
    float *a = malloc(n * n * sizeof(float)), *b = malloc(n * n * sizeof(float)), *c = malloc(n * n * sizeof(float));
    for (size_t i = 0; i < n * n; i++)
        a[i] = b[i] = (float)(i % 13) * 0.01f;
    double best = 1e30;
    for (int r = 0; r < PEAK_REPEATS; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a, (int)n, b, (int)n, 0.0f,
                    c, (int)n);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)n * n * n / best / 1e9;
}

typedef struct {
    double *times;
    int n, warmup;
} timing;

static void on_step(const train_progress *p, void *ctx)
{
    timing *t = ctx;
    if (!p->memory && p->step > t->warmup)
        t->times[t->n++] = p->step_seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    int threads = 1, batch = 32, steps = 5, warmup = 1;
    const char *method = "full";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--method")) method = argv[i + 1];
        else { fprintf(stderr, "bench_train: unknown option %s\n", argv[i]); return 2; }
    }
    sara_set_threads(threads);
    unet_config c;
    reference_config(&c);
    unet *m = NULL;
    if (unet_create(&m, &c) != SARA_OK || unet_init_random(m, 1) != SARA_OK) {
        fprintf(stderr, "bench_train: %s\n", sara_last_error());
        return 1;
    }
    /* Synthetic data: the loop's cost does not depend on pixel values. */
    sara_dataset d = {.count = BENCH_IMAGES, .channels = 1, .height = 32, .width = 32, .num_classes = BENCH_CLASSES,
                      .source = "synthetic"};
    d.images = malloc((size_t)BENCH_IMAGES * 32 * 32 * sizeof(float));
    d.labels = malloc(BENCH_IMAGES * sizeof(int64_t));
    sara_rng r;
    rng_seed(&r, 7);
    rng_fill_normal(&r, d.images, (int64_t)BENCH_IMAGES * 32 * 32);
    for (int i = 0; i < BENCH_IMAGES; i++)
        d.labels[i] = i % BENCH_CLASSES;
    char out[] = "/tmp/sara-bench-XXXXXX";
    if (!mkdtemp(out))
        return 1;
    train_options o;
    train_options_default(&o);
    o.out_dir = out;
    o.method = method;
    o.steps = warmup + steps;
    o.batch = batch;
    o.lr = 1e-4;
    o.keep_last = 1;
    noise_schedule sched;
    schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON);
    timing t = {.times = calloc((size_t)steps + 1, sizeof(double)), .warmup = warmup};
    sara_status s = train_run(m, &sched, &d, &o, on_step, &t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", out);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_train: could not remove %s\n", out);
    if (s != SARA_OK || t.n == 0) {
        fprintf(stderr, "bench_train: %s\n", sara_last_error());
        return 1;
    }
    qsort(t.times, (size_t)t.n, sizeof(double), cmp_double);
    double median = t.times[t.n / 2], flops = 3.0 * unet_forward_flops(m, batch);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak = sgemm_peak_gflops(); /* after training, so it does not inflate the RSS */
    printf("RESULT impl=sara method=%s threads=%d batch=%d steps=%d median_s=%.4f min_s=%.4f max_s=%.4f "
           "gflop_per_step=%.2f gflops=%.1f sgemm_peak_gflops=%.1f peak_fraction=%.3f peak_rss_mb=%.1f blas=\"%s\"\n",
           method, threads, batch, t.n, median, t.times[0], t.times[t.n - 1], flops / 1e9, flops / median / 1e9, peak,
           flops / median / 1e9 / peak, (double)ru.ru_maxrss / 1024.0, sara_blas_description());
    schedule_free(&sched);
    unet_free(m);
    free(d.images);
    free(d.labels);
    free(t.times);
    return 0;
}
