/* unet.c — UNet2DModel as a flat list of layers (conv, ResNet block, attention block, upsample,
 * skip concatenation, final norm+SiLU) over a table of activation buffers, plus the time/class
 * embedding MLP in front. The builder follows diffusers' UNet2DModel.__init__ block by block so
 * that parameter names are its state_dict keys. Memory: every activation, gradient and scratch
 * buffer comes from one arena (unet_pool.c) whose size is found by running the very same layer
 * code once in "planning" mode (no data, sizes only), so the plan cannot drift from the code.
 * Buffers are given back as soon as nothing reads them: an inference forward keeps only the skip
 * connections and the current layer's buffers; a training forward keeps the layer outputs (but
 * copies: concatenation, upsampling), the norms' statistics and each ResNet block's h, and
 * backward re-forms what it did not keep (same kernels, same bits). Under gradient checkpointing
 * ResNet and attention blocks keep only their outputs, and backward re-runs the head of each
 * (refill) before the block's backward: the same bits again, for about one conv per block. */
#include "model/unet_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dirs.h"
#include "core/status.h"

/* ------------------------------------------------------------------------------------------ */
/* the pool (unet_pool.c; short local names for the many call sites below) */

#define take unet_take
#define take_zero unet_take_zero
#define give unet_give

static float *P(const unet *m, int i) { return i < 0 ? NULL : params_ptr(&m->params, i); }
static const ops_sink *S(const ops_sink *sinks, int i) { return sinks && i >= 0 ? &sinks[i] : NULL; }

/* ------------------------------------------------------------------------------------------ */
/* building: registration of parameters under diffusers' names */

static int reg(unet *m, const char *prefix, const char *suffix, int ndim, int64_t d0, int64_t d1, int64_t d2,
               int64_t d3)
{
    char name[PARAM_NAME_MAX];
    int64_t shape[4] = {d0, d1, d2, d3};
    int idx = -1;
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    sara_status s = params_add(&m->params, name, ndim, shape, &idx);
    if (s != SARA_OK && m->build_status == SARA_OK)
        m->build_status = s;
    return idx;
}

static conv_p make_conv(unet *m, const char *prefix, int C, int O, int k, int stride, int pad_t, int pad_l,
                        int pad_b, int pad_r, int H, int W)
{
    conv_p c;
    c.w = reg(m, prefix, "weight", 4, O, C, k, k);
    c.b = reg(m, prefix, "bias", 1, O, 0, 0, 0);
    c.s = (ops_conv_shape){.B = 0, .C = C, .H = H, .W = W, .O = O, .KH = k, .KW = k, .stride = stride,
                           .pad_t = pad_t, .pad_l = pad_l, .pad_b = pad_b, .pad_r = pad_r};
    c.lora = (lora_p){0}; /* no LoRA branch */
    return c;
}

static norm_p make_norm(unet *m, const char *prefix, int C, int G)
{
    norm_p n = {.g = reg(m, prefix, "weight", 1, C, 0, 0, 0), .b = reg(m, prefix, "bias", 1, C, 0, 0, 0),
                .C = C, .G = G, .eps = (float)m->cfg.norm_eps};
    return n;
}

static lin_p make_linear(unet *m, const char *prefix, int I, int O)
{
    lin_p l = {.w = reg(m, prefix, "weight", 2, O, I, 0, 0), .b = reg(m, prefix, "bias", 1, O, 0, 0, 0), .I = I, .O = O};
    return l;
}

static int add_buf(unet *m, int C, int H, int W)
{
    if (m->n_bufs >= UNET_MAX_BUFS) {
        if (m->build_status == SARA_OK)
            m->build_status = sara_fail(SARA_ERR_UNSUPPORTED, "model too deep: more than %d activations", UNET_MAX_BUFS);
        return 0;
    }
    m->bufs[m->n_bufs] = (act_buf){.C = C, .H = H, .W = W};
    return m->n_bufs++;
}

static layer *add_layer(unet *m, layer_kind kind, int in)
{
    static layer overflow; /* absorbs writes after a build failure, which is then reported */
    if (m->n_layers >= UNET_MAX_LAYERS) {
        if (m->build_status == SARA_OK)
            m->build_status = sara_fail(SARA_ERR_UNSUPPORTED, "model too deep: more than %d layers", UNET_MAX_LAYERS);
        return &overflow;
    }
    layer *L = &m->layers[m->n_layers++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->in = in;
    L->C = m->bufs[in].C;
    L->H = m->bufs[in].H;
    L->W = m->bufs[in].W;
    L->scale = 1.0f;
    return L;
}

static int build_conv(unet *m, const char *prefix, int in, int O, int k, int stride, int pad_t, int pad_l,
                      int pad_b, int pad_r)
{
    layer *L = add_layer(m, L_CONV, in);
    L->conv = make_conv(m, prefix, L->C, O, k, stride, pad_t, pad_l, pad_b, pad_r, L->H, L->W);
    L->Co = O;
    L->out = add_buf(m, O, ops_conv_out_h(&L->conv.s), ops_conv_out_w(&L->conv.s));
    return L->out;
}

static int build_resnet(unet *m, const char *prefix, int in, int O, float scale)
{
    char name[PARAM_NAME_MAX];
    layer *L = add_layer(m, L_RESNET, in);
    int G = m->cfg.norm_num_groups;
    L->Co = O;
    L->scale = scale;
    snprintf(name, sizeof name, "%s.norm1", prefix);
    L->n1 = make_norm(m, name, L->C, G);
    snprintf(name, sizeof name, "%s.conv1", prefix);
    L->c1 = make_conv(m, name, L->C, O, 3, 1, 1, 1, 1, 1, L->H, L->W);
    snprintf(name, sizeof name, "%s.time_emb_proj", prefix);
    L->tproj = make_linear(m, name, m->temb_dim, O);
    snprintf(name, sizeof name, "%s.norm2", prefix);
    L->n2 = make_norm(m, name, O, G);
    snprintf(name, sizeof name, "%s.conv2", prefix);
    L->c2 = make_conv(m, name, O, O, 3, 1, 1, 1, 1, 1, L->H, L->W);
    L->has_sc = L->C != O; /* diffusers: use_in_shortcut = in_channels != out_channels */
    if (L->has_sc) {
        snprintf(name, sizeof name, "%s.conv_shortcut", prefix);
        L->sc = make_conv(m, name, L->C, O, 1, 1, 0, 0, 0, 0, L->H, L->W);
    }
    L->out = add_buf(m, O, L->H, L->W);
    return L->out;
}

/* head_dim 0 means one head as wide as the channels (diffusers: attention_head_dim None). */
static int build_attention(unet *m, const char *prefix, int in, int head_dim, int groups, float scale)
{
    char name[PARAM_NAME_MAX];
    layer *L = add_layer(m, L_ATTN, in);
    int C = L->C;
    L->Co = C;
    L->scale = scale;
    L->heads = head_dim > 0 ? C / head_dim : 1;
    L->D = C / L->heads;
    snprintf(name, sizeof name, "%s.group_norm", prefix);
    L->n1 = make_norm(m, name, C, groups);
    snprintf(name, sizeof name, "%s.to_q", prefix);
    L->q = make_linear(m, name, C, C);
    snprintf(name, sizeof name, "%s.to_k", prefix);
    L->k = make_linear(m, name, C, C);
    snprintf(name, sizeof name, "%s.to_v", prefix);
    L->v = make_linear(m, name, C, C);
    snprintf(name, sizeof name, "%s.to_out.0", prefix);
    L->o = make_linear(m, name, C, C);
    L->out = add_buf(m, C, L->H, L->W);
    return L->out;
}

static int build_upsample(unet *m, int in)
{
    layer *L = add_layer(m, L_UPSAMPLE, in);
    L->Co = L->C;
    L->out = add_buf(m, L->C, 2 * L->H, 2 * L->W);
    return L->out;
}

static int build_concat(unet *m, int in, int skip)
{
    layer *L = add_layer(m, L_CONCAT, in);
    L->in2 = skip;
    L->Co = L->C + m->bufs[skip].C;
    L->out = add_buf(m, L->Co, L->H, L->W);
    return L->out;
}

static int build_norm_silu(unet *m, const char *prefix, int in, int groups)
{
    layer *L = add_layer(m, L_NORM_SILU, in);
    L->Co = L->C;
    L->n1 = make_norm(m, prefix, L->C, groups);
    L->out = add_buf(m, L->C, L->H, L->W);
    return L->out;
}

static int head_dim_or_channels(const unet_config *c) { return c->attention_head_dim; }

/* Down path: returns the last buffer; pushes every skip output on `skips`. */
static int build_down(unet *m, int h, int *skips, int *n_skips)
{
    const unet_config *c = &m->cfg;
    char prefix[PARAM_NAME_MAX];
    for (int i = 0; i < c->num_blocks; i++) {
        int out_ch = c->block_out_channels[i];
        for (int j = 0; j < c->layers_per_block; j++) {
            snprintf(prefix, sizeof prefix, "down_blocks.%d.resnets.%d", i, j);
            h = build_resnet(m, prefix, h, out_ch, 1.0f);
            if (c->down_attn[i]) {
                snprintf(prefix, sizeof prefix, "down_blocks.%d.attentions.%d", i, j);
                h = build_attention(m, prefix, h, head_dim_or_channels(c), c->norm_num_groups, 1.0f);
            }
            skips[(*n_skips)++] = h;
        }
        if (i < c->num_blocks - 1) {
            snprintf(prefix, sizeof prefix, "down_blocks.%d.downsamplers.0.conv", i);
            /* downsample_padding 0: diffusers pads (0, 1, 0, 1) then convolves with no padding. */
            int p = c->downsample_padding;
            h = p ? build_conv(m, prefix, h, out_ch, 3, 2, p, p, p, p) : build_conv(m, prefix, h, out_ch, 3, 2, 0, 0, 1, 1);
            skips[(*n_skips)++] = h;
        }
    }
    return h;
}

static int build_mid(unet *m, int h)
{
    const unet_config *c = &m->cfg;
    float scale = (float)c->mid_block_scale_factor;
    int groups = c->attn_norm_num_groups ? c->attn_norm_num_groups : c->norm_num_groups;
    h = build_resnet(m, "mid_block.resnets.0", h, m->bufs[h].C, scale);
    if (c->add_attention) {
        h = build_attention(m, "mid_block.attentions.0", h, head_dim_or_channels(c), groups, scale);
    }
    return build_resnet(m, "mid_block.resnets.1", h, m->bufs[h].C, scale);
}

static int build_up(unet *m, int h, int *skips, int *n_skips)
{
    const unet_config *c = &m->cfg;
    char prefix[PARAM_NAME_MAX];
    int n = c->num_blocks;
    for (int i = 0; i < n; i++) {
        int out_ch = c->block_out_channels[n - 1 - i];
        for (int j = 0; j <= c->layers_per_block; j++) {
            int skip = skips[--(*n_skips)];
            h = build_concat(m, h, skip);
            snprintf(prefix, sizeof prefix, "up_blocks.%d.resnets.%d", i, j);
            h = build_resnet(m, prefix, h, out_ch, 1.0f);
            if (c->up_attn[i]) {
                snprintf(prefix, sizeof prefix, "up_blocks.%d.attentions.%d", i, j);
                h = build_attention(m, prefix, h, head_dim_or_channels(c), c->norm_num_groups, 1.0f);
            }
        }
        if (i < n - 1) {
            snprintf(prefix, sizeof prefix, "up_blocks.%d.upsamplers.0.conv", i);
            h = build_upsample(m, h);
            h = build_conv(m, prefix, h, out_ch, 3, 1, 1, 1, 1, 1);
        }
    }
    return h;
}

sara_status unet_create(unet **out, const unet_config *cfg)
{
    *out = NULL;
    SARA_TRY(unet_config_validate(cfg, "model config"));
    unet *m = calloc(1, sizeof *m);
    if (!m)
        return sara_fail(SARA_ERR_NOMEM, "out of memory building the UNet");
    m->cfg = *cfg;
    params_init(&m->params);
    params_init(&m->lora);
    m->temb_dim = unet_config_temb_dim(cfg);
    m->class_emb = -1;
    int c0 = cfg->block_out_channels[0], S = cfg->sample_size;

    int x = add_buf(m, cfg->in_channels, S, S);
    int h = build_conv(m, "conv_in", x, c0, 3, 1, 1, 1, 1, 1);
    m->time_l1 = make_linear(m, "time_embedding.linear_1", c0, m->temb_dim);
    m->time_l2 = make_linear(m, "time_embedding.linear_2", m->temb_dim, m->temb_dim);
    if (cfg->num_class_embeds > 0)
        m->class_emb = reg(m, "class_embedding", "weight", 2, cfg->num_class_embeds, m->temb_dim, 0, 0);

    int skips[UNET_MAX_BUFS], n_skips = 0;
    skips[n_skips++] = h;
    h = build_down(m, h, skips, &n_skips);
    h = build_mid(m, h);
    h = build_up(m, h, skips, &n_skips);
    h = build_norm_silu(m, "conv_norm_out", h, cfg->norm_num_groups);
    build_conv(m, "conv_out", h, cfg->out_channels, 3, 1, 1, 1, 1, 1);

    for (int i = 0; i < m->n_bufs; i++)
        m->last_use[i] = m->producer[i] = -1;
    for (int j = 0; j < m->n_layers; j++) {
        m->producer[m->layers[j].out] = j;
        m->last_use[m->layers[j].in] = j;
        if (m->layers[j].kind == L_CONCAT)
            m->last_use[m->layers[j].in2] = j;
    }
    sara_status s = m->build_status;
    if (s == SARA_OK)
        s = params_alloc(&m->params);
    if (s != SARA_OK) {
        unet_free(m);
        return s;
    }
    *out = m;
    return SARA_OK;
}

void unet_free(unet *m)
{
    if (!m)
        return;
    params_free(&m->params);
    params_free(&m->lora);
    free(m->mem.base);
    free(m);
}

const unet_config *unet_get_config(const unet *m) { return &m->cfg; }
param_table *unet_params(unet *m) { return &m->params; }

int64_t unet_param_count(const unet *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->params.count; i++)
        n += m->params.entries[i].numel;
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* forward: a training forward (m->keep) keeps each layer's statistics and the few tensors its
 * backward cannot re-form cheaply, and every layer output; an inference forward gives each
 * layer's tensors back when the layer is done and each output after its last reader. Both run
 * the same kernels in the same order, so their outputs are the same bits. */

static int64_t buf_numel(const unet *m, int id, int B)
{
    const act_buf *b = &m->bufs[id];
    return (int64_t)B * b->C * b->H * b->W;
}

static int planning(const unet *m) { return m->mem.planning; }

float *unet_take_scratch(unet *m, size_t n)
{
    int tag = m->mem.tag;
    m->mem.tag = POOL_SCRATCH;
    float *s = take(&m->mem, (int64_t)n);
    m->mem.tag = tag;
    return s;
}

static void conv_fwd(unet *m, conv_p *c, int B, const float *x, float *y)
{
    ops_conv_shape s = c->s;
    s.B = B;
    float *scratch = unet_take_scratch(m, conv2d_scratch_numel(&s));
    if (!planning(m))
        conv2d_forward(y, x, P(m, c->w), P(m, c->b), &s, scratch);
    give(&m->mem, scratch);
    if (c->lora.r > 0)
        unet_lora_conv_forward(m, c, B, x, y);
}

static void conv_bwd(unet *m, conv_p *c, int B, const float *x, const float *dy, float *dx, const ops_sink *sinks)
{
    ops_conv_shape s = c->s;
    s.B = B;
    float *scratch = unet_take_scratch(m, conv2d_scratch_numel(&s));
    if (!planning(m))
        conv2d_backward(dx, S(sinks, c->w), S(sinks, c->b), dy, x, P(m, c->w), &s, scratch);
    give(&m->mem, scratch);
    if (c->lora.r > 0)
        unet_lora_conv_backward(m, c, B, x, dy, dx, sinks);
}

/* y (N, O) = x (N, I) wᵀ + b, plus the LoRA branch when attached. */
static void lin_fwd(unet *m, lin_p *l, int N, const float *x, float *y)
{
    if (!planning(m))
        linear_forward(y, x, P(m, l->w), P(m, l->b), N, l->I, l->O);
    if (l->lora.r > 0)
        unet_lora_linear_forward(m, l, N, x, y);
}

static void lin_bwd(unet *m, lin_p *l, int N, const float *x, const float *dy, float *dx, const ops_sink *sinks)
{
    if (!planning(m))
        linear_backward(dx, S(sinks, l->w), S(sinks, l->b), dy, x, P(m, l->w), N, l->I, l->O);
    if (l->lora.r > 0)
        unet_lora_linear_backward(m, l, N, x, dy, dx, sinks);
}

/* y = silu(norm(x)), keeping only mean, rstd (B, G) */
static void norm_silu_fwd(unet *m, const norm_p *n, int B, int HW, const float *x, float *y, float *mean, float *rstd)
{
    if (!planning(m))
        groupnorm_silu_forward(y, mean, rstd, x, P(m, n->g), P(m, n->b), B, n->C, HW, n->G, n->eps);
}

/* The same y again from x and the kept statistics (for a backward that needs it). */
static void norm_silu_redo(unet *m, const norm_p *n, int B, int HW, const float *x, float *y, const float *mean,
                           const float *rstd)
{
    if (!planning(m))
        groupnorm_silu_apply(y, x, mean, rstd, P(m, n->g), P(m, n->b), B, n->C, HW, n->G);
}

/* dx += ∂/∂x from dy, the gradient of silu(norm(x)); dy is used up (overwritten). */
static void norm_silu_bwd(unet *m, const norm_p *n, int B, int HW, const float *x, float *dy, float *dx,
                          const float *mean, const float *rstd, const ops_sink *sinks)
{
    if (!planning(m))
        groupnorm_silu_backward(dx, S(sinks, n->g), S(sinks, n->b), dy, x, mean, rstd, P(m, n->g), P(m, n->b), B,
                                n->C, HW, n->G);
}

/* The (B, G) statistics of a norm. */
static void take_stats(unet *m, const norm_p *n, int B, float **mean, float **rstd)
{
    *mean = take(&m->mem, (int64_t)B * n->G);
    *rstd = take(&m->mem, (int64_t)B * n->G);
}

/* Gives back what a layer's forward kept for its backward (an inference forward: at once). */
static void give_kept(unet *m, layer *L)
{
    float **kept[] = {&L->n1_mean, &L->n1_rstd, &L->h, &L->n2_mean, &L->n2_rstd, &L->t,
                      &L->qb,      &L->kb,      &L->vb, &L->probs,  &L->att};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        give(&m->mem, *kept[i]);
        *kept[i] = NULL;
    }
}

/* The part of a ResNet block's forward that its backward needs: norm1's statistics, h (conv1
 * output + time projection) and norm2's statistics, kept in L. Returns conv2's input
 * silu(norm2(h)) (B, Co, H, W), taken from the pool for the caller to give back. */
static float *resnet_head(unet *m, layer *L, int B, const float *x)
{
    unet_pool *a = &m->mem;
    int HW = L->H * L->W;
    int64_t in_n = (int64_t)B * L->C * HW, out_n = (int64_t)B * L->Co * HW;
    take_stats(m, &L->n1, B, &L->n1_mean, &L->n1_rstd);
    take_stats(m, &L->n2, B, &L->n2_mean, &L->n2_rstd);
    L->h = take(a, out_n);                   /* (B, Co, H, W) conv1 + time projection = norm2 input */
    float *act = take(a, in_n);              /* (B, C, H, W) silu(norm1(x)) = conv1 input */
    norm_silu_fwd(m, &L->n1, B, HW, x, act, L->n1_mean, L->n1_rstd);
    conv_fwd(m, &L->c1, B, act, L->h);
    give(a, act);
    float *tp = take(a, (int64_t)B * L->Co); /* (B, Co) time projection */
    lin_fwd(m, &L->tproj, B, m->emb_act, tp);
    if (!planning(m))
        add_channel_bias_forward(L->h, tp, B, L->Co, HW);
    give(a, tp);
    act = take(a, out_n);                    /* (B, Co, H, W) silu(norm2(h)) = conv2 input */
    norm_silu_fwd(m, &L->n2, B, HW, L->h, act, L->n2_mean, L->n2_rstd);
    return act;
}

static void resnet_forward(unet *m, layer *L, int B, const float *x, float *y)
{
    unet_pool *a = &m->mem;
    int64_t out_n = (int64_t)B * L->Co * L->H * L->W;
    float *act = resnet_head(m, L, B, x);
    conv_fwd(m, &L->c2, B, act, y);
    give(a, act);
    float *sc = L->has_sc ? take(a, out_n) : NULL; /* (B, Co, H, W) shortcut output */
    if (sc)
        conv_fwd(m, &L->sc, B, x, sc);
    if (!planning(m)) {
        ops_add(y, sc ? sc : x, y, out_n);
        if (L->scale != 1.0f)
            ops_scale(y, 1.0f / L->scale, out_n);
    }
    give(a, sc);
}

/* The part of an attention block's forward that its backward needs, kept in L: group_norm's
 * statistics, the tokens, q, k, v, the probabilities and the attention output. */
static void attention_head(unet *m, layer *L, int B, const float *x)
{
    unet_pool *a = &m->mem;
    int C = L->C, T = L->H * L->W;
    int64_t n = (int64_t)B * C * T;
    take_stats(m, &L->n1, B, &L->n1_mean, &L->n1_rstd);
    L->t = take(a, n);                         /* (B, T, C) tokens */
    L->qb = take(a, n);                        /* (B, T, C) each of q, k, v */
    L->kb = take(a, n);
    L->vb = take(a, n);
    L->probs = take(a, (int64_t)B * L->heads * T * T); /* (B, heads, T, T) */
    L->att = take(a, n);                       /* (B, T, C) attention output */
    float *gn = take(a, n);                    /* (B, C, T) group_norm output */
    if (!planning(m)) {
        groupnorm_forward(gn, L->n1_mean, L->n1_rstd, x, P(m, L->n1.g), P(m, L->n1.b), B, C, T, L->n1.G, L->n1.eps);
        transpose_forward(L->t, gn, B, C, T);
    }
    give(a, gn);
    lin_fwd(m, &L->q, B * T, L->t, L->qb);
    lin_fwd(m, &L->k, B * T, L->t, L->kb);
    lin_fwd(m, &L->v, B * T, L->t, L->vb);
    if (!planning(m))
        attention_forward(L->att, L->probs, L->qb, L->kb, L->vb, B, T, L->heads, L->D);
}

static void attention_fwd(unet *m, layer *L, int B, const float *x, float *y)
{
    unet_pool *a = &m->mem;
    int C = L->C, T = L->H * L->W;
    int64_t n = (int64_t)B * C * T;
    attention_head(m, L, B, x);
    float *proj = take(a, n);                  /* (B, T, C) to_out.0 output */
    lin_fwd(m, &L->o, B * T, L->att, proj);
    if (!planning(m)) {
        transpose_forward(y, proj, B, T, C);
        ops_add(y, y, x, n);
        if (L->scale != 1.0f)
            ops_scale(y, 1.0f / L->scale, n);
    }
    give(a, proj);
}

/* The layers gradient checkpointing can re-run: their h, tokens, q, k, v and probabilities are
 * most of the activations a training forward keeps. */
static int recomputable(const layer *L) { return L->kind == L_RESNET || L->kind == L_ATTN; }

/* Under gradient checkpointing a training forward keeps nothing of the chosen layers
 * (choose_recompute) but their outputs; their backward re-runs their head first (refill). */
static int checkpointed(const unet *m, const layer *L) { return m->checkpointing && L->recompute; }

static void layer_forward(unet *m, layer *L, int B)
{
    int keep = m->keep;
    if (checkpointed(m, L))
        m->keep = 0;
    const float *x = m->bufs[L->in].data;
    float *y = m->bufs[L->out].data;
    int HW = L->H * L->W;
    switch (L->kind) {
    case L_CONV:
        conv_fwd(m, &L->conv, B, x, y);
        break;
    case L_RESNET:
        resnet_forward(m, L, B, x, y);
        break;
    case L_ATTN:
        attention_fwd(m, L, B, x, y);
        break;
    case L_UPSAMPLE:
        if (!planning(m))
            upsample2x_forward(y, x, B, L->C, L->H, L->W);
        break;
    case L_CONCAT:
        if (!planning(m))
            concat_channels_forward(y, x, m->bufs[L->in2].data, B, L->C, m->bufs[L->in2].C, HW);
        break;
    case L_NORM_SILU:
        take_stats(m, &L->n1, B, &L->n1_mean, &L->n1_rstd);
        norm_silu_fwd(m, &L->n1, B, HW, x, y, L->n1_mean, L->n1_rstd);
        break;
    }
    if (!m->keep)
        give_kept(m, L);
    m->keep = keep;
}

static void time_embedding_forward(unet *m, int B)
{
    unet_pool *a = &m->mem;
    int c0 = m->cfg.block_out_channels[0], td = m->temb_dim;
    m->tsin = take(a, (int64_t)B * c0);    /* (B, C0) sinusoidal features */
    m->e1 = take(a, (int64_t)B * td);      /* (B, temb) linear_1 output */
    m->e1a = take(a, (int64_t)B * td);     /* (B, temb) silu(e1) */
    m->emb = take(a, (int64_t)B * td);     /* (B, temb) time (+ class) embedding */
    m->emb_act = take(a, (int64_t)B * td); /* (B, temb) silu(emb): what every ResNet block projects */
    float *cls = m->class_emb >= 0 ? take(a, (int64_t)B * td) : NULL; /* (B, temb) */
    if (!planning(m))
        timestep_embedding(m->tsin, m->in_t, B, c0, m->cfg.flip_sin_to_cos, (float)m->cfg.freq_shift);
    lin_fwd(m, &m->time_l1, B, m->tsin, m->e1);
    if (!planning(m))
        silu_forward(m->e1a, m->e1, (int64_t)B * td);
    lin_fwd(m, &m->time_l2, B, m->e1a, m->emb);
    if (!planning(m)) {
        if (cls) {
            embedding_forward(cls, P(m, m->class_emb), m->in_labels, B, td);
            ops_add(m->emb, m->emb, cls, (int64_t)B * td);
        }
        silu_forward(m->emb_act, m->emb, (int64_t)B * td);
    }
    give(a, cls);
}

/* Where a checked forward found the first non-finite value. */
enum { NF_NONE = -3, NF_INPUT = -2, NF_EMBEDDING = -1 }; /* else the layer index */

static int span_finite(const float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

/* Outputs of skip concatenations and upsampling are copies that backward re-forms (rebuild) in
 * less time than a memory pass costs: a training forward does not keep them either. */
static int rebuildable(const unet *m, int id)
{
    int p = m->producer[id];
    return p >= 0 && (m->layers[p].kind == L_CONCAT || m->layers[p].kind == L_UPSAMPLE);
}

/* After layer i: gives buffer id back if layer i was its last reader and it is not kept. */
static void drop_if_done(unet *m, int id, int i)
{
    if (m->last_use[id] != i || (m->keep && !rebuildable(m, id)))
        return;
    give(&m->mem, m->bufs[id].data);
    m->bufs[id].data = NULL;
}

/* The forward pass from m->in_x / in_t / in_labels. With `bad`, stops at the first non-finite
 * value (input batch, time embedding or a layer output, in that order) and says where. */
static void run_forward(unet *m, int B, int *bad)
{
    unet_pool *a = &m->mem;
    int64_t n = buf_numel(m, 0, B);
    a->tag = POOL_ACT;
    m->bufs[0].data = take(a, n);
    if (!planning(m)) {
        memcpy(m->bufs[0].data, m->in_x, (size_t)n * sizeof(float));
        if (m->cfg.center_input_sample) /* diffusers: sample = 2 * sample - 1.0 */
            for (int64_t i = 0; i < n; i++)
                m->bufs[0].data[i] = 2.0f * m->bufs[0].data[i] - 1.0f;
    }
    if (bad && !span_finite(m->bufs[0].data, n)) {
        *bad = NF_INPUT;
        return;
    }
    time_embedding_forward(m, B);
    if (bad && !span_finite(m->emb_act, (int64_t)B * m->temb_dim)) {
        *bad = NF_EMBEDDING;
        return;
    }
    for (int i = 0; i < m->n_layers; i++) {
        layer *L = &m->layers[i];
        m->bufs[L->out].data = take(a, buf_numel(m, L->out, B));
        layer_forward(m, L, B);
        if (bad && !span_finite(m->bufs[L->out].data, buf_numel(m, L->out, B))) {
            *bad = i;
            return;
        }
        drop_if_done(m, L->in, i);
        if (L->kind == L_CONCAT)
            drop_if_done(m, L->in2, i);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* backward: a buffer's gradient is taken (zeroed) by the first layer that adds to it and given
 * back, with the buffer, once its producer is done; each layer gives back its working buffers and
 * what its forward kept. So the live set shrinks as backward walks up the network. */

/* The gradient of buffer id, zeroed when first asked for. */
static float *grad_of(unet *m, int id, int B)
{
    if (!m->bufs[id].grad)
        m->bufs[id].grad = take_zero(&m->mem, buf_numel(m, id, B));
    return m->bufs[id].grad;
}

/* act: conv2's input when the caller has it (refill), else NULL: re-formed here. The gradient of
 * x is taken only after conv1's input is given back: the two are the block's largest buffers. */
static void resnet_backward(unet *m, layer *L, int B, const float *x, const float *dy, const ops_sink *sinks,
                            float *act)
{
    unet_pool *g = &m->mem;
    int HW = L->H * L->W;
    int64_t in_n = (int64_t)B * L->C * HW, out_n = (int64_t)B * L->Co * HW;
    float *d = L->scale != 1.0f ? take(g, out_n) : NULL; /* (B, Co, H, W) dy / scale */
    if (d && !planning(m))
        for (int64_t i = 0; i < out_n; i++)
            d[i] = dy[i] / L->scale;
    const float *dout = d ? d : dy;
    if (!act) {
        act = take(g, out_n);                    /* (B, Co, H, W) conv2's input again */
        norm_silu_redo(m, &L->n2, B, HW, L->h, act, L->n2_mean, L->n2_rstd);
    }
    float *dact = take_zero(g, out_n);           /* (B, Co, H, W) its gradient */
    conv_bwd(m, &L->c2, B, act, dout, dact, sinks);
    give(g, act);
    float *dh = take_zero(g, out_n);             /* (B, Co, H, W) */
    norm_silu_bwd(m, &L->n2, B, HW, L->h, dact, dh, L->n2_mean, L->n2_rstd, sinks);
    give(g, dact);
    float *dtp = take_zero(g, (int64_t)B * L->Co); /* (B, Co) */
    if (!planning(m))
        add_channel_bias_backward(dtp, dh, B, L->Co, HW);
    lin_bwd(m, &L->tproj, B, m->emb_act, dtp, m->demb_act, sinks);
    give(g, dtp);
    act = take(g, in_n);                         /* (B, C, H, W) conv1's input again */
    norm_silu_redo(m, &L->n1, B, HW, x, act, L->n1_mean, L->n1_rstd);
    dact = take_zero(g, in_n);                   /* (B, C, H, W) its gradient */
    conv_bwd(m, &L->c1, B, act, dh, dact, sinks);
    give(g, act);
    give(g, dh);
    float *dx = grad_of(m, L->in, B);
    norm_silu_bwd(m, &L->n1, B, HW, x, dact, dx, L->n1_mean, L->n1_rstd, sinks);
    give(g, dact);
    if (L->has_sc)
        conv_bwd(m, &L->sc, B, x, dout, dx, sinks);
    else if (!planning(m))
        ops_accumulate(dx, dout, out_n);
    give(g, d);
}

static void attention_bwd(unet *m, layer *L, int B, const float *x, const float *dy, float *dx, const ops_sink *sinks)
{
    unet_pool *g = &m->mem;
    int C = L->C, T = L->H * L->W;
    int64_t n = (int64_t)B * C * T;
    float *d = L->scale != 1.0f ? take(g, n) : NULL; /* (B, C, T) dy / scale */
    if (d && !planning(m))
        for (int64_t i = 0; i < n; i++)
            d[i] = dy[i] / L->scale;
    const float *dout = d ? d : dy;
    float *dproj = take_zero(g, n), *datt = take_zero(g, n); /* (B, T, C) */
    if (!planning(m)) {
        ops_accumulate(dx, dout, n); /* residual connection */
        transpose_backward(dproj, dout, B, T, C);
    }
    lin_bwd(m, &L->o, B * T, L->att, dproj, datt, sinks);
    give(g, dproj);
    float *dq = take_zero(g, n), *dk = take_zero(g, n), *dv = take_zero(g, n); /* (B, T, C) */
    float *scratch = unet_take_scratch(m, attention_scratch_numel(B, T, L->heads));
    if (!planning(m))
        attention_backward(dq, dk, dv, datt, L->probs, L->qb, L->kb, L->vb, B, T, L->heads, L->D, scratch);
    give(g, scratch);
    float *dt = take_zero(g, n);                                               /* (B, T, C) */
    lin_bwd(m, &L->q, B * T, L->t, dq, dt, sinks);
    lin_bwd(m, &L->k, B * T, L->t, dk, dt, sinks);
    lin_bwd(m, &L->v, B * T, L->t, dv, dt, sinks);
    float *dgn = take_zero(g, n);                                              /* (B, C, T) */
    if (!planning(m)) {
        transpose_backward(dgn, dt, B, C, T);
        groupnorm_backward(dx, S(sinks, L->n1.g), S(sinks, L->n1.b), dgn, x, L->n1_mean, L->n1_rstd, P(m, L->n1.g),
                           B, C, T, L->n1.G);
    }
    float *done[] = {dgn, dt, dv, dk, dq, datt, d};
    for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
        give(g, done[i]);
}

/* Buffer id again, if the forward did not keep it (rebuildable): its producer's forward re-run,
 * the same bits. It is given back with the producer's backward, like a kept buffer. */
static void rebuild(unet *m, int id, int B)
{
    if (m->bufs[id].data)
        return;
    layer *P = &m->layers[m->producer[id]];
    rebuild(m, P->in, B);
    if (P->kind == L_CONCAT)
        rebuild(m, P->in2, B);
    int tag = m->mem.tag;
    m->mem.tag = POOL_ACT;
    m->bufs[id].data = take(&m->mem, buf_numel(m, id, B));
    m->mem.tag = tag;
    layer_forward(m, P, B);
}

/* Under gradient checkpointing: re-runs the head of layer L's forward (a ResNet or attention
 * block), keeping what its backward needs. Same kernels on the same inputs, so the same bits as a
 * training forward keeps. Returns a ResNet block's conv2 input (its backward needs it next). */
static float *refill(unet *m, layer *L, int B, const float *x)
{
    int tag = m->mem.tag;
    m->mem.tag = POOL_ACT;
    float *act = NULL;
    if (L->kind == L_RESNET)
        act = resnet_head(m, L, B, x);
    else
        attention_head(m, L, B, x);
    m->mem.tag = tag;
    return act;
}

static void layer_backward(unet *m, layer *L, int B, const ops_sink *sinks)
{
    if (L->kind != L_CONCAT && L->kind != L_UPSAMPLE) /* the layers whose backward reads x */
        rebuild(m, L->in, B);
    const float *x = m->bufs[L->in].data;
    float *act = checkpointed(m, L) ? refill(m, L, B, x) : NULL;
    float *dy = m->bufs[L->out].grad;
    float *dx = L->kind == L_RESNET ? NULL : grad_of(m, L->in, B); /* a ResNet block takes it later */
    int HW = L->H * L->W;
    switch (L->kind) {
    case L_CONV:
        conv_bwd(m, &L->conv, B, x, dy, dx, sinks);
        break;
    case L_RESNET:
        resnet_backward(m, L, B, x, dy, sinks, act);
        break;
    case L_ATTN:
        attention_bwd(m, L, B, x, dy, dx, sinks);
        break;
    case L_UPSAMPLE:
        if (!planning(m))
            upsample2x_backward(dx, dy, B, L->C, L->H, L->W);
        break;
    case L_CONCAT: {
        float *dskip = grad_of(m, L->in2, B);
        if (!planning(m))
            concat_channels_backward(dx, dskip, dy, B, L->C, m->bufs[L->in2].C, HW);
        break;
    }
    case L_NORM_SILU:
        norm_silu_bwd(m, &L->n1, B, HW, x, dy, dx, L->n1_mean, L->n1_rstd, sinks); /* dy is used up */
        break;
    }
    give_kept(m, L);
    give(&m->mem, m->bufs[L->out].grad);
    give(&m->mem, m->bufs[L->out].data);
    m->bufs[L->out].grad = m->bufs[L->out].data = NULL;
}

static void time_embedding_backward(unet *m, int B, const ops_sink *sinks)
{
    unet_pool *g = &m->mem;
    int td = m->temb_dim;
    int64_t n = (int64_t)B * td;
    float *demb = take_zero(g, n), *de1a = take_zero(g, n), *de1 = take_zero(g, n); /* (B, temb) */
    if (!planning(m)) {
        silu_backward(demb, m->demb_act, m->emb, n);
        if (m->class_emb >= 0)
            embedding_backward(S(sinks, m->class_emb), demb, m->in_labels, B, m->cfg.num_class_embeds, td);
    }
    lin_bwd(m, &m->time_l2, B, m->e1a, demb, de1a, sinks);
    if (!planning(m))
        silu_backward(de1, de1a, m->e1, n);
    lin_bwd(m, &m->time_l1, B, m->tsin, de1, NULL, sinks);
    give(g, de1);
    give(g, de1a);
    give(g, demb);
}

/* Backward of the forward just run (the pool still holds what it kept). */
static void run_backward(unet *m, int B, const float *dout, const ops_sink *sinks)
{
    m->mem.tag = POOL_GRAD;
    for (int i = 0; i < m->n_bufs; i++)
        m->bufs[i].grad = NULL;
    m->demb_act = take_zero(&m->mem, (int64_t)B * m->temb_dim);
    int last = m->n_bufs - 1;
    float *g = grad_of(m, last, B);
    if (!planning(m))
        memcpy(g, dout, (size_t)buf_numel(m, last, B) * sizeof(float));
    for (int i = m->n_layers - 1; i >= 0; i--)
        layer_backward(m, &m->layers[i], B, sinks);
    time_embedding_backward(m, B, sinks);
}

/* ------------------------------------------------------------------------------------------ */
/* planning, public entry points */

/* Runs pass `mode` at batch B in planning mode: the arena size it needs is mem.peak. */
static sara_status plan_pass(unet *m, int mode, int B)
{
    m->saved = 0; /* planning overwrites the layers' pointers: no backward of an earlier forward */
    unet_pool_begin(&m->mem, 1);
    m->keep = mode == UNET_PLAN_TRAIN;
    run_forward(m, B, NULL);
    if (mode == UNET_PLAN_TRAIN)
        run_backward(m, B, NULL, NULL);
    m->mem.planning = 0;
    m->plan_mode = UNET_PLAN_NONE;
    if (m->mem.failed)
        return sara_fail(SARA_ERR_UNSUPPORTED, "model too deep: more than %d live activation buffers",
                         UNET_POOL_BLOCKS);
    return SARA_OK;
}

/* FLOPs of re-running layer L's head for one sample: conv1 (+ the time projection), or the q,
 * k, v projections and the attention products. */
static double head_flops(const layer *L)
{
    double T = (double)L->H * L->W;
    if (L->kind == L_RESNET)
        return 2.0 * L->Co * T * L->C * L->c1.s.KH * L->c1.s.KW;
    return 3 * 2.0 * T * L->C * L->C + 2 * 2.0 * T * T * L->C;
}

/* Which layers gradient checkpointing re-runs at batch B. Re-running a block lowers the peak only
 * if its kept tensors are live there, that is if its backward comes after the peak: the last
 * blocks of the up path, whose backward runs first, gain nothing and have the most expensive
 * heads (32×32 planes, wide concatenated inputs). So start from every block re-run, then, most
 * expensive head first, let a block keep its tensors if the planned peak does not grow. */
static sara_status choose_recompute(unet *m, int B)
{
    int order[UNET_MAX_LAYERS], n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        layer *L = &m->layers[i];
        L->recompute = recomputable(L);
        if (!L->recompute)
            continue;
        int j = n++; /* insertion sort by head cost, descending; ties keep layer order */
        for (; j > 0 && head_flops(&m->layers[order[j - 1]]) < head_flops(L); j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    SARA_TRY(plan_pass(m, UNET_PLAN_TRAIN, B));
    size_t peak = m->mem.peak;
    for (int k = 0; k < n; k++) {
        layer *L = &m->layers[order[k]];
        L->recompute = 0;
        SARA_TRY(plan_pass(m, UNET_PLAN_TRAIN, B));
        if (m->mem.peak > peak)
            L->recompute = 1;
    }
    return SARA_OK;
}

/* Plans pass `mode` at batch B unless that is the current plan, and grows the arena to fit. */
static sara_status ensure_plan(unet *m, int mode, int B)
{
    if (B <= 0)
        return sara_fail(SARA_ERR_INVALID, "batch size must be positive, got %d", B);
    if (m->plan_mode == mode && m->plan_B == B)
        return SARA_OK;
    if (mode == UNET_PLAN_TRAIN && m->checkpointing)
        SARA_TRY(choose_recompute(m, B));
    SARA_TRY(plan_pass(m, mode, B));
    size_t need = m->mem.peak;
    if (need > m->mem.cap || !m->mem.base) {
        free(m->mem.base);
        m->mem.cap = 0;
        m->mem.base = aligned_alloc(64, (need + ARENA_ALIGN_FLOATS) * sizeof(float));
        if (!m->mem.base)
            return sara_fail(SARA_ERR_NOMEM, "cannot allocate %.1f MB of activations for batch %d",
                             (double)need * sizeof(float) / 1e6, B);
        m->mem.cap = need;
    }
    m->plan_mode = mode;
    m->plan_B = B;
    return SARA_OK;
}

void unet_set_gradient_checkpointing(unet *m, int on)
{
    on = on != 0;
    if (m->checkpointing == on)
        return;
    m->checkpointing = on;
    m->saved = 0;                     /* a kept forward of the other kind has no matching backward */
    m->plan_mode = UNET_PLAN_NONE;    /* the training plan changes: plan again */
    m->reserved_B = 0;
}

sara_status unet_reserve(unet *m, int B)
{
    if (B <= 0)
        return sara_fail(SARA_ERR_INVALID, "batch size must be positive, got %d", B);
    if (B == m->reserved_B && m->plan_mode != UNET_PLAN_NONE)
        return SARA_OK;
    SARA_TRY(plan_pass(m, UNET_PLAN_INFER, B));
    size_t infer = m->mem.peak;
    SARA_TRY(ensure_plan(m, UNET_PLAN_TRAIN, B));
    const size_t *t = m->mem.tag_at_peak, f = sizeof(float);
    m->report = (unet_memory_plan){
        .weights = m->params.numel * f,
        .activations = t[POOL_ACT] * f,
        .scratch = t[POOL_SCRATCH] * f,
        .act_grads = (m->mem.peak - t[POOL_ACT] - t[POOL_SCRATCH]) * f,
        .inference = infer * f,
    };
    m->reserved_B = B;
    return SARA_OK;
}

unet_memory_plan unet_memory(const unet *m)
{
    unet_memory_plan p = m->report;
    p.weights = m->params.numel * sizeof(float);
    return p;
}

/* Checks the inputs of a forward and makes them the current ones. */
static sara_status set_inputs(unet *m, const float *x, const float *t, const int64_t *labels, int B)
{
    if (B <= 0)
        return sara_fail(SARA_ERR_INVALID, "batch size must be positive, got %d", B);
    if (m->class_emb >= 0) {
        if (!labels)
            return sara_fail(SARA_ERR_INVALID, "this model is class-conditional: class labels are required");
        for (int i = 0; i < B; i++)
            if (labels[i] < 0 || labels[i] >= m->cfg.num_class_embeds)
                return sara_fail(SARA_ERR_INVALID, "class label %lld of sample %d is outside [0, %d)",
                                 (long long)labels[i], i, m->cfg.num_class_embeds);
    }
    for (int i = 0; i < B; i++)
        if (!isfinite(t[i]))
            return sara_fail(SARA_ERR_NUMERIC, "timestep of sample %d is not finite", i);
    m->in_x = x;
    m->in_t = t;
    m->in_labels = labels;
    m->B = B;
    return SARA_OK;
}

/* A real forward of pass `mode` (planned first if need be); out gets the model output. */
static sara_status forward_pass(unet *m, int mode, const float *x, const float *t, const int64_t *labels, int B,
                                float *out)
{
    SARA_TRY(set_inputs(m, x, t, labels, B));
    if (mode == UNET_PLAN_TRAIN && B != m->reserved_B)
        SARA_TRY(unet_reserve(m, B));
    SARA_TRY(ensure_plan(m, mode, B));
    unet_pool_begin(&m->mem, 0);
    m->keep = mode == UNET_PLAN_TRAIN;
    run_forward(m, B, NULL);
    int last = m->n_bufs - 1;
    memcpy(out, m->bufs[last].data, (size_t)buf_numel(m, last, B) * sizeof(float));
    m->saved = m->keep;
    return SARA_OK;
}

sara_status unet_forward(unet *m, const float *x, const float *t, const int64_t *labels, int B, float *out)
{
    return forward_pass(m, UNET_PLAN_TRAIN, x, t, labels, B, out);
}

sara_status unet_infer(unet *m, const float *x, const float *t, const int64_t *labels, int B, float *out)
{
    return forward_pass(m, UNET_PLAN_INFER, x, t, labels, B, out);
}

sara_status unet_backward(unet *m, const float *dout, float *dx, const ops_sink *sinks)
{
    int B = m->B;
    if (!m->saved)
        return sara_fail(SARA_ERR_INVALID, "unet_backward needs a unet_forward of its own before it");
    m->saved = 0;
    run_backward(m, B, dout, sinks);
    if (dx) {
        float factor = m->cfg.center_input_sample ? 2.0f : 1.0f; /* d(2x − 1)/dx */
        const float *g = m->bufs[0].grad;
        int64_t n = buf_numel(m, 0, B);
        for (int64_t i = 0; i < n; i++)
            dx[i] += factor * g[i];
    }
    return SARA_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* diagnostics: where a NaN or Inf first appears (called only after a non-finite step) */

/* A layer's module name: the name of one of its parameters without the last `strip` parts
 * ("down_blocks.0.resnets.1.norm1.weight", strip 2 → "down_blocks.0.resnets.1"). */
static void module_name(const unet *m, int param, int strip, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", param >= 0 ? m->params.entries[param].name : "?");
    for (int k = 0; k < strip; k++) {
        char *dot = strrchr(buf, '.');
        if (dot)
            *dot = '\0';
    }
}

/* Names layer i, or for the layers without parameters (upsample, skip concatenation) says which
 * named layer they feed. */
static void layer_name(const unet *m, int i, char *buf, size_t cap)
{
    const layer *L = &m->layers[i];
    switch (L->kind) {
    case L_CONV: module_name(m, L->conv.w, 1, buf, cap); return;
    case L_NORM_SILU: module_name(m, L->n1.g, 1, buf, cap); return;
    case L_RESNET:
    case L_ATTN: module_name(m, L->n1.g, 2, buf, cap); return;
    default: {
        char next[PARAM_NAME_MAX] = "the output";
        for (int j = i + 1; j < m->n_layers && !strcmp(next, "the output"); j++)
            if (m->layers[j].kind != L_UPSAMPLE && m->layers[j].kind != L_CONCAT)
                layer_name(m, j, next, sizeof next);
        snprintf(buf, cap, "%s before %s", L->kind == L_UPSAMPLE ? "upsampling" : "skip concatenation", next);
    }
    }
}

int unet_find_nonfinite(unet *m, char *buf, size_t cap)
{
    const param_table *tables[2] = {&m->params, &m->lora};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < tables[t]->count; i++)
            if (!span_finite(params_ptr(tables[t], i), tables[t]->entries[i].numel)) {
                snprintf(buf, cap, "parameter %s", tables[t]->entries[i].name);
                return 1;
            }
    int B = m->B;
    if (B <= 0 || !m->in_x || ensure_plan(m, UNET_PLAN_INFER, B) != SARA_OK)
        return 0; /* no forward pass to look at (or no memory to repeat it) */
    /* The activations are not kept past backward: repeat the forward (the same bits), checked. */
    int bad = NF_NONE;
    unet_pool_begin(&m->mem, 0);
    m->keep = 0;
    m->saved = 0;
    run_forward(m, B, &bad);
    if (bad == NF_NONE)
        return 0;
    if (bad == NF_INPUT) {
        snprintf(buf, cap, "the input batch");
    } else if (bad == NF_EMBEDDING) {
        snprintf(buf, cap, "activation of time_embedding");
    } else {
        char name[PARAM_NAME_MAX + 64];
        layer_name(m, bad, name, sizeof name);
        snprintf(buf, cap, "activation of %s", name);
    }
    return 1;
}

const char *unet_param_name(const unet *m, int i)
{
    if (i < 0)
        return "?";
    if (i < m->params.count)
        return m->params.entries[i].name;
    i -= m->params.count;
    return i < m->lora.count ? m->lora.entries[i].name : "?";
}

static double conv_flops(const conv_p *c, int B)
{
    return 2.0 * B * c->s.O * ops_conv_out_h(&c->s) * ops_conv_out_w(&c->s) * c->s.C * c->s.KH * c->s.KW;
}

double unet_forward_flops(const unet *m, int B)
{
    double f = 0;
    int td = m->temb_dim;
    f += 2.0 * B * (m->cfg.block_out_channels[0] * td + td * td); /* time MLP */
    for (int i = 0; i < m->n_layers; i++) {
        const layer *L = &m->layers[i];
        double T = (double)L->H * L->W;
        if (L->kind == L_CONV)
            f += conv_flops(&L->conv, B);
        if (L->kind == L_RESNET)
            f += conv_flops(&L->c1, B) + conv_flops(&L->c2, B) + (L->has_sc ? conv_flops(&L->sc, B) : 0) +
                 2.0 * B * td * L->Co;
        if (L->kind == L_ATTN) /* q, k, v, out projections + q·kᵀ + p·v */
            f += 4 * 2.0 * B * T * L->C * L->C + 2 * 2.0 * B * T * T * L->C;
    }
    return f;
}

/* ------------------------------------------------------------------------------------------ */
/* files */

static void join_path(char *dst, size_t cap, const char *dir, const char *file)
{
    size_t n = strlen(dir);
    snprintf(dst, cap, "%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", file);
}

sara_status unet_load(unet **out, const char *dir)
{
    char cfg_path[4096], w_path[4096];
    unet_config cfg;
    st_file *f = NULL;
    *out = NULL;
    join_path(cfg_path, sizeof cfg_path, dir, UNET_CONFIG_FILE);
    join_path(w_path, sizeof w_path, dir, UNET_WEIGHTS_FILE);
    SARA_TRY(unet_config_load(&cfg, cfg_path));
    unet *m = NULL;
    sara_status s = unet_create(&m, &cfg);
    if (s != SARA_OK) {
        sara_error_prefix("%s", cfg_path);
        return s;
    }
    s = safetensors_open(w_path, &f);
    if (s == SARA_OK)
        s = params_load(&m->params, f, 0);
    safetensors_close(f);
    if (s != SARA_OK) {
        unet_free(m);
        return s;
    }
    *out = m;
    return SARA_OK;
}

sara_status unet_save(const unet *m, const char *dir, const char *const *meta_kv, int meta_pairs)
{
    char cfg_path[4096], w_path[4096];
    SARA_TRY(dirs_create(dir));
    join_path(cfg_path, sizeof cfg_path, dir, UNET_CONFIG_FILE);
    join_path(w_path, sizeof w_path, dir, UNET_WEIGHTS_FILE);
    /* With LoRA attached, the saved model is the merged one: a plain model any tool can load. */
    param_table merged;
    params_init(&merged);
    const param_table *out = &m->params;
    if (m->lora.count) {
        SARA_TRY(params_clone_layout(&merged, &m->params));
        for (int i = 0; i < merged.count; i++)
            unet_lora_merged_weight(m, i, params_ptr(&merged, i));
        out = &merged;
    }
    st_writer *w = NULL;
    sara_status s = st_writer_create(&w);
    if (s == SARA_OK)
        s = params_add_to_writer(out, w, "");
    for (int i = 0; s == SARA_OK && i < meta_pairs; i++)
        s = st_writer_meta(w, meta_kv[2 * i], meta_kv[2 * i + 1]);
    if (s == SARA_OK)
        s = st_writer_write(w, w_path);
    st_writer_free(w);
    params_free(&merged);
    if (s == SARA_OK)
        s = unet_config_save(&m->cfg, cfg_path);
    return s;
}
