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

/* Products for training (gen/layers.c): C (M x N) = op(A) op(B), plus C
 * when accumulate, op and strides as above; bias (N values, may be NULL) is
 * added to every row, in its place (it stands for C, which is then neither
 * read nor needed: the same sums as C filled with bias rows and accumulate). With AVX-512 the operands are
 * packed into panels and each result is one chain of fused multiply-adds
 * over k in order, starting from C or 0: the bits depend on the operands
 * alone, never on the thread count (products are split over
 * semid_get_threads() threads by tiles of the result). SEMID_GEMM_BF16
 * rounds both operands to bfloat16 (8 bits of mantissa) and sums pairs of
 * products in fp32 (AVX-512 BF16's dot product), about twice the fp32 rate;
 * a build without AVX-512 BF16 runs it in fp32 (semid_gemm_has_bf16 says
 * which). Without AVX-512 every product is semid_sgemm's; small products
 * are too. */
typedef enum semid_gemm_kind { SEMID_GEMM_FP32 = 0, SEMID_GEMM_BF16 = 1 } semid_gemm_kind;

void semid_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                const float *B, int64_t ldb, const float *bias, bool accumulate, float *C, int64_t ldc,
                semid_gemm_kind kind);
bool semid_gemm_has_bf16(void);

/* C (M x N) = A (M x K) B (K x N), plus C when accumulate, A and B as
 * stored (no transposes), on the calling thread with nothing allocated:
 * semid_gemm's fp32 register tiles (each result one chain of fused
 * multiply-adds over k in order) without its packing, for the small
 * products inside parallel loops (attention). Without AVX-512, a plain loop. */
void semid_gemm_small(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                      bool accumulate, float *C, int64_t ldc);

#endif
