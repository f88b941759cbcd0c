/* Results of an experiment: one row per compared system (a Semantic-ID
 * strategy, a tokenizer, or a non-generative reference), each with its
 * figures per seed, their mean and standard deviation, the per-example hits
 * (averaged over seeds) that the per-query paired t-test uses, and the tests
 * against the best row of its table: over queries, and with two seeds or
 * more over seeds too (exp_row_differs). */
#ifndef SEMID_EXP_RESULTS_H
#define SEMID_EXP_RESULTS_H

#include <stdint.h>

#include "exp/config.h"

typedef struct exp_metric {
    int32_t n;                       /* seeds measured */
    double per_seed[EXP_MAX_SEEDS];
    double mean, sd;
} exp_metric;

/* Which table a row belongs to. Reference rows appear in every table (a
 * generative reference, atomic IDs, in the tables of its decoder).
 * MAIN_DIVERSE is the main table's rows decoded with diverse beam search. */
typedef enum {
    EXP_TABLE_REFERENCE = 0,
    EXP_TABLE_MOTIVATION,
    EXP_TABLE_MAIN,
    EXP_TABLE_ABLATION,
    EXP_TABLE_MAIN_DIVERSE,
    EXP_TABLE_HYBRID, /* hybrid.strategy's model alone and re-ranked with its dense index */
    EXP_TABLE_WARM,   /* cold.*: that model with the cold items added, on the warm items' tests */
    EXP_TABLE_COLD,   /* ... on the held-out items' tests */
    EXP_N_TABLES
} exp_table;

/* How a generative row decodes the test prompts. */
typedef enum { EXP_DECODER_TRIE = 0, EXP_DECODER_DIVERSE = 1 } exp_decoder;

/* The collisions of a row's ID table (per task: [0] alone when both tasks
 * share IDs), as the quantizer left them before disambiguation. */
typedef struct exp_collisions {
    int32_t n_tasks;              /* 0 = not recorded */
    int32_t n_levels;             /* levels of the final IDs, disambiguation included */
    int32_t n_tokens;             /* ID tokens in all */
    int32_t disambiguated;
    double colliding_share[2];    /* items whose ID another item had too */
    int32_t distinct_ids[2];
    int32_t largest_bucket[2];    /* most items under one ID */
    int32_t disambiguation_size[2]; /* tokens of the appended levels (0: none appended) */
} exp_collisions;

typedef struct exp_row {
    exp_table table;
    char name[48];            /* "search", "multi", "rqvae", "popularity", ... */
    char label[96];           /* shown in the report */
    int generative;           /* 0 for reference rows */
    exp_metric search_recall, search_ndcg;
    exp_metric rec_recall, rec_ndcg, rec_head, rec_torso;
    exp_metric invalid_share; /* share of decoded IDs that name no item (generative rows) */
    exp_metric epochs_run;    /* generative rows: epochs each seed's model trained (early
                                 stopping may end it before model.epochs) */
    exp_metric best_epoch;    /* generative rows: the epoch of each seed's evaluated weights */
    int32_t n_stopped_early;  /* seeds whose model early stopping ended */
    double collision_rate;    /* 1 - distinct IDs / items, before disambiguation (mean over tasks) */
    exp_collisions ids;       /* generative rows: the ID table's collisions in detail */
    exp_decoder decoder;      /* generative rows */
    int64_t n_search, n_rec;
    double *search_hits;      /* (n_search) hits@K per test query, mean over seeds */
    double *rec_hits;         /* (n_rec) hits@K per test user, mean over seeds */
    /* Paired t-test against the best row of the same table (Bonferroni over
     * the other rows of the table); p = -1 for the best row itself. p_* pairs
     * the per-query hits (means over seeds); p_*_seeds pairs the per-seed
     * figures, seed i with seed i (NAN: fewer than 2 seeds). */
    double p_search, p_rec;
    double p_search_seeds, p_rec_seeds;
    /* Personalised search (model.personal_share > 0; n_personal = 0
     * otherwise): each test user's item from a vague query with the
     * history, and from the same query without it (the model's plain
     * search), per user in rec's order, so that personal pairs with plain
     * and with rec alone (rec_hits: the history without the query). p_*:
     * paired t-tests of personal against each, over users (hits averaged
     * over seeds) and, with 2 seeds or more, over seeds; NAN = no test. */
    exp_metric personal_recall, personal_ndcg, plain_recall, plain_ndcg;
    int64_t n_personal;
    double *personal_hits, *plain_hits; /* (n_personal) hits@K per user, mean over seeds */
    double p_personal_plain, p_personal_rec;
    double p_personal_plain_seeds, p_personal_rec_seeds;
    /* Search on the unseen-style test queries (queries.unseen_style > 0;
     * n_unseen = 0 otherwise and in rows without search): the same models,
     * another query set, compared within the table as search is. */
    exp_metric unseen_recall, unseen_ndcg;
    int64_t n_unseen;
    double *unseen_hits;      /* (n_unseen) hits@K per unseen-style query, mean over seeds */
    double p_unseen, p_unseen_seeds;
    int best_search, best_rec, best_unseen;
    double seconds;           /* training and evaluation time, all seeds */
    char failed[256];         /* non-empty: the row could not be computed, and why */
} exp_row;

typedef struct exp_results {
    int32_t n_rows, cap;
    exp_row *rows;
    char *config_json;        /* owned */
    char dataset_summary[512];
    int32_t k;
    double seconds;
} exp_results;

void exp_results_init(exp_results *r, int32_t k);
void exp_results_free(exp_results *r);
/* Frees a row's hit arrays (and sets them NULL). */
void exp_row_free_hits(exp_row *row);
/* Appends a row (copied; the hit arrays are taken over). */
semid_status exp_results_add(exp_results *r, const exp_row *row);
/* Records one seed's figure into a metric and refreshes mean and sd. */
void exp_metric_add(exp_metric *m, double value);
/* Fills best_* and p_* of every row, table by table. */
semid_status exp_results_compare(exp_results *r);
/* The figures a table compares its rows on. */
typedef enum { EXP_TASK_REC = 0, EXP_TASK_SEARCH = 1, EXP_TASK_UNSEEN = 2, EXP_N_TASKS = 3 } exp_task;

/* Whether a row differs from the best of its table on a task, at `alpha`
 * after Bonferroni: the per-query test, and with 2 seeds or more the seed
 * test as well (both must reject), so a gap within the seed-to-seed spread
 * is not called a difference. 0 for the best row and where a test could
 * not be made. */
int exp_row_differs(const exp_row *row, exp_task task, double alpha);

/* results.json (every figure, every seed, the config), written atomically. */
semid_status exp_results_write_json(const exp_results *r, const char *path);
/* report.md: the paper's three tables beside its published figures. */
semid_status exp_report_write_markdown(const exp_results *r, const char *path, const char *plot_name);
/* The paper's Figure 1: search Recall@K against recommendation Recall@K per
 * generative row, with the Pareto front marked. */
semid_status exp_plot_write_svg(const exp_results *r, const char *path);
/* The main table as plain text (for the terminal). Caller frees. */
char *exp_report_main_table_text(const exp_results *r);

#endif
