/* Personalised search's re-scoring against a brute-force reference on
 * random candidate lists: same items, same order, history left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>

#include "base/rng.h"
#include "serve/personalise.h"

typedef struct cand {
    int32_t item, order;
    float score;
} cand;

static int by_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->order - y->order; /* ties keep the search order */
}

static void test_matches_brute_force(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 11);
    for (int trial = 0; trial < 500; trial++) {
        int32_t n_s = (int32_t)semid_rng_below(&r, 40), n_r = (int32_t)semid_rng_below(&r, 40);
        int32_t k = 1 + (int32_t)semid_rng_below(&r, 20), n_h = (int32_t)semid_rng_below(&r, 5);
        int32_t s_items[40], r_items[40], hist[5], out[40];
        float s_scores[40], r_scores[40], out_s[40];
        /* distinct search items from 0..59, scores descending (with ties) */
        int32_t pool[60];
        for (int i = 0; i < 60; i++) pool[i] = i;
        for (int i = 0; i < n_s; i++) {
            int j = i + (int)semid_rng_below(&r, (uint64_t)(60 - i));
            int32_t t = pool[i];
            pool[i] = pool[j], pool[j] = t;
            s_items[i] = pool[i];
            s_scores[i] = i == 0 ? -1.0f : s_scores[i - 1] - (float)semid_rng_below(&r, 3) * 0.25f;
        }
        for (int i = 0; i < n_r; i++) {
            r_items[i] = (int32_t)semid_rng_below(&r, 60);
            r_scores[i] = -(float)semid_rng_below(&r, 8) * 0.5f;
        }
        for (int i = 0; i < n_h; i++) hist[i] = (int32_t)semid_rng_below(&r, 60);
        float w = (float)semid_rng_below(&r, 3) * 0.5f;
        int32_t n = semid_serve_personalise(s_items, s_scores, n_s, r_items, r_scores, n_r, hist, n_h, w, k, out, out_s);

        float floor = 0.0f;
        for (int i = 0; i < n_r; i++)
            if (i == 0 || r_scores[i] < floor) floor = r_scores[i];
        cand c[40];
        int m = 0;
        for (int i = 0; i < n_s; i++) {
            int in_hist = 0;
            for (int h = 0; h < n_h; h++) in_hist |= hist[h] == s_items[i];
            if (in_hist) continue;
            float rs = floor;
            for (int j = 0; j < n_r; j++)
                if (r_items[j] == s_items[i]) {
                    rs = r_scores[j];
                    break;
                }
            c[m++] = (cand){s_items[i], i, s_scores[i] + w * rs};
        }
        qsort(c, (size_t)m, sizeof c[0], by_score);
        assert_int_equal(n, m < k ? m : k);
        for (int i = 0; i < n; i++) {
            assert_int_equal(out[i], c[i].item);
            assert_true(out_s[i] == c[i].score);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_matches_brute_force)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
