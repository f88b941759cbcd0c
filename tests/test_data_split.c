/* The dataset model: builder ordering, leave-last-out split, head items,
 * item text, statistics, and the binary save/load round trip with its
 * corruption checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/builder.h"
#include "data/dataset.h"
#include "data/filter.h"
#include "data/stats.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* Items i0..i(n-1); user "a" with 5 interactions, "b" with 3, "c" with 2,
 * "d" with 1; item i0 is the most popular. */
static void build_small(semid_dataset *ds, int32_t n_items) {
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "small"), SEMID_OK);
    for (int32_t i = 0; i < n_items; i++) {
        char id[16], title[32];
        snprintf(id, sizeof id, "i%d", i);
        snprintf(title, sizeof title, "Title %d", i);
        semid_item it = {.id = id, .title = title, .year = 1990 + i, .genres = i % 2 ? "Drama,War" : NULL};
        int32_t idx;
        assert_int_equal(semid_builder_add_item(b, &it, &idx), SEMID_OK);
        assert_int_equal(idx, i);
    }
    /* Added out of time order on purpose. */
    static const struct {
        const char *user;
        int item;
        int64_t time;
    } rows[] = {
        {"a", 0, 50}, {"a", 1, 10}, {"a", 2, 20}, {"a", 3, 40}, {"a", 4, 30},
        {"b", 0, 3},  {"b", 5, 1},  {"b", 0, 2},  {"c", 0, 1},  {"c", 6, 2}, {"d", 0, 7},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char id[16];
        snprintf(id, sizeof id, "i%d", rows[r].item);
        assert_int_equal(semid_builder_add_interaction(b, rows[r].user, id, rows[r].time), SEMID_OK);
    }
    assert_int_equal(semid_builder_add_query(b, 1, "war drama", SEMID_SPLIT_TRAIN), SEMID_OK);
    assert_int_equal(semid_builder_add_query(b, 0, "first title", SEMID_SPLIT_TEST), SEMID_OK);
    assert_int_equal(semid_builder_set_description(b, 2, "Described."), SEMID_OK);
    assert_int_equal(semid_builder_add_tag(b, 2, " cult "), SEMID_OK);
    assert_int_equal(semid_builder_add_tag(b, 2, "cult"), SEMID_OK);
    assert_int_equal(semid_builder_add_tag(b, 2, "a,b"), SEMID_OK);
    assert_int_equal(semid_builder_add_tag(b, 2, ", ,"), SEMID_OK); /* nothing left: ignored */
    assert_int_equal(semid_builder_add_tag(b, 2, ",cult,"), SEMID_OK); /* "cult" again */
    assert_int_equal(semid_builder_finish(b, ds), SEMID_OK);
}

static void test_builder_errors(void **state) {
    (void)state;
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "x"), SEMID_OK);
    semid_item it = {.id = "1", .title = "One"};
    assert_int_equal(semid_builder_add_item(b, &it, NULL), SEMID_OK);
    assert_int_equal(semid_builder_add_item(b, &it, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "duplicate item id '1'"));
    semid_item empty = {.id = ""};
    assert_int_equal(semid_builder_add_item(b, &empty, NULL), SEMID_EINVAL);
    assert_int_equal(semid_builder_add_interaction(b, "u", "2", 0), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "unknown item id '2'"));
    assert_int_equal(semid_builder_add_interaction_idx(b, 0, 0, 0), SEMID_EINVAL); /* no user yet */
    int32_t u;
    assert_int_equal(semid_builder_user(b, "u", &u), SEMID_OK);
    assert_int_equal(semid_builder_add_interaction_idx(b, u, 5, 0), SEMID_EINVAL);
    assert_int_equal(semid_builder_add_query(b, 0, "", SEMID_SPLIT_TRAIN), SEMID_EINVAL);
    assert_int_equal(semid_builder_add_query(b, 3, "q", SEMID_SPLIT_TRAIN), SEMID_EINVAL);
    assert_int_equal(semid_builder_find_item(b, "1"), 0);
    assert_int_equal(semid_builder_n_items(b), 1);
    /* Still usable after the failures. */
    assert_int_equal(semid_builder_add_interaction_idx(b, u, 0, 4), SEMID_OK);
    semid_dataset ds;
    assert_int_equal(semid_builder_finish(b, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 1);
    semid_dataset_free(&ds);
    assert_null(ds.items);
}

static void test_split_and_order(void **state) {
    (void)state;
    semid_dataset ds;
    build_small(&ds, 8);
    assert_int_equal(ds.n_users, 4);
    assert_int_equal(ds.n_interactions, 11);
    assert_string_equal(ds.user_ids[0], "a");
    /* a sorted by time: i1(10) i2(20) i4(30) i3(40) i0(50). */
    const int32_t a_seq[5] = {1, 2, 4, 3, 0};
    assert_memory_equal(ds.seq_items, a_seq, sizeof a_seq);
    semid_user_split s = semid_dataset_user_split(&ds, 0);
    assert_int_equal(s.train_begin, 0);
    assert_int_equal(s.train_end, 3);
    assert_int_equal(s.valid_item, 3);
    assert_int_equal(s.test_item, 0);
    /* b: i5(1) i0(2) i0(3): exactly 3 -> 1 train, valid i0, test i0. */
    s = semid_dataset_user_split(&ds, 1);
    assert_int_equal(s.train_end - s.train_begin, 1);
    assert_int_equal(ds.seq_items[s.train_begin], 5);
    assert_int_equal(s.valid_item, 0);
    assert_int_equal(s.test_item, 0);
    /* c (2) and d (1): everything in train. */
    for (int32_t u = 2; u < 4; u++) {
        s = semid_dataset_user_split(&ds, u);
        assert_int_equal(s.valid_item, -1);
        assert_int_equal(s.test_item, -1);
        assert_int_equal(s.train_begin, ds.user_offsets[u]);
        assert_int_equal(s.train_end, ds.user_offsets[u + 1]);
    }
    int64_t counts[8];
    semid_dataset_train_counts(&ds, counts);
    /* Train: a{1,2,4} b{5} c{0,6} d{0}. */
    const int64_t want[8] = {2, 1, 1, 0, 1, 1, 1, 0};
    assert_memory_equal(counts, want, sizeof want);
    semid_dataset_free(&ds);
}

static void test_head_items(void **state) {
    (void)state;
    assert_int_equal(semid_dataset_head_size(3416, 0.01), 34);
    assert_int_equal(semid_dataset_head_size(10, 0.01), 1);
    assert_int_equal(semid_dataset_head_size(10, 0.25), 3);
    assert_int_equal(semid_dataset_head_size(10, 1.0), 10);
    assert_int_equal(semid_dataset_head_size(0, 0.01), 0);
    semid_dataset ds;
    build_small(&ds, 8);
    uint8_t head[8];
    assert_int_equal(semid_dataset_head_items(&ds, 0.01, head), 1);
    const uint8_t want1[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(head, want1, 8);
    /* 3 of 8: i0 (2), then the ties at 1 broken by index: i1, i2. */
    assert_int_equal(semid_dataset_head_items(&ds, 0.375, head), 3);
    const uint8_t want3[8] = {1, 1, 1, 0, 0, 0, 0, 0};
    assert_memory_equal(head, want3, 8);
    semid_dataset_free(&ds);
}

static void test_item_text(void **state) {
    (void)state;
    semid_item it = {.id = "1", .title = "Heat", .year = 1995, .genres = "Action,Crime", .description = "", .tags = "heist"};
    char *t = semid_item_text(&it);
    assert_string_equal(t, "Heat. 1995. Action, Crime. heist");
    free(t);
    semid_item asks = {.id = "3", .title = "Who?", .year = 0, .genres = "", .description = "A story.", .tags = "x,y"};
    t = semid_item_text(&asks);
    assert_string_equal(t, "Who? A story. x, y");
    free(t);
    semid_item bare = {.id = "2", .title = "Alone", .genres = "", .description = "", .tags = ""};
    t = semid_item_text(&bare);
    assert_string_equal(t, "Alone");
    free(t);
}

static void test_tags_and_description(void **state) {
    (void)state;
    semid_dataset ds;
    build_small(&ds, 8);
    assert_string_equal(ds.items[2].description, "Described.");
    assert_string_equal(ds.items[2].tags, "cult,a b");
    assert_string_equal(ds.items[1].genres, "Drama,War");
    assert_string_equal(ds.items[0].genres, "");
    assert_int_equal(semid_dataset_find_item(&ds, "i7"), 7);
    assert_int_equal(semid_dataset_find_item(&ds, "nope"), -1);
    semid_dataset_free(&ds);
}

static void assert_same(const semid_dataset *a, const semid_dataset *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->n_items, b->n_items);
    for (int32_t i = 0; i < a->n_items; i++) {
        assert_string_equal(a->items[i].id, b->items[i].id);
        assert_string_equal(a->items[i].title, b->items[i].title);
        assert_int_equal(a->items[i].year, b->items[i].year);
        assert_string_equal(a->items[i].genres, b->items[i].genres);
        assert_string_equal(a->items[i].description, b->items[i].description);
        assert_string_equal(a->items[i].tags, b->items[i].tags);
    }
    assert_int_equal(a->n_users, b->n_users);
    for (int32_t u = 0; u < a->n_users; u++) assert_string_equal(a->user_ids[u], b->user_ids[u]);
    assert_int_equal(a->n_interactions, b->n_interactions);
    assert_memory_equal(a->user_offsets, b->user_offsets, ((size_t)a->n_users + 1) * sizeof(int64_t));
    assert_memory_equal(a->seq_items, b->seq_items, (size_t)a->n_interactions * sizeof(int32_t));
    assert_memory_equal(a->seq_times, b->seq_times, (size_t)a->n_interactions * sizeof(int64_t));
    assert_int_equal(a->n_queries, b->n_queries);
    for (int32_t q = 0; q < a->n_queries; q++) {
        assert_string_equal(a->queries[q].text, b->queries[q].text);
        assert_int_equal(a->queries[q].item, b->queries[q].item);
        assert_int_equal(a->queries[q].split, b->queries[q].split);
    }
}

/* Plain write, no fsync: the corruption loop writes hundreds of files. */
static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void test_save_load(void **state) {
    (void)state;
    semid_dataset ds, back;
    build_small(&ds, 8);
    char *path = semid_path_join(tmpdir, "small.sdd");
    assert_int_equal(semid_dataset_save(&ds, path), SEMID_OK);
    assert_int_equal(semid_dataset_load(path, &back), SEMID_OK);
    assert_same(&ds, &back);
    assert_int_equal(semid_dataset_find_item(&back, "i5"), 5);
    semid_dataset_free(&back);

    /* Every truncation and every single-byte change is a clean error. */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    char *bad = semid_path_join(tmpdir, "bad.sdd");
    for (size_t cut = 0; cut < len; cut += 7) {
        write_bytes(bad, raw, cut);
        assert_int_equal(semid_dataset_load(bad, &back), SEMID_EFORMAT);
        assert_non_null(strstr(semid_last_error(), "bad.sdd"));
    }
    for (size_t at = 0; at < len; at += 5) {
        raw[at] ^= 0x5A;
        write_bytes(bad, raw, len);
        assert_int_equal(semid_dataset_load(bad, &back), SEMID_EFORMAT);
        raw[at] ^= 0x5A;
    }
    /* A newer version is refused by name. */
    raw[8] = 9;
    assert_int_equal(semid_write_file_atomic(bad, raw, len), SEMID_OK);
    assert_int_equal(semid_dataset_load(bad, &back), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "version 9"));
    free(raw);
    assert_int_equal(semid_dataset_load("/nonexistent.sdd", &back), SEMID_ENOTFOUND);

    /* An empty dataset round-trips too. */
    semid_dataset empty = {0};
    assert_int_equal(semid_dataset_save(&empty, bad), SEMID_OK);
    assert_int_equal(semid_dataset_load(bad, &back), SEMID_OK);
    assert_int_equal(back.n_items, 0);
    assert_int_equal(back.n_interactions, 0);
    semid_dataset_free(&back);
    semid_dataset_free(&ds);
    free(bad);
    free(path);
}

static void test_filter(void **state) {
    (void)state;
    semid_dataset ds;
    build_small(&ds, 8);
    /* Users with >= 3 interactions (a, b); then items i7 (none) go too. */
    semid_filter_options o = {.user_core = 3, .item_core = 0, .drop_uninteracted_items = true};
    assert_int_equal(semid_dataset_filter(&ds, &o), SEMID_OK);
    assert_int_equal(ds.n_users, 2);
    assert_int_equal(ds.n_interactions, 8);
    assert_int_equal(ds.n_items, 6); /* i0..i5 */
    assert_int_equal(semid_dataset_find_item(&ds, "i6"), -1);
    assert_int_equal(semid_dataset_find_item(&ds, "i5"), 5);
    assert_int_equal(ds.n_queries, 2);
    assert_int_equal(semid_dataset_validate(&ds), SEMID_OK);
    semid_dataset_free(&ds);
}

static void test_stats(void **state) {
    (void)state;
    semid_dataset ds;
    build_small(&ds, 8);
    semid_dataset_stats s;
    assert_int_equal(semid_dataset_compute_stats(&ds, 0.01, &s), SEMID_OK);
    assert_int_equal(s.n_items, 8);
    assert_int_equal(s.seq_min, 1);
    assert_int_equal(s.seq_max, 5);
    assert_float_equal(s.seq_median, 2.5, 1e-12);
    assert_float_equal(s.seq_mean, 11.0 / 4, 1e-12);
    assert_float_equal(s.sparsity, 1 - 11.0 / 32, 1e-12);
    assert_int_equal(s.users_evaluable, 2);
    assert_int_equal(s.head_items, 1);
    assert_float_equal(s.head_share, 2.0 / 7, 1e-12); /* i0 has 2 of 7 train interactions */
    assert_int_equal(s.items_cold, 2);
    assert_int_equal(s.queries_per_split[0], 1);
    assert_int_equal(s.queries_per_split[2], 1);
    /* Gini of sorted {0,0,1,1,1,1,1,2}: sum (2i-n-1) x / (n sum x). */
    double want = ((-7 * 0) + (-5 * 0) + (-3 + -1 + 1 + 3 + 5) * 1 + 7 * 2) / (8.0 * 7);
    assert_float_equal(s.gini, want, 1e-12);
    char *table = semid_dataset_stats_table(&s);
    assert_non_null(strstr(table, "interactions"));
    assert_non_null(strstr(table, "65.6250%"));
    free(table);
    cJSON *j = semid_dataset_stats_json(&s);
    assert_int_equal((int)cJSON_GetObjectItem(j, "users")->valuedouble, 4);
    cJSON_Delete(j);
    semid_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_errors), cmocka_unit_test(test_split_and_order),
        cmocka_unit_test(test_head_items),     cmocka_unit_test(test_item_text),
        cmocka_unit_test(test_tags_and_description), cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_filter),         cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
