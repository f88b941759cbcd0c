#include "quant/rqvae.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "linalg/adamw.h"
#include "linalg/vec.h"
#include "quant/ae_buffers.h"
#include "quant/kmeans.h"
#include "quant/qtrain.h"
#include "quant/vq.h"

enum { RQVAE_VERSION = 1, ENCODE_BLOCK = 1024 };
static const char RQVAE_MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'R', 'Q', 'V'};

semid_rqvae_config semid_rqvae_defaults(void) {
    semid_rqvae_config c;
    memset(&c, 0, sizeof c);
    c.latent_dim = 32;
    c.hidden_dim = 256;
    c.n_hidden = 2;
    c.levels = 2;
    c.codebook_size = 256;
    c.beta = 0.25f;
    c.codebook_weight = 1.0f;
    c.recon_weight = 1.0f;
    c.epochs = 100;
    c.batch_size = 256;
    c.lr = 1e-3f;
    c.weight_decay = 1e-4f;
    c.act = SEMID_ACT_RELU;
    c.kmeans_init = 1;
    c.reset_dead = 1;
    c.seed = 1234;
    return c;
}

static semid_status check_config(const semid_rqvae_config *c) {
    if (c->latent_dim < 1 || c->hidden_dim < 1 || c->n_hidden < 0 || c->n_hidden >= SEMID_MLP_MAX_LAYERS)
        return semid_fail(SEMID_EINVAL, "rqvae: bad network shape (latent %d, hidden %d x %d)", c->latent_dim,
                          c->hidden_dim, c->n_hidden);
    if (c->levels < 1 || c->levels > SEMID_RQVAE_MAX_LEVELS)
        return semid_fail(SEMID_EINVAL, "rqvae: levels must be in 1..%d, got %d", SEMID_RQVAE_MAX_LEVELS, c->levels);
    if (c->codebook_size < 1) return semid_fail(SEMID_EINVAL, "rqvae: codebook size must be >= 1, got %d", c->codebook_size);
    if (c->epochs < 0 || c->batch_size < 1 || !(c->lr > 0.0f) || c->weight_decay < 0.0f || c->beta < 0.0f)
        return semid_fail(SEMID_EINVAL, "rqvae: bad training settings (epochs %d, batch %d, lr %g, weight decay %g, beta %g)",
                          c->epochs, c->batch_size, (double)c->lr, (double)c->weight_decay, (double)c->beta);
    return SEMID_OK;
}

/* The parameter layout of a model of input width D (no allocation):
 * m->cfg, dim, enc, dec, cb_off and n_params. */
static semid_status layout(semid_rqvae *m, int64_t D, const semid_rqvae_config *cfg) {
    SEMID_TRY(check_config(cfg));
    if (D < 1) return semid_fail(SEMID_EINVAL, "rqvae: input width must be >= 1, got %lld", (long long)D);
    m->cfg = *cfg;
    m->dim = D;
    int64_t off = 0, d = cfg->latent_dim;
    SEMID_TRY(semid_mlp_layout(&m->enc, D, cfg->hidden_dim, cfg->n_hidden, d, cfg->act, &off));
    SEMID_TRY(semid_mlp_layout(&m->dec, d, cfg->hidden_dim, cfg->n_hidden, D, cfg->act, &off));
    m->cb_off = off;
    m->n_params = off + (int64_t)cfg->levels * cfg->codebook_size * d;
    return SEMID_OK;
}

semid_status semid_rqvae_create(int64_t D, const semid_rqvae_config *cfg, semid_rqvae **out) {
    *out = NULL;
    semid_rqvae shape = {0};
    SEMID_TRY(layout(&shape, D, cfg));
    semid_rqvae *m = calloc(1, sizeof *m);
    if (!m) return semid_fail(SEMID_ENOMEM, "out of memory for an RQ-VAE");
    *m = shape;
    int64_t d = cfg->latent_dim;
    semid_status st = semid_ae_params_alloc(m->n_params, &m->params, &m->grads, &m->decay_mask, "RQ-VAE");
    if (st != SEMID_OK) {
        semid_rqvae_free(m);
        return st;
    }
    semid_rng rng;
    semid_rng_seed(&rng, cfg->seed);
    semid_rng r_enc = semid_rng_fork(&rng, 1), r_dec = semid_rng_fork(&rng, 2), r_cb = semid_rng_fork(&rng, 3);
    semid_mlp_init(&m->enc, m->params, &r_enc);
    semid_mlp_init(&m->dec, m->params, &r_dec);
    semid_mlp_decay_mask(&m->enc, m->decay_mask);
    semid_mlp_decay_mask(&m->dec, m->decay_mask);
    /* Small random codebooks until k-means (or the caller) sets them. */
    float *C = m->params + m->cb_off;
    for (int64_t i = 0; i < (int64_t)cfg->levels * cfg->codebook_size * d; i++)
        C[i] = (float)(0.1 * semid_rng_normal(&r_cb));
    *out = m;
    return SEMID_OK;
}

void semid_rqvae_free(semid_rqvae *m) {
    if (!m) return;
    semid_ae_work_free(m->work);
    free(m->params);
    free(m->grads);
    free(m->decay_mask);
    free(m);
}

static semid_status work_alloc(const semid_rqvae *m, int64_t cap, semid_ae_work **out) {
    return semid_ae_work_alloc(&m->enc, &m->dec, m->dim, m->cfg.latent_dim, m->cfg.levels, cap, "RQ-VAE", out);
}

static semid_status ensure_work(semid_rqvae *m, int64_t rows) {
    return semid_ae_work_ensure(&m->work, &m->enc, &m->dec, m->dim, m->cfg.latent_dim, m->cfg.levels, rows, "RQ-VAE");
}

/* One batch: x already in w->x (B rows). Fills m->grads (zeroed first). */
static semid_status batch_loss_grad(semid_rqvae *m, semid_ae_work *w, int64_t B, bool assign,
                                    semid_rqvae_terms *terms) {
    const semid_rqvae_config *c = &m->cfg;
    int64_t D = m->dim, d = c->latent_dim, K = c->codebook_size;
    int L = c->levels;
    float *C = m->params + m->cb_off;
    memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);

    const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, w->x, B);
    SEMID_TRY(semid_rvq_forward(w->codes, w->resid, w->zq, z, B, C, L, K, d, assign));
    const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);

    double recon = 0.0;
    float scale = 2.0f * c->recon_weight / (float)(B * D);
    for (int64_t i = 0; i < B * D; i++) {
        float diff = xhat[i] - w->x[i];
        recon += (double)diff * diff;
        w->dout[i] = scale * diff;
    }
    recon /= (double)(B * D);
    double sqerr = semid_rvq_sqerr(w->resid, w->codes, C, B, L, K, d);

    /* Straight-through: the decoder's input gradient lands on z unchanged. */
    memset(w->dz, 0, sizeof(float) * (size_t)(B * d));
    semid_mlp_backward(&m->dec, m->params, m->grads, &w->dec, w->dout, w->dz, B);
    semid_rvq_backward(w->dz, m->grads + m->cb_off, c->codebook_weight, c->beta, w->resid, w->codes, C, B, L, K, d);
    semid_mlp_backward(&m->enc, m->params, m->grads, &w->enc, w->dz, NULL, B);

    if (terms) {
        terms->recon = recon;
        terms->sqerr = sqerr;
        terms->total = c->recon_weight * recon + (c->codebook_weight + c->beta) * sqerr;
    }
    return SEMID_OK;
}

semid_status semid_rqvae_loss_grad(semid_rqvae *m, const semid_matrix *X, const int32_t *fixed_codes,
                                   int32_t *codes_out, semid_rqvae_terms *terms) {
    if (X->cols != m->dim)
        return semid_fail(SEMID_EINVAL, "rqvae: input width %lld does not match the model's %lld", (long long)X->cols,
                          (long long)m->dim);
    int64_t B = X->rows, L = m->cfg.levels;
    SEMID_TRY(ensure_work(m, B));
    semid_ae_work *w = m->work;
    memcpy(w->x, X->data, sizeof(float) * (size_t)(B * m->dim));
    if (fixed_codes) memcpy(w->codes, fixed_codes, sizeof(int32_t) * (size_t)(B * L));
    SEMID_TRY(batch_loss_grad(m, w, B, fixed_codes == NULL, terms));
    if (codes_out) memcpy(codes_out, w->codes, sizeof(int32_t) * (size_t)(B * L));
    return SEMID_OK;
}

/* Encodes rows [0, n) of X in blocks; codes (n, L); if recon is not NULL it
 * receives the decoded vectors (n, D). */
static semid_status encode_rows(const semid_rqvae *m, const float *X, int64_t n, int32_t *codes, float *recon) {
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_ae_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    const float *C = m->params + m->cb_off;
    int64_t D = m->dim, d = m->cfg.latent_dim, K = m->cfg.codebook_size;
    int L = m->cfg.levels;
    semid_status st = SEMID_OK;
    for (int64_t s = 0; s < n && st == SEMID_OK; s += block) {
        int64_t B = n - s < block ? n - s : block;
        const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, X + s * D, B);
        st = semid_rvq_forward(codes + s * L, w->resid, w->zq, z, B, C, L, K, d, true);
        if (st == SEMID_OK && recon) {
            const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);
            memcpy(recon + s * D, xhat, sizeof(float) * (size_t)(B * D));
        }
    }
    semid_ae_work_free(w);
    return st;
}

semid_status semid_rqvae_encode(const semid_rqvae *m, const semid_matrix *X, int32_t *codes) {
    if (X->cols != m->dim)
        return semid_fail(SEMID_EINVAL, "rqvae: input width %lld does not match the model's %lld", (long long)X->cols,
                          (long long)m->dim);
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, 0, "rqvae encode"));
    return encode_rows(m, X->data, X->rows, codes, NULL);
}

semid_status semid_rqvae_decode(const semid_rqvae *m, const int32_t *codes, int64_t n, int32_t use_levels,
                                float *out) {
    int64_t D = m->dim, d = m->cfg.latent_dim, K = m->cfg.codebook_size;
    int L = m->cfg.levels;
    if (use_levels < 1 || use_levels > L)
        return semid_fail(SEMID_EINVAL, "rqvae: use_levels %d not in 1..%d", use_levels, L);
    for (int64_t i = 0; i < n * L; i++)
        if (codes[i] < 0 || codes[i] >= K)
            return semid_fail(SEMID_EINVAL, "rqvae: code %d of item %lld is outside 0..%lld", codes[i],
                              (long long)(i / L), (long long)K - 1);
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_ae_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    const float *C = m->params + m->cb_off;
    for (int64_t s = 0; s < n; s += block) {
        int64_t B = n - s < block ? n - s : block;
        memset(w->zq, 0, sizeof(float) * (size_t)(B * d));
        for (int64_t b = 0; b < B; b++)
            for (int l = 0; l < use_levels; l++) {
                const float *e = C + ((int64_t)l * K + codes[(s + b) * L + l]) * d;
                for (int64_t j = 0; j < d; j++) w->zq[b * d + j] += e[j];
            }
        const float *xhat = semid_mlp_forward(&m->dec, m->params, &w->dec, w->zq, B);
        memcpy(out + s * D, xhat, sizeof(float) * (size_t)(B * D));
    }
    semid_ae_work_free(w);
    return SEMID_OK;
}

/* Codebooks from k-means on the residuals of a seeded sample of items. */
static semid_status init_codebooks(semid_rqvae *m, const semid_matrix *X, semid_rng *rng) {
    const semid_rqvae_config *c = &m->cfg;
    int64_t N = X->rows, D = m->dim, d = c->latent_dim, K = c->codebook_size;
    int L = c->levels;
    int64_t want = (int64_t)16 * K;
    if (want < c->batch_size) want = c->batch_size;
    int64_t n = N < want ? N : want;
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
    float *sample = malloc(sizeof(float) * (size_t)(n * D));
    semid_ae_work *w = NULL;
    semid_status st = (!perm || !sample) ? semid_fail(SEMID_ENOMEM, "out of memory for the RQ-VAE init sample")
                                         : work_alloc(m, n, &w);
    if (st == SEMID_OK) {
        for (int64_t i = 0; i < N; i++) perm[i] = i;
        semid_rng_shuffle_i64(rng, perm, (size_t)N);
        for (int64_t i = 0; i < n; i++) memcpy(sample + i * D, X->data + perm[i] * D, sizeof(float) * (size_t)D);
        const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, sample, n);
        st = semid_rvq_init_kmeans(m->params + m->cb_off, L, K, d, z, n, c->seed);
    }
    semid_ae_work_free(w);
    free(perm);
    free(sample);
    return st;
}

/* The state of the shared training loop's callbacks. */
typedef struct train_ctx {
    semid_rqvae *m;
    const semid_matrix *X;
    int64_t *counts; /* (L, K) code uses this epoch */
    int64_t last_B;  /* rows of the last batch, whose residuals seed dead codes */
    semid_rqvae_report *rep;
} train_ctx;

static semid_status train_batch(void *ctx, const int64_t *rows, int64_t nb, double *loss) {
    train_ctx *x = ctx;
    semid_rqvae *m = x->m;
    semid_ae_work *w = m->work;
    int64_t D = m->dim;
    for (int64_t b = 0; b < nb; b++) memcpy(w->x + b * D, x->X->data + rows[b] * D, sizeof(float) * (size_t)D);
    semid_rqvae_terms t;
    SEMID_TRY(batch_loss_grad(m, w, nb, true, &t));
    semid_vq_count(x->counts, w->codes, nb, m->cfg.levels, m->cfg.codebook_size);
    x->last_B = nb;
    *loss = t.total;
    return SEMID_OK;
}

static void train_epoch_start(void *ctx) {
    train_ctx *x = ctx;
    memset(x->counts, 0, sizeof(int64_t) * (size_t)(x->m->cfg.levels * x->m->cfg.codebook_size));
}

/* Residuals of the last batch, level by level, seed the dead codes. */
static void train_epoch_end(void *ctx, semid_adamw *opt, semid_rng *rng) {
    train_ctx *x = ctx;
    semid_rqvae *m = x->m;
    if (!m->cfg.reset_dead) return;
    int64_t n = semid_rvq_reset_dead(m->params, m->cb_off, m->cfg.levels, m->cfg.codebook_size, m->cfg.latent_dim,
                                     x->counts, m->work->resid, x->last_B, rng, opt);
    if (x->rep) x->rep->dead_resets += n;
}

static semid_status train(semid_rqvae *m, const semid_matrix *X, semid_rqvae_report *rep) {
    const semid_rqvae_config *c = &m->cfg;
    int64_t B = c->batch_size < X->rows ? c->batch_size : X->rows;
    semid_rng rng;
    semid_rng_seed(&rng, c->seed ^ 0x5eed0f5a11ULL);
    train_ctx x = {.m = m, .X = X, .rep = rep};
    x.counts = calloc((size_t)(c->levels * c->codebook_size), sizeof(int64_t));
    semid_status st = !x.counts ? semid_fail(SEMID_ENOMEM, "out of memory for RQ-VAE training") : ensure_work(m, B);
    if (st == SEMID_OK && c->kmeans_init) st = init_codebooks(m, X, &rng);
    semid_qtrain t = {.name = "rqvae", .ctx = &x, .params = m->params, .grads = m->grads,
                      .decay_mask = m->decay_mask, .n_params = m->n_params, .n_rows = X->rows,
                      .epochs = c->epochs, .max_steps = c->max_steps, .batch_size = c->batch_size, .lr = c->lr,
                      .weight_decay = c->weight_decay, .verbose = c->verbose, .batch = train_batch,
                      .epoch_start = train_epoch_start, .epoch_end = train_epoch_end};
    semid_qtrain_result r;
    if (st == SEMID_OK) st = semid_qtrain_run(&t, &rng, &r);
    if (st == SEMID_OK && rep) {
        rep->loss_first = r.loss_first;
        rep->loss_last = r.loss_last;
        rep->epochs_run = r.epochs_run;
    }
    free(x.counts);
    return st;
}

/* Reconstruction error and code use over X after training. */
static semid_status evaluate(const semid_rqvae *m, const semid_matrix *X, semid_rqvae_report *rep) {
    int64_t N = X->rows, D = m->dim, K = m->cfg.codebook_size;
    int L = m->cfg.levels;
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(N * L));
    float *recon = malloc(sizeof(float) * (size_t)(N * D));
    int64_t *counts = calloc((size_t)(L * K), sizeof(int64_t));
    semid_status st = (!codes || !recon || !counts) ? semid_fail(SEMID_ENOMEM, "out of memory evaluating an RQ-VAE")
                                                    : encode_rows(m, X->data, N, codes, recon);
    if (st == SEMID_OK) {
        rep->recon_mse = semid_quant_mse(recon, X->data, N, D);
        rep->data_variance = semid_quant_variance(X->data, N, D);
        semid_vq_count(counts, codes, N, L, K);
        for (int l = 0; l < L; l++) {
            int64_t used = 0;
            for (int64_t k = 0; k < K; k++) used += counts[(int64_t)l * K + k] > 0;
            rep->used_share[l] = (double)used / (double)K;
        }
    }
    free(codes);
    free(recon);
    free(counts);
    return st;
}

semid_status semid_rqvae_fit(const semid_matrix *X, const semid_rqvae_config *cfg, semid_rqvae **out,
                             semid_rqvae_report *report) {
    *out = NULL;
    double t0 = semid_now();
    SEMID_TRY(check_config(cfg));
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, cfg->codebook_size, "rqvae"));
    semid_rqvae *m;
    SEMID_TRY(semid_rqvae_create(X->cols, cfg, &m));
    semid_rqvae_report rep;
    memset(&rep, 0, sizeof rep);
    semid_status st = train(m, X, &rep);
    if (st == SEMID_OK) st = evaluate(m, X, &rep);
    if (st != SEMID_OK) {
        semid_rqvae_free(m);
        return st;
    }
    /* Training buffers are not needed for encoding. */
    semid_ae_work_free(m->work);
    m->work = NULL;
    rep.seconds = semid_now() - t0;
    if (cfg->verbose)
        SEMID_INFO("rqvae: recon MSE %.6g (data variance %.6g), level-0 codes used %.1f%%, %.1fs", rep.recon_mse,
                   rep.data_variance, 100.0 * rep.used_share[0], rep.seconds);
    if (report) *report = rep;
    *out = m;
    return SEMID_OK;
}

/* ------------------------------------------------------------------------
 * Files. Payload: u32 version | u32 D, d, H, n_hidden, L, K, act |
 * f32 beta, codebook_weight, recon_weight | u32 n_params | f32 params. */

semid_status semid_rqvae_write(const semid_rqvae *m, FILE *fp) {
    const semid_rqvae_config *c = &m->cfg;
    uint32_t ints[8] = {RQVAE_VERSION, (uint32_t)m->dim, (uint32_t)c->latent_dim, (uint32_t)c->hidden_dim,
                        (uint32_t)c->n_hidden, (uint32_t)c->levels, (uint32_t)c->codebook_size, (uint32_t)c->act};
    for (int i = 0; i < 8; i++) SEMID_TRY(semid_tok_write_u32(fp, ints[i]));
    float floats[3] = {c->beta, c->codebook_weight, c->recon_weight};
    SEMID_TRY(semid_tok_write_f32s(fp, floats, 3));
    return semid_ae_params_write(fp, m->params, m->n_params);
}

semid_status semid_rqvae_read(semid_tok_reader *r, semid_rqvae **out) {
    *out = NULL;
    uint32_t v[8];
    static const char *names[8] = {"rqvae version", "input width", "latent width", "hidden width",
                                   "hidden layers", "levels", "codebook size", "activation"};
    for (int i = 0; i < 8; i++) SEMID_TRY(semid_tok_read_u32(r, &v[i], names[i]));
    if (v[0] != RQVAE_VERSION)
        return semid_fail(SEMID_EFORMAT, "%s: rqvae version %u is not supported (expected %d)", r->path, v[0],
                          RQVAE_VERSION);
    if (v[7] > SEMID_ACT_SILU) return semid_fail(SEMID_EFORMAT, "%s: unknown activation %u", r->path, v[7]);
    if (v[1] == 0 || v[1] > (1u << 24) || v[2] > (1u << 16) || v[3] > (1u << 16) || v[6] > (1u << 24))
        return semid_fail(SEMID_EFORMAT, "%s: implausible rqvae sizes", r->path);
    semid_rqvae_config c = semid_rqvae_defaults();
    c.latent_dim = (int32_t)v[2];
    c.hidden_dim = (int32_t)v[3];
    c.n_hidden = (int32_t)v[4];
    c.levels = (int32_t)v[5];
    c.codebook_size = (int32_t)v[6];
    c.act = (semid_act)v[7];
    float f[3];
    SEMID_TRY(semid_tok_read_f32s(r, f, 3, "rqvae loss weights"));
    c.beta = f[0];
    c.codebook_weight = f[1];
    c.recon_weight = f[2];
    /* The sizes' parameters against the bytes left (a u32 count, then the
     * floats), before allocating for them. */
    semid_rqvae shape = {0};
    if (layout(&shape, (int64_t)v[1], &c) != SEMID_OK) return semid_fail_context(SEMID_EFORMAT, "%s", r->path);
    SEMID_TRY(semid_ae_params_check_room(r, shape.n_params, "rqvae"));
    semid_rqvae *m;
    semid_status st = semid_rqvae_create((int64_t)v[1], &c, &m);
    if (st != SEMID_OK) return semid_fail_context(st == SEMID_ENOMEM ? st : SEMID_EFORMAT, "%s", r->path);
    st = semid_ae_params_read(r, m->params, m->n_params, "rqvae");
    if (st != SEMID_OK) {
        semid_rqvae_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

static semid_status write_any(const void *m, FILE *fp) { return semid_rqvae_write((const semid_rqvae *)m, fp); }
static semid_status read_any(semid_tok_reader *r, void **m) { return semid_rqvae_read(r, (semid_rqvae **)m); }
static void free_any(void *m) { semid_rqvae_free((semid_rqvae *)m); }

semid_status semid_rqvae_save(const semid_rqvae *m, const char *path) {
    return semid_quant_save_file(path, RQVAE_MAGIC, m, write_any);
}

semid_status semid_rqvae_load(const char *path, semid_rqvae **out) {
    void *m;
    semid_status st = semid_quant_load_file(path, RQVAE_MAGIC, &m, read_any, free_any);
    *out = (semid_rqvae *)m;
    return st;
}

/* ------------------------------------------------------------------------
 * The tokenizer method. */

static semid_status method_fit(const semid_matrix *X, const semid_tokenizer_config *tc, void **state) {
    semid_rqvae_config c = tc->method_config ? *(const semid_rqvae_config *)tc->method_config : semid_rqvae_defaults();
    c.levels = tc->levels;
    c.codebook_size = tc->codebook_size;
    c.seed = tc->seed;
    if (tc->iters > 0) c.epochs = tc->iters;
    if (tc->max_steps > 0) c.max_steps = tc->max_steps;
    if (tc->learning_rate > 0.0f) c.lr = tc->learning_rate;
    if (tc->batch_size > 0) c.batch_size = tc->batch_size;
    if (tc->verbose) c.verbose = 1;
    semid_rqvae *m;
    SEMID_TRY(semid_rqvae_fit(X, &c, &m, NULL));
    *state = m;
    return SEMID_OK;
}

static semid_status method_encode(const void *s, const semid_matrix *X, int32_t *codes) {
    return semid_rqvae_encode((const semid_rqvae *)s, X, codes);
}

static semid_status method_reconstruct(const void *s, const int32_t *codes, int64_t n, int32_t use_levels,
                                       float *out) {
    return semid_rqvae_decode((const semid_rqvae *)s, codes, n, use_levels, out);
}

static int32_t method_levels(const void *s) { return ((const semid_rqvae *)s)->cfg.levels; }
static int32_t method_level_size(const void *s, int32_t level) {
    (void)level;
    return ((const semid_rqvae *)s)->cfg.codebook_size;
}
static int32_t method_dim(const void *s) { return (int32_t)((const semid_rqvae *)s)->dim; }

const semid_tokenizer_method semid_method_rqvae = {
    .name = "rqvae", .label = "RQ-VAE", .in_ablation = 1, .fit = method_fit, .encode = method_encode,
    .reconstruct = method_reconstruct, .levels = method_levels, .level_size = method_level_size, .dim = method_dim,
    .write = write_any, .read = read_any, .free = free_any};
