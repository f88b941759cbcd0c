#include "data/holdout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"
#include "data/builder.h"

int32_t semid_holdout_size(int32_t n_items, double fraction) {
    if (!(fraction > 0) || n_items < 2) return 0;
    double n = floor(fraction * n_items + 0.5);
    if (n < 1) n = 1;
    if (n > n_items - 1) n = n_items - 1;
    return (int32_t)n;
}

/* The user's items to keep in `full`: warm ones, and a cold last item
 * after at least two warm ones (the test item). */
static int keep_in_full(const semid_dataset *ds, const uint8_t *cold, int64_t end, int64_t j, int64_t n_warm_items) {
    return !cold[ds->seq_items[j]] || (j == end - 1 && n_warm_items >= 2);
}

/* Adds the items (warm first), users, interactions and queries to b;
 * with_cold = 0 leaves every cold item out. */
static semid_status build(const semid_dataset *ds, const uint8_t *cold, const int32_t *new_index, int with_cold,
                          semid_dataset_builder *b) {
    for (int pass = 0; pass < 1 + with_cold; pass++)
        for (int32_t i = 0; i < ds->n_items; i++)
            if (cold[i] == pass) SEMID_TRY(semid_builder_add_item(b, &ds->items[i], NULL));
    for (int32_t u = 0; u < ds->n_users; u++) {
        int32_t uu;
        SEMID_TRY(semid_builder_user(b, ds->user_ids[u], &uu));
        int64_t begin = ds->user_offsets[u], end = ds->user_offsets[u + 1], n_warm = 0;
        for (int64_t j = begin; j < end; j++) n_warm += !cold[ds->seq_items[j]];
        for (int64_t j = begin; j < end; j++) {
            int32_t it = ds->seq_items[j];
            if (!(with_cold ? keep_in_full(ds, cold, end, j, n_warm) : !cold[it])) continue;
            SEMID_TRY(semid_builder_add_interaction_idx(b, uu, new_index[it], ds->seq_times[j]));
        }
    }
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *qq = &ds->queries[q];
        if (cold[qq->item] && !with_cold) continue;
        SEMID_TRY(semid_builder_add_query(b, new_index[qq->item], qq->text,
                                          cold[qq->item] ? SEMID_SPLIT_TEST : (semid_split)qq->split));
    }
    return SEMID_OK;
}

static semid_status make(const semid_dataset *ds, const uint8_t *cold, const int32_t *new_index, int with_cold,
                         semid_dataset *out) {
    semid_dataset_builder *b = NULL;
    SEMID_TRY(semid_builder_create(&b, ds->name ? ds->name : "dataset"));
    semid_status st = build(ds, cold, new_index, with_cold, b);
    if (st != SEMID_OK) {
        semid_builder_free(b);
        return st;
    }
    return semid_builder_finish(b, out);
}

semid_status semid_dataset_hold_out_items(const semid_dataset *ds, double fraction, uint64_t seed,
                                          semid_dataset *full, semid_dataset *warm, int32_t *n_warm) {
    memset(full, 0, sizeof *full);
    memset(warm, 0, sizeof *warm);
    if (!(fraction > 0 && fraction < 1))
        return semid_fail(SEMID_EINVAL, "cold items: the held-out share %g is not in (0, 1)", fraction);
    int32_t n = ds->n_items, n_cold = semid_holdout_size(n, fraction);
    if (n_cold < 1) return semid_fail(SEMID_EINVAL, "cold items: a catalog of %d items has none to hold out", n);
    int32_t *order = malloc((size_t)n * sizeof *order), *new_index = malloc((size_t)n * sizeof *new_index);
    uint8_t *cold = calloc((size_t)n, 1);
    semid_status st = order && new_index && cold ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) {
        semid_rng r;
        semid_rng_seed(&r, seed);
        for (int32_t i = 0; i < n; i++) order[i] = i;
        semid_rng_shuffle_i32(&r, order, (size_t)n);
        for (int32_t j = 0; j < n_cold; j++) cold[order[j]] = 1;
        int32_t w = 0, c = n - n_cold;
        for (int32_t i = 0; i < n; i++) new_index[i] = cold[i] ? c++ : w++;
        *n_warm = n - n_cold;
        st = make(ds, cold, new_index, 1, full);
    }
    if (st == SEMID_OK) st = make(ds, cold, new_index, 0, warm);
    if (st != SEMID_OK) {
        semid_dataset_free(full);
        semid_dataset_free(warm);
    }
    free(order), free(new_index), free(cold);
    return st;
}
