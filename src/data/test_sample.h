/* Evaluating on a sample of the test split: at the paper's size (62,138
 * items, 621,380 test queries) decoding every test query for every model
 * is most of an experiment's time. semid_dataset_sample_test leaves all
 * but a seeded sample of the test queries (and of the users with a test
 * item) out of every evaluation of the test split; training, validation
 * and the dataset's files are unchanged (the sample lives in memory only).
 *
 * Every evaluation that reads the test split goes through
 * semid_dataset_query_tested (queries) and semid_dataset_user_split's
 * test_item (users, -1 for a user left out), so the sample is the same for
 * every row and seed of an experiment, and the paired tests stay paired. */
#ifndef SEMID_DATA_TEST_SAMPLE_H
#define SEMID_DATA_TEST_SAMPLE_H

#include <stdint.h>

#include "data/dataset.h"

/* What a sample kept, of how many. */
typedef struct semid_test_sample {
    int64_t queries, queries_total; /* test queries evaluated, test queries in the split */
    int64_t users, users_total;     /* users with a test item evaluated, of all such users */
} semid_test_sample;

/* Keeps exactly min(max_queries, test queries) test queries and
 * min(max_users, users with a test item) users, each drawn uniformly
 * without replacement from `seed` (the same seed and dataset give the same
 * sample); 0 = no limit, and a limit at or above the split's size keeps the
 * whole split (nothing is marked). Replaces any earlier sample. `out` may
 * be NULL. */
semid_status semid_dataset_sample_test(semid_dataset *ds, int64_t max_queries, int64_t max_users, uint64_t seed,
                                       semid_test_sample *out);

/* Drops the sample: the whole test split is evaluated again. */
void semid_dataset_clear_test_sample(semid_dataset *ds);

#endif
