/* cmd_eval.c — `sara eval`: generates a fixed-seed set of samples per class from a model (or takes
 * an image folder in its place), scores it with two networks of the project's classifier
 * architecture — FID of the plain classifier's penultimate-layer features against the reference
 * data, and adherence (does the style-trained judge see the class that was asked for) — and
 * writes a JSON result and a Markdown row. `sara eval --group`
 * reads such results and ranks them with VLHI (SPEC.md §5), per data set and over their means.
 * Classes are matched by name between the model, the reference data and the classifier. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "eval/adherence.h"
#include "eval/classifier.h"
#include "eval/fid.h"
#include "eval/report.h"
#include "eval/vlhi.h"
#include "options.h"
#include "sampling_model.h"
#include "train/sample.h"

#define FASHION_MNIST "fashion-mnist"
#define EVAL_MAX_GROUP 512 /* result files in one --group */

typedef struct {
    const char *config, *model, *images, *data, *data_dir, *classifier, *judge, *json, *md, *label;
    opt_string_list adapter;
    int per_class, sample_steps, batch, threads, ref_limit, force, group;
    int64_t seed;
    double guidance;
} eval_args;

#define R(field, type, name, def, help) OPT_ROW(eval_args, field, type, name, def, help)
static const opt_spec eval_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(model, OPT_STRING, "model", NULL, "model folder to sample from"),
    R(adapter, OPT_STRING_LIST, "adapter", NULL, "adapter to apply first, optionally scaled: A or A:ALPHA"),
    R(force, OPT_FLAG, "force", NULL, "apply adapters trained on a different base (hash mismatch)"),
    R(images, OPT_STRING, "images", NULL, "evaluate this image folder (labels from its captions) instead of --model"),
    R(data, OPT_STRING, "data", FASHION_MNIST, "reference data: 'fashion-mnist' (its test split) or an image folder"),
    R(data_dir, OPT_STRING, "data-dir", NULL, "where the Fashion-MNIST idx files are (default: found automatically)"),
    R(ref_limit, OPT_INT, "ref-limit", "0", "use only the first N reference images (0: all)"),
    R(per_class, OPT_INT, "per-class", "100", "samples generated per class (FID uses them all)"),
    R(sample_steps, OPT_INT, "sample-steps", "50", "DDIM steps"),
    R(guidance, OPT_DOUBLE, "guidance", "1.0", "classifier-free guidance scale (needs a null class)"),
    R(seed, OPT_I64, "seed", "0", "seed: sample i starts from the noise of (seed, i)"),
    R(batch, OPT_INT, "batch", "32", "images per model call"),
    R(classifier, OPT_STRING, "classifier", "models/classifier/fashion-mnist-classifier.safetensors",
      "FID feature network (its penultimate-layer features)"),
    R(judge, OPT_STRING, "judge", "models/classifier/fashion-mnist-judge.safetensors",
      "adherence judge (its logits; trained with --augment-styles, so it reads the styled sets)"),
    R(json, OPT_STRING, "json", NULL, "write the result (or the group table) as JSON here"),
    R(md, OPT_STRING, "md", NULL, "append a Markdown row here (a group: write its table)"),
    R(label, OPT_STRING, "label", NULL, "row name in tables (default: the last adapter, else the model or images)"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
    R(group, OPT_FLAG, "group", NULL, "rank the JSON results given as arguments with VLHI"),
};
#undef R

static const opt_table eval_table = {
    "eval",
    "sara eval — FID and class adherence of a model's samples, and VLHI over a group of results\n\n"
    "FID: the Fréchet distance of the classifier's penultimate-layer features (not Inception's), from every\n"
    "generated sample (per-class × classes) against every reference image. FID is biased upward at small\n"
    "sample counts (the bias shrinks like 1/n; a few hundred samples give a visibly larger number than\n"
    "thousands): compare FIDs only at equal generated and reference counts, which the JSON records.\n"
    "Adherence: per requested class, the fraction of its samples the judge (--judge) assigns to it;\n"
    "overall, the mean over classes. Only classes present in the reference data are evaluated.\n"
    "Two networks, as the paper's Inception (FID) and CLIP (adherence): FID must see the style, the judge\n"
    "must not — the judge was trained with `sara classifier train --augment-styles`, so a styled sample\n"
    "of the right garment still counts as adherent.",
    "sara eval --model DIR [--adapter A[:ALPHA]]... [--data fashion-mnist|FOLDER] [options]\n"
    "       sara eval --images FOLDER [--data ...] [options]\n"
    "       sara eval --group A.json B.json ... [--md OUT.md] [--json OUT.json]",
    eval_specs, (int)(sizeof eval_specs / sizeof eval_specs[0]), EVAL_MAX_GROUP};

/* ---- classes ----------------------------------------------------------------------------------- */

/* Class names match ignoring case with ' ', '_', '-' and '/' equal, as dataset_load_folder does
 * ("T-shirt/top" is the folder "t_shirt_top"). */
static int name_char(unsigned char ch) { return ch == '_' || ch == '-' || ch == '/' ? ' ' : tolower(ch); }

static int names_match(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (name_char((unsigned char)*a) != name_char((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* The classifier's index of a class name, or -1. */
static int classifier_index(const classifier *c, const char *name)
{
    for (int k = 0; k < classifier_num_classes(c); k++)
        if (names_match(classifier_class_name(c, k), name))
            return k;
    return -1;
}

/* Relabels a dataset's labels (in its own classes) to the classifier's classes. */
static sara_status relabel(sara_dataset *d, const classifier *c)
{
    int map[MODEL_INFO_MAX_CLASSES];
    if (d->num_classes > MODEL_INFO_MAX_CLASSES)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %d classes", d->source, d->num_classes);
    for (int k = 0; k < d->num_classes; k++)
        if ((map[k] = classifier_index(c, d->class_names[k])) < 0)
            return sara_fail(SARA_ERR_INVALID, "%s: class '%s' is not one of the classifier's classes", d->source,
                             d->class_names[k]);
    for (int i = 0; i < d->count; i++)
        d->labels[i] = map[d->labels[i]];
    return SARA_OK;
}

static sara_status check_images(const sara_dataset *d, int size)
{
    if (d->channels != 1 || d->height != size || d->width != size)
        return sara_fail(SARA_ERR_SHAPE, "%s: images are %d×%d×%d; the classifier takes 1×%d×%d", d->source,
                         d->channels, d->height, d->width, size, size);
    if (d->count < 2)
        return sara_fail(SARA_ERR_INVALID, "%s: %d images (FID needs at least 2)", d->source, d->count);
    return SARA_OK;
}

/* ---- the sets being compared -------------------------------------------------------------------- */

typedef struct {
    classifier *clf, *judge;       /* FID features; adherence logits (same classes and size) */
    int size, k, dim;              /* image side, classifier classes, feature width */
    sara_dataset ref;              /* labels in the classifier's classes */
    int present[MODEL_INFO_MAX_CLASSES];  /* (k) reference images per class */
    float *gen;                    /* (n, 1, size, size) */
    int64_t *requested;            /* (n) classifier class asked for */
    int n;
} eval_sets;

static void eval_sets_free(eval_sets *e)
{
    classifier_free(e->clf);
    classifier_free(e->judge);
    dataset_free(&e->ref);
    free(e->gen);
    free(e->requested);
    memset(e, 0, sizeof *e);
}

/* names (n): the classes a folder's captions must name */
static sara_status load_reference(eval_sets *e, const eval_args *a, const char *const *names, int n)
{
    sara_status s = !strcmp(a->data, FASHION_MNIST)
                        ? dataset_load_fashion_mnist(&e->ref, a->data_dir, "test", a->ref_limit, e->size)
                        : dataset_load_folder(&e->ref, a->data, e->size, 1, 0, (uint64_t)a->seed, names, n);
    if (s != SARA_OK)
        return s;
    if (a->ref_limit > 0 && a->ref_limit < e->ref.count)
        e->ref.count = a->ref_limit;
    SARA_TRY(check_images(&e->ref, e->size));
    SARA_TRY(relabel(&e->ref, e->clf));
    for (int i = 0; i < e->ref.count; i++)
        e->present[e->ref.labels[i]]++;
    return SARA_OK;
}

/* --images: the folder's images of classes present in the reference become the generated set. */
static sara_status load_images(eval_sets *e, const eval_args *a)
{
    sara_dataset g = {0};
    const char *names[MODEL_INFO_MAX_CLASSES];
    for (int k = 0; k < e->k; k++)
        names[k] = classifier_class_name(e->clf, k);
    sara_status s = dataset_load_folder(&g, a->images, e->size, 1, 0, (uint64_t)a->seed, names, e->k);
    if (s == SARA_OK)
        s = load_reference(e, a, names, e->k);
    size_t px = (size_t)e->size * e->size;
    if (s == SARA_OK && !((e->gen = malloc((size_t)g.count * px * sizeof(float))) &&
                          (e->requested = malloc((size_t)g.count * sizeof(int64_t)))))
        s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory", a->images);
    for (int i = 0; s == SARA_OK && i < g.count; i++)
        if (e->present[g.labels[i]]) {
            memcpy(e->gen + (size_t)e->n * px, g.images + (size_t)i * px, px * sizeof(float));
            e->requested[e->n++] = g.labels[i];
        }
    if (s == SARA_OK && e->n < 2)
        s = sara_fail(SARA_ERR_INVALID, "%s: %d images of classes in the reference data (need at least 2)", a->images,
                      e->n);
    dataset_free(&g);
    return s;
}

/* --model: per_class samples of every model class that the reference data holds. */
static sara_status generate(eval_sets *e, const eval_args *a, const sampling_model *sm)
{
    const model_info *mi = sm->mi;
    const unet_config *c = unet_get_config(sm->m);
    if (c->sample_size != e->size || c->out_channels != 1)
        return sara_fail(SARA_ERR_SHAPE, "%s: the model makes %d×%d×%d images; the classifier takes 1×%d×%d",
                         a->model, c->out_channels, c->sample_size, c->sample_size, e->size, e->size);
    if (mi->num_classes < 1)
        return sara_fail(SARA_ERR_INVALID, "%s: an unconditional model (adherence needs classes)", a->model);
    if (a->per_class < 1 || a->sample_steps < 1)
        return sara_fail(SARA_ERR_INVALID, "--per-class and --sample-steps must be at least 1");
    const char *names[MODEL_INFO_MAX_CLASSES];
    for (int k = 0; k < mi->num_classes; k++)
        names[k] = mi->class_names[k];
    SARA_TRY(load_reference(e, a, names, mi->num_classes));
    int64_t *model_labels = malloc((size_t)mi->num_classes * a->per_class * sizeof *model_labels); /* (n) */
    e->requested = malloc((size_t)mi->num_classes * a->per_class * sizeof *e->requested);
    if (!model_labels || !e->requested) {
        free(model_labels);
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < mi->num_classes; k++) {
        int ck = classifier_index(e->clf, mi->class_names[k]);
        for (int j = 0; ck >= 0 && e->present[ck] && j < a->per_class; j++) {
            model_labels[e->n] = k;
            e->requested[e->n++] = ck;
        }
    }
    sara_status s = SARA_OK;
    if (e->n == 0)
        s = sara_fail(SARA_ERR_INVALID, "%s: no class of the model is in the reference data %s", a->model, a->data);
    if (s == SARA_OK && !(e->gen = malloc((size_t)e->n * e->size * e->size * sizeof(float))))
        s = sara_fail(SARA_ERR_NOMEM, "out of memory for %d samples", e->n);
    if (s == SARA_OK)
        s = sample_images(sm->m, &sm->sched, &sm->so, model_labels, e->n, a->batch, (uint64_t)a->seed, e->gen);
    free(model_labels);
    return s;
}

/* The judge must read the same images and name the same classes, in the same order, as the
 * feature network: requested labels are in the feature network's class indices. */
static sara_status load_judge(eval_sets *e, const char *path)
{
    SARA_TRY(classifier_load(&e->judge, path));
    if (classifier_image_size(e->judge) != e->size || classifier_num_classes(e->judge) != e->k)
        return sara_fail(SARA_ERR_SHAPE, "%s: the judge takes %d×%d images of %d classes; the classifier %d×%d of %d",
                         path, classifier_image_size(e->judge), classifier_image_size(e->judge),
                         classifier_num_classes(e->judge), e->size, e->size, e->k);
    for (int k = 0; k < e->k; k++)
        if (!names_match(classifier_class_name(e->judge, k), classifier_class_name(e->clf, k)))
            return sara_fail(SARA_ERR_INVALID, "%s: the judge's class %d is '%s', the classifier's '%s'", path, k,
                             classifier_class_name(e->judge, k), classifier_class_name(e->clf, k));
    return SARA_OK;
}

/* ---- scoring ------------------------------------------------------------------------------------ */

typedef struct {
    double fid, adherence;
    int count[MODEL_INFO_MAX_CLASSES];
    double per_class[MODEL_INFO_MAX_CLASSES];
} eval_scores;

static sara_status score(eval_sets *e, eval_scores *r)
{
    float *gf = malloc((size_t)e->n * e->dim * sizeof *gf);        /* (n, dim) */
    float *gl = malloc((size_t)e->n * e->k * sizeof *gl);          /* (n, k) */
    float *rf = malloc((size_t)e->ref.count * e->dim * sizeof *rf); /* (ref, dim) */
    sara_status s = gf && gl && rf ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "out of memory for the features");
    if (s == SARA_OK)
        s = classifier_forward(e->clf, e->gen, e->n, gf, NULL);
    if (s == SARA_OK)
        s = classifier_forward(e->judge, e->gen, e->n, NULL, gl);
    if (s == SARA_OK)
        s = classifier_forward(e->clf, e->ref.images, e->ref.count, rf, NULL);
    if (s == SARA_OK)
        s = fid_from_features(gf, e->n, rf, e->ref.count, e->dim, &r->fid);
    if (s == SARA_OK)
        s = adherence_compute(gl, e->requested, e->n, e->k, r->count, r->per_class, &r->adherence);
    free(gf);
    free(gl);
    free(rf);
    return s;
}

static const char *default_label(const eval_args *a)
{
    if (a->label)
        return a->label;
    if (a->adapter.n)
        return a->adapter.v[a->adapter.n - 1];
    return a->model ? a->model : a->images;
}

static void print_summary(const eval_report *r, int guided)
{
    printf("eval: %s\n", r->label);
    if (r->model)
        printf("  generated: %d (%d per class, DDIM %d steps, guidance %.3g, seed %lld)\n", r->n_generated,
               r->per_class, r->steps, guided ? r->guidance : 1.0, (long long)r->seed);
    else
        printf("  generated: %d images from %s\n", r->n_generated, r->images);
    printf("  reference: %s, %d images\n", r->data, r->n_reference);
    printf("  FID %.3f  (classifier features, d = %d; %d generated vs %d reference: biased upward at small n)\n",
           r->fid, r->feature_dim, r->n_generated, r->n_reference);
    printf("  adherence %.4f  (judge %s; mean over the evaluated classes)\n", r->adherence, r->judge);
    printf("  %-22s %9s %9s %9s\n", "class", "adherence", "generated", "reference");
    for (int k = 0; k < r->num_classes; k++)
        if (r->count[k])
            printf("  %-22s %9.4f %9d %9d\n", r->class_names[k], r->class_adherence[k], r->count[k], r->ref_count[k]);
}

static sara_status run_single(const eval_args *a)
{
    if (!a->model == !a->images)
        return sara_fail(SARA_ERR_INVALID, "give exactly one of --model and --images (or --group FILES)");
    eval_sets e = {0};
    sampling_model sm = {0};
    eval_scores *sc = calloc(1, sizeof *sc);
    if (!sc)
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    sara_status s = classifier_load(&e.clf, a->classifier);
    if (s == SARA_OK) {
        e.size = classifier_image_size(e.clf);
        e.k = classifier_num_classes(e.clf);
        e.dim = classifier_feature_dim(e.clf);
        if (e.k > MODEL_INFO_MAX_CLASSES)
            s = sara_fail(SARA_ERR_UNSUPPORTED, "%s: %d classes", a->classifier, e.k);
    }
    if (s == SARA_OK)
        s = load_judge(&e, a->judge);
    if (s == SARA_OK && a->images)
        s = load_images(&e, a);
    if (s == SARA_OK && a->model) {
        const sampling_model_args ma = {a->model, "ddim", a->adapter.v, a->adapter.n, a->force, a->sample_steps, 0,
                                        a->guidance};
        s = sampling_model_load(&sm, &ma);
        if (s == SARA_OK)
            s = generate(&e, a, &sm);
    }
    if (s == SARA_OK)
        s = score(&e, sc);
    if (s == SARA_OK) {
        const char *names[MODEL_INFO_MAX_CLASSES];
        for (int k = 0; k < e.k; k++)
            names[k] = classifier_class_name(e.clf, k);
        eval_report r = {.label = default_label(a), .model = a->model, .images = a->images,
                         .adapters = a->adapter.v, .n_adapters = a->adapter.n, .data = a->data,
                         .classifier = a->classifier, .judge = a->judge, .per_class = a->model ? a->per_class : 0,
                         .steps = a->model ? a->sample_steps : 0, .guidance = a->guidance, .seed = a->seed,
                         .n_generated = e.n, .n_reference = e.ref.count, .feature_dim = e.dim, .num_classes = e.k,
                         .class_names = names, .count = sc->count, .ref_count = e.present,
                         .class_adherence = sc->per_class, .fid = sc->fid, .adherence = sc->adherence};
        print_summary(&r, a->model != NULL);
        if (a->json)
            s = eval_report_write_json(&r, a->json);
        if (s == SARA_OK && a->md)
            s = eval_report_append_md(&r, a->md);
    }
    sampling_model_free(&sm);
    eval_sets_free(&e);
    free(sc);
    return s;
}

/* ---- --group ------------------------------------------------------------------------------------ */

static sara_status run_group(const eval_args *a, const char *const *files, int n)
{
    if (n < 1)
        return sara_fail(SARA_ERR_INVALID, "--group needs result files (written by sara eval --json)");
    if (a->model || a->images)
        return sara_fail(SARA_ERR_INVALID, "--group takes result files, not --model or --images");
    vlhi_run *runs = calloc((size_t)n, sizeof *runs);
    char **strings = calloc(2 * (size_t)n, sizeof *strings); /* label, data of each run */
    if (!runs || !strings) {
        free(runs);
        free(strings);
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    }
    sara_status s = SARA_OK;
    for (int i = 0; i < n && s == SARA_OK; i++) {
        s = eval_record_load(files[i], &strings[2 * i], &strings[2 * i + 1], &runs[i].fid, &runs[i].adherence);
        runs[i] = (vlhi_run){strings[2 * i], strings[2 * i + 1], runs[i].fid, runs[i].adherence, files[i]};
    }
    vlhi_table t = {0};
    if (s == SARA_OK)
        s = vlhi_table_build(&t, runs, n);
    if (s == SARA_OK) {
        printf("VLHI over %d runs on %d data set%s (per data set over its runs; Mean over each run's mean FID and "
               "adherence)\n", t.n_labels, t.n_data, t.n_data == 1 ? "" : "s");
        for (int i = 0; i < t.n_labels; i++) {
            printf("  %-28s", t.labels[i]);
            for (int j = 0; j < t.n_data; j++) {
                size_t c = (size_t)i * t.n_data + j;
                if (isnan(t.fid[c]))
                    printf("  %-26s", "—");
                else
                    printf("  %8.2f %6.4f %5.2f     ", t.fid[c], t.adherence[c], t.vlhi[c]);
            }
            if (t.n_data > 1 && !isnan(t.mean_vlhi[i]))
                printf("  mean %8.2f %6.4f %5.2f", t.mean_fid[i], t.mean_adherence[i], t.mean_vlhi[i]);
            printf("\n");
        }
    }
    if (s == SARA_OK && a->md)
        s = eval_group_write_md(&t, a->md);
    if (s == SARA_OK && a->json)
        s = eval_group_write_json(&t, a->json);
    vlhi_table_free(&t);
    for (int i = 0; i < 2 * n; i++)
        free(strings[i]);
    free(strings);
    free(runs);
    return s;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    memset(&a, 0, sizeof a);
    static const char *files[EVAL_MAX_GROUP];
    int n_files = 0;
    int r = opts_parse(&eval_table, &a, argc, argv, files, &n_files);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (n_files && !a.group) {
        fprintf(stderr, "sara eval: unexpected argument '%s' (result files go with --group)\n", files[0]);
        return 2;
    }
    sara_set_threads(a.threads);
    sara_status s = a.group ? run_group(&a, files, n_files) : run_single(&a);
    return s == SARA_OK ? 0 : cli_fail(s);
}
