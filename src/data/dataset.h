/* The in-memory dataset every stage reads: items with text metadata, users,
 * their interactions in chronological order, and search queries.
 *
 * Inside semid, items and users are compact indices (0 .. n-1); the
 * original ids are kept for output. Interactions are stored per user in
 * chronological order (CSR): the items of user u are
 *   seq_items[user_offsets[u] .. user_offsets[u+1]).
 *
 * Dimension legend used in comments across semid:
 *   I = items, U = users, Q = queries, D = embedding width. */
#ifndef SEMID_DATA_DATASET_H
#define SEMID_DATA_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "semid/semid.h"

typedef struct semid_item {
    char *id;          /* original id, e.g. the MovieID "1193" */
    char *title;       /* without the year */
    int32_t year;      /* 0 = unknown */
    char *genres;      /* comma-separated, "" if none */
    char *description; /* free text, "" if none */
    char *tags;        /* comma-separated, "" if none */
} semid_item;

typedef enum semid_split {
    SEMID_SPLIT_TRAIN = 0,
    SEMID_SPLIT_VALID = 1,
    SEMID_SPLIT_TEST = 2
} semid_split;

typedef struct semid_query {
    char *text;
    int32_t item;   /* the item the query was written for */
    uint8_t split;  /* semid_split */
} semid_query;

typedef struct semid_dataset {
    char *name;             /* e.g. "ml-1m", "synthetic" */

    int32_t n_items;
    semid_item *items;      /* (I) */

    int32_t n_users;
    char **user_ids;        /* (U) original ids */

    int64_t n_interactions;
    int64_t *user_offsets;  /* (U+1) */
    int32_t *seq_items;     /* (n_interactions) item index, chronological per user */
    int64_t *seq_times;     /* (n_interactions) timestamp or rank within the user */

    int32_t n_queries;
    semid_query *queries;   /* (Q) grouped by item is not required */

    struct semid_id_index *item_index; /* original item id -> index (owned) */

    /* An evaluation sample of the test split (data/test_sample.h), in memory
     * only: flags of the test queries (Q) and users (U) that evaluations
     * leave out; NULL = none left out. */
    uint8_t *test_left_out_queries;
    uint8_t *test_left_out_users;
} semid_dataset;

/* Frees everything the dataset owns and zeroes it. */
void semid_dataset_free(semid_dataset *ds);

/* Index of an item by its original id, or -1. */
int32_t semid_dataset_find_item(const semid_dataset *ds, const char *id);

/* Recommendation split, chronological leave-last-out: for a user with n >= 3
 * interactions the last is test, the second last validation, the rest train.
 * Users with fewer than 3 interactions have all of them in train and no
 * validation or test item. */
typedef struct semid_user_split {
    int64_t train_begin, train_end; /* range into seq_items */
    int32_t valid_item;             /* -1 if none */
    int32_t test_item;              /* -1 if none */
} semid_user_split;

semid_user_split semid_dataset_user_split(const semid_dataset *ds, int32_t user);
/* A user that a test sample leaves out (data/test_sample.h) has test_item
 * -1; the rest of its split is unchanged. */

/* Whether query q is evaluated on the test split: a test query that no test
 * sample leaves out. */
static inline bool semid_dataset_query_tested(const semid_dataset *ds, int32_t q) {
    return ds->queries[q].split == SEMID_SPLIT_TEST && !(ds->test_left_out_queries && ds->test_left_out_queries[q]);
}

/* Interactions per item counted over the training part of every user (I). */
void semid_dataset_train_counts(const semid_dataset *ds, int64_t *counts);

/* Popularity buckets: is_head[i] = 1 for the top `head_fraction` of items
 * (default 0.01 = top 1%) by training interactions, ties broken by index;
 * the rest (torso) 0. Returns the number of head items (-1 if out of
 * memory, with the message set). */
int32_t semid_dataset_head_items(const semid_dataset *ds, double head_fraction, uint8_t *is_head);

/* The number of head items: head_fraction * n_items rounded to the nearest
 * integer, at least 1 when n_items > 0 and head_fraction > 0. */
int32_t semid_dataset_head_size(int32_t n_items, double head_fraction);

/* The text of an item as one string for encoders: "title. year. genres.
 * description. tags" (fields that are empty are left out). Caller frees. */
char *semid_item_text(const semid_item *item);

/* Saved dataset: a versioned binary file ("SEMIDDS" magic, version, sizes,
 * then length-prefixed strings and arrays), written atomically and loaded
 * in well under a second. Every length read is checked against the bytes
 * left. */
semid_status semid_dataset_save(const semid_dataset *ds, const char *path);
semid_status semid_dataset_load(const char *path, semid_dataset *out);

/* Checks the invariants (offsets start at 0, never decrease and end at
 * n_interactions; item indices of interactions and queries in range; splits
 * valid); SEMID_EFORMAT naming the first violation. */
semid_status semid_dataset_validate(const semid_dataset *ds);

/* (Re)builds ds->item_index from the item ids; fails on a duplicate id. */
semid_status semid_dataset_build_index(semid_dataset *ds);

#endif
