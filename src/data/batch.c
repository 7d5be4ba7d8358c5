/* batch.c — epoch permutations, the resumable cursor over them, and batch gathering. */
#include "data/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"

/* perm (n) := the permutation of `epoch`: Fisher–Yates from the identity. */
static void order_permute(data_order *o)
{
    sara_rng r;
    rng_seed_stream(&r, o->seed, (uint64_t)o->epoch);
    for (int64_t i = 0; i < o->n; i++)
        o->perm[i] = i;
    for (int64_t i = o->n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
        int64_t t = o->perm[i];
        o->perm[i] = o->perm[j];
        o->perm[j] = t;
    }
}

sara_status data_order_init(data_order *o, int64_t n, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    if (n <= 0)
        return sara_fail(SARA_ERR_INVALID, "data order: dataset size %lld must be positive", (long long)n);
    o->perm = malloc((size_t)n * sizeof *o->perm);
    if (!o->perm)
        return sara_fail(SARA_ERR_NOMEM, "data order: out of memory for %lld indices", (long long)n);
    o->n = n;
    o->seed = seed;
    order_permute(o);
    return SARA_OK;
}

sara_status data_order_restore(data_order *o, int64_t epoch, int64_t pos)
{
    if (epoch < 0 || pos < 0 || pos > o->n)
        return sara_fail(SARA_ERR_INVALID, "data order: cannot resume at epoch %lld position %lld (size %lld)",
                         (long long)epoch, (long long)pos, (long long)o->n);
    if (epoch != o->epoch) {
        o->epoch = epoch;
        order_permute(o);
    }
    o->pos = pos;
    return SARA_OK;
}

void data_order_next(data_order *o, int64_t *idx, int B)
{
    for (int b = 0; b < B; b++) {
        /* Advance lazily, so a saved (epoch, n) and (epoch + 1, 0) continue identically. */
        if (o->pos == o->n) {
            o->epoch++;
            o->pos = 0;
            order_permute(o);
        }
        idx[b] = o->perm[o->pos++];
    }
}

void data_order_free(data_order *o)
{
    free(o->perm);
    memset(o, 0, sizeof *o);
}

void dataset_gather(const sara_dataset *d, const int64_t *idx, int B, float *x, int64_t *labels)
{
    size_t per = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
    for (int b = 0; b < B; b++) {
        memcpy(x + (size_t)b * per, d->images + (size_t)idx[b] * per, per * sizeof *x);
        if (labels)
            labels[b] = d->labels[idx[b]];
    }
}
