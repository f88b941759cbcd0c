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

/* Two-sided p-values for the few degrees of freedom of a test over seeds
 * (3 or 5 seeds: df 2 or 4), computed two independent ways that agree to 12
 * digits (no scipy on this machine): closed forms of Student's t CDF for
 * small integer df, with theta = atan(|t| / sqrt(df)),
 *   df 1: 2 theta / pi          df 2: sin theta
 *   df 3: 2 / pi (theta + sin theta cos theta)
 *   df 4: sin theta (1 + cos^2 theta / 2)            (p = 1 - that),
 * and Simpson's rule on the density with math.lgamma, 200,000 intervals:
 *   python3 - <<'EOF'
 *   import math
 *   def closed(t, df):
 *       th = math.atan(abs(t) / math.sqrt(df)); s, c = math.sin(th), math.cos(th)
 *       cdf = {1: th * 2 / math.pi, 2: s, 3: 2 / math.pi * (th + s * c), 4: s * (1 + c * c / 2)}[df]
 *       return 1 - cdf
 *   def simpson(t, df, n=200000):
 *       k = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
 *       f = lambda x: k * (1 + x * x / df) ** (-(df + 1) / 2)
 *       h = abs(t) / n
 *       return 1 - 2 * h / 3 * (f(0) + f(abs(t)) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, n)))
 *   for t, df in [(1.0, 1), (0.5, 2), (3.0, 2), (1.2, 3), (4.5, 3), (0.8, 4), (2.1, 4), (6.0, 4)]:
 *       print(t, df, closed(t, df), simpson(t, df))
 *   def paired(a, b):  # for test_paired_ttest_over_seeds
 *       d = [x - y for x, y in zip(a, b)]; n = len(d); m = sum(d) / n
 *       t = m / (math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1)) / math.sqrt(n))
 *       return t, closed(t, n - 1), simpson(t, n - 1)
 *   best = [0.30, 0.27, 0.33, 0.25, 0.35]
 *   print(paired(best, [0.26, 0.29, 0.28, 0.27, 0.30]), paired(best, [0.20, 0.19, 0.21, 0.20, 0.19]))
 *   print(paired([0.31, 0.28, 0.30], [0.25, 0.27, 0.22]))
 *   EOF */
static void test_t_pvalue_small_df(void **state) {
    (void)state;
    static const struct {
        double t, df, p;
    } ref[] = {
        {1.0, 1, 0.500000000000}, {0.5, 2, 0.666666666667}, {3.0, 2, 0.095465966267}, {1.2, 3, 0.316262114698},
        {4.5, 3, 0.020490412344}, {0.8, 4, 0.468527135562}, {2.1, 4, 0.103653286318}, {6.0, 4, 0.003882537047},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        assert_float_equal(semid_t_pvalue(ref[i].t, ref[i].df), ref[i].p, 1e-10);
        assert_float_equal(semid_t_pvalue(-ref[i].t, ref[i].df), ref[i].p, 1e-10);
    }
}

/* The test over seeds in exp/results.c: per-seed figures of two rows,
 * paired by seed. Reference t and p from the script above (paired: mean of
 * the differences, their sample sd, t = mean / (sd / sqrt(n))):
 *   a 2-point gap within a 3-point seed spread: t 1.217161238900, p 0.290440544109 (df 4)
 *   a 10-point gap, steady over seeds:          t 5.499471433375, p 0.005329976636 (df 4)
 *   3 seeds:                                    t 2.401922307076, p 0.138272515568 (df 2) */
static void test_paired_ttest_over_seeds(void **state) {
    (void)state;
    double best[5] = {0.30, 0.27, 0.33, 0.25, 0.35}, close[5] = {0.26, 0.29, 0.28, 0.27, 0.30};
    double far[5] = {0.20, 0.19, 0.21, 0.20, 0.19};
    semid_ttest r;
    assert_int_equal(semid_paired_ttest(best, close, 5, &r), SEMID_OK);
    assert_float_equal(r.mean_diff, 0.02, 1e-12);
    assert_float_equal(r.t, 1.217161238900, 1e-9);
    assert_float_equal(r.df, 4, 0);
    assert_float_equal(r.p, 0.290440544109, 1e-9);
    assert_int_equal(semid_paired_ttest(best, far, 5, &r), SEMID_OK);
    assert_float_equal(r.t, 5.499471433375, 1e-9);
    assert_float_equal(r.p, 0.005329976636, 1e-9);
    double a3[3] = {0.31, 0.28, 0.30}, b3[3] = {0.25, 0.27, 0.22};
    assert_int_equal(semid_paired_ttest(a3, b3, 3, &r), SEMID_OK);
    assert_float_equal(r.t, 2.401922307076, 1e-9);
    assert_float_equal(r.df, 2, 0);
    assert_float_equal(r.p, 0.138272515568, 1e-9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_pvalue_small_df),
        cmocka_unit_test(test_paired_ttest_over_seeds),
        cmocka_unit_test(test_t_pvalue_matches_tables),
        cmocka_unit_test(test_incomplete_beta_known_values),
        cmocka_unit_test(test_paired_ttest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
