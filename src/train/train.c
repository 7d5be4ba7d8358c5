/* train.c — the training loop, checkpoints (write, keep-last-K, resume) and the JSONL metrics
 * log. A checkpoint is one safetensors file, written atomically: the parameters under their own
 * names, the method's optimizer state, the EMA weights ("ema." prefix), and in __metadata__ the
 * step, the RNG state, the data order position and the effective configuration. Faults (see
 * train.h and docs/ROBUSTNESS.md): non-finite steps are skipped and diagnosed, checkpoints come
 * only from finite weights, a stop request saves and returns, resume cleans up after a kill. */
#include "train/train.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "core/dirs.h"
#include "core/status.h"
#include "diffusion/diffusion.h"
#include "ops/ops.h"

#define CHECKPOINT_DIR "checkpoints"
#define CHECKPOINT_PREFIX "checkpoint-"
#define CHECKPOINT_SUFFIX ".safetensors"
#define CHECKPOINT_FORMAT "sara-checkpoint"
#define EMA_PREFIX "ema."
#define METRICS_FILE "metrics.jsonl"
#define MODEL_DIR "model"
#define ADAPTER_FILE "adapter.safetensors"

void train_options_default(train_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = "full";
    o->steps = 1000;
    o->batch = 32;
    o->lr = 1e-4;
    o->lr_schedule = LR_COSINE;
    o->max_grad_norm = 1.0;
    method_options_default(&o->method_opts);
    o->seed = 0;
    o->keep_last = 2;
    o->null_label = -1;
    o->max_bad_steps = 10;
}

/* Everything a step needs, allocated once before step 1. */
typedef struct {
    const train_options *o;
    unet *m;
    const noise_schedule *sched;
    const sara_dataset *data;
    train_method *method;
    param_table ema;           /* EMA weights (same layout), when ema_decay > 0 */
    sara_rng rng;              /* timesteps, noise, label dropout */
    data_order order;
    int64_t step;              /* optimizer steps done */
    int bad_steps;
    int checkpoint_pending;    /* a periodic checkpoint fell on a skipped step: write at the next good one */
    char nonfinite[PARAM_NAME_MAX + 64]; /* where the last skipped step's first NaN/Inf was */
    char last_checkpoint[4096];          /* path of the newest checkpoint written by this run */
    int64_t last_checkpoint_step;        /* its step (-1: none yet) */
    int64_t sample_numel;      /* C·H·W */
    int64_t *idx, *labels, *t; /* (B) */
    float *tf;                 /* (B) timesteps as float for the model */
    float *x0, *noise, *xt, *target, *pred, *dpred; /* (B, C, H, W) each */
    FILE *metrics;
} trainer;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------------------------------ */
/* checkpoints */

static void checkpoint_path(const trainer *tr, int64_t step, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/" CHECKPOINT_DIR "/" CHECKPOINT_PREFIX "%08" PRId64 CHECKPOINT_SUFFIX, tr->o->out_dir, step);
}

/* Steps of the checkpoints present, ascending; returns the count (at most cap). */
static int list_checkpoints(const char *out_dir, int64_t *steps, int cap)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/" CHECKPOINT_DIR, out_dir);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    size_t plen = strlen(CHECKPOINT_PREFIX), slen = strlen(CHECKPOINT_SUFFIX);
    while ((e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len <= plen + slen || strncmp(e->d_name, CHECKPOINT_PREFIX, plen) ||
            strcmp(e->d_name + len - slen, CHECKPOINT_SUFFIX))
            continue;
        char *end;
        long long s = strtoll(e->d_name + plen, &end, 10);
        if (end == e->d_name + len - slen && s >= 0)
            steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of entries */
        for (int j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

#define MAX_CHECKPOINTS 4096

sara_status train_find_checkpoint(const char *out_dir, char *buf, size_t cap)
{
    int64_t steps[MAX_CHECKPOINTS];
    int n = list_checkpoints(out_dir, steps, MAX_CHECKPOINTS);
    if (n == 0)
        return sara_fail(SARA_ERR_MISSING, "%s/" CHECKPOINT_DIR ": no checkpoint to resume from", out_dir);
    snprintf(buf, cap, "%s/" CHECKPOINT_DIR "/" CHECKPOINT_PREFIX "%08" PRId64 CHECKPOINT_SUFFIX, out_dir, steps[n - 1]);
    return SARA_OK;
}

/* The first parameter (model or LoRA table) holding a NaN or Inf, into buf; 0 if none. */
static int params_nonfinite(trainer *tr, char *buf, size_t cap)
{
    const param_table *tables[2] = {unet_params(tr->m), unet_lora_params(tr->m)};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < tables[t]->count; i++) {
            const float *x = params_ptr(tables[t], i);
            for (int64_t k = 0; k < tables[t]->entries[i].numel; k++)
                if (!isfinite(x[k])) {
                    snprintf(buf, cap, "%s", tables[t]->entries[i].name);
                    return 1;
                }
        }
    return 0;
}

static sara_status checkpoint_write(trainer *tr)
{
    char path[4096], dir[4096], meta[64], bad[PARAM_NAME_MAX];
    /* Never save a poisoned state: it would replace (keep_last) the good checkpoints. */
    if (params_nonfinite(tr, bad, sizeof bad))
        return sara_fail(SARA_ERR_NUMERIC, "step %" PRId64 ": parameter %s is not finite; checkpoint not written "
                         "(the last good checkpoint is kept)", tr->step, bad);
    snprintf(dir, sizeof dir, "%s/" CHECKPOINT_DIR, tr->o->out_dir);
    SARA_TRY(dirs_create(dir));
    checkpoint_path(tr, tr->step, path, sizeof path);
    st_writer *w = NULL;
    SARA_TRY(st_writer_create(&w));
    sara_status s = params_add_to_writer(unet_params(tr->m), w, "");
    if (s == SARA_OK)
        s = tr->method->save_state(tr->method, w);
    if (s == SARA_OK && tr->ema.data)
        s = params_add_to_writer(&tr->ema, w, EMA_PREFIX);
    if (s == SARA_OK)
        s = st_writer_meta(w, "format", CHECKPOINT_FORMAT);
    if (s == SARA_OK)
        s = st_writer_meta(w, "method", tr->method->name);
    snprintf(meta, sizeof meta, "%" PRId64, tr->step);
    if (s == SARA_OK)
        s = st_writer_meta(w, "step", meta);
    for (int i = 0; i < 4 && s == SARA_OK; i++) {
        char key[16];
        snprintf(key, sizeof key, "rng%d", i);
        snprintf(meta, sizeof meta, "%016" PRIx64, tr->rng.s[i]);
        s = st_writer_meta(w, key, meta);
    }
    snprintf(meta, sizeof meta, "%" PRId64, tr->order.epoch);
    if (s == SARA_OK)
        s = st_writer_meta(w, "data_epoch", meta);
    snprintf(meta, sizeof meta, "%" PRId64, tr->order.pos);
    if (s == SARA_OK)
        s = st_writer_meta(w, "data_pos", meta);
    snprintf(meta, sizeof meta, "%d", tr->bad_steps);
    if (s == SARA_OK)
        s = st_writer_meta(w, "bad_steps", meta);
    if (s == SARA_OK && tr->o->config_json)
        s = st_writer_meta(w, "config", tr->o->config_json);
    if (s == SARA_OK)
        s = st_writer_write(w, path);
    st_writer_free(w);
    if (s != SARA_OK)
        return s;
    snprintf(tr->last_checkpoint, sizeof tr->last_checkpoint, "%s", path);
    tr->last_checkpoint_step = tr->step;
    /* Keep the newest keep_last checkpoints; the one just written is among them. */
    int64_t steps[MAX_CHECKPOINTS];
    int n = list_checkpoints(tr->o->out_dir, steps, MAX_CHECKPOINTS);
    int keep = tr->o->keep_last > 0 ? tr->o->keep_last : 1;
    for (int i = 0; i < n - keep; i++) {
        checkpoint_path(tr, steps[i], path, sizeof path);
        unlink(path);
    }
    return SARA_OK;
}

static sara_status meta_i64(const st_file *f, const char *key, int64_t *out)
{
    const char *v = safetensors_meta(f, key);
    char *end;
    if (!v)
        return sara_fail(SARA_ERR_MISSING, "%s: checkpoint metadata lacks '%s'", f->path, key);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v)
        return sara_fail(SARA_ERR_FORMAT, "%s: checkpoint metadata '%s' is not an integer: '%s'", f->path, key, v);
    *out = x;
    return SARA_OK;
}

static sara_status checkpoint_restore(trainer *tr, const char *path)
{
    st_file *f = NULL;
    SARA_TRY(safetensors_open(path, &f));
    sara_status s = SARA_OK;
    const char *fmt = safetensors_meta(f, "format"), *method = safetensors_meta(f, "method");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT))
        s = sara_fail(SARA_ERR_FORMAT, "%s: not a sara checkpoint (metadata format is not '%s')", path, CHECKPOINT_FORMAT);
    else if (!method || strcmp(method, tr->method->name))
        s = sara_fail(SARA_ERR_INVALID, "%s: checkpoint was trained with method '%s', not '%s'", path,
                      method ? method : "?", tr->method->name);
    if (s == SARA_OK)
        s = params_load(unet_params(tr->m), f, 1);
    if (s == SARA_OK)
        s = tr->method->load_state(tr->method, f);
    if (s == SARA_OK && tr->ema.data) {
        /* The EMA table is loaded through a prefixed view: names in the file are "ema.<name>". */
        for (int i = 0; i < tr->ema.count && s == SARA_OK; i++) {
            char name[PARAM_NAME_MAX + 8];
            snprintf(name, sizeof name, EMA_PREFIX "%s", tr->ema.entries[i].name);
            const st_tensor *t = safetensors_find(f, name);
            if (!t || t->numel != tr->ema.entries[i].numel)
                s = sara_fail(SARA_ERR_MISSING, "%s: missing or mis-shaped EMA tensor %s (was EMA on?)", path, name);
            else
                s = safetensors_read_f32(f, t, params_ptr(&tr->ema, i));
        }
    }
    int64_t epoch = 0, pos = 0, bad = 0;
    if (s == SARA_OK)
        s = meta_i64(f, "step", &tr->step);
    if (s == SARA_OK)
        s = meta_i64(f, "data_epoch", &epoch);
    if (s == SARA_OK)
        s = meta_i64(f, "data_pos", &pos);
    if (s == SARA_OK)
        s = meta_i64(f, "bad_steps", &bad);
    for (int i = 0; i < 4 && s == SARA_OK; i++) {
        char key[16];
        snprintf(key, sizeof key, "rng%d", i);
        const char *v = safetensors_meta(f, key);
        char *end;
        if (!v || (tr->rng.s[i] = strtoull(v, &end, 16), *end))
            s = sara_fail(SARA_ERR_FORMAT, "%s: checkpoint metadata '%s' missing or not hexadecimal", path, key);
    }
    if (s == SARA_OK)
        s = data_order_restore(&tr->order, epoch, pos);
    tr->bad_steps = (int)bad;
    safetensors_close(f);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* metrics log */

/* Copies the log lines of steps up to the checkpoint's: a line past it (a crash after logging)
 * or one without its newline (a kill in the middle of writing it) is dropped. */
static sara_status metrics_copy_upto(FILE *in, atomic_file *af, int64_t last_step)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    sara_status s = SARA_OK;
    while (s == SARA_OK && (n = getline(&line, &cap, in)) > 0) {
        long long step;
        if (line[n - 1] != '\n' || sscanf(line, "{\"step\":%lld", &step) != 1 || step > last_step)
            continue;
        s = atomic_file_write(af, line, (size_t)n);
    }
    free(line);
    return s;
}

/* On resume the log may hold steps past the checkpoint: drop them so the log reads like one
 * uninterrupted run. Lines are {"step":N,...}. */
static sara_status metrics_open(trainer *tr)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" METRICS_FILE, tr->o->out_dir);
    if (tr->step > 0) {
        FILE *in = fopen(path, "r");
        atomic_file af;
        if (in) {
            sara_status s = atomic_file_open(&af, path);
            if (s == SARA_OK && (s = metrics_copy_upto(in, &af, tr->step)) != SARA_OK)
                atomic_file_abort(&af);
            else if (s == SARA_OK)
                s = atomic_file_commit(&af);
            fclose(in);
            SARA_TRY(s);
        }
    }
    tr->metrics = fopen(path, tr->step > 0 ? "a" : "w");
    if (!tr->metrics)
        return sara_fail(SARA_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    return SARA_OK;
}

#define METHOD_METRICS_MAX 1024

/* src as a JSON string body: parameter names are plain, but never let one break the line. */
static void json_plain(char *dst, size_t cap, const char *src)
{
    size_t k = 0;
    for (; *src && k + 1 < cap; src++)
        dst[k++] = (*src == '"' || *src == '\\' || (unsigned char)*src < 0x20) ? '?' : *src;
    dst[k] = '\0';
}

static void metrics_write(trainer *tr, const train_progress *p)
{
    char extra[METHOD_METRICS_MAX] = "", where[sizeof tr->nonfinite + 16] = "";
    if (tr->method->step_metrics)
        tr->method->step_metrics(tr->method, extra, sizeof extra);
    if (p->nonfinite) {
        char name[sizeof tr->nonfinite];
        json_plain(name, sizeof name, p->nonfinite);
        snprintf(where, sizeof where, ",\"nonfinite\":\"%s\"", name);
    }
    /* JSON has no NaN or Infinity: a non-finite loss or norm is logged as null. */
    char loss[32] = "null", norm[32] = "null";
    if (isfinite(p->loss))
        snprintf(loss, sizeof loss, "%.9g", p->loss);
    if (isfinite(p->grad_norm))
        snprintf(norm, sizeof norm, "%.9g", p->grad_norm);
    fprintf(tr->metrics,
            "{\"step\":%" PRId64 ",\"loss\":%s,\"lr\":%.9g,\"grad_norm\":%s,\"seconds\":%.6f,\"skipped\":%d%s%s%s}\n",
            p->step, loss, p->lr, norm, p->step_seconds, p->skipped, where, extra[0] ? "," : "", extra);
    fflush(tr->metrics);
}

/* ------------------------------------------------------------------------------------------ */
/* one step */

static void ema_update(trainer *tr)
{
    const float d = (float)tr->o->ema_decay;
    const float *p = unet_params(tr->m)->data;
    float *e = tr->ema.data;
    for (size_t i = 0; i < tr->ema.numel; i++)
        e[i] = d * e[i] + (1.0f - d) * p[i];
}

/* Names where a skipped step's first NaN or Inf is: a parameter or forward activation (in forward
 * order), else the loss, else the gradient nearest the output (the first one backward wrote). */
static void locate_nonfinite(trainer *tr, double loss, char *buf, size_t cap)
{
    if (unet_find_nonfinite(tr->m, buf, cap))
        return;
    if (!isfinite(loss)) {
        snprintf(buf, cap, "loss");
        return;
    }
    const ops_sink *sinks = tr->method->sinks;
    int n_model = unet_params(tr->m)->count, n = n_model + unet_lora_params(tr->m)->count;
    for (int i = n - 1; i >= 0; i--) {
        const param_table *t = i < n_model ? unet_params(tr->m) : unet_lora_params(tr->m);
        int64_t len = sinks[i].kind == OPS_SINK_DENSE    ? t->entries[i < n_model ? i : i - n_model].numel
                      : sinks[i].kind == OPS_SINK_SPARSE ? sinks[i].nnz
                                                         : 0;
        const float *g = sinks[i].kind == OPS_SINK_DENSE ? sinks[i].dense : sinks[i].values;
        for (int64_t k = 0; k < len; k++)
            if (!isfinite(g[k])) {
                snprintf(buf, cap, "gradient of %s", unet_param_name(tr->m, i));
                return;
            }
    }
    snprintf(buf, cap, "gradient norm (the gradients are finite; their sum of squares overflowed)");
}

/* The method's calls of a step, each charged to its kind in a profile (ops_prof). */
static void train_zero_grad(train_method *meth)
{
    OPS_PROF_SCOPE(OPS_PROF_GRAD);
    meth->zero_grad(meth);
}

static double train_grad_norm(train_method *meth)
{
    OPS_PROF_SCOPE(OPS_PROF_GRAD);
    return sqrt(meth->grad_sum_squares(meth));
}

/* Clip (scale ≠ 1), then the optimizer step. */
static void train_method_step(train_method *meth, double scale, int64_t step, double lr)
{
    if (scale != 1.0) {
        OPS_PROF_SCOPE(OPS_PROF_GRAD);
        meth->scale_grad(meth, (float)scale);
    }
    OPS_PROF_SCOPE(OPS_PROF_OPTIM);
    meth->step(meth, step, lr);
}

static sara_status train_step(trainer *tr, train_progress *p)
{
    const train_options *o = tr->o;
    int B = o->batch, T = tr->sched->num_train_timesteps;
    int64_t n = tr->sample_numel;
    double t0 = now_seconds();

    data_order_next(&tr->order, tr->idx, B);
    dataset_gather(tr->data, tr->idx, B, tr->x0, tr->labels);
    SARA_TRY(diffusion_sample_timesteps(&tr->rng, tr->t, B, T));
    rng_fill_normal(&tr->rng, tr->noise, (int64_t)B * n);
    if (o->label_dropout > 0 && o->null_label >= 0)
        for (int i = 0; i < B; i++)
            if (rng_uniform(&tr->rng) < o->label_dropout)
                tr->labels[i] = o->null_label;
    for (int i = 0; i < B; i++)
        tr->tf[i] = (float)tr->t[i];
    diffusion_add_noise(tr->sched, tr->xt, tr->x0, tr->noise, tr->t, B, n);
    diffusion_target(tr->sched, tr->target, tr->x0, tr->noise, tr->t, B, n);

    SARA_TRY(unet_forward(tr->m, tr->xt, tr->tf, tr->data->num_classes > 0 ? tr->labels : NULL, B, tr->pred));
    double loss = diffusion_mse_loss(tr->pred, tr->target, (int64_t)B * n, tr->dpred);
    train_zero_grad(tr->method);
    SARA_TRY(unet_backward(tr->m, tr->dpred, NULL, tr->method->sinks));
    double norm = train_grad_norm(tr->method);

    p->step = tr->step + 1;
    p->total = o->steps;
    p->loss = loss;
    p->grad_norm = norm;
    p->lr = lr_at(o->lr_schedule, o->lr, tr->step, o->warmup, o->steps);
    p->skipped = !isfinite(loss) || !isfinite(norm);
    if (p->skipped) {
        tr->bad_steps++;
        locate_nonfinite(tr, loss, tr->nonfinite, sizeof tr->nonfinite);
        p->nonfinite = tr->nonfinite;
    } else {
        tr->bad_steps = 0;
        double f = clip_factor(norm, o->max_grad_norm);
        train_method_step(tr->method, o->max_grad_norm > 0 ? f : 1.0, p->step, p->lr);
        if (tr->ema.data)
            ema_update(tr);
    }
    tr->step++;
    p->step_seconds = now_seconds() - t0;
    return SARA_OK;
}

/* ------------------------------------------------------------------------------------------ */

static void trainer_free(trainer *tr)
{
    method_free(tr->method);
    params_free(&tr->ema);
    data_order_free(&tr->order);
    free(tr->idx);
    free(tr->labels);
    free(tr->t);
    free(tr->tf);
    free(tr->x0);
    free(tr->noise);
    free(tr->xt);
    free(tr->target);
    free(tr->pred);
    free(tr->dpred);
    if (tr->metrics)
        fclose(tr->metrics);
}

static sara_status trainer_init(trainer *tr, unet *m, const noise_schedule *sched, const sara_dataset *data,
                                const train_options *o)
{
    const unet_config *c = unet_get_config(m);
    memset(tr, 0, sizeof *tr);
    tr->o = o;
    tr->m = m;
    tr->sched = sched;
    tr->data = data;
    if (data->channels != c->in_channels || data->height != c->sample_size || data->width != c->sample_size)
        return sara_fail(SARA_ERR_SHAPE, "%s: images are %d×%d×%d but the model takes %d×%d×%d", data->source,
                         data->channels, data->height, data->width, c->in_channels, c->sample_size, c->sample_size);
    if (data->num_classes > 0 && c->num_class_embeds < data->num_classes)
        return sara_fail(SARA_ERR_SHAPE, "%s: %d classes but the model has %d class embeddings", data->source,
                         data->num_classes, c->num_class_embeds);
    if (o->batch <= 0 || o->steps <= 0)
        return sara_fail(SARA_ERR_INVALID, "batch (%d) and steps (%" PRId64 ") must be positive", o->batch, o->steps);
    method_options mo = o->method_opts;
    mo.total_steps = o->steps;
    mo.seed = o->seed;
    SARA_TRY(method_create(&tr->method, o->method, m, &mo));
    if (o->ema_decay > 0) {
        SARA_TRY(params_clone_layout(&tr->ema, unet_params(m)));
        memcpy(tr->ema.data, unet_params(m)->data, tr->ema.numel * sizeof(float));
    }
    rng_seed_stream(&tr->rng, o->seed, 1);
    SARA_TRY(data_order_init(&tr->order, data->count, o->seed));
    int B = o->batch;
    tr->sample_numel = (int64_t)c->in_channels * c->sample_size * c->sample_size;
    size_t img = (size_t)B * (size_t)tr->sample_numel * sizeof(float);
    tr->idx = malloc((size_t)B * sizeof(int64_t));
    tr->labels = malloc((size_t)B * sizeof(int64_t));
    tr->t = malloc((size_t)B * sizeof(int64_t));
    tr->tf = malloc((size_t)B * sizeof(float));
    tr->x0 = malloc(img);
    tr->noise = malloc(img);
    tr->xt = malloc(img);
    tr->target = malloc(img);
    tr->pred = malloc(img);
    tr->dpred = malloc(img);
    if (!tr->idx || !tr->labels || !tr->t || !tr->tf || !tr->x0 || !tr->noise || !tr->xt || !tr->target || !tr->pred ||
        !tr->dpred)
        return sara_fail(SARA_ERR_NOMEM, "out of memory allocating batch buffers");
    unet_set_gradient_checkpointing(m, o->gradient_checkpointing);
    return unet_reserve(m, B);
}

static sara_status export_model(trainer *tr)
{
    char dir[4096], bad[PARAM_NAME_MAX];
    snprintf(dir, sizeof dir, "%s/" MODEL_DIR, tr->o->out_dir);
    if (params_nonfinite(tr, bad, sizeof bad))
        return sara_fail(SARA_ERR_NUMERIC, "%s: parameter %s is not finite; the model is not exported", dir, bad);
    param_table *p = unet_params(tr->m);
    float *raw = NULL;
    if (tr->ema.data) { /* export the EMA weights, then put the raw ones back */
        raw = malloc(p->numel * sizeof(float));
        if (!raw)
            return sara_fail(SARA_ERR_NOMEM, "out of memory exporting the EMA model");
        memcpy(raw, p->data, p->numel * sizeof(float));
        memcpy(p->data, tr->ema.data, p->numel * sizeof(float));
    }
    const char *meta[] = {"format", "pt", "sara_method", tr->method->name};
    sara_status s = unet_save(tr->m, dir, meta, 2);
    if (raw) {
        memcpy(p->data, raw, p->numel * sizeof(float));
        free(raw);
    }
    if (s == SARA_OK && tr->method->export_adapter) {
        snprintf(dir, sizeof dir, "%s/" ADAPTER_FILE, tr->o->out_dir);
        s = tr->method->export_adapter(tr->method, dir, tr->o->config_json);
    }
    return s;
}

static void report_plan(trainer *tr, train_progress_fn cb, void *cb_ctx)
{
    unet_memory_plan up = unet_memory(tr->m);
    train_memory mem = {
        .weights = up.weights,
        .method_state = tr->method->state_bytes(tr->method),
        .ema = tr->ema.numel * sizeof(float),
        .activations = up.activations,
        .act_grads = up.act_grads,
        .scratch = up.scratch,
        .batch_buffers = 6 * (size_t)tr->o->batch * (size_t)tr->sample_numel * sizeof(float),
        .total_params = unet_param_count(tr->m),
        .trainable_params = tr->method->trainable_count(tr->method),
        .resumed_from = tr->step,
    };
    train_progress p = {.memory = &mem, .step = tr->step, .total = tr->o->steps};
    cb(&p, cb_ctx);
}

static int stop_requested(const trainer *tr) { return tr->o->stop && *tr->o->stop; }

/* The periodic checkpoint after a step (and the last one); one due at a skipped step waits for
 * the next good step. checkpoint_write refuses non-finite weights. */
static sara_status after_step(trainer *tr, train_progress *p)
{
    const train_options *o = tr->o;
    int last = tr->step == o->steps;
    if ((o->save_every > 0 && tr->step % o->save_every == 0) || last)
        tr->checkpoint_pending = 1;
    if (!tr->checkpoint_pending || (p->skipped && !last))
        return SARA_OK;
    tr->checkpoint_pending = 0;
    sara_status s = checkpoint_write(tr);
    p->checkpointed = s == SARA_OK;
    return s;
}

/* Why the run stops after this step, if it does: too many bad steps in a row, or a request (which
 * first saves the step just done, unless that step was already saved). */
static sara_status stop_reason(trainer *tr, const train_progress *p)
{
    if (p->skipped && tr->bad_steps >= tr->o->max_bad_steps)
        return sara_fail(SARA_ERR_NUMERIC, "%d consecutive steps with a non-finite loss or gradient (step %" PRId64
                         ", first non-finite: %s); stopping, the last good checkpoint is kept", tr->bad_steps,
                         p->step, tr->nonfinite);
    if (!stop_requested(tr) || tr->step == tr->o->steps)
        return SARA_OK; /* a request after the last step: the run is complete, finish it */
    if (tr->last_checkpoint_step != tr->step)
        SARA_TRY(checkpoint_write(tr));
    return sara_fail(SARA_ERR_INTERRUPTED, "stopped by request after step %" PRId64 "; state saved in %s", tr->step,
                     tr->last_checkpoint);
}

/* A kill during a write leaves PREFIX*.tmp.XXXXXX files (atomic_file's temporaries) in dir. */
static void remove_stale_temporaries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) || !strstr(e->d_name, ".tmp."))
            continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
}

sara_status train_run(unet *m, const noise_schedule *sched, const sara_dataset *data, const train_options *o,
                      train_progress_fn cb, void *cb_ctx)
{
    trainer tr;
    SARA_TRY(dirs_create(o->out_dir));
    sara_status s = trainer_init(&tr, m, sched, data, o);
    tr.last_checkpoint_step = -1;
    if (s == SARA_OK && o->resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/" CHECKPOINT_DIR, o->out_dir);
        remove_stale_temporaries(path, CHECKPOINT_PREFIX);
        remove_stale_temporaries(o->out_dir, METRICS_FILE);
        s = train_find_checkpoint(o->out_dir, path, sizeof path);
        if (s == SARA_OK)
            s = checkpoint_restore(&tr, path);
    }
    if (s == SARA_OK)
        s = metrics_open(&tr);
    if (s == SARA_OK && cb)
        report_plan(&tr, cb, cb_ctx);
    while (s == SARA_OK && tr.step < o->steps) {
        train_progress p = {0};
        s = train_step(&tr, &p);
        if (s != SARA_OK)
            break;
        /* Log first: a crash between the two leaves a line that resume drops, never a gap. */
        metrics_write(&tr, &p);
        s = after_step(&tr, &p);
        if (cb)
            cb(&p, cb_ctx);
        if (s == SARA_OK)
            s = stop_reason(&tr, &p);
    }
    if (s == SARA_OK)
        s = export_model(&tr);
    trainer_free(&tr);
    return s;
}
