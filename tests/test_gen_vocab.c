/* The generative model's vocabulary and the examples built with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gen/examples.h"
#include "gen/vocab.h"
#include "quant/idtable.h"

static semid_query QUERIES[] = {
    {"Space robots, space!", 0, SEMID_SPLIT_TRAIN},
    {"robots in love", 1, SEMID_SPLIT_TRAIN},
    {"a quiet love story", 2, SEMID_SPLIT_TRAIN},
    {"secret words only here", 0, SEMID_SPLIT_TEST},   /* test queries never enter the vocabulary */
    {"validation robots zebra", 1, SEMID_SPLIT_VALID},
};

static void make_table(semid_idtable *t, int shift) {
    int32_t sizes[2] = {4, 3};
    assert_int_equal(semid_idtable_create(t, "test", "hand", 3, 1, 2, sizes, 0), SEMID_OK);
    for (int32_t i = 0; i < 3; i++) {
        t->codes[i * 2] = (i + shift) % 4;
        t->codes[i * 2 + 1] = i % 3;
    }
    semid_idtable_update_fingerprint(t);
}

static semid_dataset make_ds(void) {
    semid_dataset ds = {0};
    ds.n_queries = 5;
    ds.queries = QUERIES;
    return ds;
}

static void test_build_layout_and_encode(void **state) {
    (void)state;
    semid_dataset ds = make_ds();
    semid_idtable t;
    make_table(&t, 0);
    semid_gen_vocab_options o = semid_gen_vocab_defaults();
    o.min_count = 2;
    o.n_unk = 8;
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &t, &o, &v), SEMID_OK);
    /* "space" x2, "robots" x2, "love" x2 in training; the rest once. */
    assert_int_equal(v.n_words, 3);
    assert_string_equal(v.words[0], "love"); /* equal counts: byte order */
    assert_string_equal(v.words[1], "robots");
    assert_string_equal(v.words[2], "space");
    assert_int_equal(v.unk_base, SEMID_TOK_N_SPECIAL);
    assert_int_equal(v.word_base, v.unk_base + 8);
    assert_int_equal(v.sid_base, v.word_base + 3);
    assert_int_equal(v.size, v.sid_base + t.n_tokens);
    int32_t out[16], n, unk;
    assert_int_equal(semid_gen_vocab_encode(&v, "ROBOTS and zebras", out, 16, &n, &unk), SEMID_OK);
    assert_int_equal(n, 3);
    assert_int_equal(unk, 2);
    assert_int_equal(out[0], v.word_base + 1);
    for (int i = 1; i < 3; i++) assert_true(out[i] >= v.unk_base && out[i] < v.word_base);
    /* The same unknown word always lands in the same bucket. */
    assert_int_equal(semid_gen_vocab_word(&v, "zebras"), out[2]);
    /* Cut at max. */
    assert_int_equal(semid_gen_vocab_encode(&v, "love love love", out, 2, &n, NULL), SEMID_OK);
    assert_int_equal(n, 2);
    assert_int_equal(semid_gen_vocab_encode(&v, "", out, 2, &n, &unk), SEMID_OK);
    assert_int_equal(n, 0);
    /* min_count 1 keeps every training word, not the test or validation ones. */
    semid_gen_vocab v1;
    o.min_count = 1;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &t, &o, &v1), SEMID_OK);
    assert_int_equal(v1.n_words, 7);
    assert_false(semid_gen_vocab_is_known_word(&v1, semid_gen_vocab_word(&v1, "secret")));
    assert_false(semid_gen_vocab_is_known_word(&v1, semid_gen_vocab_word(&v1, "zebra")));
    /* Held-out training queries are left out when the mask says so. */
    uint8_t mask[5] = {1, 1, 0, 1, 1};
    semid_gen_vocab v2;
    assert_int_equal(semid_gen_vocab_build(&ds, mask, &t, &o, &v2), SEMID_OK);
    assert_false(semid_gen_vocab_is_known_word(&v2, semid_gen_vocab_word(&v2, "quiet")));
    /* No buckets: unknown words are dropped but counted. */
    o.n_unk = 0;
    semid_gen_vocab v3;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &t, &o, &v3), SEMID_OK);
    assert_int_equal(semid_gen_vocab_encode(&v3, "zebra space", out, 16, &n, &unk), SEMID_OK);
    assert_int_equal(n, 1);
    assert_int_equal(unk, 1);
    semid_gen_vocab_free(&v);
    semid_gen_vocab_free(&v1);
    semid_gen_vocab_free(&v2);
    semid_gen_vocab_free(&v3);
    semid_idtable_free(&t);
}

static void test_json_roundtrip_and_table_check(void **state) {
    (void)state;
    semid_dataset ds = make_ds();
    semid_idtable t, other;
    make_table(&t, 0);
    make_table(&other, 1);
    semid_gen_vocab v, back;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &t, NULL, &v), SEMID_OK);
    cJSON *j = semid_gen_vocab_to_cjson(&v);
    assert_non_null(j);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *parsed = cJSON_Parse(text);
    assert_int_equal(semid_gen_vocab_from_cjson(parsed, &back), SEMID_OK);
    assert_int_equal(back.size, v.size);
    assert_int_equal(back.n_words, v.n_words);
    assert_int_equal(semid_gen_vocab_word(&back, "robots"), semid_gen_vocab_word(&v, "robots"));
    assert_int_equal(semid_gen_vocab_word(&back, "qwerty"), semid_gen_vocab_word(&v, "qwerty"));
    assert_int_equal(semid_gen_vocab_check_table(&back, &t), SEMID_OK);
    assert_int_equal(semid_gen_vocab_check_table(&back, &other), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "another ID table"));
    semid_gen_vocab_free(&back);
    /* A tampered size is caught. */
    cJSON_ReplaceItemInObject(parsed, "size", cJSON_CreateNumber(v.size + 1));
    assert_int_equal(semid_gen_vocab_from_cjson(parsed, &back), SEMID_EFORMAT);
    cJSON_Delete(parsed);
    assert_int_equal(semid_gen_vocab_from_cjson(NULL, &back), SEMID_EFORMAT);
    free(text);
    semid_gen_vocab_free(&v);
    semid_idtable_free(&t);
    semid_idtable_free(&other);
}

static void test_prompts_and_batches(void **state) {
    (void)state;
    semid_dataset ds = make_ds();
    semid_idtable t;
    make_table(&t, 0);
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &t, NULL, &v), SEMID_OK);
    semid_gen_example_options o = semid_gen_example_defaults();
    o.max_seq_len = 8;
    o.history_window = 20;
    assert_int_equal(semid_gen_effective_window(&o, 2), 3); /* 8/2 - 1 */
    int32_t p[8], n;
    assert_int_equal(semid_gen_prompt_search(&v, &t, &o, "one two three four five six seven", p, &n, NULL), SEMID_OK);
    assert_int_equal(n, 7); /* [SEARCH] 5 words [SEP]: with one more ID token it fills 8 */
    assert_int_equal(p[0], SEMID_TOK_SEARCH);
    assert_int_equal(p[6], SEMID_TOK_SEP);
    int32_t hist[5] = {0, 1, 2, 1, 0};
    semid_gen_prompt_rec(&v, &t, &o, hist, 5, p, &n);
    assert_int_equal(n, 1 + 3 * 2); /* the last 3 items */
    assert_int_equal(p[0], SEMID_TOK_RECOMMEND);
    int32_t tok[2];
    semid_idtable_tokens(&t, SEMID_TASK_REC, 2, tok);
    assert_int_equal(p[1], v.sid_base + tok[0]);
    assert_int_equal(p[2], v.sid_base + tok[1]);
    semid_gen_prompt_rec(&v, &t, &o, hist, 0, p, &n);
    assert_int_equal(n, 1);

    /* A batch of two sequences padded to the longer one. */
    semid_gen_seqs s = {0};
    int32_t a[4] = {2, 10, 11, 12};
    uint8_t at[4] = {0, 0, 1, 1};
    int32_t b[2] = {3, 13};
    uint8_t bt[2] = {0, 1};
    s.n = 2;
    semid_gen_seq seqs[2] = {{.offset = 0, .len = 4}, {.offset = 4, .len = 2}};
    int32_t tokens[6] = {2, 10, 11, 12, 3, 13};
    uint8_t tg[6];
    memcpy(tg, at, 4);
    memcpy(tg + 4, bt, 2);
    (void)a;
    (void)b;
    s.seq = seqs;
    s.tokens = tokens;
    s.is_target = tg;
    int64_t idx[2] = {1, 0};
    int32_t in[8], tt[8], T;
    assert_int_equal(semid_gen_batch_fill(&s, idx, 2, in, tt, &T), 3);
    assert_int_equal(T, 3);
    int32_t want_in[6] = {3, 13, SEMID_TOK_PAD, 2, 10, 11};
    int32_t want_t[6] = {13, -1, -1, -1, 11, 12};
    assert_memory_equal(in, want_in, sizeof want_in);
    assert_memory_equal(tt, want_t, sizeof want_t);
    semid_gen_vocab_free(&v);
    semid_idtable_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_layout_and_encode),
        cmocka_unit_test(test_json_roundtrip_and_table_check),
        cmocka_unit_test(test_prompts_and_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
