/* Incremental decoding: each row keeps the keys and values of the tokens it
 * has seen, so a new token costs one pass over the layers for that token
 * only. The big products run as GEMMs over all rows of a step; attention runs
 * per (row, head) over that row's own cached positions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "gen/layers.h"
#include "gen/model.h"
#include "gen/model_impl.h"

struct semid_gpt_cache {
    int32_t rows, tmax, L, C, NH;
    int32_t *len;     /* (rows) tokens cached per row */
    float *k, *v;     /* (L, rows, Tmax, C) */
    float *save_k, *save_v; /* same shape, allocated at the first gather */
    int32_t *save_len;
    uint8_t *flags;         /* (rows) gather bookkeeping */
    /* scratch for up to `cap` tokens in one call */
    int64_t cap;
    int32_t *ent_row, *ent_pos;
    float *x;    /* (cap, C) residual stream */
    float *ln;   /* (cap, C) */
    float *qkv;  /* (cap, 3C) */
    float *atty; /* (cap, C) */
    float *tmp;  /* (cap, C) */
    float *fch;  /* (cap, 4C) */
    float *fchg; /* (cap, 4C) */
    float *att;  /* (cap, NH, Tmax) */
};

void semid_gpt_cache_free(semid_gpt_cache *c) {
    if (!c) return;
    free(c->len);
    free(c->k);
    free(c->v);
    free(c->save_k);
    free(c->save_v);
    free(c->save_len);
    free(c->flags);
    free(c->ent_row);
    free(c->ent_pos);
    free(c->x);
    free(c->ln);
    free(c->qkv);
    free(c->atty);
    free(c->tmp);
    free(c->fch);
    free(c->fchg);
    free(c->att);
    free(c);
}

semid_status semid_gpt_cache_create(const semid_gpt *m, int32_t rows, semid_gpt_cache **out) {
    *out = NULL;
    if (rows <= 0) return semid_fail(SEMID_EINVAL, "gpt cache: rows %d must be positive", rows);
    semid_gpt_cache *c = calloc(1, sizeof *c);
    if (!c) return semid_fail(SEMID_ENOMEM, "out of memory for a decoding cache");
    const semid_gpt_config *cfg = &m->cfg;
    c->rows = rows;
    c->tmax = cfg->max_seq_len;
    c->L = cfg->n_layer;
    c->C = cfg->d_model;
    c->NH = cfg->n_head;
    c->cap = rows > c->tmax ? rows : c->tmax;
    size_t kv = (size_t)c->L * (size_t)rows * (size_t)c->tmax * (size_t)c->C;
    size_t cap = (size_t)c->cap, C = (size_t)c->C;
    c->len = calloc((size_t)rows, sizeof(int32_t));
    c->flags = calloc((size_t)rows, 1);
    c->k = malloc(kv * sizeof(float));
    c->v = malloc(kv * sizeof(float));
    c->ent_row = malloc(cap * sizeof(int32_t));
    c->ent_pos = malloc(cap * sizeof(int32_t));
    c->x = malloc(cap * C * sizeof(float));
    c->ln = malloc(cap * C * sizeof(float));
    c->qkv = malloc(cap * 3 * C * sizeof(float));
    c->atty = malloc(cap * C * sizeof(float));
    c->tmp = malloc(cap * C * sizeof(float));
    c->fch = malloc(cap * 4 * C * sizeof(float));
    c->fchg = malloc(cap * 4 * C * sizeof(float));
    c->att = malloc(cap * (size_t)c->NH * (size_t)c->tmax * sizeof(float));
    if (!c->len || !c->flags || !c->k || !c->v || !c->ent_row || !c->ent_pos || !c->x || !c->ln || !c->qkv ||
        !c->atty || !c->tmp || !c->fch || !c->fchg || !c->att) {
        semid_gpt_cache_free(c);
        return semid_fail(SEMID_ENOMEM, "out of memory for a decoding cache of %d rows x %d positions", rows,
                          cfg->max_seq_len);
    }
    *out = c;
    return SEMID_OK;
}

int32_t semid_gpt_cache_rows(const semid_gpt_cache *c) { return c->rows; }

void semid_gpt_cache_reset(semid_gpt_cache *c, int32_t row) {
    SEMID_ASSERT(row >= 0 && row < c->rows);
    c->len[row] = 0;
}

int32_t semid_gpt_cache_length(const semid_gpt_cache *c, int32_t row) {
    SEMID_ASSERT(row >= 0 && row < c->rows);
    return c->len[row];
}

static float *cache_at(const semid_gpt_cache *c, float *base, int64_t l, int64_t row, int64_t pos) {
    return base + ((l * c->rows + row) * c->tmax + pos) * c->C;
}

/* Runs n entries (token at (row, position)) through the model, storing their
 * keys and values; entries see their row's cache up to their own position,
 * so several entries of one row (a prompt) attend causally. Writes logits
 * [lo, hi) for the last `n_out` entries into logits (n_out, hi - lo). */
static void cache_run(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int64_t n, int64_t n_out,
                      int32_t lo, int32_t hi, float *logits) {
    const semid_gpt_weights *p = &m->p;
    int64_t C = c->C, NH = c->NH, hs = C / NH, L = c->L, Tm = c->tmax;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (n * C >= SEMID_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        const float *e = p->wte + (int64_t)tokens[i] * C, *ps = p->wpe + (int64_t)c->ent_pos[i] * C;
        float *x = c->x + i * C;
        for (int64_t j = 0; j < C; j++) x[j] = e[j] + ps[j];
    }
    for (int64_t l = 0; l < L; l++) {
        semid_layernorm_forward(c->ln, NULL, NULL, c->x, p->ln1w + l * C, p->ln1b + l * C, n, C);
        semid_matmul_forward(c->qkv, c->ln, p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C, n, C, 3 * C);
#pragma omp parallel for schedule(static) if (n * C >= SEMID_PAR_MIN_WORK)
        for (int64_t i = 0; i < n; i++) {
            const float *q = c->qkv + i * 3 * C;
            memcpy(cache_at(c, c->k, l, c->ent_row[i], c->ent_pos[i]), q + C, (size_t)C * sizeof(float));
            memcpy(cache_at(c, c->v, l, c->ent_row[i], c->ent_pos[i]), q + 2 * C, (size_t)C * sizeof(float));
        }
#pragma omp parallel for schedule(static) if (n * Tm * C >= SEMID_PAR_MIN_WORK)
        for (int64_t ih = 0; ih < n * NH; ih++) {
            int64_t i = ih / NH, h = ih % NH, row = c->ent_row[i], pos = c->ent_pos[i];
            const float *q = c->qkv + i * 3 * C + h * hs;
            const float *kbase = cache_at(c, c->k, l, row, 0) + h * hs;
            const float *vbase = cache_at(c, c->v, l, row, 0) + h * hs;
            float *a = c->att + ih * Tm;
            float maxv = -INFINITY;
            for (int64_t t = 0; t <= pos; t++) {
                const float *k = kbase + t * C;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int64_t j = 0; j < hs; j++) s += q[j] * k[j];
                s *= scale;
                a[t] = s;
                if (s > maxv) maxv = s;
            }
            float sum = 0.0f;
            for (int64_t t = 0; t <= pos; t++) {
                a[t] = semid_fast_expf(a[t] - maxv);
                sum += a[t];
            }
            float inv = 1.0f / sum;
            float *o = c->atty + i * C + h * hs;
            for (int64_t j = 0; j < hs; j++) o[j] = 0.0f;
            for (int64_t t = 0; t <= pos; t++) {
                const float *v = vbase + t * C;
                float w = a[t] * inv;
                for (int64_t j = 0; j < hs; j++) o[j] += w * v[j];
            }
        }
        semid_matmul_forward(c->tmp, c->atty, p->attprojw + l * C * C, p->attprojb + l * C, n, C, C);
        semid_residual_forward(c->x, c->x, c->tmp, n * C);
        semid_layernorm_forward(c->ln, NULL, NULL, c->x, p->ln2w + l * C, p->ln2b + l * C, n, C);
        semid_matmul_forward(c->fch, c->ln, p->fcw + l * 4 * C * C, p->fcb + l * 4 * C, n, C, 4 * C);
        semid_gelu_forward(c->fchg, c->fch, n * 4 * C);
        semid_matmul_forward(c->tmp, c->fchg, p->fcprojw + l * C * 4 * C, p->fcprojb + l * C, n, 4 * C, C);
        semid_residual_forward(c->x, c->x, c->tmp, n * C);
    }
    const float *xo = c->x + (n - n_out) * C;
    semid_layernorm_forward(c->ln, NULL, NULL, xo, p->lnfw, p->lnfb, n_out, C);
    semid_tied_logits_forward(logits, c->ln, p->wte + (int64_t)lo * C, n_out, C, hi - lo);
}

static semid_status check_tokens(const semid_gpt *m, const int32_t *tokens, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return semid_fail(SEMID_EINVAL, "gpt decode: token %d is outside [0, %d)", tokens[i], m->cfg.vocab_size);
    return SEMID_OK;
}

static semid_status check_range(const semid_gpt *m, int32_t lo, int32_t hi) {
    if (lo < 0 || hi > m->cfg.vocab_size || lo >= hi)
        return semid_fail(SEMID_EINVAL, "gpt decode: logit range [%d, %d) is not inside [0, %d)", lo, hi,
                          m->cfg.vocab_size);
    return SEMID_OK;
}

semid_status semid_gpt_cache_prefill_range(const semid_gpt *m, semid_gpt_cache *c, int32_t row, const int32_t *tokens,
                                           int32_t n, int32_t vocab_lo, int32_t vocab_hi, float *logits) {
    if (row < 0 || row >= c->rows) return semid_fail(SEMID_EINVAL, "gpt prefill: row %d outside [0, %d)", row, c->rows);
    if (n <= 0 || c->len[row] + n > c->tmax)
        return semid_fail(SEMID_EINVAL, "gpt prefill: %d tokens after %d cached exceed the maximum length %d", n,
                          c->len[row], c->tmax);
    SEMID_TRY(check_tokens(m, tokens, n));
    SEMID_TRY(check_range(m, vocab_lo, vocab_hi));
    for (int32_t i = 0; i < n; i++) {
        c->ent_row[i] = row;
        c->ent_pos[i] = c->len[row] + i;
    }
    cache_run(m, c, tokens, n, 1, vocab_lo, vocab_hi, logits);
    c->len[row] += n;
    return SEMID_OK;
}

semid_status semid_gpt_cache_prefill(const semid_gpt *m, semid_gpt_cache *c, int32_t row, const int32_t *tokens,
                                     int32_t n, float *logits) {
    return semid_gpt_cache_prefill_range(m, c, row, tokens, n, 0, m->cfg.vocab_size, logits);
}

semid_status semid_gpt_cache_step_range(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                        int32_t vocab_lo, int32_t vocab_hi, float *logits) {
    if (n_rows <= 0 || n_rows > c->rows)
        return semid_fail(SEMID_EINVAL, "gpt step: %d rows, the cache has %d", n_rows, c->rows);
    SEMID_TRY(check_tokens(m, tokens, n_rows));
    SEMID_TRY(check_range(m, vocab_lo, vocab_hi));
    for (int32_t r = 0; r < n_rows; r++) {
        if (c->len[r] >= c->tmax)
            return semid_fail(SEMID_EINVAL, "gpt step: row %d already holds the maximum length %d", r, c->tmax);
        c->ent_row[r] = r;
        c->ent_pos[r] = c->len[r];
    }
    cache_run(m, c, tokens, n_rows, n_rows, vocab_lo, vocab_hi, logits);
    for (int32_t r = 0; r < n_rows; r++) c->len[r]++;
    return SEMID_OK;
}

semid_status semid_gpt_cache_step(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                  float *logits) {
    return semid_gpt_cache_step_range(m, c, tokens, n_rows, 0, m->cfg.vocab_size, logits);
}

static void copy_row(const semid_gpt_cache *c, float *dk, float *dv, const float *sk, const float *sv, int64_t dst,
                     int64_t src, int64_t len) {
    size_t bytes = (size_t)len * (size_t)c->C * sizeof(float);
    for (int64_t l = 0; l < c->L; l++) {
        memcpy(cache_at(c, dk, l, dst, 0), cache_at(c, (float *)sk, l, src, 0), bytes);
        memcpy(cache_at(c, dv, l, dst, 0), cache_at(c, (float *)sv, l, src, 0), bytes);
    }
}

semid_status semid_gpt_cache_gather(semid_gpt_cache *c, const int32_t *src, int32_t n) {
    if (n < 0 || n > c->rows) return semid_fail(SEMID_EINVAL, "gpt gather: %d rows, the cache has %d", n, c->rows);
    for (int32_t i = 0; i < n; i++)
        if (src[i] < 0 || src[i] >= c->rows)
            return semid_fail(SEMID_EINVAL, "gpt gather: source row %d outside [0, %d)", src[i], c->rows);
    if (!c->save_k) {
        size_t kv = (size_t)c->L * (size_t)c->rows * (size_t)c->tmax * (size_t)c->C;
        c->save_k = malloc(kv * sizeof(float));
        c->save_v = malloc(kv * sizeof(float));
        c->save_len = malloc((size_t)c->rows * sizeof(int32_t));
        if (!c->save_k || !c->save_v || !c->save_len) {
            free(c->save_k);
            free(c->save_v);
            free(c->save_len);
            c->save_k = c->save_v = NULL;
            c->save_len = NULL;
            return semid_fail(SEMID_ENOMEM, "out of memory for reordering the decoding cache");
        }
    }
    /* Rows that get overwritten but are also read elsewhere are saved first;
     * rows that keep their content are not copied at all. */
    memcpy(c->save_len, c->len, (size_t)c->rows * sizeof(int32_t));
    /* flags: 1 = row gets overwritten, 2 = its old content must be saved */
    uint8_t *flag = c->flags;
    memset(flag, 0, (size_t)c->rows);
    for (int32_t i = 0; i < n; i++)
        if (src[i] != i) flag[i] |= 1;
    for (int32_t i = 0; i < n; i++)
        if (src[i] != i && (flag[src[i]] & 1)) flag[src[i]] |= 2;
#pragma omp parallel for schedule(dynamic, 4) if (n >= 8)
    for (int32_t r = 0; r < c->rows; r++)
        if (flag[r] & 2) copy_row(c, c->save_k, c->save_v, c->k, c->v, r, r, c->save_len[r]);
#pragma omp parallel for schedule(dynamic, 4) if (n >= 8)
    for (int32_t i = 0; i < n; i++) {
        int32_t s = src[i];
        if (s == i) continue;
        if (flag[s] & 2)
            copy_row(c, c->k, c->v, c->save_k, c->save_v, i, s, c->save_len[s]);
        else
            copy_row(c, c->k, c->v, c->k, c->v, i, s, c->save_len[s]);
    }
    for (int32_t i = 0; i < n; i++) c->len[i] = c->save_len[src[i]];
    return SEMID_OK;
}
