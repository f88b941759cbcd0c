/* A loaded bundle as the server holds it: the model, its catalog view for
 * the JSON answers, a version string, and a reference count, so that a
 * reload can swap in a new bundle while requests in flight finish on the
 * old one (the last release frees it). */
#ifndef SEMID_SERVE_MODEL_REF_H
#define SEMID_SERVE_MODEL_REF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gen/dense.h"
#include "gen/generate.h"
#include "serve/response.h"

typedef struct semid_serve_model {
    semid_gen_bundle *bundle;
    semid_serve_catalog catalog; /* points into bundle and sid_codes */
    int32_t *sid_codes[2];       /* [task] (n_items, n_levels) level-local codes */
    char version[64];            /* "<ID-table fingerprint>-<load number>" */
    char *dir;
    semid_dense *dense;          /* the dense index for rerank: "dense", or NULL (none configured) */
    atomic_int refs;
} semid_serve_model;

/* Loads dir as load number `generation`; refs starts at 1 (the caller's).
 * dense (may be NULL: no dense re-ranking) names the encoder and item
 * vectors; the index is built with the bundle, so a reload re-encodes the
 * items a `semid catalog add` brought. */
semid_status semid_serve_model_load(const char *dir, const semid_dense_source *dense, uint64_t generation,
                                    semid_serve_model **out);
void semid_serve_model_retain(semid_serve_model *m);
/* Drops one reference; the last one frees the model. NULL is a no-op. */
void semid_serve_model_release(semid_serve_model *m);

/* Item index of an id, or -1 (the request parser's lookup callback; user is
 * the semid_serve_model). */
int32_t semid_serve_model_lookup(const char *id, void *user);

/* The current model, swappable under concurrent readers. */
typedef struct semid_serve_slot {
    pthread_mutex_t mu;
    semid_serve_model *current;
} semid_serve_slot;

void semid_serve_slot_init(semid_serve_slot *s, semid_serve_model *m); /* takes m's reference */
/* The current model with a reference for the caller (release it). */
semid_serve_model *semid_serve_slot_acquire(semid_serve_slot *s);
/* Puts m in (taking the caller's reference) and releases the old one. */
void semid_serve_slot_swap(semid_serve_slot *s, semid_serve_model *m);
void semid_serve_slot_destroy(semid_serve_slot *s);

#endif
