/* Held-out cold items (data/holdout.h): the share holds, the choice is the
 * seed's, no interaction or training/validation query of a cold item is
 * left where a training stage reads it, and the full dataset keeps every
 * cold query for test and cold items as test items only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "data/synth.h"

static semid_dataset ds;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 300;
    c.n_users = 400;
    c.queries_per_item = 4;
    c.queries_train = 2;
    c.queries_valid = 1;
    return semid_synth_generate(&c, 3, &ds) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&ds);
    return 0;
}

/* The original index of item i of `d` (by id). */
static int32_t original(const semid_dataset *d, int32_t i) { return semid_dataset_find_item(&ds, d->items[i].id); }

static int is_cold(const semid_dataset *full, int32_t n_warm, const char *id) {
    int32_t i = semid_dataset_find_item(full, id);
    assert_true(i >= 0);
    return i >= n_warm;
}

static void test_share_and_seed(void **state) {
    (void)state;
    assert_int_equal(semid_holdout_size(300, 0.05), 15);
    assert_int_equal(semid_holdout_size(300, 0), 0);
    assert_int_equal(semid_holdout_size(10, 0.001), 1);  /* at least one */
    assert_int_equal(semid_holdout_size(10, 0.999), 9);  /* a warm one stays */
    semid_dataset f1, w1, f2, w2, f3, w3;
    int32_t n1, n2, n3;
    assert_int_equal(semid_dataset_hold_out_items(&ds, 0.05, 7, &f1, &w1, &n1), SEMID_OK);
    assert_int_equal(semid_dataset_hold_out_items(&ds, 0.05, 7, &f2, &w2, &n2), SEMID_OK);
    assert_int_equal(semid_dataset_hold_out_items(&ds, 0.05, 8, &f3, &w3, &n3), SEMID_OK);
    assert_int_equal(n1, 285);
    assert_int_equal(f1.n_items, 300);
    assert_int_equal(w1.n_items, 285);
    int same = 1, other = 1;
    for (int32_t i = 0; i < 300; i++) {
        same &= strcmp(f1.items[i].id, f2.items[i].id) == 0;
        other &= strcmp(f1.items[i].id, f3.items[i].id) == 0;
    }
    assert_true(same);   /* the seed decides */
    assert_false(other); /* another seed, other items */
    /* warm items first, each part in its original order; warm = full's first n_warm */
    for (int32_t i = 1; i < 300; i++)
        if (i != n1) assert_true(original(&f1, i - 1) < original(&f1, i));
    for (int32_t i = 0; i < n1; i++) assert_string_equal(w1.items[i].id, f1.items[i].id);
    semid_dataset_free(&f1), semid_dataset_free(&w1), semid_dataset_free(&f2), semid_dataset_free(&w2);
    semid_dataset_free(&f3), semid_dataset_free(&w3);
    semid_dataset bad_full, bad_warm;
    assert_int_equal(semid_dataset_hold_out_items(&ds, 0, 7, &bad_full, &bad_warm, &n1), SEMID_EINVAL);
    assert_int_equal(semid_dataset_hold_out_items(&ds, 1, 7, &bad_full, &bad_warm, &n1), SEMID_EINVAL);
}

static void test_nothing_cold_reaches_training(void **state) {
    (void)state;
    semid_dataset full, warm;
    int32_t n_warm;
    assert_int_equal(semid_dataset_hold_out_items(&ds, 0.1, 11, &full, &warm, &n_warm), SEMID_OK);
    assert_int_equal(semid_dataset_validate(&full), SEMID_OK);
    assert_int_equal(semid_dataset_validate(&warm), SEMID_OK);
    assert_int_equal(full.n_users, ds.n_users);
    assert_int_equal(warm.n_users, ds.n_users);
    /* warm: no cold item anywhere */
    for (int64_t j = 0; j < warm.n_interactions; j++) assert_true(warm.seq_items[j] < n_warm);
    for (int32_t q = 0; q < warm.n_queries; q++) assert_false(is_cold(&full, n_warm, warm.items[warm.queries[q].item].id));
    /* full: cold items only as test items and test queries */
    int cold_tests = 0;
    for (int32_t u = 0; u < full.n_users; u++) {
        assert_string_equal(full.user_ids[u], ds.user_ids[u]); /* users keep their order */
        semid_user_split sp = semid_dataset_user_split(&full, u);
        for (int64_t j = sp.train_begin; j < sp.train_end; j++) assert_true(full.seq_items[j] < n_warm);
        assert_true(sp.valid_item < n_warm);
        cold_tests += sp.test_item >= n_warm;
        /* the warm interactions are the original user's, in order */
        int64_t k = full.user_offsets[u];
        for (int64_t j = ds.user_offsets[u]; j < ds.user_offsets[u + 1]; j++) {
            int32_t it = semid_dataset_find_item(&full, ds.items[ds.seq_items[j]].id);
            if (it < n_warm) assert_int_equal(full.seq_items[k++], it);
        }
        assert_true(k >= full.user_offsets[u + 1] - 1);
    }
    assert_true(cold_tests > 0);
    int64_t cold_queries = 0, orig_cold_queries = 0;
    for (int32_t q = 0; q < full.n_queries; q++) {
        if (full.queries[q].item < n_warm) continue;
        cold_queries++;
        assert_int_equal(full.queries[q].split, SEMID_SPLIT_TEST);
    }
    for (int32_t q = 0; q < ds.n_queries; q++) orig_cold_queries += is_cold(&full, n_warm, ds.items[ds.queries[q].item].id);
    assert_int_equal(cold_queries, orig_cold_queries); /* every one kept for test */
    assert_int_equal(cold_queries, 4 * (300 - n_warm));
    assert_int_equal(full.n_queries, ds.n_queries);
    assert_int_equal(warm.n_queries, ds.n_queries - cold_queries);
    semid_dataset_free(&full);
    semid_dataset_free(&warm);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_and_seed),
        cmocka_unit_test(test_nothing_cold_reaches_training),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
