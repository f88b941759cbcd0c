/* The queries of one item (querygen_impl.h): pairs of a query and its
 * paraphrase, each with a word set new for the item, then split. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

enum { QG_ATTEMPTS = 24 }; /* tries for a query whose word set is new for the item */

uint64_t qg_wordset_hash(char **words, int32_t n) {
    /* Order-free: sum of per-word hashes over distinct words. */
    uint64_t h = 0;
    for (int32_t i = 0; i < n; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++) seen = strcmp(words[i], words[j]) == 0;
        if (!seen) {
            uint64_t x = semid_hash_bytes(words[i], strlen(words[i]), 0x5eed);
            h += x * 0x9E3779B97F4A7C15ULL ^ (x >> 29);
        }
    }
    return h;
}

char *qg_join_words(const semid_words *w) {
    size_t total = 1;
    for (int32_t i = 0; i < w->n; i++) total += strlen(w->words[i]) + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    s[0] = '\0';
    for (int32_t i = 0; i < w->n; i++) {
        if (i) strcat(s, " ");
        strcat(s, w->words[i]);
    }
    return s;
}

semid_status qg_item_queries(const qg_profile *p, const semid_querygen_config *cfg, semid_rng *rng,
                             qg_item_out *out) {
    int32_t n = cfg->n_per_item;
    /* Word sets already used by this item: queries kept from before, then
     * the ones made here. */
    uint64_t *seen = malloc(((size_t)n + (size_t)out->n_prior) * sizeof *seen);
    if (!seen) return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    if (out->n_prior) memcpy(seen, out->prior, (size_t)out->n_prior * sizeof *seen);
    int32_t n_seen = out->n_prior;
    int32_t fits[QG_N_TEMPLATES];
    int32_t n_fits = qg_fitting_templates(p, fits);
    semid_status st = SEMID_OK;
    int32_t made = 0;
    qg_bundle bundle;
    qg_usage usage;
    memset(&usage, 0, sizeof usage);
    int32_t base_template = -1;
    while (made < n && st == SEMID_OK) {
        int variant = made % 2; /* odd queries paraphrase the one before */
        if (variant == 0) qg_draw_bundle(&bundle, p, &usage, rng);
        char *text = NULL;
        uint64_t h = 0;
        for (int attempt = 0; attempt < QG_ATTEMPTS && !text; attempt++) {
            if (attempt > 0 && attempt % 4 == 0) qg_draw_bundle(&bundle, p, &usage, rng);
            int32_t t;
            if (n_fits == 0) {
                t = QG_N_TEMPLATES - 1;
            } else {
                t = fits[semid_rng_below(rng, (uint64_t)n_fits)];
                if (variant == 1 && t == base_template && n_fits > 1) continue;
                if (qg_overuses(t, &bundle, &usage) && attempt + 4 < QG_ATTEMPTS) continue;
            }
            qg_buf b;
            qg_render(&b, t, &bundle, p, variant, rng);
            semid_words w;
            st = semid_tokenize(b.s, &w);
            if (st != SEMID_OK) break;
            bool fixed = qg_remove_title(&w, &p->title);
            if (w.n == 0) {
                semid_words_free(&w);
                continue;
            }
            h = qg_wordset_hash(w.words, w.n);
            bool dup = false;
            for (int32_t j = 0; j < n_seen && !dup; j++) dup = seen[j] == h;
            if (dup && attempt + 1 < QG_ATTEMPTS) {
                semid_words_free(&w);
                continue;
            }
            text = fixed ? qg_join_words(&w) : semid_strdup(b.s);
            semid_words_free(&w);
            if (!text) {
                st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
                break;
            }
            if (fixed) out->title_fixes++;
            if (variant == 0) base_template = t;
            qg_count_usage(&usage, t, &bundle, variant);
        }
        if (st != SEMID_OK) break;
        if (!text) {
            /* Nothing new could be said (an item without metadata): a
             * generic request, new for the item if one is left. */
            static const char *const generic[] = {"movie", "film", "flick", "a movie", "some film", "any flick",
                                                  "a good movie", "a film to watch", "movie night", "recommend a film"};
            int32_t pick = 0;
            for (int32_t g = 0; g < (int32_t)(sizeof generic / sizeof generic[0]); g++) {
                semid_words w;
                st = semid_tokenize(generic[g], &w);
                if (st != SEMID_OK) break;
                uint64_t gh = qg_wordset_hash(w.words, w.n);
                semid_words_free(&w);
                bool dup = false;
                for (int32_t j = 0; j < n_seen && !dup; j++) dup = seen[j] == gh;
                if (!dup) {
                    pick = g;
                    h = gh;
                    break;
                }
            }
            if (st != SEMID_OK) break;
            text = semid_strdup(generic[pick]);
            if (!text) {
                st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
                break;
            }
        }
        seen[n_seen++] = h;
        out->texts[made++] = text;
    }
    free(seen);
    if (st != SEMID_OK) return st;
    /* Splits: a seeded shuffle, then train, valid, test in that order. */
    int32_t *order = malloc((size_t)n * sizeof *order);
    if (!order) return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    for (int32_t i = 0; i < n; i++) order[i] = i;
    semid_rng_shuffle_i32(rng, order, (size_t)n);
    for (int32_t i = 0; i < n; i++) {
        uint8_t split = i < cfg->n_train ? SEMID_SPLIT_TRAIN
                        : i < cfg->n_train + cfg->n_valid ? SEMID_SPLIT_VALID
                                                           : SEMID_SPLIT_TEST;
        out->splits[order[i]] = split;
    }
    free(order);
    return SEMID_OK;
}
