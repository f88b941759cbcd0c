#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "base/status.h"
#include "support/testutil.h"

static void test_fail_sets_message(void **state) {
    (void)state;
    semid_status st = semid_fail(SEMID_EPARSE, "%s:%d: bad", "f.tsv", 7);
    assert_int_equal(st, SEMID_EPARSE);
    assert_string_equal(semid_last_error(), "f.tsv:7: bad");
    semid_fail_context(st, "loading");
    assert_string_equal(semid_last_error(), "loading: f.tsv:7: bad");
    assert_string_equal(semid_status_name(SEMID_ENUMERIC), "ENUMERIC");
}

static void test_atomic_write_and_read(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    char *path = semid_path_join(dir, "sub/dir/file.txt");
    char *sub = semid_path_join(dir, "sub/dir");
    assert_int_equal(semid_mkdirs(sub), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(path, "hello\n", 6), SEMID_OK);
    char *data;
    size_t len;
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    assert_int_equal(len, 6);
    assert_string_equal(data, "hello\n");
    free(data);

    /* An aborted write leaves the old content and no temp file behind. */
    semid_atomic_file f;
    assert_int_equal(semid_atomic_open(&f, path), SEMID_OK);
    assert_int_equal(semid_atomic_write(&f, "partial", 7), SEMID_OK);
    char *tmp = semid_strdup(f.tmp_path);
    semid_atomic_abort(&f);
    assert_false(semid_path_exists(tmp));
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    assert_string_equal(data, "hello\n");
    free(data);
    free(tmp);

    assert_int_equal(semid_read_file("/nonexistent/x", &data, &len), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "/nonexistent/x"));
    free(path);
    free(sub);
    test_rm_rf(dir);
    free(dir);
}

static void test_full_disk_is_reported(void **state) {
    (void)state;
    /* /dev/full fails every write with ENOSPC: the commit must report it. */
    if (!semid_path_exists("/dev/full")) skip();
    semid_atomic_file f;
    memset(&f, 0, sizeof f);
    f.fp = fopen("/dev/full", "wb");
    assert_non_null(f.fp);
    f.path = semid_strdup("/dev/full");
    f.tmp_path = semid_strdup("/nonexistent-semid-tmp");
    char block[8192] = {0};
    semid_status st = semid_atomic_write(&f, block, sizeof block);
    if (st == SEMID_OK) st = semid_atomic_commit(&f);
    else semid_atomic_abort(&f);
    assert_int_equal(st, SEMID_EIO);
}

static void test_lines_and_fields(void **state) {
    (void)state;
    char text[] = "a\tb\tc\r\n\nx::y::z\nlast";
    semid_lines it;
    semid_lines_init(&it, text, strlen(text));
    size_t len;
    char *line = semid_lines_next(&it, &len);
    assert_string_equal(line, "a\tb\tc");
    char *f[4];
    assert_int_equal(semid_split_fields(line, "\t", f, 4), 3);
    assert_string_equal(f[2], "c");
    line = semid_lines_next(&it, &len);
    assert_int_equal(len, 0);
    line = semid_lines_next(&it, &len);
    assert_int_equal(it.line_no, 3);
    assert_int_equal(semid_split_fields(line, "::", f, 2), 3); /* more fields than room */
    assert_string_equal(f[1], "y");
    line = semid_lines_next(&it, &len);
    assert_string_equal(line, "last");
    assert_null(semid_lines_next(&it, &len));
}

static void test_rng_deterministic_and_uniform(void **state) {
    (void)state;
    semid_rng a, b;
    semid_rng_seed(&a, 42);
    semid_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_int_equal(semid_rng_u64(&a), semid_rng_u64(&b));
    semid_rng_seed(&b, 43);
    assert_int_not_equal(semid_rng_u64(&a), semid_rng_u64(&b));
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) counts[semid_rng_below(&a, 10)]++;
    for (int i = 0; i < 10; i++) assert_in_range(counts[i], 9500, 10500);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double x = semid_rng_normal(&a);
        sum += x;
        sq += x * x;
    }
    assert_true(sum / 100000 > -0.02 && sum / 100000 < 0.02);
    assert_true(sq / 100000 > 0.97 && sq / 100000 < 1.03);
    int32_t perm[50];
    for (int i = 0; i < 50; i++) perm[i] = i;
    semid_rng_shuffle_i32(&a, perm, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++) seen[perm[i]]++;
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);
    semid_rng f1 = semid_rng_fork(&a, 1), f2 = semid_rng_fork(&a, 2), f1b = semid_rng_fork(&a, 1);
    uint64_t x1 = semid_rng_u64(&f1);
    assert_int_equal(x1, semid_rng_u64(&f1b));
    assert_int_not_equal(x1, semid_rng_u64(&f2));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_sets_message),
        cmocka_unit_test(test_atomic_write_and_read),
        cmocka_unit_test(test_full_disk_is_reported),
        cmocka_unit_test(test_lines_and_fields),
        cmocka_unit_test(test_rng_deterministic_and_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
