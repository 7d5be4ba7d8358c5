/* cmd_forward.c — `sara forward --model M --inputs IN.safetensors -o OUT.safetensors`: the
 * cross-check of sara against any other implementation. IN holds `sample` (F32, (B, C, S, S)),
 * `timestep` (I64 or F32, (B) or a scalar) and, for class-conditional models, `class_labels`
 * (I64, (B)); OUT gets `output`. When IN also holds `grad_output`, OUT also gets `grad.sample`
 * and `grad.<parameter>` for every parameter: the gradient of sum(output · grad_output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/params.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "core/threads.h"
#include "model/unet.h"
#include "options.h"

typedef struct {
    const char *model, *inputs, *out;
    int threads;
} forward_args;

#define R(field, type, name, def, help) OPT_ROW(forward_args, field, type, name, def, help)
static const opt_spec forward_specs[] = {
    R(model, OPT_STRING, "model", NULL, "model folder (config.json + diffusion_pytorch_model.safetensors)"),
    R(inputs, OPT_STRING, "inputs", NULL, "safetensors with sample, timestep, [class_labels], [grad_output]"),
    R(out, OPT_STRING, "o", NULL, "safetensors to write: output [, grad.sample, grad.<parameter>]"),
    R(threads, OPT_INT, "threads", "0", "threads (0: all cores)"),
};
#undef R

static const opt_table forward_table = {"forward", "sara forward — run the model (and its backward) on tensors from a file",
                                        "sara forward --model DIR --inputs IN.safetensors -o OUT.safetensors",
                                        forward_specs, (int)(sizeof forward_specs / sizeof forward_specs[0]), 0};

typedef struct {
    float *x, *t, *gout, *out, *dx;
    int64_t *labels;
    param_table grads;
    ops_sink *sinks;
} forward_bufs;

static sara_status read_inputs(const st_file *in, const unet_config *c, int *B, forward_bufs *b)
{
    const st_tensor *ts = safetensors_find(in, "sample"), *tt = safetensors_find(in, "timestep");
    const st_tensor *tl = safetensors_find(in, "class_labels"), *tg = safetensors_find(in, "grad_output");
    if (!ts || !tt)
        return sara_fail(SARA_ERR_MISSING, "%s: needs tensors 'sample' and 'timestep'", in->path);
    if (ts->ndim != 4 || ts->shape[1] != c->in_channels || ts->shape[2] != c->sample_size ||
        ts->shape[3] != c->sample_size)
        return sara_fail(SARA_ERR_SHAPE, "%s: sample must be (B, %d, %d, %d)", in->path, c->in_channels,
                         c->sample_size, c->sample_size);
    *B = (int)ts->shape[0];
    if (tt->numel != *B && tt->numel != 1)
        return sara_fail(SARA_ERR_SHAPE, "%s: timestep must hold 1 or %d values, not %lld", in->path, *B,
                         (long long)tt->numel);
    if (tl && tl->numel != *B)
        return sara_fail(SARA_ERR_SHAPE, "%s: class_labels must hold %d values", in->path, *B);
    if (tg && tg->numel != (int64_t)*B * c->out_channels * c->sample_size * c->sample_size)
        return sara_fail(SARA_ERR_SHAPE, "%s: grad_output must have the output's shape", in->path);
    int64_t n_in = ts->numel, n_out = (int64_t)*B * c->out_channels * c->sample_size * c->sample_size;
    b->x = malloc((size_t)n_in * sizeof(float));
    b->t = malloc((size_t)*B * sizeof(float));
    b->out = malloc((size_t)n_out * sizeof(float));
    if (!b->x || !b->t || !b->out)
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    SARA_TRY(safetensors_read_f32(in, ts, b->x));
    float t1;
    if (tt->dtype == ST_F32 || tt->dtype == ST_F64 || tt->dtype == ST_F16 || tt->dtype == ST_BF16) {
        SARA_TRY(safetensors_read_f32(in, tt, tt->numel == 1 ? &t1 : b->t));
    } else {
        int64_t *ti = malloc((size_t)tt->numel * sizeof(int64_t));
        if (!ti)
            return sara_fail(SARA_ERR_NOMEM, "out of memory");
        sara_status s = safetensors_read_i64(in, tt, ti);
        for (int64_t i = 0; s == SARA_OK && i < tt->numel; i++)
            (tt->numel == 1 ? &t1 : b->t)[i] = (float)ti[i];
        free(ti);
        SARA_TRY(s);
    }
    if (tt->numel == 1)
        for (int i = 0; i < *B; i++)
            b->t[i] = t1;
    if (tl) {
        b->labels = malloc((size_t)*B * sizeof(int64_t));
        if (!b->labels)
            return sara_fail(SARA_ERR_NOMEM, "out of memory");
        SARA_TRY(safetensors_read_i64(in, tl, b->labels));
    }
    if (tg) {
        b->gout = malloc((size_t)n_out * sizeof(float));
        b->dx = calloc((size_t)n_in, sizeof(float));
        if (!b->gout || !b->dx)
            return sara_fail(SARA_ERR_NOMEM, "out of memory");
        SARA_TRY(safetensors_read_f32(in, tg, b->gout));
    }
    return SARA_OK;
}

static sara_status write_outputs(const forward_args *a, unet *m, int B, forward_bufs *b)
{
    const unet_config *c = unet_get_config(m);
    st_writer *w = NULL;
    int64_t oshape[4] = {B, c->out_channels, c->sample_size, c->sample_size};
    int64_t ishape[4] = {B, c->in_channels, c->sample_size, c->sample_size};
    SARA_TRY(st_writer_create(&w));
    sara_status s = st_writer_add(w, "output", ST_F32, 4, oshape, b->out);
    if (s == SARA_OK && b->gout) {
        s = st_writer_add(w, "grad.sample", ST_F32, 4, ishape, b->dx);
        if (s == SARA_OK)
            s = params_add_to_writer(&b->grads, w, "grad.");
    }
    if (s == SARA_OK)
        s = st_writer_write(w, a->out);
    st_writer_free(w);
    return s;
}

static sara_status run(const forward_args *a)
{
    if (!a->model || !a->inputs || !a->out)
        return sara_fail(SARA_ERR_INVALID, "forward needs --model, --inputs and -o (see sara forward --help)");
    unet *m = NULL;
    st_file *in = NULL;
    forward_bufs b;
    memset(&b, 0, sizeof b);
    params_init(&b.grads);
    int B = 0;
    SARA_TRY(unet_load(&m, a->model));
    sara_status s = safetensors_open(a->inputs, &in);
    if (s == SARA_OK)
        s = read_inputs(in, unet_get_config(m), &B, &b);
    if (s == SARA_OK)
        s = (b.gout ? unet_forward : unet_infer)(m, b.x, b.t, b.labels, B, b.out); /* no backward: keep nothing */
    if (s == SARA_OK && b.gout) {
        param_table *p = unet_params(m);
        s = params_clone_layout(&b.grads, p);
        b.sinks = calloc((size_t)p->count, sizeof *b.sinks);
        if (s == SARA_OK && !b.sinks)
            s = sara_fail(SARA_ERR_NOMEM, "out of memory");
        for (int i = 0; s == SARA_OK && i < p->count; i++)
            b.sinks[i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(&b.grads, i)};
        if (s == SARA_OK)
            s = unet_backward(m, b.gout, b.dx, b.sinks);
    }
    if (s == SARA_OK)
        s = write_outputs(a, m, B, &b);
    free(b.x);
    free(b.t);
    free(b.gout);
    free(b.out);
    free(b.dx);
    free(b.labels);
    free(b.sinks);
    params_free(&b.grads);
    safetensors_close(in);
    unet_free(m);
    return s;
}

int cmd_forward(int argc, char **argv)
{
    forward_args a;
    int r = opts_parse_command(&forward_table, &a, sizeof a, argc, argv);
    if (r >= 0)
        return r;
    sara_set_threads(a.threads);
    sara_status s = run(&a);
    return s == SARA_OK ? 0 : cli_fail(s);
}
