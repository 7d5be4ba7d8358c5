/* embedding.c — table lookups: learned embeddings (class labels) with a scatter-add backward,
 * and the fixed sinusoidal timestep embedding of diffusers (no backward). */
#include "ops/real.h"
#include "ops/ops_internal.h"

/* get_timestep_embedding's max_period. */
#define TIMESTEP_MAX_PERIOD 10000.0

void OPS_NAME(timestep_embedding)(real *out, const real *t, int N, int dim, int flip_sin_to_cos, real freq_shift)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    int half = dim / 2;
    /* Same operation order and precision as diffusers in the working type: the exponent is
     * formed as (−ln(max_period)·k) / (half − shift), then exp, then times t. */
    real neg_log = (real)-log(TIMESTEP_MAX_PERIOD), denom = (real)half - freq_shift;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        real *row = out + (size_t)n * dim;
        int sin_at = flip_sin_to_cos ? half : 0, cos_at = flip_sin_to_cos ? 0 : half;
        for (int j = 0; j < half; j++) {
            real arg = t[n] * r_exp(neg_log * (real)j / denom);
            row[sin_at + j] = r_sin(arg);
            row[cos_at + j] = r_cos(arg);
        }
        if (dim % 2)
            row[dim - 1] = 0;
    }
}

void OPS_NAME(embedding_forward)(real *y, const real *table, const int64_t *ids, int N, int D)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *src = table + (size_t)ids[n] * D;
        real *dst = y + (size_t)n * D;
        for (int d = 0; d < D; d++)
            dst[d] = src[d];
    }
}

/* Serial over n on purpose: N (labels per batch) is small, and summing rows in n order keeps
 * every table entry's sum in a fixed order when an id repeats. */
void OPS_NAME(embedding_backward)(const ops_sink_t *dtable, const real *dy, const int64_t *ids, int N, int V, int D)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    (void)V;
    if (!ops_sink_wanted(dtable))
        return;
    for (int n = 0; n < N; n++) {
        const real *g = dy + (size_t)n * D;
        int64_t row = ids[n] * D;
        if (dtable->kind == OPS_SINK_DENSE) {
            real *dst = dtable->dense + row;
            for (int d = 0; d < D; d++)
                dst[d] += g[d];
            continue;
        }
        /* Sparse: only the selected entries of this row, found by binary search; no (V, D) temporary. */
        for (int64_t k = ops_index_lower_bound(dtable->index, dtable->nnz, row);
             k < dtable->nnz && dtable->index[k] < row + D; k++)
            dtable->values[k] += g[dtable->index[k] - row];
    }
}
