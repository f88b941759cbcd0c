#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "base/rng.h"
#include "linalg/adamw.h"
#include "linalg/gemm.h"
#include "linalg/vec.h"

static void fill(float *x, int64_t n, semid_rng *r) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)semid_rng_normal(r);
}

/* BLAS and the reference loop agree for every transpose combination, with
 * strides wider than the matrices and beta accumulating. */
static void test_sgemm_matches_reference(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 1);
    const int64_t M = 37, N = 29, K = 53, pad = 3;
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            float *A = malloc(sizeof(float) * (size_t)(lda * (ta ? K : M)));
            float *B = malloc(sizeof(float) * (size_t)(ldb * (tb ? N : K)));
            float *C1 = malloc(sizeof(float) * (size_t)(ldc * M));
            float *C2 = malloc(sizeof(float) * (size_t)(ldc * M));
            fill(A, lda * (ta ? K : M), &r);
            fill(B, ldb * (tb ? N : K), &r);
            fill(C1, ldc * M, &r);
            for (int64_t i = 0; i < ldc * M; i++) C2[i] = C1[i];
            semid_sgemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C1, ldc);
            semid_sgemm_ref(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C2, ldc);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) assert_float_equal(C1[i * ldc + j], C2[i * ldc + j], 1e-3);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    }
}

static void test_normalize_and_nonfinite(void **state) {
    (void)state;
    float X[6] = {3, 4, 0, 0, 0, 0};
    semid_normalize_rows(X, 2, 3);
    assert_float_equal(X[0], 0.6f, 1e-6);
    assert_float_equal(X[1], 0.8f, 1e-6);
    assert_float_equal(X[3], 0.0f, 0);
    assert_int_equal(semid_find_nonfinite(X, 6), -1);
    X[4] = NAN;
    assert_int_equal(semid_find_nonfinite(X, 6), 4);
}

/* AdamW drives a quadratic to its minimum; the schedule warms up and decays. */
static void test_adamw_minimises_quadratic(void **state) {
    (void)state;
    semid_adamw_config cfg = semid_adamw_defaults();
    cfg.lr = 0.05f;
    cfg.weight_decay = 0.0f;
    semid_adamw opt;
    assert_int_equal(semid_adamw_init(&opt, &cfg, 3), SEMID_OK);
    float p[3] = {5, -3, 1}, target[3] = {1, 2, -1}, g[3];
    for (int step = 0; step < 2000; step++) {
        for (int i = 0; i < 3; i++) g[i] = 2.0f * (p[i] - target[i]);
        semid_adamw_step(&opt, p, g, NULL);
    }
    for (int i = 0; i < 3; i++) assert_float_equal(p[i], target[i], 1e-2);
    semid_adamw_free(&opt);

    cfg.warmup_steps = 10;
    cfg.total_steps = 110;
    cfg.decay = SEMID_LR_COSINE;
    assert_float_equal(semid_adamw_lr(&cfg, 0), cfg.lr / 10, 1e-7);
    assert_float_equal(semid_adamw_lr(&cfg, 9), cfg.lr, 1e-7);
    assert_float_equal(semid_adamw_lr(&cfg, 60), cfg.lr / 2, 1e-6);
    assert_float_equal(semid_adamw_lr(&cfg, 110), 0.0f, 1e-7);
}

static void test_adamw_clips_gradient_norm(void **state) {
    (void)state;
    semid_adamw_config cfg = semid_adamw_defaults();
    cfg.clip_norm = 1.0f;
    semid_adamw opt;
    assert_int_equal(semid_adamw_init(&opt, &cfg, 2), SEMID_OK);
    float p[2] = {0, 0}, g[2] = {30, 40};
    float norm = semid_adamw_step(&opt, p, g, NULL);
    assert_float_equal(norm, 50.0f, 1e-4);
    assert_float_equal(g[0], 0.6f, 1e-4);
    assert_float_equal(g[1], 0.8f, 1e-4);
    semid_adamw_free(&opt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_matches_reference),
        cmocka_unit_test(test_normalize_and_nonfinite),
        cmocka_unit_test(test_adamw_minimises_quadratic),
        cmocka_unit_test(test_adamw_clips_gradient_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
