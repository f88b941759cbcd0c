#include "gen/dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/dataset.h"
#include "embed/content.h"
#include "embed/text_encoder.h"
#include "io/npy.h"
#include "linalg/matrix.h"
#include "text/wordvec.h"

int semid_dense_has_encoder(const semid_dense *dn) { return dn->enc || dn->content; }

semid_status semid_dense_encode(const semid_dense *dn, const char *const *texts, int64_t n, float **out) {
    *out = NULL;
    if (!semid_dense_has_encoder(dn))
        return semid_fail(SEMID_EINVAL, "dense re-ranking of a query needs a text encoder (only item vectors were given)");
    semid_matrix m = {0};
    semid_status st = dn->enc ? semid_text_encoder_encode(dn->enc, texts, n, &m)
                              : semid_content_encode(dn->content, texts, n, &m, NULL);
    if (st != SEMID_OK) return st;
    if (m.cols != dn->d) {
        semid_matrix_free(&m);
        return semid_fail(SEMID_EINVAL, "dense re-ranking: the encoder gives %lld-dim vectors, the items have %lld",
                          (long long)m.cols, (long long)dn->d);
    }
    *out = m.data;
    return SEMID_OK;
}

/* The text of catalog item i: the dataset's when it names the same item. */
static char *item_text(const semid_gen_bundle *b, const semid_dataset *ds, int32_t i) {
    if (ds && i < b->n_base_items && i < ds->n_items && strcmp(ds->items[i].id, b->item_ids[i]) == 0)
        return semid_item_text(&ds->items[i]);
    semid_item it = {.id = b->item_ids[i], .title = b->titles[i], .year = b->years ? b->years[i] : 0,
                     .genres = b->genres ? b->genres[i] : "", .description = "", .tags = ""};
    return semid_item_text(&it);
}

/* The user vectors: rows = users, as wide as the item vectors. */
static semid_status load_users(const char *path, semid_dense *out) {
    semid_matrix u = {0};
    SEMID_TRY(semid_npy_read(path, &u));
    if (u.cols != out->d || u.rows > INT32_MAX) {
        semid_status st = semid_fail(SEMID_EINVAL, "%s: %lld x %lld user vectors, but the item vectors have %lld dimensions",
                                     path, (long long)u.rows, (long long)u.cols, (long long)out->d);
        semid_matrix_free(&u);
        return st;
    }
    out->users = u.data;
    out->n_users = (int32_t)u.rows;
    return SEMID_OK;
}

semid_status semid_dense_open(const semid_dense_source *a, const semid_gen_bundle *b, semid_dense *out) {
    memset(out, 0, sizeof *out);
    out->n_items = b->n_items;
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    int have_ds = 0;
    semid_status st = SEMID_OK;
    if (a->dataset) {
        st = semid_dataset_load(a->dataset, &ds);
        have_ds = st == SEMID_OK;
    }
    if (st == SEMID_OK && a->encoder) st = semid_text_encoder_load(a->encoder, &out->enc);
    else if (st == SEMID_OK && a->content) {
        char **texts = NULL;
        out->wv = calloc(1, sizeof *out->wv);
        st = out->wv ? semid_item_texts(&ds, &texts) : semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK)
            st = a->glove ? semid_wordvec_load(a->glove, 0, out->wv) : semid_wordvec_load_default(out->wv);
        semid_content_config cc = semid_content_defaults();
        if (st == SEMID_OK) st = semid_content_fit((const char *const *)texts, ds.n_items, out->wv, &cc, &out->content);
        if (texts) semid_item_texts_free(texts, ds.n_items);
    }
    /* item vectors */
    semid_matrix given = {0};
    int32_t from = 0; /* items [from, n_items) are encoded from their text */
    if (st == SEMID_OK && a->item_embeddings) {
        st = semid_npy_read(a->item_embeddings, &given);
        if (st == SEMID_OK && given.rows != b->n_items && given.rows != b->n_base_items)
            st = semid_fail(SEMID_EINVAL,
                            "%s: %lld rows, but the catalog has %d items (%d trained): give one row per item, in "
                            "bundle order",
                            a->item_embeddings, (long long)given.rows, b->n_items, b->n_base_items);
        from = (int32_t)given.rows;
    }
    int32_t n_enc = b->n_items - from;
    if (st == SEMID_OK && n_enc > 0 && !out->enc && !out->content)
        st = semid_fail(SEMID_EINVAL,
                        "%s has %d rows, but the catalog has %d items: the %d added ones need an encoder for their "
                        "texts (--encoder or --content --dataset)",
                        a->item_embeddings ? a->item_embeddings : "--item-embeddings", from, b->n_items, n_enc);
    char **texts = NULL;
    float *enc = NULL;
    if (st == SEMID_OK && n_enc > 0) {
        texts = calloc((size_t)n_enc, sizeof *texts);
        if (!texts) st = semid_fail(SEMID_ENOMEM, "out of memory");
        for (int32_t i = 0; st == SEMID_OK && i < n_enc; i++)
            if (!(texts[i] = item_text(b, have_ds ? &ds : NULL, from + i))) st = semid_fail(SEMID_ENOMEM, "out of memory");
        out->d = given.rows > 0 ? given.cols : 0;
        if (st == SEMID_OK) {
            semid_matrix m = {0};
            st = out->enc ? semid_text_encoder_encode(out->enc, (const char *const *)texts, n_enc, &m)
                          : semid_content_encode(out->content, (const char *const *)texts, n_enc, &m, NULL);
            if (st == SEMID_OK && given.rows > 0 && m.cols != given.cols)
                st = semid_fail(SEMID_EINVAL, "%s: %lld-dim vectors, but the encoder gives %lld", a->item_embeddings,
                                (long long)given.cols, (long long)m.cols);
            if (st == SEMID_OK) out->d = m.cols;
            enc = m.data;
            if (st != SEMID_OK) semid_matrix_free(&m), enc = NULL;
        }
    } else if (st == SEMID_OK) out->d = given.cols;
    if (st == SEMID_OK) {
        out->items = malloc((size_t)(b->n_items > 0 ? b->n_items : 1) * (size_t)out->d * sizeof *out->items);
        out->skip = calloc((size_t)(b->n_items > 0 ? b->n_items : 1), 1);
        if (!out->items || !out->skip) st = semid_fail(SEMID_ENOMEM, "out of memory for the item vectors");
    }
    if (st == SEMID_OK) {
        if (from > 0) memcpy(out->items, given.data, (size_t)from * (size_t)out->d * sizeof *out->items);
        if (n_enc > 0) memcpy(out->items + (size_t)from * out->d, enc, (size_t)n_enc * (size_t)out->d * sizeof *enc);
        if (b->removed) memcpy(out->skip, b->removed, (size_t)b->n_items);
    }
    free(enc);
    if (texts) semid_item_texts_free(texts, n_enc);
    semid_matrix_free(&given);
    if (st == SEMID_OK && a->user_embeddings) st = load_users(a->user_embeddings, out);
    semid_dataset_free(&ds);
    if (st != SEMID_OK) semid_dense_close(out);
    return st;
}

void semid_dense_close(semid_dense *dn) {
    semid_text_encoder_free(dn->enc);
    semid_content_model_free(dn->content);
    if (dn->wv) semid_wordvec_free(dn->wv);
    free(dn->wv);
    free(dn->items);
    free(dn->skip);
    free(dn->users);
    memset(dn, 0, sizeof *dn);
}

semid_status semid_dense_user(const semid_dense *dn, const int32_t *history, int64_t n, float **out) {
    *out = calloc((size_t)dn->d, sizeof **out);
    if (!*out) return semid_fail(SEMID_ENOMEM, "out of memory");
    int64_t used = 0;
    for (int64_t j = 0; j < n; j++) {
        if (history[j] < 0 || history[j] >= dn->n_items) continue;
        const float *v = dn->items + (int64_t)history[j] * dn->d;
        double s = 0;
        for (int64_t t = 0; t < dn->d; t++) s += (double)v[t] * v[t];
        if (s <= 0) continue;
        double inv = 1.0 / sqrt(s);
        for (int64_t t = 0; t < dn->d; t++) (*out)[t] += (float)(v[t] * inv);
        used++;
    }
    for (int64_t t = 0; used > 0 && t < dn->d; t++) (*out)[t] /= (float)used;
    return SEMID_OK;
}

typedef struct tf_ctx {
    const semid_gen_bundle *b;
    int task;
    const int32_t *const *prompts;
    const int32_t *lens;
} tf_ctx;

static semid_status teacher_force(void *ctx, int64_t q, const int32_t *items, int32_t n, float *out) {
    const tf_ctx *c = ctx;
    return semid_gen_score_items(c->b, c->task, c->prompts[q], c->lens[q], items, n, out);
}

semid_status semid_dense_rerank(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                int task, const int32_t *const *prompts, const int32_t *lens,
                                const semid_beam_hits *hits, const float *qv, const int32_t *const *exclude,
                                const int32_t *n_exclude, semid_beam_hits *out) {
    tf_ctx c = {b, task, prompts, lens};
    return semid_hybrid_rerank(hits, qv, dn->items, dn->n_items, dn->d, dn->skip, exclude, n_exclude, teacher_force, &c,
                               o, out);
}

/* Replaces *h by r on success. */
static semid_status swap_hits(semid_status st, semid_beam_hits *h, semid_beam_hits *r) {
    if (st == SEMID_OK) {
        semid_beam_hits_free(h);
        *h = *r;
    }
    return st;
}

semid_status semid_dense_rerank_search(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                       const char *const *queries, int64_t n, semid_beam_hits *h) {
    int32_t T = b->ex.max_seq_len;
    float *qv = NULL;
    int32_t *tok = malloc((size_t)(n > 0 ? n : 1) * (size_t)T * sizeof *tok), *lens = malloc((size_t)(n > 0 ? n : 1) * sizeof *lens);
    const int32_t **prompts = malloc((size_t)(n > 0 ? n : 1) * sizeof *prompts);
    semid_status st = tok && lens && prompts ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int64_t q = 0; q < n && st == SEMID_OK; q++) {
        prompts[q] = tok + q * T;
        st = semid_gen_prompt_search(&b->vocab, &b->table, &b->ex, queries[q], tok + q * T, &lens[q], NULL);
    }
    if (st == SEMID_OK) st = semid_dense_encode(dn, queries, n, &qv);
    semid_beam_hits r;
    if (st == SEMID_OK) st = swap_hits(semid_dense_rerank(dn, b, o, SEMID_TASK_SEARCH, prompts, lens, h, qv, NULL, NULL, &r), h, &r);
    free(qv), free(tok), free(lens), free(prompts);
    return st;
}

semid_status semid_dense_rerank_rec(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                    const semid_gen_decode_options *decode, const int32_t *const *hists,
                                    const int64_t *hlens, const int32_t *users, int64_t n, semid_beam_hits *h) {
    int32_t T = b->ex.max_seq_len, w = semid_gen_effective_window(&b->ex, b->table.n_levels);
    int excl = decode->exclude_history < 0 ? !b->items_repeat : decode->exclude_history;
    size_t nn = (size_t)(n > 0 ? n : 1);
    float *uv = malloc(nn * (size_t)(dn->d > 0 ? dn->d : 1) * sizeof *uv);
    int32_t *tok = malloc(nn * (size_t)T * sizeof *tok), *lens = malloc(nn * sizeof *lens), *nex = malloc(nn * sizeof *nex);
    const int32_t **prompts = malloc(nn * sizeof *prompts);
    semid_status st = uv && tok && lens && nex && prompts ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int64_t q = 0; q < n && st == SEMID_OK; q++) {
        prompts[q] = tok + q * T;
        semid_gen_prompt_rec(&b->vocab, &b->table, &b->ex, hists[q], hlens[q], tok + q * T, &lens[q]);
        nex[q] = (int32_t)(hlens[q] < INT32_MAX ? hlens[q] : INT32_MAX);
        if (dn->users && users && users[q] >= 0 && users[q] < dn->n_users) {
            memcpy(uv + q * dn->d, dn->users + (int64_t)users[q] * dn->d, (size_t)dn->d * sizeof *uv);
            continue;
        }
        int64_t from = hlens[q] > w ? hlens[q] - w : 0; /* the items the model reads */
        float *u = NULL;
        st = semid_dense_user(dn, hists[q] + from, hlens[q] - from, &u);
        if (st == SEMID_OK) memcpy(uv + q * dn->d, u, (size_t)dn->d * sizeof *u);
        free(u);
    }
    semid_beam_hits r;
    if (st == SEMID_OK)
        st = swap_hits(semid_dense_rerank(dn, b, o, SEMID_TASK_REC, prompts, lens, h, uv, excl ? hists : NULL, excl ? nex : NULL, &r),
                       h, &r);
    free(uv), free(tok), free(lens), free(nex), free(prompts);
    return st;
}

semid_gen_decode_options semid_dense_decode_options(const semid_gen_decode_options *o) {
    semid_gen_decode_options g = *o;
    if (!g.diverse && g.beam.beam_size > g.beam.k) g.beam.k = g.beam.beam_size; /* the beam's top-K */
    return g;
}

typedef struct eval_ctx {
    semid_dense_task side[2]; /* by task: SEMID_TASK_SEARCH, SEMID_TASK_REC */
    const semid_gen_decode_options *decode;
} eval_ctx;

/* Copies row `from` of src into row `to` of dst (dst->k >= the row's hits). */
static void copy_row(const semid_beam_hits *src, int64_t from, semid_beam_hits *dst, int64_t to) {
    int32_t n = src->n_hits[from] < dst->k ? src->n_hits[from] : dst->k;
    for (int32_t j = 0; j < dst->k; j++) {
        dst->items[to * dst->k + j] = j < n ? src->items[from * src->k + j] : -1;
        dst->scores[to * dst->k + j] = j < n ? src->scores[from * src->k + j] : -INFINITY;
    }
    dst->n_hits[to] = n;
    dst->n_invalid[to] = src->n_invalid ? src->n_invalid[from] : 0;
}

/* The rows of one task re-ranked, into out's rows of that task. */
static semid_status rerank_task(const eval_ctx *c, const semid_gen_bundle *b, const semid_dataset *ds,
                                const semid_gen_seqs *seqs, const semid_beam_hits *hits, int task,
                                semid_beam_hits *out) {
    int64_t n = seqs->n_task[task];
    if (n == 0) return SEMID_OK;
    int64_t *rows = malloc((size_t)n * sizeof *rows);
    const char **queries = malloc((size_t)n * sizeof *queries);
    const int32_t **hists = malloc((size_t)n * sizeof *hists);
    int64_t *hlens = malloc((size_t)n * sizeof *hlens);
    int32_t *users = malloc((size_t)n * sizeof *users);
    semid_beam_hits sub = {0};
    semid_status st = rows && queries && hists && hlens && users ? semid_beam_hits_alloc(&sub, n, hits->k)
                                                                   : semid_fail(SEMID_ENOMEM, "out of memory");
    int64_t m = 0;
    for (int64_t j = 0; j < seqs->n && st == SEMID_OK; j++) {
        const semid_gen_seq *q = &seqs->seq[j];
        if (q->task != task) continue;
        rows[m] = j;
        if (task == SEMID_TASK_SEARCH) queries[m] = ds->queries[q->source].text;
        hists[m] = seqs->excl + q->excl_offset;
        hlens[m] = q->n_excl;
        users[m] = task == SEMID_TASK_REC ? q->source : -1;
        copy_row(hits, j, &sub, m++);
    }
    const semid_dense_task *side = &c->side[task == SEMID_TASK_SEARCH ? 0 : 1];
    if (st == SEMID_OK)
        st = task == SEMID_TASK_SEARCH
                 ? semid_dense_rerank_search(side->dn, b, side->o, queries, m, &sub)
                 : semid_dense_rerank_rec(side->dn, b, side->o, c->decode, hists, hlens, users, m, &sub);
    for (int64_t i = 0; i < m && st == SEMID_OK; i++) copy_row(&sub, i, out, rows[i]);
    semid_beam_hits_free(&sub);
    free(rows), free(queries), free(hists), free(hlens), free(users);
    return st;
}

static semid_status rerank_seqs(void *ctx, const semid_gen_bundle *b, const semid_dataset *ds,
                                const semid_gen_seqs *seqs, semid_beam_hits *hits) {
    const eval_ctx *c = ctx;
    semid_beam_hits out = {0};
    SEMID_TRY(semid_beam_hits_alloc(&out, seqs->n, c->side[0].o->k));
    semid_status st = rerank_task(c, b, ds, seqs, hits, SEMID_TASK_SEARCH, &out);
    if (st == SEMID_OK) st = rerank_task(c, b, ds, seqs, hits, SEMID_TASK_REC, &out);
    if (st == SEMID_OK) {
        semid_beam_hits_free(hits);
        *hits = out;
    } else {
        semid_beam_hits_free(&out);
    }
    return st;
}

semid_status semid_dense_evaluate(const semid_dense_task *search_side, const semid_dense_task *rec_side,
                                  const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                  const semid_gen_decode_options *o, semid_ranking_eval *search,
                                  semid_ranking_eval *rec) {
    if (search_side->o->k != rec_side->o->k)
        return semid_fail(SEMID_EINVAL, "hybrid evaluation: search re-ranks to %d results, recommendation to %d",
                          search_side->o->k, rec_side->o->k);
    semid_gen_decode_options wide = semid_dense_decode_options(o);
    eval_ctx c = {{*search_side, *rec_side}, o};
    return semid_gen_evaluate_reranked(b, ds, split, &wide, rerank_seqs, &c, search, rec, NULL);
}
