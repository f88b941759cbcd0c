#include "quant/rqkmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "linalg/gemm.h"
#include "linalg/vec.h"

semid_rqkmeans_config semid_rqkmeans_defaults(void) {
    semid_rqkmeans_config c;
    c.levels = 2;
    c.codebook_size = 256;
    c.beam = 1;
    c.kmeans = semid_kmeans_defaults();
    return c;
}

void semid_rqkmeans_free(semid_rqkmeans *rq) {
    if (!rq) return;
    free(rq->codebooks);
    free(rq->train_error);
    free(rq);
}

static semid_rqkmeans *rq_alloc(int32_t L, int32_t K, int32_t D) {
    semid_rqkmeans *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->levels = L;
    rq->K = K;
    rq->dim = D;
    rq->beam = 1;
    rq->codebooks = malloc(sizeof(float) * (size_t)L * (size_t)K * (size_t)D);
    rq->train_error = calloc((size_t)L, sizeof(double));
    if (!rq->codebooks || !rq->train_error) {
        semid_rqkmeans_free(rq);
        return NULL;
    }
    return rq;
}

void semid_rqkmeans_reconstruct(const semid_rqkmeans *rq, const int32_t *codes, int64_t n, int32_t use_levels,
                                float *out) {
    const int64_t D = rq->dim;
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        float *o = out + i * D;
        memset(o, 0, sizeof(float) * (size_t)D);
        for (int32_t l = 0; l < use_levels; l++) {
            const float *c = rq->codebooks + ((int64_t)l * rq->K + codes[i * rq->levels + l]) * D;
            for (int64_t t = 0; t < D; t++) o[t] += c[t];
        }
    }
}

/* One candidate of the beam search. */
typedef struct cand {
    float score;
    int32_t beam;
    int32_t code;
} cand;

static int cand_better(const cand *a, const cand *b) {
    if (a->score != b->score) return a->score < b->score;
    if (a->beam != b->beam) return a->beam < b->beam;
    return a->code < b->code;
}

/* Beam search over the first n_levels levels for X (N x D), in blocks.
 * Writes the best code tuple (N, rq->levels; only the first n_levels columns)
 * and, if residual is not NULL, the residual of the best tuple (N x D). */
static semid_status encode_levels(const semid_rqkmeans *rq, const float *X, int64_t N, int32_t beam, int32_t n_levels,
                                  int32_t *codes, float *residual) {
    const int32_t K = rq->K, L = rq->levels;
    const int64_t D = rq->dim;
    if (beam < 1) beam = 1;
    /* Vectors per block: keep the (nb*B x K) score block and the residuals modest. */
    int64_t nb_max = (1 << 21) / ((int64_t)beam * (K > D ? K : D));
    if (nb_max < 16) nb_max = 16;
    if (nb_max > N) nb_max = N;
    const int64_t rows = nb_max * beam;
    float *res = malloc(sizeof(float) * (size_t)(rows * D));
    float *res2 = malloc(sizeof(float) * (size_t)(rows * D));
    float *G = malloc(sizeof(float) * (size_t)(rows * K));
    float *csq = malloc(sizeof(float) * (size_t)K * (size_t)L);
    int32_t *bc = malloc(sizeof(int32_t) * (size_t)(rows * L));
    int32_t *bc2 = malloc(sizeof(int32_t) * (size_t)(rows * L));
    float *bd = malloc(sizeof(float) * (size_t)rows);
    float *bd2 = malloc(sizeof(float) * (size_t)rows);
    cand *scratch = malloc(sizeof(cand) * (size_t)rows);
    semid_status st = SEMID_OK;
    if (!res || !res2 || !G || !csq || !bc || !bc2 || !bd || !bd2 || !scratch) {
        st = semid_fail(SEMID_ENOMEM, "out of memory encoding %lld vectors (beam %d)", (long long)N, beam);
        goto done;
    }
    for (int32_t l = 0; l < L; l++) semid_row_sqnorms(csq + (int64_t)l * K, rq->codebooks + (int64_t)l * K * D, K, D);

    for (int64_t b0 = 0; b0 < N; b0 += nb_max) {
        int64_t nb = N - b0 < nb_max ? N - b0 : nb_max;
        int32_t cb = 1; /* live beam entries per vector */
        memcpy(res, X + b0 * D, sizeof(float) * (size_t)(nb * D));
        for (int64_t i = 0; i < nb; i++) bd[i] = semid_dot(res + i * D, res + i * D, D);
        for (int32_t l = 0; l < n_levels; l++) {
            const float *C = rq->codebooks + (int64_t)l * K * D;
            const float *cs = csq + (int64_t)l * K;
            int64_t nc = (int64_t)cb * K;
            int32_t nb_new = nc < beam ? (int32_t)nc : beam;
            semid_sgemm(false, true, nb * cb, K, D, 1.0f, res, D, C, D, 0.0f, G, K);
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
            for (int64_t i = 0; i < nb; i++) {
                cand *top = scratch + i * beam; /* sorted best first, nb_new slots */
                int32_t have = 0;
                for (int32_t b = 0; b < cb; b++) {
                    const float *g = G + (i * cb + b) * K;
                    float base = bd[i * cb + b];
                    for (int32_t k = 0; k < K; k++) {
                        cand c = {base + cs[k] - 2.0f * g[k], b, k};
                        if (have == nb_new && !cand_better(&c, &top[have - 1])) continue;
                        int32_t pos = have < nb_new ? have++ : nb_new - 1;
                        while (pos > 0 && cand_better(&c, &top[pos - 1])) {
                            top[pos] = top[pos - 1];
                            pos--;
                        }
                        top[pos] = c;
                    }
                }
                for (int32_t j = 0; j < nb_new; j++) {
                    const cand *c = &top[j];
                    int64_t src = i * cb + c->beam, dst = i * nb_new + j;
                    memcpy(bc2 + dst * L, bc + src * L, sizeof(int32_t) * (size_t)l);
                    bc2[dst * L + l] = c->code;
                    const float *r = res + src * D;
                    const float *cw = C + (int64_t)c->code * D;
                    float *o = res2 + dst * D;
                    for (int64_t t = 0; t < D; t++) o[t] = r[t] - cw[t];
                    bd2[dst] = semid_dot(o, o, D);
                }
            }
            cb = nb_new;
            float *tf = res; res = res2; res2 = tf;
            int32_t *ti = bc; bc = bc2; bc2 = ti;
            tf = bd; bd = bd2; bd2 = tf;
        }
        /* Entries are sorted by the score of the last step; pick the best by
         * its exactly recomputed residual norm (ties: first). */
        for (int64_t i = 0; i < nb; i++) {
            int32_t best = 0;
            for (int32_t b = 1; b < cb; b++)
                if (bd[i * cb + b] < bd[i * cb + best]) best = b;
            memcpy(codes + (b0 + i) * L, bc + (i * cb + best) * L, sizeof(int32_t) * (size_t)n_levels);
            if (residual) memcpy(residual + (b0 + i) * D, res + (i * cb + best) * D, sizeof(float) * (size_t)D);
        }
    }
done:
    free(res);
    free(res2);
    free(G);
    free(csq);
    free(bc);
    free(bc2);
    free(bd);
    free(bd2);
    free(scratch);
    return st;
}

semid_status semid_rqkmeans_encode_beam(const semid_rqkmeans *rq, const float *X, int64_t N, int32_t beam,
                                        int32_t *codes) {
    if (beam < 1) return semid_fail(SEMID_EINVAL, "RQ-KMeans: beam must be >= 1 (got %d)", beam);
    if (N == 0) return SEMID_OK;
    return encode_levels(rq, X, N, beam, rq->levels, codes, NULL);
}

static semid_status check_input(const semid_matrix *X, int32_t dim) {
    if (X->cols != dim)
        return semid_fail(SEMID_EINVAL, "embeddings have %lld columns but the codebooks have %d",
                          (long long)X->cols, dim);
    int64_t bad = semid_find_nonfinite(X->data, X->rows * X->cols);
    if (bad >= 0)
        return semid_fail(SEMID_ENUMERIC, "embedding row %lld has a non-finite value (column %lld)",
                          (long long)(bad / X->cols), (long long)(bad % X->cols));
    return SEMID_OK;
}

semid_status semid_rqkmeans_encode(const semid_rqkmeans *rq, const semid_matrix *X, int32_t *codes) {
    SEMID_TRY(check_input(X, rq->dim));
    return semid_rqkmeans_encode_beam(rq, X->data, X->rows, rq->beam, codes);
}

semid_status semid_rqkmeans_fit(const semid_matrix *X, const semid_rqkmeans_config *cfg_in, semid_rqkmeans **out) {
    *out = NULL;
    semid_rqkmeans_config cfg = cfg_in ? *cfg_in : semid_rqkmeans_defaults();
    if (cfg.levels < 1) return semid_fail(SEMID_EINVAL, "RQ-KMeans: levels must be >= 1 (got %d)", cfg.levels);
    if (cfg.codebook_size < 1)
        return semid_fail(SEMID_EINVAL, "RQ-KMeans: codebook size must be >= 1 (got %d)", cfg.codebook_size);
    if (cfg.beam < 1) return semid_fail(SEMID_EINVAL, "RQ-KMeans: beam must be >= 1 (got %d)", cfg.beam);
    if (X->rows < 1 || X->cols < 1)
        return semid_fail(SEMID_EINVAL, "RQ-KMeans: empty embedding matrix (%lld x %lld)", (long long)X->rows,
                          (long long)X->cols);
    if (X->cols > INT32_MAX) return semid_fail(SEMID_EINVAL, "RQ-KMeans: too many columns");
    if (X->rows < cfg.codebook_size && !cfg.kmeans.allow_fewer_points)
        return semid_fail(SEMID_EINVAL, "RQ-KMeans: codebook size %d is larger than the number of items (%lld)",
                          cfg.codebook_size, (long long)X->rows);
    SEMID_TRY(check_input(X, (int32_t)X->cols));

    const int32_t L = cfg.levels, K = cfg.codebook_size, D = (int32_t)X->cols;
    const int64_t N = X->rows;
    semid_rqkmeans *rq = rq_alloc(L, K, D);
    float *resid = malloc(sizeof(float) * (size_t)(N * D));
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(N * L));
    float *recon = NULL;
    semid_status st = SEMID_OK;
    if (!rq || !resid || !codes) {
        st = semid_fail(SEMID_ENOMEM, "out of memory for RQ-KMeans (%lld x %d, %d x %d)", (long long)N, D, L, K);
        goto fail;
    }
    rq->beam = cfg.beam;
    double t0 = semid_now();
    semid_rng seeder;
    semid_rng_seed(&seeder, cfg.kmeans.seed);
    memcpy(resid, X->data, sizeof(float) * (size_t)(N * D));
    for (int32_t l = 0; l < L; l++) {
        semid_kmeans_config kc = cfg.kmeans;
        semid_rng lr = semid_rng_fork(&seeder, (uint64_t)l);
        kc.seed = semid_rng_u64(&lr);
        st = semid_kmeans_fit(resid, N, D, K, &kc, rq->codebooks + (int64_t)l * K * D, NULL);
        if (st != SEMID_OK) {
            semid_fail_context(st, "RQ-KMeans level %d", l);
            goto fail;
        }
        /* Residuals of the best partial codes (with the beam) for the next level. */
        if (l + 1 < L) {
            st = encode_levels(rq, X->data, N, cfg.beam, l + 1, codes, resid);
            if (st != SEMID_OK) goto fail;
        }
        if (cfg.kmeans.verbose) SEMID_INFO("RQ-KMeans: level %d trained (%.2fs)", l, semid_now() - t0);
    }
    rq->train_seconds = semid_now() - t0;
    /* Training report: error after each level of the final encoding. */
    recon = malloc(sizeof(float) * (size_t)(N * D));
    if (!recon) {
        st = semid_fail(SEMID_ENOMEM, "out of memory for the RQ-KMeans report");
        goto fail;
    }
    st = encode_levels(rq, X->data, N, cfg.beam, L, codes, NULL);
    if (st != SEMID_OK) goto fail;
    for (int32_t l = 0; l < L; l++) {
        semid_rqkmeans_reconstruct(rq, codes, N, l + 1, recon);
        double s = 0.0;
        for (int64_t i = 0; i < N * D; i++) {
            double t = (double)X->data[i] - recon[i];
            s += t * t;
        }
        rq->train_error[l] = s / (double)N;
    }
    free(resid);
    free(codes);
    free(recon);
    *out = rq;
    return SEMID_OK;
fail:
    free(resid);
    free(codes);
    free(recon);
    semid_rqkmeans_free(rq);
    return st;
}

/* ---- The tokenizer-interface entry. ---- */

static semid_status m_fit(const semid_matrix *X, const semid_tokenizer_config *tc, void **state) {
    semid_rqkmeans_config c = semid_rqkmeans_defaults();
    if (tc->method_config) c.kmeans = *(const semid_kmeans_config *)tc->method_config;
    c.levels = tc->levels;
    c.codebook_size = tc->codebook_size;
    c.beam = tc->beam > 0 ? tc->beam : 1;
    if (tc->iters > 0) c.kmeans.niter = tc->iters;
    c.kmeans.seed = tc->seed;
    if (tc->verbose) c.kmeans.verbose = 1;
    semid_rqkmeans *rq;
    SEMID_TRY(semid_rqkmeans_fit(X, &c, &rq));
    *state = rq;
    return SEMID_OK;
}

static semid_status m_encode(const void *state, const semid_matrix *X, int32_t *codes) {
    return semid_rqkmeans_encode(state, X, codes);
}

static semid_status m_reconstruct(const void *state, const int32_t *codes, int64_t n, int32_t use_levels, float *out) {
    semid_rqkmeans_reconstruct(state, codes, n, use_levels, out);
    return SEMID_OK;
}

static int32_t m_levels(const void *s) { return ((const semid_rqkmeans *)s)->levels; }
static int32_t m_level_size(const void *s, int32_t l) {
    (void)l;
    return ((const semid_rqkmeans *)s)->K;
}
static int32_t m_dim(const void *s) { return ((const semid_rqkmeans *)s)->dim; }

/* Payload: u32 levels, K, dim, beam, then the codebooks (L*K*D float32). */
static semid_status m_write(const void *state, FILE *fp) {
    const semid_rqkmeans *rq = state;
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)rq->levels));
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)rq->K));
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)rq->dim));
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)rq->beam));
    return semid_tok_write_f32s(fp, rq->codebooks, (int64_t)rq->levels * rq->K * rq->dim);
}

static semid_status m_read(semid_tok_reader *r, void **state) {
    uint32_t L, K, D, B;
    SEMID_TRY(semid_tok_read_u32(r, &L, "levels"));
    SEMID_TRY(semid_tok_read_u32(r, &K, "codebook size"));
    SEMID_TRY(semid_tok_read_u32(r, &D, "dimension"));
    SEMID_TRY(semid_tok_read_u32(r, &B, "beam"));
    if (L < 1 || L > 64 || K < 1 || K > (1u << 24) || D < 1 || D > (1u << 24) || B < 1 || B > (1u << 20))
        return semid_fail(SEMID_EFORMAT, "%s: implausible RQ-KMeans sizes (L %u, K %u, D %u, beam %u)", r->path, L, K,
                          D, B);
    if ((uint64_t)L * K * D * 4 > r->left)
        return semid_fail(SEMID_EFORMAT, "%s: truncated RQ-KMeans codebooks", r->path);
    semid_rqkmeans *rq = rq_alloc((int32_t)L, (int32_t)K, (int32_t)D);
    if (!rq) return semid_fail(SEMID_ENOMEM, "out of memory loading %s", r->path);
    rq->beam = (int32_t)B;
    semid_status st = semid_tok_read_f32s(r, rq->codebooks, (int64_t)L * K * D, "codebooks");
    if (st == SEMID_OK) {
        int64_t bad = semid_find_nonfinite(rq->codebooks, (int64_t)L * K * D);
        if (bad >= 0) st = semid_fail(SEMID_EFORMAT, "%s: non-finite codebook value", r->path);
    }
    if (st != SEMID_OK) {
        semid_rqkmeans_free(rq);
        return st;
    }
    *state = rq;
    return SEMID_OK;
}

static void m_free(void *state) { semid_rqkmeans_free(state); }

const semid_tokenizer_method semid_method_rqkmeans = {
    .name = "rqkmeans", .label = "RQ-KMeans", .in_ablation = 1, .fit = m_fit, .encode = m_encode,
    .reconstruct = m_reconstruct, .levels = m_levels, .level_size = m_level_size, .dim = m_dim, .write = m_write,
    .read = m_read, .free = m_free};
