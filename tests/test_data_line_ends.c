/* How an import treats the ends of lines (hardening issue, item 8): a last
 * line without its newline is read but warned about, naming the file and the
 * line (a copy cut off mid-line turns 978300765 into 978300, which still
 * parses and reorders a history); a file whose lines end in CR alone (an old
 * Mac file) is read line by line, with a warning naming the cause, instead of
 * as one long line that gave "no interactions". */
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
static char warnings[8192];

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

/* Imports a generic dataset from the two texts; returns the status. */
static semid_status import_generic(const char *items, const char *inter, semid_dataset *ds) {
    char name[32];
    snprintf(name, sizeof name, "case%d", case_no++);
    char *d = semid_path_join(tmpdir, name);
    assert_int_equal(semid_mkdirs(d), SEMID_OK);
    free(test_write_file(d, "items.tsv", items));
    free(test_write_file(d, "interactions.tsv", inter));
    warnings[0] = '\0';
    semid_status st = semid_import("generic", d, NULL, ds);
    free(d);
    return st;
}

static const char *ITEMS = "item_id\ttitle\n1\tA\n2\tB\n3\tC\n";

static void test_cut_off_last_line(void **state) {
    (void)state;
    semid_dataset ds;
    /* The last timestamp lost its final digits and its newline. */
    semid_status st = import_generic(ITEMS, "user_id\titem_id\ttimestamp\nu\t1\t978300760\nu\t2\t978300762\nu\t3\t978300",
                                     &ds);
    assert_int_equal(st, SEMID_OK);
    semid_dataset_free(&ds);
    if (!strstr(warnings, "interactions.tsv:4: the last line has no final newline")) fprintf(stderr, "%s", warnings);
    assert_non_null(strstr(warnings, "interactions.tsv:4: the last line has no final newline"));
    assert_non_null(strstr(warnings, "978300")); /* the line's end is shown */
    assert_null(strstr(warnings, "items.tsv"));  /* the complete file is not named */
    /* With the newline: no warning. */
    st = import_generic(ITEMS, "user_id\titem_id\ttimestamp\nu\t1\t1\nu\t2\t2\r\n", &ds);
    assert_int_equal(st, SEMID_OK);
    semid_dataset_free(&ds);
    assert_string_equal(warnings, "");
}

static void test_cr_only_line_ends(void **state) {
    (void)state;
    semid_dataset ds;
    semid_status st = import_generic("item_id\ttitle\r1\tA\r2\tB\r3\tC\r",
                                     "user_id\titem_id\ttimestamp\ru\t1\t1\ru\t2\t2\rv\t3\t3\rv\t1\t4\r", &ds);
    if (st != SEMID_OK) fprintf(stderr, "%s\n", semid_last_error());
    assert_int_equal(st, SEMID_OK);
    assert_int_equal(ds.n_items, 3);
    assert_int_equal(ds.n_users, 2);
    assert_int_equal(ds.n_interactions, 4);
    semid_dataset_free(&ds);
    assert_non_null(strstr(warnings, "items.tsv: lines end in a carriage return (CR) alone"));
    assert_non_null(strstr(warnings, "interactions.tsv: lines end in a carriage return (CR) alone"));
    assert_null(strstr(warnings, "no final newline"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_off_last_line),
        cmocka_unit_test(test_cr_only_line_ends),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
