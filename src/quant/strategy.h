/* The paper's strategies for giving items Semantic IDs for two tasks, each
 * building an ID table (quant/idtable.h) from item embeddings (rows = items
 * in dataset order) with the tokenizer chosen by name (quant/tokenizer.h):
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
 * The table records the strategy and method names. */
#ifndef SEMID_QUANT_STRATEGY_H
#define SEMID_QUANT_STRATEGY_H

#include <stdint.h>

#include "linalg/matrix.h"
#include "quant/idtable.h"
#include "quant/tokenizer.h"

typedef enum {
    SEMID_STRATEGY_SINGLE = 0,   /* one embedding, n_tasks = 1 */
    SEMID_STRATEGY_SEPARATE = 1, /* search + rec embeddings, two tokenizers */
    SEMID_STRATEGY_PREFIX_SHARE = 2
} semid_strategy_kind;

/* Kind of a strategy name; SEMID_EINVAL (listing the known names) if unknown. */
semid_status semid_strategy_kind_of(const char *strategy, semid_strategy_kind *kind);

/* The embeddings a strategy reads. Single-embedding strategies read
 * `single`; separate and prefix_share read `search` and `rec` (same rows). */
typedef struct semid_strategy_inputs {
    const semid_matrix *single;
    const semid_matrix *search;
    const semid_matrix *rec;
} semid_strategy_inputs;

typedef struct semid_strategy_options {
    const char *strategy;               /* a name above */
    semid_tokenizer_config tokenizer;   /* method, levels, codebook size, beam, seed ... */
    int32_t disambiguate;               /* append a level making IDs unique per task */
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

/* Cold start: the tokens, in table `t`'s vocabulary for `task`, of new
 * items that `tok` encoded into codes (rows, levels). Fails with
 * SEMID_EFORMAT ("tokenizer from another vocabulary") when the table records
 * a different tokenizer for that task, or when its levels or sizes differ.
 * tokens is (rows, t->n_levels); in a disambiguated table the last token is
 * the new level's first (code 0), so a new item may share an ID. */
semid_status semid_strategy_codes_to_tokens(const semid_idtable *t, int task, const semid_tokenizer *tok,
                                            const int32_t *codes, int64_t rows, int32_t *tokens);

#endif
