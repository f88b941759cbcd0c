/* Catalog updates of a trained model bundle without retraining (issue 15):
 * new items get Semantic IDs from the frozen tokenizer and paths in the
 * trie; removed items lose their paths, so no decoder returns them. The
 * model's weights and vocabulary are untouched: an added item's ID tokens
 * are tokens the model already has (same codebooks), so nothing needs
 * training for the decoder to reach it.
 *
 * On disk: the trained files (model.safetensors, idtable.sid, items.jsonl)
 * are never rewritten. The changes live in ONE file, DIR/catalog.json,
 * written atomically (temp file, fsync, rename) under the directory's lock
 * (base/dirlock.h), so an update is all or nothing and a reader (a `semid
 * serve` reload) sees either the old catalog or the new one:
 *
 *   {"format": "semid-catalog", "version": 1, "catalog_version": 3,
 *    "base_items": 1000, "base_fingerprint": "<16 hex digits>",
 *    "n_tasks": 1, "n_levels": 3,
 *    "added": [{"id": "n1", "title": "...", "year": 2024, "genres": "a,b",
 *               "codes": [c0, c1, c2], "catalog_version": 1}, ...],
 *    "removed": ["42", "n1", ...]}
 *
 * catalog_version counts the updates (0 = as trained: no catalog.json).
 * base_items and base_fingerprint name the trained ID table the catalog
 * extends (retraining into the directory with another table makes the
 * catalog an error at load, naming it). An added item's "codes" are its
 * n_tasks x n_levels codes (task 0 first), in the table's layout: item
 * base_items + j of the merged table is added[j]. Existing items' IDs never
 * change. Removed items (trained or added) keep their IDs, so the IDs of the
 * others stay unique, and are left out of the tries.
 *
 * Disambiguation (a table whose last level numbers the items sharing the
 * other levels): a new item gets 1 + the largest number used at its prefix
 * by any item, removed ones included (0 for a prefix of its own). The
 * model's vocabulary has level_size[L-1] disambiguation tokens (the largest
 * group at training); a number beyond them has no token, and the add is
 * refused naming the item and its prefix (retrain, or remove nothing: slots
 * of removed items are not reused, so that an ID never names two items). */
#ifndef SEMID_GEN_CATALOG_H
#define SEMID_GEN_CATALOG_H

#include <stdint.h>

#include "data/dataset.h"
#include "linalg/matrix.h"
#include "quant/idtable.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

#define SEMID_CATALOG_FILE "catalog.json"

typedef struct semid_catalog_item {
    char *id, *title, *genres; /* genres comma-separated, "" if none */
    int32_t year;              /* 0 = unknown */
    int32_t *codes;            /* (n_tasks * n_levels) */
    int64_t version;           /* the catalog_version that added it */
} semid_catalog_item;

typedef struct semid_catalog {
    int64_t version;           /* 0: as trained */
    int32_t base_items;
    uint64_t base_fingerprint;
    int32_t n_tasks, n_levels;
    int32_t n_added;
    semid_catalog_item *added;
    int32_t n_removed;
    char **removed;            /* ids */
} semid_catalog;

/* Reads DIR/catalog.json against the trained table `base` (sizes, codes
 * within their levels, fingerprint); a missing file gives the empty catalog
 * of version 0. Ids are checked by semid_catalog_merge. */
semid_status semid_catalog_load(const char *dir, const semid_idtable *base, semid_catalog *out);
/* Writes DIR/catalog.json atomically. */
semid_status semid_catalog_save(const char *dir, const semid_catalog *c);
void semid_catalog_free(semid_catalog *c);

/* Appends the catalog's added items to `table` (codes, item ids; the
 * fingerprint is recomputed) so that item base_items + j is added[j]. */
semid_status semid_catalog_extend_table(const semid_catalog *c, semid_idtable *table);

/* ---- updating a bundle directory (under its lock) ---- */

typedef struct semid_catalog_report {
    int64_t version;     /* the new catalog_version */
    int32_t n_items;     /* items in the catalog now (removed ones included) */
    int32_t n_live;      /* ... not removed */
    int32_t first_new;   /* add: merged index of the first new item */
    int32_t n_changed;   /* items added or removed by this call */
    int32_t n_levels;    /* codes per ID */
} semid_catalog_report;

/* Adds n items (ids must be new to the bundle, removed ids included) with
 * their embeddings emb (n rows, in the space `tok` was fitted on) to the
 * bundle in dir: codes from `tok` (checked against the fingerprint the ID
 * table records), then the disambiguation number. One-ID-space tables only
 * (n_tasks == 1: search, content, multi, fused, rec): a two-task table
 * (separate, prefix_share) is refused. wait: for the directory's lock (0 =
 * fail at once naming the holder). On failure catalog.json is as it was.
 * codes_out (may be NULL): n x n_levels codes given, allocated here. */
semid_status semid_catalog_add(const char *dir, const semid_item *items, int32_t n, const semid_matrix *emb,
                               const semid_tokenizer *tok, int wait, semid_catalog_report *rep, int32_t **codes_out);

/* Removes n items by id: an unknown id, or one already removed, is an error
 * naming it; removing every item is refused. */
semid_status semid_catalog_remove(const char *dir, const char *const *ids, int32_t n, int wait,
                                  semid_catalog_report *rep);

#endif
