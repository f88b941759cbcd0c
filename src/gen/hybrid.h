/* Hybrid re-ranking (LIGER's way, Yang et al. 2024): the generative model's
 * top candidates and a dense index's nearest items, ranked together by a
 * score that mixes the two with ONE weight W in [0, 1].
 *
 * For one query, given
 *   - the beam's hits G (best first), each with its generative score g (the
 *     log-probability of its whole ID),
 *   - the cosine c(i) between the query's dense vector and every item i,
 * the candidates are C = G ∪ D, D = the n_dense items of largest cosine
 * (skipping items marked in `skip`: removed from the catalog, or a rec
 * query's history). An item of D that is not in G gets its generative score
 * by teacher forcing when a scorer is given (the model's log-probability of
 * its whole ID after the prompt: the score the beam would have given it);
 * otherwise, or if that is not finite, the lowest score of G (g_min; 0 when
 * G is empty): scored as the beam's last. Then, over C,
 *
 *     h(i) = W * z_g(i) + (1 - W) * z_c(i)
 *
 * with z_x(i) = (x(i) - mean_C(x)) / std_C(x) (the population standard
 * deviation; z = 0 for every candidate when std is 0): the two scores are
 * put on one scale by standardising them over the candidate set. Ties in h
 * go to the better beam rank (beam items first, in beam order), then the
 * larger cosine, then the lower item index. So W = 1 gives the beam's own
 * order for its items (without a scorer the dense-only candidates follow
 * them, by cosine; with one, a candidate the model scores higher than a hit
 * goes above it), and W = 0 ranks C by cosine alone. The top k of C by h are returned, h
 * as their score. */
#ifndef SEMID_GEN_HYBRID_H
#define SEMID_GEN_HYBRID_H

#include <stdint.h>

#include "gen/beam.h"
#include "semid/semid.h"

typedef struct semid_hybrid_options {
    double weight;   /* W: the generative score's weight, 0..1 (default 0.5) */
    int32_t n_dense; /* D: the dense index's candidates per query (default 20; 0 = none) */
    int32_t k;       /* results per query (default 10) */
    int32_t dot;     /* semid_hybrid_rerank's dense score: 0 = cosine (default), 1 =
                        the dot product (for vectors whose length means something:
                        ENMF's user . item is its own score, popularity in the norm) */
} semid_hybrid_options;

semid_hybrid_options semid_hybrid_defaults(void);

/* One query. gen_items/gen_scores: the beam's n_gen hits, best first (item
 * -1 entries are ignored). cos: (n_items) the cosine of every item (NaN or
 * -inf = not a candidate of D). skip (n_items, may be NULL): nonzero = never
 * added from D. gen_of (n_items, may be NULL): the generative score of any
 * item not in the beam's hits (NaN = none: g_min). out_items/out_scores (k): the ranking, -1 / -inf after the
 * last; *n_out (may be NULL) gets its length. */
semid_status semid_hybrid_rank(const int32_t *gen_items, const float *gen_scores, int32_t n_gen, const float *cos,
                               int32_t n_items, const uint8_t *skip, const float *gen_of, const semid_hybrid_options *o,
                               int32_t *out_items, float *out_scores, int32_t *n_out);

/* The dense candidates of one query: the n best of cos (desc, lower index
 * first on ties), skipping `skip`ped and non-finite ones, into top (n);
 * returns how many. */
int32_t semid_hybrid_dense_top(const float *cos, int32_t n_items, const uint8_t *skip, int32_t n, int32_t *top);

/* Teacher forcing for query q: out[j] = the generative score of items[j]
 * (n of them, none a beam hit). */
typedef semid_status (*semid_hybrid_scorer)(void *ctx, int64_t q, const int32_t *items, int32_t n, float *out);

/* Every query of `hits` (the beam's results, hits->k of them per query) with
 * its query vector (n x d rows of qvecs) against the item vectors (n_items x
 * d): cosines computed here (a zero vector has cosine 0 with everything), or
 * dot products when o->dot (then "cos" above means that score).
 * skip as above (shared by all queries); exclude (n, may be NULL): per query
 * a list of n_exclude[q] more items never added from D. scorer (may be
 * NULL: g_min) scores D's items the beam missed. out is allocated
 * with k = o->k (semid_beam_hits_free). */
semid_status semid_hybrid_rerank(const semid_beam_hits *hits, const float *qvecs, const float *item_vecs,
                                 int32_t n_items, int64_t d, const uint8_t *skip, const int32_t *const *exclude,
                                 const int32_t *n_exclude, semid_hybrid_scorer scorer, void *scorer_ctx,
                                 const semid_hybrid_options *o, semid_beam_hits *out);

#endif
