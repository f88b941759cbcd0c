/* In-batch InfoNCE (see contrastive.h). Dimension legend: B = pairs in the
 * batch, D = embedding width. */
#include "embed/contrastive.h"

#include <math.h>
#include <stddef.h>

#include "linalg/gemm.h"
#include "semid/semid.h"

semid_infonce_config semid_infonce_defaults(void) {
    semid_infonce_config c = {.temperature = 0.05f, .symmetric = 0};
    return c;
}

static int masked(const int32_t *ids, int32_t i, int32_t j) { return ids && i != j && ids[i] == ids[j]; }

float semid_infonce_forward(float *p_row, float *p_col, const float *A, const float *P, const int32_t *ids,
                            int32_t B, int32_t D, const semid_infonce_config *cfg) {
    int symmetric = cfg->symmetric && p_col;
    /* S = A Pᵀ / τ, written into p_row, then turned into probabilities. */
    semid_sgemm(false, true, B, B, D, 1.0f / cfg->temperature, A, D, P, D, 0.0f, p_row, B);
    if (symmetric) {
        for (int64_t k = 0; k < (int64_t)B * B; k++) p_col[k] = p_row[k];
    }
    double loss_row = 0.0, loss_col = 0.0;
    if (symmetric) {
        /* Column softmax first, from the raw scores still in p_col. */
#pragma omp parallel for reduction(+ : loss_col) schedule(static) num_threads(semid_get_threads())
        for (int32_t j = 0; j < B; j++) {
            float mx = -INFINITY;
            for (int32_t i = 0; i < B; i++)
                if (!masked(ids, i, j) && p_col[(int64_t)i * B + j] > mx) mx = p_col[(int64_t)i * B + j];
            double sum = 0.0;
            for (int32_t i = 0; i < B; i++) {
                float *s = &p_col[(int64_t)i * B + j];
                *s = masked(ids, i, j) ? 0.0f : expf(*s - mx);
                sum += *s;
            }
            float diag = p_row[(int64_t)j * B + j]; /* raw score S_jj */
            loss_col += log(sum) + mx - diag;
            float inv = (float)(1.0 / sum);
            for (int32_t i = 0; i < B; i++) p_col[(int64_t)i * B + j] *= inv;
        }
    }
#pragma omp parallel for reduction(+ : loss_row) schedule(static) num_threads(semid_get_threads())
    for (int32_t i = 0; i < B; i++) {
        float *row = p_row + (int64_t)i * B;
        float mx = -INFINITY;
        for (int32_t j = 0; j < B; j++)
            if (!masked(ids, i, j) && row[j] > mx) mx = row[j];
        float diag = row[i];
        double sum = 0.0;
        for (int32_t j = 0; j < B; j++) {
            row[j] = masked(ids, i, j) ? 0.0f : expf(row[j] - mx);
            sum += row[j];
        }
        loss_row += log(sum) + mx - diag;
        float inv = (float)(1.0 / sum);
        for (int32_t j = 0; j < B; j++) row[j] *= inv;
    }
    loss_row /= B;
    loss_col /= B;
    return (float)(symmetric ? 0.5 * (loss_row + loss_col) : loss_row);
}

void semid_infonce_backward(float *dA, float *dP, float *dS, const float *p_row, const float *p_col, const float *A,
                            const float *P, int32_t B, int32_t D, const semid_infonce_config *cfg, float weight) {
    int symmetric = cfg->symmetric && p_col;
    /* dS = d(loss)/dS / τ folded in: each direction's softmax minus the
     * one-hot target, scaled by weight / B (halved when symmetric). */
    float c = weight / ((float)B * cfg->temperature) * (symmetric ? 0.5f : 1.0f);
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int32_t i = 0; i < B; i++) {
        for (int32_t j = 0; j < B; j++) {
            int64_t k = (int64_t)i * B + j;
            float g = p_row[k] - (i == j);
            if (symmetric) g += p_col[k] - (i == j);
            dS[k] = c * g;
        }
    }
    semid_sgemm(false, false, B, D, B, 1.0f, dS, B, P, D, 1.0f, dA, D);
    semid_sgemm(true, false, B, D, B, 1.0f, dS, B, A, D, 1.0f, dP, D);
}
