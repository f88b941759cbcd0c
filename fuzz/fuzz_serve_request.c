/* libFuzzer harness for the serve API's request parser and JSON answers
 * (src/serve/request.c, response.c).
 *
 * The input is a request body, fed to both kinds of parse (search and
 * recommend) with a small fake catalog (ids "0".."49", "a", "b c",
 * "\u00e9"). Beyond "no crash, no leak, no UB" it checks:
 *   - semid_serve_utf8_valid agrees with a straightforward reference decoder;
 *   - a failed parse is a 400/413 whose error JSON is valid UTF-8 and
 *     parses back with cJSON into {"error": {"message", ["field"]}};
 *   - a parsed request keeps every bound of docs/serve.md (entries, lengths,
 *     k, beam >= k, weight, item indices in range, queries of 1..2000 bytes
 *     of valid UTF-8 without NUL);
 *   - the results and type-ahead JSON built from it parse back.
 *
 *   CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEMID_FUZZ=ON \
 *     -DSEMID_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link
 *   cmake --build build/fuzz --target fuzz_serve_request
 *   cp -r fuzz/corpus/serve_request /tmp/sr && build/fuzz/fuzz_serve_request -max_total_time=300 /tmp/sr */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "serve/request.h"
#include "serve/response.h"

enum { N_ITEMS = 53 };
static char ids[N_ITEMS][8];
static const char *id_ptr[N_ITEMS];
static const char *const titles[N_ITEMS] = {"Star Wars", "Star Trek", "Don't Look Now", "Caf\xC3\xA9 \"Society\"",
                                            "The \\ Slash", "Bad \xFF Byte"};
static int64_t popularity[N_ITEMS];
static int32_t sid_search[N_ITEMS * 3], sid_rec[N_ITEMS * 2];

static int32_t lookup(const char *id, void *user) {
    (void)user;
    for (int i = 0; i < N_ITEMS; i++)
        if (strcmp(id, id_ptr[i]) == 0) return i;
    return -1;
}

/* Reference UTF-8 check: decode each sequence, then reject overlongs,
 * surrogates and code points past U+10FFFF. */
static int utf8_reference(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + (size_t)len > n) return 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        for (int j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (size_t)len;
    }
    return 1;
}

static void check_json(char *text) {
    if (!text) abort(); /* no allocation fails here */
    if (!semid_serve_utf8_valid(text, strlen(text))) abort();
    cJSON *j = cJSON_Parse(text);
    if (!j) abort();
    cJSON_Delete(j);
    free(text);
}

static void check_error(semid_status st, const semid_serve_error *e) {
    if (st == SEMID_ENOMEM) return;
    if (st != SEMID_EINVAL) abort();
    if (e->http_status != 400 && e->http_status != 413) abort();
    if (memchr(e->field, 0, sizeof e->field) == NULL || memchr(e->message, 0, sizeof e->message) == NULL) abort();
    if (!e->message[0]) abort();
    if (!semid_serve_utf8_valid(e->field, strlen(e->field))) abort();
    char *text = semid_serve_error_json(e);
    if (!text) abort();
    cJSON *j = cJSON_Parse(text);
    if (!j) abort();
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    if (!cJSON_IsString(msg) || strcmp(msg->valuestring, e->message) != 0) abort();
    if (!e->field[0] != !cJSON_GetObjectItemCaseSensitive(err, "field")) abort();
    cJSON_Delete(j);
    free(text);
}

static void check_history(const int32_t *h, int64_t n) {
    if (!h || n < 1 || n > SEMID_SERVE_MAX_HISTORY) abort();
    for (int64_t i = 0; i < n; i++)
        if (h[i] < 0 || h[i] >= N_ITEMS) abort();
}

static void exercise(const semid_serve_request *r) {
    if (r->n_entries < 1 || r->n_entries > SEMID_SERVE_MAX_BATCH) abort();
    if (!r->batch && r->n_entries != 1) abort();
    if (r->k < 1 || r->k > SEMID_SERVE_MAX_K || r->beam < r->k || r->beam > SEMID_SERVE_MAX_BEAM) abort();
    if (r->diverse != 0 && r->diverse != 1) abort();
    if (r->kind == SEMID_SERVE_SEARCH) {
        if (!r->queries || r->histories) abort();
        for (int64_t i = 0; i < r->n_entries; i++) {
            size_t n = strlen(r->queries[i]);
            if (n < 1 || n > SEMID_SERVE_MAX_QUERY || !semid_serve_utf8_valid(r->queries[i], n)) abort();
        }
        if (!(r->history_weight >= 0 && r->history_weight <= 10)) abort();
        if (r->history) check_history(r->history, r->n_history);
        else if (r->n_history) abort();
    } else {
        if (r->queries || !r->histories || !r->history_len) abort();
        for (int64_t i = 0; i < r->n_entries; i++) check_history(r->histories[i], r->history_len[i]);
    }

    /* Answer it with made-up hits: the history's items, or a rotation. */
    int32_t k = r->k < 4 ? r->k : 4;
    int64_t n = r->n_entries;
    int32_t *items = malloc(sizeof(int32_t) * (size_t)(n * k));
    float *scores = malloc(sizeof(float) * (size_t)(n * k));
    int32_t *n_hits = malloc(sizeof(int32_t) * (size_t)n), *zero = calloc((size_t)n, sizeof(int32_t));
    if (!items || !scores || !n_hits || !zero) abort();
    for (int64_t e = 0; e < n; e++) {
        n_hits[e] = (int32_t)((e + r->k) % (k + 1));
        for (int32_t j = 0; j < k; j++) {
            int32_t it = r->histories ? r->histories[e][j % r->history_len[e]] : (int32_t)((e * 7 + j) % N_ITEMS);
            items[e * k + j] = j < n_hits[e] ? it : -1;
            scores[e * k + j] = j == 1 ? NAN : -(float)j * 0.37f;
        }
    }
    semid_serve_catalog cat = {.n_items = N_ITEMS, .ids = id_ptr, .titles = titles, .popularity = popularity,
                               .sid = {sid_search, sid_rec}, .n_levels = {3, 2}};
    semid_serve_hits h = {.n = n, .k = k, .items = items, .scores = scores, .n_hits = n_hits, .n_invalid = zero,
                          .n_unknown = r->kind == SEMID_SERVE_SEARCH ? zero : NULL};
    check_json(semid_serve_results_json(&cat, r->kind, &h, r->batch, "fuzz-1", 1.5));
    if (r->queries) {
        int32_t out[10];
        int32_t m = semid_serve_typeahead(titles, popularity, N_ITEMS, r->queries[0], 10, out);
        if (m < 0 || m > 10) abort();
        for (int32_t j = 0; j < m; j++)
            if (out[j] < 0 || out[j] >= N_ITEMS || !titles[out[j]]) abort();
        check_json(semid_serve_typeahead_json(&cat, out, m));
    }
    free(items);
    free(scores);
    free(n_hits);
    free(zero);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    semid_set_log_level(SEMID_LOG_QUIET);
    for (int i = 0; i < 50; i++) snprintf(ids[i], sizeof ids[i], "%d", i);
    snprintf(ids[50], sizeof ids[50], "a");
    snprintf(ids[51], sizeof ids[51], "b c");
    snprintf(ids[52], sizeof ids[52], "\xC3\xA9");
    for (int i = 0; i < N_ITEMS; i++) {
        id_ptr[i] = ids[i];
        popularity[i] = (i * 37) % 11;
    }
    for (int i = 0; i < N_ITEMS * 3; i++) sid_search[i] = i % 256;
    for (int i = 0; i < N_ITEMS * 2; i++) sid_rec[i] = (i * 5) % 256;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (semid_serve_utf8_valid((const char *)data, size) != utf8_reference(data, size)) abort();
    for (int kind = 0; kind < 2; kind++) {
        semid_serve_request r;
        semid_serve_error e;
        semid_status st =
            semid_serve_request_parse((semid_serve_kind)kind, (const char *)data, size, lookup, NULL, &r, &e);
        if (st == SEMID_OK) {
            if (r.kind != (semid_serve_kind)kind) abort();
            exercise(&r);
            semid_serve_request_free(&r);
        } else {
            check_error(st, &e);
        }
    }
    /* The raw bytes as a type-ahead query (up to the first NUL). */
    char *q = malloc(size + 1);
    if (!q) return 0;
    memcpy(q, data, size);
    q[size] = '\0';
    int32_t out[5];
    int32_t m = semid_serve_typeahead(titles, popularity, N_ITEMS, q, 5, out);
    if (m < 0 || m > 5) abort();
    free(q);
    return 0;
}
