/* Seeded random numbers: xoshiro256** seeded through splitmix64.
 * Every random choice in semid takes one of these, so the same seed (and
 * thread count) gives the same result. Use semid_rng_fork for per-thread or
 * per-item streams that do not depend on scheduling. */
#ifndef SEMID_BASE_RNG_H
#define SEMID_BASE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct semid_rng {
    uint64_t s[4];
} semid_rng;

void semid_rng_seed(semid_rng *r, uint64_t seed);
/* An independent stream derived from (seed of r, stream); does not advance r. */
semid_rng semid_rng_fork(const semid_rng *r, uint64_t stream);
uint64_t semid_rng_u64(semid_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t semid_rng_below(semid_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double semid_rng_uniform(semid_rng *r);
/* Standard normal (Box-Muller). */
double semid_rng_normal(semid_rng *r);
void semid_rng_shuffle_i32(semid_rng *r, int32_t *a, size_t n);
void semid_rng_shuffle_i64(semid_rng *r, int64_t *a, size_t n);
/* Index drawn with probability proportional to w[i] >= 0; n > 0; returns
 * n-1 if all weights are zero. */
size_t semid_rng_weighted(semid_rng *r, const double *w, size_t n, double total);

#endif
