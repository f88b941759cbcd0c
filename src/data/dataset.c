#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/id_index.h"

void semid_dataset_free(semid_dataset *ds) {
    if (!ds) return;
    free(ds->name);
    for (int32_t i = 0; ds->items && i < ds->n_items; i++) {
        semid_item *it = &ds->items[i];
        free(it->id);
        free(it->title);
        free(it->genres);
        free(it->description);
        free(it->tags);
    }
    free(ds->items);
    for (int32_t u = 0; ds->user_ids && u < ds->n_users; u++) free(ds->user_ids[u]);
    free(ds->user_ids);
    free(ds->user_offsets);
    free(ds->seq_items);
    free(ds->seq_times);
    for (int32_t q = 0; ds->queries && q < ds->n_queries; q++) free(ds->queries[q].text);
    free(ds->queries);
    semid_id_index_free(ds->item_index);
    free(ds->test_left_out_queries);
    free(ds->test_left_out_users);
    memset(ds, 0, sizeof *ds);
}

int32_t semid_dataset_find_item(const semid_dataset *ds, const char *id) {
    if (ds->item_index) return semid_id_index_get(ds->item_index, id);
    for (int32_t i = 0; i < ds->n_items; i++)
        if (strcmp(ds->items[i].id, id) == 0) return i;
    return -1;
}

semid_user_split semid_dataset_user_split(const semid_dataset *ds, int32_t user) {
    SEMID_ASSERT(user >= 0 && user < ds->n_users);
    int64_t begin = ds->user_offsets[user], end = ds->user_offsets[user + 1];
    semid_user_split s = {.train_begin = begin, .train_end = end, .valid_item = -1, .test_item = -1};
    if (end - begin >= 3) {
        s.test_item = ds->test_left_out_users && ds->test_left_out_users[user] ? -1 : ds->seq_items[end - 1];
        s.valid_item = ds->seq_items[end - 2];
        s.train_end = end - 2;
    }
    return s;
}

void semid_dataset_train_counts(const semid_dataset *ds, int64_t *counts) {
    memset(counts, 0, (size_t)ds->n_items * sizeof(int64_t));
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split s = semid_dataset_user_split(ds, u);
        for (int64_t p = s.train_begin; p < s.train_end; p++) counts[ds->seq_items[p]]++;
    }
}

int32_t semid_dataset_head_size(int32_t n_items, double head_fraction) {
    if (n_items <= 0 || !(head_fraction > 0)) return 0;
    if (head_fraction >= 1) return n_items;
    double want = floor(head_fraction * (double)n_items + 0.5);
    int32_t k = (int32_t)want;
    if (k < 1) k = 1;
    return k > n_items ? n_items : k;
}

typedef struct ranked {
    int64_t count;
    int32_t item;
} ranked;

static int cmp_popular(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

int32_t semid_dataset_head_items(const semid_dataset *ds, double head_fraction, uint8_t *is_head) {
    int32_t n = ds->n_items;
    if (n <= 0) return 0;
    memset(is_head, 0, (size_t)n);
    int32_t k = semid_dataset_head_size(n, head_fraction);
    int64_t *counts = malloc((size_t)n * sizeof(int64_t));
    ranked *r = malloc((size_t)n * sizeof(ranked));
    if (!counts || !r) {
        free(counts);
        free(r);
        semid_fail(SEMID_ENOMEM, "out of memory ranking %d items", n);
        return -1;
    }
    semid_dataset_train_counts(ds, counts);
    for (int32_t i = 0; i < n; i++) r[i] = (ranked){.count = counts[i], .item = i};
    qsort(r, (size_t)n, sizeof(ranked), cmp_popular);
    for (int32_t i = 0; i < k; i++) is_head[r[i].item] = 1;
    free(counts);
    free(r);
    return k;
}

/* Appends ". " (unless the text so far ends a sentence) and `s`, with ", "
 * in place of bare commas when `commas`. */
static size_t append_field(char *out, size_t pos, const char *s, int commas) {
    if (!s || !*s) return pos;
    if (pos) {
        /* "Heat. 1995" but "Who? 1995", not "Who?. 1995". */
        if (out[pos - 1] != '.' && out[pos - 1] != '!' && out[pos - 1] != '?') out[pos++] = '.';
        out[pos++] = ' ';
    }
    for (; *s; s++) {
        out[pos++] = *s;
        if (commas && *s == ',' && s[1] != ' ') out[pos++] = ' ';
    }
    return pos;
}

char *semid_item_text(const semid_item *item) {
    char year[16] = "";
    if (item->year) snprintf(year, sizeof year, "%d", (int)item->year);
    const char *fields[5] = {item->title, year, item->genres, item->description, item->tags};
    const int commas[5] = {0, 0, 1, 0, 1};
    size_t cap = 1;
    for (int f = 0; f < 5; f++) cap += fields[f] ? 2 * strlen(fields[f]) + 2 : 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t pos = 0;
    for (int f = 0; f < 5; f++) pos = append_field(out, pos, fields[f], commas[f]);
    out[pos] = '\0';
    return out;
}

semid_status semid_dataset_validate(const semid_dataset *ds) {
    if (ds->n_items < 0 || ds->n_users < 0 || ds->n_queries < 0 || ds->n_interactions < 0)
        return semid_fail(SEMID_EFORMAT, "negative count in dataset");
    if (ds->n_users > 0 && !ds->user_offsets) return semid_fail(SEMID_EFORMAT, "dataset without user offsets");
    if (ds->user_offsets) {
        if (ds->user_offsets[0] != 0) return semid_fail(SEMID_EFORMAT, "user offsets do not start at 0");
        for (int32_t u = 0; u < ds->n_users; u++)
            if (ds->user_offsets[u + 1] < ds->user_offsets[u])
                return semid_fail(SEMID_EFORMAT, "user offsets decrease at user %d", u);
        if (ds->user_offsets[ds->n_users] != ds->n_interactions)
            return semid_fail(SEMID_EFORMAT, "user offsets end at %lld, not at %lld interactions",
                              (long long)ds->user_offsets[ds->n_users], (long long)ds->n_interactions);
    }
    for (int64_t p = 0; p < ds->n_interactions; p++)
        if (ds->seq_items[p] < 0 || ds->seq_items[p] >= ds->n_items)
            return semid_fail(SEMID_EFORMAT, "interaction %lld names item %d of %d", (long long)p, ds->seq_items[p],
                              ds->n_items);
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *qu = &ds->queries[q];
        if (qu->item < 0 || qu->item >= ds->n_items)
            return semid_fail(SEMID_EFORMAT, "query %d names item %d of %d", q, qu->item, ds->n_items);
        if (qu->split > SEMID_SPLIT_TEST) return semid_fail(SEMID_EFORMAT, "query %d has split %d", q, qu->split);
    }
    return SEMID_OK;
}

semid_status semid_dataset_build_index(semid_dataset *ds) {
    semid_id_index_free(ds->item_index);
    ds->item_index = NULL;
    semid_id_index *ix;
    SEMID_TRY(semid_id_index_create(&ix, ds->n_items));
    for (int32_t i = 0; i < ds->n_items; i++) {
        int32_t existing;
        semid_status st = semid_id_index_put(ix, ds->items[i].id, i, &existing);
        if (st == SEMID_OK && existing >= 0)
            st = semid_fail(SEMID_EFORMAT, "duplicate item id '%.200s' (items %d and %d)", ds->items[i].id, existing, i);
        if (st != SEMID_OK) {
            semid_id_index_free(ix);
            return st;
        }
    }
    ds->item_index = ix;
    return SEMID_OK;
}
