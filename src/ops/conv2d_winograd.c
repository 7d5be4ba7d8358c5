/* conv2d_winograd.c — 3×3 stride-1 convolutions by Winograd F(2×2, 3×3), forward and backward.
 * Why: these convolutions are most of a UNet's FLOPs, and im2col + gemm spends 36 multiplies per
 * 2×2 outputs (and writes 9 copies of the input); Winograd spends 16, as 16 independent gemms in
 * the transformed domain, and its transforms move less data than im2col. F(2×2) rather than
 * F(4×4): its transforms have coefficients 0, ±1, ±½ only, so float results stay within the
 * rounding of the direct method (F(4×4) loses about two digits, visible in the torch tests).
 *
 * Notation (Lavin & Gray 2015): a 4×4 input tile d, a 3×3 filter g, a 2×2 output tile;
 *   y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
 * Tiles of the batch are processed in chunks of whole images; for one chunk of Tc tiles:
 *   V  (16, C, Tc)  input transform Bᵀ d B          U  (16, O, C)  filter transform G g Gᵀ
 *   Mh (16, O, Tc)  U·V (forward) or A dY Aᵀ (backward: the output gradient transformed)
 * forward   Mh[ξ] = U[ξ] · V[ξ], then y = Aᵀ Mh A
 * dx        dV[ξ] = U[ξ]ᵀ · Mh[ξ] (into V's buffer), then dx += B dV Bᵀ scattered back
 * dW        dU[ξ] += Mh[ξ] · V[ξ]ᵀ over chunks, then dW += Gᵀ dU G
 * The chunk size depends only on the shape (never on threads) and every output element is
 * formed by one single-threaded gemm or one thread's transform: results are bit-identical
 * for any thread count. */
#include <string.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

#define WINO_M 2                      /* output tile side */
#define WINO_A 4                      /* input tile side: WINO_M + 3 − 1 */
#define WINO_N (WINO_A * WINO_A)      /* transformed-domain positions ξ: one gemm each */
/* Tiles per chunk, aimed for: enough columns for efficient gemms, and V + Mh of a chunk
 * (16·Tc·(C+O) floats, 16 MB at C = O = 128) still mostly in the last-level cache. */
#define WINO_CHUNK_TILES 256

typedef struct {
    int th, tw, tiles; /* tile rows, tile columns, tiles per image */
    int nb;            /* images per chunk */
    int tc;            /* tiles per full chunk: nb · tiles */
} wino_plan;

static wino_plan wino_plan_of(const ops_conv_shape *s)
{
    wino_plan p;
    p.th = (ops_conv_out_h(s) + WINO_M - 1) / WINO_M;
    p.tw = (ops_conv_out_w(s) + WINO_M - 1) / WINO_M;
    p.tiles = p.th * p.tw;
    p.nb = WINO_CHUNK_TILES / p.tiles;
    p.nb = p.nb < 1 ? 1 : p.nb > s->B ? s->B : p.nb;
    p.tc = p.nb * p.tiles;
    return p;
}

#ifndef OPS_DOUBLE
int conv_winograd_applies(const ops_conv_shape *s)
{
    return s->KH == 3 && s->KW == 3 && s->stride == 1 && ops_conv_out_h(s) > 0 && ops_conv_out_w(s) > 0;
}

size_t conv_winograd_scratch_numel(const ops_conv_shape *s)
{
    wino_plan p = wino_plan_of(s);
    size_t oc = (size_t)s->O * s->C;
    /* U and dU, then V and Mh of one chunk */
    return WINO_N * (2 * oc + (size_t)p.tc * ((size_t)s->C + s->O));
}
#endif

/* G g (3 → 4) */
static inline void wino_g(real *o, real g0, real g1, real g2)
{
    real h = (real)0.5;
    o[0] = g0;
    o[1] = h * (g0 + g1 + g2);
    o[2] = h * (g0 - g1 + g2);
    o[3] = g2;
}

/* Gᵀ u (4 → 3): the adjoint of G */
static inline void wino_gt(real *o, real u0, real u1, real u2, real u3)
{
    real h = (real)0.5;
    o[0] = u0 + h * (u1 + u2);
    o[1] = h * (u1 - u2);
    o[2] = h * (u1 + u2) + u3;
}

/* ---- filter transforms: each 2-D transform applies a 1-D one down the columns, then along
 * the rows ---- */

/* U (16, O, C) from w (O, C, 3, 3). */
static void wino_filter_transform(real *U, const real *w, int O, int C)
{
    size_t oc = (size_t)O * C;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < oc; k++) {
        const real *g = w + k * 9; /* (3, 3) */
        real col[3][WINO_A], t[WINO_A][WINO_A];
        for (int j = 0; j < 3; j++)
            wino_g(col[j], g[j], g[3 + j], g[6 + j]); /* column j of G g */
        for (int i = 0; i < WINO_A; i++)
            wino_g(t[i], col[0][i], col[1][i], col[2][i]);
        for (int i = 0; i < WINO_A; i++)
            for (int j = 0; j < WINO_A; j++)
                U[(size_t)(i * WINO_A + j) * oc + k] = t[i][j];
    }
}

/* dw (O, C, 3, 3) += Gᵀ dU G from dU (16, O, C); dense destination. */
static void wino_filter_grad(real *dw, const real *dU, int O, int C)
{
    size_t oc = (size_t)O * C;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < oc; k++) {
        real u[WINO_A][WINO_A], row[WINO_A][3], g[3][3];
        for (int i = 0; i < WINO_A; i++)
            for (int j = 0; j < WINO_A; j++)
                u[i][j] = dU[(size_t)(i * WINO_A + j) * oc + k];
        for (int i = 0; i < WINO_A; i++)
            wino_gt(row[i], u[i][0], u[i][1], u[i][2], u[i][3]);
        for (int j = 0; j < 3; j++) {
            real c[3];
            wino_gt(c, row[0][j], row[1][j], row[2][j], row[3][j]);
            for (int i = 0; i < 3; i++)
                g[i][j] = c[i];
        }
        real *d = dw + k * 9;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                d[i * 3 + j] += g[i][j];
    }
}

/* ---- data transforms ----
 * Each works on whole (image, channel) planes, one thread per plane, a row of tiles at a time
 * in strips of at most WINO_STRIP tiles: the rows a strip reads or writes sit in fixed-size
 * stack buffers, and every inner loop runs along the strip (contiguous tiles in V and Mh),
 * so it vectorises. The 1-D transforms inside, for reference:
 *   Bᵀd = (d0−d2, d1+d2, d2−d1, d1−d3)     B v = (v0, v1−v2+v3, v1+v2−v0, −v3)
 *   Aᵀm = (m0+m1+m2, m1−m2−m3)             A e = (e0, e0+e1, e0−e1, −e1) */
#define WINO_STRIP 64
#define WINO_SPAN (WINO_M * WINO_STRIP + WINO_A - WINO_M) /* input columns under a strip */

static int wino_min(int a, int b) { return a < b ? a : b; }

/* row (span) = columns c0 .. c0+span−1 of row r of the plane x (H, W), zero outside it. */
static void wino_load_row(real *row, const real *x, int H, int W, int r, int c0, int span)
{
    int lo = 0, hi = 0; /* row[lo, hi) lies inside the plane */
    if (r >= 0 && r < H) {
        lo = wino_min(c0 < 0 ? -c0 : 0, span);
        hi = wino_min(W - c0, span);
        hi = hi < lo ? lo : hi;
    }
    for (int k = 0; k < lo; k++)
        row[k] = 0;
    if (hi > lo)
        memcpy(row + lo, x + (size_t)r * W + c0 + lo, (size_t)(hi - lo) * sizeof(real));
    for (int k = hi; k < span; k++)
        row[k] = 0;
}

/* V[ξ][t] (ξ stride cs) = Bᵀ d B for the n tiles whose windows start at row r0, columns c0 + 2t. */
static void wino_input_strip(real *v, size_t cs, const real *xp, const ops_conv_shape *s, int r0, int c0, int n)
{
    real rows[WINO_A][WINO_SPAN], cols[WINO_A][WINO_SPAN];
    int span = WINO_M * n + WINO_A - WINO_M;
    for (int i = 0; i < WINO_A; i++)
        wino_load_row(rows[i], xp, s->H, s->W, r0 + i, c0, span);
#pragma omp simd
    for (int k = 0; k < span; k++) { /* Bᵀ down the columns */
        cols[0][k] = rows[0][k] - rows[2][k];
        cols[1][k] = rows[1][k] + rows[2][k];
        cols[2][k] = rows[2][k] - rows[1][k];
        cols[3][k] = rows[1][k] - rows[3][k];
    }
    for (int i = 0; i < WINO_A; i++) { /* B along the rows, one tile per step */
        const real *c = cols[i];
        real *v0 = v + (size_t)i * WINO_A * cs, *v1 = v0 + cs, *v2 = v1 + cs, *v3 = v2 + cs;
#pragma omp simd
        for (int t = 0; t < n; t++) {
            real d0 = c[2 * t], d1 = c[2 * t + 1], d2 = c[2 * t + 2], d3 = c[2 * t + 3];
            v0[t] = d0 - d2;
            v1[t] = d1 + d2;
            v2[t] = d2 - d1;
            v3[t] = d1 - d3;
        }
    }
}

/* dx plane += B dV Bᵀ for the n tiles of a strip (windows at row r0, columns c0 + 2t). Windows
 * of neighbouring tiles overlap by two columns (and rows): tile t's last two columns are added
 * to tile t+1's first two before the sum is accumulated into dx. */
static void wino_adjoint_strip(real *xp, const ops_conv_shape *s, const real *v, size_t cs, int r0, int c0, int n)
{
    real rows[WINO_A][WINO_SPAN];
    for (int i = 0; i < WINO_A; i++) {
        /* head[j][t]: column j of tile t (j = 0, 1); tail[j][t+1]: column j+2 of tile t */
        real head[2][WINO_STRIP + 1], tail[2][WINO_STRIP + 1];
        const real *v0 = v + (size_t)i * WINO_A * cs, *v1 = v0 + cs, *v2 = v1 + cs, *v3 = v2 + cs;
#pragma omp simd
        for (int t = 0; t < n; t++) {
            head[0][t] = v0[t];
            head[1][t] = v1[t] - v2[t] + v3[t];
            tail[0][t + 1] = v1[t] + v2[t] - v0[t];
            tail[1][t + 1] = -v3[t];
        }
        head[0][n] = head[1][n] = tail[0][0] = tail[1][0] = 0;
#pragma omp simd
        for (int u = 0; u <= n; u++) {
            rows[i][2 * u] = head[0][u] + tail[0][u];
            rows[i][2 * u + 1] = head[1][u] + tail[1][u];
        }
    }
    int span = WINO_M * n + WINO_A - WINO_M;
    int lo = wino_min(c0 < 0 ? -c0 : 0, span), hi = wino_min(s->W - c0, span);
    for (int i = 0; i < WINO_A; i++) { /* B down the columns, straight into dx */
        int r = r0 + i;
        if (r < 0 || r >= s->H)
            continue;
        real *xr = xp + (size_t)r * s->W + c0;
        const real *q0 = rows[0], *q1 = rows[1], *q2 = rows[2], *q3 = rows[3];
        switch (i) {
        case 0:
#pragma omp simd
            for (int k = lo; k < hi; k++)
                xr[k] += q0[k];
            break;
        case 1:
#pragma omp simd
            for (int k = lo; k < hi; k++)
                xr[k] += q1[k] - q2[k] + q3[k];
            break;
        case 2:
#pragma omp simd
            for (int k = lo; k < hi; k++)
                xr[k] += q1[k] + q2[k] - q0[k];
            break;
        default:
#pragma omp simd
            for (int k = lo; k < hi; k++)
                xr[k] -= q3[k];
        }
    }
}

/* Rows 2·ty, 2·ty+1 of the output plane yp (Ho, Wo), columns 2·tx0 on: Aᵀ Mh A (+ bias) for
 * the n tiles of a strip; outputs past Ho, Wo are dropped. */
static void wino_output_strip(real *yp, int Ho, int Wo, const real *m, size_t os, int ty, int tx0, int n, real bias)
{
    real rows[WINO_A][WINO_M * WINO_STRIP];
    for (int i = 0; i < WINO_A; i++) { /* Aᵀ along the rows */
        const real *m0 = m + (size_t)i * WINO_A * os, *m1 = m0 + os, *m2 = m1 + os, *m3 = m2 + os;
#pragma omp simd
        for (int t = 0; t < n; t++) {
            rows[i][2 * t] = m0[t] + m1[t] + m2[t];
            rows[i][2 * t + 1] = m1[t] - m2[t] - m3[t];
        }
    }
    int cnt = wino_min(WINO_M * n, Wo - WINO_M * tx0);
    real *y0 = yp + (size_t)(WINO_M * ty) * Wo + WINO_M * tx0, *y1 = y0 + Wo;
    const real *q0 = rows[0], *q1 = rows[1], *q2 = rows[2], *q3 = rows[3];
#pragma omp simd
    for (int k = 0; k < cnt; k++) /* Aᵀ down the columns */
        y0[k] = q0[k] + q1[k] + q2[k] + bias;
    if (WINO_M * ty + 1 >= Ho)
        return;
#pragma omp simd
    for (int k = 0; k < cnt; k++)
        y1[k] = q1[k] - q2[k] - q3[k] + bias;
}

/* Mh[ξ][t] (ξ stride os) = A dY Aᵀ for the n tiles of a strip of the output-gradient plane
 * gp (Ho, Wo), rows 2·ty, 2·ty+1, columns 2·tx0 on, zero past Ho, Wo. */
static void wino_grad_strip(real *m, size_t os, const real *gp, int Ho, int Wo, int ty, int tx0, int n)
{
    real e[WINO_M][WINO_M * WINO_STRIP];
    int width = WINO_M * n, cnt = wino_min(width, Wo - WINO_M * tx0);
    for (int i = 0; i < WINO_M; i++) {
        int r = WINO_M * ty + i;
        for (int k = 0; k < width; k++)
            e[i][k] = r < Ho && k < cnt ? gp[(size_t)r * Wo + WINO_M * tx0 + k] : 0;
    }
    for (int i = 0; i < WINO_A; i++) { /* A down the columns (row i of A e), then A along rows */
        real *m0 = m + (size_t)i * WINO_A * os, *m1 = m0 + os, *m2 = m1 + os, *m3 = m2 + os;
        real ca = i == 0 || i == 1 || i == 2 ? 1 : 0;          /* coefficient of e0 */
        real cb = i == 1 ? 1 : i == 2 || i == 3 ? -1 : 0;      /* coefficient of e1 */
#pragma omp simd
        for (int t = 0; t < n; t++) {
            real a = ca * e[0][2 * t] + cb * e[1][2 * t];
            real b = ca * e[0][2 * t + 1] + cb * e[1][2 * t + 1];
            m0[t] = a;
            m1[t] = a + b;
            m2[t] = a - b;
            m3[t] = -b;
        }
    }
}

/* V (16, C, tc) for the nb images of x (nb, C, H, W) starting the chunk. */
static void wino_input_transform(real *V, const real *x, const ops_conv_shape *s, const wino_plan *p, int nb)
{
    size_t cs = (size_t)s->C * p->tc; /* stride between ξ planes of V */
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < nb * s->C; bc++) {
        int bi = bc / s->C, c = bc % s->C;
        const real *xp = x + (size_t)bc * s->H * s->W; /* (H, W) */
        real *vp = V + (size_t)c * p->tc + (size_t)bi * p->tiles;
        for (int ty = 0; ty < p->th; ty++)
            for (int tx = 0; tx < p->tw; tx += WINO_STRIP)
                wino_input_strip(vp + (size_t)ty * p->tw + tx, cs, xp, s, WINO_M * ty - s->pad_t,
                                 WINO_M * tx - s->pad_l, wino_min(WINO_STRIP, p->tw - tx));
    }
}

/* dx (nb, C, H, W) += B dV Bᵀ, each tile scattered onto its (overlapping) input window. */
static void wino_input_adjoint(real *dx, const real *dV, const ops_conv_shape *s, const wino_plan *p, int nb)
{
    size_t cs = (size_t)s->C * p->tc;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < nb * s->C; bc++) {
        int bi = bc / s->C, c = bc % s->C;
        real *xp = dx + (size_t)bc * s->H * s->W; /* (H, W) */
        const real *vp = dV + (size_t)c * p->tc + (size_t)bi * p->tiles;
        for (int ty = 0; ty < p->th; ty++)
            for (int tx = 0; tx < p->tw; tx += WINO_STRIP)
                wino_adjoint_strip(xp, s, vp + (size_t)ty * p->tw + tx, cs, WINO_M * ty - s->pad_t,
                                   WINO_M * tx - s->pad_l, wino_min(WINO_STRIP, p->tw - tx));
    }
}

/* y (nb, O, Ho, Wo) = Aᵀ Mh A (+ b). */
static void wino_output_transform(real *y, const real *Mh, const real *b, const ops_conv_shape *s,
                                  const wino_plan *p, int nb)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t os = (size_t)s->O * p->tc;
#pragma omp parallel for schedule(static)
    for (int bo = 0; bo < nb * s->O; bo++) {
        int bi = bo / s->O, o = bo % s->O;
        real *yp = y + (size_t)bo * Ho * Wo; /* (Ho, Wo) */
        const real *mp = Mh + (size_t)o * p->tc + (size_t)bi * p->tiles;
        for (int ty = 0; ty < p->th; ty++)
            for (int tx = 0; tx < p->tw; tx += WINO_STRIP)
                wino_output_strip(yp, Ho, Wo, mp + (size_t)ty * p->tw + tx, os, ty, tx,
                                  wino_min(WINO_STRIP, p->tw - tx), b ? b[o] : 0);
    }
}

/* Mh (16, O, tc) = A dY Aᵀ from dy (nb, O, Ho, Wo). */
static void wino_grad_transform(real *Mh, const real *dy, const ops_conv_shape *s, const wino_plan *p, int nb)
{
    int Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t os = (size_t)s->O * p->tc;
#pragma omp parallel for schedule(static)
    for (int bo = 0; bo < nb * s->O; bo++) {
        int bi = bo / s->O, o = bo % s->O;
        const real *gp = dy + (size_t)bo * Ho * Wo; /* (Ho, Wo) */
        real *mp = Mh + (size_t)o * p->tc + (size_t)bi * p->tiles;
        for (int ty = 0; ty < p->th; ty++)
            for (int tx = 0; tx < p->tw; tx += WINO_STRIP)
                wino_grad_strip(mp + (size_t)ty * p->tw + tx, os, gp, Ho, Wo, ty, tx, wino_min(WINO_STRIP, p->tw - tx));
    }
}

/* ---- the passes ---- */

void OPS_NAME(conv_winograd_forward)(real *y, const real *x, const real *w, const real *b, const ops_conv_shape *s,
                                     real *scratch)
{
    wino_plan p = wino_plan_of(s);
    int O = s->O, C = s->C, Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t oc = (size_t)O * C;
    real *U = scratch;                           /* (16, O, C) */
    real *V = U + 2 * WINO_N * oc;               /* (16, C, tc) */
    real *Mh = V + (size_t)WINO_N * C * p.tc;    /* (16, O, tc) */
    wino_filter_transform(U, w, O, C);
    for (int b0 = 0; b0 < s->B; b0 += p.nb) {
        int nb = s->B - b0 < p.nb ? s->B - b0 : p.nb, n = nb * p.tiles;
        wino_input_transform(V, x + (size_t)b0 * C * s->H * s->W, s, &p, nb);
        OPS_NAME(ops_gemm_batch)(WINO_N, 0, 0, O, n, C, 1, U, C, oc, V, p.tc, (size_t)C * p.tc, 0, Mh, p.tc,
                                 (size_t)O * p.tc);
        wino_output_transform(y + (size_t)b0 * O * Ho * Wo, Mh, b, s, &p, nb);
    }
}

void OPS_NAME(conv_winograd_backward)(real *dx, real *dw, const real *dy, const real *x, const real *w,
                                      const ops_conv_shape *s, real *scratch)
{
    wino_plan p = wino_plan_of(s);
    int O = s->O, C = s->C, Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t oc = (size_t)O * C;
    real *U = scratch;                           /* (16, O, C) */
    real *dU = U + WINO_N * oc;                  /* (16, O, C) */
    real *V = dU + WINO_N * oc;                  /* (16, C, tc); dV once V is used */
    real *Mh = V + (size_t)WINO_N * C * p.tc;    /* (16, O, tc) */
    if (dx)
        wino_filter_transform(U, w, O, C);
    for (int b0 = 0; b0 < s->B; b0 += p.nb) {
        int nb = s->B - b0 < p.nb ? s->B - b0 : p.nb, n = nb * p.tiles;
        wino_grad_transform(Mh, dy + (size_t)b0 * O * Ho * Wo, s, &p, nb);
        if (dw) { /* dU[ξ] (O, C) (+)= Mh[ξ] (O, n) · V[ξ]ᵀ (n, C) */
            wino_input_transform(V, x + (size_t)b0 * C * s->H * s->W, s, &p, nb);
            OPS_NAME(ops_gemm_batch)(WINO_N, 0, 1, O, C, n, 1, Mh, p.tc, (size_t)O * p.tc, V, p.tc,
                                     (size_t)C * p.tc, b0 ? 1 : 0, dU, C, oc);
        }
        if (dx) { /* dV[ξ] (C, n) = U[ξ]ᵀ (C, O) · Mh[ξ] (O, n) */
            OPS_NAME(ops_gemm_batch)(WINO_N, 1, 0, C, n, O, 1, U, C, oc, Mh, p.tc, (size_t)O * p.tc, 0, V, p.tc,
                                     (size_t)C * p.tc);
            wino_input_adjoint(dx + (size_t)b0 * C * s->H * s->W, V, s, &p, nb);
        }
    }
    if (dw)
        wino_filter_grad(dw, dU, O, C);
}
