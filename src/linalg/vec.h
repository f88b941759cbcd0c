/* Small vector and row operations used across modules. */
#ifndef SEMID_LINALG_VEC_H
#define SEMID_LINALG_VEC_H

#include <stdbool.h>
#include <stdint.h>

float semid_dot(const float *a, const float *b, int64_t n);
void semid_axpy(float *y, float alpha, const float *x, int64_t n); /* y += alpha x */
void semid_scale(float *x, float alpha, int64_t n);
float semid_norm2(const float *x, int64_t n);
/* Scales each row of X (rows x cols) to unit L2 norm; zero rows stay zero. */
void semid_normalize_rows(float *X, int64_t rows, int64_t cols);
/* Index of the first non-finite value, or -1. */
int64_t semid_find_nonfinite(const float *x, int64_t n);
/* |x_i|^2 for each row. */
void semid_row_sqnorms(float *out, const float *X, int64_t rows, int64_t cols);

#endif
