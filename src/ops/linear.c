/* linear.c — fully connected layer y = x·wᵀ + b, forward and backward. The weight gradient
 * goes to its sink either as one BLAS product (dense) or, for a sparse sink, by one of two
 * paths chosen by density: a sampled dense-dense product that touches only the selected
 * (o, i) entries, or dense tiles of R rows of dyᵀ·x (one BLAS product each, on a thread's
 * stack, never the whole tensor) gathered at the selected entries. */
#include <omp.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

/* Selected entries handled together so that each row n of dy and x is read once per block
 * (cache-friendly) while every entry is still summed over n in ascending order. */
#define LINEAR_SPARSE_BLOCK 256
/* One dense tile (R, In) of the tile path, at most: on each thread's stack (64 KB of floats).
 * Wider rows (In above it) always take the sampled path. */
#define LINEAR_TILE_FLOATS 16384
/* Density (nnz / numel) from which the tile path is used. Measured with bench/bench_sparse_dw.c
 * on the reference model's linear layers (2 threads, batch 32; docs/BENCHMARKS.md, "Sparse
 * weight gradient: sampled vs tile"): the paths cross at 2–4 % (the sampled product gathers
 * scalars; the tile is one BLAS product). */
#define LINEAR_TILE_DENSITY 0.03

void OPS_NAME(linear_forward)(real *y, const real *x, const real *w, const real *b, int N, int In, int O)
{
    OPS_PROF_SCOPE(OPS_PROF_LINEAR);
    /* y (N, O) = x (N, In) · wᵀ (In, O) */
    OPS_NAME(ops_gemm)(0, 1, N, O, In, 1, x, In, w, In, 0, y, O);
    if (!b)
        return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            y[(size_t)n * O + o] += b[o];
}

typedef struct {
    const real *dy; /* (N, O) */
    int N, O;
} linear_bias_ctx;

static real linear_bias_grad(const void *ctx, int64_t o)
{
    const linear_bias_ctx *c = ctx;
    real s = 0;
    for (int n = 0; n < c->N; n++)
        s += c->dy[(size_t)n * c->O + o];
    return s;
}

/* values[k] += Σ_n dy[n, o_k] · x[n, i_k] for the selected flat indices e_k = o_k·In + i_k. */
static void linear_weight_sparse(const ops_sink_t *dw, const real *dy, const real *x, int N, int In, int O)
{
    int64_t nnz = dw->nnz;
    int64_t nblocks = (nnz + LINEAR_SPARSE_BLOCK - 1) / LINEAR_SPARSE_BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        int64_t k0 = blk * LINEAR_SPARSE_BLOCK;
        int cnt = (int)(nnz - k0 < LINEAR_SPARSE_BLOCK ? nnz - k0 : LINEAR_SPARSE_BLOCK);
        const int64_t *idx = dw->index + k0;
        int oo[LINEAR_SPARSE_BLOCK], ii[LINEAR_SPARSE_BLOCK];
        real acc[LINEAR_SPARSE_BLOCK];
        for (int j = 0; j < cnt; j++) {
            oo[j] = (int)(idx[j] / In);
            ii[j] = (int)(idx[j] % In);
            acc[j] = 0;
        }
        for (int n = 0; n < N; n++) {
            const real *dyn = dy + (size_t)n * O, *xn = x + (size_t)n * In;
            for (int j = 0; j < cnt; j++)
                acc[j] += dyn[oo[j]] * xn[ii[j]];
        }
        for (int j = 0; j < cnt; j++)
            dw->values[k0 + j] += acc[j];
    }
}

/* Rows of dW per tile: the tile budget, at most half the rows (a tile is never the whole
 * tensor), even blocks. */
static int linear_tile_rows(int In, int O)
{
    int rmax = LINEAR_TILE_FLOATS / In, half = (O + 1) / 2;
    rmax = rmax < 1 ? 1 : rmax > half ? half : rmax;
    int blocks = (O + rmax - 1) / rmax;
    return (O + blocks - 1) / blocks;
}

/* Tile path: for each row block [o0, o0 + R) with selected entries, tile (R, In) = dy[:, o0:]ᵀ
 * (R, N) · x (N, In) by one single-threaded BLAS call, then values += tile at its entries.
 * Blocks are shared among the threads; each is one call: deterministic. */
static void linear_weight_tiles(const ops_sink_t *dw, const real *dy, const real *x, int N, int In, int O)
{
    int R = linear_tile_rows(In, O), blocks = (O + R - 1) / R;
    ops_sparse_dw_tile_note((int64_t)R * In);
    int blas = ops_blas_threads_single();
#pragma omp parallel for schedule(static)
    for (int bl = 0; bl < blocks; bl++) {
        int o0 = bl * R, r = O - o0 < R ? O - o0 : R;
        int64_t k0 = ops_index_lower_bound(dw->index, dw->nnz, (int64_t)o0 * In);
        int64_t k1 = ops_index_lower_bound(dw->index, dw->nnz, (int64_t)(o0 + r) * In);
        if (k0 == k1)
            continue;
        real tile[LINEAR_TILE_FLOATS]; /* (r, In) */
        OPS_NAME(ops_gemm)(1, 0, r, In, N, 1, dy + o0, O, x, In, 0, tile, In);
        for (int64_t k = k0; k < k1; k++)
            dw->values[k] += tile[dw->index[k] - (int64_t)o0 * In];
    }
    ops_blas_threads_restore(blas);
}

/* The selected entries of dw: tiles or sampled, by density. */
static void linear_weight_grad_sparse(const ops_sink_t *dw, const real *dy, const real *x, int N, int In, int O)
{
    OPS_PROF_SCOPE(OPS_PROF_SPARSE_DW);
    if (In <= LINEAR_TILE_FLOATS && ops_sparse_dw_use_tile(dw->nnz, (int64_t)O * In, LINEAR_TILE_DENSITY))
        linear_weight_tiles(dw, dy, x, N, In, O);
    else
        linear_weight_sparse(dw, dy, x, N, In, O);
}

void OPS_NAME(linear_backward)(real *dx, const ops_sink_t *dw, const ops_sink_t *db, const real *dy,
                               const real *x, const real *w, int N, int In, int O)
{
    OPS_PROF_SCOPE(OPS_PROF_LINEAR);
    if (dx) /* dx (N, In) += dy (N, O) · w (O, In) */
        OPS_NAME(ops_gemm)(0, 0, N, In, O, 1, dy, O, w, In, 1, dx, In);
    if (ops_sink_wanted(dw)) {
        if (dw->kind == OPS_SINK_DENSE) /* dw (O, In) += dyᵀ (O, N) · x (N, In) */
            OPS_NAME(ops_gemm)(1, 0, O, In, N, 1, dy, O, x, In, 1, dw->dense, In);
        else
            linear_weight_grad_sparse(dw, dy, x, N, In, O);
    }
    linear_bias_ctx bc = {dy, N, O};
    OPS_NAME(ops_sink_each)(db, O, linear_bias_grad, &bc);
}
