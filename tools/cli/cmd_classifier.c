/* cmd_classifier.c — `sara classifier train|test`: trains the Fashion-MNIST classifier
 * (src/eval/classifier.h) with AdamW on the train split, light shift augmentation and a cosine
 * schedule, then measures it on the test split and saves it with that accuracy, the command and
 * the configuration in its metadata; `test` prints overall and per-class accuracy of a saved
 * classifier on Fashion-MNIST or on an image folder whose classes are Fashion-MNIST's names. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/styles.h"
#include "eval/classifier.h"
#include "options.h"
#include "train/adamw.h"

#define FASHION_MNIST "fashion-mnist"
#define PAD_VALUE -1.0f     /* the dataset's background: pixel 0 */
#define LOG_EVERY 50        /* steps between progress lines */
/* rng stream of the augmentation: the data order uses streams 0, 1, ... (one per epoch). */
#define AUG_STREAM 0x6175676d656e74ull
/* Seed offset of the per-image style streams (rng_seed_stream(seed ^ STYLE_AUG_SEED, sample)):
 * independent of the streams above, so --augment-styles 0 leaves every other draw unchanged. */
#define STYLE_AUG_SEED 0x7374796c652d6175ull /* "style-au" */
#define FMNIST_SIDE 28 /* styles work on the 28×28 garment inside the 32×32 canvas */

typedef struct {
    const char *config, *out, *data_dir;
    int epochs, batch, threads, limit, shift;
    int64_t seed, warmup;
    double lr, weight_decay, augment_styles;
} ctrain_args;

#define R(field, type, name, def, help) OPT_ROW(ctrain_args, field, type, name, def, help)
static const opt_spec ctrain_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(out, OPT_STRING, "out", NULL, "classifier safetensors file to write (required)"),
    R(data_dir, OPT_STRING, "data-dir", NULL, "where the Fashion-MNIST idx files are (default: found automatically)"),
    R(epochs, OPT_INT, "epochs", "5", "passes over the train split"),
    R(batch, OPT_INT, "batch", "128", "batch size"),
    R(lr, OPT_DOUBLE, "lr", "3e-3", "peak AdamW learning rate (cosine decay to 0)"),
    R(warmup, OPT_I64, "warmup", "100", "linear warm-up steps"),
    R(weight_decay, OPT_DOUBLE, "weight-decay", "1e-4", "AdamW decoupled weight decay"),
    R(shift, OPT_INT, "shift", "1", "augmentation: random shift of up to ±N pixels (0: none)"),
    R(augment_styles, OPT_DOUBLE, "augment-styles", "0",
      "augmentation: probability per image and epoch of one of the five `sara styles` transforms (0: none)"),
    R(limit, OPT_INT, "limit", "0", "use only the first N train and test images (0: all)"),
    R(seed, OPT_I64, "seed", "0", "seed of the initial weights, data order and augmentation"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
};
#undef R

static const opt_table ctrain_table = {
    "classifier train", "sara classifier train — train the Fashion-MNIST classifier (FID features, class judge)",
    "sara classifier train --out FILE [options]", ctrain_specs, (int)(sizeof ctrain_specs / sizeof ctrain_specs[0]), 0};

typedef struct {
    const char *config, *model, *data, *data_dir;
    int limit, threads;
} ctest_args;

#define R(field, type, name, def, help) OPT_ROW(ctest_args, field, type, name, def, help)
static const opt_spec ctest_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(model, OPT_STRING, "model", NULL, "classifier safetensors file (required)"),
    R(data, OPT_STRING, "data", FASHION_MNIST, "'fashion-mnist' (its test split) or an image folder named by class"),
    R(data_dir, OPT_STRING, "data-dir", NULL, "where the Fashion-MNIST idx files are (default: found automatically)"),
    R(limit, OPT_INT, "limit", "0", "use only the first N images (0: all)"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
};
#undef R

static const opt_table ctest_table = {
    "classifier test", "sara classifier test — overall and per-class accuracy of a classifier",
    "sara classifier test --model FILE [--data fashion-mnist|IMAGE_FOLDER]", ctest_specs,
    (int)(sizeof ctest_specs / sizeof ctest_specs[0]), 0};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Moves each image (B, 1, S, S) by its own random (dy, dx) in [-max, max]², filling with the
 * background: generated samples are not always centred the way the dataset is. */
static void augment_shift(float *x, int B, int S, int max, sara_rng *r, float *tmp /* (S, S) */)
{
    if (max <= 0)
        return;
    for (int b = 0; b < B; b++) {
        float *img = x + (size_t)b * S * S;
        int dy = (int)rng_below(r, 2 * (uint64_t)max + 1) - max, dx = (int)rng_below(r, 2 * (uint64_t)max + 1) - max;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                int si = i - dy, sj = j - dx;
                tmp[i * S + j] = si >= 0 && si < S && sj >= 0 && sj < S ? img[si * S + sj] : PAD_VALUE;
            }
        memcpy(img, tmp, (size_t)S * S * sizeof(float));
    }
}

/* With probability p, styles each image (B, 1, S, S) by one of the STYLES_COUNT transforms, chosen
 * uniformly, so the classifier learns the garment's class whatever the style (the judge of `sara
 * eval`). The draws come from the image's own stream, keyed by its global sample number
 * (epoch · count + dataset index), so they do not depend on the batch layout; the style's own
 * variation is keyed the same way. tmp holds 2·28·28 bytes. */
static sara_status augment_styles(float *x, const int64_t *idx, int B, int S, int64_t first_sample, int64_t count,
                                  double p, uint64_t seed, uint8_t *tmp)
{
    if (p <= 0)
        return SARA_OK;
    for (int b = 0; b < B; b++) {
        uint64_t epoch = (uint64_t)((first_sample + b) / count), key = epoch * (uint64_t)count + (uint64_t)idx[b];
        sara_rng r;
        rng_seed_stream(&r, seed ^ STYLE_AUG_SEED, key);
        if (rng_uniform(&r) >= p)
            continue;
        int style = (int)rng_below(&r, STYLES_COUNT);
        SARA_TRY(styles_apply_float(style, x + (size_t)b * S * S, S, FMNIST_SIDE, FMNIST_SIDE, key, tmp));
    }
    return SARA_OK;
}

/* Prints per-class and overall accuracy; *overall gets the fraction correct. */
static void print_accuracy(const classifier *c, const int64_t *correct, const int64_t *total, double *overall)
{
    int64_t sc = 0, st = 0;
    for (int k = 0; k < classifier_num_classes(c); k++) {
        sc += correct[k];
        st += total[k];
        if (total[k] > 0)
            printf("  %-12s %6.2f %%  (%" PRId64 "/%" PRId64 ")\n", classifier_class_name(c, k),
                   100.0 * (double)correct[k] / (double)total[k], correct[k], total[k]);
    }
    *overall = st > 0 ? (double)sc / (double)st : 0;
    printf("  %-12s %6.2f %%  (%" PRId64 "/%" PRId64 ")\n", "overall", 100.0 * *overall, sc, st);
}

/* "sara classifier train --out m.safetensors ..." as typed (argv from "train" on). */
static char *command_line(int argc, char **argv)
{
    size_t n = strlen("sara classifier") + 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    strcpy(s, "sara classifier");
    for (int i = 0; i < argc; i++)
        strcat(strcat(s, " "), argv[i]);
    return s;
}

typedef struct {
    classifier *c;
    param_table grads, m, v;
    sara_dataset train, test;
    data_order order;
    float *x, *tmp;      /* (batch, 1, S, S), (S, S) */
    uint8_t *style_tmp;  /* (2, 28, 28) */
    int64_t *idx, *labels; /* (batch) */
} train_state;

static void train_state_free(train_state *t)
{
    classifier_free(t->c);
    params_free(&t->grads);
    params_free(&t->m);
    params_free(&t->v);
    dataset_free(&t->train);
    dataset_free(&t->test);
    data_order_free(&t->order);
    free(t->x);
    free(t->tmp);
    free(t->style_tmp);
    free(t->idx);
    free(t->labels);
}

static sara_status train_setup(train_state *t, const ctrain_args *a)
{
    if (!a->out)
        return sara_fail(SARA_ERR_INVALID, "classifier train: --out FILE is required");
    if (a->epochs < 1 || a->batch < 1 || a->lr <= 0 || a->shift < 0)
        return sara_fail(SARA_ERR_INVALID, "classifier train: --epochs, --batch and --lr must be positive, --shift >= 0");
    if (!(a->augment_styles >= 0 && a->augment_styles <= 1))
        return sara_fail(SARA_ERR_INVALID, "classifier train: --augment-styles must be in [0, 1], not %g",
                         a->augment_styles);
    classifier_arch arch;
    classifier_arch_default(&arch);
    SARA_TRY(classifier_create(&t->c, &arch));
    classifier_init_random(t->c, (uint64_t)a->seed);
    SARA_TRY(params_clone_layout(&t->grads, classifier_params(t->c)));
    SARA_TRY(params_clone_layout(&t->m, classifier_params(t->c)));
    SARA_TRY(params_clone_layout(&t->v, classifier_params(t->c)));
    SARA_TRY(dataset_load_fashion_mnist(&t->train, a->data_dir, "train", a->limit, arch.image_size));
    SARA_TRY(dataset_load_fashion_mnist(&t->test, a->data_dir, "test", a->limit, arch.image_size));
    SARA_TRY(data_order_init(&t->order, t->train.count, (uint64_t)a->seed));
    size_t img = (size_t)arch.image_size * arch.image_size;
    t->x = malloc((size_t)a->batch * img * sizeof(float));
    t->tmp = malloc(img * sizeof(float));
    t->style_tmp = malloc(2 * FMNIST_SIDE * FMNIST_SIDE);
    t->idx = malloc((size_t)a->batch * sizeof(int64_t));
    t->labels = malloc((size_t)a->batch * sizeof(int64_t));
    if (!t->x || !t->tmp || !t->style_tmp || !t->idx || !t->labels)
        return sara_fail(SARA_ERR_NOMEM, "classifier train: out of memory for a batch of %d", a->batch);
    return SARA_OK;
}

static sara_status train_loop(train_state *t, const ctrain_args *a, double *seconds)
{
    param_table *p = classifier_params(t->c);
    int S = classifier_image_size(t->c);
    int64_t steps_per_epoch = (t->train.count + a->batch - 1) / a->batch, total = steps_per_epoch * a->epochs;
    adamw_hparams h;
    adamw_default(&h);
    h.weight_decay = a->weight_decay;
    sara_rng aug;
    rng_seed_stream(&aug, (uint64_t)a->seed, AUG_STREAM);
    double t0 = now_seconds(), loss_sum = 0;
    int64_t seen = 0, right = 0;
    printf("training %" PRId64 " steps (%d epochs × %" PRId64 "), batch %d, %zu parameters\n", total, a->epochs,
           steps_per_epoch, a->batch, p->numel);
    for (int64_t step = 0; step < total; step++) {
        data_order_next(&t->order, t->idx, a->batch);
        dataset_gather(&t->train, t->idx, a->batch, t->x, t->labels);
        SARA_TRY(augment_styles(t->x, t->idx, a->batch, S, step * a->batch, t->train.count, a->augment_styles,
                                (uint64_t)a->seed, t->style_tmp));
        augment_shift(t->x, a->batch, S, a->shift, &aug, t->tmp);
        memset(t->grads.data, 0, t->grads.numel * sizeof(float));
        float loss;
        int correct;
        SARA_TRY(classifier_loss_backward(t->c, t->x, t->labels, a->batch, &t->grads, &loss, &correct));
        if (loss != loss)
            return sara_fail(SARA_ERR_NUMERIC, "classifier train: loss is NaN at step %" PRId64, step + 1);
        double lr = lr_at(LR_COSINE, a->lr, step, a->warmup, total);
        adamw_update(p->data, t->grads.data, t->m.data, t->v.data, (int64_t)p->numel, &h, step + 1, lr);
        loss_sum += loss;
        seen += a->batch;
        right += correct;
        if ((step + 1) % LOG_EVERY == 0 || step + 1 == total) {
            int64_t n = (step % LOG_EVERY) + 1;
            printf("step %6" PRId64 "/%" PRId64 "  epoch %.2f  loss %.4f  train acc %.2f %%  lr %.2e  %.0f s\n",
                   step + 1, total, (double)(step + 1) / (double)steps_per_epoch, loss_sum / (double)n,
                   100.0 * (double)right / (double)seen, lr, now_seconds() - t0);
            fflush(stdout);
            loss_sum = 0;
            seen = right = 0;
        }
    }
    *seconds = now_seconds() - t0;
    return SARA_OK;
}

static sara_status evaluate(classifier *c, const sara_dataset *d, double *overall)
{
    int64_t correct[FASHION_MNIST_CLASSES], total[FASHION_MNIST_CLASSES];
    SARA_TRY(classifier_count_correct(c, d->images, d->labels, d->count, correct, total));
    print_accuracy(c, correct, total, overall);
    return SARA_OK;
}

static sara_status train_run(const ctrain_args *a, int argc, char **argv)
{
    train_state t = {0};
    char *cmd = command_line(argc, argv), *config = opts_to_json(&ctrain_table, a);
    double seconds = 0, acc = 0;
    sara_status s = cmd && config ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "classifier train: out of memory");
    if (s == SARA_OK)
        s = train_setup(&t, a);
    if (s == SARA_OK)
        s = train_loop(&t, a, &seconds);
    if (s == SARA_OK) {
        printf("test split (%d images):\n", t.test.count);
        s = evaluate(t.c, &t.test, &acc);
    }
    if (s == SARA_OK) {
        char acc_s[32], secs_s[32], n_s[32], aug_s[32];
        snprintf(acc_s, sizeof acc_s, "%.4f", acc);
        snprintf(aug_s, sizeof aug_s, "%g", a->augment_styles);
        snprintf(secs_s, sizeof secs_s, "%.0f", seconds);
        snprintf(n_s, sizeof n_s, "%d", t.test.count);
        const char *meta[] = {"test_accuracy", acc_s, "test_images", n_s, "train_seconds", secs_s,
                              "augment_styles", aug_s, "command", cmd, "config", config};
        s = classifier_save(t.c, a->out, meta, (int)(sizeof meta / sizeof meta[0]) / 2);
    }
    if (s == SARA_OK)
        printf("wrote %s (test accuracy %.2f %%, %.0f s of training)\n", a->out, 100.0 * acc, seconds);
    train_state_free(&t);
    free(cmd);
    free(config);
    return s;
}

static sara_status test_run(const ctest_args *a)
{
    if (!a->model)
        return sara_fail(SARA_ERR_INVALID, "classifier test: --model FILE is required");
    classifier *c = NULL;
    sara_dataset d = {0};
    SARA_TRY(classifier_load(&c, a->model));
    sara_status s;
    if (!strcmp(a->data, FASHION_MNIST)) {
        s = dataset_load_fashion_mnist(&d, a->data_dir, "test", a->limit, classifier_image_size(c));
    } else {
        s = dataset_load_folder(&d, a->data, classifier_image_size(c), 1, 0, 0, fashion_mnist_class_names,
                                FASHION_MNIST_CLASSES);
        if (s == SARA_OK && a->limit > 0 && a->limit < d.count)
            d.count = a->limit;
    }
    double acc;
    if (s == SARA_OK) {
        printf("%s on %s (%d images):\n", a->model, a->data, d.count);
        s = evaluate(c, &d, &acc);
    }
    dataset_free(&d);
    classifier_free(c);
    return s;
}

int cmd_classifier(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    int r;
    sara_status s;
    if (!strcmp(sub, "train")) {
        ctrain_args a;
        if ((r = opts_parse_command(&ctrain_table, &a, sizeof a, argc - 1, argv + 1)) >= 0)
            return r;
        sara_set_threads(a.threads);
        s = train_run(&a, argc - 1, argv + 1);
    } else if (!strcmp(sub, "test")) {
        ctest_args a;
        if ((r = opts_parse_command(&ctest_table, &a, sizeof a, argc - 1, argv + 1)) >= 0)
            return r;
        sara_set_threads(a.threads);
        s = test_run(&a);
    } else {
        FILE *fp = !strcmp(sub, "--help") || !strcmp(sub, "-h") ? stdout : stderr;
        fprintf(fp, "usage: sara classifier train --out FILE [options]\n"
                    "       sara classifier test --model FILE [--data fashion-mnist|IMAGE_FOLDER]\n"
                    "'sara classifier train --help' lists the options.\n");
        return fp == stdout ? 0 : 2;
    }
    return s == SARA_OK ? 0 : cli_fail(s);
}
