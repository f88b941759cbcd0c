/* semid's C API: the handles a program holds and the stage operations it
 * calls, from a dataset to search and recommendation results.
 *
 *   semid_data *d;          a dataset: items with text, users' histories, queries
 *   semid_embeddings *e;    item vectors (rows x cols float32) with item ids
 *   semid_quantizer *q;     a fitted Semantic-ID tokenizer (RQ-KMeans, RQ-VAE, ...)
 *   semid_ids *ids;         a Semantic-ID table: every item's codes per task
 *   semid_trainer *t;       training of the generative model into a directory
 *   semid_model *m;         a trained model bundle, for search and recommendation
 *
 * Conventions (as in sqlite3.h):
 *   - every operation returns a semid_status; on failure the message is
 *     semid_last_error() (per thread) and *out handles are set to NULL;
 *   - handles are created by *_create / *_load / the stage operations and
 *     freed by *_free (NULL is accepted); what a handle returns (strings,
 *     arrays) belongs to it and lives as long as it does;
 *   - arrays cross the boundary as plain C arrays, row-major, caller-owned
 *     where the call fills them (the sizes are stated with each call);
 *   - items are indices 0 .. n_items-1 in the order of their dataset (or
 *     model); *_item_id gives the original id and *_item_index the way back;
 *   - threads: every options struct has `threads` (0 = the calling thread's
 *     semid_set_threads setting, else that many for this call only). No call
 *     changes a process-wide setting (OpenMP, BLAS or another thread's); the
 *     log level and sink (semid.h) are set by the program, not by a call;
 *   - options structs are filled by their *_default() function first, then
 *     changed field by field, so that fields added later get defaults;
 *   - files: every *_save writes atomically and with a checksum, every
 *     *_load verifies it (a damaged file fails with SEMID_EFORMAT, "PATH is
 *     corrupt: xxh64 checksum expected X, found Y"); files without one
 *     (other programs', an older semid's) load unchecked, and the
 *     environment variable SEMID_NO_VERIFY=1, read at each load, skips the
 *     check (docs/formats.md, "Checksums").
 * Handles are not synchronised: one thread uses a handle at a time, except a
 * loaded semid_model, which several threads may search at once. */
#ifndef SEMID_API_H
#define SEMID_API_H

#include <stdint.h>

#include "semid/semid.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct semid_data semid_data;
typedef struct semid_embeddings semid_embeddings;
typedef struct semid_quantizer semid_quantizer;
typedef struct semid_ids semid_ids;
typedef struct semid_trainer semid_trainer;
typedef struct semid_model semid_model;

/* The two tasks; an ID table with one task uses the same IDs for both. */
typedef enum semid_task { SEMID_SEARCH = 0, SEMID_RECOMMEND = 1 } semid_task;

/* Query splits (semid_data_query). */
enum { SEMID_QUERY_TRAIN = 0, SEMID_QUERY_VALID = 1, SEMID_QUERY_TEST = 2 };

/* ========================================================================
 * Datasets */

typedef struct semid_import_opts {
    const char *format;            /* "auto" (judged by the files present), "ml-1m", "ml-100k",
                                      "ml-csv", "recbole" or "generic" (docs/formats.md) */
    double min_rating;             /* drop interactions rated below this; default -HUGE_VAL (keep all) */
    int32_t user_core;             /* k-core filter: users need >= this many interactions; 0 = off */
    int32_t item_core;             /* items need >= this many interactions; 0 = off */
    int keep_uninteracted;         /* keep items nobody interacted with; 0 */
    int lenient;                   /* skip and count malformed lines instead of failing; 0 */
    const char *descriptions_path; /* optional TSV: item_id, description; NULL */
    const char *queries_path;      /* optional TSV: item_id, split, query; NULL */
} semid_import_opts;

SEMID_API semid_import_opts semid_import_opts_default(void);

/* Imports the dataset at `path` (a directory, or a RecBole .inter file).
 * opts may be NULL for the defaults. Malformed input fails with
 * SEMID_EPARSE naming the file and line. */
SEMID_API semid_status semid_data_import(const char *path, const semid_import_opts *opts, semid_data **out);

/* The built-in synthetic catalog (movie-like items with text, users with
 * histories, generated queries): no download needed. */
typedef struct semid_synth_opts {
    int32_t n_items;          /* 1200 */
    int32_t n_users;          /* 3000 */
    double mean_history;      /* mean interactions per user: 30 */
    int32_t min_history;      /* 5 */
    int32_t n_topics;         /* latent topics: 24 */
    int32_t queries_per_item; /* 20 (0 = no queries) */
    int32_t queries_train;    /* of which for training: 10 */
    int32_t queries_valid;    /* of which for validation: 0 (the rest are test) */
    uint64_t seed;            /* 1 */
} semid_synth_opts;

SEMID_API semid_synth_opts semid_synth_opts_default(void);
SEMID_API semid_status semid_data_synth(const semid_synth_opts *opts, semid_data **out);

/* Generated search queries for every item, from its metadata. */
typedef struct semid_query_opts {
    int32_t per_item; /* 20 */
    int32_t train;    /* of which for training: 10 */
    int32_t valid;    /* of which for validation: 0 (the rest are test) */
    int append;       /* 0: replace the dataset's queries; 1: add to them */
    uint64_t seed;    /* 1 */
} semid_query_opts;

SEMID_API semid_query_opts semid_query_opts_default(void);
SEMID_API semid_status semid_data_make_queries(semid_data *d, const semid_query_opts *opts);

/* semid's saved dataset (.sdd), written atomically. */
SEMID_API semid_status semid_data_load(const char *path, semid_data **out);
SEMID_API semid_status semid_data_save(const semid_data *d, const char *path);
SEMID_API void semid_data_free(semid_data *d);

SEMID_API const char *semid_data_name(const semid_data *d);
SEMID_API int32_t semid_data_n_items(const semid_data *d);
SEMID_API int32_t semid_data_n_users(const semid_data *d);
SEMID_API int64_t semid_data_n_interactions(const semid_data *d);
SEMID_API int32_t semid_data_n_queries(const semid_data *d);

/* Item metadata (NULL when item is out of range; "" when a field is
 * empty); the year is 0 when unknown or out of range. */
SEMID_API const char *semid_data_item_id(const semid_data *d, int32_t item);
SEMID_API const char *semid_data_item_title(const semid_data *d, int32_t item);
SEMID_API const char *semid_data_item_genres(const semid_data *d, int32_t item);
SEMID_API const char *semid_data_item_description(const semid_data *d, int32_t item);
SEMID_API int32_t semid_data_item_year(const semid_data *d, int32_t item);
/* Index of an item by its original id, or -1. */
SEMID_API int32_t semid_data_item_index(const semid_data *d, const char *id);

SEMID_API const char *semid_data_user_id(const semid_data *d, int32_t user);
/* The items of a user, oldest first (*n of them); NULL and *n = 0 when
 * user is out of range. */
SEMID_API const int32_t *semid_data_user_items(const semid_data *d, int32_t user, int64_t *n);

/* Query q: its text (NULL when q is out of range), the item it was
 * written for and its split (SEMID_QUERY_*); item and split may be NULL. */
SEMID_API const char *semid_data_query(const semid_data *d, int32_t q, int32_t *item, int32_t *split);

/* ========================================================================
 * Embeddings: one row of float32 per item, optionally named by item ids */

typedef struct semid_embed_opts {
    int32_t dim;              /* width, 0 = the method's default (rec 256, search/multi 128;
                                 content: the word vectors' width, fixed) */
    int32_t epochs;           /* 0 = the method's default (rec 20, search/multi 5) */
    int32_t batch;            /* users (rec) or pairs (search, multi) per step; 0 = default (rec: 256, grown to keep an epoch within 32 steps) */
    float lr;                 /* learning rate, 0 = the method's default */
    uint64_t seed;            /* 42 */
    const char *word_vectors; /* GloVe / word2vec / .wv file for content, search and multi;
                                 NULL = the shipped GloVe subset */
    int threads;              /* 0 = the calling thread's setting */
} semid_embed_opts;

SEMID_API semid_embed_opts semid_embed_opts_default(void);

/* Item embeddings of the dataset (rows in its item order, named by its
 * item ids) by `method`:
 *   "content"  weighted mean of word vectors over the item text (no training)
 *   "search"   a text encoder trained on (query, item) pairs
 *   "rec"      ENMF collaborative item vectors
 *   "multi"    the text encoder trained on search and co-occurrence pairs
 *   "fused_concat", "fused_svd"   "search" and "rec" computed, then fused */
SEMID_API semid_status semid_embed(const semid_data *d, const char *method, const semid_embed_opts *opts,
                                   semid_embeddings **out);

/* Fuses search and rec embeddings of the same items (same rows; ids, when
 * both have them, must agree): how = "concat" or "svd". */
SEMID_API semid_status semid_embeddings_fuse(const semid_embeddings *search, const semid_embeddings *rec,
                                             const char *how, semid_embeddings **out);

/* Embeddings from your own vectors (rows x cols, row-major; copied). ids
 * (rows strings, copied) may be NULL; they must be distinct and non-empty.
 * NaN or Inf is an error naming the row and column. */
SEMID_API semid_status semid_embeddings_create(const float *data, int64_t rows, int64_t cols,
                                               const char *const *ids, semid_embeddings **out);

/* The rows put in a dataset's item order, by their ids: every dataset item
 * needs a row; rows of other ids are an error. */
SEMID_API semid_status semid_embeddings_align(const semid_embeddings *e, const semid_data *d, semid_embeddings **out);

/* .npy (float32 or float64, 2-D) with an optional id list (one id a line,
 * line i naming row i; ids_path NULL = none). Written atomically. */
SEMID_API semid_status semid_embeddings_load(const char *npy_path, const char *ids_path, semid_embeddings **out);
SEMID_API semid_status semid_embeddings_save(const semid_embeddings *e, const char *npy_path, const char *ids_path);
SEMID_API void semid_embeddings_free(semid_embeddings *e);

SEMID_API int64_t semid_embeddings_rows(const semid_embeddings *e);
SEMID_API int64_t semid_embeddings_cols(const semid_embeddings *e);
/* rows x cols, row-major. */
SEMID_API const float *semid_embeddings_data(const semid_embeddings *e);
/* Id of a row, NULL without ids or out of range. */
SEMID_API const char *semid_embeddings_item_id(const semid_embeddings *e, int64_t row);

/* Exact top-k by dot product: for each of the n queries (n x cols) the k
 * best rows, best first, into items (n x k; -1 past the last) and scores
 * (n x k, may be NULL). Ties go to the lower row. */
SEMID_API semid_status semid_embeddings_topk(const semid_embeddings *e, const float *queries, int64_t n, int32_t k,
                                             int threads, int32_t *items, float *scores);

/* ========================================================================
 * Quantizers (Semantic-ID tokenizers): vectors -> `levels` codes each */

typedef struct semid_quantizer_opts {
    const char *method; /* "rqkmeans" (default), "rqvae", "rlfq", "dict", ... (every
                           tokenizer: semid sid build --help) */
    int32_t levels;     /* codes per vector: 2 */
    int32_t codebook;   /* codes per level: 256; at most the number of rows fitted */
    int32_t iters;      /* k-means iterations per level or training epochs; 0 = the method's default */
    int32_t beam;       /* encoding beam of residual methods, 1 = greedy */
    uint64_t seed;      /* 1234 */
    int verbose;        /* progress at INFO through the log: 0 */
    int threads;        /* 0 = the calling thread's setting */
} semid_quantizer_opts;

SEMID_API semid_quantizer_opts semid_quantizer_opts_default(void);

/* Fits on x (rows x cols, row-major, finite). */
SEMID_API semid_status semid_quantizer_fit(const float *x, int64_t rows, int64_t cols, const semid_quantizer_opts *opts,
                                           semid_quantizer **out);
/* codes (rows x levels) of x (rows x cols; cols must be the fitted width).
 * Works on vectors never seen in fit (cold start). Runs on the calling
 * thread's setting. */
SEMID_API semid_status semid_quantizer_encode(const semid_quantizer *q, const float *x, int64_t rows, int64_t cols,
                                              int32_t *codes);
/* Approximate vectors out (rows x dim) from codes (rows x levels) using the
 * first use_levels levels (0 = all); SEMID_EINVAL for "dict". */
SEMID_API semid_status semid_quantizer_reconstruct(const semid_quantizer *q, const int32_t *codes, int64_t rows,
                                                   int32_t use_levels, float *out);
SEMID_API semid_status semid_quantizer_save(const semid_quantizer *q, const char *path);
SEMID_API semid_status semid_quantizer_load(const char *path, semid_quantizer **out);
SEMID_API void semid_quantizer_free(semid_quantizer *q);

SEMID_API const char *semid_quantizer_method(const semid_quantizer *q);
SEMID_API int32_t semid_quantizer_levels(const semid_quantizer *q);
/* Codes at `level` (0 when out of range). */
SEMID_API int32_t semid_quantizer_level_size(const semid_quantizer *q, int32_t level);
/* Width of the vectors it encodes. */
SEMID_API int32_t semid_quantizer_dim(const semid_quantizer *q);

/* ========================================================================
 * Semantic-ID tables */

typedef struct semid_ids_opts {
    const char *strategy; /* "search", "rec", "content", "fused_concat", "fused_svd", "multi"
                             (one embedding, IDs shared by both tasks), "separate" (search IDs
                             from search embeddings, rec IDs from rec embeddings) or
                             "prefix_share" (one shared level, then one per task); "search" */
    const char *method;   /* quantizer, as in semid_quantizer_opts: "rqkmeans" (default), ... */
    int32_t levels;       /* 2 */
    int32_t codebook;     /* 256 */
    int32_t iters;        /* 0 = the method's default */
    int32_t beam;         /* 1 */
    uint64_t seed;        /* 1234 */
    int disambiguate;     /* append a level that makes every ID unique per task: 0 */
    int verbose;          /* 0 */
    int threads;          /* 0 = the calling thread's setting */
} semid_ids_opts;

SEMID_API semid_ids_opts semid_ids_opts_default(void);

/* Builds the table. One-embedding strategies read `first`, and `second`
 * must be NULL; "separate" and "prefix_share" read the search embeddings
 * in `first` and the rec embeddings in `second` (same items). With a
 * dataset d (may be NULL), rows are taken in its item order (by their
 * ids, or as they are when they have none and the counts match), the table
 * names its items, and disambiguation orders colliding items by
 * popularity: what semid_trainer_create needs. */
SEMID_API semid_status semid_ids_build(const semid_embeddings *first, const semid_embeddings *second,
                                       const semid_data *d, const semid_ids_opts *opts, semid_ids **out);

/* Versioned JSON (what `semid sid build` writes), written atomically. */
SEMID_API semid_status semid_ids_load(const char *path, semid_ids **out);
SEMID_API semid_status semid_ids_save(const semid_ids *ids, const char *path);
/* TSV for other tools: item_id, task, then the ID's tokens. */
SEMID_API semid_status semid_ids_export_tsv(const semid_ids *ids, const char *path);
SEMID_API void semid_ids_free(semid_ids *ids);

SEMID_API const char *semid_ids_strategy(const semid_ids *ids);
SEMID_API const char *semid_ids_method(const semid_ids *ids);
SEMID_API int32_t semid_ids_n_items(const semid_ids *ids);
SEMID_API int32_t semid_ids_n_tasks(const semid_ids *ids);   /* 1 or 2 */
SEMID_API int32_t semid_ids_n_levels(const semid_ids *ids);  /* tokens per ID, disambiguation included */
SEMID_API int32_t semid_ids_n_tokens(const semid_ids *ids);  /* distinct tokens of the table */
SEMID_API int32_t semid_ids_level_size(const semid_ids *ids, semid_task task, int32_t level);
SEMID_API const char *semid_ids_item_id(const semid_ids *ids, int32_t item); /* NULL when unnamed */
/* Identity of the codes and layout (16 hex digits in the JSON). */
SEMID_API uint64_t semid_ids_fingerprint(const semid_ids *ids);

/* Every item's ID for a task: codes (n_items x n_levels, each code within
 * its level) or tokens (the same, numbered across levels and tasks). */
SEMID_API semid_status semid_ids_codes(const semid_ids *ids, semid_task task, int32_t *codes);
SEMID_API semid_status semid_ids_tokens(const semid_ids *ids, semid_task task, int32_t *tokens);

typedef struct semid_collisions {
    int32_t distinct_ids;     /* different IDs used */
    int32_t colliding_items;  /* items whose ID another item shares */
    int32_t max_items_per_id; /* largest group */
    double rate;              /* 1 - distinct_ids / n_items */
} semid_collisions;

SEMID_API semid_status semid_ids_collisions(const semid_ids *ids, semid_task task, semid_collisions *out);

/* The quantizer that made a task's codes, kept by semid_ids_build (owned
 * by the table); NULL for loaded tables and for prefix_share. */
SEMID_API const semid_quantizer *semid_ids_quantizer(const semid_ids *ids, semid_task task);

/* Cold start: the tokens (rows x n_levels) that new items' vectors x
 * (rows x cols) get in this table for `task`, encoded by q (NULL = the
 * table's own quantizer). q must be the one that made the table (its
 * fingerprint is recorded). In a disambiguated table the last token is the
 * new level's first, so a new item may share an ID. */
SEMID_API semid_status semid_ids_encode_new(const semid_ids *ids, const semid_quantizer *q, semid_task task,
                                            const float *x, int64_t rows, int64_t cols, int32_t *tokens);

/* ========================================================================
 * Training the generative model */

typedef struct semid_train_opts {
    int32_t layers;           /* transformer layers: 4 */
    int32_t heads;            /* 4 */
    int32_t dim;              /* model width: 128 */
    int32_t context;          /* context in tokens, 0 = fit the history window and a query */
    int32_t history_window;   /* items in a recommendation prompt: 20 */
    int32_t epochs;           /* 10; with patience, the most epochs a run may take */
    int64_t max_steps;        /* 0 = epochs decide; else at most this many steps */
    int32_t batch;            /* sequences per step: 64 */
    float lr;                 /* peak learning rate: 1e-3 */
    float weight_decay;       /* 0.01 */
    uint64_t seed;            /* 1 */
    int32_t valid_sample;     /* validation prompts per task after each epoch: 500 (0 = none) */
    int32_t valid_k;          /* validation Recall@K: 10 */
    const char *word_vectors; /* start query-word embeddings from these word vectors
                                 ("default" = the shipped GloVe subset); NULL = random */
    int resume;               /* continue from out_dir/resume.safetensors when present: 0 */
    int verbose;              /* progress on stderr (through the log): 0 */
    int threads;              /* 0 = the calling thread's setting */
    int32_t patience;         /* early stopping: stop once this many epochs in a row bring no
                                 better validation Recall (0 = off, the default) */
    int32_t min_epochs;       /* early stopping never ends a run before this many epochs: 0 */
    int32_t bf16;             /* 1 = the model's matrix products in bfloat16 with fp32 sums, master
                                 weights and optimizer: faster where the CPU has AVX-512 BF16
                                 (fp32 elsewhere), slightly less accurate; 0 (fp32) is the default */
} semid_train_opts;

SEMID_API semid_train_opts semid_train_opts_default(void);

typedef struct semid_train_report {
    int64_t steps;          /* steps done in all */
    int64_t total_steps;    /* steps of the whole schedule */
    int32_t epochs_done;
    double last_epoch_loss; /* mean training loss of the last epoch */
    double best_valid;      /* best mean validation Recall@K (-1 = no validation) */
    int32_t best_epoch;     /* 1-based */
    double valid_search;    /* Recall@K of the best epoch (-1 = task absent) */
    double valid_rec;
    double seconds;         /* this run's wall time */
    double tokens_per_s;
    int64_t n_params;
    int stopped_early;      /* 1: early stopping ended the run (semid_trainer_done is then 1) */
} semid_train_report;

/* A trainer writes a model bundle into out_dir (created if needed): the
 * best weights, the ID table, the items and a resume checkpoint. d and ids
 * are borrowed: they must outlive the trainer. ids must be built for d (the
 * same items, in its order). */
SEMID_API semid_status semid_trainer_create(const semid_data *d, const semid_ids *ids, const char *out_dir,
                                            const semid_train_opts *opts, semid_trainer **out);
/* Runs at most `steps` more steps (0 = to the end of the schedule), then
 * stops at a resume checkpoint; the next call continues from it, to the
 * same weights an uninterrupted run gives. report may be NULL. */
SEMID_API semid_status semid_trainer_run(semid_trainer *t, int64_t steps, semid_train_report *report);
/* 1 when the whole schedule has run, or early stopping ended it. */
SEMID_API int semid_trainer_done(const semid_trainer *t);
SEMID_API void semid_trainer_free(semid_trainer *t);

/* create + run to the end + free. */
SEMID_API semid_status semid_train(const semid_data *d, const semid_ids *ids, const char *out_dir,
                                   const semid_train_opts *opts, semid_train_report *report);

/* ========================================================================
 * Trained models: search, recommend, evaluate */

/* Loads a model bundle (the directory a trainer wrote); checks that its
 * parts belong together. */
SEMID_API semid_status semid_model_load(const char *dir, semid_model **out);
SEMID_API void semid_model_free(semid_model *m);

SEMID_API int32_t semid_model_n_items(const semid_model *m);
SEMID_API const char *semid_model_item_id(const semid_model *m, int32_t item);    /* NULL out of range */
SEMID_API const char *semid_model_item_title(const semid_model *m, int32_t item); /* NULL out of range */
SEMID_API int32_t semid_model_item_index(const semid_model *m, const char *id);   /* -1 if unknown */

typedef struct semid_decode_opts {
    int32_t k;           /* results per query: 10 */
    int32_t beam;        /* beam width, at least k is used: 30 */
    int diverse;         /* 1 = the paper's diverse beam search (60 beams, 30 groups, 0.25): 0 */
    int exclude_history; /* recommend: -1 = the model's default (exclude when items never
                            repeat in training), 0 = keep, 1 = exclude */
    int threads;         /* 0 = the calling thread's setting */
    double expand_prefix; /* prefix expansion (TIGER's way, docs/catalog.md): the most share
                             of the top k that items under the generated prefixes may
                             take, 0..1: 0 (off) */
} semid_decode_opts;

SEMID_API semid_decode_opts semid_decode_opts_default(void);

/* Searches n queries at once. Fills items (n x k item indices, best first,
 * -1 past the last hit), scores (n x k log-probabilities, may be NULL) and
 * n_hits (n, may be NULL). */
SEMID_API semid_status semid_search(const semid_model *m, const char *const *queries, int64_t n,
                                    const semid_decode_opts *opts, int32_t *items, float *scores, int32_t *n_hits);

/* Recommends for n users at once. Their histories are item indices, oldest
 * first, concatenated: user u's are history[offsets[u] .. offsets[u+1])
 * (offsets: n + 1 entries, offsets[0] = 0). Outputs as semid_search. */
SEMID_API semid_status semid_recommend(const semid_model *m, const int32_t *history, const int64_t *offsets,
                                       int64_t n, const semid_decode_opts *opts, int32_t *items, float *scores,
                                       int32_t *n_hits);

typedef struct semid_metrics {
    int64_t n;     /* queries */
    double recall; /* mean Recall@k */
    double ndcg;   /* mean NDCG@k */
} semid_metrics;

typedef struct semid_eval_result {
    int32_t k;
    semid_metrics search;    /* the split's search queries */
    semid_metrics rec;       /* every user's held-out item */
    semid_metrics rec_head;  /* users whose held-out item is among the top 1% */
    semid_metrics rec_torso; /* the others */
} semid_eval_result;

/* Recall@k and NDCG@k (k = opts->k) of the model on a split ("test" or
 * "valid") of the dataset it was trained on. */
SEMID_API semid_status semid_evaluate(const semid_model *m, const semid_data *d, const char *split,
                                      const semid_decode_opts *opts, semid_eval_result *out);

#ifdef __cplusplus
}
#endif
#endif
