/* k-means properties: the objective never rises, more centroids lower it,
 * degenerate inputs give valid output, bad inputs a clear error, and the
 * same seed gives the same centroids at any thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"
#include "quant/kmeans.h"
#include "semid/semid.h"

/* n points around `clusters` Gaussian centres in D dims. */
static float *blobs(int64_t n, int32_t D, int32_t clusters, uint64_t seed) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    float *centres = malloc(sizeof(float) * (size_t)(clusters * D));
    float *X = malloc(sizeof(float) * (size_t)(n * D));
    for (int64_t i = 0; i < (int64_t)clusters * D; i++) centres[i] = (float)(3.0 * semid_rng_normal(&r));
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (int64_t)semid_rng_below(&r, (uint64_t)clusters);
        for (int32_t j = 0; j < D; j++) X[i * D + j] = centres[c * D + j] + (float)semid_rng_normal(&r);
    }
    free(centres);
    return X;
}

static void test_objective_never_rises(void **state) {
    (void)state;
    const int64_t N = 2000;
    const int32_t D = 16, K = 40;
    float *X = blobs(N, D, 25, 7);
    float *C = malloc(sizeof(float) * K * D);
    for (int init = 0; init < 2; init++) {
        semid_kmeans_config cfg = semid_kmeans_defaults();
        cfg.init = (semid_kmeans_init)init;
        cfg.niter = 30;
        semid_kmeans_stats st;
        assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C, &st), SEMID_OK);
        assert_int_equal(st.iterations, 30);
        assert_int_equal(st.n_train, N);
        for (int i = 1; i <= st.iterations; i++)
            assert_true(st.objective[i] <= st.objective[i - 1] * (1 + 1e-6));
        assert_true(st.objective[st.iterations] < st.objective[0]);
        assert_true(st.seconds[st.iterations] >= st.seconds[0]);
        /* The recorded final objective is the true one. */
        double obj;
        assert_int_equal(semid_kmeans_objective(X, N, D, C, K, &obj), SEMID_OK);
        assert_true(fabs(obj - st.objective[st.iterations]) <= 1e-4 * obj);
        semid_kmeans_stats_free(&st);
    }
    free(X);
    free(C);
}

static void test_more_centroids_lower_error(void **state) {
    (void)state;
    const int64_t N = 3000;
    const int32_t D = 8;
    float *X = blobs(N, D, 100, 11);
    float *C = malloc(sizeof(float) * 64 * D);
    double obj32, obj64;
    semid_kmeans_config cfg = semid_kmeans_defaults();
    assert_int_equal(semid_kmeans_fit(X, N, D, 32, &cfg, C, NULL), SEMID_OK);
    assert_int_equal(semid_kmeans_objective(X, N, D, C, 32, &obj32), SEMID_OK);
    assert_int_equal(semid_kmeans_fit(X, N, D, 64, &cfg, C, NULL), SEMID_OK);
    assert_int_equal(semid_kmeans_objective(X, N, D, C, 64, &obj64), SEMID_OK);
    assert_true(obj64 < obj32);
    free(X);
    free(C);
}

/* Assignment through GEMM agrees with a direct nearest-centroid search. */
static void test_assign_matches_brute_force(void **state) {
    (void)state;
    const int64_t N = 500;
    const int32_t D = 12, K = 37;
    float *X = blobs(N, D, 10, 3), *C = blobs(K, D, 10, 4);
    int32_t *a = malloc(sizeof(int32_t) * N);
    float *d = malloc(sizeof(float) * N);
    assert_int_equal(semid_kmeans_assign(X, N, D, C, K, a, d), SEMID_OK);
    for (int64_t i = 0; i < N; i++) {
        double best = INFINITY;
        for (int32_t k = 0; k < K; k++) {
            double s = 0;
            for (int32_t j = 0; j < D; j++) s += pow((double)X[i * D + j] - C[k * D + j], 2);
            if (s < best) best = s;
        }
        double mine = 0;
        for (int32_t j = 0; j < D; j++) mine += pow((double)X[i * D + j] - C[a[i] * D + j], 2);
        assert_true(mine <= best + 1e-3 * (1 + best));
        assert_true(fabs(d[i] - best) <= 1e-3 * (1 + best));
        assert_true(d[i] >= 0);
    }
    free(X);
    free(C);
    free(a);
    free(d);
}

static int rows_equal(const float *a, const float *b, int32_t D) { return memcmp(a, b, sizeof(float) * D) == 0; }

/* 5 distinct points, k = 10: valid output, every point exactly represented. */
static void test_fewer_distinct_points_than_k(void **state) {
    (void)state;
    const int32_t D = 3, K = 10;
    const int64_t N = 50;
    float *X = malloc(sizeof(float) * N * D);
    for (int64_t i = 0; i < N; i++)
        for (int32_t j = 0; j < D; j++) X[i * D + j] = (float)((i % 5) * 10 + j);
    float *C = malloc(sizeof(float) * K * D);
    for (int init = 0; init < 2; init++) {
        semid_kmeans_config cfg = semid_kmeans_defaults();
        cfg.init = (semid_kmeans_init)init;
        double obj;
        assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C, NULL), SEMID_OK);
        assert_int_equal(semid_kmeans_objective(X, N, D, C, K, &obj), SEMID_OK);
        assert_true(obj < 1e-6);
        for (int64_t i = 0; i < K * D; i++) assert_true(isfinite(C[i]));
    }
    /* All points identical; and a single point with k = 1. */
    for (int64_t i = 0; i < N * D; i++) X[i] = 2.5f;
    assert_int_equal(semid_kmeans_fit(X, N, D, K, NULL, C, NULL), SEMID_OK);
    for (int32_t k = 0; k < K; k++) assert_true(rows_equal(C + k * D, X, D));
    assert_int_equal(semid_kmeans_fit(X, 1, D, 1, NULL, C, NULL), SEMID_OK);
    assert_true(rows_equal(C, X, D));
    /* One point, k = 3: an error by default, duplicated centroids when allowed. */
    assert_int_equal(semid_kmeans_fit(X, 1, D, 3, NULL, C, NULL), SEMID_EINVAL);
    semid_kmeans_config cfg = semid_kmeans_defaults();
    cfg.allow_fewer_points = 1;
    assert_int_equal(semid_kmeans_fit(X, 1, D, 3, &cfg, C, NULL), SEMID_OK);
    for (int32_t k = 0; k < 3; k++) assert_true(rows_equal(C + k * D, X, D));
    free(X);
    free(C);
}

static void test_bad_input(void **state) {
    (void)state;
    const int32_t D = 4;
    float *X = blobs(20, D, 2, 1);
    float C[4 * 4];
    X[7 * D + 2] = NAN;
    assert_int_equal(semid_kmeans_fit(X, 20, D, 4, NULL, C, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 7"));
    X[7 * D + 2] = INFINITY;
    assert_int_equal(semid_kmeans_fit(X, 20, D, 4, NULL, C, NULL), SEMID_ENUMERIC);
    X[7 * D + 2] = 0;
    assert_int_equal(semid_kmeans_fit(X, 0, D, 4, NULL, C, NULL), SEMID_EINVAL);
    assert_int_equal(semid_kmeans_fit(X, 20, D, 0, NULL, C, NULL), SEMID_EINVAL);
    assert_int_equal(semid_kmeans_fit(X, 20, 0, 4, NULL, C, NULL), SEMID_EINVAL);
    free(X);
}

/* Same seed: same centroids with 1 and 2 threads; another seed differs. */
static void test_deterministic(void **state) {
    (void)state;
    const int64_t N = 3000;
    const int32_t D = 10, K = 20;
    float *X = blobs(N, D, 30, 5);
    float *C1 = malloc(sizeof(float) * K * D), *C2 = malloc(sizeof(float) * K * D), *C3 = malloc(sizeof(float) * K * D);
    semid_kmeans_config cfg = semid_kmeans_defaults();
    cfg.max_points_per_centroid = 100; /* exercise the subsample too */
    cfg.threads = 1;
    semid_kmeans_stats st;
    assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C1, &st), SEMID_OK);
    assert_int_equal(st.n_train, 2000);
    semid_kmeans_stats_free(&st);
    cfg.threads = 2;
    assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C2, NULL), SEMID_OK);
    assert_memory_equal(C1, C2, sizeof(float) * K * D);
    assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C2, NULL), SEMID_OK);
    assert_memory_equal(C1, C2, sizeof(float) * K * D);
    cfg.seed = 99;
    assert_int_equal(semid_kmeans_fit(X, N, D, K, &cfg, C3, NULL), SEMID_OK);
    assert_true(memcmp(C1, C3, sizeof(float) * K * D) != 0);
    free(X);
    free(C1);
    free(C2);
    free(C3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objective_never_rises),
        cmocka_unit_test(test_more_centroids_lower_error),
        cmocka_unit_test(test_assign_matches_brute_force),
        cmocka_unit_test(test_fewer_distinct_points_than_k),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
