#include "linalg/vec.h"

#include <math.h>

#include "semid/semid.h"

float semid_dot(const float *a, const float *b, int64_t n) {
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

void semid_axpy(float *y, float alpha, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void semid_scale(float *x, float alpha, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] *= alpha;
}

float semid_norm2(const float *x, int64_t n) { return sqrtf(semid_dot(x, x, n)); }

void semid_normalize_rows(float *X, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int64_t r = 0; r < rows; r++) {
        float *x = X + r * cols;
        float n = semid_norm2(x, cols);
        if (n > 0.0f) semid_scale(x, 1.0f / n, cols);
    }
}

int64_t semid_find_nonfinite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

void semid_row_sqnorms(float *out, const float *X, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
    for (int64_t r = 0; r < rows; r++) out[r] = semid_dot(X + r * cols, X + r * cols, cols);
}
