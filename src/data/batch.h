/* batch.h — the deterministic, resumable order in which training visits a dataset, and the
 * gather of one batch. Epoch e visits a Fisher–Yates permutation driven by
 * rng_seed_stream(seed, e), so the whole order is a function of (n, seed) and a checkpoint that
 * stores (epoch, pos) resumes it exactly. */
#ifndef SARA_DATA_BATCH_H
#define SARA_DATA_BATCH_H

#include <stdint.h>

#include "data/dataset.h"
#include "sara/sara.h"

typedef struct {
    int64_t n;        /* dataset size */
    uint64_t seed;
    int64_t epoch;    /* epoch whose permutation perm holds */
    int64_t pos;      /* next position in perm, in [0, n]; n means the epoch is used up */
    int64_t *perm;    /* (n) */
} data_order;

/* Starts at epoch 0, position 0. n must be positive. */
sara_status data_order_init(data_order *o, int64_t n, uint64_t seed);
/* Jumps to (epoch, pos), recomputing that epoch's permutation; pos in [0, n]. */
sara_status data_order_restore(data_order *o, int64_t epoch, int64_t pos);
/* Fills idx (B) with the next B indices, moving into new epochs as each one is used up. */
void data_order_next(data_order *o, int64_t *idx, int B);
void data_order_free(data_order *o);

/* Copies the images and labels of idx (B) into x (B, C, H, W) and labels (B). */
void dataset_gather(const sara_dataset *d, const int64_t *idx, int B, float *x, int64_t *labels);

#endif
