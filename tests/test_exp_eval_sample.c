/* The test split's evaluation sample (data/test_sample.h): exactly the
 * asked number of test queries and users, the same for the same seed, the
 * whole split when the limit reaches it, nothing of training or validation
 * touched, and the evaluations reading only the sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "data/test_sample.h"
#include "embed/baseline.h"
#include "gen/examples.h"

/* 300 items, 200 users, 4 queries an item (2 for training): 600 test queries. */
static semid_dataset ds;
static int64_t n_test_queries, n_test_users;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 300;
    c.n_users = 200;
    c.queries_per_item = 4;
    c.queries_train = 2;
    if (semid_synth_generate(&c, 7, &ds) != SEMID_OK) return -1;
    for (int32_t q = 0; q < ds.n_queries; q++) n_test_queries += ds.queries[q].split == SEMID_SPLIT_TEST;
    for (int32_t u = 0; u < ds.n_users; u++) n_test_users += semid_dataset_user_split(&ds, u).test_item >= 0;
    return n_test_queries == 600 && n_test_users > 100 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&ds);
    return 0;
}

static int64_t tested_queries(void) {
    int64_t n = 0;
    for (int32_t q = 0; q < ds.n_queries; q++) n += semid_dataset_query_tested(&ds, q);
    return n;
}

static int64_t tested_users(void) {
    int64_t n = 0;
    for (int32_t u = 0; u < ds.n_users; u++) n += semid_dataset_user_split(&ds, u).test_item >= 0;
    return n;
}

static void test_exactly_n(void **state) {
    (void)state;
    semid_test_sample s;
    assert_int_equal(semid_dataset_sample_test(&ds, 100, 30, 1, &s), SEMID_OK);
    assert_int_equal(tested_queries(), 100);
    assert_int_equal(tested_users(), 30);
    assert_int_equal(s.queries, 100);
    assert_int_equal(s.queries_total, n_test_queries);
    assert_int_equal(s.users, 30);
    assert_int_equal(s.users_total, n_test_users);
    /* Only test queries are left out; training queries never are. */
    for (int32_t q = 0; q < ds.n_queries; q++)
        if (ds.queries[q].split != SEMID_SPLIT_TEST) assert_int_equal(ds.test_left_out_queries[q], 0);
    /* One side only: the other keeps its whole split. */
    assert_int_equal(semid_dataset_sample_test(&ds, 0, 30, 1, &s), SEMID_OK);
    assert_int_equal(tested_queries(), n_test_queries);
    assert_int_equal(tested_users(), 30);
    semid_dataset_clear_test_sample(&ds);
}

static void test_seeded(void **state) {
    (void)state;
    uint8_t *first_q = malloc((size_t)ds.n_queries), *first_u = malloc((size_t)ds.n_users);
    assert_non_null(first_q);
    assert_non_null(first_u);
    assert_int_equal(semid_dataset_sample_test(&ds, 50, 20, 42, NULL), SEMID_OK);
    memcpy(first_q, ds.test_left_out_queries, (size_t)ds.n_queries);
    memcpy(first_u, ds.test_left_out_users, (size_t)ds.n_users);
    assert_int_equal(semid_dataset_sample_test(&ds, 50, 20, 42, NULL), SEMID_OK);
    assert_memory_equal(first_q, ds.test_left_out_queries, (size_t)ds.n_queries);
    assert_memory_equal(first_u, ds.test_left_out_users, (size_t)ds.n_users);
    /* The query sample does not move with the user limit. */
    assert_int_equal(semid_dataset_sample_test(&ds, 50, 25, 42, NULL), SEMID_OK);
    assert_memory_equal(first_q, ds.test_left_out_queries, (size_t)ds.n_queries);
    /* Another seed, another sample. */
    assert_int_equal(semid_dataset_sample_test(&ds, 50, 20, 43, NULL), SEMID_OK);
    assert_true(memcmp(first_q, ds.test_left_out_queries, (size_t)ds.n_queries) != 0);
    assert_true(memcmp(first_u, ds.test_left_out_users, (size_t)ds.n_users) != 0);
    free(first_q);
    free(first_u);
    semid_dataset_clear_test_sample(&ds);
}

/* A limit at or above the split's size, or 0, keeps the whole split. */
static void test_whole_split_when_limit_exceeds_it(void **state) {
    (void)state;
    const int64_t limits[][2] = {{0, 0}, {n_test_queries, n_test_users}, {n_test_queries + 1, n_test_users + 1}, {50000, 50000}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        semid_test_sample s;
        assert_int_equal(semid_dataset_sample_test(&ds, limits[i][0], limits[i][1], 1, &s), SEMID_OK);
        assert_null(ds.test_left_out_queries);
        assert_null(ds.test_left_out_users);
        assert_int_equal(tested_queries(), n_test_queries);
        assert_int_equal(tested_users(), n_test_users);
        assert_int_equal(s.queries, n_test_queries);
        assert_int_equal(s.users, n_test_users);
    }
    assert_int_equal(semid_dataset_sample_test(&ds, -1, 0, 1, NULL), SEMID_EINVAL);
}

/* A user left out keeps its training part and validation item. */
static void test_training_untouched(void **state) {
    (void)state;
    semid_user_split *before = malloc((size_t)ds.n_users * sizeof *before);
    assert_non_null(before);
    for (int32_t u = 0; u < ds.n_users; u++) before[u] = semid_dataset_user_split(&ds, u);
    assert_int_equal(semid_dataset_sample_test(&ds, 10, 10, 3, NULL), SEMID_OK);
    int64_t left_out = 0;
    for (int32_t u = 0; u < ds.n_users; u++) {
        semid_user_split s = semid_dataset_user_split(&ds, u);
        assert_int_equal(s.train_begin, before[u].train_begin);
        assert_int_equal(s.train_end, before[u].train_end);
        assert_int_equal(s.valid_item, before[u].valid_item);
        if (s.test_item != before[u].test_item) {
            assert_int_equal(s.test_item, -1);
            left_out++;
        }
    }
    assert_int_equal(left_out, n_test_users - 10);
    int64_t counts_sampled[300], counts_whole[300];
    semid_dataset_train_counts(&ds, counts_sampled);
    semid_dataset_clear_test_sample(&ds);
    semid_dataset_train_counts(&ds, counts_whole);
    assert_memory_equal(counts_sampled, counts_whole, sizeof counts_whole);
    free(before);
}

/* The evaluations read the sample: the generative prompts' roles, the
 * dense baselines' test queries, the reference rows' users. */
static void test_evaluations_read_it(void **state) {
    (void)state;
    assert_int_equal(semid_dataset_sample_test(&ds, 70, 40, 5, NULL), SEMID_OK);
    uint8_t *role = malloc((size_t)ds.n_queries);
    assert_non_null(role);
    semid_gen_example_options o = semid_gen_example_defaults();
    semid_gen_query_roles(&ds, &o, role);
    int64_t test_roles = 0, unused = 0, other = 0;
    for (int32_t q = 0; q < ds.n_queries; q++) {
        test_roles += role[q] == SEMID_SPLIT_TEST;
        unused += role[q] == SEMID_GEN_ROLE_UNUSED;
        other += ds.queries[q].split != SEMID_SPLIT_TEST; /* training queries, some held out for validation */
        if (ds.queries[q].split != SEMID_SPLIT_TEST) assert_true(role[q] == SEMID_SPLIT_TRAIN || role[q] == SEMID_SPLIT_VALID);
    }
    assert_int_equal(test_roles, 70);
    assert_int_equal(unused, n_test_queries - 70);
    assert_int_equal(other + test_roles + unused, ds.n_queries);
    free(role);
    int32_t *idx = NULL;
    int64_t n = 0;
    assert_int_equal(semid_search_test_queries(&ds, &idx, &n), SEMID_OK);
    assert_int_equal(n, 70);
    for (int64_t i = 0; i < n; i++) assert_true(semid_dataset_query_tested(&ds, idx[i]));
    free(idx);
    semid_ranking_eval search, rec;
    assert_int_equal(semid_baseline_search_popularity(&ds, 10, 0.01, &search), SEMID_OK);
    semid_rec_eval_options ro = semid_rec_eval_defaults();
    assert_int_equal(semid_baseline_rec_popularity(&ds, &ro, &rec), SEMID_OK);
    assert_int_equal(search.n, 70);
    assert_int_equal(rec.n, 40);
    semid_ranking_eval_free(&search);
    semid_ranking_eval_free(&rec);
    semid_dataset_clear_test_sample(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_n),
        cmocka_unit_test(test_seeded),
        cmocka_unit_test(test_whole_split_when_limit_exceeds_it),
        cmocka_unit_test(test_training_untouched),
        cmocka_unit_test(test_evaluations_read_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
