#include "data/filter.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "data/id_index.h"

/* Marks users and items that survive k-core filtering, iterating until no
 * user or item falls below its threshold. */
static void kcore(const semid_dataset *ds, const semid_filter_options *o, uint8_t *user_alive, uint8_t *item_alive,
                  int64_t *user_count, int64_t *item_count) {
    int changed = 1;
    while (changed) {
        changed = 0;
        memset(item_count, 0, (size_t)ds->n_items * sizeof(int64_t));
        for (int32_t u = 0; u < ds->n_users; u++) {
            user_count[u] = 0;
            if (!user_alive[u]) continue;
            for (int64_t p = ds->user_offsets[u]; p < ds->user_offsets[u + 1]; p++) {
                int32_t i = ds->seq_items[p];
                if (!item_alive[i]) continue;
                user_count[u]++;
                item_count[i]++;
            }
        }
        for (int32_t u = 0; u < ds->n_users; u++) {
            if (user_alive[u] && (user_count[u] == 0 || user_count[u] < o->user_core)) {
                user_alive[u] = 0;
                changed = 1;
            }
        }
        for (int32_t i = 0; i < ds->n_items; i++) {
            if (item_alive[i] && o->item_core > 0 && item_count[i] < o->item_core) {
                item_alive[i] = 0;
                changed = 1;
            }
        }
    }
}

semid_status semid_dataset_filter(semid_dataset *ds, const semid_filter_options *o) {
    int32_t I = ds->n_items, U = ds->n_users;
    uint8_t *user_alive = malloc((size_t)U + 1), *item_alive = malloc((size_t)I + 1);
    int64_t *user_count = malloc(((size_t)U + 1) * sizeof(int64_t));
    int64_t *item_count = malloc(((size_t)I + 1) * sizeof(int64_t));
    int32_t *item_map = malloc(((size_t)I + 1) * sizeof(int32_t));
    semid_status st = SEMID_OK;
    if (!user_alive || !item_alive || !user_count || !item_count || !item_map) {
        st = semid_fail(SEMID_ENOMEM, "out of memory filtering the dataset");
        goto done;
    }
    memset(user_alive, 1, (size_t)U);
    memset(item_alive, 1, (size_t)I);
    kcore(ds, o, user_alive, item_alive, user_count, item_count);
    if (o->drop_uninteracted_items)
        for (int32_t i = 0; i < I; i++)
            if (item_count[i] == 0) item_alive[i] = 0;

    /* Compact items; the removed ones' strings are freed. */
    int32_t ni = 0;
    for (int32_t i = 0; i < I; i++) {
        if (item_alive[i]) {
            item_map[i] = ni;
            ds->items[ni++] = ds->items[i];
        } else {
            item_map[i] = -1;
            semid_item *it = &ds->items[i];
            free(it->id);
            free(it->title);
            free(it->genres);
            free(it->description);
            free(it->tags);
        }
    }
    /* Compact users and their interactions (in place: writes never pass reads). */
    int32_t nu = 0;
    int64_t np = 0;
    int64_t n_before = ds->n_interactions;
    for (int32_t u = 0; u < U; u++) {
        int64_t begin = ds->user_offsets[u], end = ds->user_offsets[u + 1];
        if (!user_alive[u]) {
            free(ds->user_ids[u]);
            continue;
        }
        ds->user_ids[nu] = ds->user_ids[u];
        ds->user_offsets[nu] = np;
        for (int64_t p = begin; p < end; p++) {
            int32_t m = item_map[ds->seq_items[p]];
            if (m < 0) continue;
            ds->seq_items[np] = m;
            ds->seq_times[np] = ds->seq_times[p];
            np++;
        }
        nu++;
    }
    ds->user_offsets[nu] = np;
    int32_t nq = 0;
    for (int32_t q = 0; q < ds->n_queries; q++) {
        int32_t m = item_map[ds->queries[q].item];
        if (m < 0) {
            free(ds->queries[q].text);
            continue;
        }
        ds->queries[nq] = ds->queries[q];
        ds->queries[nq++].item = m;
    }
    if (ni != I || nu != U || np != n_before)
        SEMID_INFO("filter: kept %d of %d items, %d of %d users, %lld of %lld interactions", ni, I, nu, U,
                   (long long)np, (long long)n_before);
    ds->n_items = ni;
    ds->n_users = nu;
    ds->n_interactions = np;
    ds->n_queries = nq;
    if (ni != I) st = semid_dataset_build_index(ds);
done:
    free(user_alive);
    free(item_alive);
    free(user_count);
    free(item_count);
    free(item_map);
    return st;
}
