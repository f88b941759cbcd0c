/* semid search --queries / recommend --histories (batch scoring, TSV and
 * JSONL, stdin) and semid eval, end to end through the CLI binary. */
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
#include <sys/wait.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/dataset.h"
#include "gen/generate.h"
#include "support/testutil.h"

static char *tmpdir, *ds_path, *sid_path, *model_dir, *err_path;
static semid_dataset ds;
static semid_idtable table;

enum { N_INPUTS = 4 };
static char queries[N_INPUTS][512]; /* test queries of the dataset (and one of our own) */
static char histories[N_INPUTS][512];

/* Runs the CLI and checks its exit code and that its output (stdout and
 * stderr) holds needle[0] and needle[1] (each unless NULL); a failed command
 * must not have written results. */
static void expect(int rc, const char *const needle[2], const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect(int rc, const char *const needle[2], const char *fmt, ...) {
    char args[8192], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int got = test_run_cli(args, &out);
    if (got != rc) fail_msg("%s: exit %d, not %d: %s", args, got, rc, out);
    for (int k = 0; k < 2; k++)
        if (needle[k] && !strstr(out, needle[k])) fail_msg("%s: no '%s' in: %s", args, needle[k], out);
    if (rc != 0 && strstr(out, "rank\titem_id")) fail_msg("%s failed but wrote results: %s", args, out);
    free(out);
}

#define EXPECT(rc, needle, ...) expect(rc, (const char *const[2]){needle, NULL}, __VA_ARGS__)

/* Runs the CLI with stdout alone captured (stderr to err_path, shown when
 * the command fails). */
static int run_stdout(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run_stdout(char **out, const char *fmt, ...) {
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", SEMID_CLI_PATH, args, err_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int status = pclose(p);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) {
        char *err = NULL;
        size_t el;
        if (semid_read_file(err_path, &err, &el) == SEMID_OK) fprintf(stderr, "%s failed (%d): %s\n", args, rc, err);
        free(err);
    }
    *out = buf;
    return rc;
}

/* A dataset, content-based IDs and a tiny model, all made by the CLI. */
static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    ds_path = semid_path_join(tmpdir, "ds.sdd");
    sid_path = semid_path_join(tmpdir, "sid.json");
    model_dir = semid_path_join(tmpdir, "model");
    err_path = semid_path_join(tmpdir, "stderr.txt");
    if (test_cli_tiny_model(tmpdir, 60, 80) != 0) return -1;
    char *tp = semid_path_join(model_dir, "idtable.sid");
    semid_status st = semid_dataset_load(ds_path, &ds);
    if (st == SEMID_OK) st = semid_idtable_load(tp, &table);
    free(tp);
    if (st != SEMID_OK) return -1;
    /* Three test queries without shell quotes or tabs, and one of our own. */
    int nq = 0;
    for (int32_t q = 0; q < ds.n_queries && nq < N_INPUTS - 1; q++)
        if (ds.queries[q].split == SEMID_SPLIT_TEST && !strpbrk(ds.queries[q].text, "'\t\"\\"))
            snprintf(queries[nq++], sizeof queries[0], "%s", ds.queries[q].text);
    snprintf(queries[nq++], sizeof queries[0], "an exciting story");
    if (nq != N_INPUTS) return -1;
    for (int u = 0; u < N_INPUTS; u++) {
        histories[u][0] = '\0';
        for (int j = 0; j < 2 + u; j++) {
            if (j) strcat(histories[u], ",");
            strcat(histories[u], ds.items[(7 * u + 3 * j) % ds.n_items].id);
        }
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    semid_idtable_free(&table);
    semid_dataset_free(&ds);
    test_rm_rf(tmpdir);
    free(tmpdir);
    free(ds_path);
    free(sid_path);
    free(model_dir);
    free(err_path);
    return 0;
}

/* The item ids of TSV output rows, comma-joined: single-query output
 * ("rank\titem\t...", a header first) with id NULL, or the rows of record
 * `id` of batch output ("id\trank\titem\t..."). Caller frees. */
static char *tsv_items(const char *out, const char *id) {
    char *copy = strdup(out), *res = calloc(strlen(out) + 1, 1);
    int line = 0, rank = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue; /* header */
        char *f[5];
        int nf = semid_split_fields(l, "\t", f, 5);
        int off = id ? 1 : 0;
        if (id && strcmp(f[0], id) != 0) continue;
        assert_true(nf >= 4 + off);
        assert_int_equal(atoi(f[off]), ++rank);
        strcat(res, f[off + 1]);
        strcat(res, ",");
    }
    free(copy);
    return res;
}

/* The item ids of JSON output line `want_id`'s results, comma-joined, after
 * checking the line's shape: k results with sid arrays of the table's
 * level count equal to its codes for `task`. */
static char *json_items(const char *out, const char *want_id, int k, int task, const char *input_key) {
    char *copy = strdup(out), *res = NULL;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(l);
        assert_non_null(o);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        assert_true(cJSON_IsString(id));
        if (strcmp(id->valuestring, want_id) == 0) {
            assert_non_null(cJSON_GetObjectItemCaseSensitive(o, input_key));
            const cJSON *results = cJSON_GetObjectItemCaseSensitive(o, "results");
            assert_int_equal(cJSON_GetArraySize(results), k);
            res = calloc(strlen(l) + 1, 1);
            const cJSON *r;
            cJSON_ArrayForEach(r, results) {
                const cJSON *iid = cJSON_GetObjectItemCaseSensitive(r, "id");
                const cJSON *sid = cJSON_GetObjectItemCaseSensitive(r, "sid");
                assert_true(cJSON_IsString(iid));
                assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "title")));
                assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r, "score")));
                assert_int_equal(cJSON_GetArraySize(sid), table.n_levels);
                int32_t it = semid_dataset_find_item(&ds, iid->valuestring);
                assert_true(it >= 0);
                int ti = table.n_tasks == 1 ? 0 : task;
                for (int l2 = 0; l2 < table.n_levels; l2++)
                    assert_int_equal(cJSON_GetArrayItem(sid, l2)->valueint,
                                     table.codes[((int64_t)ti * table.n_items + it) * table.n_levels + l2]);
                strcat(res, iid->valuestring);
                strcat(res, ",");
            }
        }
        cJSON_Delete(o);
    }
    free(copy);
    assert_non_null(res);
    return res;
}

/* One task's batch command checked against its single form. */
typedef struct batch_case {
    int task;
    const char *command, *file_flag, *input_key, *id_prefix, *header;
    char (*inputs)[512];
} batch_case;

/* The JSONL value of input i: a string (query) or an array of strings. */
static void json_input(const batch_case *c, int i, char *out, size_t size) {
    if (c->task == SEMID_TASK_SEARCH) {
        snprintf(out, size, "\"%s\"", c->inputs[i]);
        return;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", c->inputs[i]);
    snprintf(out, size, "[");
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (out[1]) strncat(out, ",", size - strlen(out) - 1);
        strncat(out, "\"", size - strlen(out) - 1);
        strncat(out, t, size - strlen(out) - 1);
        strncat(out, "\"", size - strlen(out) - 1);
    }
    strncat(out, "]", size - strlen(out) - 1);
}

static void check_batch(const batch_case *c) {
    char tsv[8192], jsonl[8192] = "", plain[8192] = "", name[64];
    snprintf(tsv, sizeof tsv, "%s\n", c->header);
    for (int i = 0; i < N_INPUTS; i++) {
        char line[1200], value[1024];
        json_input(c, i, value, sizeof value);
        snprintf(line, sizeof line, "%s%d\t%s\n", c->id_prefix, i + 1, c->inputs[i]);
        strcat(tsv, line);
        snprintf(line, sizeof line, "{\"id\": \"%s%d\", \"%s\": %s}\n\n", c->id_prefix, i + 1, c->input_key, value);
        strcat(jsonl, line);
        snprintf(line, sizeof line, "%s\r\n", c->inputs[i]);
        strcat(plain, line);
    }
    snprintf(name, sizeof name, "%s.tsv", c->command);
    char *tsv_path = test_write_file(tmpdir, name, tsv);
    snprintf(name, sizeof name, "%s.txt", c->command); /* JSONL, told by its '{' */
    char *jsonl_path = test_write_file(tmpdir, name, jsonl);
    snprintf(name, sizeof name, "%s-plain.tsv", c->command);
    char *plain_path = test_write_file(tmpdir, name, plain);
    char *bt, *bj, *bp, *bs, *bjs;
    const char *cmd = c->command, *flag = c->file_flag;
    assert_int_equal(run_stdout(&bt, "%s --model %s --k 5 --threads 1 %s %s", cmd, model_dir, flag, tsv_path), 0);
    assert_int_equal(strncmp(bt, c->header, strchr(c->header, '\t') - c->header + 1), 0);
    assert_non_null(strstr(bt, "\trank\titem_id\tscore\ttitle\n"));
    assert_int_equal(run_stdout(&bj, "%s --model %s --k 5 --threads 1 %s %s --format json", cmd, model_dir, flag, jsonl_path), 0);
    assert_int_equal(run_stdout(&bp, "%s --model %s --k 5 --threads 1 %s %s", cmd, model_dir, flag, plain_path), 0);
    /* stdin, TSV and JSONL */
    assert_int_equal(run_stdout(&bs, "%s --model %s --k 5 --threads 1 %s - < %s", cmd, model_dir, flag, tsv_path), 0);
    assert_string_equal(bs, bt);
    assert_int_equal(run_stdout(&bjs, "%s --model %s --k 5 --threads 1 %s - --format json < %s", cmd, model_dir, flag,
                                jsonl_path),
                     0);
    assert_string_equal(bjs, bj);
    int lines = 0; /* one JSON line per record */
    for (const char *p = bj; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, N_INPUTS);
    for (int i = 0; i < N_INPUTS; i++) {
        char *single, id[16], line_id[16], echo[1100], value[1024];
        if (c->task == SEMID_TASK_SEARCH)
            assert_int_equal(run_stdout(&single, "search --model %s --k 5 --threads 1 '%s'", model_dir, c->inputs[i]), 0);
        else
            assert_int_equal(run_stdout(&single, "recommend --model %s --k 5 --threads 1 --history %s", model_dir, c->inputs[i]), 0);
        snprintf(id, sizeof id, "%s%d", c->id_prefix, i + 1);
        snprintf(line_id, sizeof line_id, "%d", i + 1); /* one column: the line number is the id */
        char *want = tsv_items(single, NULL), *got_t = tsv_items(bt, id), *got_p = tsv_items(bp, line_id);
        char *got_j = json_items(bj, id, 5, c->task, c->input_key);
        assert_true(strlen(want) > 0);
        assert_string_equal(got_t, want);
        assert_string_equal(got_p, want);
        assert_string_equal(got_j, want);
        /* The input is echoed as given. */
        json_input(c, i, value, sizeof value);
        snprintf(echo, sizeof echo, "\"%s\":%s", c->input_key, value);
        assert_non_null(strstr(bj, echo));
        free(want);
        free(got_t);
        free(got_p);
        free(got_j);
        free(single);
    }
    free(bt);
    free(bj);
    free(bp);
    free(bs);
    free(bjs);
    free(tsv_path);
    free(jsonl_path);
    free(plain_path);
}

static void test_search_batch(void **state) {
    (void)state;
    batch_case c = {SEMID_TASK_SEARCH, "search", "--queries", "query", "q", "query_id\tquery", queries};
    check_batch(&c);
}

static void test_recommend_batch(void **state) {
    (void)state;
    batch_case c = {SEMID_TASK_REC, "recommend", "--histories", "history", "u", "user_id\thistory", histories};
    check_batch(&c);
}

/* A bad input file: the exit code and what the message must hold (@ in a
 * file's text stands for a known item id). */
typedef struct bad_input {
    const char *file, *text, *command, *options;
    int rc;
    const char *needle[2];
} bad_input;

/* Copies src into dst, with each '@' replaced by id. */
static void expand_first_id(char *dst, size_t cap, const char *src, const char *id) {
    size_t n = 0;
    for (const char *t = src; *t && n + 1 < cap; t++) {
        const char *piece = *t == '@' ? id : t;
        size_t len = *t == '@' ? strlen(id) : 1;
        if (n + len >= cap) break;
        memcpy(dst + n, piece, len);
        n += len;
    }
    dst[n] = '\0';
}

static void test_batch_errors(void **state) {
    (void)state;
    const bad_input cases[] = {
        /* An unknown item id: FILE:LINE and the id, nothing decoded. */
        {"bad_hist.tsv", "u1\t@\nu2\t@,nope-42\n", "recommend", "--histories", 1, {"bad_hist.tsv:2", "'nope-42'"}},
        {"bad_hist.jsonl", "{\"id\": \"u1\", \"history\": [\"@\"]}\n{\"id\": \"u2\", \"history\": [\"zz-9\"]}\n",
         "recommend", "--format json --histories", 1, {"bad_hist.jsonl:2", "'zz-9'"}},
        {"empty_hist.tsv", "u1\t , \n", "recommend", "--histories", 1, {"empty_hist.tsv:1", "no item ids"}},
        {"num_hist.jsonl", "{\"id\": 7, \"history\": [1.5]}\n", "recommend", "--histories", 1, {"num_hist.jsonl:1", "item ids"}},
        /* An empty query on line 3 (the blank line 2 is skipped). */
        {"bad_q.tsv", "q1\tan exciting story\n\nq3\t ,. \nq4\tanother one\n", "search", "--queries", 1,
         {"bad_q.tsv:3", "empty"}},
        {"bad_q.jsonl", "{\"id\": \"q1\", \"query\": \"story\"}\n{\"id\": \"q2\", \"query\": \n", "search", "--queries", 1,
         {"bad_q.jsonl:2", "JSON"}},
        {"bad_q2.jsonl", "{\"id\": \"q1\", \"query\": \"story\"}\n{\"id\": \"q2\", \"query\": \n", "search", "--queries - <",
         1, {"stdin:2", "JSON"}},
        {"noquery.jsonl", "{\"id\": \"q1\", \"text\": \"story\"}\n", "search", "--queries", 1, {"noquery.jsonl:1", "query"}},
        {"empty.tsv", "\n \n", "search", "--queries", 1, {"empty.tsv", "no queries"}},
        /* A query and --queries together; a bad --format; both --history and --histories. */
        {"q.tsv", "q1\tstory\n", "search", "story --queries", 2, {"not both", NULL}},
        {"q2.tsv", "q1\tstory\n", "search", "--format xml --queries", 2, {"--format", NULL}},
        {"h.tsv", "u1\t@\n", "recommend", "--history @ --histories", 2, {"--histories", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_input *c = &cases[i];
        char text[1024], options[512];
        expand_first_id(text, sizeof text, c->text, ds.items[0].id);
        expand_first_id(options, sizeof options, c->options, ds.items[0].id);
        char *p = test_write_file(tmpdir, c->file, text);
        expect(c->rc, c->needle, "%s --model %s %s %s", c->command, model_dir, options, p);
        free(p);
    }
    EXPECT(1, "none.tsv", "search --model %s --queries %s/none.tsv", model_dir, tmpdir);
}

/* The single forms also write JSON. */
static void test_single_json(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run_stdout(&out, "search --model %s --k 3 --format json an exciting story", model_dir), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "query")->valuestring, "an exciting story");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "results")), 3);
    cJSON_Delete(o);
    free(out);
    assert_int_equal(run_stdout(&out, "recommend --model %s --k 3 --format json --history %s", model_dir, histories[1]), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "history")), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "results")), 3);
    cJSON_Delete(o);
    free(out);
}

static double json_num(const cJSON *root, const char *task, const char *group, const char *key) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, task), group);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static cJSON *eval_json(int k, const char *extra) {
    char *out, *json = semid_path_join(tmpdir, "eval.json");
    assert_int_equal(run_stdout(&out, "eval --model %s --dataset %s --k %d --threads 1 --json %s %s", model_dir, ds_path, k,
                                json, extra),
                     0);
    assert_non_null(strstr(out, "Recall@K"));
    assert_non_null(strstr(out, "search   all"));
    assert_non_null(strstr(out, "rec      torso"));
    free(out);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(json, &text, &len), SEMID_OK);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    free(text);
    free(json);
    return root;
}

static void test_eval(void **state) {
    (void)state;
    cJSON *r10 = eval_json(10, "--per-query"), *r30 = eval_json(30, "");
    semid_gen_bundle *b;
    assert_int_equal(semid_gen_bundle_load(model_dir, &b), SEMID_OK);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = 10;
    o.beam.beam_size = 30;
    semid_ranking_eval search, rec;
    assert_int_equal(semid_gen_evaluate(b, &ds, SEMID_SPLIT_TEST, &o, &search, &rec, NULL), SEMID_OK);
    semid_metric_summary s = semid_ranking_eval_mean(&search, SEMID_GROUP_ALL);
    semid_metric_summary r = semid_ranking_eval_mean(&rec, SEMID_GROUP_ALL);
    semid_metric_summary rh = semid_ranking_eval_mean(&rec, SEMID_GROUP_HEAD);
    assert_true(s.n > 0 && r.n > 0);
    /* rec = NULL: search alone, the same ranks query by query, and the
     * decoder's count of beams is search's alone */
    semid_ranking_eval alone;
    semid_gen_eval_stats both_stats, alone_stats;
    semid_ranking_eval_free(&search), semid_ranking_eval_free(&rec);
    assert_int_equal(semid_gen_evaluate(b, &ds, SEMID_SPLIT_TEST, &o, &search, &rec, &both_stats), SEMID_OK);
    assert_int_equal(semid_gen_evaluate(b, &ds, SEMID_SPLIT_TEST, &o, &alone, NULL, &alone_stats), SEMID_OK);
    assert_int_equal(alone.n, search.n);
    for (int64_t q = 0; q < search.n; q++) assert_int_equal(alone.rank[q], search.rank[q]);
    assert_int_equal(alone_stats.beams, search.n * o.beam.beam_size);
    assert_int_equal(both_stats.beams, (search.n + rec.n) * o.beam.beam_size);
    semid_ranking_eval_free(&alone);
    assert_int_equal((int64_t)json_num(r10, "search", "all", "n"), s.n);
    assert_int_equal((int64_t)json_num(r10, "rec", "all", "n"), r.n);
    assert_true(fabs(json_num(r10, "search", "all", "recall") - s.recall) < 1e-12);
    assert_true(fabs(json_num(r10, "search", "all", "ndcg") - s.ndcg) < 1e-12);
    assert_true(fabs(json_num(r10, "rec", "all", "recall") - r.recall) < 1e-12);
    assert_true(fabs(json_num(r10, "rec", "head", "recall") - rh.recall) < 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r10, "rec"),
                                                                        "per_query_recall")),
                     (int)r.n);
    const char *tasks[2] = {"search", "rec"};
    for (int t = 0; t < 2; t++) {
        double a = json_num(r10, tasks[t], "all", "recall"), c = json_num(r30, tasks[t], "all", "recall");
        assert_true(a >= 0 && a <= 1 && c >= 0 && c <= 1);
        assert_true(c >= a - 1e-12); /* a larger K finds at least as much */
    }
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(r30, "k")->valuedouble, 30);
    /* The invalid-ID rate: none on the trie; diverse search's as the library counts it. */
    assert_true(cJSON_GetObjectItemCaseSensitive(r10, "invalid_share")->valuedouble == 0.0);
    cJSON *rd = eval_json(10, "--diverse");
    semid_gen_decode_options od = semid_gen_decode_defaults();
    od.diverse = 1;
    od.beam = semid_beam_paper_diverse(10);
    semid_ranking_eval ds_search, ds_rec;
    semid_gen_eval_stats stats;
    assert_int_equal(semid_gen_evaluate(b, &ds, SEMID_SPLIT_TEST, &od, &ds_search, &ds_rec, &stats), SEMID_OK);
    assert_true(stats.beams == (search.n + rec.n) * 60);
    assert_true(fabs(cJSON_GetObjectItemCaseSensitive(rd, "invalid_share")->valuedouble -
                     (double)stats.invalid / (double)stats.beams) < 1e-12);
    semid_ranking_eval_free(&ds_search);
    semid_ranking_eval_free(&ds_rec);
    cJSON_Delete(rd);
    semid_ranking_eval_free(&search);
    semid_ranking_eval_free(&rec);
    semid_gen_bundle_free(b);
    cJSON_Delete(r10);
    cJSON_Delete(r30);
    /* The validation split; bad options. */
    EXPECT(0, "valid split", "eval --model %s --dataset %s --split valid --k 5 --threads 1", model_dir, ds_path);
    EXPECT(2, "--split", "eval --model %s --dataset %s --split train", model_dir, ds_path);
    EXPECT(2, "--dataset", "eval --model %s", model_dir);
    EXPECT(1, "none.sdd", "eval --model %s --dataset %s/none.sdd", model_dir, tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_batch),   cmocka_unit_test(test_recommend_batch),
        cmocka_unit_test(test_batch_errors),   cmocka_unit_test(test_single_json),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
