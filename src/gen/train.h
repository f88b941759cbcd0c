/* Training the joint generative model (search and recommendation in one
 * transformer) from a dataset and a Semantic-ID table.
 *
 * An epoch is a seeded shuffle of all training sequences (examples.h)
 * taken in batches of batch_size sequences. With personal_share > 0 the
 * epoch also holds personalised-search slots, that share of it, cycling
 * through those examples: the two tasks keep every sequence they had, so
 * the third task adds steps rather than taking them. A batch's sequences
 * are packed into rows as long as its longest (pack), so that little of a step is
 * padding. The order of epoch e depends only on (seed, e), so a position in
 * training is just the step number. AdamW (linalg/adamw.h) with the model's
 * decay mask, linear warm-up then cosine or linear decay over all steps,
 * gradient clipping.
 *
 * After each epoch a validation pass decodes a fixed seeded sample of the
 * validation prompts (trie-constrained beam search) and measures Recall@K
 * for each task; the model with the best mean over the tasks is kept as
 * out_dir/model.safetensors (written atomically).
 *
 * Early stopping (patience > 0): `epochs` is then the most epochs a run
 * may take, and it stops after an epoch once `patience` epochs in a row
 * have brought no strictly better validation score and at least
 * `min_epochs` have run (semid_gen_should_stop). The learning-rate
 * schedule still spans all `epochs` (or max_steps): it is fixed before
 * training starts, so a stopped run is exactly the prefix of the full run
 * (resume and the stopping decision never depend on the future), at the
 * price that a run stopped early never reaches the end of the decay. The
 * best epoch's weights are the model either way.
 *
 * The output directory is a model bundle (generate.h loads it):
 *   model.safetensors   best weights; its metadata holds the vocabulary,
 *                       the ID table's fingerprint and the prompt settings
 *   idtable.sid         the ID table the model decodes into
 *   items.jsonl         item id, title and training popularity per item
 *   train.json          the configuration and per-epoch history
 *   resume.safetensors  the latest state for --resume: parameters, both
 *                       AdamW moments, step, best score (one atomic file)
 * Resuming continues to exactly the parameters an uninterrupted run gives
 * (same threads): data order and schedule are functions of the step.
 *
 * Retraining never harms the bundle already there: a run builds its bundle
 * (the first four files) in out_dir/.staging, and moves it in, a rename per
 * file, only when complete (.staging/COMPLETE marks a finished staging
 * directory, so a crash among the renames is finished by the next run).
 * Until then the old bundle loads as before; a run killed or failing
 * midway leaves it untouched, and its own best model so far in .staging,
 * where --resume finds it (a fresh run clears .staging and the previous
 * resume.safetensors). One run at a time: the trainer holds an advisory
 * lock on out_dir (base/dirlock.h) and a second one is refused, naming the
 * holder's pid, or waits (cfg.wait).
 *
 * Across MPI ranks (mpirun, srun: dist/dist.h, docs/distributed.md) every
 * rank runs this call on the same data and settings (refused otherwise)
 * and trains on its share of each global batch of batch_size sequences;
 * the gradients are summed, weighted so that the step is the one process's
 * on the whole batch (to float rounding), and every rank takes the same
 * AdamW step. Rank 0 alone locks and writes out_dir, validates and logs;
 * resume.safetensors resumes with any rank count. */
#ifndef SEMID_GEN_TRAIN_H
#define SEMID_GEN_TRAIN_H

#include <stdint.h>

#include "data/dataset.h"
#include "gen/examples.h"
#include "gen/vocab.h"
#include "linalg/adamw.h"
#include "quant/idtable.h"
#include "semid/semid.h"

typedef struct semid_gen_train_config {
    /* model */
    int32_t n_layer;          /* 4 */
    int32_t n_head;           /* 4 */
    int32_t d_model;          /* 128 */
    int32_t max_seq_len;      /* 0 = fit a full history window and a 24-word query */
    /* data */
    int32_t history_window;   /* 20 items */
    double valid_query_share; /* 0.05, used when the dataset has no VALID queries */
    double search_share;      /* the two tasks' mix (gen/task_mix.h): SEMID_GEN_SHARE_AUTO (the
                                 default) balances them where one has more than
                                 SEMID_GEN_AUTO_RATIO times the other's sequences, else as in
                                 the data; 0 = as in the data; in (0, 1) = search's share */
    double personal_share;    /* the third task, personalised search (examples.h): its share of
                                 each epoch's sequences, added to the two tasks' (which stay
                                 as they were), cycling through its examples; 0 = two tasks (0) */
    semid_gen_vocab_options vocab;
    const char *word_vectors; /* start query-word embeddings from these word vectors
                                 (gen/word_init.h): a GloVe/word2vec file, "default" for
                                 the shipped GloVe subset, or a bi-encoder's saved text
                                 tower (*.encoder, *.safetensors: each word encoded
                                 alone); NULL or "" = random */
    /* optimisation */
    int32_t epochs;           /* 10; with early stopping, the most epochs */
    int64_t max_steps;        /* 0 = epochs decide; else at most this many steps: the
                                 schedule spans them and the last one ends an epoch
                                 (validation, best model), a budget for big datasets */
    int32_t patience;         /* early stopping: stop once this many epochs in a row bring
                                 no better validation score; 0 = off (run every epoch) */
    int32_t min_epochs;       /* early stopping never ends a run before this many epochs (0) */
    int32_t batch_size;       /* 64 */
    int pack;                 /* 1 = a batch's sequences packed into rows of its longest
                                 (semid_gen_batch_pack): the same batches and loss, without
                                 most of the padding (1); 0 = a padded row per sequence */
    int bf16;                 /* 1 = the model's products in bf16 with fp32 sums
                                 (semid_gpt_set_gemm; fp32 where the CPU lacks AVX-512
                                 BF16); 0 = fp32 (0) */
    float lr;                 /* 1e-3 */
    float weight_decay;       /* 0.01 */
    float clip_norm;          /* 1.0 */
    int64_t warmup_steps;     /* -1 = 5% of all steps (at most 500) */
    semid_lr_decay decay;     /* SEMID_LR_COSINE */
    uint64_t seed;            /* 1 */
    int32_t threads;          /* this call only (0 = the calling thread's semid_get_threads()) */
    /* validation */
    int32_t valid_sample;     /* prompts per task (500); 0 = no validation, keep the last */
    int32_t valid_k;          /* 10 */
    int32_t valid_beam;       /* 10 */
    /* checkpoints */
    int64_t checkpoint_every; /* steps between resume checkpoints (0 = at each epoch end) */
    int resume;               /* continue from out_dir/resume.safetensors when present */
    int64_t stop_after;       /* stop after this many steps in all, as if killed after a
                                 resume checkpoint (tests); 0 = run to the end */
    int wait;                 /* out_dir is locked by another run (base/dirlock.h):
                                 0 = fail at once naming its pid, 1 = wait for it */
    int verbose;              /* on stderr: 0 nothing, 1 a progress bar and a line per epoch,
                                 2 the lines only, named by the model directory (models
                                 trained side by side) */
} semid_gen_train_config;

semid_gen_train_config semid_gen_train_defaults(void);

typedef struct semid_gen_train_report {
    int64_t steps;            /* steps done in all */
    int64_t total_steps;
    int32_t epochs_done;      /* whole epochs */
    int32_t epochs_run;       /* epochs ended by a validation pass (a last partial one
                                 under max_steps included) */
    int stopped_early;        /* 1: early stopping ended the run before its last step */
    double last_epoch_loss;   /* mean training loss of the last full epoch (or of the steps run) */
    double best_valid;        /* best mean validation Recall@K (-1 = no validation) */
    int32_t best_epoch;       /* 1-based */
    double valid_search, valid_rec; /* Recall@K of the best epoch (-1 = task absent) */
    double seconds;           /* this run's wall time */
    double tokens_per_s;      /* training tokens (non-padding inputs) per second */
    int64_t n_train_seqs[2];  /* [search, rec] training sequences */
    int64_t n_train_personal; /* personalised-search training sequences (0 without the third task) */
    int64_t n_params;
    /* this run's steps (forward, backward, AdamW; not validation or checkpoints): */
    double step_seconds;      /* wall time */
    double step_cpu_seconds;  /* CPU time of the process, all threads */
    double tokens;            /* non-padding input tokens */
    double padding;           /* share of the batches' token slots that were padding */
    int32_t ranks;            /* MPI ranks that trained (dist/dist.h); 1 = this process alone */
    double sum_seconds;       /* of step_seconds, rank 0's wait for the gradients' sum over the
                                 ranks (the allreduce, and the slowest rank's lag) */
} semid_gen_train_report;

/* The early-stopping rule, after `epoch` (1-based) validated epochs of
 * which `best_epoch` scored best: 1 when patience > 0, epoch >= min_epochs
 * and epoch - best_epoch >= patience. Without validation every epoch is
 * the best, so a run without validation prompts never stops early. */
int semid_gen_should_stop(int32_t epoch, int32_t best_epoch, int32_t patience, int32_t min_epochs);

/* Trains on `ds` with `table` into out_dir (created if needed). report may
 * be NULL. */
semid_status semid_gen_train(const semid_dataset *ds, const semid_idtable *table, const semid_gen_train_config *cfg,
                             const char *out_dir, semid_gen_train_report *report);

#endif
