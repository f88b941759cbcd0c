/* The public C API end to end, as a program would use it (only
 * semid/semid.h): embeddings of every method, an ID table, a tiny model
 * trained in two runs (and in one, to the same weights), then batched
 * search and recommendation into caller arrays, and evaluation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "semid/semid.h"
#include "support/testutil.h"

#define OK(expr)                                                                                  \
    do {                                                                                          \
        semid_status st_ = (expr);                                                                \
        if (st_ != SEMID_OK) fail_msg("%s: %s: %s", #expr, semid_status_name(st_), semid_last_error()); \
    } while (0)

#define FAILS(want, needle, expr)                                                                  \
    do {                                                                                           \
        semid_status st_ = (expr);                                                                 \
        if (st_ != (want)) fail_msg("%s: %s, not %s (%s)", #expr, semid_status_name(st_), semid_status_name(want), semid_last_error()); \
        if (!strstr(semid_last_error(), needle)) fail_msg("%s: no '%s' in '%s'", #expr, needle, semid_last_error()); \
    } while (0)

static char *tmpdir, *model_dir, *model_dir2;
static semid_data *ds;
static semid_ids *ids;
static semid_model *model;

static char *path_in(const char *name) {
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

static semid_train_opts tiny_train(void) {
    semid_train_opts o = semid_train_opts_default();
    o.layers = 1;
    o.dim = 16;
    o.heads = 2;
    o.epochs = 2;
    o.batch = 16;
    o.valid_sample = 10;
    o.threads = 1;
    return o;
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    tmpdir = test_make_tmpdir();
    if (!tmpdir) return -1;
    model_dir = path_in("model");
    model_dir2 = path_in("model-one-run");
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 60;
    so.n_users = 80;
    so.mean_history = 8;
    so.min_history = 5;
    so.n_topics = 4;
    so.queries_per_item = 3;
    so.queries_train = 2;
    so.seed = 7;
    semid_embeddings *e = NULL;
    semid_ids_opts io = semid_ids_opts_default();
    io.strategy = "content";
    io.codebook = 8;
    io.disambiguate = 1;
    semid_status st = semid_data_synth(&so, &ds);
    if (st == SEMID_OK) st = semid_embed(ds, "content", NULL, &e);
    if (st == SEMID_OK) st = semid_ids_build(e, NULL, ds, &io, &ids);
    semid_embeddings_free(e);
    if (st != SEMID_OK) fprintf(stderr, "setup: %s\n", semid_last_error());
    return st == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_model_free(model);
    semid_ids_free(ids);
    semid_data_free(ds);
    test_rm_rf(tmpdir);
    free(model_dir);
    free(model_dir2);
    free(tmpdir);
    return 0;
}

static void check_rows(const semid_embeddings *e, int64_t cols) {
    assert_int_equal(semid_embeddings_rows(e), semid_data_n_items(ds));
    if (cols > 0) assert_int_equal(semid_embeddings_cols(e), cols);
    for (int32_t i = 0; i < semid_data_n_items(ds); i++) assert_string_equal(semid_embeddings_item_id(e, i), semid_data_item_id(ds, i));
    const float *x = semid_embeddings_data(e);
    for (int64_t i = 0; i < semid_embeddings_rows(e) * semid_embeddings_cols(e); i++) assert_true(isfinite(x[i]));
}

static void test_embed_methods(void **state) {
    (void)state;
    semid_embed_opts o = semid_embed_opts_default();
    assert_int_equal(o.seed, 42);
    o.dim = 16;
    o.epochs = 1;
    o.threads = 1;
    semid_embeddings *c = NULL, *s = NULL, *r = NULL, *m = NULL, *f = NULL;
    OK(semid_embed(ds, "content", &o, &c));
    check_rows(c, 0);
    /* content rows are unit vectors */
    double n0 = 0;
    for (int64_t j = 0; j < semid_embeddings_cols(c); j++) n0 += semid_embeddings_data(c)[j] * semid_embeddings_data(c)[j];
    assert_float_equal(n0, 1.0, 1e-4);
    OK(semid_embed(ds, "search", &o, &s));
    check_rows(s, 16);
    OK(semid_embed(ds, "multi", &o, &m));
    check_rows(m, 16);
    o.dim = 8;
    o.epochs = 2;
    OK(semid_embed(ds, "rec", &o, &r));
    check_rows(r, 8);
    /* The same seed and threads: the same vectors. */
    semid_embeddings *r2 = NULL;
    OK(semid_embed(ds, "rec", &o, &r2));
    assert_memory_equal(semid_embeddings_data(r), semid_embeddings_data(r2), sizeof(float) * 8 * (size_t)semid_data_n_items(ds));
    semid_embeddings_free(r2);
    OK(semid_embeddings_fuse(s, r, "concat", &f));
    check_rows(f, 24);
    semid_embeddings_free(f);
    o.dim = 0;
    o.epochs = 1;
    OK(semid_embed(ds, "fused_svd", &o, &f));
    check_rows(f, 128); /* min(search 128, rec 256) */
    semid_embeddings_free(f);
    f = (semid_embeddings *)1;
    FAILS(SEMID_EINVAL, "unknown method 'bert'", semid_embed(ds, "bert", &o, &f));
    assert_null(f);
    o.word_vectors = "/nonexistent/vectors.txt";
    assert_int_not_equal(semid_embed(ds, "content", &o, &f), SEMID_OK);
    assert_non_null(strstr(semid_last_error(), "/nonexistent/vectors.txt"));
    FAILS(SEMID_EINVAL, "d is NULL", semid_embed(NULL, "content", NULL, &f));
    semid_embeddings_free(c);
    semid_embeddings_free(s);
    semid_embeddings_free(m);
    semid_embeddings_free(r);
}

/* Early stopping through the API: a learning rate too small to change the
 * validation Recall stops the run after min_epochs + patience epochs. */
static void test_train_stops_early(void **state) {
    (void)state;
    semid_train_opts o = tiny_train();
    o.epochs = 8;
    o.lr = 1e-12f;
    o.patience = 1;
    o.min_epochs = 2;
    char *dir = path_in("model-early");
    semid_trainer *t = NULL;
    OK(semid_trainer_create(ds, ids, dir, &o, &t));
    semid_train_report r;
    OK(semid_trainer_run(t, 0, &r));
    assert_true(r.stopped_early);
    assert_int_equal(r.epochs_done, 2);
    assert_true(r.steps < r.total_steps);
    assert_true(semid_trainer_done(t));
    semid_trainer_free(t);
    o.patience = -1;
    FAILS(SEMID_EINVAL, "patience", semid_train(ds, ids, dir, &o, &r));
    free(dir);
}

/* bf16 products train the same model to about the same loss (fp32 where the
 * CPU lacks AVX-512 BF16), and the bundle says how it was trained. */
static void test_train_bf16(void **state) {
    (void)state;
    semid_train_opts o = tiny_train();
    semid_train_report fp32, bf16;
    char *dir32 = path_in("model-fp32"), *dir16 = path_in("model-bf16");
    OK(semid_train(ds, ids, dir32, &o, &fp32));
    o.bf16 = 1;
    OK(semid_train(ds, ids, dir16, &o, &bf16));
    assert_true(isfinite(bf16.last_epoch_loss));
    assert_true(fabs(bf16.last_epoch_loss - fp32.last_epoch_loss) < 0.05 * fp32.last_epoch_loss);
    char path[1024], text[8192];
    snprintf(path, sizeof path, "%s/train.json", dir16);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    const char *field = strstr(text, "\"bf16\":");
    assert_non_null(field);
    assert_int_equal(strtol(field + strlen("\"bf16\":"), NULL, 10), 1);
    free(dir32);
    free(dir16);
}

static void test_train_in_two_runs(void **state) {
    (void)state;
    semid_train_opts o = tiny_train();
    semid_trainer *t = NULL;
    OK(semid_trainer_create(ds, ids, model_dir, &o, &t));
    assert_false(semid_trainer_done(t));
    semid_train_report r;
    OK(semid_trainer_run(t, 3, &r));
    assert_int_equal(r.steps, 3);
    assert_true(r.total_steps > 3);
    assert_true(r.n_params > 0);
    assert_false(semid_trainer_done(t));
    OK(semid_trainer_run(t, 0, &r));
    assert_true(semid_trainer_done(t));
    assert_int_equal(r.steps, r.total_steps);
    assert_int_equal(r.epochs_done, 2);
    assert_true(isfinite(r.last_epoch_loss));
    assert_true(r.best_valid >= 0 && r.best_valid <= 1);
    assert_true(r.best_epoch >= 1 && r.best_epoch <= 2);
    assert_false(r.stopped_early);
    semid_trainer_free(t);
    /* One run to the end: the same model. */
    OK(semid_train(ds, ids, model_dir2, &o, &r));
    assert_int_equal(r.steps, r.total_steps);
    OK(semid_model_load(model_dir, &model));
    semid_model *one = NULL;
    OK(semid_model_load(model_dir2, &one));
    const char *q[] = {"a space adventure", "crime story"};
    int32_t a[2 * 5], b[2 * 5];
    float sa[2 * 5], sb[2 * 5];
    semid_decode_opts d = semid_decode_opts_default();
    d.k = 5;
    OK(semid_search(model, q, 2, &d, a, sa, NULL));
    OK(semid_search(one, q, 2, &d, b, sb, NULL));
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(sa, sb, sizeof sa);
    semid_model_free(one);

    /* Errors: a table of other items; bad options. */
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 30;
    so.n_users = 40;
    so.mean_history = 6;
    so.min_history = 4;
    so.n_topics = 3;
    so.queries_per_item = 0;
    semid_data *other = NULL;
    OK(semid_data_synth(&so, &other));
    t = (semid_trainer *)1;
    FAILS(SEMID_EINVAL, "the ID table has 60 items but the dataset 30", semid_trainer_create(other, ids, model_dir, &o, &t));
    assert_null(t);
    semid_data_free(other);
    o.threads = -1;
    FAILS(SEMID_EINVAL, "threads -1", semid_trainer_create(ds, ids, model_dir, &o, &t));
    FAILS(SEMID_EINVAL, "out_dir is NULL", semid_trainer_create(ds, ids, NULL, &o, &t));
    o = tiny_train();
    o.layers = 0;
    OK(semid_trainer_create(ds, ids, model_dir2, &o, &t));
    assert_int_not_equal(semid_trainer_run(t, 0, NULL), SEMID_OK);
    assert_true(strlen(semid_last_error()) > 0);
    semid_trainer_free(t);
    FAILS(SEMID_EINVAL, "t is NULL", semid_trainer_run(NULL, 0, NULL));
}

static void test_model_items(void **state) {
    (void)state;
    assert_non_null(model);
    assert_int_equal(semid_model_n_items(model), semid_data_n_items(ds));
    for (int32_t i = 0; i < semid_model_n_items(model); i++) {
        assert_string_equal(semid_model_item_id(model, i), semid_data_item_id(ds, i));
        assert_string_equal(semid_model_item_title(model, i), semid_data_item_title(ds, i));
        assert_int_equal(semid_model_item_index(model, semid_data_item_id(ds, i)), i);
    }
    assert_null(semid_model_item_id(model, -1));
    assert_null(semid_model_item_title(model, 1000));
    assert_int_equal(semid_model_item_index(model, "nope"), -1);
    semid_model *m = (semid_model *)1;
    char *missing = path_in("no-model");
    assert_int_not_equal(semid_model_load(missing, &m), SEMID_OK);
    assert_null(m);
    assert_non_null(strstr(semid_last_error(), "no-model"));
    free(missing);
    semid_model_free(NULL);
}

static void test_search(void **state) {
    (void)state;
    enum { Q = 4, K = 7 };
    const char *q[Q];
    int nq = 0;
    for (int32_t i = 0; i < semid_data_n_queries(ds) && nq < Q - 1; i++) {
        int32_t split;
        const char *text = semid_data_query(ds, i, NULL, &split);
        if (split == SEMID_QUERY_TEST) q[nq++] = text;
    }
    q[nq++] = "";
    semid_decode_opts o = semid_decode_opts_default();
    assert_int_equal(o.k, 10);
    o.k = K;
    o.threads = 1;
    int32_t items[Q * K], items2[Q * K], hits[Q];
    float scores[Q * K], scores2[Q * K];
    OK(semid_search(model, q, Q, &o, items, scores, hits));
    for (int i = 0; i < Q; i++) {
        assert_int_equal(hits[i], K);
        int seen[64] = {0};
        for (int j = 0; j < K; j++) {
            int32_t it = items[i * K + j];
            assert_true(it >= 0 && it < semid_model_n_items(model));
            assert_int_equal(seen[it]++, 0);
            assert_true(scores[i * K + j] <= 0);
            if (j) assert_true(scores[i * K + j] <= scores[i * K + j - 1]);
        }
    }
    /* Two threads, or one query at a time: the same results. */
    o.threads = 2;
    OK(semid_search(model, q, Q, &o, items2, scores2, NULL));
    assert_memory_equal(items, items2, sizeof items);
    for (int i = 0; i < Q; i++) OK(semid_search(model, q + i, 1, &o, items2 + i * K, scores2 + i * K, NULL));
    assert_memory_equal(items, items2, sizeof items);
    /* More results than items: -1 past the last. */
    o.k = 100;
    o.beam = 100;
    int32_t *all = malloc(sizeof(int32_t) * 100), n_all = 0;
    OK(semid_search(model, q, 1, &o, all, NULL, &n_all));
    assert_int_equal(n_all, semid_model_n_items(model));
    assert_int_equal(all[n_all - 1] >= 0, 1);
    assert_int_equal(all[n_all], -1);
    free(all);
    /* The paper's diverse beam search. */
    o = semid_decode_opts_default();
    o.k = 5;
    o.diverse = 1;
    OK(semid_search(model, q, 2, &o, items, scores, hits));
    for (int i = 0; i < 2; i++) assert_true(hits[i] <= 5);
    /* Nothing to do; bad arguments. */
    OK(semid_search(model, NULL, 0, &o, items, NULL, NULL));
    const char *withnull[2] = {"x", NULL};
    FAILS(SEMID_EINVAL, "query 1 is NULL", semid_search(model, withnull, 2, &o, items, NULL, NULL));
    o.k = 0;
    FAILS(SEMID_EINVAL, "k 0", semid_search(model, q, 1, &o, items, NULL, NULL));
    FAILS(SEMID_EINVAL, "items is NULL", semid_search(model, q, 1, NULL, NULL, NULL, NULL));
    FAILS(SEMID_EINVAL, "m is NULL", semid_search(NULL, q, 1, NULL, items, NULL, NULL));
}

static void test_recommend(void **state) {
    (void)state;
    enum { U = 3, K = 6 };
    int64_t offsets[U + 1] = {0};
    int32_t history[256];
    for (int u = 0; u < U; u++) {
        int64_t n = 0;
        const int32_t *h = semid_data_user_items(ds, u, &n);
        if (n > 10) n = 10;
        memcpy(history + offsets[u], h, sizeof(int32_t) * (size_t)n);
        offsets[u + 1] = offsets[u] + n;
    }
    semid_decode_opts o = semid_decode_opts_default();
    o.k = K;
    o.exclude_history = 1;
    int32_t items[U * K], hits[U];
    float scores[U * K];
    OK(semid_recommend(model, history, offsets, U, &o, items, scores, hits));
    for (int u = 0; u < U; u++) {
        assert_int_equal(hits[u], K);
        for (int j = 0; j < K; j++) {
            int32_t it = items[u * K + j];
            assert_true(it >= 0);
            for (int64_t h = offsets[u]; h < offsets[u + 1]; h++) assert_int_not_equal(it, history[h]);
        }
    }
    /* An empty history decodes the prior. */
    int64_t empty[2] = {0, 0};
    OK(semid_recommend(model, NULL, empty, 1, &o, items, scores, hits));
    assert_int_equal(hits[0], K);
    /* Bad histories. */
    int64_t bad[3] = {0, 3, 2};
    FAILS(SEMID_EINVAL, "offsets decrease at user 1", semid_recommend(model, history, bad, 2, &o, items, NULL, NULL));
    int64_t shifted[2] = {1, 2};
    FAILS(SEMID_EINVAL, "offsets[0]", semid_recommend(model, history, shifted, 1, &o, items, NULL, NULL));
    int32_t stranger[1] = {100000};
    int64_t one[2] = {0, 1};
    assert_int_not_equal(semid_recommend(model, stranger, one, 1, &o, items, NULL, NULL), SEMID_OK);
    assert_non_null(strstr(semid_last_error(), "100000"));
    o.exclude_history = 2;
    FAILS(SEMID_EINVAL, "exclude_history 2", semid_recommend(model, history, offsets, U, &o, items, NULL, NULL));
}

static void test_evaluate(void **state) {
    (void)state;
    semid_decode_opts o = semid_decode_opts_default();
    o.k = 10;
    o.threads = 2;
    semid_eval_result r;
    OK(semid_evaluate(model, ds, "test", &o, &r));
    assert_int_equal(r.k, 10);
    int64_t test_queries = 0;
    for (int32_t i = 0; i < semid_data_n_queries(ds); i++) {
        int32_t split;
        semid_data_query(ds, i, NULL, &split);
        test_queries += split == SEMID_QUERY_TEST;
    }
    assert_int_equal(r.search.n, test_queries);
    assert_true(r.rec.n > 0 && r.rec.n <= semid_data_n_users(ds));
    assert_int_equal(r.rec_head.n + r.rec_torso.n, r.rec.n);
    const semid_metrics *all[] = {&r.search, &r.rec, &r.rec_head, &r.rec_torso};
    for (int i = 0; i < 4; i++) {
        assert_true(all[i]->recall >= 0 && all[i]->recall <= 1);
        assert_true(all[i]->ndcg >= 0 && all[i]->ndcg <= all[i]->recall + 1e-12);
    }
    semid_eval_result v;
    OK(semid_evaluate(model, ds, "valid", &o, &v));
    assert_int_equal(v.rec.n, r.rec.n);
    FAILS(SEMID_EINVAL, "'test' or 'valid', not 'train'", semid_evaluate(model, ds, "train", &o, &r));
    FAILS(SEMID_EINVAL, "d is NULL", semid_evaluate(model, NULL, "test", &o, &r));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_methods),
        cmocka_unit_test(test_train_stops_early),
        cmocka_unit_test(test_train_bf16),
        cmocka_unit_test(test_train_in_two_runs),
        cmocka_unit_test(test_model_items),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_evaluate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
