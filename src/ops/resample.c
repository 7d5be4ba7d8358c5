/* resample.c — nearest-neighbour 2× upsampling (F.interpolate(scale_factor=2, mode="nearest"))
 * and its adjoint, which sums each 2×2 output block back into its source pixel. */
#include "ops/real.h"

void OPS_NAME(upsample2x_forward)(real *y, const real *x, int B, int C, int H, int W)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    int W2 = 2 * W;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const real *xp = x + (size_t)bc * H * W; /* (H, W) */
        real *yp = y + (size_t)bc * 4 * H * W;   /* (2H, 2W) */
        for (int i = 0; i < H; i++) {
            real *r0 = yp + (size_t)(2 * i) * W2, *r1 = r0 + W2;
            for (int j = 0; j < W; j++) {
                real v = xp[(size_t)i * W + j];
                r0[2 * j] = r0[2 * j + 1] = r1[2 * j] = r1[2 * j + 1] = v;
            }
        }
    }
}

void OPS_NAME(upsample2x_backward)(real *dx, const real *dy, int B, int C, int H, int W)
{
    OPS_PROF_SCOPE(OPS_PROF_ELEM);
    int W2 = 2 * W;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        real *xp = dx + (size_t)bc * H * W;            /* (H, W) */
        const real *yp = dy + (size_t)bc * 4 * H * W; /* (2H, 2W) */
        for (int i = 0; i < H; i++) {
            const real *r0 = yp + (size_t)(2 * i) * W2, *r1 = r0 + W2;
            for (int j = 0; j < W; j++)
                xp[(size_t)i * W + j] += (r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]);
        }
    }
}
