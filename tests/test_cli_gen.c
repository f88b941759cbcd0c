/* semid train / search / recommend from the command line, bad input included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/synth.h"
#include "linalg/matrix.h"
#include "linalg/vec.h"
#include "quant/strategy.h"
#include "support/testutil.h"

static char *tmpdir, *ds_path, *sid_path, *other_sid_path, *model_dir;
static semid_dataset ds;

static semid_status write_table(int32_t codebook, uint64_t seed, const char *path) {
    semid_matrix X;
    semid_status st = semid_matrix_alloc(&X, ds.n_items, 16);
    if (st != SEMID_OK) return st;
    /* Any embedding will do here: a seeded random one. */
    uint64_t s = seed;
    for (int64_t i = 0; i < X.rows * X.cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X.data[i] = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
    }
    semid_strategy_options o = {.strategy = "content", .tokenizer = semid_tokenizer_defaults(), .disambiguate = 1};
    o.tokenizer.levels = 2;
    o.tokenizer.codebook_size = codebook;
    o.tokenizer.iters = 5;
    semid_strategy_inputs in = {.single = &X};
    semid_strategy_result r;
    st = semid_strategy_build(&in, &o, &r);
    if (st == SEMID_OK) {
        st = semid_idtable_save(&r.table, path);
        semid_strategy_result_free(&r);
    }
    semid_matrix_free(&X);
    return st;
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 60;
    c.n_users = 80;
    c.mean_history = 8;
    c.min_history = 5;
    c.max_history = 30;
    c.n_topics = 4;
    c.queries_per_item = 3;
    c.queries_train = 2;
    if (semid_synth_generate(&c, 5, &ds) != SEMID_OK) return -1;
    ds_path = semid_path_join(tmpdir, "ds.sdd");
    sid_path = semid_path_join(tmpdir, "sid.json");
    other_sid_path = semid_path_join(tmpdir, "other.json");
    model_dir = semid_path_join(tmpdir, "model");
    if (semid_dataset_save(&ds, ds_path) != SEMID_OK) return -1;
    if (write_table(8, 1, sid_path) != SEMID_OK || write_table(8, 2, other_sid_path) != SEMID_OK) return -1;
    char args[4096];
    snprintf(args, sizeof args,
             "train --dataset %s --sids %s --out %s --layers 1 --dim 16 --heads 2 --epochs 1 --batch 16 --threads 1 "
             "--valid-sample 10 --quiet",
             ds_path, sid_path, model_dir);
    char *out = NULL;
    int rc = test_run_cli(args, &out);
    if (rc != 0) fprintf(stderr, "train failed (%d): %s\n", rc, out ? out : "");
    free(out);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&ds);
    test_rm_rf(tmpdir);
    free(tmpdir);
    free(ds_path);
    free(sid_path);
    free(other_sid_path);
    free(model_dir);
    return 0;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static int run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...) {
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return test_run_cli(args, out);
}

static void test_bundle_files(void **state) {
    (void)state;
    const char *names[] = {"model.safetensors", "idtable.sid", "items.jsonl", "train.json", "resume.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = semid_path_join(model_dir, names[i]);
        assert_true(semid_path_exists(p));
        free(p);
    }
}

static void test_search(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run(&out, "search --model %s --k 5 '%s'", model_dir, "an exciting story"), 0);
    assert_non_null(strstr(out, "rank\titem_id\tscore\ttitle\n1\t"));
    assert_int_equal(count_lines(out), 6);
    free(out);
    /* Words run together from several arguments too. */
    assert_int_equal(run(&out, "search --model %s --k 3 exciting story", model_dir), 0);
    assert_int_equal(count_lines(out), 4);
    free(out);
    /* Only unknown words: still answers, with a warning. */
    assert_int_equal(run(&out, "search --model %s --k 3 zzqx qqzv", model_dir), 0);
    assert_non_null(strstr(out, "no word of the query is known"));
    free(out);
    /* Empty query: refused. */
    assert_int_equal(run(&out, "search --model %s '  ,. '", model_dir), 2);
    assert_non_null(strstr(out, "query is empty"));
    free(out);
    /* The paper's diverse beam search. */
    assert_int_equal(run(&out, "search --model %s --k 4 --diverse exciting story", model_dir), 0);
    assert_non_null(strstr(out, "rank\titem_id"));
    free(out);
}

static void test_recommend(void **state) {
    (void)state;
    char *out;
    char hist[1024] = "";
    for (int i = 0; i < 3; i++) {
        strcat(hist, ds.items[i].id);
        strcat(hist, i < 2 ? "," : "");
    }
    assert_int_equal(run(&out, "recommend --model %s --history %s --k 5", model_dir, hist), 0);
    assert_int_equal(count_lines(out), 6);
    /* Items do not repeat in the synthetic data: the history is left out. */
    for (int i = 0; i < 3; i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\t%s\t", ds.items[i].id);
        assert_null(strstr(out, needle));
    }
    free(out);
    /* Repeated items are kept; an unknown id is an error naming it. */
    assert_int_equal(run(&out, "recommend --model %s --history %s,%s --k 2", model_dir, ds.items[0].id, ds.items[0].id), 0);
    free(out);
    assert_int_equal(run(&out, "recommend --model %s --history %s,nope-42", model_dir, ds.items[0].id), 1);
    assert_non_null(strstr(out, "'nope-42'"));
    free(out);
    assert_int_equal(run(&out, "recommend --model %s --history ,", model_dir), 1);
    free(out);
    /* A history longer than the window keeps its last items. */
    char *longh = malloc(64 * 1024);
    longh[0] = '\0';
    for (int i = 0; i < 60; i++) {
        strcat(longh, ds.items[i].id);
        if (i < 59) strcat(longh, ",");
    }
    assert_int_equal(run(&out, "recommend --model %s --history %s --k 3", model_dir, longh), 0);
    assert_non_null(strstr(out, "reads the last"));
    free(out);
    free(longh);
}

static void test_bad_models(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run(&out, "search --model %s/nowhere hello", tmpdir), 1);
    assert_non_null(strstr(out, "no model here"));
    free(out);
    /* The ID table swapped for another one. */
    char *bad = semid_path_join(tmpdir, "bad");
    assert_int_equal(semid_mkdirs(bad), SEMID_OK);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp %s/model.safetensors %s/items.jsonl %s/ && cp %s %s/idtable.sid", model_dir, model_dir,
             bad, other_sid_path, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run(&out, "search --model %s hello", bad), 1);
    assert_non_null(strstr(out, "another ID table"));
    free(out);
    /* A truncated checkpoint. */
    snprintf(cmd, sizeof cmd, "cp %s/idtable.sid %s/ && head -c 3000 %s/model.safetensors > %s/model.safetensors", model_dir,
             bad, model_dir, bad);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run(&out, "recommend --model %s --history %s", bad, ds.items[0].id), 1);
    assert_non_null(strstr(out, "semid: error:"));
    free(out);
    /* Missing options. */
    assert_int_equal(run(&out, "train --dataset %s", ds_path), 2);
    free(out);
    assert_int_equal(run(&out, "recommend --model %s", model_dir), 2);
    free(out);
    free(bad);
}

static void test_resume_cli(void **state) {
    (void)state;
    char *out;
    /* Resuming a finished run does nothing more and succeeds. */
    assert_int_equal(run(&out,
                         "train --dataset %s --sids %s --out %s --layers 1 --dim 16 --heads 2 --epochs 1 --batch 16 "
                         "--threads 1 --valid-sample 10 --quiet --resume",
                         ds_path, sid_path, model_dir),
                     0);
    assert_non_null(strstr(out, "model written to"));
    free(out);
    /* Resuming with another ID table is refused. */
    assert_int_equal(run(&out,
                         "train --dataset %s --sids %s --out %s --layers 1 --dim 16 --heads 2 --epochs 1 --batch 16 "
                         "--threads 1 --valid-sample 10 --quiet --resume",
                         ds_path, other_sid_path, model_dir),
                     1);
    free(out);
}

/* --patience: a validation score that cannot improve (a learning rate too
 * small to move the weights) stops the run after 1 + patience epochs. */
/* search --history: personalised search with a model trained on it; a
 * two-task model refuses it, naming the option that trains it. */
static void test_search_history(void **state) {
    (void)state;
    char *out, *dir = semid_path_join(tmpdir, "personal"), hist[1024] = "";
    for (int i = 0; i < 3; i++) {
        strcat(hist, ds.items[i].id);
        strcat(hist, i < 2 ? "," : "");
    }
    assert_int_equal(run(&out,
                         "train --dataset %s --sids %s --out %s --layers 1 --dim 16 --heads 2 --epochs 1 --batch 16 "
                         "--threads 1 --valid-sample 10 --personal-share 0.3 --quiet",
                         ds_path, sid_path, dir),
                     0);
    free(out);
    assert_int_equal(run(&out, "search --model %s --k 5 --history %s 'a comedy'", dir, hist), 0);
    assert_int_equal(count_lines(out), 6);
    for (int i = 0; i < 3; i++) { /* the history is left out, as in recommend */
        char needle[128];
        snprintf(needle, sizeof needle, "\t%s\t", ds.items[i].id);
        assert_null(strstr(out, needle));
    }
    free(out);
    assert_int_equal(run(&out, "search --model %s --history %s,nope-42 'a comedy'", dir, ds.items[0].id), 1);
    assert_non_null(strstr(out, "'nope-42'"));
    free(out);
    assert_int_equal(run(&out, "search --model %s --history %s --queries - 'a comedy' < /dev/null", dir, hist), 2);
    free(out);
    assert_int_equal(run(&out, "search --model %s --k 5 --history %s 'a comedy'", model_dir, hist), 1);
    assert_non_null(strstr(out, "--personal-share"));
    free(out);
    free(dir);
}

static void test_early_stopping_cli(void **state) {
    (void)state;
    char *out, *dir = semid_path_join(tmpdir, "early");
    assert_int_equal(run(&out,
                         "train --dataset %s --sids %s --out %s --layers 1 --dim 16 --heads 2 --epochs 6 --patience 2 "
                         "--batch 16 --lr 1e-9 --threads 1 --valid-sample 10 --quiet",
                         ds_path, sid_path, dir),
                     0);
    if (!strstr(out, "stopped early after epoch 3 of at most 6")) fprintf(stderr, "%s\n", out);
    assert_non_null(strstr(out, "stopped early after epoch 3 of at most 6"));
    assert_non_null(strstr(out, "best epoch 1:"));
    free(out);
    free(dir);
}

/* --search-share: auto by default, recorded in train.json; a bad value is
 * refused before any work. */
static void test_search_share_cli(void **state) {
    (void)state;
    char *path = semid_path_join(model_dir, "train.json"), *json = NULL;
    size_t len = 0;
    assert_int_equal(semid_read_file(path, &json, &len), SEMID_OK);
    assert_non_null(strstr(json, "\"search_share_auto\":\ttrue"));
    assert_non_null(strstr(json, "\"search_slots\":"));
    free(json);
    free(path);
    char *out;
    const char *bad[] = {"automatic", "1", "-0.5", "0.3x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(&out, "train --dataset %s --sids %s --out %s/never --search-share '%s'", ds_path, sid_path,
                             tmpdir, bad[i]),
                         2);
        assert_non_null(strstr(out, "--search-share"));
        free(out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_stopping_cli),
        cmocka_unit_test(test_bundle_files),
        cmocka_unit_test(test_search_share_cli),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_search_history),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_resume_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
