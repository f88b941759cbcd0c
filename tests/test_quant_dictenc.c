/* Dictionary encoding: OMP codes against brute-force atom selection on tiny
 * cases, learning lowers the coding error, ordered distinct tuples,
 * determinism, files and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "quant/dictenc.h"
#include "quant/tokenizer.h"
#include "support/quant/fixtures.h"
#include "support/testutil.h"

static double dotd(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* With one atom per item the code is the atom of largest |<x, a>| (the best
 * single-atom approximation for unit atoms), checked by brute force. */
static void test_single_atom_brute_force(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 1);
    const int K = 7, D = 5, N = 40;
    float atoms[35], X[200];
    test_fill_normal(atoms, 35, &r, 1.0);
    test_fill_normal(X, 200, &r, 1.0);
    semid_dictenc *m;
    assert_int_equal(semid_dictenc_from_atoms(atoms, K, D, 1, 1, &m), SEMID_OK);
    semid_matrix M = {N, D, X};
    int32_t codes[40];
    float coefs[40], err[40];
    assert_int_equal(semid_dictenc_encode(m, &M, codes, NULL, coefs, err), SEMID_OK);
    for (int i = 0; i < N; i++) {
        int best = -1;
        double best_res = 1e30, xx = dotd(X + i * D, X + i * D, D);
        for (int k = 0; k < K; k++) {
            double c = dotd(X + i * D, m->atoms + k * D, D);
            double res = xx - c * c;
            if (res < best_res - 1e-9) best_res = res, best = k;
        }
        assert_int_equal(codes[i], best);
        assert_float_equal(err[i], best_res, 1e-4 * (xx + 1));
        assert_float_equal(coefs[i], dotd(X + i * D, m->atoms + best * D, D), 1e-4);
    }
    semid_dictenc_free(m);
}

/* With orthonormal atoms greedy OMP is exact: the two codes are the best
 * pair of atoms by brute force, ordered by |coefficient|. */
static void test_pair_brute_force(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 2);
    const int K = 6, D = 6, N = 30;
    float Q[36], X[180];
    test_fill_normal(Q, 36, &r, 1.0);
    for (int k = 0; k < K; k++) { /* Gram-Schmidt */
        for (int j = 0; j < k; j++) {
            double c = dotd(Q + k * D, Q + j * D, D);
            for (int t = 0; t < D; t++) Q[k * D + t] -= (float)c * Q[j * D + t];
        }
        double n = sqrt(dotd(Q + k * D, Q + k * D, D));
        for (int t = 0; t < D; t++) Q[k * D + t] /= (float)n;
    }
    test_fill_normal(X, 180, &r, 1.0);
    semid_dictenc *m;
    assert_int_equal(semid_dictenc_from_atoms(Q, K, D, 2, 2, &m), SEMID_OK);
    semid_matrix M = {N, D, X};
    int32_t codes[60];
    assert_int_equal(semid_dictenc_encode(m, &M, codes, NULL, NULL, NULL), SEMID_OK);
    for (int i = 0; i < N; i++) {
        /* Best pair: with orthonormal atoms the residual is |x|^2 - c_a^2 - c_b^2. */
        double best = -1;
        int ba = -1, bb = -1;
        for (int a = 0; a < K; a++)
            for (int b = a + 1; b < K; b++) {
                double ca = dotd(X + i * D, Q + a * D, D), cb = dotd(X + i * D, Q + b * D, D);
                if (ca * ca + cb * cb > best) {
                    best = ca * ca + cb * cb;
                    bool a_first = fabs(ca) >= fabs(cb);
                    ba = a_first ? a : b;
                    bb = a_first ? b : a;
                }
            }
        assert_int_equal(codes[i * 2], ba);
        assert_int_equal(codes[i * 2 + 1], bb);
    }
    semid_dictenc_free(m);
}

/* Items built from 3 of 32 hidden atoms: learning lowers the coding error
 * well below the data variance and below the random-items start. */
static void test_learning(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 3);
    const int64_t N = 800, D = 24, T = 32;
    float *truth = malloc(sizeof(float) * (size_t)(T * D));
    test_fill_normal(truth, T * D, &r, 1.0);
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, N, D), SEMID_OK);
    for (int64_t i = 0; i < N; i++)
        for (int t = 0; t < 3; t++) {
            int64_t a = (int64_t)semid_rng_below(&r, (uint64_t)T);
            float c = (float)(1.0 + semid_rng_uniform(&r)) * (semid_rng_uniform(&r) < 0.5 ? -1.0f : 1.0f);
            for (int64_t j = 0; j < D; j++) X.data[i * D + j] += c * truth[a * D + j];
        }
    semid_dictenc_config c = semid_dictenc_defaults();
    c.n_atoms = 32;
    c.levels = 2;
    c.sparsity = 3;
    c.iters = 15;
    semid_dictenc *m;
    semid_dictenc_report rep;
    assert_int_equal(semid_dictenc_fit(&X, &c, &m, &rep), SEMID_OK);
    printf("dict: variance %.4f, coding error %.4f -> %.4f, used %.2f/%.2f\n", rep.data_variance, rep.objective[0],
           rep.objective[rep.iters_run], rep.level_used_share[0], rep.level_used_share[1]);
    assert_true(rep.objective[rep.iters_run] < 0.5 * rep.objective[0]);
    assert_true(rep.objective[rep.iters_run] < 0.1 * rep.data_variance);
    /* Atoms are unit norm; codes are distinct ordered atoms in range. */
    for (int k = 0; k < 32; k++) assert_float_equal(dotd(m->atoms + k * D, m->atoms + k * D, D), 1.0, 1e-4);
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(N * 2)), *sup = malloc(sizeof(int32_t) * (size_t)(N * 3));
    float *coefs = malloc(sizeof(float) * (size_t)(N * 3));
    assert_int_equal(semid_dictenc_encode(m, &X, codes, sup, coefs, NULL), SEMID_OK);
    for (int64_t i = 0; i < N; i++) {
        assert_true(codes[i * 2] >= 0 && codes[i * 2] < 32);
        assert_true(codes[i * 2] != codes[i * 2 + 1]);
        assert_int_equal(codes[i * 2], sup[i * 3]);
        assert_true(fabsf(coefs[i * 3]) >= fabsf(coefs[i * 3 + 1]));
        assert_true(fabsf(coefs[i * 3 + 1]) >= fabsf(coefs[i * 3 + 2]));
    }
    /* Determinism (also across thread counts: OMP is per item) and files. */
    semid_set_threads(1);
    semid_dictenc *again;
    assert_int_equal(semid_dictenc_fit(&X, &c, &again, NULL), SEMID_OK);
    semid_set_threads(2);
    assert_memory_equal(m->atoms, again->atoms, sizeof(float) * 32 * (size_t)D);
    char *path = semid_path_join(test_tmp, "d.dict");
    assert_int_equal(semid_dictenc_save(m, path), SEMID_OK);
    semid_dictenc *back;
    assert_int_equal(semid_dictenc_load(path, &back), SEMID_OK);
    int32_t *codes2 = malloc(sizeof(int32_t) * (size_t)(N * 2));
    assert_int_equal(semid_dictenc_encode(back, &X, codes2, NULL, NULL, NULL), SEMID_OK);
    assert_memory_equal(codes, codes2, sizeof(int32_t) * (size_t)(N * 2));
    free(codes2);
    free(path);
    free(codes);
    free(sup);
    free(coefs);
    free(truth);
    semid_dictenc_report_free(&rep);
    semid_dictenc_free(m);
    semid_dictenc_free(again);
    semid_dictenc_free(back);
    semid_matrix_free(&X);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 4);
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, 20, 4), SEMID_OK);
    test_fill_normal(X.data, 80, &r, 1.0);
    semid_dictenc_config c = semid_dictenc_defaults();
    semid_dictenc *m;
    c.n_atoms = 21;
    assert_int_equal(semid_dictenc_fit(&X, &c, &m, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "21"));
    assert_non_null(strstr(semid_last_error(), "20"));
    c.n_atoms = 8;
    c.levels = 3;
    c.sparsity = 2;
    assert_int_equal(semid_dictenc_fit(&X, &c, &m, NULL), SEMID_EINVAL);
    c.sparsity = 0;
    X.data[13 * 4 + 1] = NAN;
    assert_int_equal(semid_dictenc_fit(&X, &c, &m, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 13"));
    X.data[13 * 4 + 1] = 1.0f;
    c.iters = 2;
    assert_int_equal(semid_dictenc_fit(&X, &c, &m, NULL), SEMID_OK);
    semid_matrix Y;
    assert_int_equal(semid_matrix_alloc(&Y, 2, 5), SEMID_OK);
    int32_t codes[6];
    assert_int_equal(semid_dictenc_encode(m, &Y, codes, NULL, NULL, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "width 5"));
    /* A zero vector still gets valid codes. */
    semid_matrix Z;
    assert_int_equal(semid_matrix_alloc(&Z, 1, 4), SEMID_OK);
    assert_int_equal(semid_dictenc_encode(m, &Z, codes, NULL, NULL, NULL), SEMID_OK);
    assert_true(codes[0] >= 0 && codes[0] < 8 && codes[1] != codes[0] && codes[2] != codes[1]);
    semid_matrix_free(&Z);
    semid_matrix_free(&Y);
    semid_dictenc_free(m);
    if (semid_tokenizer_find_method("dict")) {
        semid_tokenizer_config tc = semid_tokenizer_defaults();
        tc.method = "dict";
        tc.codebook_size = 8;
        tc.levels = 2;
        tc.iters = 3;
        semid_tokenizer *tok;
        assert_int_equal(semid_tokenizer_fit(&X, &tc, &tok), SEMID_OK);
        assert_int_equal(semid_tokenizer_level_size(tok, 1), 8);
        float out[8];
        int32_t cc[2] = {0, 1};
        assert_int_equal(semid_tokenizer_reconstruct(tok, cc, 1, 2, out), SEMID_EINVAL);
        char *path = semid_path_join(test_tmp, "tok.bin");
        assert_int_equal(semid_tokenizer_save(tok, path), SEMID_OK);
        semid_tokenizer *back;
        assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
        int32_t a[40], b[40];
        assert_int_equal(semid_tokenizer_encode(tok, &X, a), SEMID_OK);
        assert_int_equal(semid_tokenizer_encode(back, &X, b), SEMID_OK);
        assert_memory_equal(a, b, sizeof a);
        free(path);
        semid_tokenizer_free(tok);
        semid_tokenizer_free(back);
    }
    semid_matrix_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_atom_brute_force),
        cmocka_unit_test(test_pair_brute_force),
        cmocka_unit_test(test_learning),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, test_tmp_setup, test_tmp_teardown);
}
