/* Popularity and dense-retrieval baselines (see baseline.h). */
#include "embed/baseline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "embed/content.h"
#include "embed/knn.h"
#include "embed/text_encoder.h"
#include "linalg/vec.h"
#include "text/wordvec.h"

semid_rec_eval_options semid_rec_eval_defaults(void) {
    semid_rec_eval_options o;
    o.k = 30;
    o.exclude_history = false;
    o.validation = false;
    o.head_fraction = 0.01;
    o.n_recent = 10;
    return o;
}

void semid_rec_queries_free(semid_rec_queries *q) {
    free(q->user);
    free(q->target);
    free(q->group);
    free(q->hist_offsets);
    free(q->hist_items);
    memset(q, 0, sizeof *q);
}

static semid_status head_flags(const semid_dataset *ds, double fraction, uint8_t **is_head) {
    *is_head = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1));
    if (!*is_head) return semid_fail(SEMID_ENOMEM, "out of memory");
    if (ds->n_items > 0 && semid_dataset_head_items(ds, fraction, *is_head) < 0) {
        free(*is_head);
        *is_head = NULL;
        return SEMID_ENOMEM;
    }
    return SEMID_OK;
}

semid_status semid_rec_queries_build(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                     semid_rec_queries *out) {
    memset(out, 0, sizeof *out);
    int64_t n = 0, total = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split s = semid_dataset_user_split(ds, u);
        int32_t target = opt->validation ? s.valid_item : s.test_item;
        if (target < 0) continue;
        n++;
        total += s.train_end - s.train_begin + (opt->validation ? 0 : 1);
    }
    uint8_t *is_head = NULL;
    SEMID_TRY(head_flags(ds, opt->head_fraction, &is_head));
    size_t m = (size_t)(n > 0 ? n : 1);
    out->user = malloc(m * sizeof *out->user);
    out->target = malloc(m * sizeof *out->target);
    out->group = malloc(m * sizeof *out->group);
    out->hist_offsets = malloc((m + 1) * sizeof *out->hist_offsets);
    out->hist_items = malloc((size_t)(total > 0 ? total : 1) * sizeof *out->hist_items);
    if (!out->user || !out->target || !out->group || !out->hist_offsets || !out->hist_items) {
        free(is_head);
        semid_rec_queries_free(out);
        return semid_fail(SEMID_ENOMEM, "out of memory for %lld recommendation queries", (long long)n);
    }
    int64_t q = 0, k = 0;
    out->hist_offsets[0] = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split s = semid_dataset_user_split(ds, u);
        int32_t target = opt->validation ? s.valid_item : s.test_item;
        if (target < 0) continue;
        for (int64_t e = s.train_begin; e < s.train_end; e++) out->hist_items[k++] = ds->seq_items[e];
        if (!opt->validation) out->hist_items[k++] = s.valid_item;
        out->user[q] = u;
        out->target[q] = target;
        out->group[q] = is_head[target] ? SEMID_GROUP_HEAD : SEMID_GROUP_TORSO;
        out->hist_offsets[++q] = k;
    }
    out->n = n;
    free(is_head);
    return SEMID_OK;
}

/* Top-k for every query vector, scored against item_vecs, then the metrics. */
static semid_status rank_and_score(const semid_rec_queries *rq, const semid_rec_eval_options *opt, const float *qv,
                                   int64_t d, const semid_matrix *item_vecs, semid_ranking_eval *out) {
    int32_t *idx = malloc((size_t)(rq->n > 0 ? rq->n : 1) * (size_t)opt->k * sizeof *idx);
    if (!idx) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_knn_exclude ex = {rq->hist_offsets, rq->hist_items};
    semid_status st = semid_knn_topk(qv, rq->n, item_vecs->data, item_vecs->rows, d, opt->k,
                                     opt->exclude_history ? &ex : NULL, idx, NULL);
    if (st == SEMID_OK) st = semid_ranking_eval_init(out, rq->n, opt->k);
    if (st == SEMID_OK)
        for (int64_t q = 0; q < rq->n; q++)
            semid_ranking_eval_set(out, q, idx + q * opt->k, opt->k, rq->target[q], rq->group[q]);
    free(idx);
    return st;
}

static semid_status check_items(const semid_dataset *ds, const semid_matrix *item_vecs) {
    if (item_vecs->rows != ds->n_items)
        return semid_fail(SEMID_EINVAL, "item embeddings have %lld rows but the dataset has %d items",
                          (long long)item_vecs->rows, ds->n_items);
    if (item_vecs->cols < 1) return semid_fail(SEMID_EINVAL, "item embeddings have no columns");
    return SEMID_OK;
}

semid_status semid_baseline_rec_popularity(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                           semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    int64_t *counts = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1) * sizeof *counts);
    semid_matrix pop = {0};
    semid_rec_queries rq = {0};
    semid_status st = counts ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_matrix_alloc(&pop, ds->n_items, 1);
    if (st == SEMID_OK) st = semid_rec_queries_build(ds, opt, &rq);
    float *ones = NULL;
    if (st == SEMID_OK) {
        /* Popularity as a 1-D embedding: score = 1 * count, ties by index. */
        semid_dataset_train_counts(ds, counts);
        for (int32_t i = 0; i < ds->n_items; i++) pop.data[i] = (float)counts[i];
        ones = malloc((size_t)(rq.n > 0 ? rq.n : 1) * sizeof *ones);
        if (!ones) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (st == SEMID_OK) {
        for (int64_t q = 0; q < rq.n; q++) ones[q] = 1.0f;
        st = rank_and_score(&rq, opt, ones, 1, &pop, out);
    }
    free(ones);
    free(counts);
    semid_matrix_free(&pop);
    semid_rec_queries_free(&rq);
    return st;
}

semid_status semid_baseline_rec_user_vectors(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                             const semid_matrix *user_vecs, const semid_matrix *item_vecs,
                                             semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_items(ds, item_vecs));
    if (user_vecs->rows != ds->n_users || user_vecs->cols != item_vecs->cols)
        return semid_fail(SEMID_EINVAL, "user vectors are %lld x %lld but the dataset has %d users and items are %lld wide",
                          (long long)user_vecs->rows, (long long)user_vecs->cols, ds->n_users,
                          (long long)item_vecs->cols);
    semid_rec_queries rq;
    SEMID_TRY(semid_rec_queries_build(ds, opt, &rq));
    int64_t d = item_vecs->cols;
    float *qv = malloc((size_t)((rq.n > 0 ? rq.n : 1) * d) * sizeof *qv);
    semid_status st = qv ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) {
        for (int64_t q = 0; q < rq.n; q++)
            memcpy(qv + q * d, user_vecs->data + (int64_t)rq.user[q] * d, (size_t)d * sizeof *qv);
        st = rank_and_score(&rq, opt, qv, d, item_vecs, out);
    }
    free(qv);
    semid_rec_queries_free(&rq);
    return st;
}

/* The rec queries (*rq) and *qv: row q the mean of the last n_recent
 * history items' vectors of query q (caller frees both). */
static semid_status history_means(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                  const semid_matrix *item_vecs, semid_rec_queries *rq, float **out) {
    *out = NULL;
    SEMID_TRY(check_items(ds, item_vecs));
    if (opt->n_recent < 1) return semid_fail(SEMID_EINVAL, "history baseline: n_recent must be >= 1 (got %d)", opt->n_recent);
    SEMID_TRY(semid_rec_queries_build(ds, opt, rq));
    int64_t d = item_vecs->cols;
    float *qv = calloc((size_t)((rq->n > 0 ? rq->n : 1) * d), sizeof *qv);
    if (!qv) {
        semid_rec_queries_free(rq);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
#pragma omp parallel for schedule(static) if (rq->n * d > (1 << 16)) num_threads(semid_get_threads())
    for (int64_t q = 0; q < rq->n; q++) {
        int64_t end = rq->hist_offsets[q + 1], begin = rq->hist_offsets[q];
        if (end - begin > opt->n_recent) begin = end - opt->n_recent;
        float *dst = qv + q * d;
        for (int64_t e = begin; e < end; e++) {
            const float *src = item_vecs->data + (int64_t)rq->hist_items[e] * d;
            for (int64_t j = 0; j < d; j++) dst[j] += src[j];
        }
        if (end > begin)
            for (int64_t j = 0; j < d; j++) dst[j] /= (float)(end - begin);
    }
    *out = qv;
    return SEMID_OK;
}

semid_status semid_baseline_rec_history(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                        const semid_matrix *item_vecs, semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    semid_rec_queries rq;
    float *qv = NULL;
    SEMID_TRY(history_means(ds, opt, item_vecs, &rq, &qv));
    semid_status st = rank_and_score(&rq, opt, qv, item_vecs->cols, item_vecs, out);
    free(qv);
    semid_rec_queries_free(&rq);
    return st;
}

semid_status semid_baseline_personal_dense(const semid_dataset *ds, const semid_rec_eval_options *opt,
                                           const semid_matrix *query_vecs, const semid_matrix *item_vecs, float weight,
                                           semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    semid_rec_queries rq;
    float *qv = NULL;
    SEMID_TRY(history_means(ds, opt, item_vecs, &rq, &qv));
    int64_t d = item_vecs->cols;
    semid_status st = SEMID_OK;
    if (query_vecs->rows != rq.n || query_vecs->cols != d)
        st = semid_fail(SEMID_EINVAL, "personalised dense search: %lld x %lld query vectors for %lld users of %lld-d items",
                        (long long)query_vecs->rows, (long long)query_vecs->cols, (long long)rq.n, (long long)d);
    if (st == SEMID_OK) {
        /* unit query + weight x unit user: each side's cosine, summed */
        semid_normalize_rows(qv, rq.n, d);
        for (int64_t q = 0; q < rq.n; q++) {
            const float *x = query_vecs->data + q * d;
            double norm = 0;
            for (int64_t j = 0; j < d; j++) norm += (double)x[j] * x[j];
            float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0.0f;
            for (int64_t j = 0; j < d; j++) qv[q * d + j] = weight * qv[q * d + j] + inv * x[j];
        }
        st = rank_and_score(&rq, opt, qv, d, item_vecs, out);
    }
    free(qv);
    semid_rec_queries_free(&rq);
    return st;
}

semid_status semid_search_test_queries(const semid_dataset *ds, int32_t **idx, int64_t *n) {
    *n = 0;
    *idx = malloc((size_t)(ds->n_queries > 0 ? ds->n_queries : 1) * sizeof **idx);
    if (!*idx) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (semid_dataset_query_tested(ds, q)) (*idx)[(*n)++] = q;
    return SEMID_OK;
}

/* Ranks nq query vectors (width dq <= item width) and scores them against
 * the test queries' items. */
static semid_status search_eval(const semid_dataset *ds, const float *qv, int64_t dq, const semid_matrix *items,
                                int32_t k, double head_fraction, semid_ranking_eval *out) {
    int32_t *tq = NULL;
    int64_t nq = 0;
    uint8_t *is_head = NULL;
    float *padded = NULL;
    int32_t *idx = NULL;
    SEMID_TRY(semid_search_test_queries(ds, &tq, &nq));
    semid_status st = head_flags(ds, head_fraction, &is_head);
    int64_t d = items->cols;
    if (st == SEMID_OK && dq < d) {
        padded = calloc((size_t)((nq > 0 ? nq : 1) * d), sizeof *padded);
        if (!padded) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else
            for (int64_t q = 0; q < nq; q++) memcpy(padded + q * d, qv + q * dq, (size_t)dq * sizeof *padded);
    }
    if (st == SEMID_OK) {
        idx = malloc((size_t)(nq > 0 ? nq : 1) * (size_t)k * sizeof *idx);
        if (!idx) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (st == SEMID_OK) st = semid_knn_topk(padded ? padded : qv, nq, items->data, items->rows, d, k, NULL, idx, NULL);
    if (st == SEMID_OK) st = semid_ranking_eval_init(out, nq, k);
    if (st == SEMID_OK)
        for (int64_t q = 0; q < nq; q++) {
            int32_t target = ds->queries[tq[q]].item;
            semid_ranking_eval_set(out, q, idx + q * k, k, target, is_head[target] ? SEMID_GROUP_HEAD : SEMID_GROUP_TORSO);
        }
    free(tq);
    free(is_head);
    free(padded);
    free(idx);
    return st;
}

semid_status semid_baseline_search_dense(const semid_dataset *ds, const semid_matrix *query_vecs,
                                         const semid_matrix *item_vecs, int32_t k, double head_fraction,
                                         semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_items(ds, item_vecs));
    int64_t n_test = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) n_test += semid_dataset_query_tested(ds, q);
    if (query_vecs->rows != n_test)
        return semid_fail(SEMID_EINVAL, "search: %lld query vectors for %lld test queries", (long long)query_vecs->rows,
                          (long long)n_test);
    if (query_vecs->cols > item_vecs->cols)
        return semid_fail(SEMID_EINVAL, "search: query vectors (%lld wide) are wider than the items (%lld)",
                          (long long)query_vecs->cols, (long long)item_vecs->cols);
    return search_eval(ds, query_vecs->data, query_vecs->cols, item_vecs, k, head_fraction, out);
}

semid_status semid_baseline_search_popularity(const semid_dataset *ds, int32_t k, double head_fraction,
                                              semid_ranking_eval *out) {
    memset(out, 0, sizeof *out);
    int64_t n_test = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) n_test += semid_dataset_query_tested(ds, q);
    int64_t *counts = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1) * sizeof *counts);
    float *ones = malloc((size_t)(n_test > 0 ? n_test : 1) * sizeof *ones);
    semid_matrix pop = {0};
    semid_status st = counts && ones ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_matrix_alloc(&pop, ds->n_items, 1);
    if (st == SEMID_OK) {
        semid_dataset_train_counts(ds, counts);
        for (int32_t i = 0; i < ds->n_items; i++) pop.data[i] = (float)counts[i];
        for (int64_t q = 0; q < n_test; q++) ones[q] = 1.0f;
        st = search_eval(ds, ones, 1, &pop, k, head_fraction, out);
    }
    free(counts);
    free(ones);
    semid_matrix_free(&pop);
    return st;
}

semid_status semid_baseline_encode_test_queries(const semid_dataset *ds, const char *encoder_path,
                                                const char *glove_path, semid_matrix *out) {
    memset(out, 0, sizeof *out);
    int32_t *tq = NULL;
    int64_t nq = 0;
    SEMID_TRY(semid_search_test_queries(ds, &tq, &nq));
    if (nq == 0) {
        free(tq);
        return semid_fail(SEMID_EINVAL, "dense search: the dataset has no test queries (semid data queries makes them)");
    }
    const char **texts = malloc((size_t)nq * sizeof *texts);
    if (!texts) {
        free(tq);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    for (int64_t q = 0; q < nq; q++) texts[q] = ds->queries[tq[q]].text;
    free(tq);
    semid_status st;
    if (encoder_path) {
        semid_text_encoder *enc = NULL;
        st = semid_text_encoder_load(encoder_path, &enc);
        if (st == SEMID_OK) st = semid_text_encoder_encode(enc, texts, nq, out);
        semid_text_encoder_free(enc);
    } else {
        /* The content encoder's weights come from the catalog's texts, so it
         * is fitted on the items exactly as `semid embed --method content`. */
        semid_wordvec wv;
        memset(&wv, 0, sizeof wv);
        char **item_texts = NULL;
        semid_content_model *cm = NULL;
        semid_content_config cc = semid_content_defaults();
        st = glove_path ? semid_wordvec_load(glove_path, 0, &wv) : semid_wordvec_load_default(&wv);
        if (st == SEMID_OK) st = semid_item_texts(ds, &item_texts);
        if (st == SEMID_OK) st = semid_content_fit((const char *const *)item_texts, ds->n_items, &wv, &cc, &cm);
        if (st == SEMID_OK) st = semid_content_encode(cm, texts, nq, out, NULL);
        semid_content_model_free(cm);
        if (item_texts) semid_item_texts_free(item_texts, ds->n_items);
        semid_wordvec_free(&wv);
    }
    free(texts);
    return st;
}
