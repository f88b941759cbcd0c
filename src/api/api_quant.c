/* Quantizers (Semantic-ID tokenizers) and ID tables through the C API. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/status.h"
#include "base/threads.h"
#include "quant/strategy.h"

/* ---- quantizers ---- */

semid_quantizer_opts semid_quantizer_opts_default(void) {
    semid_tokenizer_config c = semid_tokenizer_defaults();
    semid_quantizer_opts o;
    memset(&o, 0, sizeof o);
    o.method = c.method;
    o.levels = c.levels;
    o.codebook = c.codebook_size;
    o.iters = c.iters;
    o.beam = c.beam;
    o.seed = c.seed;
    return o;
}

static semid_tokenizer_config tokenizer_config(const char *method, int32_t levels, int32_t codebook, int32_t iters,
                                               int32_t beam, uint64_t seed, int verbose, int threads) {
    semid_tokenizer_config c = semid_tokenizer_defaults();
    if (method) c.method = method;
    c.levels = levels;
    c.codebook_size = codebook;
    c.iters = iters;
    c.beam = beam;
    c.seed = seed;
    c.verbose = verbose;
    c.threads = threads;
    return c;
}

/* A matrix over the caller's array (never written through). */
static semid_matrix view(const float *x, int64_t rows, int64_t cols) {
    semid_matrix m = {rows, cols, (float *)x};
    return m;
}

semid_status semid_quantizer_fit(const float *x, int64_t rows, int64_t cols, const semid_quantizer_opts *opts,
                                 semid_quantizer **out) {
    SEMID_TRY(semid_api_need(out, "semid_quantizer_fit", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(x, "semid_quantizer_fit", "x"));
    if (rows < 1 || cols < 1)
        return semid_fail(SEMID_EINVAL, "semid_quantizer_fit: x is %lld x %lld: need at least one row and column",
                          (long long)rows, (long long)cols);
    semid_quantizer_opts o = opts ? *opts : semid_quantizer_opts_default();
    if (o.threads < 0) return semid_fail(SEMID_EINVAL, "semid_quantizer_fit: threads %d < 0", o.threads);
    semid_tokenizer_config c = tokenizer_config(o.method, o.levels, o.codebook, o.iters, o.beam, o.seed, o.verbose, o.threads);
    semid_quantizer *q = NULL;
    SEMID_TRY(semid_api_calloc(&q, sizeof *q));
    semid_matrix X = view(x, rows, cols);
    semid_status st = semid_tokenizer_fit(&X, &c, &q->tok);
    if (st != SEMID_OK) {
        free(q);
        return st;
    }
    q->owned = 1;
    *out = q;
    return SEMID_OK;
}

semid_status semid_quantizer_encode(const semid_quantizer *q, const float *x, int64_t rows, int64_t cols,
                                    int32_t *codes) {
    SEMID_TRY(semid_api_need(q, "semid_quantizer_encode", "q"));
    SEMID_TRY(semid_api_need(x, "semid_quantizer_encode", "x"));
    SEMID_TRY(semid_api_need(codes, "semid_quantizer_encode", "codes"));
    if (rows < 0 || cols < 1)
        return semid_fail(SEMID_EINVAL, "semid_quantizer_encode: x is %lld x %lld", (long long)rows, (long long)cols);
    if (rows == 0) return SEMID_OK;
    semid_matrix X = view(x, rows, cols);
    return semid_tokenizer_encode(q->tok, &X, codes);
}

semid_status semid_quantizer_reconstruct(const semid_quantizer *q, const int32_t *codes, int64_t rows,
                                         int32_t use_levels, float *out) {
    SEMID_TRY(semid_api_need(q, "semid_quantizer_reconstruct", "q"));
    SEMID_TRY(semid_api_need(codes, "semid_quantizer_reconstruct", "codes"));
    SEMID_TRY(semid_api_need(out, "semid_quantizer_reconstruct", "out"));
    int32_t L = semid_tokenizer_levels(q->tok);
    if (use_levels == 0) use_levels = L;
    if (rows < 0 || use_levels < 1 || use_levels > L)
        return semid_fail(SEMID_EINVAL, "semid_quantizer_reconstruct: rows %lld, use_levels %d (the quantizer has %d levels)",
                          (long long)rows, use_levels, L);
    for (int64_t r = 0; r < rows; r++)
        for (int32_t l = 0; l < L; l++) {
            int32_t c = codes[r * L + l], size = semid_tokenizer_level_size(q->tok, l);
            if (c < 0 || c >= size)
                return semid_fail(SEMID_EINVAL, "semid_quantizer_reconstruct: row %lld, level %d: code %d outside 0..%d",
                                  (long long)r, l, c, size - 1);
        }
    return semid_tokenizer_reconstruct(q->tok, codes, rows, use_levels, out);
}

semid_status semid_quantizer_save(const semid_quantizer *q, const char *path) {
    SEMID_TRY(semid_api_need(q, "semid_quantizer_save", "q"));
    SEMID_TRY(semid_api_need(path, "semid_quantizer_save", "path"));
    return semid_tokenizer_save(q->tok, path);
}

semid_status semid_quantizer_load(const char *path, semid_quantizer **out) {
    SEMID_TRY(semid_api_need(out, "semid_quantizer_load", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(path, "semid_quantizer_load", "path"));
    semid_quantizer *q = NULL;
    SEMID_TRY(semid_api_calloc(&q, sizeof *q));
    semid_status st = semid_tokenizer_load(path, &q->tok);
    if (st != SEMID_OK) {
        free(q);
        return st;
    }
    q->owned = 1;
    *out = q;
    return SEMID_OK;
}

void semid_quantizer_free(semid_quantizer *q) {
    if (!q || !q->owned) return; /* a table's quantizer goes with the table */
    semid_tokenizer_free(q->tok);
    free(q);
}

const char *semid_quantizer_method(const semid_quantizer *q) { return q ? semid_tokenizer_method_name(q->tok) : ""; }
int32_t semid_quantizer_levels(const semid_quantizer *q) { return q ? semid_tokenizer_levels(q->tok) : 0; }
int32_t semid_quantizer_dim(const semid_quantizer *q) { return q ? semid_tokenizer_dim(q->tok) : 0; }

int32_t semid_quantizer_level_size(const semid_quantizer *q, int32_t level) {
    if (!q || level < 0 || level >= semid_tokenizer_levels(q->tok)) return 0;
    return semid_tokenizer_level_size(q->tok, level);
}

/* ---- ID tables ---- */

semid_ids_opts semid_ids_opts_default(void) {
    semid_quantizer_opts q = semid_quantizer_opts_default();
    semid_ids_opts o;
    memset(&o, 0, sizeof o);
    o.strategy = "search";
    o.method = q.method;
    o.levels = q.levels;
    o.codebook = q.codebook;
    o.iters = q.iters;
    o.beam = q.beam;
    o.seed = q.seed;
    return o;
}

void semid_ids_free(semid_ids *ids) {
    if (!ids) return;
    semid_idtable_free(&ids->t);
    for (int i = 0; i < 2; i++) semid_tokenizer_free(ids->q[i].tok);
    free(ids);
}

/* The rows of e in the dataset's item order: *aligned (to free) when they
 * had to be reordered, else e itself. */
static semid_status rows_for(const semid_embeddings *e, const semid_data *d, const char *what, semid_embeddings **aligned,
                             const semid_matrix **m) {
    *aligned = NULL;
    *m = &e->m;
    if (!d) return SEMID_OK;
    if (e->ids) {
        SEMID_TRY(semid_embeddings_align(e, d, aligned));
        *m = &(*aligned)->m;
        return SEMID_OK;
    }
    if (e->m.rows != d->ds.n_items)
        return semid_fail(SEMID_EINVAL,
                          "semid_ids_build: the %s embeddings have %lld rows and no item ids, the dataset %d items",
                          what, (long long)e->m.rows, d->ds.n_items);
    return SEMID_OK;
}

/* Without a dataset, the ids of the rows name the items; both embeddings'
 * ids (when both have them) must agree. */
static semid_status row_ids_of(const semid_embeddings *first, const semid_embeddings *second, char ***ids) {
    *ids = NULL;
    if (first->ids && second && second->ids)
        for (int64_t i = 0; i < first->m.rows; i++)
            if (strcmp(first->ids[i], second->ids[i]) != 0)
                return semid_fail(SEMID_EINVAL, "semid_ids_build: row %lld is item '%s' in the search embeddings but '%s' in rec",
                                  (long long)i, first->ids[i], second->ids[i]);
    *ids = first->ids ? first->ids : second && second->ids ? second->ids : NULL;
    return SEMID_OK;
}

semid_status semid_ids_build(const semid_embeddings *first, const semid_embeddings *second, const semid_data *d,
                             const semid_ids_opts *opts, semid_ids **out) {
    SEMID_TRY(semid_api_need(out, "semid_ids_build", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(first, "semid_ids_build", "first"));
    semid_ids_opts o = opts ? *opts : semid_ids_opts_default();
    const char *strategy = o.strategy ? o.strategy : "search";
    const semid_strategy_def *def;
    SEMID_TRY(semid_strategy_lookup(strategy, &def));
    int n = semid_strategy_n_embeddings(def);
    if (n == 1 && second)
        return semid_fail(SEMID_EINVAL, "semid_ids_build: strategy %s reads one embedding: second must be NULL", strategy);
    if (n == 2 && !second)
        return semid_fail(SEMID_EINVAL, "semid_ids_build: strategy %s needs the %s (first) and %s (second) embeddings",
                          strategy, def->embeddings[0], def->embeddings[1]);
    if (o.threads < 0) return semid_fail(SEMID_EINVAL, "semid_ids_build: threads %d < 0", o.threads);
    if (second && !d && first->m.rows != second->m.rows)
        return semid_fail(SEMID_EINVAL, "semid_ids_build: %lld search rows but %lld rec rows", (long long)first->m.rows,
                          (long long)second->m.rows);

    semid_embeddings *aligned[2] = {NULL, NULL};
    const semid_matrix *emb[2] = {NULL, NULL};
    const semid_embeddings *given[2] = {first, second};
    char **row_ids = NULL;
    semid_ids *ids = NULL;
    semid_strategy_result res;
    memset(&res, 0, sizeof res);
    semid_status st = SEMID_OK;
    for (int i = 0; i < n && st == SEMID_OK; i++) st = rows_for(given[i], d, def->embeddings[i], &aligned[i], &emb[i]);
    if (st == SEMID_OK && !d) st = row_ids_of(first, second, &row_ids);
    if (st == SEMID_OK) {
        semid_strategy_options so;
        memset(&so, 0, sizeof so);
        so.strategy = strategy;
        so.tokenizer = tokenizer_config(o.method, o.levels, o.codebook, o.iters, o.beam, o.seed, o.verbose, o.threads);
        so.disambiguate = o.disambiguate;
        so.max_disambiguation = SEMID_MAX_DISAMBIGUATION_DEFAULT;
        int saved = semid_threads_push(o.threads);
        st = semid_strategy_build_catalog(emb, &so, d ? &d->ds : NULL, row_ids, &res);
        semid_threads_pop(saved);
    }
    if (st == SEMID_OK) st = semid_api_calloc(&ids, sizeof *ids);
    if (st == SEMID_OK) {
        ids->t = res.table;
        memset(&res.table, 0, sizeof res.table);
        for (int i = 0; i < res.n_tokenizers && i < 2; i++) {
            ids->q[i].tok = res.tokenizers[i];
            ids->q[i].owned = 0;
            res.tokenizers[i] = NULL;
        }
    }
    semid_strategy_result_free(&res);
    semid_embeddings_free(aligned[0]);
    semid_embeddings_free(aligned[1]);
    if (st != SEMID_OK) {
        semid_ids_free(ids);
        return st;
    }
    *out = ids;
    return SEMID_OK;
}

semid_status semid_ids_load(const char *path, semid_ids **out) {
    SEMID_TRY(semid_api_need(out, "semid_ids_load", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(path, "semid_ids_load", "path"));
    semid_ids *ids = NULL;
    SEMID_TRY(semid_api_calloc(&ids, sizeof *ids));
    semid_status st = semid_idtable_load(path, &ids->t);
    if (st != SEMID_OK) {
        free(ids);
        return st;
    }
    *out = ids;
    return SEMID_OK;
}

semid_status semid_ids_save(const semid_ids *ids, const char *path) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_save", "ids"));
    SEMID_TRY(semid_api_need(path, "semid_ids_save", "path"));
    return semid_idtable_save(&ids->t, path);
}

semid_status semid_ids_export_tsv(const semid_ids *ids, const char *path) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_export_tsv", "ids"));
    SEMID_TRY(semid_api_need(path, "semid_ids_export_tsv", "path"));
    return semid_idtable_export_tsv(&ids->t, path);
}

const char *semid_ids_strategy(const semid_ids *ids) { return ids && ids->t.strategy ? ids->t.strategy : ""; }
const char *semid_ids_method(const semid_ids *ids) { return ids && ids->t.method ? ids->t.method : ""; }
int32_t semid_ids_n_items(const semid_ids *ids) { return ids ? ids->t.n_items : 0; }
int32_t semid_ids_n_tasks(const semid_ids *ids) { return ids ? ids->t.n_tasks : 0; }
int32_t semid_ids_n_levels(const semid_ids *ids) { return ids ? ids->t.n_levels : 0; }
int32_t semid_ids_n_tokens(const semid_ids *ids) { return ids ? ids->t.n_tokens : 0; }
uint64_t semid_ids_fingerprint(const semid_ids *ids) { return ids ? ids->t.fingerprint : 0; }

const char *semid_ids_item_id(const semid_ids *ids, int32_t item) {
    return ids && ids->t.item_ids && item >= 0 && item < ids->t.n_items ? ids->t.item_ids[item] : NULL;
}

static int task_ok(semid_task task) { return task == SEMID_SEARCH || task == SEMID_RECOMMEND; }
/* Row block of a task in the table (tables with one task share it). */
static int32_t task_index(const semid_idtable *t, semid_task task) { return t->n_tasks == 1 ? 0 : (int32_t)task; }

int32_t semid_ids_level_size(const semid_ids *ids, semid_task task, int32_t level) {
    if (!ids || !task_ok(task) || level < 0 || level >= ids->t.n_levels) return 0;
    return ids->t.level_size[task_index(&ids->t, task) * ids->t.n_levels + level];
}

semid_status semid_ids_codes(const semid_ids *ids, semid_task task, int32_t *codes) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_codes", "ids"));
    SEMID_TRY(semid_api_need(codes, "semid_ids_codes", "codes"));
    if (!task_ok(task)) return semid_fail(SEMID_EINVAL, "semid_ids_codes: task %d is not SEMID_SEARCH or SEMID_RECOMMEND", (int)task);
    const semid_idtable *t = &ids->t;
    int64_t cells = (int64_t)t->n_items * t->n_levels;
    memcpy(codes, t->codes + task_index(t, task) * cells, sizeof(int32_t) * (size_t)cells);
    return SEMID_OK;
}

semid_status semid_ids_tokens(const semid_ids *ids, semid_task task, int32_t *tokens) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_tokens", "ids"));
    SEMID_TRY(semid_api_need(tokens, "semid_ids_tokens", "tokens"));
    if (!task_ok(task)) return semid_fail(SEMID_EINVAL, "semid_ids_tokens: task %d is not SEMID_SEARCH or SEMID_RECOMMEND", (int)task);
    const semid_idtable *t = &ids->t;
    for (int32_t i = 0; i < t->n_items; i++) semid_idtable_tokens(t, (int)task, i, tokens + (int64_t)i * t->n_levels);
    return SEMID_OK;
}

semid_status semid_ids_collisions(const semid_ids *ids, semid_task task, semid_collisions *out) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_collisions", "ids"));
    SEMID_TRY(semid_api_need(out, "semid_ids_collisions", "out"));
    if (!task_ok(task)) return semid_fail(SEMID_EINVAL, "semid_ids_collisions: task %d is not SEMID_SEARCH or SEMID_RECOMMEND", (int)task);
    semid_collision_stats cs;
    SEMID_TRY(semid_idtable_collisions(&ids->t, task_index(&ids->t, task), &cs));
    memset(out, 0, sizeof *out);
    out->distinct_ids = cs.distinct_ids;
    out->colliding_items = cs.colliding_items;
    out->max_items_per_id = cs.max_items_per_id;
    out->rate = cs.rate;
    return SEMID_OK;
}

const semid_quantizer *semid_ids_quantizer(const semid_ids *ids, semid_task task) {
    if (!ids || !task_ok(task)) return NULL;
    const semid_quantizer *q = &ids->q[task_index(&ids->t, task)];
    return q->tok ? q : NULL;
}

semid_status semid_ids_encode_new(const semid_ids *ids, const semid_quantizer *q, semid_task task, const float *x,
                                  int64_t rows, int64_t cols, int32_t *tokens) {
    SEMID_TRY(semid_api_need(ids, "semid_ids_encode_new", "ids"));
    SEMID_TRY(semid_api_need(x, "semid_ids_encode_new", "x"));
    SEMID_TRY(semid_api_need(tokens, "semid_ids_encode_new", "tokens"));
    if (!task_ok(task)) return semid_fail(SEMID_EINVAL, "semid_ids_encode_new: task %d is not SEMID_SEARCH or SEMID_RECOMMEND", (int)task);
    if (!q) q = semid_ids_quantizer(ids, task);
    if (!q)
        return semid_fail(SEMID_EINVAL, "semid_ids_encode_new: the table keeps no quantizer for this task (loaded "
                                        "tables and prefix_share): pass the one that built it");
    if (rows < 0 || cols < 1)
        return semid_fail(SEMID_EINVAL, "semid_ids_encode_new: x is %lld x %lld", (long long)rows, (long long)cols);
    if (rows == 0) return SEMID_OK;
    int32_t L = semid_tokenizer_levels(q->tok);
    int32_t *codes = malloc(sizeof *codes * (size_t)(rows * L));
    if (!codes) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_matrix X = view(x, rows, cols);
    semid_status st = semid_tokenizer_encode(q->tok, &X, codes);
    if (st == SEMID_OK) st = semid_strategy_codes_to_tokens(&ids->t, (int)task, q->tok, codes, rows, tokens);
    free(codes);
    return st;
}
