/* Dense-retrieval and popularity baselines, evaluated like the generative
 * model: Recall@K / NDCG@K per query (eval/metrics.h).
 *
 * Recommendation protocol (chronological leave-last-out,
 * semid_dataset_user_split): every user with a test item is one query;
 * the target is the test item (the last interaction) and the history the
 * user's training part plus the validation item (everything before the
 * target, as the generative model sees it). ENMF's user vectors are trained
 * on the training part only, so they do not see the validation item.
 * With `validation` set, the target is the validation item and the history
 * the training part. Each query's group is SEMID_GROUP_HEAD when the target
 * is among the top head_fraction items by training popularity.
 *
 * Exclusion: by default NOTHING is excluded: the generative model may emit
 * any item and catalogs with repeat consumption (music) need it. In ML-1M
 * items never repeat, so --exclude-history (exclude_history) is the usual
 * "filter seen items" protocol; both are reported by the benchmark.
 *
 * Search protocol: every query of split test is one query; the target is
 * the item it was written for. */
#ifndef SEMID_EMBED_BASELINE_H
#define SEMID_EMBED_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "eval/metrics.h"
#include "linalg/matrix.h"
#include "semid/semid.h"

typedef struct semid_rec_eval_options {
    int32_t k;             /* 30 */
    bool exclude_history;  /* false: see above */
    bool validation;       /* false: evaluate the test item */
    double head_fraction;  /* 0.01 */
    int32_t n_recent;      /* history method: the last 10 items are averaged */
} semid_rec_eval_options;

semid_rec_eval_options semid_rec_eval_defaults(void);

/* The recommendation queries: users with a target, their target and
 * history (CSR over the queries, chronological). Caller frees with
 * semid_rec_queries_free. */
typedef struct semid_rec_queries {
    int64_t n;
    int32_t *user;         /* (n) */
    int32_t *target;       /* (n) */
    int8_t *group;         /* (n) SEMID_GROUP_HEAD or SEMID_GROUP_TORSO */
    int64_t *hist_offsets; /* (n+1) */
    int32_t *hist_items;
} semid_rec_queries;

semid_status semid_rec_queries_build(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                     semid_rec_queries *out);
void semid_rec_queries_free(semid_rec_queries *q);

/* Most popular items in training, the same list for everyone (minus the
 * history when excluded). */
semid_status semid_baseline_rec_popularity(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                           semid_ranking_eval *out);

/* Scores p_u · item_v with one vector per USER (U x D), e.g. ENMF's user
 * vectors against its h-scaled item vectors. */
semid_status semid_baseline_rec_user_vectors(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                             const semid_matrix *user_vecs, const semid_matrix *item_vecs,
                                             semid_ranking_eval *out);

/* Query = mean of the last n_recent history items' vectors (I x D), the
 * usual dense next-item baseline for a bi-encoder or any item embedding. */
semid_status semid_baseline_rec_history(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                        const semid_matrix *item_vecs, semid_ranking_eval *out);

/* Personalised search, dense: for each rec query (semid_rec_queries_build
 * order) the vector q/|q| + weight * u/|u|, q its row of query_vecs (the
 * encoded query) and u the mean of the last n_recent history items'
 * vectors, ranked against item_vecs as rec ranks (history excluded as the
 * options say): the query's bi-encoder score plus the user's. */
semid_status semid_baseline_personal_dense(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                           const semid_matrix *query_vecs, const semid_matrix *item_vecs, float weight,
                                           semid_ranking_eval *out);

/* Indices (into ds->queries) of the test queries, in order; caller frees. */
semid_status semid_search_test_queries(const semid_dataset *ds, int32_t **idx, int64_t *n);

/* Search: query_vecs (one row per test query, in semid_search_test_queries
 * order) against item_vecs; the query width may be smaller than the items'
 * (the rest of the item vector, e.g. the rec half of fused_concat, gets a
 * zero query weight). */
semid_status semid_baseline_search_dense(const semid_dataset *ds, const semid_matrix *query_vecs,
                                         const semid_matrix *item_vecs, int32_t k, double head_fraction,
                                         semid_ranking_eval *out);

/* Encodes the test queries (semid_search_test_queries order) for dense
 * search: with encoder_path, by the trained text encoder saved by
 * `semid embed --method search|multi`; without it, by the content encoder
 * (embed/content.h) fitted on the item texts with the word vectors at
 * glove_path (NULL = the shipped GloVe subset). */
semid_status semid_baseline_encode_test_queries(const semid_dataset *ds, const char *encoder_path,
                                                const char *glove_path, semid_matrix *out);

/* Search by training popularity, ignoring the query text. */
semid_status semid_baseline_search_popularity(const semid_dataset *ds, int32_t k, double head_fraction,
                                              semid_ranking_eval *out);

#endif
