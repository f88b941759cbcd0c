/* k-means (Lloyd's algorithm) as FAISS runs it: k-means++ or random
 * initialisation, squared distances |x|^2 + |c|^2 - 2 x.c by GEMM in blocks
 * (clamped at 0), assignment with OpenMP over points, seeded subsampling of
 * large inputs, and empty clusters re-seeded from large ones.
 *
 * Dimension legend: N = points, D = width, K = centroids.
 *
 * Degenerate inputs give valid output, never an error: with fewer distinct
 * points than K (or N < K when allowed), some centroids are copies of others
 * (duplicated centroids; the lowest index wins ties, so the copies stay
 * empty). Determinism: the same seed and thread count give the same
 * centroids (the centroid sums are accumulated per cluster in point order,
 * so they do not even depend on the thread count). */
#ifndef SEMID_QUANT_KMEANS_H
#define SEMID_QUANT_KMEANS_H

#include <stdint.h>

#include "semid/semid.h"

typedef enum {
    SEMID_KMEANS_INIT_PLUSPLUS = 0, /* k-means++ (D^2 sampling) on a subsample (default) */
    SEMID_KMEANS_INIT_RANDOM = 1    /* K distinct random points, as FAISS's default */
} semid_kmeans_init;

typedef struct semid_kmeans_config {
    int32_t niter;                   /* Lloyd iterations (default 25, as FAISS) */
    uint64_t seed;                   /* default 1234, as FAISS */
    double tolerance;                /* stop when the objective's relative decrease in an
                                        iteration is below this (default 0: run all niter) */
    int32_t max_points_per_centroid; /* train on a seeded sample of K*this points when N is
                                        larger (default 256, as FAISS); 0 = use all */
    semid_kmeans_init init;          /* default SEMID_KMEANS_INIT_PLUSPLUS */
    int32_t init_points_per_centroid;/* k-means++ runs on a seeded sample of K*this points
                                        (it is sequential in K; default 32); 0 = all */
    int32_t allow_fewer_points;      /* 0 (default): N < K is SEMID_EINVAL; 1: allowed,
                                        centroids are duplicated (see above) */
    int32_t threads;                 /* this call only (0 = the calling thread's semid_get_threads()) */
    int32_t verbose;                 /* 1 = objective per iteration at INFO */
} semid_kmeans_config;

semid_kmeans_config semid_kmeans_defaults(void);

/* Per-iteration record. objective[i] is the sum over training points of the
 * squared distance to the nearest centroid at the start of iteration i (the
 * last entry: after the final update); it never rises. */
typedef struct semid_kmeans_stats {
    int32_t iterations;  /* Lloyd iterations run */
    int64_t n_train;     /* points used (after subsampling) */
    int32_t n_split;     /* empty clusters re-seeded, all iterations together */
    double *objective;   /* (iterations + 1) */
    double *seconds;     /* (iterations + 1) cumulative wall time since the start */
} semid_kmeans_stats;

void semid_kmeans_stats_free(semid_kmeans_stats *s);

/* Fits K centroids (K x D, written to `centroids`) on X (N x D). Validates
 * N >= 1, K >= 1, D >= 1, N >= K (unless allow_fewer_points) and finite
 * values (naming the first bad row). stats may be NULL.
 *
 * Empty clusters: a cluster chosen with probability proportional to
 * (size - 1) (seeded, as FAISS) gives its member farthest from its centroid
 * to the empty one, whose centroid becomes that point. Unlike FAISS's
 * +-1/1024 nudge of a copied centroid, this can only lower the objective. */
semid_status semid_kmeans_fit(const float *X, int64_t N, int32_t D, int32_t K, const semid_kmeans_config *cfg,
                              float *centroids, semid_kmeans_stats *stats);

/* Nearest centroid of each point (ties: the lowest index) and, if dist is
 * not NULL, its squared distance (>= 0). Blocks of points through
 * semid_sgemm; no validation of values (callers check). Returns ENOMEM. */
semid_status semid_kmeans_assign(const float *X, int64_t N, int32_t D, const float *centroids, int32_t K,
                                 int32_t *assign, float *dist);

/* Sum over points of the squared distance to the nearest centroid (double). */
semid_status semid_kmeans_objective(const float *X, int64_t N, int32_t D, const float *centroids, int32_t K,
                                    double *objective);

#endif
