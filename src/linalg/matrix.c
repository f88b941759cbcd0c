#include "linalg/matrix.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/status.h"

semid_status semid_matrix_alloc(semid_matrix *m, int64_t rows, int64_t cols) {
    m->rows = m->cols = 0;
    m->data = NULL;
    size_t n, bytes;
    if (rows < 0 || cols < 0 || __builtin_mul_overflow((uint64_t)rows, (uint64_t)cols, &n) ||
        __builtin_mul_overflow(n, sizeof(float), &bytes) || bytes > (size_t)INT64_MAX)
        return semid_fail(SEMID_EINVAL, "a %lld x %lld matrix is not a valid size (negative, or over 2^63 bytes)",
                          (long long)rows, (long long)cols);
    m->rows = rows;
    m->cols = cols;
    m->data = calloc(n ? n : 1, sizeof(float));
    if (!m->data) return semid_fail(SEMID_ENOMEM, "out of memory for a %lld x %lld matrix", (long long)rows, (long long)cols);
    return SEMID_OK;
}

void semid_matrix_free(semid_matrix *m) {
    free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}
