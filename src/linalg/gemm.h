/* Dense matrix products. Row-major everywhere:
 *   C (M x N) = alpha * op(A) * op(B) + beta * C,
 * op(A) is M x K (A stored K x M when trans_a), op(B) is K x N (B stored
 * N x K when trans_b); lda/ldb/ldc are row strides in elements.
 * Above a small size threshold this calls OpenBLAS (big products split
 * over semid_get_threads() threads, each block one single-threaded BLAS
 * call); below it (and always
 * in semid_sgemm_ref, kept as the reference the tests compare with) a
 * plain loop, which is faster than BLAS's setup for tiny products. */
#ifndef SEMID_LINALG_GEMM_H
#define SEMID_LINALG_GEMM_H

#include <stdbool.h>
#include <stdint.h>

void semid_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc);

void semid_sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                     int64_t ldc);

#endif
