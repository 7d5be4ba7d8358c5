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

typedef struct {
    float *base;
    size_t cap, used, peak;   /* in floats */
    int planning;             /* 1: count sizes only, hand out NULL */
} arena;

/* A LoRA branch on a conv or linear weight (PEFT): y += scale · B(A(x)); r = 0 when absent.
 * a, b index the model's LoRA table. xa, (B·rows, r) for a linear or (B, r, Ho, Wo) for a conv, is
 * saved by forward; dxa is its gradient during backward. */
typedef struct {
    int a, b;
    int r;
    float scale;
    int rows;                  /* rows of xa per sample: Ho·Wo for a conv, tokens for a linear */
    float *xa, *dxa;
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
    /* Saved by forward for backward; each (B, ...) as noted at the take() calls. */
    float *n1_out, *n1_mean, *n1_rstd, *a1, *h, *n2_out, *n2_mean, *n2_rstd, *a2, *sc_out;
    float *t, *qb, *kb, *vb, *probs, *att, *proj;
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
    arena fwd, bwd;
    float *scratch;            /* (scratch_numel) */
    size_t scratch_numel;
    int reserved_B, B;
    /* time embedding activations, (B, C0) then (B, temb_dim) */
    float *tsin, *e1, *e1a, *emb, *emb_act;
    float *demb_act;           /* (B, temb_dim) gradient, accumulated by every ResNet block */
    const float *in_x, *in_t;  /* inputs of the current forward */
    const int64_t *in_labels;
    param_table lora;          /* LoRA A/B matrices when attached (count 0 otherwise) */
    lora_p *lora_mods[UNET_MAX_LORA]; /* the branches, pointing into layers / the time MLP */
    int n_lora_mods;
};


/* Arena allocation shared by both files (planning mode hands out NULL). */
float *unet_take(arena *a, int64_t n);
float *unet_take_zero(arena *a, int64_t n);
static inline float *unet_param(const unet *m, int i) { return i < 0 ? NULL : params_ptr(&m->params, i); }

/* The LoRA branch of a conv / linear, after the base op: y += scale·B(A(x)), and its backward. */
void unet_lora_conv_forward(unet *m, const conv_p *c, int B, const float *x, float *y);
void unet_lora_conv_backward(unet *m, const conv_p *c, int B, const float *x, const float *dy, float *dx,
                             const ops_sink *sinks);
void unet_lora_linear_forward(unet *m, const lin_p *l, int N, const float *x, float *y);
void unet_lora_linear_backward(unet *m, const lin_p *l, int N, const float *x, const float *dy, float *dx,
                               const ops_sink *sinks);
/* Hands out the branches' xa (forward) or zeroed dxa (backward) buffers for batch B. */
void unet_lora_take_buffers(unet *m, int B, arena *a, int backward);
/* Largest scratch a branch needs at batch B (its A convolution). */
size_t unet_lora_scratch_numel(const unet *m, int B);

#endif
