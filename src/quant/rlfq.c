#include "quant/rlfq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "linalg/adamw.h"
#include "linalg/vec.h"
#include "quant/ae_buffers.h"
#include "quant/qtrain.h"
#include "quant/vq.h"

enum { RLFQ_VERSION = 1, ENCODE_BLOCK = 1024 };
static const char RLFQ_MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'L', 'F', 'Q'};

semid_rlfq_config semid_rlfq_defaults(void) {
    semid_rlfq_config c;
    memset(&c, 0, sizeof c);
    c.bits = 8;
    c.hidden_dim = 256;
    c.n_hidden = 2;
    c.levels = 2;
    c.beta = 0.25f;
    c.entropy_weight = 1.0f;
    c.entropy_temp = 1.0f;
    c.recon_weight = 1.0f;
    c.epochs = 100;
    c.batch_size = 256;
    c.lr = 1e-3f;
    c.weight_decay = 1e-4f;
    c.act = SEMID_ACT_RELU;
    c.seed = 1234;
    return c;
}

static semid_status check_config(const semid_rlfq_config *c) {
    if (c->bits < 1 || c->bits > SEMID_RLFQ_MAX_BITS)
        return semid_fail(SEMID_EINVAL, "rlfq: bits per level must be in 1..%d, got %d", SEMID_RLFQ_MAX_BITS, c->bits);
    if (c->hidden_dim < 1 || c->n_hidden < 0 || c->n_hidden >= SEMID_MLP_MAX_LAYERS)
        return semid_fail(SEMID_EINVAL, "rlfq: bad network shape (hidden %d x %d)", c->hidden_dim, c->n_hidden);
    if (c->levels < 1 || c->levels > SEMID_RLFQ_MAX_LEVELS)
        return semid_fail(SEMID_EINVAL, "rlfq: levels must be in 1..%d, got %d", SEMID_RLFQ_MAX_LEVELS, c->levels);
    if (c->epochs < 0 || c->batch_size < 1 || !(c->lr > 0.0f) || c->weight_decay < 0.0f || c->beta < 0.0f ||
        c->entropy_weight < 0.0f || !(c->entropy_temp > 0.0f))
        return semid_fail(SEMID_EINVAL,
                          "rlfq: bad training settings (epochs %d, batch %d, lr %g, beta %g, entropy %g, temp %g)",
                          c->epochs, c->batch_size, (double)c->lr, (double)c->beta, (double)c->entropy_weight,
                          (double)c->entropy_temp);
    return SEMID_OK;
}

/* The parameter layout of a model of input width D (no allocation):
 * m->cfg, dim, enc, dec and n_params. */
static semid_status layout(semid_rlfq *m, int64_t D, const semid_rlfq_config *cfg) {
    SEMID_TRY(check_config(cfg));
    if (D < 1) return semid_fail(SEMID_EINVAL, "rlfq: input width must be >= 1, got %lld", (long long)D);
    m->cfg = *cfg;
    m->dim = D;
    int64_t off = 0;
    SEMID_TRY(semid_mlp_layout(&m->enc, D, cfg->hidden_dim, cfg->n_hidden, cfg->bits, cfg->act, &off));
    SEMID_TRY(semid_mlp_layout(&m->dec, cfg->bits, cfg->hidden_dim, cfg->n_hidden, D, cfg->act, &off));
    m->n_params = off;
    return SEMID_OK;
}

semid_status semid_rlfq_create(int64_t D, const semid_rlfq_config *cfg, semid_rlfq **out) {
    *out = NULL;
    semid_rlfq shape = {0};
    SEMID_TRY(layout(&shape, D, cfg));
    semid_rlfq *m = calloc(1, sizeof *m);
    if (!m) return semid_fail(SEMID_ENOMEM, "out of memory for an RLFQ model");
    *m = shape;
    semid_status st = semid_ae_params_alloc(m->n_params, &m->params, &m->grads, &m->decay_mask, "RLFQ");
    if (st != SEMID_OK) {
        semid_rlfq_free(m);
        return st;
    }
    semid_rng rng;
    semid_rng_seed(&rng, cfg->seed);
    semid_rng r_enc = semid_rng_fork(&rng, 1), r_dec = semid_rng_fork(&rng, 2);
    semid_mlp_init(&m->enc, m->params, &r_enc);
    semid_mlp_init(&m->dec, m->params, &r_dec);
    semid_mlp_decay_mask(&m->enc, m->decay_mask);
    semid_mlp_decay_mask(&m->dec, m->decay_mask);
    *out = m;
    return SEMID_OK;
}

void semid_rlfq_free(semid_rlfq *m) {
    if (!m) return;
    semid_ae_work_free(m->work);
    free(m->params);
    free(m->grads);
    free(m->decay_mask);
    free(m);
}

static inline float level_scale(int l) { return ldexpf(1.0f, -l); }

void semid_rlfq_quantize(int32_t *codes, float *resid, float *zq, const float *z, int64_t B, int bits, int L,
                         bool assign) {
    memcpy(resid, z, sizeof(float) * (size_t)(B * bits));
    memset(zq, 0, sizeof(float) * (size_t)(B * bits));
    for (int l = 0; l < L; l++) {
        float s = level_scale(l);
        const float *r = resid + (int64_t)l * B * bits;
        float *next = l + 1 < L ? resid + (int64_t)(l + 1) * B * bits : NULL;
        for (int64_t b = 0; b < B; b++) {
            if (assign) {
                int32_t code = 0;
                for (int j = 0; j < bits; j++)
                    if (r[b * bits + j] > 0.0f) code |= (int32_t)1 << j;
                codes[b * L + l] = code;
            }
            int32_t code = codes[b * L + l];
            for (int j = 0; j < bits; j++) {
                float q = (code >> j) & 1 ? s : -s;
                zq[b * bits + j] += q;
                if (next) next[b * bits + j] = r[b * bits + j] - q;
            }
        }
    }
}

/* Binary entropy in nats and its derivative, with p kept off 0 and 1. */
static inline double bin_entropy(double p) {
    p = fmin(fmax(p, 1e-7), 1.0 - 1e-7);
    return -p * log(p) - (1.0 - p) * log(1.0 - p);
}
static inline double bin_entropy_grad(double p) {
    p = fmin(fmax(p, 1e-7), 1.0 - 1e-7);
    return log((1.0 - p) / p);
}

/* Exact entropy of the batch-mean code distribution of one level (nats),
 * pbar_c = mean_b prod_j p_bj^bit_j (1 - p_bj)^(1 - bit_j), and its gradient
 * -(a/B) sum_c log(pbar_c) P_b(c) (bit_j(c) - p_bj) subtracted into g (B, bits)
 * (the loss has -H). P (B, 2^bits) is scratch. */
static double batch_code_entropy(double *g, const double *p, int64_t B, int bits, double a, double *P, double *pbar) {
    int64_t K = (int64_t)1 << bits;
    for (int64_t c = 0; c < K; c++) pbar[c] = 0.0;
    for (int64_t b = 0; b < B; b++) {
        const double *pb = p + b * bits;
        double *Pb = P + b * K;
        /* Products built bit by bit: codes < 2^(j+1) from codes < 2^j. */
        Pb[0] = 1.0;
        for (int j = 0; j < bits; j++) {
            int64_t half = (int64_t)1 << j;
            for (int64_t c = 0; c < half; c++) {
                Pb[c + half] = Pb[c] * pb[j];
                Pb[c] *= 1.0 - pb[j];
            }
        }
        for (int64_t c = 0; c < K; c++) pbar[c] += Pb[c];
    }
    double H = 0.0;
    for (int64_t c = 0; c < K; c++) {
        pbar[c] /= (double)B;
        double q = pbar[c] > 1e-30 ? pbar[c] : 1e-30;
        H -= pbar[c] * log(q);
        pbar[c] = log(q); /* reused as log pbar below */
    }
    if (g) {
        for (int64_t b = 0; b < B; b++) {
            const double *Pb = P + b * K;
            for (int j = 0; j < bits; j++) {
                double s = 0.0, pj = p[b * bits + j];
                for (int64_t c = 0; c < K; c++) s += pbar[c] * Pb[c] * ((double)((c >> j) & 1) - pj);
                g[b * bits + j] += a / (double)B * s; /* d(-H)/dr */
            }
        }
    }
    return H;
}

semid_status semid_rlfq_reg_backward(float *dz, double *commit, double *entropy, const float *resid,
                                     const int32_t *codes, int64_t B, int bits, int L, float beta, float entropy_weight,
                                     float temp, double *loss) {
    double csum = 0.0, esum = 0.0;
    double cscale = 2.0 * beta / (double)(B * bits);
    int64_t K = (int64_t)1 << bits;
    bool exact = bits <= SEMID_RLFQ_EXACT_ENTROPY_BITS;
    double *p = NULL, *g = NULL, *P = NULL, *pbar = NULL, *gb = NULL;
    bool have = entropy_weight != 0.0f;
    if (have) {
        p = malloc(sizeof(double) * (size_t)(B * bits));
        g = calloc((size_t)(B * bits), sizeof(double));
        if (exact) {
            P = malloc(sizeof(double) * (size_t)(B * K));
            pbar = malloc(sizeof(double) * (size_t)K);
            gb = malloc(sizeof(double) * (size_t)(B * bits));
        }
        if (!p || !g || (exact && (!P || !pbar || !gb))) {
            free(p);
            free(g);
            free(P);
            free(pbar);
            free(gb);
            return semid_fail(SEMID_ENOMEM, "out of memory for the RLFQ entropy of a batch of %lld", (long long)B);
        }
    }
    for (int l = 0; l < L; l++) {
        float s = level_scale(l);
        const float *r = resid + (int64_t)l * B * bits;
        for (int64_t b = 0; b < B; b++) {
            int32_t code = codes[b * L + l];
            for (int j = 0; j < bits; j++) {
                double diff = (double)r[b * bits + j] - ((code >> j) & 1 ? s : -s);
                csum += diff * diff;
                if (dz) dz[b * bits + j] += (float)(cscale * diff);
            }
        }
        if (!have) continue;
        /* p = sigmoid(a r), a = 4 s / temp. Entropies in nats per bit: the
         * per-sample term averaged over rows, both divided by bits. */
        double a = 4.0 * s / temp;
        double pbar_bit[SEMID_RLFQ_MAX_BITS] = {0};
        for (int64_t i = 0; i < B * bits; i++) {
            p[i] = 1.0 / (1.0 + exp(-a * r[i]));
            g[i] = 0.0;
        }
        for (int64_t b = 0; b < B; b++)
            for (int j = 0; j < bits; j++) {
                double pj = p[b * bits + j];
                esum += bin_entropy(pj) / ((double)B * bits);
                g[b * bits + j] += bin_entropy_grad(pj) * a * pj * (1.0 - pj) / ((double)B * bits);
                pbar_bit[j] += pj / (double)B;
            }
        if (exact) {
            /* gb collects d(-H_batch)/dr before the 1/bits scale. */
            memset(gb, 0, sizeof(double) * (size_t)(B * bits));
            esum -= batch_code_entropy(gb, p, B, bits, a, P, pbar) / bits;
            for (int64_t i = 0; i < B * bits; i++) g[i] += gb[i] / bits;
        } else {
            for (int j = 0; j < bits; j++) esum -= bin_entropy(pbar_bit[j]) / bits;
            for (int64_t b = 0; b < B; b++)
                for (int j = 0; j < bits; j++) {
                    double pj = p[b * bits + j];
                    g[b * bits + j] -= bin_entropy_grad(pbar_bit[j]) * a * pj * (1.0 - pj) / ((double)B * bits);
                }
        }
        if (dz)
            for (int64_t i = 0; i < B * bits; i++) dz[i] += (float)(entropy_weight * g[i]);
    }
    free(p);
    free(g);
    free(P);
    free(pbar);
    free(gb);
    csum /= (double)(B * bits);
    if (commit) *commit = csum;
    if (entropy) *entropy = esum;
    if (loss) *loss = beta * csum + entropy_weight * esum;
    return SEMID_OK;
}

static semid_status batch_loss_grad(semid_rlfq *m, semid_ae_work *w, int64_t B, bool assign,
                                    semid_rlfq_terms *terms) {
    const semid_rlfq_config *c = &m->cfg;
    int64_t D = m->dim;
    int bits = c->bits, L = c->levels;
    memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
    const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, w->x, B);
    semid_rlfq_quantize(w->codes, w->resid, w->zq, z, B, bits, L, assign);
    const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);
    double recon = 0.0;
    float scale = 2.0f * c->recon_weight / (float)(B * D);
    for (int64_t i = 0; i < B * D; i++) {
        float diff = xhat[i] - w->x[i];
        recon += (double)diff * diff;
        w->dout[i] = scale * diff;
    }
    recon /= (double)(B * D);
    memset(w->dz, 0, sizeof(float) * (size_t)(B * bits));
    semid_mlp_backward(&m->dec, m->params, m->grads, &w->dec, w->dout, w->dz, B); /* straight-through */
    double commit, entropy, reg;
    SEMID_TRY(semid_rlfq_reg_backward(w->dz, &commit, &entropy, w->resid, w->codes, B, bits, L, c->beta,
                                      c->entropy_weight, c->entropy_temp, &reg));
    semid_mlp_backward(&m->enc, m->params, m->grads, &w->enc, w->dz, NULL, B);
    if (terms) {
        terms->recon = recon;
        terms->commit = commit;
        terms->entropy = entropy;
        terms->total = c->recon_weight * recon + reg;
    }
    return SEMID_OK;
}

static semid_status work_alloc(const semid_rlfq *m, int64_t cap, semid_ae_work **out) {
    return semid_ae_work_alloc(&m->enc, &m->dec, m->dim, m->cfg.bits, m->cfg.levels, cap, "RLFQ", out);
}

static semid_status ensure_work(semid_rlfq *m, int64_t rows) {
    return semid_ae_work_ensure(&m->work, &m->enc, &m->dec, m->dim, m->cfg.bits, m->cfg.levels, rows, "RLFQ");
}

static semid_status check_width(const semid_rlfq *m, const semid_matrix *X) {
    if (X->cols != m->dim)
        return semid_fail(SEMID_EINVAL, "rlfq: input width %lld does not match the model's %lld", (long long)X->cols,
                          (long long)m->dim);
    return SEMID_OK;
}

semid_status semid_rlfq_loss_grad(semid_rlfq *m, const semid_matrix *X, const int32_t *fixed_codes,
                                  int32_t *codes_out, semid_rlfq_terms *terms) {
    SEMID_TRY(check_width(m, X));
    int64_t B = X->rows, L = m->cfg.levels;
    SEMID_TRY(ensure_work(m, B));
    semid_ae_work *w = m->work;
    memcpy(w->x, X->data, sizeof(float) * (size_t)(B * m->dim));
    if (fixed_codes) memcpy(w->codes, fixed_codes, sizeof(int32_t) * (size_t)(B * L));
    SEMID_TRY(batch_loss_grad(m, w, B, fixed_codes == NULL, terms));
    if (codes_out) memcpy(codes_out, w->codes, sizeof(int32_t) * (size_t)(B * L));
    return SEMID_OK;
}

static semid_status encode_rows(const semid_rlfq *m, const float *X, int64_t n, int32_t *codes, float *recon) {
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_ae_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    int64_t D = m->dim;
    int bits = m->cfg.bits, L = m->cfg.levels;
    for (int64_t s = 0; s < n; s += block) {
        int64_t B = n - s < block ? n - s : block;
        const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, X + s * D, B);
        semid_rlfq_quantize(codes + s * L, w->resid, w->zq, z, B, bits, L, true);
        if (recon) {
            const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);
            memcpy(recon + s * D, xhat, sizeof(float) * (size_t)(B * D));
        }
    }
    semid_ae_work_free(w);
    return SEMID_OK;
}

semid_status semid_rlfq_encode(const semid_rlfq *m, const semid_matrix *X, int32_t *codes) {
    SEMID_TRY(check_width(m, X));
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, 0, "rlfq encode"));
    return encode_rows(m, X->data, X->rows, codes, NULL);
}

semid_status semid_rlfq_decode(const semid_rlfq *m, const int32_t *codes, int64_t n, int32_t use_levels, float *out) {
    int64_t D = m->dim, K = (int64_t)1 << m->cfg.bits;
    int bits = m->cfg.bits, L = m->cfg.levels;
    if (use_levels < 1 || use_levels > L)
        return semid_fail(SEMID_EINVAL, "rlfq: use_levels %d not in 1..%d", use_levels, L);
    for (int64_t i = 0; i < n * L; i++)
        if (codes[i] < 0 || codes[i] >= K)
            return semid_fail(SEMID_EINVAL, "rlfq: code %d of item %lld is outside 0..%lld", codes[i],
                              (long long)(i / L), (long long)K - 1);
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_ae_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    for (int64_t s = 0; s < n; s += block) {
        int64_t B = n - s < block ? n - s : block;
        memset(w->zq, 0, sizeof(float) * (size_t)(B * bits));
        for (int64_t b = 0; b < B; b++)
            for (int l = 0; l < use_levels; l++) {
                int32_t code = codes[(s + b) * L + l];
                for (int j = 0; j < bits; j++) w->zq[b * bits + j] += (code >> j) & 1 ? level_scale(l) : -level_scale(l);
            }
        const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);
        memcpy(out + s * D, xhat, sizeof(float) * (size_t)(B * D));
    }
    semid_ae_work_free(w);
    return SEMID_OK;
}

typedef struct train_ctx {
    semid_rlfq *m;
    const semid_matrix *X;
} train_ctx;

static semid_status train_batch(void *ctx, const int64_t *rows, int64_t nb, double *loss) {
    train_ctx *x = ctx;
    semid_rlfq *m = x->m;
    semid_ae_work *w = m->work;
    int64_t D = m->dim;
    for (int64_t b = 0; b < nb; b++) memcpy(w->x + b * D, x->X->data + rows[b] * D, sizeof(float) * (size_t)D);
    semid_rlfq_terms t;
    SEMID_TRY(batch_loss_grad(m, w, nb, true, &t));
    *loss = t.total;
    return SEMID_OK;
}

static semid_status train(semid_rlfq *m, const semid_matrix *X, semid_rlfq_report *rep) {
    const semid_rlfq_config *c = &m->cfg;
    semid_rng rng;
    semid_rng_seed(&rng, c->seed ^ 0x1f9a7c3e5ULL);
    SEMID_TRY(ensure_work(m, c->batch_size < X->rows ? c->batch_size : X->rows));
    train_ctx x = {.m = m, .X = X};
    semid_qtrain t = {.name = "rlfq", .ctx = &x, .params = m->params, .grads = m->grads,
                      .decay_mask = m->decay_mask, .n_params = m->n_params, .n_rows = X->rows,
                      .epochs = c->epochs, .max_steps = c->max_steps, .batch_size = c->batch_size, .lr = c->lr,
                      .weight_decay = c->weight_decay, .verbose = c->verbose, .batch = train_batch};
    semid_qtrain_result r;
    SEMID_TRY(semid_qtrain_run(&t, &rng, &r));
    if (rep) {
        rep->loss_first = r.loss_first;
        rep->loss_last = r.loss_last;
        rep->epochs_run = r.epochs_run;
    }
    return SEMID_OK;
}

semid_status semid_rlfq_fit(const semid_matrix *X, const semid_rlfq_config *cfg, semid_rlfq **out,
                            semid_rlfq_report *report) {
    *out = NULL;
    double t0 = semid_now();
    SEMID_TRY(check_config(cfg));
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, (int64_t)1 << cfg->bits, "rlfq"));
    semid_rlfq *m;
    SEMID_TRY(semid_rlfq_create(X->cols, cfg, &m));
    semid_rlfq_report rep;
    memset(&rep, 0, sizeof rep);
    semid_status st = train(m, X, &rep);
    int64_t N = X->rows, D = X->cols, K = (int64_t)1 << cfg->bits;
    int L = cfg->levels;
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(N * L));
    float *recon = malloc(sizeof(float) * (size_t)(N * D));
    uint8_t *seen = malloc((size_t)K);
    if (st == SEMID_OK && (!codes || !recon || !seen)) st = semid_fail(SEMID_ENOMEM, "out of memory evaluating RLFQ");
    if (st == SEMID_OK) st = encode_rows(m, X->data, N, codes, recon);
    if (st == SEMID_OK) {
        rep.recon_mse = semid_quant_mse(recon, X->data, N, D);
        rep.data_variance = semid_quant_variance(X->data, N, D);
        for (int l = 0; l < L; l++) {
            memset(seen, 0, (size_t)K);
            int64_t used = 0;
            for (int64_t i = 0; i < N; i++) {
                int32_t code = codes[i * L + l];
                used += !seen[code];
                seen[code] = 1;
            }
            rep.used_share[l] = (double)used / (double)K;
        }
    }
    free(codes);
    free(recon);
    free(seen);
    if (st != SEMID_OK) {
        semid_rlfq_free(m);
        return st;
    }
    semid_ae_work_free(m->work);
    m->work = NULL;
    rep.seconds = semid_now() - t0;
    if (cfg->verbose)
        SEMID_INFO("rlfq: recon MSE %.6g (data variance %.6g), level-0 codes used %.1f%%, %.1fs", rep.recon_mse,
                   rep.data_variance, 100.0 * rep.used_share[0], rep.seconds);
    if (report) *report = rep;
    *out = m;
    return SEMID_OK;
}

/* ------------------------------------------------------------------------
 * Files. Payload: u32 version | u32 D, bits, H, n_hidden, L, act |
 * f32 beta, entropy_weight, entropy_temp, recon_weight | u32 n_params | f32 params. */

semid_status semid_rlfq_write(const semid_rlfq *m, FILE *fp) {
    const semid_rlfq_config *c = &m->cfg;
    uint32_t ints[7] = {RLFQ_VERSION, (uint32_t)m->dim, (uint32_t)c->bits, (uint32_t)c->hidden_dim,
                        (uint32_t)c->n_hidden, (uint32_t)c->levels, (uint32_t)c->act};
    for (int i = 0; i < 7; i++) SEMID_TRY(semid_tok_write_u32(fp, ints[i]));
    float floats[4] = {c->beta, c->entropy_weight, c->entropy_temp, c->recon_weight};
    SEMID_TRY(semid_tok_write_f32s(fp, floats, 4));
    return semid_ae_params_write(fp, m->params, m->n_params);
}

semid_status semid_rlfq_read(semid_tok_reader *r, semid_rlfq **out) {
    *out = NULL;
    uint32_t v[7];
    static const char *names[7] = {"rlfq version", "input width", "bits", "hidden width", "hidden layers", "levels",
                                   "activation"};
    for (int i = 0; i < 7; i++) SEMID_TRY(semid_tok_read_u32(r, &v[i], names[i]));
    if (v[0] != RLFQ_VERSION)
        return semid_fail(SEMID_EFORMAT, "%s: rlfq version %u is not supported (expected %d)", r->path, v[0],
                          RLFQ_VERSION);
    if (v[6] > SEMID_ACT_SILU) return semid_fail(SEMID_EFORMAT, "%s: unknown activation %u", r->path, v[6]);
    if (v[1] == 0 || v[1] > (1u << 24) || v[3] > (1u << 16))
        return semid_fail(SEMID_EFORMAT, "%s: implausible rlfq sizes", r->path);
    semid_rlfq_config c = semid_rlfq_defaults();
    c.bits = (int32_t)v[2];
    c.hidden_dim = (int32_t)v[3];
    c.n_hidden = (int32_t)v[4];
    c.levels = (int32_t)v[5];
    c.act = (semid_act)v[6];
    float f[4];
    SEMID_TRY(semid_tok_read_f32s(r, f, 4, "rlfq loss weights"));
    c.beta = f[0];
    c.entropy_weight = f[1];
    c.entropy_temp = f[2];
    c.recon_weight = f[3];
    /* The sizes' parameters against the bytes left (a u32 count, then the
     * floats), before allocating for them. */
    semid_rlfq shape = {0};
    if (layout(&shape, (int64_t)v[1], &c) != SEMID_OK) return semid_fail_context(SEMID_EFORMAT, "%s", r->path);
    SEMID_TRY(semid_ae_params_check_room(r, shape.n_params, "rlfq"));
    semid_rlfq *m;
    semid_status cst = semid_rlfq_create((int64_t)v[1], &c, &m);
    if (cst != SEMID_OK) return semid_fail_context(cst == SEMID_ENOMEM ? cst : SEMID_EFORMAT, "%s", r->path);
    semid_status st = semid_ae_params_read(r, m->params, m->n_params, "rlfq");
    if (st != SEMID_OK) {
        semid_rlfq_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

static semid_status write_any(const void *m, FILE *fp) { return semid_rlfq_write((const semid_rlfq *)m, fp); }
static semid_status read_any(semid_tok_reader *r, void **m) { return semid_rlfq_read(r, (semid_rlfq **)m); }
static void free_any(void *m) { semid_rlfq_free((semid_rlfq *)m); }

semid_status semid_rlfq_save(const semid_rlfq *m, const char *path) {
    return semid_quant_save_file(path, RLFQ_MAGIC, m, write_any);
}

semid_status semid_rlfq_load(const char *path, semid_rlfq **out) {
    void *m;
    semid_status st = semid_quant_load_file(path, RLFQ_MAGIC, &m, read_any, free_any);
    *out = (semid_rlfq *)m;
    return st;
}

static semid_status method_fit(const semid_matrix *X, const semid_tokenizer_config *tc, void **state) {
    semid_rlfq_config c = tc->method_config ? *(const semid_rlfq_config *)tc->method_config : semid_rlfq_defaults();
    int bits = 0;
    while (bits < 31 && ((int32_t)1 << bits) < tc->codebook_size) bits++;
    if (((int32_t)1 << bits) != tc->codebook_size)
        return semid_fail(SEMID_EINVAL, "rlfq: codebook size %d is not a power of two (LFQ has 2^bits codes)",
                          tc->codebook_size);
    c.bits = bits;
    c.levels = tc->levels;
    c.seed = tc->seed;
    if (tc->iters > 0) c.epochs = tc->iters;
    if (tc->max_steps > 0) c.max_steps = tc->max_steps;
    if (tc->learning_rate > 0.0f) c.lr = tc->learning_rate;
    if (tc->batch_size > 0) c.batch_size = tc->batch_size;
    if (tc->verbose) c.verbose = 1;
    semid_rlfq *m;
    SEMID_TRY(semid_rlfq_fit(X, &c, &m, NULL));
    *state = m;
    return SEMID_OK;
}

static semid_status method_encode(const void *s, const semid_matrix *X, int32_t *codes) {
    return semid_rlfq_encode((const semid_rlfq *)s, X, codes);
}
static semid_status method_reconstruct(const void *s, const int32_t *codes, int64_t n, int32_t use_levels,
                                       float *out) {
    return semid_rlfq_decode((const semid_rlfq *)s, codes, n, use_levels, out);
}
static int32_t method_levels(const void *s) { return ((const semid_rlfq *)s)->cfg.levels; }
static int32_t method_level_size(const void *s, int32_t level) {
    (void)level;
    return (int32_t)1 << ((const semid_rlfq *)s)->cfg.bits;
}
static int32_t method_dim(const void *s) { return (int32_t)((const semid_rlfq *)s)->dim; }

const semid_tokenizer_method semid_method_rlfq = {
    .name = "rlfq", .label = "Residual LFQ", .in_ablation = 1, .fit = method_fit, .encode = method_encode,
    .reconstruct = method_reconstruct, .levels = method_levels, .level_size = method_level_size, .dim = method_dim,
    .write = write_any, .read = read_any, .free = free_any};
