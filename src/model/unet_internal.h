/* unet_internal.h — the UNet's private structures, shared by unet.c (layers, forward, backward,
 * files) and unet_lora.c (the optional low-rank branches). Only src/model includes it. */
#ifndef SARA_MODEL_UNET_INTERNAL_H
#define SARA_MODEL_UNET_INTERNAL_H

#include "model/unet.h"

/* Buffers start at 16-float (64-byte) boundaries: cache lines and AVX-512 vectors. */
#define ARENA_ALIGN_FLOATS 16
#define UNET_MAX_LAYERS 256
#define UNET_MAX_BUFS 256
#define UNET_MAX_LORA 512

typedef enum { L_CONV, L_RESNET, L_ATTN, L_UPSAMPLE, L_CONCAT, L_NORM_SILU } layer_kind;

/* What a pool block holds, for the memory report: forward activations (layer outputs, what
 * backward needs, forward working buffers), activation gradients and backward working buffers,
 * and kernel scratch (im2col / Winograd / attention). */
typedef enum { POOL_ACT, POOL_GRAD, POOL_SCRATCH, POOL_TAGS } pool_tag;

typedef struct {
    size_t off, n;            /* in floats */
    int tag;
} pool_block;

/* Live blocks at most: every buffer's data and gradient, a dozen saved tensors per layer, the
 * LoRA branches' saved products, and a few working buffers. */
#define UNET_POOL_BLOCKS (2 * UNET_MAX_BUFS + 12 * UNET_MAX_LAYERS + UNET_MAX_LORA + 64)

/* The activation arena (unet_pool.c): first fit with free over one block of cap floats. */
typedef struct {
    float *base;              /* (cap); NULL until allocated */
    size_t cap, peak;         /* in floats; peak: the end of the highest block of the last planning pass */
    int planning;             /* 1: sizes only, the addresses identify blocks but hold no memory */
    int failed;               /* a bookkeeping error the planning pass reports */
    int tag;                  /* pool_tag of the blocks taken now */
    pool_block live[UNET_POOL_BLOCKS]; /* sorted by offset */
    int n_live;
    size_t tag_live[POOL_TAGS], tag_at_peak[POOL_TAGS]; /* floats per tag: now, and when peak was reached */
} unet_pool;

/* A LoRA branch on a conv or linear weight (PEFT): y += scale · B(A(x)); r = 0 when absent.
 * a, b index the model's LoRA table. xa, (B·rows, r) for a linear or (B, r, Ho, Wo) for a conv, is
 * kept by a training forward for backward, which gives it back. */
typedef struct {
    int a, b;
    int r;
    float scale;
    int rows;                  /* rows of xa per sample: Ho·Wo for a conv, tokens for a linear */
    float *xa;
} lora_p;

typedef struct { int w, b; ops_conv_shape s; lora_p lora; } conv_p;   /* s.B filled per call */
typedef struct { int g, b; int C, G; float eps; } norm_p;
typedef struct { int w, b; int I, O; lora_p lora; } lin_p;

typedef struct {
    layer_kind kind;
    int in, in2, out;          /* activation buffer ids (in2: the skip of a concat) */
    int C, H, W, Co;           /* input channels and size; output channels (same H, W unless conv/upsample) */
    conv_p conv;               /* L_CONV */
    norm_p n1, n2;             /* L_RESNET norm1/norm2; L_NORM_SILU uses n1; L_ATTN uses n1 (group_norm) */
    conv_p c1, c2, sc;         /* L_RESNET conv1, conv2, conv_shortcut */
    int has_sc;
    lin_p tproj;               /* L_RESNET time_emb_proj */
    lin_p q, k, v, o;          /* L_ATTN to_q, to_k, to_v, to_out.0 */
    int heads, D;
    float scale;               /* output divided by this (output_scale_factor / rescale_output_factor) */
    int recompute;             /* under gradient checkpointing: keep only the output, re-run the head */
    /* Kept by a training forward for backward (given back by it); each (B, ...) as noted at the
     * take() calls. Nothing backward can re-form cheaply is kept: the norms' outputs and their
     * SiLU are recomputed from the block input (or h) and the statistics. */
    float *n1_mean, *n1_rstd, *h, *n2_mean, *n2_rstd;
    float *t, *qb, *kb, *vb, *probs, *att;
} layer;

typedef struct {
    int C, H, W;
    float *data;               /* (B, C, H, W) */
    float *grad;               /* (B, C, H, W), during backward */
} act_buf;

struct unet {
    unet_config cfg;
    param_table params;
    sara_status build_status;  /* first failure while building */
    layer layers[UNET_MAX_LAYERS];
    int n_layers;
    act_buf bufs[UNET_MAX_BUFS];
    int n_bufs;
    int temb_dim;
    lin_p time_l1, time_l2;    /* time_embedding.linear_1, linear_2 */
    int class_emb;             /* class_embedding.weight, or -1 */
    unet_pool mem;             /* every activation, gradient and scratch buffer */
    int keep;                  /* 1 while a training forward runs: keep what backward needs */
    int checkpointing;         /* 1: ResNet and attention blocks keep only their outputs (refill) */
    int plan_mode, plan_B;     /* the pass mem.cap was last planned for (UNET_PLAN_*, batch) */
    unet_memory_plan report;   /* the training and inference plans at the reserved batch */
    int reserved_B;            /* batch of the last unet_reserve */
    int B;                     /* batch of the last forward */
    int saved;                 /* 1: the last forward kept its activations and backward has not run */
    int last_use[UNET_MAX_BUFS]; /* the last layer that reads each buffer (-1: the model output) */
    int producer[UNET_MAX_BUFS]; /* the layer that writes each buffer (-1: the input batch) */
    /* time embedding activations, (B, C0) then (B, temb_dim) */
    float *tsin, *e1, *e1a, *emb, *emb_act;
    float *demb_act;           /* (B, temb_dim) gradient, accumulated by every ResNet block */
    const float *in_x, *in_t;  /* inputs of the current forward */
    const int64_t *in_labels;
    param_table lora;          /* LoRA A/B matrices when attached (count 0 otherwise) */
    lora_p *lora_mods[UNET_MAX_LORA]; /* the branches, pointing into layers / the time MLP */
    int n_lora_mods;
};


/* What a planned pass does: a forward that keeps what backward needs and then the backward, or a
 * forward alone that keeps nothing. */
enum { UNET_PLAN_NONE, UNET_PLAN_TRAIN, UNET_PLAN_INFER };

/* The pool (unet_pool.c). begin starts a pass with no live blocks (planning: also resets peak). */
void unet_pool_begin(unet_pool *p, int planning);
float *unet_take(unet_pool *p, int64_t n);
float *unet_take_zero(unet_pool *p, int64_t n);
void unet_give(unet_pool *p, const float *q); /* NULL: nothing */
/* A kernel's scratch, tagged as such for the report. */
float *unet_take_scratch(unet *m, size_t n);
static inline float *unet_param(const unet *m, int i) { return i < 0 ? NULL : params_ptr(&m->params, i); }

/* The LoRA branch of a conv / linear, after the base op: y += scale·B(A(x)), and its backward.
 * Forward takes xa from the pool (kept when m->keep), backward gives it back. */
void unet_lora_conv_forward(unet *m, conv_p *c, int B, const float *x, float *y);
void unet_lora_conv_backward(unet *m, conv_p *c, int B, const float *x, const float *dy, float *dx,
                             const ops_sink *sinks);
void unet_lora_linear_forward(unet *m, lin_p *l, int N, const float *x, float *y);
void unet_lora_linear_backward(unet *m, lin_p *l, int N, const float *x, const float *dy, float *dx,
                               const ops_sink *sinks);

#endif
