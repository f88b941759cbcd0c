/* RQ-VAE and the layers under it: MLP and residual-VQ gradients against
 * central finite differences, training on clustered data, determinism,
 * the step budget of the training loop, files and bad input. */
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
#include "quant/mlp.h"
#include "quant/qtrain.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
#include "quant/vq.h"
#include "support/quant/fixtures.h"
#include "support/testutil.h"

/* Loss = sum(out * weights) of an MLP, for finite differences. */
static double mlp_loss(const semid_mlp *m, const float *p, semid_mlp_cache *c, const float *x, const float *wout,
                       int64_t B) {
    const float *out = semid_mlp_forward(m, p, c, x, B);
    double s = 0.0;
    for (int64_t i = 0; i < B * m->dims[m->n_layers]; i++) s += (double)out[i] * wout[i];
    return s;
}

static void check_mlp_grad(semid_act act) {
    semid_rng r;
    semid_rng_seed(&r, 7);
    semid_mlp m;
    int64_t off = 0, B = 5;
    assert_int_equal(semid_mlp_layout(&m, 6, 7, 2, 4, act, &off), SEMID_OK);
    assert_int_equal(off, semid_mlp_num_params(&m));
    float *p = malloc(sizeof(float) * (size_t)off), *g = calloc((size_t)off, sizeof(float));
    semid_mlp_init(&m, p, &r);
    for (int64_t i = 0; i < off; i++) p[i] += (float)(0.1 * semid_rng_normal(&r)); /* non-zero biases */
    float x[30], dx[30] = {0}, wout[20];
    test_fill_normal(x, 30, &r, 1.0);
    test_fill_normal(wout, 20, &r, 1.0);
    semid_mlp_cache c;
    assert_int_equal(semid_mlp_cache_alloc(&c, &m, B), SEMID_OK);
    mlp_loss(&m, p, &c, x, wout, B);
    semid_mlp_backward(&m, p, g, &c, wout, dx, B);
    const float eps = 1e-3f; /* small enough that ReLU kinks are rarely crossed */
    for (int64_t i = 0; i < off; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        double lp = mlp_loss(&m, p, &c, x, wout, B);
        p[i] = keep - eps;
        double lm = mlp_loss(&m, p, &c, x, wout, B);
        p[i] = keep;
        test_assert_derivative(g[i], (lp - lm) / (2 * eps), 2e-2, "mlp param", i);
    }
    for (int64_t i = 0; i < 30; i++) {
        float keep = x[i];
        x[i] = keep + eps;
        double lp = mlp_loss(&m, p, &c, x, wout, B);
        x[i] = keep - eps;
        double lm = mlp_loss(&m, p, &c, x, wout, B);
        x[i] = keep;
        test_assert_derivative(dx[i], (lp - lm) / (2 * eps), 2e-2, "mlp input", i);
    }
    /* Backward accumulates: a second pass doubles the gradients. */
    float g0 = g[3];
    mlp_loss(&m, p, &c, x, wout, B);
    semid_mlp_backward(&m, p, g, &c, wout, NULL, B);
    assert_float_equal(g[3], 2 * g0, 1e-5 * (fabsf(g0) + 1));
    semid_mlp_cache_free(&c);
    free(p);
    free(g);
}

static void test_mlp_gradients(void **state) {
    (void)state;
    check_mlp_grad(SEMID_ACT_SILU);
    check_mlp_grad(SEMID_ACT_RELU);
    check_mlp_grad(SEMID_ACT_NONE);
}

/* Commitment w.r.t. z and codebook loss w.r.t. the codebooks, codes fixed. */
static void test_rvq_gradients(void **state) {
    (void)state;
    semid_rng r;
    semid_rng_seed(&r, 3);
    const int64_t B = 6, d = 4, K = 5;
    const int L = 2;
    float z[24], C[40], resid[48], zq[24], dz[24] = {0}, dC[40] = {0};
    int32_t codes[12];
    test_fill_normal(z, 24, &r, 1.0);
    test_fill_normal(C, 40, &r, 1.0);
    assert_int_equal(semid_rvq_forward(codes, resid, zq, z, B, C, L, K, d, true), SEMID_OK);
    /* Level 0 picks the nearest codeword. */
    for (int64_t b = 0; b < B; b++) {
        double best = 1e30;
        int32_t arg = -1;
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += (z[b * d + j] - C[k * d + j]) * (z[b * d + j] - C[k * d + j]);
            if (s < best) best = s, arg = (int32_t)k;
        }
        assert_int_equal(codes[b * L], arg);
    }
    const float beta = 0.25f;
    semid_rvq_backward(dz, dC, 1.0f, beta, resid, codes, C, B, L, K, d);
    const float eps = 1e-2f;
    for (int64_t i = 0; i < B * d; i++) {
        float keep = z[i];
        z[i] = keep + eps;
        semid_rvq_forward(codes, resid, zq, z, B, C, L, K, d, false);
        double lp = beta * semid_rvq_sqerr(resid, codes, C, B, L, K, d);
        z[i] = keep - eps;
        semid_rvq_forward(codes, resid, zq, z, B, C, L, K, d, false);
        double lm = beta * semid_rvq_sqerr(resid, codes, C, B, L, K, d);
        z[i] = keep;
        test_assert_derivative(dz[i], (lp - lm) / (2 * eps), 1e-2, "commitment dz", i);
    }
    /* The last level's codebook changes no residual, so its finite
     * difference is exactly the codebook loss gradient. */
    for (int64_t i = K * d; i < 2 * K * d; i++) {
        float keep = C[i];
        C[i] = keep + eps;
        semid_rvq_forward(codes, resid, zq, z, B, C, L, K, d, false);
        double lp = semid_rvq_sqerr(resid, codes, C, B, L, K, d);
        C[i] = keep - eps;
        semid_rvq_forward(codes, resid, zq, z, B, C, L, K, d, false);
        double lm = semid_rvq_sqerr(resid, codes, C, B, L, K, d);
        C[i] = keep;
        test_assert_derivative(dC[i], (lp - lm) / (2 * eps), 1e-2, "codebook dC", i);
    }
}

static semid_rqvae_config small_config(void) {
    semid_rqvae_config c = semid_rqvae_defaults();
    c.latent_dim = 8;
    c.hidden_dim = 32;
    c.n_hidden = 1;
    c.codebook_size = 16;
    c.epochs = 150;
    c.batch_size = 128;
    c.lr = 3e-3f;
    return c;
}

/* Decoder parameters get the exact gradient of the reconstruction loss. */
static void test_decoder_gradient(void **state) {
    (void)state;
    semid_matrix X = test_clustered(12, 10, 3, 3, 5);
    semid_rqvae_config c = small_config();
    c.codebook_size = 4;
    c.act = SEMID_ACT_SILU;
    semid_rqvae *m;
    assert_int_equal(semid_rqvae_create(X.cols, &c, &m), SEMID_OK);
    int32_t codes[24];
    semid_rqvae_terms t;
    assert_int_equal(semid_rqvae_loss_grad(m, &X, NULL, codes, &t), SEMID_OK);
    assert_true(t.total > 0);
    float *g = malloc(sizeof(float) * (size_t)m->n_params);
    memcpy(g, m->grads, sizeof(float) * (size_t)m->n_params);
    const float eps = 1e-2f;
    int64_t first = m->dec.w_off[0], last = m->cb_off;
    for (int64_t i = first; i < last; i += 3) {
        float keep = m->params[i];
        m->params[i] = keep + eps;
        semid_rqvae_loss_grad(m, &X, codes, NULL, &t);
        double lp = t.total;
        m->params[i] = keep - eps;
        semid_rqvae_loss_grad(m, &X, codes, NULL, &t);
        double lm = t.total;
        m->params[i] = keep;
        test_assert_derivative(g[i], (lp - lm) / (2 * eps), 2e-2, "decoder", i);
    }
    free(g);
    semid_rqvae_free(m);
    semid_matrix_free(&X);
}

static void test_training_on_clusters(void **state) {
    (void)state;
    semid_matrix X = test_clustered(1024, 24, 16, 12, 11);
    semid_rqvae_config c = small_config();
    c.levels = 1;
    semid_rqvae *m1, *m2;
    semid_rqvae_report r1, r2;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m1, &r1), SEMID_OK);
    c.levels = 2;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m2, &r2), SEMID_OK);
    printf("rqvae: variance %.4f, recon L=1 %.4f, L=2 %.4f, loss %.4f -> %.4f, used %.2f/%.2f, resets %lld\n",
           r2.data_variance, r1.recon_mse, r2.recon_mse, r2.loss_first, r2.loss_last, r2.used_share[0],
           r2.used_share[1], (long long)r2.dead_resets);
    assert_true(r2.loss_last < 0.5 * r2.loss_first);
    assert_true(r1.recon_mse < 0.3 * r1.data_variance);
    assert_true(r2.recon_mse < 0.15 * r2.data_variance);
    assert_true(r2.recon_mse < 0.8 * r1.recon_mse);
    assert_true(r2.used_share[0] > 0.5);

    /* Cold start: items never seen in training (same clusters, drawn after
     * the training rows) are encoded and reconstructed about as well. */
    semid_matrix more = test_clustered(2048, 24, 16, 12, 11);
    semid_matrix unseen = {1024, 24, more.data + 1024 * 24};
    int32_t *uc = malloc(sizeof(int32_t) * 2048);
    float *urec = malloc(sizeof(float) * 1024 * 24);
    assert_int_equal(semid_rqvae_encode(m2, &unseen, uc), SEMID_OK);
    assert_int_equal(semid_rqvae_decode(m2, uc, 1024, 2, urec), SEMID_OK);
    double unseen_mse = semid_quant_mse(urec, unseen.data, 1024, 24);
    printf("rqvae: unseen items recon %.4f\n", unseen_mse);
    assert_true(unseen_mse < 1.5 * r2.recon_mse + 0.01);
    free(uc);
    free(urec);
    semid_matrix_free(&more);

    /* Files: the loaded model encodes identically, also through decode. */
    char *path = semid_path_join(test_tmp, "m.rqvae");
    assert_int_equal(semid_rqvae_save(m2, path), SEMID_OK);
    semid_rqvae *back;
    assert_int_equal(semid_rqvae_load(path, &back), SEMID_OK);
    int32_t *a = malloc(sizeof(int32_t) * 2048), *b = malloc(sizeof(int32_t) * 2048);
    assert_int_equal(semid_rqvae_encode(m2, &X, a), SEMID_OK);
    assert_int_equal(semid_rqvae_encode(back, &X, b), SEMID_OK);
    assert_memory_equal(a, b, sizeof(int32_t) * 2048);
    float *rec = malloc(sizeof(float) * (size_t)(X.rows * X.cols));
    assert_int_equal(semid_rqvae_decode(back, a, X.rows, 2, rec), SEMID_OK);
    assert_true(semid_quant_mse(rec, X.data, X.rows, X.cols) < 0.15 * r2.data_variance);
    /* A truncated file is rejected. */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(path, raw, len - 5), SEMID_OK);
    semid_rqvae_free(back);
    assert_int_equal(semid_rqvae_load(path, &back), SEMID_EFORMAT);
    assert_null(back);
    free(raw);
    free(rec);
    free(a);
    free(b);
    free(path);
    semid_rqvae_free(back);
    semid_rqvae_free(m1);
    semid_rqvae_free(m2);
    semid_matrix_free(&X);
}

static void test_deterministic(void **state) {
    (void)state;
    semid_matrix X = test_clustered(300, 12, 6, 4, 2);
    semid_rqvae_config c = small_config();
    c.epochs = 5;
    semid_rqvae *a, *b;
    assert_int_equal(semid_rqvae_fit(&X, &c, &a, NULL), SEMID_OK);
    assert_int_equal(semid_rqvae_fit(&X, &c, &b, NULL), SEMID_OK);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, sizeof(float) * (size_t)a->n_params);
    c.seed = 99;
    semid_rqvae *other;
    assert_int_equal(semid_rqvae_fit(&X, &c, &other, NULL), SEMID_OK);
    assert_memory_not_equal(a->params, other->params, sizeof(float) * (size_t)a->n_params);
    semid_rqvae_free(a);
    semid_rqvae_free(b);
    semid_rqvae_free(other);
    semid_matrix_free(&X);
}

/* The step budget (quant/qtrain.h): whole epochs that fit it, at least
 * one; a budget that does not bind trains exactly as none does. */
static void test_step_budget(void **state) {
    (void)state;
    semid_qtrain t = {.n_rows = 1000, .batch_size = 256, .epochs = 100}; /* 4 steps an epoch */
    const int64_t budget[] = {0, 10, 3, 1, 400, 401, 100000};
    const int32_t epochs[] = {100, 2, 1, 1, 100, 100, 100};
    for (size_t i = 0; i < sizeof budget / sizeof budget[0]; i++) {
        t.max_steps = budget[i];
        assert_int_equal(semid_qtrain_epochs(&t), epochs[i]);
    }
    semid_matrix X = test_clustered(300, 12, 6, 4, 2); /* batch 128: 3 steps an epoch */
    semid_rqvae_config c = small_config();
    c.epochs = 5;
    semid_rqvae *whole, *exact, *cut;
    semid_rqvae_report r;
    assert_int_equal(semid_rqvae_fit(&X, &c, &whole, &r), SEMID_OK);
    assert_int_equal(r.epochs_run, 5);
    c.max_steps = 15; /* exactly the 5 epochs */
    assert_int_equal(semid_rqvae_fit(&X, &c, &exact, &r), SEMID_OK);
    assert_int_equal(r.epochs_run, 5);
    assert_memory_equal(whole->params, exact->params, sizeof(float) * (size_t)whole->n_params);
    c.max_steps = 7; /* 2 epochs */
    assert_int_equal(semid_rqvae_fit(&X, &c, &cut, &r), SEMID_OK);
    assert_int_equal(r.epochs_run, 2);
    assert_memory_not_equal(whole->params, cut->params, sizeof(float) * (size_t)whole->n_params);
    c.max_steps = -1;
    semid_rqvae *bad;
    assert_int_equal(semid_rqvae_fit(&X, &c, &bad, NULL), SEMID_EINVAL);
    semid_rqvae_free(whole);
    semid_rqvae_free(exact);
    semid_rqvae_free(cut);
    /* Through the tokenizer's config: 10 epochs cut to 1 are 1 epoch. */
    semid_tokenizer_config tc = semid_tokenizer_defaults();
    tc.method = "rqvae";
    tc.codebook_size = 8;
    tc.iters = 10;
    tc.max_steps = 3;
    c = small_config();
    tc.method_config = &c;
    semid_tokenizer *budgeted, *one;
    assert_int_equal(semid_tokenizer_fit(&X, &tc, &budgeted), SEMID_OK);
    tc.iters = 1;
    tc.max_steps = 0;
    assert_int_equal(semid_tokenizer_fit(&X, &tc, &one), SEMID_OK);
    int32_t *a = malloc(sizeof(int32_t) * 600), *b = malloc(sizeof(int32_t) * 600);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(semid_tokenizer_encode(budgeted, &X, a), SEMID_OK);
    assert_int_equal(semid_tokenizer_encode(one, &X, b), SEMID_OK);
    assert_memory_equal(a, b, sizeof(int32_t) * 600);
    free(a), free(b);
    semid_tokenizer_free(budgeted);
    semid_tokenizer_free(one);
    semid_matrix_free(&X);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_matrix X = test_clustered(40, 6, 3, 3, 4);
    semid_rqvae_config c = small_config();
    c.epochs = 1;
    semid_rqvae *m;
    c.codebook_size = 41;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "41"));
    assert_non_null(strstr(semid_last_error(), "40"));
    c.codebook_size = 8;
    X.data[7 * 6 + 2] = NAN;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 7"));
    X.data[7 * 6 + 2] = 0.5f;
    c.levels = 0;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m, NULL), SEMID_EINVAL);
    c.levels = 2;
    assert_int_equal(semid_rqvae_fit(&X, &c, &m, NULL), SEMID_OK);
    semid_matrix Y;
    assert_int_equal(semid_matrix_alloc(&Y, 3, 5), SEMID_OK);
    int32_t codes[6];
    assert_int_equal(semid_rqvae_encode(m, &Y, codes), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "width 5"));
    semid_matrix_free(&Y);
    semid_rqvae_free(m);
    semid_matrix_free(&X);
}

/* Through the common tokenizer interface, with a cold-start encode. */
static void test_tokenizer_method(void **state) {
    (void)state;
    if (!semid_tokenizer_find_method("rqvae")) skip();
    semid_matrix X = test_clustered(256, 12, 8, 4, 8);
    semid_tokenizer_config tc = semid_tokenizer_defaults();
    tc.method = "rqvae";
    tc.codebook_size = 8;
    tc.iters = 10;
    semid_rqvae_config c = small_config();
    tc.method_config = &c;
    semid_tokenizer *tok;
    assert_int_equal(semid_tokenizer_fit(&X, &tc, &tok), SEMID_OK);
    assert_int_equal(semid_tokenizer_levels(tok), 2);
    assert_int_equal(semid_tokenizer_level_size(tok, 1), 8);
    int32_t *codes = malloc(sizeof(int32_t) * 512);
    assert_int_equal(semid_tokenizer_encode(tok, &X, codes), SEMID_OK);
    char *path = semid_path_join(test_tmp, "tok.bin");
    assert_int_equal(semid_tokenizer_save(tok, path), SEMID_OK);
    semid_tokenizer *back;
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    int32_t *again = malloc(sizeof(int32_t) * 512);
    assert_int_equal(semid_tokenizer_encode(back, &X, again), SEMID_OK);
    assert_memory_equal(codes, again, sizeof(int32_t) * 512);
    free(again);
    free(codes);
    free(path);
    semid_tokenizer_free(tok);
    semid_tokenizer_free(back);
    semid_matrix_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_gradients),
        cmocka_unit_test(test_rvq_gradients),
        cmocka_unit_test(test_decoder_gradient),
        cmocka_unit_test(test_training_on_clusters),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_step_budget),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_tokenizer_method),
    };
    return cmocka_run_group_tests(tests, test_tmp_setup, test_tmp_teardown);
}
