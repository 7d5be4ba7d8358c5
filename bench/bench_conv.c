/* bench_conv.c — the 3×3 stride-1 convolutions of the reference configuration (bench_common.h),
 * one layer shape at a time at batch 32 by default: seconds of the forward (with bias), of the
 * backward with dx alone (what SaRA's step pays besides its sparse gradient) and of the backward
 * with dx and the dense weight gradient (what full fine-tuning pays), median of --reps runs after
 * one warm-up (min–max in brackets), GFLOP/s counted as a direct convolution would do them.
 * These are the Winograd path's shapes (conv2d_winograd.c): its chunk and block sizes were
 * chosen with this table. The last row sums the medians over the shapes, each weighted by how
 * many layers of the model have it. Prints one Markdown table and the peak RSS.
 *
 *   build/bench_conv [--threads N] [--batch B] [--reps N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"
#include "core/rng.h"
#include "core/threads.h"
#include "ops/ops.h"

#define BENCH_MAX_REPS 31

typedef struct {
    int C, O, H; /* input channels, output channels, plane side */
    int count;   /* layers of the reference UNet with this shape (forward) */
} conv_case;

/* The reference UNet's 3×3 stride-1 convolutions (conv_in, the ResNet blocks' conv1/conv2 with
 * the up path's concatenated inputs, the upsamplers, conv_out), by shape. */
static const conv_case CASES[] = {
    {1, 64, 32, 1},    {64, 64, 32, 7},  {128, 64, 32, 2}, {192, 64, 32, 1}, {128, 128, 32, 1}, {64, 128, 16, 1},
    {128, 128, 16, 7}, {192, 128, 16, 1}, {256, 128, 16, 2}, {128, 128, 8, 11}, {256, 128, 8, 3}, {64, 1, 32, 1},
}; /* 38 layers, as bench_train --profile counts */

typedef struct {
    ops_conv_shape s;
    float *x, *y, *dy, *dx, *w, *b, *dw, *scratch; /* (B,C,H,W) (B,O,H,W) (B,O,H,W) (B,C,H,W) (O,C,3,3) (O) (O,C,3,3) */
} conv_layer;

typedef enum { RUN_FORWARD, RUN_DX, RUN_DX_DW } run_kind;

static void run_once(const conv_layer *L, run_kind k)
{
    ops_sink none = {.kind = OPS_SINK_NONE}, dense = {.kind = OPS_SINK_DENSE, .dense = L->dw};
    if (k == RUN_FORWARD)
        conv2d_forward(L->y, L->x, L->w, L->b, &L->s, L->scratch);
    else
        conv2d_backward(L->dx, k == RUN_DX_DW ? &dense : &none, NULL, L->dy, L->x, L->w, &L->s, L->scratch);
}

/* t[0], t[reps/2], t[reps−1]: min, median, max seconds of reps runs after one warm-up. */
static void time_runs(const conv_layer *L, run_kind k, int reps, double out[3])
{
    double t[BENCH_MAX_REPS];
    run_once(L, k);
    for (int i = 0; i < reps; i++) {
        double t0 = bench_clock_s(CLOCK_MONOTONIC);
        run_once(L, k);
        t[i] = bench_clock_s(CLOCK_MONOTONIC) - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
    out[0] = t[0], out[1] = t[reps / 2], out[2] = t[reps - 1];
}

static int layer_make(conv_layer *L, const conv_case *c, int B, sara_rng *r)
{
    memset(L, 0, sizeof *L);
    L->s = (ops_conv_shape){B, c->C, c->H, c->H, c->O, 3, 3, 1, 1, 1, 1, 1};
    size_t nx = (size_t)B * c->C * c->H * c->H, ny = (size_t)B * c->O * c->H * c->H, nw = (size_t)c->O * c->C * 9;
    L->x = malloc(nx * sizeof(float));
    L->dx = calloc(nx, sizeof(float));
    L->y = malloc(ny * sizeof(float));
    L->dy = malloc(ny * sizeof(float));
    L->w = malloc(nw * sizeof(float));
    L->dw = calloc(nw, sizeof(float));
    L->b = malloc((size_t)c->O * sizeof(float));
    L->scratch = malloc(conv2d_scratch_numel(&L->s) * sizeof(float));
    if (!L->x || !L->dx || !L->y || !L->dy || !L->w || !L->dw || !L->b || !L->scratch)
        return 0;
    rng_fill_normal(r, L->x, (int64_t)nx);
    rng_fill_normal(r, L->dy, (int64_t)ny);
    rng_fill_normal(r, L->w, (int64_t)nw);
    rng_fill_normal(r, L->b, c->O);
    return 1;
}

static void layer_free(conv_layer *L)
{
    free(L->x), free(L->dx), free(L->y), free(L->dy), free(L->w), free(L->dw), free(L->b), free(L->scratch);
}

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    int threads = 1, B = 32, reps = 7;
    if (bench_layer_args(argc, argv, "bench_conv", BENCH_MAX_REPS, &threads, &B, &reps))
        return 2;
    threads = sara_set_threads(threads);
    printf("conv 3x3 stride 1, threads %d, batch %d, median (min-max) of %d runs, seconds; %s\n\n", threads, B, reps,
           sara_blas_description());
    printf("| C -> O @ plane | layers | forward | GFLOP/s | dx | GFLOP/s | dx + dW | GFLOP/s |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    sara_rng r;
    rng_seed(&r, 1234);
    double sum[3] = {0, 0, 0};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const conv_case *c = &CASES[i];
        conv_layer L;
        if (!layer_make(&L, c, B, &r)) {
            fprintf(stderr, "bench_conv: out of memory\n");
            layer_free(&L);
            return 1;
        }
        double gflop = 2.0 * B * c->H * c->H * (double)c->O * c->C * 9 / 1e9, t[3][3];
        for (int k = 0; k < 3; k++) {
            time_runs(&L, (run_kind)k, reps, t[k]);
            sum[k] += c->count * t[k][1];
        }
        printf("| %d -> %d @ %dx%d | %d", c->C, c->O, c->H, c->H, c->count);
        printf(" | %.5f (%.5f-%.5f) | %.0f", t[0][1], t[0][0], t[0][2], gflop / t[0][1]);
        printf(" | %.5f (%.5f-%.5f) | %.0f", t[1][1], t[1][0], t[1][2], gflop / t[1][1]);
        printf(" | %.5f (%.5f-%.5f) | %.0f |\n", t[2][1], t[2][0], t[2][2], 2 * gflop / t[2][1]);
        fflush(stdout);
        layer_free(&L);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("| **the model's 3x3 layers, summed** | | **%.4f** | | **%.4f** | | **%.4f** | |\n\n", sum[0], sum[1],
           sum[2]);
    printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
    printf("RESULT threads=%d batch=%d forward_s=%.4f dx_s=%.4f dx_dw_s=%.4f\n", threads, B, sum[0], sum[1], sum[2]);
    return 0;
}
