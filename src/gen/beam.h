/* Decoding Semantic IDs with the generative model.
 *
 * Scores. A token's score is its log-probability under a softmax over the
 * Semantic-ID tokens only ([sid_base, sid_base + n_sid) of the model's
 * vocabulary): the model's distribution given that an ID token comes next.
 * This skips the output projection of the text vocabulary (most of the
 * cost) and, for a trained model, differs from the full softmax by the tiny
 * mass it puts on non-ID tokens at ID positions. A sequence's score is the
 * sum over its levels.
 *
 * semid_beam_search: trie-constrained beam search. At each level a beam is
 * extended only by the children of its trie node, so every finished beam is
 * a real ID. The best `beam_size` extensions per query are kept at each
 * level (ties: lower parent beam, then lower token). At the last level,
 * leaves whose items are all excluded are skipped, so excluded items never
 * take a beam. The finished beams, best first, give their items: a leaf
 * with several items (colliding IDs) gives all of them, most popular first
 * (then by index), so results are distinct items and at most k of them
 * (fewer when the trie has fewer items than k outside the excluded ones).
 * With beam_size >= the number of IDs, the result is exact: the top k of all
 * valid IDs.
 *
 * semid_beam_search_diverse: the paper's decoder, diverse beam search
 * (Vijayakumar et al. 2018; as Hugging Face's group beam search, which the
 * paper used): beam_size beams in `groups` groups of beam_size/groups. At
 * each level the groups choose in order; a candidate token's score in group
 * g is lowered by `diversity` times the number of times groups before g
 * chose that token at this level (Hamming diversity), and the lowered score
 * is what the beam accumulates and is ranked by. It is unconstrained by the
 * trie: level l may emit any token of level l of the task's ID space, so a
 * finished beam may name no item. Such beams are counted (n_invalid) and
 * skipped, as are repeats of an item and excluded items; the rest, best
 * first, are the results. Paper: 60 beams, 30 groups, diversity 0.25.
 *
 * Both run many queries at once. Queries are cut into chunks; a chunk's
 * prompts run through the model as one batch, and its beams (rows of a KV
 * cache that share their query's prompt, and their suffixes without
 * copies) step together: the products as register-tiled kernels over
 * weights packed once per call (semid_linear_packed_forward), attention
 * for groups of a query's beams at once. The last level only scores
 * (semid_gpt_cache_score): no step follows it, so nothing is stored.
 * Threads take whole chunks, each with its own cache, so they never wait on
 * each other within a step. A row's numbers depend on its own query alone,
 * so results do not depend on the thread count. */
#ifndef SEMID_GEN_BEAM_H
#define SEMID_GEN_BEAM_H

#include <stdint.h>

#include "gen/model.h"
#include "quant/idtable.h"
#include "quant/trie.h"
#include "semid/semid.h"

typedef struct semid_beam_options {
    int32_t beam_size;   /* beams per query (default 30) */
    int32_t k;           /* items returned per query (default 10) */
    int32_t groups;      /* diverse search: groups, dividing beam_size (default 1) */
    float diversity;     /* diverse search: Hamming penalty lambda (default 0) */
    int32_t max_cache_mb; /* decoding memory per thread; bounds the queries per chunk
                             (default 32; chunks hold at most 16 queries anyway) */
    int32_t keep_prefixes; /* 1: also return the beams before the last level (the
                              prefixes: semid_beam_hits.prefix_*); default 0 */
} semid_beam_options;

semid_beam_options semid_beam_defaults(void);
/* The paper's diverse beam search: 60 beams, 30 groups, lambda 0.25. */
semid_beam_options semid_beam_paper_diverse(int32_t k);

/* Where the ID tokens sit in the model's vocabulary. */
typedef struct semid_beam_space {
    int32_t sid_base;          /* model token of the table's local token 0 */
    int32_t n_sid;             /* table tokens (the softmax runs over these) */
    const int64_t *popularity; /* (items) orders the items of one leaf, most first; NULL = by index */
} semid_beam_space;

/* One query: its prompt (model tokens) and items to leave out (any order,
 * repeats allowed, -1 and out-of-range ignored). */
typedef struct semid_beam_query {
    const int32_t *prompt;
    int32_t prompt_len;
    const int32_t *exclude;
    int32_t n_exclude;
} semid_beam_query;

/* Results of n queries, k slots each. */
typedef struct semid_beam_hits {
    int64_t n;
    int32_t k;
    int32_t *items;     /* (n, k) best first, -1 after the last hit */
    float *scores;      /* (n, k) */
    int32_t *n_hits;    /* (n) */
    int32_t *n_invalid; /* (n) diverse search: finished beams naming no item (0 otherwise) */
    /* With keep_prefixes (and IDs of 2 levels or more): the beams as they
     * stood before the last level, n_prefix (= beam_size) per query in beam
     * order: their trie node (depth n_levels - 1; < 0 = dead or off the
     * trie) and score (the sum of the log-probabilities of the prefix's
     * tokens). NULL otherwise. */
    int32_t n_prefix;
    int32_t *prefix_nodes; /* (n, n_prefix) */
    float *prefix_scores;  /* (n, n_prefix) */
} semid_beam_hits;

semid_status semid_beam_hits_alloc(semid_beam_hits *h, int64_t n, int32_t k);
void semid_beam_hits_free(semid_beam_hits *h);

/* Trie-constrained beam search; `trie` is over the task's IDs in table-local
 * tokens. Fills *out (allocated here). */
semid_status semid_beam_search(const semid_gpt *m, const semid_trie *trie, const semid_beam_space *space,
                               const semid_beam_query *queries, int64_t n, const semid_beam_options *o,
                               semid_beam_hits *out);

/* Diverse beam search over the task's level token ranges of `table`; `trie`
 * (same task) maps finished beams to items. */
semid_status semid_beam_search_diverse(const semid_gpt *m, const semid_idtable *table, int task,
                                       const semid_trie *trie, const semid_beam_space *space,
                                       const semid_beam_query *queries, int64_t n, const semid_beam_options *o,
                                       semid_beam_hits *out);

#endif
