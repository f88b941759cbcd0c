/* The experiment's stages. Each reads what earlier stages wrote into the run
 * directory, writes its own artifacts atomically and then its marker
 * (exp/cache.h), so it is skipped when nothing it depends on changed. */
#ifndef SEMID_EXP_STAGES_H
#define SEMID_EXP_STAGES_H

#include "data/dataset.h"
#include "eval/metrics.h"
#include "exp/cache.h"
#include "exp/config.h"
#include "exp/results.h"
#include "gen/hybrid.h"
#include "linalg/matrix.h"
#include "quant/idtable.h"

/* The dataset: synthetic, a saved dataset file, or a directory to import;
 * queries are generated when it has none. Writes RUN/dataset.sdd. With
 * eval.max_queries or eval.max_users, *ds carries the test split's sample
 * (data/test_sample.h) that every evaluation reads; the file keeps the
 * whole split. */
semid_status exp_stage_dataset(const exp_config *cfg, const char *run_dir, semid_dataset *ds, exp_key *key);
/* With cold.fraction, *ds above is the warm dataset (data/holdout.h) and
 * the full one (warm items first, then the cold ones) is
 * RUN/dataset_full.sdd, loaded by this (after exp_stage_dataset), with its
 * own sample of the test split as above. */
semid_status exp_stage_dataset_full(const exp_config *cfg, const char *run_dir, semid_dataset *full);

/* queries.unseen_style: the dataset stage's dataset with its test queries
 * replaced by ones in a style training never sees
 * (semid_querygen_unseen_style, seeded), written as
 * RUN/dataset_unseen.sdd; the search rows are evaluated on it too, the
 * models not retrained. on = 0 (nothing loaded) when the key is 0. Call
 * after exp_stage_dataset. */
typedef struct exp_unseen {
    int on;
    semid_dataset ds;
    exp_key key; /* exp_key_unseen */
} exp_unseen;
semid_status exp_stage_unseen(const exp_config *cfg, const char *run_dir, const exp_key *data_key, exp_unseen *out);
void exp_unseen_free(exp_unseen *u);

/* Embeddings by method name ("content", "search", "rec", "multi",
 * "fused_concat", "fused_svd"), written as RUN/emb/<method>.npy; the text
 * encoders go beside them (<method>.encoder), and ENMF's user vectors as
 * rec_users.npy. Fused methods compute search and rec first. */
semid_status exp_stage_embedding(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_key *data_key, const char *method, semid_matrix *out, exp_key *key);

/* RUN/emb/<method>.encoder: a bi-encoder's saved text tower. */
char *exp_encoder_path(const char *run_dir, const char *method);
/* With model.word_vectors=encoder:<method>, makes sure that bi-encoder is
 * trained and saved (cached like any embedding) before models read it. */
semid_status exp_stage_word_encoder(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                    const exp_key *data_key);

/* The ID table of a strategy ("search", "separate", ...) with a tokenizer
 * ("rqkmeans", "rqvae", ...), written as RUN/sid/<strategy>-<tokenizer>.sid.
 * *collision_rate gets 1 - distinct IDs / items before disambiguation (mean
 * over tasks; exp_collisions_of has the share of items sharing an ID). With
 * cold.fraction, hybrid.strategy's tokenizer is kept as
 * RUN/sid/<strategy>-<tokenizer>.tok (the cold items' IDs come from it). */
semid_status exp_stage_sid(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                           const exp_key *data_key, const char *strategy, const char *tokenizer,
                           semid_idtable *out, double *collision_rate, exp_key *key);

/* The table's collisions before disambiguation, per task (exp/results.h). */
semid_status exp_collisions_of(const semid_idtable *t, exp_collisions *out);

/* Per-query test results of one system: search over the test queries, rec
 * over the users with a test item (group = head/torso). */
typedef struct exp_eval {
    semid_ranking_eval search;
    semid_ranking_eval rec;
    /* generative rows with the third task: each test user's item from a vague
     * query with the history (personal) and without it (plain), in rec's
     * user order; n = 0 otherwise */
    semid_ranking_eval personal, plain;
    /* queries.unseen_style: search on the unseen-style test queries (n = 0
     * otherwise, and for rows without search); cached apart from the rest
     * (RUN/<the evaluation's stage>-unseen.json) */
    semid_ranking_eval unseen;
    double invalid_share; /* generative rows: decoded beams whose ID names no item
                             (invalid / beams, kept as counts in eval.json so a
                             cached or another rank's record gives the same bits) */
    int64_t invalid, beams;
    double seconds;
    /* generative rows: how the model trained (0 = not recorded) */
    int32_t epochs_run;   /* epochs trained (early stopping may end a model before the most) */
    int32_t best_epoch;   /* the epoch whose weights were evaluated */
    int stopped_early;
} exp_eval;

void exp_eval_free(exp_eval *e);
/* Moves the search of `twin`, an evaluation on the unseen-style queries, to
 * out->unseen (its time added to out's). */
void exp_eval_take_unseen(exp_eval *out, exp_eval *twin);
semid_status exp_eval_save(const exp_eval *e, const char *path);
semid_status exp_eval_load(const char *path, exp_eval *e);

/* Trains the joint generative model on a table with one seed
 * (RUN/models/<name>-s<seed>/) and evaluates it on the test split; progress
 * bars when `progress` (off when models train in parallel). Safe to call
 * from several threads at once for different models. */
semid_status exp_stage_generative(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                  const exp_unseen *unseen, const exp_key *sid_key, const semid_idtable *table,
                                  const char *name, int64_t seed, int progress, exp_eval *out);

/* The model that exp_stage_generative trained (same arguments) evaluated on
 * the test split with the paper's decoder instead: diverse beam search, no
 * trie (decode.diverse_beam, _groups, _penalty), invalid IDs counted
 * (RUN/models/<name>-s<seed>/eval-diverse.json). */
semid_status exp_stage_diverse(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                               const exp_unseen *unseen, const exp_key *sid_key, const char *name, int64_t seed,
                               exp_eval *out);
/* The hybrid rows' ranking options for search and for recommendation
 * (hybrid.weight, hybrid.weight_rec, hybrid.dense_k, k; rec by dot product
 * when its dense side is ENMF's). */
void exp_hybrid_options(const exp_config *cfg, semid_hybrid_options *search, semid_hybrid_options *rec);
/* A hybrid row's seed (hybrid.*): the model exp_stage_generative trained
 * (RUN/models/<name>-s<seed>/, which must be fresh) re-ranked with the dense
 * index of exp_hybrid_embedding(cfg) (its text tower RUN/emb/<m>.encoder and
 * item vectors RUN/emb/<m>.npy), evaluated on the test split
 * (RUN/models/<name>-s<seed>/hybrid.json). */
semid_status exp_stage_hybrid(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                              const exp_unseen *unseen, const exp_key *data_key, const exp_key *sid_key,
                              const char *name, int64_t seed, exp_eval *out);

/* The cold-item evaluation (cold.*) of hybrid.strategy's model of one seed:
 * the model copied to RUN/models/<name>-s<seed>/cold/, the held-out items
 * added to it as `semid catalog add` does (IDs from the frozen tokenizer
 * RUN/sid/<...>.tok, embeddings from the frozen bi-encoder on their text),
 * and evaluated on the full dataset's test split four ways (EXP_COLD_*). */
enum { EXP_COLD_GENERATIVE, EXP_COLD_EXPAND, EXP_COLD_DENSE, EXP_COLD_HYBRID, EXP_COLD_N };
extern const char *const exp_cold_methods[EXP_COLD_N]; /* "generative", "expand", "dense", "hybrid" */
semid_status exp_stage_cold(const exp_config *cfg, const char *run_dir, const semid_dataset *warm,
                            const exp_key *data_key, const exp_key *sid_key, const char *name, int64_t seed,
                            exp_eval out[EXP_COLD_N]);
/* Splits an evaluation of the full dataset's test split into its warm and
 * cold targets (items >= n_warm are cold). */
semid_status exp_cold_split(const semid_dataset *full, int32_t n_warm, const exp_eval *e, exp_eval *warm,
                            exp_eval *cold);

/* A model's evaluation records, each the cache of one stage above, in
 * RUN/models/<name>-s<seed>/: its own (exp_stage_generative, eval.json),
 * with diverse beam search (exp_stage_diverse, eval-diverse.json),
 * re-ranked with the dense index (exp_stage_hybrid, hybrid.json) and with
 * the held-out items (exp_stage_cold, cold/<method>.json: EXP_COLD_N
 * evaluations). With queries.unseen_style the first three hold one file
 * more, their search on the unseen-style queries (exp_unseen_place: its
 * own stage and key). An experiment across ranks (runner.c) sends each
 * from the rank that trained the model to the others, which adopt it. */
typedef enum exp_record_kind {
    EXP_RECORD_MODEL,
    EXP_RECORD_DIVERSE,
    EXP_RECORD_HYBRID,
    EXP_RECORD_COLD,
    EXP_RECORD_N
} exp_record_kind;
enum { EXP_RECORD_MAX_EVALS = EXP_COLD_N, EXP_RECORD_MAX_FILES = EXP_RECORD_MAX_EVALS + 1 };
/* The evaluations a record holds: EXP_COLD_N for the cold one, else 1. */
int exp_record_evals(exp_record_kind kind);
/* Its files: those evaluations, and the unseen-style twin when unseen is on
 * (model, diverse and hybrid records). */
int exp_record_files(exp_record_kind kind, const exp_unseen *unseen);
/* Where a record is cached, relative to the run directory: its stage
 * (exp/cache.h) and files (rel[exp_record_evals(kind)]: the twin's, under
 * twin_stage). */
typedef struct exp_record_place {
    char stage[224];
    char twin_stage[240];
    char rel[EXP_RECORD_MAX_FILES][256];
} exp_record_place;
void exp_record_place_of(const char *name, int64_t seed, exp_record_kind kind, exp_record_place *out);
/* Where the evaluation cached under `stage` keeps its repetition on the
 * unseen-style queries: the stage "<stage>-unseen", the file
 * "<stage>-unseen.json". */
void exp_unseen_place(const char *stage, char twin_stage[240], char twin_rel[256]);
/* A record's stage key (the model's and the diverse one's read cfg, sid_key
 * and seed only; hybrid and cold fail when the model is not trained with
 * these settings), and with unseen on, *twin_key (may be NULL): its twin's
 * (exp_key_unseen_eval). */
semid_status exp_record_key(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                            const exp_key *data_key, const exp_key *sid_key, const exp_unseen *unseen,
                            const char *name, int64_t seed, exp_record_kind kind, exp_key *key, exp_key *twin_key);
/* File i of a record as its stage cached it (checksum verified), to send. */
semid_status exp_stage_record(const char *run_dir, const char *name, int64_t seed, exp_record_kind kind, int i,
                              char **text, size_t *len);
/* Takes a record another rank made for the same model (texts[i] of lens[i]
 * bytes, i < exp_record_files(kind, unseen)): cached in this run as if made
 * here (a rerun reuses it), and loaded into out[0..exp_record_evals(kind)),
 * the twin's search as out[0].unseen. */
semid_status exp_stage_adopt(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                             const exp_key *data_key, const exp_key *sid_key, const exp_unseen *unseen,
                             const char *name, int64_t seed, exp_record_kind kind, const char *const *texts,
                             const size_t *lens, exp_eval *out);

/* The non-generative reference rows, one row each (stage_model.c), in
 * report order: "popularity", "dense_search" (the search bi-encoder: query
 * -> item by dot product; history mean for rec), "enmf" (rec only, ENMF's
 * user vectors), "dense_multi" (the multi-task bi-encoder) and, with the
 * third task, "dense_personal" (the multi-task bi-encoder's query score
 * plus its user vector's: semid_baseline_personal_dense, weight 1, on the
 * generative rows' vague queries). */
typedef struct exp_reference {
    const char *name;      /* RUN/ref/<name>.json, results.json */
    const char *label;     /* report rows */
    const char *embedding; /* the embedding method it scores with (embed/embed_methods.h); NULL = popularity */
    int when_used;         /* 1: only when a generative row reads `embedding` too */
    int personal;          /* 1: personalised search alone (exp_eval.personal), only with
                              model.personal_share > 0 */
} exp_reference;

/* NULL-name-terminated. */
extern const exp_reference exp_references[];

semid_status exp_stage_reference(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_unseen *unseen, const exp_key *data_key, const exp_reference *ref,
                                 exp_eval *out);

#endif
