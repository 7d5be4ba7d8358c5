/* activations.c — SiLU (x·σ(x)), the only nonlinearity the UNet uses outside softmax; σ is
 * ops_sigmoid (ops_internal.h), written to vectorise. */
#include "ops/real.h"
#include "ops/ops_internal.h"

/* Elements per parallel work item: whole vectors, and enough work to amortise a call. */
#define SILU_BLOCK 4096

OPS_VECTOR_CLONES static void silu_forward_span(real *y, const real *x, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * ops_sigmoid(x[i]);
}

/* d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))) */
OPS_VECTOR_CLONES static void silu_backward_span(real *dx, const real *dy, const real *x, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        real s = ops_sigmoid(x[i]);
        dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
    }
}

void OPS_NAME(silu_forward)(real *y, const real *x, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ACT);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += SILU_BLOCK)
        silu_forward_span(y + i, x + i, n - i < SILU_BLOCK ? n - i : SILU_BLOCK);
}

void OPS_NAME(silu_backward)(real *dx, const real *dy, const real *x, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ACT);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += SILU_BLOCK)
        silu_backward_span(dx + i, dy + i, x + i, n - i < SILU_BLOCK ? n - i : SILU_BLOCK);
}
