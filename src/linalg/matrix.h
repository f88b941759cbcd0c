/* The dense matrix every stage passes around: embeddings, codebooks,
 * encoder outputs. */
#ifndef SEMID_LINALG_MATRIX_H
#define SEMID_LINALG_MATRIX_H

#include <stdint.h>

#include "semid/semid.h"

/* A dense row-major float32 matrix that owns its data. */
typedef struct semid_matrix {
    int64_t rows;
    int64_t cols;
    float *data;
} semid_matrix;

semid_status semid_matrix_alloc(semid_matrix *m, int64_t rows, int64_t cols); /* zeroed */
void semid_matrix_free(semid_matrix *m);

#endif
