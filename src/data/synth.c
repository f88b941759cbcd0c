/* The synthetic dataset generator (see synth.h for the model).
 *
 * Streams of the seed: 1 = catalog structure (series, clusters,
 * popularity), 2 = titles, 3 + item = an item's metadata, 1000 + user = a
 * user's history, 7 = queries. Each stream is forked, so changing the
 * number of users does not change the items. */
#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fenwick.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/builder.h"
#include "data/id_index.h"
#include "data/querygen.h"
#include "data/synth_words.h"

enum { SEMID_SYNTH_MAX_USER_TOPICS = 8 };

void semid_synth_config_default(semid_synth_config *cfg) {
    cfg->n_items = 1200;
    cfg->n_users = 3000;
    cfg->mean_history = 30.0;
    cfg->min_history = 5;
    cfg->max_history = 200;
    cfg->n_topics = 24;
    cfg->user_topics = 4;
    cfg->zipf_exponent = 1.0;
    cfg->p_secondary = 0.4;
    cfg->p_sequel = 0.3;
    cfg->p_cluster = 0.3;
    cfg->p_explore = 0.15;
    cfg->mean_series = 3;
    cfg->series_per_cluster = 3;
    cfg->p_cross_cluster = 0.6;
    cfg->queries_per_item = 20;
    cfg->queries_train = 10;
    cfg->queries_valid = 0;
}

/* The latent structure of one item (index = final item index). */
typedef struct synth_item {
    int32_t topic, topic2; /* topic2 = -1 if none */
    int32_t series, pos;   /* position in its series, 0 = the first */
    int32_t cluster;
    double pop;            /* popularity weight */
} synth_item;

typedef struct synth_series {
    int32_t topic, topic2;
    int32_t first, len; /* items first .. first+len-1 in order (before the shuffle) */
    int32_t cluster;
} synth_series;

typedef struct synth_world {
    int32_t n_items, n_topics, n_clusters;
    synth_item *items;        /* (I) */
    int32_t *series_items;    /* series s: item indices of its parts, in order */
    int32_t *series_start;    /* (S+1) offsets into series_items */
    int32_t n_series;
    int32_t *cluster_items, *cluster_start; /* CSR, items of each cluster */
    int32_t *topic_items, *topic_start;     /* CSR, items whose main topic is t */
} synth_world;

static void world_free(synth_world *w) {
    free(w->items);
    free(w->series_items);
    free(w->series_start);
    free(w->cluster_items);
    free(w->cluster_start);
    free(w->topic_items);
    free(w->topic_start);
    memset(w, 0, sizeof *w);
}

static semid_status validate(const semid_synth_config *c) {
#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                               \
        if (!(cond)) return semid_fail(SEMID_EINVAL, __VA_ARGS__);                                                     \
    } while (0)
    CHECK(c->n_items >= 10 && c->n_items <= 10000000, "synth: n_items must be in 10..10000000, got %d", c->n_items);
    CHECK(c->n_users >= 1 && c->n_users <= 100000000, "synth: n_users must be in 1..100000000, got %d", c->n_users);
    CHECK(c->n_topics >= 1 && c->n_topics <= semid_synth_n_topics, "synth: n_topics must be in 1..%d, got %d",
          semid_synth_n_topics, c->n_topics);
    CHECK(c->user_topics >= 1 && c->user_topics <= SEMID_SYNTH_MAX_USER_TOPICS,
          "synth: user_topics must be in 1..%d, got %d", SEMID_SYNTH_MAX_USER_TOPICS, c->user_topics);
    CHECK(c->min_history >= 1, "synth: min_history must be >= 1, got %d", c->min_history);
    CHECK(c->max_history >= c->min_history, "synth: max_history (%d) must be >= min_history (%d)", c->max_history,
          c->min_history);
    CHECK(c->mean_history >= c->min_history && c->mean_history <= c->max_history,
          "synth: mean_history %g must be within min_history..max_history", c->mean_history);
    CHECK(c->min_history <= c->n_items / 2, "synth: min_history %d needs at least %d items", c->min_history,
          2 * c->min_history);
    CHECK(c->zipf_exponent >= 0 && c->zipf_exponent <= 4, "synth: zipf_exponent must be in 0..4, got %g",
          c->zipf_exponent);
    CHECK(c->p_secondary >= 0 && c->p_secondary <= 1, "synth: p_secondary must be in 0..1, got %g", c->p_secondary);
    CHECK(c->p_sequel >= 0 && c->p_cluster >= 0 && c->p_explore >= 0 &&
              c->p_sequel + c->p_cluster + c->p_explore <= 1,
          "synth: p_sequel, p_cluster, p_explore must be >= 0 and sum to at most 1");
    CHECK(c->mean_series >= 1 && c->mean_series <= 20, "synth: mean_series must be in 1..20, got %d", c->mean_series);
    CHECK(c->series_per_cluster >= 1, "synth: series_per_cluster must be >= 1, got %d", c->series_per_cluster);
    CHECK(c->p_cross_cluster >= 0 && c->p_cross_cluster <= 1, "synth: p_cross_cluster must be in 0..1, got %g",
          c->p_cross_cluster);
    CHECK(c->queries_per_item >= 0, "synth: queries_per_item must be >= 0, got %d", c->queries_per_item);
    CHECK(c->queries_per_item == 0 || (c->queries_train >= 0 && c->queries_valid >= 0 &&
                                       c->queries_train + c->queries_valid <= c->queries_per_item),
          "synth: queries_train (%d) + queries_valid (%d) must be within queries_per_item (%d)", c->queries_train,
          c->queries_valid, c->queries_per_item);
#undef CHECK
    return SEMID_OK;
}

/* CSR of items grouped by key[i] in 0..n_keys-1 (items in index order). */
static semid_status group_by(const int32_t *key, int32_t n, int32_t n_keys, int32_t **items, int32_t **start) {
    *start = calloc((size_t)n_keys + 1, sizeof(int32_t));
    *items = malloc((size_t)n * sizeof(int32_t) + 1);
    int32_t *fill = calloc((size_t)n_keys + 1, sizeof(int32_t));
    if (!*start || !*items || !fill) {
        free(fill);
        return semid_fail(SEMID_ENOMEM, "out of memory building the synthetic catalog");
    }
    for (int32_t i = 0; i < n; i++) (*start)[key[i] + 1]++;
    for (int32_t k = 0; k < n_keys; k++) (*start)[k + 1] += (*start)[k];
    for (int32_t i = 0; i < n; i++) (*items)[(*start)[key[i]] + fill[key[i]]++] = i;
    free(fill);
    return SEMID_OK;
}

/* Series, clusters, popularity, then a shuffle of item indices so that
 * neither topic nor series can be read from an item's index. */
static semid_status build_world(const semid_synth_config *cfg, semid_rng *rng, synth_world *w) {
    memset(w, 0, sizeof *w);
    int32_t n = cfg->n_items, T = cfg->n_topics;
    w->n_items = n;
    w->n_topics = T;
    synth_series *series = malloc((size_t)n * sizeof *series);
    synth_item *pre = calloc((size_t)n, sizeof *pre);
    double *topic_w = malloc((size_t)T * sizeof *topic_w);
    int32_t *perm = malloc((size_t)n * sizeof *perm);
    int32_t *key = calloc((size_t)n, sizeof *key);
    semid_status st = SEMID_OK;
    if (!series || !pre || !topic_w || !perm || !key) {
        st = semid_fail(SEMID_ENOMEM, "out of memory building the synthetic catalog");
        goto done;
    }
    /* Topic sizes vary by up to 2x. */
    double tw_total = 0;
    for (int32_t t = 0; t < T; t++) tw_total += (topic_w[t] = 0.67 + 0.66 * semid_rng_uniform(rng));
    int32_t ns = 0, filled = 0;
    while (filled < n) {
        synth_series *s = &series[ns];
        s->topic = (int32_t)semid_rng_weighted(rng, topic_w, (size_t)T, tw_total);
        s->topic2 = -1;
        if (T > 1 && semid_rng_uniform(rng) < cfg->p_secondary) {
            int32_t t2 = (int32_t)semid_rng_below(rng, (uint64_t)(T - 1));
            s->topic2 = t2 >= s->topic ? t2 + 1 : t2;
        }
        int32_t len = 1 + (int32_t)semid_rng_below(rng, (uint64_t)(2 * cfg->mean_series - 1));
        if (len > n - filled) len = n - filled;
        s->first = filled;
        s->len = len;
        for (int32_t k = 0; k < len; k++) {
            pre[filled + k].topic = s->topic;
            pre[filled + k].topic2 = s->topic2;
            pre[filled + k].series = ns;
            pre[filled + k].pos = k;
        }
        filled += len;
        ns++;
    }
    w->n_series = ns;
    /* Clusters: each topic's series in groups of series_per_cluster; then
     * some series move to a cluster of another topic (taste that crosses
     * topics, invisible in the text). */
    {
        int32_t *ts = malloc((size_t)ns * sizeof *ts);
        int32_t *cluster_topic = malloc((size_t)ns * sizeof *cluster_topic);
        if (!ts || !cluster_topic) {
            free(ts);
            free(cluster_topic);
            st = semid_fail(SEMID_ENOMEM, "out of memory building the synthetic catalog");
            goto done;
        }
        int32_t nc = 0;
        for (int32_t t = 0; t < T; t++) {
            int32_t m = 0;
            for (int32_t s = 0; s < ns; s++)
                if (series[s].topic == t) ts[m++] = s;
            semid_rng_shuffle_i32(rng, ts, (size_t)m);
            for (int32_t k = 0; k < m; k++) {
                if (k % cfg->series_per_cluster == 0) cluster_topic[nc++] = t;
                series[ts[k]].cluster = nc - 1;
            }
        }
        for (int32_t s = 0; s < ns; s++) {
            if (nc > 1 && semid_rng_uniform(rng) < cfg->p_cross_cluster) {
                int32_t c = (int32_t)semid_rng_below(rng, (uint64_t)nc);
                if (cluster_topic[c] != series[s].topic) series[s].cluster = c;
            }
        }
        w->n_clusters = nc;
        free(ts);
        free(cluster_topic);
    }
    /* Popularity: Zipf over the series of a topic (random rank), sequels
     * less popular than the film they follow. */
    for (int32_t t = 0; t < T; t++) {
        int32_t m = 0;
        for (int32_t s = 0; s < ns; s++)
            if (series[s].topic == t) perm[m++] = s;
        semid_rng_shuffle_i32(rng, perm, (size_t)m);
        for (int32_t r = 0; r < m; r++) {
            const synth_series *s = &series[perm[r]];
            double base = 1.0 / pow((double)(r + 1), cfg->zipf_exponent);
            for (int32_t k = 0; k < s->len; k++) pre[s->first + k].pop = base * pow(0.7, k);
        }
    }
    for (int32_t i = 0; i < n; i++) pre[i].cluster = series[pre[i].series].cluster;
    /* Shuffle indices: perm[old] = new. */
    for (int32_t i = 0; i < n; i++) perm[i] = i;
    semid_rng_shuffle_i32(rng, perm, (size_t)n);
    w->items = malloc((size_t)n * sizeof *w->items);
    w->series_items = malloc((size_t)n * sizeof(int32_t));
    w->series_start = malloc(((size_t)ns + 1) * sizeof(int32_t));
    if (!w->items || !w->series_items || !w->series_start) {
        st = semid_fail(SEMID_ENOMEM, "out of memory building the synthetic catalog");
        goto done;
    }
    for (int32_t i = 0; i < n; i++) w->items[perm[i]] = pre[i];
    for (int32_t s = 0; s < ns; s++) {
        w->series_start[s] = series[s].first;
        for (int32_t k = 0; k < series[s].len; k++) w->series_items[series[s].first + k] = perm[series[s].first + k];
    }
    w->series_start[ns] = n;
    for (int32_t i = 0; i < n; i++) key[i] = w->items[i].cluster;
    st = group_by(key, n, w->n_clusters, &w->cluster_items, &w->cluster_start);
    if (st != SEMID_OK) goto done;
    for (int32_t i = 0; i < n; i++) key[i] = w->items[i].topic;
    st = group_by(key, n, T, &w->topic_items, &w->topic_start);
done:
    free(series);
    free(pre);
    free(topic_w);
    free(perm);
    free(key);
    if (st != SEMID_OK) world_free(w);
    return st;
}

/* ---------------------------------------------------------------------------
 * Item metadata */

typedef struct strbuf {
    char *s;
    size_t n, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *text) {
    size_t len = strlen(text);
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + len + 1) ncap *= 2;
        char *ns = realloc(b->s, ncap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = ncap;
    }
    memcpy(b->s + b->n, text, len + 1);
    b->n += len;
}

/* "a" or "an" before `word`. */
static const char *article(const char *word) {
    char c = word[0];
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' ? "an" : "a";
}

#define PICK(arr, n, rng) ((arr)[semid_rng_below((rng), (uint64_t)(n))])

static void person_name(char *out, size_t cap, semid_rng *rng) {
    snprintf(out, cap, "%s %s", PICK(semid_synth_first_names, semid_synth_n_first_names, rng),
             PICK(semid_synth_last_names, semid_synth_n_last_names, rng));
}

/* Title of a series' first item: "Silent River", "The Last Tower",
 * "Shadow of the Wolf", or a topic word ("Galaxy Run"). */
static void series_title(char *out, size_t cap, const semid_synth_topic *tp, semid_rng *rng) {
    const char *n1 = PICK(semid_synth_title_nouns, semid_synth_n_title_nouns, rng);
    const char *n2 = PICK(semid_synth_title_nouns, semid_synth_n_title_nouns, rng);
    const char *a = PICK(semid_synth_title_adjectives, semid_synth_n_title_adjectives, rng);
    char topic_word[40];
    snprintf(topic_word, sizeof topic_word, "%s", tp->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)]);
    if (topic_word[0] >= 'a' && topic_word[0] <= 'z') topic_word[0] = (char)(topic_word[0] - 32);
    switch (semid_rng_below(rng, 6)) {
    case 0: snprintf(out, cap, "%s", n1); break;
    case 1: snprintf(out, cap, "%s %s", a, n1); break;
    case 2: snprintf(out, cap, "The %s %s", a, n1); break;
    case 3: snprintf(out, cap, "%s of the %s", n1, n2); break;
    case 4: snprintf(out, cap, "%s %s", n1, n2); break;
    default: snprintf(out, cap, "%s %s", a, topic_word); break;
    }
}

/* What the items of one series share. */
typedef struct series_meta {
    char title[96];
    int32_t year;
    char director[64], lead[64];
    const char *role, *role_adj;
} series_meta;

static semid_status make_item(const synth_world *w, int32_t i, const series_meta *sm, semid_rng *rng,
                              semid_dataset_builder *b) {
    const synth_item *si = &w->items[i];
    const semid_synth_topic *tp = &semid_synth_topics[si->topic];
    const semid_synth_topic *t2 = si->topic2 >= 0 ? &semid_synth_topics[si->topic2] : NULL;
    char id[24], title[112], director[64], star1[64], star2[64], tmp[512];
    snprintf(id, sizeof id, "%d", i + 1);
    if (si->pos == 0) snprintf(title, sizeof title, "%s", sm->title);
    else snprintf(title, sizeof title, "%s %d", sm->title, si->pos + 1);
    /* Parts of a series come out in order, about two years apart. */
    int32_t year = sm->year + 2 * si->pos + (si->pos > 0 ? (int32_t)semid_rng_below(rng, 2) : 0);
    /* Sequels often keep the director and the lead. */
    if (si->pos > 0 && semid_rng_uniform(rng) < 0.7) snprintf(director, sizeof director, "%s", sm->director);
    else person_name(director, sizeof director, rng);
    if (si->pos > 0 && semid_rng_uniform(rng) < 0.7) snprintf(star1, sizeof star1, "%s", sm->lead);
    else person_name(star1, sizeof star1, rng);
    person_name(star2, sizeof star2, rng);

    /* Genres: the main topic's first label, maybe its others, and the
     * secondary topic's first label. */
    strbuf genres = {0};
    {
        char labels[96];
        snprintf(labels, sizeof labels, "%s", tp->genres);
        char *save = NULL;
        int k = 0;
        for (char *g = strtok_r(labels, ",", &save); g; g = strtok_r(NULL, ",", &save), k++) {
            if (k > 0 && semid_rng_uniform(rng) >= 0.6) continue;
            if (genres.n) sb_add(&genres, ",");
            sb_add(&genres, g);
        }
        if (t2) {
            char first[32];
            size_t m = strcspn(t2->genres, ",");
            snprintf(first, sizeof first, "%.*s", (int)m, t2->genres);
            if (!genres.s || !strstr(genres.s, first)) {
                sb_add(&genres, ",");
                sb_add(&genres, first);
            }
        }
    }

    /* Description: 2-4 sentences from the topic words and names. */
    strbuf d = {0};
    const char *adj2 = tp->adjectives[semid_rng_below(rng, SEMID_SYNTH_ADJECTIVES)];
    const char *obj = tp->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)];
    const char *verb = tp->verbs[semid_rng_below(rng, SEMID_SYNTH_VERBS)];
    const char *place = tp->places[semid_rng_below(rng, SEMID_SYNTH_PLACES)];
    if (si->pos == 0) {
        char a[8];
        snprintf(a, sizeof a, "%s", article(sm->role_adj));
        a[0] = (char)(a[0] - 32);
        snprintf(tmp, sizeof tmp, "%s %s %s %s %s %s %s %s.", a, sm->role_adj, sm->role, verb, article(adj2), adj2, obj,
                 place);
    } else {
        snprintf(tmp, sizeof tmp, "The %s %s returns and %s %s %s %s %s.", sm->role_adj, sm->role, verb, article(adj2),
                 adj2, obj, place);
    }
    sb_add(&d, tmp);
    if (semid_rng_uniform(rng) < 0.7) {
        const char *who = PICK(semid_synth_first_names, semid_synth_n_first_names, rng);
        const char *r2 = tp->roles[semid_rng_below(rng, SEMID_SYNTH_ROLES)];
        const char *adj3 = tp->adjectives[semid_rng_below(rng, SEMID_SYNTH_ADJECTIVES)];
        const char *o2 = tp->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)];
        const char *o3 = tp->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)];
        const char *v2 = tp->verbs[semid_rng_below(rng, SEMID_SYNTH_VERBS)];
        snprintf(tmp, sizeof tmp, " %s, %s %s %s, %s the %s before the %s %s.", who, article(adj3), adj3, r2, v2, o2,
                 o3, semid_rng_uniform(rng) < 0.5 ? "strikes again" : "is lost forever");
        sb_add(&d, tmp);
    }
    if (t2 && semid_rng_uniform(rng) < 0.8) {
        const char *r3 = t2->roles[semid_rng_below(rng, SEMID_SYNTH_ROLES)];
        const char *a3 = t2->adjectives[semid_rng_below(rng, SEMID_SYNTH_ADJECTIVES)];
        const char *o4 = t2->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)];
        snprintf(tmp, sizeof tmp, " Along the way the %s meets %s %s %s and a %s %s.", sm->role, article(a3), a3, r3,
                 o4, t2->places[semid_rng_below(rng, SEMID_SYNTH_PLACES)]);
        sb_add(&d, tmp);
    } else if (semid_rng_uniform(rng) < 0.7) {
        const char *th1 = tp->themes[semid_rng_below(rng, SEMID_SYNTH_THEMES)];
        const char *th2 = tp->themes[semid_rng_below(rng, SEMID_SYNTH_THEMES)];
        const char *adj4 = tp->adjectives[semid_rng_below(rng, SEMID_SYNTH_ADJECTIVES)];
        const char *city = PICK(semid_synth_cities, semid_synth_n_cities, rng);
        if (th1 == th2) snprintf(tmp, sizeof tmp, " %s %s story of %s, set in %s.", article(adj4), adj4, th1, city);
        else snprintf(tmp, sizeof tmp, " %s %s story of %s and %s, set in %s.", article(adj4), adj4, th1, th2, city);
        tmp[1] = (char)(tmp[1] - 32); /* capitalise the article */
        sb_add(&d, tmp);
    }
    snprintf(tmp, sizeof tmp, " Directed by %s, it stars %s and %s.", director, star1, star2);
    sb_add(&d, tmp);

    /* Tags: themes, one thing, the topic, "sequel". */
    strbuf tags = {0};
    sb_add(&tags, tp->name);
    const char *th = tp->themes[semid_rng_below(rng, SEMID_SYNTH_THEMES)];
    sb_add(&tags, ",");
    sb_add(&tags, th);
    const char *o5 = tp->objects[semid_rng_below(rng, SEMID_SYNTH_OBJECTS)];
    sb_add(&tags, ",");
    sb_add(&tags, o5);
    if (t2) {
        sb_add(&tags, ",");
        sb_add(&tags, t2->name);
    }
    if (si->pos > 0) sb_add(&tags, ",sequel");
    if (semid_rng_uniform(rng) < 0.1) sb_add(&tags, ",based on a novel");

    semid_status st = SEMID_OK;
    if (genres.oom || d.oom || tags.oom) {
        st = semid_fail(SEMID_ENOMEM, "out of memory writing item %d", i);
    } else {
        semid_item fields = {.id = id, .title = title, .year = year, .genres = genres.s, .description = d.s,
                             .tags = tags.s};
        int32_t idx;
        st = semid_builder_add_item(b, &fields, &idx);
        SEMID_ASSERT(st != SEMID_OK || idx == i);
    }
    free(genres.s);
    free(d.s);
    free(tags.s);
    return st;
}

static semid_status add_items(const synth_world *w, uint64_t seed, semid_dataset_builder *b) {
    semid_rng root, trng;
    semid_rng_seed(&root, seed);
    trng = semid_rng_fork(&root, 2);
    series_meta *meta = calloc((size_t)w->n_series, sizeof *meta);
    int32_t *series_of = malloc((size_t)w->n_items * sizeof *series_of);
    semid_id_index *titles = NULL;
    semid_status st = SEMID_OK;
    if (!meta || !series_of) {
        st = semid_fail(SEMID_ENOMEM, "out of memory writing the synthetic catalog");
        goto done;
    }
    st = semid_id_index_create(&titles, w->n_series);
    for (int32_t s = 0; s < w->n_series && st == SEMID_OK; s++) {
        const synth_item *first = &w->items[w->series_items[w->series_start[s]]];
        const semid_synth_topic *tp = &semid_synth_topics[first->topic];
        series_meta *sm = &meta[s];
        /* Unique titles: retry, then name a place to tell them apart. */
        for (int attempt = 0;; attempt++) {
            series_title(sm->title, sizeof sm->title, tp, &trng);
            if (attempt >= 50) {
                size_t len = strlen(sm->title);
                snprintf(sm->title + len, sizeof sm->title - len, " in %s",
                         semid_synth_cities[(s + attempt) % semid_synth_n_cities]);
            }
            int32_t existing;
            st = semid_id_index_put(titles, sm->title, s, &existing);
            if (st != SEMID_OK || existing < 0) break;
        }
        double y = tp->year_mean + tp->year_sd * semid_rng_normal(&trng);
        sm->year = (int32_t)lround(y < 1925 ? 1925 : y > 2012 ? 2012 : y);
        person_name(sm->director, sizeof sm->director, &trng);
        person_name(sm->lead, sizeof sm->lead, &trng);
        sm->role = tp->roles[semid_rng_below(&trng, SEMID_SYNTH_ROLES)];
        sm->role_adj = tp->adjectives[semid_rng_below(&trng, SEMID_SYNTH_ADJECTIVES)];
    }
    for (int32_t i = 0; i < w->n_items && st == SEMID_OK; i++) series_of[i] = w->items[i].series;
    for (int32_t i = 0; i < w->n_items && st == SEMID_OK; i++) {
        semid_rng rng = semid_rng_fork(&root, 3 + (uint64_t)i);
        st = make_item(w, i, &meta[series_of[i]], &rng, b);
    }
done:
    semid_id_index_free(titles);
    free(meta);
    free(series_of);
    return st;
}

/* ---------------------------------------------------------------------------
 * Histories */

/* An unconsumed item of `list` drawn by popularity (times `boost` for
 * items whose previous part the user has seen or that start a series), or
 * -1 if all are consumed. */
static int32_t draw_from(const synth_world *w, const int32_t *list, int32_t n, const uint8_t *seen, double *wbuf,
                         semid_rng *rng) {
    double total = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t i = list[k];
        wbuf[k] = seen[i] ? 0.0 : w->items[i].pop;
        total += wbuf[k];
    }
    if (total <= 0) return -1;
    return list[semid_rng_weighted(rng, wbuf, (size_t)n, total)];
}

/* The same draw from a slice of a popularity tree (the items of a topic,
 * or all items) in O(log n) instead of a scan of the slice, which made the
 * histories O(interactions x items / topics). The tree holds the unseen
 * items' popularity; where rounding puts the draw on a boundary, the scan
 * decides, with the same random number. */
static int32_t draw_tree(const synth_world *w, const semid_fenwick *f, int32_t slice, const int32_t *list,
                         const uint8_t *seen, double *wbuf, semid_rng *rng) {
    if (semid_fenwick_live(f, slice) == 0) return -1;
    semid_rng before = *rng;
    int32_t pos = semid_fenwick_find(f, slice, semid_rng_uniform(rng) * semid_fenwick_total(f, slice));
    if (pos >= 0) return list[pos];
    *rng = before;
    int32_t s0 = f->start[slice];
    return draw_from(w, list + s0, f->start[slice + 1] - s0, seen, wbuf, rng);
}

/* Users watch a series in order: a draw that lands on a later part usually
 * becomes the first part not yet seen. */
static int32_t series_entry(const synth_world *w, int32_t item, const uint8_t *seen, semid_rng *rng) {
    const synth_item *si = &w->items[item];
    if (si->pos == 0 || semid_rng_uniform(rng) >= 0.8) return item;
    int32_t s0 = w->series_start[si->series];
    for (int32_t k = 0; k < si->pos; k++)
        if (!seen[w->series_items[s0 + k]]) return w->series_items[s0 + k];
    return item;
}

static semid_status add_users(const semid_synth_config *cfg, const synth_world *w, uint64_t seed,
                              semid_dataset_builder *b) {
    semid_rng root;
    semid_rng_seed(&root, seed);
    int32_t n = w->n_items, T = w->n_topics;
    uint8_t *seen = calloc((size_t)n, 1);
    int32_t *hist = malloc((size_t)cfg->max_history * sizeof *hist);
    double *wbuf = malloc((size_t)n * sizeof *wbuf);
    int32_t *all = malloc((size_t)n * sizeof *all);
    int32_t *topic_pos = malloc((size_t)n * sizeof *topic_pos);
    double *pop = malloc((size_t)n * sizeof *pop);
    int32_t all_start[2] = {0, n};
    int32_t cap = n / 2 < cfg->max_history ? n / 2 : cfg->max_history;
    semid_fenwick by_topic = {0}, by_all = {0};
    semid_status st = SEMID_OK;
    if (!seen || !hist || !wbuf || !all || !topic_pos || !pop) {
        st = semid_fail(SEMID_ENOMEM, "out of memory generating histories");
        goto done;
    }
    for (int32_t i = 0; i < n; i++) all[i] = i;
    /* Popularity in the order of topic_items (sliced by topic), then of all items. */
    for (int32_t k = 0; k < n; k++) {
        topic_pos[w->topic_items[k]] = k;
        pop[k] = w->items[w->topic_items[k]].pop;
    }
    st = semid_fenwick_init(&by_topic, pop, w->topic_start, T, cap);
    for (int32_t i = 0; i < n; i++) pop[i] = w->items[i].pop;
    if (st == SEMID_OK) st = semid_fenwick_init(&by_all, pop, all_start, 1, cap);
    for (int32_t u = 0; u < cfg->n_users && st == SEMID_OK; u++) {
        semid_rng rng = semid_rng_fork(&root, 1000 + (uint64_t)u);
        /* Preferences: 1 .. user_topics topics with Dirichlet(1) weights. */
        int32_t max_pref = cfg->user_topics < T ? cfg->user_topics : T;
        int32_t n_pref = 1 + (int32_t)semid_rng_below(&rng, (uint64_t)max_pref);
        int32_t pref[SEMID_SYNTH_MAX_USER_TOPICS];
        double pw[SEMID_SYNTH_MAX_USER_TOPICS], pw_total = 0;
        for (int32_t k = 0; k < n_pref; k++) {
            int32_t t;
            bool dup;
            do {
                t = (int32_t)semid_rng_below(&rng, (uint64_t)T);
                dup = false;
                for (int32_t j = 0; j < k; j++) dup |= pref[j] == t;
            } while (dup);
            pref[k] = t;
            pw_total += (pw[k] = -log(1.0 - semid_rng_uniform(&rng)) + 1e-9);
        }
        double extra = -log(1.0 - semid_rng_uniform(&rng)) * (cfg->mean_history - cfg->min_history);
        int32_t len = cfg->min_history + (int32_t)lround(extra);
        if (len > cap) len = cap;
        char uid[24];
        snprintf(uid, sizeof uid, "u%d", u + 1);
        int32_t uidx;
        st = semid_builder_user(b, uid, &uidx);
        int32_t h = 0;
        while (h < len && st == SEMID_OK) {
            int32_t next = -1;
            double r = semid_rng_uniform(&rng);
            if (h > 0) {
                const synth_item *last = &w->items[hist[h - 1]];
                if (r < cfg->p_sequel) {
                    int32_t s0 = w->series_start[last->series], s1 = w->series_start[last->series + 1];
                    int32_t k = s0 + last->pos + 1;
                    if (k < s1 && !seen[w->series_items[k]]) next = w->series_items[k];
                } else if (r < cfg->p_sequel + cfg->p_cluster) {
                    int32_t c0 = w->cluster_start[last->cluster], c1 = w->cluster_start[last->cluster + 1];
                    next = draw_from(w, w->cluster_items + c0, c1 - c0, seen, wbuf, &rng);
                    if (next >= 0) next = series_entry(w, next, seen, &rng);
                } else if (r < cfg->p_sequel + cfg->p_cluster + cfg->p_explore) {
                    int32_t t = (int32_t)semid_rng_below(&rng, (uint64_t)T);
                    next = draw_tree(w, &by_topic, t, w->topic_items, seen, wbuf, &rng);
                }
            }
            if (next < 0) {
                int32_t t = pref[semid_rng_weighted(&rng, pw, (size_t)n_pref, pw_total)];
                next = draw_tree(w, &by_topic, t, w->topic_items, seen, wbuf, &rng);
                if (next < 0) next = draw_tree(w, &by_all, 0, all, seen, wbuf, &rng);
                if (next >= 0) next = series_entry(w, next, seen, &rng);
            }
            if (next < 0) break; /* every item seen: cannot happen with len <= n/2 */
            seen[next] = 1;
            semid_fenwick_remove(&by_topic, topic_pos[next]);
            semid_fenwick_remove(&by_all, next);
            hist[h] = next;
            st = semid_builder_add_interaction_idx(b, uidx, next, h);
            h++;
        }
        for (int32_t k = 0; k < h; k++) seen[hist[k]] = 0;
        semid_fenwick_restore(&by_topic);
        semid_fenwick_restore(&by_all);
    }
done:
    semid_fenwick_free(&by_topic);
    semid_fenwick_free(&by_all);
    free(seen);
    free(hist);
    free(wbuf);
    free(all);
    free(topic_pos);
    free(pop);
    return st;
}

semid_status semid_synth_generate(const semid_synth_config *cfg, uint64_t seed, semid_dataset *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(validate(cfg));
    double t0 = semid_now();
    semid_rng root, srng;
    semid_rng_seed(&root, seed);
    srng = semid_rng_fork(&root, 1);
    synth_world w;
    SEMID_TRY(build_world(cfg, &srng, &w));
    semid_dataset_builder *b = NULL;
    semid_status st = semid_builder_create(&b, "synthetic");
    if (st == SEMID_OK) st = add_items(&w, seed, b);
    if (st == SEMID_OK) st = add_users(cfg, &w, semid_rng_u64(&srng), b);
    world_free(&w);
    if (st != SEMID_OK) {
        semid_builder_free(b);
        return st;
    }
    st = semid_builder_finish(b, out);
    if (st != SEMID_OK) return st;
    if (cfg->queries_per_item > 0) {
        semid_querygen_config qc;
        semid_querygen_config_default(&qc);
        qc.n_per_item = cfg->queries_per_item;
        qc.n_train = cfg->queries_train;
        qc.n_valid = cfg->queries_valid;
        semid_rng qrng = semid_rng_fork(&root, 7);
        st = semid_querygen_run(out, &qc, semid_rng_u64(&qrng), NULL);
        if (st != SEMID_OK) {
            semid_dataset_free(out);
            return st;
        }
    }
    SEMID_INFO("synth: %d items, %d users, %lld interactions, %d queries in %.2f s", out->n_items, out->n_users,
               (long long)out->n_interactions, out->n_queries, semid_now() - t0);
    return SEMID_OK;
}
