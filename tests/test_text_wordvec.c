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
#include "support/testutil.h"
#include "text/wordvec.h"

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

static void test_glove_text(void **state) {
    (void)state;
    char *path = test_write_file(tmpdir, "g.txt", "the 0.5 -1 2\nspace 1e-1 0 -3.25\r\nplanet 1 2 3\nthe 9 9 9\n");
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_load(path, 0, &wv), SEMID_OK);
    assert_int_equal(wv.dim, 3);
    assert_int_equal(wv.n_words, 3); /* the duplicate 'the' is skipped, first wins */
    const float *v = semid_wordvec_get(&wv, "space");
    assert_non_null(v);
    assert_true(fabsf(v[0] - 0.1f) < 1e-7f && v[1] == 0.0f && v[2] == -3.25f);
    assert_int_equal(semid_wordvec_find(&wv, "the"), 0);
    assert_true(semid_wordvec_get(&wv, "the")[0] == 0.5f);
    assert_int_equal(semid_wordvec_find(&wv, "planet"), 2);
    assert_int_equal(semid_wordvec_find(&wv, "nothere"), -1);
    semid_wordvec_free(&wv);
    /* max_words keeps the first words only. */
    assert_int_equal(semid_wordvec_load(path, 2, &wv), SEMID_OK);
    assert_int_equal(wv.n_words, 2);
    assert_int_equal(semid_wordvec_find(&wv, "planet"), -1);
    semid_wordvec_free(&wv);
    free(path);
}

static void test_word2vec_text(void **state) {
    (void)state;
    char *path = test_write_file(tmpdir, "w.txt", "2 4\nalpha 1 2 3 4\nbeta 5 6 7 8\n");
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_load(path, 0, &wv), SEMID_OK);
    assert_int_equal(wv.dim, 4);
    assert_int_equal(wv.n_words, 2);
    assert_true(semid_wordvec_get(&wv, "beta")[3] == 8.0f);
    semid_wordvec_free(&wv);
    free(path);
    /* A header that announces more words than there are. */
    path = test_write_file(tmpdir, "w2.txt", "3 2\nalpha 1 2\nbeta 5 6\n");
    assert_int_equal(semid_wordvec_load(path, 0, &wv), SEMID_EPARSE);
    free(path);
}

/* Expects loading `text` to fail with `st` and a message containing `needle`. */
static void expect_error(const char *text, semid_status st, const char *needle) {
    char *path = test_write_file(tmpdir, "bad.txt", text);
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_load(path, 0, &wv), st);
    const char *msg = semid_last_error();
    if (!strstr(msg, needle)) {
        fprintf(stderr, "message '%s' lacks '%s'\n", msg, needle);
        fail();
    }
    assert_null(wv.words);
    free(path);
}

static void test_errors_name_file_and_line(void **state) {
    (void)state;
    expect_error("a 1 2 3\nb 1 2\nc 1 2 3\n", SEMID_EPARSE, "bad.txt:2:");
    expect_error("a 1 2 3\nb 1 2 3 4\n", SEMID_EPARSE, "bad.txt:2:");
    expect_error("a 1 2 3\nb 1 x 3\n", SEMID_EPARSE, "bad.txt:2:");
    expect_error("a 1 2 3\nb 1 2 3\nc 1 nan 3\n", SEMID_ENUMERIC, "bad.txt:3:");
    expect_error("a 1 inf 3\n", SEMID_ENUMERIC, "bad.txt:1:");
    expect_error("2 3\na 1 2 3\nb 1 2\n", SEMID_EPARSE, "bad.txt:3:");
    expect_error("", SEMID_EPARSE, "bad.txt");
}

static void test_compact_roundtrip(void **state) {
    (void)state;
    const char *words[] = {"space", "planet", "\xC3\xA9t\xC3\xA9"};
    float vec[] = {0.5f, -1.0f, 0.25f, 0.0f, 0.0f, 0.0f, 3.0f, -2.0f, 1.0f};
    semid_wordvec wv, back;
    assert_int_equal(semid_wordvec_from_arrays(&wv, words, vec, 3, 3), SEMID_OK);
    char *path = semid_path_join(tmpdir, "c.wv");
    assert_int_equal(semid_wordvec_save_compact(&wv, path), SEMID_OK);
    assert_int_equal(semid_wordvec_load(path, 0, &back), SEMID_OK);
    assert_int_equal(back.n_words, 3);
    assert_int_equal(back.dim, 3);
    for (int i = 0; i < 3; i++) {
        const float *a = semid_wordvec_get(&wv, words[i]), *b = semid_wordvec_get(&back, words[i]);
        assert_non_null(b);
        for (int d = 0; d < 3; d++) assert_true(fabsf(a[d] - b[d]) <= 3.0f / 254.0f + 1e-6f);
    }
    semid_wordvec_free(&back);
    /* Truncated file: a clean error. */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(path, raw, len - 5), SEMID_OK);
    assert_int_equal(semid_wordvec_load(path, 0, &back), SEMID_EFORMAT);
    free(raw);
    free(path);
    /* Duplicates are refused when building from arrays. */
    const char *dup[] = {"x", "x"};
    assert_int_equal(semid_wordvec_from_arrays(&back, dup, vec, 2, 3), SEMID_EINVAL);
    semid_wordvec_free(&wv);
}

/* The shipped subset loads with no download and knows the topic words. */
static void test_default_subset(void **state) {
    (void)state;
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_load_default(&wv), SEMID_OK);
    assert_int_equal(wv.dim, 100);
    assert_true(wv.n_words >= 15000);
    const char *topics[] = {"space", "planet", "detective", "murder", "romance", "war", "music", "alien", "the"};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        assert_true(semid_wordvec_find(&wv, topics[i]) >= 0);
    /* Related words are closer than unrelated ones (cosine). */
    const float *a = semid_wordvec_get(&wv, "planet"), *b = semid_wordvec_get(&wv, "space"),
                *c = semid_wordvec_get(&wv, "murder");
    double ab = 0, ac = 0, na = 0, nb = 0, nc = 0;
    for (int d = 0; d < 100; d++) {
        ab += a[d] * b[d], ac += a[d] * c[d];
        na += a[d] * a[d], nb += b[d] * b[d], nc += c[d] * c[d];
    }
    assert_true(ab / sqrt(na * nb) > ac / sqrt(na * nc) + 0.1);
    semid_wordvec_free(&wv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glove_text),
        cmocka_unit_test(test_word2vec_text),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_compact_roundtrip),
        cmocka_unit_test(test_default_subset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
