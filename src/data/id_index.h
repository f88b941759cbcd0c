/* A hash map from original ids (strings) to compact indices, used for item
 * ids (owned by semid_dataset) and user ids (inside the builder). Open
 * addressing with linear probing; keys are copied into the index. */
#ifndef SEMID_DATA_ID_INDEX_H
#define SEMID_DATA_ID_INDEX_H

#include <stdint.h>

#include "semid/semid.h"

typedef struct semid_id_index semid_id_index;

/* `expected`: number of ids planned (a hint; the table grows as needed). */
semid_status semid_id_index_create(semid_id_index **out, int64_t expected);
void semid_id_index_free(semid_id_index *ix);

/* Maps id -> value (value >= 0). If the id is already present the index is
 * left unchanged and *existing (may be NULL) receives its value; otherwise
 * *existing = -1. */
semid_status semid_id_index_put(semid_id_index *ix, const char *id, int32_t value, int32_t *existing);

/* The value of `id`, or -1. */
int32_t semid_id_index_get(const semid_id_index *ix, const char *id);

int64_t semid_id_index_size(const semid_id_index *ix);

#endif
