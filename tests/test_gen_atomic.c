/* Decoding atomic IDs (one level, one token per item, several thousand
 * tokens) on a tiny random model: the trie-constrained beam is then the top
 * k of the model's softmax over all items (checked by brute force from the
 * full forward pass), and diverse beam search can name no invalid item. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/beam.h"
#include "gen/model.h"
#include "quant/idtable.h"
#include "quant/trie.h"

enum { SID_BASE = 5, N_ITEMS = 3000, V = SID_BASE + N_ITEMS, TMAX = 8, K = 20 };

static semid_gpt *model;
static semid_idtable table;
static semid_trie *trie;

static int setup(void **state) {
    (void)state;
    semid_gpt_config cfg = {.vocab_size = V, .max_seq_len = TMAX, .n_layer = 1, .n_head = 2, .d_model = 16};
    if (semid_gpt_create(&cfg, 11, &model) != SEMID_OK) return -1;
    int64_t n;
    float *p = semid_gpt_params(model, &n);
    for (int64_t i = 0; i < n; i++) p[i] *= 8.0f; /* scores that differ clearly */
    int32_t size = N_ITEMS;
    if (semid_idtable_create(&table, "search", "atomic", N_ITEMS, 1, 1, &size, 0) != SEMID_OK) return -1;
    for (int32_t i = 0; i < N_ITEMS; i++) table.codes[i] = i;
    semid_idtable_update_fingerprint(&table);
    return semid_trie_build(&table, SEMID_TASK_SEARCH, &trie) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_trie_free(trie);
    semid_idtable_free(&table);
    semid_gpt_free(model);
    return 0;
}

static const int32_t PROMPT[3] = {1, 2, 3};

/* log-softmax over the item tokens after the prompt (one full forward). */
static void brute_scores(double *out) {
    assert_int_equal(semid_gpt_forward(model, PROMPT, NULL, 1, 3, NULL), SEMID_OK);
    const float *row = semid_gpt_logits(model) + (int64_t)2 * V + SID_BASE;
    double mx = row[0], sum = 0;
    for (int32_t j = 1; j < N_ITEMS; j++) mx = row[j] > mx ? row[j] : mx;
    for (int32_t j = 0; j < N_ITEMS; j++) sum += exp(row[j] - mx);
    for (int32_t j = 0; j < N_ITEMS; j++) out[j] = row[j] - mx - log(sum);
}

static void test_constrained_is_the_top_k_of_all_items(void **state) {
    (void)state;
    double *ref = malloc(sizeof(double) * N_ITEMS);
    assert_non_null(ref);
    brute_scores(ref);
    int32_t excl[1] = {-1};
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = N_ITEMS, .popularity = NULL};
    semid_beam_query q = {PROMPT, 3, excl, 0};
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 30;
    o.k = K;
    semid_beam_hits h;
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_OK);
    assert_int_equal(h.n_hits[0], K);
    /* best first, each the brute-force score, and none of the other items better */
    for (int32_t j = 0; j < K; j++) {
        int32_t item = h.items[j];
        assert_true(item >= 0 && item < N_ITEMS);
        assert_true(fabs(h.scores[j] - ref[item]) < 1e-4);
        if (j > 0) assert_true(h.scores[j] <= h.scores[j - 1]);
    }
    int32_t better = 0;
    for (int32_t i = 0; i < N_ITEMS; i++) better += ref[i] > h.scores[K - 1] + 1e-4;
    assert_true(better < K);
    /* the best item left out, the next one comes first */
    excl[0] = h.items[0];
    int32_t second = h.items[1];
    semid_beam_hits_free(&h);
    q.n_exclude = 1;
    assert_int_equal(semid_beam_search(model, trie, &sp, &q, 1, &o, &h), SEMID_OK);
    assert_int_equal(h.items[0], second);
    semid_beam_hits_free(&h);
    free(ref);
}

static void test_diverse_names_only_items(void **state) {
    (void)state;
    semid_beam_space sp = {.sid_base = SID_BASE, .n_sid = N_ITEMS, .popularity = NULL};
    semid_beam_query q = {PROMPT, 3, NULL, 0};
    semid_beam_options o = semid_beam_paper_diverse(K);
    semid_beam_hits h;
    assert_int_equal(semid_beam_search_diverse(model, &table, SEMID_TASK_SEARCH, trie, &sp, &q, 1, &o, &h), SEMID_OK);
    assert_int_equal(h.n_invalid[0], 0); /* every token of the one level is an item */
    /* Groups may choose the same item (the penalty only lowers it); repeats
     * are dropped, so up to k distinct items remain. */
    assert_true(h.n_hits[0] >= 1 && h.n_hits[0] <= K);
    for (int32_t j = 0; j < h.n_hits[0]; j++) {
        assert_true(h.items[j] >= 0 && h.items[j] < N_ITEMS);
        for (int32_t u = 0; u < j; u++) assert_int_not_equal(h.items[u], h.items[j]);
    }
    semid_beam_hits_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constrained_is_the_top_k_of_all_items),
        cmocka_unit_test(test_diverse_names_only_items),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
