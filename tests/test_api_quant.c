/* The public C API for embeddings, quantizers and ID tables, used as a
 * program would (only semid/semid.h): caller arrays in and out, handles,
 * save/load round trips, cold start, errors as status + message. */
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

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static char *path_in(const char *name) {
    size_t n = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", tmpdir, name);
    return p;
}

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

enum { N = 64, D = 8 };

/* N points around 8 well-separated centres (seeded LCG). */
static void points(float *x, int n, int d, unsigned seed) {
    unsigned s = seed;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            s = s * 1103515245u + 12345u;
            float noise = (float)((s >> 16) & 0x7fff) / 32768.0f - 0.5f;
            x[i * d + j] = (float)(((i % 8) >> (j % 3)) & 1) * 4.0f + (float)(j == i % 8) * 3.0f + 0.1f * noise;
        }
}

static char **make_ids(int n, const char *prefix) {
    char **ids = malloc(sizeof *ids * (size_t)n);
    for (int i = 0; i < n; i++) {
        ids[i] = malloc(32);
        snprintf(ids[i], 32, "%s%d", prefix, i);
    }
    return ids;
}

static void free_ids(char **ids, int n) {
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

static void test_embeddings(void **state) {
    (void)state;
    float x[N * D];
    points(x, N, D, 1);
    char **ids = make_ids(N, "item");
    semid_embeddings *e = NULL;
    OK(semid_embeddings_create(x, N, D, (const char *const *)ids, &e));
    assert_int_equal(semid_embeddings_rows(e), N);
    assert_int_equal(semid_embeddings_cols(e), D);
    assert_memory_equal(semid_embeddings_data(e), x, sizeof x);
    assert_string_equal(semid_embeddings_item_id(e, 5), "item5");
    assert_null(semid_embeddings_item_id(e, N));
    /* Copied: changing the caller's array changes nothing. */
    x[0] += 100;
    assert_true(fabsf(semid_embeddings_data(e)[0] - x[0]) > 50);
    x[0] -= 100;

    /* Save and load, with and without ids. */
    char *npy = path_in("e.npy"), *txt = path_in("e.txt");
    OK(semid_embeddings_save(e, npy, txt));
    semid_embeddings *l = NULL;
    OK(semid_embeddings_load(npy, txt, &l));
    assert_int_equal(semid_embeddings_rows(l), N);
    assert_memory_equal(semid_embeddings_data(l), semid_embeddings_data(e), sizeof x);
    assert_string_equal(semid_embeddings_item_id(l, 63), "item63");
    semid_embeddings_free(l);
    OK(semid_embeddings_load(npy, NULL, &l));
    assert_null(semid_embeddings_item_id(l, 0));
    FAILS(SEMID_EINVAL, "no item ids", semid_embeddings_save(l, npy, txt));
    semid_embeddings_free(l);

    /* Exact top-k: a row's own vector finds it first among distinct points. */
    int32_t top[3 * 4];
    float sc[3 * 4];
    OK(semid_embeddings_topk(e, x, 3, 4, 1, top, sc));
    for (int q = 0; q < 3; q++) {
        for (int j = 1; j < 4; j++) assert_true(sc[q * 4 + j - 1] >= sc[q * 4 + j]);
        for (int j = 0; j < 4; j++) assert_true(top[q * 4 + j] >= 0 && top[q * 4 + j] < N);
    }
    int32_t top2[3 * 4];
    OK(semid_embeddings_topk(e, x, 3, 4, 2, top2, NULL));
    assert_memory_equal(top, top2, sizeof top); /* the thread count changes nothing */
    FAILS(SEMID_EINVAL, "k 0", semid_embeddings_topk(e, x, 3, 0, 1, top, sc));

    /* Fusion: concat widths add up; svd takes the narrower width. */
    semid_embeddings *f = NULL, *narrow = NULL;
    OK(semid_embeddings_fuse(e, e, "concat", &f));
    assert_int_equal(semid_embeddings_cols(f), 2 * D);
    assert_string_equal(semid_embeddings_item_id(f, 1), "item1");
    semid_embeddings_free(f);
    OK(semid_embeddings_create(x, N, 4, NULL, &narrow));
    OK(semid_embeddings_fuse(e, narrow, "svd", &f));
    assert_int_equal(semid_embeddings_cols(f), 4);
    semid_embeddings_free(f);
    FAILS(SEMID_EINVAL, "'concat' or 'svd'", semid_embeddings_fuse(e, e, "mean", &f));
    semid_embeddings_free(narrow);

    /* Bad input: NaN, duplicate ids, empty. */
    x[3 * D + 2] = NAN;
    f = (semid_embeddings *)1;
    FAILS(SEMID_ENUMERIC, "row 3, column 2", semid_embeddings_create(x, N, D, NULL, &f));
    assert_null(f);
    x[3 * D + 2] = 0;
    snprintf(ids[7], 32, "item3");
    FAILS(SEMID_EINVAL, "'item3'", semid_embeddings_create(x, N, D, (const char *const *)ids, &f));
    FAILS(SEMID_EINVAL, "at least one row", semid_embeddings_create(x, 0, D, NULL, &f));
    FAILS(SEMID_EINVAL, "data is NULL", semid_embeddings_create(NULL, N, D, NULL, &f));
    FAILS(SEMID_EINVAL, "out is NULL", semid_embeddings_create(x, N, D, NULL, NULL));
    char *missing = path_in("missing.npy");
    assert_int_not_equal(semid_embeddings_load(missing, NULL, &f), SEMID_OK);
    assert_non_null(strstr(semid_last_error(), "missing.npy"));
    semid_embeddings_free(NULL);
    free(missing);
    free(npy);
    free(txt);
    free_ids(ids, N);
    semid_embeddings_free(e);
}

static void test_align(void **state) {
    (void)state;
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 30;
    so.n_users = 40;
    so.mean_history = 6;
    so.min_history = 4;
    so.n_topics = 3;
    so.queries_per_item = 0;
    semid_data *d = NULL;
    OK(semid_data_synth(&so, &d));
    int32_t I = semid_data_n_items(d);
    /* Rows in reverse dataset order, row r = item I-1-r holding its index. */
    float *x = malloc(sizeof(float) * (size_t)I * 2);
    const char **ids = malloc(sizeof *ids * (size_t)I);
    for (int32_t r = 0; r < I; r++) {
        ids[r] = semid_data_item_id(d, I - 1 - r);
        x[r * 2] = (float)(I - 1 - r);
        x[r * 2 + 1] = 1;
    }
    semid_embeddings *e = NULL, *a = NULL;
    OK(semid_embeddings_create(x, I, 2, ids, &e));
    OK(semid_embeddings_align(e, d, &a));
    for (int32_t i = 0; i < I; i++) {
        assert_float_equal(semid_embeddings_data(a)[i * 2], (float)i, 0);
        assert_string_equal(semid_embeddings_item_id(a, i), semid_data_item_id(d, i));
    }
    semid_embeddings_free(a);
    semid_embeddings_free(e);
    /* One item missing; an unknown id; no ids at all. */
    OK(semid_embeddings_create(x, I - 1, 2, ids, &e));
    FAILS(SEMID_ENOTFOUND, "has no row", semid_embeddings_align(e, d, &a));
    semid_embeddings_free(e);
    ids[4] = "stranger";
    OK(semid_embeddings_create(x, I, 2, ids, &e));
    FAILS(SEMID_ENOTFOUND, "'stranger'", semid_embeddings_align(e, d, &a));
    semid_embeddings_free(e);
    OK(semid_embeddings_create(x, I, 2, NULL, &e));
    FAILS(SEMID_EINVAL, "no item ids", semid_embeddings_align(e, d, &a));
    semid_embeddings_free(e);
    free(ids);
    free(x);
    semid_data_free(d);
}

static void test_quantizer(void **state) {
    (void)state;
    float x[N * D];
    points(x, N, D, 2);
    semid_quantizer_opts o = semid_quantizer_opts_default();
    assert_string_equal(o.method, "rqkmeans");
    assert_int_equal(o.levels, 2);
    assert_int_equal(o.codebook, 256);
    o.codebook = 8;
    o.threads = 2;
    semid_quantizer *q = NULL;
    OK(semid_quantizer_fit(x, N, D, &o, &q));
    assert_string_equal(semid_quantizer_method(q), "rqkmeans");
    assert_int_equal(semid_quantizer_levels(q), 2);
    assert_int_equal(semid_quantizer_level_size(q, 0), 8);
    assert_int_equal(semid_quantizer_level_size(q, 2), 0);
    assert_int_equal(semid_quantizer_dim(q), D);
    int32_t codes[N * 2], codes2[N * 2];
    OK(semid_quantizer_encode(q, x, N, D, codes));
    for (int i = 0; i < N * 2; i++) assert_true(codes[i] >= 0 && codes[i] < 8);
    /* The eight clusters get eight different first codes. */
    int seen[8] = {0}, distinct = 0;
    for (int i = 0; i < N; i++)
        if (!seen[codes[i * 2]]++) distinct++;
    assert_int_equal(distinct, 8);
    /* Reconstruction with both levels is closer than with one. */
    float *r1 = malloc(sizeof x), *r2 = malloc(sizeof x);
    OK(semid_quantizer_reconstruct(q, codes, N, 1, r1));
    OK(semid_quantizer_reconstruct(q, codes, N, 0, r2));
    double e1 = 0, e2 = 0;
    for (int i = 0; i < N * D; i++) {
        e1 += (r1[i] - x[i]) * (r1[i] - x[i]);
        e2 += (r2[i] - x[i]) * (r2[i] - x[i]);
    }
    assert_true(e2 <= e1 + 1e-6);
    assert_true(e2 < 0.05 * N);
    FAILS(SEMID_EINVAL, "use_levels 3", semid_quantizer_reconstruct(q, codes, N, 3, r1));
    codes[5] = 99;
    FAILS(SEMID_EINVAL, "code 99", semid_quantizer_reconstruct(q, codes, N, 0, r1));
    /* Save, load: the same codes. */
    char *p = path_in("q.tok");
    OK(semid_quantizer_save(q, p));
    semid_quantizer *l = NULL;
    OK(semid_quantizer_load(p, &l));
    OK(semid_quantizer_encode(q, x, N, D, codes));
    OK(semid_quantizer_encode(l, x, N, D, codes2));
    assert_memory_equal(codes, codes2, sizeof codes);
    semid_quantizer_free(l);
    /* Errors: width, NaN, codebook larger than the rows, unknown method. */
    FAILS(SEMID_EINVAL, "", semid_quantizer_encode(q, x, N / 2, D / 2, codes));
    x[9] = INFINITY;
    assert_int_not_equal(semid_quantizer_encode(q, x, N, D, codes), SEMID_OK);
    x[9] = 0;
    semid_quantizer *bad = (semid_quantizer *)1;
    o.codebook = N + 1;
    assert_int_equal(semid_quantizer_fit(x, N, D, &o, &bad), SEMID_EINVAL);
    assert_null(bad);
    assert_true(strlen(semid_last_error()) > 0);
    o.codebook = 8;
    o.method = "no-such-method";
    FAILS(SEMID_EINVAL, "no-such-method", semid_quantizer_fit(x, N, D, &o, &bad));
    char *junk = path_in("junk.tok");
    FILE *fp = fopen(junk, "wb");
    fputs("SEMIDTOKxx", fp);
    fclose(fp);
    assert_int_equal(semid_quantizer_load(junk, &bad), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "junk.tok"));
    semid_quantizer_free(NULL);
    free(junk);
    free(p);
    free(r1);
    free(r2);
    semid_quantizer_free(q);
}

static void test_ids_single(void **state) {
    (void)state;
    float x[N * D];
    points(x, N, D, 3);
    char **names = make_ids(N, "it");
    semid_embeddings *e = NULL;
    OK(semid_embeddings_create(x, N, D, (const char *const *)names, &e));
    semid_ids_opts o = semid_ids_opts_default();
    assert_string_equal(o.strategy, "search");
    o.strategy = "content";
    o.codebook = 4;
    o.disambiguate = 1;
    semid_ids *ids = NULL;
    OK(semid_ids_build(e, NULL, NULL, &o, &ids));
    assert_string_equal(semid_ids_strategy(ids), "content");
    assert_string_equal(semid_ids_method(ids), "rqkmeans");
    assert_int_equal(semid_ids_n_items(ids), N);
    assert_int_equal(semid_ids_n_tasks(ids), 1);
    assert_int_equal(semid_ids_n_levels(ids), 3);
    assert_int_equal(semid_ids_level_size(ids, SEMID_SEARCH, 0), 4);
    assert_int_equal(semid_ids_level_size(ids, SEMID_RECOMMEND, 1), 4);
    assert_int_equal(semid_ids_level_size(ids, SEMID_SEARCH, 5), 0);
    assert_string_equal(semid_ids_item_id(ids, 9), "it9");
    assert_null(semid_ids_item_id(ids, N));
    int32_t codes[N * 3], tokens[N * 3], rec_tokens[N * 3];
    OK(semid_ids_codes(ids, SEMID_SEARCH, codes));
    OK(semid_ids_tokens(ids, SEMID_SEARCH, tokens));
    OK(semid_ids_tokens(ids, SEMID_RECOMMEND, rec_tokens));
    assert_memory_equal(tokens, rec_tokens, sizeof tokens); /* one task: shared IDs */
    for (int i = 0; i < N; i++)
        for (int l = 0; l < 3; l++) {
            assert_true(codes[i * 3 + l] >= 0 && codes[i * 3 + l] < semid_ids_level_size(ids, SEMID_SEARCH, l));
            assert_true(tokens[i * 3 + l] >= 0 && tokens[i * 3 + l] < semid_ids_n_tokens(ids));
        }
    semid_collisions c;
    OK(semid_ids_collisions(ids, SEMID_SEARCH, &c));
    assert_int_equal(c.distinct_ids, N); /* disambiguated */
    assert_int_equal(c.colliding_items, 0);
    assert_float_equal(c.rate, 0, 1e-12);
    FAILS(SEMID_EINVAL, "task 7", semid_ids_codes(ids, (semid_task)7, codes));

    /* Cold start: an item's own vector gets its ID but the last token. */
    const semid_quantizer *q = semid_ids_quantizer(ids, SEMID_SEARCH);
    assert_non_null(q);
    assert_ptr_equal(q, semid_ids_quantizer(ids, SEMID_RECOMMEND));
    semid_quantizer_free((semid_quantizer *)q); /* owned by the table: ignored */
    int32_t fresh[2 * 3];
    OK(semid_ids_encode_new(ids, NULL, SEMID_SEARCH, x, 2, D, fresh));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fresh[i * 3], tokens[i * 3]);
        assert_int_equal(fresh[i * 3 + 1], tokens[i * 3 + 1]);
    }
    /* Another quantizer is refused. */
    semid_quantizer_opts qo = semid_quantizer_opts_default();
    qo.codebook = 4;
    qo.seed = 99;
    semid_quantizer *other = NULL;
    OK(semid_quantizer_fit(x, N, D, &qo, &other));
    FAILS(SEMID_EFORMAT, "another vocabulary", semid_ids_encode_new(ids, other, SEMID_SEARCH, x, 2, D, fresh));
    semid_quantizer_free(other);

    /* Save, load, export. */
    char *p = path_in("ids.json"), *tsv = path_in("ids.tsv");
    OK(semid_ids_save(ids, p));
    semid_ids *l = NULL;
    OK(semid_ids_load(p, &l));
    assert_int_equal(semid_ids_fingerprint(l), semid_ids_fingerprint(ids));
    assert_true(semid_ids_fingerprint(l) != 0);
    int32_t codes2[N * 3];
    OK(semid_ids_codes(l, SEMID_SEARCH, codes2));
    assert_memory_equal(codes, codes2, sizeof codes);
    assert_null(semid_ids_quantizer(l, SEMID_SEARCH));
    FAILS(SEMID_EINVAL, "pass the one that built it", semid_ids_encode_new(l, NULL, SEMID_SEARCH, x, 2, D, fresh));
    OK(semid_ids_encode_new(l, q, SEMID_SEARCH, x, 2, D, fresh));
    OK(semid_ids_export_tsv(l, tsv));
    FILE *fp = fopen(tsv, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "item_id\ttask\ttokens\n");
    assert_non_null(fgets(line, sizeof line, fp));
    assert_int_equal(strncmp(line, "it0\tboth\t", 9), 0);
    fclose(fp);
    semid_ids_free(l);
    char *missing = path_in("none.json");
    assert_int_not_equal(semid_ids_load(missing, &l), SEMID_OK);
    assert_null(l);
    assert_non_null(strstr(semid_last_error(), "none.json"));

    /* Wrong arguments. */
    FAILS(SEMID_EINVAL, "second must be NULL", semid_ids_build(e, e, NULL, &o, &l));
    o.strategy = "separate";
    FAILS(SEMID_EINVAL, "needs the search (first) and rec (second)", semid_ids_build(e, NULL, NULL, &o, &l));
    o.strategy = "best";
    FAILS(SEMID_EINVAL, "unknown strategy 'best'", semid_ids_build(e, NULL, NULL, &o, &l));
    FAILS(SEMID_EINVAL, "first is NULL", semid_ids_build(NULL, NULL, NULL, &o, &l));
    semid_ids_free(NULL);
    free(missing);
    free(p);
    free(tsv);
    semid_ids_free(ids);
    semid_embeddings_free(e);
    free_ids(names, N);
}

static void test_ids_separate_and_dataset(void **state) {
    (void)state;
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 48;
    so.n_users = 60;
    so.mean_history = 6;
    so.min_history = 4;
    so.n_topics = 4;
    so.queries_per_item = 0;
    semid_data *d = NULL;
    OK(semid_data_synth(&so, &d));
    int32_t I = semid_data_n_items(d);
    float *s = malloc(sizeof(float) * (size_t)I * D), *r = malloc(sizeof(float) * (size_t)I * 4);
    points(s, I, D, 4);
    points(r, I, 4, 5);
    /* Search rows named and reversed; rec rows in dataset order, unnamed. */
    const char **ids = malloc(sizeof *ids * (size_t)I);
    float *srev = malloc(sizeof(float) * (size_t)I * D);
    for (int32_t i = 0; i < I; i++) {
        ids[i] = semid_data_item_id(d, I - 1 - i);
        memcpy(srev + (int64_t)i * D, s + (int64_t)(I - 1 - i) * D, sizeof(float) * D);
    }
    semid_embeddings *es = NULL, *er = NULL;
    OK(semid_embeddings_create(srev, I, D, ids, &es));
    OK(semid_embeddings_create(r, I, 4, NULL, &er));
    semid_ids_opts o = semid_ids_opts_default();
    o.strategy = "separate";
    o.codebook = 4;
    o.disambiguate = 1;
    o.threads = 1;
    semid_ids *t = NULL;
    OK(semid_ids_build(es, er, d, &o, &t));
    assert_int_equal(semid_ids_n_tasks(t), 2);
    assert_int_equal(semid_ids_n_items(t), I);
    for (int32_t i = 0; i < I; i++) assert_string_equal(semid_ids_item_id(t, i), semid_data_item_id(d, i));
    const semid_quantizer *qs = semid_ids_quantizer(t, SEMID_SEARCH), *qr = semid_ids_quantizer(t, SEMID_RECOMMEND);
    assert_non_null(qs);
    assert_non_null(qr);
    assert_ptr_not_equal(qs, qr);
    assert_int_equal(semid_quantizer_dim(qs), D);
    assert_int_equal(semid_quantizer_dim(qr), 4);
    /* Search codes come from the search vectors in dataset order. */
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)I * 3), *direct = malloc(sizeof(int32_t) * (size_t)I * 2);
    OK(semid_ids_codes(t, SEMID_SEARCH, codes));
    OK(semid_quantizer_encode(qs, s, I, D, direct));
    for (int32_t i = 0; i < I; i++) {
        assert_int_equal(codes[i * 3], direct[i * 2]);
        assert_int_equal(codes[i * 3 + 1], direct[i * 2 + 1]);
    }
    /* The two tasks' tokens are disjoint. */
    int32_t *ts = malloc(sizeof(int32_t) * (size_t)I * 3), *tr = malloc(sizeof(int32_t) * (size_t)I * 3);
    OK(semid_ids_tokens(t, SEMID_SEARCH, ts));
    OK(semid_ids_tokens(t, SEMID_RECOMMEND, tr));
    for (int32_t i = 0; i < I * 3; i++)
        for (int32_t j = 0; j < I * 3; j++) assert_int_not_equal(ts[i], tr[j]);
    semid_ids_free(t);
    /* prefix_share keeps no quantizer. */
    o.strategy = "prefix_share";
    o.levels = 2;
    OK(semid_ids_build(es, er, d, &o, &t));
    assert_int_equal(semid_ids_n_tasks(t), 2);
    assert_null(semid_ids_quantizer(t, SEMID_SEARCH));
    semid_ids_free(t);
    /* Unnamed rows that do not match the dataset. */
    semid_embeddings *few = NULL;
    OK(semid_embeddings_create(r, I - 2, 4, NULL, &few));
    o.strategy = "rec";
    FAILS(SEMID_EINVAL, "no item ids", semid_ids_build(few, NULL, d, &o, &t));
    semid_embeddings_free(few);
    free(codes);
    free(direct);
    free(ts);
    free(tr);
    free(ids);
    free(srev);
    free(s);
    free(r);
    semid_embeddings_free(es);
    semid_embeddings_free(er);
    semid_data_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_align),
        cmocka_unit_test(test_quantizer),
        cmocka_unit_test(test_ids_single),
        cmocka_unit_test(test_ids_separate_and_dataset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
