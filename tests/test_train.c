/* test_train.c — the training loop end to end on the tiny UNet with a synthetic in-memory
 * dataset: resume is bit-exact for every method (N steps, checkpoint, a fresh process-like
 * restart from the base model, N more steps == 2N straight steps, bit for bit), and SaRA's
 * per-step metrics reach the JSONL log. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/safetensors.h"
#include "data/dataset.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "test.h"
#include "train/adamw.h"
#include "train/train.h"

#define TINY TEST_FIXTURES "/unet/tiny"
#define SYN_IMAGES 16
#define SYN_CLASSES 3

/* EMA decay of the runs below (0: off); set by the EMA test only. */
static double run_ema_decay;
/* Gradient checkpointing in the runs below; set by its test only. */
static int run_checkpointing;

static void synthetic_dataset(sara_dataset *d, float *images, int64_t *labels)
{
    *d = (sara_dataset){.count = SYN_IMAGES, .channels = 1, .height = 8, .width = 8, .num_classes = SYN_CLASSES,
                        .images = images, .labels = labels, .source = "synthetic"};
    sara_rng r;
    rng_seed(&r, 17);
    rng_fill_normal(&r, images, SYN_IMAGES * 64);
    for (int i = 0; i < SYN_IMAGES; i++)
        labels[i] = i % SYN_CLASSES;
}


/* Trains a fresh tiny model (loaded from the fixture, as `sara train --init` does) for `steps`
 * in out_dir; resume continues from its newest checkpoint. Returns the final weights (malloc'd). */
static float *run(const char *method, const char *out_dir, int64_t steps, int resume, int64_t progressive_iter,
                  size_t *numel)
{
    unet *m = NULL;
    float images[SYN_IMAGES * 64];
    int64_t labels[SYN_IMAGES];
    sara_dataset d;
    synthetic_dataset(&d, images, labels);
    noise_schedule sched;
    if (unet_load(&m, TINY) != SARA_OK ||
        schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON) != SARA_OK)
        return NULL;
    train_options o;
    train_options_default(&o);
    o.out_dir = out_dir;
    o.method = method;
    o.steps = steps;
    o.batch = 4;
    o.lr = 1e-2;
    /* The interrupted run is simulated by a shorter one: a constant schedule and an explicit
     * progressive step make every step independent of the total. */
    o.lr_schedule = LR_CONSTANT;
    o.save_every = 3;
    o.resume = resume;
    o.method_opts.threshold = 0.05;
    o.method_opts.progressive_iter = progressive_iter;
    o.method_opts.lowrank_min_dim = 8; /* the tiny model's 16×16 and 32×32 weights are eligible */
    o.method_opts.lambda_rank = 1e-2;
    o.method_opts.lora_rank = 2;
    o.ema_decay = run_ema_decay;
    o.gradient_checkpointing = run_checkpointing;
    sara_status s = train_run(m, &sched, &d, &o, NULL, NULL);
    /* the model's weights followed by the LoRA table's (empty unless LoRA trained) */
    float *w = NULL;
    size_t nm = unet_params(m)->numel, nl = unet_lora_params(m)->numel;
    if (s == SARA_OK && (w = malloc((nm + nl + 1) * sizeof(float)))) {
        memcpy(w, unet_params(m)->data, nm * sizeof(float));
        if (nl)
            memcpy(w + nm, unet_lora_params(m)->data, nl * sizeof(float));
        *numel = nm + nl;
    }
    if (s != SARA_OK)
        fprintf(stderr, "    %s: %s\n", method, sara_last_error());
    schedule_free(&sched);
    unet_free(m);
    return w;
}

static void check_resume(const char *method, int64_t progressive_iter)
{
    char straight[600], resumed[600], a[700], b[700];
    snprintf(straight, sizeof straight, "%s/%s-straight", test_tmpdir(), method);
    snprintf(resumed, sizeof resumed, "%s/%s-resumed", test_tmpdir(), method);
    size_t n1 = 0, n2 = 0;
    float *w1 = run(method, straight, 6, 0, progressive_iter, &n1);
    float *w0 = run(method, resumed, 3, 0, progressive_iter, &n2);
    float *w2 = run(method, resumed, 6, 1, progressive_iter, &n2);
    CHECK(w1 && w0 && w2 && n1 == n2);
    CHECK_MSG(memcmp(w0, w2, n1 * sizeof(float)), "%s: the resumed run did not train", method);
    CHECK_MSG(!memcmp(w1, w2, n1 * sizeof(float)), "%s: resumed weights differ from the uninterrupted run", method);
    snprintf(a, sizeof a, "%s/checkpoints/checkpoint-00000006.safetensors", straight);
    snprintf(b, sizeof b, "%s/checkpoints/checkpoint-00000006.safetensors", resumed);
    CHECK_MSG(test_same_file(a, b), "%s: final checkpoints differ (optimizer or method state)", method);
    /* the exported model (the EMA's, when EMA is on) */
    snprintf(a, sizeof a, "%s/model/diffusion_pytorch_model.safetensors", straight);
    snprintf(b, sizeof b, "%s/model/diffusion_pytorch_model.safetensors", resumed);
    CHECK_MSG(test_same_file(a, b), "%s: exported models differ", method);
    if (strcmp(method, "full")) {
        snprintf(a, sizeof a, "%s/adapter.safetensors", straight);
        snprintf(b, sizeof b, "%s/adapter.safetensors", resumed);
        CHECK_MSG(test_same_file(a, b), "%s: adapters differ", method);
    }
    if (!strcmp(method, "sara") || !strcmp(method, "selective")) {
        /* the log carries |M0|, |M1| and the low-rank term, and reads like one run */
        snprintf(a, sizeof a, "%s/metrics.jsonl", resumed);
        FILE *f = fopen(a, "r");
        char line[1024];
        int lines = 0, sara_keys = 1;
        while (f && fgets(line, sizeof line, f)) {
            lines++;
            sara_keys &= test_contains(line, "\"m0\":") && test_contains(line, "\"m1\":") &&
                         test_contains(line, "\"lowrank\":");
        }
        if (f)
            fclose(f);
        CHECK_MSG(lines == 6 && sara_keys, "%s: metrics.jsonl has %d lines (SaRA keys %d)", method, lines, sara_keys);
    }
    free(w0);
    free(w1);
    free(w2);
}

TEST(train_resume_is_bit_exact_full)
{
    check_resume("full", -1);
}

/* progressive step before the checkpoint (2 < 3): the checkpoint holds M1 */
TEST(train_resume_is_bit_exact_sara_after_progressive_step)
{
    check_resume("sara", 2);
}

/* progressive step after the checkpoint (4 > 3): the resumed run performs it */
TEST(train_resume_is_bit_exact_sara_before_progressive_step)
{
    check_resume("sara", 4);
}

TEST(train_resume_is_bit_exact_selective)
{
    check_resume("selective", 2);
}

TEST(train_resume_is_bit_exact_lora)
{
    check_resume("lora", -1);
}

/* With EMA the exported model is the EMA of the weights: it differs from the raw weights, and the
 * EMA state travels in checkpoints (the resumed run exports the same file). */
TEST(train_resume_is_bit_exact_with_ema)
{
    run_ema_decay = 0.9;
    check_resume("full", -1);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/full-straight/model", test_tmpdir());
    unet *ema = NULL;
    size_t n = 0;
    char out[600];
    snprintf(out, sizeof out, "%s/raw", test_tmpdir());
    float *raw = run("full", out, 6, 0, -1, &n);
    run_ema_decay = 0;
    CHECK_OK(unet_load(&ema, dir));
    CHECK(raw && n == unet_params(ema)->numel); /* no LoRA: just the model's weights */
    CHECK_MSG(memcmp(raw, unet_params(ema)->data, n * sizeof(float)), "the exported model is not the EMA");
    free(raw);
    unet_free(ema);
}

/* Gradient checkpointing changes where backward gets its activations, never their bits: training
 * with it gives the same weights, for SaRA (sparse sinks, a progressive step) and LoRA (whose
 * branches' inputs backward then re-forms). */
TEST(train_gradient_checkpointing_gives_the_same_weights)
{
    const char *methods[] = {"sara", "lora", "full"};
    for (int i = 0; i < 3; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s-plain", test_tmpdir(), methods[i]);
        snprintf(b, sizeof b, "%s/%s-checkpointing", test_tmpdir(), methods[i]);
        size_t n1 = 0, n2 = 0;
        float *w1 = run(methods[i], a, 4, 0, 2, &n1);
        run_checkpointing = 1;
        float *w2 = run(methods[i], b, 4, 0, 2, &n2);
        run_checkpointing = 0;
        int same = w1 && w2 && n1 == n2 && !memcmp(w1, w2, n1 * sizeof(float));
        free(w1);
        free(w2);
        CHECK_MSG(same, "%s: weights differ with gradient checkpointing", methods[i]);
    }
}

/* The gradient norm's Σ g² (threaded, in blocks) equals a long-double sum to double rounding,
 * and gives the same bits on 1, 2 and 8 threads: clipping must not depend on the thread count. */
TEST(grad_sum_squares_is_exact_and_thread_independent)
{
    enum { N = 1000003 }; /* several blocks and a ragged tail */
    float *g = malloc(N * sizeof(float));
    CHECK(g != NULL);
    sara_rng r;
    rng_seed(&r, 77);
    rng_fill_normal(&r, g, N);
    long double want = 0;
    for (int i = 0; i < N; i++)
        want += (long double)g[i] * g[i];
    int saved = omp_get_max_threads();
    double got[3];
    static const int threads[3] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(threads[t]);
        got[t] = grad_sum_squares(g, N);
    }
    omp_set_num_threads(saved);
    free(g);
    CHECK(fabs(got[0] - (double)want) <= 1e-12 * (double)want);
    CHECK(!memcmp(&got[0], &got[1], sizeof got[0]) && !memcmp(&got[0], &got[2], sizeof got[0]));
    CHECK(grad_sum_squares(NULL, 0) == 0.0);
}
