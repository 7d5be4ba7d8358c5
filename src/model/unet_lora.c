/* unet_lora.c — LoRA branches on the UNet's conv and linear weights, as PEFT defines them:
 * y = W x + (alpha/r)·B(A x). Forward keeps A x (r channels, small); backward forms dB and dA from
 * it and never a dense gradient of W, so LoRA costs what it costs in PyTorch and the comparison
 * with SaRA is honest. Merging writes W + (alpha/r)·B·A for export and for sampling. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "model/unet_internal.h"

static float *LP(const unet *m, int i) { return params_ptr(&m->lora, i); }

/* The gradient of a LoRA matrix goes to the sink after the model's own parameters. */
static const ops_sink *lora_sink(const unet *m, const ops_sink *sinks, int i)
{
    return sinks ? &sinks[m->params.count + i] : NULL;
}

static float *dense_target(const ops_sink *s) { return s && s->kind == OPS_SINK_DENSE ? s->dense : NULL; }

static ops_conv_shape branch_shape(const conv_p *c, int B)
{
    ops_conv_shape s = c->s;
    s.B = B;
    s.O = c->lora.r;
    return s;
}

/* xa (or its gradient) of a branch over `rows` vectors: (N, r) for a linear on N rows,
 * (B, r, Ho, Wo) for a conv (B·Ho·Wo vectors). */
static float *take_xa(unet *m, const lora_p *l, int64_t rows)
{
    return unet_take(&m->mem, rows * l->r);
}

/* A training forward keeps xa for backward; an inference forward gives it back at once. */
static void done_forward(unet *m, lora_p *l)
{
    if (!m->keep) {
        unet_give(&m->mem, l->xa);
        l->xa = NULL;
    }
}

/* xa (B, r, Ho, Wo) = A(x), taken from the pool into l->xa. */
static void conv_xa(unet *m, conv_p *c, int B, const float *x)
{
    lora_p *l = &c->lora;
    ops_conv_shape s = branch_shape(c, B);
    l->xa = take_xa(m, l, (int64_t)B * l->rows);
    float *scratch = unet_take_scratch(m, conv2d_scratch_numel(&s));
    if (!m->mem.planning)
        conv2d_forward(l->xa, x, LP(m, l->a), NULL, &s, scratch);
    unet_give(&m->mem, scratch);
}

/* xa (N, r) = x Aᵀ, taken from the pool into l->lora.xa. */
static void linear_xa(unet *m, lin_p *l, int N, const float *x)
{
    lora_p *p = &l->lora;
    p->xa = take_xa(m, p, N);
    if (!m->mem.planning)
        linear_forward(p->xa, x, LP(m, p->a), NULL, N, l->I, p->r);
}

void unet_lora_conv_forward(unet *m, conv_p *c, int B, const float *x, float *y)
{
    lora_p *l = &c->lora;
    int hw = l->rows, O = c->s.O, r = l->r;
    conv_xa(m, c, B, x);
    if (!m->mem.planning) {
        for (int b = 0; b < B; b++) /* y_b (O, HW) += scale · B (O, r) · xa_b (r, HW) */
            ops_gemm(0, 0, O, hw, r, l->scale, LP(m, l->b), r, l->xa + (size_t)b * r * hw, hw, 1.0f,
                     y + (size_t)b * O * hw, hw);
    }
    done_forward(m, l);
}

void unet_lora_conv_backward(unet *m, conv_p *c, int B, const float *x, const float *dy, float *dx,
                             const ops_sink *sinks)
{
    lora_p *l = &c->lora;
    ops_conv_shape s = branch_shape(c, B);
    int hw = l->rows, O = c->s.O, r = l->r;
    if (!l->xa) /* a forward under gradient checkpointing did not keep it */
        conv_xa(m, c, B, x);
    float *db = dense_target(lora_sink(m, sinks, l->b));
    float *dxa = take_xa(m, l, (int64_t)B * hw); /* (B, r, Ho, Wo), every entry written below */
    float *scratch = unet_take_scratch(m, conv2d_scratch_numel(&s));
    if (!m->mem.planning) {
        for (int b = 0; b < B; b++) {
            const float *dyb = dy + (size_t)b * O * hw, *xab = l->xa + (size_t)b * r * hw;
            /* dxa_b (r, HW) = scale · Bᵀ · dy_b; dB (O, r) += scale · dy_b · xa_bᵀ */
            ops_gemm(1, 0, r, hw, O, l->scale, LP(m, l->b), r, dyb, hw, 0.0f, dxa + (size_t)b * r * hw, hw);
            if (db)
                ops_gemm(0, 1, O, r, hw, l->scale, dyb, hw, xab, hw, 1.0f, db, r);
        }
        conv2d_backward(dx, lora_sink(m, sinks, l->a), NULL, dxa, x, LP(m, l->a), &s, scratch);
    }
    unet_give(&m->mem, scratch);
    unet_give(&m->mem, dxa);
    unet_give(&m->mem, l->xa);
    l->xa = NULL;
}

void unet_lora_linear_forward(unet *m, lin_p *l, int N, const float *x, float *y)
{
    lora_p *p = &l->lora;
    linear_xa(m, l, N, x);
    if (!m->mem.planning) /* y += s·xa·Bᵀ */
        ops_gemm(0, 1, N, l->O, p->r, p->scale, p->xa, p->r, LP(m, p->b), p->r, 1.0f, y, l->O);
    done_forward(m, p);
}

void unet_lora_linear_backward(unet *m, lin_p *l, int N, const float *x, const float *dy, float *dx,
                               const ops_sink *sinks)
{
    lora_p *p = &l->lora;
    if (!p->xa) /* a forward under gradient checkpointing did not keep it */
        linear_xa(m, l, N, x);
    float *db = dense_target(lora_sink(m, sinks, p->b));
    float *dxa = take_xa(m, p, N); /* (N, r), written by the first product */
    if (!m->mem.planning) {
        ops_gemm(0, 0, N, p->r, l->O, p->scale, dy, l->O, LP(m, p->b), p->r, 0.0f, dxa, p->r); /* dxa = s·dy·B */
        if (db)
            ops_gemm(1, 0, l->O, p->r, N, p->scale, dy, l->O, p->xa, p->r, 1.0f, db, p->r);  /* dB += s·dyᵀ·xa */
        linear_backward(dx, lora_sink(m, sinks, p->a), NULL, dxa, x, LP(m, p->a), N, l->I, p->r);
    }
    unet_give(&m->mem, dxa);
    unet_give(&m->mem, p->xa);
    p->xa = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* attaching */

typedef struct {
    unet *m;
    int rank;
    float scale;
    const char *targets;
    sara_status status;
} attach_ctx;

/* Registers A and B for the weight `w` (index in the model's table) with the given shapes. */
static void attach_one(attach_ctx *c, lora_p *l, int w, int ndim, const int64_t *a_shape, const int64_t *b_shape,
                       int rows)
{
    unet *m = c->m;
    const char *wname = m->params.entries[w].name;
    size_t mod_len = strlen(wname) - strlen(".weight");
    if (c->status != SARA_OK || (c->targets && c->targets[0] && !strstr(wname, c->targets)))
        return;
    if (m->n_lora_mods >= UNET_MAX_LORA) {
        c->status = sara_fail(SARA_ERR_UNSUPPORTED, "more than %d LoRA branches", UNET_MAX_LORA);
        return;
    }
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%.*s.lora_A.weight", (int)mod_len, wname);
    c->status = params_add(&m->lora, name, ndim, a_shape, &l->a);
    snprintf(name, sizeof name, "%.*s.lora_B.weight", (int)mod_len, wname);
    if (c->status == SARA_OK)
        c->status = params_add(&m->lora, name, ndim, b_shape, &l->b);
    l->r = c->rank;
    l->scale = c->scale;
    l->rows = rows;
    m->lora_mods[m->n_lora_mods++] = l;
}

static void attach_conv(attach_ctx *c, conv_p *p)
{
    int64_t a[4] = {c->rank, p->s.C, p->s.KH, p->s.KW}, b[4] = {p->s.O, c->rank, 1, 1};
    attach_one(c, &p->lora, p->w, 4, a, b, ops_conv_out_h(&p->s) * ops_conv_out_w(&p->s));
}

static void attach_linear(attach_ctx *c, lin_p *p, int rows)
{
    int64_t a[2] = {c->rank, p->I}, b[2] = {p->O, c->rank};
    attach_one(c, &p->lora, p->w, 2, a, b, rows);
}

/* A: kaiming_uniform(a = √5) as PEFT initialises it, bound 1/√fan_in; B: zero. */
static void init_branches(unet *m, uint64_t seed)
{
    sara_rng r;
    rng_seed_stream(&r, seed, 3);
    for (int i = 0; i < m->n_lora_mods; i++) {
        const lora_p *l = m->lora_mods[i];
        const param_entry *a = &m->lora.entries[l->a];
        double bound = 1.0 / sqrt((double)(a->numel / a->shape[0]));
        float *p = LP(m, l->a);
        for (int64_t k = 0; k < a->numel; k++)
            p[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
    }
}

sara_status unet_lora_attach(unet *m, int rank, double alpha, const char *targets, uint64_t seed)
{
    if (m->lora.count)
        return sara_fail(SARA_ERR_INVALID, "LoRA is already attached to this model");
    if (rank <= 0 || !(alpha > 0))
        return sara_fail(SARA_ERR_INVALID, "LoRA rank (%d) and alpha (%g) must be positive", rank, alpha);
    attach_ctx c = {.m = m, .rank = rank, .scale = (float)(alpha / rank), .targets = targets};
    attach_linear(&c, &m->time_l1, 1);
    attach_linear(&c, &m->time_l2, 1);
    for (int i = 0; i < m->n_layers; i++) {
        layer *L = &m->layers[i];
        int tokens = L->H * L->W;
        if (L->kind == L_CONV)
            attach_conv(&c, &L->conv);
        if (L->kind == L_RESNET) {
            attach_conv(&c, &L->c1);
            attach_linear(&c, &L->tproj, 1);
            attach_conv(&c, &L->c2);
            if (L->has_sc)
                attach_conv(&c, &L->sc);
        }
        if (L->kind == L_ATTN) {
            attach_linear(&c, &L->q, tokens);
            attach_linear(&c, &L->k, tokens);
            attach_linear(&c, &L->v, tokens);
            attach_linear(&c, &L->o, tokens);
        }
    }
    if (c.status == SARA_OK && m->n_lora_mods == 0)
        c.status = sara_fail(SARA_ERR_INVALID, "no conv or linear weight matches the LoRA targets '%s'",
                             targets ? targets : "");
    if (c.status == SARA_OK)
        c.status = params_alloc(&m->lora);
    if (c.status != SARA_OK) {
        for (int i = 0; i < m->n_lora_mods; i++)
            m->lora_mods[i]->r = 0;
        m->n_lora_mods = 0;
        params_free(&m->lora);
        params_init(&m->lora);
        return c.status;
    }
    init_branches(m, seed);
    m->plan_mode = UNET_PLAN_NONE; /* the activation plan now includes the branches */
    m->reserved_B = 0;
    m->saved = 0;
    return SARA_OK;
}

param_table *unet_lora_params(unet *m) { return &m->lora; }

void unet_lora_merged_weight(const unet *m, int i, float *dst)
{
    const param_entry *e = &m->params.entries[i];
    memcpy(dst, params_ptr(&m->params, i), (size_t)e->numel * sizeof(float));
    for (int k = 0; k < m->n_lora_mods; k++) {
        const lora_p *l = m->lora_mods[k];
        const param_entry *a = &m->lora.entries[l->a];
        char wname[PARAM_NAME_MAX];
        snprintf(wname, sizeof wname, "%.*s.weight", (int)(strlen(a->name) - strlen(".lora_A.weight")), a->name);
        if (strcmp(wname, e->name))
            continue;
        int O = (int)e->shape[0], K = (int)(e->numel / e->shape[0]); /* W viewed as (O, in·kh·kw) */
        ops_gemm(0, 0, O, K, l->r, l->scale, LP(m, l->b), l->r, LP(m, l->a), K, 1.0f, dst, K);
    }
}
