#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
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

static void test_roundtrip(void **state) {
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, -6.5f}, b[3] = {0.25f, 7, 8};
    semid_st_tensor_ref refs[2] = {{.name = "a.w", .data = a, .ndim = 2, .shape = {2, 3}},
                                   {.name = "b", .data = b, .ndim = 1, .shape = {3}}};
    const char *keys[2] = {"config", "note"}, *vals[2] = {"{\"x\": 1}", "quote \" and \\ backslash"};
    char *path = semid_path_join(tmpdir, "t.safetensors");
    assert_int_equal(semid_safetensors_write(path, refs, 2, keys, vals, 2), SEMID_OK);
    /* the data starts on an 8-byte boundary */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    uint64_t hlen;
    memcpy(&hlen, raw, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(len, 8 + hlen + sizeof a + sizeof b);
    /* the keys in the order Hugging Face's library writes them */
    raw[8 + hlen - 1] = '\0';
    assert_non_null(strstr(raw + 8, "\"a.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"));
    free(raw);

    semid_safetensors st;
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
    assert_int_equal(st.n_tensors, 2);
    const semid_st_tensor *t = semid_safetensors_find(&st, "a.w");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    float back[6];
    semid_safetensors_copy(t, back);
    assert_memory_equal(back, a, sizeof a);
    t = semid_safetensors_find(&st, "b");
    semid_safetensors_copy(t, back);
    assert_memory_equal(back, b, sizeof b);
    assert_null(semid_safetensors_find(&st, "c"));
    assert_string_equal(semid_safetensors_meta(&st, "note"), vals[1]);
    assert_string_equal(semid_safetensors_meta(&st, "config"), vals[0]);
    assert_null(semid_safetensors_meta(&st, "other"));
    semid_safetensors_free(&st);
    free(path);
}

/* A file from a header string and `data_len` bytes of data. */
static char *raw_file(const char *name, const char *header, size_t data_len) {
    size_t hl = strlen(header);
    char *buf = calloc(1, 8 + hl + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    char *path = semid_path_join(tmpdir, name);
    assert_int_equal(semid_write_file_atomic(path, buf, 8 + hl + data_len), SEMID_OK);
    free(buf);
    return path;
}

static void expect_error(const char *header, size_t data_len, const char *needle) {
    char *path = raw_file("bad.safetensors", header, data_len);
    semid_safetensors st;
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_EFORMAT);
    if (!strstr(semid_last_error(), needle) || !strstr(semid_last_error(), "bad.safetensors"))
        fail_msg("error '%s' lacks '%s'", semid_last_error(), needle);
    free(path);
}

static void test_rejects_bad_files(void **state) {
    (void)state;
    expect_error("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "F16");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, "truncated");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "shape needs 12");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 8, "overlap");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "shape");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "data_offsets");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8, "data_offsets");
    expect_error("{\"__metadata__\":{\"k\":3}}", 0, "not a string");
    expect_error("[1, 2]", 0, "not a JSON object");
    expect_error("{\"a\": ", 0, "not a JSON object");
    /* a header length past the end of the file */
    char *path = semid_path_join(tmpdir, "short.safetensors");
    assert_int_equal(semid_write_file_atomic(path, "\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), SEMID_OK);
    semid_safetensors st;
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "header length 255"));
    assert_int_equal(semid_write_file_atomic(path, "\x02\x00", 2), SEMID_OK);
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "truncated"));
    free(path);
    /* duplicate names on write */
    float x = 1;
    semid_st_tensor_ref dup[2] = {{.name = "a", .data = &x, .ndim = 1, .shape = {1}},
                                  {.name = "a", .data = &x, .ndim = 1, .shape = {1}}};
    path = semid_path_join(tmpdir, "dup.safetensors");
    assert_int_equal(semid_safetensors_write(path, dup, 2, NULL, NULL, 0), SEMID_EINVAL);
    assert_false(semid_path_exists(path));
    free(path);
}

/* An empty tensor may start where another does (a vocabulary of no words
 * before the n-gram table); listed first or last, that is no overlap. */
static void test_empty_tensor_shares_start(void **state) {
    (void)state;
    const char *headers[2] = {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}",
                              "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                              "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"};
    for (int i = 0; i < 2; i++) {
        char *path = raw_file("empty.safetensors", headers[i], 8);
        semid_safetensors st;
        assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
        assert_int_equal(st.n_tensors, 2);
        assert_int_equal(semid_safetensors_find(&st, "e")->numel, 0);
        semid_safetensors_free(&st);
        free(path);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_rejects_bad_files),
        cmocka_unit_test(test_empty_tensor_shares_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
