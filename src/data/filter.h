/* Filtering a finished dataset: k-core on users and items (iterated to a
 * fixed point) and dropping items nobody interacted with. Kept items and
 * users keep their relative order; queries of dropped items are dropped. */
#ifndef SEMID_DATA_FILTER_H
#define SEMID_DATA_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"

typedef struct semid_filter_options {
    int32_t user_core;            /* keep users with >= this many interactions (0 or 1 = all) */
    int32_t item_core;            /* keep items with >= this many interactions (0 = all) */
    bool drop_uninteracted_items; /* drop items with no interaction (after k-core) */
} semid_filter_options;

/* Rewrites *ds in place. Users left with no interaction are always dropped.
 * Counts of removed users/items/interactions go to the log (INFO). */
semid_status semid_dataset_filter(semid_dataset *ds, const semid_filter_options *opts);

#endif
