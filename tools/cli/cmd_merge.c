/* cmd_merge.c — `sara merge`: base model + SaRA adapters (each with a scale) → a plain diffusers
 * model folder with the base's tensor names (config.json, weights, and sara.json when the base
 * has one), usable by any tool. P = P0 + Σ αᵢΔᵢ (peft/adapter.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/status.h"
#include "core/threads.h"
#include "model/unet.h"
#include "options.h"
#include "peft/adapter.h"
#include "train/model_info.h"

typedef struct {
    const char *config, *base, *out;
    opt_string_list adapter;
    int force, threads;
} merge_args;

#define R(field, type, name, def, help) OPT_ROW(merge_args, field, type, name, def, help)
static const opt_spec merge_specs[] = {
    R(config, OPT_STRING, "config", NULL, "JSON file of these options"),
    R(base, OPT_STRING, "base", NULL, "base model folder (config.json + diffusion_pytorch_model.safetensors)"),
    R(adapter, OPT_STRING_LIST, "adapter", NULL, "adapter file, optionally with a scale: A or A:ALPHA"),
    R(out, OPT_STRING, "o", NULL, "output model folder"),
    R(force, OPT_FLAG, "force", NULL, "apply adapters trained on a different base (hash mismatch)"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
};
#undef R

static const opt_table merge_table = {
    "merge", "sara merge — fold SaRA adapters into a base model: P = P0 + Σ alpha·delta",
    "sara merge --base DIR --adapter A[:alpha] [--adapter A2[:alpha2]] -o OUT_DIR [--force]", merge_specs,
    (int)(sizeof merge_specs / sizeof merge_specs[0]), 0};

static int same_folder(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

static sara_status run(const merge_args *a)
{
    if (!a->base || !a->out || a->adapter.n == 0)
        return sara_fail(SARA_ERR_INVALID, "merge needs --base, at least one --adapter and -o (see sara merge --help)");
    if (same_folder(a->base, a->out))
        return sara_fail(SARA_ERR_INVALID, "%s: the output folder is the base folder (choose another -o)", a->out);
    unet *m = NULL;
    SARA_TRY(unet_load(&m, a->base));
    char list[2048] = "";
    for (int i = 0; i < a->adapter.n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", a->adapter.v[i]);
    sara_status s = adapter_apply_specs(unet_params(m), a->adapter.v, a->adapter.n, a->force);
    const char *meta[] = {"format", "pt", "sara_merged_adapters", list};
    if (s == SARA_OK)
        s = unet_save(m, a->out, meta, 2);
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
    if (s == SARA_OK)
        fprintf(stderr, "merged %d adapter%s (%s) into %s → %s\n", a->adapter.n, a->adapter.n > 1 ? "s" : "", list,
                a->base, a->out);
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
