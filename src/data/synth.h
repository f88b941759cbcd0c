/* The built-in synthetic dataset: a movie-like catalog with text metadata,
 * users with histories and search queries, generated from a seed with no
 * download, so that `make demo` and the tests have data to run on.
 *
 * How it is made (all choices seeded):
 *   - latent topics (synth_words.h): each item has a main topic and maybe a
 *     secondary one; its genres, year, description and tags come from them;
 *   - items come in series (a first film and its sequels "Title 2", "Title
 *     3") and series are grouped into clusters, some across topics, that
 *     audiences consume together: a collaborative signal the text does not
 *     fully carry;
 *   - popularity follows a Zipf law within each topic;
 *   - a user prefers 1 to user_topics topics; each next item is, in order of checks, the
 *     sequel of the last item (p_sequel), another item of its cluster
 *     (p_cluster), or a popular item of a preferred topic. No item repeats
 *     within a user. Timestamps are ranks (0, 1, 2, ...);
 *   - queries come from the query generator (querygen.h) on the items.
 *
 * Defaults make the whole pipeline run in a couple of minutes on 2 cores. */
#ifndef SEMID_DATA_SYNTH_H
#define SEMID_DATA_SYNTH_H

#include <stdint.h>

#include "data/dataset.h"
#include "semid/semid.h"

typedef struct semid_synth_config {
    int32_t n_items;         /* 1200 */
    int32_t n_users;         /* 3000 */
    double mean_history;     /* 30: mean interactions per user */
    int32_t min_history;     /* 5 */
    int32_t max_history;     /* 200 */
    int32_t n_topics;        /* 24 (at most semid_synth_n_topics) */
    int32_t user_topics;     /* 4: a user prefers 1 .. user_topics topics */
    double zipf_exponent;    /* 1.0: popularity within a topic ~ 1 / rank^s */
    double p_secondary;      /* 0.4: share of items with a secondary topic */
    double p_sequel;         /* 0.3: next = the sequel of the last item */
    double p_cluster;        /* 0.3: next = another item of its cluster */
    double p_explore;        /* 0.15: next = a popular item of any topic */
    int32_t mean_series;     /* 3: mean items per series (1 .. 2*mean-1) */
    int32_t series_per_cluster; /* 3 */
    double p_cross_cluster;  /* 0.6: a series moves to a cluster of another topic */
    int32_t queries_per_item; /* 20 (0 = no queries) */
    int32_t queries_train;   /* 10 */
    int32_t queries_valid;   /* 0 */
} semid_synth_config;

void semid_synth_config_default(semid_synth_config *cfg);

/* Generates the dataset (named "synthetic") into *out. Deterministic in
 * (cfg, seed) and independent of the thread count. Fails with SEMID_EINVAL
 * on a bad configuration (naming the field). */
semid_status semid_synth_generate(const semid_synth_config *cfg, uint64_t seed, semid_dataset *out);

#endif
