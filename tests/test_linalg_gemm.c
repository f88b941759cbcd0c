/* semid_gemm, the training products: fp32 against the double-precision
 * reference, bit-identical at 1 and 2 threads, and bf16 within the error
 * its rounding allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "linalg/gemm.h"
#include "semid/semid.h"

static float *randn(semid_rng *r, int64_t n) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)semid_rng_normal(r);
    return x;
}

/* sum_k |op(A)(i,k)| |op(B)(k,j)|: the scale of a result's rounding error. */
static double abs_dot(bool ta, bool tb, const float *A, int64_t lda, const float *B, int64_t ldb, int64_t i, int64_t j,
                      int64_t K) {
    double s = 0;
    for (int64_t k = 0; k < K; k++)
        s += fabs((double)(ta ? A[k * lda + i] : A[i * lda + k])) * fabs((double)(tb ? B[j * ldb + k] : B[k * ldb + j]));
    return s;
}

/* Shapes: small (the plain path), odd edges (partial tiles, odd K for the
 * bf16 pairs, K over one block), and the model's. */
static const int64_t shapes[][3] = {{3, 5, 7}, {37, 45, 67}, {70, 33, 301}, {129, 100, 128}, {200, 384, 128}, {128, 128, 515}};

static void check(semid_gemm_kind kind) {
    semid_rng r;
    semid_rng_seed(&r, 3);
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int combo = 0; combo < 8; combo++) {
            bool ta = combo & 1, tb = combo & 2, acc = combo & 4;
            int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
            float *A = randn(&r, (ta ? K : M) * lda), *B = randn(&r, (tb ? N : K) * ldb);
            float *C0 = randn(&r, M * ldc);
            float *C1 = malloc((size_t)(M * ldc) * sizeof *C1), *C2 = malloc((size_t)(M * ldc) * sizeof *C2);
            float *ref = malloc((size_t)(M * ldc) * sizeof *ref);
            memcpy(C1, C0, (size_t)(M * ldc) * sizeof *C1);
            memcpy(C2, C0, (size_t)(M * ldc) * sizeof *C2);
            memcpy(ref, C0, (size_t)(M * ldc) * sizeof *ref);
            semid_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, acc ? 1.0f : 0.0f, ref, ldc);
            int saved = semid_get_threads();
            semid_set_threads(1);
            semid_gemm(ta, tb, M, N, K, A, lda, B, ldb, NULL, acc, C1, ldc, kind);
            semid_set_threads(2);
            semid_gemm(ta, tb, M, N, K, A, lda, B, ldb, NULL, acc, C2, ldc, kind);
            semid_set_threads(saved);
            /* the same bits at any thread count, the padding columns untouched */
            assert_memory_equal(C1, C2, (size_t)(M * ldc) * sizeof *C1);
            for (int64_t i = 0; i < M; i++) {
                for (int64_t j = N; j < ldc; j++) assert_true(C1[i * ldc + j] == C0[i * ldc + j]);
                for (int64_t j = 0; j < N; j++) {
                    /* fp32: a few ulp of the sum of |products|; bf16: both operands
                     * rounded to 8 significant bits (relative error <= 2^-9 each) */
                    double scale = abs_dot(ta, tb, A, lda, B, ldb, i, j, K) + (acc ? fabs(C0[i * ldc + j]) : 0);
                    double err = fabs((double)C1[i * ldc + j] - ref[i * ldc + j]) / scale;
                    worst = err > worst ? err : worst;
                    if (kind == SEMID_GEMM_FP32 || !semid_gemm_has_bf16()) assert_true(err < 1.2e-7 * (double)(K + 1));
                    else assert_true(err < 1.0 / 128);
                }
            }
            free(A), free(B), free(C0), free(C1), free(C2), free(ref);
        }
    }
    print_message("%s: worst error %.2e of the sum of |products|\n", kind == SEMID_GEMM_FP32 ? "fp32" : "bf16", worst);
    /* bf16 really rounds (when the build has it) */
    if (kind == SEMID_GEMM_BF16 && semid_gemm_has_bf16()) assert_true(worst > 1e-5);
}

static void test_fp32(void **state) {
    (void)state;
    check(SEMID_GEMM_FP32);
}

static void test_bf16(void **state) {
    (void)state;
    check(SEMID_GEMM_BF16);
}

/* Values bf16 holds exactly (small integers times powers of two) multiply
 * exactly: the bf16 product then equals the fp32 one. */
static void test_bf16_exact_values(void **state) {
    (void)state;
    enum { M = 40, N = 70, K = 33 };
    semid_rng r;
    semid_rng_seed(&r, 4);
    float A[M * K], B[K * N], C1[M * N], C2[M * N];
    for (int i = 0; i < M * K; i++) A[i] = (float)((int)semid_rng_below(&r, 31) - 15) * 0.25f;
    for (int i = 0; i < K * N; i++) B[i] = (float)((int)semid_rng_below(&r, 31) - 15) * 0.5f;
    semid_gemm(false, false, M, N, K, A, K, B, N, NULL, false, C1, N, SEMID_GEMM_FP32);
    semid_gemm(false, false, M, N, K, A, K, B, N, NULL, false, C2, N, SEMID_GEMM_BF16);
    assert_memory_equal(C1, C2, sizeof C1);
}

/* The small products (no packing, calling thread): against the reference,
 * over one k block and more, with and without accumulation. */
static void test_small(void **state) {
    (void)state;
    static const int64_t sh[][3] = {{1, 1, 1}, {5, 7, 3}, {8, 32, 32}, {13, 63, 32}, {63, 32, 63}, {20, 40, 600}};
    semid_rng r;
    semid_rng_seed(&r, 6);
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int64_t M = sh[s][0], N = sh[s][1], K = sh[s][2], lda = K + 2, ldb = N + 3, ldc = N + 1;
        for (int acc = 0; acc < 2; acc++) {
            float *A = randn(&r, M * lda), *B = randn(&r, K * ldb), *C1 = randn(&r, M * ldc);
            float *ref = malloc((size_t)(M * ldc) * sizeof *ref);
            memcpy(ref, C1, (size_t)(M * ldc) * sizeof *ref);
            semid_gemm_small(M, N, K, A, lda, B, ldb, acc, C1, ldc);
            semid_sgemm_ref(false, false, M, N, K, 1.0f, A, lda, B, ldb, acc ? 1.0f : 0.0f, ref, ldc);
            for (int64_t i = 0; i < M; i++) {
                for (int64_t j = N; j < ldc; j++) assert_true(C1[i * ldc + j] == ref[i * ldc + j]);
                for (int64_t j = 0; j < N; j++) {
                    double scale = abs_dot(false, false, A, lda, B, ldb, i, j, K) + 1e-30;
                    assert_true(fabs((double)C1[i * ldc + j] - ref[i * ldc + j]) / scale < 1.2e-7 * (double)(K + 2));
                }
            }
            free(A), free(B), free(C1), free(ref);
        }
    }
}

/* A bias stands for C filled with it and accumulated into: the same bits,
 * whether the product is packed or plain, over one k block or several. */
static void test_bias(void **state) {
    (void)state;
    static const int64_t sh[][3] = {{5, 7, 3}, {37, 45, 67}, {70, 100, 301}};
    semid_rng r;
    semid_rng_seed(&r, 7);
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int64_t M = sh[s][0], N = sh[s][1], K = sh[s][2];
        for (int kind = 0; kind < 2; kind++) {
            float *A = randn(&r, M * K), *B = randn(&r, N * K), *bias = randn(&r, N);
            float *C1 = randn(&r, M * N), *C2 = malloc((size_t)(M * N) * sizeof *C2);
            for (int64_t i = 0; i < M; i++) memcpy(C2 + i * N, bias, (size_t)N * sizeof *C2);
            semid_gemm(false, true, M, N, K, A, K, B, K, bias, false, C1, N, (semid_gemm_kind)kind);
            semid_gemm(false, true, M, N, K, A, K, B, K, NULL, true, C2, N, (semid_gemm_kind)kind);
            assert_memory_equal(C1, C2, (size_t)(M * N) * sizeof *C1);
            free(A), free(B), free(bias), free(C1), free(C2);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp32),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_bf16_exact_values),
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_bias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
