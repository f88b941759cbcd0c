/* RQ-KMeans: residual quantization with k-means codebooks, the paper's
 * Semantic-ID tokenizer (as FAISS's ResidualQuantizer). Level 0 is k-means
 * on the vectors; level l is k-means on what levels 0..l-1 leave over. A
 * vector's code is (c_0, ..., c_{L-1}) and its reconstruction
 * sum_l codebook_l[c_l].
 *
 * Encoding is greedy (beam 1: nearest centroid at each level) or a beam
 * search that keeps the B best partial reconstructions per level, as FAISS's
 * ResidualQuantizer does; with B >= K^(L-1) it is an exhaustive search over
 * all K^L code tuples. Training encodes the training set with the same beam
 * after each level, so each level trains on the residuals of the best
 * partial codes.
 *
 * Dimension legend: N = vectors, D = width, L = levels, K = codes a level. */
#ifndef SEMID_QUANT_RQKMEANS_H
#define SEMID_QUANT_RQKMEANS_H

#include <stdint.h>

#include "quant/kmeans.h"
#include "quant/tokenizer.h"

typedef struct semid_rqkmeans_config {
    int32_t levels;             /* L (default 2) */
    int32_t codebook_size;      /* K (default 256) */
    int32_t beam;               /* B for training and encoding (default 1 = greedy) */
    semid_kmeans_config kmeans; /* per level; its seed is forked per level */
} semid_rqkmeans_config;

semid_rqkmeans_config semid_rqkmeans_defaults(void);

typedef struct semid_rqkmeans {
    int32_t levels;       /* L */
    int32_t K;            /* codes a level */
    int32_t dim;          /* D */
    int32_t beam;         /* B used by semid_rqkmeans_encode */
    float *codebooks;     /* (L, K, D) */
    /* Training report (zeros after load): */
    double *train_error;  /* (L) mean squared error per vector after each level */
    double train_seconds;
} semid_rqkmeans;

/* X (N x D) validated here too (N >= K, finite). */
semid_status semid_rqkmeans_fit(const semid_matrix *X, const semid_rqkmeans_config *cfg, semid_rqkmeans **out);
/* codes (N, L); beam from rq->beam. X width must be rq->dim. */
semid_status semid_rqkmeans_encode(const semid_rqkmeans *rq, const semid_matrix *X, int32_t *codes);
/* Same with an explicit beam width (>= 1). */
semid_status semid_rqkmeans_encode_beam(const semid_rqkmeans *rq, const float *X, int64_t N, int32_t beam,
                                        int32_t *codes);
/* out (n, D) = sum of the first use_levels codewords. */
void semid_rqkmeans_reconstruct(const semid_rqkmeans *rq, const int32_t *codes, int64_t n, int32_t use_levels,
                                float *out);
void semid_rqkmeans_free(semid_rqkmeans *rq);

/* The tokenizer-interface entry ("rqkmeans"); its method_config, when not
 * NULL, is a semid_kmeans_config for every level (tokenizer cfg iters and
 * seed override its niter and seed when set). */
extern const semid_tokenizer_method semid_method_rqkmeans;

#endif
