/* The serve API's JSON answers (docs/serve.md), built from plain arrays so
 * they can be tested without a bundle or a server: search and recommend
 * results, an item's details, the type-ahead list and /healthz. Every
 * builder returns a malloc'd NUL-terminated string (the caller frees), or
 * NULL on allocation failure. Text is escaped for JSON; bytes that are not
 * valid UTF-8 come out as U+FFFD, so the answer is always valid UTF-8. */
#ifndef SEMID_SERVE_RESPONSE_H
#define SEMID_SERVE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "serve/request.h"

/* A growing string: every append is a no-op after an allocation failure,
 * which semid_serve_buf_finish reports. Start from {0}. */
typedef struct semid_serve_buf {
    char *data;
    size_t len, cap;
    int failed;
} semid_serve_buf;

void semid_serve_buf_putn(semid_serve_buf *b, const char *s, size_t n);
void semid_serve_buf_puts(semid_serve_buf *b, const char *s);
void semid_serve_buf_printf(semid_serve_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (NULL = "") as a quoted JSON string. */
void semid_serve_buf_json_string(semid_serve_buf *b, const char *s);
/* The NUL-terminated text (the caller frees), or NULL if an append failed;
 * *b is reset either way. */
char *semid_serve_buf_finish(semid_serve_buf *b);
/* Frees and resets *b without returning the text. */
void semid_serve_buf_discard(semid_serve_buf *b);

/* The catalog side of an answer, indexed by item. Optional arrays may be
 * NULL: titles -> "", years -> null, genres -> [], popularity -> 0, a
 * task's sid -> []. */
typedef struct semid_serve_catalog {
    int32_t n_items;
    const char *const *ids;    /* (n_items) original ids */
    const char *const *titles; /* (n_items) */
    const int32_t *years;      /* (n_items) 0 = unknown (null) */
    const char *const *genres; /* (n_items) comma-separated, "" if none; written as an array of strings */
    const int64_t *popularity; /* (n_items) */
    /* [SEMID_SERVE_SEARCH], [SEMID_SERVE_RECOMMEND]: (n_items, n_levels[t])
     * level-local codes of each item's Semantic ID for that task */
    const int32_t *sid[2];
    int32_t n_levels[2];
} semid_serve_catalog;

/* Decoded hits of n entries, k slots each (the arrays of a semid_beam_hits,
 * plus search's unknown-word counts). */
typedef struct semid_serve_hits {
    int64_t n;
    int32_t k;
    const int32_t *items;     /* (n, k) best first, -1 after the last hit */
    const float *scores;      /* (n, k) */
    const int32_t *n_hits;    /* (n), or NULL: hits end at the first -1 */
    const int32_t *n_invalid; /* (n), or NULL: 0 */
    const int32_t *n_unknown; /* (n) search: unknown words of each query, or NULL: 0 */
} semid_serve_hits;

/* The answer to a search (task SEMID_SERVE_SEARCH) or a recommendation:
 *   batch == 0: {"results": [...], ["unknown_words": N,] "invalid_beams": N,
 *                "model_version": "...", "took_ms": T}  (entry 0; n must be 1)
 *   batch != 0: {"responses": [{"results", ["unknown_words",] "invalid_beams"}, ...],
 *                "model_version": "...", "took_ms": T}
 * Each result is {"id", "title", "score", "sid"} with sid the item's codes
 * for `task`. "unknown_words" is written for search only. Scores have 4
 * decimals (null if not finite), took_ms 3. Item indices outside
 * 0..n_items-1 are left out (a caller bug, never a crash). */
char *semid_serve_results_json(const semid_serve_catalog *cat, semid_serve_kind task, const semid_serve_hits *hits,
                               int batch, const char *model_version, double took_ms);

/* GET /v1/items/{id}: {"id", "title", "year", "genres", "popularity",
 * "sid": {"search": [...], "rec": [...]}}. NULL also when item is out of
 * range (the caller answers 404 before: it looked the id up). */
char *semid_serve_item_json(const semid_serve_catalog *cat, int32_t item);

/* Type-ahead: the indices of items whose title matches q, most popular
 * first (ties: lower index first), at most `limit` of them written to out
 * (room for limit entries); returns how many. A title matches when every
 * word of q is a prefix of some word of the title, ASCII case-insensitive.
 * Words are runs of ASCII letters and digits and of non-ASCII bytes; an
 * apostrophe between word characters is dropped ("don't" is "dont"); all
 * other ASCII is a boundary. A q with no words matches every item (the
 * most popular ones). popularity NULL: index order; titles[i] NULL: no
 * match. Allocates nothing. */
int32_t semid_serve_typeahead(const char *const *titles, const int64_t *popularity, int32_t n, const char *q,
                              int limit, int32_t *out);

/* {"items": [{"id", "title", "year", "popularity"}, ...]} for the n item
 * indices idx (out-of-range ones left out). */
char *semid_serve_typeahead_json(const semid_serve_catalog *cat, const int32_t *idx, int32_t n);

/* GET /healthz: {"status": "ok", "model_version": "...", "items": n}. */
char *semid_serve_health_json(const char *model_version, int32_t n_items);

#endif
