/* conv2d_sparse.c — the selected entries of a convolution's weight gradient (a sparse sink)
 * without ever forming the dense dW of the whole tensor. Two paths, chosen per tensor by its
 * density (CONV_TILE_DENSITY_*, measured by bench/bench_sparse_dw.c; 3×3 stride-1 kernels
 * above CONV_TILE_DENSITY_WINOGRAD* go to Winograd's row-block tiles in conv2d_winograd.c
 * instead, fused with dx):
 *  - sampled: one dot product per selected entry, work ∝ nnz;
 *  - tile: dense tiles of dW over blocks of R output channels, each a few BLAS products over
 *    the whole batch, gathered at the block's selected entries (the sorted index list gives
 *    each block one contiguous range; blocks without entries are skipped). A tile holds
 *    (KH·KW, R, C) values, at most CSP_TILE_FLOATS and at most half the tensor.
 *
 * Neither uses im2col (9 copies of x for a 3×3 kernel). Both read x through "phase planes":
 * x zero-padded, split by stride phase, (py, px) < (stride, stride), with its rows widened to
 * Wq = Wo + (KW−1)/stride. dY is copied with its rows widened to Wq too (zeros past Wo). Then
 * for a kernel offset (kh, kw) = (stride·qh + py, stride·qw + px), the Ho·Wq products of
 * dW[o, c, kh, kw] = Σ dY[o, ho, wo] · xpad[stride·ho + kh, stride·wo + kw] are one flat dot
 * of dY's widened plane with phase (py, px) of channel c shifted by qh·Wq + qw: a contiguous
 * dot (sampled) or one gemm per (kh, kw) over all channels (tile). Images of a chunk are laid
 * side by side (plane stride ps, zeros between), so one dot or gemm spans a chunk.
 * A 1×1, stride-1, unpadded convolution reads x and dY in place, one image at a time.
 *
 * Threads: at most CSP_SLOTS workers, each with its own buffers in the scratch. Sampled: each
 * worker owns a contiguous range of entries; tile: each owns whole row blocks. Every entry is
 * summed by one thread in a fixed order (chunks in turn; within a chunk, lanes as ops_dot or
 * one BLAS call): same thread count, same bits; in fact the results do not depend on the
 * thread count (test_ops_sparse.c checks 1 against 2 threads). */
#include <omp.h>
#include <string.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

/* Workers (and buffer sets in the scratch), at most; the scratch size must not depend on the
 * thread count of the moment. */
#define CSP_SLOTS 4
/* Phase planes of one chunk of images (all channels), at most: half of a 1 MB L2, so the dots
 * of the entries of one chunk read x from the cache. At least one image per chunk. Larger
 * chunks mean longer dots on small planes (fewer per-dot costs): 512 KB made 8×8 and 16×16
 * layers 10–15 % faster than 256 KB and changed nothing on 32×32 ones (Zen 4, 1 thread). */
#define CSP_CHUNK_FLOATS 131072
/* One dense tile (KH·KW, R, C), at most (R ≥ 1 whatever C is). */
#define CSP_TILE_FLOATS 32768
/* Kernel offsets (KH·KW) whose x offsets a chunk's view tabulates; larger kernels compute them. */
#define CSP_MAX_KK 49

/* Density (nnz / numel) from which the tile path is used; below it the sampled path. Measured
 * with bench/bench_sparse_dw.c (batch 32, 1 and 2 threads, tile vs sampled on the reference
 * layers; docs/BENCHMARKS.md, "Sparse weight gradient: sampled vs tile"): the direct tiles pay
 * the direct product's 9 multiply-adds per output whatever the density, so for 3×3 stride 2
 * the sampled dots win up to about 55 % (ratio 1.1–1.2 at 50 %); for 1×1 (a tile is one plain
 * product on x itself) the paths cross at about 30 %. 3×3 stride 1 normally goes to the
 * Winograd tiles below; this direct-tile crossover applies when those cannot take the shape. */
#define CONV_TILE_DENSITY_3X3 0.40
#define CONV_TILE_DENSITY_STRIDED 0.55
#define CONV_TILE_DENSITY_1X1 0.30
/* 3×3 stride 1 by Winograd's row-block tiles (conv2d_winograd.c), which share dY's transform
 * with dx: from these densities on (bench/bench_sparse_dw.c, which charges each path what it
 * adds to the backward with dx). They cost 1.2–1.35× the dense Winograd dW at any density; at
 * 20 % the sampled dots cost 0.6–1.0× the dense dW on 32×32 output planes and 1.1–1.3× on
 * 16×16 and 8×8 ones (shorter dots), so the crossover is about 30 % on the large planes and
 * 20 % on the small ones, on 1 and 2 threads alike. */
#define CONV_TILE_DENSITY_WINOGRAD 0.20
#define CONV_TILE_DENSITY_WINOGRAD_LARGE 0.30
#define CONV_WINOGRAD_LARGE_PLANE 1024 /* output pixels from which the _LARGE crossover applies */

#ifndef OPS_DOUBLE
static int g_sparse_dw_path = OPS_SPARSE_DW_AUTO;
static int64_t g_sparse_dw_tile_peak;

void ops_sparse_dw_path_set(int path) { g_sparse_dw_path = path; }
int ops_sparse_dw_path_get(void) { return g_sparse_dw_path; }
int64_t ops_sparse_dw_tile_peak(void) { return g_sparse_dw_tile_peak; }
void ops_sparse_dw_tile_peak_reset(void) { g_sparse_dw_tile_peak = 0; }
void ops_sparse_dw_tile_note(int64_t numel)
{
    if (numel > g_sparse_dw_tile_peak)
        g_sparse_dw_tile_peak = numel;
}

int ops_sparse_dw_use_tile(int64_t nnz, int64_t numel, double crossover)
{
    if (g_sparse_dw_path != OPS_SPARSE_DW_AUTO)
        return g_sparse_dw_path == OPS_SPARSE_DW_TILE;
    return (double)nnz >= crossover * (double)numel;
}

int conv_sparse_dw_by_winograd(int64_t nnz, const ops_conv_shape *s)
{
    double crossover = ops_conv_out_h(s) * ops_conv_out_w(s) >= CONV_WINOGRAD_LARGE_PLANE
                           ? CONV_TILE_DENSITY_WINOGRAD_LARGE
                           : CONV_TILE_DENSITY_WINOGRAD;
    return conv_winograd_sparse_applies(s) &&
           ops_sparse_dw_use_tile(nnz, (int64_t)s->O * s->C * s->KH * s->KW, crossover);
}
#endif

typedef struct {
    int K, KK;           /* C·KH·KW, KH·KW */
    int st, pyn, pxn;    /* stride; phases along rows and columns */
    int Ho, Wo, Hq, Wq;  /* output plane; phase plane */
    int64_t ps;          /* floats per (channel, image) plane, zero slack for the shifted reads */
    int nb, chunks;      /* images per chunk, chunks */
    int R, blocks;       /* tile rows, row blocks */
    int direct;          /* 1×1, stride 1, unpadded: x and dY read in place, one image a chunk */
    size_t phases, dyp, tile; /* floats of a slot's buffers: phase planes, widened dY rows, tile */
} csp_plan;

static int csp_min(int a, int b) { return a < b ? a : b; }

static csp_plan csp_plan_of(const ops_conv_shape *s)
{
    csp_plan p;
    p.KK = s->KH * s->KW;
    p.K = s->C * p.KK;
    p.st = s->stride;
    p.pyn = csp_min(s->stride, s->KH);
    p.pxn = csp_min(s->stride, s->KW);
    p.Ho = ops_conv_out_h(s);
    p.Wo = ops_conv_out_w(s);
    p.direct = s->KH == 1 && s->KW == 1 && s->stride == 1 && !s->pad_t && !s->pad_l && !s->pad_b && !s->pad_r;
    if (p.direct) {
        p.Hq = p.Ho, p.Wq = p.Wo, p.ps = (int64_t)p.Ho * p.Wo, p.nb = 1;
    } else {
        p.Hq = p.Ho + (s->KH - 1) / s->stride;
        p.Wq = p.Wo + (s->KW - 1) / s->stride;
        p.ps = (int64_t)p.Hq * p.Wq + (s->KW - 1) / s->stride;
        int64_t per_image = (int64_t)p.pyn * p.pxn * s->C * p.ps;
        p.nb = (int)(CSP_CHUNK_FLOATS / per_image);
        p.nb = p.nb < 1 ? 1 : p.nb > s->B ? s->B : p.nb;
    }
    p.chunks = (s->B + p.nb - 1) / p.nb;
    int rmax = CSP_TILE_FLOATS / (p.KK * s->C);
    int half = (s->O + 1) / 2; /* a tile is never the whole tensor */
    rmax = rmax < 1 ? 1 : rmax > half ? half : rmax;
    p.blocks = (s->O + rmax - 1) / rmax;
    p.R = (s->O + p.blocks - 1) / p.blocks; /* even blocks */
    p.blocks = (s->O + p.R - 1) / p.R;
    /* + OPS_LANES zeros: the sampled dots' rounded length may read that far past the last plane */
    p.phases = p.direct ? 0 : (size_t)p.pyn * p.pxn * s->C * p.nb * p.ps + OPS_LANES;
    p.dyp = p.direct ? 0 : (size_t)s->O * p.nb * p.ps;
    p.tile = (size_t)p.KK * p.R * s->C;
    return p;
}

#ifndef OPS_DOUBLE
size_t conv_sparse_scratch_numel(const ops_conv_shape *s)
{
    csp_plan p = csp_plan_of(s);
    return CSP_SLOTS * (p.phases + p.dyp + p.tile);
}
#endif

/* What a worker reads for one chunk of nb images: phase plane (py, px) of channel c starts at
 * x + (py·pxn + px)·xphs + c·xcs; widened dY row o at dy + (o − row0)·drs. */
typedef struct {
    const real *x, *dy;
    size_t xphs, xcs, drs;
    int row0;
    int64_t len;     /* gemm length: (nb − 1)·ps + Ho·Wq */
    int64_t dot_len; /* the sampled dots' length: len rounded up to whole OPS_LANES where dY has
                      * zeros that far, so the extra products are zeros (with finite x) and no
                      * scalar tail is left (8×8 layers' dots 15 % faster) */
    int64_t koff[CSP_MAX_KK]; /* where kernel offset kk = (kh, kw) reads channel 0, if KK ≤ CSP_MAX_KK */
} csp_view;

/* [lo, hi): the phase columns qj < Wq of column phase px that lie inside x. */
static void csp_valid_cols(const ops_conv_shape *s, const csp_plan *p, int px, int *lo, int *hi)
{
    int first = s->pad_l - px; /* st·qj ≥ first */
    *lo = first <= 0 ? 0 : (first + p->st - 1) / p->st;
    int last = s->W - 1 + s->pad_l - px; /* st·qj ≤ last */
    *hi = last < 0 ? 0 : last / p->st + 1;
    *hi = *hi < p->Wq ? *hi : p->Wq;
    *lo = *lo < *hi ? *lo : *hi;
}

/* Phase planes (pyn·pxn, C, nb, ps) of images b0 .. b0+nb−1 of x. */
static void csp_fill_phases(real *ph, const real *x, const ops_conv_shape *s, const csp_plan *p, int b0, int nb)
{
    size_t hw = (size_t)s->H * s->W;
    for (int py = 0; py < p->pyn; py++)
        for (int px = 0; px < p->pxn; px++) {
            int lo, hi, off = px - s->pad_l; /* phase columns [lo, hi) read inside x: 0 ≤ st·qj + px − pad_l < W */
            csp_valid_cols(s, p, px, &lo, &hi);
            for (int c = 0; c < s->C; c++)
                for (int i = 0; i < nb; i++) {
                    real *dst = ph + (((size_t)(py * p->pxn + px) * s->C + c) * nb + i) * p->ps;
                    const real *xc = x + ((size_t)(b0 + i) * s->C + c) * hw;
                    for (int qi = 0; qi < p->Hq; qi++, dst += p->Wq) {
                        int r = p->st * qi + py - s->pad_t;
                        if (r < 0 || r >= s->H) {
                            memset(dst, 0, (size_t)p->Wq * sizeof(real));
                            continue;
                        }
                        const real *xr = xc + (size_t)r * s->W; /* x column of qj: st·qj + off */
                        for (int qj = 0; qj < lo; qj++)
                            dst[qj] = 0;
                        if (p->st == 1)
                            memcpy(dst + lo, xr + lo + off, (size_t)(hi - lo) * sizeof(real));
                        else
                            for (int qj = lo; qj < hi; qj++)
                                dst[qj] = xr[p->st * qj + off];
                        for (int qj = hi; qj < p->Wq; qj++)
                            dst[qj] = 0;
                    }
                    memset(dst, 0, (size_t)(p->ps - (int64_t)p->Hq * p->Wq) * sizeof(real));
                }
        }
    memset(ph + (size_t)p->pyn * p->pxn * s->C * nb * p->ps, 0, OPS_LANES * sizeof(real)); /* dot_len's slack */
}

/* Widened dY rows (o1 − o0, nb, ps) of images b0 .. b0+nb−1: zeros past Wo and past Ho·Wq. */
static void csp_fill_dy(real *dyp, const real *dy, const ops_conv_shape *s, const csp_plan *p, int b0, int nb,
                        int o0, int o1)
{
    size_t ohw = (size_t)p->Ho * p->Wo;
    for (int o = o0; o < o1; o++)
        for (int i = 0; i < nb; i++) {
            real *dst = dyp + ((size_t)(o - o0) * nb + i) * p->ps;
            const real *src = dy + ((size_t)(b0 + i) * s->O + o) * ohw;
            for (int ho = 0; ho < p->Ho; ho++, dst += p->Wq, src += p->Wo) {
                memcpy(dst, src, (size_t)p->Wo * sizeof(real));
                memset(dst + p->Wo, 0, (size_t)(p->Wq - p->Wo) * sizeof(real));
            }
            memset(dst, 0, (size_t)(p->ps - (int64_t)p->Ho * p->Wq) * sizeof(real));
        }
}

/* Where kernel offset kk = (kh, kw) reads channel 0 of the view: its phase plane, shifted. */
static int64_t csp_kernel_offset(const csp_view *v, const csp_plan *p, const ops_conv_shape *s, int kk)
{
    int kh = kk / s->KW, kw = kk % s->KW;
    return (int64_t)((kh % p->st) * p->pxn + kw % p->st) * (int64_t)v->xphs + (int64_t)(kh / p->st) * p->Wq +
           kw / p->st;
}

/* The view of chunk ch for rows [o0, o1): in place (direct) or filled into the slot's buffers. */
static csp_view csp_chunk(const real *x, const real *dy, const ops_conv_shape *s, const csp_plan *p, int ch,
                          int o0, int o1, real *ph, real *dyp)
{
    int b0 = ch * p->nb, nb = csp_min(p->nb, s->B - b0);
    csp_view v;
    if (p->direct) {
        size_t hw = (size_t)s->H * s->W;
        v.x = x + (size_t)b0 * s->C * hw;
        v.dy = dy + (size_t)b0 * s->O * hw;
        v.xphs = 0, v.xcs = hw, v.drs = hw, v.row0 = 0, v.len = v.dot_len = (int64_t)hw;
        v.koff[0] = 0; /* 1×1: the only kernel offset reads x in place */
        return v;
    }
    csp_fill_phases(ph, x, s, p, b0, nb);
    csp_fill_dy(dyp, dy, s, p, b0, nb, o0, o1);
    v.x = ph, v.dy = dyp;
    v.xcs = (size_t)nb * p->ps;
    v.xphs = (size_t)s->C * v.xcs;
    v.drs = (size_t)nb * p->ps;
    v.row0 = o0;
    v.len = (int64_t)(nb - 1) * p->ps + (int64_t)p->Ho * p->Wq;
    v.dot_len = (v.len + OPS_LANES - 1) / OPS_LANES * OPS_LANES;
    v.dot_len = v.dot_len <= (int64_t)v.drs ? v.dot_len : v.len;
    for (int kk = 0; kk < p->KK && kk < CSP_MAX_KK; kk++)
        v.koff[kk] = csp_kernel_offset(&v, p, s, kk);
    return v;
}

/* The x plane that flat entry r = (c, kh, kw) of a weight row reads, shift included. One
 * division where the shift's own would cost several per entry (most of a short dot). */
static inline const real *csp_xrow(const csp_view *v, const csp_plan *p, const ops_conv_shape *s, int r)
{
    int c = r / p->KK, kk = r - c * p->KK;
    int64_t off = p->KK <= CSP_MAX_KK ? v->koff[kk] : csp_kernel_offset(v, p, s, kk);
    return v->x + (size_t)c * v->xcs + off;
}

/* out[i] = ops_dot(a, b_i, n) for eight b_i, bit for bit (same lanes, same tree), reading a
 * once: 9 loads per 8 products, eight independent chains. Spelt out, as csp_dot4_pairs: the
 * same with a 2-D accumulator array (GCC keeps it in memory) or a helper with a variable lane
 * count (not vectorised) measured 2× and 10× slower. */
__attribute__((always_inline)) static inline void csp_dot8(real out[8], const real *a, const real *const b[8], int64_t n)
{
    real c0[OPS_LANES] = {0}, c1[OPS_LANES] = {0}, c2[OPS_LANES] = {0}, c3[OPS_LANES] = {0};
    real c4[OPS_LANES] = {0}, c5[OPS_LANES] = {0}, c6[OPS_LANES] = {0}, c7[OPS_LANES] = {0};
    const real *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3], *b4 = b[4], *b5 = b[5], *b6 = b[6], *b7 = b[7];
    int64_t p = 0;
    for (; p + OPS_LANES <= n; p += OPS_LANES) {
        for (int j = 0; j < OPS_LANES; j++)
            c0[j] += a[p + j] * b0[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c1[j] += a[p + j] * b1[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c2[j] += a[p + j] * b2[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c3[j] += a[p + j] * b3[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c4[j] += a[p + j] * b4[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c5[j] += a[p + j] * b5[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c6[j] += a[p + j] * b6[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c7[j] += a[p + j] * b7[p + j];
    }
    for (int j = 0; p < n; p++, j++) {
        c0[j] += a[p] * b0[p];
        c1[j] += a[p] * b1[p];
        c2[j] += a[p] * b2[p];
        c3[j] += a[p] * b3[p];
        c4[j] += a[p] * b4[p];
        c5[j] += a[p] * b5[p];
        c6[j] += a[p] * b6[p];
        c7[j] += a[p] * b7[p];
    }
    out[0] = ops_lanes_sum(c0);
    out[1] = ops_lanes_sum(c1);
    out[2] = ops_lanes_sum(c2);
    out[3] = ops_lanes_sum(c3);
    out[4] = ops_lanes_sum(c4);
    out[5] = ops_lanes_sum(c5);
    out[6] = ops_lanes_sum(c6);
    out[7] = ops_lanes_sum(c7);
}

/* out[i] = ops_dot(a_i, b_i, n) for four pairs, bit for bit (same lanes, same tree): four
 * independent chains where one ops_dot is a serial chain of adds. */
__attribute__((always_inline)) static inline void csp_dot4_pairs(real out[4], const real *const a[4],
                                                                 const real *const b[4], int64_t n)
{
    real c0[OPS_LANES] = {0}, c1[OPS_LANES] = {0}, c2[OPS_LANES] = {0}, c3[OPS_LANES] = {0};
    const real *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
    const real *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
    int64_t p = 0;
    for (; p + OPS_LANES <= n; p += OPS_LANES) {
        for (int j = 0; j < OPS_LANES; j++)
            c0[j] += a0[p + j] * b0[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c1[j] += a1[p + j] * b1[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c2[j] += a2[p + j] * b2[p + j];
        for (int j = 0; j < OPS_LANES; j++)
            c3[j] += a3[p + j] * b3[p + j];
    }
    for (int j = 0; p < n; p++, j++) {
        c0[j] += a0[p] * b0[p];
        c1[j] += a1[p] * b1[p];
        c2[j] += a2[p] * b2[p];
        c3[j] += a3[p] * b3[p];
    }
    out[0] = ops_lanes_sum(c0);
    out[1] = ops_lanes_sum(c1);
    out[2] = ops_lanes_sum(c2);
    out[3] = ops_lanes_sum(c3);
}

/* Entries of different rows waiting to be summed four at a time. */
typedef struct {
    const real *a[4], *b[4];
    int64_t k[4];
    int n;
} csp_queue;

__attribute__((always_inline)) static inline void csp_queue_flush(csp_queue *q, const ops_sink_t *dw, int64_t n)
{
    if (q->n == 4) {
        real r[4];
        csp_dot4_pairs(r, q->a, q->b, n);
        for (int i = 0; i < 4; i++)
            dw->values[q->k[i]] += r[i];
    } else
        for (int i = 0; i < q->n; i++)
            dw->values[q->k[i]] += ops_dot(q->a[i], q->b[i], n);
    q->n = 0;
}

/* values[k] += the chunk's dot for k in [k0, k1): eight entries of one row at a time sharing
 * its dY row; the rest (fewer than eight per row) four at a time across rows. One division
 * per row: the kernel offset's shift comes from the view's table. */
OPS_VECTOR_CLONES static void csp_sampled_span(const ops_sink_t *dw, int64_t k0, int64_t k1, const csp_view *v,
                                               const csp_plan *p, const ops_conv_shape *s)
{
    csp_queue q = {.n = 0};
    for (int64_t k = k0; k < k1;) {
        int o = (int)(dw->index[k] / p->K);
        int64_t base = (int64_t)o * p->K, end = base + p->K;
        const real *a = v->dy + (size_t)(o - v->row0) * v->drs;
        for (; k + 8 <= k1 && dw->index[k + 7] < end; k += 8) {
            const real *b[8];
            for (int i = 0; i < 8; i++)
                b[i] = csp_xrow(v, p, s, (int)(dw->index[k + i] - base));
            real r[8];
            csp_dot8(r, a, b, v->dot_len);
            for (int i = 0; i < 8; i++)
                dw->values[k + i] += r[i];
        }
        for (; k < k1 && dw->index[k] < end; k++) {
            q.a[q.n] = a, q.b[q.n] = csp_xrow(v, p, s, (int)(dw->index[k] - base)), q.k[q.n] = k;
            if (++q.n == 4)
                csp_queue_flush(&q, dw, v->dot_len);
        }
    }
    csp_queue_flush(&q, dw, v->dot_len);
}

/* Sampled: worker w of n owns entries [nnz·w/n, nnz·(w+1)/n) and walks all chunks. */
static void csp_sampled_worker(const ops_sink_t *dw, const real *dy, const real *x, const ops_conv_shape *s,
                               const csp_plan *p, real *slot, int w, int n)
{
    int64_t k0 = dw->nnz * w / n, k1 = dw->nnz * (w + 1) / n;
    if (k0 >= k1)
        return;
    int o0 = (int)(dw->index[k0] / p->K), o1 = (int)(dw->index[k1 - 1] / p->K) + 1;
    for (int ch = 0; ch < p->chunks; ch++) {
        csp_view v = csp_chunk(x, dy, s, p, ch, o0, o1, slot, slot + p->phases);
        csp_sampled_span(dw, k0, k1, &v, p, s);
    }
}

/* Tile of row block [o0, o1): tile (KK, R, C) = Σ over chunks of dY rows · shifted phase
 * planesᵀ, one gemm per kernel offset, then values += the tile at the block's entries. */
static void csp_tile_block(const ops_sink_t *dw, const real *dy, const real *x, const ops_conv_shape *s,
                           const csp_plan *p, real *slot, int o0, int o1, int64_t k0, int64_t k1)
{
    int R = o1 - o0;
    real *tile = slot + p->phases + p->dyp; /* (KK, R, C) */
    for (int ch = 0; ch < p->chunks; ch++) {
        csp_view v = csp_chunk(x, dy, s, p, ch, o0, o1, slot, slot + p->phases);
        const real *a = v.dy + (size_t)(o0 - v.row0) * v.drs;
        for (int kk = 0; kk < p->KK; kk++) /* tile[kk] (R, C) (+)= dY (R, len) · planes (C, len)ᵀ */
            OPS_NAME(ops_gemm)(0, 1, R, s->C, (int)v.len, 1, a, (int)v.drs, csp_xrow(&v, p, s, kk), (int)v.xcs,
                               ch ? 1 : 0, tile + (size_t)kk * R * s->C, s->C);
    }
    for (int64_t k = k0; k < k1; k++) {
        int64_t e = dw->index[k];
        int o = (int)(e / p->K), r = (int)(e % p->K);
        dw->values[k] += tile[((size_t)(r % p->KK) * R + (o - o0)) * s->C + r / p->KK];
    }
}

/* Tile: worker w of n takes the non-empty row blocks numbered w, w + n, ... */
static void csp_tile_worker(const ops_sink_t *dw, const real *dy, const real *x, const ops_conv_shape *s,
                            const csp_plan *p, real *slot, int w, int n)
{
    int j = 0;
    for (int bl = 0; bl < p->blocks; bl++) {
        int o0 = bl * p->R, o1 = csp_min(s->O, o0 + p->R);
        int64_t k0 = ops_index_lower_bound(dw->index, dw->nnz, (int64_t)o0 * p->K);
        int64_t k1 = ops_index_lower_bound(dw->index, dw->nnz, (int64_t)o1 * p->K);
        if (k0 == k1)
            continue;
        if (j++ % n == w)
            csp_tile_block(dw, dy, x, s, p, slot, o0, o1, k0, k1);
    }
}

void OPS_NAME(conv_weight_grad_sparse)(const ops_sink_t *dw, const real *dy, const real *x, const ops_conv_shape *s,
                                       real *scratch)
{
    OPS_PROF_SCOPE(OPS_PROF_SPARSE_DW);
    csp_plan p = csp_plan_of(s);
    double crossover = p.KK == 1 ? CONV_TILE_DENSITY_1X1 : s->stride > 1 ? CONV_TILE_DENSITY_STRIDED
                                                                      : CONV_TILE_DENSITY_3X3;
    int tile = ops_sparse_dw_use_tile(dw->nnz, (int64_t)s->O * p.K, crossover);
    int threads = omp_get_max_threads();
    int workers = threads < CSP_SLOTS ? threads : CSP_SLOTS;
    if (tile) {
        ops_sparse_dw_tile_note((int64_t)p.tile);
        workers = workers < p.blocks ? workers : p.blocks;
    }
    size_t slot = p.phases + p.dyp + p.tile;
    int blas = ops_blas_threads_single();
#pragma omp parallel num_threads(workers)
    {
        int w = omp_get_thread_num(), n = omp_get_num_threads();
        if (tile)
            csp_tile_worker(dw, dy, x, s, &p, scratch + (size_t)w * slot, w, n);
        else
            csp_sampled_worker(dw, dy, x, s, &p, scratch + (size_t)w * slot, w, n);
    }
    ops_blas_threads_restore(blas);
}
