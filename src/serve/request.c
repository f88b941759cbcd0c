/* Request bodies of the serve API (docs/serve.md): UTF-8 check, cJSON parse,
 * validation of every key, item ids looked up through the caller's callback.
 *
 * Decisions the docs leave open (also summarised in request.h):
 *   - Order of checks: size (413), UTF-8, JSON syntax, object, then the
 *     options (k, beam, diverse, expand_prefix, rerank, rerank_weight,
 *     dense_k, history_weight, keep_history), then the
 *     main field (query/queries or history/histories); the first failure is
 *     the answer.
 *   - cJSON is lenient where JSON is strict (trailing text, NUL bytes); the
 *     body is pre-scanned: raw NUL bytes and \u0000 escapes become 0xFF
 *     bytes (one per input byte, so error offsets stay right). 0xFF cannot
 *     otherwise appear in a string decoded from valid UTF-8, so a string
 *     holding it held a NUL: a query or id with one is a 400 naming it; a
 *     key with one matches no known key (is ignored); elsewhere the body is
 *     malformed. Only whitespace may follow the top-level value.
 *   - Keys are case-sensitive; with a repeated key, cJSON's first one wins.
 *   - Integers: JSON numbers whose value is integral and in range (1.0 and
 *     1e2 count; 1.5 and 1e99 do not). null is a wrong type.
 *   - Item ids: strings; an integral number is accepted and looked up by its
 *     decimal text (1193 -> "1193"), since MovieLens-style ids are numbers
 *     and clients send them as such. Any other type is a 400.
 *   - Empty arrays are 400s (a batch or history needs one entry), also for
 *     search's optional personalising history.
 *   - `beam` is raised to `k` when smaller. */
#include "serve/request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/status.h"
#include "io/json.h"
#include "serve/response.h"
#include "text/tokenize.h"

enum { NUL_MARK = 0xFF };

int semid_serve_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    if (!s) return len == 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            else if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
        } else {
            return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        if (len - i < n) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t j = 2; j < n; j++)
            if ((p[i + j] & 0xC0) != 0x80) return 0;
        i += n;
    }
    return 1;
}

/* Copies at most cap-1 bytes of s into dst, cut at a UTF-8 boundary. */
static void copy_trunc(char *dst, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] starts the cut character */
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void semid_serve_error_set(semid_serve_error *err, int http_status, const char *field, const char *fmt, ...) {
    if (!err) return;
    err->http_status = http_status;
    copy_trunc(err->field, sizeof err->field, field ? field : "");
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy_trunc(err->message, sizeof err->message, msg);
}

char *semid_serve_error_json(const semid_serve_error *err) {
    semid_serve_buf b = {0};
    char field[sizeof err->field + 1], message[sizeof err->message + 1];
    /* Fields not NUL-terminated (a caller bug) are cut, never over-read. */
    size_t nf = strnlen(err->field, sizeof err->field), nm = strnlen(err->message, sizeof err->message);
    memcpy(field, err->field, nf);
    field[nf] = '\0';
    memcpy(message, err->message, nm);
    message[nm] = '\0';
    semid_serve_buf_puts(&b, "{\"error\": {");
    if (nf) {
        semid_serve_buf_puts(&b, "\"field\": ");
        semid_serve_buf_json_string(&b, field);
        semid_serve_buf_puts(&b, ", ");
    }
    semid_serve_buf_puts(&b, "\"message\": ");
    semid_serve_buf_json_string(&b, message);
    semid_serve_buf_puts(&b, "}}");
    return semid_serve_buf_finish(&b);
}

void semid_serve_request_free(semid_serve_request *r) {
    if (!r) return;
    if (r->queries)
        for (int64_t i = 0; i < r->n_entries; i++) free(r->queries[i]);
    if (r->histories)
        for (int64_t i = 0; i < r->n_entries; i++) free(r->histories[i]);
    free(r->queries);
    free(r->histories);
    free(r->history_len);
    free(r->history);
    memset(r, 0, sizeof *r);
}

/* ---- parsing ---- */

typedef struct parse_ctx {
    semid_serve_item_lookup lookup;
    void *user;
    semid_serve_error *err;
} parse_ctx;

/* Records a client mistake; returns SEMID_EINVAL. */
static semid_status bad(parse_ctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static semid_status bad(parse_ctx *c, const char *field, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    semid_serve_error_set(c->err, 400, field, "%s", msg);
    return SEMID_EINVAL;
}

static semid_status oom(parse_ctx *c) {
    semid_serve_error_set(c->err, 500, "", "out of memory");
    return semid_fail(SEMID_ENOMEM, "serve: out of memory parsing a request");
}

static int has_nul_mark(const char *s) { return strchr(s, NUL_MARK) != NULL; }

static const cJSON *get(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

/* An integral value in [lo, hi]: 1 and *out set, else 0. */
static int as_integer(const cJSON *v, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < lo || d > hi) return 0;
    *out = d;
    return 1;
}

static semid_status get_int(parse_ctx *c, const cJSON *obj, const char *key, int32_t def, int32_t lo, int32_t hi,
                            int32_t *out) {
    const cJSON *v = get(obj, key);
    *out = def;
    if (!v) return SEMID_OK;
    double d;
    if (!as_integer(v, -2147483648.0, 2147483647.0, &d)) return bad(c, key, "%s must be an integer", key);
    if (d < lo || d > hi) return bad(c, key, "%s must be in %d..%d", key, (int)lo, (int)hi);
    *out = (int32_t)d;
    return SEMID_OK;
}

static semid_status get_bool(parse_ctx *c, const cJSON *obj, const char *key, int *out) {
    const cJSON *v = get(obj, key);
    if (!v) return SEMID_OK;
    if (!cJSON_IsBool(v)) return bad(c, key, "%s must be a boolean", key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return SEMID_OK;
}

/* A query: no NUL, 1..MAX_QUERY bytes, at least one word. */
static semid_status check_query(parse_ctx *c, const char *field, const char *q) {
    if (has_nul_mark(q)) return bad(c, field, "%s must not contain NUL bytes", field);
    size_t n = strlen(q);
    if (n < 1 || n > SEMID_SERVE_MAX_QUERY)
        return bad(c, field, "%s must be 1..%d bytes of UTF-8 (got %zu)", field, (int)SEMID_SERVE_MAX_QUERY, n);
    semid_words w;
    if (semid_tokenize(q, &w) != SEMID_OK) return oom(c);
    int32_t nw = w.n;
    semid_words_free(&w);
    if (nw == 0) return bad(c, field, "%s has no words (only spaces or punctuation)", field);
    return SEMID_OK;
}

static semid_status dup_query(parse_ctx *c, const char *field, const cJSON *v, char **out) {
    if (!cJSON_IsString(v) || !v->valuestring) return bad(c, field, "%s must be a string", field);
    SEMID_TRY(check_query(c, field, v->valuestring));
    *out = strdup(v->valuestring);
    return *out ? SEMID_OK : oom(c);
}

/* One item id (string or integral number) to its index. */
static semid_status lookup_id(parse_ctx *c, const char *field, const cJSON *v, int32_t *out) {
    char num[32];
    const char *id;
    if (cJSON_IsString(v) && v->valuestring) {
        id = v->valuestring;
        if (has_nul_mark(id)) return bad(c, field, "%s must not contain NUL bytes", field);
    } else {
        double d;
        /* |d| <= 2^53: every such integer prints exactly */
        if (!as_integer(v, -9007199254740992.0, 9007199254740992.0, &d))
            return bad(c, field, "%s must be an item id (a string)", field);
        snprintf(num, sizeof num, "%lld", (long long)d);
        id = num;
    }
    int32_t idx = c->lookup ? c->lookup(id, c->user) : -1;
    if (idx < 0) {
        char shown[80];
        copy_trunc(shown, sizeof shown, id);
        return bad(c, field, "unknown item id \"%s\"%s", shown, strlen(id) >= sizeof shown ? " (cut)" : "");
    }
    *out = idx;
    return SEMID_OK;
}

/* A history array named `field` to a malloc'd index array. */
static semid_status parse_history(parse_ctx *c, const char *field, const cJSON *v, int32_t **out, int64_t *out_len) {
    if (!cJSON_IsArray(v)) return bad(c, field, "%s must be an array of item ids", field);
    int64_t n = 0;
    for (const cJSON *e = v->child; e; e = e->next) n++;
    if (n < 1 || n > SEMID_SERVE_MAX_HISTORY)
        return bad(c, field, "%s must have 1..%d item ids (got %lld)", field, (int)SEMID_SERVE_MAX_HISTORY,
                   (long long)n);
    int32_t *h = malloc(sizeof(int32_t) * (size_t)n);
    if (!h) return oom(c);
    int64_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char name[64];
        snprintf(name, sizeof name, "%s[%lld]", field, (long long)i);
        semid_status st = lookup_id(c, name, e, &h[i]);
        if (st != SEMID_OK) {
            free(h);
            return st;
        }
    }
    *out = h;
    *out_len = n;
    return SEMID_OK;
}

/* The batch array `field`: its entry count, checked against 1..MAX_BATCH. */
static semid_status batch_size(parse_ctx *c, const char *field, const char *what, const cJSON *v, int64_t *n) {
    if (!cJSON_IsArray(v)) return bad(c, field, "%s must be an array of %s", field, what);
    int64_t k = 0;
    for (const cJSON *e = v->child; e; e = e->next) k++;
    if (k < 1 || k > SEMID_SERVE_MAX_BATCH)
        return bad(c, field, "%s must have 1..%d entries (got %lld)", field, (int)SEMID_SERVE_MAX_BATCH, (long long)k);
    *n = k;
    return SEMID_OK;
}

/* rerank, rerank_weight, dense_k (hybrid re-ranking, gen/hybrid.h). */
static semid_status parse_rerank(parse_ctx *c, const cJSON *root, semid_serve_request *r) {
    const cJSON *v = get(root, "rerank");
    if (v) {
        if (!cJSON_IsString(v) || (strcmp(v->valuestring, "none") != 0 && strcmp(v->valuestring, "dense") != 0))
            return bad(c, "rerank", "rerank must be \"none\" or \"dense\"");
        r->rerank_dense = strcmp(v->valuestring, "dense") == 0;
    }
    const cJSON *w = get(root, "rerank_weight");
    if (w && (!cJSON_IsNumber(w) || !(w->valuedouble >= 0 && w->valuedouble <= 1)))
        return bad(c, "rerank_weight", "rerank_weight must be a number in 0..1 (the generative score's weight)");
    if (w) r->rerank_weight = w->valuedouble;
    return get_int(c, root, "dense_k", 20, 0, SEMID_SERVE_MAX_K, &r->dense_k);
}

static semid_status parse_search(parse_ctx *c, const cJSON *root, semid_serve_request *r) {
    const cJSON *hw = get(root, "history_weight");
    if (hw) {
        if (!cJSON_IsNumber(hw)) return bad(c, "history_weight", "history_weight must be a number");
        double w = hw->valuedouble;
        if (!isfinite(w) || w < 0 || w > 10) return bad(c, "history_weight", "history_weight must be in 0..10");
        r->history_weight = (float)w;
    }
    const cJSON *q = get(root, "query"), *qs = get(root, "queries");
    if (q && qs) return bad(c, NULL, "give either query or queries, not both");
    if (!q && !qs) return bad(c, "query", "query (or queries) is required");
    if (q) {
        r->batch = 0;
        r->queries = calloc(1, sizeof(char *));
        if (!r->queries) return oom(c);
        r->n_entries = 1;
        SEMID_TRY(dup_query(c, "query", q, &r->queries[0]));
    } else {
        int64_t n = 0;
        SEMID_TRY(batch_size(c, "queries", "strings", qs, &n));
        r->batch = 1;
        r->queries = calloc((size_t)n, sizeof(char *));
        if (!r->queries) return oom(c);
        r->n_entries = n;
        int64_t i = 0;
        for (const cJSON *e = qs->child; e; e = e->next, i++) {
            char name[64];
            snprintf(name, sizeof name, "queries[%lld]", (long long)i);
            SEMID_TRY(dup_query(c, name, e, &r->queries[i]));
        }
    }
    const cJSON *h = get(root, "history");
    if (h) SEMID_TRY(parse_history(c, "history", h, &r->history, &r->n_history));
    return SEMID_OK;
}

static semid_status parse_recommend(parse_ctx *c, const cJSON *root, semid_serve_request *r) {
    SEMID_TRY(get_bool(c, root, "keep_history", &r->keep_history));
    const cJSON *h = get(root, "history"), *hs = get(root, "histories");
    if (h && hs) return bad(c, NULL, "give either history or histories, not both");
    if (!h && !hs) return bad(c, "history", "history (or histories) is required");
    int64_t n = 1;
    if (hs) SEMID_TRY(batch_size(c, "histories", "histories", hs, &n));
    r->batch = hs != NULL;
    r->histories = calloc((size_t)n, sizeof(int32_t *));
    r->history_len = calloc((size_t)n, sizeof(int64_t));
    if (!r->histories || !r->history_len) return oom(c);
    r->n_entries = n;
    if (h) return parse_history(c, "history", h, &r->histories[0], &r->history_len[0]);
    int64_t i = 0;
    for (const cJSON *e = hs->child; e; e = e->next, i++) {
        char name[64];
        snprintf(name, sizeof name, "histories[%lld]", (long long)i);
        SEMID_TRY(parse_history(c, name, e, &r->histories[i], &r->history_len[i]));
    }
    return SEMID_OK;
}

/* A copy of body with NULs inside strings (raw, or \u0000) turned into
 * NUL_MARK bytes, one per input byte; raw NULs outside strings too (they
 * are malformed JSON, and cJSON would skip them as whitespace). */
static char *mark_nuls(const char *body, size_t len) {
    char *s = malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, body, len);
    s[len] = '\0';
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0') {
            s[i] = (char)NUL_MARK;
        } else if (!in_string) {
            if (s[i] == '"') in_string = 1;
        } else if (s[i] == '"') {
            in_string = 0;
        } else if (s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
                memset(s + i, NUL_MARK, 6);
            i += (s[i + 1] == 'u' && len - i >= 6) ? 5 : 1;
        }
    }
    return s;
}

semid_status semid_serve_request_parse(semid_serve_kind kind, const char *body, size_t len,
                                       semid_serve_item_lookup lookup, void *user, semid_serve_request *out,
                                       semid_serve_error *err) {
    semid_serve_error scratch;
    if (!err) err = &scratch;
    memset(err, 0, sizeof *err);
    if (!out) {
        semid_serve_error_set(err, 500, "", "no request to fill");
        return semid_fail(SEMID_EINVAL, "semid_serve_request_parse: out is NULL");
    }
    memset(out, 0, sizeof *out);
    parse_ctx c = {lookup, user, err};
    if (kind != SEMID_SERVE_SEARCH && kind != SEMID_SERVE_RECOMMEND) {
        semid_serve_error_set(err, 500, "", "unknown request kind %d", (int)kind);
        return semid_fail(SEMID_EINVAL, "semid_serve_request_parse: unknown kind %d", (int)kind);
    }
    if (len > SEMID_SERVE_MAX_BODY) {
        semid_serve_error_set(err, 413, "", "request body is over %d bytes", (int)SEMID_SERVE_MAX_BODY);
        return SEMID_EINVAL;
    }
    if (!body || len == 0) return bad(&c, NULL, "request body is empty (expected a JSON object)");
    if (!semid_serve_utf8_valid(body, len)) return bad(&c, NULL, "request body is not valid UTF-8");

    char *text = mark_nuls(body, len);
    if (!text) return oom(&c);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    semid_status st = SEMID_OK;
    if (!root && semid_json_valid(text, len)) {
        st = oom(&c); /* JSON that cJSON reads: an allocation failed */
    } else if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        st = bad(&c, NULL, "malformed JSON at byte %zu", at);
    } else {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
        if (at < len) st = bad(&c, NULL, "malformed JSON: unexpected text after the object at byte %zu", at);
        else if (!cJSON_IsObject(root)) st = bad(&c, NULL, "request body must be a JSON object");
    }
    out->kind = kind;
    out->k = 10;
    out->beam = 30;
    out->history_weight = 0.5f;
    out->rerank_weight = 0.5;
    out->dense_k = 20;
    if (st == SEMID_OK) st = get_int(&c, root, "k", 10, 1, SEMID_SERVE_MAX_K, &out->k);
    if (st == SEMID_OK) st = get_int(&c, root, "beam", 30, 1, SEMID_SERVE_MAX_BEAM, &out->beam);
    if (st == SEMID_OK) st = get_bool(&c, root, "diverse", &out->diverse);
    if (st == SEMID_OK) {
        const cJSON *v = get(root, "expand_prefix");
        if (v && (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1)))
            st = bad(&c, "expand_prefix", "expand_prefix must be a number in 0..1 (a share of the top k)");
        else if (v)
            out->expand_prefix = v->valuedouble;
    }
    if (st == SEMID_OK) st = parse_rerank(&c, root, out);
    if (st == SEMID_OK) st = kind == SEMID_SERVE_SEARCH ? parse_search(&c, root, out) : parse_recommend(&c, root, out);
    if (st == SEMID_OK && out->beam < out->k) out->beam = out->k;
    cJSON_Delete(root);
    free(text);
    if (st != SEMID_OK) semid_serve_request_free(out);
    return st;
}
