/* The public C API for datasets (include/semid/api.h), used as a program
 * would: only semid/semid.h. Import, synthesise, queries, save and load,
 * every accessor, and errors as status + message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semid/semid.h"
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

static char *path_in(const char *name) {
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

#define OK(expr)                                                                                  \
    do {                                                                                          \
        semid_status st_ = (expr);                                                                \
        if (st_ != SEMID_OK) fail_msg("%s: %s: %s", #expr, semid_status_name(st_), semid_last_error()); \
    } while (0)

/* A call that must fail with `want` and a message holding `needle`. */
#define FAILS(want, needle, expr)                                                                  \
    do {                                                                                           \
        semid_status st_ = (expr);                                                                 \
        if (st_ != (want)) fail_msg("%s: %s, not %s", #expr, semid_status_name(st_), semid_status_name(want)); \
        if (!strstr(semid_last_error(), needle)) fail_msg("%s: no '%s' in '%s'", #expr, needle, semid_last_error()); \
    } while (0)

static semid_data *small_synth(uint64_t seed) {
    semid_synth_opts o = semid_synth_opts_default();
    o.n_items = 40;
    o.n_users = 50;
    o.mean_history = 6;
    o.min_history = 4;
    o.n_topics = 4;
    o.queries_per_item = 3;
    o.queries_train = 2;
    o.seed = seed;
    semid_data *d = NULL;
    OK(semid_data_synth(&o, &d));
    assert_non_null(d);
    return d;
}

static void test_version(void **state) {
    (void)state;
    assert_string_equal(semid_version(), SEMID_VERSION_STRING);
    assert_int_equal(semid_version_number(), SEMID_VERSION_NUMBER);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SEMID_VERSION_MAJOR, SEMID_VERSION_MINOR, SEMID_VERSION_PATCH);
    assert_string_equal(want, SEMID_VERSION_STRING);
}

static void test_synth_accessors(void **state) {
    (void)state;
    semid_data *d = small_synth(7);
    assert_int_equal(semid_data_n_items(d), 40);
    assert_true(semid_data_n_users(d) > 0 && semid_data_n_users(d) <= 50);
    assert_string_equal(semid_data_name(d), "synthetic");
    int64_t total = 0;
    for (int32_t u = 0; u < semid_data_n_users(d); u++) {
        int64_t n = -1;
        const int32_t *items = semid_data_user_items(d, u, &n);
        assert_non_null(items);
        assert_true(n >= 1);
        for (int64_t j = 0; j < n; j++) assert_true(items[j] >= 0 && items[j] < 40);
        assert_non_null(semid_data_user_id(d, u));
        total += n;
    }
    assert_int_equal(total, semid_data_n_interactions(d));
    for (int32_t i = 0; i < 40; i++) {
        const char *id = semid_data_item_id(d, i);
        assert_non_null(id);
        assert_int_equal(semid_data_item_index(d, id), i);
        assert_non_null(semid_data_item_title(d, i));
        assert_non_null(semid_data_item_genres(d, i));
        assert_non_null(semid_data_item_description(d, i));
        assert_true(semid_data_item_year(d, i) >= 0);
    }
    assert_int_equal(semid_data_n_queries(d), 40 * 3);
    int32_t counts[3] = {0, 0, 0};
    for (int32_t q = 0; q < semid_data_n_queries(d); q++) {
        int32_t item = -2, split = -2;
        const char *text = semid_data_query(d, q, &item, &split);
        assert_non_null(text);
        assert_true(item >= 0 && item < 40);
        assert_true(split >= SEMID_QUERY_TRAIN && split <= SEMID_QUERY_TEST);
        counts[split]++;
    }
    assert_int_equal(counts[SEMID_QUERY_TRAIN], 80);
    assert_int_equal(counts[SEMID_QUERY_TEST], 40);
    /* Out of range: NULL, -1, 0, never a crash. */
    assert_null(semid_data_item_id(d, -1));
    assert_null(semid_data_item_title(d, 40));
    assert_int_equal(semid_data_item_year(d, 99), 0);
    assert_int_equal(semid_data_item_index(d, "no such item"), -1);
    assert_int_equal(semid_data_item_index(d, NULL), -1);
    assert_null(semid_data_user_id(d, -3));
    int64_t n = 5;
    assert_null(semid_data_user_items(d, 1 << 20, &n));
    assert_int_equal(n, 0);
    int32_t item = 0, split = 0;
    assert_null(semid_data_query(d, -1, &item, &split));
    assert_int_equal(item, -1);
    assert_non_null(semid_data_query(d, 0, NULL, NULL));
    /* NULL handles are accepted by accessors and free. */
    assert_int_equal(semid_data_n_items(NULL), 0);
    assert_null(semid_data_item_id(NULL, 0));
    semid_data_free(NULL);
    semid_data_free(d);
}

static void test_synth_deterministic_and_bad_config(void **state) {
    (void)state;
    semid_data *a = small_synth(3), *b = small_synth(3);
    assert_int_equal(semid_data_n_interactions(a), semid_data_n_interactions(b));
    for (int32_t i = 0; i < semid_data_n_items(a); i++)
        assert_string_equal(semid_data_item_title(a, i), semid_data_item_title(b, i));
    semid_data_free(a);
    semid_data_free(b);
    semid_synth_opts o = semid_synth_opts_default();
    o.n_items = 0;
    semid_data *d = (semid_data *)1;
    assert_int_not_equal(semid_data_synth(&o, &d), SEMID_OK);
    assert_null(d);
    assert_true(strlen(semid_last_error()) > 0);
    FAILS(SEMID_EINVAL, "out is NULL", semid_data_synth(&o, NULL));
}

static void test_save_load(void **state) {
    (void)state;
    semid_data *d = small_synth(11);
    char *p = path_in("ds.sdd");
    OK(semid_data_save(d, p));
    semid_data *e = NULL;
    OK(semid_data_load(p, &e));
    assert_int_equal(semid_data_n_items(e), semid_data_n_items(d));
    assert_int_equal(semid_data_n_users(e), semid_data_n_users(d));
    assert_int_equal(semid_data_n_interactions(e), semid_data_n_interactions(d));
    assert_int_equal(semid_data_n_queries(e), semid_data_n_queries(d));
    for (int32_t i = 0; i < semid_data_n_items(d); i++) {
        assert_string_equal(semid_data_item_id(e, i), semid_data_item_id(d, i));
        assert_string_equal(semid_data_item_title(e, i), semid_data_item_title(d, i));
    }
    semid_data_free(e);
    char *missing = path_in("missing.sdd");
    e = (semid_data *)1;
    assert_int_not_equal(semid_data_load(missing, &e), SEMID_OK);
    assert_null(e);
    assert_non_null(strstr(semid_last_error(), "missing.sdd"));
    FAILS(SEMID_EINVAL, "path is NULL", semid_data_save(d, NULL));
    FAILS(SEMID_EINVAL, "d is NULL", semid_data_save(NULL, p));
    /* A file that is not a dataset. */
    char *junk = path_in("junk.sdd");
    FILE *fp = fopen(junk, "wb");
    fputs("not a dataset", fp);
    fclose(fp);
    assert_int_equal(semid_data_load(junk, &e), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "junk.sdd"));
    free(junk);
    free(missing);
    free(p);
    semid_data_free(d);
}

static void test_import_generic(void **state) {
    (void)state;
    char *dir = path_in("generic");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(test_write_file(dir, "items.tsv",
                         "item_id\ttitle\tyear\tgenres\tdescription\n"
                         "a\tSpace Saga\t1999\tSci-Fi\tAliens invade a distant planet.\n"
                         "b\tHeist Night\t2004\tCrime,Thriller\tA crew plans one last robbery.\n"
                         "c\tLove in Paris\t2010\tRomance\tTwo strangers meet in Paris.\n"
                         "d\tNobody Watched\t2011\tDrama\tNo one saw this.\n"));
    free(test_write_file(dir, "interactions.tsv",
                         "user_id\titem_id\ttimestamp\trating\n"
                         "u1\ta\t1\t5\nu1\tb\t2\t4\nu1\tc\t3\t2\n"
                         "u2\tb\t1\t5\nu2\ta\t2\t5\n"));
    semid_data *d = NULL;
    OK(semid_data_import(dir, NULL, &d));
    assert_int_equal(semid_data_n_items(d), 3); /* d: no interaction, dropped */
    assert_int_equal(semid_data_n_users(d), 2);
    assert_int_equal(semid_data_n_interactions(d), 5);
    int32_t a = semid_data_item_index(d, "a");
    assert_true(a >= 0);
    assert_string_equal(semid_data_item_title(d, a), "Space Saga");
    assert_int_equal(semid_data_item_year(d, a), 1999);
    assert_string_equal(semid_data_item_genres(d, a), "Sci-Fi");
    assert_string_equal(semid_data_item_description(d, a), "Aliens invade a distant planet.");
    assert_int_equal(semid_data_n_queries(d), 0);
    /* Queries generated from the metadata. */
    semid_query_opts q = semid_query_opts_default();
    q.per_item = 4;
    q.train = 3;
    OK(semid_data_make_queries(d, &q));
    assert_int_equal(semid_data_n_queries(d), 12);
    q.append = 1;
    OK(semid_data_make_queries(d, &q));
    assert_int_equal(semid_data_n_queries(d), 24);
    q.train = 9;
    FAILS(SEMID_EINVAL, "per_item", semid_data_make_queries(d, &q));
    semid_data_free(d);

    /* Options: keep the uninteracted item, drop ratings below 3. */
    semid_import_opts o = semid_import_opts_default();
    assert_string_equal(o.format, "auto");
    assert_true(isinf(o.min_rating) && o.min_rating < 0);
    o.format = "generic";
    o.keep_uninteracted = 1;
    o.min_rating = 3;
    OK(semid_data_import(dir, &o, &d));
    assert_int_equal(semid_data_n_items(d), 4);
    assert_int_equal(semid_data_n_interactions(d), 4);
    semid_data_free(d);

    /* A malformed line: EPARSE naming the file and line. */
    free(test_write_file(dir, "interactions.tsv", "user_id\titem_id\ttimestamp\nu1\ta\tsoon\n"));
    d = (semid_data *)1;
    assert_int_equal(semid_data_import(dir, NULL, &d), SEMID_EPARSE);
    assert_null(d);
    assert_non_null(strstr(semid_last_error(), "interactions.tsv:2"));
    /* Nothing to import. */
    char *empty = path_in("empty");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", empty);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(semid_data_import(empty, NULL, &d), SEMID_ENOTFOUND);
    o.format = "no-such-format";
    assert_int_not_equal(semid_data_import(dir, &o, &d), SEMID_OK);
    assert_non_null(strstr(semid_last_error(), "no-such-format"));
    FAILS(SEMID_EINVAL, "path is NULL", semid_data_import(NULL, NULL, &d));
    free(empty);
    free(dir);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(semid_status_name(SEMID_OK), "OK");
    assert_string_equal(semid_status_name(SEMID_EPARSE), "EPARSE");
    semid_set_threads(3);
    assert_int_equal(semid_get_threads(), 3);
    semid_set_threads(0);
    assert_true(semid_get_threads() >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_synth_accessors),
        cmocka_unit_test(test_synth_deterministic_and_bad_config),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_import_generic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
