/* Recall@K and NDCG@K with per-query values (see metrics.h). */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

int32_t semid_rank_of(const int32_t *ranked, int32_t n, int32_t target) {
    for (int32_t i = 0; i < n; i++)
        if (ranked[i] == target) return i;
    return -1;
}

double semid_recall_at_k(int32_t rank, int32_t k) { return rank >= 0 && rank < k ? 1.0 : 0.0; }

double semid_ndcg_at_k(int32_t rank, int32_t k) {
    return rank >= 0 && rank < k ? 1.0 / log2((double)rank + 2.0) : 0.0;
}

semid_status semid_ranking_eval_init(semid_ranking_eval *e, int64_t n, int32_t k) {
    memset(e, 0, sizeof *e);
    if (n < 0 || k < 1) return semid_fail(SEMID_EINVAL, "ranking evaluation: need n >= 0 and k >= 1 (n=%lld k=%d)", (long long)n, k);
    size_t m = n > 0 ? (size_t)n : 1;
    e->k = k;
    e->n = n;
    e->rank = malloc(m * sizeof *e->rank);
    e->recall = calloc(m, sizeof *e->recall);
    e->ndcg = calloc(m, sizeof *e->ndcg);
    e->group = calloc(m, sizeof *e->group);
    if (!e->rank || !e->recall || !e->ndcg || !e->group) {
        semid_ranking_eval_free(e);
        return semid_fail(SEMID_ENOMEM, "ranking evaluation: out of memory for %lld queries", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) e->rank[i] = -1;
    return SEMID_OK;
}

void semid_ranking_eval_free(semid_ranking_eval *e) {
    free(e->rank);
    free(e->recall);
    free(e->ndcg);
    free(e->group);
    memset(e, 0, sizeof *e);
}

void semid_ranking_eval_set(semid_ranking_eval *e, int64_t q, const int32_t *ranked, int32_t n_ranked,
                            int32_t target, int8_t group) {
    SEMID_ASSERT(q >= 0 && q < e->n);
    int32_t rank = semid_rank_of(ranked, n_ranked < e->k ? n_ranked : e->k, target);
    e->rank[q] = rank;
    e->recall[q] = semid_recall_at_k(rank, e->k);
    e->ndcg[q] = semid_ndcg_at_k(rank, e->k);
    e->group[q] = group;
}

semid_metric_summary semid_ranking_eval_mean(const semid_ranking_eval *e, int group) {
    semid_metric_summary s = {0, 0.0, 0.0};
    for (int64_t i = 0; i < e->n; i++) {
        if (group != SEMID_GROUP_ALL && e->group[i] != group) continue;
        s.n++;
        s.recall += e->recall[i];
        s.ndcg += e->ndcg[i];
    }
    if (s.n > 0) {
        s.recall /= (double)s.n;
        s.ndcg /= (double)s.n;
    }
    return s;
}
