/* rng.h - the deterministic random number generator (splitmix64 seeding + xoshiro256**).
 * Every random choice in grappo (zoo weights, generated inputs, random DAGs) comes from an
 * Rng seeded explicitly, so the same seed gives the same bits on every machine. */
#ifndef GRAPPO_RNG_H
#define GRAPPO_RNG_H

#include <stdint.h>

typedef struct Rng { uint64_t s[4]; } Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
/* uniform in [0, 1) with 24 random bits (exactly representable in float) */
float rng_uniform(Rng *r);
/* uniform integer in [0, n) (n > 0) */
uint64_t rng_below(Rng *r, uint64_t n);
/* standard normal (Box-Muller, deterministic) */
double rng_normal(Rng *r);

#endif
