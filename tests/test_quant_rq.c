/* RQ-KMeans and the tokenizer interface: an exhaustive beam equals brute
 * force over all K^L tuples, more levels and more codes lower the error, the
 * saved tokenizer encodes new vectors exactly as before, bad input fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "base/status.h"
#include "quant/rqkmeans.h"
#include "quant/tokenizer.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* Gaussian blobs with a decaying spectrum, as embeddings tend to have. */
static semid_matrix make_data(int64_t n, int32_t D, uint64_t seed) {
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, n, D), SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    const int clusters = 30;
    float *c = malloc(sizeof(float) * clusters * D);
    for (int64_t i = 0; i < (int64_t)clusters * D; i++) c[i] = (float)semid_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = (int64_t)semid_rng_below(&r, clusters);
        for (int32_t j = 0; j < D; j++)
            m.data[i * D + j] = c[k * D + j] + (float)(semid_rng_normal(&r) * 0.5 / (1.0 + 0.2 * j));
    }
    free(c);
    return m;
}

static double sq_err(const semid_rqkmeans *rq, const float *x, const int32_t *code) {
    float *rec = malloc(sizeof(float) * rq->dim);
    semid_rqkmeans_reconstruct(rq, code, 1, rq->levels, rec);
    double s = 0;
    for (int32_t j = 0; j < rq->dim; j++) s += pow((double)x[j] - rec[j], 2);
    free(rec);
    return s;
}

static void test_exhaustive_beam_equals_brute_force(void **state) {
    (void)state;
    semid_matrix X = make_data(300, 6, 1);
    semid_rqkmeans_config cfg = semid_rqkmeans_defaults();
    cfg.levels = 3;
    cfg.codebook_size = 4;
    semid_rqkmeans *rq;
    assert_int_equal(semid_rqkmeans_fit(&X, &cfg, &rq), SEMID_OK);
    const int32_t L = 3, K = 4;
    int32_t *beam = malloc(sizeof(int32_t) * X.rows * L), *greedy = malloc(sizeof(int32_t) * X.rows * L);
    assert_int_equal(semid_rqkmeans_encode_beam(rq, X.data, X.rows, K * K, beam), SEMID_OK);
    assert_int_equal(semid_rqkmeans_encode_beam(rq, X.data, X.rows, 1, greedy), SEMID_OK);
    int greedy_worse = 0;
    for (int64_t i = 0; i < X.rows; i++) {
        const float *x = X.data + i * X.cols;
        double best = INFINITY;
        int32_t arg[3] = {0, 0, 0};
        for (int32_t a = 0; a < K; a++)
            for (int32_t b = 0; b < K; b++)
                for (int32_t c = 0; c < K; c++) {
                    int32_t t[3] = {a, b, c};
                    double e = sq_err(rq, x, t);
                    if (e < best) {
                        best = e;
                        memcpy(arg, t, sizeof arg);
                    }
                }
        double eb = sq_err(rq, x, beam + i * L), eg = sq_err(rq, x, greedy + i * L);
        assert_true(eb <= best + 1e-4 * (1 + best));
        /* The same tuple unless two tuples are within rounding. */
        if (memcmp(arg, beam + i * L, sizeof arg) != 0) assert_true(fabs(eb - best) <= 1e-4 * (1 + best));
        assert_true(eg >= best - 1e-4 * (1 + best));
        if (eg > best + 1e-4 * (1 + best)) greedy_worse++;
    }
    /* Greedy misses the optimum somewhere, or the test would prove nothing. */
    assert_true(greedy_worse > 0);
    free(beam);
    free(greedy);
    semid_rqkmeans_free(rq);
    semid_matrix_free(&X);
}

static double mse(const semid_tokenizer *tok, const semid_matrix *X, int32_t use_levels) {
    int32_t L = semid_tokenizer_levels(tok);
    int32_t *codes = malloc(sizeof(int32_t) * X->rows * L);
    assert_int_equal(semid_tokenizer_encode(tok, X, codes), SEMID_OK);
    double *err = malloc(sizeof(double) * L);
    assert_int_equal(semid_tokenizer_level_errors(tok, X, codes, err), SEMID_OK);
    double e = err[use_levels - 1];
    free(err);
    free(codes);
    return e;
}

static void test_more_levels_and_codes_lower_error(void **state) {
    (void)state;
    semid_matrix X = make_data(1500, 16, 2);
    semid_tokenizer_config cfg = semid_tokenizer_defaults();
    cfg.levels = 3;
    cfg.codebook_size = 32;
    semid_tokenizer *t32, *t64;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &t32), SEMID_OK);
    cfg.codebook_size = 64;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &t64), SEMID_OK);
    double e1 = mse(t32, &X, 1), e2 = mse(t32, &X, 2), e3 = mse(t32, &X, 3);
    assert_true(e2 < e1);
    assert_true(e3 < e2);
    assert_true(mse(t64, &X, 1) < e1);
    assert_true(mse(t64, &X, 3) < e3);
    /* The fit's own report agrees. */
    const semid_rqkmeans *rq = semid_tokenizer_state(t32);
    assert_true(fabs(rq->train_error[2] - e3) <= 1e-3 * e3);
    /* A beam never does worse than greedy. */
    cfg.beam = 8;
    cfg.codebook_size = 32;
    semid_tokenizer *tb;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &tb), SEMID_OK);
    assert_true(mse(tb, &X, 3) <= e3 * 1.001);
    semid_tokenizer_free(t32);
    semid_tokenizer_free(t64);
    semid_tokenizer_free(tb);
    semid_matrix_free(&X);
}

static void test_usage_stats(void **state) {
    (void)state;
    int32_t codes[8] = {0, 1, 0, 2, 1, 3, 1, 3}; /* 4 items, 2 levels */
    double used, ppl;
    assert_int_equal(semid_codes_usage(codes, 4, 2, 0, 4, &used, &ppl), SEMID_OK);
    assert_float_equal(used, 0.5, 1e-12);
    assert_float_equal(ppl, 2.0, 1e-9);
    assert_int_equal(semid_codes_usage(codes, 4, 2, 1, 4, &used, &ppl), SEMID_OK);
    assert_float_equal(used, 0.75, 1e-12);
}

static void test_save_load_cold_start(void **state) {
    (void)state;
    semid_matrix X = make_data(800, 12, 3), Y = make_data(50, 12, 4);
    semid_tokenizer_config cfg = semid_tokenizer_defaults();
    cfg.codebook_size = 16;
    cfg.beam = 3;
    semid_tokenizer *t, *back;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &t), SEMID_OK);
    char *path = semid_path_join(tmpdir, "tok.bin");
    assert_int_equal(semid_tokenizer_save(t, path), SEMID_OK);
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    assert_string_equal(semid_tokenizer_method_name(back), "rqkmeans");
    assert_int_equal(semid_tokenizer_levels(back), 2);
    assert_int_equal(semid_tokenizer_level_size(back, 1), 16);
    int32_t a[100], b[100];
    assert_int_equal(semid_tokenizer_encode(t, &Y, a), SEMID_OK);
    assert_int_equal(semid_tokenizer_encode(back, &Y, b), SEMID_OK);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 100; i++) assert_true(a[i] >= 0 && a[i] < 16);

    /* Truncated and corrupted files fail cleanly. */
    char *data;
    size_t len;
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    char *bad = semid_path_join(tmpdir, "bad.bin");
    semid_tokenizer *x = NULL;
    for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
        assert_int_equal(semid_write_file_atomic(bad, data, cut), SEMID_OK);
        assert_int_not_equal(semid_tokenizer_load(bad, &x), SEMID_OK);
        assert_null(x);
    }
    data[12] = 99; /* name length */
    assert_int_equal(semid_write_file_atomic(bad, data, len), SEMID_OK);
    assert_int_equal(semid_tokenizer_load(bad, &x), SEMID_EFORMAT);
    free(data);
    free(bad);

    /* Wrong width, NaN rows, K above the number of items, unknown method. */
    semid_matrix W = make_data(5, 11, 5);
    assert_int_equal(semid_tokenizer_encode(t, &W, a), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "11 columns"));
    Y.data[7 * 12 + 3] = NAN;
    assert_int_equal(semid_tokenizer_encode(t, &Y, a), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 7"));
    semid_tokenizer *y = NULL;
    cfg.codebook_size = 6;
    assert_int_equal(semid_tokenizer_fit(&W, &cfg, &y), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "larger than the number of items"));
    cfg.codebook_size = 2;
    cfg.method = "nosuch";
    assert_int_equal(semid_tokenizer_fit(&W, &cfg, &y), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "unknown tokenizer 'nosuch' (known: rqkmeans, rqvae"));
    assert_null(y);
    semid_matrix_free(&W);
    semid_tokenizer_free(t);
    semid_tokenizer_free(back);
    free(path);
    semid_matrix_free(&X);
    semid_matrix_free(&Y);
}

/* Same seed: identical codebooks at 1 and 2 threads. */
static void test_deterministic(void **state) {
    (void)state;
    semid_matrix X = make_data(1000, 8, 6);
    semid_tokenizer_config cfg = semid_tokenizer_defaults();
    cfg.codebook_size = 16;
    cfg.beam = 2;
    cfg.threads = 1;
    semid_tokenizer *a, *b;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &a), SEMID_OK);
    cfg.threads = 2;
    assert_int_equal(semid_tokenizer_fit(&X, &cfg, &b), SEMID_OK);
    const semid_rqkmeans *ra = semid_tokenizer_state(a), *rb = semid_tokenizer_state(b);
    assert_memory_equal(ra->codebooks, rb->codebooks, sizeof(float) * 2 * 16 * 8);
    semid_tokenizer_free(a);
    semid_tokenizer_free(b);
    semid_matrix_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_beam_equals_brute_force),
        cmocka_unit_test(test_more_levels_and_codes_lower_error),
        cmocka_unit_test(test_usage_stats),
        cmocka_unit_test(test_save_load_cold_start),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
