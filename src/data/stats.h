/* Descriptive statistics of a dataset (semid data stats): sizes, sparsity,
 * sequence lengths, item popularity (head share, Gini) and queries. */
#ifndef SEMID_DATA_STATS_H
#define SEMID_DATA_STATS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "data/dataset.h"

typedef struct semid_dataset_stats {
    const char *name;           /* borrowed from the dataset */
    int32_t n_items, n_users, n_queries;
    int64_t n_interactions;
    double sparsity;            /* 1 - interactions / (users * items) */
    int64_t seq_min, seq_max;   /* interactions per user */
    double seq_median, seq_mean;
    int32_t users_evaluable;    /* users with a validation and a test item (>= 3 interactions) */
    int32_t items_cold;         /* items with no training interaction */
    int32_t items_described;    /* items with a non-empty description */
    double head_fraction;       /* as asked, e.g. 0.01 */
    int32_t head_items;         /* items in the head */
    double head_share;          /* share of training interactions on head items */
    double gini;                /* Gini coefficient of training interactions per item */
    int32_t queries_per_split[3]; /* train, valid, test */
} semid_dataset_stats;

semid_status semid_dataset_compute_stats(const semid_dataset *ds, double head_fraction, semid_dataset_stats *out);

/* A readable two-column table, one line a figure. Caller frees. */
char *semid_dataset_stats_table(const semid_dataset_stats *s);
/* The same as a JSON object. Caller frees with cJSON_Delete; NULL if out of memory. */
cJSON *semid_dataset_stats_json(const semid_dataset_stats *s);

#endif
