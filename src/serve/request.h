/* The serve API's request bodies (docs/serve.md), parsed and validated
 * without any HTTP or model: a body and a bundle's item lookup in, a plain
 * struct or an error naming the field out. Fuzzed by fuzz/fuzz_serve_request.c. */
#ifndef SEMID_SERVE_REQUEST_H
#define SEMID_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "semid/semid.h"

enum {
    SEMID_SERVE_MAX_BODY = 1 << 20,    /* bytes */
    SEMID_SERVE_MAX_QUERY = 2000,      /* bytes of one query */
    SEMID_SERVE_MAX_BATCH = 1000,      /* queries or histories in one request */
    SEMID_SERVE_MAX_HISTORY = 10000,   /* ids in one history */
    SEMID_SERVE_MAX_K = 1000,
    SEMID_SERVE_MAX_BEAM = 1000
};

typedef enum semid_serve_kind { SEMID_SERVE_SEARCH = 0, SEMID_SERVE_RECOMMEND = 1 } semid_serve_kind;

/* One parsed request. Batch or not, entries are in n_entries; `batch` says
 * whether the answer is {"responses": [...]} or a single object. */
typedef struct semid_serve_request {
    semid_serve_kind kind;
    int batch;              /* 1 if "queries"/"histories" was given */
    int64_t n_entries;
    char **queries;         /* (n_entries) search: NUL-terminated UTF-8; NULL for recommend */
    int32_t **histories;    /* (n_entries) recommend: item indices, oldest first; NULL for search */
    int64_t *history_len;   /* (n_entries) recommend */
    int32_t *history;       /* search: the optional personalising history (item indices), or NULL */
    int64_t n_history;
    float history_weight;   /* search with history: w (default 0.5) */
    int32_t k;              /* default 10 */
    int32_t beam;           /* default 30; raised to k when smaller */
    int diverse;            /* default 0 */
    double expand_prefix;   /* prefix expansion share of the top k, 0..1 (gen/expand.h); default 0 */
    int keep_history;       /* recommend: 1 keeps history items; default 0 (the bundle's default) */
    int rerank_dense;       /* rerank: "dense" (1) or "none" (0, the default): hybrid re-ranking (gen/hybrid.h) */
    double rerank_weight;   /* W in 0..1 (default 0.5) */
    int32_t dense_k;        /* the dense index's candidates per query, 0..SEMID_SERVE_MAX_K (default 20) */
} semid_serve_request;

/* Maps an item id to its index, or -1 when unknown. */
typedef int32_t (*semid_serve_item_lookup)(const char *id, void *user);

/* A client mistake: HTTP status (400, 413) and the field to blame ("" when
 * none), with a message. */
typedef struct semid_serve_error {
    int http_status;
    char field[64];
    char message[256];
} semid_serve_error;

/* Parses `body` (len bytes, not NUL-terminated) as a request of `kind`.
 * SEMID_OK fills *out (semid_serve_request_free); SEMID_EINVAL fills *err
 * (a client mistake: nothing to free); SEMID_ENOMEM on allocation failure
 * (*err then says 500, "out of memory"; nothing to free either). A NULL
 * `out` or a kind outside the enum is a caller bug: SEMID_EINVAL with 500.
 * lookup may be NULL (every id is then unknown). Thread-safe, except that
 * cJSON records its last parse error in a global (a benign race).
 *
 * Rules beyond docs/serve.md's table (request.c has the full list):
 *   - the body must be valid UTF-8 (else 400), at most SEMID_SERVE_MAX_BODY
 *     bytes (else 413), one JSON object and nothing after it but whitespace;
 *     keys are case-sensitive; a repeated key: the first one counts;
 *   - an integer is a JSON number with an integral value in range (1.0 and
 *     1e2 are integers, 1.5 and 1e99 are not); null is a wrong type, not a
 *     missing key;
 *   - `beam` is raised to `k` when smaller (docs: "at least k is used");
 *   - item ids are strings; an integral JSON number is accepted too and
 *     looked up by its decimal text (1193 -> "1193");
 *   - a query must have at least one word as semid_tokenize counts them;
 *     a query or id holding a NUL (raw or \u0000) is a 400 naming it;
 *   - `rerank` is "none" or "dense"; `rerank_weight` (0..1) and `dense_k`
 *     (0..SEMID_SERVE_MAX_K) are checked whether or not it is "dense";
 *   - search: an optional `history` (same rules as recommend's) and
 *     `history_weight` (0..10, default 0.5); recommend: `keep_history`.
 *     Keys of the other endpoint are ignored like any unknown key. */
semid_status semid_serve_request_parse(semid_serve_kind kind, const char *body, size_t len,
                                       semid_serve_item_lookup lookup, void *user, semid_serve_request *out,
                                       semid_serve_error *err);
void semid_serve_request_free(semid_serve_request *r);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int semid_serve_utf8_valid(const char *s, size_t len);

/* Writes {"error": {"field": ..., "message": ...}} (field left out when
 * empty) into a malloc'd NUL-terminated string, or NULL on allocation failure. */
char *semid_serve_error_json(const semid_serve_error *err);

/* Fills *err (field NULL or "" for none; both truncated to fit, at a UTF-8
 * boundary). For the HTTP layer's own errors (404, 405, ...). */
void semid_serve_error_set(semid_serve_error *err, int http_status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
