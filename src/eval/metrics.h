/* Ranking metrics for one relevant item per query (search: the item a query
 * was written for; recommendation: the user's held-out next item).
 *
 *   Recall@K = 1 if the target is among the first K results, else 0;
 *   NDCG@K   = 1 / log2(rank + 2) for a 0-based rank < K, else 0
 *              (with one relevant item the ideal DCG is 1).
 *
 * Values are kept per query (double, as eval/stats.h takes them) so that two
 * systems evaluated on the same queries can be compared with a paired
 * t-test; each query also carries a group label (for recommendation:
 * 1 = the target is a head item, 0 = torso) so means can be split. */
#ifndef SEMID_EVAL_METRICS_H
#define SEMID_EVAL_METRICS_H

#include <stdint.h>

#include "semid/semid.h"

/* 0-based position of `target` in ranked[0..n), or -1 if absent. */
int32_t semid_rank_of(const int32_t *ranked, int32_t n, int32_t target);
/* Recall@K and NDCG@K of a target at 0-based `rank` (-1 = not retrieved). */
double semid_recall_at_k(int32_t rank, int32_t k);
double semid_ndcg_at_k(int32_t rank, int32_t k);

enum { SEMID_GROUP_ALL = -1, SEMID_GROUP_TORSO = 0, SEMID_GROUP_HEAD = 1 };

/* Per-query results of one system on one task. */
typedef struct semid_ranking_eval {
    int32_t k;
    int64_t n;       /* queries */
    int32_t *rank;   /* (n) 0-based rank of the target within the top k, -1 if missed */
    double *recall;  /* (n) Recall@k of each query */
    double *ndcg;    /* (n) NDCG@k of each query */
    int8_t *group;   /* (n) group label, 0 unless set */
} semid_ranking_eval;

/* Allocates n zeroed queries (rank -1, group 0); k >= 1. */
semid_status semid_ranking_eval_init(semid_ranking_eval *e, int64_t n, int32_t k);
void semid_ranking_eval_free(semid_ranking_eval *e);
/* Records query q: its ranked list (ranked[0..n_ranked), best first; only
 * the first k count), its target and its group. Safe to call from several
 * threads for different q. */
void semid_ranking_eval_set(semid_ranking_eval *e, int64_t q, const int32_t *ranked, int32_t n_ranked,
                            int32_t target, int8_t group);

typedef struct semid_metric_summary {
    int64_t n;     /* queries in the group */
    double recall; /* mean Recall@k (0 when n = 0) */
    double ndcg;   /* mean NDCG@k */
} semid_metric_summary;

/* Means over the queries of `group` (SEMID_GROUP_ALL for every query). */
semid_metric_summary semid_ranking_eval_mean(const semid_ranking_eval *e, int group);

#endif
