/* Exact top-K retrieval by dot product (maximum inner product search).
 *
 * Queries are processed in blocks: one GEMM scores a block of queries
 * against every item (Q_b x I), then each row is reduced to its K best by a
 * size-K min-heap, rows split over OpenMP threads (BLAS runs outside the
 * parallel region). Ties are broken by the lower item index, so the result
 * does not depend on the thread count. */
#ifndef SEMID_EMBED_KNN_H
#define SEMID_EMBED_KNN_H

#include <stdint.h>

#include "semid/semid.h"

/* Items to leave out per query, as CSR: query q excludes
 * items[offsets[q] .. offsets[q+1]). Out-of-range ids are ignored. */
typedef struct semid_knn_exclude {
    const int64_t *offsets; /* (Q+1) */
    const int32_t *items;
} semid_knn_exclude;

/* For each of the nq queries (nq x d, row-major) finds the k items
 * (ni x d) with the largest dot product, best first:
 *   out_idx[q*k + j] (item index, -1 when fewer than k items remain) and
 *   out_score[q*k + j] (may be NULL; -INFINITY for the -1 slots).
 * `exclude` may be NULL. */
semid_status semid_knn_topk(const float *queries, int64_t nq, const float *items, int64_t ni, int64_t d,
                            int32_t k, const semid_knn_exclude *exclude, int32_t *out_idx, float *out_score);

/* The k largest of scores[0..n) (ties: lower index first), best first, into
 * out_idx and out_score (both (k), both required: they hold the heap);
 * entries equal to -INFINITY are skipped. Used by semid_knn_topk per row and
 * by rankers that already have scores (popularity). Returns how many were
 * found (<= k); remaining slots get -1 / -INFINITY. */
int32_t semid_topk_select(const float *scores, int64_t n, int32_t k, int32_t *out_idx, float *out_score);

#endif
