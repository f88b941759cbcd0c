#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "embed/fusion.h"
#include "linalg/svd.h"

/* X = U diag(s) V^T built from known orthonormal factors: U's columns are
 * scaled standard basis vectors of R^n, V a 4x4 rotation (Givens pairs). */
static void known_matrix(float *X, int n, const double *s, double *V /* 4x4, columns = v_j */) {
    double c1 = cos(0.3), s1 = sin(0.3), c2 = cos(1.1), s2 = sin(1.1);
    double R1[16] = {c1, -s1, 0, 0, s1, c1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    double R2[16] = {1, 0, 0, 0, 0, c2, 0, -s2, 0, 0, 1, 0, 0, s2, 0, c2};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double a = 0;
            for (int t = 0; t < 4; t++) a += R1[i * 4 + t] * R2[t * 4 + j];
            V[i * 4 + j] = a;
        }
    memset(X, 0, (size_t)n * 4 * sizeof *X);
    /* Row i < 4 of X is s_i v_i^T (U = first four basis vectors). */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) X[i * 4 + j] = (float)(s[i] * V[j * 4 + i]);
}

static void test_svd_known(void **state) {
    (void)state;
    enum { N = 6 };
    double s[4] = {5, 3, 2, 0.5}, V[16];
    float X[N * 4];
    known_matrix(X, N, s, V);
    float sigma[4], vt[2 * 4];
    assert_int_equal(semid_svd_right(X, N, 4, 2, sigma, vt), SEMID_OK);
    for (int i = 0; i < 4; i++) assert_float_equal(sigma[i], s[i], 1e-4);
    /* Vectors match up to sign. */
    for (int j = 0; j < 2; j++) {
        double dot = 0;
        for (int i = 0; i < 4; i++) dot += vt[j * 4 + i] * V[i * 4 + j];
        assert_float_equal(fabs(dot), 1.0, 1e-5);
    }
    /* Rank-2 reconstruction X V_k V_k^T: error = sum of discarded sigma^2. */
    float proj[N * 2];
    semid_svd_project(proj, X, N, 4, vt, 2);
    double err = 0;
    for (int r = 0; r < N; r++)
        for (int c = 0; c < 4; c++) {
            double rec = 0;
            for (int j = 0; j < 2; j++) rec += proj[r * 2 + j] * vt[j * 4 + c];
            err += (X[r * 4 + c] - rec) * (X[r * 4 + c] - rec);
        }
    assert_float_equal(err, 2.0 * 2.0 + 0.5 * 0.5, 1e-4);
    assert_int_equal(semid_svd_right(X, N, 4, 5, sigma, vt), SEMID_EINVAL);
}

static void random_matrix(semid_matrix *m, int64_t rows, int64_t cols, uint64_t seed) {
    assert_int_equal(semid_matrix_alloc(m, rows, cols), SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < rows * cols; i++) m->data[i] = (float)(semid_rng_normal(&r) * 3.0);
}

static void test_concat(void **state) {
    (void)state;
    semid_matrix a, b, f;
    random_matrix(&a, 50, 8, 1);
    random_matrix(&b, 50, 5, 2);
    assert_int_equal(semid_fuse_concat(&a, &b, &f), SEMID_OK);
    assert_int_equal(f.rows, 50);
    assert_int_equal(f.cols, 13);
    for (int64_t i = 0; i < 50; i++) {
        double n2 = 0, na = 0;
        for (int j = 0; j < 13; j++) n2 += (double)f.data[i * 13 + j] * f.data[i * 13 + j];
        for (int j = 0; j < 8; j++) na += (double)a.data[i * 8 + j] * a.data[i * 8 + j];
        assert_float_equal(sqrt(n2), sqrt(2.0), 1e-5);
        /* The search half is the search row, normalised. */
        assert_float_equal(f.data[i * 13], a.data[i * 8] / sqrt(na), 1e-5);
    }
    semid_matrix_free(&f);
    semid_matrix c;
    random_matrix(&c, 49, 5, 3);
    assert_int_equal(semid_fuse_concat(&a, &c, &f), SEMID_EINVAL);
    semid_matrix_free(&a);
    semid_matrix_free(&b);
    semid_matrix_free(&c);
}

static void test_svd_fusion(void **state) {
    (void)state;
    semid_matrix a, b, f;
    random_matrix(&a, 60, 10, 4);
    random_matrix(&b, 60, 3, 5);
    assert_int_equal(semid_fuse_svd(&a, &b, &f), SEMID_OK);
    assert_int_equal(f.rows, 60);
    assert_int_equal(f.cols, 3);
    /* f - normalise(b) must be normalise(a) projected on a's top 3 right
     * singular vectors: its rows have norm <= 1 and their total squared
     * norm equals the top 3 squared singular values of normalise(a). */
    semid_matrix an;
    assert_int_equal(semid_matrix_alloc(&an, 60, 10), SEMID_OK);
    memcpy(an.data, a.data, 600 * sizeof(float));
    for (int i = 0; i < 60; i++) {
        double n = 0;
        for (int j = 0; j < 10; j++) n += (double)an.data[i * 10 + j] * an.data[i * 10 + j];
        for (int j = 0; j < 10; j++) an.data[i * 10 + j] /= (float)sqrt(n);
    }
    float sigma[10];
    assert_int_equal(semid_svd_right(an.data, 60, 10, 3, sigma, NULL), SEMID_OK);
    double total = 0;
    for (int i = 0; i < 60; i++) {
        double nb = 0, row = 0;
        for (int j = 0; j < 3; j++) nb += (double)b.data[i * 3 + j] * b.data[i * 3 + j];
        for (int j = 0; j < 3; j++) {
            double r = f.data[i * 3 + j] - b.data[i * 3 + j] / sqrt(nb);
            row += r * r;
        }
        assert_true(row <= 1.0 + 1e-5);
        total += row;
    }
    assert_float_equal(total, (double)sigma[0] * sigma[0] + sigma[1] * sigma[1] + sigma[2] * sigma[2], 1e-3);
    semid_matrix_free(&f);
    /* Equal widths: plain sum of normalised rows. */
    semid_matrix c;
    random_matrix(&c, 60, 3, 6);
    assert_int_equal(semid_fuse_svd(&c, &b, &f), SEMID_OK);
    assert_int_equal(f.cols, 3);
    semid_matrix_free(&f);
    semid_matrix_free(&a);
    semid_matrix_free(&b);
    semid_matrix_free(&c);
    semid_matrix_free(&an);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_svd_known),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_svd_fusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
