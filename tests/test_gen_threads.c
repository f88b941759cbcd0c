/* The library's thread setting belongs to the calling thread: calls with a
 * `threads` option change nothing outside themselves, threads that set
 * different counts keep their own, big products give the same bits on any
 * team (and concurrently), and BLAS is OpenBLAS's OpenMP build. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>
#include <omp.h>

#include "base/rng.h"
#include "linalg/gemm.h"
#include "quant/kmeans.h"
#include "semid/semid.h"

static float *random_matrix(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (float)semid_rng_normal(&r);
    return x;
}

/* Shapes below, at and well above the split size, both split directions,
 * transposed operands: bitwise the same on 1, 2 and 3 threads, and close
 * to the double-precision reference loop. */
static void test_gemm_same_bits_on_any_team(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{40, 30, 20}, {700, 96, 128}, {96, 900, 128}, {1000, 128, 4032}, {128, 128, 4032}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                float *A = random_matrix(M * K, 1 + s), *B = random_matrix(K * N, 100 + s);
                float *C[3], *ref = calloc((size_t)(M * N), sizeof(float));
                int64_t lda = ta ? M : K, ldb = tb ? K : N;
                for (int t = 0; t < 3; t++) {
                    C[t] = calloc((size_t)(M * N), sizeof(float));
                    semid_set_threads(t + 1);
                    semid_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C[t], N);
                }
                semid_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, ref, N);
                assert_memory_equal(C[0], C[1], (size_t)(M * N) * sizeof(float));
                assert_memory_equal(C[0], C[2], (size_t)(M * N) * sizeof(float));
                for (int64_t i = 0; i < M * N; i++) assert_true(fabsf(C[0][i] - ref[i]) < 1e-3f * sqrtf((float)K));
                for (int t = 0; t < 3; t++) free(C[t]);
                free(ref), free(A), free(B);
            }
    }
    semid_set_threads(0);
}

typedef struct worker {
    int threads;
    int seen_before, seen_after;
    const float *A, *B;
    float *C;
    int64_t M, N, K;
    pthread_barrier_t *barrier;
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    semid_set_threads(w->threads);
    pthread_barrier_wait(w->barrier); /* every thread has set its own count */
    w->seen_before = semid_get_threads();
    for (int rep = 0; rep < 3; rep++)
        semid_sgemm(false, true, w->M, w->N, w->K, 1.0f, w->A, w->K, w->B, w->K, 0.0f, w->C, w->N);
    w->seen_after = semid_get_threads();
    return NULL;
}

/* Four threads with counts 1..4 multiply at once: each keeps its count and
 * gets the bits one thread alone gets. */
static void test_threads_keep_their_own_setting(void **state) {
    (void)state;
    enum { T = 4 };
    const int64_t M = 2048, N = 192, K = 256;
    float *A = random_matrix(M * K, 7), *B = random_matrix(N * K, 8), *want = calloc((size_t)(M * N), sizeof(float));
    semid_set_threads(1);
    semid_sgemm(false, true, M, N, K, 1.0f, A, K, B, K, 0.0f, want, N);
    semid_set_threads(0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, T);
    worker w[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker){.threads = i + 1, .A = A, .B = B, .M = M, .N = N, .K = K, .barrier = &barrier};
        w[i].C = calloc((size_t)(M * N), sizeof(float));
        assert_int_equal(pthread_create(&th[i], NULL, run_worker, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) {
        assert_int_equal(w[i].seen_before, i + 1);
        assert_int_equal(w[i].seen_after, i + 1);
        assert_memory_equal(w[i].C, want, (size_t)(M * N) * sizeof(float));
        free(w[i].C);
    }
    pthread_barrier_destroy(&barrier);
    free(A), free(B), free(want);
}

/* A call with its own `threads` option leaves the caller's setting, the
 * process's OpenMP count and the BLAS count as they were. */
static void test_call_option_changes_nothing_outside(void **state) {
    (void)state;
    semid_set_threads(1);
    int omp_before = omp_get_max_threads(), blas_before = openblas_get_num_threads();
    const int64_t N = 3000;
    const int32_t D = 16, K = 32;
    float *X = random_matrix(N * D, 3), *cent = malloc((size_t)K * D * sizeof(float));
    semid_kmeans_config cfg = semid_kmeans_defaults();
    cfg.threads = 3;
    cfg.niter = 3;
    assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, cent, NULL), SEMID_OK);
    assert_int_equal(semid_get_threads(), 1);
    assert_int_equal(omp_get_max_threads(), omp_before);
    assert_int_equal(openblas_get_num_threads(), blas_before);
    semid_set_threads(0);
    free(X), free(cent);
}

/* semid links the OpenMP build of OpenBLAS (CMakeLists.txt): the serial
 * build is not safe to call from several threads at once, and the pthreads
 * build brings its own process-wide pool. */
static void test_blas_is_openmp(void **state) {
    (void)state;
    assert_int_equal(openblas_get_parallel(), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_same_bits_on_any_team),
        cmocka_unit_test(test_threads_keep_their_own_setting),
        cmocka_unit_test(test_call_option_changes_nothing_outside),
        cmocka_unit_test(test_blas_is_openmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
