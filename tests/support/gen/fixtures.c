/* Fixtures shared by the generative-model tests (fixtures.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "linalg/matrix.h"
#include "linalg/vec.h"
#include "quant/strategy.h"
#include "support/gen/fixtures.h"
#include "text/tokenize.h"

/* A content embedding by feature hashing: each word of the item's text adds
 * +-1 to one of D dimensions; rows are L2-normalised. */
static void hashed_embedding(const semid_dataset *d, int32_t D, semid_matrix *X) {
    assert_int_equal(semid_matrix_alloc(X, d->n_items, D), SEMID_OK);
    for (int32_t i = 0; i < d->n_items; i++) {
        char *text = semid_item_text(&d->items[i]);
        semid_words w;
        assert_int_equal(semid_tokenize(text, &w), SEMID_OK);
        for (int32_t j = 0; j < w.n; j++) {
            uint64_t h = semid_hash_bytes(w.words[j], strlen(w.words[j]), 99);
            X->data[(int64_t)i * D + (int64_t)(h % (uint64_t)D)] += (h >> 40) & 1 ? 1.0f : -1.0f;
        }
        X->data[(int64_t)i * D] += 0.01f; /* never all zero */
        semid_words_free(&w);
        free(text);
    }
    semid_normalize_rows(X->data, X->rows, X->cols);
}

void test_content_table(const semid_dataset *d, int32_t codebook, semid_idtable *out) {
    semid_matrix X;
    hashed_embedding(d, 64, &X);
    int64_t *pop = calloc((size_t)d->n_items, sizeof *pop);
    semid_dataset_train_counts(d, pop);
    semid_strategy_options o = {.strategy = "content", .tokenizer = semid_tokenizer_defaults(), .disambiguate = 1,
                                .popularity = pop};
    o.tokenizer.levels = 2;
    o.tokenizer.codebook_size = codebook;
    o.tokenizer.iters = 10;
    semid_strategy_inputs in = {.single = &X};
    semid_strategy_result r;
    assert_int_equal(semid_strategy_build(&in, &o, &r), SEMID_OK);
    *out = r.table;
    memset(&r.table, 0, sizeof r.table);
    semid_strategy_result_free(&r);
    semid_matrix_free(&X);
    free(pop);
}

void test_small_synth(semid_dataset *ds) {
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 150;
    c.n_users = 400;
    c.mean_history = 14;
    c.min_history = 5;
    c.max_history = 40;
    c.n_topics = 8;
    c.queries_per_item = 6;
    c.queries_train = 4;
    assert_int_equal(semid_synth_generate(&c, 3, ds), SEMID_OK);
}
