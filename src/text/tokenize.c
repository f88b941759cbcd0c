/* Word tokenisation (see tokenize.h for the rules).
 *
 * One pass over the bytes: each valid UTF-8 code point is classified as a
 * word character (letters, digits, any non-Latin-1 code point outside the
 * general punctuation blocks), an apostrophe, or a boundary. Letters of
 * ASCII and Latin-1 Supplement are folded to lower case. Invalid bytes
 * (stray continuation bytes, overlong forms, surrogates, > U+10FFFF,
 * truncated sequences) are skipped without splitting the word. */
#include "text/tokenize.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"

/* Decodes one code point at s[0..n); returns its length in bytes, or 0 if
 * the bytes there are not valid UTF-8 (the caller drops one byte). */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static int utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

enum { CH_BOUNDARY = 0, CH_WORD = 1, CH_APOSTROPHE = 2 };

static int classify(uint32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) return CH_WORD;
        return cp == '\'' ? CH_APOSTROPHE : CH_BOUNDARY;
    }
    if (cp < 0xC0) return CH_BOUNDARY;                /* C1 controls, NBSP, Latin-1 symbols */
    if (cp == 0xD7 || cp == 0xF7) return CH_BOUNDARY; /* multiplication and division signs */
    if (cp < 0x100) return CH_WORD;                   /* Latin-1 letters */
    if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC) return CH_APOSTROPHE; /* typographic apostrophes */
    if (cp >= 0x2000 && cp <= 0x206F) return CH_BOUNDARY; /* general punctuation, spaces */
    if (cp >= 0x3000 && cp <= 0x303F) return CH_BOUNDARY; /* CJK punctuation */
    if (cp == 0xFEFF) return CH_BOUNDARY;                 /* byte-order mark */
    return CH_WORD;
}

static uint32_t fold(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
    return cp;
}

/* Appends the word buf[0..len) to out, growing its array. */
static semid_status push_word(semid_words *out, int32_t *cap, const char *buf, size_t len) {
    if (out->n == *cap) {
        int32_t ncap = *cap ? *cap * 2 : 16;
        char **nw = realloc(out->words, (size_t)ncap * sizeof(char *));
        if (!nw) return semid_fail(SEMID_ENOMEM, "out of memory tokenizing text");
        out->words = nw;
        *cap = ncap;
    }
    char *w = malloc(len + 1);
    if (!w) return semid_fail(SEMID_ENOMEM, "out of memory tokenizing text");
    memcpy(w, buf, len);
    w[len] = '\0';
    out->words[out->n++] = w;
    return SEMID_OK;
}

semid_status semid_tokenize(const char *text, semid_words *out) {
    out->n = 0;
    out->words = NULL;
    if (!text) return SEMID_OK;
    size_t n = strlen(text);
    /* A word is never longer than its source bytes (folding keeps lengths). */
    char *buf = malloc(n + 1);
    if (!buf) return semid_fail(SEMID_ENOMEM, "out of memory tokenizing text");
    const unsigned char *s = (const unsigned char *)text;
    size_t len = 0;
    int32_t cap = 0;
    int pending_apostrophe = 0;
    semid_status st = SEMID_OK;
    for (size_t i = 0; i < n && st == SEMID_OK;) {
        uint32_t cp;
        int k = utf8_decode(s + i, n - i, &cp);
        if (k == 0) {
            i++; /* invalid byte: dropped, the word goes on */
            continue;
        }
        i += (size_t)k;
        int cls = classify(cp);
        if (cls == CH_WORD) {
            pending_apostrophe = 0;
            len += (size_t)utf8_encode(fold(cp), buf + len);
        } else if (cls == CH_APOSTROPHE && len > 0 && !pending_apostrophe) {
            pending_apostrophe = 1; /* dropped if a letter follows, a boundary otherwise */
        } else {
            if (len > 0) st = push_word(out, &cap, buf, len);
            len = 0;
            pending_apostrophe = 0;
        }
    }
    if (st == SEMID_OK && len > 0) st = push_word(out, &cap, buf, len);
    free(buf);
    if (st != SEMID_OK) semid_words_free(out);
    return st;
}

void semid_words_free(semid_words *w) {
    if (!w) return;
    for (int32_t i = 0; i < w->n; i++) free(w->words[i]);
    free(w->words);
    w->words = NULL;
    w->n = 0;
}

/* Sorted, for bsearch. Function words only: content words like "man",
 * "love" or "world" carry meaning for search and stay. */
static const char *const k_stopwords[] = {
    "a",      "about", "above",   "after",   "again",  "against", "all",   "also",  "am",    "an",
    "and",    "any",   "are",     "as",      "at",     "be",      "been",  "before", "being", "below",
    "between", "both", "but",     "by",      "can",    "could",   "did",   "do",    "does",  "doing",
    "down",   "during", "each",   "few",     "for",    "from",    "further", "had",  "has",   "have",
    "having", "he",    "her",     "here",    "hers",   "herself", "him",   "himself", "his",  "how",
    "i",      "if",    "in",      "into",    "is",     "it",      "its",   "itself", "just",  "me",
    "more",   "most",  "my",      "myself",  "no",     "nor",     "not",   "now",   "of",    "off",
    "on",     "once",  "only",    "or",      "other",  "our",     "ours",  "ourselves", "out", "over",
    "own",    "same",  "she",     "should",  "so",     "some",    "such",  "than",  "that",  "the",
    "their",  "theirs", "them",   "themselves", "then", "there",  "these", "they",  "this",  "those",
    "through", "to",   "too",     "under",   "until",  "up",      "very",  "was",   "we",    "were",
    "what",   "when",  "where",   "which",   "while",  "who",     "whom",  "why",   "will",  "with",
    "would",  "you",   "your",    "yours",   "yourself", "yourselves",
};

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int semid_is_stopword(const char *word) {
    if (!word) return 0;
    return bsearch(&word, k_stopwords, sizeof(k_stopwords) / sizeof(k_stopwords[0]), sizeof(k_stopwords[0]),
                   cmp_str) != NULL;
}

/* FNV-1a; the seed is folded into the offset basis so different seeds give
 * independent-looking hash families (e.g. for n-gram buckets). */
uint64_t semid_hash_bytes(const void *data, size_t len, uint64_t seed) {
    uint64_t h = 14695981039346656037ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
