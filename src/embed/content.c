/* Content embeddings: weighted mean of word vectors, SIF common-component
 * removal, L2 normalisation (see content.h). D = word-vector width. */
#include "embed/content.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "linalg/gemm.h"
#include "linalg/vec.h"
#include "text/tokenize.h"

enum { POWER_ITERS = 200 };

struct semid_content_model {
    semid_content_config cfg;
    const semid_wordvec *wv;
    float *weight; /* (wv->n_words) weight of each known word */
    float *pc;     /* (D) the common component, unit length; NULL if not removed */
};

semid_content_config semid_content_defaults(void) {
    semid_content_config c = {0};
    c.weighting = SEMID_CONTENT_SIF;
    c.sif_a = 1e-3;
    c.remove_pc = 1;
    c.skip_stopwords = 0;
    c.strict = 0;
    return c;
}

void semid_content_model_free(semid_content_model *m) {
    if (!m) return;
    free(m->weight);
    free(m->pc);
    free(m);
}

semid_status semid_item_texts(const semid_dataset *ds, char ***out) {
    char **t = calloc((size_t)ds->n_items + 1, sizeof(char *));
    if (!t) return semid_fail(SEMID_ENOMEM, "out of memory for item texts");
    for (int32_t i = 0; i < ds->n_items; i++) {
        t[i] = semid_item_text(&ds->items[i]);
        if (!t[i]) {
            semid_item_texts_free(t, i);
            return semid_fail(SEMID_ENOMEM, "out of memory for item texts");
        }
    }
    *out = t;
    return SEMID_OK;
}

void semid_item_texts_free(char **texts, int64_t n) {
    if (!texts) return;
    for (int64_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
}

/* Weighted mean of the known words of `text` into v (D); returns the number
 * of known words, or -1 on allocation failure. */
static int64_t embed_one(const semid_content_model *m, const char *text, float *v) {
    const semid_wordvec *wv = m->wv;
    memset(v, 0, (size_t)wv->dim * sizeof(float));
    semid_words w;
    if (semid_tokenize(text, &w) != SEMID_OK) return -1;
    int64_t known = 0;
    for (int32_t k = 0; k < w.n; k++) {
        if (m->cfg.skip_stopwords && semid_is_stopword(w.words[k])) continue;
        int32_t r = semid_wordvec_find(wv, w.words[k]);
        if (r < 0) continue;
        semid_axpy(v, m->weight[r], wv->vectors + (int64_t)r * wv->dim, wv->dim);
        known++;
    }
    if (known > 0) semid_scale(v, 1.0f / (float)known, wv->dim);
    semid_words_free(&w);
    return known;
}

/* Weighted means of n texts into X (n x D); counts texts without a known word. */
static semid_status embed_all(const semid_content_model *m, const char *const *texts, int64_t n, float *X,
                              int64_t *n_empty) {
    int64_t empty = 0, failed = 0, first_empty = -1;
#pragma omp parallel for reduction(+ : empty, failed) schedule(dynamic, 16) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        int64_t k = embed_one(m, texts[i], X + i * m->wv->dim);
        if (k < 0) failed++;
        if (k == 0) empty++;
    }
    if (failed) return semid_fail(SEMID_ENOMEM, "out of memory tokenizing texts");
    if (empty && m->cfg.strict) {
        for (int64_t i = 0; i < n && first_empty < 0; i++)
            if (semid_norm2(X + i * m->wv->dim, m->wv->dim) == 0.0f) first_empty = i;
        return semid_fail(SEMID_EINVAL, "content embedding: %lld text(s) have no word with a vector (first: text %lld)",
                          (long long)empty, (long long)first_empty);
    }
    *n_empty = empty;
    return SEMID_OK;
}

/* First right singular vector of X (n x D, not centred, as SIF) by power
 * iteration on XᵀX from a fixed start, so it is deterministic. */
static semid_status first_component(const float *X, int64_t n, int32_t D, float *pc) {
    float *C = malloc((size_t)D * D * sizeof(float));
    double *v = malloc((size_t)D * sizeof(double)), *nv = malloc((size_t)D * sizeof(double));
    if (!C || !v || !nv) {
        free(C), free(v), free(nv);
        return semid_fail(SEMID_ENOMEM, "out of memory for the principal component");
    }
    semid_sgemm(true, false, D, D, n, 1.0f, X, D, X, D, 0.0f, C, D);
    /* Start from the mean direction (the common component usually is it). */
    for (int32_t d = 0; d < D; d++) v[d] = 1.0 / sqrt((double)D);
    for (int32_t d = 0; d < D && n > 0; d++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += X[i * D + d];
        v[d] += s;
    }
    for (int it = 0; it < POWER_ITERS; it++) {
        double norm = 0.0;
        for (int32_t d = 0; d < D; d++) norm += v[d] * v[d];
        norm = sqrt(norm);
        if (norm == 0.0) break;
        for (int32_t d = 0; d < D; d++) v[d] /= norm;
        for (int32_t r = 0; r < D; r++) {
            double s = 0.0;
            for (int32_t c = 0; c < D; c++) s += (double)C[(int64_t)r * D + c] * v[c];
            nv[r] = s;
        }
        memcpy(v, nv, (size_t)D * sizeof(double));
    }
    double norm = 0.0;
    for (int32_t d = 0; d < D; d++) norm += v[d] * v[d];
    norm = sqrt(norm);
    for (int32_t d = 0; d < D; d++) pc[d] = norm > 0 ? (float)(v[d] / norm) : 0.0f;
    free(C), free(v), free(nv);
    return SEMID_OK;
}

static void remove_component(float *X, int64_t n, int32_t D, const float *pc) {
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        float *x = X + i * D;
        semid_axpy(x, -semid_dot(x, pc, D), pc, D);
    }
}

semid_status semid_content_fit(const char *const *texts, int64_t n, const semid_wordvec *wv,
                               const semid_content_config *cfg, semid_content_model **out) {
    *out = NULL;
    if (!wv || wv->n_words <= 0 || wv->dim <= 0) return semid_fail(SEMID_EINVAL, "content embedding: no word vectors");
    if (cfg->weighting == SEMID_CONTENT_SIF && !(cfg->sif_a > 0.0))
        return semid_fail(SEMID_EINVAL, "content embedding: SIF parameter a must be > 0 (got %g)", cfg->sif_a);
    semid_content_model *m = calloc(1, sizeof(*m));
    int64_t *count = calloc((size_t)wv->n_words, sizeof(int64_t));
    if (!m || !count || !(m->weight = malloc((size_t)wv->n_words * sizeof(float)))) {
        free(count);
        semid_content_model_free(m);
        return semid_fail(SEMID_ENOMEM, "out of memory fitting content embeddings");
    }
    m->cfg = *cfg;
    m->wv = wv;
    /* Word counts (SIF: occurrences; IDF: texts containing the word). */
    int64_t total = 0;
    semid_status st = SEMID_OK;
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        semid_words w;
        st = semid_tokenize(texts[i], &w);
        total += w.n;
        for (int32_t k = 0; k < w.n; k++) {
            int32_t r = semid_wordvec_find(wv, w.words[k]);
            if (r < 0) continue;
            if (cfg->weighting == SEMID_CONTENT_IDF) {
                /* Count once per text: a word repeated in a text is seen at its first position only. */
                int first = 1;
                for (int32_t j = 0; j < k && first; j++) first = strcmp(w.words[j], w.words[k]) != 0;
                if (!first) continue;
            }
            count[r]++;
        }
        semid_words_free(&w);
    }
    for (int32_t r = 0; r < wv->n_words; r++) {
        switch (cfg->weighting) {
        case SEMID_CONTENT_SIF: {
            double p = total > 0 ? (double)count[r] / (double)total : 0.0;
            m->weight[r] = (float)(cfg->sif_a / (cfg->sif_a + p));
            break;
        }
        case SEMID_CONTENT_IDF:
            m->weight[r] = (float)(log((1.0 + (double)n) / (1.0 + (double)count[r])) + 1.0);
            break;
        default:
            m->weight[r] = 1.0f;
        }
    }
    free(count);
    if (st == SEMID_OK && cfg->remove_pc && n > 0) {
        float *X = malloc((size_t)n * wv->dim * sizeof(float));
        m->pc = malloc((size_t)wv->dim * sizeof(float));
        int64_t n_empty;
        if (!X || !m->pc)
            st = semid_fail(SEMID_ENOMEM, "out of memory fitting content embeddings");
        else
            st = embed_all(m, texts, n, X, &n_empty);
        if (st == SEMID_OK) st = first_component(X, n, wv->dim, m->pc);
        free(X);
    }
    if (st != SEMID_OK) {
        semid_content_model_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

semid_status semid_content_encode(const semid_content_model *m, const char *const *texts, int64_t n,
                                  semid_matrix *out, int64_t *n_empty) {
    memset(out, 0, sizeof(*out));
    SEMID_TRY(semid_matrix_alloc(out, n, m->wv->dim));
    int64_t empty = 0;
    semid_status st = embed_all(m, texts, n, out->data, &empty);
    if (st != SEMID_OK) {
        semid_matrix_free(out);
        return st;
    }
    if (m->pc) remove_component(out->data, n, m->wv->dim, m->pc);
    semid_normalize_rows(out->data, n, m->wv->dim);
    if (n_empty) *n_empty = empty;
    return SEMID_OK;
}

semid_status semid_content_embed(const semid_dataset *ds, const semid_wordvec *wv, const semid_content_config *cfg,
                                 semid_matrix *out) {
    memset(out, 0, sizeof(*out));
    char **texts;
    SEMID_TRY(semid_item_texts(ds, &texts));
    semid_content_model *m = NULL;
    int64_t empty = 0;
    semid_status st = semid_content_fit((const char *const *)texts, ds->n_items, wv, cfg, &m);
    if (st == SEMID_OK) st = semid_content_encode(m, (const char *const *)texts, ds->n_items, out, &empty);
    if (st == SEMID_OK && empty > 0)
        SEMID_WARN("content embedding: %lld of %d items have no word with a vector; their rows are zero",
                   (long long)empty, ds->n_items);
    semid_content_model_free(m);
    semid_item_texts_free(texts, ds->n_items);
    return st;
}
