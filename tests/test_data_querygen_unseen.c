/* Test queries in the unseen style (semid_querygen_unseen_style) on a
 * synthetic catalog: training and validation queries untouched, the test
 * queries replaced per item, never a title, never a training query's word
 * set, written in words the training queries do not use, the same under a
 * seed and any thread count; bad counts refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "base/threads.h"
#include "data/dataset.h"
#include "data/querygen.h"
#include "data/synth.h"
#include "text/tokenize.h"

enum { PER_ITEM = 4 };

static void make_dataset(semid_dataset *ds) {
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    cfg.n_items = 300;
    cfg.n_users = 200;
    cfg.queries_valid = 2;
    assert_int_equal(semid_synth_generate(&cfg, 5, ds), SEMID_OK);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every distinct word of the training queries, sorted (for bsearch). */
static char **training_words(const semid_dataset *ds, int32_t *n) {
    int32_t cap = 1024;
    char **words = malloc(sizeof *words * (size_t)cap);
    *n = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        if (ds->queries[q].split != SEMID_SPLIT_TRAIN) continue;
        semid_words w;
        assert_int_equal(semid_tokenize(ds->queries[q].text, &w), SEMID_OK);
        for (int32_t i = 0; i < w.n; i++) {
            if (*n == cap) words = realloc(words, sizeof *words * (size_t)(cap *= 2));
            words[(*n)++] = strdup(w.words[i]);
        }
        semid_words_free(&w);
    }
    qsort(words, (size_t)*n, sizeof *words, cmp_str);
    return words;
}

static void test_replaces_test_queries_only(void **state) {
    (void)state;
    semid_dataset ds, before;
    make_dataset(&ds);
    make_dataset(&before);
    semid_querygen_stats stats;
    assert_int_equal(semid_querygen_unseen_style(&ds, PER_ITEM, 9, &stats), SEMID_OK);
    /* Training and validation queries: the same texts in the same order. */
    int32_t kept = 0, per_item_test[300] = {0};
    for (int32_t q = 0; q < before.n_queries; q++) {
        if (before.queries[q].split == SEMID_SPLIT_TEST) continue;
        assert_string_equal(ds.queries[kept].text, before.queries[q].text);
        assert_int_equal(ds.queries[kept].split, before.queries[q].split);
        assert_int_equal(ds.queries[kept].item, before.queries[q].item);
        kept++;
    }
    assert_int_equal(ds.n_queries, kept + before.n_items * PER_ITEM);
    assert_int_equal(stats.n_test, before.n_items * PER_ITEM);
    for (int32_t q = kept; q < ds.n_queries; q++) {
        const semid_query *x = &ds.queries[q];
        assert_int_equal(x->split, SEMID_SPLIT_TEST);
        per_item_test[x->item]++;
        assert_false(semid_query_contains_title(&ds.items[x->item], x->text));
    }
    for (int32_t i = 0; i < ds.n_items; i++) assert_int_equal(per_item_test[i], PER_ITEM);
    /* No test query repeats a training query of its item. */
    assert_true(semid_queries_copy_share(&ds) == 0.0);
    semid_dataset_free(&ds);
    semid_dataset_free(&before);
}

/* Test queries with a word that is in none of `words` (sorted). */
static int32_t novel_test_queries(const semid_dataset *ds, char **words, int32_t n_words, int32_t *n_test) {
    int32_t novel_n = 0;
    *n_test = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        if (ds->queries[q].split != SEMID_SPLIT_TEST) continue;
        semid_words w;
        assert_int_equal(semid_tokenize(ds->queries[q].text, &w), SEMID_OK);
        bool novel = false;
        for (int32_t i = 0; i < w.n && !novel; i++)
            novel = !bsearch(&w.words[i], words, (size_t)n_words, sizeof *words, cmp_str);
        novel_n += novel;
        (*n_test)++;
        semid_words_free(&w);
    }
    return novel_n;
}

/* The style is the point: nearly every new query has a word that no
 * training query of the whole catalog uses, where the generator's own test
 * queries almost never do. */
static void test_words_training_never_uses(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds);
    int32_t n_words, n_same, n_unseen;
    char **words = training_words(&ds, &n_words);
    int32_t same_style_novel = novel_test_queries(&ds, words, n_words, &n_same);
    assert_int_equal(semid_querygen_unseen_style(&ds, PER_ITEM, 9, NULL), SEMID_OK);
    int32_t unseen_novel = novel_test_queries(&ds, words, n_words, &n_unseen);
    assert_true(unseen_novel >= 0.9 * n_unseen);
    assert_true(same_style_novel <= 0.2 * n_same);
    for (int32_t i = 0; i < n_words; i++) free(words[i]);
    free(words);
    semid_dataset_free(&ds);
}

static void test_seeded_and_thread_free(void **state) {
    (void)state;
    semid_dataset a, b, c;
    make_dataset(&a);
    make_dataset(&b);
    make_dataset(&c);
    int saved = semid_get_threads();
    semid_set_threads(1);
    assert_int_equal(semid_querygen_unseen_style(&a, PER_ITEM, 3, NULL), SEMID_OK);
    semid_set_threads(2);
    assert_int_equal(semid_querygen_unseen_style(&b, PER_ITEM, 3, NULL), SEMID_OK);
    assert_int_equal(semid_querygen_unseen_style(&c, PER_ITEM, 4, NULL), SEMID_OK);
    semid_set_threads(saved);
    assert_int_equal(a.n_queries, b.n_queries);
    int32_t differ = 0;
    for (int32_t q = 0; q < a.n_queries; q++) {
        assert_string_equal(a.queries[q].text, b.queries[q].text);
        differ += strcmp(a.queries[q].text, c.queries[q].text) != 0;
    }
    assert_true(differ > a.n_items); /* another seed, other queries */
    semid_dataset_free(&a);
    semid_dataset_free(&b);
    semid_dataset_free(&c);
}

static void test_bad_count(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds);
    int32_t n = ds.n_queries;
    assert_int_equal(semid_querygen_unseen_style(&ds, 0, 1, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "1..1000"));
    assert_int_equal(ds.n_queries, n);
    semid_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replaces_test_queries_only),
        cmocka_unit_test(test_words_training_never_uses),
        cmocka_unit_test(test_seeded_and_thread_free),
        cmocka_unit_test(test_bad_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
