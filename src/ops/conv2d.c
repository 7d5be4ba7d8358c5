/* conv2d.c — 2-D convolution (NCHW, asymmetric zero padding, stride). 3×3 stride-1 shapes go
 * to Winograd (conv2d_winograd.c); 1×1 stride-1 unpadded ones are products on x itself, one per
 * image, images in parallel; the rest is im2col + gemm, one batch item at a time so the scratch
 * is one item's columns (dx through gemm into columns, then col2im +=). A sparse weight
 * gradient goes to conv2d_sparse.c (sampled dots or dense row-block tiles, by density) or,
 * for 3×3 stride-1 kernels at high density, to Winograd's row-block tiles. */
#include <omp.h>
#include <string.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

#ifndef OPS_DOUBLE
size_t conv2d_scratch_numel(const ops_conv_shape *s)
{
    size_t need = conv_winograd_applies(s) ? conv_winograd_scratch_numel(s)
                                           : (size_t)s->C * s->KH * s->KW * (size_t)ops_conv_out_h(s) * ops_conv_out_w(s);
    size_t sparse = conv_sparse_scratch_numel(s);
    return sparse > need ? sparse : need;
}
#endif

/* A 1×1, stride-1, unpadded convolution is a plain matrix product on x itself: no columns. */
static int conv_is_pointwise(const ops_conv_shape *s)
{
    return s->KH == 1 && s->KW == 1 && s->stride == 1 && !s->pad_t && !s->pad_l && !s->pad_b && !s->pad_r;
}

/* [lo, hi): the output columns wo whose input column wo·stride − pad_l + kw lies in [0, W). */
static void conv_valid_cols(const ops_conv_shape *s, int kw, int Wo, int *lo, int *hi)
{
    int first = s->pad_l - kw, last = s->W - 1 + s->pad_l - kw; /* wo·stride must lie in [first, last] */
    *lo = first <= 0 ? 0 : (first + s->stride - 1) / s->stride;
    *hi = last < 0 ? 0 : last / s->stride + 1;
    *hi = *hi < Wo ? *hi : Wo;
    *lo = *lo < *hi ? *lo : *hi;
}

/* col (C·KH·KW, Ho·Wo) from one item's x (C, H, W); zero where the window is in the padding.
 * Each row is zeros, a copy (contiguous at stride 1), zeros: no per-element bounds checks. */
static void conv_im2col(real *col, const real *x, const ops_conv_shape *s)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s), rows = s->C * s->KH * s->KW;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        int c = r / (s->KH * s->KW), kh = (r / s->KW) % s->KH, kw = r % s->KW, lo, hi;
        conv_valid_cols(s, kw, Wo, &lo, &hi);
        const real *xc = x + (size_t)c * s->H * s->W;
        real *dst = col + (size_t)r * Ho * Wo;
        for (int ho = 0; ho < Ho; ho++) {
            int ih = ho * s->stride - s->pad_t + kh;
            real *drow = dst + (size_t)ho * Wo;
            if (ih < 0 || ih >= s->H) {
                memset(drow, 0, (size_t)Wo * sizeof(real));
                continue;
            }
            const real *xrow = xc + (size_t)ih * s->W;
            int off = kw - s->pad_l; /* input column of wo: wo·stride + off, ≥ 0 from lo on */
            memset(drow, 0, (size_t)lo * sizeof(real));
            if (s->stride == 1)
                memcpy(drow + lo, xrow + lo + off, (size_t)(hi - lo) * sizeof(real));
            else
                for (int wo = lo; wo < hi; wo++)
                    drow[wo] = xrow[wo * s->stride + off];
            memset(drow + hi, 0, (size_t)(Wo - hi) * sizeof(real));
        }
    }
}

/* dx (C, H, W) += col2im(col (C·KH·KW, Ho·Wo)); one thread per input channel, fixed order. */
static void conv_col2im_add(real *dx, const real *col, const ops_conv_shape *s)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
#pragma omp parallel for schedule(static)
    for (int c = 0; c < s->C; c++) {
        real *dxc = dx + (size_t)c * s->H * s->W;
        for (int kh = 0; kh < s->KH; kh++)
            for (int kw = 0; kw < s->KW; kw++) {
                const real *src = col + ((size_t)(c * s->KH + kh) * s->KW + kw) * Ho * Wo;
                int lo, hi;
                conv_valid_cols(s, kw, Wo, &lo, &hi);
                for (int ho = 0; ho < Ho; ho++) {
                    int ih = ho * s->stride - s->pad_t + kh;
                    if (ih < 0 || ih >= s->H)
                        continue;
                    real *dxrow = dxc + (size_t)ih * s->W;
                    const real *srow = src + (size_t)ho * Wo;
                    for (int wo = lo; wo < hi; wo++)
                        dxrow[wo * s->stride + kw - s->pad_l] += srow[wo];
                }
            }
    }
}

/* A 1×1 convolution is a product per image: y_b (O, P) = w (O, C) · x_b (C, P). The images
 * run in parallel, one BLAS thread each: the products are too small to split well. */
static void conv_pointwise_forward(real *y, const real *x, const real *w, const ops_conv_shape *s)
{
    int P = s->H * s->W;
    OPS_NAME(ops_gemm_batch)(s->B, 0, 0, s->O, P, s->C, 1, w, s->C, 0, x, P, (size_t)s->C * P, 0, y, P,
                             (size_t)s->O * P);
}

/* dx_b (C, P) += wᵀ (C, O) · dy_b (O, P), images in parallel. */
static void conv_pointwise_input_grad(real *dx, const real *dy, const real *w, const ops_conv_shape *s)
{
    int P = s->H * s->W;
    OPS_NAME(ops_gemm_batch)(s->B, 1, 0, s->C, P, s->O, 1, w, s->C, 0, dy, P, (size_t)s->O * P, 1, dx, P,
                             (size_t)s->C * P);
}

/* dw (O, C) += Σ_b dy_b (O, P) · x_bᵀ (P, C): one block of rows per thread, each summed over
 * the images in order by its thread. */
static void conv_pointwise_weight_grad(real *dw, const real *dy, const real *x, const ops_conv_shape *s)
{
    int P = s->H * s->W, threads = omp_get_max_threads();
    int rows = (s->O + threads - 1) / threads;
    int blas = threads > 1 ? ops_blas_threads_single() : 0;
#pragma omp parallel for schedule(static)
    for (int o0 = 0; o0 < s->O; o0 += rows) {
        int n = s->O - o0 < rows ? s->O - o0 : rows;
        for (int bi = 0; bi < s->B; bi++)
            OPS_NAME(ops_gemm)(0, 1, n, s->C, P, 1, dy + ((size_t)bi * s->O + o0) * P, P, x + (size_t)bi * s->C * P,
                               P, 1, dw + (size_t)o0 * s->C, s->C);
    }
    if (threads > 1)
        ops_blas_threads_restore(blas);
}

void OPS_NAME(conv2d_forward)(real *y, const real *x, const real *w, const real *b, const ops_conv_shape *s,
                              real *scratch)
{
    OPS_PROF_SCOPE(conv_winograd_applies(s) ? OPS_PROF_CONV3X3_FWD : OPS_PROF_CONV_FWD);
    if (conv_winograd_applies(s)) {
        OPS_NAME(conv_winograd_forward)(y, x, w, b, s, scratch);
        return;
    }
    int P = ops_conv_out_h(s) * ops_conv_out_w(s), K = s->C * s->KH * s->KW;
    if (conv_is_pointwise(s))
        conv_pointwise_forward(y, x, w, s);
    else
        for (int bi = 0; bi < s->B; bi++) { /* y_b (O, P) = w (O, K) · col (K, P) */
            conv_im2col(scratch, x + (size_t)bi * s->C * s->H * s->W, s);
            OPS_NAME(ops_gemm)(0, 0, s->O, P, K, 1, w, K, scratch, P, 0, y + (size_t)bi * s->O * P, P);
        }
    if (!b)
        return;
#pragma omp parallel for schedule(static)
    for (int bo = 0; bo < s->B * s->O; bo++) {
        real *yr = y + (size_t)bo * P, bias = b[bo % s->O];
        for (int p = 0; p < P; p++)
            yr[p] += bias;
    }
}

typedef struct {
    const real *dy; /* (B, O, P) */
    int B, O, P;
} conv_bias_ctx;

OPS_VECTOR_CLONES static real conv_bias_grad(const void *ctx, int64_t o)
{
    const conv_bias_ctx *c = ctx;
    real s = 0;
    for (int b = 0; b < c->B; b++)
        s += ops_sum(c->dy + ((size_t)b * c->O + o) * c->P, c->P);
    return s;
}

/* The im2col backward (not 1×1), one batch item at a time: dx (B, C, H, W) += when dx is
 * non-NULL, and a dense weight gradient when want_w. */
static void conv_backward_columns(real *dx, const ops_sink_t *dw, int want_w, const real *dy, const real *x,
                                  const real *w, const ops_conv_shape *s, real *scratch)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s), P = Ho * Wo, K = s->C * s->KH * s->KW;
    for (int bi = 0; bi < s->B; bi++) {
        const real *xb = x + (size_t)bi * s->C * s->H * s->W; /* (C, H, W) */
        const real *dyb = dy + (size_t)bi * s->O * P;          /* (O, P) */
        if (want_w) {
            conv_im2col(scratch, xb, s); /* (K, P); dw (O, K) += dy (O, P) · colᵀ (P, K) */
            OPS_NAME(ops_gemm)(0, 1, s->O, K, P, 1, dyb, P, scratch, P, 1, dw->dense, K);
        }
        if (dx) { /* dcol (K, P) = wᵀ (K, O) · dy (O, P), then scattered back */
            OPS_NAME(ops_gemm)(1, 0, K, P, s->O, 1, w, K, dyb, P, 0, scratch, P);
            conv_col2im_add(dx + (size_t)bi * s->C * s->H * s->W, scratch, s);
        }
    }
}

/* The 1×1 backward: products on x and dy themselves. */
static void conv_backward_pointwise(real *dx, const ops_sink_t *dw, int want_w, const real *dy, const real *x,
                                    const real *w, const ops_conv_shape *s)
{
    if (want_w)
        conv_pointwise_weight_grad(dw->dense, dy, x, s);
    if (dx)
        conv_pointwise_input_grad(dx, dy, w, s);
}

void OPS_NAME(conv2d_backward)(real *dx, const ops_sink_t *dw, const ops_sink_t *db, const real *dy, const real *x,
                               const real *w, const ops_conv_shape *s, real *scratch)
{
    OPS_PROF_SCOPE(conv_winograd_applies(s) ? OPS_PROF_CONV3X3_BWD : OPS_PROF_CONV_BWD);
    /* A sparse weight gradient is computed apart, after dx (the dense paths would form the
     * whole tensor's), unless it is dense enough for Winograd's row-block tiles, which share
     * the transform of dY with dx. */
    int sparse_w = ops_sink_wanted(dw) && dw->kind == OPS_SINK_SPARSE;
    int by_winograd = sparse_w && conv_sparse_dw_by_winograd(dw->nnz, s);
    int want_w = ops_sink_wanted(dw) && !sparse_w;
    if (conv_winograd_applies(s)) {
        OPS_NAME(conv_winograd_backward)(dx, want_w || by_winograd ? dw : NULL, dy, x, w, s, scratch);
        sparse_w = sparse_w && !by_winograd;
    } else if (conv_is_pointwise(s)) {
        conv_backward_pointwise(dx, dw, want_w, dy, x, w, s);
    } else if (dx || want_w) {
        conv_backward_columns(dx, dw, want_w, dy, x, w, s, scratch);
    }
    if (sparse_w)
        OPS_NAME(conv_weight_grad_sparse)(dw, dy, x, s, scratch);
    conv_bias_ctx bc = {dy, s->B, s->O, ops_conv_out_h(s) * ops_conv_out_w(s)};
    OPS_NAME(ops_sink_each)(db, s->O, conv_bias_grad, &bc);
}
