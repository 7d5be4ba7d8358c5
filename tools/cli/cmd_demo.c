/* cmd_demo.c — `sara demo`: the README's main job. SaRA fine-tuning of the embedded base model
 * (models/fashion-mnist) on one style set for a few minutes, with before/after sample grids and
 * FID/adherence before and after. It is a script over the other subcommands (styles, sample,
 * eval, train), run in-process with the arguments it prints, so every stage can be repeated by
 * hand; it owns only the sequence and the summary. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "core/text_file.h"
#include "options.h"
#include "train/train.h"

#define DEMO_MAX_ARGS 40
#define DEMO_ARG_LEN 4200 /* a path of up to 4096 bytes plus a suffix */
#define DEMO_JSON_MAX (1 << 20)

typedef struct {
    const char *config, *base, *style, *out;
    int steps, batch, per_class, sample_steps, seed, threads;
    double threshold;
} demo_args;

#define R(field, type, name, def, help) OPT_ROW(demo_args, field, type, name, def, help)
static const opt_spec demo_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(base, OPT_STRING, "base", "models/fashion-mnist", "base model folder (the embedded Fashion-MNIST UNet)"),
    R(style, OPT_STRING, "style", "stripes", "style set to adapt to (sara styles --list)"),
    R(out, OPT_STRING, "out", "runs/demo", "output folder"),
    R(steps, OPT_INT, "steps", "300", "SaRA fine-tuning steps"),
    R(batch, OPT_INT, "batch", "16", "batch size"),
    R(threshold, OPT_DOUBLE, "threshold", "2e-3", "SaRA threshold: train the entries with |p| < threshold"),
    R(per_class, OPT_INT, "per-class", "10", "generated images per class for FID and adherence"),
    R(sample_steps, OPT_INT, "sample-steps", "25", "DDIM steps for grids and evaluation"),
    R(seed, OPT_INT, "seed", "1", "seed of the fine-tuning run and of the sampled noise"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
};
#undef R

static const opt_table demo_table = {
    "demo",
    "sara demo — SaRA-fine-tune the embedded base model on a style set; sample grids and FID/adherence before "
    "and after",
    "sara demo [options]", demo_specs, (int)(sizeof demo_specs / sizeof demo_specs[0]), 0};

/* An argument vector built from printf-style pieces, printed before it runs. */
typedef struct {
    char buf[DEMO_MAX_ARGS][DEMO_ARG_LEN];
    char *argv[DEMO_MAX_ARGS + 1];
    int argc;
} arg_list;

static void args_start(arg_list *l) { l->argc = 0; }

static void args_vadd(arg_list *l, const char *fmt, va_list ap)
{
    if (l->argc == DEMO_MAX_ARGS)
        return; /* cannot happen with the fixed lists below */
    vsnprintf(l->buf[l->argc], DEMO_ARG_LEN, fmt, ap);
    l->argv[l->argc] = l->buf[l->argc];
    l->argv[++l->argc] = NULL;
}

static void args_add(arg_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void args_add(arg_list *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    args_vadd(l, fmt, ap);
    va_end(ap);
}

/* "--name VALUE", the value printf-formatted. */
static void args_opt(arg_list *l, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void args_opt(arg_list *l, const char *name, const char *fmt, ...)
{
    args_add(l, "--%s", name);
    va_list ap;
    va_start(ap, fmt);
    args_vadd(l, fmt, ap);
    va_end(ap);
}

/* Runs a subcommand with l's arguments after printing them as a shell line. */
static int args_run(arg_list *l, int (*cmd)(int, char **), const char *what)
{
    fflush(stdout); /* the previous stage's report before this stage's header */
    fprintf(stderr, "\n== %s\n$ sara", what);
    for (int i = 0; i < l->argc; i++)
        fprintf(stderr, " %s", l->argv[i]);
    fprintf(stderr, "\n");
    fflush(stderr);
    int r = cmd(l->argc, l->argv);
    fflush(stdout);
    return r;
}

/* The fid and adherence numbers of a `sara eval --json` report. */
static sara_status read_eval(const char *path, double *fid, double *adherence)
{
    char *text = NULL;
    size_t len = 0;
    SARA_TRY(text_file_read(path, DEMO_JSON_MAX, "evaluation report", &text, &len));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "fid");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "adherence");
    sara_status s = cJSON_IsNumber(f) && cJSON_IsNumber(a)
                        ? SARA_OK
                        : sara_fail(SARA_ERR_FORMAT, "%s: no numeric \"fid\" and \"adherence\"", path);
    if (s == SARA_OK)
        *fid = f->valuedouble, *adherence = a->valuedouble;
    cJSON_Delete(root);
    return s;
}

static void add_sampling(arg_list *l, const demo_args *a)
{
    args_opt(l, "steps", "%d", a->sample_steps);
    args_opt(l, "seed", "%d", a->seed);
    args_opt(l, "threads", "%d", a->threads);
}

/* `sara eval` of the base (with the adapter when given) on the style set, to OUT/<name>.json. */
static int run_eval(arg_list *l, const demo_args *a, const char *adapter, const char *name)
{
    args_start(l);
    args_add(l, "eval");
    args_opt(l, "model", "%s", a->base);
    if (adapter) {
        args_opt(l, "adapter", "%s", adapter);
    }
    args_opt(l, "data", "%s/data/%s", a->out, a->style);
    args_opt(l, "per-class", "%d", a->per_class);
    args_opt(l, "sample-steps", "%d", a->sample_steps);
    args_opt(l, "seed", "%d", a->seed);
    args_opt(l, "threads", "%d", a->threads);
    args_opt(l, "label", "%s", name);
    args_opt(l, "json", "%s/%s.json", a->out, name);
    return args_run(l, cmd_eval, adapter ? "evaluate the base + SaRA adapter" : "evaluate the base model");
}

/* `sara sample` grid of the base (with the adapter when given) to OUT/<name>.png. */
static int run_grid(arg_list *l, const demo_args *a, const char *adapter, const char *name)
{
    args_start(l);
    args_add(l, "sample");
    args_opt(l, "model", "%s", a->base);
    if (adapter) {
        args_opt(l, "adapter", "%s", adapter);
    }
    args_opt(l, "out", "%s/%s.png", a->out, name);
    add_sampling(l, a);
    return args_run(l, cmd_sample, adapter ? "samples after: the same seeds, base + adapter" : "samples before");
}

static int run_train(arg_list *l, const demo_args *a)
{
    char dir[DEMO_ARG_LEN], found[DEMO_ARG_LEN];
    snprintf(dir, sizeof dir, "%s/run", a->out);
    int resume = train_find_checkpoint(dir, found, sizeof found) == SARA_OK; /* a re-run continues */
    args_start(l);
    args_add(l, "train");
    args_opt(l, "init", "%s", a->base);
    args_opt(l, "data", "%s/data/%s", a->out, a->style);
    args_opt(l, "method", "sara");
    args_opt(l, "threshold", "%g", a->threshold);
    args_opt(l, "steps", "%d", a->steps);
    args_opt(l, "batch", "%d", a->batch);
    args_opt(l, "seed", "%d", a->seed);
    args_opt(l, "threads", "%d", a->threads);
    args_opt(l, "samples-per-class", "0");
    args_opt(l, "save-every", "100");
    args_opt(l, "out", "%s", dir);
    if (resume)
        args_add(l, "--resume");
    return args_run(l, cmd_train, "SaRA fine-tuning");
}

static int summarize(const demo_args *a)
{
    char before[DEMO_ARG_LEN], after[DEMO_ARG_LEN];
    double fid0, adh0, fid1, adh1;
    snprintf(before, sizeof before, "%s/before.json", a->out);
    snprintf(after, sizeof after, "%s/after.json", a->out);
    sara_status s = read_eval(before, &fid0, &adh0);
    if (s == SARA_OK)
        s = read_eval(after, &fid1, &adh1);
    if (s != SARA_OK)
        return cli_fail(s);
    printf("\nSaRA on '%s' (%d steps, threshold %g), %d generated images per class:\n\n", a->style, a->steps,
           a->threshold, a->per_class);
    printf("|            | FID to the style set (lower is better) | class adherence (higher is better) |\n");
    printf("|------------|---------------------------------------:|-----------------------------------:|\n");
    printf("| base       | %38.2f | %33.1f %% |\n", fid0, 100 * adh0);
    printf("| base + SaRA| %38.2f | %33.1f %% |\n", fid1, 100 * adh1);
    printf("\nstyle set: %s/data/%s/preview.png\nsamples:   %s/before.png and %s/after.png (same seeds)\n"
           "adapter:   %s/run/adapter.safetensors (apply with sara sample --adapter, fold with sara merge)\n",
           a->out, a->style, a->out, a->out, a->out);
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    demo_args a;
    int r = opts_parse_command(&demo_table, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    static arg_list l; /* 170 kB of argument text: not on the stack */
    char adapter[DEMO_ARG_LEN];
    snprintf(adapter, sizeof adapter, "%s/run/adapter.safetensors", a.out);
    args_start(&l);
    args_add(&l, "styles");
    args_opt(&l, "out", "%s/data", a.out);
    args_opt(&l, "style", "%s", a.style);
    if ((r = args_run(&l, cmd_styles, "the style set")) != 0 || (r = run_grid(&l, &a, NULL, "before")) != 0 ||
        (r = run_eval(&l, &a, NULL, "before")) != 0 || (r = run_train(&l, &a)) != 0 ||
        (r = run_grid(&l, &a, adapter, "after")) != 0 || (r = run_eval(&l, &a, adapter, "after")) != 0)
        return r;
    return summarize(&a);
}
