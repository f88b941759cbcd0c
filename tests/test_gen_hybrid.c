/* Hybrid re-ranking (gen/hybrid.h) against a brute force: each item judged
 * on its own (a beam hit? among the n_dense best cosines, counting the
 * items that beat it?), the formula computed directly, and each
 * candidate's rank found by counting the candidates that beat it. Plus the
 * documented corner: W = 1 keeps the beam's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "gen/hybrid.h"

enum { NI = 14, MAXG = 7 };

typedef struct ref {
    int32_t item, rank;
    double g, c, h;
} ref;

static int beats(const ref *a, const ref *b) {
    if (a->h != b->h) return a->h > b->h;
    if (a->rank != b->rank) return a->rank < b->rank;
    if (a->c != b->c) return a->c > b->c;
    return a->item < b->item;
}

static double zval(const ref *x, int n, int which, int i) {
    double m = 0, v = 0;
    for (int j = 0; j < n; j++) m += which ? x[j].c : x[j].g;
    m /= n;
    for (int j = 0; j < n; j++) {
        double d = (which ? x[j].c : x[j].g) - m;
        v += d * d;
    }
    double sd = sqrt(v / n);
    return sd > 0 ? ((which ? x[i].c : x[i].g) - m) / sd : 0;
}

static void test_hybrid_brute_force(void **state) {
    (void)state;
    semid_rng rng;
    semid_rng_seed(&rng, 11);
    for (int trial = 0; trial < 3000; trial++) {
        int32_t gen[MAXG], n_gen = (int32_t)semid_rng_below(&rng, MAXG + 1);
        float gs[MAXG], cos[NI];
        uint8_t skip[NI];
        /* distinct beam items, scores non-increasing with ties */
        int32_t perm[NI];
        for (int i = 0; i < NI; i++) perm[i] = i;
        for (int i = NI - 1; i > 0; i--) {
            int j = (int)semid_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        float s = 0;
        for (int j = 0; j < n_gen; j++) {
            gen[j] = perm[j];
            s -= (float)semid_rng_below(&rng, 3) * 0.5f;
            gs[j] = s;
        }
        for (int i = 0; i < NI; i++) {
            cos[i] = (float)((int)semid_rng_below(&rng, 9) - 4) / 4.0f;
            if (semid_rng_below(&rng, 10) == 0) cos[i] = NAN;
            skip[i] = semid_rng_below(&rng, 6) == 0;
        }
        static const double ws[] = {0, 0.25, 0.5, 0.8, 1};
        semid_hybrid_options o = {.weight = ws[semid_rng_below(&rng, 5)],
                                  .n_dense = (int32_t)semid_rng_below(&rng, 9),
                                  .k = 1 + (int32_t)semid_rng_below(&rng, 12)};
        const uint8_t *sk = trial % 2 ? skip : NULL;
        float gof[NI];
        for (int i = 0; i < NI; i++) gof[i] = semid_rng_below(&rng, 3) == 0 ? NAN : -(float)semid_rng_below(&rng, 8) * 0.5f;
        const float *go = trial % 3 ? gof : NULL;

        ref x[NI];
        int n = 0;
        double gmin = 0;
        for (int j = 0; j < n_gen; j++) {
            double c = isfinite(cos[gen[j]]) ? cos[gen[j]] : -1.0;
            x[n++] = (ref){gen[j], j, gs[j], c, 0};
            if (j == 0 || gs[j] < gmin) gmin = gs[j];
        }
        int nb = n;
        for (int i = 0; i < NI; i++) {
            int in_beam = 0;
            for (int j = 0; j < nb; j++) in_beam |= x[j].item == i;
            if (in_beam || !(cos[i] > -INFINITY) || (sk && sk[i])) continue;
            int better = 0;
            for (int t = 0; t < NI; t++)
                if (t != i && cos[t] > -INFINITY && !(sk && sk[t]) && (cos[t] > cos[i] || (cos[t] == cos[i] && t < i)))
                    better++;
            double g = go && isfinite(go[i]) ? go[i] : gmin;
            if (better < o.n_dense) x[n++] = (ref){i, INT32_MAX, g, cos[i], 0};
        }
        /* D in the order the ranker lists it (cosine desc, index asc), so that
         * the standardisation sums in the same order, bit for bit */
        for (int i = nb + 1; i < n; i++)
            for (int j = i; j > nb && (x[j].c > x[j - 1].c || (x[j].c == x[j - 1].c && x[j].item < x[j - 1].item)); j--) {
                ref t = x[j];
                x[j] = x[j - 1], x[j - 1] = t;
            }
        for (int i = 0; i < n; i++) x[i].h = o.weight * zval(x, n, 0, i) + (1 - o.weight) * zval(x, n, 1, i);
        int32_t want[NI + MAXG];
        double want_h[NI + MAXG];
        for (int i = 0; i < n; i++) {
            int pos = 0;
            for (int j = 0; j < n; j++) pos += j != i && beats(&x[j], &x[i]);
            want[pos] = x[i].item;
            want_h[pos] = x[i].h;
        }
        int32_t got[16], n_out = -1;
        float got_s[16];
        assert_int_equal(semid_hybrid_rank(gen, gs, n_gen, cos, NI, sk, go, &o, got, got_s, &n_out), SEMID_OK);
        int m = n < o.k ? n : o.k;
        assert_int_equal(n_out, m);
        for (int j = 0; j < o.k; j++) {
            if (j < m) {
                if (got[j] != want[j]) fail_msg("trial %d: rank %d: got item %d, want %d", trial, j, got[j], want[j]);
                assert_true(fabs(got_s[j] - want_h[j]) < 1e-5);
            } else {
                assert_int_equal(got[j], -1);
                assert_true(got_s[j] == -INFINITY);
            }
        }
        if (o.weight == 1 && !go)
            for (int j = 0; j < m && j < n_gen; j++) assert_int_equal(got[j], gen[j]);
    }
}

/* A scorer that gives every item it is asked about a log-prob of -0.05. */
static semid_status high_scorer(void *ctx, int64_t q, const int32_t *items, int32_t n, float *out) {
    (void)q, (void)items;
    *(int *)ctx += n;
    for (int32_t j = 0; j < n; j++) out[j] = -0.05f;
    return SEMID_OK;
}

static void test_hybrid_rerank_vectors(void **state) {
    (void)state;
    /* 4 items in 2-D; the beam found items 0 and 1; the query points at item 3. */
    const float items[] = {1, 0, 0.8f, 0.6f, 0, 1, -0.6f, 0.8f};
    const float q[] = {-0.6f, 0.8f};
    semid_beam_hits h;
    assert_int_equal(semid_beam_hits_alloc(&h, 1, 2), SEMID_OK);
    h.items[0] = 0, h.items[1] = 1, h.scores[0] = -0.1f, h.scores[1] = -2.0f, h.n_hits[0] = 2;
    semid_hybrid_options o = {.weight = 0, .n_dense = 1, .k = 3};
    semid_beam_hits out;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 4, 2, NULL, NULL, NULL, NULL, NULL, &o, &out), SEMID_OK);
    assert_int_equal(out.n_hits[0], 3);
    assert_int_equal(out.items[0], 3); /* the dense-only item, cosine 1 */
    assert_int_equal(out.items[1], 1);
    assert_int_equal(out.items[2], 0);
    semid_beam_hits_free(&out);
    o.weight = 1;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 4, 2, NULL, NULL, NULL, NULL, NULL, &o, &out), SEMID_OK);
    assert_int_equal(out.items[0], 0);
    assert_int_equal(out.items[1], 1);
    assert_int_equal(out.items[2], 3);
    semid_beam_hits_free(&out);
    /* excluded: item 3 never comes from the dense side */
    const int32_t ex[] = {3};
    const int32_t *exq[] = {ex};
    const int32_t nex[] = {1};
    o.weight = 0;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 4, 2, NULL, exq, nex, NULL, NULL, &o, &out), SEMID_OK);
    assert_int_equal(out.items[0], 2);
    semid_beam_hits_free(&out);
    /* teacher forcing: item 3, scored above the beam's best, leads even at W = 1 */
    int asked = 0;
    o.weight = 1;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 4, 2, NULL, NULL, NULL, high_scorer, &asked, &o, &out), SEMID_OK);
    assert_int_equal(asked, 1);
    assert_int_equal(out.items[0], 3);
    assert_int_equal(out.items[1], 0);
    semid_beam_hits_free(&out);
    o.weight = 1.5;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 4, 2, NULL, NULL, NULL, NULL, NULL, &o, &out), SEMID_EINVAL);
    semid_beam_hits_free(&h);
}

/* o.dot: the dense side ranks by dot product, so a long vector (ENMF's
 * popular item) beats a better-aligned short one that cosine prefers. */
static void test_hybrid_rerank_dot(void **state) {
    (void)state;
    const float items[] = {1, 0, 3, 3, 0, 1};
    const float q[] = {1, 0};
    semid_beam_hits h;
    assert_int_equal(semid_beam_hits_alloc(&h, 1, 1), SEMID_OK);
    h.n_hits[0] = 0;
    semid_hybrid_options o = {.weight = 0, .n_dense = 1, .k = 1};
    semid_beam_hits out;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 3, 2, NULL, NULL, NULL, NULL, NULL, &o, &out), SEMID_OK);
    assert_int_equal(out.items[0], 0); /* cosine 1 against 0.71 */
    semid_beam_hits_free(&out);
    o.dot = 1;
    assert_int_equal(semid_hybrid_rerank(&h, q, items, 3, 2, NULL, NULL, NULL, NULL, NULL, &o, &out), SEMID_OK);
    assert_int_equal(out.items[0], 1); /* dot 3 against 1 */
    semid_beam_hits_free(&out);
    semid_beam_hits_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hybrid_brute_force),
                                       cmocka_unit_test(test_hybrid_rerank_vectors),
                                       cmocka_unit_test(test_hybrid_rerank_dot)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
