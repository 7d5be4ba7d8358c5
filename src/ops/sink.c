/* sink.c — delivering parameter gradients into an ops_sink (none, dense, or sparse values at
 * sorted flat indices). Weight-sized gradients never pass through here as dense tensors: the
 * big kernels (linear, conv2d, embedding) write their sparse entries themselves. */
#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(ops_sink_add_dense)(const ops_sink_t *sink, const real *g, int64_t n)
{
    if (!ops_sink_wanted(sink))
        return;
    if (sink->kind == OPS_SINK_DENSE) {
        real *d = sink->dense; /* (n) */
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++)
            d[i] += g[i];
    } else {
        const int64_t *idx = sink->index; /* (nnz) */
        real *v = sink->values;           /* (nnz) */
#pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < sink->nnz; k++)
            v[k] += g[idx[k]];
    }
}

void OPS_NAME(ops_sink_each)(const ops_sink_t *sink, int64_t numel, ops_elem_grad_fn fn, const void *ctx)
{
    if (!ops_sink_wanted(sink))
        return;
    if (sink->kind == OPS_SINK_DENSE) {
        real *d = sink->dense; /* (numel) */
#pragma omp parallel for schedule(static)
        for (int64_t e = 0; e < numel; e++)
            d[e] += fn(ctx, e);
    } else {
        const int64_t *idx = sink->index; /* (nnz) */
        real *v = sink->values;           /* (nnz) */
#pragma omp parallel for schedule(static)
        for (int64_t k = 0; k < sink->nnz; k++)
            v[k] += fn(ctx, idx[k]);
    }
}
