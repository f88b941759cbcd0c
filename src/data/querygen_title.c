/* Titles in queries (querygen_impl.h): the words of an item's titles, found
 * and removed in a query. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

void qg_title_free(qg_title *t) {
    for (int32_t i = 0; i < t->n_variants; i++) semid_words_free(&t->variants[i]);
    t->n_variants = 0;
}

static void strip_articles(semid_words *w) {
    int32_t b = 0, e = w->n;
    while (b < e && qg_is_title_article(w->words[b])) b++;
    while (e > b && qg_is_title_article(w->words[e - 1])) e--;
    if (b == e) return; /* a title of articles only ("A") is kept whole */
    for (int32_t i = 0; i < b; i++) free(w->words[i]);
    for (int32_t i = e; i < w->n; i++) free(w->words[i]);
    memmove(w->words, w->words + b, (size_t)(e - b) * sizeof(char *));
    w->n = e - b;
}

semid_status qg_title_parse(const char *title, qg_title *out) {
    memset(out, 0, sizeof *out);
    if (!title) return SEMID_OK;
    size_t n = strlen(title);
    char *main = malloc(n + 1), *alt = malloc(n + 1);
    if (!main || !alt) {
        free(main);
        free(alt);
        return semid_fail(SEMID_ENOMEM, "out of memory parsing a title");
    }
    size_t nm = 0;
    int depth = 0;
    semid_status st = SEMID_OK;
    for (size_t i = 0; i <= n && st == SEMID_OK; i++) {
        char ch = title[i];
        if (ch == '(') {
            if (depth++ == 0) {
                size_t na = 0;
                size_t j = i + 1;
                int d = 1;
                while (j < n && d > 0) {
                    if (title[j] == '(') d++;
                    if (title[j] == ')' && --d == 0) break;
                    alt[na++] = title[j++];
                }
                alt[na] = '\0';
                if (out->n_variants < 3) {
                    semid_words w;
                    st = semid_tokenize(alt, &w);
                    if (st == SEMID_OK && w.n > 0) {
                        strip_articles(&w);
                        out->variants[1 + out->n_variants++] = w;
                    } else if (st == SEMID_OK) {
                        semid_words_free(&w);
                    }
                }
            }
            continue;
        }
        if (ch == ')') {
            if (depth > 0) depth--;
            continue;
        }
        if (depth == 0 && ch) main[nm++] = ch;
    }
    main[nm] = '\0';
    /* Variant 0 is the main title; shift the alternatives found above. */
    if (st == SEMID_OK) {
        semid_words w;
        st = semid_tokenize(main, &w);
        if (st == SEMID_OK) {
            strip_articles(&w);
            out->variants[0] = w;
            out->n_variants++;
        }
    }
    free(main);
    free(alt);
    if (st != SEMID_OK) {
        for (int i = 0; i < 4; i++) semid_words_free(&out->variants[i]);
        out->n_variants = 0;
    }
    return st;
}

/* Position where `needle` occurs as a run in words[0..n), or -1. */
static int32_t find_run(char *const *words, int32_t n, const semid_words *needle) {
    if (needle->n == 0) return -1;
    for (int32_t i = 0; i + needle->n <= n; i++) {
        int32_t k = 0;
        while (k < needle->n && strcmp(words[i + k], needle->words[k]) == 0) k++;
        if (k == needle->n) return i;
    }
    return -1;
}

/* Equal, or equal but for a final "s" (plural or possessive: "pythons" in
 * "Monty Python's" against "python"). */
static bool same_stem(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na == nb) return strcmp(a, b) == 0;
    if (na == nb + 1) return a[nb] == 's' && strncmp(a, b, nb) == 0;
    if (nb == na + 1) return b[na] == 's' && strncmp(a, b, na) == 0;
    return false;
}

bool qg_title_has_word(const qg_title *t, const char *w) {
    for (int32_t v = 0; v < t->n_variants; v++)
        for (int32_t i = 0; i < t->variants[v].n; i++)
            if (same_stem(t->variants[v].words[i], w)) return true;
    return false;
}

/* Removes every run of words that forms the title. Returns true if
 * something was removed. */
bool qg_remove_title(semid_words *q, const qg_title *t) {
    bool removed = false;
    for (int32_t v = 0; v < t->n_variants; v++) {
        int32_t at;
        while ((at = find_run(q->words, q->n, &t->variants[v])) >= 0) {
            int32_t len = t->variants[v].n;
            for (int32_t k = at; k < at + len; k++) free(q->words[k]);
            memmove(q->words + at, q->words + at + len, (size_t)(q->n - at - len) * sizeof(char *));
            q->n -= len;
            removed = true;
        }
    }
    return removed;
}

bool semid_query_contains_title(const semid_item *item, const char *query) {
    qg_title t;
    semid_words q;
    if (qg_title_parse(item->title, &t) != SEMID_OK) return false;
    if (semid_tokenize(query, &q) != SEMID_OK) {
        qg_title_free(&t);
        return false;
    }
    bool found = false;
    for (int32_t v = 0; v < t.n_variants && !found; v++) found = find_run(q.words, q.n, &t.variants[v]) >= 0;
    semid_words_free(&q);
    qg_title_free(&t);
    return found;
}
