/* The experiment's configuration: one JSON file plus command-line overrides
 * ("model.epochs=3"), starting from a preset (quick or paper). Every key is
 * known and range-checked before any work starts; an unknown key, a value
 * out of range or a misspelt strategy is rejected with the key named. */
#ifndef SEMID_EXP_CONFIG_H
#define SEMID_EXP_CONFIG_H

#include <stdint.h>

#include "semid/semid.h"

enum { EXP_MAX_SEEDS = 16, EXP_MAX_LIST = 16 };

typedef struct exp_config {
    char preset[16];          /* "quick" or "paper" */
    char dataset[512];        /* "synthetic", a saved dataset file, or a directory to import */
    char dataset_format[16];  /* importer format when dataset is a directory ("auto") */
    int32_t synth_items;      /* synthetic data size */
    int32_t synth_users;
    int32_t queries_per_item; /* generated when the dataset has none */
    int32_t queries_train;
    int32_t queries_unseen_style; /* 0 = off; else a second set of test search queries, this
                                 many per tested item, in a style training never sees
                                 (semid_querygen_unseen_style): every search row is
                                 evaluated on it too, without retraining */
    int32_t n_seeds;
    int64_t seeds[EXP_MAX_SEEDS];
    int32_t threads;
    int32_t k;                /* Recall@K, NDCG@K */
    double head_fraction;     /* head = top share of items by training popularity */

    /* embeddings */
    char glove[512];          /* word vectors (GloVe/word2vec text); "" = the shipped subset */
    int32_t embed_dim;        /* bi-encoder output width */
    int32_t embed_epochs;
    int32_t embed_batch;
    double embed_lr;
    int32_t enmf_dim;
    int32_t enmf_epochs;

    /* Semantic IDs */
    int32_t sid_levels;
    int32_t sid_codebook;
    int32_t sid_disambiguate; /* 1: append a level so every ID is unique */
    int32_t sid_max_disambiguation; /* codes an appended level may have (0 = no limit) */
    int32_t sid_max_steps;    /* the trained tokenizers (rqvae, rlfq, prefix-share): at most
                                 the epochs that fit this many steps (0 = their 100 epochs) */
    int32_t n_strategies;
    char strategies[EXP_MAX_LIST][24];
    int32_t n_ablation;
    char ablation[EXP_MAX_LIST][16];  /* tokenizers on the multi-task embeddings */
    int32_t sid_atomic;       /* 1: the atomic-ID reference row (one token per item, a
                                 softmax over all items: SASRec-style), same model and budget */

    /* generative model */
    int32_t model_layers;
    int32_t model_dim;
    int32_t model_heads;
    int32_t model_epochs;     /* with early stopping (model_patience > 0), the most epochs */
    int32_t model_max_steps;  /* 0 = epochs decide; else a step budget per model */
    int32_t model_patience;   /* early stopping: epochs without a better validation score
                                 before a model stops (0 = off: every epoch runs) */
    int32_t model_min_epochs; /* early stopping never stops a model before this many epochs */
    char model_word_vectors[512]; /* "" = random word embeddings; a file, "default" (gen/word_init.h),
                                     or "encoder:search" / "encoder:multi": the run's own bi-encoder */
    int32_t model_parallel;   /* models trained at once, one thread each (0 = one per thread) */
    int32_t model_batch;
    int32_t model_bf16;       /* 1 = bf16 matrix products with fp32 sums (gen/train.h) */
    double model_lr;
    int32_t model_history;    /* items of history in a rec prompt */
    double model_search_share; /* the two tasks' mix (gen/task_mix.h): SEMID_GEN_SHARE_AUTO
                                 ("auto", the default) balances them where one has over 4x
                                 the other's sequences; 0 = as in the data; else search's share */
    double model_personal_share; /* the third task, personalised search: its share of each
                                 epoch (gen/train.h); > 0 adds the personalised-search
                                 columns (vague queries); 0 = two tasks (default) */
    int32_t beam;             /* constrained beam width at evaluation */
    /* evaluation on a sample of the test split (data/test_sample.h): at most
       this many test queries and users, the same for every row and seed;
       0 = the whole split */
    int32_t eval_max_queries;
    int32_t eval_max_users;
    int64_t eval_sample_seed; /* which ones */
    int32_t valid_sample;     /* validation prompts per task after each epoch */

    /* decoding: the tables always use the trie-constrained beam (model.beam);
       decode.diverse adds the main table decoded as the paper decodes */
    int32_t decode_diverse;   /* 1: also diverse beam search, no trie (rows "main_diverse") */
    int32_t diverse_beam;     /* its beams (paper: 60) */
    int32_t diverse_groups;   /* its groups, dividing the beams (paper: 30) */
    double diverse_penalty;   /* its Hamming diversity penalty (paper: 0.25) */
    /* hybrid re-ranking (gen/dense.h): rows of the strategy's model with its
       bi-encoder's dense index, beside the model and the dense row */
    char hybrid_strategy[24]; /* "" = no hybrid rows; else a strategy of sid.strategies
                                 whose one embedding is a bi-encoder's (search, multi) */
    double hybrid_weight;     /* W: the generative score's weight, 0..1 (search, and rec
                                 unless hybrid_weight_rec says otherwise) */
    double hybrid_weight_rec; /* W for recommendation; -1 = hybrid_weight */
    int32_t hybrid_dense_k;   /* the dense index's candidates per query */
    char hybrid_rec_dense[16]; /* recommendation's dense side: "encoder" (the mean of the
                                  history's bi-encoder vectors, cosine) or "enmf" (ENMF's
                                  user vector . item vectors, its own score) */

    /* held-out cold items (data/holdout.h): a share of the catalog no
       training stage sees, added to hybrid.strategy's models after training
       as `semid catalog add` does, and evaluated apart from the warm items */
    double cold_fraction;     /* 0 = off; else the held-out share of items */
    int64_t cold_seed;        /* which items */
    double cold_expand_prefix; /* the prefix-expansion rows' share of the top k */

    /* how to run, not what: no configuration key, not in results.json */
    int32_t wait;             /* the run directory is locked by another run:
                                 0 = fail naming its pid, 1 = wait for it */
} exp_config;

/* Fills `cfg` with a preset ("quick" or "paper"). */
semid_status exp_config_preset(exp_config *cfg, const char *preset);
/* Applies a JSON document (an object whose keys mirror the dotted names
 * listed by exp_config_describe). `origin` names the file in messages. */
semid_status exp_config_apply_json(exp_config *cfg, const char *json, const char *origin);
/* Applies one "key=value" override (value in JSON syntax or a bare word). */
semid_status exp_config_apply_override(exp_config *cfg, const char *assignment);
/* Cross-field checks (after the dataset is known, pass its item count; 0 = unknown). */
semid_status exp_config_validate(const exp_config *cfg, int64_t n_items);
/* The whole config as JSON (caller frees), as recorded in results.json. */
char *exp_config_to_json(const exp_config *cfg);

/* The configuration keys (dotted names), in table order: i in 0..count-1. */
int exp_config_key_count(void);
const char *exp_config_key_name(int i);
/* 1 for keys that say how to run, not what ("threads", "model.parallel"). */
int exp_config_key_is_execution(const char *name);
/* Compact JSON of the keys that `include` selects (NULL-terminated names;
 * a group name such as "model" selects every "model.*" key; NULL = all)
 * less those `exclude` selects and the execution keys, nested and in table
 * order as in exp_config_to_json. A stage's cache key is a digest of this
 * (exp/cache.h), so a new key in a stage's group is in its key at once.
 * Caller frees; NULL when out of memory. */
char *exp_config_select_json(const exp_config *cfg, const char *const *include, const char *const *exclude);

/* The embedding method whose bi-encoder makes hybrid.strategy's dense
 * index ("search", "multi"), or NULL (no hybrid rows, or not one). */
const char *exp_hybrid_embedding(const exp_config *cfg);
/* The bi-encoder ("search", "multi") whose words start the generative
 * models' query words (model.word_vectors=encoder:<method>), or NULL. */
const char *exp_word_encoder(const exp_config *cfg);
/* hybrid.weight_rec, or hybrid.weight where it is -1. */
double exp_hybrid_weight_rec(const exp_config *cfg);
/* 1 when recommendation's dense side is ENMF's (hybrid.rec_dense=enmf). */
int exp_hybrid_rec_enmf(const exp_config *cfg);

/* Known strategy and tokenizer names. */
int exp_is_strategy(const char *name);
int exp_is_tokenizer(const char *name);

#endif
