/* Builds a semid_dataset incrementally, so every importer and the synthetic
 * generator construct datasets the same way:
 *
 *   semid_dataset_builder *b;
 *   SEMID_TRY(semid_builder_create(&b, "ml-1m"));
 *   int32_t it;
 *   semid_item fields = {.id = "1", .title = "Toy Story", .year = 1995,
 *                        .genres = "Animation,Children's"};
 *   semid_builder_add_item(b, &fields, &it);        // fields are copied
 *   semid_builder_add_interaction(b, "u7", "1", 978300760);
 *   semid_builder_add_query(b, it, "animated toys come alive", SEMID_SPLIT_TRAIN);
 *   semid_dataset ds;
 *   semid_builder_finish(b, &ds);                   // consumes b
 *
 * Items keep the order in which they were added (index = order of
 * addition); users are numbered in order of first appearance. finish()
 * sorts each user's interactions by time with a stable sort (ties keep the
 * order of addition, i.e. file order), builds the CSR arrays and the item
 * id index. It does no filtering: k-core and dropping items without
 * interactions live in data/filter.h and run on the finished dataset.
 *
 * Errors (duplicate item id, unknown item id, out-of-range index) come back
 * as a status with a message that names the id but not the file; importers
 * prefix "file:line" with semid_fail_context. After a failed call the
 * builder is unchanged and still usable. */
#ifndef SEMID_DATA_BUILDER_H
#define SEMID_DATA_BUILDER_H

#include <stdint.h>

#include "data/dataset.h"
#include "semid/semid.h"

typedef struct semid_dataset_builder semid_dataset_builder;

/* name: the dataset's name (copied), e.g. "ml-1m" or "synthetic". */
semid_status semid_builder_create(semid_dataset_builder **out, const char *name);
/* Frees a builder that was not finished (NULL is fine). */
void semid_builder_free(semid_dataset_builder *b);

/* Adds an item. Every string of `fields` is copied; NULL strings are stored
 * as "" (id must be non-NULL and non-empty). A duplicate id fails with
 * SEMID_EINVAL ("duplicate item id 'X'"). *index (may be NULL) receives the
 * new item's index. */
semid_status semid_builder_add_item(semid_dataset_builder *b, const semid_item *fields, int32_t *index);

/* Index of an item added so far, or -1. */
int32_t semid_builder_find_item(const semid_dataset_builder *b, const char *item_id);
int32_t semid_builder_n_items(const semid_dataset_builder *b);

/* Replaces the description of item `item` (copied). */
semid_status semid_builder_set_description(semid_dataset_builder *b, int32_t item, const char *text);
/* Appends one tag to the item's comma-separated tags unless it is already
 * there (exact match). Commas inside the tag become spaces (blank runs collapse); surrounding
 * blanks are trimmed; an empty tag is ignored. */
semid_status semid_builder_add_tag(semid_dataset_builder *b, int32_t item, const char *tag);

/* A user's index, created on first sight (ids are copied). */
semid_status semid_builder_user(semid_dataset_builder *b, const char *user_id, int32_t *index);

/* Adds one interaction. The item must have been added already; an unknown
 * item id fails with SEMID_ENOTFOUND ("unknown item id 'X'"). `time` is a
 * Unix time or a rank within the user: only its order matters. */
semid_status semid_builder_add_interaction(semid_dataset_builder *b, const char *user_id, const char *item_id,
                                           int64_t time);
/* The same by indices (user from semid_builder_user, item from add_item):
 * the fast path for generators. */
semid_status semid_builder_add_interaction_idx(semid_dataset_builder *b, int32_t user, int32_t item, int64_t time);

/* Adds a query written for item `item` (text copied, must be non-empty). */
semid_status semid_builder_add_query(semid_dataset_builder *b, int32_t item, const char *text, semid_split split);

/* Builds the dataset into *out and frees the builder (also on failure).
 * *out is zeroed first; on failure it holds nothing. */
semid_status semid_builder_finish(semid_dataset_builder *b, semid_dataset *out);

#endif
