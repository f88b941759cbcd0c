#include "base/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void semid_rng_seed(semid_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

semid_rng semid_rng_fork(const semid_rng *r, uint64_t stream) {
    uint64_t x = r->s[0] ^ (r->s[3] * 0x2545f4914f6cdd1dULL) ^ (stream * 0x9e3779b97f4a7c15ULL);
    semid_rng out;
    for (int i = 0; i < 4; i++) out.s[i] = splitmix64(&x);
    return out;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t semid_rng_u64(semid_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t semid_rng_below(semid_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = semid_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double semid_rng_uniform(semid_rng *r) { return (double)(semid_rng_u64(r) >> 11) * 0x1.0p-53; }

double semid_rng_normal(semid_rng *r) {
    double u1 = semid_rng_uniform(r);
    double u2 = semid_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void semid_rng_shuffle_i32(semid_rng *r, int32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)semid_rng_below(r, i);
        int32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void semid_rng_shuffle_i64(semid_rng *r, int64_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)semid_rng_below(r, i);
        int64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

size_t semid_rng_weighted(semid_rng *r, const double *w, size_t n, double total) {
    double x = semid_rng_uniform(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}
