/* Word-vector tables: text loaders (GloVe, word2vec), the compact binary
 * format of the shipped GloVe subset, and lookup by word (open addressing
 * with linear probing over FNV-1a hashes). */
#include "text/wordvec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "text/tokenize.h"

static const char k_magic[8] = {'S', 'E', 'M', 'I', 'D', 'W', 'V', '\0'};
enum { WV_VERSION = 1, WV_ENC_INT8 = 1 };

void semid_wordvec_free(semid_wordvec *wv) {
    if (!wv) return;
    if (wv->words)
        for (int32_t i = 0; i < wv->n_words; i++) free(wv->words[i]);
    free(wv->words);
    free(wv->vectors);
    free(wv->slots);
    memset(wv, 0, sizeof(*wv));
}

static uint64_t word_hash(const char *w) { return semid_hash_bytes(w, strlen(w), 0); }

/* Inserts word i; returns 0 if the word was already present. */
static int table_insert(semid_wordvec *wv, int32_t i) {
    uint64_t mask = (uint64_t)wv->n_slots - 1;
    for (uint64_t s = word_hash(wv->words[i]) & mask;; s = (s + 1) & mask) {
        int32_t j = wv->slots[s];
        if (j < 0) {
            wv->slots[s] = i;
            return 1;
        }
        if (strcmp(wv->words[j], wv->words[i]) == 0) return 0;
    }
}

int32_t semid_wordvec_find(const semid_wordvec *wv, const char *word) {
    if (!wv || !wv->slots || !word) return -1;
    uint64_t mask = (uint64_t)wv->n_slots - 1;
    for (uint64_t s = word_hash(word) & mask;; s = (s + 1) & mask) {
        int32_t j = wv->slots[s];
        if (j < 0) return -1;
        if (strcmp(wv->words[j], word) == 0) return j;
    }
}

const float *semid_wordvec_get(const semid_wordvec *wv, const char *word) {
    int32_t i = semid_wordvec_find(wv, word);
    return i < 0 ? NULL : wv->vectors + (int64_t)i * wv->dim;
}

/* Allocates the arrays for up to `cap` words of width `dim`. */
static semid_status table_alloc(semid_wordvec *wv, int64_t cap, int32_t dim) {
    memset(wv, 0, sizeof(*wv));
    wv->dim = dim;
    int64_t slots = 16;
    while (slots < 2 * cap) slots *= 2;
    wv->n_slots = slots;
    wv->words = calloc((size_t)(cap > 0 ? cap : 1), sizeof(char *));
    wv->vectors = malloc((size_t)(cap > 0 ? cap : 1) * (size_t)dim * sizeof(float));
    wv->slots = malloc((size_t)slots * sizeof(int32_t));
    if (!wv->words || !wv->vectors || !wv->slots) {
        semid_wordvec_free(wv);
        return semid_fail(SEMID_ENOMEM, "out of memory for %lld word vectors of width %d", (long long)cap, dim);
    }
    for (int64_t s = 0; s < slots; s++) wv->slots[s] = -1;
    return SEMID_OK;
}

/* Adds a word (copied) whose vector the caller has written at row n_words.
 * Returns SEMID_OK and sets *added = 0 for a duplicate (ignored). */
static semid_status table_add(semid_wordvec *wv, const char *word, size_t len, int *added) {
    char *w = malloc(len + 1);
    if (!w) return semid_fail(SEMID_ENOMEM, "out of memory for word vectors");
    memcpy(w, word, len);
    w[len] = '\0';
    wv->words[wv->n_words] = w;
    if (!table_insert(wv, wv->n_words)) {
        free(w);
        wv->words[wv->n_words] = NULL;
        *added = 0;
        return SEMID_OK;
    }
    wv->n_words++;
    *added = 1;
    return SEMID_OK;
}

semid_status semid_wordvec_from_arrays(semid_wordvec *out, const char *const *words, const float *vectors,
                                       int32_t n_words, int32_t dim) {
    if (n_words < 0 || dim <= 0) return semid_fail(SEMID_EINVAL, "word vectors: bad sizes %d x %d", n_words, dim);
    SEMID_TRY(table_alloc(out, n_words, dim));
    for (int32_t i = 0; i < n_words; i++) {
        memcpy(out->vectors + (int64_t)out->n_words * dim, vectors + (int64_t)i * dim, (size_t)dim * sizeof(float));
        int added;
        semid_status st = table_add(out, words[i], strlen(words[i]), &added);
        if (st == SEMID_OK && !added) st = semid_fail(SEMID_EINVAL, "word vectors: duplicate word '%s'", words[i]);
        if (st != SEMID_OK) {
            semid_wordvec_free(out);
            return st;
        }
    }
    return SEMID_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Counts whitespace-separated fields of a line. */
static int64_t count_fields(const char *s) {
    int64_t n = 0;
    while (*s) {
        while (is_space(*s)) s++;
        if (!*s) break;
        n++;
        while (*s && !is_space(*s)) s++;
    }
    return n;
}

/* Parses the text formats from a NUL-terminated buffer. */
static semid_status load_text(const char *path, char *data, size_t len, int64_t max_words, semid_wordvec *out) {
    semid_lines it;
    semid_lines_init(&it, data, len);
    size_t line_len;
    char *line = semid_lines_next(&it, &line_len);
    while (line && count_fields(line) == 0) line = semid_lines_next(&it, &line_len);
    if (!line) return semid_fail(SEMID_EPARSE, "%s: no word vectors in the file", path);

    /* word2vec: "count dim"; GloVe: the first line is already a vector. */
    int64_t header_count = -1;
    int64_t dim;
    long long a, b;
    char tail;
    if (count_fields(line) == 2 && sscanf(line, "%lld %lld %c", &a, &b, &tail) == 2) {
        if (a < 0 || b <= 0 || b > 100000)
            return semid_fail(SEMID_EPARSE, "%s:%lld: bad word2vec header '%s'", path, (long long)it.line_no, line);
        header_count = a;
        dim = b;
        line = semid_lines_next(&it, &line_len);
    } else {
        dim = count_fields(line) - 1;
        if (dim <= 0) return semid_fail(SEMID_EPARSE, "%s:%lld: a word with no values", path, (long long)it.line_no);
    }

    /* Capacity: the lines left in the file bound the number of words, and so
     * do its bytes: a word and its dim values take at least 2 x dim + 1. */
    int64_t cap = 1; /* the line in hand, then every line after it (the last may lack its newline) */
    for (const char *p = it.cur; p < it.end; p++) cap += (*p == '\n');
    if (it.cur < it.end && it.end[-1] != '\n') cap++;
    size_t left = line ? (size_t)(it.end - line) : 0;
    int64_t by_bytes = (int64_t)(left / (size_t)(2 * dim + 1)) + 1;
    if (cap > by_bytes) cap = by_bytes;
    if (max_words > 0 && cap > max_words) cap = max_words;
    SEMID_TRY(table_alloc(out, cap, (int32_t)dim));

    int64_t n_lines = 0;
    semid_status st = SEMID_OK;
    for (; line && st == SEMID_OK; line = semid_lines_next(&it, &line_len)) {
        if (count_fields(line) == 0) continue;
        n_lines++;
        if (max_words > 0 && out->n_words >= max_words) break;
        char *s = line;
        while (is_space(*s)) s++;
        char *word = s;
        while (*s && !is_space(*s)) s++;
        size_t wlen = (size_t)(s - word);
        float *row = out->vectors + (int64_t)out->n_words * dim;
        int64_t k = 0;
        while (st == SEMID_OK) {
            while (is_space(*s)) s++;
            if (!*s) break;
            if (k == dim) {
                k = dim + count_fields(s);
                break;
            }
            char *end;
            errno = 0;
            float v = strtof(s, &end);
            if (end == s || (*end && !is_space(*end))) {
                st = semid_fail(SEMID_EPARSE, "%s:%lld: value %lld of '%.*s' is not a number", path,
                                (long long)it.line_no, (long long)k + 1, (int)wlen, word);
            } else if (!isfinite(v)) {
                st = semid_fail(SEMID_ENUMERIC, "%s:%lld: value %lld of '%.*s' is not finite", path,
                                (long long)it.line_no, (long long)k + 1, (int)wlen, word);
            }
            row[k++] = v;
            s = end;
        }
        if (st == SEMID_OK && k != dim)
            st = semid_fail(SEMID_EPARSE, "%s:%lld: '%.*s' has %lld values, expected %lld", path, (long long)it.line_no,
                            (int)wlen, word, (long long)k, (long long)dim);
        int added;
        if (st == SEMID_OK) st = table_add(out, word, wlen, &added);
    }
    if (st == SEMID_OK && header_count >= 0 && max_words <= 0 && n_lines != header_count)
        st = semid_fail(SEMID_EPARSE, "%s: the header announces %lld words but the file has %lld", path,
                        (long long)header_count, (long long)n_lines);
    if (st == SEMID_OK && out->n_words == 0) st = semid_fail(SEMID_EPARSE, "%s: no word vectors in the file", path);
    if (st != SEMID_OK) semid_wordvec_free(out);
    return st;
}

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static semid_status load_compact(const char *path, const unsigned char *data, size_t len, int64_t max_words,
                                 semid_wordvec *out) {
    if (len < 24) return semid_fail(SEMID_EFORMAT, "%s: truncated header", path);
    uint32_t version = rd_u32(data + 8), n = rd_u32(data + 12), dim = rd_u32(data + 16), enc = rd_u32(data + 20);
    if (version != WV_VERSION) return semid_fail(SEMID_EFORMAT, "%s: unsupported version %u", path, version);
    if (enc != WV_ENC_INT8) return semid_fail(SEMID_EFORMAT, "%s: unsupported encoding %u", path, enc);
    if (dim == 0 || dim > 100000 || n > INT32_MAX) return semid_fail(SEMID_EFORMAT, "%s: bad sizes %u x %u", path, n, dim);
    int64_t keep = (max_words > 0 && max_words < n) ? max_words : n;
    /* A record is at least a length byte, one byte of word, a scale and dim
     * bytes: the count must fit the bytes left before it is allocated. */
    if ((uint64_t)keep > (len - 24) / (6 + (uint64_t)dim))
        return semid_fail(SEMID_EFORMAT, "%s: %lld words of width %u do not fit in the file's %zu bytes (truncated?)", path,
                          (long long)keep, dim, len);
    SEMID_TRY(table_alloc(out, keep, (int32_t)dim));
    size_t pos = 24;
    semid_status st = SEMID_OK;
    for (int64_t i = 0; i < keep && st == SEMID_OK; i++) {
        if (pos + 1 > len) {
            st = semid_fail(SEMID_EFORMAT, "%s: truncated at word %lld", path, (long long)i);
            break;
        }
        size_t wlen = data[pos++];
        if (wlen == 0 || pos + wlen + 4 + dim > len) {
            st = semid_fail(SEMID_EFORMAT, "%s: truncated or empty word at record %lld", path, (long long)i);
            break;
        }
        const char *word = (const char *)data + pos;
        pos += wlen;
        float scale;
        memcpy(&scale, data + pos, 4);
        pos += 4;
        if (!isfinite(scale * 128.0f)) { /* values are scale x int8: a scale near FLT_MAX overflows */
            st = semid_fail(SEMID_ENUMERIC, "%s: scale %g at record %lld is not finite or too large", path, (double)scale,
                            (long long)i);
            break;
        }
        float *row = out->vectors + (int64_t)out->n_words * dim;
        for (uint32_t d = 0; d < dim; d++) row[d] = scale * (float)(int8_t)data[pos + d];
        pos += dim;
        int added;
        st = table_add(out, word, wlen, &added);
    }
    if (st == SEMID_OK && out->n_words == 0) st = semid_fail(SEMID_EFORMAT, "%s: no word vectors in the file", path);
    /* All records read: nothing may follow (the checksum trailer, when
     * there is one, was taken off; a damaged one is left here). */
    if (st == SEMID_OK && keep == n && pos != len)
        st = semid_fail(SEMID_EFORMAT, "%s: %zu unexpected bytes after the last word (a damaged checksum trailer?)",
                        path, len - pos);
    if (st != SEMID_OK) semid_wordvec_free(out);
    return st;
}

semid_status semid_wordvec_load(const char *path, int64_t max_words, semid_wordvec *out) {
    memset(out, 0, sizeof(*out));
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file(path, &data, &len));
    semid_status st;
    if (len >= 8 && memcmp(data, k_magic, 8) == 0) {
        st = semid_checksum_trailer_check(path, data, &len);
        if (st == SEMID_OK) st = load_compact(path, (const unsigned char *)data, len, max_words, out);
    } else {
        st = load_text(path, data, len, max_words, out);
    }
    free(data);
    if (st == SEMID_OK) SEMID_DEBUG("loaded %d word vectors of width %d from %s", out->n_words, out->dim, path);
    return st;
}

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

semid_status semid_wordvec_save_compact(const semid_wordvec *wv, const char *path) {
    size_t total = 24;
    for (int32_t i = 0; i < wv->n_words; i++) {
        size_t wlen = strlen(wv->words[i]);
        if (wlen == 0 || wlen > 255)
            return semid_fail(SEMID_EINVAL, "%s: word %d is %zu bytes long (1..255 allowed)", path, i, wlen);
        total += 1 + wlen + 4 + (size_t)wv->dim;
    }
    unsigned char *buf = malloc(total);
    if (!buf) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    memcpy(buf, k_magic, 8);
    put_u32(buf + 8, WV_VERSION);
    put_u32(buf + 12, (uint32_t)wv->n_words);
    put_u32(buf + 16, (uint32_t)wv->dim);
    put_u32(buf + 20, WV_ENC_INT8);
    size_t pos = 24;
    for (int32_t i = 0; i < wv->n_words; i++) {
        size_t wlen = strlen(wv->words[i]);
        buf[pos++] = (unsigned char)wlen;
        memcpy(buf + pos, wv->words[i], wlen);
        pos += wlen;
        const float *row = wv->vectors + (int64_t)i * wv->dim;
        float amax = 0.0f;
        for (int32_t d = 0; d < wv->dim; d++) amax = fmaxf(amax, fabsf(row[d]));
        float scale = amax / 127.0f;
        if (!(scale > 0.0f)) scale = 1.0f; /* a zero row, or one so small that the scale underflows */
        memcpy(buf + pos, &scale, 4);
        pos += 4;
        for (int32_t d = 0; d < wv->dim; d++) {
            float q = roundf(row[d] / scale);
            buf[pos++] = (unsigned char)(int8_t)(q > 127.0f ? 127 : (q < -127.0f ? -127 : (int)q));
        }
    }
    semid_status st = semid_write_file_trailed(path, buf, total);
    free(buf);
    return st;
}

/* Tries dir/glove/<default file>; returns SEMID_OK when it loaded. */
static semid_status try_dir(const char *dir, char *tried, size_t tried_cap, semid_wordvec *out) {
    size_t need = strlen(dir) + sizeof("/glove/") + sizeof(SEMID_WORDVEC_DEFAULT_FILE);
    char *path = malloc(need);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    snprintf(path, need, "%s/glove/%s", dir, SEMID_WORDVEC_DEFAULT_FILE);
    semid_status st;
    if (!semid_path_exists(path)) {
        size_t used = strlen(tried);
        snprintf(tried + used, tried_cap - used, "%s%s", used ? ", " : "", path);
        st = SEMID_ENOTFOUND;
    } else {
        st = semid_wordvec_load(path, 0, out);
    }
    free(path);
    return st;
}

semid_status semid_wordvec_load_default(semid_wordvec *out) {
    memset(out, 0, sizeof(*out));
    char tried[8192] = "";
    const char *env = getenv("SEMID_GLOVE");
    if (env && *env) return semid_wordvec_load(env, 0, out);
    semid_status st;
    env = getenv("SEMID_DATA_DIR");
    if (env && *env && (st = try_dir(env, tried, sizeof(tried), out)) != SEMID_ENOTFOUND) return st;
    if ((st = try_dir("data", tried, sizeof(tried), out)) != SEMID_ENOTFOUND) return st;
#ifdef SEMID_DATA_DIR
    if ((st = try_dir(SEMID_DATA_DIR, tried, sizeof(tried), out)) != SEMID_ENOTFOUND) return st;
#endif
    /* The source tree this file was built from: <root>/src/text/wordvec.c. */
    char root[4096];
    snprintf(root, sizeof(root), "%s", __FILE__);
    char *cut = strstr(root, "/src/text/wordvec.c");
    if (cut) {
        snprintf(cut, sizeof(root) - (size_t)(cut - root), "/data");
        if ((st = try_dir(root, tried, sizeof(tried), out)) != SEMID_ENOTFOUND) return st;
    }
    return semid_fail(SEMID_ENOTFOUND, "no word vectors found (set SEMID_GLOVE to a GloVe file); tried %s", tried);
}
