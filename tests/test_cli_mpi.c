/* semid train, semid experiment and semid embed's bi-encoders across MPI
 * ranks (dist/dist.h): `mpirun -np 2 --oversubscribe` on this machine
 * against one process with the same global batch.
 *
 * Tolerances: each rank's gradient is weighted by its share of the batch's
 * target tokens and the sum divided by the total (train.c,
 * share_gradients), which rounds differently from one process's mean, so
 * results agree to float rounding, not bit for bit: epoch losses to 1e-5
 * relative, every parameter and AdamW moment to 1e-4 absolute after the
 * whole run (measured: 5e-6 and 8e-6 on this run), validation Recall
 * exactly (a discrete decision on those weights).
 *
 * Registered only when CMake found MPI and mpirun, and not in sanitizer
 * builds (libmpi's own allocations would be reported as leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/fileio.h"
#include "dist/dist.h"
#include "base/log.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "support/testutil.h"

static char *tmpdir;

/* mpirun as root (this project's machines), two ranks on however many
 * cores, one thread each so that two ranks fit two cores. */
#define MPIRUN                                                                                                   \
    "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 " SEMID_MPIEXEC          \
    " --oversubscribe -np 2 "
#define ONE_PROCESS "OMP_NUM_THREADS=1 "
/* A small model that trains in a second, 3 epochs of 22 steps. */
#define TRAIN_ARGS                                                                                                \
    "train --dataset %s/ds.sdd --sids %s/c.sid --layers 1 --dim 32 --heads 2 --epochs 3 --batch 16 "              \
    "--valid-sample 20 --quiet"

static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = test_run_shell(cmd, &o);
    if (out) *out = o;
    else {
        if (rc != 0) fprintf(stderr, "%s\n-> %d: %s\n", cmd, rc, o);
        free(o);
    }
    return rc;
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    const char *S = SEMID_CLI_PATH, *d = tmpdir;
    if (sh(NULL, "%s data synth --items 120 --users 200 --history 10 --queries-per-item 4 --queries-train 3 --out %s/ds.sdd", S, d) ||
        sh(NULL, "%s embed --method content --dataset %s/ds.sdd --out %s/emb --threads 1", S, d, d) ||
        sh(NULL, "%s sid build --embeddings %s/emb/content.npy --method rqkmeans --levels 2 --codebook 16 --disambiguate --out %s/c.sid", S, d, d) ||
        sh(NULL, ONE_PROCESS "%s " TRAIN_ARGS " --out %s/one", S, d, d, d))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static cJSON *read_json(const char *dir, const char *name) {
    char *path = semid_path_join(dir, name);
    char *text;
    size_t len;
    semid_status st = semid_read_file(path, &text, &len);
    free(path);
    if (st != SEMID_OK) return NULL;
    int oom = 0;
    cJSON *o = semid_json_parse(text, len, &oom);
    free(text);
    return o;
}

/* The per-epoch losses and validation Recall of two runs' train.json. */
static void assert_same_history(const char *a, const char *b, int skip_epoch) {
    cJSON *ja = read_json(a, "train.json"), *jb = read_json(b, "train.json");
    assert_non_null(ja);
    assert_non_null(jb);
    const cJSON *ha = cJSON_GetObjectItem(ja, "history"), *hb = cJSON_GetObjectItem(jb, "history");
    assert_int_equal(cJSON_GetArraySize(ha), 3);
    assert_int_equal(cJSON_GetArraySize(hb), 3);
    for (int e = 0; e < 3; e++) {
        if (e + 1 == skip_epoch) continue;
        const cJSON *ea = cJSON_GetArrayItem(ha, e), *eb = cJSON_GetArrayItem(hb, e);
        double la = cJSON_GetObjectItem(ea, "loss")->valuedouble, lb = cJSON_GetObjectItem(eb, "loss")->valuedouble;
        assert_true(la > 0 && fabs(la - lb) <= 1e-5 * la);
        assert_true(cJSON_GetObjectItem(ea, "valid_search_recall")->valuedouble ==
                    cJSON_GetObjectItem(eb, "valid_search_recall")->valuedouble);
        assert_true(cJSON_GetObjectItem(ea, "valid_rec_recall")->valuedouble ==
                    cJSON_GetObjectItem(eb, "valid_rec_recall")->valuedouble);
    }
    assert_int_equal(cJSON_GetObjectItem(ja, "best_epoch")->valueint, cJSON_GetObjectItem(jb, "best_epoch")->valueint);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

/* Every tensor of dir_a/name and dir_b/name within tol; the largest
 * difference is returned (to see that it is a real comparison). */
static double assert_close_tensors(const char *dir_a, const char *dir_b, const char *name, double tol) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", dir_a, name);
    snprintf(pb, sizeof pb, "%s/%s", dir_b, name);
    semid_safetensors fa, fb;
    assert_int_equal(semid_safetensors_read(pa, &fa), SEMID_OK);
    assert_int_equal(semid_safetensors_read(pb, &fb), SEMID_OK);
    assert_int_equal(fa.n_tensors, fb.n_tensors);
    double worst = 0;
    for (int64_t i = 0; i < fa.n_tensors; i++) {
        const semid_st_tensor *ta = &fa.tensors[i], *tb = semid_safetensors_find(&fb, ta->name);
        assert_non_null(tb);
        assert_int_equal(ta->numel, tb->numel);
        float *x = malloc((size_t)ta->numel * sizeof *x), *y = malloc((size_t)ta->numel * sizeof *y);
        semid_safetensors_copy(ta, x);
        semid_safetensors_copy(tb, y);
        for (int64_t j = 0; j < ta->numel; j++) {
            double d = fabs((double)x[j] - y[j]);
            if (!(d <= tol)) fail_msg("%s: %s[%lld] is %g and %g", name, ta->name, (long long)j, x[j], y[j]);
            if (d > worst) worst = d;
        }
        free(x);
        free(y);
    }
    semid_safetensors_free(&fa);
    semid_safetensors_free(&fb);
    return worst;
}

/* skip_epoch: the epoch a run resumed in (1-based; 0 = none), whose loss
 * is the mean over the steps after the resume alone. */
static void assert_same_run(const char *a, const char *b, int skip_epoch) {
    assert_same_history(a, b, skip_epoch);
    assert_close_tensors(a, b, "model.safetensors", 1e-4);
    assert_close_tensors(a, b, "resume.safetensors", 1e-4); /* parameters and both AdamW moments */
}

static void test_two_ranks_equal_one_process(void **state) {
    (void)state;
    char one[1024], two[1024];
    snprintf(one, sizeof one, "%s/one", tmpdir);
    snprintf(two, sizeof two, "%s/two", tmpdir);
    char *out;
    assert_int_equal(sh(&out, MPIRUN "%s " TRAIN_ARGS " --out %s", SEMID_CLI_PATH, tmpdir, tmpdir, two), 0);
    /* rank 0 alone prints the results */
    const char *first = strstr(out, "model written to");
    assert_non_null(first);
    assert_null(strstr(first + 1, "model written to"));
    free(out);
    assert_same_run(one, two, 0);
    /* and the run really did train: a later epoch's loss is lower */
    cJSON *j = read_json(two, "train.json");
    const cJSON *h = cJSON_GetObjectItem(j, "history");
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 2), "loss")->valuedouble <
                cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "loss")->valuedouble);
    cJSON_Delete(j);
}

/* A run stopped in its first epoch (as if killed after a checkpoint) resumes with
 * another rank count, both ways, to the uninterrupted run's result. */
static void test_resume_with_another_rank_count(void **state) {
    (void)state;
    char one[1024], dir[1024];
    snprintf(one, sizeof one, "%s/one", tmpdir);
    snprintf(dir, sizeof dir, "%s/two_then_one", tmpdir);
    assert_int_equal(sh(NULL, MPIRUN "%s " TRAIN_ARGS " --checkpoint-every 5 --stop-after 30 --out %s", SEMID_CLI_PATH,
                        tmpdir, tmpdir, dir), 0);
    assert_int_equal(sh(NULL, ONE_PROCESS "%s " TRAIN_ARGS " --checkpoint-every 5 --resume --out %s", SEMID_CLI_PATH,
                        tmpdir, tmpdir, dir), 0);
    assert_same_run(one, dir, 1);
    snprintf(dir, sizeof dir, "%s/one_then_two", tmpdir);
    assert_int_equal(sh(NULL, ONE_PROCESS "%s " TRAIN_ARGS " --checkpoint-every 5 --stop-after 30 --out %s",
                        SEMID_CLI_PATH, tmpdir, tmpdir, dir), 0);
    assert_int_equal(sh(NULL, MPIRUN "%s " TRAIN_ARGS " --checkpoint-every 5 --resume --out %s", SEMID_CLI_PATH,
                        tmpdir, tmpdir, dir), 0);
    assert_same_run(one, dir, 1);
}

/* Ranks that start from other settings (here the seed) are refused at the
 * start, on every rank, naming the rank that differs. */
static void test_mismatched_ranks_refused(void **state) {
    (void)state;
    char *out;
    int rc = sh(&out, MPIRUN "sh -c 'exec %s " TRAIN_ARGS " --seed $((1 + OMPI_COMM_WORLD_RANK)) --out %s/mismatch'",
                SEMID_CLI_PATH, tmpdir, tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "rank 0 of 2: rank 1 has other training data or settings"));
    assert_non_null(strstr(out, "rank 1 of 2: rank 1 has other training data or settings"));
    free(out);
    /* nothing was written: the check comes before the first step */
    char path[1024];
    snprintf(path, sizeof path, "%s/mismatch/resume.safetensors", tmpdir);
    assert_false(semid_path_exists(path));
}

/* A rank killed mid-run (SIGKILL, no goodbye) ends the job: no hang, a
 * non-zero status, and mpirun's message names rank 1. */
static void test_dead_rank_ends_the_job(void **state) {
    (void)state;
    char *out;
    double t0 = semid_now();
    /* Rank 1's shell becomes semid (exec) after starting a timer that kills
     * its own pid, so the process mpirun watches is semid itself. */
    int rc = sh(&out,
                "timeout 60 " MPIRUN "sh -c 'if [ $OMPI_COMM_WORLD_RANK = 1 ]; then (sleep 1.5; kill -9 $$) & fi; "
                "exec %s " TRAIN_ARGS " --epochs 1000 --out %s/killed'",
                SEMID_CLI_PATH, tmpdir, tmpdir, tmpdir);
    double seconds = semid_now() - t0;
    assert_int_not_equal(rc, 0);
    assert_int_not_equal(rc, 124); /* not the timeout's */
    assert_true(seconds < 30);
    if (!strstr(out, "rank 1")) fail_msg("exit %d after %.1f s, no word of rank 1 in: %s", rc, seconds, out);
    free(out);
}

/* semid embed's bi-encoders (embed/biencoder_dist.h): 3 epochs of a
 * 16-wide encoder on the fixture's 360 search pairs. */
#define EMBED_ARGS "embed --dataset %s/ds.sdd --dim 16 --epochs 3 --threads 1"

/* The largest difference between two runs' DIR/<method>.npy. */
static double npy_max_diff(const char *dir_a, const char *dir_b, const char *method) {
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s/%s.npy", dir_a, method);
    snprintf(pb, sizeof pb, "%s/%s.npy", dir_b, method);
    semid_matrix a = {0}, b = {0};
    assert_int_equal(semid_npy_read(pa, &a), SEMID_OK);
    assert_int_equal(semid_npy_read(pb, &b), SEMID_OK);
    assert_int_equal(a.rows, b.rows);
    assert_int_equal(a.cols, b.cols);
    double worst = 0;
    for (int64_t j = 0; j < a.rows * a.cols; j++) worst = fmax(worst, fabs((double)a.data[j] - b.data[j]));
    semid_matrix_free(&a);
    semid_matrix_free(&b);
    return worst;
}

/* One process and 2 ranks with the same global batch: the same loss
 * trajectory (each epoch's mean loss of each task to 1e-5 relative;
 * measured 5e-7), item vectors (1e-5 absolute; measured 7e-7 search,
 * 1.7e-6 multi) and encoder parameters (1e-3 absolute, a tenth of the
 * learning rate; measured 1.8e-5 search, 3.5e-4 multi). The parameters'
 * bound is wider: lazy Adam divides a row's gradient by its own root mean
 * square, so where the terms of a word's gradient nearly cancel, their sum's
 * rounding (split over the ranks) moves the step by up to the learning rate,
 * in rows that barely move the vectors. Rank 0 alone writes and prints. */
static void assert_embed_ranks_equal(const char *method, int batch) {
    char one[1024], two[1024], json[128];
    snprintf(one, sizeof one, "%s/emb-%s-one", tmpdir, method);
    snprintf(two, sizeof two, "%s/emb-%s-two", tmpdir, method);
    snprintf(json, sizeof json, "%s_train.json", method);
    assert_int_equal(sh(NULL, ONE_PROCESS "%s " EMBED_ARGS " --method %s --batch %d --out %s", SEMID_CLI_PATH, tmpdir,
                        method, batch, one), 0);
    char *out;
    assert_int_equal(sh(&out, MPIRUN "%s " EMBED_ARGS " --method %s --batch %d --out %s", SEMID_CLI_PATH, tmpdir, method,
                        batch, two), 0);
    const char *first = strstr(out, "wrote ");
    assert_non_null(first);
    assert_null(strstr(first + 1, "wrote "));
    assert_non_null(strstr(out, "ranks: 2; the exchanges between them took"));
    free(out);
    cJSON *ja = read_json(one, json), *jb = read_json(two, json);
    assert_non_null(ja);
    assert_non_null(jb);
    assert_int_equal(cJSON_GetObjectItem(ja, "ranks")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(jb, "ranks")->valueint, 2);
    assert_int_equal(cJSON_GetObjectItem(ja, "steps")->valueint, cJSON_GetObjectItem(jb, "steps")->valueint);
    const cJSON *ha = cJSON_GetObjectItem(ja, "history"), *hb = cJSON_GetObjectItem(jb, "history");
    assert_int_equal(cJSON_GetArraySize(ha), 3);
    assert_int_equal(cJSON_GetArraySize(hb), 3);
    const char *keys[2] = {"loss", "rec_loss"};
    int tasks = strcmp(method, "multi") == 0 ? 2 : 1;
    for (int e = 0; e < 3; e++)
        for (int k = 0; k < tasks; k++) {
            const cJSON *la = cJSON_GetObjectItem(cJSON_GetArrayItem(ha, e), keys[k]);
            const cJSON *lb = cJSON_GetObjectItem(cJSON_GetArrayItem(hb, e), keys[k]);
            assert_non_null(la);
            assert_non_null(lb);
            if (!(la->valuedouble > 0 && fabs(la->valuedouble - lb->valuedouble) <= 1e-5 * la->valuedouble))
                fail_msg("%s epoch %d %s: %.9g and %.9g", method, e + 1, keys[k], la->valuedouble, lb->valuedouble);
        }
    /* it did train: the search loss fell */
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 2), "loss")->valuedouble <
                cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 0), "loss")->valuedouble);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    double dv = npy_max_diff(one, two, method);
    assert_true(dv <= 1e-5);
    char enc[128];
    snprintf(enc, sizeof enc, "%s_encoder.safetensors", method);
    assert_close_tensors(one, two, enc, 1e-3);
}

/* search with a batch of 47 (shares of 23 and 24 pairs, and of 15 and 16
 * in the last batch of 31); multi with 64 (four text blocks a step). */
static void test_embed_two_ranks_equal_one_process(void **state) {
    (void)state;
    assert_embed_ranks_equal("search", 47);
    assert_embed_ranks_equal("multi", 64);
}

/* Ranks with other settings are refused before the first step, nothing
 * written; the methods that do not train across ranks are refused. */
static void test_embed_refusals(void **state) {
    (void)state;
    char *out;
    int rc = sh(&out, MPIRUN "sh -c 'exec %s " EMBED_ARGS " --method search --seed $((1 + OMPI_COMM_WORLD_RANK)) --out %s/emb-mismatch'",
                SEMID_CLI_PATH, tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "rank 0 of 2: rank 1 has other bi-encoder training data or settings"));
    free(out);
    char path[1024];
    snprintf(path, sizeof path, "%s/emb-mismatch/search.npy", tmpdir);
    assert_false(semid_path_exists(path));
    rc = sh(&out, MPIRUN "%s " EMBED_ARGS " --method rec --out %s/emb-rec", SEMID_CLI_PATH, tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "semid embed runs across ranks for --method search and multi alone"));
    free(out);
}

/* The rows of dir/results.json without their timings. */
static cJSON *result_rows(const char *dir) {
    cJSON *root = read_json(dir, "results.json");
    assert_non_null(root);
    cJSON *rows = cJSON_DetachItemFromObject(root, "rows");
    cJSON_Delete(root);
    assert_true(cJSON_GetArraySize(rows) >= 3);
    cJSON *row;
    cJSON_ArrayForEach(row, rows) cJSON_DeleteItemFromObject(row, "seconds");
    return rows;
}

/* semid experiment spreads its models (2 strategies and the atomic IDs x 2
 * seeds) over 2 ranks; rank 0's report has the figures of the
 * single-process run, exactly (each model trains on one rank with the same
 * seed and one thread), the hybrid and held-out-item rows too (each model's
 * made on the rank that trained it, from its weights), and the search on
 * unseen-style queries. */
static void test_experiment_across_ranks(void **state) {
    (void)state;
    const char *tiny =
        "synthetic.items=120 synthetic.users=200 queries.per_item=4 queries.train=2 embeddings.dim=16 "
        "embeddings.epochs=1 embeddings.batch=64 embeddings.enmf_dim=16 embeddings.enmf_epochs=3 sid.codebook=16 "
        "sid.strategies=content,multi sid.ablation= model.layers=1 model.dim=16 model.heads=2 model.epochs=1 "
        "model.batch=32 model.history=5 model.beam=10 k=10 seeds=[1,2] threads=1 model.parallel=1 "
        "hybrid.strategy=multi cold.fraction=0.1 cold.seed=3 queries.unseen_style=2";
    char one[1024], two[1024];
    snprintf(one, sizeof one, "%s/exp-one", tmpdir);
    snprintf(two, sizeof two, "%s/exp-two", tmpdir);
    assert_int_equal(sh(NULL, ONE_PROCESS "%s experiment --out %s %s", SEMID_CLI_PATH, one, tiny), 0);
    char *out;
    assert_int_equal(sh(&out, MPIRUN "%s experiment --out %s %s", SEMID_CLI_PATH, two, tiny), 0);
    assert_non_null(strstr(out, "report: "));
    free(out);
    cJSON *a = result_rows(one), *b = result_rows(two);
    if (!cJSON_Compare(a, b, 1)) {
        char *ta = cJSON_Print(a), *tb = cJSON_Print(b);
        fail_msg("one process:\n%s\ntwo ranks:\n%s", ta, tb);
    }
    /* the hybrid row and the 8 held-out-item rows are there, none failed;
     * the hybrid table's rows have the unseen-style search, the held-out
     * ones not (their record has no twin) */
    int n_hybrid = 0, n_cold = 0, n_unseen = 0;
    cJSON *row;
    cJSON_ArrayForEach(row, b) {
        const char *table = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "table"));
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "name"));
        const char *failed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "failed"));
        const int unseen = cJSON_GetObjectItemCaseSensitive(row, "search_unseen_recall") != NULL;
        assert_non_null(table);
        n_unseen += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "generative")) && unseen;
        if (strcmp(table, "hybrid") != 0 && strcmp(table, "warm") != 0 && strcmp(table, "cold") != 0) continue;
        if (failed && failed[0]) fail_msg("row %s/%s failed: %s", table, name, failed);
        n_hybrid += strcmp(name, "multi+dense") == 0;
        n_cold += strcmp(table, "hybrid") != 0;
        assert_non_null(cJSON_GetObjectItemCaseSensitive(row, "search_recall"));
        assert_int_equal(unseen, strcmp(table, "hybrid") == 0);
    }
    assert_int_equal(n_hybrid, 1);
    assert_int_equal(n_cold, 8);
    /* content, multi (and diverse), the atomic IDs (and diverse), multi alone and re-ranked in the hybrid table */
    assert_int_equal(n_unseen, 7);
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* rank 1 trained models 1 and 3 (content and multi, seed 2) in its own
     * directory, with multi's hybrid and held-out-item records; rank 0
     * adopted their records with their unseen-style twins, and has none of
     * their weights */
    const char *present[] = {"rank-1/models/content-rqkmeans-s2/eval.json",
                             "rank-1/models/multi-rqkmeans-s2/hybrid.json",
                             "rank-1/models/multi-rqkmeans-s2/cold/model.safetensors",
                             "models/content-rqkmeans-s2/eval.json",
                             "models/content-rqkmeans-s2-unseen.json",
                             "models/multi-rqkmeans-s2/hybrid.json",
                             "models/multi-rqkmeans-s2/hybrid-unseen.json",
                             "models/multi-rqkmeans-s2/cold/hybrid.json"};
    const char *absent[] = {"models/content-rqkmeans-s2/model.safetensors", "models/multi-rqkmeans-s2/model.safetensors",
                            "models/multi-rqkmeans-s2/cold/model.safetensors"};
    char path[1200];
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", two, present[i]);
        if (!semid_path_exists(path)) fail_msg("missing %s", path);
    }
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", two, absent[i]);
        if (semid_path_exists(path)) fail_msg("unexpected %s", path);
    }
}

/* Run under mpirun by test_allreduce_buckets: spans of odd sizes (one
 * empty) summed in buckets of 7 floats and in one, a gather of unequal
 * (and empty) arrays and a union of bitmaps, against the results computed
 * here. Exit status 0 when every value and the call count are
 * right. */
static int allreduce_worker(int argc, char **argv) {
    if (semid_dist_init(&argc, &argv) != SEMID_OK) return 3;
    int ranks = semid_dist_size(), rank = semid_dist_rank(), bad = 0;
    enum { N_SPANS = 5 };
    const int64_t sizes[N_SPANS] = {3, 10, 0, 1, 25};
    for (int pass = 0; pass < 2; pass++) {
        int64_t bucket = pass == 0 ? 7 : 0, total = 0, calls_expected = pass == 0 ? (39 + 6) / 7 : 1;
        float data[39];
        semid_dist_span spans[N_SPANS];
        for (int i = 0; i < N_SPANS; i++) {
            spans[i] = (semid_dist_span){data + total, sizes[i]};
            total += sizes[i];
        }
        for (int64_t j = 0; j < total; j++) data[j] = (float)((rank + 1) * (j + 1));
        int calls = 0;
        if (semid_dist_allreduce_sum(spans, N_SPANS, bucket, &calls) != SEMID_OK) bad = 1;
        for (int64_t j = 0; j < total; j++) bad |= data[j] != (float)(ranks * (ranks + 1) / 2 * (j + 1));
        bad |= calls != calls_expected;
    }
    /* the gather: rank r gives 3r values (rank 0 none), all receive them in rank order */
    int64_t counts[8];
    for (int r = 0; r < ranks && r < 8; r++) counts[r] = 3 * r;
    if (ranks <= 8) {
        float own[24], all[3 * 8 * 7 / 2 + 1];
        for (int j = 0; j < 3 * rank; j++) own[j] = (float)(100 * rank + j);
        if (semid_dist_allgatherv(own, all, counts, sizeof *own) != SEMID_OK) bad = 1;
        for (int r = 0, k = 0; r < ranks; r++)
            for (int j = 0; j < 3 * r; j++, k++) bad |= all[k] != (float)(100 * r + j);
    }
    /* the union of bitmaps: rank r sets bit r of each word, and bit 63 of word r */
    uint64_t words[4];
    for (int w = 0; w < 4; w++) words[w] = (UINT64_C(1) << (rank % 64)) | (w == rank ? UINT64_C(1) << 63 : 0);
    if (semid_dist_allreduce_or(words, 4) != SEMID_OK) bad = 1;
    for (int w = 0; w < 4; w++) {
        uint64_t want = w < ranks ? UINT64_C(1) << 63 : 0;
        for (int r = 0; r < ranks; r++) want |= UINT64_C(1) << (r % 64);
        bad |= words[w] != want;
    }
    bad |= semid_dist_check_same(42, "a constant") != SEMID_OK;
    bad |= semid_dist_agree(SEMID_OK) != SEMID_OK;
    if (rank == 0) printf("allreduce %s on %d ranks\n", bad ? "WRONG" : "right", ranks);
    semid_dist_finalize();
    return bad;
}

static const char *self_path;

static void test_allreduce_buckets(void **state) {
    (void)state;
    char *out;
    assert_int_equal(sh(&out, MPIRUN "%s allreduce-worker", self_path), 0);
    assert_non_null(strstr(out, "allreduce right on 2 ranks"));
    free(out);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "allreduce-worker") == 0) return allreduce_worker(argc, argv);
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allreduce_buckets),
        cmocka_unit_test(test_two_ranks_equal_one_process),
        cmocka_unit_test(test_resume_with_another_rank_count),
        cmocka_unit_test(test_mismatched_ranks_refused),
        cmocka_unit_test(test_dead_rank_ends_the_job),
        cmocka_unit_test(test_experiment_across_ranks),
        cmocka_unit_test(test_embed_two_ranks_equal_one_process),
        cmocka_unit_test(test_embed_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
