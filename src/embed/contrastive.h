/* In-batch-negatives contrastive loss (InfoNCE; sentence-transformers'
 * MultipleNegativesRankingLoss): B anchors A (B x D) and their positives
 * P (B x D), rows usually L2-normalised;
 *   S = A Pᵀ / τ                      (B x B, one GEMM)
 *   loss = (1/B) Σ_i -log softmax_j(S_ij)[j = i]
 * and, when symmetric, the mean of that and the same over the columns
 * (each positive must pick its anchor). τ = 0.05 (scale 20) by default.
 *
 * Optional `ids` (B, may be NULL): the label of each pair's positive (an
 * item index). Column j is left out of row i's softmax when j != i and
 * ids[j] == ids[i] (the same item twice in the batch is not a negative);
 * the mask is symmetric, so the column direction leaves out the same pairs. */
#ifndef SEMID_EMBED_CONTRASTIVE_H
#define SEMID_EMBED_CONTRASTIVE_H

#include <stdint.h>

typedef struct semid_infonce_config {
    float temperature; /* τ: 0.05 */
    int symmetric;     /* 0 */
} semid_infonce_config;

semid_infonce_config semid_infonce_defaults(void);

/* Forward: writes p_row (B x B, row-softmax of S) and, when symmetric,
 * p_col (B x B, column-softmax of S, stored row-major as S; may be NULL
 * otherwise); returns the loss. Masked entries get probability 0. */
float semid_infonce_forward(float *p_row, float *p_col, const float *A, const float *P, const int32_t *ids,
                            int32_t B, int32_t D, const semid_infonce_config *cfg);

/* Backward: accumulates weight * d(loss)/dA into dA and weight *
 * d(loss)/dP into dP (each B x D, +=), from the probabilities of the
 * forward pass; dS is scratch space (B x B). */
void semid_infonce_backward(float *dA, float *dP, float *dS, const float *p_row, const float *p_col, const float *A,
                            const float *P, int32_t B, int32_t D, const semid_infonce_config *cfg, float weight);

#endif
