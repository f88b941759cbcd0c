/* The trainable text encoder (see text_encoder.h for the model).
 *
 * Dimension legend: V = vocabulary, NB = n-gram buckets, Din, Dout as in the
 * header, B = texts in a batch, U = distinct word units in the batch,
 * O = word occurrences in the batch, G = n-gram entries of the U units.
 *
 * A batch is computed word-first: each distinct unit's vector is built once
 * (E row plus mean of its n-gram rows), texts average their units'
 * vectors. The backward pass runs the same path in reverse; the scatters
 * into shared rows (units of several texts, buckets of several units) go
 * through per-target lists built by a counting sort, so every row is summed
 * by one thread in a fixed order: results do not depend on the thread count. */
#include "embed/text_encoder.h"

#include <cjson/cJSON.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/id_index.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "linalg/gemm.h"

#include "text/tokenize.h"

enum { NGRAM_HASH_SEED = 0x6e67, ENCODE_CHUNK = 1024, SAVE_VERSION = 1 };
static const char SAVE_FORMAT[] = "semid_text_encoder";

struct semid_text_feats {
    int64_t n;           /* texts */
    int64_t *off;        /* (n+1) into units */
    int32_t *units;      /* word units: < V vocabulary ids, >= V extras */
    int32_t V;           /* vocabulary size of the encoder that made them */
    int32_t n_extra;     /* out-of-vocabulary words */
    int64_t *extra_off;  /* (n_extra+1) into extra_ng */
    int32_t *extra_ng;   /* n-gram buckets of the extras */
};

/* Buffers of one batch, grown on demand (training keeps one in the encoder;
 * encode makes its own, so the encoder stays const there). */
typedef struct batch_ws {
    int32_t B, U;
    int64_t O;
    int32_t cap_B, cap_U;
    int64_t cap_O, cap_mark, cap_G;
    int32_t *mark;      /* (cap_mark) unit -> position in uniq, -1 */
    int32_t *uniq;      /* (U) unit ids */
    float *uvec;        /* (U, Din) */
    int64_t *text_off;  /* (B+1) into occ */
    int32_t *occ;       /* (O) position in uniq of each occurrence */
    float *h;           /* (B, Din) */
    float *z;           /* (B, Dout) */
    float *y;           /* (B, Dout) */
    float *znorm;       /* (B) */
    /* backward */
    float *dz;          /* (B, Dout) */
    float *dh;          /* (B, Din) */
    float *du;          /* (U, Din) */
    int64_t *u_off;     /* (U+1) occurrences grouped by unit */
    int32_t *u_text;    /* (O) text of each grouped occurrence */
    int64_t *g_off;     /* (touched buckets + 1) */
    int32_t *g_unit;    /* (G) unit of each grouped n-gram entry */
    float *g_w;         /* (G) its weight 1/G_u */
    int32_t *g_bucket;  /* (touched buckets) */
    const semid_text_feats *f;
} batch_ws;

struct semid_text_encoder {
    semid_text_encoder_config cfg;
    int32_t V;
    char **vocab;          /* (V) */
    semid_id_index *index; /* word -> vocabulary id */
    int64_t *ng_off;       /* (V+1) */
    int32_t *ng;           /* n-gram buckets of vocabulary words */
    int32_t n_pretrained;

    int64_t n_params;
    float *params, *grads;
    uint8_t *decay_mask;
    float *E, *N, *W, *b;     /* views into params: (V,Din) (NB,Din) (Dout,Din) (Dout) */
    float *gE, *gN, *gW, *gb; /* the same into grads */

    batch_ws ws;
    int has_forward;
    /* rows with gradient since the last zero_grad */
    uint8_t *touched_E, *touched_N;
    int32_t *list_E, *list_N;
    int32_t n_list_E, n_list_N;
    int32_t *bucket_slot;  /* (NB) scratch for grouping, -1 */
};

semid_text_encoder_config semid_text_encoder_defaults(void) {
    semid_text_encoder_config c = {0};
    c.dim_word = 100;
    c.dim_out = 128;
    c.n_buckets = 65536;
    c.ngram_min = 3;
    c.ngram_max = 5;
    c.min_count = 1;
    c.max_vocab = 0;
    c.init_std = 0.1f;
    c.seed = 42;
    return c;
}

static semid_status check_config(const semid_text_encoder_config *c) {
    if (c->dim_word <= 0 || c->dim_out <= 0 || c->dim_word > 65536 || c->dim_out > 65536)
        return semid_fail(SEMID_EINVAL, "text encoder: widths must be in 1..65536 (got %d, %d)", c->dim_word,
                          c->dim_out);
    if (c->n_buckets < 0) return semid_fail(SEMID_EINVAL, "text encoder: n_buckets %d < 0", c->n_buckets);
    if (c->n_buckets > 0 && (c->ngram_min < 1 || c->ngram_max < c->ngram_min || c->ngram_max > 32))
        return semid_fail(SEMID_EINVAL, "text encoder: bad n-gram range %d..%d", c->ngram_min, c->ngram_max);
    if (c->min_count < 1) return semid_fail(SEMID_EINVAL, "text encoder: min_count %d < 1", c->min_count);
    if (c->max_vocab < 0) return semid_fail(SEMID_EINVAL, "text encoder: max_vocab %d < 0", c->max_vocab);
    if (!(c->init_std >= 0.0f)) return semid_fail(SEMID_EINVAL, "text encoder: init_std must be >= 0");
    return SEMID_OK;
}

/* ---------------------------------------------------------------- helpers */

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 1;
    int64_t ncap = *cap > 0 ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *q = realloc(*p, (size_t)ncap * elem);
    if (!q) return 0;
    *p = q;
    *cap = ncap;
    return 1;
}

/* realloc that leaves *p untouched on failure. */
static int resize(void *pp, size_t bytes) {
    void **p = pp;
    void *q = realloc(*p, bytes ? bytes : 1);
    if (!q) return 0;
    *p = q;
    return 1;
}

/* Number of n-grams of a word of `len` bytes with its two markers. */
static int64_t ngram_count(const semid_text_encoder_config *c, size_t len) {
    if (c->n_buckets == 0) return 0;
    int64_t L = (int64_t)len + 2, n = 0;
    for (int32_t k = c->ngram_min; k <= c->ngram_max; k++)
        if (L >= k) n += L - k + 1;
    return n;
}

/* Writes the buckets of the n-grams of "<word>" into out (ngram_count of them). */
static void ngram_buckets(const semid_text_encoder_config *c, const char *word, int32_t *out) {
    size_t len = strlen(word);
    char stack[256];
    char *buf = len + 2 <= sizeof(stack) ? stack : malloc(len + 2);
    if (!buf) return; /* callers checked the size; only huge words reach malloc */
    buf[0] = '<';
    memcpy(buf + 1, word, len);
    buf[len + 1] = '>';
    int64_t L = (int64_t)len + 2, n = 0;
    for (int32_t k = c->ngram_min; k <= c->ngram_max; k++)
        for (int64_t s = 0; s + k <= L; s++)
            out[n++] = (int32_t)(semid_hash_bytes(buf + s, (size_t)k, NGRAM_HASH_SEED) % (uint64_t)c->n_buckets);
    if (buf != stack) free(buf);
}

static void unit_ngrams(const semid_text_encoder *enc, const semid_text_feats *f, int32_t unit, const int32_t **ng,
                        int64_t *G) {
    if (unit < enc->V) {
        *ng = enc->ng + enc->ng_off[unit];
        *G = enc->ng_off[unit + 1] - enc->ng_off[unit];
    } else {
        int32_t e = unit - enc->V;
        *ng = f->extra_ng + f->extra_off[e];
        *G = f->extra_off[e + 1] - f->extra_off[e];
    }
}

static void ws_free(batch_ws *w) {
    free(w->mark), free(w->uniq), free(w->uvec), free(w->text_off), free(w->occ), free(w->h), free(w->z), free(w->y);
    free(w->znorm), free(w->dz), free(w->dh), free(w->du), free(w->u_off), free(w->u_text), free(w->g_off);
    free(w->g_unit), free(w->g_w), free(w->g_bucket);
    memset(w, 0, sizeof(*w));
}

/* ---------------------------------------------------------- vocabulary */

typedef struct word_count {
    char *word;
    int64_t count;
    int32_t first; /* order of first appearance, for stable ties */
} word_count;

static int cmp_count(const void *a, const void *b) {
    const word_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->first < y->first ? -1 : (x->first > y->first);
}

/* Counts words over the texts and keeps the vocabulary by the config. */
static semid_status build_vocab(semid_text_encoder *enc, const char *const *texts, int64_t n) {
    semid_id_index *ix = NULL;
    word_count *wc = NULL;
    int64_t n_wc = 0, cap_wc = 0;
    semid_status st = semid_id_index_create(&ix, 1024);
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        semid_words w;
        st = semid_tokenize(texts[i], &w);
        for (int32_t k = 0; k < w.n && st == SEMID_OK; k++) {
            int32_t id = semid_id_index_get(ix, w.words[k]);
            if (id >= 0) {
                wc[id].count++;
                continue;
            }
            if (!grow((void **)&wc, &cap_wc, n_wc + 1, sizeof(word_count))) {
                st = semid_fail(SEMID_ENOMEM, "out of memory building the vocabulary");
                break;
            }
            wc[n_wc].word = w.words[k];
            w.words[k] = NULL; /* ownership moves to wc */
            wc[n_wc].count = 1;
            wc[n_wc].first = (int32_t)n_wc;
            st = semid_id_index_put(ix, wc[n_wc].word, (int32_t)n_wc, NULL);
            n_wc++;
        }
        semid_words_free(&w);
    }
    semid_id_index_free(ix);
    if (st == SEMID_OK) {
        qsort(wc, (size_t)n_wc, sizeof(word_count), cmp_count);
        int64_t keep = 0;
        while (keep < n_wc && wc[keep].count >= enc->cfg.min_count) keep++;
        if (enc->cfg.max_vocab > 0 && keep > enc->cfg.max_vocab) keep = enc->cfg.max_vocab;
        if (keep > INT32_MAX / 2) keep = INT32_MAX / 2;
        enc->V = (int32_t)keep;
        enc->vocab = calloc((size_t)(keep > 0 ? keep : 1), sizeof(char *));
        if (!enc->vocab) st = semid_fail(SEMID_ENOMEM, "out of memory building the vocabulary");
        for (int64_t i = 0; i < keep && st == SEMID_OK; i++) {
            enc->vocab[i] = wc[i].word;
            wc[i].word = NULL;
        }
    }
    for (int64_t i = 0; i < n_wc; i++) free(wc[i].word);
    free(wc);
    return st;
}

/* The word index and the vocabulary's n-gram lists. */
static semid_status index_vocab(semid_text_encoder *enc) {
    SEMID_TRY(semid_id_index_create(&enc->index, enc->V));
    for (int32_t i = 0; i < enc->V; i++) {
        int32_t existing;
        SEMID_TRY(semid_id_index_put(enc->index, enc->vocab[i], i, &existing));
        if (existing >= 0) return semid_fail(SEMID_EFORMAT, "text encoder: duplicate vocabulary word '%s'", enc->vocab[i]);
    }
    enc->ng_off = malloc(((size_t)enc->V + 1) * sizeof(int64_t));
    if (!enc->ng_off) return semid_fail(SEMID_ENOMEM, "out of memory for the vocabulary");
    enc->ng_off[0] = 0;
    for (int32_t i = 0; i < enc->V; i++) enc->ng_off[i + 1] = enc->ng_off[i] + ngram_count(&enc->cfg, strlen(enc->vocab[i]));
    enc->ng = malloc((size_t)(enc->ng_off[enc->V] > 0 ? enc->ng_off[enc->V] : 1) * sizeof(int32_t));
    if (!enc->ng) return semid_fail(SEMID_ENOMEM, "out of memory for the vocabulary n-grams");
    for (int32_t i = 0; i < enc->V; i++)
        if (enc->ng_off[i + 1] > enc->ng_off[i]) ngram_buckets(&enc->cfg, enc->vocab[i], enc->ng + enc->ng_off[i]);
    return SEMID_OK;
}

/* Parameter buffers and their views; grads zeroed. */
static semid_status alloc_params(semid_text_encoder *enc) {
    const semid_text_encoder_config *c = &enc->cfg;
    int64_t nE = (int64_t)enc->V * c->dim_word, nN = (int64_t)c->n_buckets * c->dim_word;
    int64_t nW = (int64_t)c->dim_out * c->dim_word;
    enc->n_params = nE + nN + nW + c->dim_out;
    enc->params = calloc((size_t)enc->n_params, sizeof(float));
    enc->grads = calloc((size_t)enc->n_params, sizeof(float));
    enc->decay_mask = malloc((size_t)enc->n_params);
    enc->touched_E = calloc((size_t)enc->V + 1, 1);
    enc->touched_N = calloc((size_t)c->n_buckets + 1, 1);
    enc->list_E = malloc(((size_t)enc->V + 1) * sizeof(int32_t));
    enc->list_N = malloc(((size_t)c->n_buckets + 1) * sizeof(int32_t));
    enc->bucket_slot = malloc(((size_t)c->n_buckets + 1) * sizeof(int32_t));
    if (!enc->params || !enc->grads || !enc->decay_mask || !enc->touched_E || !enc->touched_N || !enc->list_E ||
        !enc->list_N || !enc->bucket_slot)
        return semid_fail(SEMID_ENOMEM, "out of memory for the text encoder (%lld parameters)", (long long)enc->n_params);
    for (int32_t g = 0; g < c->n_buckets; g++) enc->bucket_slot[g] = -1;
    memset(enc->decay_mask, 1, (size_t)(enc->n_params - c->dim_out));
    memset(enc->decay_mask + enc->n_params - c->dim_out, 0, (size_t)c->dim_out);
    enc->E = enc->params, enc->N = enc->E + nE, enc->W = enc->N + nN, enc->b = enc->W + nW;
    enc->gE = enc->grads, enc->gN = enc->gE + nE, enc->gW = enc->gN + nN, enc->gb = enc->gW + nW;
    return SEMID_OK;
}

void semid_text_encoder_free(semid_text_encoder *enc) {
    if (!enc) return;
    if (enc->vocab)
        for (int32_t i = 0; i < enc->V; i++) free(enc->vocab[i]);
    free(enc->vocab);
    semid_id_index_free(enc->index);
    free(enc->ng_off), free(enc->ng), free(enc->params), free(enc->grads), free(enc->decay_mask);
    free(enc->touched_E), free(enc->touched_N), free(enc->list_E), free(enc->list_N), free(enc->bucket_slot);
    ws_free(&enc->ws);
    free(enc);
}

semid_status semid_text_encoder_create(const semid_text_encoder_config *cfg, const char *const *texts, int64_t n,
                                       const semid_wordvec *init, semid_text_encoder **out) {
    *out = NULL;
    SEMID_TRY(check_config(cfg));
    if (init && init->dim != cfg->dim_word)
        return semid_fail(SEMID_EINVAL, "text encoder: word vectors have width %d but dim_word is %d", init->dim,
                          cfg->dim_word);
    semid_text_encoder *enc = calloc(1, sizeof(*enc));
    if (!enc) return semid_fail(SEMID_ENOMEM, "out of memory for the text encoder");
    enc->cfg = *cfg;
    semid_status st = build_vocab(enc, texts, n);
    if (st == SEMID_OK) st = index_vocab(enc);
    if (st == SEMID_OK) st = alloc_params(enc);
    if (st != SEMID_OK) {
        semid_text_encoder_free(enc);
        return st;
    }
    /* E: pretrained where known, else small Gaussian noise (per row, its own
     * stream, so the init does not depend on threads). N starts at zero. */
    semid_rng root;
    semid_rng_seed(&root, cfg->seed);
    int32_t Din = cfg->dim_word, Dout = cfg->dim_out;
    int32_t known = 0;
    for (int32_t i = 0; i < enc->V; i++) {
        float *row = enc->E + (int64_t)i * Din;
        const float *v = init ? semid_wordvec_get(init, enc->vocab[i]) : NULL;
        if (v) {
            memcpy(row, v, (size_t)Din * sizeof(float));
            known++;
        } else {
            semid_rng r = semid_rng_fork(&root, (uint64_t)i);
            for (int32_t d = 0; d < Din; d++) row[d] = cfg->init_std * (float)semid_rng_normal(&r);
        }
    }
    enc->n_pretrained = known;
    semid_rng rw = semid_rng_fork(&root, UINT64_C(0xFFFFFFFF00000001));
    float wstd = 1.0f / sqrtf((float)Din);
    for (int64_t k = 0; k < (int64_t)Dout * Din; k++) enc->W[k] = wstd * (float)semid_rng_normal(&rw);
    SEMID_INFO("text encoder: %d words (%d with pretrained vectors), %d n-gram buckets, %d -> %d, %lld parameters",
               enc->V, known, cfg->n_buckets, Din, Dout, (long long)enc->n_params);
    *out = enc;
    return SEMID_OK;
}

const semid_text_encoder_config *semid_text_encoder_get_config(const semid_text_encoder *enc) { return &enc->cfg; }
int32_t semid_text_encoder_vocab_size(const semid_text_encoder *enc) { return enc->V; }

semid_status semid_text_encoder_word_vectors(const semid_text_encoder *enc, semid_wordvec *out) {
    memset(out, 0, sizeof *out);
    semid_matrix vec = {0};
    SEMID_TRY(semid_text_encoder_encode(enc, (const char *const *)enc->vocab, enc->V, &vec));
    semid_status st = semid_wordvec_from_arrays(out, (const char *const *)enc->vocab, vec.data, enc->V, (int32_t)vec.cols);
    semid_matrix_free(&vec);
    return st;
}
int32_t semid_text_encoder_pretrained_words(const semid_text_encoder *enc) { return enc->n_pretrained; }

float *semid_text_encoder_params(semid_text_encoder *enc, int64_t *n) {
    if (n) *n = enc->n_params;
    return enc->params;
}
float *semid_text_encoder_grads(semid_text_encoder *enc, int64_t *n) {
    if (n) *n = enc->n_params;
    return enc->grads;
}
const uint8_t *semid_text_encoder_decay_mask(const semid_text_encoder *enc) { return enc->decay_mask; }

/* ---------------------------------------------------------- featurizing */

void semid_text_feats_free(semid_text_feats *f) {
    if (!f) return;
    free(f->off), free(f->units), free(f->extra_off), free(f->extra_ng);
    free(f);
}

int64_t semid_text_feats_count(const semid_text_feats *f) { return f->n; }
int32_t semid_text_feats_length(const semid_text_feats *f, int64_t i) { return (int32_t)(f->off[i + 1] - f->off[i]); }

semid_status semid_text_encoder_featurize(const semid_text_encoder *enc, const char *const *texts, int64_t n,
                                          semid_text_feats **out) {
    *out = NULL;
    semid_text_feats *f = calloc(1, sizeof(*f));
    semid_id_index *extra_ix = NULL;
    if (!f) return semid_fail(SEMID_ENOMEM, "out of memory featurizing texts");
    f->n = n;
    f->V = enc->V;
    int64_t cap_units = 0, cap_eoff = 0, cap_eng = 0;
    f->off = malloc(((size_t)n + 1) * sizeof(int64_t));
    semid_status st = f->off ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory featurizing texts");
    if (st == SEMID_OK) st = semid_id_index_create(&extra_ix, 64);
    if (st == SEMID_OK && !grow((void **)&f->extra_off, &cap_eoff, 1, sizeof(int64_t)))
        st = semid_fail(SEMID_ENOMEM, "out of memory featurizing texts");
    if (st == SEMID_OK) f->off[0] = 0, f->extra_off[0] = 0;
    int64_t n_units = 0;
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        semid_words w;
        st = semid_tokenize(texts[i], &w);
        if (st == SEMID_OK && !grow((void **)&f->units, &cap_units, n_units + w.n, sizeof(int32_t)))
            st = semid_fail(SEMID_ENOMEM, "out of memory featurizing texts");
        for (int32_t k = 0; k < w.n && st == SEMID_OK; k++) {
            int32_t id = semid_id_index_get(enc->index, w.words[k]);
            if (id < 0) {
                int32_t e = semid_id_index_get(extra_ix, w.words[k]);
                if (e < 0) {
                    e = f->n_extra;
                    int64_t G = ngram_count(&enc->cfg, strlen(w.words[k]));
                    int64_t at = f->extra_off[e];
                    if (!grow((void **)&f->extra_off, &cap_eoff, (int64_t)e + 2, sizeof(int64_t)) ||
                        !grow((void **)&f->extra_ng, &cap_eng, at + G + 1, sizeof(int32_t))) {
                        st = semid_fail(SEMID_ENOMEM, "out of memory featurizing texts");
                        break;
                    }
                    if (G > 0) ngram_buckets(&enc->cfg, w.words[k], f->extra_ng + at);
                    f->extra_off[e + 1] = at + G;
                    f->n_extra++;
                    st = semid_id_index_put(extra_ix, w.words[k], e, NULL);
                }
                id = enc->V + e;
            }
            f->units[n_units++] = id;
        }
        f->off[i + 1] = n_units;
        semid_words_free(&w);
    }
    semid_id_index_free(extra_ix);
    if (st != SEMID_OK) {
        semid_text_feats_free(f);
        return st;
    }
    *out = f;
    return SEMID_OK;
}

semid_status semid_text_feats_bags(const semid_text_encoder *enc, const semid_text_feats *f, int64_t **offsets,
                                   int32_t **rows, float **weights) {
    int64_t total = 0;
    for (int64_t k = 0; k < f->off[f->n]; k++) {
        const int32_t *ng;
        int64_t G;
        unit_ngrams(enc, f, f->units[k], &ng, &G);
        total += (f->units[k] < enc->V) + G;
    }
    *offsets = malloc(((size_t)f->n + 1) * sizeof(int64_t));
    *rows = malloc((size_t)(total > 0 ? total : 1) * sizeof(int32_t));
    *weights = malloc((size_t)(total > 0 ? total : 1) * sizeof(float));
    if (!*offsets || !*rows || !*weights) {
        free(*offsets), free(*rows), free(*weights);
        *offsets = NULL, *rows = NULL, *weights = NULL;
        return semid_fail(SEMID_ENOMEM, "out of memory for %lld bag entries", (long long)total);
    }
    int64_t at = 0;
    (*offsets)[0] = 0;
    for (int64_t i = 0; i < f->n; i++) {
        int64_t T = f->off[i + 1] - f->off[i];
        for (int64_t k = f->off[i]; k < f->off[i + 1]; k++) {
            int32_t u = f->units[k];
            const int32_t *ng;
            int64_t G;
            unit_ngrams(enc, f, u, &ng, &G);
            if (u < enc->V) (*rows)[at] = u, (*weights)[at++] = 1.0f / (float)T;
            for (int64_t g = 0; g < G; g++) (*rows)[at] = enc->V + ng[g], (*weights)[at++] = 1.0f / ((float)T * (float)G);
        }
        (*offsets)[i + 1] = at;
    }
    return SEMID_OK;
}

/* ---------------------------------------------------------- forward */

static semid_status ws_reserve_forward(batch_ws *w, const semid_text_encoder *enc, const semid_text_feats *f,
                                       const int64_t *idx, int32_t B) {
    const semid_text_encoder_config *c = &enc->cfg;
    int64_t O = 0;
    for (int32_t t = 0; t < B; t++) O += f->off[idx[t] + 1] - f->off[idx[t]];
    int64_t n_units = (int64_t)enc->V + f->n_extra;
    int64_t old_mark = w->cap_mark;
    int64_t cap_B = w->cap_B, cap_U = w->cap_U, cap_O = w->cap_O;
    int64_t U_max = O < n_units ? O : n_units;
    if (U_max < 1) U_max = 1;
    if (O < 1) O = 1;
    int ok = grow((void **)&w->mark, &w->cap_mark, n_units + 1, sizeof(int32_t));
    if (ok) {
        for (int64_t k = old_mark; k < w->cap_mark; k++) w->mark[k] = -1;
    }
    if (ok && B > w->cap_B) {
        int64_t nb = B;
        ok = resize(&w->text_off, ((size_t)nb + 1) * sizeof(int64_t)) &&
             resize(&w->h, (size_t)nb * c->dim_word * sizeof(float)) &&
             resize(&w->dh, (size_t)nb * c->dim_word * sizeof(float)) &&
             resize(&w->z, (size_t)nb * c->dim_out * sizeof(float)) &&
             resize(&w->y, (size_t)nb * c->dim_out * sizeof(float)) &&
             resize(&w->dz, (size_t)nb * c->dim_out * sizeof(float)) &&
             resize(&w->znorm, (size_t)nb * sizeof(float));
        if (ok) cap_B = nb;
    }
    if (ok && U_max > w->cap_U) {
        int64_t nu = U_max;
        ok = resize(&w->uniq, ((size_t)nu + 1) * sizeof(int32_t)) &&
             resize(&w->uvec, ((size_t)nu + 1) * c->dim_word * sizeof(float)) &&
             resize(&w->du, ((size_t)nu + 1) * c->dim_word * sizeof(float)) &&
             resize(&w->u_off, ((size_t)nu + 2) * sizeof(int64_t));
        if (ok) cap_U = nu;
    }
    if (ok && O > w->cap_O) {
        ok = resize(&w->occ, ((size_t)O + 1) * sizeof(int32_t)) &&
             resize(&w->u_text, ((size_t)O + 1) * sizeof(int32_t));
        if (ok) cap_O = O;
    }
    if (!ok) return semid_fail(SEMID_ENOMEM, "out of memory for a batch of %d texts", B);
    w->cap_B = (int32_t)cap_B, w->cap_U = (int32_t)cap_U, w->cap_O = cap_O;
    return SEMID_OK;
}

static semid_status forward_ws(const semid_text_encoder *enc, batch_ws *w, const semid_text_feats *f,
                               const int64_t *idx, int32_t B, float *out) {
    if (f->V != enc->V) return semid_fail(SEMID_EINVAL, "text features were made by another encoder");
    for (int32_t t = 0; t < B; t++)
        if (idx[t] < 0 || idx[t] >= f->n)
            return semid_fail(SEMID_EINVAL, "text index %lld out of range (0..%lld)", (long long)idx[t], (long long)f->n - 1);
    SEMID_TRY(ws_reserve_forward(w, enc, f, idx, B));
    const int32_t Din = enc->cfg.dim_word, Dout = enc->cfg.dim_out;
    w->B = B;
    w->f = f;
    /* Distinct units, in order of first occurrence. */
    int32_t U = 0;
    int64_t O = 0;
    w->text_off[0] = 0;
    for (int32_t t = 0; t < B; t++) {
        for (int64_t k = f->off[idx[t]]; k < f->off[idx[t] + 1]; k++) {
            int32_t u = f->units[k];
            if (w->mark[u] < 0) w->mark[u] = U, w->uniq[U++] = u;
            w->occ[O++] = w->mark[u];
        }
        w->text_off[t + 1] = O;
    }
    for (int32_t i = 0; i < U; i++) w->mark[w->uniq[i]] = -1;
    w->U = U;
    w->O = O;

    /* Unit vectors: E row (if in the vocabulary) + mean of n-gram rows. */
#pragma omp parallel for schedule(dynamic, 64) num_threads(semid_get_threads())
    for (int32_t i = 0; i < U; i++) {
        int32_t u = w->uniq[i];
        float *v = w->uvec + (int64_t)i * Din;
        if (u < enc->V)
            memcpy(v, enc->E + (int64_t)u * Din, (size_t)Din * sizeof(float));
        else
            memset(v, 0, (size_t)Din * sizeof(float));
        const int32_t *ng;
        int64_t G;
        unit_ngrams(enc, f, u, &ng, &G);
        if (G > 0) {
            float s = 1.0f / (float)G;
            for (int64_t g = 0; g < G; g++) {
                const float *row = enc->N + (int64_t)ng[g] * Din;
                for (int32_t d = 0; d < Din; d++) v[d] += s * row[d];
            }
        }
    }
    /* Texts: mean of their units. */
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int32_t t = 0; t < B; t++) {
        float *h = w->h + (int64_t)t * Din;
        memset(h, 0, (size_t)Din * sizeof(float));
        int64_t T = w->text_off[t + 1] - w->text_off[t];
        if (T == 0) continue;
        float s = 1.0f / (float)T;
        for (int64_t k = w->text_off[t]; k < w->text_off[t + 1]; k++) {
            const float *v = w->uvec + (int64_t)w->occ[k] * Din;
            for (int32_t d = 0; d < Din; d++) h[d] += s * v[d];
        }
    }
    /* z = h Wᵀ + b; y = z / |z| (a text with no word stays zero). */
    semid_sgemm(false, true, B, Dout, Din, 1.0f, w->h, Din, enc->W, Din, 0.0f, w->z, Dout);
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int32_t t = 0; t < B; t++) {
        float *z = w->z + (int64_t)t * Dout, *y = w->y + (int64_t)t * Dout;
        int empty = w->text_off[t + 1] == w->text_off[t];
        double sq = 0.0;
        for (int32_t d = 0; d < Dout; d++) {
            if (!empty) z[d] += enc->b[d];
            sq += (double)z[d] * z[d];
        }
        float nrm = (float)sqrt(sq);
        w->znorm[t] = nrm;
        if (nrm >= FLT_MIN) {
            float inv = 1.0f / nrm;
            for (int32_t d = 0; d < Dout; d++) y[d] = z[d] * inv;
        } else {
            /* |z| below the normal floats (or 0): 1 / |z| would overflow to
             * Inf in float, so divide in double (a zero row stays zero). */
            double root = sqrt(sq);
            for (int32_t d = 0; d < Dout; d++) y[d] = root > 0 ? (float)((double)z[d] / root) : 0.0f;
        }
    }
    if (out) memcpy(out, w->y, (size_t)B * Dout * sizeof(float));
    return SEMID_OK;
}

semid_status semid_text_encoder_forward(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *idx,
                                        int32_t B, float *out) {
    enc->has_forward = 0;
    SEMID_TRY(forward_ws(enc, &enc->ws, f, idx, B, out));
    enc->has_forward = 1;
    return SEMID_OK;
}

/* ---------------------------------------------------------- backward */

semid_status semid_text_encoder_backward(semid_text_encoder *enc, const float *dout) {
    if (!enc->has_forward) return semid_fail(SEMID_EINVAL, "text encoder: backward without a forward pass");
    batch_ws *w = &enc->ws;
    const int32_t Din = enc->cfg.dim_word, Dout = enc->cfg.dim_out, B = w->B, U = w->U;
    const semid_text_feats *f = w->f;

    /* Through the normalisation: dz = (dy - y (y·dy)) / |z|. */
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int32_t t = 0; t < B; t++) {
        const float *y = w->y + (int64_t)t * Dout, *dy = dout + (int64_t)t * Dout;
        float *dz = w->dz + (int64_t)t * Dout;
        float nrm = w->znorm[t];
        if (nrm <= 0.0f) {
            memset(dz, 0, (size_t)Dout * sizeof(float));
            continue;
        }
        double yd = 0.0;
        for (int32_t d = 0; d < Dout; d++) yd += (double)y[d] * dy[d];
        for (int32_t d = 0; d < Dout; d++) dz[d] = (dy[d] - y[d] * (float)yd) / nrm;
    }
    /* Projection: gW += dzᵀ h, gb += Σ dz (texts with words), dh = dz W. */
    semid_sgemm(true, false, Dout, Din, B, 1.0f, w->dz, Dout, w->h, Din, 1.0f, enc->gW, Din);
    for (int32_t t = 0; t < B; t++) {
        if (w->text_off[t + 1] == w->text_off[t]) continue;
        const float *dz = w->dz + (int64_t)t * Dout;
        for (int32_t d = 0; d < Dout; d++) enc->gb[d] += dz[d];
    }
    semid_sgemm(false, false, B, Din, Dout, 1.0f, w->dz, Dout, enc->W, Din, 0.0f, w->dh, Din);

    /* Occurrences grouped by unit (counting sort keeps text order). */
    memset(w->u_off, 0, ((size_t)U + 1) * sizeof(int64_t));
    for (int64_t k = 0; k < w->O; k++) w->u_off[w->occ[k] + 1]++;
    for (int32_t i = 0; i < U; i++) w->u_off[i + 1] += w->u_off[i];
    for (int32_t t = 0; t < B; t++)
        for (int64_t k = w->text_off[t]; k < w->text_off[t + 1]; k++) w->u_text[w->u_off[w->occ[k]]++] = t;
    for (int32_t i = U; i > 0; i--) w->u_off[i] = w->u_off[i - 1];
    w->u_off[0] = 0;

    /* du = Σ_texts dh / T; E rows get du directly (one unit per row). */
#pragma omp parallel for schedule(dynamic, 64) num_threads(semid_get_threads())
    for (int32_t i = 0; i < U; i++) {
        float *du = w->du + (int64_t)i * Din;
        memset(du, 0, (size_t)Din * sizeof(float));
        for (int64_t k = w->u_off[i]; k < w->u_off[i + 1]; k++) {
            int32_t t = w->u_text[k];
            float s = 1.0f / (float)(w->text_off[t + 1] - w->text_off[t]);
            const float *dh = w->dh + (int64_t)t * Din;
            for (int32_t d = 0; d < Din; d++) du[d] += s * dh[d];
        }
        int32_t u = w->uniq[i];
        if (u < enc->V) {
            float *g = enc->gE + (int64_t)u * Din;
            for (int32_t d = 0; d < Din; d++) g[d] += du[d];
        }
    }
    for (int32_t i = 0; i < U; i++) {
        int32_t u = w->uniq[i];
        if (u < enc->V && !enc->touched_E[u]) enc->touched_E[u] = 1, enc->list_E[enc->n_list_E++] = u;
    }
    if (enc->cfg.n_buckets == 0) return SEMID_OK;

    /* n-gram entries grouped by bucket. */
    int64_t G_total = 0;
    int32_t nb = 0;
    for (int32_t i = 0; i < U; i++) {
        const int32_t *ng;
        int64_t G;
        unit_ngrams(enc, f, w->uniq[i], &ng, &G);
        G_total += G;
        for (int64_t g = 0; g < G; g++)
            if (enc->bucket_slot[ng[g]] < 0) enc->bucket_slot[ng[g]] = nb++;
    }
    int64_t capb = w->cap_G;
    if (!grow((void **)&w->g_unit, &capb, G_total + 1, sizeof(int32_t)) ||
        !resize(&w->g_w, (size_t)capb * sizeof(float)) ||
        !resize(&w->g_off, ((size_t)nb + 2) * sizeof(int64_t)) ||
        !resize(&w->g_bucket, ((size_t)nb + 1) * sizeof(int32_t))) {
        for (int32_t i = 0; i < U; i++) {
            const int32_t *ng;
            int64_t G;
            unit_ngrams(enc, f, w->uniq[i], &ng, &G);
            for (int64_t g = 0; g < G; g++) enc->bucket_slot[ng[g]] = -1;
        }
        return semid_fail(SEMID_ENOMEM, "out of memory for n-gram gradients");
    }
    w->cap_G = capb;
    memset(w->g_off, 0, ((size_t)nb + 2) * sizeof(int64_t));
    for (int32_t i = 0; i < U; i++) {
        const int32_t *ng;
        int64_t G;
        unit_ngrams(enc, f, w->uniq[i], &ng, &G);
        for (int64_t g = 0; g < G; g++) w->g_off[enc->bucket_slot[ng[g]] + 1]++;
    }
    for (int32_t s = 0; s < nb; s++) w->g_off[s + 1] += w->g_off[s];
    for (int32_t i = 0; i < U; i++) {
        const int32_t *ng;
        int64_t G;
        unit_ngrams(enc, f, w->uniq[i], &ng, &G);
        for (int64_t g = 0; g < G; g++) {
            int32_t s = enc->bucket_slot[ng[g]];
            w->g_bucket[s] = ng[g];
            int64_t at = w->g_off[s]++;
            w->g_unit[at] = i;
            w->g_w[at] = 1.0f / (float)G;
        }
    }
    for (int32_t s = nb; s > 0; s--) w->g_off[s] = w->g_off[s - 1];
    w->g_off[0] = 0;
#pragma omp parallel for schedule(dynamic, 64) num_threads(semid_get_threads())
    for (int32_t s = 0; s < nb; s++) {
        float *g = enc->gN + (int64_t)w->g_bucket[s] * Din;
        for (int64_t k = w->g_off[s]; k < w->g_off[s + 1]; k++) {
            const float *du = w->du + (int64_t)w->g_unit[k] * Din;
            float wt = w->g_w[k];
            for (int32_t d = 0; d < Din; d++) g[d] += wt * du[d];
        }
    }
    for (int32_t s = 0; s < nb; s++) {
        int32_t bkt = w->g_bucket[s];
        enc->bucket_slot[bkt] = -1;
        if (!enc->touched_N[bkt]) enc->touched_N[bkt] = 1, enc->list_N[enc->n_list_N++] = bkt;
    }
    return SEMID_OK;
}

void semid_text_encoder_zero_grad(semid_text_encoder *enc) {
    const int32_t Din = enc->cfg.dim_word, Dout = enc->cfg.dim_out;
    for (int32_t k = 0; k < enc->n_list_E; k++) {
        int32_t r = enc->list_E[k];
        memset(enc->gE + (int64_t)r * Din, 0, (size_t)Din * sizeof(float));
        enc->touched_E[r] = 0;
    }
    for (int32_t k = 0; k < enc->n_list_N; k++) {
        int32_t r = enc->list_N[k];
        memset(enc->gN + (int64_t)r * Din, 0, (size_t)Din * sizeof(float));
        enc->touched_N[r] = 0;
    }
    enc->n_list_E = enc->n_list_N = 0;
    memset(enc->gW, 0, ((size_t)Dout * Din + Dout) * sizeof(float));
}

/* ---------------------------------------------------------- touched rows */

int64_t semid_text_encoder_rows(const semid_text_encoder *enc) { return (int64_t)enc->V + enc->cfg.n_buckets; }

void semid_text_encoder_touched_bits(const semid_text_encoder *enc, uint64_t *bits) {
    for (int32_t k = 0; k < enc->n_list_E; k++) {
        int64_t r = enc->list_E[k];
        bits[r / 64] |= UINT64_C(1) << (r % 64);
    }
    for (int32_t k = 0; k < enc->n_list_N; k++) {
        int64_t r = (int64_t)enc->V + enc->list_N[k];
        bits[r / 64] |= UINT64_C(1) << (r % 64);
    }
}

void semid_text_encoder_touch_bits(semid_text_encoder *enc, const uint64_t *bits) {
    const int64_t n_rows = semid_text_encoder_rows(enc);
    for (int64_t w = 0; w < (n_rows + 63) / 64; w++) {
        for (uint64_t m = bits[w]; m; m &= m - 1) {
            int64_t r = w * 64 + __builtin_ctzll(m);
            if (r >= n_rows) break;
            if (r < enc->V) {
                if (!enc->touched_E[r]) enc->touched_E[r] = 1, enc->list_E[enc->n_list_E++] = (int32_t)r;
            } else {
                int32_t bkt = (int32_t)(r - enc->V);
                if (!enc->touched_N[bkt]) enc->touched_N[bkt] = 1, enc->list_N[enc->n_list_N++] = bkt;
            }
        }
    }
}

float *semid_text_encoder_row_grad(semid_text_encoder *enc, int64_t r) {
    return enc->grads + r * enc->cfg.dim_word; /* E and N are consecutive in the layout */
}

uint64_t semid_text_feats_checksum(const semid_text_feats *f) {
    semid_xxh64_state h;
    semid_xxh64_init(&h);
    semid_xxh64_update(&h, &f->n, sizeof f->n);
    semid_xxh64_update(&h, f->off, ((size_t)f->n + 1) * sizeof *f->off);
    semid_xxh64_update(&h, f->units, (size_t)f->off[f->n] * sizeof *f->units);
    semid_xxh64_update(&h, &f->n_extra, sizeof f->n_extra);
    semid_xxh64_update(&h, f->extra_off, ((size_t)f->n_extra + 1) * sizeof *f->extra_off);
    semid_xxh64_update(&h, f->extra_ng, (size_t)f->extra_off[f->n_extra] * sizeof *f->extra_ng);
    return semid_xxh64_final(&h);
}

/* ---------------------------------------------------------- optimiser */

semid_status semid_text_encoder_opt_init(semid_text_encoder_opt *opt, const semid_text_encoder *enc,
                                         const semid_adamw_config *cfg) {
    return semid_adamw_init(&opt->adam, cfg, enc->n_params);
}

void semid_text_encoder_opt_free(semid_text_encoder_opt *opt) { semid_adamw_free(&opt->adam); }

/* AdamW on `len` consecutive parameters starting at `off`, all with weight
 * decay `wd`. The AVX path does the same IEEE operations in the same order
 * as the scalar loop (no FMA contraction under -std=c11), so results are
 * identical; it exists because sqrtf does not vectorise while errno is
 * honoured, and this loop dominates a training step. */
static void adam_range(semid_adamw *a, float *params, const float *grads, int64_t off, int64_t len, float clip,
                       float lr, float bc1, float bc2, float wd) {
    const semid_adamw_config *c = &a->cfg;
    const float b1 = c->beta1, b2 = c->beta2, nb1 = 1.0f - c->beta1, nb2 = 1.0f - c->beta2, eps = c->eps;
    float *restrict p = params + off, *restrict m = a->m + off, *restrict v = a->v + off;
    const float *restrict g = grads + off;
    int64_t i = 0;
#ifdef __AVX__
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vnb1 = _mm256_set1_ps(nb1),
                 vnb2 = _mm256_set1_ps(nb2), veps = _mm256_set1_ps(eps), vclip = _mm256_set1_ps(clip),
                 vlr = _mm256_set1_ps(lr), vbc1 = _mm256_set1_ps(bc1), vbc2 = _mm256_set1_ps(bc2),
                 vwd = _mm256_set1_ps(wd);
    for (; i + 8 <= len; i += 8) {
        __m256 gg = _mm256_mul_ps(_mm256_loadu_ps(g + i), vclip);
        __m256 mm = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vnb1, gg));
        __m256 vv = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(vnb2, gg), gg));
        _mm256_storeu_ps(m + i, mm);
        _mm256_storeu_ps(v + i, vv);
        __m256 upd = _mm256_div_ps(_mm256_div_ps(mm, vbc1), _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vv, vbc2)), veps));
        __m256 pp = _mm256_loadu_ps(p + i);
        pp = _mm256_sub_ps(pp, _mm256_mul_ps(vlr, _mm256_add_ps(upd, _mm256_mul_ps(vwd, pp))));
        _mm256_storeu_ps(p + i, pp);
    }
#endif
    for (; i < len; i++) {
        float gg = g[i] * clip;
        float mm = m[i] = b1 * m[i] + nb1 * gg;
        float vv = v[i] = b2 * v[i] + nb2 * gg * gg;
        float upd = (mm / bc1) / (sqrtf(vv / bc2) + eps);
        p[i] -= lr * (upd + wd * p[i]);
    }
}

float semid_text_encoder_step(semid_text_encoder *enc, semid_text_encoder_opt *opt) {
    semid_adamw *a = &opt->adam;
    const int32_t Din = enc->cfg.dim_word, Dout = enc->cfg.dim_out;
    const int64_t offN = enc->N - enc->params, offW = enc->W - enc->params;
    const int64_t nWb = (int64_t)Dout * Din + Dout;
    float norm = 0.0f, clip = 1.0f;
    if (a->cfg.clip_norm > 0.0f) {
        double sq = 0.0;
#pragma omp parallel for reduction(+ : sq) schedule(static) num_threads(semid_get_threads())
        for (int32_t k = 0; k < enc->n_list_E; k++) {
            const float *g = enc->gE + (int64_t)enc->list_E[k] * Din;
            for (int32_t d = 0; d < Din; d++) sq += (double)g[d] * g[d];
        }
#pragma omp parallel for reduction(+ : sq) schedule(static) num_threads(semid_get_threads())
        for (int32_t k = 0; k < enc->n_list_N; k++) {
            const float *g = enc->gN + (int64_t)enc->list_N[k] * Din;
            for (int32_t d = 0; d < Din; d++) sq += (double)g[d] * g[d];
        }
        for (int64_t i = 0; i < nWb; i++) sq += (double)enc->gW[i] * enc->gW[i];
        norm = (float)sqrt(sq);
        if (norm > a->cfg.clip_norm) clip = a->cfg.clip_norm / (norm + 1e-6f);
    }
    float lr = semid_adamw_lr(&a->cfg, a->step);
    a->step++;
    float bc1 = 1.0f - powf(a->cfg.beta1, (float)a->step);
    float bc2 = 1.0f - powf(a->cfg.beta2, (float)a->step);
    const float wd = a->cfg.weight_decay;
#pragma omp parallel num_threads(semid_get_threads())
    {
#pragma omp for schedule(static) nowait
        for (int32_t k = 0; k < enc->n_list_E; k++)
            adam_range(a, enc->params, enc->grads, (int64_t)enc->list_E[k] * Din, Din, clip, lr, bc1, bc2, wd);
#pragma omp for schedule(static) nowait
        for (int32_t k = 0; k < enc->n_list_N; k++)
            adam_range(a, enc->params, enc->grads, offN + (int64_t)enc->list_N[k] * Din, Din, clip, lr, bc1, bc2, wd);
#pragma omp for schedule(static)
        for (int32_t r = 0; r < Dout; r++)
            adam_range(a, enc->params, enc->grads, offW + (int64_t)r * Din, Din, clip, lr, bc1, bc2, wd);
    }
    /* The bias: no weight decay. */
    adam_range(a, enc->params, enc->grads, offW + (int64_t)Dout * Din, Dout, clip, lr, bc1, bc2, 0.0f);
    return norm;
}

/* ---------------------------------------------------------- encoding */

semid_status semid_text_encoder_encode(const semid_text_encoder *enc, const char *const *texts, int64_t n,
                                       semid_matrix *out) {
    memset(out, 0, sizeof(*out));
    SEMID_TRY(semid_matrix_alloc(out, n, enc->cfg.dim_out));
    batch_ws w = {0};
    int64_t *idx = malloc(ENCODE_CHUNK * sizeof(int64_t));
    semid_status st = idx ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory encoding texts");
    for (int64_t start = 0; start < n && st == SEMID_OK; start += ENCODE_CHUNK) {
        int32_t B = (int32_t)(n - start < ENCODE_CHUNK ? n - start : ENCODE_CHUNK);
        semid_text_feats *f = NULL;
        st = semid_text_encoder_featurize(enc, texts + start, B, &f);
        for (int32_t t = 0; t < B; t++) idx[t] = t;
        if (st == SEMID_OK) st = forward_ws(enc, &w, f, idx, B, out->data + start * enc->cfg.dim_out);
        semid_text_feats_free(f);
    }
    free(idx);
    ws_free(&w);
    /* Finite parameters can still overflow (a loaded file's, far from any
     * trained model's): a NaN or Inf row is an error, not a result. */
    for (int64_t i = 0; st == SEMID_OK && i < n * enc->cfg.dim_out; i++)
        if (!isfinite(out->data[i]))
            st = semid_fail(SEMID_ENUMERIC, "text encoder: text %lld encodes to a non-finite value (parameters too large?)",
                            (long long)(i / enc->cfg.dim_out));
    if (st != SEMID_OK) semid_matrix_free(out);
    return st;
}

/* ---------------------------------------------------------- save / load */

/* NULL when out of memory. */
static cJSON *config_json(const semid_text_encoder *enc) {
    const semid_text_encoder_config *c = &enc->cfg;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    char seed[32];
    snprintf(seed, sizeof(seed), "%llu", (unsigned long long)c->seed);
    if (!cJSON_AddNumberToObject(j, "version", SAVE_VERSION) || !cJSON_AddNumberToObject(j, "vocab_size", enc->V) ||
        !cJSON_AddNumberToObject(j, "dim_word", c->dim_word) || !cJSON_AddNumberToObject(j, "dim_out", c->dim_out) ||
        !cJSON_AddNumberToObject(j, "n_buckets", c->n_buckets) || !cJSON_AddNumberToObject(j, "ngram_min", c->ngram_min) ||
        !cJSON_AddNumberToObject(j, "ngram_max", c->ngram_max) || !cJSON_AddNumberToObject(j, "min_count", c->min_count) ||
        !cJSON_AddNumberToObject(j, "max_vocab", c->max_vocab) || !cJSON_AddNumberToObject(j, "init_std", c->init_std) ||
        !cJSON_AddNumberToObject(j, "pretrained_words", enc->n_pretrained) || !cJSON_AddStringToObject(j, "seed", seed)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

semid_status semid_text_encoder_save(const semid_text_encoder *enc, const char *path) {
    const semid_text_encoder_config *c = &enc->cfg;
    size_t vlen = 1;
    for (int32_t i = 0; i < enc->V; i++) vlen += strlen(enc->vocab[i]) + 1;
    char *vocab = malloc(vlen);
    cJSON *cfg = config_json(enc);
    char *cfg_str = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    if (!vocab || !cfg_str) {
        free(vocab), free(cfg_str);
        return semid_fail(SEMID_ENOMEM, "out of memory saving %s", path);
    }
    size_t at = 0;
    for (int32_t i = 0; i < enc->V; i++) {
        size_t l = strlen(enc->vocab[i]);
        memcpy(vocab + at, enc->vocab[i], l);
        at += l;
        vocab[at++] = '\n';
    }
    vocab[at] = '\0';
    const semid_st_tensor_ref tensors[4] = {
        {.name = "word_emb", .data = enc->E, .ndim = 2, .shape = {enc->V, c->dim_word}},
        {.name = "ngram_emb", .data = enc->N, .ndim = 2, .shape = {c->n_buckets, c->dim_word}},
        {.name = "proj_w", .data = enc->W, .ndim = 2, .shape = {c->dim_out, c->dim_word}},
        {.name = "proj_b", .data = enc->b, .ndim = 1, .shape = {c->dim_out}},
    };
    const char *const keys[3] = {"format", "config", "vocab"};
    const char *const values[3] = {SAVE_FORMAT, cfg_str, vocab};
    semid_status st = semid_safetensors_write(path, tensors, 4, keys, values, 3);
    free(vocab), free(cfg_str);
    return st;
}

static int json_int(const cJSON *j, const char *key, int32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    /* range first: the cast of a double out of int32 range is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= INT32_MIN && v->valuedouble <= INT32_MAX) ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return 0;
    *out = (int32_t)v->valuedouble;
    return 1;
}

/* The tensor `name` with the shape (rows, cols), or (rows) when cols < 0. */
static const semid_st_tensor *find_tensor(const semid_safetensors *f, const char *name, int64_t rows, int64_t cols) {
    const semid_st_tensor *t = semid_safetensors_find(f, name);
    if (!t) {
        semid_fail(SEMID_EFORMAT, "%s: tensor '%s' is missing", f->path, name);
        return NULL;
    }
    if (t->ndim != (cols < 0 ? 1 : 2) || t->shape[0] != rows || (cols >= 0 && t->shape[1] != cols)) {
        semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has the wrong shape", f->path, name);
        return NULL;
    }
    return t;
}

/* The config of the metadata, checked; V its vocabulary size. */
static semid_status parse_config(const semid_safetensors *f, semid_text_encoder_config *c, int32_t *V,
                                 int32_t *pretrained) {
    const char *path = f->path;
    const char *cfg_text = semid_safetensors_meta(f, "config");
    int oom = 0;
    cJSON *j = cfg_text ? semid_json_parse(cfg_text, strlen(cfg_text), &oom) : NULL;
    *c = semid_text_encoder_defaults();
    int32_t version = 0;
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    const cJSON *istd = cJSON_GetObjectItemCaseSensitive(j, "init_std");
    semid_status st = SEMID_OK;
    if (oom)
        st = semid_fail(SEMID_ENOMEM, "%s: out of memory", path);
    else if (!j)
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid text encoder (bad header)", path);
    else if (!json_int(j, "version", &version) || !json_int(j, "vocab_size", V) ||
             !json_int(j, "dim_word", &c->dim_word) || !json_int(j, "dim_out", &c->dim_out) ||
             !json_int(j, "n_buckets", &c->n_buckets) || !json_int(j, "ngram_min", &c->ngram_min) ||
             !json_int(j, "ngram_max", &c->ngram_max) || !json_int(j, "min_count", &c->min_count) ||
             !json_int(j, "max_vocab", &c->max_vocab) || !json_int(j, "pretrained_words", pretrained) ||
             !cJSON_IsString(seed) || !cJSON_IsNumber(istd) || *V < 0)
        st = semid_fail(SEMID_EFORMAT, "%s: incomplete text encoder config", path);
    else if (version != SAVE_VERSION)
        st = semid_fail(SEMID_EFORMAT, "%s: text encoder version %d, this build reads %d", path, version,
                        SAVE_VERSION);
    if (st == SEMID_OK) {
        c->seed = strtoull(seed->valuestring, NULL, 10);
        c->init_std = (float)istd->valuedouble;
        if ((st = check_config(c)) != SEMID_OK) semid_fail_context(st, "%s", path);
    }
    cJSON_Delete(j);
    return st;
}

/* The vocabulary string, one word a line, into enc->vocab (enc->V words). */
static semid_status parse_vocab(semid_text_encoder *enc, const char *words, const char *path) {
    enc->vocab = calloc((size_t)enc->V + 1, sizeof(char *));
    if (!enc->vocab) return semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
    const char *p = words;
    for (int32_t i = 0; i < enc->V; i++) {
        const char *nl = strchr(p, '\n');
        if (!nl || nl == p)
            return semid_fail(SEMID_EFORMAT, "%s: the vocabulary has fewer than %d words", path, enc->V);
        enc->vocab[i] = strndup(p, (size_t)(nl - p));
        if (!enc->vocab[i]) return semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
        p = nl + 1;
    }
    return SEMID_OK;
}

static semid_status load_from(const semid_safetensors *f, semid_text_encoder *enc) {
    const char *path = f->path;
    const char *format = semid_safetensors_meta(f, "format"), *words = semid_safetensors_meta(f, "vocab");
    if (!format || strcmp(format, SAVE_FORMAT) != 0 || !semid_safetensors_meta(f, "config") || !words)
        return semid_fail(SEMID_EFORMAT, "%s: not a semid text encoder (bad header)", path);
    semid_text_encoder_config c;
    int32_t V = 0, pre = 0;
    SEMID_TRY(parse_config(f, &c, &V, &pre));
    /* The sizes against the bytes present, before allocating for them: the
     * parameters lie in the file, and each vocabulary word takes at least 2
     * bytes of the vocabulary string. */
    uint64_t n_params = (uint64_t)V * (uint64_t)c.dim_word + (uint64_t)c.n_buckets * (uint64_t)c.dim_word +
                        (uint64_t)c.dim_out * (uint64_t)c.dim_word + (uint64_t)c.dim_out;
    if (n_params > f->file_len / sizeof(float))
        return semid_fail(SEMID_EFORMAT,
                          "%s: %zu bytes, but its sizes (vocabulary %d, width %d, buckets %d, output %d) need %llu",
                          path, f->file_len, V, c.dim_word, c.n_buckets, c.dim_out,
                          (unsigned long long)(n_params * sizeof(float)));
    if ((uint64_t)V > strlen(words) / 2)
        return semid_fail(SEMID_EFORMAT, "%s: the vocabulary has fewer than %d words", path, V);
    const semid_st_tensor *tE, *tN, *tW, *tb;
    if (!(tE = find_tensor(f, "word_emb", V, c.dim_word)) ||
        !(tN = find_tensor(f, "ngram_emb", c.n_buckets, c.dim_word)) ||
        !(tW = find_tensor(f, "proj_w", c.dim_out, c.dim_word)) || !(tb = find_tensor(f, "proj_b", c.dim_out, -1)))
        return SEMID_EFORMAT;
    if (f->n_tensors != 4)
        return semid_fail(SEMID_EFORMAT, "%s: %lld tensors, a text encoder has 4", path, (long long)f->n_tensors);
    enc->cfg = c;
    enc->V = V;
    enc->n_pretrained = pre;
    SEMID_TRY(parse_vocab(enc, words, path));
    SEMID_TRY(index_vocab(enc));
    SEMID_TRY(alloc_params(enc));
    semid_safetensors_copy(tE, enc->E);
    semid_safetensors_copy(tN, enc->N);
    semid_safetensors_copy(tW, enc->W);
    semid_safetensors_copy(tb, enc->b);
    for (int64_t k = 0; k < enc->n_params; k++)
        if (!isfinite(enc->params[k]))
            return semid_fail(SEMID_ENUMERIC, "%s: parameter %lld is not finite", path, (long long)k);
    return SEMID_OK;
}

semid_status semid_text_encoder_load(const char *path, semid_text_encoder **out) {
    *out = NULL;
    semid_safetensors f;
    SEMID_TRY(semid_safetensors_read(path, &f));
    semid_text_encoder *enc = calloc(1, sizeof(*enc));
    semid_status st = enc ? load_from(&f, enc) : semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
    semid_safetensors_free(&f);
    if (st != SEMID_OK) {
        semid_text_encoder_free(enc);
        return st;
    }
    *out = enc;
    return SEMID_OK;
}
