#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "eval/stats.h"

/* Critical values of Student's t from standard tables: two-sided p = 0.05
 * at t = 12.706 (df 1), 2.571 (df 5), 2.228 (df 10); p = 0.01 at 3.169 (df 10). */
static void test_t_pvalue_matches_tables(void **state) {
    (void)state;
    assert_float_equal(semid_t_pvalue(12.706, 1), 0.05, 2e-4);
    assert_float_equal(semid_t_pvalue(2.571, 5), 0.05, 2e-4);
    assert_float_equal(semid_t_pvalue(2.228, 10), 0.05, 2e-4);
    assert_float_equal(semid_t_pvalue(-3.169, 10), 0.01, 1e-4);
    assert_float_equal(semid_t_pvalue(0.0, 7), 1.0, 1e-12);
    /* Large df approaches the normal: p(1.96) ~ 0.05. */
    assert_float_equal(semid_t_pvalue(1.959964, 1e6), 0.05, 1e-4);
}

static void test_incomplete_beta_known_values(void **state) {
    (void)state;
    /* I_x(1, 1) = x; I_x(2, 1) = x^2; I_0.5(a, a) = 0.5. */
    assert_float_equal(semid_incomplete_beta(1, 1, 0.3), 0.3, 1e-12);
    assert_float_equal(semid_incomplete_beta(2, 1, 0.3), 0.09, 1e-12);
    assert_float_equal(semid_incomplete_beta(7.5, 7.5, 0.5), 0.5, 1e-12);
}

/* Hand-computed example: d = a - b = {1, 2, 3, 4, 5} - {0, 1, 1, 2, 1}
 * = {1, 1, 2, 2, 4}: mean 2, sd sqrt(1.5), t = 2 / (sqrt(1.5)/sqrt(5)) = 3.6515, df 4,
 * two-sided p = 0.02178 (t-distribution with 4 df). */
static void test_paired_ttest(void **state) {
    (void)state;
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {0, 1, 1, 2, 1};
    semid_ttest r;
    assert_int_equal(semid_paired_ttest(a, b, 5, &r), SEMID_OK);
    assert_float_equal(r.mean_diff, 2.0, 1e-12);
    assert_float_equal(r.t, 3.6514837, 1e-6);
    assert_float_equal(r.df, 4.0, 0);
    assert_float_equal(r.p, 0.02178, 5e-5);
    assert_int_equal(semid_paired_ttest(a, a, 5, &r), SEMID_OK);
    assert_float_equal(r.p, 1.0, 0);
    assert_int_equal(semid_paired_ttest(a, b, 1, &r), SEMID_EINVAL);
    assert_float_equal(semid_bonferroni(0.02, 3), 0.06, 1e-12);
    assert_float_equal(semid_bonferroni(0.5, 3), 1.0, 0);
    double x[4] = {1, 2, 3, 4};
    assert_float_equal(semid_mean(x, 4), 2.5, 1e-12);
    assert_float_equal(semid_stddev(x, 4), 1.2909944, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_pvalue_matches_tables),
        cmocka_unit_test(test_incomplete_beta_known_values),
        cmocka_unit_test(test_paired_ttest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
