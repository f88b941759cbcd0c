/* The serve API's request parser and JSON answers (src/serve/request.c,
 * response.c): good requests with defaults and with every key, each error
 * naming its field and status, UTF-8 edge cases, NUL bytes, the item
 * lookup, answers parsed back with cJSON, the type-ahead's order. Under
 * ASan every error path is also a leak check. */
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

#include "serve/request.h"
#include "serve/response.h"

/* ---- a fake catalog ---- */

static const char *const cat_ids[] = {"1193", "661", "914", "a b", "\xC3\xA9t\xC3\xA9"};
enum { N_CAT = 5 };

typedef struct lookup_stats {
    int calls;
    char last[64];
} lookup_stats;

static int32_t fake_lookup(const char *id, void *user) {
    lookup_stats *s = user;
    if (s) {
        s->calls++;
        snprintf(s->last, sizeof s->last, "%s", id);
    }
    for (int i = 0; i < N_CAT; i++)
        if (strcmp(id, cat_ids[i]) == 0) return i;
    return -1;
}

static semid_serve_request parse_ok_len(semid_serve_kind kind, const char *body, size_t len) {
    semid_serve_request r;
    semid_serve_error e;
    semid_status st = semid_serve_request_parse(kind, body, len, fake_lookup, NULL, &r, &e);
    if (st != SEMID_OK) fprintf(stderr, "unexpected error for %.200s: %d %s: %s\n", body, e.http_status, e.field, e.message);
    assert_int_equal(st, SEMID_OK);
    assert_int_equal(r.kind, kind);
    return r;
}

static semid_serve_request parse_ok(semid_serve_kind kind, const char *body) {
    return parse_ok_len(kind, body, strlen(body));
}

/* Expects a client error: status, field ("" = none) and a substring of the message. */
static void expect_err_len(semid_serve_kind kind, const char *body, size_t len, int status, const char *field,
                           const char *msg) {
    semid_serve_request r;
    semid_serve_error e;
    memset(&r, 0x5a, sizeof r);
    semid_status st = semid_serve_request_parse(kind, body, len, fake_lookup, NULL, &r, &e);
    if (st != SEMID_EINVAL || e.http_status != status || strcmp(e.field, field) != 0 || !strstr(e.message, msg))
        fprintf(stderr, "body %.120s: got st=%d %d field '%s' message '%s'; want %d '%s' '%s'\n", body ? body : "", st,
                e.http_status, e.field, e.message, status, field, msg);
    assert_int_equal(st, SEMID_EINVAL);
    assert_int_equal(e.http_status, status);
    assert_string_equal(e.field, field);
    assert_non_null(strstr(e.message, msg));
    /* nothing to free: the struct is zeroed */
    assert_null(r.queries);
    assert_null(r.histories);
    assert_null(r.history_len);
    assert_null(r.history);
    assert_int_equal(r.n_entries, 0);
    /* the message is valid UTF-8 and its JSON parses back */
    assert_true(semid_serve_utf8_valid(e.message, strlen(e.message)));
    char *js = semid_serve_error_json(&e);
    assert_non_null(js);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_true(cJSON_IsObject(err));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring, e.message);
    if (field[0]) assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "field")->valuestring, field);
    else assert_null(cJSON_GetObjectItemCaseSensitive(err, "field"));
    cJSON_Delete(j);
    free(js);
}

static void expect_err(semid_serve_kind kind, const char *body, int status, const char *field, const char *msg) {
    expect_err_len(kind, body, strlen(body), status, field, msg);
}

#define S SEMID_SERVE_SEARCH
#define R SEMID_SERVE_RECOMMEND

/* ---- good requests ---- */

static void test_search_defaults(void **state) {
    (void)state;
    semid_serve_request r = parse_ok(S, "{\"query\": \"90s space adventure\"}");
    assert_int_equal(r.batch, 0);
    assert_int_equal(r.n_entries, 1);
    assert_string_equal(r.queries[0], "90s space adventure");
    assert_null(r.histories);
    assert_null(r.history);
    assert_int_equal(r.n_history, 0);
    assert_int_equal(r.k, 10);
    assert_int_equal(r.beam, 30);
    assert_int_equal(r.diverse, 0);
    assert_int_equal(r.keep_history, 0);
    assert_true(fabsf(r.history_weight - 0.5f) < 1e-6f);
    semid_serve_request_free(&r);
    assert_null(r.queries);
    semid_serve_request_free(&r); /* twice is harmless */
}

static void test_search_every_key(void **state) {
    (void)state;
    lookup_stats ls = {0};
    const char *body = "{\"queries\": [\"a b\", \"caf\\u00e9 \\ud83d\\ude00 x\"], \"k\": 5, \"beam\": 7, \"diverse\": true,"
                       " \"history\": [\"914\", 661, \"1193\"], \"history_weight\": 2.5,"
                       " \"unknown\": {\"x\": [1, null]}, \"keep_history\": 17, \"histories\": 3}";
    semid_serve_request r;
    semid_serve_error e;
    assert_int_equal(semid_serve_request_parse(S, body, strlen(body), fake_lookup, &ls, &r, &e), SEMID_OK);
    assert_int_equal(r.batch, 1);
    assert_int_equal(r.n_entries, 2);
    assert_string_equal(r.queries[0], "a b");
    assert_string_equal(r.queries[1], "caf\xC3\xA9 \xF0\x9F\x98\x80 x");
    assert_int_equal(r.k, 5);
    assert_int_equal(r.beam, 7);
    assert_int_equal(r.diverse, 1);
    assert_int_equal(r.n_history, 3);
    assert_int_equal(r.history[0], 2);
    assert_int_equal(r.history[1], 1);
    assert_int_equal(r.history[2], 0);
    assert_true(fabsf(r.history_weight - 2.5f) < 1e-6f);
    assert_int_equal(r.keep_history, 0); /* a recommend key: ignored by search */
    assert_int_equal(ls.calls, 3);       /* the callback got the user pointer */
    assert_string_equal(ls.last, "1193");
    semid_serve_request_free(&r);

    /* bounds are inclusive; history_weight 0 and 10 */
    r = parse_ok(S, "{\"query\": \"x\", \"k\": 1000, \"beam\": 1000, \"history_weight\": 0, \"history\": [\"a b\"]}");
    assert_int_equal(r.k, 1000);
    assert_int_equal(r.beam, 1000);
    assert_true(r.history_weight == 0.0f);
    assert_int_equal(r.history[0], 3);
    semid_serve_request_free(&r);
    r = parse_ok(S, "{\"query\": \"x\", \"k\": 1, \"beam\": 1, \"history_weight\": 10, \"diverse\": false}");
    assert_int_equal(r.k, 1);
    assert_int_equal(r.beam, 1);
    assert_true(r.history_weight == 10.0f);
    assert_null(r.history); /* a weight without a history is allowed */
    semid_serve_request_free(&r);
}

static void test_beam_at_least_k(void **state) {
    (void)state;
    semid_serve_request r = parse_ok(S, "{\"query\": \"x\", \"k\": 50}");
    assert_int_equal(r.k, 50);
    assert_int_equal(r.beam, 50);
    semid_serve_request_free(&r);
    r = parse_ok(R, "{\"history\": [\"661\"], \"k\": 50, \"beam\": 100}");
    assert_int_equal(r.beam, 100);
    semid_serve_request_free(&r);
    r = parse_ok(R, "{\"history\": [\"661\"], \"k\": 40, \"beam\": 3}");
    assert_int_equal(r.beam, 40);
    semid_serve_request_free(&r);
}

static void test_recommend_defaults_and_keys(void **state) {
    (void)state;
    semid_serve_request r = parse_ok(R, "{\"history\": [\"1193\", \"661\", \"1193\"]}");
    assert_int_equal(r.batch, 0);
    assert_int_equal(r.n_entries, 1);
    assert_null(r.queries);
    assert_int_equal(r.history_len[0], 3);
    assert_int_equal(r.histories[0][0], 0);
    assert_int_equal(r.histories[0][1], 1);
    assert_int_equal(r.histories[0][2], 0);
    assert_int_equal(r.k, 10);
    assert_int_equal(r.beam, 30);
    assert_int_equal(r.diverse, 0);
    assert_int_equal(r.keep_history, 0);
    semid_serve_request_free(&r);

    r = parse_ok(R, "{\"histories\": [[\"1193\"], [\"661\", \"914\"], [\"\\u00e9t\\u00e9\"]], \"k\": 3, \"beam\": 4,"
                    " \"diverse\": true, \"keep_history\": true, \"query\": 5, \"history_weight\": \"x\"}");
    assert_int_equal(r.batch, 1);
    assert_int_equal(r.n_entries, 3);
    assert_int_equal(r.history_len[0], 1);
    assert_int_equal(r.history_len[1], 2);
    assert_int_equal(r.history_len[2], 1);
    assert_int_equal(r.histories[0][0], 0);
    assert_int_equal(r.histories[1][0], 1);
    assert_int_equal(r.histories[1][1], 2);
    assert_int_equal(r.histories[2][0], 4);
    assert_int_equal(r.k, 3);
    assert_int_equal(r.beam, 4);
    assert_int_equal(r.diverse, 1);
    assert_int_equal(r.keep_history, 1);
    semid_serve_request_free(&r);

    r = parse_ok(R, "{\"history\": [\"661\"], \"keep_history\": false}");
    assert_int_equal(r.keep_history, 0);
    semid_serve_request_free(&r);
}

static void test_numeric_ids(void **state) {
    (void)state;
    /* integral numbers are looked up by their decimal text */
    semid_serve_request r = parse_ok(R, "{\"history\": [1193, 661.0, 9.14e2]}");
    assert_int_equal(r.histories[0][0], 0);
    assert_int_equal(r.histories[0][1], 1);
    assert_int_equal(r.histories[0][2], 2);
    semid_serve_request_free(&r);
    expect_err(R, "{\"history\": [1193, 5]}", 400, "history[1]", "unknown item id \"5\"");
    expect_err(R, "{\"history\": [1193.5]}", 400, "history[0]", "must be an item id");
    expect_err(R, "{\"history\": [1e300]}", 400, "history[0]", "must be an item id");
    expect_err(R, "{\"history\": [true]}", 400, "history[0]", "must be an item id");
    expect_err(R, "{\"history\": [null]}", 400, "history[0]", "must be an item id");
    expect_err(R, "{\"history\": [[\"1193\"]]}", 400, "history[0]", "must be an item id");
    expect_err(R, "{\"history\": [{}]}", 400, "history[0]", "must be an item id");
}

static void test_keys_exact(void **state) {
    (void)state;
    /* case-sensitive keys; the first of repeated keys counts */
    semid_serve_request r = parse_ok(S, "{\"query\": \"x\", \"K\": 5000, \"Diverse\": 3}");
    assert_int_equal(r.k, 10);
    assert_int_equal(r.diverse, 0);
    semid_serve_request_free(&r);
    r = parse_ok(S, "{\"k\": 5, \"k\": \"x\", \"query\": \"x\"}");
    assert_int_equal(r.k, 5);
    semid_serve_request_free(&r);
    expect_err(S, "{\"Query\": \"x\"}", 400, "query", "required");
}

/* ---- errors ---- */

static void test_integers(void **state) {
    (void)state;
    semid_serve_request r = parse_ok(S, "{\"query\": \"x\", \"k\": 1.0, \"beam\": 1e2}");
    assert_int_equal(r.k, 1);
    assert_int_equal(r.beam, 100);
    semid_serve_request_free(&r);
    expect_err(S, "{\"query\": \"x\", \"k\": 1.5}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": \"5\"}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": true}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": null}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": [5]}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": 1e99}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": 2147483648}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": -2147483649}", 400, "k", "k must be an integer");
    expect_err(S, "{\"query\": \"x\", \"k\": 0}", 400, "k", "k must be in 1..1000");
    expect_err(S, "{\"query\": \"x\", \"k\": -1}", 400, "k", "k must be in 1..1000");
    expect_err(S, "{\"query\": \"x\", \"k\": 1001}", 400, "k", "k must be in 1..1000");
    expect_err(S, "{\"query\": \"x\", \"k\": 2147483647}", 400, "k", "k must be in 1..1000");
    expect_err(S, "{\"query\": \"x\", \"beam\": 0}", 400, "beam", "beam must be in 1..1000");
    expect_err(S, "{\"query\": \"x\", \"beam\": 1001}", 400, "beam", "beam must be in 1..1000");
    expect_err(R, "{\"history\": [\"661\"], \"beam\": 2.25}", 400, "beam", "beam must be an integer");
}

static void test_booleans_and_weight(void **state) {
    (void)state;
    expect_err(S, "{\"query\": \"x\", \"diverse\": 1}", 400, "diverse", "diverse must be a boolean");
    expect_err(S, "{\"query\": \"x\", \"diverse\": \"true\"}", 400, "diverse", "diverse must be a boolean");
    expect_err(R, "{\"history\": [\"661\"], \"diverse\": null}", 400, "diverse", "diverse must be a boolean");
    expect_err(R, "{\"history\": [\"661\"], \"keep_history\": 1}", 400, "keep_history",
               "keep_history must be a boolean");
    expect_err(R, "{\"history\": [\"661\"], \"keep_history\": \"yes\"}", 400, "keep_history", "boolean");
    expect_err(S, "{\"query\": \"x\", \"history_weight\": \"1\"}", 400, "history_weight",
               "history_weight must be a number");
    expect_err(S, "{\"query\": \"x\", \"history_weight\": true}", 400, "history_weight", "must be a number");
    expect_err(S, "{\"query\": \"x\", \"history_weight\": -0.1}", 400, "history_weight",
               "history_weight must be in 0..10");
    expect_err(S, "{\"query\": \"x\", \"history_weight\": 10.001}", 400, "history_weight", "in 0..10");
    expect_err(S, "{\"query\": \"x\", \"history_weight\": 1e999}", 400, "history_weight", "in 0..10");
}

/* rerank: "dense" with its weight and candidates, on both endpoints. */
static void test_rerank_keys(void **state) {
    (void)state;
    semid_serve_request r = parse_ok(S, "{\"query\": \"x y\"}");
    assert_int_equal(r.rerank_dense, 0);
    assert_true(fabs(r.rerank_weight - 0.5) < 1e-12);
    assert_int_equal(r.dense_k, 20);
    semid_serve_request_free(&r);
    r = parse_ok(S, "{\"query\": \"x y\", \"rerank\": \"dense\", \"rerank_weight\": 0.25, \"dense_k\": 7}");
    assert_int_equal(r.rerank_dense, 1);
    assert_true(fabs(r.rerank_weight - 0.25) < 1e-12);
    assert_int_equal(r.dense_k, 7);
    semid_serve_request_free(&r);
    r = parse_ok(R, "{\"history\": [\"661\"], \"rerank\": \"dense\", \"rerank_weight\": 1, \"dense_k\": 0}");
    assert_int_equal(r.rerank_dense, 1);
    assert_true(fabs(r.rerank_weight - 1.0) < 1e-12);
    assert_int_equal(r.dense_k, 0);
    semid_serve_request_free(&r);
    r = parse_ok(R, "{\"history\": [\"661\"], \"rerank\": \"none\"}");
    assert_int_equal(r.rerank_dense, 0);
    semid_serve_request_free(&r);
    expect_err(S, "{\"query\": \"x\", \"rerank\": \"sparse\"}", 400, "rerank", "rerank must be \"none\" or \"dense\"");
    expect_err(R, "{\"history\": [\"661\"], \"rerank\": true}", 400, "rerank", "\"none\" or \"dense\"");
    expect_err(S, "{\"query\": \"x\", \"rerank\": \"dense\", \"rerank_weight\": 1.5}", 400, "rerank_weight", "0..1");
    expect_err(S, "{\"query\": \"x\", \"rerank_weight\": \"0.5\"}", 400, "rerank_weight", "0..1");
    expect_err(S, "{\"query\": \"x\", \"dense_k\": -1}", 400, "dense_k", "dense_k must be in 0..1000");
    expect_err(S, "{\"query\": \"x\", \"dense_k\": 2.5}", 400, "dense_k", "dense_k must be an integer");
}

static void test_missing_and_both(void **state) {
    (void)state;
    expect_err(S, "{}", 400, "query", "query (or queries) is required");
    expect_err(S, "{\"history\": [\"661\"]}", 400, "query", "required");
    expect_err(S, "{\"histories\": [[\"661\"]]}", 400, "query", "required");
    expect_err(R, "{}", 400, "history", "history (or histories) is required");
    expect_err(R, "{\"query\": \"x\"}", 400, "history", "required");
    expect_err(S, "{\"query\": \"a\", \"queries\": [\"b\"]}", 400, "", "either query or queries");
    expect_err(R, "{\"history\": [\"661\"], \"histories\": [[\"661\"]]}", 400, "", "either history or histories");
}

static void test_queries(void **state) {
    (void)state;
    expect_err(S, "{\"query\": 5}", 400, "query", "query must be a string");
    expect_err(S, "{\"query\": null}", 400, "query", "query must be a string");
    expect_err(S, "{\"query\": [\"x\"]}", 400, "query", "query must be a string");
    expect_err(S, "{\"query\": \"\"}", 400, "query", "query must be 1..2000 bytes");
    expect_err(S, "{\"query\": \"   \"}", 400, "query", "query has no words");
    expect_err(S, "{\"query\": \" ,.;!? -- '' \\t\\n\"}", 400, "query", "no words");
    expect_err(S, "{\"query\": \"\\u2014\\u3002\"}", 400, "query", "no words"); /* em dash, CJK full stop */
    expect_err(S, "{\"queries\": \"x\"}", 400, "queries", "queries must be an array");
    expect_err(S, "{\"queries\": {}}", 400, "queries", "queries must be an array");
    expect_err(S, "{\"queries\": []}", 400, "queries", "queries must have 1..1000 entries");
    expect_err(S, "{\"queries\": [\"ok\", \"ok\", \"ok\", 7]}", 400, "queries[3]", "queries[3] must be a string");
    expect_err(S, "{\"queries\": [\"ok\", \"ok\", \"ok\", \"!!\"]}", 400, "queries[3]", "queries[3] has no words");
    expect_err(S, "{\"queries\": [\"ok\", \"\"]}", 400, "queries[1]", "queries[1] must be 1..2000 bytes");

    /* a single non-Latin word counts; an apostrophe alone does not */
    semid_serve_request r = parse_ok(S, "{\"query\": \"\\u65e5\\u672c\"}");
    semid_serve_request_free(&r);
    expect_err(S, "{\"query\": \"'\"}", 400, "query", "no words");

    /* 2000 bytes (as decoded UTF-8) pass, 2001 do not */
    size_t cap = 8 * 2100 + 64;
    char *body = malloc(cap), *q = malloc(cap);
    memset(q, 'a', 2000);
    q[2000] = '\0';
    snprintf(body, cap, "{\"query\": \"%s\"}", q);
    r = parse_ok(S, body);
    assert_int_equal(strlen(r.queries[0]), 2000);
    semid_serve_request_free(&r);
    snprintf(body, cap, "{\"queries\": [\"x\", \"%sa\"]}", q);
    expect_err(S, body, 400, "queries[1]", "queries[1] must be 1..2000 bytes");
    /* 1000 x U+00E9 written as escapes: 6000 body bytes, 2000 decoded */
    q[0] = '\0';
    for (int i = 0; i < 1000; i++) strcat(q, "\\u00e9");
    snprintf(body, cap, "{\"query\": \"%s\"}", q);
    r = parse_ok(S, body);
    assert_int_equal(strlen(r.queries[0]), 2000);
    semid_serve_request_free(&r);
    /* 667 x U+20AC (3 bytes each) = 2001 */
    q[0] = '\0';
    for (int i = 0; i < 667; i++) strcat(q, "\xE2\x82\xAC");
    snprintf(body, cap, "{\"query\": \"%s\"}", q);
    expect_err(S, body, 400, "query", "query must be 1..2000 bytes");
    free(q);
    free(body);
}

/* {"queries": [n x "q"]} or {"histories": [n x ["661"]]} or {"history": [n x "661"]} */
static char *repeat_body(const char *head, const char *elem, int n, const char *tail) {
    size_t cap = strlen(head) + (size_t)n * (strlen(elem) + 2) + strlen(tail) + 1;
    char *b = malloc(cap);
    strcpy(b, head);
    size_t len = strlen(b);
    for (int i = 0; i < n; i++) {
        if (i) b[len++] = ',';
        memcpy(b + len, elem, strlen(elem));
        len += strlen(elem);
    }
    strcpy(b + len, tail);
    return b;
}

static void test_batch_and_history_bounds(void **state) {
    (void)state;
    char *b = repeat_body("{\"queries\": [", "\"q\"", SEMID_SERVE_MAX_BATCH, "]}");
    semid_serve_request r = parse_ok(S, b);
    assert_int_equal(r.n_entries, SEMID_SERVE_MAX_BATCH);
    assert_string_equal(r.queries[SEMID_SERVE_MAX_BATCH - 1], "q");
    semid_serve_request_free(&r);
    free(b);
    b = repeat_body("{\"queries\": [", "\"q\"", SEMID_SERVE_MAX_BATCH + 1, "]}");
    expect_err(S, b, 400, "queries", "queries must have 1..1000 entries");
    free(b);
    b = repeat_body("{\"histories\": [", "[\"661\"]", SEMID_SERVE_MAX_BATCH, "]}");
    r = parse_ok(R, b);
    assert_int_equal(r.n_entries, SEMID_SERVE_MAX_BATCH);
    assert_int_equal(r.histories[999][0], 1);
    semid_serve_request_free(&r);
    free(b);
    b = repeat_body("{\"histories\": [", "[\"661\"]", SEMID_SERVE_MAX_BATCH + 1, "]}");
    expect_err(R, b, 400, "histories", "histories must have 1..1000 entries");
    free(b);
    b = repeat_body("{\"history\": [", "\"661\"", SEMID_SERVE_MAX_HISTORY, "]}");
    r = parse_ok(R, b);
    assert_int_equal(r.history_len[0], SEMID_SERVE_MAX_HISTORY);
    semid_serve_request_free(&r);
    free(b);
    b = repeat_body("{\"history\": [", "\"661\"", SEMID_SERVE_MAX_HISTORY + 1, "]}");
    expect_err(R, b, 400, "history", "history must have 1..10000 item ids");
    free(b);
    b = repeat_body("{\"histories\": [[\"661\"], [", "\"661\"", SEMID_SERVE_MAX_HISTORY + 1, "]]}");
    expect_err(R, b, 400, "histories[1]", "histories[1] must have 1..10000 item ids");
    free(b);
    b = repeat_body("{\"query\": \"x\", \"history\": [", "\"661\"", SEMID_SERVE_MAX_HISTORY + 1, "]}");
    expect_err(S, b, 400, "history", "history must have 1..10000 item ids");
    free(b);
}

static void test_histories(void **state) {
    (void)state;
    expect_err(R, "{\"history\": \"1193\"}", 400, "history", "history must be an array of item ids");
    expect_err(R, "{\"history\": []}", 400, "history", "history must have 1..10000 item ids");
    expect_err(R, "{\"history\": [\"1193\", \"nope\"]}", 400, "history[1]", "unknown item id \"nope\"");
    expect_err(R, "{\"history\": [\"1193\", \"\"]}", 400, "history[1]", "unknown item id \"\"");
    expect_err(R, "{\"histories\": [[\"1193\"], [\"661\", \"zzz\"]]}", 400, "histories[1][1]",
               "unknown item id \"zzz\"");
    expect_err(R, "{\"histories\": [[\"1193\"], []]}", 400, "histories[1]", "histories[1] must have 1..10000");
    expect_err(R, "{\"histories\": [\"1193\"]}", 400, "histories[0]", "histories[0] must be an array of item ids");
    expect_err(R, "{\"histories\": []}", 400, "histories", "histories must have 1..1000 entries");
    expect_err(R, "{\"histories\": {\"a\": 1}}", 400, "histories", "histories must be an array");
    expect_err(R, "{\"histories\": [[\"1193\"], [\"661\", 3.5]]}", 400, "histories[1][1]", "must be an item id");
    /* search's personalising history follows the same rules */
    expect_err(S, "{\"query\": \"x\", \"history\": [\"zzz\"]}", 400, "history[0]", "unknown item id \"zzz\"");
    expect_err(S, "{\"query\": \"x\", \"history\": []}", 400, "history", "1..10000");
    expect_err(S, "{\"query\": \"x\", \"history\": \"661\"}", 400, "history", "must be an array");

    /* a long unknown id is cut in the message, at a character boundary */
    char id[700] = "";
    for (int i = 0; i < 200; i++) strcat(id, "\xC3\xA9");
    char body[800];
    snprintf(body, sizeof body, "{\"history\": [\"661\", \"%s\"]}", id);
    expect_err(R, body, 400, "history[1]", "unknown item id \"\xC3\xA9\xC3\xA9");
    semid_serve_request r;
    semid_serve_error e;
    assert_int_equal(semid_serve_request_parse(R, body, strlen(body), fake_lookup, NULL, &r, &e), SEMID_EINVAL);
    assert_true(strlen(e.message) < sizeof e.message);
    assert_non_null(strstr(e.message, "(cut)"));

    /* no lookup: every id is unknown, nothing crashes */
    const char *b2 = "{\"history\": [\"661\"]}";
    assert_int_equal(semid_serve_request_parse(R, b2, strlen(b2), NULL, NULL, &r, &e), SEMID_EINVAL);
    assert_string_equal(e.field, "history[0]");
}

static void test_nul_bytes(void **state) {
    (void)state;
    expect_err(S, "{\"query\": \"a\\u0000b\"}", 400, "query", "query must not contain NUL bytes");
    expect_err(S, "{\"queries\": [\"ok\", \"\\u0000\"]}", 400, "queries[1]", "NUL");
    static const char raw[] = "{\"query\": \"a\0b\"}"; /* a raw NUL byte inside the string */
    expect_err_len(S, raw, sizeof raw - 1, 400, "query", "NUL");
    static const char raw_out[] = "{\"query\": \"ab\"}\0";
    expect_err_len(S, raw_out, sizeof raw_out - 1, 400, "", "malformed JSON");
    static const char raw_in_ws[] = "{\0\"query\": \"ab\"}";
    expect_err_len(S, raw_in_ws, sizeof raw_in_ws - 1, 400, "", "malformed JSON");
    expect_err(R, "{\"history\": [\"661\\u0000\"]}", 400, "history[0]", "must not contain NUL bytes");
    expect_err(R, "{\"histories\": [[\"661\", \"\\u0000661\"]]}", 400, "histories[0][1]", "NUL");
    /* an escaped backslash before u0000 is text, not a NUL */
    semid_serve_request r = parse_ok(S, "{\"query\": \"x\\\\u0000\"}");
    assert_string_equal(r.queries[0], "x\\u0000");
    semid_serve_request_free(&r);
    /* a key holding a NUL is not the key it starts with */
    r = parse_ok(S, "{\"query\": \"x\", \"k\\u0000\": 5000}");
    assert_int_equal(r.k, 10);
    semid_serve_request_free(&r);
    /* \u0000 is 6 bytes; the error offset counts the original bytes */
    expect_err(S, "{\"x\": \"\\u0000\", ]", 400, "", "malformed JSON at byte 16");
}

static void test_malformed(void **state) {
    (void)state;
    expect_err_len(S, "", 0, 400, "", "empty");
    expect_err_len(S, NULL, 0, 400, "", "empty");
    expect_err(S, "{", 400, "", "malformed JSON");
    expect_err(S, "{\"query\": \"x\",}", 400, "", "malformed JSON");
    expect_err(S, "{\"query\": \"x\"", 400, "", "malformed JSON");
    expect_err(S, "{\"query\": \"x\"} x", 400, "", "unexpected text after the object");
    expect_err(S, "{\"query\": \"x\"}{}", 400, "", "unexpected text");
    expect_err(S, "[1]", 400, "", "must be a JSON object");
    expect_err(S, "\"query\"", 400, "", "must be a JSON object");
    expect_err(S, "null", 400, "", "must be a JSON object");
    expect_err(R, "5", 400, "", "must be a JSON object");
    expect_err(S, "{\"query\": \"\\ud800\"}", 400, "", "malformed JSON"); /* lone surrogate escape */
    expect_err(S, "{\"query\": \"\\x41\"}", 400, "", "malformed JSON");
    /* trailing JSON whitespace is fine */
    semid_serve_request r = parse_ok(S, " \t{\"query\": \"x\"} \r\n\t ");
    semid_serve_request_free(&r);
    /* very deep nesting is refused by cJSON's limit, not the stack */
    char *deep = repeat_body("{\"query\": \"x\", \"u\": ", "[", 5000, "");
    expect_err(S, deep, 400, "", "malformed JSON");
    free(deep);
}

static void test_body_size(void **state) {
    (void)state;
    size_t n = SEMID_SERVE_MAX_BODY + 1;
    char *b = malloc(n);
    static const char head[] = "{\"query\": \"x\"}";
    memcpy(b, head, sizeof head - 1);
    memset(b + sizeof head - 1, ' ', n - (sizeof head - 1));
    expect_err_len(S, b, n, 413, "", "over 1048576 bytes");
    /* exactly the limit passes */
    semid_serve_request r = parse_ok_len(S, b, n - 1);
    semid_serve_request_free(&r);
    free(b);
}

static void test_utf8(void **state) {
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        int ok;
    } cases[] = {
        {"", 0, 1},
        {"plain ascii", 11, 1},
        {"a\0b", 3, 1},                     /* NUL is valid UTF-8 */
        {"\xC3\xA9", 2, 1},                 /* U+00E9 */
        {"\xC2\x80", 2, 1},                 /* U+0080, the smallest 2-byte */
        {"\xDF\xBF", 2, 1},                 /* U+07FF */
        {"\xE0\xA0\x80", 3, 1},             /* U+0800, the smallest 3-byte */
        {"\xE2\x82\xAC", 3, 1},             /* U+20AC */
        {"\xED\x9F\xBF", 3, 1},             /* U+D7FF, below the surrogates */
        {"\xEE\x80\x80", 3, 1},             /* U+E000, above them */
        {"\xEF\xBF\xBF", 3, 1},             /* U+FFFF */
        {"\xF0\x90\x80\x80", 4, 1},         /* U+10000 */
        {"\xF4\x8F\xBF\xBF", 4, 1},         /* U+10FFFF */
        {"\xC0\x80", 2, 0},                 /* overlong NUL */
        {"\xC1\xBF", 2, 0},                 /* overlong */
        {"\xE0\x80\x80", 3, 0},             /* overlong */
        {"\xE0\x9F\xBF", 3, 0},             /* overlong U+07FF */
        {"\xF0\x80\x80\x80", 4, 0},         /* overlong */
        {"\xF0\x8F\xBF\xBF", 4, 0},         /* overlong U+FFFF */
        {"\xED\xA0\x80", 3, 0},             /* U+D800 */
        {"\xED\xBF\xBF", 3, 0},             /* U+DFFF */
        {"\xED\xA0\xBD\xED\xB8\x80", 6, 0}, /* CESU-8 surrogate pair */
        {"\xF4\x90\x80\x80", 4, 0},         /* U+110000 */
        {"\xF5\x80\x80\x80", 4, 0},
        {"\xF8\x88\x80\x80\x80", 5, 0}, /* 5-byte form */
        {"\xFF", 1, 0},
        {"\xFE", 1, 0},
        {"\x80", 1, 0},         /* lone continuation */
        {"a\xBF", 2, 0},
        {"\xC3", 1, 0},         /* truncated */
        {"\xE2\x82", 2, 0},
        {"\xF0\x9F\x98", 3, 0},
        {"\xC3\x41", 2, 0},     /* bad continuation */
        {"\xE2\x28\xA1", 3, 0},
        {"\xF0\x9F\x98\x41", 4, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (semid_serve_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok) fprintf(stderr, "utf8 case %zu\n", i);
        assert_int_equal(semid_serve_utf8_valid(cases[i].s, cases[i].len), cases[i].ok);
    }
    /* the length bounds the check: a valid prefix of an invalid string */
    assert_true(semid_serve_utf8_valid("ab\xFF", 2));
    /* truncated just at the end of the range */
    assert_false(semid_serve_utf8_valid("\xE2\x82\xAC", 2));

    /* in a body */
    expect_err(S, "{\"query\": \"caf\xC3\"}", 400, "", "not valid UTF-8");
    expect_err(S, "{\"query\": \"\xED\xA0\x80\"}", 400, "", "not valid UTF-8");
    expect_err(S, "{\"query\": \"\xC0\xAF\"}", 400, "", "not valid UTF-8");
    expect_err(S, "{\"query\": \"\xF4\x90\x80\x80\"}", 400, "", "not valid UTF-8");
    expect_err(R, "{\"history\": [\"\xFF\"]}", 400, "", "not valid UTF-8");
    semid_serve_request r = parse_ok(S, "{\"query\": \"\xF4\x8F\xBF\xBF caf\xC3\xA9\"}");
    assert_string_equal(r.queries[0], "\xF4\x8F\xBF\xBF caf\xC3\xA9");
    semid_serve_request_free(&r);
    /* a UTF-8 byte-order mark is skipped */
    r = parse_ok(S, "\xEF\xBB\xBF{\"query\": \"x\"}");
    semid_serve_request_free(&r);
}

static void test_error_json(void **state) {
    (void)state;
    semid_serve_error e;
    semid_serve_error_set(&e, 404, NULL, "unknown item id \"%s\"\n\t\\", "x\"y");
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.field, "");
    char *js = semid_serve_error_json(&e);
    assert_non_null(js);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring, "unknown item id \"x\"y\"\n\t\\");
    assert_null(cJSON_GetObjectItemCaseSensitive(err, "field"));
    cJSON_Delete(j);
    free(js);

    /* long field and message are cut at a UTF-8 boundary */
    char longmsg[1000] = "";
    for (int i = 0; i < 300; i++) strcat(longmsg, "\xE2\x82\xAC");
    semid_serve_error_set(&e, 400, longmsg, "%s", longmsg);
    assert_true(strlen(e.field) < sizeof e.field);
    assert_true(strlen(e.message) < sizeof e.message);
    assert_int_equal(strlen(e.field) % 3, 0);
    assert_int_equal(strlen(e.message) % 3, 0);
    assert_true(semid_serve_utf8_valid(e.field, strlen(e.field)));
    assert_true(semid_serve_utf8_valid(e.message, strlen(e.message)));
    js = semid_serve_error_json(&e);
    j = cJSON_Parse(js);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"), "field")->valuestring,
                        e.field);
    cJSON_Delete(j);
    free(js);

    /* a struct whose strings are not terminated is not over-read */
    memset(&e, 'z', sizeof e);
    js = semid_serve_error_json(&e);
    assert_non_null(js);
    j = cJSON_Parse(js);
    assert_non_null(j);
    assert_int_equal(strlen(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error"), "message")
                                ->valuestring),
                     sizeof e.message);
    cJSON_Delete(j);
    free(js);
}

/* ---- answers ---- */

static const char *const r_ids[] = {"1193", "661", "914", "q\"uote"};
static const char *const r_titles[] = {"One Flew Over the Cuckoo's Nest", "James and the Giant Peach",
                                       "My Fair Lady", "Bad \xFF title\n"};
static const int32_t r_years[] = {1975, 1996, 0, 2001};
static const char *const r_genres[] = {"Drama", "Animation, Children's ,Musical", "", ",, ,"};
static const int64_t r_pop[] = {1725, 128, 416, 3};
static const int32_t r_sid_search[] = {12, 201, 0, 3, 4, 1, 7, 7, 2, 9, 9, 9};
static const int32_t r_sid_rec[] = {5, 0, 6, 1, 7, 0, 8, 2};

static semid_serve_catalog test_catalog(void) {
    semid_serve_catalog c = {0};
    c.n_items = 4;
    c.ids = r_ids;
    c.titles = r_titles;
    c.years = r_years;
    c.genres = r_genres;
    c.popularity = r_pop;
    c.sid[SEMID_SERVE_SEARCH] = r_sid_search;
    c.n_levels[SEMID_SERVE_SEARCH] = 3;
    c.sid[SEMID_SERVE_RECOMMEND] = r_sid_rec;
    c.n_levels[SEMID_SERVE_RECOMMEND] = 2;
    return c;
}

static cJSON *parse_back(char *js) {
    assert_non_null(js);
    assert_true(semid_serve_utf8_valid(js, strlen(js)));
    cJSON *j = cJSON_Parse(js);
    if (!j) fprintf(stderr, "not JSON: %s\n", js);
    assert_non_null(j);
    free(js);
    return j;
}

static const cJSON *key(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) fprintf(stderr, "missing key %s\n", k);
    assert_non_null(v);
    return v;
}

static void check_sid(const cJSON *arr, const int32_t *codes, int n) {
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), n);
    for (int i = 0; i < n; i++) assert_int_equal(cJSON_GetArrayItem(arr, i)->valueint, codes[i]);
}

static void test_results_json(void **state) {
    (void)state;
    semid_serve_catalog cat = test_catalog();
    const int32_t items[] = {0, 2, -1, 3, 1, 0};
    const float scores[] = {-0.81234f, -1.5f, 0.0f, NAN, -2.00004f, -3.0f};
    const int32_t n_hits[] = {2, 3}, n_invalid[] = {1, 0}, n_unknown[] = {3, 0};
    semid_serve_hits h = {.n = 1, .k = 3, .items = items, .scores = scores, .n_hits = n_hits, .n_invalid = n_invalid,
                          .n_unknown = n_unknown};

    char *text = semid_serve_results_json(&cat, SEMID_SERVE_SEARCH, &h, 0, "3f2a9c1e07d4b6a5-1", 3.14159);
    assert_non_null(strstr(text, "\"score\": -0.8123,"));
    assert_non_null(strstr(text, "\"took_ms\": 3.142"));
    cJSON *j = parse_back(text);
    const cJSON *res = key(j, "results");
    assert_int_equal(cJSON_GetArraySize(res), 2);
    const cJSON *r0 = cJSON_GetArrayItem(res, 0), *r1 = cJSON_GetArrayItem(res, 1);
    assert_string_equal(key(r0, "id")->valuestring, "1193");
    assert_string_equal(key(r0, "title")->valuestring, "One Flew Over the Cuckoo's Nest");
    assert_true(fabs(key(r0, "score")->valuedouble - -0.8123) < 1e-9);
    check_sid(key(r0, "sid"), r_sid_search + 0, 3);
    assert_string_equal(key(r1, "id")->valuestring, "914");
    assert_true(fabs(key(r1, "score")->valuedouble - -1.5) < 1e-9);
    check_sid(key(r1, "sid"), r_sid_search + 6, 3);
    assert_int_equal(key(j, "unknown_words")->valueint, 3);
    assert_int_equal(key(j, "invalid_beams")->valueint, 1);
    assert_string_equal(key(j, "model_version")->valuestring, "3f2a9c1e07d4b6a5-1");
    assert_true(fabs(key(j, "took_ms")->valuedouble - 3.142) < 1e-9);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "responses"));
    cJSON_Delete(j);

    /* recommend: rec codes, no unknown_words; the second entry holds odd text and a NaN */
    h.items = items + 3;
    h.scores = scores + 3;
    h.n_hits = n_hits + 1;
    h.n_invalid = n_invalid + 1;
    h.n_unknown = NULL;
    j = parse_back(semid_serve_results_json(&cat, SEMID_SERVE_RECOMMEND, &h, 0, "v", 0.5));
    res = key(j, "results");
    assert_int_equal(cJSON_GetArraySize(res), 3);
    r0 = cJSON_GetArrayItem(res, 0);
    assert_string_equal(key(r0, "id")->valuestring, "q\"uote");
    assert_string_equal(key(r0, "title")->valuestring, "Bad \xEF\xBF\xBD title\n"); /* U+FFFD */
    assert_true(cJSON_IsNull(key(r0, "score")));
    check_sid(key(r0, "sid"), r_sid_rec + 6, 2);
    check_sid(key(cJSON_GetArrayItem(res, 1), "sid"), r_sid_rec + 2, 2);
    assert_true(fabs(key(cJSON_GetArrayItem(res, 1), "score")->valuedouble - -2.0) < 1e-9);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "unknown_words"));
    assert_int_equal(key(j, "invalid_beams")->valueint, 0);
    cJSON_Delete(j);

    /* batch: one object per entry, in order; model_version and took_ms once */
    h.n = 2;
    h.items = items;
    h.scores = scores;
    h.n_hits = n_hits;
    h.n_invalid = n_invalid;
    h.n_unknown = n_unknown;
    j = parse_back(semid_serve_results_json(&cat, SEMID_SERVE_SEARCH, &h, 1, "v2", 12));
    const cJSON *resp = key(j, "responses");
    assert_int_equal(cJSON_GetArraySize(resp), 2);
    const cJSON *e0 = cJSON_GetArrayItem(resp, 0), *e1 = cJSON_GetArrayItem(resp, 1);
    assert_int_equal(cJSON_GetArraySize(key(e0, "results")), 2);
    assert_int_equal(cJSON_GetArraySize(key(e1, "results")), 3);
    assert_string_equal(key(cJSON_GetArrayItem(key(e1, "results"), 1), "id")->valuestring, "661");
    assert_int_equal(key(e0, "unknown_words")->valueint, 3);
    assert_int_equal(key(e0, "invalid_beams")->valueint, 1);
    assert_int_equal(key(e1, "unknown_words")->valueint, 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(e0, "model_version"));
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "results"));
    assert_string_equal(key(j, "model_version")->valuestring, "v2");
    assert_true(fabs(key(j, "took_ms")->valuedouble - 12) < 1e-9);
    cJSON_Delete(j);

    /* no n_hits: hits end at the first -1; out-of-range indices are left out */
    const int32_t items2[] = {1, 99, -7, 0, -1, 2};
    const float scores2[] = {-1, -2, -3, -4, -5, -6};
    semid_serve_hits h2 = {.n = 1, .k = 6, .items = items2, .scores = scores2};
    j = parse_back(semid_serve_results_json(&cat, SEMID_SERVE_SEARCH, &h2, 0, NULL, NAN));
    res = key(j, "results");
    assert_int_equal(cJSON_GetArraySize(res), 1);
    assert_string_equal(key(cJSON_GetArrayItem(res, 0), "id")->valuestring, "661");
    assert_int_equal(key(j, "unknown_words")->valueint, 0);
    assert_string_equal(key(j, "model_version")->valuestring, "");
    assert_true(key(j, "took_ms")->valuedouble == 0);
    cJSON_Delete(j);

    /* an empty batch and a catalog without sids */
    semid_serve_catalog bare = {.n_items = 4, .ids = r_ids};
    h.n = 0;
    j = parse_back(semid_serve_results_json(&bare, SEMID_SERVE_RECOMMEND, &h, 1, "v", 1));
    assert_int_equal(cJSON_GetArraySize(key(j, "responses")), 0);
    cJSON_Delete(j);
    h.n = 1;
    j = parse_back(semid_serve_results_json(&bare, SEMID_SERVE_RECOMMEND, &h, 0, "v", 1));
    r0 = cJSON_GetArrayItem(key(j, "results"), 0);
    assert_string_equal(key(r0, "title")->valuestring, "");
    assert_int_equal(cJSON_GetArraySize(key(r0, "sid")), 0);
    cJSON_Delete(j);
}

static void test_item_json(void **state) {
    (void)state;
    semid_serve_catalog cat = test_catalog();
    cJSON *j = parse_back(semid_serve_item_json(&cat, 1));
    assert_string_equal(key(j, "id")->valuestring, "661");
    assert_string_equal(key(j, "title")->valuestring, "James and the Giant Peach");
    assert_int_equal(key(j, "year")->valueint, 1996);
    const cJSON *g = key(j, "genres");
    assert_int_equal(cJSON_GetArraySize(g), 3);
    assert_string_equal(cJSON_GetArrayItem(g, 0)->valuestring, "Animation");
    assert_string_equal(cJSON_GetArrayItem(g, 1)->valuestring, "Children's");
    assert_string_equal(cJSON_GetArrayItem(g, 2)->valuestring, "Musical");
    assert_int_equal(key(j, "popularity")->valueint, 128);
    const cJSON *sid = key(j, "sid");
    check_sid(key(sid, "search"), r_sid_search + 3, 3);
    check_sid(key(sid, "rec"), r_sid_rec + 2, 2);
    cJSON_Delete(j);

    j = parse_back(semid_serve_item_json(&cat, 2));
    assert_true(cJSON_IsNull(key(j, "year")));
    assert_int_equal(cJSON_GetArraySize(key(j, "genres")), 0);
    cJSON_Delete(j);
    j = parse_back(semid_serve_item_json(&cat, 3));
    assert_int_equal(cJSON_GetArraySize(key(j, "genres")), 0);
    assert_string_equal(key(j, "id")->valuestring, "q\"uote");
    cJSON_Delete(j);

    assert_null(semid_serve_item_json(&cat, 4));
    assert_null(semid_serve_item_json(&cat, -1));
    assert_null(semid_serve_item_json(NULL, 0));
}

static void test_typeahead(void **state) {
    (void)state;
    const char *const titles[] = {"Star Wars",  "Star Trek",         "Starship Troopers", "Lone Star", "The Wars of Stars",
                                  "Don't Look Now", NULL,            "STARDUST",          "Trek"};
    const int64_t pop[] = {10, 50, 50, 5, 100, 1, 1000, 50, 7};
    const int32_t n = 9;
    int32_t out[16];
    int32_t m = semid_serve_typeahead(titles, pop, n, "star", 10, out);
    assert_int_equal(m, 6);
    const int32_t want1[] = {4, 1, 2, 7, 0, 3};
    for (int i = 0; i < m; i++) assert_int_equal(out[i], want1[i]);
    m = semid_serve_typeahead(titles, pop, n, "star", 3, out);
    assert_int_equal(m, 3);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 2);
    m = semid_serve_typeahead(titles, pop, n, "  STAR, wa ", 10, out); /* every word must match */
    assert_int_equal(m, 2);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 0);
    m = semid_serve_typeahead(titles, pop, n, "trek star", 10, out);
    assert_int_equal(m, 1);
    assert_int_equal(out[0], 1);
    m = semid_serve_typeahead(titles, pop, n, "st tr", 10, out);
    assert_int_equal(m, 2);
    assert_int_equal(out[0], 1); /* tie at 50: lower index first */
    assert_int_equal(out[1], 2);
    m = semid_serve_typeahead(titles, pop, n, "dont", 10, out);
    assert_int_equal(m, 1);
    assert_int_equal(out[0], 5);
    m = semid_serve_typeahead(titles, pop, n, "don't lo", 10, out);
    assert_int_equal(m, 1);
    m = semid_serve_typeahead(titles, pop, n, "ars", 10, out); /* a prefix, not a substring */
    assert_int_equal(m, 0);
    m = semid_serve_typeahead(titles, pop, n, "stars wars the", 10, out);
    assert_int_equal(m, 1);
    assert_int_equal(out[0], 4);
    /* no words: the most popular items (the NULL title never) */
    m = semid_serve_typeahead(titles, pop, n, " ?! ", 4, out);
    assert_int_equal(m, 4);
    assert_int_equal(out[0], 4);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 2);
    assert_int_equal(out[3], 7);
    /* no popularity: index order */
    m = semid_serve_typeahead(titles, NULL, n, "star", 10, out);
    assert_int_equal(m, 6);
    const int32_t want2[] = {0, 1, 2, 3, 4, 7};
    for (int i = 0; i < m; i++) assert_int_equal(out[i], want2[i]);
    assert_int_equal(semid_serve_typeahead(titles, pop, n, "star", 0, out), 0);
    assert_int_equal(semid_serve_typeahead(titles, pop, 0, "star", 10, out), 0);
    assert_int_equal(semid_serve_typeahead(titles, pop, n, NULL, 1, out), 1);
    /* a limit of 1 keeps the best one wherever it comes */
    m = semid_serve_typeahead(titles, pop, n, "tr", 1, out);
    assert_int_equal(m, 1);
    assert_int_equal(out[0], 1);

    semid_serve_catalog cat = test_catalog();
    const int32_t idx[] = {3, 0, 17, 2};
    cJSON *j = parse_back(semid_serve_typeahead_json(&cat, idx, 4));
    const cJSON *items = key(j, "items");
    assert_int_equal(cJSON_GetArraySize(items), 3);
    const cJSON *i0 = cJSON_GetArrayItem(items, 0), *i1 = cJSON_GetArrayItem(items, 1);
    assert_string_equal(key(i0, "id")->valuestring, "q\"uote");
    assert_int_equal(key(i0, "year")->valueint, 2001);
    assert_int_equal(key(i0, "popularity")->valueint, 3);
    assert_string_equal(key(i1, "title")->valuestring, "One Flew Over the Cuckoo's Nest");
    assert_int_equal(key(i1, "popularity")->valueint, 1725);
    assert_true(cJSON_IsNull(key(cJSON_GetArrayItem(items, 2), "year")));
    assert_null(cJSON_GetObjectItemCaseSensitive(i0, "sid"));
    cJSON_Delete(j);
    j = parse_back(semid_serve_typeahead_json(&cat, NULL, 0));
    assert_int_equal(cJSON_GetArraySize(key(j, "items")), 0);
    cJSON_Delete(j);
}

static void test_health_and_buf(void **state) {
    (void)state;
    cJSON *j = parse_back(semid_serve_health_json("v\"1", 3416));
    assert_string_equal(key(j, "status")->valuestring, "ok");
    assert_string_equal(key(j, "model_version")->valuestring, "v\"1");
    assert_int_equal(key(j, "items")->valueint, 3416);
    cJSON_Delete(j);

    /* the buffer grows past any initial size; control bytes are escaped */
    semid_serve_buf b = {0};
    semid_serve_buf_putn(&b, "[", 1);
    for (int i = 0; i < 5000; i++) semid_serve_buf_printf(&b, "%s%d", i ? "," : "", i);
    semid_serve_buf_puts(&b, ",");
    semid_serve_buf_json_string(&b, "\x01\x1f\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xED\xA0\x80");
    semid_serve_buf_puts(&b, "]");
    char *text = semid_serve_buf_finish(&b);
    assert_null(b.data);
    assert_non_null(strstr(text, "\\u0001\\u001f\x7f"));
    j = parse_back(text);
    assert_int_equal(cJSON_GetArraySize(j), 5001);
    assert_int_equal(cJSON_GetArrayItem(j, 4999)->valueint, 4999);
    assert_string_equal(cJSON_GetArrayItem(j, 5000)->valuestring,
                        "\x01\x1f\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    cJSON_Delete(j);
    /* an empty buffer finishes as "" */
    text = semid_serve_buf_finish(&b);
    assert_string_equal(text, "");
    free(text);
    semid_serve_buf_puts(&b, "x");
    semid_serve_buf_discard(&b);
    assert_null(b.data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_defaults),
        cmocka_unit_test(test_search_every_key),
        cmocka_unit_test(test_beam_at_least_k),
        cmocka_unit_test(test_recommend_defaults_and_keys),
        cmocka_unit_test(test_numeric_ids),
        cmocka_unit_test(test_keys_exact),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_booleans_and_weight),
        cmocka_unit_test(test_rerank_keys),
        cmocka_unit_test(test_missing_and_both),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_batch_and_history_bounds),
        cmocka_unit_test(test_histories),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_body_size),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_results_json),
        cmocka_unit_test(test_item_json),
        cmocka_unit_test(test_typeahead),
        cmocka_unit_test(test_health_and_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
