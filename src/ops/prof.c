/* prof.c — per-op wall-time accounting, for profiles of a training step (bench_train --profile).
 * Off by default; when off a scope costs one branch. Scopes nest: an op that calls another
 * instrumented op (a convolution's sparse weight gradient, say) is charged only its own time,
 * the inner one its own. Only scopes opened outside OpenMP parallel regions count (the ops'
 * entry points run on the calling thread; their worker threads never open scopes). */
#include <omp.h>
#include <time.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

#ifndef OPS_DOUBLE
/* Nesting depth of scopes, at most (ops call ops two or three deep). */
#define OPS_PROF_DEPTH 16

static int g_prof_on;
static double g_prof_sec[OPS_PROF_KINDS];
static long g_prof_calls[OPS_PROF_KINDS];
static double g_prof_child[OPS_PROF_DEPTH]; /* seconds of inner scopes, per open level */
static int g_prof_depth;

static const char *const g_prof_names[OPS_PROF_KINDS] = {
    [OPS_PROF_CONV3X3_FWD] = "conv 3x3 s1 forward",
    [OPS_PROF_CONV3X3_BWD] = "conv 3x3 s1 backward (dx + dW)",
    [OPS_PROF_CONV_FWD] = "conv other forward (1x1, strided)",
    [OPS_PROF_CONV_BWD] = "conv other backward",
    [OPS_PROF_SPARSE_DW] = "sparse dW (sampled / direct tiles)",
    [OPS_PROF_LINEAR] = "linear",
    [OPS_PROF_NORM] = "groupnorm (+ fused SiLU)",
    [OPS_PROF_ACT] = "SiLU",
    [OPS_PROF_ATTN] = "attention (softmax core)",
    [OPS_PROF_ELEM] = "elementwise (concat, bias, add, zero, transpose, resample, embeddings)",
    [OPS_PROF_GRAD] = "gradient zeroing, norm and clipping",
    [OPS_PROF_OPTIM] = "optimizer step (AdamW, SaRA scatter)",
    [OPS_PROF_LOWRANK] = "SaRA low-rank term (SVD)",
};

static double prof_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void ops_prof_enable(int on) { g_prof_on = on; }

void ops_prof_reset(void)
{
    for (int k = 0; k < OPS_PROF_KINDS; k++)
        g_prof_sec[k] = 0, g_prof_calls[k] = 0;
}

double ops_prof_seconds(int kind, long *calls)
{
    if (kind < 0 || kind >= OPS_PROF_KINDS)
        return 0;
    if (calls)
        *calls = g_prof_calls[kind];
    return g_prof_sec[kind];
}

const char *ops_prof_name(int kind) { return kind >= 0 && kind < OPS_PROF_KINDS ? g_prof_names[kind] : "?"; }

ops_prof_scope ops_prof_scope_begin(int kind)
{
    ops_prof_scope sc = {-1, 0};
    if (!g_prof_on || omp_in_parallel() || g_prof_depth >= OPS_PROF_DEPTH)
        return sc;
    g_prof_child[g_prof_depth++] = 0;
    sc.kind = kind;
    sc.t0 = prof_now();
    return sc;
}

void ops_prof_scope_end(ops_prof_scope *sc)
{
    if (sc->kind < 0)
        return;
    double el = prof_now() - sc->t0;
    g_prof_depth--;
    g_prof_sec[sc->kind] += el - g_prof_child[g_prof_depth];
    g_prof_calls[sc->kind]++;
    if (g_prof_depth > 0)
        g_prof_child[g_prof_depth - 1] += el;
}
#endif
