/* Stage caching in a run directory. Every stage writes its artifacts, then
 * a small marker DIR/<stage>.done holding the stage's key: a digest of the
 * settings it depends on and of the keys of the stages it reads. A stage is
 * reused when its marker holds the same key, so an interrupted experiment
 * resumes and a changed setting recomputes only what depends on it. */
#ifndef SEMID_EXP_CACHE_H
#define SEMID_EXP_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "semid/semid.h"

typedef struct exp_key {
    char hex[17];
} exp_key;

/* Digest of a description string (settings as text) and an upstream key. */
exp_key exp_key_make(const char *description, const exp_key *upstream);
/* Combines two upstream keys (order matters). */
exp_key exp_key_combine(const exp_key *a, const exp_key *b);

bool exp_stage_fresh(const char *run_dir, const char *stage, const exp_key *key);
/* Writes the marker atomically, after the stage's artifacts are in place. */
semid_status exp_stage_mark(const char *run_dir, const char *stage, const exp_key *key);

#endif
