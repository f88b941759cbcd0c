/* Prefix expansion (gen/expand.h) against a brute force: every item of a
 * small ID table judged on its own (is its prefix among the live beams'?),
 * then one global sort and a greedy pass that honours the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "gen/expand.h"
#include "quant/idtable.h"
#include "quant/trie.h"

enum { N = 40, K = 8, NP = 5 };

typedef struct ref_row {
    int32_t item;
    float score;
    int cls;     /* 0 = a beam hit, 1 = expanded */
    int32_t ord; /* hits: their rank */
    int64_t pop;
} ref_row;

static int cmp_ref(const void *pa, const void *pb) {
    const ref_row *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->cls != b->cls) return a->cls - b->cls;
    if (a->cls == 0) return a->ord - b->ord;
    if (a->pop != b->pop) return a->pop > b->pop ? -1 : 1;
    return a->item - b->item;
}

/* The trie node of an item's prefix (all levels but the last). */
static int32_t prefix_node(const semid_trie *tr, const semid_idtable *t, int32_t item) {
    int32_t tok[8], node = 0;
    semid_idtable_tokens(t, SEMID_TASK_SEARCH, item, tok);
    for (int32_t l = 0; l < t->n_levels - 1; l++) node = semid_trie_child(tr, node, tok[l]);
    return node;
}

static void test_expand_brute_force(void **state) {
    (void)state;
    semid_rng rng;
    semid_rng_seed(&rng, 11);
    int32_t sizes[2] = {3, 3};
    semid_idtable t;
    assert_int_equal(semid_idtable_create(&t, "search", "test", N, 1, 2, sizes, 0), SEMID_OK);
    for (int32_t i = 0; i < N * 2; i++) t.codes[i] = (int32_t)semid_rng_below(&rng, 3);
    int64_t pop[N];
    for (int32_t i = 0; i < N; i++) pop[i] = (int64_t)semid_rng_below(&rng, 4); /* ties on purpose */
    assert_int_equal(semid_idtable_disambiguate(&t, pop), SEMID_OK);
    semid_trie *tr;
    assert_int_equal(semid_trie_build(&t, SEMID_TASK_SEARCH, &tr), SEMID_OK);
    /* the depth-2 nodes (prefixes) */
    int32_t prefixes[64], n_pre = 0;
    for (int32_t nd = 0; nd < semid_trie_node_count(tr); nd++)
        if (semid_trie_node_depth(tr, nd) == 2) prefixes[n_pre++] = nd;

    for (int trial = 0; trial < 300; trial++) {
        double share = (double)semid_rng_below(&rng, 5) / 4.0; /* 0, .25, .5, .75, 1 */
        semid_beam_hits h;
        assert_int_equal(semid_beam_hits_alloc(&h, 1, K), SEMID_OK);
        h.n_prefix = NP;
        h.prefix_nodes = malloc(sizeof(int32_t) * NP);
        h.prefix_scores = malloc(sizeof(float) * NP);
        for (int32_t b = 0; b < NP; b++) {
            h.prefix_nodes[b] = semid_rng_below(&rng, 6) == 0 ? -1 : prefixes[semid_rng_below(&rng, (uint64_t)n_pre)];
            h.prefix_scores[b] = h.prefix_nodes[b] < 0 ? -INFINITY : -(float)semid_rng_below(&rng, 6) * 0.5f;
        }
        /* hits: distinct items, scores not increasing (ties happen) */
        int32_t nh = (int32_t)semid_rng_below(&rng, K + 1);
        float s = 0;
        for (int32_t j = 0; j < nh; j++) {
            int32_t x, dup;
            do {
                x = (int32_t)semid_rng_below(&rng, N);
                dup = 0;
                for (int32_t u = 0; u < j; u++) dup |= h.items[u] == x;
            } while (dup);
            s -= (float)semid_rng_below(&rng, 3) * 0.5f;
            h.items[j] = x;
            h.scores[j] = s;
        }
        h.n_hits[0] = nh;
        int32_t excl[3] = {(int32_t)semid_rng_below(&rng, N), (int32_t)semid_rng_below(&rng, N), -1};
        semid_beam_query q = {.exclude = excl, .n_exclude = 2};

        /* brute force */
        ref_row rows[N + K];
        int32_t nr = 0;
        for (int32_t j = 0; j < nh; j++) rows[nr++] = (ref_row){h.items[j], h.scores[j], 0, j, 0};
        for (int32_t x = 0; x < N; x++) {
            int in_h = 0;
            for (int32_t j = 0; j < nh; j++) in_h |= h.items[j] == x;
            if (in_h || x == excl[0] || x == excl[1]) continue;
            int32_t pn = prefix_node(tr, &t, x);
            float best = -INFINITY;
            for (int32_t b = 0; b < NP; b++)
                if (h.prefix_nodes[b] == pn && h.prefix_scores[b] > best) best = h.prefix_scores[b];
            if (best > -INFINITY) rows[nr++] = (ref_row){x, best, 1, 0, pop[x]};
        }
        qsort(rows, (size_t)nr, sizeof *rows, cmp_ref);
        int32_t want[K], n_want = 0, taken = 0, cap = (int32_t)floor(share * K + 1e-9);
        for (int32_t r = 0; r < nr && n_want < K; r++) {
            if (rows[r].cls == 1 && (cap == 0 || taken >= cap)) continue;
            if (rows[r].cls == 1) taken++;
            want[n_want++] = rows[r].item;
        }
        if (cap == 0) { /* off: the hits as they were */
            n_want = nh;
            memcpy(want, h.items, sizeof(int32_t) * (size_t)nh);
        }

        assert_int_equal(semid_expand_prefix(tr, &q, pop, share, &h), SEMID_OK);
        assert_int_equal(h.n_hits[0], n_want);
        for (int32_t j = 0; j < n_want; j++) assert_int_equal(h.items[j], want[j]);
        for (int32_t j = n_want; j < K; j++) assert_int_equal(h.items[j], -1);
        semid_beam_hits_free(&h);
    }
    /* A share outside [0, 1] is refused. */
    semid_beam_hits h;
    assert_int_equal(semid_beam_hits_alloc(&h, 1, K), SEMID_OK);
    assert_int_equal(semid_expand_prefix(tr, NULL, NULL, 1.5, &h), SEMID_EINVAL);
    semid_beam_hits_free(&h);
    semid_trie_free(tr);
    semid_idtable_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expand_brute_force)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
