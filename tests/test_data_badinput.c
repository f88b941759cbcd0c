/* Bad input never crashes an import: each case fails with a message that
 * names the file and the line, or, in lenient mode, is skipped, counted and
 * reported with the first line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/import.h"
#include "support/testutil.h"

static char *tmpdir;
static int case_no;

static char warnings[4096];

static void capture(semid_log_level level, const char *msg, void *user) {
    (void)user;
    if (level < SEMID_LOG_WARN) return;
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof warnings - n, "%s\n", msg);
}

static int setup(void **state) {
    (void)state;
    semid_set_log_callback(capture, NULL);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_set_log_callback(NULL, NULL);
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static char *fresh_dir(void) {
    char name[32];
    snprintf(name, sizeof name, "case%d", case_no++);
    char *d = semid_path_join(tmpdir, name);
    assert_int_equal(semid_mkdirs(d), SEMID_OK);
    return d;
}

static void put(const char *dir, const char *name, const char *text) { free(test_write_file(dir, name, text)); }

static const char *GOOD_ITEMS = "item_id\ttitle\tyear\tgenres\n1\tA\t1990\tDrama\n2\tB\t1991\tComedy\n";
static const char *GOOD_INTER = "user_id\titem_id\ttimestamp\nu\t1\t1\nu\t2\t2\n";

/* Imports a generic dataset from the two texts and expects `want`, with
 * every string in `needles` (NULL-terminated) in the message. */
static void expect_generic(const char *items, const char *inter, semid_status want, const char *const *needles) {
    char *d = fresh_dir();
    put(d, "items.tsv", items);
    put(d, "interactions.tsv", inter);
    semid_dataset ds;
    semid_status st = semid_import("generic", d, NULL, &ds);
    if (st == SEMID_OK) semid_dataset_free(&ds);
    if (st != want) fail_msg("status %s, wanted %s (%s)", semid_status_name(st), semid_status_name(want), semid_last_error());
    for (; needles && *needles; needles++)
        if (!strstr(semid_last_error(), *needles)) fail_msg("'%s' not in '%s'", *needles, semid_last_error());
    free(d);
}

static void test_wrong_column_count(void **state) {
    (void)state;
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\nu\t1\t1\nu\t2\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:3:", "expected 3 fields", "found 2", NULL});
    expect_generic("item_id\ttitle\n1\tA\textra\n", GOOD_INTER, SEMID_EPARSE,
                   (const char *[]){"items.tsv:2:", "found 3", NULL});
}

static void test_unknown_item(void **state) {
    (void)state;
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\nu\t1\t1\n\nu\t77\t2\n", SEMID_ENOTFOUND,
                   (const char *[]){"interactions.tsv:4:", "unknown item id '77'", NULL});
}

static void test_duplicate_item(void **state) {
    (void)state;
    expect_generic("item_id\ttitle\n1\tA\n2\tB\n1\tC\n", GOOD_INTER, SEMID_EINVAL,
                   (const char *[]){"items.tsv:4:", "duplicate item id '1'", NULL});
}

static void test_empty_files(void **state) {
    (void)state;
    expect_generic("", GOOD_INTER, SEMID_EPARSE, (const char *[]){"items.tsv: empty file", NULL});
    expect_generic(GOOD_ITEMS, "\n\n", SEMID_EPARSE, (const char *[]){"interactions.tsv: empty file", NULL});
    expect_generic("item_id\ttitle\n", GOOD_INTER, SEMID_EPARSE, (const char *[]){"items.tsv: no items", NULL});
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\n", SEMID_EPARSE,
                   (const char *[]){"no interactions", NULL});
}

static void test_missing_header_column(void **state) {
    (void)state;
    expect_generic(GOOD_ITEMS, "user\titem_id\ttimestamp\nu\t1\t1\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:1:", "no column 'user_id'", NULL});
}

static void test_invalid_utf8(void **state) {
    (void)state;
    expect_generic("item_id\ttitle\n1\tA\n2\tCaf\xE9\n", GOOD_INTER, SEMID_EPARSE,
                   (const char *[]){"items.tsv:3:", "invalid UTF-8", NULL});
    /* Overlong encoding of '/' and a lone continuation byte. */
    expect_generic("item_id\ttitle\n1\t\xC0\xAF\n", GOOD_INTER, SEMID_EPARSE,
                   (const char *[]){"items.tsv:2:", "invalid UTF-8", NULL});
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\nu\x80\t1\t1\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:2:", "invalid UTF-8", NULL});
}

static void test_nul_byte(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "items.tsv", GOOD_ITEMS);
    char *path = semid_path_join(d, "interactions.tsv");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static const char text[] = "user_id\titem_id\ttimestamp\nu\t1\t1\nu\t2\0\t2\n";
    fwrite(text, 1, sizeof text - 1, fp);
    fclose(fp);
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "interactions.tsv:3: NUL byte"));
    free(path);
    free(d);
}

static void test_huge_field(void **state) {
    (void)state;
    /* Past the default limit of 1 MiB. */
    size_t n = (1u << 20) + 10;
    char *items = malloc(n + 64);
    assert_non_null(items);
    strcpy(items, "item_id\ttitle\n1\tA\n2\t");
    size_t pos = strlen(items);
    memset(items + pos, 'x', n);
    strcpy(items + pos + n, "\n");
    expect_generic(items, GOOD_INTER, SEMID_EPARSE, (const char *[]){"items.tsv:3:", "field 2", "limit", NULL});
    free(items);
}

static void test_non_numeric(void **state) {
    (void)state;
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\nu\t1\tyesterday\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:2:", "timestamp 'yesterday'", NULL});
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\trating\nu\t1\t1\t4\nu\t2\t2\tnan\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:3:", "rating 'nan'", NULL});
    expect_generic(GOOD_ITEMS, "user_id\titem_id\ttimestamp\nu\t1\t1e400\n", SEMID_EPARSE,
                   (const char *[]){"interactions.tsv:2:", "timestamp", NULL});

    char *d = fresh_dir();
    put(d, "movies.dat", "1::A (1990)::Drama\n");
    put(d, "ratings.dat", "1::1::5::978300760\n1::1::five::978300761\n");
    semid_dataset ds;
    assert_int_equal(semid_import("ml-1m", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "ratings.dat:2: rating 'five'"));
    put(d, "ratings.dat", "1::1::5\n");
    assert_int_equal(semid_import("ml-1m", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "ratings.dat:1: expected 4 fields separated by '::', found 3"));
    free(d);
}

static void test_csv_quotes(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "movies.csv", "movieId,title,genres\n1,\"Unclosed (1990),Drama\n2,B (1991),Drama\n");
    put(d, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n");
    semid_dataset ds;
    assert_int_equal(semid_import("ml-csv", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "movies.csv:2: malformed quoted field"));
    /* Lenient: the unterminated quote costs its line only. */
    semid_import_options o;
    semid_import_options_init(&o);
    o.lenient = true;
    put(d, "ratings.csv", "userId,movieId,rating,timestamp\n1,2,4,1\n1,3,4,2\n");
    put(d, "movies.csv", "movieId,title,genres\n1,\"Unclosed (1990),Drama\n2,B (1991),Drama\n3,\"C \"\"q\"\" (1992)\",Drama\n");
    if (semid_import("ml-csv", d, &o, &ds) != SEMID_OK) fail_msg("%s", semid_last_error());
    assert_int_equal(ds.n_items, 2);
    assert_string_equal(ds.items[semid_dataset_find_item(&ds, "3")].title, "C \"q\"");
    semid_dataset_free(&ds);
    put(d, "movies.csv", "movieId,title,genres\n1,\"A\"x (1990),Drama\n");
    assert_int_equal(semid_import("ml-csv", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "movies.csv:2: malformed quoted field"));
    char *path = semid_path_join(d, "movies.csv");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static const char nul_text[] = "movieId,title,genres\n1,A (1990),Drama\n2,\"B\nB\0 (1990)\",Drama\n";
    fwrite(nul_text, 1, sizeof nul_text - 1, fp);
    fclose(fp);
    free(path);
    assert_int_equal(semid_import("ml-csv", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "movies.csv:3: NUL byte in record"));
    put(d, "movies.csv", "movieId,title,genres\n1,A (1990),Drama\n\n3,C\n");
    assert_int_equal(semid_import("ml-csv", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "movies.csv:4: expected 3 comma-separated fields, found 2"));
    free(d);
}

static void test_ml100k_bad_flags(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "u.item", "1|A (1995)|01-Jan-1995||u|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                     "2|B (1995)|01-Jan-1995||u|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0\n");
    put(d, "u.data", "1\t1\t4\t1\n");
    semid_dataset ds;
    assert_int_equal(semid_import("ml-100k", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "u.item:2: expected 24 fields separated by '|', found 23"));
    put(d, "u.item", "1|A (1995)|01-Jan-1995||u|0|0|0|1|yes|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
    assert_int_equal(semid_import("ml-100k", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "u.item:1: genre flag 5 is 'yes'"));
    free(d);
}

static void test_side_files(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "items.tsv", GOOD_ITEMS);
    put(d, "interactions.tsv", GOOD_INTER);
    put(d, "queries.tsv", "1\ttrain\tfine\n2\tholdout\tbad split\n");
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "queries.tsv:2: split 'holdout'"));
    put(d, "queries.tsv", "item_id\tsplit\tquery\n1\ttrain\tfine\n2\tonly two\n");
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "queries.tsv:3:"));
    free(test_write_file(d, "queries.tsv", "1\ttrain\tfine\n"));
    put(d, "descriptions.tsv", "item_id\tdescription\n1\n");
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "descriptions.tsv:2:"));
    semid_import_options o;
    semid_import_options_init(&o);
    o.descriptions_path = "/nonexistent/desc.tsv";
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "/nonexistent/desc.tsv"));
    free(d);
}

static void test_missing_files(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "items.tsv", GOOD_ITEMS);
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "interactions.tsv"));
    assert_int_equal(semid_import("auto", "/nonexistent/dir", NULL, &ds), SEMID_ENOTFOUND);
    free(d);
}

static void test_lenient(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "items.tsv", "item_id\ttitle\tyear\n1\tA\t1990\n2\tB\t1991\n1\tdup\t1992\n3\tC\n4\tD\t2000\n");
    put(d, "interactions.tsv",
        "user_id\titem_id\ttimestamp\n"
        "u\t1\t1\n"
        "u\t99\t2\n"   /* line 3: unknown item */
        "u\t2\tnow\n"  /* line 4: bad timestamp */
        "u\t2\t3\n"
        "garbage\n"    /* line 6: one field */
        "v\t4\t\xFF\n" /* line 7: invalid UTF-8 */
        "v\t4\t1\n");
    warnings[0] = '\0';
    semid_import_options o;
    semid_import_options_init(&o);
    o.lenient = true;
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 3);
    assert_int_equal(ds.n_items, 3); /* 1, 2, 4: line 5 (3 with two fields) skipped */
    assert_string_equal(ds.items[semid_dataset_find_item(&ds, "1")].title, "A");
    assert_non_null(strstr(warnings, "items.tsv: skipped 2 malformed lines (first: 4, 5)"));
    assert_non_null(strstr(warnings, "interactions.tsv: skipped 4 malformed lines (first: 3, 4, 6, 7)"));
    semid_dataset_free(&ds);

    /* Without lenient the first bad line is the error. */
    assert_int_equal(semid_import("generic", d, NULL, &ds), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "items.tsv:4: duplicate item id '1'"));
    free(d);
}

static void test_bom_crlf_and_warnings(void **state) {
    (void)state;
    char *d = fresh_dir();
    put(d, "items.tsv", "\xEF\xBB\xBFitem_id\ttitle\tyear\r\n1\tA\t1990\r\n2\tB\tunknown\r\n");
    put(d, "interactions.tsv", "user_id\titem_id\ttimestamp\r\nu\t1\t1\r\nu\t2\t2\r\n\r\n");
    warnings[0] = '\0';
    semid_import_options o;
    semid_import_options_init(&o);
    o.min_rating = 4;
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 2);
    assert_string_equal(ds.items[0].id, "1");
    assert_int_equal(ds.items[0].year, 1990);
    assert_int_equal(ds.items[1].year, 0);
    assert_non_null(strstr(warnings, "items.tsv: 1 year is not a number (first on line 3)"));
    assert_non_null(strstr(warnings, "has no ratings"));
    semid_dataset_free(&ds);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_column_count), cmocka_unit_test(test_unknown_item),
        cmocka_unit_test(test_duplicate_item),     cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_missing_header_column), cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_byte),           cmocka_unit_test(test_huge_field),
        cmocka_unit_test(test_non_numeric),        cmocka_unit_test(test_csv_quotes),
        cmocka_unit_test(test_ml100k_bad_flags),   cmocka_unit_test(test_side_files),
        cmocka_unit_test(test_missing_files),      cmocka_unit_test(test_lenient),
        cmocka_unit_test(test_bom_crlf_and_warnings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
