/* Incremental decoding for beam search. A query's prompt is run once into a
 * prompt slot; its beams are rows that attend to that slot's keys and values
 * and keep only the few tokens they added themselves (the suffix). The big
 * products run as GEMMs over all tokens of a call; attention runs per
 * (token, head) over the token's prompt and, for a beam, its suffix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "gen/layers.h"
#include "gen/model.h"
#include "gen/model_impl.h"

/* Attention kernels work on BLOCK floats at a time, held in registers. */
enum { BLOCK = 16 };

/* What each beam row holds of its own: the prompt it continues and its
 * suffix's keys and values. */
typedef struct beam_rows {
    int32_t *slot; /* (rows) prompt slot, -1 = unattached */
    int32_t *len;  /* (rows) suffix tokens */
    float *k, *v;  /* (L, rows, smax, C) */
} beam_rows;

struct semid_gpt_cache {
    int32_t n_prompts, rows, smax, tmax, L, C, NH;
    int32_t *prompt_len; /* (n_prompts) */
    int32_t tpad;        /* Tmax rounded up to a whole BLOCK */
    float *pk;           /* (L, n_prompts, C, tpad): keys transposed, so a query's scores
                            against all positions are vector loops */
    float *pv;           /* (L, n_prompts, Tmax, C) */
    beam_rows cur;   /* the rows' state */
    beam_rows spare; /* written by a gather, then swapped in */
    /* per call: which token each entry is; entries of a prompt have row -1 */
    int64_t cap;
    int32_t *ent_slot, *ent_row, *ent_pos, *out_idx;
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
    void *bufs[] = {c->prompt_len, c->pk,      c->pv,      c->cur.slot, c->cur.len, c->cur.k,  c->cur.v,
                    c->spare.slot, c->spare.len, c->spare.k, c->spare.v, c->ent_slot, c->ent_row, c->ent_pos,
                    c->out_idx,    c->x,       c->ln,      c->qkv,      c->atty,     c->tmp,    c->fch,
                    c->fchg,       c->att};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(c);
}

semid_status semid_gpt_cache_create(const semid_gpt *m, int32_t n_prompts, int32_t rows, int32_t suffix_max,
                                    semid_gpt_cache **out) {
    *out = NULL;
    const semid_gpt_config *cfg = &m->cfg;
    if (n_prompts <= 0 || rows < 0 || suffix_max < 0 || suffix_max >= cfg->max_seq_len)
        return semid_fail(SEMID_EINVAL, "gpt cache: %d prompts, %d rows, suffix %d (context %d) are not a valid shape",
                          n_prompts, rows, suffix_max, cfg->max_seq_len);
    semid_gpt_cache *c = calloc(1, sizeof *c);
    if (!c) return semid_fail(SEMID_ENOMEM, "out of memory for a decoding cache");
    c->n_prompts = n_prompts;
    c->rows = rows;
    c->smax = suffix_max;
    c->tmax = cfg->max_seq_len;
    c->L = cfg->n_layer;
    c->C = cfg->d_model;
    c->NH = cfg->n_head;
    c->tpad = (c->tmax + BLOCK - 1) / BLOCK * BLOCK;
    int64_t prompt_tokens = (int64_t)n_prompts * c->tmax;
    c->cap = rows > prompt_tokens ? rows : prompt_tokens;
    size_t L = (size_t)c->L, C = (size_t)c->C, cap = (size_t)c->cap;
    size_t pkv = L * (size_t)prompt_tokens * C, skv = L * (size_t)rows * (size_t)suffix_max * C;
    size_t r1 = rows > 0 ? (size_t)rows : 1, s1 = skv > 0 ? skv : 1;
    c->prompt_len = calloc((size_t)n_prompts, sizeof(int32_t));
    c->pk = calloc(L * (size_t)n_prompts * C * (size_t)c->tpad, sizeof(float)); /* padding is read, never used */
    c->pv = malloc(pkv * sizeof(float));
    c->cur.slot = malloc(r1 * sizeof(int32_t));
    c->cur.len = calloc(r1, sizeof(int32_t));
    c->spare.slot = malloc(r1 * sizeof(int32_t));
    c->spare.len = malloc(r1 * sizeof(int32_t));
    c->cur.k = malloc(s1 * sizeof(float));
    c->cur.v = malloc(s1 * sizeof(float));
    c->spare.k = malloc(s1 * sizeof(float));
    c->spare.v = malloc(s1 * sizeof(float));
    c->ent_slot = malloc(cap * sizeof(int32_t));
    c->ent_row = malloc(cap * sizeof(int32_t));
    c->ent_pos = malloc(cap * sizeof(int32_t));
    c->out_idx = malloc(cap * sizeof(int32_t));
    c->x = malloc(cap * C * sizeof(float));
    c->ln = malloc(cap * C * sizeof(float));
    c->qkv = malloc(cap * 3 * C * sizeof(float));
    c->atty = malloc(cap * C * sizeof(float));
    c->tmp = malloc(cap * C * sizeof(float));
    c->fch = malloc(cap * 4 * C * sizeof(float));
    c->fchg = malloc(cap * 4 * C * sizeof(float));
    c->att = malloc(cap * (size_t)c->NH * (size_t)c->tmax * sizeof(float));
    if (!c->prompt_len || !c->pk || !c->pv || !c->cur.slot || !c->cur.len || !c->spare.slot || !c->spare.len ||
        !c->cur.k || !c->cur.v || !c->spare.k || !c->spare.v || !c->ent_slot || !c->ent_row || !c->ent_pos ||
        !c->out_idx || !c->x || !c->ln ||
        !c->qkv || !c->atty || !c->tmp || !c->fch || !c->fchg || !c->att) {
        semid_gpt_cache_free(c);
        return semid_fail(SEMID_ENOMEM, "out of memory for a decoding cache of %d prompts x %d positions and %d rows",
                          n_prompts, cfg->max_seq_len, rows);
    }
    for (int32_t r = 0; r < rows; r++) c->cur.slot[r] = -1;
    *out = c;
    return SEMID_OK;
}

int32_t semid_gpt_cache_length(const semid_gpt_cache *c, int32_t row) {
    SEMID_ASSERT(row >= 0 && row < c->rows);
    return c->cur.slot[row] < 0 ? 0 : c->prompt_len[c->cur.slot[row]] + c->cur.len[row];
}

static float *prompt_at(const semid_gpt_cache *c, float *base, int64_t l, int64_t slot, int64_t pos) {
    return base + ((l * c->n_prompts + slot) * c->tmax + pos) * c->C;
}

static float *prompt_keys(const semid_gpt_cache *c, int64_t l, int64_t slot) {
    return c->pk + (l * c->n_prompts + slot) * c->C * c->tpad;
}

static float *suffix_at(const semid_gpt_cache *c, float *base, int64_t l, int64_t row, int64_t pos) {
    return base + ((l * c->rows + row) * c->smax + pos) * c->C;
}

/* Stores entry i's key and value (in qkv) at layer l. */
static void store_kv(const semid_gpt_cache *c, int64_t l, int64_t i) {
    int64_t C = c->C;
    int32_t row = c->ent_row[i], slot = c->ent_slot[i], pos = c->ent_pos[i];
    const float *k = c->qkv + i * 3 * C + C, *v = c->qkv + i * 3 * C + 2 * C;
    if (row < 0) {
        float *kt = prompt_keys(c, l, slot);
        for (int64_t j = 0; j < C; j++) kt[j * c->tpad + pos] = k[j];
        memcpy(prompt_at(c, c->pv, l, slot, pos), v, (size_t)C * sizeof(float));
    } else {
        int32_t s = pos - c->prompt_len[slot];
        memcpy(suffix_at(c, c->cur.k, l, row, s), k, (size_t)C * sizeof(float));
        memcpy(suffix_at(c, c->cur.v, l, row, s), v, (size_t)C * sizeof(float));
    }
}

/* One head of one entry: softmax(q . keys) . values over the entry's prompt
 * positions (all of them for a beam, up to its own for a prompt token), then
 * over a beam's suffix up to its own position. */
static void attend(const semid_gpt_cache *c, int64_t l, int64_t i, int64_t h, float scale, float *a, float *o) {
    int64_t C = c->C, hs = C / c->NH;
    int32_t row = c->ent_row[i], slot = c->ent_slot[i], pos = c->ent_pos[i];
    int32_t np = row < 0 ? pos + 1 : c->prompt_len[slot], ns = row < 0 ? 0 : pos - c->prompt_len[slot] + 1;
    const float *q = c->qkv + i * 3 * C + h * hs;
    const float *pkt = prompt_keys(c, l, slot) + h * hs * c->tpad, *pv = prompt_at(c, c->pv, l, slot, 0) + h * hs;
    const float *sk = row < 0 ? NULL : suffix_at(c, c->cur.k, l, row, 0) + h * hs;
    const float *sv = row < 0 ? NULL : suffix_at(c, c->cur.v, l, row, 0) + h * hs;
    /* scores against the prompt, BLOCK positions at a time (padding included) */
    for (int64_t t0 = 0; t0 < np; t0 += BLOCK) {
        float acc[BLOCK] = {0};
        for (int64_t j = 0; j < hs; j++) {
            const float *kj = pkt + j * c->tpad + t0;
            float qj = q[j];
            for (int t = 0; t < BLOCK; t++) acc[t] = SEMID_MADD(qj, kj[t], acc[t]);
        }
        int64_t w = np - t0 < BLOCK ? np - t0 : BLOCK;
        for (int64_t t = 0; t < w; t++) a[t0 + t] = acc[t];
    }
    for (int64_t t = np; t < np + ns; t++) {
        const float *k = sk + (t - np) * C;
        float s = 0.0f;
        for (int64_t j = 0; j < hs; j++) s = SEMID_MADD(q[j], k[j], s);
        a[t] = s;
    }
    float maxv = -INFINITY;
    for (int64_t t = 0; t < np + ns; t++) {
        a[t] *= scale;
        if (a[t] > maxv) maxv = a[t];
    }
    float sum = 0.0f;
    for (int64_t t = 0; t < np + ns; t++) {
        a[t] = semid_fast_expf(a[t] - maxv);
        sum += a[t];
    }
    float inv = 1.0f / sum;
    for (int64_t t = 0; t < np + ns; t++) a[t] *= inv;
    /* weighted values, BLOCK channels at a time */
    int64_t j0 = 0;
    for (; j0 + BLOCK <= hs; j0 += BLOCK) {
        float acc[BLOCK] = {0};
        for (int64_t t = 0; t < np + ns; t++) {
            const float *v = (t < np ? pv + t * C : sv + (t - np) * C) + j0;
            float w = a[t];
            for (int j = 0; j < BLOCK; j++) acc[j] = SEMID_MADD(w, v[j], acc[j]);
        }
        memcpy(o + j0, acc, sizeof acc);
    }
    for (int64_t j = j0; j < hs; j++) {
        float acc = 0.0f;
        for (int64_t t = 0; t < np + ns; t++) acc = SEMID_MADD(a[t], (t < np ? pv + t * C : sv + (t - np) * C)[j], acc);
        o[j] = acc;
    }
}

/* Runs n entries (set up in ent_*) through the model, storing their keys and
 * values, and writes the logits [lo, hi) of the entries out_idx[0..n_out)
 * into logits (n_out, hi - lo). */
static void cache_run(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int64_t n, int64_t n_out,
                      int32_t lo, int32_t hi, float *logits) {
    const semid_gpt_weights *p = &m->p;
    int64_t C = c->C, NH = c->NH, hs = C / NH, L = c->L, Tm = c->tmax;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (n * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        const float *e = p->wte + (int64_t)tokens[i] * C, *ps = p->wpe + (int64_t)c->ent_pos[i] * C;
        float *x = c->x + i * C;
        for (int64_t j = 0; j < C; j++) x[j] = e[j] + ps[j];
    }
    for (int64_t l = 0; l < L; l++) {
        semid_layernorm_forward(c->ln, NULL, NULL, c->x, p->ln1w + l * C, p->ln1b + l * C, n, C);
        semid_matmul_forward(c->qkv, c->ln, p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C, n, C, 3 * C);
        /* All keys first: a prompt's tokens attend to each other. */
        for (int64_t i = 0; i < n; i++) store_kv(c, l, i);
#pragma omp parallel for schedule(static) if (n * Tm * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
        for (int64_t ih = 0; ih < n * NH; ih++)
            attend(c, l, ih / NH, ih % NH, scale, c->att + ih * Tm, c->atty + (ih / NH) * C + (ih % NH) * hs);
        semid_matmul_forward(c->tmp, c->atty, p->attprojw + l * C * C, p->attprojb + l * C, n, C, C);
        semid_residual_forward(c->x, c->x, c->tmp, n * C);
        semid_layernorm_forward(c->ln, NULL, NULL, c->x, p->ln2w + l * C, p->ln2b + l * C, n, C);
        semid_matmul_forward(c->fch, c->ln, p->fcw + l * 4 * C * C, p->fcb + l * 4 * C, n, C, 4 * C);
        semid_gelu_forward(c->fchg, c->fch, n * 4 * C);
        semid_matmul_forward(c->tmp, c->fchg, p->fcprojw + l * C * 4 * C, p->fcprojb + l * C, n, 4 * C, C);
        semid_residual_forward(c->x, c->x, c->tmp, n * C);
    }
    /* The output entries' states, packed, through the final norm and the tied projection. */
    for (int64_t j = 0; j < n_out; j++)
        memcpy(c->tmp + j * C, c->x + (int64_t)c->out_idx[j] * C, (size_t)C * sizeof(float));
    semid_layernorm_forward(c->ln, NULL, NULL, c->tmp, p->lnfw, p->lnfb, n_out, C);
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

semid_status semid_gpt_cache_prefill(const semid_gpt *m, semid_gpt_cache *c, int32_t n, const int32_t *slots,
                                     const int32_t *tokens, const int32_t *lens, int32_t vocab_lo, int32_t vocab_hi,
                                     float *logits) {
    if (n <= 0 || n > c->n_prompts)
        return semid_fail(SEMID_EINVAL, "gpt prefill: %d prompts, the cache has %d slots", n, c->n_prompts);
    SEMID_TRY(check_range(m, vocab_lo, vocab_hi));
    int64_t total = 0;
    for (int32_t j = 0; j < n; j++) {
        if (slots[j] < 0 || slots[j] >= c->n_prompts)
            return semid_fail(SEMID_EINVAL, "gpt prefill: slot %d outside [0, %d)", slots[j], c->n_prompts);
        for (int32_t i = 0; i < j; i++)
            if (slots[i] == slots[j]) return semid_fail(SEMID_EINVAL, "gpt prefill: slot %d given twice", slots[j]);
        if (lens[j] <= 0 || lens[j] > c->tmax)
            return semid_fail(SEMID_EINVAL, "gpt prefill: a prompt of %d tokens does not fit the maximum length %d",
                              lens[j], c->tmax);
        total += lens[j];
    }
    SEMID_TRY(check_tokens(m, tokens, total));
    int64_t e = 0;
    for (int32_t j = 0; j < n; j++) {
        c->prompt_len[slots[j]] = lens[j];
        for (int32_t t = 0; t < lens[j]; t++, e++) {
            c->ent_slot[e] = slots[j];
            c->ent_row[e] = -1;
            c->ent_pos[e] = t;
        }
        c->out_idx[j] = (int32_t)(e - 1);
    }
    cache_run(m, c, tokens, total, n, vocab_lo, vocab_hi, logits);
    return SEMID_OK;
}

semid_status semid_gpt_cache_attach(semid_gpt_cache *c, int32_t row, int32_t slot) {
    if (row < 0 || row >= c->rows || slot < 0 || slot >= c->n_prompts)
        return semid_fail(SEMID_EINVAL, "gpt attach: row %d or slot %d out of range (%d rows, %d slots)", row, slot,
                          c->rows, c->n_prompts);
    c->cur.slot[row] = slot;
    c->cur.len[row] = 0;
    return SEMID_OK;
}

semid_status semid_gpt_cache_step(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                  int32_t vocab_lo, int32_t vocab_hi, float *logits) {
    if (n_rows <= 0 || n_rows > c->rows)
        return semid_fail(SEMID_EINVAL, "gpt step: %d rows, the cache has %d", n_rows, c->rows);
    SEMID_TRY(check_tokens(m, tokens, n_rows));
    SEMID_TRY(check_range(m, vocab_lo, vocab_hi));
    for (int32_t r = 0; r < n_rows; r++) {
        if (c->cur.slot[r] < 0) return semid_fail(SEMID_EINVAL, "gpt step: row %d continues no prompt", r);
        int32_t pos = c->prompt_len[c->cur.slot[r]] + c->cur.len[r];
        if (c->cur.len[r] >= c->smax || pos >= c->tmax)
            return semid_fail(SEMID_EINVAL, "gpt step: row %d is full (%d tokens)", r, pos);
        c->ent_slot[r] = c->cur.slot[r];
        c->ent_row[r] = r;
        c->ent_pos[r] = pos;
        c->out_idx[r] = r;
    }
    cache_run(m, c, tokens, n_rows, n_rows, vocab_lo, vocab_hi, logits);
    for (int32_t r = 0; r < n_rows; r++) c->cur.len[r]++;
    return SEMID_OK;
}

semid_status semid_gpt_cache_gather(semid_gpt_cache *c, const int32_t *src, int32_t n) {
    if (n < 0 || n > c->rows) return semid_fail(SEMID_EINVAL, "gpt gather: %d rows, the cache has %d", n, c->rows);
    for (int32_t i = 0; i < n; i++)
        if (src[i] < 0 || src[i] >= c->rows)
            return semid_fail(SEMID_EINVAL, "gpt gather: source row %d outside [0, %d)", src[i], c->rows);
    /* Write the new arrangement into the spare buffers, then swap: suffixes
     * are a few tokens, so copying them all is cheap and needs no ordering. */
    for (int32_t r = 0; r < c->rows; r++) {
        int32_t s = r < n ? src[r] : r;
        c->spare.slot[r] = c->cur.slot[s];
        c->spare.len[r] = c->cur.len[s];
        size_t bytes = (size_t)c->cur.len[s] * (size_t)c->C * sizeof(float);
        for (int64_t l = 0; l < c->L && bytes > 0; l++) {
            memcpy(suffix_at(c, c->spare.k, l, r, 0), suffix_at(c, c->cur.k, l, s, 0), bytes);
            memcpy(suffix_at(c, c->spare.v, l, r, 0), suffix_at(c, c->cur.v, l, s, 0), bytes);
        }
    }
    beam_rows t = c->cur;
    c->cur = c->spare;
    c->spare = t;
    return SEMID_OK;
}
