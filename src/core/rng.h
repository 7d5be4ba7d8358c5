/* rng.h — the one random number generator: xoshiro256** seeded through splitmix64.
 * Its whole state is four words, so a checkpoint saves it exactly and resume is bit-exact.
 * Normals use Box–Muller without a cached spare (no hidden state). */
#ifndef SARA_CORE_RNG_H
#define SARA_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} sara_rng;

void rng_seed(sara_rng *r, uint64_t seed);
uint64_t rng_next_u64(sara_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(sara_rng *r);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t rng_below(sara_rng *r, uint64_t n);
/* Standard normal. */
double rng_normal(sara_rng *r);
/* Fills x (n) with standard normals as float. */
void rng_fill_normal(sara_rng *r, float *x, int64_t n);
/* An independent stream derived from (seed, stream id), for per-purpose generators. */
void rng_seed_stream(sara_rng *r, uint64_t seed, uint64_t stream);

#endif
