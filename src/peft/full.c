/* full.c — full fine-tuning: every parameter trainable, dense gradients, AdamW moments of the
 * same layout as the parameters. It is also the reference the other methods are compared with. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "peft/method.h"

/* Checkpoint tensor names of the optimizer state (torch calls the moments exp_avg / exp_avg_sq). */
#define FULL_M_PREFIX "optimizer.exp_avg."
#define FULL_V_PREFIX "optimizer.exp_avg_sq."

typedef struct {
    method_options opt;
    param_table grad, m, v;  /* each the parameters' layout */
} full_state;

static full_state *st(const train_method *self) { return (full_state *)self->state; }

static void full_zero_grad(train_method *self)
{
    memset(st(self)->grad.data, 0, st(self)->grad.numel * sizeof(float));
}

static double full_grad_sum_squares(train_method *self)
{
    return grad_sum_squares(st(self)->grad.data, (int64_t)st(self)->grad.numel);
}

static void full_scale_grad(train_method *self, float factor)
{
    float *g = st(self)->grad.data;
    for (size_t i = 0; i < st(self)->grad.numel; i++)
        g[i] *= factor;
}

static void full_step(train_method *self, int64_t step, double lr)
{
    full_state *s = st(self);
    /* One flat update over the whole arena: the padding between tensors has zero gradient and
     * zero value, so it stays zero. */
    adamw_update(self->params->data, s->grad.data, s->m.data, s->v.data, (int64_t)s->grad.numel, &s->opt.adamw,
                 step, lr);
}

static int64_t full_trainable_count(const train_method *self)
{
    int64_t n = 0;
    for (int i = 0; i < self->params->count; i++)
        n += self->params->entries[i].numel;
    return n;
}

static size_t full_state_bytes(const train_method *self) { return 3 * st(self)->grad.numel * sizeof(float); }

static sara_status full_save_state(train_method *self, st_writer *w)
{
    SARA_TRY(params_add_to_writer(&st(self)->m, w, FULL_M_PREFIX));
    return params_add_to_writer(&st(self)->v, w, FULL_V_PREFIX);
}

static sara_status load_prefixed(param_table *t, const st_file *f, const char *prefix)
{
    char name[PARAM_NAME_MAX + 64];
    for (int i = 0; i < t->count; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, t->entries[i].name);
        const st_tensor *x = safetensors_find(f, name);
        if (!x)
            return sara_fail(SARA_ERR_MISSING, "%s: missing optimizer tensor %s", f->path, name);
        if (x->numel != t->entries[i].numel)
            return sara_fail(SARA_ERR_SHAPE, "%s: optimizer tensor %s has %lld elements, expected %lld", f->path,
                             name, (long long)x->numel, (long long)t->entries[i].numel);
        SARA_TRY(safetensors_read_f32(f, x, params_ptr(t, i)));
    }
    return SARA_OK;
}

static sara_status full_load_state(train_method *self, const st_file *f)
{
    SARA_TRY(load_prefixed(&st(self)->m, f, FULL_M_PREFIX));
    return load_prefixed(&st(self)->v, f, FULL_V_PREFIX);
}

static void full_destroy(train_method *self)
{
    full_state *s = st(self);
    if (s) {
        params_free(&s->grad);
        params_free(&s->m);
        params_free(&s->v);
        free(s);
    }
    free(self->sinks);
}

sara_status method_create_full(train_method *self, const method_options *o)
{
    full_state *s = calloc(1, sizeof *s);
    self->state = s;
    self->destroy = full_destroy;
    if (!s)
        return sara_fail(SARA_ERR_NOMEM, "out of memory creating the optimizer");
    s->opt = *o;
    SARA_TRY(params_clone_layout(&s->grad, self->params));
    SARA_TRY(params_clone_layout(&s->m, self->params));
    SARA_TRY(params_clone_layout(&s->v, self->params));
    self->sinks = calloc((size_t)self->params->count, sizeof *self->sinks);
    if (!self->sinks)
        return sara_fail(SARA_ERR_NOMEM, "out of memory creating the optimizer");
    for (int i = 0; i < self->params->count; i++)
        self->sinks[i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(&s->grad, i)};
    self->zero_grad = full_zero_grad;
    self->grad_sum_squares = full_grad_sum_squares;
    self->scale_grad = full_scale_grad;
    self->step = full_step;
    self->trainable_count = full_trainable_count;
    self->state_bytes = full_state_bytes;
    self->save_state = full_save_state;
    self->load_state = full_load_state;
    return SARA_OK;
}
