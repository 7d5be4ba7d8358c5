/* rng.c — xoshiro256** (Blackman & Vigna) and the distributions built on it. */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(sara_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

void rng_seed_stream(sara_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t mix = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    rng_seed(r, splitmix64(&mix));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next_u64(sara_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(sara_rng *r) { return (double)(rng_next_u64(r) >> 11) * 0x1.0p-53; }

uint64_t rng_below(sara_rng *r, uint64_t n)
{
    /* Rejection sampling: discard the top partial block so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_next_u64(r);
    while (x >= limit);
    return x % n;
}

double rng_normal(sara_rng *r)
{
    double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void rng_fill_normal(sara_rng *r, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)rng_normal(r);
}
