/* Training examples and evaluation prompts for the joint generative model.
 *
 *   search:  [SEARCH] w1 .. wn [SEP] id1 .. idL    loss on id1..idL only
 *   rec:     [RECOMMEND] item1-ID item2-ID ... itemH-ID
 *            loss on the ID tokens of every item but the first (teacher
 *            forcing: one pass trains every next-item prediction)
 *
 *   personalised search (the third task):
 *            [RECOMMEND] item1-ID .. itemH-ID [SEARCH] w1 .. wn [SEP] id1 .. idL
 *            loss on id1..idL only: the rec prompt, then the search prompt.
 *            No token of its own: the two task tokens in this order mark it,
 *            so the vocabulary (and every bundle made before) is unchanged.
 *
 * Search items use their SEARCH-task ID, histories their REC-task ID (the
 * same for single-space tables; disjoint or prefix-shared for separate and
 * prefix_share strategies).
 *
 * Training uses the training part of each user (semid_dataset_user_split)
 * and the training queries. A history is cut into windows of history_window
 * + 1 items from its end (consecutive windows overlap by one item, so every
 * item after the user's first is a target exactly once, from up to
 * history_window items of context). Evaluation prompts hold the most recent
 * history_window items: for VALID the training part, for TEST the training
 * part plus the validation item.
 *
 * Personalised search examples come from the same windows: the last item
 * of each window is the target, the window's items before it the history
 * (so never the target or anything after it), and the query one the query
 * generator writes for the target at a level of specificity drawn with
 * the shares personal_levels (data/querygen.h: vague, keywords, full). A
 * query whose word set is one of the item's held-out queries is drawn
 * again, and the example dropped when none is left. The history is cut
 * (oldest first) so that the prompt and the ID fit the context.
 *
 * Queries: the dataset's VALID queries validate; when it has none, a share
 * of the TRAIN queries (picked by a seeded hash) is held out for validation
 * and not trained on. TEST queries test. */
#ifndef SEMID_GEN_EXAMPLES_H
#define SEMID_GEN_EXAMPLES_H

#include <stdint.h>

#include "data/dataset.h"
#include "data/querygen.h"
#include "gen/vocab.h"
#include "quant/idtable.h"
#include "semid/semid.h"

typedef struct semid_gen_example_options {
    int32_t max_seq_len;      /* the model's Tmax */
    int32_t history_window;   /* items in a rec prompt (default 20); clamped to Tmax/L - 1 */
    double valid_query_share; /* held-out train queries when there are no VALID ones (default 0.05) */
    double personal_levels[SEMID_QUERY_N_LEVELS]; /* shares of personalised-search queries by
                                 specificity: vague 0.4, keywords 0.3, full 0.3 */
    uint64_t seed;
} semid_gen_example_options;

semid_gen_example_options semid_gen_example_defaults(void);

/* Bounds of the options: a history window of 1..SEMID_GEN_MAX_WINDOW items
 * and a context of at most SEMID_GEN_MAX_CONTEXT tokens (the model's own
 * bound), 0 = fit the window. */
enum { SEMID_GEN_MAX_WINDOW = 4096, SEMID_GEN_MAX_CONTEXT = 1 << 16 };

/* Checks a training configuration's history window and context length
 * (max_seq_len 0 = sized to fit the window) for IDs of n_levels tokens:
 * each in range, and the context a window needs ((window + 1) x n_levels + 1
 * tokens, computed without overflow) within SEMID_GEN_MAX_CONTEXT when the
 * context is sized from it. SEMID_EINVAL naming the option and its bound. */
semid_status semid_gen_example_check(int32_t history_window, int32_t max_seq_len, int32_t n_levels);

/* The history window that fits the context: min(history_window, Tmax/L - 1), >= 1. */
int32_t semid_gen_effective_window(const semid_gen_example_options *o, int32_t n_levels);

/* One sequence in a pool. */
typedef struct semid_gen_seq {
    int64_t offset;      /* first token in the pool */
    int32_t len;         /* tokens */
    uint8_t task;        /* SEMID_TASK_SEARCH or SEMID_TASK_REC */
    int32_t target;      /* evaluation prompts: the expected item; training: -1 */
    int32_t source;      /* query index (search) or user index (rec) */
    int64_t excl_offset; /* evaluation rec and personalised prompts: the user's history ... */
    int32_t n_excl;      /* ... (to exclude from the results); 0 otherwise */
    uint8_t personal;    /* 1: personalised search (task SEARCH, a history in the prompt) */
    uint8_t level;       /* personalised search: its query's semid_query_level */
} semid_gen_seq;

typedef struct semid_gen_seqs {
    int64_t n, cap;
    semid_gen_seq *seq;
    int64_t n_tokens, tok_cap;
    int32_t *tokens;    /* (n_tokens) */
    uint8_t *is_target; /* (n_tokens) 1 where a token is a training target */
    int64_t n_excl, excl_cap;
    int32_t *excl;
    int32_t max_len;    /* longest sequence */
    int64_t n_task[2];  /* sequences per task, personalised search apart */
    int64_t n_personal; /* personalised-search sequences (after the others in training pools) */
} semid_gen_seqs;

void semid_gen_seqs_free(semid_gen_seqs *s);

/* Role of each query (a semid_split value) after holding out validation
 * queries as described above; SEMID_GEN_ROLE_UNUSED for a test query that
 * a test sample leaves out (data/test_sample.h). role has ds->n_queries
 * entries. */
enum { SEMID_GEN_ROLE_UNUSED = 255 };
void semid_gen_query_roles(const semid_dataset *ds, const semid_gen_example_options *o, uint8_t *role);

/* Prompts. `out` needs room for max_seq_len tokens; *n gets the length.
 * Search: [SEARCH] words [SEP], words cut to fit; *n_unknown (may be NULL)
 * counts unknown words. Rec: [RECOMMEND] and the REC-task IDs of the last
 * window items of `history` (n_hist may be 0). */
semid_status semid_gen_prompt_search(const semid_gen_vocab *v, const semid_idtable *t,
                                     const semid_gen_example_options *o, const char *text, int32_t *out,
                                     int32_t *n, int32_t *n_unknown);
void semid_gen_prompt_rec(const semid_gen_vocab *v, const semid_idtable *t, const semid_gen_example_options *o,
                          const int32_t *history, int64_t n_hist, int32_t *out, int32_t *n);

/* Personalised search: [RECOMMEND], the REC-task IDs of the most recent
 * items of `history` that fit (at most the window), [SEARCH], the query's
 * words (cut to leave room for one history item and the ID), [SEP]. */
semid_status semid_gen_prompt_personal(const semid_gen_vocab *v, const semid_idtable *t,
                                       const semid_gen_example_options *o, const int32_t *history, int64_t n_hist,
                                       const char *text, int32_t *out, int32_t *n, int32_t *n_unknown);

/* All training sequences (both tasks). */
semid_status semid_gen_examples_train(const semid_dataset *ds, const semid_idtable *t, const semid_gen_vocab *v,
                                      const uint8_t *role, const semid_gen_example_options *o,
                                      semid_gen_seqs *out);

/* Appends the personalised-search training sequences (described above) to
 * `out`, a pool semid_gen_examples_train made; their target field holds
 * the item (for checks; training ignores it). */
semid_status semid_gen_examples_personal_train(const semid_dataset *ds, const semid_idtable *t,
                                               const semid_gen_vocab *v, const semid_querygen_profiles *profiles,
                                               const semid_gen_example_options *o, semid_gen_seqs *out);

/* The evaluation query of user `user` for `item` at `level` on `split`: a
 * function of these alone (the same for every model and seed, and for the
 * dense reference), written to out (cap bytes). */
semid_status semid_gen_personal_query(const semid_querygen_profiles *profiles, int32_t user, int32_t item, int split,
                                      int level, char *out, size_t cap);

/* Personalised-search evaluation prompts for `split`: for each user with an
 * item for that split (in index order, as the rec prompts of
 * semid_gen_examples_eval, so the two pair up), its query
 * (semid_gen_personal_query), and
 * the user's history as a rec prompt has it. with_history = 0 writes the
 * plain search prompt of the same query instead (the history withheld).
 * source = the user, target = the item; the history is the exclusion list
 * of personalised prompts. */
semid_status semid_gen_examples_personal_eval(const semid_dataset *ds, const semid_idtable *t,
                                              const semid_gen_vocab *v, const semid_querygen_profiles *profiles,
                                              const semid_gen_example_options *o, int split, int level,
                                              int with_history, semid_gen_seqs *out);

/* Evaluation prompts for `split` (SEMID_SPLIT_VALID or SEMID_SPLIT_TEST):
 * first the search prompts (queries with that role, in index order), then
 * the rec prompts (users with an item for that split, in index order). */
semid_status semid_gen_examples_eval(const semid_dataset *ds, const semid_idtable *t, const semid_gen_vocab *v,
                                     const uint8_t *role, const semid_gen_example_options *o, int split,
                                     semid_gen_seqs *out);

/* Fills a padded batch from sequences idx[0..B): T = longest length - 1,
 * inputs (B, T) = the tokens but the last (PAD after the end), targets
 * (B, T) = the next token where it is a training target, else -1. inputs and
 * targets need room for B * max_len. Returns the number of target tokens. */
int64_t semid_gen_batch_fill(const semid_gen_seqs *s, const int64_t *idx, int32_t B, int32_t *inputs,
                             int32_t *targets, int32_t *T);

/* The batch of sequences idx[0..B) packed into rows (semid_gpt_forward_packed),
 * no sequence cut: T = longest length - 1 positions per row, and a sequence
 * of n tokens takes n - 1 positions of a row (its tokens but the last as
 * inputs; each next token as the target where it is a training target,
 * else -1). Sequences go longest first (ties in idx order), each into the
 * first row with room for it; positions left at a row's end are PAD tokens
 * without targets, a sequence of their own in pos. Writes inputs, targets
 * and pos, (*rows, T) each, and the number of target tokens to *n_targets
 * (may be NULL): the same set as semid_gen_batch_fill's, in fewer rows. A
 * function of the batch alone. Each buffer needs room for B * max_len
 * values. SEMID_ENOMEM when scratch memory is short. */
semid_status semid_gen_batch_pack(const semid_gen_seqs *s, const int64_t *idx, int32_t B, int32_t *inputs,
                                  int32_t *targets, int32_t *pos, int32_t *rows, int32_t *T, int64_t *n_targets);

#endif
