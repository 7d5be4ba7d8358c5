/* unet.h — diffusers' UNet2DModel on the CPU kernels of src/ops: forward and backward.
 * Parameters live in one param_table whose names are exactly diffusers' state_dict keys, so a
 * diffusers checkpoint (config.json + diffusion_pytorch_model.safetensors) loads as it is.
 * The network is a flat list of layers over a table of activation buffers; skip connections are
 * buffers read by two layers, so their gradients simply accumulate. Activation memory is one
 * arena planned for a pass and batch size before it is used (unet_reserve, or the first call);
 * a training forward keeps what backward needs, an inference forward (unet_infer) keeps nothing
 * and reuses buffers layer to layer. unet_memory reports both plans. */
#ifndef SARA_MODEL_UNET_H
#define SARA_MODEL_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"
#include "model/unet_config.h"
#include "ops/ops.h"
#include "sara/sara.h"

typedef struct unet unet;

/* The training arena (forward + backward at the reserved batch) is activations + act_grads +
 * scratch, split by what its blocks hold at its peak. */
typedef struct {
    size_t weights;      /* parameter arena */
    size_t activations;  /* forward activations live at the training peak (those backward needs) */
    size_t act_grads;    /* activation gradients and backward working buffers at that peak (and gaps) */
    size_t scratch;      /* kernel scratch (Winograd / im2col / attention) at that peak */
    size_t inference;    /* the whole arena of an inference forward at the reserved batch */
} unet_memory_plan;

/* Builds the layer list and registers (and allocates, zeroed) every parameter. */
sara_status unet_create(unet **out, const unet_config *cfg);
void unet_free(unet *m);
const unet_config *unet_get_config(const unet *m);
param_table *unet_params(unet *m);

/* Gradient checkpointing (off by default): a training forward keeps only the layer outputs of
 * ResNet and attention blocks, not their h, tokens, q, k, v and probabilities, and backward re-runs
 * the first part of each such block's forward before its backward. Gradients are the same bits;
 * the activations kept shrink by about half, at the price of about one more conv per ResNet
 * block. Only blocks whose kept tensors would be live at the training peak re-run: planned per
 * batch size, so the peak is the one with every block re-run. Takes effect at the next
 * unet_forward (which plans again). */
void unet_set_gradient_checkpointing(unet *m, int on);

/* Plans the training and inference passes for batch B and allocates the training arena (forward
 * and backward calls plan themselves when the batch changes; this does it up front). */
sara_status unet_reserve(unet *m, int B);
/* Bytes each part needs at the reserved batch size. */
unet_memory_plan unet_memory(const unet *m);

/* out (B, out_channels, S, S) = model(x (B, in_channels, S, S), timesteps t (B), labels (B) or NULL).
 * Keeps what backward needs. Labels must lie in [0, num_class_embeds). */
sara_status unet_forward(unet *m, const float *x, const float *t, const int64_t *labels, int B, float *out);
/* The same output, bit for bit, without keeping anything for backward: the live memory at any
 * point is the skip connections and the current layer's working buffers. For sampling and any
 * caller that only needs the forward; unet_backward after it fails. */
sara_status unet_infer(unet *m, const float *x, const float *t, const int64_t *labels, int B, float *out);
/* Backward of the last forward (unet_forward): dout (B, out_channels, S, S). dx (B, in_channels, S, S)
 * += ∂/∂x (NULL: not needed). sinks: one per parameter, in table order (NULL: no parameter
 * gradients). It consumes what the forward kept: each backward needs a forward of its own. */
sara_status unet_backward(unet *m, const float *dout, float *dx, const ops_sink *sinks);

/* The file names diffusers' save_pretrained uses inside a model folder. */
#define UNET_CONFIG_FILE "config.json"
#define UNET_WEIGHTS_FILE "diffusion_pytorch_model.safetensors"

/* Loads a diffusers model folder: dir/config.json and dir/diffusion_pytorch_model.safetensors. */
sara_status unet_load(unet **out, const char *dir);
/* Writes a diffusers model folder (config.json + weights), each file atomically; metadata may be NULL. */
sara_status unet_save(const unet *m, const char *dir, const char *const *meta_kv, int meta_pairs);
/* LoRA (PEFT): attaches a branch y += (alpha/rank)·B(A(x)) to every conv and linear weight whose
 * name contains `targets` (NULL or "": all). Linear: A (r, in), B (out, r). Conv: A a conv of the same
 * kernel/stride/padding to r channels, B a 1×1 conv (out, r, 1, 1). A is Kaiming-uniform (seeded),
 * B zero, so the model's output is unchanged. Parameters are named `<module>.lora_A.weight` /
 * `<module>.lora_B.weight` in their own table; unet_backward's sinks array then continues with one
 * sink per LoRA parameter after the model's own. */
sara_status unet_lora_attach(unet *m, int rank, double alpha, const char *targets, uint64_t seed);
/* The LoRA table (count 0 when none is attached). */
param_table *unet_lora_params(unet *m);
/* dst (numel of parameter i) = W_i + scale·B·A when parameter i has a branch, else W_i. */
void unet_lora_merged_weight(const unet *m, int i, float *dst);

/* PyTorch's default initialisation (for training from scratch), deterministic in seed. */
sara_status unet_init_random(unet *m, uint64_t seed);
/* Multiply-add FLOPs (2 per MAC) of one forward pass at batch B: convolutions, linear layers and
 * attention products; norms and elementwise work are not counted (they are memory-bound). A
 * training step costs about 3× this (backward: input and weight gradients). */
double unet_forward_flops(const unet *m, int B);
/* Total number of parameters. */
int64_t unet_param_count(const unet *m);

/* After a step went non-finite: names (into buf) the first parameter that holds a NaN or Inf
 * ("parameter <name>"), else the first activation of the last forward pass, in forward order
 * ("activation of <module>"); returns 1 if one was found, 0 if all are finite. Costs one pass
 * over the weights and one inference forward on the last forward's inputs (which must still be
 * valid; the activations themselves are not kept past backward), so it runs only when the loss
 * or gradient norm is not finite. */
int unet_find_nonfinite(unet *m, char *buf, size_t cap);
/* Name of parameter i in unet_backward's sinks order: the model's table, then the LoRA table's. */
const char *unet_param_name(const unet *m, int i);

#endif
