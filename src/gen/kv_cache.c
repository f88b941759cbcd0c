/* Incremental decoding for beam search. A query's prompt is run once into a
 * prompt slot; its beams are rows that attend to that slot's keys and values
 * and keep only the few tokens they added themselves (the suffix). The big
 * products run over all tokens of a call with the weights packed once per
 * cache (semid_linear_packed_forward); attention runs per (token, head) over
 * the token's prompt and, for a beam, its suffix.
 *
 * Suffixes are shared, not copied. Position s of every suffix lives in pool
 * s, whose `rows` entries hold one token's keys and values at every layer; a
 * row names its entry at each position (anc), and an entry counts the rows
 * naming it. Reordering beams (gather) copies those names and counts, never
 * keys or values; a step takes a free entry of the pool at each row's next
 * position. A pool never runs out: the rows naming an entry of pool s are
 * rows longer than s, at most `rows` of them, and a row about to write
 * position s names none there. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "gen/layers.h"
#include "gen/model.h"
#include "gen/model_impl.h"

#if defined(__AVX512F__) && defined(__FMA__)
#define KV_AVX512 1 /* immintrin.h comes with gen/layers.h */
#endif

/* Prompt keys are stored transposed in columns padded to whole blocks of
 * BLOCK positions. */
enum { BLOCK = 16 };
/* Attention is computed for groups of up to GROUP consecutive entries that
 * share a prompt slot and are all prompt tokens or all beams: the group's
 * queries meet each key and value once. */
enum { GROUP = 8 };
/* Attention scratch of up to this many floats per task lives on the stack. */
enum { ATT_STACK = 4096 };
/* The MLP runs on this many rows at a time, so its hidden layer stays in
 * cache (with AVX-512: the packed kernels do not need tall products; BLAS,
 * which packs the weights at every call, gets all rows at once). */
#ifdef KV_AVX512
enum { MLP_ROWS = 64 };
#else
enum { MLP_ROWS = 1 << 30 };
#endif

struct semid_gpt_cache {
    int32_t n_prompts, rows, smax, tmax, L, C, NH;
    int32_t *prompt_len; /* (n_prompts) */
    int32_t tpad;        /* Tmax rounded up to whole BLOCKs */
    float *pk;           /* (L, n_prompts, C, tpad): keys transposed, so a query's scores
                            against all positions are vector loops */
    float *pv;           /* (L, n_prompts, NH, Tmax, hs): a head's values in one run */
    /* the rows */
    int32_t *slot, *len; /* (rows) prompt slot (-1 = unattached), suffix tokens */
    int32_t *anc;        /* (rows, smax) the pool entry of each suffix position */
    int32_t *nslot, *nlen, *nanc; /* a gather's new arrangement, then swapped in */
    float *sk, *sv;      /* (L, smax, rows, C) suffix pools */
    int32_t *refs;       /* (smax, rows) rows naming each entry */
    int32_t *free_ent;   /* (smax, rows) free entries of each pool, a stack */
    int32_t *n_free;     /* (smax) */
    /* the weights, packed once (semid_linear_pack) */
    float *wpack;        /* per layer: qkv (3C, C), attention projection (C, C), fc (4C, C), projection (C, 4C) */
    int64_t wlayer;      /* floats per layer in wpack */
    float *wout;         /* wte rows [out_lo, out_hi), packed */
    int32_t out_lo, out_hi;
    int64_t wout_cap;
    /* per call: which token each entry is; entries of a prompt have row -1 */
    int64_t cap;
    int32_t *ent_slot, *ent_row, *ent_pos, *out_idx;
    int32_t *grp; /* (cap + 1) attention groups: where each starts */
    int32_t *ident; /* (cap) 0, 1, 2, ... */
    float *x;    /* (cap, C) residual stream */
    float *ln;   /* (cap, C) */
    float *qkv;  /* (cap, 3C) */
    float *atty; /* (cap, C) */
    float *fchg; /* (mlp_rows, 4C) */
    int64_t mlp_rows; /* min(MLP_ROWS, cap) */
    float *xo;   /* (n_prompts, C) the output rows of a prefill at the last layer */
    float *att;  /* (cap, NH, apad) attention scratch, only when a group's does not fit ATT_STACK */
    int64_t apad; /* floats of scratch per (entry, head) */
};

void semid_gpt_cache_free(semid_gpt_cache *c) {
    if (!c) return;
    void *bufs[] = {c->prompt_len, c->pk,       c->pv,      c->slot,    c->len,    c->anc,     c->nslot,
                    c->nlen,       c->nanc,     c->sk,      c->sv,      c->refs,   c->free_ent, c->n_free,
                    c->wpack,      c->wout,     c->ent_slot, c->ent_row, c->ent_pos, c->out_idx, c->grp, c->ident, c->x,
                    c->ln,         c->qkv,      c->atty,    c->fchg,    c->xo,     c->att};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    free(c);
}

/* Offsets of one layer's packed weights within wpack. */
static int64_t off_qkv(const semid_gpt_cache *c) { (void)c; return 0; }
static int64_t off_attproj(const semid_gpt_cache *c) { return semid_linear_packed_size(c->C, 3 * (int64_t)c->C); }
static int64_t off_fc(const semid_gpt_cache *c) { return off_attproj(c) + semid_linear_packed_size(c->C, c->C); }
static int64_t off_fcproj(const semid_gpt_cache *c) {
    return off_fc(c) + semid_linear_packed_size(c->C, 4 * (int64_t)c->C);
}

static void pack_weights(const semid_gpt *m, semid_gpt_cache *c) {
    const semid_gpt_weights *p = &m->p;
    int64_t C = c->C, L = c->L;
#pragma omp parallel for schedule(static) if (L > 1 && !omp_in_parallel()) num_threads(semid_get_threads())
    for (int64_t l = 0; l < L; l++) {
        float *w = c->wpack + l * c->wlayer;
        semid_linear_pack(w + off_qkv(c), p->qkvw + l * 3 * C * C, C, 3 * C);
        semid_linear_pack(w + off_attproj(c), p->attprojw + l * C * C, C, C);
        semid_linear_pack(w + off_fc(c), p->fcw + l * 4 * C * C, C, 4 * C);
        semid_linear_pack(w + off_fcproj(c), p->fcprojw + l * C * 4 * C, 4 * C, C);
    }
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
    c->apad = c->tpad; /* an entry sees at most Tmax positions */
    int64_t prompt_tokens = (int64_t)n_prompts * c->tmax;
    c->cap = rows > prompt_tokens ? rows : prompt_tokens;
    size_t L = (size_t)c->L, C = (size_t)c->C, cap = (size_t)c->cap;
    size_t pkv = L * (size_t)prompt_tokens * C, skv = L * (size_t)rows * (size_t)suffix_max * C;
    size_t r1 = rows > 0 ? (size_t)rows : 1, s1 = skv > 0 ? skv : 1;
    size_t rs1 = (size_t)rows * (size_t)suffix_max > 0 ? (size_t)rows * (size_t)suffix_max : 1;
    c->wlayer = off_fcproj(c) + semid_linear_packed_size(4 * (int64_t)C, (int64_t)C);
    c->out_lo = c->out_hi = -1;
    c->prompt_len = calloc((size_t)n_prompts, sizeof(int32_t));
    /* Padding columns are read (a score block may cover them) and never used;
     * zeroed so that they are finite. */
    c->pk = calloc(L * (size_t)n_prompts * C * (size_t)c->tpad, sizeof(float));
    c->pv = malloc(pkv * sizeof(float));
    c->slot = malloc(r1 * sizeof(int32_t));
    c->len = calloc(r1, sizeof(int32_t));
    c->nslot = malloc(r1 * sizeof(int32_t));
    c->nlen = malloc(r1 * sizeof(int32_t));
    c->anc = malloc(rs1 * sizeof(int32_t));
    c->nanc = malloc(rs1 * sizeof(int32_t));
    c->refs = calloc(rs1, sizeof(int32_t));
    c->free_ent = malloc(rs1 * sizeof(int32_t));
    c->n_free = calloc(suffix_max > 0 ? (size_t)suffix_max : 1, sizeof(int32_t));
    c->sk = malloc(s1 * sizeof(float));
    c->sv = malloc(s1 * sizeof(float));
    c->wpack = malloc((size_t)c->wlayer * L * sizeof(float));
    c->ent_slot = malloc(cap * sizeof(int32_t));
    c->ent_row = malloc(cap * sizeof(int32_t));
    c->ent_pos = malloc(cap * sizeof(int32_t));
    c->out_idx = malloc(cap * sizeof(int32_t));
    c->grp = malloc((cap + 1) * sizeof(int32_t));
    c->ident = malloc(cap * sizeof(int32_t));
    c->x = malloc(cap * C * sizeof(float));
    c->ln = malloc(cap * C * sizeof(float));
    c->qkv = malloc(cap * 3 * C * sizeof(float));
    c->atty = malloc(cap * C * sizeof(float));
    c->mlp_rows = MLP_ROWS < c->cap ? MLP_ROWS : c->cap;
    c->fchg = malloc((size_t)c->mlp_rows * 4 * C * sizeof(float));
    c->xo = malloc((size_t)n_prompts * C * sizeof(float));
    int big_att = GROUP * c->apad > ATT_STACK;
    if (big_att) c->att = malloc(cap * (size_t)c->NH * (size_t)c->apad * sizeof(float));
    if (!c->prompt_len || !c->pk || !c->pv || !c->slot || !c->len || !c->nslot || !c->nlen || !c->anc || !c->nanc ||
        !c->refs || !c->free_ent || !c->n_free || !c->sk || !c->sv || !c->wpack || !c->ent_slot || !c->ent_row ||
        !c->ent_pos || !c->out_idx || !c->grp || !c->ident || !c->x || !c->ln || !c->qkv || !c->atty || !c->fchg ||
        !c->xo || (big_att && !c->att)) {
        semid_gpt_cache_free(c);
        return semid_fail(SEMID_ENOMEM, "out of memory for a decoding cache of %d prompts x %d positions and %d rows",
                          n_prompts, cfg->max_seq_len, rows);
    }
    for (int32_t r = 0; r < rows; r++) c->slot[r] = -1;
    for (int64_t i = 0; i < c->cap; i++) c->ident[i] = (int32_t)i;
    /* every entry free; popped in order 0, 1, 2, ... */
    for (int32_t s = 0; s < suffix_max; s++) {
        for (int32_t e = 0; e < rows; e++) c->free_ent[(int64_t)s * rows + e] = rows - 1 - e;
        c->n_free[s] = rows;
    }
    pack_weights(m, c);
    *out = c;
    return SEMID_OK;
}

int32_t semid_gpt_cache_length(const semid_gpt_cache *c, int32_t row) {
    SEMID_ASSERT(row >= 0 && row < c->rows);
    return c->slot[row] < 0 ? 0 : c->prompt_len[c->slot[row]] + c->len[row];
}

/* ---- suffix pools ---- */

static int32_t *anc_of(const semid_gpt_cache *c, int32_t *base, int64_t row) { return base + row * c->smax; }

static int32_t pool_take(semid_gpt_cache *c, int32_t s) {
    SEMID_ASSERT(c->n_free[s] > 0);
    int32_t e = c->free_ent[(int64_t)s * c->rows + --c->n_free[s]];
    c->refs[(int64_t)s * c->rows + e] = 1;
    return e;
}

static void pool_release(semid_gpt_cache *c, int32_t s, int32_t e) {
    int32_t *r = &c->refs[(int64_t)s * c->rows + e];
    SEMID_ASSERT(*r > 0);
    if (--*r == 0) c->free_ent[(int64_t)s * c->rows + c->n_free[s]++] = e;
}

/* Drops the row's names of its suffix entries. */
static void release_row(semid_gpt_cache *c, int32_t row) {
    const int32_t *a = anc_of(c, c->anc, row);
    for (int32_t s = 0; s < c->len[row]; s++) pool_release(c, s, a[s]);
    c->len[row] = 0;
}

/* ---- storage ---- */

/* Values of head h at position 0 of the slot; position t is hs floats further each. */
static float *prompt_values(const semid_gpt_cache *c, int64_t l, int64_t slot, int64_t h) {
    return c->pv + ((l * c->n_prompts + slot) * c->NH + h) * c->tmax * (c->C / c->NH);
}

static float *prompt_keys(const semid_gpt_cache *c, int64_t l, int64_t slot) {
    return c->pk + (l * c->n_prompts + slot) * c->C * c->tpad;
}

/* Keys or values of entry e of pool s at layer l. */
static float *pool_at(const semid_gpt_cache *c, float *base, int64_t l, int64_t s, int64_t e) {
    return base + ((l * c->smax + s) * c->rows + e) * c->C;
}

/* Key (what = 1) or value (what = 2) of head h at suffix position s of beam
 * entry i: its own token's (the last position) are still in qkv, the
 * earlier ones in the pools. */
static const float *suffix_kv(const semid_gpt_cache *c, int64_t l, int64_t i, const int32_t *anc, int32_t s, int32_t ns,
                              int what, int64_t h) {
    int64_t C = c->C, hs = C / c->NH;
    if (s == ns - 1) return c->qkv + i * 3 * C + what * C + h * hs;
    return pool_at(c, what == 1 ? c->sk : c->sv, l, s, anc[s]) + h * hs;
}

/* Stores entry i's key and value (in qkv) at layer l. */
static void store_kv(const semid_gpt_cache *c, int64_t l, int64_t i) {
    int64_t C = c->C;
    int32_t row = c->ent_row[i], slot = c->ent_slot[i], pos = c->ent_pos[i];
    const float *k = c->qkv + i * 3 * C + C, *v = c->qkv + i * 3 * C + 2 * C;
    if (row < 0) {
        float *kt = prompt_keys(c, l, slot);
        for (int64_t j = 0; j < C; j++) kt[j * c->tpad + pos] = k[j];
        int64_t hs = C / c->NH;
        for (int64_t h = 0; h < c->NH; h++)
            memcpy(prompt_values(c, l, slot, h) + pos * hs, v + h * hs, (size_t)hs * sizeof(float));
    } else {
        int32_t s = pos - c->prompt_len[slot], e = anc_of(c, c->anc, row)[s];
        memcpy(pool_at(c, c->sk, l, s, e), k, (size_t)C * sizeof(float));
        memcpy(pool_at(c, c->sv, l, s, e), v, (size_t)C * sizeof(float));
    }
}

/* ---- attention ---- */

#ifdef KV_AVX512
static inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

/* Lanes [0, n) of 16, none for n <= 0. */
static inline __mmask16 range_mask(int64_t n) { return n <= 0 ? (__mmask16)0 : tail_mask(n); }

static inline float dot_masked(const float *x, const float *y, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, y + j), acc);
    }
    return _mm512_reduce_add_ps(acc);
}
#endif


#ifdef KV_AVX512
/* One head of G entries ents[0..G) sharing a slot: softmax(q . keys * scale)
 * . values over each entry's prompt positions (all of them for a beam, up
 * to its own for a prompt token), then over a beam's suffix up to its own
 * position. a is scratch of G * apad floats; entry g's output goes to
 * out + g * C. G is a constant at every call. */
static inline __attribute__((always_inline)) void attend_group(const int G, const semid_gpt_cache *c, int64_t l,
                                                               const int32_t *ents, int64_t h, float scale, float *a,
                                                               float *out) {
    int64_t C = c->C, hs = C / c->NH, apad = c->apad;
    int32_t slot = c->ent_slot[ents[0]];
    int32_t np[GROUP], ns[GROUP], npmax = 0;
    const float *q[GROUP];
    const int32_t *anc[GROUP];
    for (int g = 0; g < G; g++) {
        int64_t i = ents[g];
        int32_t row = c->ent_row[i], pos = c->ent_pos[i];
        np[g] = row < 0 ? pos + 1 : c->prompt_len[slot];
        ns[g] = row < 0 ? 0 : pos - c->prompt_len[slot] + 1;
        anc[g] = row < 0 ? NULL : anc_of(c, c->anc, row);
        q[g] = c->qkv + i * 3 * C + h * hs;
        if (np[g] > npmax) npmax = np[g];
    }
    const float *pkt = prompt_keys(c, l, slot) + h * hs * c->tpad, *pv = prompt_values(c, l, slot, h);
    /* scores against the prompt, BLOCK positions at a time (padding included) */
    for (int64_t t0 = 0; t0 < npmax; t0 += BLOCK) {
        __m512 acc[GROUP];
        for (int g = 0; g < G; g++) acc[g] = _mm512_setzero_ps();
        for (int64_t j = 0; j < hs; j++) {
            __m512 k = _mm512_loadu_ps(pkt + j * c->tpad + t0);
            for (int g = 0; g < G; g++) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(q[g][j]), k, acc[g]);
        }
        for (int g = 0; g < G; g++) _mm512_storeu_ps(a + g * apad + t0, acc[g]);
    }
    /* a beam's suffix, then each entry's softmax; the weights stay unnormalised
     * (exp(score - max)) and the weighted sum is divided by their sum. The
     * maximum is taken before scaling: scale > 0 and rounding keep the order,
     * so max(s) * scale is the maximum of the scaled scores. */
    /* Each phase runs over the whole group, so that the entries' chains of
     * dependent operations (reductions, exp) overlap. */
    __m512 vscale = _mm512_set1_ps(scale);
    int64_t n[GROUP], nmax = 0;
    int32_t nsmax = 0;
    for (int g = 0; g < G; g++) {
        n[g] = (int64_t)np[g] + ns[g];
        if (n[g] > nmax) nmax = n[g];
        if (ns[g] > nsmax) nsmax = ns[g];
    }
    for (int32_t s = 0; s < nsmax; s++)
        for (int g = 0; g < G; g++)
            if (s < ns[g])
                a[g * apad + np[g] + s] = dot_masked(q[g], suffix_kv(c, l, ents[g], anc[g], s, ns[g], 1, h), hs);
    __m512 vmax[GROUP], vsum[GROUP], mx[GROUP];
    for (int g = 0; g < G; g++) vmax[g] = _mm512_set1_ps(-INFINITY);
    for (int64_t t = 0; t < nmax; t += 16)
        for (int g = 0; g < G; g++) {
            __mmask16 m = range_mask(n[g] - t);
            vmax[g] = _mm512_mask_max_ps(vmax[g], m, vmax[g], _mm512_maskz_loadu_ps(m, a + g * apad + t));
        }
    for (int g = 0; g < G; g++) {
        mx[g] = _mm512_mul_ps(_mm512_set1_ps(_mm512_reduce_max_ps(vmax[g])), vscale);
        vsum[g] = _mm512_setzero_ps();
    }
    for (int64_t t = 0; t < nmax; t += 16)
        for (int g = 0; g < G; g++) {
            __mmask16 m = range_mask(n[g] - t);
            float *at = a + g * apad + t;
            __m512 e = semid_fast_expf16(_mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, at), vscale), mx[g]));
            _mm512_mask_storeu_ps(at, m, e);
            vsum[g] = _mm512_mask_add_ps(vsum[g], m, vsum[g], e);
        }
    float inv[GROUP];
    for (int g = 0; g < G; g++) {
        inv[g] = 1.0f / _mm512_reduce_add_ps(vsum[g]);
        /* prompt tokens of a group end at different positions: no weight past their own */
        for (int64_t t = n[g]; t < npmax; t++) a[g * apad + t] = 0.0f;
    }
    /* weighted values over the prompt, 32 channels at a time (the accumulators
     * indexed by constants only, so they stay in registers) */
    for (int64_t j0 = 0; j0 < hs; j0 += 32) {
        __mmask16 m0 = tail_mask(hs - j0), m1 = hs - j0 > 16 ? tail_mask(hs - j0 - 16) : 0;
        __m512 acc0[GROUP], acc1[GROUP];
        for (int g = 0; g < G; g++) acc0[g] = acc1[g] = _mm512_setzero_ps();
        for (int64_t t = 0; t < npmax; t++) {
            const float *v = pv + t * hs + j0;
            __m512 v0 = _mm512_maskz_loadu_ps(m0, v), v1 = _mm512_maskz_loadu_ps(m1, v + 16);
            for (int g = 0; g < G; g++) {
                __m512 w = _mm512_set1_ps(a[g * apad + t]);
                acc0[g] = _mm512_fmadd_ps(w, v0, acc0[g]);
                acc1[g] = _mm512_fmadd_ps(w, v1, acc1[g]);
            }
        }
        for (int g = 0; g < G; g++) {
            _mm512_mask_storeu_ps(out + g * C + j0, m0, acc0[g]);
            _mm512_mask_storeu_ps(out + g * C + j0 + 16, m1, acc1[g]);
        }
    }
    /* then a beam's suffix, and the division by the weights' sum */
    for (int g = 0; g < G; g++) {
        float *o = out + g * C;
        __m512 vi = _mm512_set1_ps(inv[g]);
        for (int64_t j0 = 0; j0 < hs; j0 += 16) {
            __mmask16 m = tail_mask(hs - j0);
            __m512 acc = _mm512_maskz_loadu_ps(m, o + j0);
            for (int32_t s = 0; s < ns[g]; s++) {
                __m512 w = _mm512_set1_ps(a[g * apad + np[g] + s]);
                const float *v = suffix_kv(c, l, ents[g], anc[g], s, ns[g], 2, h) + j0;
                acc = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(m, v), acc);
            }
            _mm512_mask_storeu_ps(o + j0, m, _mm512_mul_ps(acc, vi));
        }
    }
}

static void attend(const semid_gpt_cache *c, int64_t l, const int32_t *ents, int G, int64_t h, float scale, float *a,
                   float *out) {
    switch (G) {
    case 8: attend_group(8, c, l, ents, h, scale, a, out); break;
    case 7: attend_group(7, c, l, ents, h, scale, a, out); break;
    case 6: attend_group(6, c, l, ents, h, scale, a, out); break;
    case 5: attend_group(5, c, l, ents, h, scale, a, out); break;
    case 4: attend_group(4, c, l, ents, h, scale, a, out); break;
    case 3: attend_group(3, c, l, ents, h, scale, a, out); break;
    case 2: attend_group(2, c, l, ents, h, scale, a, out); break;
    default: attend_group(1, c, l, ents, h, scale, a, out); break;
    }
}
#else
/* One head of one entry (as above, one at a time). */
static void attend_one(const semid_gpt_cache *c, int64_t l, int64_t i, int64_t h, float scale, float *a, float *o) {
    int64_t C = c->C, hs = C / c->NH;
    int32_t row = c->ent_row[i], slot = c->ent_slot[i], pos = c->ent_pos[i];
    int32_t np = row < 0 ? pos + 1 : c->prompt_len[slot], ns = row < 0 ? 0 : pos - c->prompt_len[slot] + 1;
    int64_t n = (int64_t)np + ns;
    const int32_t *anc = row < 0 ? NULL : anc_of(c, c->anc, row);
    const float *q = c->qkv + i * 3 * C + h * hs;
    const float *pkt = prompt_keys(c, l, slot) + h * hs * c->tpad, *pv = prompt_values(c, l, slot, h);
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
    for (int32_t s = 0; s < ns; s++) {
        const float *k = suffix_kv(c, l, i, anc, s, ns, 1, h);
        float acc = 0.0f;
        for (int64_t j = 0; j < hs; j++) acc = SEMID_MADD(q[j], k[j], acc);
        a[np + s] = acc;
    }
    float maxv = -INFINITY;
    for (int64_t t = 0; t < n; t++) {
        a[t] *= scale;
        if (a[t] > maxv) maxv = a[t];
    }
    float sum = 0.0f;
    for (int64_t t = 0; t < n; t++) {
        a[t] = semid_fast_expf(a[t] - maxv);
        sum += a[t];
    }
    float inv = 1.0f / sum;
    for (int64_t t = 0; t < n; t++) a[t] *= inv;
    for (int64_t j = 0; j < hs; j++) o[j] = 0.0f;
    for (int64_t t = 0; t < n; t++) {
        const float *v = t < np ? pv + t * hs : suffix_kv(c, l, i, anc, (int32_t)(t - np), ns, 2, h);
        float w = a[t];
        for (int64_t j = 0; j < hs; j++) o[j] = SEMID_MADD(w, v[j], o[j]);
    }
}

static void attend(const semid_gpt_cache *c, int64_t l, const int32_t *ents, int G, int64_t h, float scale, float *a,
                   float *out) {
    for (int g = 0; g < G; g++) attend_one(c, l, ents[g], h, scale, a + g * c->apad, out + g * c->C);
}
#endif

/* Attention of entries idx[0..n) at layer l, into rows 0..n-1 of atty. */
static void attention(semid_gpt_cache *c, int64_t l, const int32_t *idx, int64_t n) {
    int64_t C = c->C, NH = c->NH, hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    /* groups: runs of up to GROUP entries of one slot and one kind */
    int64_t ng = 0;
    for (int64_t j = 0; j < n; j++) {
        int32_t i = idx[j], p = j > 0 ? idx[j - 1] : -1;
        if (j == 0 || j - c->grp[ng - 1] == GROUP || c->ent_slot[i] != c->ent_slot[p] ||
            (c->ent_row[i] < 0) != (c->ent_row[p] < 0))
            c->grp[ng++] = (int32_t)j;
    }
    c->grp[ng] = (int32_t)n;
#pragma omp parallel for schedule(static) if (n * c->tmax * C >= SEMID_PAR_MIN_WORK && !omp_in_parallel()) \
    num_threads(semid_get_threads())
    for (int64_t gh = 0; gh < ng * NH; gh++) {
        int64_t g = gh / NH, h = gh % NH, j0 = c->grp[g];
        int G = (int)(c->grp[g + 1] - j0);
        /* scratch: G blocks of apad, on the stack or within the group's rows apart for each head */
        float scratch[ATT_STACK];
        float *a = c->att ? c->att + (j0 * NH + h * G) * c->apad : scratch;
        attend(c, l, idx + j0, G, h, scale, a, c->atty + j0 * C + h * hs);
    }
}

/* ---- the model ---- */

static semid_status ensure_out_weights(const semid_gpt *m, semid_gpt_cache *c, int32_t lo, int32_t hi) {
    if (c->out_lo == lo && c->out_hi == hi) return SEMID_OK;
    int64_t need = semid_linear_packed_size(c->C, hi - lo);
    if (need > c->wout_cap) {
        float *w = realloc(c->wout, (size_t)need * sizeof(float));
        if (!w) return semid_fail(SEMID_ENOMEM, "out of memory for the output projection of %d tokens", hi - lo);
        c->wout = w;
        c->wout_cap = need;
    }
    semid_linear_pack(c->wout, m->p.wte + (int64_t)lo * c->C, c->C, hi - lo);
    c->out_lo = lo;
    c->out_hi = hi;
    return SEMID_OK;
}

/* Runs n entries (set up in ent_*) through the model, storing their keys and
 * values, and writes the logits [lo, hi) of the entries out_idx[0..n_out)
 * into logits (n_out, hi - lo). At the last layer only those entries need
 * more than their keys and values, so when they are fewer than n (a
 * prefill) the rest of that layer runs on them alone. */
static void cache_run(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int64_t n, int64_t n_out,
                      int32_t lo, int32_t hi, float *logits, int keep) {
    const semid_gpt_weights *p = &m->p;
    int64_t C = c->C, L = c->L;
#pragma omp parallel for schedule(static) if (n * C >= SEMID_PAR_MIN_WORK && !omp_in_parallel()) \
    num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        const float *e = p->wte + (int64_t)tokens[i] * C, *ps = p->wpe + (int64_t)c->ent_pos[i] * C;
        float *x = c->x + i * C;
        for (int64_t j = 0; j < C; j++) x[j] = e[j] + ps[j];
    }
    int identity = n_out == n;
    for (int64_t j = 0; j < n_out && identity; j++) identity = c->out_idx[j] == j;
    float *x = c->x;
    int64_t rows = n;
    for (int64_t l = 0; l < L; l++) {
        const float *w = c->wpack + l * c->wlayer;
        semid_layernorm_forward(c->ln, NULL, NULL, c->x, p->ln1w + l * C, p->ln1b + l * C, n, C);
        semid_linear_packed_forward(c->qkv, 3 * C, c->ln, C, w + off_qkv(c), p->qkvb + l * 3 * C, n, C, 3 * C,
                                    SEMID_LINEAR_SET);
        /* All keys first: a prompt's tokens attend to each other. A beam's
         * own token is read from qkv; it is stored for later steps only. */
        if (keep)
            for (int64_t i = 0; i < n; i++) store_kv(c, l, i);
        if (l == L - 1 && !identity) {
            /* the output entries alone from here on, packed */
            for (int64_t j = 0; j < n_out; j++)
                memcpy(c->xo + j * C, c->x + (int64_t)c->out_idx[j] * C, (size_t)C * sizeof(float));
            x = c->xo;
            rows = n_out;
            attention(c, l, c->out_idx, n_out);
        } else {
            attention(c, l, c->ident, n);
        }
        semid_linear_packed_forward(x, C, c->atty, C, w + off_attproj(c), p->attprojb + l * C, rows, C, C,
                                    SEMID_LINEAR_ADD);
        semid_layernorm_forward(c->ln, NULL, NULL, x, p->ln2w + l * C, p->ln2b + l * C, rows, C);
        for (int64_t r0 = 0; r0 < rows; r0 += c->mlp_rows) {
            int64_t nr = rows - r0 < c->mlp_rows ? rows - r0 : c->mlp_rows;
            semid_linear_packed_forward(c->fchg, 4 * C, c->ln + r0 * C, C, w + off_fc(c), p->fcb + l * 4 * C, nr, C,
                                        4 * C, SEMID_LINEAR_GELU);
            semid_linear_packed_forward(x + r0 * C, C, c->fchg, 4 * C, w + off_fcproj(c), p->fcprojb + l * C, nr,
                                        4 * C, C, SEMID_LINEAR_ADD);
        }
    }
    /* The output entries' states through the final norm and the tied projection. */
    semid_layernorm_forward(c->ln, NULL, NULL, x, p->lnfw, p->lnfb, n_out, C);
    semid_linear_packed_forward(logits, hi - lo, c->ln, C, c->wout, NULL, n_out, C, hi - lo, SEMID_LINEAR_SET);
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
    SEMID_TRY(ensure_out_weights(m, c, vocab_lo, vocab_hi));
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
    cache_run(m, c, tokens, total, n, vocab_lo, vocab_hi, logits, 1);
    return SEMID_OK;
}

semid_status semid_gpt_cache_attach(semid_gpt_cache *c, int32_t row, int32_t slot) {
    if (row < 0 || row >= c->rows || slot < 0 || slot >= c->n_prompts)
        return semid_fail(SEMID_EINVAL, "gpt attach: row %d or slot %d out of range (%d rows, %d slots)", row, slot,
                          c->rows, c->n_prompts);
    release_row(c, row);
    c->slot[row] = slot;
    return SEMID_OK;
}

/* Step (keep = 1) and score (keep = 0). */
static semid_status step_rows(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                             int32_t vocab_lo, int32_t vocab_hi, float *logits, int keep) {
    const char *what = keep ? "gpt step" : "gpt score";
    if (n_rows <= 0 || n_rows > c->rows)
        return semid_fail(SEMID_EINVAL, "%s: %d rows, the cache has %d", what, n_rows, c->rows);
    SEMID_TRY(check_tokens(m, tokens, n_rows));
    SEMID_TRY(check_range(m, vocab_lo, vocab_hi));
    for (int32_t r = 0; r < n_rows; r++) {
        if (c->slot[r] < 0) return semid_fail(SEMID_EINVAL, "%s: row %d continues no prompt", what, r);
        int32_t pos = c->prompt_len[c->slot[r]] + c->len[r];
        if ((keep && c->len[r] >= c->smax) || pos >= c->tmax)
            return semid_fail(SEMID_EINVAL, "%s: row %d is full (%d tokens)", what, r, pos);
    }
    SEMID_TRY(ensure_out_weights(m, c, vocab_lo, vocab_hi));
    for (int32_t r = 0; r < n_rows; r++) {
        int32_t s = c->len[r];
        if (keep) anc_of(c, c->anc, r)[s] = pool_take(c, s);
        c->ent_slot[r] = c->slot[r];
        c->ent_row[r] = r;
        c->ent_pos[r] = c->prompt_len[c->slot[r]] + s;
        c->out_idx[r] = r;
    }
    cache_run(m, c, tokens, n_rows, n_rows, vocab_lo, vocab_hi, logits, keep);
    if (keep)
        for (int32_t r = 0; r < n_rows; r++) c->len[r]++;
    return SEMID_OK;
}

semid_status semid_gpt_cache_step(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                  int32_t vocab_lo, int32_t vocab_hi, float *logits) {
    return step_rows(m, c, tokens, n_rows, vocab_lo, vocab_hi, logits, 1);
}

semid_status semid_gpt_cache_score(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                   int32_t vocab_lo, int32_t vocab_hi, float *logits) {
    return step_rows(m, c, tokens, n_rows, vocab_lo, vocab_hi, logits, 0);
}

semid_status semid_gpt_cache_gather(semid_gpt_cache *c, const int32_t *src, int32_t n) {
    if (n < 0 || n > c->rows) return semid_fail(SEMID_EINVAL, "gpt gather: %d rows, the cache has %d", n, c->rows);
    for (int32_t i = 0; i < n; i++)
        if (src[i] < 0 || src[i] >= c->rows)
            return semid_fail(SEMID_EINVAL, "gpt gather: source row %d outside [0, %d)", src[i], c->rows);
    /* The new arrangement of rows 0..n-1 names the entries of their sources:
     * count the new names before dropping the old, so that no entry a new
     * row names is freed on the way. Rows n.. keep theirs. */
    for (int32_t r = 0; r < c->rows; r++) {
        int32_t s = r < n ? src[r] : r;
        c->nslot[r] = c->slot[s];
        c->nlen[r] = c->len[s];
        memcpy(anc_of(c, c->nanc, r), anc_of(c, c->anc, s), (size_t)c->len[s] * sizeof(int32_t));
    }
    for (int32_t r = 0; r < n; r++) {
        const int32_t *a = anc_of(c, c->nanc, r);
        for (int32_t s = 0; s < c->nlen[r]; s++) c->refs[(int64_t)s * c->rows + a[s]]++;
    }
    for (int32_t r = 0; r < n; r++) release_row(c, r);
    int32_t *t = c->slot;
    c->slot = c->nslot;
    c->nslot = t;
    t = c->len;
    c->len = c->nlen;
    c->nlen = t;
    t = c->anc;
    c->anc = c->nanc;
    c->nanc = t;
    return SEMID_OK;
}
