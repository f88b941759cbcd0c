/* Residual vector quantization with straight-through gradients: the
 * codebook layer shared by RQ-VAE and the prefix-share quantizer.
 *
 * Dimension legend: B = rows, d = latent width, K = codes per level,
 * L = levels. Codebooks are (L, K, d) in the owning model's flat buffer.
 *
 * Level l quantizes the residual r_l = z - sum_{j<l} e_j with its nearest
 * codeword e_l = C_l[code_l]. The quantized output zq = sum_l e_l is what the
 * decoder sees; its gradient passes straight through to z. Losses, as in
 * VQ-VAE / TIGER, are means over the B*d elements, summed over levels:
 *   codebook   = sum_l |sg(r_l) - e_l|^2  -> gradient to the codebooks only
 *   commitment = sum_l |r_l - sg(e_l)|^2  -> gradient to z only
 * Inside r_l the earlier codewords are constants (no gradient reaches C_j
 * through later levels), so with the codes fixed each term's gradient is
 * its exact derivative with respect to the variable it updates. */
#ifndef SEMID_QUANT_VQ_H
#define SEMID_QUANT_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "linalg/adamw.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

/* Forward of L levels on z (B, d). resid (L, B, d) receives the residual
 * entering each level; zq (B, d) the sum of the chosen codewords. When
 * `assign` is true codes (B, L) are chosen (nearest codeword, lowest index on
 * ties) and written; otherwise the given codes are used. */
semid_status semid_rvq_forward(int32_t *codes, float *resid, float *zq, const float *z, int64_t B,
                               const float *C, int L, int64_t K, int64_t d, bool assign);

/* Value of sum_l |r_l - e_l|^2 / (B*d): both the codebook and the commitment
 * loss have this value (they differ only in where their gradients go). */
double semid_rvq_sqerr(const float *resid, const int32_t *codes, const float *C, int64_t B, int L,
                       int64_t K, int64_t d);

/* Gradients: dz (B, d) += w_commit * d(commitment)/dz and, if dC is not
 * NULL, dC (L, K, d) += w_codebook * d(codebook)/dC. */
void semid_rvq_backward(float *dz, float *dC, float w_codebook, float w_commit, const float *resid,
                        const int32_t *codes, const float *C, int64_t B, int L, int64_t K, int64_t d);

/* Codebook of level l initialised by k-means (quant/kmeans.h) on the level's
 * residuals X (n, d); n >= 1. When n < K the extra codewords are copies
 * (they become dead codes and are reset during training). */
semid_status semid_vq_init_kmeans(float *C, int64_t K, const float *X, int64_t n, int64_t d, uint64_t seed);

/* All L levels of a residual quantizer from k-means, level by level: level
 * l's codebook is fitted on the residuals z - sum_{j<l} e_j of the n rows of
 * z (n, d), each level with its own seed derived from `seed`. */
semid_status semid_rvq_init_kmeans(float *C, int L, int64_t K, int64_t d, const float *z, int64_t n, uint64_t seed);

/* Adds per-level code counts: counts (L, K) += occurrences in codes (B, L). */
void semid_vq_count(int64_t *counts, const int32_t *codes, int64_t B, int L, int64_t K);

/* Dead-code reset: every codeword of one level with counts[k] == 0 is
 * replaced by a random row of `pool` (n, d) (the level's current residuals),
 * and its AdamW moments (m, v laid out like C; may be NULL) are zeroed.
 * Returns how many were reset. */
int64_t semid_vq_reset_dead(float *C, const int64_t *counts, int64_t K, int64_t d, const float *pool, int64_t n,
                            semid_rng *rng, float *m, float *v);
/* The same for every level of a residual quantizer whose (L, K, d) codebooks
 * start at params + off: counts (L, K), the last batch's residuals resid
 * (L, B, d) as the pool, and the moments of `opt` (over all params) zeroed. */
int64_t semid_rvq_reset_dead(float *params, int64_t off, int L, int64_t K, int64_t d, const int64_t *counts,
                             const float *resid, int64_t B, semid_rng *rng, semid_adamw *opt);



/* Shared checks and statistics of the learned quantizers. */

/* Fails with a message naming `what` when X is empty, has a NaN/Inf (naming
 * the row and column), or has fewer rows than K (naming both). */
semid_status semid_quant_check_input(const float *X, int64_t rows, int64_t cols, int64_t K, const char *what);

/* Mean over the columns of each column's variance (the per-element MSE of
 * predicting every row by the mean row). */
double semid_quant_variance(const float *X, int64_t rows, int64_t cols);

/* Mean squared difference per element between A and B (rows, cols). */
double semid_quant_mse(const float *A, const float *B, int64_t rows, int64_t cols);

/* Standalone model files of the learned quantizers: 8 magic bytes, then the
 * model's payload (the same bytes a tokenizer file embeds), then the
 * checksum trailer (base/checksum.h), written atomically. Load verifies the
 * trailer when there is one, checks the magic, hands the rest to `read`
 * and rejects trailing bytes. */
semid_status semid_quant_save_file(const char *path, const char magic[8], const void *model,
                                   semid_status (*write)(const void *model, FILE *fp));
semid_status semid_quant_load_file(const char *path, const char magic[8], void **model,
                                   semid_status (*read)(semid_tok_reader *r, void **model),
                                   void (*free_fn)(void *model));

#endif
