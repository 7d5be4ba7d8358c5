/* test_robust_faults.c — the training loop under faults, in process, on the tiny UNet and a
 * synthetic dataset: a write that fails part-way (disk full, injected in atomic_file) leaves the
 * previous checkpoint byte-identical and no temporary behind; a NaN poisoned into a weight is
 * skipped, named, and stops the run after max_bad_steps with the last good checkpoint kept; an
 * overflowing activation is named by its module; the stop flag writes a checkpoint from which
 * the run resumes bit-exactly; resume drops half-written log lines and stale temporaries. Each
 * expectation is checked against an uninterrupted reference run of the same seed. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "robust_doc.h"
#include "test.h"
#include "train/train.h"

#define TINY TEST_FIXTURES "/unet/tiny"
#define N_IMAGES 16
#define N_CLASSES 3

/* What the progress callback does at a given step (set by each test). */
typedef struct {
    unet *m;
    int64_t at_step;            /* act after this step */
    enum { ACT_NONE, ACT_FAULT, ACT_POISON, ACT_OVERFLOW, ACT_STOP } act;
    long long fault_bytes;      /* ACT_FAULT: bytes that may still be written */
    volatile sig_atomic_t *stop;
    int skipped;                /* steps reported skipped */
    char nonfinite[256];        /* the first skipped step's diagnosis */
} hook;

static void on_progress(const train_progress *p, void *ctx)
{
    hook *h = ctx;
    if (p->memory)
        return;
    if (p->skipped && !h->skipped++)
        snprintf(h->nonfinite, sizeof h->nonfinite, "%s", p->nonfinite ? p->nonfinite : "(null)");
    if (p->step != h->at_step)
        return;
    param_table *t = unet_params(h->m);
    if (h->act == ACT_FAULT)
        atomic_file_fault_after(h->fault_bytes, ENOSPC);
    if (h->act == ACT_POISON)
        params_ptr(t, params_find(t, "down_blocks.1.attentions.0.to_q.weight"))[5] = NAN;
    if (h->act == ACT_OVERFLOW) /* finite, but large enough to overflow a few layers later */
        for (int k = 0; k < 8; k++)
            params_ptr(t, params_find(t, "conv_in.bias"))[k] = 3e38f;
    if (h->act == ACT_STOP)
        *h->stop = 1;
}

/* Trains the tiny model (from the fixture) for `steps` in out_dir; 6 images a class, constant lr. */
static sara_status run(const char *out_dir, int64_t steps, int resume, hook *h, int max_bad_steps)
{
    unet *m = NULL;
    static float images[N_IMAGES * 64];
    static int64_t labels[N_IMAGES];
    sara_dataset d = {.count = N_IMAGES, .channels = 1, .height = 8, .width = 8, .num_classes = N_CLASSES,
                      .images = images, .labels = labels, .source = "synthetic"};
    sara_rng r;
    rng_seed(&r, 5);
    rng_fill_normal(&r, images, N_IMAGES * 64);
    for (int i = 0; i < N_IMAGES; i++)
        labels[i] = i % N_CLASSES;
    noise_schedule sched;
    sara_status s = unet_load(&m, TINY);
    if (s == SARA_OK)
        s = schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON);
    if (s != SARA_OK) {
        unet_free(m);
        return s;
    }
    train_options o;
    train_options_default(&o);
    o.out_dir = out_dir;
    o.steps = steps;
    o.batch = 4;
    o.lr = 1e-2;
    o.lr_schedule = LR_CONSTANT; /* a shorter run is a prefix of a longer one */
    o.save_every = 2;
    o.keep_last = 10;
    o.resume = resume;
    o.max_bad_steps = max_bad_steps;
    if (h) {
        h->m = m;
        o.stop = h->stop;
    }
    s = train_run(m, &sched, &d, &o, h ? on_progress : NULL, h);
    atomic_file_fault_clear();
    schedule_free(&sched);
    unet_free(m);
    return s;
}


static const char *path_in(const char *dir, const char *rel)
{
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, rel);
    return buf[k];
}

/* Files in dir whose names contain `part`. */
static int count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, part) != NULL;
    if (d)
        closedir(d);
    return n;
}

static int count_lines(const char *path)
{
    FILE *fp = fopen(path, "rb");
    int n = 0, c;
    while (fp && (c = fgetc(fp)) != EOF)
        n += c == '\n';
    if (fp)
        fclose(fp);
    return fp ? n : -1;
}

/* A docs/ROBUSTNESS.md row for a library-level case: the status and message a caller gets (the
 * CLI prints the message as "sara: ..." and exits 1). */
static void doc(const char *tried, sara_status s, const char *seen)
{
    char status[64];
    snprintf(status, sizeof status, "%s", sara_status_name(s));
    robust_doc_row("fault (library)", tried, status, seen);
}

/* The reference: 6 uninterrupted steps, checkpoints at 2, 4, 6. */
static const char *reference_run(void)
{
    static char ref[600];
    snprintf(ref, sizeof ref, "%s/reference", test_tmpdir());
    return run(ref, 6, 0, NULL, 10) == SARA_OK ? ref : NULL;
}

TEST(robust_disk_full_keeps_the_previous_checkpoint)
{
    const char *ref = reference_run();
    CHECK(ref);
    /* The disk fills 100 kB into the step-4 checkpoint (about 540 kB: weights + two moments). */
    char out[600];
    snprintf(out, sizeof out, "%s/full", test_tmpdir());
    hook h = {.at_step = 3, .act = ACT_FAULT, .fault_bytes = 100000};
    CHECK_ERR(run(out, 6, 0, &h, 10), SARA_ERR_IO, "checkpoint-00000004.safetensors: write failed: No space left");
    doc("the disk fills 100 kB into a checkpoint (write fault injected in atomic_file)", SARA_ERR_IO,
        sara_last_error());
    CHECK(test_same_file(path_in(out, "checkpoints/checkpoint-00000002.safetensors"),
                    path_in(ref, "checkpoints/checkpoint-00000002.safetensors")));
    CHECK(access(path_in(out, "checkpoints/checkpoint-00000004.safetensors"), F_OK) != 0);
    CHECK_MSG(count_files(path_in(out, "checkpoints"), ".tmp.") == 0, "a temporary file was left behind");
    /* Then the run resumes from step 2 and ends where the reference ends, bit for bit. */
    CHECK_OK(run(out, 6, 1, NULL, 10));
    CHECK(test_same_file(path_in(out, "model/diffusion_pytorch_model.safetensors"),
                    path_in(ref, "model/diffusion_pytorch_model.safetensors")));

    /* The exported model cannot be written (after the last checkpoint): same contract. */
    snprintf(out, sizeof out, "%s/export", test_tmpdir());
    hook e = {.at_step = 2, .act = ACT_FAULT, .fault_bytes = 5000};
    CHECK_ERR(run(out, 2, 0, &e, 10), SARA_ERR_IO, "diffusion_pytorch_model.safetensors: write failed");
    CHECK(test_same_file(path_in(out, "checkpoints/checkpoint-00000002.safetensors"),
                    path_in(ref, "checkpoints/checkpoint-00000002.safetensors")));
    CHECK(count_files(path_in(out, "model"), ".tmp.") == 0);
    doc("the disk fills while the final model is exported", SARA_ERR_IO, sara_last_error());
    doc("(both) afterwards", SARA_OK, "the previous checkpoint is byte-identical to an uninterrupted run's, no "
        "temporary file is left, and --resume finishes bit-identically");
}

TEST(robust_nan_weight_is_named_and_stops_the_run)
{
    const char *ref = reference_run();
    CHECK(ref);
    char out[600];
    snprintf(out, sizeof out, "%s/nan", test_tmpdir());
    hook h = {.at_step = 2, .act = ACT_POISON};
    CHECK_ERR(run(out, 10, 0, &h, 3), SARA_ERR_NUMERIC,
              "3 consecutive steps with a non-finite loss or gradient (step 5, first non-finite: parameter "
              "down_blocks.1.attentions.0.to_q.weight)");
    doc("a weight becomes NaN after step 2 (max_bad_steps 3, checkpoints every 2 steps)", SARA_ERR_NUMERIC,
        sara_last_error());
    CHECK_MSG(h.skipped == 3 && !strcmp(h.nonfinite, "parameter down_blocks.1.attentions.0.to_q.weight"),
              "%d skipped, first: %s", h.skipped, h.nonfinite);
    /* The periodic checkpoint due at step 4 fell on a skipped step: not written; step 2's is the good one. */
    CHECK(access(path_in(out, "checkpoints/checkpoint-00000004.safetensors"), F_OK) != 0);
    CHECK(test_same_file(path_in(out, "checkpoints/checkpoint-00000002.safetensors"),
                    path_in(ref, "checkpoints/checkpoint-00000002.safetensors")));
    CHECK(access(path_in(out, "model"), F_OK) != 0); /* nothing exported */
    /* The log has every step, the skipped ones with the diagnosis and a null loss. */
    CHECK(count_lines(path_in(out, "metrics.jsonl")) == 5);
    FILE *fp = fopen(path_in(out, "metrics.jsonl"), "r");
    char line[2048];
    int named = 0;
    while (fp && fgets(line, sizeof line, fp))
        named += test_contains(line, "\"loss\":null") &&
                 test_contains(line, "\"nonfinite\":\"parameter down_blocks.1.attentions.0.to_q.weight\"");
    if (fp)
        fclose(fp);
    CHECK_MSG(named == 3, "%d log lines name the parameter", named);
    doc("(the same run) afterwards", SARA_OK, "steps 3-5 skipped and logged with \"nonfinite\"; the checkpoint "
        "due at step 4 (a skipped step) is not written; step 2's checkpoint is the newest and is byte-identical to "
        "an uninterrupted run's; no model is exported");
}

TEST(robust_overflowing_activation_is_named_by_module)
{
    char out[600];
    snprintf(out, sizeof out, "%s/overflow", test_tmpdir());
    hook h = {.at_step = 1, .act = ACT_OVERFLOW};
    CHECK_ERR(run(out, 4, 0, &h, 2), SARA_ERR_NUMERIC, "first non-finite: activation of ");
    /* conv_in's output is about 3e38, still finite; the first ResNet normalises it (its statistics
     * are formed in double) and adds it back through the skip, still finite; the downsampler's
     * convolution sums 72 such values and overflows. So its output is the first non-finite one. */
    CHECK_MSG(!strcmp(h.nonfinite, "activation of down_blocks.0.downsamplers.0.conv"), "named: %s", h.nonfinite);
    doc("a bias of 3e38 (finite) makes a later activation overflow", SARA_ERR_NUMERIC, sara_last_error());
}

TEST(robust_stop_flag_checkpoints_then_resumes_bit_exactly)
{
    const char *ref = reference_run();
    CHECK(ref);
    char out[600];
    snprintf(out, sizeof out, "%s/stop", test_tmpdir());
    volatile sig_atomic_t stop = 0;
    hook h = {.at_step = 3, .act = ACT_STOP, .stop = &stop};
    CHECK_ERR(run(out, 6, 0, &h, 10), SARA_ERR_INTERRUPTED, "stopped by request after step 3; state saved in ");
    CHECK_MSG(test_contains(sara_last_error(), "checkpoint-00000003.safetensors"), "%s", sara_last_error());
    doc("the stop flag (set by the CLI's SIGINT handler) after step 3", SARA_ERR_INTERRUPTED, sara_last_error());
    CHECK(access(path_in(out, "checkpoints/checkpoint-00000003.safetensors"), F_OK) == 0);
    CHECK(access(path_in(out, "model"), F_OK) != 0);
    CHECK_OK(run(out, 6, 1, NULL, 10));
    CHECK(test_same_file(path_in(out, "model/diffusion_pytorch_model.safetensors"),
                    path_in(ref, "model/diffusion_pytorch_model.safetensors")));
    CHECK(count_lines(path_in(out, "metrics.jsonl")) == 6);
}

/* A kill can leave a log line half-written and a checkpoint temporary: resume cleans both. */
TEST(robust_resume_drops_partial_log_lines_and_temporaries)
{
    char out[600];
    snprintf(out, sizeof out, "%s/partial", test_tmpdir());
    CHECK_OK(run(out, 4, 0, NULL, 10));
    FILE *fp = fopen(path_in(out, "metrics.jsonl"), "a");
    CHECK(fp);
    fputs("{\"step\":5,\"loss\":0.5}\n{\"st", fp); /* a step past the checkpoint, then a cut line */
    fclose(fp);
    fp = fopen(path_in(out, "checkpoints/checkpoint-00000006.safetensors.tmp.AbC123"), "w");
    CHECK(fp);
    fclose(fp);
    CHECK_OK(run(out, 6, 1, NULL, 10));
    CHECK(count_files(path_in(out, "checkpoints"), ".tmp.") == 0);
    fp = fopen(path_in(out, "metrics.jsonl"), "r");
    char line[2048];
    int k = 0, in_order = 1;
    while (fp && fgets(line, sizeof line, fp)) {
        long long step = -1;
        in_order &= sscanf(line, "{\"step\":%lld,", &step) == 1 && step == ++k && strchr(line, '\n');
    }
    if (fp)
        fclose(fp);
    CHECK_MSG(k == 6 && in_order, "metrics.jsonl: %d lines, in order %d", k, in_order);
    doc("--resume after a kill left a half-written log line and a checkpoint temporary", SARA_OK,
        "the line and the lines past the checkpoint are dropped, the temporary is removed; the log reads like one "
        "run");
}
