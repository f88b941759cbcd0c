/* Test queries in a style the training queries never use (querygen.h,
 * semid_querygen_unseen_style): the same content as the generator's own
 * queries (genres, era, tf-idf keywords, names, description phrases, drawn
 * by qg_draw_bundle) written by other rules:
 *   - conversational frames none of the training templates has ("any
 *     recommendations for", "the one where", "what to watch if i like");
 *   - genre words outside the training forms ("hilarious", "creepy",
 *     "futuristic"), so a model that learnt "comedy" must generalise
 *     (words a pretrained encoder knows: all are in the shipped GloVe);
 *   - the era as a year with a hedge ("circa 1994", "1994 or so") instead
 *     of a decade;
 *   - keywords in another inflection half of the time ("alien" for
 *     "aliens", "heists" for "heist").
 * A gain that only memorises the generator's phrasing shows as a gap
 * between the two styles; the dense retrievers, which read words through
 * word vectors, are expected to keep most of their recall. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/querygen.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

/* Words for a known genre that no training template writes (the training
 * forms are in querygen_words.c), by genre key; all of them in the shipped
 * GloVe subset, so that a model with pretrained word vectors can know them
 * and the style tests generalisation rather than unknown words. */
static const struct {
    const char *key;
    const char *words[2];
} k_unseen_genre[] = {
    {"action", {"explosive", "fiery"}},         {"adventure", {"epic journey", "expedition"}},
    {"animation", {"hand drawn", "drawn"}},     {"childrens", {"all ages", "youngsters"}},
    {"comedy", {"hilarious", "humorous"}},      {"crime", {"mob", "underworld"}},
    {"documentary", {"real life", "factual"}},  {"drama", {"emotional", "moving"}},
    {"fantasy", {"enchanted", "wizards"}},      {"filmnoir", {"shadowy", "private eye"}},
    {"horror", {"creepy", "terrifying"}},       {"musical", {"singing", "broadway"}},
    {"mystery", {"detective", "clues"}},        {"romance", {"tender", "passionate"}},
    {"scifi", {"futuristic", "outer space"}},   {"thriller", {"tense", "gripping"}},
    {"war", {"battlefield", "soldiers"}},       {"western", {"frontier", "gunslinger"}},
};

/* Slots: %F genre word, %E era, %K keyword, %M name, %R person, %H phrase,
 * %A "a"/"an" for the next word. */
typedef struct unseen_template {
    const char *fmt;
    uint8_t genre, era, kw, names, person, phrase;
} unseen_template;

static const unseen_template k_unseen[] = {
    {"any recommendations for %A %F pick involving %K?", 1, 0, 1, 0, 0, 0},
    {"can you suggest something %F with %K in it", 1, 0, 1, 0, 0, 0},
    {"need %A %F watch for tonight, preferably %K", 1, 0, 1, 0, 0, 0},
    {"the one where %H", 0, 0, 0, 0, 0, 1},
    {"%K, %K, %F", 1, 0, 2, 0, 0, 0},
    {"%F picture %E", 1, 1, 0, 0, 0, 0},
    {"stuff featuring %M", 0, 0, 0, 1, 0, 0},
    {"starring %R, %F", 1, 0, 0, 0, 1, 0},
    {"what to watch if i like %K and %K", 0, 0, 2, 0, 0, 0},
    {"%E %F story of %K", 1, 1, 1, 0, 0, 0},
    {"show me %F titles where %H", 1, 0, 0, 0, 0, 1},
    {"%K themed picks %E", 0, 1, 1, 0, 0, 0},
    /* Fallbacks, for items with little metadata. */
    {"%F picks", 1, 0, 0, 0, 0, 0},
    {"something %E", 0, 1, 0, 0, 0, 0},
    {"%K stuff", 0, 0, 1, 0, 0, 0},
    {"anything worth watching tonight", 0, 0, 0, 0, 0, 0},
};
enum { N_UNSEEN = sizeof k_unseen / sizeof k_unseen[0], FIRST_FALLBACK = 12, ATTEMPTS = 24 };

static const char *unseen_genre_word(const qg_profile *p, int32_t g, semid_rng *rng) {
    if (g >= p->n_genres) return p->other_genres[g - p->n_genres];
    for (size_t i = 0; i < sizeof k_unseen_genre / sizeof k_unseen_genre[0]; i++)
        if (strcmp(k_unseen_genre[i].key, p->genres[g]->key) == 0) return k_unseen_genre[i].words[semid_rng_below(rng, 2)];
    return p->genres[g]->forms[0];
}

static void put(qg_buf *b, const char *text) {
    if (b->article && text[0]) {
        b->article = false;
        put(b, strchr("aeiou", text[0]) ? "an " : "a ");
    }
    size_t len = strlen(text);
    if (b->n + len >= sizeof b->s) len = sizeof b->s - 1 - b->n;
    memcpy(b->s + b->n, text, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static bool ends_with(const char *w, size_t n, const char *end) {
    size_t m = strlen(end);
    return n >= m && memcmp(w + n - m, end, m) == 0;
}

/* The keyword, or half of the time its other number ("alien" <-> "aliens",
 * "heist" -> "heists"); words that read as adjectives or verb forms ("spicy",
 * "haunted", "boxing") and "-ss"/"-us"/"-is" words are left as they are. */
static void put_keyword(qg_buf *b, const char *w, semid_rng *rng) {
    char tmp[80];
    size_t n = strlen(w);
    bool plural = n > 4 && w[n - 1] == 's' && !ends_with(w, n, "ss") && !ends_with(w, n, "us") && !ends_with(w, n, "is");
    bool noun_like = n >= 4 && !strchr("sy", w[n - 1]) && !ends_with(w, n, "ed") && !ends_with(w, n, "ing") &&
                     !ends_with(w, n, "al") && !ends_with(w, n, "ic") && !ends_with(w, n, "ful") &&
                     !ends_with(w, n, "ous") && !ends_with(w, n, "ive");
    if (n + 2 > sizeof tmp || (!plural && !noun_like) || semid_rng_uniform(rng) < 0.5) {
        put(b, w);
        return;
    }
    if (plural) snprintf(tmp, sizeof tmp, "%.*s", (int)(n - 1), w);
    else snprintf(tmp, sizeof tmp, "%ss", w);
    put(b, tmp);
}

static void put_era(qg_buf *b, int32_t year, semid_rng *rng) {
    static const char *const before[] = {"circa ", "from ", "made around ", "released near "};
    static const char *const after[] = {"", " or so", "", ""};
    char tmp[48];
    /* The year itself or one next to it: people remember it roughly. */
    int32_t y = year + (int32_t)semid_rng_below(rng, 3) - 1;
    uint64_t form = semid_rng_below(rng, 4);
    snprintf(tmp, sizeof tmp, "%s%d%s", before[form], y, after[form]);
    put(b, tmp);
}

static bool fits(const unseen_template *t, const qg_profile *p) {
    int32_t n_persons = 0;
    for (int32_t i = 0; i < p->n_names; i++) n_persons += p->is_person[i];
    int32_t n_kw = p->n_keywords < 3 ? p->n_keywords : 3;
    return (!t->genre || p->n_genres + p->n_other_genres > 0) && (!t->era || p->year > 0) && t->kw <= n_kw &&
           t->names <= p->n_names && (!t->person || n_persons > 0) && (!t->phrase || p->n_phrases > 0);
}

static void render(qg_buf *b, const unseen_template *t, const qg_bundle *bd, const qg_profile *p, semid_rng *rng) {
    b->n = 0;
    b->s[0] = '\0';
    b->article = false;
    int32_t next_kw = 0;
    for (const char *f = t->fmt; *f; f++) {
        if (*f != '%') {
            char c[2] = {*f, 0};
            put(b, c);
            continue;
        }
        switch (*++f) {
        case 'F':
            if (bd->n_genre > 0) put(b, unseen_genre_word(p, bd->genre[0], rng));
            break;
        case 'E': put_era(b, p->year, rng); break;
        case 'K':
            if (next_kw < bd->n_kw) put_keyword(b, p->keywords[bd->kw[next_kw++]].word, rng);
            break;
        case 'M':
            if (bd->n_name > 0) put(b, p->names[bd->name[0]]);
            break;
        case 'R':
            if (bd->person >= 0) put(b, p->names[bd->person]);
            break;
        case 'H':
            if (bd->phrase >= 0) put(b, p->phrases[bd->phrase]);
            break;
        case 'A': b->article = true; f++; /* the blank after %A */ break;
        default: break;
        }
    }
}

/* n queries of one item, none with the word set of a query in `avoid`
 * (its training queries) or of another one made here. */
static semid_status item_queries(const qg_profile *p, int32_t n, const uint64_t *avoid, int32_t n_avoid, semid_rng *rng,
                                 char **texts) {
    int32_t usable[N_UNSEEN], n_usable = 0;
    for (int32_t t = 0; t < N_UNSEEN; t++) {
        if (t == FIRST_FALLBACK && n_usable >= 4) break;
        if (fits(&k_unseen[t], p)) usable[n_usable++] = t;
    }
    uint64_t *seen = malloc(((size_t)n + (size_t)n_avoid) * sizeof *seen + 1);
    if (!seen) return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    if (n_avoid) memcpy(seen, avoid, (size_t)n_avoid * sizeof *seen);
    int32_t n_seen = n_avoid;
    qg_usage usage;
    memset(&usage, 0, sizeof usage);
    semid_status st = SEMID_OK;
    for (int32_t made = 0; made < n && st == SEMID_OK; made++) {
        char *text = NULL;
        uint64_t h = 0;
        for (int attempt = 0; attempt < ATTEMPTS && !text && st == SEMID_OK; attempt++) {
            qg_bundle bd;
            qg_draw_bundle(&bd, p, &usage, rng);
            for (int32_t k = 0; k < bd.n_kw; k++) usage.kw[bd.kw[k]]++;
            qg_buf b;
            render(&b, &k_unseen[usable[semid_rng_below(rng, (uint64_t)n_usable)]], &bd, p, rng);
            semid_words w;
            if ((st = semid_tokenize(b.s, &w)) != SEMID_OK) break;
            bool fixed = qg_remove_title(&w, &p->title);
            h = w.n ? qg_wordset_hash(w.words, w.n) : 0;
            bool dup = w.n == 0;
            for (int32_t j = 0; j < n_seen && !dup; j++) dup = seen[j] == h;
            /* The last attempt keeps a repeat of one made here, never an
             * empty query. */
            if (w.n > 0 && (!dup || attempt + 1 == ATTEMPTS)) {
                text = fixed ? qg_join_words(&w) : semid_strdup(b.s);
                if (!text) st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
            }
            semid_words_free(&w);
        }
        if (st == SEMID_OK && !text && !(text = semid_strdup(k_unseen[N_UNSEEN - 1].fmt)))
            st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
        if (st == SEMID_OK) {
            seen[n_seen++] = h;
            texts[made] = text;
        }
    }
    free(seen);
    return st;
}

semid_status semid_querygen_unseen_style(semid_dataset *ds, int32_t per_item, uint64_t seed,
                                         semid_querygen_stats *stats) {
    if (per_item < 1 || per_item > 1000)
        return semid_fail(SEMID_EINVAL, "querygen: unseen-style queries per item must be in 1..1000, got %d", per_item);
    double t0 = semid_now();
    /* Items whose test queries are replaced: those that have some (every
     * item when the dataset has no test query). */
    uint8_t *tested = calloc((size_t)ds->n_items + 1, 1), *is_train = malloc((size_t)ds->n_queries + 1);
    if (!tested || !is_train) {
        free(tested);
        free(is_train);
        return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    }
    int64_t n_tested = 0, n_kept = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *x = &ds->queries[q];
        is_train[q] = x->split == SEMID_SPLIT_TRAIN;
        n_kept += x->split != SEMID_SPLIT_TEST;
        if (x->split == SEMID_SPLIT_TEST && x->item >= 0 && x->item < ds->n_items && !tested[x->item]) {
            tested[x->item] = 1;
            n_tested++;
        }
    }
    if (n_tested == 0) {
        memset(tested, 1, (size_t)ds->n_items);
        n_tested = ds->n_items;
    }
    int64_t total = n_kept + n_tested * per_item;
    if (total > INT32_MAX) {
        free(tested);
        free(is_train);
        return semid_fail(SEMID_EINVAL, "querygen: %lld queries exceed the limit", (long long)total);
    }
    int64_t *train_start = NULL;
    uint64_t *train_sets = NULL;
    qg_vocab vocab;
    bool have_vocab = false;
    semid_status st = qg_item_wordsets(ds, is_train, &train_start, &train_sets);
    if (st == SEMID_OK) {
        st = qg_count_documents(ds, &vocab);
        have_vocab = true;
    }
    char **texts = st == SEMID_OK ? calloc((size_t)ds->n_items * (size_t)per_item + 1, sizeof *texts) : NULL;
    if (st == SEMID_OK && !texts) st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    semid_rng root;
    semid_rng_seed(&root, seed ^ 0x75e3e5ULL); /* a stream apart from the training queries' */
    int failed = st != SEMID_OK;
    char first_message[256] = "";
    semid_status first_error = st;
#pragma omp parallel for schedule(dynamic, 16) num_threads(semid_get_threads())
    for (int32_t i = 0; i < ds->n_items; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop || !tested[i]) continue;
        semid_rng rng = semid_rng_fork(&root, (uint64_t)i);
        qg_profile p;
        semid_status s = qg_build_profile(&ds->items[i], &vocab, ds->n_items, 8, &p);
        if (s == SEMID_OK) {
            s = item_queries(&p, per_item, train_sets + train_start[i], (int32_t)(train_start[i + 1] - train_start[i]),
                             &rng, texts + (size_t)i * per_item);
            qg_profile_free(&p);
        }
        if (s != SEMID_OK) {
#pragma omp critical(semid_querygen_unseen_error)
            if (!failed) {
                failed = 1;
                first_error = s;
                snprintf(first_message, sizeof first_message, "%s", semid_last_error());
            }
        }
    }
    if (have_vocab) qg_vocab_free(&vocab);
    free(train_start);
    free(train_sets);
    semid_query *nq = failed ? NULL : malloc((size_t)total * sizeof *nq + 1);
    if (!failed && !nq) {
        failed = 1;
        first_error = SEMID_ENOMEM;
        snprintf(first_message, sizeof first_message, "out of memory storing queries");
    }
    if (failed) {
        for (size_t k = 0; texts && k < (size_t)ds->n_items * per_item; k++) free(texts[k]);
        free(texts);
        free(tested);
        free(is_train);
        free(nq);
        return st != SEMID_OK ? st : semid_fail(first_error, "%s", first_message);
    }
    /* The training and validation queries as they were, then the new test
     * queries grouped by item. */
    int64_t out = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        if (ds->queries[q].split == SEMID_SPLIT_TEST) free(ds->queries[q].text);
        else nq[out++] = ds->queries[q];
    }
    for (int32_t i = 0; i < ds->n_items; i++)
        for (int32_t j = 0; j < per_item && tested[i]; j++)
            nq[out++] = (semid_query){texts[(size_t)i * per_item + j], i, SEMID_SPLIT_TEST};
    free(ds->queries);
    ds->queries = nq;
    ds->n_queries = (int32_t)out;
    free(texts);
    free(tested);
    free(is_train);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->n_queries = n_tested * per_item;
        stats->n_test = n_tested * per_item;
        for (int32_t q = 0; q < ds->n_queries; q++) {
            stats->n_train += ds->queries[q].split == SEMID_SPLIT_TRAIN;
            stats->n_valid += ds->queries[q].split == SEMID_SPLIT_VALID;
        }
        stats->copy_share = semid_queries_copy_share(ds);
        stats->seconds = semid_now() - t0;
    }
    SEMID_INFO("querygen: %lld unseen-style test queries for %lld items in %.2f s", (long long)(n_tested * per_item),
               (long long)n_tested, semid_now() - t0);
    return SEMID_OK;
}
