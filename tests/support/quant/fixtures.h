/* Fixtures shared by the quantizer tests: a temporary directory for the
 * group, Gaussian fills, two-scale clustered vectors, and the relative
 * check of analytic against finite-difference derivatives. */
#ifndef SEMID_TESTS_QUANT_FIXTURES_H
#define SEMID_TESTS_QUANT_FIXTURES_H

#include <stdint.h>

#include "base/rng.h"
#include "linalg/matrix.h"

/* The group's temporary directory, made by test_tmp_setup (which also
 * quiets the log to warnings) and removed by test_tmp_teardown. */
extern char *test_tmp;
int test_tmp_setup(void **state);
int test_tmp_teardown(void **state);

/* x[i] ~ N(0, sd^2). */
void test_fill_normal(float *x, int64_t n, semid_rng *r, double sd);
/* N vectors of D dims with two scales: k1 coarse centres and k2 fine offsets
 * (x = coarse + 0.35 fine + small noise), so a second quantization level
 * has something left to explain. */
semid_matrix test_clustered(int64_t N, int64_t D, int k1, int k2, uint64_t seed);
/* Fails the test unless |analytic - numeric| <= tol * (|analytic| + |numeric| + 1e-3). */
void test_assert_derivative(double analytic, double numeric, double tol, const char *what, int64_t i);

#endif
