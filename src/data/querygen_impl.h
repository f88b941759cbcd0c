/* Inside the query generator (querygen.h): the types and functions its
 * files share. Not a public header.
 *
 *   querygen_words.c      word lists: review vocabulary, names, genres, synonyms
 *   querygen_scan.c       a description or tags as flagged tokens
 *   querygen_title.c      an item's titles, found and removed in queries
 *   querygen_vocab.c      document frequencies over the catalog
 *   querygen_profile.c    what one item's metadata says: genres, names,
 *                         keywords, phrases
 *   querygen_templates.c  query templates, the content they take, rendering
 *   querygen_item.c       the queries of one item and their splits
 *   querygen_unseen.c     test queries in a style training never sees
 *   querygen_level.c      queries one at a time at a level of specificity
 *   querygen.c            the whole catalog, copies, export */
#ifndef SEMID_DATA_QUERYGEN_IMPL_H
#define SEMID_DATA_QUERYGEN_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "data/id_index.h"
#include "data/querygen.h"
#include "data/synth_words.h"
#include "text/tokenize.h"

enum { QG_MAX_NAMES = 6, QG_MAX_PHRASES = 4, QG_MAX_GENRES = 6 };

/* ---- Word lists (querygen_words.c) */

/* How people ask for a genre: forms[0] is the plain label. The key is the
 * label lower-cased with everything but letters removed. */
typedef struct qg_genre_forms {
    const char *key;
    const char *forms[3];
    uint8_t adjective[3]; /* 1: the form needs a noun after it ("scary") */
} qg_genre_forms;

int qg_cmp_cstr(const void *a, const void *b); /* for qsort and bsearch on char * */
bool qg_is_meta_word(const char *w);           /* review vocabulary, dates */
bool qg_is_not_name_word(const char *w);       /* capitalised, never part of a name */
bool qg_is_first_name(const char *w);
bool qg_is_title_article(const char *w);       /* "the", "la", "die" ... */
bool qg_is_reference_word(const char *w);      /* marks a sentence about other works */
bool qg_is_candidate_word(const char *w);      /* may become a keyword (any item) */
bool qg_is_any_genre_word(const char *w);      /* a word of any genre's forms */
const qg_genre_forms *qg_genre_by_key(const char *key); /* or NULL */
const char *qg_synonym_of(const char *w);               /* or NULL */
#ifndef NDEBUG
void qg_check_word_lists(void); /* asserts the bsearch'ed lists are sorted */
#endif

/* ---- Tokens (querygen_scan.c) */

typedef struct qg_token {
    char *word;         /* normalised */
    uint8_t quoted;     /* inside "..." (a title of another work, a quote) */
    uint8_t capital;    /* written with a capital first letter */
    uint8_t brk_before; /* punctuation (or a sentence end) before it */
    uint8_t paren_year; /* the next chunk is "(1995" or similar: this ends a title */
    uint8_t in_name;    /* part of an extracted name */
    uint8_t reference;  /* in a sentence about other works ("fans may also enjoy ...") */
    int32_t sentence;   /* index of its sentence */
} qg_token;

typedef struct qg_tokens {
    int32_t n, cap;
    qg_token *t;
} qg_tokens;

semid_status qg_scan_text(const char *text, qg_tokens *out);
void qg_mark_reference_sentences(qg_tokens *ts);
void qg_tokens_free(qg_tokens *ts);

/* ---- Titles (querygen_title.c) */

/* Word runs that make up an item's title: the main title and each
 * alternative title in parentheses, without leading or trailing articles
 * (unless nothing else is left). */
typedef struct qg_title {
    int32_t n_variants;
    semid_words variants[4];
} qg_title;

semid_status qg_title_parse(const char *title, qg_title *out);
void qg_title_free(qg_title *t);
bool qg_title_has_word(const qg_title *t, const char *w);
/* Removes every run of words that forms the title; true if one was there. */
bool qg_remove_title(semid_words *q, const qg_title *t);

/* ---- Document frequencies (querygen_vocab.c) */

typedef struct qg_vocab {
    semid_id_index *index;
    int32_t n, cap;
    int32_t *df;       /* documents holding each word */
    int32_t *last_doc; /* the last document that counted each word */
    /* Verbs of the built-in vocabulary ("hunts"), sorted: they read badly
     * as keywords ("a thriller about hunts") and as a phrase's first word. */
    const char *verbs[SEMID_SYNTH_VERBS * 32];
    int32_t n_verbs;
} qg_vocab;

semid_status qg_count_documents(const semid_dataset *ds, qg_vocab *v);
void qg_vocab_free(qg_vocab *v);
bool qg_vocab_is_verb(const qg_vocab *v, const char *w);
int32_t qg_vocab_df(const qg_vocab *v, const char *w);

/* ---- One item's content (querygen_profile.c) */

typedef struct qg_keyword {
    char *word;
    double score; /* tf * idf */
} qg_keyword;

typedef struct qg_profile {
    qg_title title;
    int32_t n_genres;
    const qg_genre_forms *genres[QG_MAX_GENRES]; /* known genres */
    char *other_genres[QG_MAX_GENRES];           /* unknown labels, normalised */
    int32_t n_other_genres;
    int32_t year;
    int32_t n_names;
    char *names[QG_MAX_NAMES]; /* normalised, "tom hanks" */
    bool is_person[QG_MAX_NAMES];
    int32_t n_keywords;
    qg_keyword *keywords;
    int32_t n_phrases;
    char *phrases[QG_MAX_PHRASES];
} qg_profile;

semid_status qg_build_profile(const semid_item *item, const qg_vocab *v, int32_t n_docs, int32_t max_keywords,
                              qg_profile *p);
void qg_profile_free(qg_profile *p);

/* ---- Templates (querygen_templates.c); a template is an index below
 * QG_N_TEMPLATES, the last one fits every item. */

enum { QG_N_TEMPLATES = 31 };

/* The content a base query and its paraphrase share. */
typedef struct qg_bundle {
    int32_t genre[2], n_genre; /* indices into known genres then other genres */
    int32_t kw[3], n_kw;
    int32_t name[2], n_name;
    int32_t person;
    int32_t phrase;
} qg_bundle;

/* How often this item's queries used each keyword, name and phrase, so
 * that one striking phrase or name does not fill them all. */
typedef struct qg_usage {
    int32_t kw[64];
    int32_t name[QG_MAX_NAMES];
    int32_t phrase[QG_MAX_PHRASES];
} qg_usage;

/* A growing output string. */
typedef struct qg_buf {
    char s[512];
    size_t n;
    bool article; /* "a"/"an" pending for the next word */
} qg_buf;

/* The templates the item has content for, in order; returns their count. */
int32_t qg_fitting_templates(const qg_profile *p, int32_t fits[QG_N_TEMPLATES]);
/* The templates of a specificity level (semid_query_level) the item has
 * content for; returns their count (0: nothing fits). */
int32_t qg_level_templates(const qg_profile *p, int level, int32_t fits[QG_N_TEMPLATES]);
void qg_draw_bundle(qg_bundle *b, const qg_profile *p, const qg_usage *u, semid_rng *rng);
bool qg_overuses(int32_t template_index, const qg_bundle *b, const qg_usage *u);
void qg_count_usage(qg_usage *u, int32_t template_index, const qg_bundle *b, int variant);
void qg_render(qg_buf *b, int32_t template_index, const qg_bundle *bd, const qg_profile *p, int variant,
               semid_rng *rng);

/* ---- One item's queries (querygen_item.c) */

typedef struct qg_item_out {
    char **texts;     /* (n_per_item) */
    uint8_t *splits;  /* (n_per_item) */
    int32_t title_fixes;
    const uint64_t *prior; /* word-set hashes of the item's queries kept from before (append) */
    int32_t n_prior;
} qg_item_out;

/* Order-free hash of the distinct words. */
uint64_t qg_wordset_hash(char **words, int32_t n);
/* The words joined by single blanks (NULL when out of memory). */
char *qg_join_words(const semid_words *w);
/* Word-set hashes of ds->queries (those with keep[q] != 0, or all when keep
 * is NULL) grouped by item: those of item i are
 * (*hashes)[(*start)[i] .. (*start)[i+1]) (querygen.c). */
semid_status qg_item_wordsets(const semid_dataset *ds, const uint8_t *keep, int64_t **start, uint64_t **hashes);
semid_status qg_item_queries(const qg_profile *p, const semid_querygen_config *cfg, semid_rng *rng,
                             qg_item_out *out);

#endif
