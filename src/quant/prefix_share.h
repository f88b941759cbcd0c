/* The prefix-share quantizer (from GenSAR, as in the paper): one learned
 * quantizer over both embeddings of an item whose IDs share a prefix.
 *
 *   z      = enc([v_search; v_rec])                       (B, d)
 *   shared : Ls levels of residual VQ on z, codebooks of K_s     -> zq_s
 *   r      = z - zq_s                                     what the shared codes left
 *   u_t    = P_t r + b_t        task-specific residual projection, t = search, rec
 *   task t : Lt levels of residual VQ on u_t, codebooks of K_t  -> zq_t
 *   v_t^   = dec_t(zq_s + zq_t)                           one decoder per task
 *
 *   loss = recon_weight * (MSE(v_search, v_search^) + MSE(v_rec, v_rec^))
 *        + codebook_weight * (codebook losses) + beta * (commitment losses)
 * for the shared and both task quantizers (quant/vq.h), straight-through
 * from each decoder input to z (shared part) and u_t (task part). An item's
 * search ID is (shared codes, search codes), its rec ID (shared codes, rec
 * codes); the shared tokens are the same for both tasks.
 *
 * Dimension legend: N = items, Ds, Dr = search and rec widths, d = latent,
 * H = hidden, K_s, K_t = shared and task codebook sizes, Ls, Lt = levels.
 * Training as RQ-VAE (quant/rqvae.h): AdamW with cosine decay, codebooks
 * initialised by k-means on a sample's residuals (P_t starts as the
 * identity), dead codes reset after each epoch but the last; deterministic
 * for a seed and thread count; new items are encoded the same way. */
#ifndef SEMID_QUANT_PREFIX_SHARE_H
#define SEMID_QUANT_PREFIX_SHARE_H

#include <stdint.h>
#include <stdio.h>

#include "linalg/matrix.h"
#include "quant/mlp.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

enum { SEMID_PREFIX_MAX_LEVELS = 4 };

typedef struct semid_prefix_share_config {
    int32_t latent_dim;     /* d (default 32) */
    int32_t hidden_dim;     /* H (default 256) */
    int32_t n_hidden;       /* hidden layers of the encoder and of each decoder (default 2) */
    int32_t shared_levels;  /* Ls (default 1, the paper) */
    int32_t task_levels;    /* Lt (default 1, the paper) */
    int32_t shared_size;    /* K_s (default 256) */
    int32_t task_size;      /* K_t (default 256) */
    float beta;             /* commitment weight (default 0.25) */
    float codebook_weight;  /* default 1 */
    float recon_weight;     /* default 1, both tasks */
    int32_t epochs;         /* default 100 */
    int32_t max_steps;     /* 0 (default) = every epoch; else fewer epochs when they take
                              more steps than this (quant/qtrain.h) */
    int32_t batch_size;     /* default 256 */
    float lr;               /* default 1e-3 */
    float weight_decay;     /* MLP and projection weights (default 1e-4) */
    semid_act act;          /* default SEMID_ACT_RELU */
    int32_t kmeans_init;    /* default 1 */
    int32_t reset_dead;     /* default 1 */
    uint64_t seed;          /* default 1234 */
    int32_t verbose;
} semid_prefix_share_config;

semid_prefix_share_config semid_prefix_share_defaults(void);

typedef struct semid_prefix_share {
    semid_prefix_share_config cfg;
    int64_t dim[2];         /* Ds, Dr */
    semid_mlp enc;          /* Ds + Dr -> d */
    semid_mlp dec[2];       /* d -> D_t */
    semid_mlp proj[2];      /* d -> d, one linear layer */
    int64_t cs_off;         /* (Ls, K_s, d) shared codebooks */
    int64_t ct_off[2];      /* (Lt, K_t, d) task codebooks */
    int64_t n_params;
    float *params, *grads;  /* (n_params) */
    uint8_t *decay_mask;    /* (n_params) */
    struct semid_prefix_work *work;
} semid_prefix_share;

typedef struct semid_prefix_share_report {
    int32_t epochs_run;
    double loss_first, loss_last;
    double recon_mse[2];        /* per element, search and rec, over the training items */
    double data_variance[2];    /* per element */
    double shared_used_share;   /* shared level-0 codes used / K_s */
    double task_used_share[2];  /* task level-0 codes used / K_t */
    int64_t dead_resets;
    double seconds;
} semid_prefix_share_report;

typedef struct semid_prefix_share_terms {
    double recon[2];        /* MSE per element of each task */
    double sqerr_shared;    /* sum over shared levels of |r - e|^2 per element */
    double sqerr_task[2];
    double total;
} semid_prefix_share_terms;

semid_status semid_prefix_share_create(int64_t Ds, int64_t Dr, const semid_prefix_share_config *cfg,
                                       semid_prefix_share **out);
/* search and rec: the same N items in the same row order (widths may
 * differ). Validates both (non-empty, finite, same rows, K_s and K_t <= N). */
semid_status semid_prefix_share_fit(const semid_matrix *search, const semid_matrix *rec,
                                    const semid_prefix_share_config *cfg, semid_prefix_share **out,
                                    semid_prefix_share_report *report);
void semid_prefix_share_free(semid_prefix_share *m);

/* shared (n, Ls), search_code (n, Lt), rec_code (n, Lt). */
semid_status semid_prefix_share_encode(const semid_prefix_share *m, const semid_matrix *search,
                                       const semid_matrix *rec, int32_t *shared, int32_t *search_code,
                                       int32_t *rec_code);
/* Decoded search (n, Ds) and rec (n, Dr) vectors of given codes; either
 * output may be NULL. */
semid_status semid_prefix_share_decode(const semid_prefix_share *m, const int32_t *shared, const int32_t *search_code,
                                       const int32_t *rec_code, int64_t n, float *search_out, float *rec_out);

/* Forward and backward on all rows; m->grads overwritten. With fixed codes
 * (all three non-NULL) those are used; codes_out (each may be NULL) receive
 * the codes used. */
semid_status semid_prefix_share_loss_grad(semid_prefix_share *m, const semid_matrix *search, const semid_matrix *rec,
                                          const int32_t *fixed_shared, const int32_t *fixed_task[2],
                                          int32_t *shared_out, int32_t *task_out[2],
                                          semid_prefix_share_terms *terms);

/* "SEMIDPSQ" + payload, atomic; load checks every length. */
semid_status semid_prefix_share_save(const semid_prefix_share *m, const char *path);
semid_status semid_prefix_share_load(const char *path, semid_prefix_share **out);

/* The semid_prefix_share_fn of quant/tokenizer.h (registered as
 * semid_prefix_share_impl): fits on S and R with cfg->codebook_size for
 * every codebook, cfg->levels = Ls + Lt (Ls from a semid_prefix_share_config
 * in cfg->method_config, else 1), seed, iters (= epochs), learning_rate,
 * batch_size; returns the codes of every item. */
semid_status semid_prefix_share_tokenize(const semid_matrix *S, const semid_matrix *R,
                                         const semid_tokenizer_config *cfg, semid_prefix_share_codes *out);

#endif
