#include "data/import_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"

void import_begin_file(import_ctx *c, const char *path) {
    c->path = path;
    c->skipped = 0;
    c->bad_years = 0;
}

void import_end_file(import_ctx *c) {
    if (c->bad_years)
        SEMID_WARN("%s: %lld year%s not a number (first on line %lld); taken as unknown", c->path,
                   (long long)c->bad_years, c->bad_years == 1 ? " is" : "s are", (long long)c->first_bad_year);
    c->bad_years = 0;
    if (c->skipped == 0) return;
    char list[128] = "";
    size_t pos = 0;
    int shown = c->skipped < IMPORT_FIRST_SKIPS ? (int)c->skipped : IMPORT_FIRST_SKIPS;
    for (int i = 0; i < shown && pos < sizeof list; i++)
        pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%lld", i ? ", " : "", (long long)c->first_skips[i]);
    SEMID_WARN("%s: skipped %lld malformed line%s (first: %s%s)", c->path, (long long)c->skipped,
               c->skipped == 1 ? "" : "s", list, c->skipped > shown ? ", ..." : "");
    c->skipped = 0;
}

static semid_status reject_message(import_ctx *c, int64_t line, const char *msg) {
    if (!c->opts->lenient) return semid_fail(SEMID_EPARSE, "%s:%lld: %s", c->path, (long long)line, msg);
    if (c->skipped < IMPORT_FIRST_SKIPS) c->first_skips[c->skipped] = line;
    c->skipped++;
    SEMID_DEBUG("%s:%lld: skipped: %s", c->path, (long long)line, msg);
    return SEMID_OK;
}

semid_status import_reject(import_ctx *c, int64_t line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reject_message(c, line, msg);
}

semid_status import_reject_status(import_ctx *c, int64_t line, semid_status st) {
    if (st == SEMID_ENOMEM) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", semid_last_error());
    semid_status r = reject_message(c, line, msg);
    /* Keep the builder's status (e.g. ENOTFOUND for an unknown id). */
    return r == SEMID_OK ? SEMID_OK : st;
}

bool import_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need) return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static char *latin1_to_utf8(const char *s, size_t n, size_t *out_len) {
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) extra += (unsigned char)s[i] >= 0x80;
    char *out = malloc(n + extra + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

semid_status import_read_text(import_ctx *c, const char *path, bool latin1_fallback, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    char *buf;
    size_t n;
    SEMID_TRY(semid_read_file(path, &buf, &n));
    if (n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        memmove(buf, buf + 3, n - 3 + 1);
        n -= 3;
    }
    size_t k = 0;
    while (k < n && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' || buf[k] == '\n')) k++;
    if (k == n) {
        free(buf);
        return semid_fail(SEMID_EPARSE, "%s: empty file", path);
    }
    /* Lines that end in CR alone (classic Mac) would read as one line: each
     * CR is taken as a line break, and the cause is named. */
    if (!memchr(buf, '\n', n) && memchr(buf, '\r', n)) {
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\r') buf[i] = '\n';
        SEMID_WARN("%s: lines end in a carriage return (CR) alone, not LF or CR LF (an old Mac text file): reading "
                   "each CR as a line break",
                   path);
    }
    /* A last line without its newline may have been cut off by a copy that
     * stopped early (a timestamp 978300765 cut to 978300 still parses). */
    if (buf[n - 1] != '\n') {
        int64_t line = 1;
        size_t start = 0;
        for (size_t i = 0; i < n; i++)
            if (buf[i] == '\n') {
                line++;
                start = i + 1;
            }
        SEMID_WARN("%s:%lld: the last line has no final newline: if the file was cut off, its last values are "
                   "incomplete (the line ends '%.*s')",
                   path, (long long)line, (int)(n - start < 40 ? n - start : 40), buf + n - (n - start < 40 ? n - start : 40));
    }
    if (latin1_fallback && !import_utf8_valid(buf, n)) {
        SEMID_INFO("%s is not valid UTF-8: reading it as Latin-1", path);
        size_t m;
        char *conv = latin1_to_utf8(buf, n, &m);
        free(buf);
        if (!conv) return semid_fail(SEMID_ENOMEM, "out of memory converting %s", path);
        buf = conv;
        n = m;
    }
    (void)c;
    *data = buf;
    *len = n;
    return SEMID_OK;
}

semid_status import_check_line(import_ctx *c, int64_t line, const char *text, size_t len, bool utf8, bool *ok) {
    *ok = false;
    if (memchr(text, '\0', len)) {
        SEMID_TRY(import_reject(c, line, "NUL byte in line"));
        return SEMID_OK;
    }
    if (utf8 && !import_utf8_valid(text, len)) {
        SEMID_TRY(import_reject(c, line, "invalid UTF-8"));
        return SEMID_OK;
    }
    *ok = true;
    return SEMID_OK;
}

semid_status import_check_fields(import_ctx *c, int64_t line, char **fields, int n, bool *ok) {
    *ok = false;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(fields[i]);
        if ((int64_t)len > c->opts->max_field_bytes) {
            SEMID_TRY(import_reject(c, line, "field %d is %zu bytes, longer than the limit of %lld", i + 1, len,
                                    (long long)c->opts->max_field_bytes));
            return SEMID_OK;
        }
    }
    *ok = true;
    return SEMID_OK;
}

static bool only_blanks(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

bool import_parse_i64(const char *s, int64_t *v) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return false;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || !only_blanks(end)) return false;
    *v = x;
    return true;
}

bool import_parse_double(const char *s, double *v) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return false;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno == ERANGE && fabs(x) > 1) return false;
    if (end == s || !only_blanks(end) || !isfinite(x)) return false;
    *v = x;
    return true;
}

bool import_parse_time(const char *s, int64_t *v) {
    if (import_parse_i64(s, v)) return true;
    double d;
    if (!import_parse_double(s, &d) || d >= 9.2e18 || d <= -9.2e18) return false;
    *v = (int64_t)d;
    return true;
}

int32_t import_parse_year(import_ctx *c, int64_t line, const char *s) {
    int64_t y = 0;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    if (import_parse_time(s, &y) && y >= -9999 && y <= 9999) return (int32_t)y;
    if (!c->bad_years++) c->first_bad_year = line;
    return 0;
}

char *import_trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

void import_split_title_year(char *title, int32_t *year) {
    *year = 0;
    char *t = import_trim(title);
    if (t != title) memmove(title, t, strlen(t) + 1);
    size_t n = strlen(title);
    /* "... (1995)": an opening parenthesis, four digits, a closing one. */
    if (n < 6 || title[n - 1] != ')' || title[n - 6] != '(') return;
    for (size_t k = n - 5; k < n - 1; k++)
        if (title[k] < '0' || title[k] > '9') return;
    *year = (int32_t)strtol(title + n - 5, NULL, 10);
    title[n - 6] = '\0';
    import_trim(title);
}

char *import_normalize_list(const char *s, const char *seps) {
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, seps);
        const char *a = p, *b = p + len;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) {
            if (o) out[o++] = ',';
            memcpy(out + o, a, (size_t)(b - a));
            o += (size_t)(b - a);
        }
        p += len;
        if (*p) p++;
    }
    out[o] = '\0';
    return out;
}

int import_find_column(char **header, int n, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        const char *h = header[i];
        while (*h == ' ') h++;
        if (strncmp(h, name, len) == 0 && (h[len] == '\0' || h[len] == ':' || h[len] == ' ')) return i;
    }
    return -1;
}

int import_split_rest(char *line, char sep, char **fields, int max_fields) {
    int n = 0;
    char *p = line;
    for (;;) {
        fields[n++] = p;
        if (n == max_fields) break;
        char *hit = strchr(p, sep);
        if (!hit) break;
        *hit = '\0';
        p = hit + 1;
    }
    return n;
}

semid_status import_interaction(import_ctx *c, int64_t line, const char *user, const char *item, int64_t time,
                                bool has_rating, double rating) {
    c->rated += has_rating;
    if (has_rating && rating < c->opts->min_rating) {
        c->dropped_by_rating++;
        return SEMID_OK;
    }
    semid_status st = semid_builder_add_interaction(c->b, user, item, time);
    return st == SEMID_OK ? SEMID_OK : import_reject_status(c, line, st);
}

static void warn_unknown(const char *path, int64_t unknown, int64_t first_line, const char *what) {
    if (unknown)
        SEMID_WARN("%s: %lld %s name items not in the catalog (first on line %lld); ignored", path, (long long)unknown,
                   what, (long long)first_line);
}

semid_status import_descriptions(import_ctx *c, const char *path) {
    char *data;
    size_t len;
    SEMID_TRY(import_read_text(c, path, false, &data, &len));
    import_begin_file(c, path);
    semid_lines it;
    semid_lines_init(&it, data, len);
    char *line;
    size_t n;
    int64_t unknown = 0, first_unknown = 0;
    semid_status st = SEMID_OK;
    while (st == SEMID_OK && (line = semid_lines_next(&it, &n))) {
        bool ok;
        if (n == 0) continue;
        st = import_check_line(c, it.line_no, line, n, true, &ok);
        if (st != SEMID_OK || !ok) continue;
        char *f[2];
        int nf = import_split_rest(line, '\t', f, 2);
        if (it.line_no == 1 && strcmp(import_trim(f[0]), "item_id") == 0) continue;
        if (nf < 2) {
            st = import_reject(c, it.line_no, "expected 2 tab-separated fields (item_id, description), found 1");
            continue;
        }
        st = import_check_fields(c, it.line_no, f, 2, &ok);
        if (st != SEMID_OK || !ok) continue;
        int32_t item = semid_builder_find_item(c->b, import_trim(f[0]));
        if (item < 0) {
            if (!unknown++) first_unknown = it.line_no;
            continue;
        }
        st = semid_builder_set_description(c->b, item, import_trim(f[1]));
    }
    free(data);
    if (st != SEMID_OK) return st;
    import_end_file(c);
    warn_unknown(path, unknown, first_unknown, "descriptions");
    return SEMID_OK;
}

static int parse_split(const char *s) {
    if (strcmp(s, "train") == 0) return SEMID_SPLIT_TRAIN;
    if (strcmp(s, "valid") == 0 || strcmp(s, "validation") == 0) return SEMID_SPLIT_VALID;
    if (strcmp(s, "test") == 0) return SEMID_SPLIT_TEST;
    return -1;
}

semid_status import_queries(import_ctx *c, const char *path) {
    char *data;
    size_t len;
    SEMID_TRY(import_read_text(c, path, false, &data, &len));
    import_begin_file(c, path);
    semid_lines it;
    semid_lines_init(&it, data, len);
    char *line;
    size_t n;
    int64_t unknown = 0, first_unknown = 0, added = 0;
    int layout = 0; /* 0: per line, 2: item query, 3: item split query (from the header) */
    semid_status st = SEMID_OK;
    while (st == SEMID_OK && (line = semid_lines_next(&it, &n))) {
        bool ok;
        if (n == 0) continue;
        st = import_check_line(c, it.line_no, line, n, true, &ok);
        if (st != SEMID_OK || !ok) continue;
        char *f[3];
        int nf = import_split_rest(line, '\t', f, layout == 2 ? 2 : 3);
        if (it.line_no == 1 && strcmp(import_trim(f[0]), "item_id") == 0) {
            layout = nf == 3 ? 3 : 2;
            continue;
        }
        st = import_check_fields(c, it.line_no, f, nf, &ok);
        if (st != SEMID_OK || !ok) continue;
        int split = SEMID_SPLIT_TRAIN;
        const char *text;
        if (nf == 3) {
            split = parse_split(import_trim(f[1]));
            if (split < 0) {
                st = import_reject(c, it.line_no, "split '%.40s' is not train, valid or test", f[1]);
                continue;
            }
            text = f[2];
        } else if (nf == 2 && layout != 3) {
            text = f[1];
        } else {
            st = import_reject(c, it.line_no, "expected item_id, split and query separated by tabs, found %d field%s",
                               nf, nf == 1 ? "" : "s");
            continue;
        }
        char *q = import_trim((char *)text);
        if (!*q) {
            st = import_reject(c, it.line_no, "empty query");
            continue;
        }
        int32_t item = semid_builder_find_item(c->b, import_trim(f[0]));
        if (item < 0) {
            if (!unknown++) first_unknown = it.line_no;
            continue;
        }
        st = semid_builder_add_query(c->b, item, q, (semid_split)split);
        if (st != SEMID_OK) st = import_reject_status(c, it.line_no, st);
        else added++;
    }
    free(data);
    if (st != SEMID_OK) return st;
    import_end_file(c);
    warn_unknown(path, unknown, first_unknown, "queries");
    SEMID_INFO("%s: %lld queries", path, (long long)added);
    return SEMID_OK;
}

/* ---- CSV ---- */

void import_csv_init(import_csv *r, char *data, size_t len) {
    r->cur = data;
    r->end = data + len;
    r->line_no = 0;
    r->next_line = 1;
}

/* Skips to the start of the next physical line after p. */
static void csv_skip_line(import_csv *r, char *p) {
    char *nl = p < r->end ? memchr(p, '\n', (size_t)(r->end - p)) : NULL;
    r->cur = nl ? nl + 1 : r->end;
    r->next_line++;
}

int import_csv_next(import_csv *r, char **fields, int max, int *n) {
    *n = 0;
    if (r->cur >= r->end) return 0;
    r->line_no = r->next_line;
    char *p = r->cur, *out = r->cur;
    bool nul = false; /* a NUL byte would silently cut its field short */
    for (;;) {
        char *start = out;
        if (p < r->end && *p == '"') {
            /* A bad quote could swallow the rest of the file: check the
             * field first and, if it is malformed, give up on this line only
             * (nothing after p has been rewritten yet). */
            char *q = p + 1;
            while (q < r->end && (q = memchr(q, '"', (size_t)(r->end - q))) && q + 1 < r->end && q[1] == '"') q += 2;
            bool closed = q && q < r->end;
            if (closed && q + 1 < r->end && q[1] != ',' && q[1] != '\n')
                closed = q[1] == '\r' && (q + 2 == r->end || q[2] == '\n');
            if (!closed) { /* unterminated, or text after the closing quote */
                csv_skip_line(r, p);
                return -1;
            }
            p++;
            for (;;) {
                if (*p == '"') {
                    if (p + 1 < r->end && p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (*p == '\n') r->next_line++;
                nul |= *p == '\0';
                *out++ = *p++;
            }
            if (p < r->end && *p == '\r' && (p + 1 == r->end || p[1] == '\n')) p++;
            if (p < r->end && *p != ',' && *p != '\n') {
                csv_skip_line(r, p);
                return -1;
            }
        } else {
            while (p < r->end && *p != ',' && *p != '\n') {
                nul |= *p == '\0';
                *out++ = *p++;
            }
            if (out > start && out[-1] == '\r' && (p >= r->end || *p == '\n')) out--;
        }
        if (*n < max) fields[*n] = start;
        (*n)++;
        if (p >= r->end || *p == '\n') {
            *out = '\0';
            r->cur = p < r->end ? p + 1 : r->end;
            r->next_line++;
            return nul ? -2 : 1;
        }
        *out++ = '\0'; /* out <= p: the separator's byte is free */
        p++;
    }
}

/* ---- delimited tables ---- */

static const char *sep_name(const char *sep) {
    if (strcmp(sep, "\t") == 0) return "tabs";
    if (strcmp(sep, "::") == 0) return "'::'";
    if (strcmp(sep, "|") == 0) return "'|'";
    if (strcmp(sep, ",") == 0) return "commas";
    return "separators";
}

semid_status import_table_open(import_ctx *c, import_table *t, const char *path, const char *sep, int n_cols,
                               bool latin1_fallback) {
    memset(t, 0, sizeof *t);
    t->sep = sep;
    t->n_cols = n_cols;
    SEMID_TRY(import_read_text(c, path, latin1_fallback, &t->data, &t->len));
    import_begin_file(c, path);
    semid_lines_init(&t->it, t->data, t->len);
    if (n_cols > 0) return SEMID_OK;
    size_t n;
    char *line;
    while ((line = semid_lines_next(&t->it, &n)) && n == 0) {
    }
    semid_status st = SEMID_OK;
    if (!line) st = semid_fail(SEMID_EPARSE, "%s: empty file", path); /* import_read_text catches most */
    else if (!import_utf8_valid(line, n) || memchr(line, '\0', n))
        st = semid_fail(SEMID_EPARSE, "%s:%lld: header is not valid UTF-8", path, (long long)t->it.line_no);
    if (st == SEMID_OK) {
        t->header_line = t->it.line_no;
        t->n_cols = semid_split_fields(line, sep, t->header, IMPORT_MAX_COLS);
        if (t->n_cols > IMPORT_MAX_COLS)
            st = semid_fail(SEMID_EPARSE, "%s:%lld: header has %d columns, more than %d", path,
                            (long long)t->it.line_no, t->n_cols, IMPORT_MAX_COLS);
        for (int i = 0; st == SEMID_OK && i < t->n_cols; i++) {
            t->header[i] = import_trim(t->header[i]);
            if ((int64_t)strlen(t->header[i]) > 256)
                st = semid_fail(SEMID_EPARSE, "%s:%lld: header column %d is too long", path, (long long)t->it.line_no,
                                i + 1);
        }
    }
    if (st != SEMID_OK) {
        free(t->data);
        t->data = NULL;
    }
    return st;
}

semid_status import_table_next(import_ctx *c, import_table *t, char **fields, bool *got) {
    *got = false;
    char *line;
    size_t n;
    while ((line = semid_lines_next(&t->it, &n))) {
        int64_t ln = t->it.line_no;
        if (n == 0) continue;
        bool ok;
        SEMID_TRY(import_check_line(c, ln, line, n, true, &ok));
        if (!ok) continue;
        char *f[IMPORT_MAX_COLS + 1];
        int nf = semid_split_fields(line, t->sep, f, IMPORT_MAX_COLS + 1);
        if (nf != t->n_cols) {
            SEMID_TRY(import_reject(c, ln, "expected %d fields separated by %s, found %d", t->n_cols, sep_name(t->sep),
                                    nf));
            continue;
        }
        SEMID_TRY(import_check_fields(c, ln, f, nf, &ok));
        if (!ok) continue;
        memcpy(fields, f, (size_t)nf * sizeof(char *));
        *got = true;
        return SEMID_OK;
    }
    return SEMID_OK;
}

void import_table_close(import_ctx *c, import_table *t) {
    if (t->data) import_end_file(c);
    free(t->data);
    t->data = NULL;
}

int64_t import_table_line(const import_table *t) { return t->it.line_no; }

semid_status import_table_require(import_ctx *c, const import_table *t, const char *name, int *col) {
    *col = import_find_column((char **)t->header, t->n_cols, name);
    if (*col < 0)
        return semid_fail(SEMID_EPARSE, "%s:%lld: header has no column '%s'", c->path, (long long)t->header_line, name);
    return SEMID_OK;
}

semid_status import_read_items(import_ctx *c, import_table *t, const import_item_columns *col, const char *list_seps,
                               const char *path) {
    char *f[IMPORT_MAX_COLS];
    bool got = true;
    semid_status st = SEMID_OK;
    while (st == SEMID_OK && (st = import_table_next(c, t, f, &got)) == SEMID_OK && got) {
        int64_t line = import_table_line(t);
        semid_item it = {.id = import_trim(f[col->id])};
        if (col->title >= 0) it.title = import_trim(f[col->title]);
        if (col->year >= 0) {
            it.year = import_parse_year(c, line, f[col->year]);
        } else if (it.title) {
            import_split_title_year(it.title, &it.year);
        }
        if (col->description >= 0) it.description = import_trim(f[col->description]);
        char *genres = import_normalize_list(col->genres >= 0 ? f[col->genres] : "", list_seps);
        char *tags = import_normalize_list(col->tags >= 0 ? f[col->tags] : "", list_seps);
        if (!genres || !tags) {
            free(genres);
            free(tags);
            st = semid_fail(SEMID_ENOMEM, "out of memory");
            break;
        }
        it.genres = genres;
        it.tags = tags;
        if (!*it.id) {
            st = import_reject(c, line, "empty item id");
        } else {
            semid_status add = semid_builder_add_item(c->b, &it, NULL);
            if (add != SEMID_OK) st = import_reject_status(c, line, add);
        }
        free(genres);
        free(tags);
    }
    import_table_close(c, t);
    if (st == SEMID_OK && semid_builder_n_items(c->b) == 0) st = semid_fail(SEMID_EPARSE, "%s: no items", path);
    return st;
}
