/* Atomic IDs (one token per item): every item its own code in one level as
 * large as the catalog, through the tokenizer interface, save and load, the
 * strategies (no disambiguation level), the ID table file and the trie, at a
 * catalog of several thousand items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "linalg/matrix.h"
#include "quant/idtable.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"
#include "quant/trie.h"

enum { N = 3000, D = 8 };

static semid_matrix random_items(int64_t n, uint64_t seed) {
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, n, D), SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * D; i++) X.data[i] = (float)semid_rng_normal(&r);
    return X;
}

static semid_tokenizer_config atomic_config(void) {
    semid_tokenizer_config c = semid_tokenizer_defaults();
    c.method = "atomic";
    c.levels = 2;         /* does not apply: one level */
    c.codebook_size = 64; /* does not apply: the catalog */
    return c;
}

static void test_every_item_its_own_code(void **state) {
    (void)state;
    semid_matrix X = random_items(N, 1);
    semid_tokenizer_config c = atomic_config();
    semid_tokenizer *tok;
    assert_int_equal(semid_tokenizer_fit(&X, &c, &tok), SEMID_OK);
    assert_int_equal(semid_tokenizer_levels(tok), 1);
    assert_int_equal(semid_tokenizer_level_size(tok, 0), N);
    int32_t *codes = malloc(sizeof(int32_t) * N);
    assert_non_null(codes);
    assert_int_equal(semid_tokenizer_encode(tok, &X, codes), SEMID_OK);
    for (int32_t i = 0; i < N; i++) assert_int_equal(codes[i], i);
    /* The codebook is the items: reconstruction is exact. */
    double err;
    assert_int_equal(semid_tokenizer_level_errors(tok, &X, codes, &err), SEMID_OK);
    assert_true(err == 0.0);

    /* A cold item takes its nearest fitted item's code. */
    semid_matrix cold;
    assert_int_equal(semid_matrix_alloc(&cold, 1, D), SEMID_OK);
    for (int d = 0; d < D; d++) cold.data[d] = X.data[1234 * D + d] + 1e-3f;
    int32_t code = -1;
    assert_int_equal(semid_tokenizer_encode(tok, &cold, &code), SEMID_OK);
    assert_int_equal(code, 1234);

    /* Save and load: the same model (fingerprint, codes). */
    char path[] = "/tmp/semid_atomic_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(semid_tokenizer_save(tok, path), SEMID_OK);
    semid_tokenizer *back;
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    assert_string_equal(semid_tokenizer_method_name(back), "atomic");
    assert_true(semid_tokenizer_fingerprint(back) == semid_tokenizer_fingerprint(tok));
    int32_t code2 = -1;
    assert_int_equal(semid_tokenizer_encode(back, &cold, &code2), SEMID_OK);
    assert_int_equal(code2, 1234);
    /* A truncated file is refused. */
    assert_int_equal(truncate(path, 64), 0);
    semid_tokenizer *bad = NULL;
    assert_int_not_equal(semid_tokenizer_load(path, &bad), SEMID_OK);
    assert_null(bad);
    unlink(path);
    semid_tokenizer_free(back);
    semid_tokenizer_free(tok);
    semid_matrix_free(&cold);
    semid_matrix_free(&X);
    free(codes);
}

static void build(const semid_matrix *X, const char *strategy, semid_strategy_result *r) {
    semid_strategy_options o = {0};
    o.strategy = strategy;
    o.tokenizer = atomic_config();
    o.disambiguate = 1;
    const semid_matrix *const emb[2] = {X, X};
    semid_status st = semid_strategy_build_catalog(emb, &o, NULL, NULL, r);
    if (st != SEMID_OK) fail_msg("%s", semid_last_error());
}

static void test_strategy_table_and_trie(void **state) {
    (void)state;
    semid_matrix X = random_items(N, 2);
    semid_strategy_result r;
    build(&X, "search", &r);
    /* One level of N tokens; disambiguation would add a constant token. */
    assert_int_equal(r.table.n_levels, 1);
    assert_int_equal(r.table.disambiguated, 0);
    assert_int_equal(r.table.n_tokens, N);
    assert_int_equal(r.table.level_size[0], N);
    assert_true(semid_strategy_collision_rate(&r) == 0.0);
    semid_collision_stats cs;
    assert_int_equal(semid_idtable_collisions_before(&r.table, SEMID_TASK_REC, &cs), SEMID_OK);
    assert_int_equal(cs.colliding_items, 0);
    assert_int_equal(cs.max_items_per_id, 1);

    /* The table file and the trie at this size. */
    char path[] = "/tmp/semid_atomic_sid_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(semid_idtable_save(&r.table, path), SEMID_OK);
    semid_idtable t;
    assert_int_equal(semid_idtable_load(path, &t), SEMID_OK);
    unlink(path);
    assert_true(t.fingerprint == r.table.fingerprint);
    assert_int_equal(t.n_tokens, N);
    semid_trie *trie;
    assert_int_equal(semid_trie_build(&t, SEMID_TASK_SEARCH, &trie), SEMID_OK);
    assert_int_equal(semid_trie_node_count(trie), 1 + N);
    const int32_t *tokens, *children;
    assert_int_equal(semid_trie_children(trie, 0, &tokens, &children), N);
    for (int32_t i = 0; i < N; i += 997) {
        const int32_t *items;
        int32_t leaf = semid_trie_child(trie, 0, i);
        assert_int_equal(semid_trie_items(trie, leaf, &items), 1);
        assert_int_equal(items[0], i);
    }
    semid_trie_free(trie);
    semid_idtable_free(&t);
    semid_strategy_result_free(&r);

    /* Separate: two atomic ID spaces, disjoint tokens. */
    build(&X, "separate", &r);
    assert_int_equal(r.table.n_tasks, 2);
    assert_int_equal(r.table.n_levels, 1);
    assert_int_equal(r.table.n_tokens, 2 * N);
    semid_strategy_result_free(&r);
    semid_matrix_free(&X);
}

/* Items with the very same vector share the nearest code: then the table is
 * disambiguated as any other, and the collisions before it say so. */
static void test_duplicates_are_disambiguated(void **state) {
    (void)state;
    semid_matrix X = random_items(50, 3);
    memcpy(X.data + 7 * D, X.data + 3 * D, sizeof(float) * D);
    semid_strategy_result r;
    build(&X, "search", &r);
    assert_int_equal(r.table.disambiguated, 1);
    assert_int_equal(r.table.n_levels, 2);
    assert_int_equal(r.table.level_size[1], 2);
    semid_collision_stats before, after;
    assert_int_equal(semid_idtable_collisions_before(&r.table, SEMID_TASK_SEARCH, &before), SEMID_OK);
    assert_int_equal(semid_idtable_collisions(&r.table, SEMID_TASK_SEARCH, &after), SEMID_OK);
    assert_int_equal(before.colliding_items, 2);
    assert_int_equal(before.max_items_per_id, 2);
    assert_int_equal(before.distinct_ids, 49);
    assert_int_equal(after.colliding_items, 0);
    semid_strategy_result_free(&r);
    semid_matrix_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_its_own_code),
        cmocka_unit_test(test_strategy_table_and_trie),
        cmocka_unit_test(test_duplicates_are_disambiguated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
