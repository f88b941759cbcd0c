#include "data/builder.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/id_index.h"

typedef struct event {
    int64_t time;
    int32_t user;
    int32_t item;
} event;

struct semid_dataset_builder {
    char *name;

    semid_item *items;
    int32_t n_items, cap_items;
    semid_id_index *item_index;

    char **user_ids;
    int32_t n_users, cap_users;
    semid_id_index *user_index;
    int32_t last_user; /* cache: consecutive rows usually share the user */

    event *events;
    int64_t n_events, cap_events;

    semid_query *queries;
    int32_t n_queries, cap_queries;
};

/* Grows *arr to hold at least `need` elements of `elem` bytes. */
static semid_status reserve(void **arr, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return SEMID_OK;
    int64_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return semid_fail(SEMID_ENOMEM, "out of memory (%lld elements)", (long long)n);
    *arr = p;
    *cap = n;
    return SEMID_OK;
}

static semid_status reserve32(void **arr, int32_t *cap, int64_t need, size_t elem) {
    if (need > INT32_MAX) return semid_fail(SEMID_EINVAL, "too many entries (%lld)", (long long)need);
    int64_t c = *cap;
    SEMID_TRY(reserve(arr, &c, need, elem));
    *cap = (int32_t)(c > INT32_MAX ? INT32_MAX : c);
    return SEMID_OK;
}

semid_status semid_builder_create(semid_dataset_builder **out, const char *name) {
    *out = NULL;
    semid_dataset_builder *b = calloc(1, sizeof *b);
    if (!b) return semid_fail(SEMID_ENOMEM, "out of memory");
    b->last_user = -1;
    b->name = semid_strdup(name ? name : "");
    semid_status st = b->name ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_id_index_create(&b->item_index, 1024);
    if (st == SEMID_OK) st = semid_id_index_create(&b->user_index, 1024);
    if (st != SEMID_OK) {
        semid_builder_free(b);
        return st;
    }
    *out = b;
    return SEMID_OK;
}

static void free_item(semid_item *it) {
    free(it->id);
    free(it->title);
    free(it->genres);
    free(it->description);
    free(it->tags);
}

void semid_builder_free(semid_dataset_builder *b) {
    if (!b) return;
    free(b->name);
    for (int32_t i = 0; i < b->n_items; i++) free_item(&b->items[i]);
    free(b->items);
    semid_id_index_free(b->item_index);
    for (int32_t u = 0; u < b->n_users; u++) free(b->user_ids[u]);
    free(b->user_ids);
    semid_id_index_free(b->user_index);
    free(b->events);
    for (int32_t q = 0; q < b->n_queries; q++) free(b->queries[q].text);
    free(b->queries);
    free(b);
}

static char *dup_or_empty(const char *s) { return semid_strdup(s ? s : ""); }

semid_status semid_builder_add_item(semid_dataset_builder *b, const semid_item *fields, int32_t *index) {
    if (index) *index = -1;
    if (!fields->id || !fields->id[0]) return semid_fail(SEMID_EINVAL, "empty item id");
    if (semid_id_index_get(b->item_index, fields->id) >= 0)
        return semid_fail(SEMID_EINVAL, "duplicate item id '%.200s'", fields->id);
    SEMID_TRY(reserve32((void **)&b->items, &b->cap_items, (int64_t)b->n_items + 1, sizeof(semid_item)));
    semid_item it = {
        .id = semid_strdup(fields->id),
        .title = dup_or_empty(fields->title),
        .year = fields->year,
        .genres = dup_or_empty(fields->genres),
        .description = dup_or_empty(fields->description),
        .tags = dup_or_empty(fields->tags),
    };
    if (!it.id || !it.title || !it.genres || !it.description || !it.tags) {
        free_item(&it);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    semid_status st = semid_id_index_put(b->item_index, it.id, b->n_items, NULL);
    if (st != SEMID_OK) {
        free_item(&it);
        return st;
    }
    if (index) *index = b->n_items;
    b->items[b->n_items++] = it;
    return SEMID_OK;
}

int32_t semid_builder_find_item(const semid_dataset_builder *b, const char *item_id) {
    return semid_id_index_get(b->item_index, item_id);
}

int32_t semid_builder_n_items(const semid_dataset_builder *b) { return b->n_items; }

static semid_status check_item(const semid_dataset_builder *b, int32_t item) {
    if (item < 0 || item >= b->n_items)
        return semid_fail(SEMID_EINVAL, "item index %d out of range (%d items)", item, b->n_items);
    return SEMID_OK;
}

semid_status semid_builder_set_description(semid_dataset_builder *b, int32_t item, const char *text) {
    SEMID_TRY(check_item(b, item));
    char *d = dup_or_empty(text);
    if (!d) return semid_fail(SEMID_ENOMEM, "out of memory");
    free(b->items[item].description);
    b->items[item].description = d;
    return SEMID_OK;
}

/* True if the comma-separated list contains `tag` as a whole entry. */
static int list_contains(const char *list, const char *tag, size_t len) {
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && memcmp(p, tag, len) == 0) return 1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

semid_status semid_builder_add_tag(semid_dataset_builder *b, int32_t item, const char *tag) {
    SEMID_TRY(check_item(b, item));
    while (*tag == ' ' || *tag == '\t') tag++;
    size_t len = strlen(tag);
    while (len > 0 && (tag[len - 1] == ' ' || tag[len - 1] == '\t')) len--;
    if (len == 0) return SEMID_OK;
    char *clean = malloc(len + 1);
    if (!clean) return semid_fail(SEMID_ENOMEM, "out of memory");
    /* Commas become spaces; runs of blanks collapse to one space. */
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = tag[i] == ',' || tag[i] == '\t' ? ' ' : tag[i];
        if (ch == ' ' && (k == 0 || clean[k - 1] == ' ')) continue;
        clean[k++] = ch;
    }
    while (k > 0 && clean[k - 1] == ' ') k--;
    clean[k] = '\0';
    len = k;
    if (len == 0) {
        free(clean);
        return SEMID_OK;
    }
    char *old = b->items[item].tags;
    if (list_contains(old, clean, len)) {
        free(clean);
        return SEMID_OK;
    }
    size_t olen = strlen(old);
    char *joined = malloc(olen + len + 2);
    if (!joined) {
        free(clean);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    memcpy(joined, old, olen);
    size_t pos = olen;
    if (olen) joined[pos++] = ',';
    memcpy(joined + pos, clean, len + 1);
    free(clean);
    free(old);
    b->items[item].tags = joined;
    return SEMID_OK;
}

semid_status semid_builder_user(semid_dataset_builder *b, const char *user_id, int32_t *index) {
    *index = -1;
    if (!user_id || !user_id[0]) return semid_fail(SEMID_EINVAL, "empty user id");
    if (b->last_user >= 0 && strcmp(b->user_ids[b->last_user], user_id) == 0) {
        *index = b->last_user;
        return SEMID_OK;
    }
    int32_t u = semid_id_index_get(b->user_index, user_id);
    if (u < 0) {
        SEMID_TRY(reserve32((void **)&b->user_ids, &b->cap_users, (int64_t)b->n_users + 1, sizeof(char *)));
        char *copy = semid_strdup(user_id);
        if (!copy) return semid_fail(SEMID_ENOMEM, "out of memory");
        semid_status st = semid_id_index_put(b->user_index, copy, b->n_users, NULL);
        if (st != SEMID_OK) {
            free(copy);
            return st;
        }
        u = b->n_users;
        b->user_ids[b->n_users++] = copy;
    }
    b->last_user = u;
    *index = u;
    return SEMID_OK;
}

semid_status semid_builder_add_interaction_idx(semid_dataset_builder *b, int32_t user, int32_t item, int64_t time) {
    SEMID_TRY(check_item(b, item));
    if (user < 0 || user >= b->n_users)
        return semid_fail(SEMID_EINVAL, "user index %d out of range (%d users)", user, b->n_users);
    SEMID_TRY(reserve((void **)&b->events, &b->cap_events, b->n_events + 1, sizeof(event)));
    b->events[b->n_events++] = (event){.time = time, .user = user, .item = item};
    return SEMID_OK;
}

semid_status semid_builder_add_interaction(semid_dataset_builder *b, const char *user_id, const char *item_id,
                                           int64_t time) {
    int32_t item = semid_id_index_get(b->item_index, item_id);
    if (item < 0) return semid_fail(SEMID_ENOTFOUND, "unknown item id '%.200s'", item_id);
    int32_t user;
    SEMID_TRY(semid_builder_user(b, user_id, &user));
    return semid_builder_add_interaction_idx(b, user, item, time);
}

semid_status semid_builder_add_query(semid_dataset_builder *b, int32_t item, const char *text, semid_split split) {
    SEMID_TRY(check_item(b, item));
    if (!text || !text[0]) return semid_fail(SEMID_EINVAL, "empty query");
    if ((int)split < SEMID_SPLIT_TRAIN || (int)split > SEMID_SPLIT_TEST)
        return semid_fail(SEMID_EINVAL, "bad split %d", (int)split);
    SEMID_TRY(reserve32((void **)&b->queries, &b->cap_queries, (int64_t)b->n_queries + 1, sizeof(semid_query)));
    char *copy = semid_strdup(text);
    if (!copy) return semid_fail(SEMID_ENOMEM, "out of memory");
    b->queries[b->n_queries++] = (semid_query){.text = copy, .item = item, .split = (uint8_t)split};
    return SEMID_OK;
}

/* Sort key that makes qsort stable: time, then order of addition. */
typedef struct keyed {
    int64_t time;
    int64_t pos;
    int32_t item;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorts seq[begin, end) by time, stably; most users arrive sorted. */
static semid_status sort_user(int32_t *items, int64_t *times, int64_t n, keyed **scratch, int64_t *scratch_cap) {
    int sorted = 1;
    for (int64_t i = 1; i < n && sorted; i++) sorted = times[i - 1] <= times[i];
    if (sorted) return SEMID_OK;
    SEMID_TRY(reserve((void **)scratch, scratch_cap, n, sizeof(keyed)));
    keyed *k = *scratch;
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){.time = times[i], .pos = i, .item = items[i]};
    qsort(k, (size_t)n, sizeof(keyed), cmp_keyed);
    for (int64_t i = 0; i < n; i++) {
        times[i] = k[i].time;
        items[i] = k[i].item;
    }
    return SEMID_OK;
}

semid_status semid_builder_finish(semid_dataset_builder *b, semid_dataset *out) {
    memset(out, 0, sizeof *out);
    semid_status st = SEMID_OK;
    int64_t n = b->n_events;
    int64_t *offsets = calloc((size_t)b->n_users + 1, sizeof(int64_t));
    int32_t *seq_items = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    int64_t *seq_times = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    int64_t *fill = calloc((size_t)b->n_users + 1, sizeof(int64_t));
    keyed *scratch = NULL;
    int64_t scratch_cap = 0;
    if (!offsets || !seq_items || !seq_times || !fill) {
        st = semid_fail(SEMID_ENOMEM, "out of memory building %lld interactions", (long long)n);
        goto fail;
    }
    /* CSR by counting; placement in order of addition keeps file order. */
    for (int64_t e = 0; e < n; e++) offsets[b->events[e].user + 1]++;
    for (int32_t u = 0; u < b->n_users; u++) offsets[u + 1] += offsets[u];
    for (int32_t u = 0; u < b->n_users; u++) fill[u] = offsets[u];
    for (int64_t e = 0; e < n; e++) {
        int64_t p = fill[b->events[e].user]++;
        seq_items[p] = b->events[e].item;
        seq_times[p] = b->events[e].time;
    }
    for (int32_t u = 0; u < b->n_users && st == SEMID_OK; u++) {
        int64_t s = offsets[u];
        st = sort_user(seq_items + s, seq_times + s, offsets[u + 1] - s, &scratch, &scratch_cap);
    }
    if (st != SEMID_OK) goto fail;
    free(fill);
    free(scratch);
    free(b->events);
    b->events = NULL;

    out->name = b->name;
    out->n_items = b->n_items;
    out->items = b->items;
    out->n_users = b->n_users;
    out->user_ids = b->user_ids;
    out->n_interactions = n;
    out->user_offsets = offsets;
    out->seq_items = seq_items;
    out->seq_times = seq_times;
    out->n_queries = b->n_queries;
    out->queries = b->queries;
    out->item_index = b->item_index;
    semid_id_index_free(b->user_index);
    free(b);
    return SEMID_OK;

fail:
    free(offsets);
    free(seq_items);
    free(seq_times);
    free(fill);
    free(scratch);
    semid_builder_free(b);
    return st;
}
