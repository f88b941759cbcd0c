/* The Semantic-ID table: the contract between the quantizers (which build it)
 * and the generative model (which trains on it and decodes into it).
 *
 * An item's ID for a task is a sequence of n_levels tokens:
 *   token(task, item, l) = token_offset[ti*n_levels + l] + codes[(ti*n_items + item)*n_levels + l]
 * where ti = (n_tasks == 1 ? 0 : task). Token ids are local to the table
 * (0 .. n_tokens-1); the generative model maps them into its vocabulary.
 *
 *   task-specific / fused / multi-task: n_tasks = 1, both tasks share IDs.
 *   separate:      n_tasks = 2, the two tasks' offsets are disjoint.
 *   prefix-share:  n_tasks = 2, level 0 offsets are equal (shared codebook),
 *                  level 1 offsets differ (one codebook per task). */
#ifndef SEMID_QUANT_IDTABLE_H
#define SEMID_QUANT_IDTABLE_H

#include <stdint.h>

#include "semid/semid.h"

enum { SEMID_TASK_SEARCH = 0, SEMID_TASK_REC = 1 };

typedef struct semid_idtable {
    char *strategy;        /* "search", "rec", "content", "separate", "prefix_share", ... */
    char *method;          /* a tokenizer's name (quant/tokenizer_methods.c) */
    int32_t n_items;
    int32_t n_tasks;       /* 1 or 2 */
    int32_t n_levels;      /* tokens per ID, a disambiguation level included */
    int32_t *level_size;   /* (n_tasks * n_levels) codes at each level */
    int32_t *token_offset; /* (n_tasks * n_levels) first token of each level */
    int32_t n_tokens;      /* distinct ID tokens in all */
    int32_t *codes;        /* (n_tasks * n_items * n_levels) */
    uint64_t fingerprint;  /* identity of layout and codes; checkpoints record it */
    char **item_ids;       /* (n_items) original item ids, or NULL (then "0", "1", ... on export) */
    int32_t disambiguated; /* levels appended by semid_idtable_disambiguate (the last ones; 0 = none) */
    uint64_t tokenizer_fingerprint[2]; /* per task: the tokenizer that made the codes (0 = unknown);
                                          not part of `fingerprint` */
} semid_idtable;

/* Writes the n_levels tokens of `item`'s ID for `task` into out. */
void semid_idtable_tokens(const semid_idtable *t, int task, int32_t item, int32_t *out);

/* Which (task, level) a token belongs to; returns 0 if the token is unknown. */
int semid_idtable_token_info(const semid_idtable *t, int32_t token, int *task, int *level);

/* Recomputes t->fingerprint from the layout and codes. */
void semid_idtable_update_fingerprint(semid_idtable *t);

void semid_idtable_free(semid_idtable *t);

/* Versioned on-disk form, written atomically: one JSON object
 *   {"format": "semid-idtable", "version": 1, "checksum": "xxh64:<hex>",
 *    "strategy", "method", "n_items",
 *    "n_tasks", "n_levels", "level_size": [...], "token_offset": [...],
 *    "n_tokens", "disambiguated", "fingerprint": "16 hex digits",
 *    "tokenizer_fingerprint": ["hex", "hex"] (optional),
 *    "item_ids": [...] (optional), "codes": [[task 0 rows], [task 1 rows]]}
 * where each row is an item's n_levels codes. Load checks format, version,
 * sizes, that offsets are consistent (levels of different tasks overlap only
 * when they are the same shared codebook), that every code is within its
 * level (naming item and level), and that the recomputed fingerprint equals
 * the stored one (the codes were not edited). The checksum (the XXH64 of
 * the file with its 16 digits read as '0', on the first line) is verified
 * first, when present (SEMID_NO_VERIFY=1 skips it): a damaged byte anywhere
 * is "PATH is corrupt". */
semid_status semid_idtable_save(const semid_idtable *t, const char *path);
semid_status semid_idtable_load(const char *path, semid_idtable *out);

/* ---- Building (additive to the contract above). ---- */

/* Allocates a table with zeroed codes and lays out token offsets task by
 * task, level by level (task 0 level 0 first); for n_tasks == 2 the first
 * `shared_levels` levels of task 1 reuse task 0's offsets (prefix-share:
 * their sizes must be equal). level_size is (n_tasks * n_levels). Call
 * semid_idtable_update_fingerprint after filling the codes. */
semid_status semid_idtable_create(semid_idtable *t, const char *strategy, const char *method, int32_t n_items,
                                  int32_t n_tasks, int32_t n_levels, const int32_t *level_size,
                                  int32_t shared_levels);

/* Checks sizes, offsets and that every code is within its level. */
semid_status semid_idtable_validate(const semid_idtable *t);

/* Copies ids (n_items) into the table (replacing any). */
semid_status semid_idtable_set_item_ids(semid_idtable *t, char *const *ids);

/* Fails with SEMID_EFORMAT ("ID table from another vocabulary") when the
 * table's fingerprint is not `expected`; what = who expected it (a path). */
semid_status semid_idtable_check_fingerprint(const semid_idtable *t, uint64_t expected, const char *what);

/* ---- Collisions. ----
 * Without disambiguation several items can share an ID; the trie's leaf then
 * lists all of them, and evaluation counts a hit when the target is among
 * the items of the decoded leaf (ranking inside a leaf is the generative
 * model's business). */
typedef struct semid_collision_stats {
    int32_t n_items;
    int32_t distinct_ids;     /* different IDs used */
    int32_t colliding_items;  /* items whose ID is shared with another item */
    int32_t max_items_per_id; /* largest group */
    double rate;              /* 1 - distinct_ids / n_items */
} semid_collision_stats;

semid_status semid_idtable_collisions(const semid_idtable *t, int task, semid_collision_stats *out);
/* The same over the IDs as they were before disambiguation (the table's
 * levels less the appended ones; all of them when not disambiguated): what
 * the quantizer alone left shared. An uncapped disambiguated table's last
 * level has max_items_per_id codes. */
semid_status semid_idtable_collisions_before(const semid_idtable *t, int task, semid_collision_stats *out);

/* Appends one level so that every item's ID is unique within each task:
 * items sharing an ID get 0, 1, 2, ... in order of decreasing popularity
 * (popularity[item], may be NULL), ties and popularity == NULL by item
 * index; unique items get 0. The new level's size (per task) is the largest
 * group (at least 1); its tokens come after all existing tokens, one range
 * per task (never shared). Updates the fingerprint. */
semid_status semid_idtable_disambiguate(semid_idtable *t, const int64_t *popularity);

/* The same with each appended level held to at most max_level_tokens codes
 * (0 = one level, however large): when the largest group is bigger, a
 * group's number j is written in base b over D levels (the most significant
 * first), D the fewest levels of max_level_tokens codes that count the
 * largest group, b the smallest base whose D digits do; the first appended
 * level has only the codes the largest group needs. Every task gets the same
 * D. Fails if the table is already disambiguated. */
semid_status semid_idtable_disambiguate_capped(semid_idtable *t, const int64_t *popularity, int32_t max_level_tokens);

/* How many levels disambiguation appends for a largest group of this size
 * (1 when max_level_tokens < 2 or the group fits one level). */
int32_t semid_idtable_disambiguation_levels(int32_t largest_group, int32_t max_level_tokens);

/* A number within a group as its D appended codes, and back (level_size:
 * the D appended levels' sizes). */
void semid_idtable_number_to_codes(int32_t number, const int32_t *level_size, int32_t D, int32_t *out);
int32_t semid_idtable_codes_to_number(const int32_t *codes, const int32_t *level_size, int32_t D);

/* TSV export for users: header "item_id\ttask\ttokens", then one line per
 * item and task: id, "search"/"rec" (or "both" when n_tasks == 1) and the
 * n_levels tokens, tab-separated. Written atomically. */
semid_status semid_idtable_export_tsv(const semid_idtable *t, const char *path);

#endif
