/* Embeddings through the C API: computed from a dataset (content, search,
 * rec, multi, fused), made from a caller's array, aligned to a dataset,
 * fused, loaded, saved, and searched by exact top-k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/status.h"
#include "base/threads.h"
#include "embed/embed_methods.h"
#include "embed/fusion.h"
#include "embed/knn.h"
#include "io/npy.h"

semid_embed_opts semid_embed_opts_default(void) {
    semid_embed_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 42;
    return o;
}

static void free_ids(char **ids, int64_t n) {
    if (!ids) return;
    for (int64_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

void semid_embeddings_free(semid_embeddings *e) {
    if (!e) return;
    free_ids(e->ids, e->m.rows);
    semid_matrix_free(&e->m);
    free(e);
}

/* Copies n ids (NULL stays NULL). */
static semid_status copy_ids(const char *const *ids, int64_t n, char ***out) {
    *out = NULL;
    if (!ids) return SEMID_OK;
    char **c = calloc((size_t)(n > 0 ? n : 1), sizeof *c);
    if (!c) return semid_fail(SEMID_ENOMEM, "out of memory");
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) c[i] = semid_api_strdup(ids[i] ? ids[i] : "", &ok);
    if (!ok) {
        free_ids(c, n);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    *out = c;
    return SEMID_OK;
}

static int cmp_id(const void *a, const void *b) { return strcmp(**(const char *const *const *)a, **(const char *const *const *)b); }

/* Ids must be non-empty and distinct (sorted copies of the pointers). */
static semid_status check_ids(const char *const *ids, int64_t n, const char *fn) {
    if (!ids) return SEMID_OK;
    const char *const **order = malloc(sizeof *order * (size_t)(n > 0 ? n : 1));
    if (!order) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = SEMID_OK;
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        if (!ids[i] || !ids[i][0]) st = semid_fail(SEMID_EINVAL, "%s: the id of row %lld is empty", fn, (long long)i);
        order[i] = &ids[i];
    }
    if (st == SEMID_OK) {
        qsort(order, (size_t)n, sizeof *order, cmp_id);
        for (int64_t i = 1; i < n && st == SEMID_OK; i++)
            if (strcmp(*order[i - 1], *order[i]) == 0)
                st = semid_fail(SEMID_EINVAL, "%s: id '%s' names rows %lld and %lld", fn, *order[i],
                                (long long)(order[i - 1] - ids), (long long)(order[i] - ids));
    }
    free(order);
    return st;
}

/* Wraps a matrix (taken over) and ids (taken over, may be NULL). */
static semid_status wrap(semid_matrix *m, char **ids, semid_embeddings **out) {
    semid_embeddings *e = NULL;
    semid_status st = semid_api_calloc(&e, sizeof *e);
    if (st != SEMID_OK) {
        free_ids(ids, m->rows);
        semid_matrix_free(m);
        return st;
    }
    e->m = *m;
    e->ids = ids;
    *out = e;
    return SEMID_OK;
}

/* The dataset's item ids, copied. */
static semid_status dataset_ids(const semid_dataset *ds, char ***out) {
    const char **ids = malloc(sizeof *ids * (size_t)(ds->n_items > 0 ? ds->n_items : 1));
    if (!ids) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < ds->n_items; i++) ids[i] = ds->items[i].id;
    semid_status st = copy_ids(ids, ds->n_items, out);
    free(ids);
    return st;
}

/* A fused method computes its inputs first, with the same options. */
static semid_status embed_method(const semid_dataset *ds, const semid_embed_method *m, const semid_embed_opts *o,
                                 semid_matrix *items) {
    semid_matrix in[2] = {{0}, {0}};
    semid_status st = SEMID_OK;
    for (int i = 0; i < 2 && st == SEMID_OK && m->kind == SEMID_EMBED_FUSED; i++)
        st = embed_method(ds, semid_embed_method_find(m->inputs[i]), o, &in[i]);
    semid_embed_settings s = semid_embed_settings_default();
    s.word_vectors = o->word_vectors;
    if (o->dim > 0) s.enmf.dim = s.biencoder.encoder.dim_out = o->dim;
    if (o->epochs > 0) s.enmf.epochs = s.biencoder.epochs = o->epochs;
    if (o->batch > 0) s.enmf.batch_users = s.biencoder.batch = o->batch;
    if (o->batch > 0) s.enmf.max_steps = 0; /* the batch asked for, however many steps it makes */
    if (o->lr > 0) s.enmf.lr = s.biencoder.lr = o->lr;
    s.seed = o->seed;
    const semid_matrix *const inputs[2] = {&in[0], &in[1]};
    if (st == SEMID_OK) st = semid_embed_compute(ds, m, &s, inputs, items, NULL);
    semid_matrix_free(&in[0]);
    semid_matrix_free(&in[1]);
    return st;
}

semid_status semid_embed(const semid_data *d, const char *method, const semid_embed_opts *opts,
                         semid_embeddings **out) {
    SEMID_TRY(semid_api_need(out, "semid_embed", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(d, "semid_embed", "d"));
    SEMID_TRY(semid_api_need(method, "semid_embed", "method"));
    semid_embed_opts o = opts ? *opts : semid_embed_opts_default();
    if (o.dim < 0 || o.epochs < 0 || o.batch < 0 || !(o.lr >= 0) || o.threads < 0)
        return semid_fail(SEMID_EINVAL, "semid_embed: dim, epochs, batch, lr and threads must be >= 0");
    const semid_embed_method *em;
    semid_status st = semid_embed_method_lookup(method, "method", &em);
    if (st != SEMID_OK) return semid_fail_context(st, "semid_embed");
    int saved = semid_threads_push(o.threads);
    semid_matrix m = {0};
    char **ids = NULL;
    st = embed_method(&d->ds, em, &o, &m);
    if (st == SEMID_OK) st = dataset_ids(&d->ds, &ids);
    semid_threads_pop(saved);
    if (st != SEMID_OK) {
        semid_matrix_free(&m);
        return st;
    }
    return wrap(&m, ids, out);
}

static semid_status check_finite(const float *x, int64_t rows, int64_t cols, const char *fn) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            if (!isfinite(x[r * cols + c]))
                return semid_fail(SEMID_ENUMERIC, "%s: row %lld, column %lld is %f", fn, (long long)r, (long long)c,
                                  (double)x[r * cols + c]);
    return SEMID_OK;
}

semid_status semid_embeddings_create(const float *data, int64_t rows, int64_t cols, const char *const *ids,
                                     semid_embeddings **out) {
    SEMID_TRY(semid_api_need(out, "semid_embeddings_create", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(data, "semid_embeddings_create", "data"));
    if (rows < 1 || cols < 1)
        return semid_fail(SEMID_EINVAL, "semid_embeddings_create: %lld x %lld: need at least one row and column",
                          (long long)rows, (long long)cols);
    SEMID_TRY(check_finite(data, rows, cols, "semid_embeddings_create"));
    SEMID_TRY(check_ids(ids, rows, "semid_embeddings_create"));
    semid_matrix m = {0};
    SEMID_TRY(semid_matrix_alloc(&m, rows, cols));
    memcpy(m.data, data, sizeof(float) * (size_t)(rows * cols));
    char **c = NULL;
    semid_status st = copy_ids(ids, rows, &c);
    if (st != SEMID_OK) {
        semid_matrix_free(&m);
        return st;
    }
    return wrap(&m, c, out);
}

semid_status semid_embeddings_align(const semid_embeddings *e, const semid_data *d, semid_embeddings **out) {
    SEMID_TRY(semid_api_need(out, "semid_embeddings_align", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(e, "semid_embeddings_align", "e"));
    SEMID_TRY(semid_api_need(d, "semid_embeddings_align", "d"));
    const semid_dataset *ds = &d->ds;
    if (!e->ids)
        return semid_fail(SEMID_EINVAL, "semid_embeddings_align: the embeddings have no item ids to match");
    int64_t *row_of = malloc(sizeof *row_of * (size_t)(ds->n_items > 0 ? ds->n_items : 1));
    if (!row_of) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; i < ds->n_items; i++) row_of[i] = -1;
    semid_status st = SEMID_OK;
    for (int64_t r = 0; r < e->m.rows && st == SEMID_OK; r++) {
        int32_t i = semid_dataset_find_item(ds, e->ids[r]);
        if (i < 0)
            st = semid_fail(SEMID_ENOTFOUND, "semid_embeddings_align: row %lld: item '%s' is not in the dataset",
                            (long long)r, e->ids[r]);
        else
            row_of[i] = r;
    }
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++)
        if (row_of[i] < 0)
            st = semid_fail(SEMID_ENOTFOUND, "semid_embeddings_align: dataset item '%s' has no row", ds->items[i].id);
    semid_matrix m = {0};
    char **ids = NULL;
    if (st == SEMID_OK) st = semid_matrix_alloc(&m, ds->n_items, e->m.cols);
    if (st == SEMID_OK) st = dataset_ids(ds, &ids);
    if (st == SEMID_OK)
        for (int32_t i = 0; i < ds->n_items; i++)
            memcpy(m.data + (int64_t)i * m.cols, e->m.data + row_of[i] * m.cols, sizeof(float) * (size_t)m.cols);
    free(row_of);
    if (st != SEMID_OK) {
        semid_matrix_free(&m);
        return st;
    }
    return wrap(&m, ids, out);
}

semid_status semid_embeddings_fuse(const semid_embeddings *search, const semid_embeddings *rec, const char *how,
                                   semid_embeddings **out) {
    SEMID_TRY(semid_api_need(out, "semid_embeddings_fuse", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(search, "semid_embeddings_fuse", "search"));
    SEMID_TRY(semid_api_need(rec, "semid_embeddings_fuse", "rec"));
    SEMID_TRY(semid_api_need(how, "semid_embeddings_fuse", "how"));
    int concat = strcmp(how, "concat") == 0 || strcmp(how, "fused_concat") == 0;
    int svd = strcmp(how, "svd") == 0 || strcmp(how, "fused_svd") == 0;
    if (!concat && !svd) return semid_fail(SEMID_EINVAL, "semid_embeddings_fuse: how is 'concat' or 'svd', not '%s'", how);
    if (search->m.rows != rec->m.rows)
        return semid_fail(SEMID_EINVAL, "semid_embeddings_fuse: %lld search rows but %lld rec rows",
                          (long long)search->m.rows, (long long)rec->m.rows);
    if (search->ids && rec->ids)
        for (int64_t r = 0; r < search->m.rows; r++)
            if (strcmp(search->ids[r], rec->ids[r]) != 0)
                return semid_fail(SEMID_EINVAL, "semid_embeddings_fuse: row %lld is item '%s' in search but '%s' in rec",
                                  (long long)r, search->ids[r], rec->ids[r]);
    semid_matrix m = {0};
    SEMID_TRY(concat ? semid_fuse_concat(&search->m, &rec->m, &m) : semid_fuse_svd(&search->m, &rec->m, &m));
    char **ids = NULL;
    const char *const *src = (const char *const *)(search->ids ? search->ids : rec->ids);
    semid_status st = copy_ids(src, m.rows, &ids);
    if (st != SEMID_OK) {
        semid_matrix_free(&m);
        return st;
    }
    return wrap(&m, ids, out);
}

semid_status semid_embeddings_load(const char *npy_path, const char *ids_path, semid_embeddings **out) {
    SEMID_TRY(semid_api_need(out, "semid_embeddings_load", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(npy_path, "semid_embeddings_load", "npy_path"));
    semid_matrix m = {0};
    SEMID_TRY(semid_npy_read(npy_path, &m));
    char **ids = NULL;
    int64_t n = 0;
    semid_status st = ids_path ? semid_idlist_read(ids_path, &ids, &n) : SEMID_OK;
    if (st == SEMID_OK && ids && n != m.rows)
        st = semid_fail(SEMID_EINVAL, "%s has %lld ids but %s has %lld rows", ids_path, (long long)n, npy_path,
                        (long long)m.rows);
    if (st != SEMID_OK) {
        if (ids) semid_idlist_free(ids, n);
        semid_matrix_free(&m);
        return st;
    }
    return wrap(&m, ids, out);
}

semid_status semid_embeddings_save(const semid_embeddings *e, const char *npy_path, const char *ids_path) {
    SEMID_TRY(semid_api_need(e, "semid_embeddings_save", "e"));
    SEMID_TRY(semid_api_need(npy_path, "semid_embeddings_save", "npy_path"));
    if (ids_path && !e->ids)
        return semid_fail(SEMID_EINVAL, "semid_embeddings_save: no item ids to write to %s", ids_path);
    SEMID_TRY(semid_npy_write(npy_path, &e->m));
    return ids_path ? semid_idlist_write(ids_path, e->ids, e->m.rows) : SEMID_OK;
}

int64_t semid_embeddings_rows(const semid_embeddings *e) { return e ? e->m.rows : 0; }
int64_t semid_embeddings_cols(const semid_embeddings *e) { return e ? e->m.cols : 0; }
const float *semid_embeddings_data(const semid_embeddings *e) { return e ? e->m.data : NULL; }

const char *semid_embeddings_item_id(const semid_embeddings *e, int64_t row) {
    return e && e->ids && row >= 0 && row < e->m.rows ? e->ids[row] : NULL;
}

semid_status semid_embeddings_topk(const semid_embeddings *e, const float *queries, int64_t n, int32_t k, int threads,
                                   int32_t *items, float *scores) {
    SEMID_TRY(semid_api_need(e, "semid_embeddings_topk", "e"));
    SEMID_TRY(semid_api_need(queries, "semid_embeddings_topk", "queries"));
    SEMID_TRY(semid_api_need(items, "semid_embeddings_topk", "items"));
    if (n < 0 || k < 1 || threads < 0)
        return semid_fail(SEMID_EINVAL, "semid_embeddings_topk: n %lld, k %d, threads %d: need n >= 0, k >= 1, threads >= 0",
                          (long long)n, k, threads);
    SEMID_TRY(check_finite(queries, n, e->m.cols, "semid_embeddings_topk"));
    int saved = semid_threads_push(threads);
    semid_status st = semid_knn_topk(queries, n, e->m.data, e->m.rows, e->m.cols, k, NULL, items, scores);
    semid_threads_pop(saved);
    return st;
}
