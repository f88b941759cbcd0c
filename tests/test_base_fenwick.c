/* The popularity tree of the synthetic histories: draws agree with the
 * scan (semid_rng_weighted) on the same random numbers, removed weights
 * are never drawn, and a restore puts every node back bit for bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/fenwick.h"
#include "base/rng.h"

/* The scan's answer for x over the weights of [s0, s1) that are not removed. */
static int32_t scan(const double *w, const uint8_t *removed, int32_t s0, int32_t s1, double x) {
    for (int32_t i = s0; i < s1; i++) {
        double wi = removed[i] ? 0.0 : w[i];
        if (x < wi) return i;
        x -= wi;
    }
    return -1;
}

static void test_draws_match_the_scan(void **state) {
    (void)state;
    /* Slices of 0, 1, 37, 300 and 5 weights, some zero, Zipf-like. */
    int32_t start[] = {0, 0, 1, 38, 338, 343};
    const int32_t n_slices = 5, n = 343;
    double *w = malloc(n * sizeof *w);
    uint8_t *removed = calloc(n, 1);
    semid_rng rng;
    semid_rng_seed(&rng, 11);
    for (int32_t i = 0; i < n; i++) w[i] = i % 17 == 3 ? 0.0 : 1.0 / (1.0 + (double)semid_rng_below(&rng, 50));
    semid_fenwick f;
    assert_int_equal(semid_fenwick_init(&f, w, start, n_slices, 40), SEMID_OK);
    double *initial = malloc(n * sizeof *initial);
    memcpy(initial, f.tree, n * sizeof *initial);
    int agree = 0, fallback = 0;
    for (int round = 0; round < 3; round++) {
        for (int32_t r = 0; r < 40; r++) {
            int32_t s = 2 + (int32_t)semid_rng_below(&rng, 3);
            if (semid_fenwick_live(&f, s) == 0) continue;
            double total = semid_fenwick_total(&f, s);
            for (int k = 0; k < 50; k++) {
                double x = semid_rng_uniform(&rng) * total;
                int32_t got = semid_fenwick_find(&f, s, x), want = scan(w, removed, start[s], start[s + 1], x);
                if (got < 0) {
                    fallback++;
                    continue;
                }
                assert_false(removed[got]);
                assert_true(w[got] > 0);
                agree += got == want;
            }
            /* Remove what was drawn last: that item is never drawn again. */
            int32_t pos = semid_fenwick_find(&f, s, semid_rng_uniform(&rng) * total);
            if (pos >= 0) {
                semid_fenwick_remove(&f, pos);
                removed[pos] = 1;
            }
        }
        semid_fenwick_restore(&f);
        memset(removed, 0, n);
        assert_memory_equal(f.tree, initial, n * sizeof *initial);
        assert_int_equal(semid_fenwick_live(&f, 3), 300);
    }
    /* Off by rounding at most at a boundary: all but a handful agree. */
    assert_true(agree + fallback >= 5000);
    assert_true(fallback <= 2);
    assert_true(agree >= 5000);
    /* The empty and the one-weight slice. */
    assert_int_equal(semid_fenwick_live(&f, 0), 0);
    assert_true(semid_fenwick_total(&f, 0) == 0.0);
    assert_int_equal(semid_fenwick_find(&f, 1, 0.0), 0);
    semid_fenwick_remove(&f, 0);
    assert_int_equal(semid_fenwick_live(&f, 1), 0);
    assert_true(semid_fenwick_total(&f, 1) == 0.0);
    semid_fenwick_restore(&f);
    assert_int_equal(semid_fenwick_live(&f, 1), 1);
    semid_fenwick_free(&f);
    free(initial);
    free(w);
    free(removed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draws_match_the_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
