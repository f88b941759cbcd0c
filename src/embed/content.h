/* Content embeddings without training: a weighted mean of pretrained word
 * vectors over an item's text (semid_item_text: title, year, genres,
 * description, tags), the paper's "content" embeddings with GloVe in place
 * of a sentence transformer.
 *
 * Weighting (per word w of the text, words tokenised by text/tokenize.h):
 *   - SIF (default, Arora et al. 2017): a / (a + p(w)), a = 1e-3, p(w) the
 *     word's relative frequency in the catalog's own text (the fitted texts);
 *   - IDF: log((1 + N) / (1 + df(w))) + 1 over the fitted texts;
 *   - MEAN: every word 1.
 * Words without a vector are skipped. Then, optionally (default on for
 * SIF), the projection on the first principal component of the fitted
 * texts' vectors is removed (SIF's common-component removal), and every row
 * is L2-normalised.
 *
 * A text with no known word: a zero row, counted and reported with one
 * SEMID_WARN, or an EINVAL error naming the text's index when `strict`.
 *
 * Queries for content-based search must be encoded with the catalog's
 * weights and component: fit once (semid_content_fit) on the item texts,
 * then semid_content_encode any text. */
#ifndef SEMID_EMBED_CONTENT_H
#define SEMID_EMBED_CONTENT_H

#include <stdint.h>

#include "data/dataset.h"
#include "linalg/matrix.h"
#include "semid/semid.h"
#include "text/wordvec.h"

typedef enum {
    SEMID_CONTENT_SIF = 0,
    SEMID_CONTENT_IDF = 1,
    SEMID_CONTENT_MEAN = 2
} semid_content_weighting;

typedef struct semid_content_config {
    semid_content_weighting weighting; /* SEMID_CONTENT_SIF */
    double sif_a;                      /* 1e-3 */
    int remove_pc;                     /* remove the first principal component: 1 */
    int skip_stopwords;                /* drop semid_is_stopword words: 0 (SIF down-weights them) */
    int strict;                        /* 1: a text with no known word is an error; 0 */
} semid_content_config;

semid_content_config semid_content_defaults(void);

/* A fitted content encoder: word weights from the fitted texts and the
 * common component. Keeps a pointer to `wv`, which must outlive it. */
typedef struct semid_content_model semid_content_model;

semid_status semid_content_fit(const char *const *texts, int64_t n, const semid_wordvec *wv,
                               const semid_content_config *cfg, semid_content_model **out);
/* Encodes n texts into *out (n x wv->dim, allocated here, L2-normalised).
 * *n_empty (may be NULL) receives the number of texts with no known word. */
semid_status semid_content_encode(const semid_content_model *m, const char *const *texts, int64_t n,
                                  semid_matrix *out, int64_t *n_empty);
void semid_content_model_free(semid_content_model *m);

/* Fits on the dataset's item texts and encodes them: out is I x wv->dim. */
semid_status semid_content_embed(const semid_dataset *ds, const semid_wordvec *wv,
                                 const semid_content_config *cfg, semid_matrix *out);

/* The item texts of a dataset (semid_item_text of each item), as an array
 * of n_items owned strings; free with semid_item_texts_free. */
semid_status semid_item_texts(const semid_dataset *ds, char ***out);
void semid_item_texts_free(char **texts, int64_t n);

#endif
