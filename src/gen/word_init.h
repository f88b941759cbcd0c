/* Starting the generative model's query-word embeddings from pretrained word
 * vectors (GloVe), so that words the training queries use alike begin close
 * together instead of at random points.
 *
 * Each vocabulary word found in the table gets its vector through a fixed
 * random Gaussian projection to the model's width (which keeps the angles
 * between vectors, approximately), centred on the mean of the found words'
 * projections (GloVe vectors share a large common direction that would
 * otherwise make every word alike), then rescaled to the mean norm of the
 * model's randomly initialised word rows, so the scale the rest of the
 * model starts from is unchanged. Words not in the table, the unknown-word
 * buckets and every other token keep their random rows. */
#ifndef SEMID_GEN_WORD_INIT_H
#define SEMID_GEN_WORD_INIT_H

#include <stdint.h>

#include "gen/model.h"
#include "gen/vocab.h"
#include "semid/semid.h"
#include "text/wordvec.h"

/* *n_found (may be NULL) receives the number of words initialised. */
semid_status semid_gen_init_word_embeddings(semid_gpt *m, const semid_gen_vocab *v, const semid_wordvec *wv,
                                            uint64_t seed, int32_t *n_found);

#endif
