/* Constrained and diverse beam search over the model's KV cache.
 * Legend: Q = queries in a chunk, Bm = beams per query, R = Q * Bm cache
 * rows (query i owns rows i*Bm .. i*Bm+Bm-1), S = n_sid, L = ID levels. */
#include "gen/beam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "gen/layers.h"

semid_beam_options semid_beam_defaults(void) {
    semid_beam_options o = {.beam_size = 30, .k = 10, .groups = 1, .diversity = 0.0f, .max_cache_mb = 32};
    return o;
}

semid_beam_options semid_beam_paper_diverse(int32_t k) {
    semid_beam_options o = semid_beam_defaults();
    o.beam_size = 60;
    o.groups = 30;
    o.diversity = 0.25f;
    o.k = k;
    return o;
}

semid_status semid_beam_hits_alloc(semid_beam_hits *h, int64_t n, int32_t k) {
    memset(h, 0, sizeof *h);
    h->n = n;
    h->k = k;
    size_t nk = (size_t)(n > 0 ? n : 1) * (size_t)k;
    h->items = malloc(nk * sizeof *h->items);
    h->scores = malloc(nk * sizeof *h->scores);
    h->n_hits = calloc((size_t)(n > 0 ? n : 1), sizeof *h->n_hits);
    h->n_invalid = calloc((size_t)(n > 0 ? n : 1), sizeof *h->n_invalid);
    if (!h->items || !h->scores || !h->n_hits || !h->n_invalid) {
        semid_beam_hits_free(h);
        return semid_fail(SEMID_ENOMEM, "beam search: out of memory for %lld results", (long long)n);
    }
    for (size_t i = 0; i < nk; i++) {
        h->items[i] = -1;
        h->scores[i] = -INFINITY;
    }
    return SEMID_OK;
}

void semid_beam_hits_free(semid_beam_hits *h) {
    if (!h) return;
    free(h->items);
    free(h->scores);
    free(h->n_hits);
    free(h->n_invalid);
    free(h->prefix_nodes);
    free(h->prefix_scores);
    memset(h, 0, sizeof *h);
}

/* ---- small helpers ---- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int is_excluded(const int32_t *sorted, int32_t n, int32_t item) {
    return n > 0 && bsearch(&item, sorted, (size_t)n, sizeof *sorted, cmp_i32) != NULL;
}

/* A candidate extension; `better` orders them: higher score, then lower
 * parent, then lower token, so results never depend on scheduling. */
typedef struct cand {
    float score;
    int32_t parent; /* beam index within the query (-1 = the prompt) */
    int32_t token;  /* table-local */
    int32_t node;   /* trie node reached (constrained) */
} cand;

static int better(const cand *a, const cand *b) {
    if (a->score != b->score) return a->score > b->score;
    if (a->parent != b->parent) return a->parent < b->parent;
    return a->token < b->token;
}

/* A bounded heap keeping the best `cap` candidates; heap[0] is the worst kept. */
typedef struct topk {
    cand *heap;
    int32_t n, cap;
} topk;

static void topk_push(topk *h, cand c) {
    if (h->n == h->cap) {
        if (!better(&c, &h->heap[0])) return;
        h->heap[0] = c;
    } else {
        int32_t i = h->n++;
        h->heap[i] = c;
        while (i > 0) { /* sift up: parent must be worse than child */
            int32_t p = (i - 1) / 2;
            if (!better(&h->heap[p], &h->heap[i])) break;
            cand t = h->heap[p];
            h->heap[p] = h->heap[i];
            h->heap[i] = t;
            i = p;
        }
        return;
    }
    for (int32_t i = 0;;) { /* sift down */
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && better(&h->heap[w], &h->heap[l])) w = l;
        if (r < h->n && better(&h->heap[w], &h->heap[r])) w = r;
        if (w == i) break;
        cand t = h->heap[w];
        h->heap[w] = h->heap[i];
        h->heap[i] = t;
        i = w;
    }
}

static int cmp_cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    return better(x, y) ? -1 : better(y, x) ? 1 : 0;
}

/* The items of a leaf, most popular first (then by index), into buf; only
 * the first `cap` of a leaf count (IDs shared by more items than that do
 * not occur with a disambiguation level). */
static int32_t leaf_items_sorted(const semid_trie *trie, int32_t node, const int64_t *pop, int32_t *buf, int32_t cap) {
    const int32_t *items;
    int32_t n = semid_trie_items(trie, node, &items);
    if (n > cap) n = cap;
    for (int32_t i = 0; i < n; i++) {
        int32_t x = items[i], j = i;
        int64_t px = pop ? pop[x] : 0;
        while (j > 0) {
            int32_t y = buf[j - 1];
            int64_t py = pop ? pop[y] : 0;
            if (py > px || (py == px && y < x)) break;
            buf[j] = y;
            j--;
        }
        buf[j] = x;
    }
    return n;
}

/* ---- shared decoding state ---- */

typedef struct decoder {
    const semid_gpt *m;
    int32_t Bm, L, S, sid_base;
    int64_t Qmax;         /* queries per chunk */
    int32_t R;            /* rows = Qmax * Bm */
    semid_gpt_cache *cache;
    int32_t *ptok, *plen, *pslot; /* a chunk's prompts, concatenated, for one batched prefill */
    float *lp;            /* (R, S) logits after the last step (after the prefill: (Q, S), query i's in row i) */
    float *lse;           /* (R) their log-sum-exp: a log-prob is lp - lse */
    float *score, *nscore;    /* (R) */
    int32_t *node, *nnode;    /* (R) trie node, -1 = dead beam */
    int32_t *path, *npath;    /* (R, L) table-local tokens chosen so far */
    int32_t *src;             /* (R) gather sources */
    int32_t *tok;             /* (R) model tokens to step with */
    cand *cands;              /* (R) per-query heaps */
    int32_t *excl;            /* (Qmax, max_excl) sorted exclusions */
    int32_t *n_excl;          /* (Qmax) */
    int32_t max_excl;
    int32_t *counts;          /* diverse: (Qmax, S) tokens chosen at this level by earlier groups */
    cand *first;              /* diverse: (Bm) the prompt's best first tokens before penalties */
    int32_t *order;           /* (Bm) a query's finished beams, best first */
} decoder;

static void decoder_free(decoder *d) {
    semid_gpt_cache_free(d->cache);
    void *bufs[] = {d->ptok, d->plen,  d->pslot, d->lp,   d->lse, d->score, d->nscore, d->node,  d->nnode,
                    d->path, d->npath, d->src,   d->tok,  d->cands, d->excl,   d->n_excl, d->counts, d->order, d->first};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(d, 0, sizeof *d);
}

/* Checks the options and queries before any work; *max_excl = the longest exclusion list. */
static semid_status check_request(const semid_gpt *m, const semid_beam_space *sp, int32_t L, const semid_beam_query *q,
                                  int64_t n, const semid_beam_options *o, int diverse, int32_t *max_excl) {
    const semid_gpt_config *cfg = semid_gpt_get_config(m);
    if (o->beam_size < 1 || o->k < 1 || o->max_cache_mb < 1)
        return semid_fail(SEMID_EINVAL, "beam search: beam_size, k and max_cache_mb must be >= 1");
    if (diverse && (o->groups < 1 || o->beam_size % o->groups != 0 || !(o->diversity >= 0)))
        return semid_fail(SEMID_EINVAL, "diverse beam search: groups (%d) must divide beam_size (%d), diversity >= 0",
                          o->groups, o->beam_size);
    if (sp->n_sid < 1 || sp->sid_base < 0 || (int64_t)sp->sid_base + sp->n_sid > cfg->vocab_size)
        return semid_fail(SEMID_EINVAL, "beam search: ID tokens [%d, %d) are outside the model's vocabulary of %d",
                          sp->sid_base, sp->sid_base + sp->n_sid, cfg->vocab_size);
    if (L < 1) return semid_fail(SEMID_EINVAL, "beam search: IDs have no levels");
    *max_excl = 0;
    for (int64_t i = 0; i < n; i++) {
        if (q[i].prompt_len < 1 || (int64_t)q[i].prompt_len + L - 1 > cfg->max_seq_len)
            return semid_fail(SEMID_EINVAL, "beam search: query %lld: prompt of %d tokens does not fit the context of %d with %d ID levels",
                              (long long)i, q[i].prompt_len, cfg->max_seq_len, L);
        for (int32_t t = 0; t < q[i].prompt_len; t++)
            if (q[i].prompt[t] < 0 || q[i].prompt[t] >= cfg->vocab_size)
                return semid_fail(SEMID_EINVAL, "beam search: query %lld: token %d is outside the vocabulary", (long long)i,
                                  q[i].prompt[t]);
        if (q[i].n_exclude > *max_excl) *max_excl = q[i].n_exclude;
    }
    return SEMID_OK;
}

/* Queries per chunk: as many as fit max_cache_mb of decoding memory (the
 * prompts' keys and values and the batched prefill's activations), at most
 * CHUNK_MAX (the packed kernels gain nothing from taller products, and 4 to
 * 32 measured the same), and few enough that every thread gets work. */
enum { CHUNK_MAX = 16 };

static int64_t chunk_queries(const semid_gpt_config *cfg, const semid_beam_options *o, int64_t n, int threads) {
    double C = cfg->d_model, T = cfg->max_seq_len;
    double per_query = 4.0 * (2.0 * cfg->n_layer * T * C + T * (11.0 * C + cfg->n_head * T));
    int64_t q = (int64_t)((double)o->max_cache_mb * 1048576.0 / per_query);
    if (q < 1) q = 1;
    if (q > CHUNK_MAX) q = CHUNK_MAX;
    int64_t share = (n + threads - 1) / threads;
    if (share >= 1 && q > share) q = share;
    return q;
}

static semid_status decoder_alloc(decoder *d, const semid_gpt *m, const semid_beam_space *sp, int32_t L, int64_t Qmax,
                                  int32_t beam_size, int32_t max_excl, int diverse) {
    memset(d, 0, sizeof *d);
    const semid_gpt_config *cfg = semid_gpt_get_config(m);
    d->m = m;
    d->Bm = beam_size;
    d->L = L;
    d->S = sp->n_sid;
    d->sid_base = sp->sid_base;
    d->max_excl = max_excl;
    d->Qmax = Qmax;
    if (d->Qmax * d->Bm > INT32_MAX / 2) d->Qmax = (INT32_MAX / 2) / d->Bm;
    d->R = (int32_t)(d->Qmax * d->Bm);
    size_t R = (size_t)d->R, Q = (size_t)d->Qmax;
    d->ptok = malloc(Q * (size_t)cfg->max_seq_len * sizeof *d->ptok);
    d->plen = malloc(Q * sizeof *d->plen);
    d->pslot = malloc(Q * sizeof *d->pslot);
    d->lp = malloc(R * (size_t)d->S * sizeof *d->lp);
    d->lse = malloc(R * sizeof *d->lse);
    d->score = malloc(R * sizeof *d->score);
    d->nscore = malloc(R * sizeof *d->nscore);
    d->node = malloc(R * sizeof *d->node);
    d->nnode = malloc(R * sizeof *d->nnode);
    d->path = malloc(R * (size_t)L * sizeof *d->path);
    d->npath = malloc(R * (size_t)L * sizeof *d->npath);
    d->src = malloc(R * sizeof *d->src);
    d->tok = malloc(R * sizeof *d->tok);
    d->cands = malloc(R * sizeof *d->cands);
    d->excl = malloc(Q * (size_t)(max_excl ? max_excl : 1) * sizeof *d->excl);
    d->n_excl = malloc(Q * sizeof *d->n_excl);
    d->order = malloc((size_t)beam_size * sizeof *d->order);
    if (diverse) {
        d->counts = malloc(Q * (size_t)d->S * sizeof *d->counts);
        d->first = malloc((size_t)beam_size * sizeof *d->first);
    }
    if (!d->ptok || !d->plen || !d->pslot || !d->lp || !d->lse || !d->score || !d->nscore || !d->node || !d->nnode || !d->path ||
        !d->npath || !d->src || !d->tok || !d->cands || !d->excl || !d->n_excl || !d->order || (diverse && (!d->counts || !d->first))) {
        decoder_free(d);
        return semid_fail(SEMID_ENOMEM, "beam search: out of memory for %d beams", d->R);
    }
    /* levels 1 .. L-1 step; the last one only scores, so L - 2 suffix tokens are kept */
    semid_status st = semid_gpt_cache_create(m, (int32_t)d->Qmax, d->R, L > 1 ? L - 2 : 0, &d->cache);
    if (st != SEMID_OK) decoder_free(d);
    return st;
}

/* Runs the chunk's prompts through the model in one batch, gives each query's
 * first row the log-probs after its prompt, attaches all of a query's rows to
 * its prompt and sorts the exclusion lists. */
static semid_status decoder_prefill(decoder *d, const semid_beam_query *q, int64_t nq) {
    int64_t at = 0;
    for (int64_t i = 0; i < nq; i++) {
        memcpy(d->ptok + at, q[i].prompt, (size_t)q[i].prompt_len * sizeof *d->ptok);
        at += q[i].prompt_len;
        d->plen[i] = q[i].prompt_len;
        d->pslot[i] = (int32_t)i;
    }
    SEMID_TRY(semid_gpt_cache_prefill(d->m, d->cache, (int32_t)nq, d->pslot, d->ptok, d->plen, d->sid_base,
                                      d->sid_base + d->S, d->lp));
    /* Logits came packed (nq, S): query i's stay in row i (level 0 reads them there). */
    for (int64_t i = 0; i < nq; i++) {
        d->lse[i] = semid_logsumexp(d->lp + i * d->S, d->S);
        for (int32_t b = 0; b < d->Bm; b++) SEMID_TRY(semid_gpt_cache_attach(d->cache, (int32_t)(i * d->Bm + b), (int32_t)i));
        int32_t *ex = d->excl + i * (d->max_excl ? d->max_excl : 1);
        int32_t ne = 0;
        for (int32_t j = 0; j < q[i].n_exclude; j++)
            if (q[i].exclude[j] >= 0) ex[ne++] = q[i].exclude[j];
        qsort(ex, (size_t)ne, sizeof *ex, cmp_i32);
        d->n_excl[i] = ne;
    }
    return SEMID_OK;
}

/* Copies each beam's parent row and steps every row with its last token
 * (at the last level only scores: no later step reads its keys and values);
 * log-probs of dead beams are not needed. */
static semid_status decoder_step(decoder *d, int64_t nq, int last) {
    int32_t R = (int32_t)(nq * d->Bm);
    SEMID_TRY(semid_gpt_cache_gather(d->cache, d->src, R));
    if (last)
        SEMID_TRY(semid_gpt_cache_score(d->m, d->cache, d->tok, R, d->sid_base, d->sid_base + d->S, d->lp));
    else
        SEMID_TRY(semid_gpt_cache_step(d->m, d->cache, d->tok, R, d->sid_base, d->sid_base + d->S, d->lp));
    for (int32_t r = 0; r < R; r++)
        if (d->node[r] != -1) d->lse[r] = semid_logsumexp(d->lp + (int64_t)r * d->S, d->S);
    return SEMID_OK;
}

/* Installs the selected candidates of query i as its beams j0..j0+n-1
 * (the rest up to j0+width are dead) for level `lev`. */
static void install(decoder *d, int64_t i, int32_t j0, int32_t width, const cand *sel, int32_t n, int32_t lev) {
    int32_t base = (int32_t)(i * d->Bm);
    for (int32_t j = 0; j < width; j++) {
        int32_t r = base + j0 + j;
        if (j < n) {
            const cand *c = &sel[j];
            int32_t pr = c->parent < 0 ? base : base + c->parent;
            d->nscore[r] = c->score;
            d->nnode[r] = c->node;
            if (lev > 0) memcpy(d->npath + (int64_t)r * d->L, d->path + (int64_t)pr * d->L, (size_t)lev * sizeof *d->path);
            d->npath[(int64_t)r * d->L + lev] = c->token;
            d->src[r] = pr;
            d->tok[r] = d->sid_base + c->token;
        } else { /* dead: keeps its own row, steps a harmless token */
            d->nscore[r] = -INFINITY;
            d->nnode[r] = -1;
            d->src[r] = r;
            d->tok[r] = d->sid_base;
        }
    }
}

static void swap_state(decoder *d) {
    float *s = d->score;
    d->score = d->nscore;
    d->nscore = s;
    int32_t *n = d->node;
    d->node = d->nnode;
    d->nnode = n;
    int32_t *p = d->path;
    d->path = d->npath;
    d->npath = p;
}

/* What a search does at each level and at the end; the driver below is shared. */
typedef struct search_kind {
    const semid_trie *trie;
    const semid_idtable *table; /* diverse only */
    int task;                   /* diverse only */
    const semid_beam_options *o;
    const int64_t *popularity;
    int diverse;
} search_kind;

static void select_constrained(decoder *d, const semid_trie *trie, int64_t i, int32_t lev);
static void select_diverse(decoder *d, const semid_idtable *t, int task, const semid_trie *trie, int32_t G, float lambda,
                           int64_t i, int32_t lev);
static void finish_query(decoder *d, const search_kind *kd, int64_t i, int64_t g, semid_beam_hits *out);

/* Decodes queries [q0, q0 + nq) on the calling thread. */
static semid_status decode_chunk(decoder *d, const search_kind *kd, const semid_beam_query *queries, int64_t q0,
                                 int64_t nq, semid_beam_hits *out) {
    SEMID_TRY(decoder_prefill(d, queries + q0, nq));
    for (int32_t lev = 0; lev < d->L; lev++) {
        if (lev > 0 && lev == d->L - 1 && out->prefix_nodes) /* the prefixes, before the last level */
            for (int64_t i = 0; i < nq; i++)
                for (int32_t b = 0; b < d->Bm; b++) {
                    int32_t r = (int32_t)(i * d->Bm + b);
                    int64_t at = (q0 + i) * out->n_prefix + b;
                    out->prefix_nodes[at] = d->score[r] == -INFINITY ? -1 : d->node[r];
                    out->prefix_scores[at] = d->score[r];
                }
        if (lev > 0) SEMID_TRY(decoder_step(d, nq, lev == d->L - 1));
        for (int64_t i = 0; i < nq; i++)
            if (kd->diverse)
                select_diverse(d, kd->table, kd->task, kd->trie, kd->o->groups, kd->o->diversity, i, lev);
            else
                select_constrained(d, kd->trie, i, lev);
        swap_state(d);
    }
    for (int64_t i = 0; i < nq; i++) finish_query(d, kd, i, q0 + i, out);
    return SEMID_OK;
}

/* Splits the queries into chunks and decodes them on all threads, each
 * thread with its own decoder and its products on that thread alone: a step
 * of one chunk is too small to share between threads without them waiting
 * on each other. Each row is computed from its own query alone, so results
 * do not depend on how the queries were cut. */
static semid_status decode_all(const semid_gpt *m, const semid_beam_space *sp, int32_t L, const search_kind *kd,
                               const semid_beam_query *queries, int64_t n, semid_beam_hits *out) {
    const semid_beam_options *o = kd->o;
    int32_t max_excl;
    SEMID_TRY(check_request(m, sp, L, queries, n, o, kd->diverse, &max_excl));
    SEMID_TRY(semid_beam_hits_alloc(out, n, o->k));
    if (o->keep_prefixes && L >= 2) {
        size_t np = (size_t)(n > 0 ? n : 1) * (size_t)o->beam_size;
        out->n_prefix = o->beam_size;
        out->prefix_nodes = malloc(np * sizeof *out->prefix_nodes);
        out->prefix_scores = malloc(np * sizeof *out->prefix_scores);
        if (!out->prefix_nodes || !out->prefix_scores) {
            semid_beam_hits_free(out);
            return semid_fail(SEMID_ENOMEM, "beam search: out of memory for the prefixes of %lld queries", (long long)n);
        }
    }
    if (n == 0) return SEMID_OK;
    int threads = semid_get_threads();
    int64_t Qc = chunk_queries(semid_gpt_get_config(m), o, n, threads), n_chunks = (n + Qc - 1) / Qc;
    if (threads > n_chunks) threads = (int)n_chunks;
    semid_status st = SEMID_OK;
    char err[512] = "";
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        decoder d;
        semid_status ls = decoder_alloc(&d, m, sp, L, Qc, o->beam_size, max_excl, kd->diverse);
#pragma omp for schedule(dynamic, 1)
        for (int64_t c = 0; c < n_chunks; c++) {
            if (ls != SEMID_OK) continue;
            int64_t q0 = c * Qc, nq = n - q0 < Qc ? n - q0 : Qc;
            ls = decode_chunk(&d, kd, queries, q0, nq, out);
        }
        if (ls != SEMID_OK) {
#pragma omp critical(semid_beam_error)
            if (st == SEMID_OK) { /* errors are per thread: carry the message to the caller's */
                st = ls;
                snprintf(err, sizeof err, "%s", semid_last_error());
            }
        }
        decoder_free(&d);
    }
    if (st != SEMID_OK) {
        semid_beam_hits_free(out);
        return semid_fail(st, "%s", err);
    }
    return SEMID_OK;
}

/* ---- constrained ---- */

static void select_constrained(decoder *d, const semid_trie *trie, int64_t i, int32_t lev) {
    int32_t base = (int32_t)(i * d->Bm);
    topk h = {.heap = d->cands + base, .n = 0, .cap = d->Bm};
    int last = lev == d->L - 1;
    const int32_t *ex = d->excl + i * (d->max_excl ? d->max_excl : 1);
    int32_t ne = d->n_excl[i];
    int32_t n_par = lev == 0 ? 1 : d->Bm;
    for (int32_t p = 0; p < n_par; p++) {
        int32_t pr = base + p;
        int32_t nd = lev == 0 ? 0 : d->node[pr];
        if (nd < 0) continue;
        float s0 = lev == 0 ? 0.0f : d->score[pr];
        int64_t lr = lev == 0 ? i : pr; /* the row of its logits */
        const float *lp = d->lp + lr * d->S, lse = d->lse[lr];
        const int32_t *toks, *kids;
        int32_t nk = semid_trie_children(trie, nd, &toks, &kids);
        for (int32_t c = 0; c < nk; c++) {
            cand x = {s0 + (lp[toks[c]] - lse), lev == 0 ? -1 : p, toks[c], kids[c]};
            if (h.n == h.cap && !better(&x, &h.heap[0])) continue;
            if (last && ne > 0) {
                const int32_t *items;
                int32_t ni = semid_trie_items(trie, kids[c], &items), keep = 0;
                for (int32_t t = 0; t < ni && !keep; t++) keep = !is_excluded(ex, ne, items[t]);
                if (!keep) continue;
            }
            topk_push(&h, x);
        }
    }
    qsort(h.heap, (size_t)h.n, sizeof *h.heap, cmp_cand_desc);
    install(d, i, 0, d->Bm, h.heap, h.n, lev);
}

/* Writes query i's items from its finished beams (in beam order, which is
 * best first for the constrained search). */
static void collect(decoder *d, const semid_trie *trie, const int64_t *pop, int64_t i, int32_t *order, int32_t n_order,
                    int32_t *items, float *scores, int32_t k, int32_t *n_hits, int32_t *n_invalid, int check_dups) {
    int32_t base = (int32_t)(i * d->Bm);
    const int32_t *ex = d->excl + i * (d->max_excl ? d->max_excl : 1);
    int32_t ne = d->n_excl[i];
    int32_t nh = 0, ninv = 0;
    int32_t buf[64];
    for (int32_t b = 0; b < n_order; b++) {
        int32_t r = base + order[b];
        if (d->score[r] == -INFINITY) continue;
        int32_t nd = d->node[r];
        if (nd < 0) {
            ninv++;
            continue;
        }
        if (nh >= k) continue;
        int32_t ni = leaf_items_sorted(trie, nd, pop, buf, 64);
        for (int32_t t = 0; t < ni && nh < k; t++) {
            if (is_excluded(ex, ne, buf[t])) continue;
            int dup = 0;
            for (int32_t u = 0; check_dups && u < nh && !dup; u++) dup = items[u] == buf[t];
            if (dup) continue;
            items[nh] = buf[t];
            scores[nh] = d->score[r];
            nh++;
        }
    }
    *n_hits = nh;
    if (n_invalid) *n_invalid = ninv;
}

semid_status semid_beam_search(const semid_gpt *m, const semid_trie *trie, const semid_beam_space *space,
                               const semid_beam_query *queries, int64_t n, const semid_beam_options *o,
                               semid_beam_hits *out) {
    memset(out, 0, sizeof *out);
    search_kind kd = {.trie = trie, .o = o, .popularity = space->popularity, .diverse = 0};
    return decode_all(m, space, semid_trie_depth(trie), &kd, queries, n, out);
}

/* ---- diverse ---- */

static void select_diverse(decoder *d, const semid_idtable *t, int task, const semid_trie *trie, int32_t G, float lambda,
                           int64_t i, int32_t lev) {
    int32_t base = (int32_t)(i * d->Bm), Bg = d->Bm / G;
    int ti = t->n_tasks == 1 ? 0 : task;
    int32_t lo = t->token_offset[ti * t->n_levels + lev], size = t->level_size[ti * t->n_levels + lev];
    int32_t *count = d->counts + i * d->S;
    memset(count + lo, 0, (size_t)size * sizeof *count);
    /* At the first level every group extends the prompt alone, and earlier
     * groups' penalties only lower scores: they chose at most Bm - Bg
     * tokens, so a group's best Bg lie among the prompt's best Bm before
     * penalties (`better` is a strict order), found once instead of once a
     * group (30 passes over the level: a 62,138-token atomic level). */
    topk first = {.heap = d->first, .n = 0, .cap = d->Bm};
    if (lev == 0) {
        const float *lp = d->lp + i * d->S, lse = d->lse[i];
        for (int32_t tk = lo; tk < lo + size; tk++) {
            cand x = {0.0f + (lp[tk] - lse), -1, tk, 0};
            if (first.n < first.cap || better(&x, &first.heap[0])) topk_push(&first, x);
        }
    }
    for (int32_t g = 0; g < G; g++) {
        topk h = {.heap = d->cands + base + g * Bg, .n = 0, .cap = Bg};
        for (int32_t c = 0; c < first.n; c++) {
            cand x = first.heap[c];
            x.score -= lambda * (float)count[x.token];
            topk_push(&h, x);
        }
        /* Later levels: each group extends its own Bg beams. */
        for (int32_t p = g * Bg; lev > 0 && p < (g + 1) * Bg; p++) {
            int32_t pr = base + p;
            if (d->node[pr] == -1) continue;
            float s0 = d->score[pr];
            const float *lp = d->lp + (int64_t)pr * d->S, lse = d->lse[pr];
            for (int32_t tk = lo; tk < lo + size; tk++) {
                cand x = {s0 + (lp[tk] - lse) - lambda * (float)count[tk], p, tk, 0};
                topk_push(&h, x);
            }
        }
        qsort(h.heap, (size_t)h.n, sizeof *h.heap, cmp_cand_desc);
        for (int32_t j = 0; j < h.n; j++) {
            count[h.heap[j].token]++;
            /* Track the trie node so a beam that left the trie is known (-2);
             * -1 stays "dead". */
            int32_t parent_node = lev == 0 ? 0 : d->node[base + h.heap[j].parent];
            h.heap[j].node = parent_node < 0 ? -2 : semid_trie_child(trie, parent_node, h.heap[j].token);
            if (h.heap[j].node == -1) h.heap[j].node = -2;
        }
        install(d, i, g * Bg, Bg, h.heap, h.n, lev);
    }
}

semid_status semid_beam_search_diverse(const semid_gpt *m, const semid_idtable *table, int task,
                                       const semid_trie *trie, const semid_beam_space *space,
                                       const semid_beam_query *queries, int64_t n, const semid_beam_options *o,
                                       semid_beam_hits *out) {
    memset(out, 0, sizeof *out);
    if (task != SEMID_TASK_SEARCH && task != SEMID_TASK_REC)
        return semid_fail(SEMID_EINVAL, "diverse beam search: unknown task %d", task);
    if (space->n_sid != table->n_tokens || semid_trie_depth(trie) != table->n_levels)
        return semid_fail(SEMID_EINVAL, "diverse beam search: the ID table, trie and token space disagree");
    search_kind kd = {.trie = trie, .table = table, .task = task, .o = o, .popularity = space->popularity, .diverse = 1};
    return decode_all(m, space, table->n_levels, &kd, queries, n, out);
}

/* Query i of the chunk (global index g): its items from the finished beams,
 * best first. The constrained search keeps its beams in that order; the
 * diverse one sorts all groups' beams (ties: lower beam) and counts live
 * beams off the trie (node -2) as invalid. */
static void finish_query(decoder *d, const search_kind *kd, int64_t i, int64_t g, semid_beam_hits *out) {
    int32_t *order = d->order;
    int32_t base = (int32_t)(i * d->Bm);
    for (int32_t b = 0; b < d->Bm; b++) {
        int32_t j = b;
        while (kd->diverse && j > 0 && d->score[base + order[j - 1]] < d->score[base + b]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = b;
    }
    collect(d, kd->trie, kd->popularity, i, order, d->Bm, out->items + g * out->k, out->scores + g * out->k, out->k,
            &out->n_hits[g], kd->diverse ? &out->n_invalid[g] : NULL, kd->diverse);
}
