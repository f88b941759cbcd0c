/* Training the shared text encoder (embed/text_encoder.h) with in-batch
 * negatives (embed/contrastive.h), for the paper's "search" and
 * "multi-task" item embeddings.
 *
 * search:     pairs (query text, item text) for every query of split train
 *             in ds->queries; loss = InfoNCE over the batch, masked so the
 *             same item twice in a batch is not its own negative.
 * multi-task: the weighted sum search_weight * L_search + rec_weight * L_rec
 *             (default 1:1, the paper's plain sum). L_rec is the same loss
 *             over co-occurring item pairs (item text on both sides): items
 *             a, b consumed within rec_window positions (1..W apart) by the
 *             same user in the TRAINING part of the interactions
 *             (semid_dataset_user_split); every occurrence counts, a == b
 *             is skipped, at most max_rec_pairs kept (seeded subsample).
 *             Batches are MIXED: every step takes `batch` search pairs and
 *             `batch` rec pairs, runs one forward pass over the 4*batch
 *             texts and backpropagates the summed loss. An epoch is one
 *             pass over the search pairs; the rec pairs are drawn from
 *             their own shuffled stream, reshuffled whenever it runs out,
 *             so each epoch sees as many rec pairs as search pairs.
 *
 * Optimiser: lazy AdamW (semid_text_encoder_step), linear warm-up over
 * warmup_frac of the steps then linear decay to 0 (as sentence-transformers'
 * WarmupLinear). Same seed and threads give the same encoder.
 *
 * Under a launcher with several ranks (dist/dist.h) the training runs
 * data-parallel, each rank a share of every global batch, the in-batch
 * negatives over the whole batch (embed/biencoder_dist.h): every rank must
 * call it with the same data and settings (checked, SEMID_EINVAL) and gets
 * the same encoder, one process's to float rounding. */
#ifndef SEMID_EMBED_BIENCODER_TRAIN_H
#define SEMID_EMBED_BIENCODER_TRAIN_H

#include <stdint.h>

#include "data/dataset.h"
#include "embed/contrastive.h"
#include "embed/text_encoder.h"
#include "linalg/matrix.h"
#include "semid/semid.h"
#include "text/wordvec.h"

typedef enum { SEMID_BIENCODER_SEARCH = 0, SEMID_BIENCODER_MULTITASK = 1 } semid_biencoder_task;

enum { SEMID_BIENCODER_MAX_EPOCHS = 1000 };

typedef struct semid_biencoder_config {
    semid_text_encoder_config encoder; /* semid_text_encoder_defaults() */
    semid_biencoder_task task;         /* SEMID_BIENCODER_SEARCH */
    int32_t batch;                     /* pairs per step (per task): 512 (the paper's) */
    int32_t epochs;                    /* 5 (the paper's) */
    float lr;                          /* peak learning rate: 1e-2 (lazy Adam on word rows) */
    float weight_decay;                /* decoupled, 0.01 */
    float warmup_frac;                 /* 0.1 */
    float clip_norm;                   /* global gradient-norm clip, 0 = off: 0 */
    semid_infonce_config loss;         /* temperature 0.05, not symmetric */
    int32_t rec_window;                /* W: 3 */
    float search_weight;               /* 1 */
    float rec_weight;                  /* 1 */
    int64_t max_rec_pairs;             /* 0 = all */
    uint64_t seed;                     /* 42 (shuffling; the encoder's init uses encoder.seed) */
    int threads;                       /* this call only (0 = the calling thread's semid_get_threads()) */
} semid_biencoder_config;

semid_biencoder_config semid_biencoder_defaults(void);

typedef struct semid_biencoder_stats {
    int32_t epochs;                                   /* epochs run */
    int64_t n_search_pairs, n_rec_pairs;              /* training pairs available */
    int64_t steps;                                    /* optimiser steps taken */
    double search_loss[SEMID_BIENCODER_MAX_EPOCHS];   /* mean per epoch */
    double rec_loss[SEMID_BIENCODER_MAX_EPOCHS];      /* mean per epoch (multi-task) */
    double epoch_seconds[SEMID_BIENCODER_MAX_EPOCHS]; /* wall time per epoch */
    double pairs_per_second;                          /* pairs (both tasks) / training time */
    double train_seconds;                             /* the steps' wall time */
    int ranks;                                        /* ranks that trained it (dist/dist.h) */
    double exchange_seconds;                          /* of train_seconds, in the exchanges across ranks */
    double exchange_bytes_per_step;                   /* this rank's contribution to them, a step */
} semid_biencoder_stats;

/* Trains a new encoder on `ds` (vocabulary from the item texts and the
 * train queries; E initialised from `init`, may be NULL) and encodes every
 * item: *items_out is I x Dout, L2-normalised (may be NULL). *enc_out (may
 * be NULL) receives the trained encoder (caller frees), to encode queries
 * and cold-start items later. `stats` may be NULL. Progress and loss per
 * epoch go to the log (SEMID_INFO, semid_progress). */
semid_status semid_biencoder_train(const semid_dataset *ds, const semid_wordvec *init,
                                   const semid_biencoder_config *cfg, semid_text_encoder **enc_out,
                                   semid_matrix *items_out, semid_biencoder_stats *stats);

/* The lower level, for benchmarks and custom data: trains `enc` on pairs
 * (left[k], right[k]) of texts of `f`, with ids[k] (may be NULL) naming the
 * positive for the in-batch mask. When rec_left is not NULL, the step mixes
 * in n_rec pairs (rec_left, rec_right, rec_ids) as the multi-task loss
 * does. Uses cfg->batch, epochs, lr, weight_decay, warmup_frac, clip_norm,
 * loss, weights, seed, threads. */
semid_status semid_biencoder_train_pairs(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *left,
                                         const int64_t *right, const int32_t *ids, int64_t n_pairs,
                                         const int64_t *rec_left, const int64_t *rec_right, const int32_t *rec_ids,
                                         int64_t n_rec, const semid_biencoder_config *cfg,
                                         semid_biencoder_stats *stats);

/* The co-occurring item pairs of the training interactions (see above):
 * *a and *b (caller frees) hold *n pairs. */
semid_status semid_biencoder_rec_pairs(const semid_dataset *ds, int32_t window, int64_t max_pairs, uint64_t seed,
                                       int32_t **a, int32_t **b, int64_t *n);

#endif
