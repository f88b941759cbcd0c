/* Fixtures shared by the generative-model tests. */
#ifndef SEMID_TESTS_GEN_FIXTURES_H
#define SEMID_TESTS_GEN_FIXTURES_H

#include <stdint.h>

#include "data/dataset.h"
#include "quant/idtable.h"

/* The small synthetic dataset of the generative tests: 150 items in 8
 * topics, 400 users of 5..40 items, 6 queries an item (4 for training). */
void test_small_synth(semid_dataset *ds);

/* A disambiguated 2-level content ID table of `codebook` codes a level,
 * from feature-hashed item texts (each word adds +-1 to one of 64
 * dimensions): quick to make, and items with like texts share prefixes. */
void test_content_table(const semid_dataset *d, int32_t codebook, semid_idtable *out);

#endif
