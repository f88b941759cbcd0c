/* Counts and shapes read from a file are checked against the bytes present,
 * and their products for overflow, before anything is allocated
 * (hardening issue, item 6): .npy arrays and safetensors files. The quant,
 * embed (text encoder, word vectors, .sdd) and gen (model, bundle) loaders
 * have the same tests in test_<module>_bad_counts.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "io/npy.h"
#include "io/safetensors.h"
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

static char *write_bytes(const char *name, const void *data, size_t len) {
    char *path = semid_path_join(tmpdir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

/* A .npy file (version 1.0) with this header dict and `data_len` zero bytes. */
static char *write_npy(const char *name, const char *dict, size_t data_len) {
    size_t hlen = strlen(dict) + 1;
    size_t len = 10 + hlen + data_len;
    unsigned char *buf = calloc(len, 1);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, hlen - 1);
    buf[10 + hlen - 1] = '\n';
    char *path = write_bytes(name, buf, len);
    free(buf);
    return path;
}

static void expect_format_error(semid_status st, const char *needle) {
    assert_int_equal(st, SEMID_EFORMAT);
    if (!strstr(semid_last_error(), needle)) fprintf(stderr, "no '%s' in: %s\n", needle, semid_last_error());
    assert_non_null(strstr(semid_last_error(), needle));
}

static void test_npy_shape_overflow(void **state) {
    (void)state;
    /* (2^62 + 1) x 4 floats: the byte count wrapped to 16, the 16 bytes
     * present passed, and rows * cols overflowed in semid_matrix_alloc. */
    char *p = write_npy("wrap.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387905, 4), }", 16);
    semid_matrix m;
    expect_format_error(semid_npy_read(p, &m), "2^31-1");
    assert_null(m.data);
    int32_t *ints = NULL;
    int64_t rows, cols;
    expect_format_error(semid_npy_read_i32(p, &ints, &rows, &cols), "2^31-1");
    assert_null(ints);
    free(p);
    /* Each dimension fits, the bytes do not: 2^31-1 x 2^31-1 doubles. */
    p = write_npy("big.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647), }", 64);
    expect_format_error(semid_npy_read(p, &m), "truncated");
    free(p);
    p = write_npy("big_i.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2147483647, 2147483647), }", 64);
    expect_format_error(semid_npy_read_i32(p, &ints, &rows, &cols), "truncated");
    free(p);
    /* A number past int64 (strtoll saturates). */
    p = write_npy("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }", 16);
    expect_format_error(semid_npy_read(p, &m), "2^31-1");
    free(p);
    /* Still reads a good file. */
    p = write_npy("ok.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 16);
    assert_int_equal(semid_npy_read(p, &m), SEMID_OK);
    assert_int_equal(m.rows * m.cols, 4);
    semid_matrix_free(&m);
    free(p);
}

static void test_matrix_alloc_overflow(void **state) {
    (void)state;
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, ((int64_t)1 << 62) + 1, 4), SEMID_EINVAL);
    assert_null(m.data);
    assert_int_equal(semid_matrix_alloc(&m, -1, 4), SEMID_EINVAL);
    assert_int_equal(semid_matrix_alloc(&m, INT64_MAX, INT64_MAX), SEMID_EINVAL);
    assert_int_equal(semid_matrix_alloc(&m, 3, 0), SEMID_OK);
    semid_matrix_free(&m);
}

/* A safetensors file: 8-byte header length, the JSON header, `data_len` bytes. */
static char *write_st(const char *name, const char *header, size_t data_len) {
    size_t hlen = strlen(header), len = 8 + hlen + data_len;
    unsigned char *buf = calloc(len, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    char *path = write_bytes(name, buf, len);
    free(buf);
    return path;
}

static void test_safetensors_counts(void **state) {
    (void)state;
    semid_safetensors st;
    /* A header length past the file. */
    unsigned char lie[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    char *p = write_bytes("lie.safetensors", lie, sizeof lie);
    expect_format_error(semid_safetensors_read(p, &st), "header length");
    free(p);
    /* A shape whose elements overflow 64 bits, offsets that fit. */
    p = write_st("shape.safetensors",
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,16]}}", 16);
    expect_format_error(semid_safetensors_read(p, &st), "shape");
    free(p);
    /* Offsets past the data. */
    p = write_st("offs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000],\"data_offsets\":[0,4000000]}}", 16);
    expect_format_error(semid_safetensors_read(p, &st), "truncated");
    free(p);
}

/* What fuzz_npy and fuzz_safetensors found. */
static void test_fuzz_findings(void **state) {
    (void)state;
    /* An id with a NUL byte was read as a shorter (even empty) id. */
    char *p = write_bytes("ids.txt", "a\n\0b\nc\n", 7);
    char **ids = NULL;
    int64_t n = 0;
    assert_int_equal(semid_idlist_read(p, &ids, &n), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "ids.txt:2: NUL byte"));
    free(p);
    /* A metadata key given twice: the first won, silently. */
    semid_safetensors st;
    p = write_st("meta.safetensors", "{\"__metadata__\":{\"format\":\"a\",\"format\":\"b\"}}", 0);
    expect_format_error(semid_safetensors_read(p, &st), "metadata key 'format' appears twice");
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_shape_overflow),
        cmocka_unit_test(test_matrix_alloc_overflow),
        cmocka_unit_test(test_safetensors_counts),
        cmocka_unit_test(test_fuzz_findings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
