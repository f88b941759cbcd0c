/* The synthetic dataset: sizes, determinism, titles kept out of queries,
 * and structure a model can learn (measured from the data itself). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/status.h"
#include "data/dataset.h"
#include "data/export_generic.h"
#include "data/import.h"
#include "data/querygen.h"
#include "data/synth.h"
#include "text/tokenize.h"
#include "support/testutil.h"

/* The default-sized dataset, generated once for the tests that read it. */
static semid_dataset g_default;

static int setup(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    return semid_synth_generate(&cfg, 42, &g_default) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&g_default);
    return 0;
}

static void test_default_sizes(void **state) {
    (void)state;
    const semid_dataset *ds = &g_default;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    assert_string_equal(ds->name, "synthetic");
    assert_int_equal(ds->n_items, cfg.n_items);
    assert_int_equal(ds->n_users, cfg.n_users);
    double mean = (double)ds->n_interactions / ds->n_users;
    assert_true(fabs(mean - cfg.mean_history) < 0.15 * cfg.mean_history);
    for (int32_t u = 0; u < ds->n_users; u++) {
        int64_t len = ds->user_offsets[u + 1] - ds->user_offsets[u];
        assert_true(len >= cfg.min_history && len <= cfg.max_history);
        /* Timestamps are ranks, and no item repeats within a user. */
        for (int64_t k = ds->user_offsets[u]; k < ds->user_offsets[u + 1]; k++) {
            assert_int_equal(ds->seq_times[k], k - ds->user_offsets[u]);
            for (int64_t j = ds->user_offsets[u]; j < k; j++) assert_int_not_equal(ds->seq_items[j], ds->seq_items[k]);
        }
    }
    /* Every item has text: a year, genres, 2-4 sentences, tags. */
    for (int32_t i = 0; i < ds->n_items; i++) {
        const semid_item *it = &ds->items[i];
        assert_true(it->year >= 1925 && it->year <= 2030);
        assert_true(strlen(it->genres) > 0 && strlen(it->tags) > 0 && strlen(it->title) > 0);
        int sentences = 0;
        for (const char *c = it->description; *c; c++) sentences += *c == '.';
        assert_true(sentences >= 2 && sentences <= 4);
        assert_int_equal(semid_dataset_find_item(ds, it->id), i);
    }
    /* Titles are unique. */
    for (int32_t i = 0; i < ds->n_items; i++)
        for (int32_t j = 0; j < i; j++) assert_string_not_equal(ds->items[i].title, ds->items[j].title);
    /* 20 queries per item, 10 train and 10 test. */
    assert_int_equal(ds->n_queries, cfg.n_items * cfg.queries_per_item);
    int32_t *train = calloc((size_t)ds->n_items, sizeof *train);
    assert_non_null(train);
    for (int32_t q = 0; q < ds->n_queries; q++) {
        assert_true(ds->queries[q].split == SEMID_SPLIT_TRAIN || ds->queries[q].split == SEMID_SPLIT_TEST);
        train[ds->queries[q].item] += ds->queries[q].split == SEMID_SPLIT_TRAIN;
    }
    for (int32_t i = 0; i < ds->n_items; i++) assert_int_equal(train[i], cfg.queries_train);
    free(train);
}

static void test_queries_avoid_titles_and_copies(void **state) {
    (void)state;
    const semid_dataset *ds = &g_default;
    for (int32_t q = 0; q < ds->n_queries; q++)
        assert_false(semid_query_contains_title(&ds->items[ds->queries[q].item], ds->queries[q].text));
    assert_true(semid_queries_copy_share(ds) < 0.05);
}

static bool same_dataset(const semid_dataset *a, const semid_dataset *b) {
    if (a->n_items != b->n_items || a->n_users != b->n_users || a->n_interactions != b->n_interactions ||
        a->n_queries != b->n_queries)
        return false;
    for (int32_t i = 0; i < a->n_items; i++) {
        const semid_item *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->id, y->id) || strcmp(x->title, y->title) || x->year != y->year || strcmp(x->genres, y->genres) ||
            strcmp(x->description, y->description) || strcmp(x->tags, y->tags))
            return false;
    }
    if (memcmp(a->seq_items, b->seq_items, (size_t)a->n_interactions * sizeof(int32_t)) ||
        memcmp(a->user_offsets, b->user_offsets, ((size_t)a->n_users + 1) * sizeof(int64_t)))
        return false;
    for (int32_t q = 0; q < a->n_queries; q++)
        if (strcmp(a->queries[q].text, b->queries[q].text) || a->queries[q].item != b->queries[q].item ||
            a->queries[q].split != b->queries[q].split)
            return false;
    return true;
}

static void test_determinism(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    cfg.n_items = 300;
    cfg.n_users = 400;
    semid_dataset a, b, c;
    assert_int_equal(semid_synth_generate(&cfg, 7, &a), SEMID_OK);
    assert_int_equal(semid_synth_generate(&cfg, 7, &b), SEMID_OK);
    assert_int_equal(semid_synth_generate(&cfg, 8, &c), SEMID_OK);
    assert_true(same_dataset(&a, &b));
    assert_false(same_dataset(&a, &c));
    /* A different seed changes titles, histories and queries alike. */
    int title_diff = 0, query_diff = 0;
    for (int32_t i = 0; i < a.n_items; i++) title_diff += strcmp(a.items[i].title, c.items[i].title) != 0;
    for (int32_t q = 0; q < a.n_queries && q < c.n_queries; q++)
        query_diff += strcmp(a.queries[q].text, c.queries[q].text) != 0;
    assert_true(title_diff > a.n_items / 2);
    assert_true(query_diff > a.n_queries / 2);
    semid_dataset_free(&a);
    semid_dataset_free(&b);
    semid_dataset_free(&c);
}

/* Recall@30 on each user's last item when ranking items by how often the
 * user's history holds their topic (a content signal: the first tag of a
 * synthetic item names its topic), then by popularity. */
static double topic_recall(const semid_dataset *ds, const int64_t *pop) {
    int32_t n = ds->n_items;
    int32_t *topic = malloc((size_t)n * sizeof *topic);
    char(*names)[32] = calloc(64, sizeof *names);
    double *score = malloc((size_t)n * sizeof *score);
    uint8_t *seen = calloc((size_t)n, 1);
    assert_true(topic && names && score && seen);
    int32_t n_topics = 0;
    for (int32_t i = 0; i < n; i++) {
        char t[32];
        size_t len = strcspn(ds->items[i].tags, ",");
        snprintf(t, sizeof t, "%.*s", (int)len, ds->items[i].tags);
        int32_t k = 0;
        while (k < n_topics && strcmp(names[k], t) != 0) k++;
        if (k == n_topics) {
            assert_true(n_topics < 64);
            strcpy(names[n_topics++], t);
        }
        topic[i] = k;
    }
    int64_t hits = 0, n_eval = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        if (sp.test_item < 0) continue;
        double weight[64] = {0};
        for (int64_t k = sp.train_begin; k < sp.train_end; k++) {
            seen[ds->seq_items[k]] = 1;
            weight[topic[ds->seq_items[k]]] += 1;
        }
        seen[sp.valid_item] = 1;
        weight[topic[sp.valid_item]] += 1;
        for (int32_t i = 0; i < n; i++) score[i] = seen[i] ? -1.0 : weight[topic[i]] * 1e6 + (double)pop[i];
        int32_t rank = 0;
        for (int32_t i = 0; i < n; i++) rank += score[i] > score[sp.test_item];
        hits += rank < 30;
        n_eval++;
        for (int64_t k = sp.train_begin; k < sp.train_end; k++) seen[ds->seq_items[k]] = 0;
        seen[sp.valid_item] = 0;
    }
    free(topic);
    free(names);
    free(score);
    free(seen);
    return (double)hits / (double)n_eval;
}

/* Recall@30 on each user's last item, for a popularity ranking and for
 * "the most common successors of the previous item" counted on the
 * training part, both excluding what the user has seen. */
static void test_sequences_are_learnable(void **state) {
    (void)state;
    const semid_dataset *ds = &g_default;
    int32_t n = ds->n_items;
    int32_t *succ = calloc((size_t)n * (size_t)n, sizeof *succ); /* (I, I) successor counts */
    int64_t *pop = calloc((size_t)n, sizeof *pop);
    uint8_t *seen = calloc((size_t)n, 1);
    assert_non_null(succ);
    assert_non_null(pop);
    assert_non_null(seen);
    semid_dataset_train_counts(ds, pop);
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        for (int64_t k = sp.train_begin + 1; k < sp.train_end; k++)
            succ[(size_t)ds->seq_items[k - 1] * n + ds->seq_items[k]]++;
    }
    /* Items by popularity, most popular first. */
    int32_t *by_pop = malloc((size_t)n * sizeof *by_pop);
    int32_t *cand = malloc((size_t)n * sizeof *cand);
    assert_non_null(by_pop);
    assert_non_null(cand);
    for (int32_t i = 0; i < n; i++) by_pop[i] = i;
    for (int32_t i = 1; i < n; i++)
        for (int32_t j = i; j > 0 && pop[by_pop[j]] > pop[by_pop[j - 1]]; j--) {
            int32_t t = by_pop[j];
            by_pop[j] = by_pop[j - 1];
            by_pop[j - 1] = t;
        }
    int64_t hits_pop = 0, hits_seq = 0, n_eval = 0;
    int32_t top[30];
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        if (sp.test_item < 0) continue;
        for (int64_t k = sp.train_begin; k < sp.train_end; k++) seen[ds->seq_items[k]] = 1;
        seen[sp.valid_item] = 1;
        n_eval++;
        /* Popularity. */
        int32_t m = 0;
        for (int32_t k = 0; k < n && m < 30; k++)
            if (!seen[by_pop[k]]) top[m++] = by_pop[k];
        for (int32_t k = 0; k < m; k++) hits_pop += top[k] == sp.test_item;
        /* Successors of the last item seen (the validation item), then popularity. */
        const int32_t *row = succ + (size_t)sp.valid_item * n;
        int32_t n_cand = 0;
        for (int32_t i = 0; i < n; i++)
            if (row[i] > 0 && !seen[i]) cand[n_cand++] = i;
        /* Selection of the 30 most frequent successors (ties: lower index). */
        m = 0;
        for (; m < 30 && m < n_cand; m++) {
            int32_t best = m;
            for (int32_t j = m + 1; j < n_cand; j++)
                if (row[cand[j]] > row[cand[best]]) best = j;
            int32_t t = cand[m];
            cand[m] = cand[best];
            cand[best] = t;
            top[m] = cand[m];
            seen[cand[m]] = 2; /* taken */
        }
        for (int32_t k = 0; k < n && m < 30; k++)
            if (!seen[by_pop[k]]) top[m++] = by_pop[k];
        for (int32_t k = 0; k < m; k++) hits_seq += top[k] == sp.test_item;
        for (int32_t k = 0; k < m && k < n_cand; k++) seen[cand[k]] = 0;
        for (int64_t k = sp.train_begin; k < sp.train_end; k++) seen[ds->seq_items[k]] = 0;
        seen[sp.valid_item] = 0;
    }
    double r_pop = (double)hits_pop / n_eval, r_seq = (double)hits_seq / n_eval;
    double r_topic = topic_recall(ds, pop);
    print_message("Recall@30 on the last item: popularity %.3f, user's topics %.3f, successors %.3f (%lld users)\n",
                  r_pop, r_topic, r_seq, (long long)n_eval);
    assert_true(r_seq > 2.0 * r_pop);
    assert_true(r_seq > r_pop + 0.15);
    /* The text's topics explain part of the behaviour, not all of it: the
     * sequences carry signal that content alone misses. */
    assert_true(r_topic > r_pop + 0.05);
    assert_true(r_seq > r_topic + 0.1);
    /* Popularity is skewed: the top 1% of items draw far more than 1% of the interactions. */
    int64_t head = 0, total = 0;
    for (int32_t k = 0; k < n; k++) {
        total += pop[by_pop[k]];
        if (k < n / 100) head += pop[by_pop[k]];
    }
    assert_true((double)head / total > 0.03);
    free(succ);
    free(pop);
    free(seen);
    free(by_pop);
    free(cand);
}

/* Share of a query's content words found in a text. */
static double overlap(const semid_words *q, const char *text) {
    semid_words t;
    assert_int_equal(semid_tokenize(text, &t), SEMID_OK);
    int n = 0, hit = 0;
    for (int32_t i = 0; i < q->n; i++) {
        if (semid_is_stopword(q->words[i])) continue;
        n++;
        for (int32_t j = 0; j < t.n; j++)
            if (strcmp(q->words[i], t.words[j]) == 0) {
                hit++;
                break;
            }
    }
    semid_words_free(&t);
    return n ? (double)hit / n : 0.0;
}

static void test_queries_match_their_item(void **state) {
    (void)state;
    const semid_dataset *ds = &g_default;
    double own = 0, other = 0;
    int64_t n = 0;
    for (int32_t q = 0; q < ds->n_queries; q += 7) {
        int32_t it = ds->queries[q].item;
        int32_t rnd = (int32_t)((it * 7919 + 13) % ds->n_items);
        if (rnd == it) continue;
        semid_words w;
        assert_int_equal(semid_tokenize(ds->queries[q].text, &w), SEMID_OK);
        char *t1 = semid_item_text(&ds->items[it]), *t2 = semid_item_text(&ds->items[rnd]);
        own += overlap(&w, t1);
        other += overlap(&w, t2);
        free(t1);
        free(t2);
        semid_words_free(&w);
        n++;
    }
    own /= n;
    other /= n;
    print_message("query words found in the item's text: own %.3f, random item %.3f\n", own, other);
    assert_true(own > 2.0 * other);
    assert_true(own > 0.4);
}

static void test_rejects_bad_config(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    semid_dataset ds;
    cfg.n_items = 0;
    assert_int_equal(semid_synth_generate(&cfg, 1, &ds), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "n_items"));
    semid_synth_config_default(&cfg);
    cfg.n_topics = 1000;
    assert_int_equal(semid_synth_generate(&cfg, 1, &ds), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "n_topics"));
    semid_synth_config_default(&cfg);
    cfg.queries_train = 30;
    assert_int_equal(semid_synth_generate(&cfg, 1, &ds), SEMID_EINVAL);
    semid_synth_config_default(&cfg);
    cfg.p_sequel = 0.9;
    cfg.p_cluster = 0.5;
    assert_int_equal(semid_synth_generate(&cfg, 1, &ds), SEMID_EINVAL);
}

static void test_small_and_no_queries(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    cfg.n_items = 40;
    cfg.n_users = 25;
    cfg.n_topics = 3;
    cfg.mean_history = 8;
    cfg.queries_per_item = 0;
    semid_dataset ds;
    assert_int_equal(semid_synth_generate(&cfg, 3, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 40);
    assert_int_equal(ds.n_users, 25);
    assert_int_equal(ds.n_queries, 0);
    for (int32_t u = 0; u < ds.n_users; u++)
        assert_true(ds.user_offsets[u + 1] - ds.user_offsets[u] >= cfg.min_history);
    semid_dataset_free(&ds);
}

/* The histories drawn through the popularity trees (base/fenwick.h) are
 * those of the scan they replaced: the datasets of 1,200 to 62,138 items
 * were byte-identical before and after (cmp of the .sdd files); the hash
 * below is the scan's, taken before the change. */
static void test_histories_unchanged(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    cfg.n_items = 3000;
    cfg.n_users = 2000;
    cfg.queries_per_item = 0;
    semid_dataset d;
    assert_int_equal(semid_synth_generate(&cfg, 1, &d), SEMID_OK);
    uint64_t h = semid_xxh64(d.seq_items, (size_t)d.n_interactions * sizeof(int32_t));
    fprintf(stderr, "histories: %lld interactions, xxh64 %016llx\n", (long long)d.n_interactions,
            (unsigned long long)h);
    assert_int_equal(d.n_interactions, 60727);
    assert_true(h == 0x42b5485f2d0830bfull);
    semid_dataset_free(&d);
}

/* A synthetic catalog written as generic TSV and imported back is the same
 * dataset: items, users, interactions with their times, queries. */
static void test_export_generic_round_trip(void **state) {
    (void)state;
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    cfg.n_items = 200;
    cfg.n_users = 300;
    semid_dataset a, b;
    assert_int_equal(semid_synth_generate(&cfg, 3, &a), SEMID_OK);
    char *dir = test_make_tmpdir();
    assert_int_equal(semid_dataset_export_generic(&a, dir), SEMID_OK);
    semid_import_options io;
    semid_import_options_init(&io);
    io.drop_uninteracted_items = false;
    assert_int_equal(semid_import("generic", dir, &io, &b), SEMID_OK);
    assert_true(same_dataset(&a, &b));
    for (int32_t u = 0; u < a.n_users; u++) assert_string_equal(a.user_ids[u], b.user_ids[u]);
    assert_memory_equal(a.seq_times, b.seq_times, (size_t)a.n_interactions * sizeof(int64_t));
    semid_dataset_free(&b);
    /* A tab inside a field becomes a space instead of a new column. */
    a.items[0].title[0] = '\t';
    assert_int_equal(semid_dataset_export_generic(&a, dir), SEMID_OK);
    assert_int_equal(semid_import("generic", dir, &io, &b), SEMID_OK);
    assert_int_equal(b.n_items, a.n_items);
    assert_int_equal(b.items[0].title[0] == ' ' || b.items[0].title[0] == a.items[0].title[1], 1);
    semid_dataset_free(&b);
    semid_dataset_free(&a);
    test_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_sizes),
        cmocka_unit_test(test_queries_avoid_titles_and_copies),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_sequences_are_learnable),
        cmocka_unit_test(test_queries_match_their_item),
        cmocka_unit_test(test_rejects_bad_config),
        cmocka_unit_test(test_small_and_no_queries),
        cmocka_unit_test(test_export_generic_round_trip),
        cmocka_unit_test(test_histories_unchanged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
