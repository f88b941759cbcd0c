/* Item embeddings on disk: a .npy matrix (float32 or float64, one row per
 * item) beside an id list (one original item id a line; line i names row
 * i). This is how `semid embed` writes its results (DIR/<method>.npy +
 * DIR/items.txt) and how users bring their own vectors. */
#ifndef SEMID_EMBED_EMBED_IO_H
#define SEMID_EMBED_EMBED_IO_H

#include "data/dataset.h"
#include "linalg/matrix.h"
#include "semid/semid.h"

/* Reads vectors (npy_path) named by ids (ids_path) and arranges them in the
 * dataset's item order: out is I x D. Errors name the file and line or row:
 * a row count that differs from the number of ids, an id not in the
 * dataset, an id listed twice, an empty line, a dataset item with no row,
 * NaN/Inf in a row. */
semid_status semid_embed_import(const semid_dataset *ds, const char *npy_path, const char *ids_path,
                                semid_matrix *out);

/* Writes m (I x D, dataset item order) as dir/<name>.npy and the dataset's
 * item ids as dir/items.txt, both atomically; creates dir. */
semid_status semid_embed_export(const semid_dataset *ds, const semid_matrix *m, const char *dir, const char *name);

/* Reads dir/<name>.npy with the ids of dir/items.txt (semid_embed_import). */
semid_status semid_embed_load(const semid_dataset *ds, const char *dir, const char *name, semid_matrix *out);

#endif
