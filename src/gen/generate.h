/* The high-level API over a trained model bundle (the directory
 * semid_gen_train writes): load it once, then search and recommend, many
 * queries at a time. Used by the CLI, the experiment runner and the server.
 *
 *   semid_gen_bundle *b;
 *   SEMID_TRY(semid_gen_bundle_load("model_dir", &b));
 *   semid_gen_decode_options o = semid_gen_decode_defaults();
 *   semid_beam_hits hits;
 *   const char *q[] = {"space adventure with robots"};
 *   SEMID_TRY(semid_gen_search(b, q, 1, &o, &hits, NULL));
 *   // hits.items[0 .. hits.n_hits[0]) are item indices: b->item_ids[i], b->titles[i]
 *
 * Behaviour on odd input (documented choices):
 *   - a query with no words, or only unknown words, still decodes: unknown
 *     words map to hashed UNK buckets, and an empty prompt gives the model's
 *     prior over items (*n_unknown tells the caller; the CLI refuses an empty
 *     query and warns when no word is known);
 *   - a history keeps only its most recent `history_window` items (the
 *     context); repeated items are kept as they are;
 *   - recommendation leaves out the history's items when the bundle says
 *     items do not repeat in the training data (exclude_history = -1, the
 *     default), or as the option says (0 keep, 1 exclude).
 * The bundle is read-only after loading: several threads may decode with it
 * at once (each call allocates its own cache). */
#ifndef SEMID_GEN_GENERATE_H
#define SEMID_GEN_GENERATE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "eval/metrics.h"
#include "gen/beam.h"
#include "gen/examples.h"
#include "gen/model.h"
#include "gen/vocab.h"
#include "quant/idtable.h"
#include "quant/trie.h"
#include "semid/semid.h"

typedef struct semid_gen_bundle {
    semid_gpt *model;
    semid_gen_vocab vocab;
    semid_idtable table;
    semid_trie *trie[2];           /* [SEMID_TASK_SEARCH], [SEMID_TASK_REC] */
    semid_gen_example_options ex;  /* context length, history window, query hold-out */
    int items_repeat;              /* 1 if some user saw an item twice in training */
    int personal;                  /* 1 if trained on personalised search (the third task) */
    int32_t n_items;
    char **item_ids;               /* (n_items) original ids */
    char **titles;                 /* (n_items) */
    int64_t *popularity;           /* (n_items) training interactions */
    int32_t *years;                /* (n_items) 0 = unknown */
    char **genres;                 /* (n_items) comma-separated, "" if none */
    struct semid_id_index *index;  /* item id -> index */
    /* The catalog (gen/catalog.h): items [n_base_items, n_items) were added
     * after training; removed[i] != 0 (NULL when nothing was removed) marks
     * items left out of the tries, never returned. */
    int32_t n_base_items;
    int64_t catalog_version;       /* 0 = as trained */
    uint8_t *removed;
} semid_gen_bundle;

/* Loads dir/model.safetensors, dir/idtable.sid and dir/items.jsonl and checks
 * they belong together (a checkpoint made for another ID table, a truncated
 * file or a missing part is an error naming it), then applies
 * dir/catalog.json when present (added items appended, removed ones out of
 * the tries; gen/catalog.h). */
semid_status semid_gen_bundle_load(const char *dir, semid_gen_bundle **out);
void semid_gen_bundle_free(semid_gen_bundle *b);

/* Index of an item by its original id, or -1. */
int32_t semid_gen_bundle_find_item(const semid_gen_bundle *b, const char *id);

typedef struct semid_gen_decode_options {
    semid_beam_options beam; /* beam_size 30, k 10 (beam.h) */
    int diverse;             /* 0 = trie-constrained beam search (default), 1 = diverse */
    int exclude_history;     /* -1 = the bundle's default, 0 = keep, 1 = exclude */
    double expand_prefix;    /* prefix expansion (gen/expand.h): the most share of the
                                top k that items under the generated prefixes may take,
                                0..1 (default 0 = off) */
} semid_gen_decode_options;

semid_gen_decode_options semid_gen_decode_defaults(void);

/* ---- bounds of a decode ----
 * Every decode entry point (search, recommend, decode_seqs, evaluate) checks
 * its options and estimates the memory the beam search will take before any
 * of it is allocated, and refuses (SEMID_ENOMEM, naming the estimate and the
 * limit) a request over semid_gen_decode_memory_limit(): half the machine's
 * physical memory. */
enum {
    SEMID_GEN_MAX_BEAM = 1 << 16,     /* beam_size at most */
    SEMID_GEN_MAX_K = 1 << 16,        /* k at most */
    SEMID_GEN_MAX_CACHE_MB = 1 << 16  /* beam.max_cache_mb at most */
};
#define SEMID_GEN_DECODE_FALLBACK_LIMIT ((int64_t)4 << 30) /* when the physical memory is unknown */

/* Estimated peak bytes of decoding n queries (beam.c's buffers and KV
 * caches on `threads` threads, and the results), in a double so that no
 * request overflows it. n_sid = ID tokens, max_exclude = longest exclusion
 * list. */
double semid_gen_decode_memory(const semid_gpt_config *cfg, int32_t n_sid, int32_t n_levels, int64_t n,
                               const semid_beam_options *o, int diverse, int32_t max_exclude, int threads);
/* Half the physical memory (SEMID_GEN_DECODE_FALLBACK_LIMIT if unknown). */
int64_t semid_gen_decode_memory_limit(void);
/* Checks k, beam and max_cache_mb against their bounds and the estimate
 * (on semid_get_threads() threads) against the limit. */
semid_status semid_gen_check_decode(const semid_gpt *m, int32_t n_sid, int32_t n_levels, int64_t n,
                                    const semid_gen_decode_options *o, int32_t max_exclude);

/* Searches n queries; out is allocated (semid_beam_hits_free). n_unknown
 * (n entries, may be NULL) gets the number of unknown words per query. */
semid_status semid_gen_search(const semid_gen_bundle *b, const char *const *queries, int64_t n,
                              const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown);
/* Recommends for n histories (item indices, oldest first; out-of-range
 * indices are an error naming them). */
semid_status semid_gen_recommend(const semid_gen_bundle *b, const int32_t *const *histories, const int64_t *lengths,
                                 int64_t n, const semid_gen_decode_options *o, semid_beam_hits *out);

/* Personalised search (the third task, examples.h): n queries, each with
 * the history of its user (item indices, oldest first); the results leave
 * out the history's items as recommend does. A bundle trained without the
 * third task (b->personal == 0, every bundle made before it) is refused,
 * naming the option that trains it. out and n_unknown as semid_gen_search. */
semid_status semid_gen_search_personal(const semid_gen_bundle *b, const char *const *queries,
                                       const int32_t *const *histories, const int64_t *lengths, int64_t n,
                                       const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown);

/* Evaluates personalised search on a split of `ds`: for each user's item of
 * that split a query at `level` (data/querygen.h), decoded with the user's
 * history (personal) and without it (plain: the same model's plain search,
 * the history withheld). Entries in the order of semid_gen_evaluate's rec
 * entries (the same users), so the three pair up; head/torso as rec. Both
 * are initialised here. A bundle without the third task is refused. */
semid_status semid_gen_evaluate_personal(const semid_gen_bundle *b, const semid_dataset *ds, int split, int level,
                                         const semid_gen_decode_options *o, semid_ranking_eval *personal,
                                         semid_ranking_eval *plain);

/* For the decoders: the bundle's beam space, the checks of histories
 * (indices in the catalog, the decode's bounds; *exclude = whether the
 * results leave the history out) and of a dataset against the bundle (its
 * items those the model was trained on). */
semid_beam_space semid_gen_bundle_space(const semid_gen_bundle *b);
semid_status semid_gen_check_histories(const semid_gen_bundle *b, const int32_t *const *histories,
                                       const int64_t *lengths, int64_t n, const semid_gen_decode_options *o,
                                       int *exclude);
semid_status semid_gen_check_dataset(const semid_gen_bundle *b, const semid_dataset *ds);
/* SEMID_EINVAL, naming the option that trains it, for a bundle trained
 * without the third task. */
semid_status semid_gen_check_personal(const semid_gen_bundle *b);

/* Teacher forcing: out[r] = the log-probability the model gives item
 * items[r]'s whole ID for `task` after the prompt (model tokens, as
 * semid_gen_prompt_search / semid_gen_prompt_rec write them), the softmax
 * over the ID tokens as in the beam search, so it equals the score the beam
 * gives the item when it finds it (whether the beam would find it or not). */
semid_status semid_gen_score_items(const semid_gen_bundle *b, int task, const int32_t *prompt, int32_t prompt_len,
                                   const int32_t *items, int32_t n, float *out);

/* Decodes prompts of a sequence pool (examples.h): seqs->seq[idx[j]] for
 * j < n, each with the trie of its task; rec and personalised prompts exclude their history
 * when exclude_history is set. out is allocated, in the order of idx. */
semid_status semid_gen_decode_seqs(const semid_gpt *m, const semid_idtable *t, semid_trie *const trie[2],
                                   const semid_beam_space *space, const semid_gen_seqs *seqs, const int64_t *idx,
                                   int64_t n, const semid_gen_decode_options *o, int exclude_history,
                                   semid_beam_hits *out);

/* What the decoder generated in an evaluation, both tasks together: the
 * invalid-ID rate is invalid / beams. */
typedef struct semid_gen_eval_stats {
    int64_t beams;   /* beams decoded: prompts x beam_size */
    int64_t invalid; /* finished beams whose ID names no item (diverse search; 0 with the trie) */
} semid_gen_eval_stats;

/* Evaluates the bundle on a split (SEMID_SPLIT_VALID or SEMID_SPLIT_TEST) of
 * `ds` (the dataset it was trained on: item ids must match): Recall@k and
 * NDCG@k per query, search and rec (rec grouped head/torso by the top 1%).
 * search/rec are initialised here (semid_ranking_eval_free); stats may be
 * NULL. rec = NULL evaluates search alone (no rec prompt is decoded). */
semid_status semid_gen_evaluate(const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                const semid_gen_decode_options *o, semid_ranking_eval *search,
                                semid_ranking_eval *rec, semid_gen_eval_stats *stats);

/* Replaces the decoded hits of every evaluation prompt (seqs->seq[j] is row
 * j of *hits: its task, source query or user, history in excl) by another
 * ranking, e.g. hybrid re-ranking (gen/dense.h). The rankings are then
 * evaluated at hits->k. */
typedef semid_status (*semid_gen_rerank_fn)(void *ctx, const semid_gen_bundle *b, const semid_dataset *ds,
                                            const semid_gen_seqs *seqs, semid_beam_hits *hits);
/* semid_gen_evaluate with the decoded hits passed through `rerank` (NULL:
 * semid_gen_evaluate itself); stats count the decoded beams, as there. */
semid_status semid_gen_evaluate_reranked(const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                         const semid_gen_decode_options *o, semid_gen_rerank_fn rerank, void *ctx,
                                         semid_ranking_eval *search, semid_ranking_eval *rec,
                                         semid_gen_eval_stats *stats);

/* ---- for the trainer: writing a bundle ---- */

/* Does any user interact with an item twice (in the training part)?
 * *repeat gets 1 or 0. */
semid_status semid_gen_items_repeat(const semid_dataset *ds, int *repeat);
/* Writes dir/idtable.sid and dir/items.jsonl. */
semid_status semid_gen_bundle_write_static(const char *dir, const semid_dataset *ds, const semid_idtable *t);
/* The checkpoint metadata object {"vocab", "examples", "items_repeat"} (NULL
 * on allocation failure). */
/* {"personal_search": true} too when `personal` (absent otherwise, as in
 * bundles made before the third task). */
cJSON *semid_gen_bundle_meta(const semid_gen_vocab *v, const semid_gen_example_options *ex, int items_repeat,
                             int personal);

#endif
