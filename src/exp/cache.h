/* Stage caching in a run directory. Every stage writes its artifacts, then
 * a small marker DIR/<stage>.done holding the stage's key: a digest of the
 * settings it depends on and of the keys of the stages it reads. A stage is
 * reused when its marker holds the same key, so an interrupted experiment
 * resumes and a changed setting recomputes only what depends on it.
 *
 * The settings are not listed by hand: a stage's key digests the JSON of
 * its configuration groups (exp_config_select_json), so a key added to a
 * group ("model.dropout") is in that stage's key without an edit here. Only
 * the exclusions are listed (keys of a group that a stage does not read,
 * and the execution keys such as "threads"), so a forgotten one costs a
 * recomputation, never a stale result. Keys of the v1 format (printf
 * strings, before this scheme) match none of these: a run directory from
 * an earlier version recomputes every stage once, overwriting its
 * artifacts, and is cached again from then on. */
#ifndef SEMID_EXP_CACHE_H
#define SEMID_EXP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "exp/config.h"
#include "semid/semid.h"

typedef struct exp_key {
    char hex[17];
} exp_key;

/* Digest of a description string (settings as text) and an upstream key. */
exp_key exp_key_make(const char *description, const exp_key *upstream);
/* Combines two upstream keys (order matters). */
exp_key exp_key_combine(const exp_key *a, const exp_key *b);

/* The stage keys. Each fails only when out of memory.
 * dataset: "dataset", "dataset_format", "synthetic.*", "queries.*" but
 * queries.unseen_style, "cold.fraction", "cold.seed". */
semid_status exp_key_dataset(const exp_config *cfg, exp_key *key);
/* The unseen-style test queries over the dataset's key:
 * "queries.unseen_style" (so changing it recomputes only them and the
 * evaluations on them). */
semid_status exp_key_unseen(const exp_config *cfg, const exp_key *data_key, exp_key *key);
/* A row's evaluation on those queries: the key of the evaluation it repeats
 * (model, diverse, hybrid or reference) combined with the queries' key. */
exp_key exp_key_unseen_eval(const exp_key *eval_key, const exp_key *unseen_key);
/* Embeddings by method, over the dataset's key (base methods) or over
 * exp_key_combine(search, rec) (fused_concat, fused_svd): content reads
 * "embeddings.glove"; search and multi the bi-encoder's "embeddings.*" and
 * the first seed; rec ENMF's "embeddings.*" and the first seed. */
semid_status exp_key_embedding(const exp_config *cfg, const exp_key *upstream, const char *method, exp_key *key);
/* An ID table over the key of its embeddings: "sid.*" but the keys of
 * what to run (sid.strategies, sid.ablation, sid.atomic), plus strategy
 * and tokenizer. */
semid_status exp_key_sid(const exp_config *cfg, const exp_key *upstream, const char *strategy, const char *tokenizer,
                         exp_key *key);
/* A generative model and its evaluation over the ID table's key:
 * "model.*" (but model.parallel), "k", "eval.*" (unless all 0) and the
 * model's seed. */
semid_status exp_key_model(const exp_config *cfg, const exp_key *sid_key, int64_t seed, exp_key *key);
/* A model's evaluation with diverse beam search over the model's key:
 * "decode.*" but decode.diverse (whether it runs). */
semid_status exp_key_diverse(const exp_config *cfg, const exp_key *model_key, exp_key *key);
/* A reference row over its embeddings' key (the dataset's for popularity):
 * "k", "head_fraction", "eval.*" (unless all 0) and the row's name. */
semid_status exp_key_reference(const exp_config *cfg, const exp_key *upstream, const char *name, exp_key *key);

/* A hybrid row's evaluation over the model's key and its dense index's
 * embedding key: "hybrid.*" but hybrid.strategy (which row, named by the
 * model's key). */
semid_status exp_key_hybrid(const exp_config *cfg, const exp_key *model_key, const exp_key *emb_key, exp_key *key);

/* The cold-item evaluation of a hybrid row's model, over the hybrid key:
 * "cold.expand_prefix" (the held-out items are in the dataset's key). */
semid_status exp_key_cold(const exp_config *cfg, const exp_key *hybrid_key, exp_key *key);

bool exp_stage_fresh(const char *run_dir, const char *stage, const exp_key *key);
/* Writes the marker atomically, after the stage's artifacts are in place. */
semid_status exp_stage_mark(const char *run_dir, const char *stage, const exp_key *key);

#endif
