#include "gen/hybrid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

semid_hybrid_options semid_hybrid_defaults(void) {
    semid_hybrid_options o = {.weight = 0.5, .n_dense = 20, .k = 10};
    return o;
}

typedef struct hcand {
    int32_t item;
    int32_t rank; /* beam rank, INT32_MAX = not in the beam */
    double g, c, h;
} hcand;

/* h desc, beam rank asc, cosine desc, item asc. */
static int cmp_hcand(const void *pa, const void *pb) {
    const hcand *a = pa, *b = pb;
    if (a->h != b->h) return a->h > b->h ? -1 : 1;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    if (a->c != b->c) return a->c > b->c ? -1 : 1;
    return a->item < b->item ? -1 : a->item > b->item;
}

/* Standardises x[i].g (which = 0) or x[i].c (which = 1) over n candidates
 * into z. */
static void zscore(const hcand *x, int32_t n, int which, double *z) {
    double mean = 0, var = 0;
    for (int32_t i = 0; i < n; i++) mean += which ? x[i].c : x[i].g;
    mean /= n;
    for (int32_t i = 0; i < n; i++) {
        double v = (which ? x[i].c : x[i].g) - mean;
        var += v * v;
    }
    double sd = sqrt(var / n);
    for (int32_t i = 0; i < n; i++) z[i] = sd > 0 ? ((which ? x[i].c : x[i].g) - mean) / sd : 0.0;
}

static semid_status check_options(const semid_hybrid_options *o) {
    if (!(o->weight >= 0 && o->weight <= 1))
        return semid_fail(SEMID_EINVAL, "hybrid ranking: weight %g is not in 0..1", o->weight);
    if (o->k < 1 || o->n_dense < 0)
        return semid_fail(SEMID_EINVAL, "hybrid ranking: k %d must be >= 1 and n_dense %d >= 0", o->k, o->n_dense);
    return SEMID_OK;
}

int32_t semid_hybrid_dense_top(const float *cos, int32_t n_items, const uint8_t *skip, int32_t nd, int32_t *top) {
    int32_t nt = 0;
    for (int32_t i = 0; i < n_items && nd > 0; i++) {
        float c = cos[i];
        if (!(c > -INFINITY) || (skip && skip[i])) continue;
        if (nt == nd && !(c > cos[top[nt - 1]])) continue;
        int32_t p = nt < nd ? nt++ : nd - 1;
        while (p > 0 && cos[top[p - 1]] < c) {
            top[p] = top[p - 1];
            p--;
        }
        top[p] = i;
    }
    return nt;
}

semid_status semid_hybrid_rank(const int32_t *gen_items, const float *gen_scores, int32_t n_gen, const float *cos,
                               int32_t n_items, const uint8_t *skip, const float *gen_of, const semid_hybrid_options *o,
                               int32_t *out_items, float *out_scores, int32_t *n_out) {
    SEMID_TRY(check_options(o));
    if (n_gen < 0 || n_items < 0) return semid_fail(SEMID_EINVAL, "hybrid ranking: %d hits, %d items", n_gen, n_items);
    int32_t nd = o->n_dense < n_items ? o->n_dense : n_items;
    int32_t cap = n_gen + nd;
    hcand *x = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *x);
    int32_t *top = malloc((size_t)(nd > 0 ? nd : 1) * sizeof *top);
    double *zg = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *zg), *zc = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *zc);
    if (!x || !top || !zg || !zc) {
        free(x), free(top), free(zg), free(zc);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    int32_t n = 0;
    double gmin = 0;
    int any = 0;
    for (int32_t j = 0; j < n_gen; j++) {
        int32_t it = gen_items[j];
        if (it < 0 || it >= n_items) continue;
        int dup = 0;
        for (int32_t t = 0; t < n && !dup; t++) dup = x[t].item == it;
        if (dup) continue;
        double c = isfinite(cos[it]) ? cos[it] : -1.0;
        x[n++] = (hcand){it, j, gen_scores[j], c, 0};
        if (!any || gen_scores[j] < gmin) gmin = gen_scores[j];
        any = 1;
    }
    int32_t n_beam = n;
    /* D: the nd best cosines (desc, index asc). */
    int32_t nt = semid_hybrid_dense_top(cos, n_items, skip, nd, top);
    for (int32_t t = 0; t < nt; t++) {
        int32_t it = top[t], dup = 0;
        for (int32_t j = 0; j < n_beam && !dup; j++) dup = x[j].item == it;
        double g = gen_of && isfinite(gen_of[it]) ? gen_of[it] : gmin;
        if (!dup) x[n++] = (hcand){it, INT32_MAX, g, cos[it], 0};
    }
    if (n > 0) {
        zscore(x, n, 0, zg);
        zscore(x, n, 1, zc);
        for (int32_t i = 0; i < n; i++) x[i].h = o->weight * zg[i] + (1.0 - o->weight) * zc[i];
        qsort(x, (size_t)n, sizeof *x, cmp_hcand);
    }
    int32_t m = n < o->k ? n : o->k;
    for (int32_t j = 0; j < o->k; j++) {
        out_items[j] = j < m ? x[j].item : -1;
        if (out_scores) out_scores[j] = j < m ? (float)x[j].h : -INFINITY;
    }
    if (n_out) *n_out = m;
    free(x), free(top), free(zg), free(zc);
    return SEMID_OK;
}

semid_status semid_hybrid_rerank(const semid_beam_hits *hits, const float *qvecs, const float *item_vecs,
                                 int32_t n_items, int64_t d, const uint8_t *skip, const int32_t *const *exclude,
                                 const int32_t *n_exclude, semid_hybrid_scorer scorer, void *scorer_ctx,
                                 const semid_hybrid_options *o, semid_beam_hits *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_options(o));
    if (d < 1 || n_items < 0) return semid_fail(SEMID_EINVAL, "hybrid ranking: dimension %lld", (long long)d);
    SEMID_TRY(semid_beam_hits_alloc(out, hits->n, o->k));
    float *norm = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *norm);
    float *cos = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *cos);
    uint8_t *sk = calloc((size_t)(n_items > 0 ? n_items : 1), 1);
    int32_t nd = o->n_dense < n_items ? o->n_dense : n_items;
    float *gen_of = malloc((size_t)(n_items > 0 ? n_items : 1) * sizeof *gen_of);
    int32_t *top = malloc((size_t)(nd > 0 ? nd : 1) * sizeof *top), *miss = malloc((size_t)(nd > 0 ? nd : 1) * sizeof *miss);
    float *ms = malloc((size_t)(nd > 0 ? nd : 1) * sizeof *ms);
    semid_status st = norm && cos && sk && gen_of && top && miss && ms ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; st == SEMID_OK && i < n_items; i++) gen_of[i] = NAN;
    for (int32_t i = 0; st == SEMID_OK && i < n_items; i++) {
        double s = 0;
        for (int64_t t = 0; t < d; t++) s += (double)item_vecs[i * d + t] * item_vecs[i * d + t];
        norm[i] = o->dot ? 1.0f : (float)sqrt(s);
    }
    for (int64_t q = 0; st == SEMID_OK && q < hits->n; q++) {
        const float *v = qvecs + q * d;
        double qs = 0;
        for (int64_t t = 0; t < d; t++) qs += (double)v[t] * v[t];
        double qn = o->dot ? 1.0 : sqrt(qs);
        for (int32_t i = 0; i < n_items; i++) {
            double s = 0;
            const float *w = item_vecs + i * d;
            for (int64_t t = 0; t < d; t++) s += (double)v[t] * w[t];
            cos[i] = qn > 0 && norm[i] > 0 ? (float)(s / (qn * norm[i])) : 0.0f;
        }
        if (skip) memcpy(sk, skip, (size_t)n_items);
        else memset(sk, 0, (size_t)(n_items > 0 ? n_items : 1));
        for (int32_t j = 0; exclude && exclude[q] && j < n_exclude[q]; j++)
            if (exclude[q][j] >= 0 && exclude[q][j] < n_items) sk[exclude[q][j]] = 1;
        const int32_t *gi = hits->items + q * hits->k;
        int32_t nm = 0;
        if (scorer) {
            int32_t nt = semid_hybrid_dense_top(cos, n_items, sk, nd, top);
            for (int32_t t = 0; t < nt; t++) {
                int in = 0;
                for (int32_t j = 0; j < hits->n_hits[q] && !in; j++) in = gi[j] == top[t];
                if (!in) miss[nm++] = top[t];
            }
            st = nm > 0 ? scorer(scorer_ctx, q, miss, nm, ms) : SEMID_OK;
            for (int32_t j = 0; st == SEMID_OK && j < nm; j++) gen_of[miss[j]] = ms[j];
        }
        if (st == SEMID_OK)
            st = semid_hybrid_rank(gi, hits->scores + q * hits->k, hits->n_hits[q], cos, n_items, sk, scorer ? gen_of : NULL,
                                   o, out->items + q * o->k, out->scores + q * o->k, &out->n_hits[q]);
        for (int32_t j = 0; j < nm; j++) gen_of[miss[j]] = NAN;
        if (hits->n_invalid) out->n_invalid[q] = hits->n_invalid[q];
    }
    free(norm), free(cos), free(sk), free(gen_of), free(top), free(miss), free(ms);
    if (st != SEMID_OK) semid_beam_hits_free(out);
    return st;
}
