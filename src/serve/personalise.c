#include "serve/personalise.h"

int32_t semid_serve_personalise(const int32_t *s_items, const float *s_scores, int32_t n_s, const int32_t *r_items,
                                const float *r_scores, int32_t n_r, const int32_t *history, int64_t n_hist, float w,
                                int32_t k, int32_t *out_items, float *out_scores) {
    float r_floor = 0.0f;
    for (int32_t j = 0; j < n_r; j++)
        if (j == 0 || r_scores[j] < r_floor) r_floor = r_scores[j];
    int32_t n_out = 0;
    for (int32_t i = 0; i < n_s; i++) {
        int32_t item = s_items[i];
        int seen = 0;
        for (int64_t h = 0; h < n_hist && !seen; h++) seen = history[h] == item;
        if (seen) continue;
        float r = r_floor;
        for (int32_t j = 0; j < n_r; j++)
            if (r_items[j] == item) {
                r = r_scores[j];
                break;
            }
        float score = s_scores[i] + w * r;
        /* Insert in order (stable: an equal score stays after earlier candidates). */
        int32_t at = n_out < k ? n_out : k;
        while (at > 0 && out_scores[at - 1] < score) at--;
        if (at >= k) continue;
        int32_t last = n_out < k ? n_out : k - 1;
        for (int32_t m = last; m > at; m--) {
            out_items[m] = out_items[m - 1];
            out_scores[m] = out_scores[m - 1];
        }
        out_items[at] = item;
        out_scores[at] = score;
        if (n_out < k) n_out++;
    }
    return n_out;
}
