/* The bi-encoder's step across ranks (see biencoder_dist.h). Dimension
 * legend: b = pairs of the batch, K = text blocks (2 or 4), D = Dout,
 * Din = word width, R = rows of [E | N]. */
#include "embed/biencoder_dist.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"

semid_status semid_biencoder_dist_init(semid_biencoder_dist *d, const semid_text_encoder *enc, int32_t B, int blocks) {
    memset(d, 0, sizeof *d);
    d->rank = semid_dist_rank();
    d->ranks = semid_dist_size();
    d->blocks = blocks;
    d->D = semid_text_encoder_get_config(enc)->dim_out;
    if (d->ranks == 1) return SEMID_OK;
    const int64_t rows = (int64_t)blocks * B, share = (int64_t)blocks * ((B + d->ranks - 1) / d->ranks);
    const int64_t R = semid_text_encoder_rows(enc);
    d->n_words = (R + 63) / 64;
    d->cap_spans = (R + 1) / 2 + 2; /* runs of set bits, W and b, the flag */
    d->idx_own = malloc((size_t)share * sizeof *d->idx_own);
    d->Y_own = malloc((size_t)share * d->D * sizeof *d->Y_own);
    d->dY_own = malloc((size_t)share * d->D * sizeof *d->dY_own);
    d->Y_ranks = malloc((size_t)rows * d->D * sizeof *d->Y_ranks);
    d->counts = malloc((size_t)d->ranks * sizeof *d->counts);
    d->bits = malloc((size_t)d->n_words * sizeof *d->bits);
    d->spans = malloc((size_t)d->cap_spans * sizeof *d->spans);
    if (!d->idx_own || !d->Y_own || !d->dY_own || !d->Y_ranks || !d->counts || !d->bits || !d->spans) {
        semid_biencoder_dist_free(d);
        return semid_fail(SEMID_ENOMEM, "out of memory for the bi-encoder's exchange across %d ranks (batch %d)",
                          semid_dist_size(), B);
    }
    return SEMID_OK;
}

void semid_biencoder_dist_free(semid_biencoder_dist *d) {
    free(d->idx_own), free(d->Y_own), free(d->dY_own), free(d->Y_ranks), free(d->counts), free(d->bits);
    free(d->spans);
    d->idx_own = NULL, d->Y_own = d->dY_own = d->Y_ranks = NULL, d->counts = NULL, d->bits = NULL, d->spans = NULL;
}

/* Rank r's share of b pairs, as semid_gen_train splits a batch. */
static void share_of(int r, int ranks, int32_t b, int32_t *lo, int32_t *n) {
    *lo = (int32_t)((int64_t)b * r / ranks);
    *n = (int32_t)((int64_t)b * (r + 1) / ranks) - *lo;
}

void semid_biencoder_dist_share(const semid_biencoder_dist *d, int32_t b, int32_t *lo, int32_t *n) {
    share_of(d->rank, d->ranks, b, lo, n);
}

void semid_biencoder_dist_own_texts(semid_biencoder_dist *d, const int64_t *idx, float *Y, int32_t b,
                                    const int64_t **idx_own, float **Y_own) {
    if (d->ranks == 1) {
        *idx_own = idx, *Y_own = Y;
        return;
    }
    int32_t lo, n;
    share_of(d->rank, d->ranks, b, &lo, &n);
    for (int k = 0; k < d->blocks; k++) memcpy(d->idx_own + (int64_t)k * n, idx + (int64_t)k * b + lo, (size_t)n * sizeof *idx);
    *idx_own = d->idx_own, *Y_own = d->Y_own;
}

semid_status semid_biencoder_dist_gather(semid_biencoder_dist *d, float *Y, int32_t b, semid_status st) {
    if (d->ranks == 1) return st;
    double t0 = semid_now();
    const int32_t D = d->D;
    const int K = d->blocks;
    int32_t lo, n;
    for (int r = 0; r < d->ranks; r++) {
        share_of(r, d->ranks, b, &lo, &n);
        d->counts[r] = (int64_t)K * n * D;
    }
    if (st != SEMID_OK) memset(d->Y_own, 0, (size_t)d->counts[d->rank] * sizeof *d->Y_own);
    semid_status gs = semid_dist_allgatherv(d->Y_own, d->Y_ranks, d->counts, sizeof *d->Y_ranks);
    d->bytes += (double)d->counts[d->rank] * sizeof(float);
    /* rank by rank (each block-major) -> block-major over the batch */
    const float *src = d->Y_ranks;
    for (int r = 0; r < d->ranks && gs == SEMID_OK; r++) {
        share_of(r, d->ranks, b, &lo, &n);
        for (int k = 0; k < K; k++, src += (int64_t)n * D)
            memcpy(Y + ((int64_t)k * b + lo) * D, src, (size_t)n * D * sizeof *Y);
    }
    d->seconds += semid_now() - t0;
    return st != SEMID_OK ? st : gs;
}

const float *semid_biencoder_dist_own_grads(semid_biencoder_dist *d, const float *dY, int32_t b) {
    if (d->ranks == 1) return dY;
    int32_t lo, n;
    share_of(d->rank, d->ranks, b, &lo, &n);
    const int32_t D = d->D;
    for (int k = 0; k < d->blocks; k++)
        memcpy(d->dY_own + (int64_t)k * n * D, dY + ((int64_t)k * b + lo) * D, (size_t)n * D * sizeof *dY);
    return d->dY_own;
}

semid_status semid_biencoder_dist_sum_grads(semid_biencoder_dist *d, semid_text_encoder *enc, semid_status st) {
    if (d->ranks == 1) return st;
    double t0 = semid_now();
    /* the union of the touched rows: every rank then updates the same ones */
    memset(d->bits, 0, (size_t)d->n_words * sizeof *d->bits);
    semid_text_encoder_touched_bits(enc, d->bits);
    semid_status rs = semid_dist_allreduce_or(d->bits, d->n_words);
    d->bytes += (double)d->n_words * sizeof *d->bits;
    if (rs == SEMID_OK) semid_text_encoder_touch_bits(enc, d->bits);
    /* their gradients, a span a run of consecutive rows, then W and b */
    const int64_t R = semid_text_encoder_rows(enc), Din = semid_text_encoder_get_config(enc)->dim_word;
    int64_t n_params = 0, n_spans = 0;
    float *grads = semid_text_encoder_grads(enc, &n_params);
    for (int64_t r = 0; r < R && rs == SEMID_OK;) {
        if (!(d->bits[r / 64] >> (r % 64) & 1)) {
            r++;
            continue;
        }
        int64_t end = r + 1;
        while (end < R && (d->bits[end / 64] >> (end % 64) & 1)) end++;
        d->spans[n_spans++] = (semid_dist_span){semid_text_encoder_row_grad(enc, r), (end - r) * Din};
        r = end;
    }
    float failed = st != SEMID_OK;
    d->spans[n_spans++] = (semid_dist_span){grads + R * Din, n_params - R * Din};
    d->spans[n_spans++] = (semid_dist_span){&failed, 1};
    if (rs == SEMID_OK) {
        rs = semid_dist_allreduce_sum(d->spans, (int)n_spans, 0, NULL);
        for (int64_t i = 0; i < n_spans; i++) d->bytes += (double)d->spans[i].n * sizeof(float);
    }
    d->steps++;
    d->seconds += semid_now() - t0;
    if (st != SEMID_OK && rs == SEMID_OK) semid_dist_failure_shared();
    if (st != SEMID_OK) return st;
    if (rs != SEMID_OK) return rs;
    if (failed > 0) return semid_dist_fail_peer("bi-encoder", -1);
    return SEMID_OK;
}
