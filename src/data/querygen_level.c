/* Queries one at a time at a level of specificity (querygen.h): the
 * profiles of every item, built once, and a query drawn from one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

enum { QG_LEVEL_ATTEMPTS = 16, QG_LEVEL_KEYWORDS = 8 };

struct semid_querygen_profiles {
    int32_t n_items;
    qg_profile *items;  /* (n_items) */
    int64_t *held_start; /* (n_items + 1) held-out word sets of item i: */
    uint64_t *held;      /* held[held_start[i] .. held_start[i + 1]) */
};

static const char *const k_level_names[SEMID_QUERY_N_LEVELS] = {"vague", "keywords", "full"};

const char *semid_query_level_name(int level) {
    return level >= 0 && level < SEMID_QUERY_N_LEVELS ? k_level_names[level] : "?";
}

int semid_query_level_parse(const char *name) {
    for (int l = 0; name && l < SEMID_QUERY_N_LEVELS; l++)
        if (strcmp(name, k_level_names[l]) == 0) return l;
    return -1;
}

void semid_querygen_profiles_free(semid_querygen_profiles *p) {
    if (!p) return;
    for (int32_t i = 0; p->items && i < p->n_items; i++) qg_profile_free(&p->items[i]);
    free(p->items);
    free(p->held_start);
    free(p->held);
    free(p);
}

semid_status semid_querygen_profiles_build(const semid_dataset *ds, const uint8_t *role,
                                           semid_querygen_profiles **out) {
    *out = NULL;
    semid_querygen_profiles *p = calloc(1, sizeof *p);
    uint8_t *held_out = malloc((size_t)ds->n_queries + 1);
    if (!p || !held_out) {
        free(p);
        free(held_out);
        return semid_fail(SEMID_ENOMEM, "querygen: out of memory for the profiles of %d items", ds->n_items);
    }
    for (int32_t q = 0; q < ds->n_queries; q++) held_out[q] = (role ? role[q] : ds->queries[q].split) != SEMID_SPLIT_TRAIN;
    semid_status st = qg_item_wordsets(ds, held_out, &p->held_start, &p->held);
    free(held_out);
    p->items = st == SEMID_OK ? calloc((size_t)ds->n_items + 1, sizeof *p->items) : NULL;
    if (st == SEMID_OK && !p->items) st = semid_fail(SEMID_ENOMEM, "querygen: out of memory for %d profiles", ds->n_items);
    qg_vocab vocab;
    memset(&vocab, 0, sizeof vocab);
    if (st == SEMID_OK) st = qg_count_documents(ds, &vocab);
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) {
        st = qg_build_profile(&ds->items[i], &vocab, ds->n_items, QG_LEVEL_KEYWORDS, &p->items[i]);
        if (st == SEMID_OK) p->n_items = i + 1;
    }
    qg_vocab_free(&vocab);
    if (st != SEMID_OK) {
        semid_querygen_profiles_free(p);
        return st;
    }
    *out = p;
    return SEMID_OK;
}

/* Drops every word of the query that is a word of the title (function
 * words aside): a genre or decade may be one ("Comedy of Errors"). */
static void drop_title_words(semid_words *w, const qg_title *t) {
    int32_t k = 0;
    for (int32_t i = 0; i < w->n; i++) {
        if (!semid_is_stopword(w->words[i]) && qg_title_has_word(t, w->words[i])) free(w->words[i]);
        else w->words[k++] = w->words[i];
    }
    w->n = k;
}

static int is_held_out(const semid_querygen_profiles *p, int32_t item, uint64_t h) {
    for (int64_t j = p->held_start[item]; j < p->held_start[item + 1]; j++)
        if (p->held[j] == h) return 1;
    return 0;
}

semid_status semid_querygen_one(const semid_querygen_profiles *p, int32_t item, int level, uint64_t seed,
                                int avoid_held_out, char *out, size_t cap, int *made) {
    *made = 0;
    if (cap) out[0] = '\0';
    if (item < 0 || item >= p->n_items)
        return semid_fail(SEMID_EINVAL, "querygen: item %d is not in the catalog of %d items", item, p->n_items);
    if (level < 0 || level >= SEMID_QUERY_N_LEVELS)
        return semid_fail(SEMID_EINVAL, "querygen: specificity level %d is not 0..%d", level, SEMID_QUERY_N_LEVELS - 1);
    const qg_profile *pr = &p->items[item];
    semid_rng rng;
    semid_rng_seed(&rng, seed);
    int32_t fits[QG_N_TEMPLATES];
    int32_t n_fits = qg_level_templates(pr, level, fits);
    static const char *const generic[] = {"a movie", "a film", "something to watch", "a good movie"};
    qg_usage usage;
    memset(&usage, 0, sizeof usage);
    for (int attempt = 0; attempt < QG_LEVEL_ATTEMPTS; attempt++) {
        qg_buf b;
        if (n_fits > 0) {
            qg_bundle bundle;
            qg_draw_bundle(&bundle, pr, &usage, &rng);
            qg_render(&b, fits[semid_rng_below(&rng, (uint64_t)n_fits)], &bundle, pr,
                      (int)semid_rng_below(&rng, 2), &rng);
        } else {
            snprintf(b.s, sizeof b.s, "%s", generic[semid_rng_below(&rng, sizeof generic / sizeof *generic)]);
        }
        semid_words w;
        SEMID_TRY(semid_tokenize(b.s, &w));
        drop_title_words(&w, &pr->title);
        int keep = w.n > 0 && !(avoid_held_out && is_held_out(p, item, qg_wordset_hash(w.words, w.n)));
        char *text = keep ? qg_join_words(&w) : NULL;
        semid_words_free(&w);
        if (keep && !text) return semid_fail(SEMID_ENOMEM, "querygen: out of memory");
        if (!text) continue;
        snprintf(out, cap, "%s", text);
        free(text);
        *made = 1;
        return SEMID_OK;
    }
    return SEMID_OK;
}
