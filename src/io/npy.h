/* NumPy .npy files (format 1.0/2.0/3.0), the exchange format for embeddings,
 * plus the item-id lists that name their rows.
 *
 * Both stay exactly what numpy and other readers expect: their checksum
 * goes into a sidecar, FILE.sum (base/fileio.h), written with them and
 * verified by the readers when present (SEMID_NO_VERIFY=1 skips it). */
#ifndef SEMID_IO_NPY_H
#define SEMID_IO_NPY_H

#include <stdint.h>

#include "linalg/matrix.h"
#include "semid/semid.h"

/* Reads a 1-D or 2-D little-endian C-order array of float32 or float64
 * (converted to float32). 1-D arrays become one column. Rejects other
 * dtypes, Fortran order, truncated data and NaN/Inf (naming the row and
 * column) with a message that names the file. */
semid_status semid_npy_read(const char *path, semid_matrix *out);

/* Writes a 2-D float32 array atomically. */
semid_status semid_npy_write(const char *path, const semid_matrix *m);

/* Writes a 1-D or 2-D int32 array (rows x cols; cols == 0 means 1-D). */
semid_status semid_npy_write_i32(const char *path, const int32_t *data, int64_t rows, int64_t cols);
/* Reads a 1-D or 2-D int32 or int64 array into int32 (cols = 1 for 1-D). */
semid_status semid_npy_read_i32(const char *path, int32_t **data, int64_t *rows, int64_t *cols);

/* An id list: one id a line, UTF-8, the i-th line names row i. */
semid_status semid_idlist_write(const char *path, char *const *ids, int64_t n);
/* Reads ids; rejects empty lines and duplicates (naming the line). */
semid_status semid_idlist_read(const char *path, char ***ids, int64_t *n);
void semid_idlist_free(char **ids, int64_t n);

#endif
