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
    char *method;          /* "rqkmeans", "rqvae", "rlfq", "dict" */
    int32_t n_items;
    int32_t n_tasks;       /* 1 or 2 */
    int32_t n_levels;      /* tokens per ID, a disambiguation level included */
    int32_t *level_size;   /* (n_tasks * n_levels) codes at each level */
    int32_t *token_offset; /* (n_tasks * n_levels) first token of each level */
    int32_t n_tokens;      /* distinct ID tokens in all */
    int32_t *codes;        /* (n_tasks * n_items * n_levels) */
    uint64_t fingerprint;  /* identity of layout and codes; checkpoints record it */
} semid_idtable;

/* Writes the n_levels tokens of `item`'s ID for `task` into out. */
void semid_idtable_tokens(const semid_idtable *t, int task, int32_t item, int32_t *out);

/* Which (task, level) a token belongs to; returns 0 if the token is unknown. */
int semid_idtable_token_info(const semid_idtable *t, int32_t token, int *task, int *level);

/* Recomputes t->fingerprint from the layout and codes. */
void semid_idtable_update_fingerprint(semid_idtable *t);

void semid_idtable_free(semid_idtable *t);

/* Versioned on-disk form (JSON header + codes), written atomically;
 * load checks version, sizes and that every code is within its level. */
semid_status semid_idtable_save(const semid_idtable *t, const char *path);
semid_status semid_idtable_load(const char *path, semid_idtable *out);

#endif
