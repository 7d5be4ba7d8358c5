/* pool_loss.c — the ops of a classifier head: global average pooling over the spatial axes and
 * softmax cross-entropy over class logits (mean over the batch, like torch.nn.CrossEntropyLoss
 * with its default reduction). Neither is used by the UNet; the project's Fashion-MNIST
 * classifier (src/eval) trains with them. */
#include "ops/real.h"
#include "ops/ops_internal.h"

void OPS_NAME(global_avgpool_forward)(real *y, const real *x, int B, int C, int HW)
{
    real inv = (real)1 / (real)HW;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++)
        y[bc] = ops_sum(x + (size_t)bc * HW, HW) * inv;
}

void OPS_NAME(global_avgpool_backward)(real *dx, const real *dy, int B, int C, int HW)
{
    real inv = (real)1 / (real)HW;
#pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        real g = dy[bc] * inv, *row = dx + (size_t)bc * HW;
        for (int p = 0; p < HW; p++)
            row[p] += g;
    }
}

/* Softmax of one row, shifted by its maximum so that exp never overflows; returns log Σ exp
 * of the shifted logits (log-sum-exp = max + that). */
static real softmax_row(real *p, const real *z, int K, real *max_out)
{
    real m = z[0];
    for (int k = 1; k < K; k++)
        m = z[k] > m ? z[k] : m;
    real s = 0;
    for (int k = 0; k < K; k++) {
        p[k] = r_exp(z[k] - m);
        s += p[k];
    }
    for (int k = 0; k < K; k++)
        p[k] /= s;
    *max_out = m;
    return r_log(s);
}

real OPS_NAME(softmax_xent_forward)(real *probs, const real *logits, const int64_t *labels, int N, int K)
{
    /* One thread, rows in order: a batch of class logits is far too little work for a parallel
     * region, and the sum then never depends on the thread count. */
    real total = 0;
    for (int n = 0; n < N; n++) {
        real m;
        real lse = softmax_row(probs + (size_t)n * K, logits + (size_t)n * K, K, &m);
        /* max − z_label first: exact for nearby values, where m + lse would round at |m|'s scale. */
        total += (m - logits[(size_t)n * K + labels[n]]) + lse;
    }
    return total / (real)N;
}

void OPS_NAME(softmax_xent_backward)(real *dlogits, const real *probs, const int64_t *labels, int N, int K,
                                     real dloss)
{
    real g = dloss / (real)N;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            dlogits[(size_t)n * K + k] += g * (probs[(size_t)n * K + k] - (real)(k == labels[n]));
}
