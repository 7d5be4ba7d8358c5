/* mask.c — selecting M0; see mask.h for the order and the three selections. Works in O(entries)
 * time and a fixed 512 kB histogram besides the result: the N-th smallest |p| is found by a two-pass
 * radix select over the fp32 bit patterns of |p| (monotonic in |p| for non-negative floats), and
 * every selection is made twice by the same deterministic rule — once to count per tensor, once
 * to fill the allocated index lists. */
#include "peft/mask.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"

#define RADIX_BITS 16
#define RADIX_BINS (1 << RADIX_BITS)
#define ABS_MASK 0x7fffffffu

/* |x| as its fp32 bit pattern: ordered like |x|, NaN above +inf, -0 equal to +0. */
static inline uint32_t abs_key(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b & ABS_MASK;
}

sara_status mask_targets(const param_table *p, const char *targets, uint8_t *is_target)
{
    if (!targets || !*targets)
        return sara_fail(SARA_ERR_INVALID, "targets: empty (use 'all', 'weights' or a name substring)");
    int any = 0;
    for (int i = 0; i < p->count; i++) {
        const param_entry *e = &p->entries[i];
        if (!strcmp(targets, "all"))
            is_target[i] = 1;
        else if (!strcmp(targets, "weights"))
            is_target[i] = e->ndim >= 2;
        else
            is_target[i] = strstr(e->name, targets) != NULL;
        any |= is_target[i];
    }
    if (!any)
        return sara_fail(SARA_ERR_INVALID, "targets '%s': no parameter tensor matches", targets);
    return SARA_OK;
}

/* The c-th smallest key (1 ≤ c ≤ number of target entries) and how many keys are below it. */
static sara_status kth_key(const param_table *p, const uint8_t *tg, int64_t c, uint32_t *key, int64_t *below)
{
    int64_t *hist = malloc(RADIX_BINS * sizeof *hist); /* (RADIX_BINS) */
    if (!hist)
        return sara_fail(SARA_ERR_NOMEM, "out of memory selecting trainable entries");
    int64_t before = 0;
    uint32_t hi = 0, lo = 0;
    for (int pass = 0; pass < 2; pass++) { /* high 16 bits, then low 16 bits within that bin */
        memset(hist, 0, RADIX_BINS * sizeof *hist);
        for (int i = 0; i < p->count; i++) {
            if (!tg[i])
                continue;
            const float *x = params_ptr(p, i);
            for (int64_t e = 0; e < p->entries[i].numel; e++) {
                uint32_t k = abs_key(x[e]);
                if (pass == 0)
                    hist[k >> RADIX_BITS]++;
                else if (k >> RADIX_BITS == hi)
                    hist[k & (RADIX_BINS - 1)]++;
            }
        }
        uint32_t b = 0;
        while (before + hist[b] < c)
            before += hist[b++];
        if (pass == 0)
            hi = b;
        else
            lo = b;
    }
    free(hist);
    *key = hi << RADIX_BITS | lo;
    *below = before;
    return SARA_OK;
}

typedef enum { PICK_SMALLEST, PICK_LARGEST, PICK_RANDOM } pick_kind;

/* The rule that decides entry by entry, in (tensor, index) order. */
typedef struct {
    pick_kind kind;
    uint32_t key;        /* smallest/largest: entries with a smaller key are taken ... */
    int64_t quota;       /* ... and the first `quota` with this key */
    sara_rng rng;        /* random */
    int64_t need, remaining;
} picker;

static int pick(picker *pk, uint32_t k)
{
    if (pk->kind == PICK_RANDOM) {
        int take = (int64_t)rng_below(&pk->rng, (uint64_t)pk->remaining) < pk->need;
        pk->remaining--;
        pk->need -= take;
        return take;
    }
    int small = k < pk->key;
    if (k == pk->key && pk->quota > 0) { /* ties at the boundary: the first ones in (tensor, index) order */
        pk->quota--;
        small = 1;
    }
    return pk->kind == PICK_SMALLEST ? small : !small;
}

/* One pass over the targets: counts per tensor (fill = 0) or writes the indices (fill = 1). */
static void run_pass(const param_table *p, const uint8_t *tg, picker pk, sara_mask *m, int fill)
{
    for (int i = 0; i < p->count; i++) {
        if (!tg[i])
            continue;
        const float *x = params_ptr(p, i);
        int64_t n = 0;
        for (int64_t e = 0; e < p->entries[i].numel; e++)
            if (pick(&pk, abs_key(x[e]))) {
                if (fill)
                    m->index[i][n] = e;
                n++;
            }
        if (!fill)
            m->nnz[i] = n;
    }
}

/* The smallest-c rule: key K of the c-th entry and how many entries with key K to take. */
static sara_status smallest_picker(const param_table *p, const uint8_t *tg, int64_t c, picker *pk)
{
    memset(pk, 0, sizeof *pk);
    pk->kind = PICK_SMALLEST;
    if (c == 0)
        return SARA_OK; /* key 0, quota 0: nothing is taken */
    int64_t below = 0;
    SARA_TRY(kth_key(p, tg, c, &pk->key, &below));
    pk->quota = c - below;
    return SARA_OK;
}

/* The smallest selection (as a rule), its count c and the progressive step's θ. */
static sara_status select_smallest(const param_table *p, const uint8_t *tg, const method_options *o, int64_t total,
                                   picker *pk, int64_t *c, float *theta)
{
    if (o->budget < 0)
        return sara_fail(SARA_ERR_INVALID, "budget must be ≥ 0 (0: use the threshold), got %lld", (long long)o->budget);
    if (o->budget > 0) {
        if (o->budget > total)
            return sara_fail(SARA_ERR_INVALID, "budget %lld exceeds the %lld entries of the target tensors",
                             (long long)o->budget, (long long)total);
        *c = o->budget;
        SARA_TRY(smallest_picker(p, tg, *c, pk));
        float kth;
        memcpy(&kth, &pk->key, sizeof kth);
        *theta = nextafterf(kth, INFINITY);
        return SARA_OK;
    }
    if (!(o->threshold > 0) || !isfinite(o->threshold))
        return sara_fail(SARA_ERR_INVALID, "threshold must be a positive number, got %g", o->threshold);
    *theta = (float)o->threshold;
    /* |p| < θ is key < key(θ): every key below it, no tie quota. */
    memset(pk, 0, sizeof *pk);
    pk->kind = PICK_SMALLEST;
    pk->key = abs_key(*theta);
    int64_t n = 0;
    for (int i = 0; i < p->count; i++) {
        if (!tg[i])
            continue;
        const float *x = params_ptr(p, i);
        for (int64_t e = 0; e < p->entries[i].numel; e++)
            n += abs_key(x[e]) < pk->key;
    }
    *c = n;
    return SARA_OK;
}

sara_status mask_select(sara_mask *out, const param_table *p, const uint8_t *tg, const method_options *o)
{
    memset(out, 0, sizeof *out);
    const char *sel = o->selection ? o->selection : "smallest";
    pick_kind kind;
    if (!strcmp(sel, "smallest"))
        kind = PICK_SMALLEST;
    else if (!strcmp(sel, "largest"))
        kind = PICK_LARGEST;
    else if (!strcmp(sel, "random"))
        kind = PICK_RANDOM;
    else
        return sara_fail(SARA_ERR_INVALID, "selection '%s': expected smallest, largest or random", sel);
    int64_t total = 0, c = 0;
    for (int i = 0; i < p->count; i++)
        total += tg[i] ? p->entries[i].numel : 0;
    picker pk;
    SARA_TRY(select_smallest(p, tg, o, total, &pk, &c, &out->threshold));
    if (kind == PICK_LARGEST) { /* the complement of the smallest total − c */
        SARA_TRY(smallest_picker(p, tg, total - c, &pk));
        pk.kind = PICK_LARGEST;
    } else if (kind == PICK_RANDOM) {
        memset(&pk, 0, sizeof pk);
        pk.kind = PICK_RANDOM;
        rng_seed_stream(&pk.rng, o->seed, MASK_RNG_STREAM);
        pk.need = c;
        pk.remaining = total;
    }
    out->count = p->count;
    out->nnz = calloc((size_t)p->count, sizeof *out->nnz);
    out->index = calloc((size_t)p->count, sizeof *out->index);
    if (!out->nnz || !out->index) {
        mask_free(out);
        return sara_fail(SARA_ERR_NOMEM, "out of memory selecting trainable entries");
    }
    run_pass(p, tg, pk, out, 0);
    for (int i = 0; i < p->count; i++) {
        out->total += out->nnz[i];
        if (out->nnz[i] && !(out->index[i] = malloc((size_t)out->nnz[i] * sizeof(int64_t)))) {
            mask_free(out);
            return sara_fail(SARA_ERR_NOMEM, "out of memory for the indices of %s", p->entries[i].name);
        }
    }
    run_pass(p, tg, pk, out, 1);
    return SARA_OK;
}

void mask_free(sara_mask *m)
{
    for (int i = 0; m->index && i < m->count; i++)
        free(m->index[i]);
    free(m->index);
    free(m->nnz);
    memset(m, 0, sizeof *m);
}
