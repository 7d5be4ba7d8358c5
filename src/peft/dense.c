/* dense.c — the methods whose trainable parameters form whole tensors with dense gradients and
 * AdamW moments of their own layout: "full" (every model parameter) and "lora" (the LoRA A/B
 * matrices attached to the model, the model itself frozen). They differ only in which table they
 * train and where its gradient sinks sit; everything else is shared here. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "ops/ops.h"
#include "peft/adapter.h"
#include "peft/method.h"

/* Checkpoint tensor names of the optimizer state (torch calls the moments exp_avg / exp_avg_sq). */
#define DENSE_M_PREFIX "optimizer.exp_avg."
#define DENSE_V_PREFIX "optimizer.exp_avg_sq."

typedef struct {
    method_options opt;
    param_table *trained;     /* the model's table (full) or the LoRA table (lora) */
    param_table grad, m, v;   /* each the trained table's layout */
    int save_trained;         /* 1: the checkpoint must hold the trained table (the loop saves only the model's) */
    char base_sha256[SHA256_HEX_CHARS]; /* LoRA: the frozen base's hash, for the adapter's metadata */
} dense_state;

static dense_state *st(const train_method *self) { return (dense_state *)self->state; }

static void dense_zero_grad(train_method *self)
{
    ops_zero(st(self)->grad.data, (int64_t)st(self)->grad.numel);
}

static double dense_grad_sum_squares(train_method *self)
{
    return grad_sum_squares(st(self)->grad.data, (int64_t)st(self)->grad.numel);
}

static void dense_scale_grad(train_method *self, float factor)
{
    ops_scale(st(self)->grad.data, factor, (int64_t)st(self)->grad.numel);
}

static void dense_step(train_method *self, int64_t step, double lr)
{
    dense_state *s = st(self);
    /* One flat update over the whole arena: the padding between tensors has zero gradient and
     * zero value, so it stays zero. */
    adamw_update(s->trained->data, s->grad.data, s->m.data, s->v.data, (int64_t)s->grad.numel, &s->opt.adamw, step,
                 lr);
}

static int64_t dense_trainable_count(const train_method *self)
{
    int64_t n = 0;
    for (int i = 0; i < st(self)->trained->count; i++)
        n += st(self)->trained->entries[i].numel;
    return n;
}

static size_t dense_state_bytes(const train_method *self) { return 3 * st(self)->grad.numel * sizeof(float); }

static sara_status dense_save_state(train_method *self, st_writer *w)
{
    if (st(self)->save_trained)
        SARA_TRY(params_add_to_writer(st(self)->trained, w, ""));
    SARA_TRY(params_add_to_writer(&st(self)->m, w, DENSE_M_PREFIX));
    return params_add_to_writer(&st(self)->v, w, DENSE_V_PREFIX);
}

static sara_status load_prefixed(param_table *t, const st_file *f, const char *prefix)
{
    char name[PARAM_NAME_MAX + 64];
    for (int i = 0; i < t->count; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, t->entries[i].name);
        const st_tensor *x = safetensors_find(f, name);
        if (!x)
            return sara_fail(SARA_ERR_MISSING, "%s: missing tensor %s", f->path, name);
        if (x->numel != t->entries[i].numel)
            return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s has %lld elements, expected %lld", f->path, name,
                             (long long)x->numel, (long long)t->entries[i].numel);
        SARA_TRY(safetensors_read_f32(f, x, params_ptr(t, i)));
    }
    return SARA_OK;
}

static sara_status dense_load_state(train_method *self, const st_file *f)
{
    if (st(self)->save_trained)
        SARA_TRY(load_prefixed(st(self)->trained, f, ""));
    SARA_TRY(load_prefixed(&st(self)->m, f, DENSE_M_PREFIX));
    return load_prefixed(&st(self)->v, f, DENSE_V_PREFIX);
}

static void dense_destroy(train_method *self)
{
    dense_state *s = st(self);
    if (s) {
        params_free(&s->grad);
        params_free(&s->m);
        params_free(&s->v);
        free(s);
    }
    free(self->sinks);
}

/* Sets up training of `trained`, whose gradient sinks start at `sink_offset` in a sinks array of
 * n_sinks entries (the ones before it: frozen). */
static sara_status dense_init(train_method *self, const method_options *o, param_table *trained, int sink_offset,
                              int n_sinks)
{
    dense_state *s = calloc(1, sizeof *s);
    self->state = s;
    self->destroy = dense_destroy;
    if (!s)
        return sara_fail(SARA_ERR_NOMEM, "out of memory creating the optimizer");
    s->opt = *o;
    s->trained = trained;
    SARA_TRY(params_clone_layout(&s->grad, trained));
    SARA_TRY(params_clone_layout(&s->m, trained));
    SARA_TRY(params_clone_layout(&s->v, trained));
    self->sinks = calloc((size_t)n_sinks, sizeof *self->sinks); /* zeroed: OPS_SINK_NONE */
    if (!self->sinks)
        return sara_fail(SARA_ERR_NOMEM, "out of memory creating the optimizer");
    for (int i = 0; i < trained->count; i++)
        self->sinks[sink_offset + i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(&s->grad, i)};
    self->zero_grad = dense_zero_grad;
    self->grad_sum_squares = dense_grad_sum_squares;
    self->scale_grad = dense_scale_grad;
    self->step = dense_step;
    self->trainable_count = dense_trainable_count;
    self->state_bytes = dense_state_bytes;
    self->save_state = dense_save_state;
    self->load_state = dense_load_state;
    return SARA_OK;
}

sara_status method_create_full(train_method *self, const method_options *o)
{
    return dense_init(self, o, self->params, 0, self->params->count);
}

/* ---- LoRA ---- */

static sara_status lora_export(train_method *self, const char *path, const char *config_json)
{
    char rank[32], alpha[32], steps[32];
    snprintf(rank, sizeof rank, "%d", st(self)->opt.lora_rank);
    snprintf(alpha, sizeof alpha, "%.9g", st(self)->opt.lora_alpha);
    snprintf(steps, sizeof steps, "%lld", (long long)st(self)->opt.total_steps);
    const char *meta[][2] = {{"format", ADAPTER_FORMAT}, {"version", "1"}, {"method", "lora"}, {"rank", rank},
                             {"alpha", alpha}, {"steps", steps}, {"base_sha256", st(self)->base_sha256},
                             {"config", config_json ? config_json : "{}"}};
    st_writer *w = NULL;
    SARA_TRY(st_writer_create(&w));
    sara_status s = params_add_to_writer(st(self)->trained, w, "");
    for (size_t i = 0; s == SARA_OK && i < sizeof meta / sizeof meta[0]; i++)
        s = st_writer_meta(w, meta[i][0], meta[i][1]);
    if (s == SARA_OK)
        s = st_writer_write(w, path);
    st_writer_free(w);
    return s;
}

sara_status method_create_lora(train_method *self, const method_options *o)
{
    char hash[SHA256_HEX_CHARS];
    SARA_TRY(adapter_base_hash(self->params, hash)); /* before anything trains */
    SARA_TRY(unet_lora_attach(self->model, o->lora_rank, o->lora_alpha, o->lora_targets, o->seed));
    param_table *lora = unet_lora_params(self->model);
    SARA_TRY(dense_init(self, o, lora, self->params->count, self->params->count + lora->count));
    st(self)->save_trained = 1;
    memcpy(st(self)->base_sha256, hash, sizeof hash);
    self->export_adapter = lora_export;
    return SARA_OK;
}
