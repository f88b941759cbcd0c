/* Personalised search with today's two-prompt model (docs/serve.md): the
 * search beam's candidates re-scored by the recommendation beam of the
 * user's history,
 *   score = search score + w * rec score,
 * where an item missing from the rec beam takes that beam's lowest score
 * (no bonus for what the history does not point to; 0 when the rec beam
 * found nothing). Items of the history are left out. Ties keep the search
 * order. */
#ifndef SEMID_SERVE_PERSONALISE_H
#define SEMID_SERVE_PERSONALISE_H

#include <stdint.h>

/* Writes at most k items and scores, best first; returns how many. The
 * search candidates are s_items/s_scores (n_s of them, best first), the rec
 * ones r_items/r_scores (n_r). Needs no allocation: O(n_s * (n_r + n_hist)). */
int32_t semid_serve_personalise(const int32_t *s_items, const float *s_scores, int32_t n_s, const int32_t *r_items,
                                const float *r_scores, int32_t n_r, const int32_t *history, int64_t n_hist, float w,
                                int32_t k, int32_t *out_items, float *out_scores);

#endif
