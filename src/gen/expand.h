/* Prefix expansion (TIGER's way, Rajput et al. 2023) of a beam search's
 * results, so that items the model cannot score well yet (items added to
 * the catalog after training: their last, disambiguation, token at a prefix
 * was never trained) are still returned when the model generates their
 * prefix.
 *
 * Given a query's beam hits H (best first, each with the log-probability of
 * its whole ID) and the beams before the last level (prefixes p, each with
 * its score s(p) = the sum of the log-probabilities of its tokens):
 *   - candidates E: every item under a live prefix p (the items of all
 *     leaves below p) that is not in H and not excluded, scored s(p); an
 *     item under several prefixes (diverse search) keeps the best; E is
 *     ordered by score, then popularity (most first), then item index;
 *   - the top k merges H and E by score (a tie goes to H), taking at most
 *     floor(share x k) items of E: the cap on their share of the top k.
 * Since s(p) >= the score of any full ID below p, an expanded item ranks
 * just above the hits of its own prefix; the cap keeps them from pushing
 * out the model's own ranking. share = 0 leaves H as it is. */
#ifndef SEMID_GEN_EXPAND_H
#define SEMID_GEN_EXPAND_H

#include <stdint.h>

#include "gen/beam.h"
#include "quant/trie.h"
#include "semid/semid.h"

/* Expands every query of `hits` in place (hits->prefix_* must be set, by a
 * search with keep_prefixes; hits->k stays). queries[i].exclude lists items
 * never to add (may be NULL: none); popularity may be NULL. share in [0, 1]. */
semid_status semid_expand_prefix(const semid_trie *trie, const semid_beam_query *queries, const int64_t *popularity,
                                 double share, semid_beam_hits *hits);

#endif
