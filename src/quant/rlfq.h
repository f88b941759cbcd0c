/* Residual lookup-free quantization (LFQ, Yu et al., MAGVIT-v2, in residual
 * form): an encoder MLP maps an item vector to a latent z of b dimensions;
 * level l quantizes the residual r_l = z - sum_{j<l} q_j by sign,
 *   q_l = s_l * sign(r_l),  s_l = 2^-l,   code_l = sum_j [r_l,j > 0] 2^j,
 * so each level has K = 2^b codes and no codebook to learn (the halving
 * scale lets later levels refine what earlier ones left). A decoder MLP
 * reconstructs the vector from zq = sum_l q_l, with straight-through
 * gradients from zq to z.
 *
 *   loss = recon_weight * MSE(x, dec(zq))
 *        + beta * sum_l |r_l - sg(q_l)|^2                       (commitment)
 *        + entropy_weight * sum_l (mean_b H(p_b) - H(mean_b p_b))  (entropy)
 * Means are over elements. The entropy term uses the soft assignment of
 * MAGVIT-v2, p(code | r) proportional to exp(-|r - q(code)|^2 / temp),
 * which factorises over the b bits: p(bit j = 1) = sigmoid(4 s_l r_j / temp).
 * The per-sample entropy (pushing each latent to a confident code) is exact
 * (the bits are independent given r). The batch (codebook) entropy, which
 * rewards spreading the batch over all codes, is exact as well for
 * b <= SEMID_RLFQ_EXACT_ENTROPY_BITS (the batch-mean distribution over the
 * 2^b codes, B * 2^b * b work a level); above that it falls back to the sum
 * of the binary entropies of the batch-mean bit probabilities, an upper
 * bound that cannot see correlated bits. Entropies are in nats per bit.
 * If the entropy buffers cannot be allocated the term is skipped.
 *
 * Dimension legend: N = items, D = input width, b = bits per level,
 * H = hidden width, L = levels. Training: AdamW (cosine decay) over seeded
 * shuffled mini-batches; the same seed and threads give the same model. */
#ifndef SEMID_QUANT_RLFQ_H
#define SEMID_QUANT_RLFQ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "linalg/matrix.h"
#include "quant/mlp.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

enum { SEMID_RLFQ_MAX_LEVELS = 8, SEMID_RLFQ_MAX_BITS = 20, SEMID_RLFQ_EXACT_ENTROPY_BITS = 12 };

typedef struct semid_rlfq_config {
    int32_t bits;          /* b, latent width; K = 2^b codes per level (default 8) */
    int32_t hidden_dim;    /* H (default 256) */
    int32_t n_hidden;      /* hidden layers in encoder and decoder (default 2) */
    int32_t levels;        /* L (default 2) */
    float beta;            /* commitment weight (default 0.25) */
    float entropy_weight;  /* default 1 (MAGVIT-v2 uses 0.1, which left 5% of level-0 codes
                              in use on 3,416 x 256 synthetic vectors; 1 used 91%); 0 = off */
    float entropy_temp;    /* temp of the soft assignment (default 1) */
    float recon_weight;    /* default 1 */
    int32_t epochs;        /* default 100 */
    int32_t max_steps;     /* 0 (default) = every epoch; else fewer epochs when they take
                              more steps than this (quant/qtrain.h) */
    int32_t batch_size;    /* default 256 */
    float lr;              /* default 1e-3 */
    float weight_decay;    /* MLP weights (default 1e-4) */
    semid_act act;         /* default SEMID_ACT_RELU */
    uint64_t seed;         /* default 1234 */
    int32_t verbose;
} semid_rlfq_config;

semid_rlfq_config semid_rlfq_defaults(void);

typedef struct semid_rlfq {
    semid_rlfq_config cfg;
    int64_t dim;           /* D */
    semid_mlp enc;         /* D -> b */
    semid_mlp dec;         /* b -> D */
    int64_t n_params;
    float *params, *grads; /* (n_params) */
    uint8_t *decay_mask;   /* (n_params) */
    struct semid_ae_work *work;
} semid_rlfq;

typedef struct semid_rlfq_report {
    int32_t epochs_run;
    double loss_first, loss_last;  /* mean training loss, first and last epoch */
    double recon_mse;              /* per element over the training items */
    double data_variance;          /* per element */
    double used_share[SEMID_RLFQ_MAX_LEVELS]; /* codes used / 2^b per level */
    double seconds;
} semid_rlfq_report;

typedef struct semid_rlfq_terms {
    double recon;       /* MSE per element */
    double commit;      /* sum_l |r_l - q_l|^2 per element */
    double entropy;     /* sum_l (sample entropy - batch entropy), nats per bit */
    double total;
} semid_rlfq_terms;

semid_status semid_rlfq_create(int64_t D, const semid_rlfq_config *cfg, semid_rlfq **out);
/* Validates X (non-empty, finite, 2^b <= rows) and cfg, then trains. */
semid_status semid_rlfq_fit(const semid_matrix *X, const semid_rlfq_config *cfg, semid_rlfq **out,
                            semid_rlfq_report *report);
void semid_rlfq_free(semid_rlfq *m);

semid_status semid_rlfq_encode(const semid_rlfq *m, const semid_matrix *X, int32_t *codes); /* (rows, L) */
semid_status semid_rlfq_decode(const semid_rlfq *m, const int32_t *codes, int64_t n, int32_t use_levels, float *out);

/* Forward and backward on all rows of X; m->grads is overwritten. With
 * fixed_codes (rows, L) the signs are taken from them. */
semid_status semid_rlfq_loss_grad(semid_rlfq *m, const semid_matrix *X, const int32_t *fixed_codes,
                                  int32_t *codes_out, semid_rlfq_terms *terms);

/* The quantizer alone on latents z (B, b), for tests and reuse: resid
 * (L, B, b) residual entering each level, zq (B, b), codes (B, L) chosen
 * (assign) or given. */
void semid_rlfq_quantize(int32_t *codes, float *resid, float *zq, const float *z, int64_t B, int bits, int L,
                         bool assign);
/* Commitment and entropy terms of the quantizer and their gradient added
 * to dz (B, b) (codes fixed): *loss = beta*commit + ew*entropy, and
 * *commit and *entropy (each may be NULL). SEMID_ENOMEM when its scratch
 * cannot be allocated. */
semid_status semid_rlfq_reg_backward(float *dz, double *commit, double *entropy, const float *resid,
                                     const int32_t *codes, int64_t B, int bits, int L, float beta, float entropy_weight,
                                     float temp, double *loss);

/* "SEMIDLFQ" + payload, atomic; load checks every length. */
semid_status semid_rlfq_save(const semid_rlfq *m, const char *path);
semid_status semid_rlfq_load(const char *path, semid_rlfq **out);
semid_status semid_rlfq_write(const semid_rlfq *m, FILE *fp);
semid_status semid_rlfq_read(semid_tok_reader *r, semid_rlfq **out);

/* The tokenizer method "rlfq": codebook_size must be a power of two 2^b
 * (it sets bits); levels, seed, iters (= epochs), learning_rate and
 * batch_size override cfg->method_config (a semid_rlfq_config or NULL).
 * Encoding is greedy: cfg->beam is ignored. */
extern const semid_tokenizer_method semid_method_rlfq;

#endif
