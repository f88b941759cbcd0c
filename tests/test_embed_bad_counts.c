/* Counts and sizes read from a text encoder, a word-vector file or a saved
 * dataset are checked against the bytes present before anything is
 * allocated (hardening issue, item 6). Each is a clean error naming the
 * sizes, never an allocation attempt for more than the file can hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "data/dataset.h"
#include "embed/text_encoder.h"
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

static char *write_bytes(const char *name, const void *data, size_t len) {
    char *path = semid_path_join(tmpdir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len) assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

static void expect_error(semid_status st, semid_status want, const char *needle) {
    if (st != want || !strstr(semid_last_error(), needle))
        fprintf(stderr, "status %s, no '%s' in: %s\n", semid_status_name(st), needle, semid_last_error());
    assert_int_equal(st, want);
    assert_non_null(strstr(semid_last_error(), needle));
}

/* A text encoder file: the safetensors header with this config (JSON,
 * escaped into the metadata string) and vocabulary, then `data` bytes. */
static char *write_encoder(const char *name, const char *config_escaped, const char *vocab_escaped, size_t data) {
    char header[4096];
    int n = snprintf(header, sizeof header,
                     "{\"__metadata__\":{\"format\":\"semid_text_encoder\",\"config\":\"%s\",\"vocab\":\"%s\"}}",
                     config_escaped, vocab_escaped);
    size_t len = 8 + (size_t)n + data;
    unsigned char *buf = calloc(len, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, header, (size_t)n);
    char *path = write_bytes(name, buf, len);
    free(buf);
    return path;
}

static void test_text_encoder_counts(void **state) {
    (void)state;
    semid_text_encoder *enc = NULL;
    /* 2^31-1 n-gram buckets x 65536: 2^47 parameters were allocated before
     * the tensors were compared with the file. */
    char *p = write_encoder("big.enc",
                            "{\\\"version\\\":1,\\\"vocab_size\\\":2,\\\"dim_word\\\":65536,\\\"dim_out\\\":8,"
                            "\\\"n_buckets\\\":2147483647,\\\"ngram_min\\\":3,\\\"ngram_max\\\":5,\\\"min_count\\\":1,"
                            "\\\"max_vocab\\\":0,\\\"init_std\\\":0.1,\\\"pretrained_words\\\":0,\\\"seed\\\":\\\"1\\\"}",
                            "a\\nb\\n", 64);
    expect_error(semid_text_encoder_load(p, &enc), SEMID_EFORMAT, "need");
    assert_null(enc);
    free(p);
    /* 2^31-1 vocabulary words named in a string of two. */
    p = write_encoder("vocab.enc",
                      "{\\\"version\\\":1,\\\"vocab_size\\\":2147483647,\\\"dim_word\\\":1,\\\"dim_out\\\":1,"
                      "\\\"n_buckets\\\":0,\\\"ngram_min\\\":3,\\\"ngram_max\\\":5,\\\"min_count\\\":1,"
                      "\\\"max_vocab\\\":0,\\\"init_std\\\":0.1,\\\"pretrained_words\\\":0,\\\"seed\\\":\\\"1\\\"}",
                      "a\\nb\\n", 64);
    expect_error(semid_text_encoder_load(p, &enc), SEMID_EFORMAT, "bytes");
    free(p);
    /* A size past int32 (the cast was undefined). */
    p = write_encoder("cast.enc",
                      "{\\\"version\\\":1,\\\"vocab_size\\\":1e300,\\\"dim_word\\\":1,\\\"dim_out\\\":1,"
                      "\\\"n_buckets\\\":0,\\\"ngram_min\\\":3,\\\"ngram_max\\\":5,\\\"min_count\\\":1,"
                      "\\\"max_vocab\\\":0,\\\"init_std\\\":0.1,\\\"pretrained_words\\\":0,\\\"seed\\\":\\\"1\\\"}",
                      "a\\nb\\n", 64);
    expect_error(semid_text_encoder_load(p, &enc), SEMID_EFORMAT, "config");
    free(p);
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_wordvec_counts(void **state) {
    (void)state;
    semid_wordvec wv;
    /* The compact form claiming 2^31-1 words of width 100000 in 4 KB. */
    unsigned char buf[4096] = {'S', 'E', 'M', 'I', 'D', 'W', 'V', '\0'};
    put_u32(buf + 8, 1);
    put_u32(buf + 12, 2147483647u);
    put_u32(buf + 16, 100000);
    put_u32(buf + 20, 1);
    char *p = write_bytes("big.wv", buf, sizeof buf);
    expect_error(semid_wordvec_load(p, 0, &wv), SEMID_EFORMAT, "do not fit");
    free(p);
    /* word2vec text: a width of 100000 and 200000 blank lines made room
     * for 200001 vectors (80 GB) before reading one. */
    size_t len = 9 + 200000;
    char *text = malloc(len);
    memcpy(text, "1 100000\n", 9);
    memset(text + 9, '\n', 200000);
    p = write_bytes("big.txt", text, len);
    free(text);
    expect_error(semid_wordvec_load(p, 0, &wv), SEMID_EPARSE, "announces 1 words");
    free(p);
}

/* What fuzz_wordvec found: each loads cleanly or fails cleanly now. */
static void test_wordvec_fuzz_findings(void **state) {
    (void)state;
    semid_wordvec wv;
    /* A last line without its newline had no room (heap-buffer-overflow under ASan). */
    char *p = write_bytes("cut.txt", "a 1\nb 2\nc 3", 11);
    assert_int_equal(semid_wordvec_load(p, 0, &wv), SEMID_OK);
    assert_int_equal(wv.n_words, 3);
    semid_wordvec_free(&wv);
    free(p);
    /* The compact form: no words; a scale whose int8 multiples overflow. */
    unsigned char buf[64] = {'S', 'E', 'M', 'I', 'D', 'W', 'V', '\0'};
    put_u32(buf + 8, 1);
    put_u32(buf + 12, 0);
    put_u32(buf + 16, 2);
    put_u32(buf + 20, 1);
    p = write_bytes("none.wv", buf, 24);
    expect_error(semid_wordvec_load(p, 0, &wv), SEMID_EFORMAT, "no word vectors");
    free(p);
    put_u32(buf + 12, 1);
    buf[24] = 1;
    buf[25] = 'w';
    float scale = 3e38f;
    memcpy(buf + 26, &scale, 4);
    buf[30] = 100;
    buf[31] = 0x9c;
    p = write_bytes("scale.wv", buf, 32);
    expect_error(semid_wordvec_load(p, 0, &wv), SEMID_ENUMERIC, "too large");
    free(p);
    /* Saving a row of subnormals divided by a scale that underflowed to 0. */
    const char *words[1] = {"tiny"};
    const float tiny[2] = {1e-44f, -1e-45f};
    assert_int_equal(semid_wordvec_from_arrays(&wv, words, tiny, 1, 2), SEMID_OK);
    p = semid_path_join(tmpdir, "tiny.wv");
    assert_int_equal(semid_wordvec_save_compact(&wv, p), SEMID_OK);
    semid_wordvec_free(&wv);
    assert_int_equal(semid_wordvec_load(p, 0, &wv), SEMID_OK);
    semid_wordvec_free(&wv);
    free(p);
}

/* The dataset loader's FNV-1a checksum over everything before the last 8 bytes. */
static void fix_checksum(unsigned char *data, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len - 8; i++) h = (h ^ data[i]) * 1099511628211ULL;
    memcpy(data + len - 8, &h, 8);
}

static void test_dataset_counts(void **state) {
    (void)state;
    /* magic, version 1, reserved, name "x", then 2^31-1 items in 5 KB. */
    unsigned char buf[5000] = {'S', 'E', 'M', 'I', 'D', 'D', 'S', '\0', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'x'};
    int32_t counts[2] = {INT32_MAX, 1};
    memcpy(buf + 21, counts, sizeof counts);
    fix_checksum(buf, sizeof buf);
    char *p = write_bytes("big.sdd", buf, sizeof buf);
    semid_dataset ds;
    expect_error(semid_dataset_load(p, &ds), SEMID_EFORMAT, "do not fit");
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_encoder_counts),
        cmocka_unit_test(test_wordvec_counts),
        cmocka_unit_test(test_wordvec_fuzz_findings),
        cmocka_unit_test(test_dataset_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
