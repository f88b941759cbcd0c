/* The paper's strategies for giving items Semantic IDs for two tasks, each
 * building an ID table (quant/idtable.h) from item embeddings (rows = items
 * in dataset order) with the tokenizer chosen by name (quant/tokenizer.h).
 * The strategies are the rows of one table (strategies.c):
 *
 *   search, rec, content      task-specific: IDs from one embedding, used for
 *                             both tasks (n_tasks = 1)
 *   fused_concat, fused_svd,  one embedding combining both tasks (made by the
 *   multi                     embed stage), n_tasks = 1
 *   separate                  search IDs from the search embeddings, rec IDs
 *                             from the rec embeddings, disjoint tokens (n_tasks = 2)
 *   prefix_share              the prefix-share quantizer (GenSAR) on both
 *                             embeddings: shared level(s), then one codebook
 *                             per task (n_tasks = 2, shared offsets)
 *
 * A new strategy of a kind below is one row there; every consumer (semid sid
 * build, semid_ids_build, the experiment's config, stages and report) reads
 * the table. The ID table records the strategy and method names. */
#ifndef SEMID_QUANT_STRATEGY_H
#define SEMID_QUANT_STRATEGY_H

#include <stdint.h>

#include "data/dataset.h"
#include "linalg/matrix.h"
#include "quant/idtable.h"
#include "quant/tokenizer.h"

typedef enum {
    SEMID_STRATEGY_SINGLE = 0,   /* one embedding, n_tasks = 1 */
    SEMID_STRATEGY_SEPARATE = 1, /* search + rec embeddings, two tokenizers */
    SEMID_STRATEGY_PREFIX_SHARE = 2
} semid_strategy_kind;

/* One row of the strategy table. */
typedef struct semid_strategy_def {
    const char *name;  /* "search": --strategy, configs, ID tables, run files */
    const char *label; /* "search IDs": report rows */
    semid_strategy_kind kind;
    /* The embedding methods it reads (embed/embed_methods.h): [0] alone for
     * SINGLE, else [0] the search and [1] the rec embeddings. */
    const char *embeddings[2];
    /* Where the experiment's report shows it (the paper's tables): IDs of
     * one task's embeddings used for both tasks go to the motivation table;
     * in_main puts a row in the main comparison (task-specific ones too). */
    int32_t task_specific;
    int32_t in_main;
} semid_strategy_def;

/* The strategy called `name`, or NULL. */
const semid_strategy_def *semid_strategy_find(const char *name);
/* The same, or SEMID_EINVAL "unknown strategy 'x' (known: ...)"; out may be
 * NULL to check a name only. */
semid_status semid_strategy_lookup(const char *name, const semid_strategy_def **out);
/* The i-th strategy's name in table order, NULL past the end (base/names.h). */
const char *semid_strategy_name_at(int i);
/* How many embeddings it reads: 1 or 2. */
int semid_strategy_n_embeddings(const semid_strategy_def *def);

/* The embeddings a strategy reads. Single-embedding strategies read
 * `single`; separate and prefix_share read `search` and `rec` (same rows). */
typedef struct semid_strategy_inputs {
    const semid_matrix *single;
    const semid_matrix *search;
    const semid_matrix *rec;
} semid_strategy_inputs;

/* The inputs from matrices given in def->embeddings order. */
semid_strategy_inputs semid_strategy_inputs_of(const semid_strategy_def *def, const semid_matrix *const m[2]);

/* The appended level's limit semid uses unless told otherwise: ML-1M's
 * largest groups (480 items at 2 x 64) stay one level; a catalog whose
 * vectors collapse (most of 62,138 items in one group) gets two levels of a
 * few hundred tokens instead of one of tens of thousands. */
enum { SEMID_MAX_DISAMBIGUATION_DEFAULT = 1024 };

typedef struct semid_strategy_options {
    const char *strategy;               /* a name above */
    semid_tokenizer_config tokenizer;   /* method, levels, codebook size, beam, seed ... */
    int32_t disambiguate;               /* append a level making IDs unique per task */
    int32_t max_disambiguation;         /* codes an appended level may have, more levels past it
                                           (semid_idtable_disambiguate_capped; 0 = no limit) */
    const int64_t *popularity;          /* (items) order within a collision group, may be NULL */
} semid_strategy_options;

typedef struct semid_strategy_result {
    semid_idtable table;
    /* The fitted tokenizers, for cold start: [0] for single-embedding
     * strategies; [SEMID_TASK_SEARCH] and [SEMID_TASK_REC] for separate;
     * none for prefix_share (its quantizer keeps its own state). */
    semid_tokenizer *tokenizers[2];
    int32_t n_tokenizers;
    /* Reconstruction error (mean squared error per item) after each level
     * of each tokenizer; NULL where the method has no reconstruction. */
    double *level_error[2];
    /* Collisions per task before disambiguation. */
    semid_collision_stats before[2];
    double seconds;
} semid_strategy_result;

/* Builds the table (and keeps the tokenizers). On failure nothing is left
 * allocated in *out. */
semid_status semid_strategy_build(const semid_strategy_inputs *in, const semid_strategy_options *opt,
                                  semid_strategy_result *out);
void semid_strategy_result_free(semid_strategy_result *r);

/* Semantic IDs for a catalog: the one path behind `semid sid build`, the
 * experiment's sid stage and semid_ids_build (they differ only in where the
 * embeddings come from and where the table goes). emb: the strategy's
 * embeddings in def->embeddings order. With a dataset (rows in its item
 * order), disambiguation without opt->popularity orders collision groups by
 * training popularity, and the table names its items by the dataset's ids;
 * without one, row_ids (may be NULL) name them. */
semid_status semid_strategy_build_catalog(const semid_matrix *const emb[2], const semid_strategy_options *opt,
                                          const semid_dataset *ds, char *const *row_ids, semid_strategy_result *out);

/* 1 - distinct IDs / items before disambiguation (the collision rate),
 * mean over tasks. The share of items that shared an ID is larger: a group
 * of g items counts g there and g - 1 here. */
double semid_strategy_collision_rate(const semid_strategy_result *r);

/* Cold start: the tokens, in table `t`'s vocabulary for `task`, of new
 * items that `tok` encoded into codes (rows, levels). Fails with
 * SEMID_EFORMAT ("tokenizer from another vocabulary") when the table records
 * a different tokenizer for that task, or when its levels or sizes differ.
 * tokens is (rows, t->n_levels); in a disambiguated table the appended
 * levels' tokens are their first (code 0), so a new item may share an ID. */
semid_status semid_strategy_codes_to_tokens(const semid_idtable *t, int task, const semid_tokenizer *tok,
                                            const int32_t *codes, int64_t rows, int32_t *tokens);

#endif
