/* Held-out cold items (issue 15): a seeded share of the catalog that no
 * training stage may see, to measure how a trained system does on items
 * added after training (`semid catalog add`).
 *
 * From a dataset, semid_dataset_hold_out_items makes two:
 *   - `full`: every item, the warm ones first (indices 0 .. n_warm-1, in
 *     their original order), then the cold ones (n_warm .. n_items-1, in
 *     their original order), so that a bundle trained on `warm` and then
 *     given the cold items by `semid catalog add` lists its items in the
 *     same order. Every query of a cold item is a test query. A user's
 *     interactions with cold items are removed, except the last one of the
 *     user's sequence when it is a cold item and at least two warm ones
 *     precede it: it stays as the user's test item (chronological
 *     leave-last-out), so no cold item is ever in a training range or a
 *     validation item. Warm interactions and queries keep their order and
 *     split (a user whose last item was cold has a new last warm item as
 *     validation item).
 *   - `warm`: the warm items only, their queries and the users'
 *     interactions with them: what every training stage reads (content
 *     encoder, bi-encoders, ENMF, tokenizer, generative model).
 * Users keep their order in both (a user may have no interaction left).
 * n_cold = fraction * n_items rounded to the nearest integer, at least 1
 * and at most n_items - 1; which items is decided by `seed` alone. */
#ifndef SEMID_DATA_HOLDOUT_H
#define SEMID_DATA_HOLDOUT_H

#include <stdint.h>

#include "data/dataset.h"

/* n_cold for a catalog of n_items (0 when fraction is 0). */
int32_t semid_holdout_size(int32_t n_items, double fraction);

/* fraction in (0, 1); *n_warm gets the number of warm items. */
semid_status semid_dataset_hold_out_items(const semid_dataset *ds, double fraction, uint64_t seed,
                                          semid_dataset *full, semid_dataset *warm, int32_t *n_warm);

#endif
