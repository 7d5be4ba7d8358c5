/* cmd_merge.c — `sara merge`: base model + SaRA adapters (each with a scale) → a plain diffusers
 * model folder with the base's tensor names (config.json, weights, and sara.json when the base
 * has one), usable by any tool. P = P0 + Σ αᵢΔᵢ (peft/adapter.h). --zero-below θ then sets every
 * weight with |p| < θ to 0: the paper's Fig. 2(b) test of how little those weights contribute. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/status.h"
#include "core/params.h"
#include "core/threads.h"
#include "model/unet.h"
#include "options.h"
#include "peft/adapter.h"
#include "train/model_info.h"

typedef struct {
    const char *config, *base, *out;
    opt_string_list adapter;
    int force, threads;
    double zero_below;
} merge_args;

#define R(field, type, name, def, help) OPT_ROW(merge_args, field, type, name, def, help)
static const opt_spec merge_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(base, OPT_STRING, "base", NULL, "base model folder (config.json + diffusion_pytorch_model.safetensors)"),
    R(adapter, OPT_STRING_LIST, "adapter", NULL, "adapter file, optionally with a scale: A or A:ALPHA"),
    R(out, OPT_STRING, "o", NULL, "output model folder"),
    R(force, OPT_FLAG, "force", NULL, "apply adapters trained on a different base (hash mismatch)"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
    R(zero_below, OPT_DOUBLE, "zero-below", "0", "then set every entry with |p| < this to 0 (SaRA Fig. 2(b); 0: off)"),
};
#undef R

static const opt_table merge_table = {
    "merge", "sara merge — fold SaRA adapters into a base model: P = P0 + Σ alpha·delta",
    "sara merge --base DIR (--adapter A[:alpha]... | --zero-below THETA) -o OUT_DIR [--force]", merge_specs,
    (int)(sizeof merge_specs / sizeof merge_specs[0]), 0};

static int same_folder(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

/* Zeroes every entry with |p| < theta (strict, in fp32, like SaRA's selection); returns how many. */
static int64_t zero_below(param_table *t, double theta)
{
    int64_t zeroed = 0;
    for (int i = 0; i < t->count; i++) {
        float *p = params_ptr(t, i);
        for (int64_t k = 0; k < t->entries[i].numel; k++)
            if (fabsf(p[k]) < (float)theta) {
                zeroed += p[k] != 0.0f;
                p[k] = 0.0f;
            }
    }
    return zeroed;
}

static sara_status run(const merge_args *a)
{
    if (!(a->zero_below >= 0) || !isfinite(a->zero_below))
        return sara_fail(SARA_ERR_INVALID, "--zero-below %g: must be a finite number >= 0", a->zero_below);
    if (!a->base || !a->out || (a->adapter.n == 0 && a->zero_below <= 0))
        return sara_fail(SARA_ERR_INVALID,
                         "merge needs --base, -o and at least one --adapter or --zero-below (see sara merge --help)");
    if (same_folder(a->base, a->out))
        return sara_fail(SARA_ERR_INVALID, "%s: the output folder is the base folder (choose another -o)", a->out);
    unet *m = NULL;
    SARA_TRY(unet_load(&m, a->base));
    char list[2048] = "";
    for (int i = 0; i < a->adapter.n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", a->adapter.v[i]);
    sara_status s = adapter_apply_specs(unet_params(m), a->adapter.v, a->adapter.n, a->force);
    param_table *t = unet_params(m);
    int64_t zeroed = s == SARA_OK && a->zero_below > 0 ? zero_below(t, a->zero_below) : 0;
    char theta[32], fraction[32];
    snprintf(theta, sizeof theta, "%.9g", a->zero_below);
    snprintf(fraction, sizeof fraction, "%.9g", t->numel ? (double)zeroed / (double)t->numel : 0.0);
    const char *meta[] = {"format", "pt", "sara_merged_adapters", list, "sara_zero_below", theta,
                          "sara_zeroed_fraction", fraction};
    if (s == SARA_OK)
        s = unet_save(m, a->out, meta, a->zero_below > 0 ? 4 : 2);
    char info[4096];
    struct stat stt;
    snprintf(info, sizeof info, "%s/" MODEL_INFO_FILE, a->base);
    if (s == SARA_OK && stat(info, &stt) == 0) { /* keep the schedule and class names */
        model_info *mi = calloc(1, sizeof *mi);
        s = mi ? model_info_load(mi, a->base, unet_get_config(m)) : sara_fail(SARA_ERR_NOMEM, "out of memory");
        if (s == SARA_OK)
            s = model_info_save(mi, a->out);
        free(mi);
    }
    if (s == SARA_OK && a->adapter.n)
        fprintf(stderr, "merged %d adapter%s (%s) into %s → %s\n", a->adapter.n, a->adapter.n > 1 ? "s" : "", list,
                a->base, a->out);
    if (s == SARA_OK && a->zero_below > 0)
        printf("zeroed %lld of %zu entries (%.4f %%) with |p| < %g\n", (long long)zeroed, t->numel,
               100.0 * (double)zeroed / (double)(t->numel ? t->numel : 1), a->zero_below);
    unet_free(m);
    return s;
}

int cmd_merge(int argc, char **argv)
{
    merge_args a;
    int r = opts_parse_command(&merge_table, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    sara_set_threads(a.threads);
    sara_status s = run(&a);
    return s == SARA_OK ? 0 : cli_fail(s);
}
