#include "linalg/gemm.h"

#include <cblas.h>
#include <omp.h>

#include "semid/semid.h"

/* Products with fewer multiply-adds than GEMM_BLAS_THRESHOLD run in the
 * plain loop; bigger ones go to BLAS in blocks of about
 * GEMM_SPLIT_THRESHOLD multiply-adds (semid_sgemm). */
enum { GEMM_BLAS_THRESHOLD = 16 * 16 * 16, GEMM_SPLIT_THRESHOLD = 128 * 128 * 64 };

void semid_sgemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                     int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                float a = trans_a ? A[k * lda + i] : A[i * lda + k];
                float b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += (double)a * (double)b;
            }
            float prev = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = prev + alpha * (float)acc;
        }
    }
}

static void blas_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C,
                (blasint)ldc);
}

/* semid links the OpenMP build of OpenBLAS (CMakeLists.txt). Called inside
 * an active OpenMP team it runs on the calling thread and is safe to call
 * from every thread of the team at once (Debian's serial build is not: 10
 * products in 2,000 came out wrong in a two-thread stress test); outside a
 * team it uses the calling thread's OpenMP count. If the process loaded
 * another build first (the soname is the same), products are not split. */
static bool blas_is_openmp(void) {
    static int kind = -1; /* benign race: every thread computes the same value */
    if (kind < 0) kind = openblas_get_parallel();
    return kind == 2;
}

/* One BLAS call on the calling thread only. Outside a team the OpenMP
 * build would use the caller's OpenMP count, so that count is 1 for the
 * call: a thread-local setting, restored at once. */
static void blas_sgemm_here(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                            int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (!blas_is_openmp() || omp_in_parallel()) {
        blas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    blas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    omp_set_num_threads(prev);
}

void semid_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                 int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    int64_t work = M * N * K;
    if (work < GEMM_BLAS_THRESHOLD) {
        semid_sgemm_ref(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Big products are cut along the longer side of C into blocks whose size
     * depends on the shape alone, never on the threads: OpenBLAS picks its
     * kernels by size, so the same blocks give the same bits whatever the
     * team. Threads then share the blocks, each block on one thread. */
    bool by_rows = M >= N;
    int64_t len = by_rows ? M : N, other = (by_rows ? N : M) * (K > 0 ? K : 1);
    int64_t block = (GEMM_SPLIT_THRESHOLD + other - 1) / other;
    block = (block + 63) / 64 * 64;
    int64_t parts = (len + block - 1) / block;
    int threads = semid_get_threads();
    if (threads > parts) threads = (int)parts;
    if (omp_in_parallel() || !blas_is_openmp()) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t p = 0; p < parts; p++) {
        int64_t lo = p * block, n = len - lo < block ? len - lo : block;
        if (by_rows)
            blas_sgemm_here(trans_a, trans_b, n, N, K, alpha, trans_a ? A + lo : A + lo * lda, lda, B, ldb, beta,
                            C + lo * ldc, ldc);
        else
            blas_sgemm_here(trans_a, trans_b, M, n, K, alpha, A, lda, trans_b ? B + lo * ldb : B + lo, ldb, beta,
                            C + lo, ldc);
    }
}
