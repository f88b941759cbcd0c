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
#include "io/npy.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static void test_roundtrip(void **state) {
    (void)state;
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, 3, 5), SEMID_OK);
    for (int i = 0; i < 15; i++) m.data[i] = (float)i * 0.5f - 2;
    char *path = semid_path_join(tmpdir, "a.npy");
    assert_int_equal(semid_npy_write(path, &m), SEMID_OK);
    semid_matrix back;
    assert_int_equal(semid_npy_read(path, &back), SEMID_OK);
    assert_int_equal(back.rows, 3);
    assert_int_equal(back.cols, 5);
    assert_memory_equal(back.data, m.data, 15 * sizeof(float));
    /* The data starts on a 64-byte boundary, as NumPy writes it. */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_int_equal((len - 15 * sizeof(float)) % 64, 0);
    free(raw);
    semid_matrix_free(&m);
    semid_matrix_free(&back);
    free(path);
}

/* A matrix of 0 columns is written as shape (rows, 0) with no data: it was
 * written as a 1-D array of `rows` values read past its buffer (found by
 * fuzz_npy, fuzz/corpus/npy/found_zero_cols.bin). */
static void test_zero_columns(void **state) {
    (void)state;
    semid_matrix m, back;
    assert_int_equal(semid_matrix_alloc(&m, 50, 0), SEMID_OK);
    char *path = semid_path_join(tmpdir, "empty.npy");
    assert_int_equal(semid_npy_write(path, &m), SEMID_OK);
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_non_null(strstr(raw + 10, "'shape': (50, 0)"));
    assert_int_equal(len % 64, 0); /* the header alone */
    free(raw);
    assert_int_equal(semid_npy_read(path, &back), SEMID_OK);
    assert_int_equal(back.rows, 50);
    assert_int_equal(back.cols, 0);
    semid_matrix_free(&back);
    semid_matrix_free(&m);
    free(path);
}

/* Builds a .npy by hand with the given header dict and payload. */
static char *write_raw_npy(const char *name, const char *dict, const void *payload, size_t n) {
    char *path = semid_path_join(tmpdir, name);
    FILE *fp = fopen(path, "wb");
    unsigned short hlen = (unsigned short)strlen(dict);
    fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
    fwrite(&hlen, 2, 1, fp);
    fwrite(dict, 1, hlen, fp);
    fwrite(payload, 1, n, fp);
    fclose(fp);
    return path;
}

static void test_float64_and_1d(void **state) {
    (void)state;
    double v[4] = {1.5, -2, 3, 4};
    char *path = write_raw_npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n", v, sizeof v);
    semid_matrix m;
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.rows, 4);
    assert_int_equal(m.cols, 1);
    assert_float_equal(m.data[0], 1.5f, 0);
    semid_matrix_free(&m);
    free(path);
}

static void test_rejects_bad_files(void **state) {
    (void)state;
    semid_matrix m;
    float v[4] = {1, 2, NAN, 4};
    char *path = write_raw_npy("nan.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", v, sizeof v);
    assert_int_equal(semid_npy_read(path, &m), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 1, column 0"));
    assert_non_null(strstr(semid_last_error(), "nan.npy"));
    free(path);

    path = write_raw_npy("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n", v, sizeof v);
    assert_int_equal(semid_npy_read(path, &m), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "truncated"));
    free(path);

    int32_t iv[4] = {1, 2, 3, 4};
    path = write_raw_npy("int.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }\n", iv, sizeof iv);
    assert_int_equal(semid_npy_read(path, &m), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "<i4"));
    free(path);

    path = write_raw_npy("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", iv, sizeof iv);
    assert_int_equal(semid_npy_read(path, &m), SEMID_EFORMAT);
    free(path);

    path = write_raw_npy("3d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }\n", iv, sizeof iv);
    assert_int_equal(semid_npy_read(path, &m), SEMID_EFORMAT);
    free(path);

    path = test_write_file(tmpdir, "text.npy", "not numpy at all");
    assert_int_equal(semid_npy_read(path, &m), SEMID_EFORMAT);
    free(path);
}

static void test_int32_roundtrip(void **state) {
    (void)state;
    int32_t codes[6] = {0, 5, 255, 7, 1, 2};
    char *path = semid_path_join(tmpdir, "codes.npy");
    assert_int_equal(semid_npy_write_i32(path, codes, 3, 2), SEMID_OK);
    int32_t *back;
    int64_t rows, cols;
    assert_int_equal(semid_npy_read_i32(path, &back, &rows, &cols), SEMID_OK);
    assert_int_equal(rows, 3);
    assert_int_equal(cols, 2);
    assert_memory_equal(back, codes, sizeof codes);
    free(back);
    free(path);
}

static void test_idlist(void **state) {
    (void)state;
    char *ids[3] = {"a", "b7", "c"};
    char *path = semid_path_join(tmpdir, "ids.txt");
    assert_int_equal(semid_idlist_write(path, ids, 3), SEMID_OK);
    char **back;
    int64_t n;
    assert_int_equal(semid_idlist_read(path, &back, &n), SEMID_OK);
    assert_int_equal(n, 3);
    assert_string_equal(back[1], "b7");
    semid_idlist_free(back, n);
    free(path);

    path = test_write_file(tmpdir, "dup.txt", "x\ny\nx\n");
    assert_int_equal(semid_idlist_read(path, &back, &n), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "dup.txt:3"));
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_zero_columns),
        cmocka_unit_test(test_float64_and_1d),
        cmocka_unit_test(test_rejects_bad_files),
        cmocka_unit_test(test_int32_roundtrip),
        cmocka_unit_test(test_idlist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
