#include "quant/prefix_share.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "linalg/adamw.h"
#include "linalg/vec.h"
#include "quant/ae_buffers.h"
#include "quant/kmeans.h"
#include "quant/qtrain.h"
#include "quant/vq.h"

enum { PSQ_VERSION = 1, ENCODE_BLOCK = 1024 };
static const char PSQ_MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'P', 'S', 'Q'};

semid_prefix_share_config semid_prefix_share_defaults(void) {
    semid_prefix_share_config c;
    memset(&c, 0, sizeof c);
    c.latent_dim = 32;
    c.hidden_dim = 256;
    c.n_hidden = 2;
    c.shared_levels = 1;
    c.task_levels = 1;
    c.shared_size = 256;
    c.task_size = 256;
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

/* Buffers of one batch (B <= cap rows); index t is the task. */
typedef struct semid_prefix_work {
    int64_t cap;
    semid_mlp_cache enc, dec[2];
    float *x;          /* (B, Ds + Dr) encoder input */
    float *tgt[2];     /* (B, D_t) targets */
    float *resid_s;    /* (Ls, B, d) */
    float *zq_s;       /* (B, d) */
    float *r;          /* (B, d) z - zq_s */
    float *u[2];       /* (B, d) projected residual */
    float *resid_t[2]; /* (Lt, B, d) */
    float *zq_t[2];    /* (B, d) */
    float *h[2];       /* (B, d) decoder input zq_s + zq_t */
    float *dz, *dr;    /* (B, d) */
    float *du[2];      /* (B, d) */
    float *dh[2];      /* (B, d) */
    float *dout[2];    /* (B, D_t) */
    int32_t *codes_s;  /* (B, Ls) */
    int32_t *codes_t[2]; /* (B, Lt) */
} semid_prefix_work;

static void work_free(semid_prefix_work *w) {
    if (!w) return;
    semid_mlp_cache_free(&w->enc);
    free(w->x);
    free(w->resid_s);
    free(w->zq_s);
    free(w->r);
    free(w->dz);
    free(w->dr);
    free(w->codes_s);
    for (int t = 0; t < 2; t++) {
        semid_mlp_cache_free(&w->dec[t]);
        free(w->tgt[t]);
        free(w->u[t]);
        free(w->resid_t[t]);
        free(w->zq_t[t]);
        free(w->h[t]);
        free(w->du[t]);
        free(w->dh[t]);
        free(w->dout[t]);
        free(w->codes_t[t]);
    }
    free(w);
}

static semid_status work_alloc(const semid_prefix_share *m, int64_t cap, semid_prefix_work **out) {
    semid_prefix_work *w = calloc(1, sizeof *w);
    if (!w) return semid_fail(SEMID_ENOMEM, "out of memory for prefix-share buffers");
    const semid_prefix_share_config *c = &m->cfg;
    int64_t d = c->latent_dim, Ls = c->shared_levels, Lt = c->task_levels;
    size_t f = sizeof(float), bd = (size_t)(cap * d);
    w->cap = cap;
    bool ok = semid_mlp_cache_alloc(&w->enc, &m->enc, cap) == SEMID_OK;
    w->x = malloc(f * (size_t)(cap * (m->dim[0] + m->dim[1])));
    w->resid_s = malloc(f * bd * (size_t)Ls);
    w->zq_s = malloc(f * bd);
    w->r = malloc(f * bd);
    w->dz = malloc(f * bd);
    w->dr = malloc(f * bd);
    w->codes_s = malloc(sizeof(int32_t) * (size_t)(cap * Ls));
    ok = ok && w->x && w->resid_s && w->zq_s && w->r && w->dz && w->dr && w->codes_s;
    for (int t = 0; t < 2; t++) {
        ok = ok && semid_mlp_cache_alloc(&w->dec[t], &m->dec[t], cap) == SEMID_OK;
        w->tgt[t] = malloc(f * (size_t)(cap * m->dim[t]));
        w->u[t] = malloc(f * bd);
        w->resid_t[t] = malloc(f * bd * (size_t)Lt);
        w->zq_t[t] = malloc(f * bd);
        w->h[t] = malloc(f * bd);
        w->du[t] = malloc(f * bd);
        w->dh[t] = malloc(f * bd);
        w->dout[t] = malloc(f * (size_t)(cap * m->dim[t]));
        w->codes_t[t] = malloc(sizeof(int32_t) * (size_t)(cap * Lt));
        ok = ok && w->tgt[t] && w->u[t] && w->resid_t[t] && w->zq_t[t] && w->h[t] && w->du[t] && w->dh[t] &&
             w->dout[t] && w->codes_t[t];
    }
    if (!ok) {
        work_free(w);
        return semid_fail(SEMID_ENOMEM, "out of memory for prefix-share buffers (%lld rows)", (long long)cap);
    }
    *out = w;
    return SEMID_OK;
}

static semid_status check_config(const semid_prefix_share_config *c) {
    if (c->latent_dim < 1 || c->hidden_dim < 1 || c->n_hidden < 0 || c->n_hidden >= SEMID_MLP_MAX_LAYERS)
        return semid_fail(SEMID_EINVAL, "prefix-share: bad network shape (latent %d, hidden %d x %d)", c->latent_dim,
                          c->hidden_dim, c->n_hidden);
    if (c->shared_levels < 1 || c->shared_levels > SEMID_PREFIX_MAX_LEVELS || c->task_levels < 1 ||
        c->task_levels > SEMID_PREFIX_MAX_LEVELS)
        return semid_fail(SEMID_EINVAL, "prefix-share: shared levels %d and task levels %d must be in 1..%d",
                          c->shared_levels, c->task_levels, SEMID_PREFIX_MAX_LEVELS);
    if (c->shared_size < 1 || c->task_size < 1)
        return semid_fail(SEMID_EINVAL, "prefix-share: codebook sizes must be >= 1 (shared %d, task %d)",
                          c->shared_size, c->task_size);
    if (c->epochs < 0 || c->batch_size < 1 || !(c->lr > 0.0f) || c->weight_decay < 0.0f || c->beta < 0.0f)
        return semid_fail(SEMID_EINVAL, "prefix-share: bad training settings (epochs %d, batch %d, lr %g, beta %g)",
                          c->epochs, c->batch_size, (double)c->lr, (double)c->beta);
    return SEMID_OK;
}

/* The parameter layout of a model of input widths Ds and Dr (no
 * allocation): m->cfg, dim, enc, dec, proj, the codebook offsets and
 * n_params. */
static semid_status layout(semid_prefix_share *m, int64_t Ds, int64_t Dr, const semid_prefix_share_config *cfg) {
    SEMID_TRY(check_config(cfg));
    if (Ds < 1 || Dr < 1)
        return semid_fail(SEMID_EINVAL, "prefix-share: widths must be >= 1 (search %lld, rec %lld)", (long long)Ds,
                          (long long)Dr);
    m->cfg = *cfg;
    m->dim[0] = Ds;
    m->dim[1] = Dr;
    int64_t off = 0, d = cfg->latent_dim;
    SEMID_TRY(semid_mlp_layout(&m->enc, Ds + Dr, cfg->hidden_dim, cfg->n_hidden, d, cfg->act, &off));
    for (int t = 0; t < 2; t++) {
        SEMID_TRY(semid_mlp_layout(&m->dec[t], d, cfg->hidden_dim, cfg->n_hidden, m->dim[t], cfg->act, &off));
        SEMID_TRY(semid_mlp_layout(&m->proj[t], d, 0, 0, d, SEMID_ACT_NONE, &off));
    }
    m->cs_off = off;
    off += (int64_t)cfg->shared_levels * cfg->shared_size * d;
    for (int t = 0; t < 2; t++) {
        m->ct_off[t] = off;
        off += (int64_t)cfg->task_levels * cfg->task_size * d;
    }
    m->n_params = off;
    return SEMID_OK;
}

semid_status semid_prefix_share_create(int64_t Ds, int64_t Dr, const semid_prefix_share_config *cfg,
                                       semid_prefix_share **out) {
    *out = NULL;
    semid_prefix_share shape = {0};
    SEMID_TRY(layout(&shape, Ds, Dr, cfg));
    semid_prefix_share *m = calloc(1, sizeof *m);
    if (!m) return semid_fail(SEMID_ENOMEM, "out of memory for a prefix-share quantizer");
    *m = shape;
    int64_t off = m->n_params, d = cfg->latent_dim;
    semid_status st = semid_ae_params_alloc(off, &m->params, &m->grads, &m->decay_mask, "prefix-share");
    if (st != SEMID_OK) {
        semid_prefix_share_free(m);
        return st;
    }
    semid_rng rng;
    semid_rng_seed(&rng, cfg->seed);
    semid_rng r_enc = semid_rng_fork(&rng, 1), r_cb = semid_rng_fork(&rng, 4);
    semid_mlp_init(&m->enc, m->params, &r_enc);
    semid_mlp_decay_mask(&m->enc, m->decay_mask);
    for (int t = 0; t < 2; t++) {
        semid_rng r_dec = semid_rng_fork(&rng, 2 + (uint64_t)t), r_proj = semid_rng_fork(&rng, 10 + (uint64_t)t);
        semid_mlp_init(&m->dec[t], m->params, &r_dec);
        semid_mlp_decay_mask(&m->dec[t], m->decay_mask);
        /* P_t starts as the identity plus a little noise: each task first
         * quantizes the shared residual itself. */
        float *P = m->params + m->proj[t].w_off[0];
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++) P[i * d + j] = (i == j ? 1.0f : 0.0f) + (float)(0.01 * semid_rng_normal(&r_proj));
        semid_mlp_decay_mask(&m->proj[t], m->decay_mask);
    }
    float *C = m->params + m->cs_off;
    for (int64_t i = 0; i < off - m->cs_off; i++) C[i] = (float)(0.1 * semid_rng_normal(&r_cb));
    *out = m;
    return SEMID_OK;
}

void semid_prefix_share_free(semid_prefix_share *m) {
    if (!m) return;
    work_free(m->work);
    free(m->params);
    free(m->grads);
    free(m->decay_mask);
    free(m);
}

/* Copies rows of S and R (row indices idx, or start..start+B-1 when idx is
 * NULL) into the encoder input and the targets. */
static void gather(const semid_prefix_share *m, semid_prefix_work *w, const semid_matrix *S, const semid_matrix *R,
                   const int64_t *idx, int64_t start, int64_t B) {
    int64_t Ds = m->dim[0], Dr = m->dim[1];
    for (int64_t b = 0; b < B; b++) {
        int64_t i = idx ? idx[b] : start + b;
        memcpy(w->x + b * (Ds + Dr), S->data + i * Ds, sizeof(float) * (size_t)Ds);
        memcpy(w->x + b * (Ds + Dr) + Ds, R->data + i * Dr, sizeof(float) * (size_t)Dr);
        memcpy(w->tgt[0] + b * Ds, S->data + i * Ds, sizeof(float) * (size_t)Ds);
        memcpy(w->tgt[1] + b * Dr, R->data + i * Dr, sizeof(float) * (size_t)Dr);
    }
}

/* Encoder, shared and task quantizers (codes chosen when assign). */
static semid_status forward_codes(const semid_prefix_share *m, semid_prefix_work *w, int64_t B, bool assign) {
    const semid_prefix_share_config *c = &m->cfg;
    int64_t d = c->latent_dim;
    const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, w->x, B);
    SEMID_TRY(semid_rvq_forward(w->codes_s, w->resid_s, w->zq_s, z, B, m->params + m->cs_off, c->shared_levels,
                                c->shared_size, d, assign));
    for (int64_t i = 0; i < B * d; i++) w->r[i] = z[i] - w->zq_s[i];
    for (int t = 0; t < 2; t++) {
        const semid_mlp *P = &m->proj[t];
        semid_linear_forward(w->u[t], w->r, m->params + P->w_off[0], m->params + P->b_off[0], B, d, d);
        SEMID_TRY(semid_rvq_forward(w->codes_t[t], w->resid_t[t], w->zq_t[t], w->u[t], B, m->params + m->ct_off[t],
                                    c->task_levels, c->task_size, d, assign));
        for (int64_t i = 0; i < B * d; i++) w->h[t][i] = w->zq_s[i] + w->zq_t[t][i];
    }
    return SEMID_OK;
}

static semid_status batch_loss_grad(semid_prefix_share *m, semid_prefix_work *w, int64_t B, bool assign,
                                    semid_prefix_share_terms *terms) {
    const semid_prefix_share_config *c = &m->cfg;
    int64_t d = c->latent_dim;
    memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
    SEMID_TRY(forward_codes(m, w, B, assign));
    memset(w->dz, 0, sizeof(float) * (size_t)(B * d));
    memset(w->dr, 0, sizeof(float) * (size_t)(B * d));
    double recon[2], sq_t[2];
    for (int t = 0; t < 2; t++) {
        int64_t D = m->dim[t];
        const float *xhat = semid_mlp_forward(&m->dec[t], m->params, &w->dec[t], w->h[t], B);
        double s = 0.0;
        float scale = 2.0f * c->recon_weight / (float)(B * D);
        for (int64_t i = 0; i < B * D; i++) {
            float diff = xhat[i] - w->tgt[t][i];
            s += (double)diff * diff;
            w->dout[t][i] = scale * diff;
        }
        recon[t] = s / (double)(B * D);
        memset(w->dh[t], 0, sizeof(float) * (size_t)(B * d));
        semid_mlp_backward(&m->dec[t], m->params, m->grads, &w->dec[t], w->dout[t], w->dh[t], B);
        /* Straight-through: the decoder input's gradient reaches z (shared
         * part) and u_t (task part) unchanged. */
        for (int64_t i = 0; i < B * d; i++) {
            w->dz[i] += w->dh[t][i];
            w->du[t][i] = w->dh[t][i];
        }
        const float *Ct = m->params + m->ct_off[t];
        sq_t[t] = semid_rvq_sqerr(w->resid_t[t], w->codes_t[t], Ct, B, c->task_levels, c->task_size, d);
        semid_rvq_backward(w->du[t], m->grads + m->ct_off[t], c->codebook_weight, c->beta, w->resid_t[t], w->codes_t[t],
                           Ct, B, c->task_levels, c->task_size, d);
        const semid_mlp *P = &m->proj[t];
        semid_linear_backward(w->dr, m->grads + P->w_off[0], m->grads + P->b_off[0], w->du[t], w->r,
                              m->params + P->w_off[0], B, d, d);
    }
    /* r = z - zq_s with the codewords held constant: dr flows to z. */
    for (int64_t i = 0; i < B * d; i++) w->dz[i] += w->dr[i];
    const float *Cs = m->params + m->cs_off;
    double sq_s = semid_rvq_sqerr(w->resid_s, w->codes_s, Cs, B, c->shared_levels, c->shared_size, d);
    semid_rvq_backward(w->dz, m->grads + m->cs_off, c->codebook_weight, c->beta, w->resid_s, w->codes_s, Cs, B,
                       c->shared_levels, c->shared_size, d);
    semid_mlp_backward(&m->enc, m->params, m->grads, &w->enc, w->dz, NULL, B);
    if (terms) {
        terms->recon[0] = recon[0];
        terms->recon[1] = recon[1];
        terms->sqerr_shared = sq_s;
        terms->sqerr_task[0] = sq_t[0];
        terms->sqerr_task[1] = sq_t[1];
        terms->total = c->recon_weight * (recon[0] + recon[1]) + (c->codebook_weight + c->beta) * (sq_s + sq_t[0] + sq_t[1]);
    }
    return SEMID_OK;
}

static semid_status check_pair(const semid_prefix_share *m, const semid_matrix *S, const semid_matrix *R) {
    if (S->cols != m->dim[0] || R->cols != m->dim[1])
        return semid_fail(SEMID_EINVAL, "prefix-share: input widths %lld (search) and %lld (rec) do not match the model's %lld and %lld",
                          (long long)S->cols, (long long)R->cols, (long long)m->dim[0], (long long)m->dim[1]);
    if (S->rows != R->rows)
        return semid_fail(SEMID_EINVAL, "prefix-share: %lld search rows but %lld rec rows (one row per item in both)",
                          (long long)S->rows, (long long)R->rows);
    return SEMID_OK;
}

static semid_status ensure_work(semid_prefix_share *m, int64_t rows) {
    if (m->work && m->work->cap >= rows) return SEMID_OK;
    work_free(m->work);
    m->work = NULL;
    return work_alloc(m, rows, &m->work);
}

semid_status semid_prefix_share_loss_grad(semid_prefix_share *m, const semid_matrix *search, const semid_matrix *rec,
                                          const int32_t *fixed_shared, const int32_t *fixed_task[2],
                                          int32_t *shared_out, int32_t *task_out[2],
                                          semid_prefix_share_terms *terms) {
    SEMID_TRY(check_pair(m, search, rec));
    int64_t B = search->rows, Ls = m->cfg.shared_levels, Lt = m->cfg.task_levels;
    SEMID_TRY(ensure_work(m, B));
    semid_prefix_work *w = m->work;
    gather(m, w, search, rec, NULL, 0, B);
    bool fixed = fixed_shared && fixed_task && fixed_task[0] && fixed_task[1];
    if (fixed) {
        memcpy(w->codes_s, fixed_shared, sizeof(int32_t) * (size_t)(B * Ls));
        for (int t = 0; t < 2; t++) memcpy(w->codes_t[t], fixed_task[t], sizeof(int32_t) * (size_t)(B * Lt));
    }
    SEMID_TRY(batch_loss_grad(m, w, B, !fixed, terms));
    if (shared_out) memcpy(shared_out, w->codes_s, sizeof(int32_t) * (size_t)(B * Ls));
    for (int t = 0; t < 2 && task_out; t++)
        if (task_out[t]) memcpy(task_out[t], w->codes_t[t], sizeof(int32_t) * (size_t)(B * Lt));
    return SEMID_OK;
}

/* Codes (and decoded vectors when outputs are given) of all rows, in blocks. */
static semid_status encode_rows(const semid_prefix_share *m, const semid_matrix *S, const semid_matrix *R,
                                int32_t *shared, int32_t *task[2], float *out[2]) {
    int64_t n = S->rows, Ls = m->cfg.shared_levels, Lt = m->cfg.task_levels;
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_prefix_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    semid_status st = SEMID_OK;
    for (int64_t s0 = 0; s0 < n && st == SEMID_OK; s0 += block) {
        int64_t B = n - s0 < block ? n - s0 : block;
        gather(m, w, S, R, NULL, s0, B);
        st = forward_codes(m, w, B, true);
        if (st != SEMID_OK) break;
        memcpy(shared + s0 * Ls, w->codes_s, sizeof(int32_t) * (size_t)(B * Ls));
        for (int t = 0; t < 2; t++) {
            if (task[t]) memcpy(task[t] + s0 * Lt, w->codes_t[t], sizeof(int32_t) * (size_t)(B * Lt));
            if (out && out[t]) {
                const float *xhat = semid_mlp_forward(&m->dec[t], m->params, &w->dec[t], w->h[t], B);
                memcpy(out[t] + s0 * m->dim[t], xhat, sizeof(float) * (size_t)(B * m->dim[t]));
            }
        }
    }
    work_free(w);
    return st;
}

semid_status semid_prefix_share_encode(const semid_prefix_share *m, const semid_matrix *search,
                                       const semid_matrix *rec, int32_t *shared, int32_t *search_code,
                                       int32_t *rec_code) {
    SEMID_TRY(check_pair(m, search, rec));
    SEMID_TRY(semid_quant_check_input(search->data, search->rows, search->cols, 0, "prefix-share encode (search)"));
    SEMID_TRY(semid_quant_check_input(rec->data, rec->rows, rec->cols, 0, "prefix-share encode (rec)"));
    int32_t *task[2] = {search_code, rec_code};
    return encode_rows(m, search, rec, shared, task, NULL);
}

semid_status semid_prefix_share_decode(const semid_prefix_share *m, const int32_t *shared, const int32_t *search_code,
                                       const int32_t *rec_code, int64_t n, float *search_out, float *rec_out) {
    const semid_prefix_share_config *c = &m->cfg;
    int64_t d = c->latent_dim, Ls = c->shared_levels, Lt = c->task_levels;
    const int32_t *task[2] = {search_code, rec_code};
    float *out[2] = {search_out, rec_out};
    for (int64_t i = 0; i < n * Ls; i++)
        if (shared[i] < 0 || shared[i] >= c->shared_size)
            return semid_fail(SEMID_EINVAL, "prefix-share: shared code %d of item %lld is outside 0..%d", shared[i],
                              (long long)(i / Ls), c->shared_size - 1);
    for (int t = 0; t < 2; t++)
        for (int64_t i = 0; out[t] && i < n * Lt; i++)
            if (task[t][i] < 0 || task[t][i] >= c->task_size)
                return semid_fail(SEMID_EINVAL, "prefix-share: task code %d of item %lld is outside 0..%d", task[t][i],
                                  (long long)(i / Lt), c->task_size - 1);
    int64_t block = n < ENCODE_BLOCK ? n : ENCODE_BLOCK;
    semid_prefix_work *w;
    SEMID_TRY(work_alloc(m, block > 0 ? block : 1, &w));
    for (int64_t s0 = 0; s0 < n; s0 += block) {
        int64_t B = n - s0 < block ? n - s0 : block;
        for (int t = 0; t < 2; t++) {
            if (!out[t]) continue;
            float *h = w->h[t];
            memset(h, 0, sizeof(float) * (size_t)(B * d));
            for (int64_t b = 0; b < B; b++) {
                for (int64_t l = 0; l < Ls; l++) {
                    const float *e = m->params + m->cs_off + (l * c->shared_size + shared[(s0 + b) * Ls + l]) * d;
                    for (int64_t j = 0; j < d; j++) h[b * d + j] += e[j];
                }
                for (int64_t l = 0; l < Lt; l++) {
                    const float *e = m->params + m->ct_off[t] + (l * c->task_size + task[t][(s0 + b) * Lt + l]) * d;
                    for (int64_t j = 0; j < d; j++) h[b * d + j] += e[j];
                }
            }
            const float *xhat = semid_mlp_forward(&m->dec[t], m->params, &w->dec[t], h, B);
            memcpy(out[t] + s0 * m->dim[t], xhat, sizeof(float) * (size_t)(B * m->dim[t]));
        }
    }
    work_free(w);
    return SEMID_OK;
}

/* Shared codebooks by k-means on a sample's latents, then each task's on
 * the projected residuals the shared codes leave. */
static semid_status init_codebooks(semid_prefix_share *m, const semid_matrix *S, const semid_matrix *R, semid_rng *rng) {
    const semid_prefix_share_config *c = &m->cfg;
    int64_t N = S->rows, d = c->latent_dim;
    int64_t K = c->shared_size > c->task_size ? c->shared_size : c->task_size;
    int64_t want = 16 * K > c->batch_size ? 16 * K : c->batch_size;
    int64_t n = N < want ? N : want;
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
    semid_prefix_work *w = NULL;
    semid_status st = !perm ? semid_fail(SEMID_ENOMEM, "out of memory for the prefix-share init sample")
                            : work_alloc(m, n, &w);
    if (st == SEMID_OK) {
        for (int64_t i = 0; i < N; i++) perm[i] = i;
        semid_rng_shuffle_i64(rng, perm, (size_t)N);
        gather(m, w, S, R, perm, 0, n);
        const float *z = semid_mlp_forward(&m->enc, m->params, &w->enc, w->x, n);
        st = semid_rvq_init_kmeans(m->params + m->cs_off, c->shared_levels, c->shared_size, d, z, n, c->seed);
        if (st == SEMID_OK) st = forward_codes(m, w, n, true); /* u_t under the new shared codebooks */
        for (int t = 0; t < 2 && st == SEMID_OK; t++)
            st = semid_rvq_init_kmeans(m->params + m->ct_off[t], c->task_levels, c->task_size, d, w->u[t], n,
                                       c->seed + 1000003u * (uint64_t)(t + 1));
    }
    work_free(w);
    free(perm);
    return st;
}

/* The state of the shared training loop's callbacks. */
typedef struct train_ctx {
    semid_prefix_share *m;
    const semid_matrix *S, *R;
    int64_t *cnt_s, *cnt_t[2]; /* code uses this epoch: shared (Ls, Ks), per task (Lt, Kt) */
    int64_t last_B;            /* rows of the last batch, whose residuals seed dead codes */
    semid_prefix_share_report *rep;
} train_ctx;

static semid_status train_batch(void *ctx, const int64_t *rows, int64_t nb, double *loss) {
    train_ctx *x = ctx;
    semid_prefix_share *m = x->m;
    const semid_prefix_share_config *c = &m->cfg;
    semid_prefix_work *w = m->work;
    gather(m, w, x->S, x->R, rows, 0, nb);
    semid_prefix_share_terms t;
    SEMID_TRY(batch_loss_grad(m, w, nb, true, &t));
    semid_vq_count(x->cnt_s, w->codes_s, nb, c->shared_levels, c->shared_size);
    for (int k = 0; k < 2; k++) semid_vq_count(x->cnt_t[k], w->codes_t[k], nb, c->task_levels, c->task_size);
    x->last_B = nb;
    *loss = t.total;
    return SEMID_OK;
}

static void train_epoch_start(void *ctx) {
    train_ctx *x = ctx;
    const semid_prefix_share_config *c = &x->m->cfg;
    memset(x->cnt_s, 0, sizeof(int64_t) * (size_t)(c->shared_levels * c->shared_size));
    for (int t = 0; t < 2; t++) memset(x->cnt_t[t], 0, sizeof(int64_t) * (size_t)(c->task_levels * c->task_size));
}

static void train_epoch_end(void *ctx, semid_adamw *opt, semid_rng *rng) {
    train_ctx *x = ctx;
    semid_prefix_share *m = x->m;
    const semid_prefix_share_config *c = &m->cfg;
    if (!c->reset_dead) return;
    semid_prefix_work *w = m->work;
    int64_t d = c->latent_dim;
    int64_t n = semid_rvq_reset_dead(m->params, m->cs_off, c->shared_levels, c->shared_size, d, x->cnt_s, w->resid_s,
                                     x->last_B, rng, opt);
    for (int t = 0; t < 2; t++)
        n += semid_rvq_reset_dead(m->params, m->ct_off[t], c->task_levels, c->task_size, d, x->cnt_t[t],
                                  w->resid_t[t], x->last_B, rng, opt);
    if (x->rep) x->rep->dead_resets += n;
}

static semid_status train(semid_prefix_share *m, const semid_matrix *S, const semid_matrix *R,
                          semid_prefix_share_report *rep) {
    const semid_prefix_share_config *c = &m->cfg;
    int64_t N = S->rows;
    semid_rng rng;
    semid_rng_seed(&rng, c->seed ^ 0x9e3779b97f4a7c15ULL);
    train_ctx x = {.m = m, .S = S, .R = R, .rep = rep};
    x.cnt_s = calloc((size_t)(c->shared_levels * c->shared_size), sizeof(int64_t));
    for (int t = 0; t < 2; t++) x.cnt_t[t] = calloc((size_t)(c->task_levels * c->task_size), sizeof(int64_t));
    semid_status st = (!x.cnt_s || !x.cnt_t[0] || !x.cnt_t[1])
                          ? semid_fail(SEMID_ENOMEM, "out of memory for prefix-share training")
                          : ensure_work(m, c->batch_size < N ? c->batch_size : N);
    if (st == SEMID_OK && c->kmeans_init) st = init_codebooks(m, S, R, &rng);
    semid_qtrain t = {.name = "prefix-share", .ctx = &x, .params = m->params, .grads = m->grads,
                      .decay_mask = m->decay_mask, .n_params = m->n_params, .n_rows = N,
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
    free(x.cnt_s);
    free(x.cnt_t[0]);
    free(x.cnt_t[1]);
    return st;
}

static semid_status used_share(const int32_t *codes, int64_t n, int64_t stride, int64_t K, double *share) {
    uint8_t *seen = calloc((size_t)K, 1);
    if (!seen) return semid_fail(SEMID_ENOMEM, "out of memory");
    int64_t used = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t c = codes[i * stride];
        used += !seen[c];
        seen[c] = 1;
    }
    free(seen);
    *share = (double)used / (double)K;
    return SEMID_OK;
}

semid_status semid_prefix_share_fit(const semid_matrix *search, const semid_matrix *rec,
                                    const semid_prefix_share_config *cfg, semid_prefix_share **out,
                                    semid_prefix_share_report *report) {
    *out = NULL;
    double t0 = semid_now();
    SEMID_TRY(check_config(cfg));
    int64_t K = cfg->shared_size > cfg->task_size ? cfg->shared_size : cfg->task_size;
    SEMID_TRY(semid_quant_check_input(search->data, search->rows, search->cols, K, "prefix-share (search vectors)"));
    SEMID_TRY(semid_quant_check_input(rec->data, rec->rows, rec->cols, K, "prefix-share (rec vectors)"));
    if (search->rows != rec->rows)
        return semid_fail(SEMID_EINVAL, "prefix-share: %lld search rows but %lld rec rows (one row per item in both)",
                          (long long)search->rows, (long long)rec->rows);
    semid_prefix_share *m;
    SEMID_TRY(semid_prefix_share_create(search->cols, rec->cols, cfg, &m));
    semid_prefix_share_report rep;
    memset(&rep, 0, sizeof rep);
    semid_status st = train(m, search, rec, &rep);
    int64_t N = search->rows, Ls = cfg->shared_levels, Lt = cfg->task_levels;
    int32_t *shared = malloc(sizeof(int32_t) * (size_t)(N * Ls));
    int32_t *task[2] = {malloc(sizeof(int32_t) * (size_t)(N * Lt)), malloc(sizeof(int32_t) * (size_t)(N * Lt))};
    float *dec[2] = {malloc(sizeof(float) * (size_t)(N * search->cols)), malloc(sizeof(float) * (size_t)(N * rec->cols))};
    if (st == SEMID_OK && (!shared || !task[0] || !task[1] || !dec[0] || !dec[1]))
        st = semid_fail(SEMID_ENOMEM, "out of memory evaluating the prefix-share quantizer");
    if (st == SEMID_OK) st = encode_rows(m, search, rec, shared, task, dec);
    if (st == SEMID_OK) {
        const semid_matrix *X[2] = {search, rec};
        for (int t = 0; t < 2 && st == SEMID_OK; t++) {
            rep.recon_mse[t] = semid_quant_mse(dec[t], X[t]->data, N, X[t]->cols);
            rep.data_variance[t] = semid_quant_variance(X[t]->data, N, X[t]->cols);
            st = used_share(task[t], N, Lt, cfg->task_size, &rep.task_used_share[t]);
        }
        if (st == SEMID_OK) st = used_share(shared, N, Ls, cfg->shared_size, &rep.shared_used_share);
    }
    free(shared);
    for (int t = 0; t < 2; t++) {
        free(task[t]);
        free(dec[t]);
    }
    if (st != SEMID_OK) {
        semid_prefix_share_free(m);
        return st;
    }
    work_free(m->work);
    m->work = NULL;
    rep.seconds = semid_now() - t0;
    if (cfg->verbose)
        SEMID_INFO("prefix-share: recon MSE search %.6g (variance %.6g), rec %.6g (variance %.6g), shared codes used %.1f%%, %.1fs",
                   rep.recon_mse[0], rep.data_variance[0], rep.recon_mse[1], rep.data_variance[1],
                   100.0 * rep.shared_used_share, rep.seconds);
    if (report) *report = rep;
    *out = m;
    return SEMID_OK;
}

/* ------------------------------------------------------------------------
 * Files. Payload: u32 version | u32 Ds, Dr, d, H, n_hidden, Ls, Lt, K_s,
 * K_t, act | f32 beta, codebook_weight, recon_weight | u32 n_params | f32 params. */

static semid_status psq_write(const void *model, FILE *fp) {
    const semid_prefix_share *m = model;
    const semid_prefix_share_config *c = &m->cfg;
    uint32_t v[11] = {PSQ_VERSION,          (uint32_t)m->dim[0],        (uint32_t)m->dim[1],
                      (uint32_t)c->latent_dim, (uint32_t)c->hidden_dim, (uint32_t)c->n_hidden,
                      (uint32_t)c->shared_levels, (uint32_t)c->task_levels, (uint32_t)c->shared_size,
                      (uint32_t)c->task_size, (uint32_t)c->act};
    for (int i = 0; i < 11; i++) SEMID_TRY(semid_tok_write_u32(fp, v[i]));
    float f[3] = {c->beta, c->codebook_weight, c->recon_weight};
    SEMID_TRY(semid_tok_write_f32s(fp, f, 3));
    return semid_ae_params_write(fp, m->params, m->n_params);
}

static semid_status psq_read(semid_tok_reader *r, void **out) {
    *out = NULL;
    uint32_t v[11];
    static const char *names[11] = {"prefix-share version", "search width", "rec width", "latent width",
                                    "hidden width", "hidden layers", "shared levels", "task levels",
                                    "shared codebook size", "task codebook size", "activation"};
    for (int i = 0; i < 11; i++) SEMID_TRY(semid_tok_read_u32(r, &v[i], names[i]));
    if (v[0] != PSQ_VERSION)
        return semid_fail(SEMID_EFORMAT, "%s: prefix-share version %u is not supported (expected %d)", r->path, v[0],
                          PSQ_VERSION);
    if (v[10] > SEMID_ACT_SILU) return semid_fail(SEMID_EFORMAT, "%s: unknown activation %u", r->path, v[10]);
    for (int i = 1; i < 10; i++)
        if (v[i] > (1u << 24)) return semid_fail(SEMID_EFORMAT, "%s: implausible %s %u", r->path, names[i], v[i]);
    semid_prefix_share_config c = semid_prefix_share_defaults();
    c.latent_dim = (int32_t)v[3];
    c.hidden_dim = (int32_t)v[4];
    c.n_hidden = (int32_t)v[5];
    c.shared_levels = (int32_t)v[6];
    c.task_levels = (int32_t)v[7];
    c.shared_size = (int32_t)v[8];
    c.task_size = (int32_t)v[9];
    c.act = (semid_act)v[10];
    float f[3];
    SEMID_TRY(semid_tok_read_f32s(r, f, 3, "prefix-share loss weights"));
    c.beta = f[0];
    c.codebook_weight = f[1];
    c.recon_weight = f[2];
    /* The sizes' parameters against the bytes left (a u32 count, then the
     * floats), before allocating for them. */
    semid_prefix_share shape = {0};
    if (layout(&shape, (int64_t)v[1], (int64_t)v[2], &c) != SEMID_OK)
        return semid_fail_context(SEMID_EFORMAT, "%s", r->path);
    SEMID_TRY(semid_ae_params_check_room(r, shape.n_params, "prefix-share"));
    semid_prefix_share *m;
    semid_status cst = semid_prefix_share_create((int64_t)v[1], (int64_t)v[2], &c, &m);
    if (cst != SEMID_OK) return semid_fail_context(cst == SEMID_ENOMEM ? cst : SEMID_EFORMAT, "%s", r->path);
    semid_status st = semid_ae_params_read(r, m->params, m->n_params, "prefix-share");
    if (st != SEMID_OK) {
        semid_prefix_share_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

static void psq_free(void *m) { semid_prefix_share_free((semid_prefix_share *)m); }

semid_status semid_prefix_share_save(const semid_prefix_share *m, const char *path) {
    return semid_quant_save_file(path, PSQ_MAGIC, m, psq_write);
}

semid_status semid_prefix_share_load(const char *path, semid_prefix_share **out) {
    void *m;
    semid_status st = semid_quant_load_file(path, PSQ_MAGIC, &m, psq_read, psq_free);
    *out = (semid_prefix_share *)m;
    return st;
}

semid_status semid_prefix_share_tokenize(const semid_matrix *S, const semid_matrix *R,
                                         const semid_tokenizer_config *tc, semid_prefix_share_codes *out) {
    memset(out, 0, sizeof *out);
    semid_prefix_share_config c =
        tc->method_config ? *(const semid_prefix_share_config *)tc->method_config : semid_prefix_share_defaults();
    if (tc->levels < c.shared_levels + 1)
        return semid_fail(SEMID_EINVAL, "prefix-share: %d levels leave no task level after %d shared ones",
                          tc->levels, c.shared_levels);
    c.task_levels = tc->levels - c.shared_levels;
    c.shared_size = c.task_size = tc->codebook_size;
    c.seed = tc->seed;
    if (tc->iters > 0) c.epochs = tc->iters;
    if (tc->max_steps > 0) c.max_steps = tc->max_steps;
    if (tc->learning_rate > 0.0f) c.lr = tc->learning_rate;
    if (tc->batch_size > 0) c.batch_size = tc->batch_size;
    if (tc->verbose) c.verbose = 1;
    semid_prefix_share *m;
    SEMID_TRY(semid_prefix_share_fit(S, R, &c, &m, NULL));
    int64_t N = S->rows, Ls = c.shared_levels, Lt = c.task_levels, L = Ls + Lt;
    int32_t *shared = malloc(sizeof(int32_t) * (size_t)(N * Ls));
    int32_t *task[2] = {malloc(sizeof(int32_t) * (size_t)(N * Lt)), malloc(sizeof(int32_t) * (size_t)(N * Lt))};
    out->level_size = malloc(sizeof(int32_t) * (size_t)L);
    out->codes[0] = malloc(sizeof(int32_t) * (size_t)(N * L));
    out->codes[1] = malloc(sizeof(int32_t) * (size_t)(N * L));
    semid_status st = SEMID_OK;
    if (!shared || !task[0] || !task[1] || !out->level_size || !out->codes[0] || !out->codes[1])
        st = semid_fail(SEMID_ENOMEM, "out of memory for the prefix-share codes of %lld items", (long long)N);
    if (st == SEMID_OK) st = semid_prefix_share_encode(m, S, R, shared, task[0], task[1]);
    if (st == SEMID_OK) {
        out->n_items = (int32_t)N;
        out->shared_levels = (int32_t)Ls;
        out->task_levels = (int32_t)Lt;
        for (int64_t l = 0; l < L; l++) out->level_size[l] = l < Ls ? c.shared_size : c.task_size;
        for (int t = 0; t < 2; t++)
            for (int64_t i = 0; i < N; i++) {
                for (int64_t l = 0; l < Ls; l++) out->codes[t][i * L + l] = shared[i * Ls + l];
                for (int64_t l = 0; l < Lt; l++) out->codes[t][i * L + Ls + l] = task[t][i * Lt + l];
            }
    }
    free(shared);
    free(task[0]);
    free(task[1]);
    semid_prefix_share_free(m);
    if (st != SEMID_OK) semid_prefix_share_codes_free(out);
    return st;
}
