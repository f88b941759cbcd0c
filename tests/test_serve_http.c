/* semid serve end to end, in process: answers equal the in-process
 * decoder's, concurrent requests are coalesced without mixing rows, a reload
 * under load fails no request, client mistakes get their 4xx, personalised
 * search leaves out the history, and a stop drains requests in flight.
 * Also built with ThreadSanitizer (make check: test-tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "gen/catalog.h"
#include "gen/dense.h"
#include "gen/generate.h"
#include "serve/server.h"
#include "support/serve/serve_fixture.h"
#include "support/testutil.h"

static char *tmpdir, *model_dir, *first_id;
static semid_gen_bundle *bundle;

static const char *const queries[] = {"space adventure", "a dark crime story", "funny family comedy",
                                      "war drama",       "love in paris",      "robots and aliens",
                                      "a thriller",      "horror night"};
enum { N_QUERIES = sizeof queries / sizeof queries[0] };

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    if (!tmpdir || serve_fixture_train(tmpdir, &first_id) != 0) return -1;
    model_dir = semid_path_join(tmpdir, "model");
    return semid_gen_bundle_load(model_dir, &bundle) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_gen_bundle_free(bundle);
    test_rm_rf(tmpdir);
    free(tmpdir), free(model_dir), free(first_id);
    return 0;
}

static semid_server *start_with(double wait_ms, int max_batch, int max_connections, int timeout_s) {
    semid_serve_config cfg = semid_serve_defaults();
    cfg.max_connections = max_connections;
    cfg.timeout_s = timeout_s;
    cfg.model_dir = model_dir;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.batch_wait_ms = wait_ms;
    cfg.max_batch = max_batch;
    semid_server *s = NULL;
    semid_status st = semid_server_start(&cfg, &s);
    if (st != SEMID_OK) fprintf(stderr, "start: %s\n", semid_last_error());
    assert_int_equal(st, SEMID_OK);
    assert_true(semid_server_port(s) > 0);
    return s;
}

static semid_server *start(double wait_ms, int max_batch) { return start_with(wait_ms, max_batch, 256, 30); }

static cJSON *post_json(int port, const char *path, const char *body, int want_status) {
    http_reply r = http_request(port, "POST", path, body, strlen(body));
    if (r.status != want_status) fprintf(stderr, "%s %s -> %d %s\n", path, body, r.status, r.body ? r.body : "");
    assert_int_equal(r.status, want_status);
    cJSON *j = cJSON_Parse(r.body);
    assert_non_null(j);
    http_reply_free(&r);
    return j;
}

/* The ids of a "results" array, and checks each result's sid has codes. */
static int result_ids(const cJSON *obj, char ids[][32], int max) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(obj, "results"), *it;
    assert_true(cJSON_IsArray(res));
    int n = 0;
    cJSON_ArrayForEach(it, res) {
        assert_true(n < max);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        assert_true(cJSON_IsString(id));
        snprintf(ids[n++], 32, "%s", id->valuestring);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "sid")), bundle->table.n_levels);
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "title")));
    }
    return n;
}

/* What the in-process decoder returns for one query, as ids. */
static int expected_search(const char *q, int k, char ids[][32]) {
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = k;
    o.beam.beam_size = 30;
    semid_beam_hits h;
    assert_int_equal(semid_gen_search(bundle, &q, 1, &o, &h, NULL), SEMID_OK);
    int n = h.n_hits[0];
    for (int j = 0; j < n; j++) snprintf(ids[j], 32, "%s", bundle->item_ids[h.items[j]]);
    semid_beam_hits_free(&h);
    return n;
}

static void assert_same_ids(char a[][32], int na, char b[][32], int nb) {
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
}

static void test_answers_match_decoder(void **state) {
    (void)state;
    semid_server *s = start(0, 64);
    int port = semid_server_port(s);
    char got[64][32], want[64][32];
    for (int q = 0; q < N_QUERIES; q++) {
        char body[256];
        snprintf(body, sizeof body, "{\"query\": \"%s\", \"k\": 10}", queries[q]);
        cJSON *j = post_json(port, "/v1/search", body, 200);
        assert_same_ids(got, result_ids(j, got, 64), want, expected_search(queries[q], 10, want));
        assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "model_version")));
        cJSON_Delete(j);
    }
    /* The batch form gives the same rows in order. */
    cJSON *j = post_json(port, "/v1/search", "{\"queries\": [\"war drama\", \"space adventure\"], \"k\": 10}", 200);
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(j, "responses");
    assert_int_equal(cJSON_GetArraySize(resp), 2);
    assert_same_ids(got, result_ids(cJSON_GetArrayItem(resp, 0), got, 64), want, expected_search("war drama", 10, want));
    assert_same_ids(got, result_ids(cJSON_GetArrayItem(resp, 1), got, 64), want,
                    expected_search("space adventure", 10, want));
    cJSON_Delete(j);
    /* Recommendation against semid_gen_recommend. */
    int32_t hist[2] = {0, 1};
    const int32_t *hp = hist;
    int64_t hl = 2;
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = 5;
    semid_beam_hits h;
    assert_int_equal(semid_gen_recommend(bundle, &hp, &hl, 1, &o, &h), SEMID_OK);
    char body[256];
    snprintf(body, sizeof body, "{\"history\": [\"%s\", \"%s\"], \"k\": 5}", bundle->item_ids[0], bundle->item_ids[1]);
    j = post_json(port, "/v1/recommend", body, 200);
    int n = result_ids(j, got, 64);
    assert_int_equal(n, h.n_hits[0]);
    for (int i = 0; i < n; i++) assert_string_equal(got[i], bundle->item_ids[h.items[i]]);
    semid_beam_hits_free(&h);
    cJSON_Delete(j);
    assert_int_equal(semid_server_stop(s, 5), 0);
}

/* The first id each query gets alone (filled by the main thread). */
static char expected_first[N_QUERIES][32];

typedef struct client {
    int port, id, rounds, failures, mismatches;
} client;

static void *run_client(void *arg) {
    client *c = arg;
    for (int r = 0; r < c->rounds; r++) {
        const char *q = queries[(c->id + r) % N_QUERIES];
        char body[256];
        snprintf(body, sizeof body, "{\"query\": \"%s\", \"k\": 10}", q);
        http_reply rep = http_request(c->port, "POST", "/v1/search", body, strlen(body));
        cJSON *j = rep.status == 200 ? cJSON_Parse(rep.body) : NULL;
        if (!j) c->failures++;
        else {
            /* Compare with the answer this query gets alone (precomputed in
             * the expected_* table by the main thread). */
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results");
            const cJSON *first = cJSON_GetArrayItem(res, 0);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(first, "id");
            if (!cJSON_IsString(id) || strcmp(id->valuestring, expected_first[(c->id + r) % N_QUERIES]) != 0)
                c->mismatches++;
        }
        cJSON_Delete(j);
        http_reply_free(&rep);
        /* Every other client also asks for a recommendation and an item. */
        if (c->id % 2) {
            char rb[128];
            snprintf(rb, sizeof rb, "{\"history\": [\"%s\"], \"k\": 5}", first_id);
            rep = http_request(c->port, "POST", "/v1/recommend", rb, strlen(rb));
            if (rep.status != 200) c->failures++;
            http_reply_free(&rep);
        }
    }
    return NULL;
}

static long metric_value(int port, const char *prefix) {
    http_reply r = http_request(port, "GET", "/metrics", NULL, 0);
    assert_int_equal(r.status, 200);
    char *p = strstr(r.body, prefix);
    long v = p ? strtol(p + strlen(prefix), NULL, 10) : -1;
    http_reply_free(&r);
    return v;
}

/* 8 clients at once, with a wait long enough to coalesce: every answer is
 * the query's own (rows never mix), some decodes held several requests,
 * and reloads in the middle fail nothing. */
static void test_concurrent_coalesced_with_reloads(void **state) {
    (void)state;
    char ids[64][32];
    for (int q = 0; q < N_QUERIES; q++) {
        assert_true(expected_search(queries[q], 10, ids) > 0);
        snprintf(expected_first[q], 32, "%s", ids[0]);
    }
    semid_server *s = start(20, 64);
    int port = semid_server_port(s);
    enum { CLIENTS = 8 };
    client c[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = (client){.port = port, .id = i, .rounds = 6};
        assert_int_equal(pthread_create(&th[i], NULL, run_client, &c[i]), 0);
    }
    char v0[64], v1[64];
    semid_server_model_version(s, v0, sizeof v0);
    for (int r = 0; r < 3; r++) assert_int_equal(semid_server_reload(s), SEMID_OK);
    semid_server_model_version(s, v1, sizeof v1);
    assert_string_not_equal(v0, v1);
    for (int i = 0; i < CLIENTS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal(c[i].failures, 0);
        assert_int_equal(c[i].mismatches, 0);
    }
    /* Decodes of one entry are at most all of them; some held more. */
    long single = metric_value(port, "semid_batch_size_bucket{le=\"1\"} ");
    long all = metric_value(port, "semid_batch_size_count ");
    assert_true(all > 0);
    assert_true(single < all);
    assert_int_equal(metric_value(port, "semid_model_reloads_total{result=\"ok\"} "), 3);
    assert_int_equal(semid_server_stop(s, 5), 0);
}

static void expect_error(int port, const char *method, const char *path, const char *body, size_t len, int status,
                         const char *field) {
    http_reply r = http_request(port, method, path, body, body && !len ? strlen(body) : len);
    if (r.status != status) fprintf(stderr, "%s %s -> %d %s\n", method, path, r.status, r.body ? r.body : "");
    assert_int_equal(r.status, status);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
    if (field) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "field");
        if (!cJSON_IsString(f)) fprintf(stderr, "%s %s: no field in %s\n", method, path, r.body);
        assert_true(cJSON_IsString(f));
        assert_string_equal(f->valuestring, field);
    }
    if (status == 405) assert_non_null(strstr(r.headers, "Allow: "));
    cJSON_Delete(j);
    http_reply_free(&r);
}

static void test_client_mistakes(void **state) {
    (void)state;
    semid_server *s = start(0, 64);
    int port = semid_server_port(s);
    expect_error(port, "POST", "/v1/search", "{\"query\": ", 0, 400, NULL);
    expect_error(port, "POST", "/v1/search", "{\"query\": \"x\", \"k\": \"ten\"}", 0, 400, "k");
    expect_error(port, "POST", "/v1/search", "{\"query\": \"x\", \"beam\": 100000}", 0, 400, "beam");
    expect_error(port, "POST", "/v1/search", "{\"k\": 3}", 0, 400, "query");
    expect_error(port, "POST", "/v1/search", "{\"query\": \"\xff\xfe\"}", 0, 400, NULL);
    expect_error(port, "POST", "/v1/recommend", "{\"history\": [\"no-such-item\"]}", 0, 400, "history[0]");
    expect_error(port, "GET", "/v1/search", NULL, 0, 405, NULL);
    expect_error(port, "DELETE", "/healthz", NULL, 0, 405, NULL);
    expect_error(port, "GET", "/v2/whatever", NULL, 0, 404, NULL);
    expect_error(port, "GET", "/v1/items/no-such-item", NULL, 0, 404, "id");
    expect_error(port, "GET", "/v1/items?limit=1000", NULL, 0, 400, "limit");
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    expect_error(port, "POST", "/v1/search", huge, big, 413, NULL);
    free(huge);
    /* The server still answers, and counted the 4xx answers. */
    http_reply r = http_request(port, "GET", "/healthz", NULL, 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(metric_value(port, "semid_errors_total "), 0);
    assert_int_equal(metric_value(port, "semid_requests_total{endpoint=\"search\",code=\"400\"} "), 5);
    assert_int_equal(semid_server_stop(s, 5), 0);
}

static void test_items_and_page(void **state) {
    (void)state;
    semid_server *s = start(0, 64);
    int port = semid_server_port(s);
    char path[128];
    snprintf(path, sizeof path, "/v1/items/%s", first_id);
    http_reply r = http_request(port, "GET", path, NULL, 0);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "title")->valuestring, bundle->titles[0]);
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "sid");
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(sid, "search");
    assert_int_equal(cJSON_GetArraySize(codes), bundle->table.n_levels);
    for (int l = 0; l < bundle->table.n_levels; l++)
        assert_int_equal(cJSON_GetArrayItem(codes, l)->valueint, bundle->table.codes[l]);
    cJSON_Delete(j);
    http_reply_free(&r);
    /* Type-ahead on the first word of the first title finds that item. */
    char word[64] = "";
    sscanf(bundle->titles[0], "%63[A-Za-z]", word);
    snprintf(path, sizeof path, "/v1/items?q=%s&limit=100", word);
    r = http_request(port, "GET", path, NULL, 0);
    assert_int_equal(r.status, 200);
    char needle[64];
    snprintf(needle, sizeof needle, "\"id\": \"%s\"", first_id);
    assert_non_null(strstr(r.body, needle));
    http_reply_free(&r);
    r = http_request(port, "GET", "/", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/html"));
    assert_non_null(strstr(r.body, "<html"));
    http_reply_free(&r);
    assert_int_equal(semid_server_stop(s, 5), 0);
}

/* Personalised search never returns the history's items and keeps only
 * candidates of the plain search's widened beam. */
static void test_personalised_search(void **state) {
    (void)state;
    semid_server *s = start(0, 64);
    int port = semid_server_port(s);
    char plain[64][32], pers[64][32];
    cJSON *j = post_json(port, "/v1/search", "{\"query\": \"space adventure\", \"k\": 30}", 200);
    int np = result_ids(j, plain, 64);
    cJSON_Delete(j);
    /* The history: the plain search's top two items. */
    char body[256];
    snprintf(body, sizeof body, "{\"query\": \"space adventure\", \"k\": 10, \"history\": [\"%s\", \"%s\"]}", plain[0],
             plain[1]);
    j = post_json(port, "/v1/search", body, 200);
    int n = result_ids(j, pers, 64);
    cJSON_Delete(j);
    assert_true(n > 0 && n <= 10);
    for (int i = 0; i < n; i++) {
        assert_string_not_equal(pers[i], plain[0]);
        assert_string_not_equal(pers[i], plain[1]);
        int found = 0;
        for (int t = 0; t < np && !found; t++) found = !strcmp(pers[i], plain[t]);
        assert_true(found);
    }
    assert_int_equal(semid_server_stop(s, 5), 0);
}

/* A model trained with the third task reads search's history in the
 * prompt: one decode, the answers those of semid_gen_search_personal, for
 * every query of a batch. */
static void test_prompt_personalised_search(void **state) {
    (void)state;
    char *out = NULL, *pdir = semid_path_join(tmpdir, "pmodel");
    int rc = test_run_clif(&out,
                           "train --dataset %s/ds.sdd --sids %s/sid.json --out %s --layers 1 --dim 16 --heads 2 "
                           "--epochs 1 --batch 16 --threads 1 --valid-sample 10 --personal-share 0.3 --quiet",
                           tmpdir, tmpdir, pdir);
    if (rc != 0) fprintf(stderr, "%s\n", out ? out : "");
    assert_int_equal(rc, 0);
    free(out);
    semid_gen_bundle *pb;
    assert_int_equal(semid_gen_bundle_load(pdir, &pb), SEMID_OK);
    assert_true(pb->personal);
    semid_serve_config cfg = semid_serve_defaults();
    cfg.model_dir = pdir;
    cfg.port = 0;
    cfg.threads = 1;
    semid_server *s = NULL;
    assert_int_equal(semid_server_start(&cfg, &s), SEMID_OK);
    int port = semid_server_port(s);
    char body[512];
    snprintf(body, sizeof body, "{\"queries\": [\"space adventure\", \"a thriller\"], \"k\": 8, \"history\": [\"%s\", \"%s\"]}",
             pb->item_ids[0], pb->item_ids[1]);
    cJSON *j = post_json(port, "/v1/search", body, 200);
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(j, "responses");
    assert_int_equal(cJSON_GetArraySize(resp), 2);
    const char *qs[2] = {"space adventure", "a thriller"};
    int32_t hist[2] = {0, 1};
    const int32_t *hp[2] = {hist, hist};
    int64_t lens[2] = {2, 2};
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = 8;
    semid_beam_hits h;
    assert_int_equal(semid_gen_search_personal(pb, qs, hp, lens, 2, &o, &h, NULL), SEMID_OK);
    for (int q = 0; q < 2; q++) {
        char ids[64][32];
        int n = result_ids(cJSON_GetArrayItem(resp, q), ids, 64);
        assert_int_equal(n, h.n_hits[q]);
        for (int i = 0; i < n; i++) {
            assert_string_equal(ids[i], pb->item_ids[h.items[q * h.k + i]]);
            assert_true(h.items[q * h.k + i] > 1); /* the history is left out */
        }
    }
    semid_beam_hits_free(&h);
    cJSON_Delete(j);
    assert_int_equal(semid_server_stop(s, 5), 0);
    semid_gen_bundle_free(pb);
    free(pdir);
}

typedef struct slow_call {
    int port, status;
} slow_call;

static void *run_slow(void *arg) {
    slow_call *c = arg;
    /* A batch of 200 queries at beam 200: a decode long enough to be
     * running when the stop comes. */
    size_t cap = 200 * 32 + 64, len = 0;
    char *body = malloc(cap);
    len += (size_t)snprintf(body, cap, "{\"k\": 50, \"beam\": 200, \"queries\": [");
    for (int i = 0; i < 200; i++) len += (size_t)snprintf(body + len, cap - len, "%s\"%s\"", i ? "," : "", queries[i % N_QUERIES]);
    len += (size_t)snprintf(body + len, cap - len, "]}");
    http_reply r = http_request(c->port, "POST", "/v1/search", body, len);
    c->status = r.status;
    http_reply_free(&r);
    free(body);
    return NULL;
}

/* A stop while a request is decoding lets it finish. */
static void test_stop_drains(void **state) {
    (void)state;
    semid_server *s = start(0, 1000);
    slow_call c = {.port = semid_server_port(s)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_slow, &c), 0);
    /* Stop once the request is in. */
    for (int i = 0; i < 2000 && semid_server_in_flight(s) == 0; i++) {
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(semid_server_in_flight(s), 1);
    assert_int_equal(semid_server_stop(s, 60), 0);
    pthread_join(th, NULL);
    assert_int_equal(c.status, 200);
}

static int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* 1 if the server closed fd within `seconds` (read gives 0 or an error). */
static int closed_within(int fd, int seconds) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, seconds * 1000) <= 0) return 0;
    char c;
    return read(fd, &c, 1) <= 0;
}

/* A client that sends half a request and stalls is cut off after the
 * timeout. Past the connection limit a client is not served: libmicrohttpd
 * either closes it at once or leaves it waiting in the listen queue until a
 * slot frees, so its request is answered only after one of the others
 * closes. */
static void test_stalled_clients_and_connection_limit(void **state) {
    (void)state;
    semid_server *s = start_with(0, 64, 3, 1);
    int port = semid_server_port(s);
    int stalled = connect_loopback(port);
    assert_int_equal(write(stalled, "POST /v1/search HTTP/1.1\r\nHost: x\r\n", 35), 35);
    assert_true(closed_within(stalled, 4));
    close(stalled);
    assert_int_equal(semid_server_stop(s, 5), 0);
    /* The limit, with a timeout long enough for the held connections to stay. */
    s = start_with(0, 64, 3, 30);
    port = semid_server_port(s);
    static const char keep[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = connect_loopback(port);
        assert_int_equal(write(held[i], keep, sizeof keep - 1), (ssize_t)(sizeof keep - 1));
        char buf[512];
        struct pollfd p = {.fd = held[i], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1); /* served: it holds a slot now */
        assert_true(read(held[i], buf, sizeof buf) > 0);
    }
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int extra = connect_loopback(port);
    (void)!write(extra, req, sizeof req - 1);
    struct pollfd p = {.fd = extra, .events = POLLIN};
    char buf[512] = "";
    if (poll(&p, 1, 1500) == 1) {
        assert_true(read(extra, buf, sizeof buf - 1) <= 0); /* closed, never answered */
    } else {
        close(held[0]);
        held[0] = -1;
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_true(read(extra, buf, sizeof buf - 1) > 0);
        assert_non_null(strstr(buf, "HTTP/1.1 200"));
    }
    close(extra);
    for (int i = 0; i < 3; i++)
        if (held[i] >= 0) close(held[i]);
    assert_int_equal(semid_server_stop(s, 5), 0);
}


/* Does a search answer list item `id`? */
static int answer_lists(const cJSON *j, const char *id) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results"), *e;
    cJSON_ArrayForEach(e, res) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "id");
        if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) return 1;
    }
    return 0;
}

/* A reload picks up a new catalog version (gen/catalog.h): an item removed
 * with semid_catalog_remove is served until the reload and never after;
 * expand_prefix is accepted. */
static void test_reload_picks_up_catalog(void **state) {
    (void)state;
    char *saved = model_dir, dir[1024], cmd[2200];
    snprintf(dir, sizeof dir, "%s/model_catalog", tmpdir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", dir, saved, dir);
    assert_int_equal(system(cmd), 0);
    model_dir = dir;
    semid_server *s = start(0, 8);
    int port = semid_server_port(s);
    char body[256], v0[64], v1[64];
    snprintf(body, sizeof body, "{\"query\": \"%s\", \"k\": %d, \"beam\": %d}", queries[0], bundle->n_items,
             bundle->n_items);
    cJSON *j = post_json(port, "/v1/search", body, 200);
    assert_true(answer_lists(j, first_id));
    cJSON_Delete(j);
    semid_server_model_version(s, v0, sizeof v0);
    const char *ids[1] = {first_id};
    semid_catalog_report rep;
    assert_int_equal(semid_catalog_remove(dir, ids, 1, 0, &rep), SEMID_OK);
    assert_int_equal(rep.version, 1);
    /* not yet reloaded: still served */
    j = post_json(port, "/v1/search", body, 200);
    assert_true(answer_lists(j, first_id));
    cJSON_Delete(j);
    assert_int_equal(semid_server_reload(s), SEMID_OK);
    semid_server_model_version(s, v1, sizeof v1);
    assert_string_not_equal(v0, v1);
    for (int q = 0; q < N_QUERIES; q++) {
        snprintf(body, sizeof body, "{\"query\": \"%s\", \"k\": %d, \"beam\": %d, \"expand_prefix\": 0.5}",
                 queries[q], bundle->n_items, bundle->n_items);
        j = post_json(port, "/v1/search", body, 200);
        assert_false(answer_lists(j, first_id));
        cJSON_Delete(j);
    }
    expect_error(port, "POST", "/v1/search", "{\"query\": \"a b\", \"expand_prefix\": 2}", 0, 400, "expand_prefix");
    assert_int_equal(semid_server_stop(s, 5), 0);
    model_dir = saved;
}

/* rerank: "dense" answers what the library's hybrid ranking gives for the
 * same decode (gen/dense.h), for search and recommend; a server without a
 * dense index refuses it naming the field. */
static void test_rerank_dense(void **state) {
    (void)state;
    semid_server *plain = start(0, 8);
    expect_error(semid_server_port(plain), "POST", "/v1/search", "{\"query\": \"war drama\", \"rerank\": \"dense\"}", 0,
                 400, "rerank");
    assert_int_equal(semid_server_stop(plain, 5), 0);

    char ds[1024], emb[1024];
    snprintf(ds, sizeof ds, "%s/ds.sdd", tmpdir);
    snprintf(emb, sizeof emb, "%s/emb/content.npy", tmpdir);
    semid_serve_config cfg = semid_serve_defaults();
    cfg.model_dir = model_dir;
    cfg.port = 0;
    cfg.threads = 1;
    cfg.batch_wait_ms = 0;
    cfg.dense = (semid_dense_source){.content = 1, .dataset = ds, .item_embeddings = emb};
    semid_server *s = NULL;
    assert_int_equal(semid_server_start(&cfg, &s), SEMID_OK);
    int port = semid_server_port(s);
    semid_dense dn;
    assert_int_equal(semid_dense_open(&cfg.dense, bundle, &dn), SEMID_OK);
    semid_hybrid_options ho = semid_hybrid_defaults();
    ho.weight = 0.3;
    ho.n_dense = 15;
    ho.k = 10;
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = 10;
    o.beam.beam_size = 30;
    semid_gen_decode_options wide = semid_dense_decode_options(&o);
    char got[64][32], body[512];
    int differs = 0; /* from the plain beam, for some query */
    for (int q = 0; q < N_QUERIES; q++) {
        snprintf(body, sizeof body,
                 "{\"query\": \"%s\", \"k\": 10, \"beam\": 30, \"rerank\": \"dense\", \"rerank_weight\": 0.3, "
                 "\"dense_k\": 15}",
                 queries[q]);
        cJSON *j = post_json(port, "/v1/search", body, 200);
        int n = result_ids(j, got, 64);
        cJSON_Delete(j);
        semid_beam_hits h;
        assert_int_equal(semid_gen_search(bundle, &queries[q], 1, &wide, &h, NULL), SEMID_OK);
        assert_int_equal(semid_dense_rerank_search(&dn, bundle, &ho, &queries[q], 1, &h), SEMID_OK);
        assert_int_equal(n, h.n_hits[0]);
        for (int i = 0; i < n; i++) assert_string_equal(got[i], bundle->item_ids[h.items[i]]);
        semid_beam_hits_free(&h);
        char plain_ids[64][32];
        int np = expected_search(queries[q], 10, plain_ids);
        for (int i = 0; i < n && i < np && !differs; i++) differs = strcmp(got[i], plain_ids[i]) != 0;
    }
    assert_true(differs); /* the dense side changed some ranking */
    /* recommend, the history left out of the dense candidates too */
    snprintf(body, sizeof body, "{\"history\": [\"%s\", \"%s\"], \"k\": 5, \"rerank\": \"dense\", \"rerank_weight\": 0}",
             bundle->item_ids[0], bundle->item_ids[1]);
    cJSON *j = post_json(port, "/v1/recommend", body, 200);
    int n = result_ids(j, got, 64);
    cJSON_Delete(j);
    int32_t hist[2] = {0, 1};
    const int32_t *hp = hist;
    int64_t hl = 2;
    o.beam.k = 5;
    o.exclude_history = -1;
    wide = semid_dense_decode_options(&o);
    ho.weight = 0;
    ho.n_dense = 20;
    ho.k = 5;
    semid_beam_hits h;
    assert_int_equal(semid_gen_recommend(bundle, &hp, &hl, 1, &wide, &h), SEMID_OK);
    assert_int_equal(semid_dense_rerank_rec(&dn, bundle, &ho, &wide, &hp, &hl, NULL, 1, &h), SEMID_OK);
    assert_int_equal(n, h.n_hits[0]);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        assert_string_equal(got[i], bundle->item_ids[h.items[i]]);
        assert_string_not_equal(got[i], bundle->item_ids[0]);
        assert_string_not_equal(got[i], bundle->item_ids[1]);
    }
    semid_beam_hits_free(&h);
    semid_dense_close(&dn);
    assert_int_equal(semid_server_stop(s, 5), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_match_decoder),   cmocka_unit_test(test_concurrent_coalesced_with_reloads),
        cmocka_unit_test(test_reload_picks_up_catalog), cmocka_unit_test(test_rerank_dense),
        cmocka_unit_test(test_client_mistakes),         cmocka_unit_test(test_items_and_page),
        cmocka_unit_test(test_personalised_search),     cmocka_unit_test(test_prompt_personalised_search),     cmocka_unit_test(test_stop_drains),
        cmocka_unit_test(test_stalled_clients_and_connection_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
