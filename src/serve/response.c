/* JSON answers of the serve API, written with a small growing buffer (no
 * fixed-size text buffers): exact number formats (4-decimal scores) and no
 * tree to build per hit. */
#include "serve/response.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the buffer ---- */

static int buf_reserve(semid_serve_buf *b, size_t extra) {
    if (b->failed) return 0;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->failed = 1;
        return 0;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void semid_serve_buf_putn(semid_serve_buf *b, const char *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void semid_serve_buf_puts(semid_serve_buf *b, const char *s) { semid_serve_buf_putn(b, s ? s : "", s ? strlen(s) : 0); }

void semid_serve_buf_printf(semid_serve_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t j = 2; j < len; j++)
        if ((s[j] & 0xC0) != 0x80) return 0;
    return len;
}

void semid_serve_buf_json_string(semid_serve_buf *b, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s), run = 0; /* s[i - run .. i) is copied as is */
    semid_serve_buf_putn(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char tmp[8];
        size_t adv = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        } else if (c >= 0x80) {
            adv = utf8_seq(s + i, n - i);
            if (adv == 0) {
                esc = "\\ufffd";
                adv = 1;
            }
        }
        if (esc) {
            semid_serve_buf_putn(b, (const char *)s + i - run, run);
            run = 0;
            semid_serve_buf_puts(b, esc);
        } else {
            run += adv;
        }
        i += adv;
    }
    semid_serve_buf_putn(b, (const char *)s + n - run, run);
    semid_serve_buf_putn(b, "\"", 1);
}

char *semid_serve_buf_finish(semid_serve_buf *b) {
    char *out = NULL;
    if (!b->failed) {
        if (!b->data) semid_serve_buf_putn(b, "", 0);
        if (!b->failed) out = b->data, b->data = NULL;
    }
    free(b->data);
    memset(b, 0, sizeof *b);
    return out;
}

void semid_serve_buf_discard(semid_serve_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- pieces ---- */

static void put_number(semid_serve_buf *b, double v, int decimals) {
    if (!isfinite(v)) {
        semid_serve_buf_puts(b, "null");
        return;
    }
    if (v == 0) v = 0; /* no "-0.0000" */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (strspn(tmp, "-0.") == strlen(tmp) && tmp[0] == '-') memmove(tmp, tmp + 1, strlen(tmp)); /* -0.0000 */
    semid_serve_buf_puts(b, tmp);
}

static void put_sid(semid_serve_buf *b, const semid_serve_catalog *cat, int task, int32_t item) {
    semid_serve_buf_putn(b, "[", 1);
    int32_t L = cat->n_levels[task];
    if (cat->sid[task] && L > 0)
        for (int32_t l = 0; l < L; l++)
            semid_serve_buf_printf(b, "%s%d", l ? ", " : "", (int)cat->sid[task][(int64_t)item * L + l]);
    semid_serve_buf_putn(b, "]", 1);
}

static const char *str_at(const char *const *arr, int32_t i) { return arr && arr[i] ? arr[i] : ""; }

static void put_year(semid_serve_buf *b, const semid_serve_catalog *cat, int32_t item) {
    if (cat->years && cat->years[item] != 0) semid_serve_buf_printf(b, "%d", (int)cat->years[item]);
    else semid_serve_buf_puts(b, "null");
}

static long long popularity_at(const semid_serve_catalog *cat, int32_t item) {
    return cat->popularity ? (long long)cat->popularity[item] : 0;
}

/* Comma-separated genres as an array of trimmed, non-empty strings. */
static void put_genres(semid_serve_buf *b, const char *g) {
    semid_serve_buf_putn(b, "[", 1);
    int first = 1;
    while (g && *g) {
        const char *end = strchr(g, ',');
        if (!end) end = g + strlen(g);
        const char *s = g, *e = end;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e > s) {
            char *one = strndup(s, (size_t)(e - s));
            if (!one) {
                semid_serve_buf_discard(b);
                b->failed = 1;
                return;
            }
            if (!first) semid_serve_buf_puts(b, ", ");
            semid_serve_buf_json_string(b, one);
            free(one);
            first = 0;
        }
        g = *end ? end + 1 : end;
    }
    semid_serve_buf_putn(b, "]", 1);
}

static int valid_item(const semid_serve_catalog *cat, int32_t item) {
    return cat && item >= 0 && item < cat->n_items && cat->ids;
}

/* {"results": [...], ["unknown_words": N,] "invalid_beams": N} without the braces. */
static void put_entry(semid_serve_buf *b, const semid_serve_catalog *cat, semid_serve_kind task,
                      const semid_serve_hits *h, int64_t e) {
    semid_serve_buf_puts(b, "\"results\": [");
    int32_t k = h->k > 0 ? h->k : 0;
    int32_t nh = k;
    if (h->n_hits) nh = h->n_hits[e] < 0 ? 0 : (h->n_hits[e] > k ? k : h->n_hits[e]);
    int first = 1;
    for (int32_t j = 0; j < nh && h->items; j++) {
        int32_t item = h->items[e * k + j];
        if (item < 0 && !h->n_hits) break;
        if (!valid_item(cat, item)) continue;
        semid_serve_buf_puts(b, first ? "{\"id\": " : ", {\"id\": ");
        first = 0;
        semid_serve_buf_json_string(b, str_at(cat->ids, item));
        semid_serve_buf_puts(b, ", \"title\": ");
        semid_serve_buf_json_string(b, str_at(cat->titles, item));
        semid_serve_buf_puts(b, ", \"score\": ");
        put_number(b, h->scores ? (double)h->scores[e * k + j] : NAN, 4);
        semid_serve_buf_puts(b, ", \"sid\": ");
        put_sid(b, cat, task == SEMID_SERVE_RECOMMEND, item);
        semid_serve_buf_putn(b, "}", 1);
    }
    semid_serve_buf_puts(b, "]");
    if (task == SEMID_SERVE_SEARCH)
        semid_serve_buf_printf(b, ", \"unknown_words\": %d", h->n_unknown ? (int)h->n_unknown[e] : 0);
    semid_serve_buf_printf(b, ", \"invalid_beams\": %d", h->n_invalid ? (int)h->n_invalid[e] : 0);
}

static void put_tail(semid_serve_buf *b, const char *model_version, double took_ms) {
    semid_serve_buf_puts(b, ", \"model_version\": ");
    semid_serve_buf_json_string(b, model_version ? model_version : "");
    semid_serve_buf_puts(b, ", \"took_ms\": ");
    put_number(b, isfinite(took_ms) && took_ms > 0 ? took_ms : 0, 3);
    semid_serve_buf_putn(b, "}", 1);
}

char *semid_serve_results_json(const semid_serve_catalog *cat, semid_serve_kind task, const semid_serve_hits *hits,
                               int batch, const char *model_version, double took_ms) {
    if (!cat || !hits) return NULL;
    semid_serve_buf b = {0};
    if (batch) {
        semid_serve_buf_puts(&b, "{\"responses\": [");
        for (int64_t e = 0; e < hits->n; e++) {
            semid_serve_buf_puts(&b, e ? ", {" : "{");
            put_entry(&b, cat, task, hits, e);
            semid_serve_buf_putn(&b, "}", 1);
        }
        semid_serve_buf_putn(&b, "]", 1);
    } else if (hits->n > 0) {
        semid_serve_buf_putn(&b, "{", 1);
        put_entry(&b, cat, task, hits, 0);
    } else {
        semid_serve_buf_puts(&b, "{\"results\": []");
        if (task == SEMID_SERVE_SEARCH) semid_serve_buf_puts(&b, ", \"unknown_words\": 0");
        semid_serve_buf_puts(&b, ", \"invalid_beams\": 0");
    }
    put_tail(&b, model_version, took_ms);
    return semid_serve_buf_finish(&b);
}

char *semid_serve_item_json(const semid_serve_catalog *cat, int32_t item) {
    if (!valid_item(cat, item)) return NULL;
    semid_serve_buf b = {0};
    semid_serve_buf_puts(&b, "{\"id\": ");
    semid_serve_buf_json_string(&b, str_at(cat->ids, item));
    semid_serve_buf_puts(&b, ", \"title\": ");
    semid_serve_buf_json_string(&b, str_at(cat->titles, item));
    semid_serve_buf_puts(&b, ", \"year\": ");
    put_year(&b, cat, item);
    semid_serve_buf_puts(&b, ", \"genres\": ");
    put_genres(&b, str_at(cat->genres, item));
    semid_serve_buf_printf(&b, ", \"popularity\": %lld, \"sid\": {\"search\": ", popularity_at(cat, item));
    put_sid(&b, cat, SEMID_SERVE_SEARCH, item);
    semid_serve_buf_puts(&b, ", \"rec\": ");
    put_sid(&b, cat, SEMID_SERVE_RECOMMEND, item);
    semid_serve_buf_puts(&b, "}}");
    return semid_serve_buf_finish(&b);
}

char *semid_serve_typeahead_json(const semid_serve_catalog *cat, const int32_t *idx, int32_t n) {
    if (!cat) return NULL;
    semid_serve_buf b = {0};
    semid_serve_buf_puts(&b, "{\"items\": [");
    int first = 1;
    for (int32_t j = 0; j < n && idx; j++) {
        int32_t item = idx[j];
        if (!valid_item(cat, item)) continue;
        semid_serve_buf_puts(&b, first ? "{\"id\": " : ", {\"id\": ");
        first = 0;
        semid_serve_buf_json_string(&b, str_at(cat->ids, item));
        semid_serve_buf_puts(&b, ", \"title\": ");
        semid_serve_buf_json_string(&b, str_at(cat->titles, item));
        semid_serve_buf_puts(&b, ", \"year\": ");
        put_year(&b, cat, item);
        semid_serve_buf_printf(&b, ", \"popularity\": %lld}", popularity_at(cat, item));
    }
    semid_serve_buf_puts(&b, "]}");
    return semid_serve_buf_finish(&b);
}

char *semid_serve_health_json(const char *model_version, int32_t n_items) {
    semid_serve_buf b = {0};
    semid_serve_buf_puts(&b, "{\"status\": \"ok\", \"model_version\": ");
    semid_serve_buf_json_string(&b, model_version ? model_version : "");
    semid_serve_buf_printf(&b, ", \"items\": %d}", (int)n_items);
    return semid_serve_buf_finish(&b);
}

/* ---- type-ahead ---- */

static int word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* The next word at or after *p: [*start, *end), or 0 at the end. An
 * apostrophe with word bytes on both sides is part of the word (and
 * skipped when comparing). */
static int next_word(const char **p, const char **start, const char **end) {
    const unsigned char *s = (const unsigned char *)*p;
    while (*s && !word_byte(*s)) s++;
    if (!*s) {
        *p = (const char *)s;
        return 0;
    }
    const unsigned char *b = s;
    while (*s && (word_byte(*s) || (*s == '\'' && word_byte(s[1])))) s++;
    *start = (const char *)b;
    *end = (const char *)s;
    *p = (const char *)s;
    return 1;
}

/* 1 if word [qs, qe) is a prefix of word [ts, te), case-insensitively,
 * apostrophes ignored. */
static int word_prefix(const char *qs, const char *qe, const char *ts, const char *te) {
    while (1) {
        while (qs < qe && *qs == '\'') qs++;
        while (ts < te && *ts == '\'') ts++;
        if (qs == qe) return 1;
        if (ts == te) return 0;
        if (lower((unsigned char)*qs) != lower((unsigned char)*ts)) return 0;
        qs++, ts++;
    }
}

static int title_matches(const char *title, const char *q) {
    const char *qp = q, *qs, *qe;
    while (next_word(&qp, &qs, &qe)) {
        const char *tp = title, *ts, *te;
        int found = 0;
        while (!found && next_word(&tp, &ts, &te)) found = word_prefix(qs, qe, ts, te);
        if (!found) return 0;
    }
    return 1;
}

int32_t semid_serve_typeahead(const char *const *titles, const int64_t *popularity, int32_t n, const char *q,
                              int limit, int32_t *out) {
    if (!titles || !out || limit <= 0 || n <= 0) return 0;
    if (!q) q = "";
    int32_t m = 0; /* out[0..m): best first */
    for (int32_t i = 0; i < n; i++) {
        if (!titles[i] || !title_matches(titles[i], q)) continue;
        int64_t pi = popularity ? popularity[i] : 0;
        /* i is after every kept index, so it goes after equal popularity */
        int32_t pos = m;
        while (pos > 0 && (popularity ? popularity[out[pos - 1]] : 0) < pi) pos--;
        if (pos >= limit) continue;
        int32_t last = m < limit ? m : limit - 1;
        memmove(out + pos + 1, out + pos, sizeof(int32_t) * (size_t)(last - pos));
        out[pos] = i;
        if (m < limit) m++;
    }
    return m;
}
