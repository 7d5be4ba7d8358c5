/* unet_pool.c — the UNet's one activation arena: a first-fit allocator with free over a single
 * block, planned before use. The layer code takes and gives back buffers as their lifetimes
 * demand (a skip connection lives from the down path to the up path, a ResNet block's working
 * buffers only while it runs), which a bump arena cannot express. The same code runs first in
 * planning mode — sizes only, no memory — and the peak it reaches is the arena's size; the
 * real pass then makes the same calls in the same order and so gets the same offsets, which
 * therefore always fit. Placement is deterministic (lowest gap that fits), never data-dependent.
 *
 * In planning mode the addresses handed out are base-relative numbers that only identify a
 * block: nothing may read or write through them (every kernel call is skipped while planning). */
#include <string.h>

#include "model/unet_internal.h"

/* Planning-mode addresses start here: non-NULL (NULL means "absent" to the layer code) and
 * 64-byte aligned like the real ones. Never dereferenced. */
#define POOL_PLAN_BASE ((uintptr_t)4096)

static uintptr_t pool_origin(const unet_pool *p)
{
    return p->planning ? POOL_PLAN_BASE : (uintptr_t)p->base;
}

static void pool_count(unet_pool *p, int tag, int64_t delta)
{
    p->tag_live[tag] = (size_t)((int64_t)p->tag_live[tag] + delta);
}

void unet_pool_begin(unet_pool *p, int planning)
{
    p->planning = planning;
    p->n_live = 0;
    p->tag = POOL_ACT;
    memset(p->tag_live, 0, sizeof p->tag_live);
    if (planning) {
        p->peak = 0;
        p->failed = 0;
        memset(p->tag_at_peak, 0, sizeof p->tag_at_peak);
    }
}

float *unet_take(unet_pool *p, int64_t n)
{
    size_t k = ((size_t)n + ARENA_ALIGN_FLOATS - 1) / ARENA_ALIGN_FLOATS * ARENA_ALIGN_FLOATS;
    k = k ? k : ARENA_ALIGN_FLOATS; /* every block has an address of its own */
    if (p->n_live >= UNET_POOL_BLOCKS) {
        p->failed = 1; /* planning reports it; a real pass was planned, so never gets here */
        return NULL;
    }
    /* lowest gap between live blocks (sorted by offset) that holds k floats */
    size_t off = 0;
    int at = 0;
    for (; at < p->n_live; at++) {
        if (p->live[at].off - off >= k)
            break;
        off = p->live[at].off + p->live[at].n;
    }
    if (!p->planning && off + k > p->cap) {
        p->failed = 1; /* cannot happen after planning: same calls, same offsets */
        return NULL;
    }
    memmove(&p->live[at + 1], &p->live[at], (size_t)(p->n_live - at) * sizeof p->live[0]);
    p->live[at] = (pool_block){.off = off, .n = k, .tag = p->tag};
    p->n_live++;
    pool_count(p, p->tag, (int64_t)k);
    if (p->planning && off + k > p->peak) {
        p->peak = off + k;
        memcpy(p->tag_at_peak, p->tag_live, sizeof p->tag_at_peak);
    }
    return (float *)(pool_origin(p) + off * sizeof(float));
}

float *unet_take_zero(unet_pool *p, int64_t n)
{
    float *q = unet_take(p, n);
    if (q && !p->planning)
        ops_zero(q, n);
    return q;
}

void unet_give(unet_pool *p, const float *q)
{
    if (!q)
        return;
    size_t off = ((uintptr_t)q - pool_origin(p)) / sizeof(float);
    int lo = 0, hi = p->n_live - 1;
    while (lo <= hi) { /* binary search: blocks are sorted by offset */
        int mid = (lo + hi) / 2;
        if (p->live[mid].off == off) {
            pool_count(p, p->live[mid].tag, -(int64_t)p->live[mid].n);
            memmove(&p->live[mid], &p->live[mid + 1], (size_t)(p->n_live - mid - 1) * sizeof p->live[0]);
            p->n_live--;
            return;
        }
        if (p->live[mid].off < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    p->failed = 1; /* not a live block: a bookkeeping bug, reported by the planning pass */
}
