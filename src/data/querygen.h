/* The query generator: writes realistic search queries for every item from
 * its metadata alone (no LLM is available), as the paper's LLM-written
 * queries: 20 per item, 10 for training and 10 for testing, never
 * containing the title.
 *
 * What a query is made of, per item:
 *   - genres, phrased as people search ("sci-fi", "science fiction", "scary");
 *   - the decade or year ("a 90s thriller", "from the eighties");
 *   - names from the description (capitalised runs of 2-3 words outside
 *     quotes, not followed by "(year)"); a run whose first word is a known
 *     first name is a person;
 *   - keywords: content words of the description and tags, weighted by
 *     tf * idf over the catalog so that queries discriminate between items;
 *     never words of the title, review vocabulary ("captivating"), or words
 *     of sentences about other works ("fans might also enjoy ...");
 *   - phrases: noun phrases of the description around a keyword, starting
 *     at an article ("a retired detective hunts a ruthless gang").
 * Templates render these as queries ("dark crime thriller about a heist",
 * "movies like a 90s space adventure with aliens"). Half the queries are
 * paraphrases of the other half: the same content with another template,
 * synonyms and another order. No two queries of one item share a word set
 * when it can be avoided (also against queries kept when appending), so
 * test queries are not copies of training ones. Splits are a seeded
 * shuffle of each item's queries. Metadata-free items get generic queries.
 * Deterministic under the seed and independent of the thread count. */
#ifndef SEMID_DATA_QUERYGEN_H
#define SEMID_DATA_QUERYGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "semid/semid.h"

typedef struct semid_querygen_config {
    int32_t n_per_item;   /* 20 */
    int32_t n_train;      /* 10 of n_per_item for training */
    int32_t n_valid;      /* 0; the rest are test */
    int32_t max_keywords; /* 8: top tf-idf words kept per item */
    bool append;          /* false: replace ds->queries; true: add to them */
} semid_querygen_config;

void semid_querygen_config_default(semid_querygen_config *cfg);

typedef struct semid_querygen_stats {
    int64_t n_queries;      /* written by this run */
    int64_t n_train, n_valid, n_test;
    double copy_share;      /* semid_queries_copy_share over the whole dataset */
    int64_t n_title_fixes;  /* queries where words forming the title were removed */
    double seconds;
} semid_querygen_stats;

/* Generates cfg->n_per_item queries for every item of ds and stores them
 * in ds->queries (grouped by item, in item order). stats may be NULL. */
semid_status semid_querygen_run(semid_dataset *ds, const semid_querygen_config *cfg, uint64_t seed,
                                semid_querygen_stats *stats);

/* Share of test queries whose set of normalised words equals that of a
 * training query of the same item (0 when there are no test queries). */
double semid_queries_copy_share(const semid_dataset *ds);

/* True if the normalised `query` contains the normalised title of `item`
 * as a run of whole words (a trailing or leading article such as ", The"
 * and an alternative title in parentheses are handled). */
bool semid_query_contains_title(const semid_item *item, const char *query);

/* Writes the queries as TSV with header "item_id\tsplit\tquery" (split is
 * train, valid or test), atomically. */
semid_status semid_queries_write_tsv(const semid_dataset *ds, const char *path);

/* Replaces the test queries with per_item queries per item (of the items
 * that had test queries; every item when none had) written in a style the
 * training queries never use: other frames, genre words and era wording,
 * keywords in another inflection (querygen_unseen.c says which rules). The
 * content comes from the item's metadata as for the training queries, never
 * a title word, and no query has the word set of one of the item's
 * training queries. Training and validation queries are kept as they were.
 * Measures whether a model learnt the items or the generator's phrasing. */
semid_status semid_querygen_unseen_style(semid_dataset *ds, int32_t per_item, uint64_t seed,
                                         semid_querygen_stats *stats);
/* ---- Queries one at a time, at a level of specificity (personalised
 * search, gen/examples.h). A vague query names genre and decade at most
 * ("90s comedy": hundreds of right answers, which only a history can tell
 * apart), a keyword one a keyword or two ("heist crime movie"), a full one
 * anything the generator writes (names, phrases). Never a title word. */
typedef enum semid_query_level {
    SEMID_QUERY_VAGUE = 0,
    SEMID_QUERY_KEYWORDS = 1,
    SEMID_QUERY_FULL = 2,
    SEMID_QUERY_N_LEVELS = 3
} semid_query_level;

/* "vague", "keywords", "full"; and back (-1 for an unknown name). */
const char *semid_query_level_name(int level);
int semid_query_level_parse(const char *name);

/* What the generator knows of every item of a dataset, built once. The
 * word sets of the dataset's queries other than training ones (split !=
 * TRAIN, or role[q] != TRAIN when role is given) are kept per item, so
 * that a generated training query never repeats a held-out one. */
typedef struct semid_querygen_profiles semid_querygen_profiles;

semid_status semid_querygen_profiles_build(const semid_dataset *ds, const uint8_t *role,
                                           semid_querygen_profiles **out);
void semid_querygen_profiles_free(semid_querygen_profiles *p);

/* Writes a query for `item` at `level` to out (cap bytes), drawn with the
 * stream `seed`: *made = 1; or *made = 0 (out empty) when avoid_held_out is
 * set and every query the item has at that level repeats a held-out one.
 * An item with no content for the level gets a generic request ("a
 * movie"). Thread-safe on a shared `p`. */
semid_status semid_querygen_one(const semid_querygen_profiles *p, int32_t item, int level, uint64_t seed,
                                int avoid_held_out, char *out, size_t cap, int *made);

#endif
