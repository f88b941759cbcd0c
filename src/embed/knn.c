/* Exact dot-product top-K: blocked GEMM, then a per-row heap (see knn.h). */
#include "embed/knn.h"

#include <math.h>
#include <stdlib.h>

#include "base/status.h"
#include "linalg/gemm.h"

/* Score buffer per block: at most this many floats (64 MiB). */
#define KNN_BLOCK_FLOATS (16ll << 20)

/* a ranks below b: lower score, or equal score and higher index. */
static inline int worse(float sa, int32_t ia, float sb, int32_t ib) { return sa < sb || (sa == sb && ia > ib); }

/* Min-heap on (score, -index): the root is the worst kept candidate. */
static void sift_down(float *hs, int32_t *hi, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(hs[l], hi[l], hs[m], hi[m])) m = l;
        if (r < n && worse(hs[r], hi[r], hs[m], hi[m])) m = r;
        if (m == i) return;
        float ts = hs[i];
        hs[i] = hs[m];
        hs[m] = ts;
        int32_t ti = hi[i];
        hi[i] = hi[m];
        hi[m] = ti;
        i = m;
    }
}

static void sift_up(float *hs, int32_t *hi, int32_t i) {
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!worse(hs[i], hi[i], hs[p], hi[p])) return;
        float ts = hs[i];
        hs[i] = hs[p];
        hs[p] = ts;
        int32_t ti = hi[i];
        hi[i] = hi[p];
        hi[p] = ti;
        i = p;
    }
}

int32_t semid_topk_select(const float *scores, int64_t n, int32_t k, int32_t *out_idx, float *out_score) {
    /* The output arrays double as the heap storage. */
    float *hs = out_score;
    int32_t *hi = out_idx;
    int32_t size = 0;
    for (int64_t i = 0; i < n; i++) {
        float s = scores[i];
        if (s == -INFINITY) continue;
        if (size < k) {
            hs[size] = s;
            hi[size] = (int32_t)i;
            sift_up(hs, hi, size);
            size++;
        } else if (worse(hs[0], hi[0], s, (int32_t)i)) {
            hs[0] = s;
            hi[0] = (int32_t)i;
            sift_down(hs, hi, size, 0);
        }
    }
    /* Heap sort in place: repeatedly move the worst to the end. */
    for (int32_t end = size - 1; end > 0; end--) {
        float ts = hs[0];
        hs[0] = hs[end];
        hs[end] = ts;
        int32_t ti = hi[0];
        hi[0] = hi[end];
        hi[end] = ti;
        sift_down(hs, hi, end, 0);
    }
    for (int32_t j = size; j < k; j++) {
        hs[j] = -INFINITY;
        hi[j] = -1;
    }
    return size;
}

semid_status semid_knn_topk(const float *queries, int64_t nq, const float *items, int64_t ni, int64_t d,
                            int32_t k, const semid_knn_exclude *exclude, int32_t *out_idx, float *out_score) {
    if (k < 1 || d < 1 || nq < 0 || ni < 0)
        return semid_fail(SEMID_EINVAL, "knn: bad sizes (queries %lld, items %lld, dim %lld, k %d)", (long long)nq,
                          (long long)ni, (long long)d, k);
    if (ni > INT32_MAX) return semid_fail(SEMID_EINVAL, "knn: too many items (%lld)", (long long)ni);
    if (nq == 0) return SEMID_OK;
    int64_t block = ni > 0 ? KNN_BLOCK_FLOATS / ni : nq;
    if (block < 1) block = 1;
    if (block > nq) block = nq;
    float *scores = malloc((size_t)(block * (ni > 0 ? ni : 1)) * sizeof *scores);
    float *tmp_scores = NULL;
    if (!out_score) tmp_scores = malloc((size_t)(nq * k) * sizeof *tmp_scores);
    if (!scores || (!out_score && !tmp_scores)) {
        free(scores);
        free(tmp_scores);
        return semid_fail(SEMID_ENOMEM, "knn: out of memory for a %lld x %lld score block", (long long)block,
                          (long long)ni);
    }
    float *all_scores = out_score ? out_score : tmp_scores;
    for (int64_t q0 = 0; q0 < nq; q0 += block) {
        int64_t nb = nq - q0 < block ? nq - q0 : block;
        if (ni > 0) semid_sgemm(false, true, nb, ni, d, 1.0f, queries + q0 * d, d, items, d, 0.0f, scores, ni);
#pragma omp parallel for schedule(dynamic, 16) if (nb * ni > (1 << 16)) num_threads(semid_get_threads())
        for (int64_t b = 0; b < nb; b++) {
            int64_t q = q0 + b;
            float *row = scores + b * ni;
            if (exclude && exclude->offsets) {
                for (int64_t e = exclude->offsets[q]; e < exclude->offsets[q + 1]; e++) {
                    int32_t it = exclude->items[e];
                    if (it >= 0 && it < ni) row[it] = -INFINITY;
                }
            }
            semid_topk_select(row, ni, k, out_idx + q * k, all_scores + q * k);
        }
    }
    free(scores);
    free(tmp_scores);
    return SEMID_OK;
}
