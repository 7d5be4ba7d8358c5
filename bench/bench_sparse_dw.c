/* bench_sparse_dw.c — where the sparse weight gradient's paths cross: for the reference
 * configuration's layer kinds (batch 32 by default), the seconds the sampled path (one dot per
 * selected entry) and the tile path (dense row-block tiles gathered; for 3×3 stride 1,
 * Winograd's row-block tiles, which share dY's transform with dx) take at densities from
 * 0.5 % to 50 %, median of --reps runs, and the dense weight gradient of the same layer (the
 * fast dense kernels, Winograd for 3×3 stride 1: what full fine-tuning pays). Every timing is
 * a whole backward with dx, as in a training step, minus the backward with dx alone (printed
 * per layer), so a path that shares work with dx is charged only what it adds. Wall seconds,
 * and CPU seconds of all threads in brackets (robust to other load on the machine).
 * Selections are uniform random at the density (SaRA's |p| < θ on a roughly Gaussian init is
 * close to that). Prints one Markdown table; the ratio column (CPU time) says from which
 * density the tile path is faster. The constants CONV_TILE_DENSITY_* (src/ops/conv2d_sparse.c)
 * and LINEAR_TILE_DENSITY (src/ops/linear.c) come from this table.
 *
 *   build/bench_sparse_dw [--threads N] [--batch B] [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "core/rng.h"
#include "core/threads.h"
#include "ops/ops.h"

#define BENCH_MAX_REPS 31

typedef struct {
    const char *name;
    int linear;       /* 1: linear (N = rows, In = C, O) */
    ops_conv_shape s; /* B filled in at run time */
    int rows_per_b;   /* linear: rows per batch item (tokens), 1 for per-image vectors */
} layer_case;

/* The reference model's layer kinds (bench_common.h's configuration). */
static const layer_case CASES[] = {
    {"conv3x3 s1 64->64 @32x32", 0, {0, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1}, 0},
    {"conv3x3 s1 192->64 @32x32", 0, {0, 192, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1}, 0},
    {"conv3x3 s1 128->128 @16x16", 0, {0, 128, 16, 16, 128, 3, 3, 1, 1, 1, 1, 1}, 0},
    {"conv3x3 s1 256->128 @8x8", 0, {0, 256, 8, 8, 128, 3, 3, 1, 1, 1, 1, 1}, 0},
    {"conv3x3 s2 64->64 @32x32", 0, {0, 64, 32, 32, 64, 3, 3, 2, 1, 1, 1, 1}, 0},
    {"conv1x1 256->128 @8x8", 0, {0, 256, 8, 8, 128, 1, 1, 1, 0, 0, 0, 0}, 0},
    {"linear 128->128 (attn, T=64)", 1, {0, 128, 1, 1, 128, 1, 1, 1, 0, 0, 0, 0}, 64},
    {"linear 256->256 (time emb)", 1, {0, 256, 1, 1, 256, 1, 1, 1, 0, 0, 0, 0}, 1},
};
static const double DENSITIES[] = {0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5};
#define N_DENS (sizeof DENSITIES / sizeof DENSITIES[0])

typedef struct {
    const layer_case *lc;
    ops_conv_shape s;
    float *x, *dx, *dy, *w, *scratch, *dense; /* dx: the input gradient every run also computes */
    int64_t numel;
    double dx_wall, dx_cpu; /* the backward with dx alone */
} bench_layer;

static void run_once(const bench_layer *L, const ops_sink *sink)
{
    if (L->lc->linear)
        linear_backward(L->dx, sink, NULL, L->dy, L->x, L->w, L->s.B * L->lc->rows_per_b, L->s.C, L->s.O);
    else
        conv2d_backward(L->dx, sink, NULL, L->dy, L->x, L->w, &L->s, L->scratch);
}

/* Median wall seconds of reps backward runs after one warm-up, less the backward with dx alone
 * (0 for that one itself); *cpu: the same in CPU seconds of the process (all threads; idle
 * threads sleep under the passive wait policy), which other load on the machine disturbs much
 * less than wall time. */
static double time_sink(const bench_layer *L, const ops_sink *sink, int reps, double *cpu)
{
    double t[BENCH_MAX_REPS], c[BENCH_MAX_REPS];
    run_once(L, sink);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_clock_s(CLOCK_MONOTONIC), c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
        run_once(L, sink);
        t[i] = bench_clock_s(CLOCK_MONOTONIC) - t0;
        c[i] = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
    qsort(c, (size_t)reps, sizeof c[0], bench_cmp_double);
    *cpu = c[reps / 2] - L->dx_cpu;
    return t[reps / 2] - L->dx_wall;
}

static int layer_make(bench_layer *L, const layer_case *lc, int B, sara_rng *r)
{
    memset(L, 0, sizeof *L);
    L->lc = lc;
    L->s = lc->s;
    L->s.B = B;
    int64_t nx, ny;
    if (lc->linear) {
        nx = (int64_t)B * lc->rows_per_b * L->s.C;
        ny = (int64_t)B * lc->rows_per_b * L->s.O;
        L->numel = (int64_t)L->s.O * L->s.C;
    } else {
        nx = (int64_t)B * L->s.C * L->s.H * L->s.W;
        ny = (int64_t)B * L->s.O * ops_conv_out_h(&L->s) * ops_conv_out_w(&L->s);
        L->numel = (int64_t)L->s.O * L->s.C * L->s.KH * L->s.KW;
        L->scratch = malloc(conv2d_scratch_numel(&L->s) * sizeof(float));
    }
    L->x = malloc((size_t)nx * sizeof(float));
    L->dx = malloc((size_t)nx * sizeof(float));
    L->dy = malloc((size_t)ny * sizeof(float));
    L->w = malloc((size_t)L->numel * sizeof(float));
    L->dense = calloc((size_t)L->numel, sizeof(float));
    if (!L->x || !L->dx || !L->dy || !L->w || !L->dense || (!lc->linear && !L->scratch))
        return 0;
    rng_fill_normal(r, L->x, nx);
    rng_fill_normal(r, L->dy, ny);
    rng_fill_normal(r, L->w, L->numel);
    return 1;
}

static void layer_free(bench_layer *L)
{
    free(L->x), free(L->dx), free(L->dy), free(L->w), free(L->scratch), free(L->dense);
}

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    int threads = 2, B = 32, reps = 5;
    if (bench_layer_args(argc, argv, "bench_sparse_dw", BENCH_MAX_REPS, &threads, &B, &reps))
        return 2;
    threads = sara_set_threads(threads);
    printf("Threads %d, batch %d, median of %d runs: wall s (CPU s of all threads) a weight gradient adds to the backward with dx; %s\n\n",
           threads, B, reps,
           sara_blas_description());
    printf("| layer | dense dW | density | sampled | tile | tile/sampled | auto picks |\n|---|---|---|---|---|---|---|\n");
    sara_rng r;
    rng_seed(&r, 1234);
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        bench_layer L;
        if (!layer_make(&L, &CASES[c], B, &r)) {
            fprintf(stderr, "bench_sparse_dw: out of memory\n");
            layer_free(&L);
            return 1;
        }
        ops_sink none = {.kind = OPS_SINK_NONE};
        L.dx_wall = time_sink(&L, &none, reps, &L.dx_cpu);
        printf("| %s: dx alone | %.4f (%.4f) | | | | | |\n", CASES[c].name, L.dx_wall, L.dx_cpu);
        ops_sink dsink = {.kind = OPS_SINK_DENSE, .dense = L.dense};
        double dmin, dmed = time_sink(&L, &dsink, reps, &dmin);
        int64_t *index = malloc((size_t)L.numel * sizeof(int64_t));
        float *values = calloc((size_t)L.numel, sizeof(float));
        for (size_t d = 0; index && values && d < N_DENS; d++) {
            int64_t nnz = 0;
            for (int64_t e = 0; e < L.numel; e++)
                if (rng_uniform(&r) < DENSITIES[d])
                    index[nnz++] = e;
            ops_sink sink = {.kind = OPS_SINK_SPARSE, .index = index, .values = values, .nnz = nnz};
            double smin, tmin, smed, tmed;
            ops_sparse_dw_path_set(OPS_SPARSE_DW_SAMPLED);
            smed = time_sink(&L, &sink, reps, &smin);
            ops_sparse_dw_path_set(OPS_SPARSE_DW_TILE);
            tmed = time_sink(&L, &sink, reps, &tmin);
            ops_sparse_dw_path_set(OPS_SPARSE_DW_AUTO);
            ops_sparse_dw_tile_peak_reset();
            run_once(&L, &sink);
            const char *pick = ops_sparse_dw_tile_peak() > 0 ? "tile" : "sampled";
            printf("| %s | %.4f (%.4f) | %.1f %% | %.4f (%.4f) | %.4f (%.4f) | %.2f | %s |\n", CASES[c].name, dmed,
                   dmin, 100 * DENSITIES[d], smed, smin, tmed, tmin, tmin / smin, pick);
            fflush(stdout);
        }
        free(index), free(values);
        layer_free(&L);
    }
    return 0;
}
