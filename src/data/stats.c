#include "data/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Gini of non-negative counts: sum_i (2i - n - 1) x_(i) / (n sum x), x sorted ascending. */
static double gini(int64_t *sorted, int64_t n) {
    double total = 0, weighted = 0;
    for (int64_t i = 0; i < n; i++) {
        total += (double)sorted[i];
        weighted += (double)(2 * (i + 1) - n - 1) * (double)sorted[i];
    }
    return total > 0 ? weighted / ((double)n * total) : 0;
}

semid_status semid_dataset_compute_stats(const semid_dataset *ds, double head_fraction, semid_dataset_stats *s) {
    memset(s, 0, sizeof *s);
    s->name = ds->name ? ds->name : "";
    s->n_items = ds->n_items;
    s->n_users = ds->n_users;
    s->n_queries = ds->n_queries;
    s->n_interactions = ds->n_interactions;
    s->head_fraction = head_fraction;
    double cells = (double)ds->n_users * (double)ds->n_items;
    s->sparsity = cells > 0 ? 1.0 - (double)ds->n_interactions / cells : 0;
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (ds->queries[q].split <= SEMID_SPLIT_TEST) s->queries_per_split[ds->queries[q].split]++;
    for (int32_t i = 0; i < ds->n_items; i++)
        if (ds->items[i].description && ds->items[i].description[0]) s->items_described++;

    int64_t U = ds->n_users, I = ds->n_items;
    int64_t *len = malloc((size_t)(U ? U : 1) * sizeof(int64_t));
    int64_t *counts = malloc((size_t)(I ? I : 1) * sizeof(int64_t));
    uint8_t *head = malloc((size_t)(I ? I : 1));
    if (!len || !counts || !head) {
        free(len);
        free(counts);
        free(head);
        return semid_fail(SEMID_ENOMEM, "out of memory computing statistics");
    }
    for (int64_t u = 0; u < U; u++) {
        len[u] = ds->user_offsets[u + 1] - ds->user_offsets[u];
        if (len[u] >= 3) s->users_evaluable++;
    }
    if (U > 0) {
        qsort(len, (size_t)U, sizeof(int64_t), cmp_i64);
        s->seq_min = len[0];
        s->seq_max = len[U - 1];
        s->seq_median = U % 2 ? (double)len[U / 2] : 0.5 * (double)(len[U / 2 - 1] + len[U / 2]);
        s->seq_mean = (double)ds->n_interactions / (double)U;
    }
    semid_status st = SEMID_OK;
    if (I > 0) {
        semid_dataset_train_counts(ds, counts);
        int32_t k = semid_dataset_head_items(ds, head_fraction, head);
        if (k < 0) st = SEMID_ENOMEM;
        s->head_items = k < 0 ? 0 : k;
        int64_t total = 0, on_head = 0;
        for (int64_t i = 0; i < I; i++) {
            total += counts[i];
            if (head[i]) on_head += counts[i];
            if (counts[i] == 0) s->items_cold++;
        }
        s->head_share = total ? (double)on_head / (double)total : 0;
        qsort(counts, (size_t)I, sizeof(int64_t), cmp_i64);
        s->gini = gini(counts, I);
    }
    free(len);
    free(counts);
    free(head);
    return st;
}

char *semid_dataset_stats_table(const semid_dataset_stats *s) {
    size_t cap = 4096;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t pos = 0;
#define ROW(label, ...)                                                                                              \
    do {                                                                                                             \
        pos += (size_t)snprintf(out + pos, cap - pos, "  %-38s ", label);                                            \
        pos += (size_t)snprintf(out + pos, cap - pos, __VA_ARGS__);                                                  \
        pos += (size_t)snprintf(out + pos, cap - pos, "\n");                                                         \
    } while (0)
    pos += (size_t)snprintf(out + pos, cap - pos, "dataset %s\n", s->name);
    ROW("items", "%d", s->n_items);
    ROW("users", "%d", s->n_users);
    ROW("interactions", "%lld", (long long)s->n_interactions);
    ROW("sparsity", "%.4f%%", 100.0 * s->sparsity);
    ROW("interactions per user (min)", "%lld", (long long)s->seq_min);
    ROW("interactions per user (median)", "%.1f", s->seq_median);
    ROW("interactions per user (mean)", "%.1f", s->seq_mean);
    ROW("interactions per user (max)", "%lld", (long long)s->seq_max);
    ROW("users with valid+test items", "%d", s->users_evaluable);
    ROW("items without training interactions", "%d", s->items_cold);
    ROW("items with a description", "%d", s->items_described);
    char label[64];
    snprintf(label, sizeof label, "head items (top %g%%)", 100.0 * s->head_fraction);
    ROW(label, "%d", s->head_items);
    ROW("head share of train interactions", "%.1f%%", 100.0 * s->head_share);
    ROW("Gini of item popularity", "%.3f", s->gini);
    ROW("queries", "%d", s->n_queries);
    ROW("queries train / valid / test", "%d / %d / %d", s->queries_per_split[0], s->queries_per_split[1],
        s->queries_per_split[2]);
#undef ROW
    return out;
}

cJSON *semid_dataset_stats_json(const semid_dataset_stats *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int ok = 1;
#define NUM(key, v) ok &= cJSON_AddNumberToObject(o, key, (double)(v)) != NULL
    ok &= cJSON_AddStringToObject(o, "name", s->name) != NULL;
    NUM("items", s->n_items);
    NUM("users", s->n_users);
    NUM("interactions", s->n_interactions);
    NUM("sparsity", s->sparsity);
    NUM("seq_min", s->seq_min);
    NUM("seq_median", s->seq_median);
    NUM("seq_mean", s->seq_mean);
    NUM("seq_max", s->seq_max);
    NUM("users_evaluable", s->users_evaluable);
    NUM("items_cold", s->items_cold);
    NUM("items_described", s->items_described);
    NUM("head_fraction", s->head_fraction);
    NUM("head_items", s->head_items);
    NUM("head_share", s->head_share);
    NUM("gini", s->gini);
    NUM("queries", s->n_queries);
    NUM("queries_train", s->queries_per_split[0]);
    NUM("queries_valid", s->queries_per_split[1]);
    NUM("queries_test", s->queries_per_split[2]);
#undef NUM
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
