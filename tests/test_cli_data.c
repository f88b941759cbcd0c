/* semid data import / stats through the binary on a tiny generic dataset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    if (!tmpdir) return -1;
    free(test_write_file(tmpdir, "items.tsv",
                         "item_id\ttitle\tyear\tgenres\n1\tToy Story\t1995\tAnimation\n2\tHeat\t1995\tAction\n"
                         "3\tAlien\t1979\tHorror\n4\tUnseen\t2000\tDrama\n"));
    free(test_write_file(tmpdir, "interactions.tsv",
                         "user_id\titem_id\ttimestamp\trating\nu1\t1\t1\t5\nu1\t2\t2\t4\nu1\t3\t3\t2\n"
                         "u2\t1\t1\t3\nu2\t3\t2\t5\nu3\t1\t5\t1\n"));
    free(test_write_file(tmpdir, "queries.tsv", "1\ttrain\ttoys that talk\n2\ttest\tla bank heist\n"));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static void test_help(void **state) {
    (void)state;
    char *out;
    assert_int_equal(test_run_cli("data --help", &out), 0);
    assert_non_null(strstr(out, "import"));
    assert_non_null(strstr(out, "stats"));
    assert_non_null(strstr(out, "synth"));
    assert_non_null(strstr(out, "queries"));
    assert_non_null(strstr(out, "export"));
    free(out);
    assert_int_equal(test_run_cli("data import --help", &out), 0);
    assert_non_null(strstr(out, "--min-rating"));
    assert_non_null(strstr(out, "--lenient"));
    free(out);
    assert_int_equal(test_run_cli("data frobnicate", &out), 2);
    assert_non_null(strstr(out, "frobnicate"));
    free(out);
}

static void test_import_and_stats(void **state) {
    (void)state;
    char args[1024], *out;
    snprintf(args, sizeof args, "data import --format auto %s --out %s/d.sdd", tmpdir, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "3 items, 3 users, 6 interactions, 2 queries"));
    free(out);

    snprintf(args, sizeof args, "data stats %s/d.sdd", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "items"));
    assert_non_null(strstr(out, "1 / 0 / 1")); /* queries per split */
    free(out);

    snprintf(args, sizeof args, "data stats --json %s/d.sdd", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "\"interactions\":\t6"));
    assert_non_null(strstr(out, "\"users_evaluable\":\t1"));
    free(out);

    /* Min rating 3 and 2-core users: u1 keeps 1, 2; u2 keeps 1, 3; u3 is gone. */
    snprintf(args, sizeof args, "data import --min-rating 3 --user-core 2 %s --out %s/e.sdd", tmpdir, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "3 items, 2 users, 4 interactions"));
    free(out);

    /* Exported and imported again: the same counts, the queries' splits kept. */
    snprintf(args, sizeof args, "data export %s/d.sdd --out %s/exported", tmpdir, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "3 items, 6 interactions, 2 queries"));
    free(out);
    snprintf(args, sizeof args, "data import %s/exported --out %s/f.sdd", tmpdir, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "3 items, 3 users, 6 interactions, 2 queries"));
    free(out);
    snprintf(args, sizeof args, "data stats %s/f.sdd", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "1 / 0 / 1"));
    free(out);
    snprintf(args, sizeof args, "data export %s/d.sdd", tmpdir);
    assert_int_equal(test_run_cli(args, &out), 2);
    assert_non_null(strstr(out, "--out"));
    free(out);
}

static void test_errors(void **state) {
    (void)state;
    char args[1024], *out;
    char *bad = semid_path_join(tmpdir, "bad");
    assert_int_equal(semid_mkdirs(bad), SEMID_OK);
    free(test_write_file(bad, "items.tsv", "item_id\ttitle\n1\tA\n"));
    free(test_write_file(bad, "interactions.tsv", "user_id\titem_id\ttimestamp\nu\t1\t1\nu\t2\t2\n"));
    snprintf(args, sizeof args, "data import %s --out %s/x.sdd", bad, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 1);
    assert_non_null(strstr(out, "interactions.tsv:3: unknown item id '2'"));
    free(out);
    snprintf(args, sizeof args, "data import --lenient %s --out %s/x.sdd", bad, tmpdir);
    assert_int_equal(test_run_cli(args, &out), 0);
    assert_non_null(strstr(out, "skipped 1 malformed line (first: 3)"));
    free(out);
    snprintf(args, sizeof args, "data import --min-rating abc %s", bad);
    assert_int_equal(test_run_cli(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "data stats %s/items.tsv", bad);
    assert_int_equal(test_run_cli(args, &out), 1);
    assert_non_null(strstr(out, "not a semid dataset"));
    free(out);
    free(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_import_and_stats),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
