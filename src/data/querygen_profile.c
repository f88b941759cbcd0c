/* What an item's metadata says, for its queries (querygen_impl.h): genres,
 * names, tf-idf keywords and noun phrases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

enum { QG_MAX_PHRASE_WORDS = 6 };

void qg_profile_free(qg_profile *p) {
    qg_title_free(&p->title);
    for (int32_t i = 0; i < p->n_other_genres; i++) free(p->other_genres[i]);
    for (int32_t i = 0; i < p->n_names; i++) free(p->names[i]);
    for (int32_t i = 0; i < p->n_keywords; i++) free(p->keywords[i].word);
    free(p->keywords);
    for (int32_t i = 0; i < p->n_phrases; i++) free(p->phrases[i]);
    memset(p, 0, sizeof *p);
}

/* Marks runs of 2-3 capitalised tokens as names and collects them. */
static semid_status extract_names(qg_tokens *ts, qg_profile *p) {
    int32_t i = 0;
    while (i < ts->n) {
        if (!ts->t[i].capital || ts->t[i].quoted) {
            i++;
            continue;
        }
        int32_t e = i + 1;
        while (e < ts->n && ts->t[e].capital && !ts->t[e].quoted && !ts->t[e].brk_before) e++;
        int32_t len = e - i;
        bool ok = len >= 2 && len <= 3 && !ts->t[e - 1].paren_year;
        for (int32_t k = i; k < e && ok; k++) {
            const char *w = ts->t[k].word;
            /* "Will" is a first name as well as a function word. */
            if ((semid_is_stopword(w) && !qg_is_first_name(w)) || qg_is_not_name_word(w) ||
                qg_is_meta_word(w) || qg_is_any_genre_word(w) || qg_title_has_word(&p->title, w) || strlen(w) < 2)
                ok = false;
        }
        /* In a sentence about other works a capitalised run is as likely a
         * title ("Pulp Fiction") as a name: only people count there. */
        if (ok && ts->t[i].reference && !qg_is_first_name(ts->t[i].word)) ok = false;
        if (ok) {
            size_t total = 0;
            for (int32_t k = i; k < e; k++) total += strlen(ts->t[k].word) + 1;
            char *name = malloc(total + 1);
            if (!name) return semid_fail(SEMID_ENOMEM, "out of memory extracting names");
            name[0] = '\0';
            for (int32_t k = i; k < e; k++) {
                if (k > i) strcat(name, " ");
                strcat(name, ts->t[k].word);
                ts->t[k].in_name = 1;
            }
            bool dup = false;
            for (int32_t k = 0; k < p->n_names && !dup; k++) dup = strcmp(p->names[k], name) == 0;
            if (dup || p->n_names == QG_MAX_NAMES) {
                free(name);
            } else {
                p->is_person[p->n_names] = qg_is_first_name(ts->t[i].word);
                p->names[p->n_names++] = name;
            }
        }
        i = e;
    }
    /* Surnames or first names mentioned alone ("directed by Lasseter",
     * "Keanu's best role") are name parts too. */
    for (int32_t k = 0; k < ts->n; k++) {
        if (ts->t[k].in_name || !ts->t[k].capital) continue;
        for (int32_t j = 0; j < p->n_names; j++) {
            const char *last = strrchr(p->names[j], ' ');
            if (!last) continue;
            size_t first_len = (size_t)(strchr(p->names[j], ' ') - p->names[j]);
            if (p->is_person[j] && strlen(ts->t[k].word) == first_len &&
                strncmp(ts->t[k].word, p->names[j], first_len) == 0)
                ts->t[k].in_name = 1;
            /* "Hanks" and the possessive "Hanks's", "Travolta's" -> "travoltas". */
            size_t n = strlen(last + 1);
            const char *w = ts->t[k].word;
            if (strncmp(w, last + 1, n) == 0 && (w[n] == '\0' || (w[n] == 's' && w[n + 1] == '\0')))
                ts->t[k].in_name = 1;
        }
    }
    return SEMID_OK;
}

/* True if w is a word of one of the item's genre forms ("scary", "fiction"):
 * the genre slot already says it. */
static bool is_genre_word(const qg_profile *p, const char *w) {
    size_t n = strlen(w);
    for (int32_t g = 0; g < p->n_genres + p->n_other_genres; g++) {
        for (int f = 0; f < 3; f++) {
            const char *form = g < p->n_genres ? p->genres[g]->forms[f] : p->other_genres[g - p->n_genres];
            for (const char *c = form; (c = strstr(c, w)) != NULL; c++)
                if ((c == form || c[-1] == ' ') && (c[n] == '\0' || c[n] == ' ')) return true;
            if (g >= p->n_genres) break;
        }
    }
    return false;
}

/* Eligible keyword at token k of an item. */
static bool token_is_keyword(const qg_profile *p, const qg_token *t) {
    return !t->quoted && !t->in_name && !t->reference && qg_is_candidate_word(t->word) &&
           !qg_title_has_word(&p->title, t->word) && !is_genre_word(p, t->word);
}

static semid_status parse_genres(const char *genres, qg_profile *p) {
    if (!genres) return SEMID_OK;
    const char *s = genres;
    while (*s) {
        const char *e = s;
        while (*e && *e != ',' && *e != '|') e++;
        char key[48];
        size_t nk = 0;
        for (const char *c = s; c < e && nk + 1 < sizeof key; c++) {
            char ch = *c;
            if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
            if (ch >= 'a' && ch <= 'z') key[nk++] = ch;
        }
        key[nk] = '\0';
        if (nk > 0 && p->n_genres + p->n_other_genres < QG_MAX_GENRES) {
            const qg_genre_forms *gf = qg_genre_by_key(key);
            if (gf) {
                p->genres[p->n_genres++] = gf;
            } else if (strcmp(key, "nogenreslisted") != 0) {
                /* An unknown label is used as written, lower-cased. */
                char *raw = malloc((size_t)(e - s) + 1);
                if (!raw) return semid_fail(SEMID_ENOMEM, "out of memory parsing genres");
                memcpy(raw, s, (size_t)(e - s));
                raw[e - s] = '\0';
                semid_words w;
                semid_status st = semid_tokenize(raw, &w);
                free(raw);
                if (st != SEMID_OK) return st;
                size_t total = 1;
                for (int32_t k = 0; k < w.n; k++) total += strlen(w.words[k]) + 1;
                char *label = malloc(total);
                if (!label) {
                    semid_words_free(&w);
                    return semid_fail(SEMID_ENOMEM, "out of memory parsing genres");
                }
                label[0] = '\0';
                for (int32_t k = 0; k < w.n; k++) {
                    if (k) strcat(label, " ");
                    strcat(label, w.words[k]);
                }
                semid_words_free(&w);
                if (label[0]) p->other_genres[p->n_other_genres++] = label;
                else free(label);
            }
        }
        s = *e ? e + 1 : e;
    }
    return SEMID_OK;
}

static int cmp_keyword(const void *a, const void *b) {
    const qg_keyword *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* Adverbs and participles ("visually", "established", "echoing") make
 * poor search keywords; nouns are what people type. Without a tagger, the
 * suffix is the hint. */
static double suffix_weight(const char *w) {
    size_t n = strlen(w);
    if (n > 4 && strcmp(w + n - 2, "ly") == 0) return 0.3;
    if (n > 4 && strcmp(w + n - 2, "ed") == 0) return 0.5;
    if (n > 5 && strcmp(w + n - 3, "ing") == 0) return 0.7;
    return 1.0;
}

static semid_status build_keywords(qg_profile *p, const qg_tokens *desc, const qg_tokens *tags, const qg_vocab *v,
                                   int32_t n_docs, int32_t max_keywords) {
    int32_t cap = desc->n + tags->n;
    if (cap == 0) return SEMID_OK;
    qg_keyword *kw = calloc((size_t)cap, sizeof *kw);
    if (!kw) return semid_fail(SEMID_ENOMEM, "out of memory choosing keywords");
    int32_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const qg_tokens *ts = pass == 0 ? desc : tags;
        double weight = pass == 0 ? 1.0 : 2.0; /* tags are keywords someone chose */
        for (int32_t k = 0; k < ts->n; k++) {
            if (!token_is_keyword(p, &ts->t[k]) || qg_vocab_is_verb(v, ts->t[k].word)) continue;
            int32_t j = 0;
            while (j < n && strcmp(kw[j].word, ts->t[k].word) != 0) j++;
            if (j == n) kw[n++].word = ts->t[k].word; /* borrowed until copied below */
            kw[j].score += weight;
        }
    }
    for (int32_t j = 0; j < n; j++) {
        double idf = log((1.0 + n_docs) / (1.0 + qg_vocab_df(v, kw[j].word)));
        kw[j].score *= idf * suffix_weight(kw[j].word);
    }
    qsort(kw, (size_t)n, sizeof *kw, cmp_keyword);
    while (n > 0 && kw[n - 1].score <= 1e-9) n--;
    if (n > max_keywords) n = max_keywords;
    semid_status st = SEMID_OK;
    for (int32_t j = 0; j < n; j++) {
        char *copy = semid_strdup(kw[j].word);
        if (!copy) {
            for (int32_t i = 0; i < j; i++) free(kw[i].word);
            st = semid_fail(SEMID_ENOMEM, "out of memory choosing keywords");
            n = 0;
            break;
        }
        kw[j].word = copy;
    }
    if (n == 0) {
        free(kw);
        kw = NULL;
    }
    p->keywords = kw;
    p->n_keywords = n;
    return st;
}

static bool is_article(const char *w) {
    return strcmp(w, "a") == 0 || strcmp(w, "an") == 0 || strcmp(w, "the") == 0;
}

/* The phrase t[b..e), where t[b] is an article, as text; NULL if it is
 * unusable: fewer than two or more than QG_MAX_PHRASE_WORDS words after
 * the article, or holding a verb of the built-in vocabulary first, a title
 * word, a review word, a name or a quote. */
static char *phrase_text(const qg_profile *p, const qg_vocab *v, const qg_tokens *ts, int32_t b, int32_t e,
                         bool *oom) {
    while (e > b + 1 && semid_is_stopword(ts->t[e - 1].word)) e--;
    if (e - b - 1 < 2 || e - b - 1 > QG_MAX_PHRASE_WORDS) return NULL;
    if (qg_vocab_is_verb(v, ts->t[b + 1].word)) return NULL;
    size_t total = 1;
    for (int32_t i = b; i < e; i++) {
        if (qg_title_has_word(&p->title, ts->t[i].word) || qg_is_meta_word(ts->t[i].word) || ts->t[i].in_name ||
            ts->t[i].quoted || ts->t[i].reference)
            return NULL;
        total += strlen(ts->t[i].word) + 1;
    }
    char *phrase = malloc(total);
    if (!phrase) {
        *oom = true;
        return NULL;
    }
    phrase[0] = '\0';
    for (int32_t i = b; i < e; i++) {
        if (i > b) strcat(phrase, " ");
        strcat(phrase, ts->t[i].word);
    }
    return phrase;
}

static bool stops_phrase(const qg_token *t) {
    return t->quoted || t->in_name || (semid_is_stopword(t->word) && !is_article(t->word));
}

/* Phrases: noun phrases of the description around the top keywords. A
 * phrase starts at an article at most four words before the keyword (no
 * tagger is at hand; an article is the cheapest sign of a noun phrase: "a
 * retired detective hunts a ruthless gang", "a nostalgic trip") and runs to
 * the next punctuation, name, quote or function word other than an
 * article, QG_MAX_PHRASE_WORDS words at most. */
static semid_status build_phrases(qg_profile *p, const qg_vocab *v, const qg_tokens *ts) {
    for (int32_t k = 0; k < p->n_keywords && p->n_phrases < QG_MAX_PHRASES; k++) {
        int32_t pos = -1;
        for (int32_t i = 0; i < ts->n && pos < 0; i++)
            if (!ts->t[i].quoted && !ts->t[i].in_name && strcmp(ts->t[i].word, p->keywords[k].word) == 0) pos = i;
        if (pos < 0) continue;
        int32_t b = -1;
        for (int32_t i = pos - 1, step = 0; i >= 0 && step < 4; i--, step++) {
            if (is_article(ts->t[i].word)) {
                b = i;
                break;
            }
            if (ts->t[i + 1].brk_before || stops_phrase(&ts->t[i])) break;
        }
        if (b < 0) continue;
        /* Up to the next punctuation or function word; a phrase that would
         * run longer is cut mid-way and not used. */
        int32_t e = pos + 1;
        while (e < ts->n && !ts->t[e].brk_before && !stops_phrase(&ts->t[e]) && e - b <= QG_MAX_PHRASE_WORDS) e++;
        if (e < ts->n && !ts->t[e].brk_before && !stops_phrase(&ts->t[e])) continue;
        bool oom = false;
        char *phrase = phrase_text(p, v, ts, b, e, &oom);
        if (oom) return semid_fail(SEMID_ENOMEM, "out of memory building phrases");
        if (!phrase) continue;
        bool dup = false;
        for (int32_t i = 0; i < p->n_phrases && !dup; i++) dup = strcmp(p->phrases[i], phrase) == 0;
        if (dup) free(phrase);
        else p->phrases[p->n_phrases++] = phrase;
    }
    return SEMID_OK;
}

semid_status qg_build_profile(const semid_item *item, const qg_vocab *v, int32_t n_docs, int32_t max_keywords,
                              qg_profile *p) {
    memset(p, 0, sizeof *p);
    SEMID_TRY(qg_title_parse(item->title, &p->title));
    p->year = item->year;
    semid_status st = parse_genres(item->genres, p);
    qg_tokens desc = {0}, tags = {0};
    if (st == SEMID_OK) st = qg_scan_text(item->description, &desc);
    if (st == SEMID_OK) qg_mark_reference_sentences(&desc);
    if (st == SEMID_OK) st = qg_scan_text(item->tags, &tags);
    if (st == SEMID_OK) st = extract_names(&desc, p);
    if (st == SEMID_OK) st = build_keywords(p, &desc, &tags, v, n_docs, max_keywords);
    if (st == SEMID_OK) st = build_phrases(p, v, &desc);
    qg_tokens_free(&desc);
    qg_tokens_free(&tags);
    if (st != SEMID_OK) qg_profile_free(p);
    return st;
}
