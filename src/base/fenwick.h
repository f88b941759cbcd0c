/* Weighted draws without replacement in O(log n): a Fenwick tree (binary
 * indexed tree) of non-negative weights, cut into slices (CSR starts) that
 * are drawn from separately. Removing an item zeroes its weight; the
 * removals since the last restore are logged and undone exactly (the old
 * node values are put back, so no rounding accumulates), as a synthetic
 * user's seen items are between users.
 *
 * A draw takes x in [0, total of the slice) and returns the position p
 * with prefix(p) <= x < prefix(p + 1), what semid_rng_weighted finds by a
 * scan; the sums are associated differently, so at a boundary within
 * rounding the two can differ. */
#ifndef SEMID_BASE_FENWICK_H
#define SEMID_BASE_FENWICK_H

#include <stdint.h>

#include "semid/semid.h"

typedef struct semid_fenwick {
    int32_t n, n_slices;
    double *tree;          /* (n) each slice its own 1-based tree over its positions */
    double *weight;        /* (n) the weights as given */
    int32_t *start;        /* (n_slices + 1) copied */
    int32_t *live;         /* (n_slices) positions not removed */
    uint8_t *removed;      /* (n) */
    struct semid_fenwick_undo *undo;
    int64_t n_undo, cap_undo;
} semid_fenwick;

/* w: n = start[n_slices] weights >= 0 in position order; max_removed: the
 * most removals between two restores. */
semid_status semid_fenwick_init(semid_fenwick *f, const double *w, const int32_t *start, int32_t n_slices,
                                int32_t max_removed);
void semid_fenwick_free(semid_fenwick *f);

/* The sum of the slice's weights not removed (0 when none is left). */
double semid_fenwick_total(const semid_fenwick *f, int32_t slice);
int32_t semid_fenwick_live(const semid_fenwick *f, int32_t slice);

/* The position (global, start[slice] + k) whose weight interval holds x,
 * or -1 if rounding put x past the last weight or on a removed position
 * (the caller then scans). */
int32_t semid_fenwick_find(const semid_fenwick *f, int32_t slice, double x);

/* Zeroes the weight at global position pos (logged); a removed position
 * or more than max_removed removals is a programming error (asserted). */
void semid_fenwick_remove(semid_fenwick *f, int32_t pos);
/* Undoes every removal since the last restore. */
void semid_fenwick_restore(semid_fenwick *f);

#endif
