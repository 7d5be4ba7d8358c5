/* cmd_sample.c — `sara sample`: a PNG grid from a model folder, one row per class, fixed seeds. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "core/threads.h"
#include "diffusion/sampler.h"
#include "options.h"
#include "sampling_model.h"
#include "train/sample.h"

typedef struct {
    const char *config, *model, *out, *sampler;
    int per_class, steps, batch, threads, force;
    opt_string_list adapter;
    int64_t seed;
    double eta, guidance;
} sample_args;

#define R(field, type, name, def, help) OPT_ROW(sample_args, field, type, name, def, help)
static const opt_spec sample_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(model, OPT_STRING, "model", "runs/default/model", "model folder (config.json + diffusion_pytorch_model.safetensors)"),
    R(out, OPT_STRING, "out", "samples.png", "PNG grid to write"),
    R(sampler, OPT_STRING, "sampler", "ddim", "ddim or ddpm"),
    R(steps, OPT_INT, "steps", "50", "sampling steps"),
    R(eta, OPT_DOUBLE, "eta", "0", "DDIM eta (0: deterministic)"),
    R(guidance, OPT_DOUBLE, "guidance", "1.0", "classifier-free guidance scale (needs a null class)"),
    R(per_class, OPT_INT, "per-class", "8", "images per class (grid columns)"),
    R(seed, OPT_I64, "seed", "0", "seed of the starting noise"),
    R(batch, OPT_INT, "batch", "32", "images per model call"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
    R(adapter, OPT_STRING_LIST, "adapter", NULL, "SaRA adapter to apply first, optionally scaled: A or A:ALPHA"),
    R(force, OPT_FLAG, "force", NULL, "apply adapters trained on a different base (hash mismatch)"),
};
#undef R

static const opt_table sample_table = {
    "sample", "sara sample — write a grid of samples, one row per class", "sara sample [options]", sample_specs,
    (int)(sizeof sample_specs / sizeof sample_specs[0]), 0};

static sara_status run(const sample_args *a)
{
    sampling_model sm;
    const sampling_model_args ma = {a->model, a->sampler, a->adapter.v, a->adapter.n, a->force, a->steps, a->eta,
                                    a->guidance};
    SARA_TRY(sampling_model_load(&sm, &ma));
    const model_info *mi = sm.mi;
    sara_status s = sample_class_grid(sm.m, &sm.sched, &sm.so, mi->num_classes, a->per_class, a->batch,
                                      (uint64_t)a->seed, a->out);
    if (s == SARA_OK)
        fprintf(stderr, "wrote %s (%d rows × %d, %s %d steps, guidance %.2g, seed %lld)\n", a->out,
                mi->num_classes > 0 ? mi->num_classes : 1, a->per_class, sampler_kind_name(sm.so.kind), sm.so.steps,
                sm.so.guidance_scale, (long long)a->seed);
    sampling_model_free(&sm);
    return s;
}

int cmd_sample(int argc, char **argv)
{
    sample_args a;
    int r = opts_parse_command(&sample_table, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    sara_set_threads(a.threads);
    sara_status s = run(&a);
    return s == SARA_OK ? 0 : cli_fail(s);
}
