/* The bi-encoder's training step across ranks (dist/dist.h,
 * docs/distributed.md): data-parallel with in-batch negatives.
 *
 * The contrastive loss of a global batch of b pairs compares every anchor
 * with every positive of the batch, so a rank cannot compute it on its
 * share alone. Each step, rank r of N:
 *   1. encodes its share of the texts: pairs [b*r/N, b*(r+1)/N) of each
 *      block of the batch (queries, items; for multi-task also the rec
 *      pairs' two sides), forward through the towers;
 *   2. gathers every rank's vectors (MPI_Allgatherv), so that every rank
 *      holds the whole batch's Y (rows x Dout) as one process computes it;
 *   3. computes the loss and dL/dY of the whole batch (the same on every
 *      rank, a few B x B GEMMs), and keeps the rows of its own texts: every
 *      rank already holds the gradient of its vectors, so nothing needs
 *      reducing back to their owners;
 *   4. backpropagates those rows through the encoder: a sparse gradient
 *      over the word and n-gram rows its texts touched, and W, b;
 *   5. joins the union of the touched rows (a bitmap, bitwise OR) and the
 *      sum of their gradients and of W's and b's (bucketed allreduce, with
 *      a failure flag), so that every rank takes the same lazy AdamW step
 *      over the same rows as one process.
 * Results equal one process's with the same global batch to float
 * rounding (the sums of shared rows' gradients are split differently).
 * With one rank every call here is a no-op and the step is the process's
 * own. */
#ifndef SEMID_EMBED_BIENCODER_DIST_H
#define SEMID_EMBED_BIENCODER_DIST_H

#include <stdint.h>

#include "dist/dist.h"
#include "embed/text_encoder.h"
#include "semid/semid.h"

typedef struct semid_biencoder_dist {
    int rank, ranks;
    int blocks;              /* text blocks of a batch: 2 (search) or 4 (multi-task) */
    int32_t D;               /* Dout */
    int64_t *idx_own;        /* (blocks * share) this rank's texts */
    float *Y_own, *dY_own;   /* (blocks * share, D) their vectors and gradients */
    float *Y_ranks;          /* (blocks * b, D) the gathered vectors, rank by rank */
    int64_t *counts;         /* (ranks) floats each rank gives to the gather */
    uint64_t *bits;          /* the touched rows' bitmap */
    int64_t n_words;
    semid_dist_span *spans;  /* runs of touched rows, W and b, the flag */
    int64_t cap_spans;
    double seconds;          /* in the exchanges (2, 5), this rank's wait included */
    double bytes;            /* this rank's contributions to them, all steps */
    int64_t steps;
} semid_biencoder_dist;

/* For batches of up to B pairs of `blocks` text blocks of `enc` (one rank:
 * allocates nothing). */
semid_status semid_biencoder_dist_init(semid_biencoder_dist *d, const semid_text_encoder *enc, int32_t B, int blocks);
void semid_biencoder_dist_free(semid_biencoder_dist *d);

/* This rank's share of a batch of b pairs: pairs [*lo, *lo + *n). */
void semid_biencoder_dist_share(const semid_biencoder_dist *d, int32_t b, int32_t *lo, int32_t *n);

/* This rank's texts of the batch idx (blocks x b, block-major): *idx_own
 * (its share of each block, block-major) and where its vectors go, *Y_own.
 * One rank: idx and Y themselves. */
void semid_biencoder_dist_own_texts(semid_biencoder_dist *d, const int64_t *idx, float *Y, int32_t b,
                                    const int64_t **idx_own, float **Y_own);

/* Step 2: every rank's vectors into Y (blocks x b rows, block-major), from
 * this rank's in d->Y_own. A rank whose forward failed (st) still takes
 * part (with zeros). */
semid_status semid_biencoder_dist_gather(semid_biencoder_dist *d, float *Y, int32_t b, semid_status st);

/* Step 3: this rank's rows of dY (the whole batch's) in the layout of its
 * texts: d->dY_own, or dY itself for one rank. */
const float *semid_biencoder_dist_own_grads(semid_biencoder_dist *d, const float *dY, int32_t b);

/* Step 5: the sum over the ranks of enc's gradients, the touched rows
 * made their union. A rank whose step failed (st) still takes part, and
 * its flag fails every rank. */
semid_status semid_biencoder_dist_sum_grads(semid_biencoder_dist *d, semid_text_encoder *enc, semid_status st);

#endif
