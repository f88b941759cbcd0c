#include "support/quant/fixtures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "semid/semid.h"
#include "support/testutil.h"

char *test_tmp;

int test_tmp_setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    test_tmp = test_make_tmpdir();
    return test_tmp ? 0 : -1;
}

int test_tmp_teardown(void **state) {
    (void)state;
    test_rm_rf(test_tmp);
    free(test_tmp);
    test_tmp = NULL;
    return 0;
}

void test_fill_normal(float *x, int64_t n, semid_rng *r, double sd) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(sd * semid_rng_normal(r));
}

semid_matrix test_clustered(int64_t N, int64_t D, int k1, int k2, uint64_t seed) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    float *c1 = malloc(sizeof(float) * (size_t)(k1 * D)), *c2 = malloc(sizeof(float) * (size_t)(k2 * D));
    assert_non_null(c1);
    assert_non_null(c2);
    test_fill_normal(c1, k1 * D, &r, 1.0);
    test_fill_normal(c2, k2 * D, &r, 0.35);
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, N, D), SEMID_OK);
    for (int64_t i = 0; i < N; i++) {
        int64_t a = (int64_t)semid_rng_below(&r, (uint64_t)k1), b = (int64_t)semid_rng_below(&r, (uint64_t)k2);
        for (int64_t j = 0; j < D; j++)
            X.data[i * D + j] = c1[a * D + j] + c2[b * D + j] + (float)(0.05 * semid_rng_normal(&r));
    }
    free(c1);
    free(c2);
    return X;
}

void test_assert_derivative(double analytic, double numeric, double tol, const char *what, int64_t i) {
    double scale = fabs(analytic) + fabs(numeric) + 1e-3;
    if (fabs(analytic - numeric) / scale > tol)
        fail_msg("%s[%lld]: analytic %.6g vs numeric %.6g", what, (long long)i, analytic, numeric);
}
