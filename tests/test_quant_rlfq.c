/* Residual LFQ: quantizer and regulariser gradients against central finite
 * differences, training on clustered data, determinism, files, bad input. */
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
#include "quant/rlfq.h"
#include "quant/tokenizer.h"
#include "quant/vq.h"
#include "support/quant/fixtures.h"
#include "support/testutil.h"

static void test_quantizer(void **state) {
    (void)state;
    /* Level 0 takes the signs; level 1 the signs of what is left at scale 1/2. */
    float z[3] = {0.8f, -0.2f, 1.7f}, resid[6], zq[3];
    int32_t codes[2];
    semid_rlfq_quantize(codes, resid, zq, z, 1, 3, 2, true);
    assert_int_equal(codes[0], 1 | 4);      /* + - + */
    /* residuals after level 0: -0.2, 0.8, 0.7 -> - + + */
    assert_int_equal(codes[1], 2 | 4);
    assert_float_equal(zq[0], 1.0f - 0.5f, 1e-6);
    assert_float_equal(zq[1], -1.0f + 0.5f, 1e-6);
    assert_float_equal(zq[2], 1.5f, 1e-6);
}

/* Commitment + entropy w.r.t. z, signs fixed: bits <= 12 takes the exact
 * batch entropy over all codes, more bits the per-bit approximation. */
static void check_regulariser(int64_t B, int bits, int L) {
    semid_rng r;
    semid_rng_seed(&r, 5);
    int64_t n = B * bits;
    float *z = malloc(sizeof(float) * (size_t)n), *resid = malloc(sizeof(float) * (size_t)(n * L));
    float *zq = malloc(sizeof(float) * (size_t)n), *dz = calloc((size_t)n, sizeof(float));
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)(B * L));
    test_fill_normal(z, n, &r, 0.8);
    semid_rlfq_quantize(codes, resid, zq, z, B, bits, L, true);
    const float beta = 0.25f, ew = 0.5f, temp = 1.0f;
    double commit, ent;
    assert_int_equal(semid_rlfq_reg_backward(dz, &commit, &ent, resid, codes, B, bits, L, beta, ew, temp, NULL), SEMID_OK);
    assert_true(ent > -2.0 * L && ent < 2.0 * L);
    const float eps = 1e-3f;
    for (int64_t i = 0; i < n; i++) {
        float keep = z[i];
        z[i] = keep + eps;
        semid_rlfq_quantize(codes, resid, zq, z, B, bits, L, false);
        double lp = 0, lm = 0;
        assert_int_equal(semid_rlfq_reg_backward(NULL, NULL, NULL, resid, codes, B, bits, L, beta, ew, temp, &lp), SEMID_OK);
        z[i] = keep - eps;
        semid_rlfq_quantize(codes, resid, zq, z, B, bits, L, false);
        assert_int_equal(semid_rlfq_reg_backward(NULL, NULL, NULL, resid, codes, B, bits, L, beta, ew, temp, &lm), SEMID_OK);
        z[i] = keep;
        test_assert_derivative(dz[i], (lp - lm) / (2 * eps), 2e-2, "regulariser dz", i);
    }
    free(z);
    free(resid);
    free(zq);
    free(dz);
    free(codes);
}

static void test_regulariser_gradient(void **state) {
    (void)state;
    check_regulariser(7, 3, 2);
    check_regulariser(3, 13, 1);
}

/* The exact batch entropy sees correlated bits: a batch whose two bits
 * always agree uses 2 of 4 codes and scores lower than independent bits. */
static void test_batch_entropy_sees_correlation(void **state) {
    (void)state;
    float zc[8] = {3, 3, -3, -3, 3, 3, -3, -3}, zi[8] = {3, 3, -3, -3, 3, -3, -3, 3};
    float resid[8], zq[8];
    int32_t codes[4];
    double ec, ei;
    semid_rlfq_quantize(codes, resid, zq, zc, 4, 2, 1, true);
    assert_int_equal(semid_rlfq_reg_backward(NULL, NULL, &ec, resid, codes, 4, 2, 1, 0.0f, 1.0f, 1.0f, NULL), SEMID_OK);
    semid_rlfq_quantize(codes, resid, zq, zi, 4, 2, 1, true);
    assert_int_equal(semid_rlfq_reg_backward(NULL, NULL, &ei, resid, codes, 4, 2, 1, 0.0f, 1.0f, 1.0f, NULL), SEMID_OK);
    /* entropy term = sample entropy (about 0 here) - batch entropy / bits */
    assert_float_equal(ec, -log(2.0) / 2, 1e-3);
    assert_float_equal(ei, -log(4.0) / 2, 1e-3);
}

static semid_rlfq_config small_config(void) {
    semid_rlfq_config c = semid_rlfq_defaults();
    c.bits = 4;
    c.hidden_dim = 32;
    c.n_hidden = 1;
    c.epochs = 150;
    c.batch_size = 128;
    c.lr = 3e-3f;
    /* 4 bits cannot collapse much; a light entropy term leaves the second
     * level more to do, so its benefit is clear. */
    c.entropy_weight = 0.1f;
    return c;
}

static void test_decoder_gradient(void **state) {
    (void)state;
    semid_matrix X = test_clustered(10, 8, 3, 3, 5);
    semid_rlfq_config c = small_config();
    c.bits = 3;
    c.act = SEMID_ACT_SILU;
    semid_rlfq *m;
    assert_int_equal(semid_rlfq_create(X.cols, &c, &m), SEMID_OK);
    int32_t codes[20];
    semid_rlfq_terms t;
    assert_int_equal(semid_rlfq_loss_grad(m, &X, NULL, codes, &t), SEMID_OK);
    float *g = malloc(sizeof(float) * (size_t)m->n_params);
    memcpy(g, m->grads, sizeof(float) * (size_t)m->n_params);
    const float eps = 1e-3f;
    for (int64_t i = m->dec.w_off[0]; i < m->n_params; i += 2) {
        float keep = m->params[i];
        m->params[i] = keep + eps;
        semid_rlfq_loss_grad(m, &X, codes, NULL, &t);
        double lp = t.total;
        m->params[i] = keep - eps;
        semid_rlfq_loss_grad(m, &X, codes, NULL, &t);
        double lm = t.total;
        m->params[i] = keep;
        test_assert_derivative(g[i], (lp - lm) / (2 * eps), 2e-2, "decoder", i);
    }
    free(g);
    semid_rlfq_free(m);
    semid_matrix_free(&X);
}

static void test_training_on_clusters(void **state) {
    (void)state;
    semid_matrix X = test_clustered(1024, 24, 16, 12, 11);
    semid_rlfq_config c = small_config();
    c.levels = 1;
    semid_rlfq *m1, *m2;
    semid_rlfq_report r1, r2;
    assert_int_equal(semid_rlfq_fit(&X, &c, &m1, &r1), SEMID_OK);
    c.levels = 2;
    assert_int_equal(semid_rlfq_fit(&X, &c, &m2, &r2), SEMID_OK);
    printf("rlfq: variance %.4f, recon L=1 %.4f, L=2 %.4f, loss %.4f -> %.4f, used %.2f/%.2f\n", r2.data_variance,
           r1.recon_mse, r2.recon_mse, r2.loss_first, r2.loss_last, r2.used_share[0], r2.used_share[1]);
    assert_true(r2.loss_last < 0.5 * r2.loss_first);
    assert_true(r1.recon_mse < 0.35 * r1.data_variance);
    assert_true(r2.recon_mse < 0.25 * r2.data_variance);
    assert_true(r2.recon_mse < 0.9 * r1.recon_mse);
    assert_true(r2.used_share[0] >= 0.5);

    char *path = semid_path_join(test_tmp, "m.rlfq");
    assert_int_equal(semid_rlfq_save(m2, path), SEMID_OK);
    semid_rlfq *back;
    assert_int_equal(semid_rlfq_load(path, &back), SEMID_OK);
    int32_t *a = malloc(sizeof(int32_t) * 2048), *b = malloc(sizeof(int32_t) * 2048);
    assert_int_equal(semid_rlfq_encode(m2, &X, a), SEMID_OK);
    assert_int_equal(semid_rlfq_encode(back, &X, b), SEMID_OK);
    assert_memory_equal(a, b, sizeof(int32_t) * 2048);
    float *rec = malloc(sizeof(float) * (size_t)(X.rows * X.cols));
    assert_int_equal(semid_rlfq_decode(back, a, X.rows, 2, rec), SEMID_OK);
    assert_float_equal(semid_quant_mse(rec, X.data, X.rows, X.cols), r2.recon_mse, 1e-5);
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    raw[8] = 9; /* version */
    assert_int_equal(semid_write_file_atomic(path, raw, len), SEMID_OK);
    semid_rlfq_free(back);
    assert_int_equal(semid_rlfq_load(path, &back), SEMID_EFORMAT);
    assert_null(back);
    assert_non_null(strstr(semid_last_error(), "is corrupt")); /* the checksum trailer */
    test_verify_off();
    assert_int_equal(semid_rlfq_load(path, &back), SEMID_EFORMAT);
    assert_null(back);
    assert_non_null(strstr(semid_last_error(), "version"));
    test_verify_on();
    free(raw);
    free(rec);
    free(a);
    free(b);
    free(path);
    semid_rlfq_free(back);
    semid_rlfq_free(m1);
    semid_rlfq_free(m2);
    semid_matrix_free(&X);
}

static void test_deterministic(void **state) {
    (void)state;
    semid_matrix X = test_clustered(300, 12, 6, 4, 2);
    semid_rlfq_config c = small_config();
    c.epochs = 5;
    semid_rlfq *a, *b, *other;
    assert_int_equal(semid_rlfq_fit(&X, &c, &a, NULL), SEMID_OK);
    assert_int_equal(semid_rlfq_fit(&X, &c, &b, NULL), SEMID_OK);
    assert_memory_equal(a->params, b->params, sizeof(float) * (size_t)a->n_params);
    c.seed = 77;
    assert_int_equal(semid_rlfq_fit(&X, &c, &other, NULL), SEMID_OK);
    assert_memory_not_equal(a->params, other->params, sizeof(float) * (size_t)a->n_params);
    semid_rlfq_free(a);
    semid_rlfq_free(b);
    semid_rlfq_free(other);
    semid_matrix_free(&X);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_matrix X = test_clustered(40, 6, 3, 3, 4);
    semid_rlfq_config c = small_config();
    c.epochs = 1;
    semid_rlfq *m;
    c.bits = 6; /* 64 codes > 40 items */
    assert_int_equal(semid_rlfq_fit(&X, &c, &m, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "64"));
    c.bits = 3;
    X.data[11 * 6] = INFINITY;
    assert_int_equal(semid_rlfq_fit(&X, &c, &m, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 11"));
    X.data[11 * 6] = 0.0f;
    assert_int_equal(semid_rlfq_fit(&X, &c, &m, NULL), SEMID_OK);
    semid_matrix Y;
    assert_int_equal(semid_matrix_alloc(&Y, 2, 7), SEMID_OK);
    int32_t codes[4];
    assert_int_equal(semid_rlfq_encode(m, &Y, codes), SEMID_EINVAL);
    semid_matrix_free(&Y);
    semid_rlfq_free(m);
    /* Through the tokenizer, K must be a power of two. */
    if (semid_tokenizer_find_method("rlfq")) {
        semid_tokenizer_config tc = semid_tokenizer_defaults();
        tc.method = "rlfq";
        tc.codebook_size = 12;
        semid_tokenizer *tok;
        assert_int_equal(semid_tokenizer_fit(&X, &tc, &tok), SEMID_EINVAL);
        assert_non_null(strstr(semid_last_error(), "power of two"));
    }
    semid_matrix_free(&X);
}

static void test_tokenizer_method(void **state) {
    (void)state;
    if (!semid_tokenizer_find_method("rlfq")) skip();
    semid_matrix X = test_clustered(256, 12, 8, 4, 8);
    semid_tokenizer_config tc = semid_tokenizer_defaults();
    tc.method = "rlfq";
    tc.codebook_size = 8;
    tc.iters = 10;
    semid_rlfq_config c = small_config();
    tc.method_config = &c;
    semid_tokenizer *tok;
    assert_int_equal(semid_tokenizer_fit(&X, &tc, &tok), SEMID_OK);
    assert_int_equal(semid_tokenizer_level_size(tok, 0), 8);
    int32_t *codes = malloc(sizeof(int32_t) * 512), *again = malloc(sizeof(int32_t) * 512);
    assert_int_equal(semid_tokenizer_encode(tok, &X, codes), SEMID_OK);
    for (int i = 0; i < 512; i++) assert_true(codes[i] >= 0 && codes[i] < 8);
    char *path = semid_path_join(test_tmp, "tok.bin");
    assert_int_equal(semid_tokenizer_save(tok, path), SEMID_OK);
    semid_tokenizer *back;
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    assert_int_equal(semid_tokenizer_encode(back, &X, again), SEMID_OK);
    assert_memory_equal(codes, again, sizeof(int32_t) * 512);
    free(codes);
    free(again);
    free(path);
    semid_tokenizer_free(tok);
    semid_tokenizer_free(back);
    semid_matrix_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantizer),
        cmocka_unit_test(test_regulariser_gradient),
        cmocka_unit_test(test_batch_entropy_sees_correlation),
        cmocka_unit_test(test_decoder_gradient),
        cmocka_unit_test(test_training_on_clusters),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_tokenizer_method),
    };
    return cmocka_run_group_tests(tests, test_tmp_setup, test_tmp_teardown);
}
