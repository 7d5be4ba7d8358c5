/* activations.c — SiLU (x·σ(x)), the only nonlinearity the UNet uses outside softmax; σ is
 * ops_sigmoid (ops_internal.h), written to vectorise. */
#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(silu_forward)(real *y, const real *x, int64_t n)
{
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * ops_sigmoid(x[i]);
}

/* d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))) */
void OPS_NAME(silu_backward)(real *dx, const real *dy, const real *x, int64_t n)
{
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        real s = ops_sigmoid(x[i]);
        dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
    }
}
