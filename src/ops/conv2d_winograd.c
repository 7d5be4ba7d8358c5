/* conv2d_winograd.c — 3×3 stride-1 convolutions (any padding) by Winograd's minimal filtering,
 * forward and backward. Why: these convolutions are most of a UNet's FLOPs. im2col + gemm
 * spends 9 products per output and writes 9 copies of the input; F(m×m, 3×3) computes an m×m
 * output tile from an a×a input tile (a = m + 2) with a² products, done as a² independent
 * gemms in the transformed domain: F(2×2) 16 per 4 outputs, F(4×4) 36 per 16. F(4×4) is
 * used where it needs fewer products (planes of about 7×7 and up); its float results are
 * ~3× further from exact than a direct sum (test_ops_fast_paths.c bounds them), F(2×2)'s are not.
 *
 * Notation (Lavin & Gray 2015): input tile d, filter g, output tile y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A.
 * Tiles of the batch are processed in chunks of whole images; for one chunk of tc tiles:
 *   V  (a², C, tc)  input transform Bᵀ d B          U  (a², O, C)  filter transform G g Gᵀ
 *   Mh (a², O, tc)  U·V (forward) or A dY Aᵀ (backward: the output gradient transformed)
 * forward   Mh[ξ] = U[ξ] · V[ξ], then y = Aᵀ Mh A
 * dx        dV[ξ] = U[ξ]ᵀ · Mh[ξ] (into V's buffer), then dx += B dV Bᵀ scattered back
 * dW        dU[ξ] += Mh[ξ] · V[ξ]ᵀ over a worker's chunks, workers summed, dW += Gᵀ dU G
 * sparse dW (a sparse sink: SaRA's selected entries) never sums dU for the whole tensor: per
 *           chunk and block of R output channels, dU_R[ξ] (R, C) = Mh[ξ][rows] · V[ξ]ᵀ, turned
 *           into the dW tile (R, C, 3, 3) = Gᵀ dU_R G at once and gathered at the block's
 *           selected entries into the worker's accumulator (nnz); accumulators summed in
 *           worker order. The filter transform runs per chunk (a few % of the products); the
 *           transform of dY is the one dx needs anyway. Blocks without entries are skipped.
 * Threads: with few of them (≤ WINO_SLOTS) each owns whole chunks in its own buffers, so a
 * call is one parallel region without barriers (small chunks keep V and Mh in cache, which
 * leaves too little work per phase to share); with more, they share each phase of a chunk.
 * Every gemm runs on one BLAS thread and every plane's transform on one thread, in a fixed
 * order: same shape and thread count, same bits. */
#include <omp.h>
#include <string.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

/* ---- transform matrices (Toom-Cook construction; test_ops_fast_paths.c checks the algebra in
 * double against the convolution's definition) ---- */

#define WINO_R 3     /* filter side */
#define WINO_MAX_M 4 /* output tile side, at most */
#define WINO_MAX_A 6 /* input tile side a = m + r − 1, at most */

typedef struct {
    int m, a;                           /* output tile side, input tile side */
    real bt[WINO_MAX_A][WINO_MAX_A];    /* Bᵀ (a, a) */
    real g[WINO_MAX_A][WINO_R];         /* G (a, r) */
    real at[WINO_MAX_M][WINO_MAX_A];    /* Aᵀ (m, a) */
} wino_kind;

/* F(2, 3) at the points 0, 1, −1, ∞: coefficients 0, ±1, ±½, all exact. */
static const wino_kind WINO_F2 = {
    .m = 2,
    .a = 4,
    .bt = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
    .g = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}},
    .at = {{1, 1, 1, 0}, {0, 1, -1, -1}},
};

/* F(4, 3) at the points 0, 1, −1, 2, −½, ∞ (±2 instead of 2, −½ loses ~3× more digits). */
static const wino_kind WINO_F4 = {
    .m = 4,
    .a = 6,
    .bt = {{1, 1.5, -2, -1.5, 1, 0},
           {0, -1, -2.5, -0.5, 1, 0},
           {0, 1, 0.5, -2.5, 1, 0},
           {0, -0.5, -1, 0.5, 1, 0},
           {0, 2, -1, -2, 1, 0},
           {0, 1, 1.5, -2, -1.5, 1}},
    .g = {{1, 0, 0},
          {-1.0 / 3, -1.0 / 3, -1.0 / 3},
          {1.0 / 3, -1.0 / 3, 1.0 / 3},
          {1.0 / 15, 2.0 / 15, 4.0 / 15},
          {-16.0 / 15, 8.0 / 15, -4.0 / 15},
          {0, 0, 1}},
    .at = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -0.5, 0}, {0, 1, 1, 4, 0.25, 0}, {0, 1, -1, 8, -0.125, 1}},
};

/* Transformed-domain entries per chunk, at most: enough tiles for efficient gemms, and V + Mh
 * of a chunk (a²·tc·(C+O) floats) in the caches. But every chunk reads all of U (a²·O·C) again:
 * where U outweighs a small chunk's V + Mh by WINO_U_HEAVY, the larger chunks pay (fewer
 * passes over U, wider gemms). Measured on a 2-core Zen 4, conv 3×3 forward + dx at batch
 * 32, 1 thread, blocks of 128 tiles, large chunks against small: 1.1–1.2× the time on 128 and
 * 192 → 64 at 32×32 (U / (V + Mh) 0.5–0.75) and on 64 and 128 → 128 at 16×16 (0.67–1.33),
 * 1.0–1.05× on 192 and 256 → 128 at 16×16 (1.56–1.78), 0.85× on 256 → 128 at 8×8 (1.52),
 * 0.75–0.8× on 256 and 512 → 256 at 8×8 (2.3–3), level on 64 → 64 at 32×32. */
#define WINO_CHUNK_ENTRIES 2048
#define WINO_U_HEAVY 1.5
#define WINO_CHUNK_ENTRIES_LARGE 4608 /* 36 · 128: all 4 × 4-tile 8×8 images of a batch of 32 */
/* Chunk buffers in the scratch: with up to this many threads, each thread runs whole chunks
 * (transforms and gemms) in its own buffers, in one parallel region per call; with more,
 * the threads share each phase of one chunk at a time. */
#define WINO_SLOTS 4

/* The nonzero coefficients of one row or column of G: the filter transforms are, step by step,
 * linear combinations of a few whole arrays of filters. */
typedef struct {
    int n;
    int idx[WINO_MAX_A];
    real c[WINO_MAX_A];
} wino_terms;

typedef struct {
    const wino_kind *k;
    wino_terms g_row[WINO_MAX_A], g_col[WINO_R]; /* of G (the filter transforms) */
    int n;             /* transformed-domain positions ξ: a², one gemm each */
    int th, tw, tiles; /* tile rows, tile columns, tiles per image */
    int tc;            /* tiles a chunk buffer holds */
    int nb, chunks;    /* images per chunk, chunks (the last ones may be short or empty) */
    int workers;       /* threads that own chunks; 1: chunks in turn, phases shared */
} wino_plan;

/* Transformed-domain entries (gemm columns · a²) that kind k needs for the output plane. */
static long wino_entries(const ops_conv_shape *s, const wino_kind *k)
{
    long th = (ops_conv_out_h(s) + k->m - 1) / k->m, tw = (ops_conv_out_w(s) + k->m - 1) / k->m;
    return th * tw * k->a * k->a;
}

/* F(4×4) spends 36 products per 16 outputs against F(2×2)'s 16 per 4, but pads the plane to
 * a multiple of 4: take it when that still costs fewer products (planes of 7×7 and up, and
 * some smaller ones); ties go to the more accurate F(2×2). */
static const wino_kind *wino_kind_for(const ops_conv_shape *s)
{
    return wino_entries(s, &WINO_F4) < wino_entries(s, &WINO_F2) ? &WINO_F4 : &WINO_F2;
}

/* The nonzero entries of cnt coefficients c[0], c[stride], ... */
static wino_terms wino_terms_of(const real *c, int cnt, int stride)
{
    wino_terms t = {0};
    for (int j = 0; j < cnt; j++)
        if (c[(size_t)j * stride] != 0) {
            t.idx[t.n] = j;
            t.c[t.n++] = c[(size_t)j * stride];
        }
    return t;
}

static void wino_plan_terms(wino_plan *p)
{
    const wino_kind *k = p->k;
    for (int i = 0; i < k->a; i++)
        p->g_row[i] = wino_terms_of(k->g[i], WINO_R, 1);
    for (int q = 0; q < WINO_R; q++)
        p->g_col[q] = wino_terms_of(&k->g[0][q], k->a, WINO_R);
}

/* Whole images per chunk with at most `entries` transformed-domain entries (at least one image). */
static int wino_chunk_images(const wino_plan *p, const ops_conv_shape *s, int entries)
{
    int nb = entries / p->n / p->tiles;
    return nb < 1 ? 1 : nb > s->B ? s->B : nb;
}

/* The chunking: buffer size from the shape alone (it sizes the scratch), chunks spread evenly
 * over the workers. The weight gradient sums per worker, so it depends on the thread count;
 * nothing depends on it otherwise. */
static wino_plan wino_plan_of(const ops_conv_shape *s)
{
    wino_plan p;
    p.k = wino_kind_for(s);
    int m = p.k->m;
    p.n = p.k->a * p.k->a;
    p.th = (ops_conv_out_h(s) + m - 1) / m;
    p.tw = (ops_conv_out_w(s) + m - 1) / m;
    p.tiles = p.th * p.tw;
    int nb_max = wino_chunk_images(&p, s, WINO_CHUNK_ENTRIES);
    if ((double)s->O * s->C > WINO_U_HEAVY * nb_max * p.tiles * (s->C + s->O)) /* U against V + Mh, over a² */
        nb_max = wino_chunk_images(&p, s, WINO_CHUNK_ENTRIES_LARGE);
    p.tc = nb_max * p.tiles;
    int threads = omp_get_max_threads();
    p.workers = threads > WINO_SLOTS ? 1 : threads;
    int rounds = (s->B + p.workers * nb_max - 1) / (p.workers * nb_max);
    p.chunks = p.workers * rounds;
    p.nb = (s->B + p.chunks - 1) / p.chunks;
    wino_plan_terms(&p);
    return p;
}

/* A sparse weight gradient's block of R output channels, at most: its transformed-domain tile
 * dU_R (a², R, C) stays this size (cache-sized; the rows of one block share each load of V). */
#define WINO_SPARSE_BLOCK_FLOATS 262144

/* Output channels per block of the sparse weight gradient; 0 when the shape cannot take it.
 * A slot's dU (a²·O·C) holds the accumulator (nnz ≤ 9·O·C), dU_R (a²·R·C) and the dW tile
 * (9·R·C): R ≤ (a² − 9)·O / (a² + 9). And R ≤ O/2: no block is the whole tensor. */
static int wino_sparse_rows(const wino_plan *p, const ops_conv_shape *s)
{
    int taps = WINO_R * WINO_R;
    long fit = (long)(p->n - taps) * s->O / (p->n + taps);
    long cache = WINO_SPARSE_BLOCK_FLOATS / ((long)p->n * s->C), half = s->O / 2;
    long r = fit < half ? fit : half;
    r = r < cache ? r : cache > 0 ? cache : 1;
    return (int)(r > 0 && r <= fit ? r : 0);
}

#ifndef OPS_DOUBLE
int conv_winograd_applies(const ops_conv_shape *s)
{
    return s->KH == 3 && s->KW == 3 && s->stride == 1 && ops_conv_out_h(s) > 0 && ops_conv_out_w(s) > 0;
}

int conv_winograd_sparse_applies(const ops_conv_shape *s)
{
    if (!conv_winograd_applies(s))
        return 0;
    wino_plan p = wino_plan_of(s);
    return wino_sparse_rows(&p, s) > 0;
}

size_t conv_winograd_scratch_numel(const ops_conv_shape *s)
{
    wino_plan p = wino_plan_of(s);
    size_t oc = (size_t)s->O * s->C;
    /* U, then per slot dU, V and Mh */
    return (size_t)p.n * (oc + WINO_SLOTS * (oc + (size_t)p.tc * ((size_t)s->C + s->O)));
}
#endif

static int wino_min(int a, int b) { return a < b ? a : b; }

/* out[t] = Σ_k c_k · in[idx_k·stride + t] over the terms, for t < n: the steps of the filter
 * transforms (the data transforms fold their coefficients instead, below). The terms are
 * summed left to right, in one pass per term count so that each input is read once. The
 * coefficients are copied to locals first: out may alias tm as far as the compiler knows, and
 * it then re-loaded every coefficient in every vector step (as many loads as the data's). */
OPS_VECTOR_CLONES static void wino_lincomb(real *restrict out, const wino_terms *tm, const real *in, size_t stride,
                                           int n)
{
    int nz = tm->n;
    /* unused terms have index 0 and coefficient 0 (wino_terms_of), so every pointer is valid */
    const real *x0 = in + (size_t)tm->idx[0] * stride, *x1 = in + (size_t)tm->idx[1] * stride,
               *x2 = in + (size_t)tm->idx[2] * stride, *x3 = in + (size_t)tm->idx[3] * stride,
               *x4 = in + (size_t)tm->idx[4] * stride, *x5 = in + (size_t)tm->idx[5] * stride;
    const real k0 = tm->c[0], k1 = tm->c[1], k2 = tm->c[2], k3 = tm->c[3], k4 = tm->c[4], k5 = tm->c[5];
    switch (nz) {
    case 0:
        for (int t = 0; t < n; t++)
            out[t] = 0;
        break;
    case 1:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t];
        break;
    case 2:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t] + k1 * x1[t];
        break;
    case 3:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t] + k1 * x1[t] + k2 * x2[t];
        break;
    case 4:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t] + k1 * x1[t] + k2 * x2[t] + k3 * x3[t];
        break;
    case 5:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t] + k1 * x1[t] + k2 * x2[t] + k3 * x3[t] + k4 * x4[t];
        break;
    default:
#pragma omp simd
        for (int t = 0; t < n; t++)
            out[t] = k0 * x0[t] + k1 * x1[t] + k2 * x2[t] + k3 * x3[t] + k4 * x4[t] + k5 * x5[t];
    }
}

/* ---- filter transforms, vectorised across blocks of WINO_FBLOCK filters ---- */
#define WINO_FBLOCK 64

/* U (a², O, C) = G g Gᵀ for every filter g of w (O, C, 3, 3). */
static void wino_filter_transform(real *U, const real *w, size_t oc, const wino_plan *pl)
{
    int a = pl->k->a;
    size_t nblk = (oc + WINO_FBLOCK - 1) / WINO_FBLOCK;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblk; blk++) {
        size_t f0 = blk * WINO_FBLOCK;
        int n = (int)(oc - f0 < WINO_FBLOCK ? oc - f0 : WINO_FBLOCK);
        real g[WINO_R * WINO_R][WINO_FBLOCK], t[WINO_MAX_A][WINO_R][WINO_FBLOCK];
        for (int f = 0; f < n; f++) /* (filters, 9) → (9, filters) */
            for (int pq = 0; pq < WINO_R * WINO_R; pq++)
                g[pq][f] = w[(f0 + f) * WINO_R * WINO_R + pq];
        for (int i = 0; i < a; i++) /* G down the columns: t[i][q] = Σ_p G[i][p] g[p][q] */
            for (int q = 0; q < WINO_R; q++)
                wino_lincomb(t[i][q], &pl->g_row[i], g[q], WINO_R * WINO_FBLOCK, n);
        for (int i = 0; i < a; i++) /* G along the rows: U[i][j] = Σ_q G[j][q] t[i][q] */
            for (int j = 0; j < a; j++)
                wino_lincomb(U + (size_t)(i * a + j) * oc + f0, &pl->g_row[j], t[i][0], WINO_FBLOCK, n);
    }
}

/* dw (O, C, 3, 3) += Gᵀ dU G for every filter, from dU (a², O, C). */
static void wino_filter_grad(real *dw, const real *dU, size_t oc, const wino_plan *pl)
{
    int a = pl->k->a;
    size_t nblk = (oc + WINO_FBLOCK - 1) / WINO_FBLOCK;
#pragma omp parallel for schedule(static)
    for (size_t blk = 0; blk < nblk; blk++) {
        size_t f0 = blk * WINO_FBLOCK;
        int n = (int)(oc - f0 < WINO_FBLOCK ? oc - f0 : WINO_FBLOCK);
        real s[WINO_MAX_A][WINO_R][WINO_FBLOCK], g[WINO_R * WINO_R][WINO_FBLOCK];
        for (int i = 0; i < a; i++) /* along the rows: s[i][q] = Σ_j G[j][q] dU[i][j] */
            for (int q = 0; q < WINO_R; q++)
                wino_lincomb(s[i][q], &pl->g_col[q], dU + (size_t)i * a * oc + f0, oc, n);
        for (int p = 0; p < WINO_R; p++) /* down the columns: g[p][q] = Σ_i G[i][p] s[i][q] */
            for (int q = 0; q < WINO_R; q++)
                wino_lincomb(g[p * WINO_R + q], &pl->g_col[p], s[0][q], WINO_R * WINO_FBLOCK, n);
        for (int f = 0; f < n; f++)
            for (int pq = 0; pq < WINO_R * WINO_R; pq++)
                dw[(f0 + f) * WINO_R * WINO_R + pq] += g[pq][f];
    }
}

/* ---- data transforms ----
 * The tiles of a chunk are walked in blocks of at most WINO_BLOCK tiles that are contiguous
 * in V and Mh: several whole images of one channel when images are small, else tile rows of
 * one image (or strips of one tile row). A block's input rows are loaded (zero-padded) and
 * de-interleaved into arrays over the block's tiles, so that the transforms run one tile per
 * vector lane, and the outputs are merged back the same way. The tile rows of the chunk are numbered
 * R = image · th + ty; a block is tile rows [R0, R0 + nr), tile columns [tx0, tx0 + ntx). */
#define WINO_BLOCK 128 /* tiles */

typedef struct {
    int R0, nr, tx0, ntx;
} wino_block;

typedef enum { WINO_INPUT, WINO_ADJOINT, WINO_OUTPUT, WINO_GRAD } wino_op;

/* One data transform over one chunk: between (image, channel) planes, `chan` per image, and
 * the transformed domain. */
typedef struct {
    const ops_conv_shape *s;
    const wino_plan *p;
    wino_op op;
    int chan;           /* channels per image: C (input side) or O (output side) */
    size_t plane_numel; /* H·W or Ho·Wo */
    const real *src;    /* INPUT, GRAD: x or dy of the chunk's first image */
    real *dst;          /* ADJOINT, OUTPUT: dx or y of the chunk's first image */
    real *td;           /* V or Mh (a², chan, tc): written by INPUT, GRAD; read by the others */
    const real *bias;   /* OUTPUT: (O) or NULL */
} wino_job;

/* ---- a tile row's columns ↔ a plane row ----
 * Tile t of a tile row starts at column m·t of the row, so its column j is the row's column
 * m·t + j: for j < m a de-interleave of the row (phase j), for j ≥ m phase j − m one tile on
 * (neighbouring windows overlap by a − m = r − 1 columns). The loops are written out for
 * m = 4 and m = 2 (F(4×4), F(2×2)) so that the compiler turns the stride-m accesses into
 * vector permutes: with m a variable it emitted one scalar load or store per element. */

/* ph[j·js + t] = row[m·t + j] for j < m, t < n: the phases of a row (one pointer per phase
 * and `omp simd`: without either GCC kept the loop scalar). */
__attribute__((always_inline)) static inline void wino_split_m(real *restrict ph, size_t js, const real *restrict row,
                                                               int n, int m)
{
    real *restrict p0 = ph, *restrict p1 = ph + js;
    if (m == 2) {
#pragma omp simd
        for (int t = 0; t < n; t++) {
            p0[t] = row[2 * t];
            p1[t] = row[2 * t + 1];
        }
        return;
    }
    real *restrict p2 = ph + 2 * js, *restrict p3 = ph + 3 * js;
#pragma omp simd
    for (int t = 0; t < n; t++) {
        p0[t] = row[4 * t];
        p1[t] = row[4 * t + 1];
        p2[t] = row[4 * t + 2];
        p3[t] = row[4 * t + 3];
    }
}

/* The column col of plane row xr (W columns), 0 outside it (the zero padding). */
static inline real wino_at(const real *xr, int W, int col) { return col >= 0 && col < W ? xr[col] : 0; }

/* The window rows of a block's tile rows, one window row i at a time: row rr of `rows`
 * (nr, len = m·ntx) holds columns c0 .. c0 + len − 1 of the plane row under tile row rr, tail
 * (nr, a − m) the a − m columns after them (the last tile's overlap); zero outside the plane.
 * Stored without gaps so that the tiles of all nr tile rows split in one vector loop: split
 * row by row, the loops were a few tiles long (2–8 on the reference UNet's planes) and ran
 * scalar. */
typedef struct {
    real *rows, *tail;
    int len, lo, hi; /* row length; columns [lo, hi) of a row lie inside the plane */
} wino_rows;

/* Zero the columns of every row outside the plane (they stay zero: only [lo, hi) is written). */
static wino_rows wino_rows_begin(real *rows, real *tail, int nr, int len, int W, int c0)
{
    wino_rows w = {rows, tail, len, wino_min(c0 < 0 ? -c0 : 0, len), wino_min(W - c0, len)};
    w.hi = w.hi < w.lo ? w.lo : w.hi;
    memset(rows, 0, (size_t)nr * len * sizeof(real));
    return w;
}

/* Row rr from row r of the plane x (H, W), columns from c0, and its `extra` tail columns. */
static void wino_rows_load(const wino_rows *w, int rr, const real *x, int H, int W, int r, int c0, int extra)
{
    real *row = w->rows + (size_t)rr * w->len;
    if (r < 0 || r >= H) {
        memset(row, 0, (size_t)w->len * sizeof(real));
        for (int k = 0; k < extra; k++)
            w->tail[rr * extra + k] = 0;
        return;
    }
    const real *xr = x + (size_t)r * W;
    if (w->hi > w->lo)
        memcpy(row + w->lo, xr + c0 + w->lo, (size_t)(w->hi - w->lo) * sizeof(real));
    for (int k = 0; k < extra; k++)
        w->tail[rr * extra + k] = wino_at(xr, W, c0 + w->len + k);
}

/* ph[j·js + u] = column j of tile u (u = rr·ntx + tx) for j < a, u < nr·ntx, from the rows. */
OPS_VECTOR_CLONES static void wino_split_rows(real *restrict ph, size_t js, const wino_rows *w, int m, int a, int nr,
                                              int ntx)
{
    int n = nr * ntx, extra = a - m;
    wino_split_m(ph, js, w->rows, n, m);
    for (int j = m; j < a; j++) { /* phase j − m one tile on; the last tile of a row from its tail */
        real *d = ph + (size_t)j * js;
        const real *s = ph + (size_t)(j - m) * js + 1;
#pragma omp simd
        for (int u = 0; u < n - 1; u++)
            d[u] = s[u];
        for (int rr = 0; rr < nr; rr++)
            d[rr * ntx + ntx - 1] = w->tail[rr * extra + j - m];
    }
}

/* lines[m·u + j] = q[j·js + u] + (j < a − m and u > 0 ? q[(j + m)·js + u − 1] : 0) for j < m,
 * u < n: the tiles put back side by side, each tile's first a − m columns summed with the
 * overlap of the tile before (its own first, as the adjoint's order is). */
__attribute__((always_inline)) static inline void wino_merge_m(real *restrict lines, const real *restrict q, size_t js,
                                                               int n, int m, int a)
{
    const real *restrict q0 = q, *restrict q1 = q + js;
    if (m == 2) {
        lines[0] = q0[0];
        lines[1] = q1[0];
        if (a == 2) {
#pragma omp simd
            for (int u = 1; u < n; u++) {
                lines[2 * u] = q0[u];
                lines[2 * u + 1] = q1[u];
            }
            return;
        }
        const real *restrict q2 = q + 2 * js, *restrict q3 = q + 3 * js;
#pragma omp simd
        for (int u = 1; u < n; u++) { /* a = 4: q2, q3 overlap the next tile */
            lines[2 * u] = q0[u] + q2[u - 1];
            lines[2 * u + 1] = q1[u] + q3[u - 1];
        }
        return;
    }
    const real *restrict q2 = q + 2 * js, *restrict q3 = q + 3 * js;
    lines[0] = q0[0];
    lines[1] = q1[0];
    lines[2] = q2[0];
    lines[3] = q3[0];
    if (a == 4) {
#pragma omp simd
        for (int u = 1; u < n; u++) {
            lines[4 * u] = q0[u];
            lines[4 * u + 1] = q1[u];
            lines[4 * u + 2] = q2[u];
            lines[4 * u + 3] = q3[u];
        }
        return;
    }
    const real *restrict q4 = q + 4 * js, *restrict q5 = q + 5 * js;
#pragma omp simd
    for (int u = 1; u < n; u++) { /* a = 6: q4, q5 overlap the next tile */
        lines[4 * u] = q0[u] + q4[u - 1];
        lines[4 * u + 1] = q1[u] + q5[u - 1];
        lines[4 * u + 2] = q2[u];
        lines[4 * u + 3] = q3[u];
    }
}

/* lines (nr, len = m·ntx), tail (nr, a − m): column j of tile u = rr·ntx + tx, q[j·js + u], put
 * back at column m·tx + j of line rr (past len: into the tail), the overlapping columns summed
 * (the later tile's first): the adjoint of wino_split_rows. One vector loop for all the tiles
 * of the block, then the first tile of each line (no tile before it in the line) redone. */
OPS_VECTOR_CLONES static void wino_merge_rows(real *restrict lines, real *restrict tail, const real *restrict q,
                                              size_t js, int m, int a, int nr, int ntx)
{
    int extra = a - m, len = m * ntx;
    wino_merge_m(lines, q, js, nr * ntx, m, a);
    for (int rr = 0; rr < nr; rr++) {
        int u = rr * ntx;
        for (int j = 0; j < extra; j++) {
            lines[(size_t)rr * len + j] = q[(size_t)j * js + u];
            tail[rr * extra + j] = q[(size_t)(j + m) * js + u + ntx - 1];
        }
    }
}

/* xr[x] += line[x] for lo ≤ x < hi (past len: the tail): a row of dx. */
OPS_VECTOR_CLONES static void wino_add_line(real *restrict xr, const real *restrict line, const real *restrict tail,
                                            int lo, int hi, int len)
{
    int mid = wino_min(hi, len);
#pragma omp simd
    for (int x = lo; x < mid; x++)
        xr[x] += line[x];
    for (int x = mid > lo ? mid : lo; x < hi; x++)
        xr[x] += tail[x - len];
}

/* yr[x] = line[x] + bias for x < cnt: a row of y. */
OPS_VECTOR_CLONES static void wino_store_line(real *restrict yr, const real *restrict line, real bias, int cnt)
{
#pragma omp simd
    for (int x = 0; x < cnt; x++)
        yr[x] = line[x] + bias;
}

/* ---- the data transforms of whole tiles, one tile per vector lane ----
 * Written for a constant kind (F(4×4) or F(2×2), chosen outside the loop), so that the
 * compiler folds the coefficients: zero terms drop out, ±1 and ±2 become adds. Each output is
 * the sum of its nonzero terms left to right, the terms and the order of the passes those of
 * the table-driven wino_lincomb (which the data transforms used before), so the results are
 * the same bits. Against two passes of wino_lincomb per transform (the tiles written to and
 * read back from a buffer between them, every coefficient a multiply) the transforms' share
 * of a conv 3×3 fell from 16.5 % to 12.3 % of the samples, the 3×3 layers' forward + dx by
 * 1–2 % (measured on the 2-core Zen 4, 1 and 2 threads): they are bound by the traffic to the
 * transformed-domain buffers, not by arithmetic. */

/* DST = Σ_k C · SRC over k < NI with C ≠ 0, left to right; C and SRC are expressions in k. */
#define WINO_SUM(DST, C, SRC, NI)                                                                                      \
    do {                                                                                                               \
        real acc_ = 0;                                                                                                 \
        int first_ = 1;                                                                                                \
        _Pragma("GCC unroll 6") for (int k = 0; k < (NI); k++)                                                         \
        {                                                                                                              \
            real c_ = (C);                                                                                             \
            if (c_ == 0)                                                                                               \
                continue;                                                                                              \
            real term_ = c_ * (SRC);                                                                                   \
            acc_ = first_ ? term_ : acc_ + term_;                                                                      \
            first_ = 0;                                                                                                \
        }                                                                                                              \
        (DST) = acc_;                                                                                                  \
    } while (0)

/* v[(i·a + l)·cs + t] = (Bᵀ d B)[i][l] of tile t, d[(i·WINO_MAX_A + j)·WINO_BLOCK + t] its input. */
__attribute__((always_inline)) static inline void wino_input_tiles(const wino_kind *K, real *restrict v, size_t cs,
                                                                   const real *restrict d, int n)
{
    const int a = K->a;
#pragma omp simd
    for (int t = 0; t < n; t++) {
        real x[WINO_MAX_A][WINO_MAX_A], b[WINO_MAX_A][WINO_MAX_A];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++)
#pragma GCC unroll 6
            for (int j = 0; j < a; j++)
                x[i][j] = d[(i * WINO_MAX_A + j) * WINO_BLOCK + t];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* Bᵀ down the columns */
#pragma GCC unroll 6
            for (int j = 0; j < a; j++)
                WINO_SUM(b[i][j], K->bt[i][k], x[k][j], a);
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* B along the rows */
#pragma GCC unroll 6
            for (int l = 0; l < a; l++)
                WINO_SUM(v[(size_t)(i * a + l) * cs + t], K->bt[l][k], b[i][k], a);
    }
}

/* q[(i·WINO_MAX_A + j)·WINO_BLOCK + t] = (B dV Bᵀ)[i][j] of tile t, dV at v[(i·a + l)·cs + t]. */
__attribute__((always_inline)) static inline void wino_adjoint_tiles(const wino_kind *K, real *restrict q,
                                                                     const real *restrict v, size_t cs, int n)
{
    const int a = K->a;
#pragma omp simd
    for (int t = 0; t < n; t++) {
        real x[WINO_MAX_A][WINO_MAX_A], pj[WINO_MAX_A][WINO_MAX_A];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++)
#pragma GCC unroll 6
            for (int l = 0; l < a; l++)
                x[i][l] = v[(size_t)(i * a + l) * cs + t];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* Bᵀ along the rows */
#pragma GCC unroll 6
            for (int j = 0; j < a; j++)
                WINO_SUM(pj[i][j], K->bt[k][j], x[i][k], a);
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* B down the columns */
#pragma GCC unroll 6
            for (int j = 0; j < a; j++)
                WINO_SUM(q[(i * WINO_MAX_A + j) * WINO_BLOCK + t], K->bt[k][i], pj[k][j], a);
    }
}

/* y[(b2·WINO_MAX_M + b)·WINO_BLOCK + t] = (Aᵀ Mh A)[b2][b] of tile t, Mh at mh[(i·a + l)·os + t]. */
__attribute__((always_inline)) static inline void wino_output_tiles(const wino_kind *K, real *restrict y,
                                                                    const real *restrict mh, size_t os, int n)
{
    const int a = K->a, m = K->m;
#pragma omp simd
    for (int t = 0; t < n; t++) {
        real x[WINO_MAX_A][WINO_MAX_A], rt[WINO_MAX_A][WINO_MAX_M];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++)
#pragma GCC unroll 6
            for (int l = 0; l < a; l++)
                x[i][l] = mh[(size_t)(i * a + l) * os + t];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* A along the rows */
#pragma GCC unroll 6
            for (int b = 0; b < m; b++)
                WINO_SUM(rt[i][b], K->at[b][k], x[i][k], a);
#pragma GCC unroll 6
        for (int b2 = 0; b2 < m; b2++) /* Aᵀ down the columns */
#pragma GCC unroll 6
            for (int b = 0; b < m; b++)
                WINO_SUM(y[(b2 * WINO_MAX_M + b) * WINO_BLOCK + t], K->at[b2][k], rt[k][b], a);
    }
}

/* mh[(i·a + l)·os + t] = (A dY Aᵀ)[i][l] of tile t, dY at e[(b·WINO_MAX_M + b1)·WINO_BLOCK + t]. */
__attribute__((always_inline)) static inline void wino_grad_tiles(const wino_kind *K, real *restrict mh, size_t os,
                                                                  const real *restrict e, int n)
{
    const int a = K->a, m = K->m;
#pragma omp simd
    for (int t = 0; t < n; t++) {
        real x[WINO_MAX_M][WINO_MAX_M], ce[WINO_MAX_A][WINO_MAX_M];
#pragma GCC unroll 6
        for (int b = 0; b < m; b++)
#pragma GCC unroll 6
            for (int b1 = 0; b1 < m; b1++)
                x[b][b1] = e[(b * WINO_MAX_M + b1) * WINO_BLOCK + t];
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* A down the columns */
#pragma GCC unroll 6
            for (int b1 = 0; b1 < m; b1++)
                WINO_SUM(ce[i][b1], K->at[k][i], x[k][b1], m);
#pragma GCC unroll 6
        for (int i = 0; i < a; i++) /* Aᵀ along the rows */
#pragma GCC unroll 6
            for (int l = 0; l < a; l++)
                WINO_SUM(mh[(size_t)(i * a + l) * os + t], K->at[k][l], ce[i][k], m);
    }
}

/* The four, each for the kind k (F(4×4) or F(2×2)) with its coefficients folded. */
OPS_VECTOR_CLONES static void wino_input_xform(const wino_kind *k, real *v, size_t cs, const real *d, int n)
{
    if (k == &WINO_F4)
        wino_input_tiles(&WINO_F4, v, cs, d, n);
    else
        wino_input_tiles(&WINO_F2, v, cs, d, n);
}

OPS_VECTOR_CLONES static void wino_adjoint_xform(const wino_kind *k, real *q, const real *v, size_t cs, int n)
{
    if (k == &WINO_F4)
        wino_adjoint_tiles(&WINO_F4, q, v, cs, n);
    else
        wino_adjoint_tiles(&WINO_F2, q, v, cs, n);
}

OPS_VECTOR_CLONES static void wino_output_xform(const wino_kind *k, real *y, const real *mh, size_t os, int n)
{
    if (k == &WINO_F4)
        wino_output_tiles(&WINO_F4, y, mh, os, n);
    else
        wino_output_tiles(&WINO_F2, y, mh, os, n);
}

OPS_VECTOR_CLONES static void wino_grad_xform(const wino_kind *k, real *mh, size_t os, const real *e, int n)
{
    if (k == &WINO_F4)
        wino_grad_tiles(&WINO_F4, mh, os, e, n);
    else
        wino_grad_tiles(&WINO_F2, mh, os, e, n);
}

/* V[ξ][t] = Bᵀ d B for the tiles of block B of channel ch. */
static void wino_input_block(const wino_job *J, int ch, wino_block B)
{
    const wino_plan *p = J->p;
    const ops_conv_shape *s = J->s;
    int m = p->k->m, a = p->k->a, n = B.nr * B.ntx;
    size_t cs = (size_t)J->chan * p->tc;
    real d[WINO_MAX_A][WINO_MAX_A][WINO_BLOCK]; /* d[i][j][t] = d[i][j] of tile t */
    real rows[WINO_MAX_M * WINO_BLOCK], tail[WINO_BLOCK * (WINO_R - 1)];
    int c0 = m * B.tx0 - s->pad_l;
    wino_rows w = wino_rows_begin(rows, tail, B.nr, m * B.ntx, s->W, c0);
    for (int i = 0; i < a; i++) {
        for (int rr = 0; rr < B.nr; rr++) {
            int R = B.R0 + rr, ty = R % p->th;
            const real *xp = J->src + ((size_t)(R / p->th) * J->chan + ch) * J->plane_numel;
            wino_rows_load(&w, rr, xp, s->H, s->W, m * ty + i - s->pad_t, c0, a - m);
        }
        wino_split_rows(d[i][0], WINO_BLOCK, &w, m, a, B.nr, B.ntx);
    }
    wino_input_xform(p->k, J->td + (size_t)ch * p->tc + (size_t)B.R0 * p->tw + B.tx0, cs, d[0][0], n);
}

/* dx += B dV Bᵀ for the tiles of block B of channel ch. Neighbouring windows overlap by
 * r − 1 columns and rows: the overlaps are summed in a row buffer in a fixed order, and the
 * rows of consecutive tile rows are added into dx one after the other. */
static void wino_adjoint_block(const wino_job *J, int ch, wino_block B)
{
    const wino_plan *p = J->p;
    const ops_conv_shape *s = J->s;
    int m = p->k->m, a = p->k->a, n = B.nr * B.ntx, span = m * B.ntx + WINO_R - 1;
    size_t cs = (size_t)J->chan * p->tc;
    const real *v = J->td + (size_t)ch * p->tc + (size_t)B.R0 * p->tw + B.tx0;
    real q[WINO_MAX_A][WINO_MAX_A][WINO_BLOCK]; /* q[i][j] = (B dV Bᵀ)[i][j] */
    wino_adjoint_xform(p->k, q[0][0], v, cs, n);
    int len = m * B.ntx, extra = a - m;
    real lines[WINO_MAX_A][WINO_MAX_M * WINO_BLOCK], tails[WINO_MAX_A][WINO_BLOCK * (WINO_R - 1)];
    for (int i = 0; i < a; i++) /* window row i of every tile row */
        wino_merge_rows(lines[i], tails[i], q[i][0], WINO_BLOCK, m, a, B.nr, B.ntx);
    int c0 = m * B.tx0 - s->pad_l, lo = wino_min(c0 < 0 ? -c0 : 0, span), hi = wino_min(s->W - c0, span);
    for (int rr = 0; rr < B.nr; rr++) {
        int R = B.R0 + rr, ty = R % p->th;
        real *xp = J->dst + ((size_t)(R / p->th) * J->chan + ch) * J->plane_numel;
        for (int i = 0; i < a; i++) {
            int r = m * ty + i - s->pad_t;
            if (r < 0 || r >= s->H || hi <= lo)
                continue;
            wino_add_line(xp + (size_t)r * s->W + c0, lines[i] + (size_t)rr * len, tails[i] + rr * extra, lo, hi, len);
        }
    }
}

/* y = Aᵀ Mh A (+ bias) for the tiles of block B of output channel ch; outputs past Ho, Wo
 * are dropped. */
static void wino_output_block(const wino_job *J, int ch, wino_block B)
{
    const wino_plan *p = J->p;
    const ops_conv_shape *s = J->s;
    int m = p->k->m, n = B.nr * B.ntx, Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t os = (size_t)J->chan * p->tc;
    const real *mh = J->td + (size_t)ch * p->tc + (size_t)B.R0 * p->tw + B.tx0;
    real yt[WINO_MAX_M][WINO_MAX_M][WINO_BLOCK]; /* yt[b2][b] = (Aᵀ Mh A)[b2][b] */
    real bias = J->bias ? J->bias[ch] : 0;
    wino_output_xform(p->k, yt[0][0], mh, os, n);
    int len = m * B.ntx, cnt = wino_min(len, Wo - m * B.tx0);
    real lines[WINO_MAX_M][WINO_MAX_M * WINO_BLOCK]; /* output row b2 of every tile row */
    for (int b2 = 0; b2 < m; b2++)
        wino_merge_rows(lines[b2], NULL, yt[b2][0], WINO_BLOCK, m, m, B.nr, B.ntx);
    for (int rr = 0; rr < B.nr; rr++) {
        int R = B.R0 + rr, ty = R % p->th;
        real *yp = J->dst + ((size_t)(R / p->th) * J->chan + ch) * J->plane_numel;
        for (int b2 = 0; b2 < m && m * ty + b2 < Ho; b2++) {
            real *yr = yp + (size_t)(m * ty + b2) * Wo + m * B.tx0;
            wino_store_line(yr, lines[b2] + (size_t)rr * len, bias, cnt);
        }
    }
}

/* Mh[ξ][t] = A dY Aᵀ for the tiles of block B of output channel ch, dY zero past Ho, Wo. */
static void wino_grad_block(const wino_job *J, int ch, wino_block B)
{
    const wino_plan *p = J->p;
    const ops_conv_shape *s = J->s;
    int m = p->k->m, n = B.nr * B.ntx, Ho = ops_conv_out_h(s), Wo = ops_conv_out_w(s);
    size_t os = (size_t)J->chan * p->tc;
    real e[WINO_MAX_M][WINO_MAX_M][WINO_BLOCK]; /* e[b][b'] = dY[b][b'] */
    real rows[WINO_MAX_M * WINO_BLOCK];
    int c0 = m * B.tx0;
    wino_rows w = wino_rows_begin(rows, NULL, B.nr, m * B.ntx, Wo, c0);
    for (int b = 0; b < m; b++) {
        for (int rr = 0; rr < B.nr; rr++) {
            int R = B.R0 + rr, ty = R % p->th;
            const real *gp = J->src + ((size_t)(R / p->th) * J->chan + ch) * J->plane_numel;
            wino_rows_load(&w, rr, gp, Ho, Wo, m * ty + b, c0, 0);
        }
        wino_split_rows(e[b][0], WINO_BLOCK, &w, m, m, B.nr, B.ntx);
    }
    wino_grad_xform(p->k, J->td + (size_t)ch * p->tc + (size_t)B.R0 * p->tw + B.tx0, os, e[0][0], n);
}

static void wino_do_block(const wino_job *J, int ch, wino_block B)
{
    switch (J->op) {
    case WINO_INPUT:
        wino_input_block(J, ch, B);
        break;
    case WINO_ADJOINT:
        wino_adjoint_block(J, ch, B);
        break;
    case WINO_OUTPUT:
        wino_output_block(J, ch, B);
        break;
    case WINO_GRAD:
        wino_grad_block(J, ch, B);
        break;
    }
}

/* Work item `item` of a data transform over the nb images of a chunk: one channel and a group
 * of whole images, so that every (image, channel) plane belongs to one item, which handles
 * its blocks in order (the adjoint's overlapping adds need that). */
static int wino_items(const wino_job *J, int nb, int *group)
{
    int per = WINO_BLOCK / J->p->tiles; /* whole images per block, when ≥ 1 */
    *group = per > 0 ? per : 1;
    return J->chan * ((nb + *group - 1) / *group);
}

static void wino_run_item(const wino_job *J, int nb, int item)
{
    const wino_plan *p = J->p;
    int group, groups = wino_items(J, nb, &group) / J->chan;
    int ch = item / groups, b0 = item % groups * group, b1 = wino_min(nb, b0 + group);
    if (p->tiles <= WINO_BLOCK) {
        wino_block B = {b0 * p->th, (b1 - b0) * p->th, 0, p->tw};
        wino_do_block(J, ch, B);
        return;
    }
    int ntx = wino_min(p->tw, WINO_BLOCK);                  /* tile columns per block */
    int rows = p->tw > WINO_BLOCK ? 1 : WINO_BLOCK / p->tw; /* tile rows per block */
    for (int R = b0 * p->th; R < b1 * p->th; R += rows) {   /* one image: b1 = b0 + 1 */
        int nr = wino_min(rows, b1 * p->th - R);
        for (int tx = 0; tx < p->tw; tx += ntx) {
            wino_block B = {R, nr, tx, wino_min(ntx, p->tw - tx)};
            wino_do_block(J, ch, B);
        }
    }
}

/* A data transform over the nb images of a chunk; its items shared by the threads when
 * `parallel`, else run by the calling thread. */
static void wino_run(const wino_job *J, int nb, int parallel)
{
    int group, items = wino_items(J, nb, &group);
    if (!parallel) {
        for (int item = 0; item < items; item++)
            wino_run_item(J, nb, item);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int item = 0; item < items; item++)
        wino_run_item(J, nb, item);
}

/* A worker's chunk buffers in the scratch: after U (a², O, C), per slot dU (a², O, C),
 * V (a², C, tc) and Mh (a², O, tc). */
typedef struct {
    real *dU, *V, *Mh;
} wino_slot;

static wino_slot wino_slot_of(real *scratch, const wino_plan *p, const ops_conv_shape *s, int w)
{
    size_t oc = (size_t)s->O * s->C, each = (size_t)p->n * (oc + (size_t)p->tc * ((size_t)s->C + s->O));
    wino_slot t;
    t.dU = scratch + (size_t)p->n * oc + (size_t)w * each;
    t.V = t.dU + (size_t)p->n * oc;
    t.Mh = t.V + (size_t)p->n * s->C * p->tc;
    return t;
}

/* ---- the passes ---- */

typedef struct {
    const ops_conv_shape *s;
    const wino_plan *p;
    const real *x, *w, *b, *dy, *U; /* what the pass reads */
    real *y, *dx;                   /* what it writes; dx, dU skipped when NULL */
    int want_dw;
    const ops_sink_t *sparse; /* a sparse weight gradient instead of dU (want_dw set too) */
    int rows;                 /* its block height R */
} wino_pass;

/* Forward of chunk c in slot t; `parallel`: share each phase among the threads. */
static void wino_forward_chunk(const wino_pass *P, wino_slot t, int c, int parallel)
{
    const ops_conv_shape *s = P->s;
    const wino_plan *p = P->p;
    int b0 = c * p->nb, nb = wino_min(p->nb, s->B - b0), n = nb * p->tiles, C = s->C, O = s->O;
    if (nb <= 0)
        return;
    size_t oc = (size_t)O * C, hw = (size_t)s->H * s->W, ohw = (size_t)ops_conv_out_h(s) * ops_conv_out_w(s);
    wino_job in = {s, p, WINO_INPUT, C, hw, P->x + b0 * C * hw, NULL, t.V, NULL};
    wino_run(&in, nb, parallel);
    /* Mh[ξ] (O, n) = U[ξ] (O, C) · V[ξ] (C, n) */
    OPS_NAME(ops_gemm_batch)(p->n, 0, 0, O, n, C, 1, P->U, C, oc, t.V, p->tc, (size_t)C * p->tc, 0, t.Mh, p->tc,
                             (size_t)O * p->tc);
    wino_job out = {s, p, WINO_OUTPUT, O, ohw, NULL, P->y + b0 * O * ohw, t.Mh, P->b};
    wino_run(&out, nb, parallel);
}

/* The sparse weight gradient's buffers in a slot's dU: accumulator (nnz), dU_R (a², R, C),
 * dW tile (R, C, 3, 3). */
static real *wino_sparse_acc(wino_slot t) { return t.dU; }

/* acc += the tile of every block with selected entries, from chunk buffers Mh and V of n
 * columns (the sparse branch of the dW step). */
static void wino_sparse_chunk(const wino_pass *P, wino_slot t, int n)
{
    const ops_conv_shape *s = P->s;
    const wino_plan *p = P->p;
    const ops_sink_t *dw = P->sparse;
    int64_t K = (int64_t)s->C * WINO_R * WINO_R;
    real *acc = wino_sparse_acc(t), *blk = acc + dw->nnz, *tile = blk + (size_t)p->n * P->rows * s->C;
    for (int o0 = 0; o0 < s->O; o0 += P->rows) {
        int r = wino_min(P->rows, s->O - o0);
        int64_t k0 = ops_index_lower_bound(dw->index, dw->nnz, o0 * K);
        int64_t k1 = ops_index_lower_bound(dw->index, dw->nnz, (o0 + r) * K);
        if (k0 == k1)
            continue;
        size_t rc = (size_t)r * s->C; /* dU_R[ξ] (r, C) = Mh[ξ][o0 : o0 + r] (r, n) · V[ξ]ᵀ (n, C) */
        OPS_NAME(ops_gemm_batch)(p->n, 0, 1, r, s->C, n, 1, t.Mh + (size_t)o0 * p->tc, p->tc, (size_t)s->O * p->tc,
                                 t.V, p->tc, (size_t)s->C * p->tc, 0, blk, s->C, rc);
        memset(tile, 0, rc * WINO_R * WINO_R * sizeof(real));
        wino_filter_grad(tile, blk, rc, p);
        for (int64_t k = k0; k < k1; k++)
            acc[k] += tile[dw->index[k] - o0 * K];
    }
}

/* Backward of chunk c in slot t; `first`: the worker's first chunk (dU is set, not added). */
static void wino_backward_chunk(const wino_pass *P, wino_slot t, int c, int first, int parallel)
{
    const ops_conv_shape *s = P->s;
    const wino_plan *p = P->p;
    int b0 = c * p->nb, nb = wino_min(p->nb, s->B - b0), n = nb * p->tiles, C = s->C, O = s->O;
    if (nb <= 0)
        return;
    size_t oc = (size_t)O * C, hw = (size_t)s->H * s->W, ohw = (size_t)ops_conv_out_h(s) * ops_conv_out_w(s);
    wino_job gr = {s, p, WINO_GRAD, O, ohw, P->dy + b0 * O * ohw, NULL, t.Mh, NULL};
    wino_run(&gr, nb, parallel);
    if (P->want_dw) { /* dU[ξ] (O, C) (+)= Mh[ξ] (O, n) · V[ξ]ᵀ (n, C) */
        wino_job in = {s, p, WINO_INPUT, C, hw, P->x + b0 * C * hw, NULL, t.V, NULL};
        wino_run(&in, nb, parallel);
        if (P->sparse)
            wino_sparse_chunk(P, t, n);
        else
            OPS_NAME(ops_gemm_batch)(p->n, 0, 1, O, C, n, 1, t.Mh, p->tc, (size_t)O * p->tc, t.V, p->tc,
                                     (size_t)C * p->tc, first ? 0 : 1, t.dU, C, oc);
    }
    if (P->dx) { /* dV[ξ] (C, n) = U[ξ]ᵀ (C, O) · Mh[ξ] (O, n), into V's buffer */
        OPS_NAME(ops_gemm_batch)(p->n, 1, 0, C, n, O, 1, P->U, C, oc, t.Mh, p->tc, (size_t)O * p->tc, 0, t.V, p->tc,
                                 (size_t)C * p->tc);
        wino_job adj = {s, p, WINO_ADJOINT, C, hw, NULL, P->dx + b0 * C * hw, t.V, NULL};
        wino_run(&adj, nb, parallel);
    }
}

/* Runs every chunk of a pass: by the workers, each its chunks w, w + workers, ... in its own
 * slot, or (one worker) in turn with each phase shared. */
static void wino_chunks(const wino_pass *P, real *scratch, int backward)
{
    const wino_plan *p = P->p;
    if (p->workers == 1) {
        wino_slot t = wino_slot_of(scratch, p, P->s, 0);
        for (int c = 0; c < p->chunks; c++)
            if (backward)
                wino_backward_chunk(P, t, c, c == 0, 1);
            else
                wino_forward_chunk(P, t, c, 1);
        return;
    }
    int blas = ops_blas_threads_single();
#pragma omp parallel num_threads(p->workers)
    {
        int w = omp_get_thread_num();
        wino_slot t = wino_slot_of(scratch, p, P->s, w);
        for (int c = w; c < p->chunks; c += p->workers)
            if (backward)
                wino_backward_chunk(P, t, c, c == w, 0);
            else
                wino_forward_chunk(P, t, c, 0);
    }
    ops_blas_threads_restore(blas);
}

void OPS_NAME(conv_winograd_forward)(real *y, const real *x, const real *w, const real *b, const ops_conv_shape *s,
                                     real *scratch)
{
    wino_plan p = wino_plan_of(s);
    wino_filter_transform(scratch, w, (size_t)s->O * s->C, &p);
    wino_pass P = {s, &p, x, w, b, NULL, scratch, y, NULL, 0, NULL, 0};
    wino_chunks(&P, scratch, 0);
}

/* The workers that had chunks (the first ones; a worker w owns chunks w, w + workers, ...). */
static int wino_workers_used(const wino_plan *p, const ops_conv_shape *s)
{
    int used = 1;
    while (used < p->workers && used * p->nb < s->B)
        used++;
    return used;
}

/* dU of the workers that had chunks, summed into worker 0's in worker order. */
static void wino_sum_slots(real *scratch, const wino_plan *p, const ops_conv_shape *s)
{
    size_t len = (size_t)p->n * s->O * s->C;
    real *d0 = wino_slot_of(scratch, p, s, 0).dU;
    for (int w = 1; w < wino_workers_used(p, s); w++) {
        const real *dw = wino_slot_of(scratch, p, s, w).dU;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < len; i++)
            d0[i] += dw[i];
    }
}

/* sink values += the accumulators of the workers that had chunks, in worker order. */
static void wino_sparse_sum(const ops_sink_t *dw, real *scratch, const wino_plan *p, const ops_conv_shape *s)
{
    int used = wino_workers_used(p, s);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < dw->nnz; k++) {
        real v = 0;
        for (int w = 0; w < used; w++)
            v += wino_sparse_acc(wino_slot_of(scratch, p, s, w))[k];
        dw->values[k] += v;
    }
}

void OPS_NAME(conv_winograd_backward)(real *dx, const ops_sink_t *dw, const real *dy, const real *x, const real *w,
                                      const ops_conv_shape *s, real *scratch)
{
    wino_plan p = wino_plan_of(s);
    size_t oc = (size_t)s->O * s->C;
    int want_dw = ops_sink_wanted(dw), sparse = want_dw && dw->kind == OPS_SINK_SPARSE;
    if (!dx && !want_dw)
        return;
    if (dx)
        wino_filter_transform(scratch, w, oc, &p);
    wino_pass P = {s, &p, x, w, NULL, dy, scratch, NULL, dx, want_dw, sparse ? dw : NULL, 0};
    if (sparse) {
        P.rows = wino_sparse_rows(&p, s);
        ops_sparse_dw_tile_note((int64_t)P.rows * s->C * WINO_R * WINO_R);
        for (int t = 0; t < p.workers; t++)
            memset(wino_sparse_acc(wino_slot_of(scratch, &p, s, t)), 0, (size_t)dw->nnz * sizeof(real));
    }
    wino_chunks(&P, scratch, 1);
    if (sparse)
        wino_sparse_sum(dw, scratch, &p, s);
    else if (want_dw) {
        wino_sum_slots(scratch, &p, s);
        wino_filter_grad(dw->dense, wino_slot_of(scratch, &p, s, 0).dU, oc, &p);
    }
}
