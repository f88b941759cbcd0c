/* RQ-VAE (residual-quantized variational autoencoder, as in TIGER and the
 * paper's ablation): an encoder MLP maps an item vector to a latent z,
 * L levels of residual vector quantization (quant/vq.h) turn z into L codes,
 * and a decoder MLP reconstructs the vector from the quantized latent.
 *
 *   loss = recon_weight * MSE(x, dec(zq))
 *        + codebook_weight * sum_l |sg(r_l) - e_l|^2 + beta * sum_l |r_l - sg(e_l)|^2
 * (means over elements), with straight-through gradients from zq to z.
 *
 * Dimension legend: N = items, D = input width, d = latent width,
 * H = hidden width, L = levels, K = codes per level.
 *
 * Training: AdamW (cosine decay) over shuffled mini-batches. Before the
 * first step each level's codebook is set by k-means on the residuals of a
 * seeded sample of min(N, max(batch, 16 K)) items through the freshly
 * initialised encoder (TIGER initialises on the first batch; with K = 256 a
 * batch is too small for k-means). Dead codes: after every epoch but the
 * last, codewords no item of that epoch used are reset to random residuals
 * of the epoch's last batch, their AdamW moments zeroed. The same seed and
 * thread count give the same model. Encoding is greedy (nearest codeword per
 * level); cold-start items are encoded the same way. */
#ifndef SEMID_QUANT_RQVAE_H
#define SEMID_QUANT_RQVAE_H

#include <stdint.h>
#include <stdio.h>

#include "linalg/matrix.h"
#include "quant/mlp.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

enum { SEMID_RQVAE_MAX_LEVELS = 8 };

typedef struct semid_rqvae_config {
    int32_t latent_dim;    /* d (default 32) */
    int32_t hidden_dim;    /* H (default 256) */
    int32_t n_hidden;      /* hidden layers in encoder and in decoder (default 2: D-H-H-d) */
    int32_t levels;        /* L (default 2) */
    int32_t codebook_size; /* K (default 256) */
    float beta;            /* commitment weight (default 0.25) */
    float codebook_weight; /* default 1 */
    float recon_weight;    /* default 1 */
    int32_t epochs;        /* default 100 */
    int32_t max_steps;     /* 0 (default) = every epoch; else fewer epochs when they take
                              more steps than this (quant/qtrain.h) */
    int32_t batch_size;    /* default 256 */
    float lr;              /* peak AdamW learning rate (default 1e-3) */
    float weight_decay;    /* on MLP weights only, never codebooks (default 1e-4) */
    semid_act act;         /* default SEMID_ACT_RELU */
    int32_t kmeans_init;   /* 1 (default): k-means initialisation; 0: random latents */
    int32_t reset_dead;    /* 1 (default): dead-code reset after each epoch */
    uint64_t seed;         /* default 1234 */
    int32_t verbose;       /* 1: loss per epoch at INFO */
} semid_rqvae_config;

semid_rqvae_config semid_rqvae_defaults(void);

/* The model. Parameters in one flat buffer: encoder, decoder, codebooks. */
typedef struct semid_rqvae {
    semid_rqvae_config cfg;
    int64_t dim;           /* D */
    semid_mlp enc;         /* D -> d */
    semid_mlp dec;         /* d -> D */
    int64_t cb_off;        /* (L, K, d) codebooks in params */
    int64_t n_params;
    float *params;         /* (n_params) */
    float *grads;          /* (n_params) */
    uint8_t *decay_mask;   /* (n_params) 1 = weight decay */
    struct semid_ae_work *work; /* batch buffers of loss_grad (lazy) */
} semid_rqvae;

typedef struct semid_rqvae_report {
    int32_t epochs_run;
    double loss_first;     /* mean training loss of the first epoch */
    double loss_last;      /* ... of the last epoch */
    double recon_mse;      /* per element over the training items, after training */
    double data_variance;  /* per element variance of the training items */
    double used_share[SEMID_RQVAE_MAX_LEVELS]; /* codes used / K at each level */
    int64_t dead_resets;   /* codewords reset, all epochs together */
    double seconds;
} semid_rqvae_report;

/* A randomly initialised model for D-wide inputs (no training). */
semid_status semid_rqvae_create(int64_t D, const semid_rqvae_config *cfg, semid_rqvae **out);
/* Validates X (non-empty, finite, K <= rows) and cfg, creates and trains.
 * report may be NULL. */
semid_status semid_rqvae_fit(const semid_matrix *X, const semid_rqvae_config *cfg, semid_rqvae **out,
                             semid_rqvae_report *report);
void semid_rqvae_free(semid_rqvae *m);

/* codes (rows, L). Fails on a width mismatch or a NaN/Inf row. */
semid_status semid_rqvae_encode(const semid_rqvae *m, const semid_matrix *X, int32_t *codes);
/* out (n, D) = dec(sum of the first use_levels codewords of each row of codes (n, L)). */
semid_status semid_rqvae_decode(const semid_rqvae *m, const int32_t *codes, int64_t n, int32_t use_levels,
                                float *out);

/* Loss terms of one batch, for training and the gradient tests. */
typedef struct semid_rqvae_terms {
    double recon;   /* MSE per element */
    double sqerr;   /* sum_l |r_l - e_l|^2 per element (codebook = commitment value) */
    double total;   /* the weighted loss */
} semid_rqvae_terms;

/* Forward and backward on all rows of X: m->grads is overwritten with the
 * gradient of the total loss (straight-through). codes (rows, L): if
 * fixed_codes is non-NULL those codes are used instead of the nearest
 * codewords; codes_out (may be NULL) receives the codes used. */
semid_status semid_rqvae_loss_grad(semid_rqvae *m, const semid_matrix *X, const int32_t *fixed_codes,
                                   int32_t *codes_out, semid_rqvae_terms *terms);

/* Versioned binary file ("SEMIDRQV" then the payload below), written
 * atomically; load checks every length against the bytes left. Inside a
 * tokenizer file (semid_tokenizer_save) the payload alone is stored. */
semid_status semid_rqvae_save(const semid_rqvae *m, const char *path);
semid_status semid_rqvae_load(const char *path, semid_rqvae **out);
/* The payload alone (tokenizer method hooks). */
semid_status semid_rqvae_write(const semid_rqvae *m, FILE *fp);
semid_status semid_rqvae_read(semid_tok_reader *r, semid_rqvae **out);

/* The tokenizer method "rqvae": cfg->method_config may point to a
 * semid_rqvae_config; levels, codebook_size, seed, iters (= epochs),
 * learning_rate and batch_size of the tokenizer config override it.
 * Encoding is greedy: cfg->beam is ignored. */
extern const semid_tokenizer_method semid_method_rqvae;

#endif
