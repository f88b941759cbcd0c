#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/builder.h"
#include "embed/content.h"
#include "linalg/vec.h"
#include "semid/semid.h"

/* A tiny table: two "topics" along axes 0 and 1, function words along 2. */
static void tiny_vectors(semid_wordvec *wv) {
    const char *words[] = {"space", "planet", "orbit", "murder", "detective", "crime", "the", "of"};
    const float v[] = {1.0f, 0.1f, 0.0f, 0.9f, 0.2f, 0.1f, 0.8f, 0.0f, 0.2f, 0.0f, 1.0f, 0.1f,
                       0.1f, 0.9f, 0.0f, 0.2f, 0.8f, 0.1f, 0.1f, 0.1f, 1.0f, 0.0f, 0.1f, 1.0f};
    assert_int_equal(semid_wordvec_from_arrays(wv, words, v, 8, 3), SEMID_OK);
}

static void make_items(semid_dataset *ds, const char *const *titles, int n) {
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "content-test"), SEMID_OK);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        semid_item it = {.id = id, .title = (char *)titles[i], .year = 0, .genres = "", .description = "", .tags = ""};
        int32_t idx;
        assert_int_equal(semid_builder_add_item(b, &it, &idx), SEMID_OK);
    }
    assert_int_equal(semid_builder_finish(b, ds), SEMID_OK);
}

static float cosine(const semid_matrix *m, int i, int j) {
    return semid_dot(m->data + (int64_t)i * m->cols, m->data + (int64_t)j * m->cols, m->cols);
}

static void test_shared_words_are_closer(void **state) {
    (void)state;
    semid_wordvec wv;
    tiny_vectors(&wv);
    const char *titles[] = {"the space of the planet", "orbit of the planet", "the murder of the detective",
                            "crime of the detective", "zzz qqq"};
    semid_dataset ds;
    make_items(&ds, titles, 5);
    const semid_content_weighting modes[] = {SEMID_CONTENT_SIF, SEMID_CONTENT_IDF, SEMID_CONTENT_MEAN};
    for (int m = 0; m < 3; m++) {
        for (int pc = 0; pc <= 1; pc++) {
            semid_content_config c = semid_content_defaults();
            c.weighting = modes[m];
            c.remove_pc = pc;
            semid_matrix e;
            assert_int_equal(semid_content_embed(&ds, &wv, &c, &e), SEMID_OK);
            assert_int_equal(e.rows, 5);
            assert_int_equal(e.cols, 3);
            for (int i = 0; i < 4; i++) assert_true(fabsf(semid_norm2(e.data + i * 3, 3) - 1.0f) < 1e-5f);
            /* No known word: a zero row (the lenient policy). */
            assert_true(semid_norm2(e.data + 4 * 3, 3) == 0.0f);
            assert_true(cosine(&e, 0, 1) > cosine(&e, 0, 2) + 0.1f);
            assert_true(cosine(&e, 2, 3) > cosine(&e, 1, 3) + 0.1f);
            semid_matrix_free(&e);
        }
    }
    /* Strict: the same catalog is an error naming the text. */
    semid_content_config c = semid_content_defaults();
    c.strict = 1;
    semid_matrix e;
    assert_int_equal(semid_content_embed(&ds, &wv, &c, &e), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "text 4"));
    semid_dataset_free(&ds);
    semid_wordvec_free(&wv);
}

/* SIF: a word frequent in the catalog ("the") weighs less than with MEAN. */
static void test_sif_downweights_frequent_words(void **state) {
    (void)state;
    semid_wordvec wv;
    tiny_vectors(&wv);
    const char *texts[] = {"the space", "the the the murder", "the detective", "the crime the"};
    semid_content_config sif = semid_content_defaults(), mean = semid_content_defaults();
    sif.remove_pc = mean.remove_pc = 0;
    mean.weighting = SEMID_CONTENT_MEAN;
    semid_content_model *ms, *mm;
    assert_int_equal(semid_content_fit(texts, 4, &wv, &sif, &ms), SEMID_OK);
    assert_int_equal(semid_content_fit(texts, 4, &wv, &mean, &mm), SEMID_OK);
    semid_matrix a, b;
    int64_t empty = -1;
    assert_int_equal(semid_content_encode(ms, texts, 1, &a, &empty), SEMID_OK);
    assert_int_equal(empty, 0);
    assert_int_equal(semid_content_encode(mm, texts, 1, &b, NULL), SEMID_OK);
    /* Component 2 is the "the" axis. */
    assert_true(fabsf(a.data[2]) < fabsf(b.data[2]) - 0.2f);
    semid_matrix_free(&a), semid_matrix_free(&b);
    /* Queries encode with the catalog's weights; no known word counts as empty. */
    const char *queries[] = {"planet orbit", "unknown words only"};
    assert_int_equal(semid_content_encode(ms, queries, 2, &a, &empty), SEMID_OK);
    assert_int_equal(empty, 1);
    semid_matrix_free(&a);
    semid_content_model_free(ms), semid_content_model_free(mm);
    semid_wordvec_free(&wv);
}

/* With the shipped GloVe subset, a query finds the item on its topic. */
static void test_glove_query_finds_topic(void **state) {
    (void)state;
    semid_wordvec wv;
    assert_int_equal(semid_wordvec_load_default(&wv), SEMID_OK);
    const char *titles[] = {"Astronauts travel to a distant planet in a spaceship",
                            "A detective investigates a brutal murder in the city",
                            "Two lovers find romance in Paris", "Soldiers fight a long war in the desert"};
    semid_dataset ds;
    make_items(&ds, titles, 4);
    const char *texts[4];
    for (int i = 0; i < 4; i++) texts[i] = titles[i];
    const char *queries[] = {"rocket orbit galaxy", "police crime killer", "love kiss wedding", "army battle soldiers"};
    semid_content_config c = semid_content_defaults();
    semid_content_model *m;
    assert_int_equal(semid_content_fit(texts, 4, &wv, &c, &m), SEMID_OK);
    semid_matrix items, q;
    assert_int_equal(semid_content_encode(m, texts, 4, &items, NULL), SEMID_OK);
    assert_int_equal(semid_content_encode(m, queries, 4, &q, NULL), SEMID_OK);
    for (int k = 0; k < 4; k++) {
        int best = -1;
        float bs = -2;
        for (int i = 0; i < 4; i++) {
            float s = semid_dot(q.data + k * 100, items.data + i * 100, 100);
            if (s > bs) bs = s, best = i;
        }
        assert_int_equal(best, k);
    }
    semid_matrix_free(&items), semid_matrix_free(&q);
    semid_content_model_free(m);
    semid_dataset_free(&ds);
    semid_wordvec_free(&wv);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_wordvec wv;
    tiny_vectors(&wv);
    const char *texts[] = {"space"};
    semid_content_config c = semid_content_defaults();
    c.sif_a = 0;
    semid_content_model *m;
    assert_int_equal(semid_content_fit(texts, 1, &wv, &c, &m), SEMID_EINVAL);
    semid_wordvec empty = {0};
    c = semid_content_defaults();
    assert_int_equal(semid_content_fit(texts, 1, &empty, &c, &m), SEMID_EINVAL);
    semid_wordvec_free(&wv);
}

int main(void) {
    semid_set_log_level(SEMID_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_words_are_closer),
        cmocka_unit_test(test_sif_downweights_frequent_words),
        cmocka_unit_test(test_glove_query_finds_topic),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
