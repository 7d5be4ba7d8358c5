/* elementwise.c — the shape plumbing between layers: channel concat (skip connections),
 * per-channel broadcast add (time embedding into a ResNet block), last-two-axes transpose
 * (NCHW ↔ tokens for attention), and plain vector add / accumulate / scale / zero. */
#include <string.h>

#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(concat_channels_forward)(real *y, const real *a, const real *b, int B, int C1, int C2, int HW)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    size_t na = (size_t)C1 * HW, nb = (size_t)C2 * HW;
#pragma omp parallel for schedule(static)
    for (int bi = 0; bi < B; bi++) {
        real *yb = y + (size_t)bi * (na + nb);
        memcpy(yb, a + (size_t)bi * na, na * sizeof(real));
        memcpy(yb + na, b + (size_t)bi * nb, nb * sizeof(real));
    }
}

void OPS_NAME(concat_channels_backward)(real *da, real *db, const real *dy, int B, int C1, int C2, int HW)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    size_t na = (size_t)C1 * HW, nb = (size_t)C2 * HW;
#pragma omp parallel for schedule(static)
    for (int bi = 0; bi < B; bi++) {
        const real *yb = dy + (size_t)bi * (na + nb);
        if (da)
            for (size_t i = 0; i < na; i++)
                da[(size_t)bi * na + i] += yb[i];
        if (db)
            for (size_t i = 0; i < nb; i++)
                db[(size_t)bi * nb + i] += yb[na + i];
    }
}

void OPS_NAME(add_channel_bias_forward)(real *h, const real *t, int B, int C, int HW)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        real v = t[bc], *row = h + (size_t)bc * HW;
        for (int p = 0; p < HW; p++)
            row[p] += v;
    }
}

void OPS_NAME(add_channel_bias_backward)(real *dt, const real *dh, int B, int C, int HW)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        dt[bc] += ops_sum(dh + (size_t)bc * HW, HW);
    }
}

void OPS_NAME(ops_add)(real *y, const real *a, const real *b, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void OPS_NAME(ops_accumulate)(real *y, const real *x, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

void OPS_NAME(ops_scale)(real *y, real s, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        y[i] *= s;
}

/* Below this many elements a zeroing runs on the calling thread (waking threads costs more). */
#define OPS_ZERO_SPLIT 65536

void OPS_NAME(ops_zero)(real *y, int64_t n)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    if (n < OPS_ZERO_SPLIT) {
        memset(y, 0, (size_t)n * sizeof(real));
        return;
    }
    int64_t blocks = (n + OPS_ZERO_SPLIT - 1) / OPS_ZERO_SPLIT;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t i0 = b * OPS_ZERO_SPLIT, len = n - i0 < OPS_ZERO_SPLIT ? n - i0 : OPS_ZERO_SPLIT;
        memset(y + i0, 0, (size_t)len * sizeof(real));
    }
}

/* Blocked so that both the rows read and the rows written stay in cache. */
#define TRANSPOSE_TILE 32

void OPS_NAME(transpose_forward)(real *y, const real *x, int B, int R, int Cc)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    int tr = (R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, tc = (Cc + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < (int64_t)B * tr * tc; t++) {
        int b = (int)(t / ((int64_t)tr * tc)), r0 = (int)(t / tc % tr) * TRANSPOSE_TILE;
        int c0 = (int)(t % tc) * TRANSPOSE_TILE;
        const real *xb = x + (size_t)b * R * Cc; /* (R, Cc) */
        real *yb = y + (size_t)b * R * Cc;       /* (Cc, R) */
        int r1 = r0 + TRANSPOSE_TILE < R ? r0 + TRANSPOSE_TILE : R;
        int c1 = c0 + TRANSPOSE_TILE < Cc ? c0 + TRANSPOSE_TILE : Cc;
        for (int c = c0; c < c1; c++)
            for (int r = r0; r < r1; r++)
                yb[(size_t)c * R + r] = xb[(size_t)r * Cc + c];
    }
}

/* dx (B, R, Cc) += transpose of dy (B, Cc, R). */
void OPS_NAME(transpose_backward)(real *dx, const real *dy, int B, int R, int Cc)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    int tr = (R + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE, tc = (Cc + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < (int64_t)B * tr * tc; t++) {
        int b = (int)(t / ((int64_t)tr * tc)), r0 = (int)(t / tc % tr) * TRANSPOSE_TILE;
        int c0 = (int)(t % tc) * TRANSPOSE_TILE;
        real *xb = dx + (size_t)b * R * Cc;
        const real *yb = dy + (size_t)b * R * Cc;
        int r1 = r0 + TRANSPOSE_TILE < R ? r0 + TRANSPOSE_TILE : R;
        int c1 = c0 + TRANSPOSE_TILE < Cc ? c0 + TRANSPOSE_TILE : Cc;
        for (int r = r0; r < r1; r++)
            for (int c = c0; c < c1; c++)
                xb[(size_t)r * Cc + c] += yb[(size_t)c * R + r];
    }
}
