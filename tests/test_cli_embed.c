#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "data/builder.h"
#include "data/dataset.h"
#include "io/npy.h"
#include "support/testutil.h"

static char *tmpdir;
static char *ds_path;

/* 300 users with a favourite cluster among 10 clusters of 20 items (see
 * test_embed_enmf.c); one train and one test query per item. */
static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    if (!tmpdir) return -1;
    semid_dataset_builder *b;
    if (semid_builder_create(&b, "clusters") != SEMID_OK) return -1;
    char id[32];
    for (int32_t i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "item%d", i);
        semid_item it = {.id = id, .title = id, .genres = "drama"};
        int32_t idx;
        if (semid_builder_add_item(b, &it, &idx) != SEMID_OK) return -1;
        char q[64];
        snprintf(q, sizeof q, "%s film", id);
        if (semid_builder_add_query(b, idx, q, SEMID_SPLIT_TRAIN) != SEMID_OK) return -1;
        if (semid_builder_add_query(b, idx, id, SEMID_SPLIT_TEST) != SEMID_OK) return -1;
    }
    semid_rng r;
    semid_rng_seed(&r, 3);
    for (int32_t u = 0; u < 300; u++) {
        int32_t cl = (int32_t)semid_rng_below(&r, 10), user;
        snprintf(id, sizeof id, "user%d", u);
        if (semid_builder_user(b, id, &user) != SEMID_OK) return -1;
        uint8_t seen[200] = {0};
        for (int t = 0; t < 12;) {
            int32_t item = semid_rng_uniform(&r) < 0.85 ? cl * 20 + (int32_t)semid_rng_below(&r, 20)
                                                        : (int32_t)(semid_rng_uniform(&r) * semid_rng_uniform(&r) * 200);
            if (seen[item]) continue;
            seen[item] = 1;
            if (semid_builder_add_interaction_idx(b, user, item, t) != SEMID_OK) return -1;
            t++;
        }
    }
    semid_dataset ds;
    if (semid_builder_finish(b, &ds) != SEMID_OK) return -1;
    ds_path = semid_path_join(tmpdir, "ds.sdd");
    semid_status st = semid_dataset_save(&ds, ds_path);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    free(ds_path);
    return 0;
}

static int run(char **out, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return test_run_cli(args, out);
}

static double json_recall(const char *path, const char *task) {
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    cJSON *t = cJSON_GetObjectItem(root, task);
    assert_non_null(t);
    cJSON *all = cJSON_GetObjectItem(t, "all");
    assert_non_null(all);
    double v = cJSON_GetObjectItem(all, "recall")->valuedouble;
    if (strcmp(task, "rec") == 0) {
        assert_non_null(cJSON_GetObjectItem(t, "head"));
        assert_non_null(cJSON_GetObjectItem(t, "torso"));
        assert_float_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "all"), "n")->valuedouble, 300, 0);
    }
    cJSON_Delete(root);
    return v;
}

static void test_rec_embed_and_baselines(void **state) {
    (void)state;
    char *out;
    int rc = run(&out, "embed --method rec --dataset %s --out %s/emb --dim 16 --epochs 15 --lr 0.01 --batch 64 --threads 1",
                 ds_path, tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "rec.npy"));
    free(out);
    char path[1024];
    semid_matrix m;
    snprintf(path, sizeof path, "%s/emb/rec.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.rows, 200);
    assert_int_equal(m.cols, 16);
    semid_matrix_free(&m);
    snprintf(path, sizeof path, "%s/emb/rec_users.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.rows, 300);
    semid_matrix_free(&m);
    char **ids;
    int64_t n;
    snprintf(path, sizeof path, "%s/emb/items.txt", tmpdir);
    assert_int_equal(semid_idlist_read(path, &ids, &n), SEMID_OK);
    assert_int_equal(n, 200);
    assert_string_equal(ids[7], "item7");
    semid_idlist_free(ids, n);

    assert_int_equal(run(&out, "baseline --dataset %s --method popularity --json %s/pop.json", ds_path, tmpdir), 0);
    assert_non_null(strstr(out, "Recall@K"));
    free(out);
    assert_int_equal(run(&out, "baseline --dataset %s --method enmf --embeddings %s/emb/rec.npy --json %s/enmf.json --per-query",
                         ds_path, tmpdir, tmpdir), 0);
    assert_non_null(strstr(out, "torso"));
    free(out);
    assert_int_equal(run(&out, "baseline --dataset %s --method history --embeddings %s/emb/rec.npy --exclude-history --json %s/hist.json",
                         ds_path, tmpdir, tmpdir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/pop.json", tmpdir);
    double pop = json_recall(path, "rec");
    double pop_search = json_recall(path, "search");
    snprintf(path, sizeof path, "%s/enmf.json", tmpdir);
    double enmf = json_recall(path, "rec");
    snprintf(path, sizeof path, "%s/hist.json", tmpdir);
    double hist = json_recall(path, "rec");
    assert_true(enmf > 2 * pop);
    assert_true(hist > 2 * pop);
    /* Popularity search: 30 of 200 items, the same list for every query. */
    assert_float_equal(pop_search, 30.0 / 200.0, 1e-9);

    /* Missing user vectors and a bad method are clean errors. */
    assert_int_equal(run(&out, "baseline --dataset %s --method enmf --embeddings %s/emb/rec.npy --users %s/none.npy",
                         ds_path, tmpdir, tmpdir), 1);
    assert_non_null(strstr(out, "none.npy"));
    free(out);
    assert_int_equal(run(&out, "baseline --dataset %s --method nope", ds_path), 1);
    assert_non_null(strstr(out, "unknown --method 'nope'"));
    free(out);
}

/* Writes an n x d .npy whose row r is (r+1) * (1, 2, ..., d) / 100. */
static void write_vectors(const char *path, int64_t n, int64_t d) {
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, n, d), SEMID_OK);
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < d; c++) m.data[r * d + c] = (float)((r + 1) * (c + 1)) / 100.0f + (c == r % d);
    assert_int_equal(semid_npy_write(path, &m), SEMID_OK);
    semid_matrix_free(&m);
}

static void test_import_and_fusion(void **state) {
    (void)state;
    char path[1024], *out;
    /* ids in reverse order: row r names item (199 - r). */
    char *ids = malloc(200 * 12), *p = ids;
    for (int r = 0; r < 200; r++) p += sprintf(p, "item%d\n", 199 - r);
    char *idp = test_write_file(tmpdir, "rev_ids.txt", ids);
    snprintf(path, sizeof path, "%s/mine.npy", tmpdir);
    write_vectors(path, 200, 24);
    int rc = run(&out, "embed --import %s --ids %s --dataset %s --out %s/fuse --name search", path, idp, ds_path, tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    semid_matrix m;
    snprintf(path, sizeof path, "%s/fuse/search.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    /* Dataset item 0 ("item0") was row 199 of the file. */
    assert_float_equal(m.data[0], 200 * 1 / 100.0f + (0 == 199 % 24), 1e-5);
    assert_float_equal(m.data[199 * 24 + 1], 1 * 2 / 100.0f, 1e-6);
    semid_matrix_free(&m);

    /* A rec embedding in the same directory, then both fusions. */
    snprintf(path, sizeof path, "%s/mine8.npy", tmpdir);
    write_vectors(path, 200, 8);
    assert_int_equal(run(&out, "embed --import %s --ids %s --dataset %s --out %s/fuse --name rec", path, idp, ds_path, tmpdir), 0);
    free(out);
    assert_int_equal(run(&out, "embed --method fused_concat --dataset %s --out %s/fuse", ds_path, tmpdir), 0);
    free(out);
    assert_int_equal(run(&out, "embed --method fused_svd --dataset %s --out %s/fuse", ds_path, tmpdir), 0);
    free(out);
    snprintf(path, sizeof path, "%s/fuse/fused_concat.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.cols, 32);
    double n2 = 0;
    for (int c = 0; c < 32; c++) n2 += (double)m.data[5 * 32 + c] * m.data[5 * 32 + c];
    assert_float_equal(n2, 2.0, 1e-4);
    semid_matrix_free(&m);
    snprintf(path, sizeof path, "%s/fuse/fused_svd.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.rows, 200);
    assert_int_equal(m.cols, 8);
    semid_matrix_free(&m);

    /* Errors name the problem: fewer ids than rows, an unknown id (line). */
    char *short_ids = test_write_file(tmpdir, "short.txt", "item0\nitem1\n");
    snprintf(path, sizeof path, "%s/mine.npy", tmpdir);
    assert_int_equal(run(&out, "embed --import %s --ids %s --dataset %s --out %s/bad", path, short_ids, ds_path, tmpdir), 1);
    assert_non_null(strstr(out, "200 rows"));
    assert_non_null(strstr(out, "2 ids"));
    free(out);
    p = ids;
    for (int r = 0; r < 200; r++) p += sprintf(p, "item%d\n", r == 6 ? 999 : r);
    char *bad_ids = test_write_file(tmpdir, "bad.txt", ids);
    assert_int_equal(run(&out, "embed --import %s --ids %s --dataset %s --out %s/bad", path, bad_ids, ds_path, tmpdir), 1);
    assert_non_null(strstr(out, "bad.txt:7"));
    assert_non_null(strstr(out, "item999"));
    free(out);
    assert_int_equal(run(&out, "embed --method fused_svd --dataset %s --out %s/empty", ds_path, tmpdir), 1);
    assert_non_null(strstr(out, "search.npy"));
    free(out);
    assert_int_equal(run(&out, "embed --method wat --dataset %s --out %s/x", ds_path, tmpdir), 1);
    assert_non_null(strstr(out, "unknown --method 'wat'"));
    free(out);
    assert_int_equal(run(&out, "embed --dataset %s", ds_path), 2);
    free(out);
    free(ids);
    free(idp);
    free(short_ids);
    free(bad_ids);
}

/* content and search through the CLI (shipped GloVe subset), then dense search. */
static void test_text_methods(void **state) {
    (void)state;
    char *out, path[1024];
    int rc = run(&out, "embed --method content --dataset %s --out %s/text", ds_path, tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    semid_matrix m;
    snprintf(path, sizeof path, "%s/text/content.npy", tmpdir);
    assert_int_equal(semid_npy_read(path, &m), SEMID_OK);
    assert_int_equal(m.rows, 200);
    semid_matrix_free(&m);
    rc = run(&out, "baseline --dataset %s --method search --embeddings %s/text/content.npy --json %s/cs.json", ds_path,
             tmpdir, tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    rc = run(&out, "embed --method search --dataset %s --out %s/text --dim 16 --epochs 1 --batch 256 --threads 1", ds_path,
             tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(path, sizeof path, "%s/text/search_encoder.safetensors", tmpdir);
    assert_true(semid_path_exists(path));
    rc = run(&out, "baseline --dataset %s --method search --embeddings %s/text/search.npy --encoder %s --json %s/ss.json",
             ds_path, tmpdir, path, tmpdir);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(path, sizeof path, "%s/ss.json", tmpdir);
    double r = json_recall(path, "search");
    assert_true(r >= 0.0 && r <= 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rec_embed_and_baselines),
        cmocka_unit_test(test_import_and_fusion),
        cmocka_unit_test(test_text_methods),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
