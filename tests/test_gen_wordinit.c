/* Query-word embeddings started from word vectors: similar words start
 * close, every initialised row keeps the random rows' mean norm, and rows
 * without a vector (or of other tokens) are left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/model.h"
#include "gen/vocab.h"
#include "gen/word_init.h"
#include "text/wordvec.h"

enum { C = 16, N_WORDS = 4, WORD_BASE = SEMID_TOK_N_SPECIAL, V = WORD_BASE + N_WORDS + 2 };

static double cosine(const float *a, const float *b) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < C; j++) {
        ab += (double)a[j] * b[j];
        aa += (double)a[j] * a[j];
        bb += (double)b[j] * b[j];
    }
    return ab / sqrt(aa * bb);
}

static double norm(const float *a) {
    double s = 0;
    for (int j = 0; j < C; j++) s += (double)a[j] * a[j];
    return sqrt(s);
}

static void test_word_init(void **state) {
    (void)state;
    semid_gpt_config cfg = {.vocab_size = V, .max_seq_len = 8, .n_layer = 1, .n_head = 2, .d_model = C};
    semid_gpt *m;
    assert_int_equal(semid_gpt_create(&cfg, 3, &m), SEMID_OK);
    char *words[N_WORDS] = {"space", "galaxy", "comedy", "zzzz"};
    semid_gen_vocab v = {.n_unk = 0, .n_words = N_WORDS, .words = words, .unk_base = WORD_BASE,
                         .word_base = WORD_BASE, .sid_base = WORD_BASE + N_WORDS, .n_sid = 2, .size = V};
    const char *names[3] = {"space", "galaxy", "comedy"};
    float vecs[3 * 3] = {1.0f, 0.9f, 0.0f, 0.95f, 1.0f, 0.05f, 0.0f, -0.2f, 1.0f};
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_from_arrays(&wv, names, vecs, 3, 3), SEMID_OK);

    int64_t off, n;
    assert_int_equal(semid_gpt_find_tensor(m, "wte", &off, &n), SEMID_OK);
    float *wte = semid_gpt_params(m, &n) + off;
    float *before = malloc(sizeof(float) * V * C);
    memcpy(before, wte, sizeof(float) * V * C);
    double target = 0;
    for (int w = 0; w < N_WORDS; w++) target += norm(before + (WORD_BASE + w) * C);
    target /= N_WORDS;

    int32_t found = -1;
    assert_int_equal(semid_gen_init_word_embeddings(m, &v, &wv, 7, &found), SEMID_OK);
    assert_int_equal(found, 3);
    const float *space = wte + (WORD_BASE + 0) * C, *galaxy = wte + (WORD_BASE + 1) * C;
    const float *comedy = wte + (WORD_BASE + 2) * C;
    assert_true(cosine(space, galaxy) > 0.5);
    assert_true(cosine(space, galaxy) > cosine(space, comedy) + 0.5);
    for (int w = 0; w < 3; w++) assert_float_equal(norm(wte + (WORD_BASE + w) * C), target, 1e-4 * target);
    /* the word without a vector, the specials and the ID tokens are untouched */
    assert_memory_equal(wte + (WORD_BASE + 3) * C, before + (WORD_BASE + 3) * C, sizeof(float) * C);
    assert_memory_equal(wte, before, sizeof(float) * WORD_BASE * C);
    assert_memory_equal(wte + (WORD_BASE + N_WORDS) * C, before + (WORD_BASE + N_WORDS) * C, sizeof(float) * 2 * C);

    v.size = V + 1; /* a vocabulary that is not the model's */
    assert_int_equal(semid_gen_init_word_embeddings(m, &v, &wv, 7, NULL), SEMID_EINVAL);
    free(before);
    semid_wordvec_free(&wv);
    semid_gpt_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_word_init)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
