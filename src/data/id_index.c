#include "data/id_index.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"

typedef struct slot {
    char *key;     /* NULL = empty */
    uint64_t hash;
    int32_t value;
} slot;

struct semid_id_index {
    slot *slots;
    uint64_t cap;  /* a power of two */
    int64_t size;
};

/* FNV-1a, then a final mix so that the low bits used for the slot are good. */
static uint64_t hash_id(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static semid_status alloc_slots(semid_id_index *ix, uint64_t cap) {
    slot *slots = calloc(cap, sizeof(slot));
    if (!slots) return semid_fail(SEMID_ENOMEM, "out of memory (id index of %llu slots)", (unsigned long long)cap);
    ix->slots = slots;
    ix->cap = cap;
    return SEMID_OK;
}

semid_status semid_id_index_create(semid_id_index **out, int64_t expected) {
    *out = NULL;
    semid_id_index *ix = calloc(1, sizeof *ix);
    if (!ix) return semid_fail(SEMID_ENOMEM, "out of memory");
    uint64_t cap = 16;
    while (expected > 0 && cap < (uint64_t)expected * 2) cap *= 2;
    semid_status st = alloc_slots(ix, cap);
    if (st != SEMID_OK) {
        free(ix);
        return st;
    }
    *out = ix;
    return SEMID_OK;
}

void semid_id_index_free(semid_id_index *ix) {
    if (!ix) return;
    for (uint64_t i = 0; i < ix->cap; i++) free(ix->slots[i].key);
    free(ix->slots);
    free(ix);
}

static slot *find_slot(slot *slots, uint64_t cap, const char *id, uint64_t h) {
    uint64_t i = h & (cap - 1);
    while (slots[i].key && !(slots[i].hash == h && strcmp(slots[i].key, id) == 0)) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static semid_status grow(semid_id_index *ix) {
    slot *old = ix->slots;
    uint64_t old_cap = ix->cap;
    SEMID_TRY(alloc_slots(ix, old_cap * 2)); /* leaves ix unchanged on failure */
    for (uint64_t i = 0; i < old_cap; i++) {
        if (!old[i].key) continue;
        *find_slot(ix->slots, ix->cap, old[i].key, old[i].hash) = old[i];
    }
    free(old);
    return SEMID_OK;
}

semid_status semid_id_index_put(semid_id_index *ix, const char *id, int32_t value, int32_t *existing) {
    if (existing) *existing = -1;
    uint64_t h = hash_id(id);
    slot *s = find_slot(ix->slots, ix->cap, id, h);
    if (s->key) {
        if (existing) *existing = s->value;
        return SEMID_OK;
    }
    /* Keep the load factor at most 1/2. */
    if ((uint64_t)(ix->size + 1) * 2 > ix->cap) {
        SEMID_TRY(grow(ix));
        s = find_slot(ix->slots, ix->cap, id, h);
    }
    char *key = strdup(id);
    if (!key) return semid_fail(SEMID_ENOMEM, "out of memory");
    s->key = key;
    s->hash = h;
    s->value = value;
    ix->size++;
    return SEMID_OK;
}

int32_t semid_id_index_get(const semid_id_index *ix, const char *id) {
    if (!ix) return -1;
    uint64_t h = hash_id(id);
    const slot *s = find_slot(ix->slots, ix->cap, id, h);
    return s->key ? s->value : -1;
}

int64_t semid_id_index_size(const semid_id_index *ix) { return ix ? ix->size : 0; }
