/* ops.h — CPU kernels, forward and backward, for every layer the UNet needs.
 * Each kernel is written once over the type `real` (see real.h) and compiled twice: float for
 * the engine (plain names) and double for the finite-difference tests (names ending in _f64).
 * This header declares both sets by including ops_decl.h twice.
 *
 * Conventions (all kernels):
 *  - Layout is NCHW, row-major, like PyTorch/diffusers.
 *  - Every gradient ACCUMULATES (+=) into its destination; the caller zeroes buffers first.
 *    A NULL gradient pointer means "not needed" and is skipped.
 *  - Parameter gradients go to an ops_sink: none, dense, or sparse (packed values at a sorted
 *    list of flat row-major indices). Only the method layer (src/peft) decides which; kernels
 *    never know about masks. A sparse sink must never cause a dense gradient of a whole weight
 *    tensor to be formed (biases and norm scales, being vectors, may be).
 *  - Work is split across OpenMP threads so that every output element is summed by one thread
 *    in a fixed order: same thread count => bit-identical results. No floating-point
 *    `reduction` clauses.
 *  - Scratch memory is passed in by the caller; *_scratch_numel() says how many elements. */
#ifndef SARA_OPS_OPS_H
#define SARA_OPS_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    OPS_SINK_NONE = 0,  /* gradient not wanted (frozen parameter) */
    OPS_SINK_DENSE,     /* dense[numel] += gradient */
    OPS_SINK_SPARSE     /* values[k] += gradient[index[k]], index sorted ascending, k < nnz */
} ops_sink_kind;

/* Shape of a 2-D convolution. Output height = (H + pad_t + pad_b - KH) / stride + 1 (likewise W). */
typedef struct {
    int B, C, H, W;    /* input (B, C, H, W) */
    int O, KH, KW;     /* weight (O, C, KH, KW) */
    int stride;
    int pad_t, pad_l, pad_b, pad_r;
} ops_conv_shape;

static inline int ops_conv_out_h(const ops_conv_shape *s) { return (s->H + s->pad_t + s->pad_b - s->KH) / s->stride + 1; }
static inline int ops_conv_out_w(const ops_conv_shape *s) { return (s->W + s->pad_l + s->pad_r - s->KW) / s->stride + 1; }

/* Elements of scratch conv2d_forward/backward need (same for float and double). */
size_t conv2d_scratch_numel(const ops_conv_shape *s);
/* Which path computes the selected entries of a weight gradient for a sparse sink (conv2d,
 * linear): AUTO picks per tensor by density (crossovers measured by bench/bench_sparse_dw.c);
 * SAMPLED (one dot per entry) and TILE (dense row-block tiles gathered) force one, for tests
 * and benchmarks. Process-wide; set it outside parallel regions. */
enum { OPS_SPARSE_DW_AUTO = 0, OPS_SPARSE_DW_SAMPLED, OPS_SPARSE_DW_TILE };
void ops_sparse_dw_path_set(int path);
int ops_sparse_dw_path_get(void);
/* The largest dense tile (elements) the tile path formed since the last reset: instrumentation
 * for the "never a whole tensor's dW" check. */
int64_t ops_sparse_dw_tile_peak(void);
void ops_sparse_dw_tile_peak_reset(void);

/* Per-op wall time (prof.c), off by default: where a training step goes, by kind of op. A scope
 * is charged its own time, inner scopes excluded. Process-wide; enable outside parallel regions. */
enum {
    OPS_PROF_CONV3X3_FWD, OPS_PROF_CONV3X3_BWD, OPS_PROF_CONV_FWD, OPS_PROF_CONV_BWD, OPS_PROF_SPARSE_DW,
    OPS_PROF_LINEAR, OPS_PROF_NORM, OPS_PROF_ACT, OPS_PROF_ATTN, OPS_PROF_ELEM, OPS_PROF_GRAD, OPS_PROF_OPTIM,
    OPS_PROF_LOWRANK, OPS_PROF_KINDS
};
void ops_prof_enable(int on);
void ops_prof_reset(void);
/* Seconds charged to kind since the last reset; *calls (when non-NULL): scopes closed. */
double ops_prof_seconds(int kind, long *calls);
const char *ops_prof_name(int kind);
/* A scope: OPS_PROF_SCOPE(kind); at the top of a block charges the rest of the block to kind
 * (closed by the cleanup attribute at any return). */
typedef struct {
    int kind; /* -1: not counting */
    double t0;
} ops_prof_scope;
ops_prof_scope ops_prof_scope_begin(int kind);
void ops_prof_scope_end(ops_prof_scope *sc);
#define OPS_PROF_SCOPE(kind) \
    __attribute__((cleanup(ops_prof_scope_end), unused)) ops_prof_scope ops_prof_scope_ = ops_prof_scope_begin(kind)

/* Elements of scratch attention_backward needs for (B, T, heads). */
size_t attention_scratch_numel(int B, int T, int heads);

#define OPS_REAL float
#define OPS_NAME(n) n
#include "ops/ops_decl.h"
#undef OPS_REAL
#undef OPS_NAME

#define OPS_REAL double
#define OPS_NAME(n) n##_f64
#include "ops/ops_decl.h"
#undef OPS_REAL
#undef OPS_NAME

#endif
