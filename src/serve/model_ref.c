#include "serve/model_ref.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "base/status.h"

/* Level-local codes of every item for one task (the table's tokens less
 * each level's offset), as the answers show them. */
static semid_status build_codes(const semid_idtable *t, int task, int32_t **out) {
    int64_t L = t->n_levels, n = t->n_items;
    int32_t *codes = malloc((size_t)(n * L > 0 ? n * L : 1) * sizeof *codes);
    if (!codes) return semid_fail(SEMID_ENOMEM, "out of memory");
    const int32_t *src = t->codes + (int64_t)task * n * L;
    for (int64_t i = 0; i < n * L; i++) codes[i] = src[i];
    *out = codes;
    return SEMID_OK;
}

semid_status semid_serve_model_load(const char *dir, const semid_dense_source *dense, uint64_t generation,
                                    semid_serve_model **out) {
    *out = NULL;
    semid_serve_model *m = calloc(1, sizeof *m);
    if (!m) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_gen_bundle_load(dir, &m->bundle);
    m->dir = st == SEMID_OK ? semid_strdup(dir) : NULL;
    if (st == SEMID_OK && !m->dir) st = semid_fail(SEMID_ENOMEM, "out of memory");
    const semid_gen_bundle *b = m->bundle;
    int n_tasks = st == SEMID_OK ? b->table.n_tasks : 0;
    for (int task = 0; task < n_tasks && st == SEMID_OK; task++) st = build_codes(&b->table, task, &m->sid_codes[task]);
    if (st == SEMID_OK && dense) {
        m->dense = calloc(1, sizeof *m->dense);
        st = m->dense ? semid_dense_open(dense, b, m->dense) : semid_fail(SEMID_ENOMEM, "out of memory");
        if (st != SEMID_OK) free(m->dense), m->dense = NULL;
    }
    if (st != SEMID_OK) {
        atomic_init(&m->refs, 1);
        semid_serve_model_release(m);
        return st;
    }
    /* One ID space serves both tasks when the table has one task. */
    int rec_task = n_tasks > 1 ? SEMID_TASK_REC : SEMID_TASK_SEARCH;
    m->catalog = (semid_serve_catalog){
        .n_items = b->n_items,
        .ids = (const char *const *)b->item_ids,
        .titles = (const char *const *)b->titles,
        .years = b->years,
        .genres = (const char *const *)b->genres,
        .popularity = b->popularity,
        .sid = {m->sid_codes[SEMID_TASK_SEARCH], m->sid_codes[rec_task]},
        .n_levels = {b->table.n_levels, b->table.n_levels},
    };
    snprintf(m->version, sizeof m->version, "%016" PRIx64 "-%" PRIu64, b->table.fingerprint, generation);
    atomic_init(&m->refs, 1);
    *out = m;
    return SEMID_OK;
}

void semid_serve_model_retain(semid_serve_model *m) { atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed); }

void semid_serve_model_release(semid_serve_model *m) {
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    semid_gen_bundle_free(m->bundle);
    if (m->dense) semid_dense_close(m->dense);
    free(m->dense);
    free(m->sid_codes[0]);
    free(m->sid_codes[1]);
    free(m->dir);
    free(m);
}

int32_t semid_serve_model_lookup(const char *id, void *user) {
    return semid_gen_bundle_find_item(((const semid_serve_model *)user)->bundle, id);
}

void semid_serve_slot_init(semid_serve_slot *s, semid_serve_model *m) {
    pthread_mutex_init(&s->mu, NULL);
    s->current = m;
}

semid_serve_model *semid_serve_slot_acquire(semid_serve_slot *s) {
    pthread_mutex_lock(&s->mu);
    semid_serve_model *m = s->current;
    if (m) semid_serve_model_retain(m);
    pthread_mutex_unlock(&s->mu);
    return m;
}

void semid_serve_slot_swap(semid_serve_slot *s, semid_serve_model *m) {
    pthread_mutex_lock(&s->mu);
    semid_serve_model *old = s->current;
    s->current = m;
    pthread_mutex_unlock(&s->mu);
    semid_serve_model_release(old);
}

void semid_serve_slot_destroy(semid_serve_slot *s) {
    semid_serve_model_release(s->current);
    s->current = NULL;
    pthread_mutex_destroy(&s->mu);
}
