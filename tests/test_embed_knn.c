#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "base/rng.h"
#include "embed/knn.h"
#include "semid/semid.h"

/* Brute force: full sort of every score (ties by index). */
static void brute_topk(const float *q, const float *items, int64_t ni, int64_t d, int32_t k, const uint8_t *skip,
                       int32_t *idx) {
    float *s = malloc((size_t)ni * sizeof *s);
    uint8_t *used = calloc((size_t)ni, 1);
    for (int64_t i = 0; i < ni; i++) {
        double acc = 0;
        for (int64_t j = 0; j < d; j++) acc += (double)q[j] * items[i * d + j];
        s[i] = (float)acc;
    }
    for (int32_t j = 0; j < k; j++) {
        int64_t best = -1;
        for (int64_t i = 0; i < ni; i++) {
            if (used[i] || (skip && skip[i])) continue;
            if (best < 0 || s[i] > s[best]) best = i;
        }
        idx[j] = (int32_t)best;
        if (best >= 0) used[best] = 1;
    }
    free(s);
    free(used);
}

static void test_matches_brute_force(void **state) {
    (void)state;
    enum { NQ = 37, NI = 501, D = 24, K = 10 };
    semid_rng r;
    semid_rng_seed(&r, 5);
    float *q = malloc(NQ * D * sizeof *q), *it = malloc(NI * D * sizeof *it);
    for (int i = 0; i < NQ * D; i++) q[i] = (float)semid_rng_normal(&r);
    for (int i = 0; i < NI * D; i++) it[i] = (float)semid_rng_normal(&r);
    int32_t *idx = malloc(NQ * K * sizeof *idx), want[K];
    float *sc = malloc(NQ * K * sizeof *sc);
    assert_int_equal(semid_knn_topk(q, NQ, it, NI, D, K, NULL, idx, sc), SEMID_OK);
    for (int qi = 0; qi < NQ; qi++) {
        brute_topk(q + qi * D, it, NI, D, K, NULL, want);
        for (int j = 0; j < K; j++) assert_int_equal(idx[qi * K + j], want[j]);
        for (int j = 1; j < K; j++) assert_true(sc[qi * K + j - 1] >= sc[qi * K + j]);
    }
    /* Without the score output the indices are the same. */
    int32_t *idx2 = malloc(NQ * K * sizeof *idx2);
    assert_int_equal(semid_knn_topk(q, NQ, it, NI, D, K, NULL, idx2, NULL), SEMID_OK);
    assert_memory_equal(idx, idx2, NQ * K * sizeof *idx);
    free(q);
    free(it);
    free(idx);
    free(idx2);
    free(sc);
}

static void test_exclusion_and_short_lists(void **state) {
    (void)state;
    /* 1-D items 0..5 with value = index: query +1 prefers high indices. */
    float items[6] = {0, 1, 2, 3, 4, 5};
    float q[2] = {1, -1};
    int64_t off[3] = {0, 2, 2};
    int32_t ex[2] = {5, 3};
    semid_knn_exclude exc = {off, ex};
    int32_t idx[2 * 8];
    float sc[2 * 8];
    assert_int_equal(semid_knn_topk(q, 2, items, 6, 1, 8, &exc, idx, sc), SEMID_OK);
    int32_t want0[8] = {4, 2, 1, 0, -1, -1, -1, -1};
    int32_t want1[8] = {0, 1, 2, 3, 4, 5, -1, -1};
    assert_memory_equal(idx, want0, sizeof want0);
    assert_memory_equal(idx + 8, want1, sizeof want1);
    assert_true(isinf(sc[5]) && sc[5] < 0);
    assert_float_equal(sc[0], 4.0f, 0);
}

static void test_ties_by_index(void **state) {
    (void)state;
    float items[5] = {1, 1, 1, 1, 1};
    float q[1] = {1};
    int32_t idx[3];
    float sc[3];
    assert_int_equal(semid_knn_topk(q, 1, items, 5, 1, 3, NULL, idx, sc), SEMID_OK);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    assert_int_equal(idx[2], 2);
    assert_int_equal(semid_knn_topk(q, 1, items, 5, 1, 0, NULL, idx, sc), SEMID_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_brute_force),
        cmocka_unit_test(test_exclusion_and_short_lists),
        cmocka_unit_test(test_ties_by_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
