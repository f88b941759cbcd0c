#include "base/fenwick.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"

/* A node's value before a removal changed it; removals are logged as a
 * position with its node count following (node = -1 - pos). */
typedef struct semid_fenwick_undo {
    int32_t node;
    double old;
} semid_fenwick_undo;

static int32_t slice_of(const semid_fenwick *f, int32_t pos) {
    int32_t lo = 0, hi = f->n_slices - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (f->start[mid] <= pos) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

semid_status semid_fenwick_init(semid_fenwick *f, const double *w, const int32_t *start, int32_t n_slices,
                                int32_t max_removed) {
    memset(f, 0, sizeof *f);
    int32_t n = start[n_slices];
    int log2n = 1;
    while ((1 << log2n) < n && log2n < 31) log2n++;
    f->n = n;
    f->n_slices = n_slices;
    f->cap_undo = (int64_t)max_removed * (log2n + 2);
    f->tree = malloc((size_t)(n > 0 ? n : 1) * sizeof *f->tree);
    f->weight = malloc((size_t)(n > 0 ? n : 1) * sizeof *f->weight);
    f->start = malloc(((size_t)n_slices + 1) * sizeof *f->start);
    f->live = malloc((size_t)(n_slices > 0 ? n_slices : 1) * sizeof *f->live);
    f->removed = calloc((size_t)(n > 0 ? n : 1), 1);
    f->undo = malloc((size_t)(f->cap_undo > 0 ? f->cap_undo : 1) * sizeof *f->undo);
    if (!f->tree || !f->weight || !f->start || !f->live || !f->removed || !f->undo) {
        semid_fenwick_free(f);
        return semid_fail(SEMID_ENOMEM, "out of memory for a sampling tree of %d weights", n);
    }
    memcpy(f->start, start, ((size_t)n_slices + 1) * sizeof *start);
    memcpy(f->tree, w, (size_t)n * sizeof *w);
    memcpy(f->weight, w, (size_t)n * sizeof *w);
    for (int32_t s = 0; s < n_slices; s++) {
        int32_t s0 = start[s], m = start[s + 1] - s0;
        f->live[s] = m;
        /* Linear build: each node adds itself into its parent. */
        for (int32_t k = 1; k <= m; k++) {
            int32_t parent = k + (k & -k);
            if (parent <= m) f->tree[s0 + parent - 1] += f->tree[s0 + k - 1];
        }
    }
    return SEMID_OK;
}

void semid_fenwick_free(semid_fenwick *f) {
    free(f->tree);
    free(f->weight);
    free(f->start);
    free(f->live);
    free(f->removed);
    free(f->undo);
    memset(f, 0, sizeof *f);
}

double semid_fenwick_total(const semid_fenwick *f, int32_t slice) {
    if (f->live[slice] == 0) return 0.0;
    int32_t s0 = f->start[slice];
    double sum = 0.0;
    for (int32_t k = f->start[slice + 1] - s0; k > 0; k -= k & -k) sum += f->tree[s0 + k - 1];
    return sum;
}

int32_t semid_fenwick_live(const semid_fenwick *f, int32_t slice) { return f->live[slice]; }

int32_t semid_fenwick_find(const semid_fenwick *f, int32_t slice, double x) {
    int32_t s0 = f->start[slice], m = f->start[slice + 1] - s0;
    int32_t step = 1;
    while (step * 2 <= m) step *= 2;
    int32_t pos = 0;
    for (; step > 0; step /= 2)
        if (pos + step <= m && f->tree[s0 + pos + step - 1] <= x) {
            pos += step;
            x -= f->tree[s0 + pos - 1];
        }
    if (pos >= m || f->removed[s0 + pos]) return -1;
    return s0 + pos;
}

void semid_fenwick_remove(semid_fenwick *f, int32_t pos) {
    SEMID_ASSERT(pos >= 0 && pos < f->n && !f->removed[pos]);
    int32_t slice = slice_of(f, pos);
    int32_t s0 = f->start[slice], m = f->start[slice + 1] - s0;
    double w = f->weight[pos];
    int32_t k = pos - s0 + 1;
    SEMID_ASSERT(f->n_undo + 1 <= f->cap_undo);
    f->undo[f->n_undo++] = (semid_fenwick_undo){.node = -1 - pos, .old = 0.0};
    for (; k <= m; k += k & -k) {
        SEMID_ASSERT(f->n_undo + 1 <= f->cap_undo);
        f->undo[f->n_undo++] = (semid_fenwick_undo){.node = s0 + k - 1, .old = f->tree[s0 + k - 1]};
        f->tree[s0 + k - 1] -= w;
    }
    f->removed[pos] = 1;
    f->live[slice]--;
}

void semid_fenwick_restore(semid_fenwick *f) {
    for (int64_t i = f->n_undo - 1; i >= 0; i--) {
        const semid_fenwick_undo *u = &f->undo[i];
        if (u->node >= 0) {
            f->tree[u->node] = u->old;
        } else {
            int32_t pos = -1 - u->node;
            f->removed[pos] = 0;
            f->live[slice_of(f, pos)]++;
        }
    }
    f->n_undo = 0;
}
