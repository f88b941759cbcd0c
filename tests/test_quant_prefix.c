/* The prefix-share quantizer: gradients against central finite
 * differences, both tasks reconstructed, the shared code carries the
 * common cluster, determinism, files, bad input and the strategy hook. */
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
#include "quant/prefix_share.h"
#include "quant/tokenizer.h"
#include "support/quant/fixtures.h"
#include "support/testutil.h"

/* N items in k clusters. Each task's vector = the cluster's centre in that
 * task's space + 0.35 * a task-specific fine offset (independent between
 * the tasks) + noise. cluster (N) receives each item's cluster. */
static void make_pair(int64_t N, int64_t Ds, int64_t Dr, int k, uint64_t seed, semid_matrix *S, semid_matrix *R,
                      int *cluster) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    int64_t D[2] = {Ds, Dr};
    semid_matrix *M[2] = {S, R};
    float *centre[2], *fine[2];
    for (int t = 0; t < 2; t++) {
        centre[t] = malloc(sizeof(float) * (size_t)(k * D[t]));
        fine[t] = malloc(sizeof(float) * (size_t)(6 * D[t]));
        test_fill_normal(centre[t], k * D[t], &r, 1.0);
        test_fill_normal(fine[t], 6 * D[t], &r, 0.35);
        assert_int_equal(semid_matrix_alloc(M[t], N, D[t]), SEMID_OK);
    }
    for (int64_t i = 0; i < N; i++) {
        int c = (int)semid_rng_below(&r, (uint64_t)k);
        if (cluster) cluster[i] = c;
        for (int t = 0; t < 2; t++) {
            int64_t f = (int64_t)semid_rng_below(&r, 6);
            for (int64_t j = 0; j < D[t]; j++)
                M[t]->data[i * D[t] + j] =
                    centre[t][c * D[t] + j] + fine[t][f * D[t] + j] + (float)(0.05 * semid_rng_normal(&r));
        }
    }
    for (int t = 0; t < 2; t++) {
        free(centre[t]);
        free(fine[t]);
    }
}

static semid_prefix_share_config small_config(void) {
    semid_prefix_share_config c = semid_prefix_share_defaults();
    c.latent_dim = 8;
    c.hidden_dim = 32;
    c.n_hidden = 1;
    c.shared_size = 16;
    c.task_size = 8;
    c.epochs = 100;
    c.batch_size = 128;
    c.lr = 3e-3f;
    return c;
}

/* Central differences of the total loss over params [from, to) (step
 * `every`), codes fixed, against the analytic gradient. */
static void check_range(semid_prefix_share *m, const semid_matrix *S, const semid_matrix *R, int64_t from, int64_t to,
                        int64_t every, const char *what) {
    int64_t N = S->rows;
    int32_t *shared = malloc(sizeof(int32_t) * (size_t)N), *ts = malloc(sizeof(int32_t) * (size_t)N),
            *tr = malloc(sizeof(int32_t) * (size_t)N);
    int32_t *task_out[2] = {ts, tr};
    const int32_t *task_in[2] = {ts, tr};
    semid_prefix_share_terms t;
    assert_int_equal(semid_prefix_share_loss_grad(m, S, R, NULL, NULL, shared, task_out, &t), SEMID_OK);
    float *g = malloc(sizeof(float) * (size_t)m->n_params);
    memcpy(g, m->grads, sizeof(float) * (size_t)m->n_params);
    const float eps = 1e-3f;
    for (int64_t i = from; i < to; i += every) {
        float keep = m->params[i];
        m->params[i] = keep + eps;
        semid_prefix_share_loss_grad(m, S, R, shared, task_in, NULL, NULL, &t);
        double lp = t.total;
        m->params[i] = keep - eps;
        semid_prefix_share_loss_grad(m, S, R, shared, task_in, NULL, NULL, &t);
        double lm = t.total;
        m->params[i] = keep;
        test_assert_derivative(g[i], (lp - lm) / (2 * eps), 3e-2, what, i);
    }
    free(g);
    free(shared);
    free(ts);
    free(tr);
}

static void test_gradients(void **state) {
    (void)state;
    semid_matrix S, R;
    make_pair(12, 6, 5, 3, 1, &S, &R, NULL);
    semid_prefix_share_config c = small_config();
    c.shared_size = 4;
    c.task_size = 3;
    c.latent_dim = 5;
    c.hidden_dim = 7;
    c.act = SEMID_ACT_SILU;
    semid_prefix_share *m;
    /* Decoders: the exact gradient of the reconstruction. */
    assert_int_equal(semid_prefix_share_create(6, 5, &c, &m), SEMID_OK);
    check_range(m, &S, &R, m->dec[0].w_off[0], m->proj[0].w_off[0], 2, "search decoder");
    check_range(m, &S, &R, m->dec[1].w_off[0], m->proj[1].w_off[0], 2, "rec decoder");
    semid_prefix_share_free(m);
    /* Commitment only (codes fixed): encoder and task projections get exact
     * gradients through the shared and the task quantizers. */
    c.recon_weight = 0.0f;
    c.codebook_weight = 0.0f;
    assert_int_equal(semid_prefix_share_create(6, 5, &c, &m), SEMID_OK);
    check_range(m, &S, &R, m->enc.w_off[0], m->dec[0].w_off[0], 3, "encoder");
    check_range(m, &S, &R, m->proj[0].w_off[0], m->dec[1].w_off[0], 1, "search projection");
    check_range(m, &S, &R, m->proj[1].w_off[0], m->cs_off, 1, "rec projection");
    semid_prefix_share_free(m);
    semid_matrix_free(&S);
    semid_matrix_free(&R);
}

static void test_training(void **state) {
    (void)state;
    const int64_t N = 1024;
    semid_matrix S, R;
    int *cluster = malloc(sizeof(int) * (size_t)N);
    make_pair(N, 16, 12, 16, 7, &S, &R, cluster);
    semid_prefix_share_config c = small_config();
    semid_prefix_share *m;
    semid_prefix_share_report rep;
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &m, &rep), SEMID_OK);
    int32_t *sh = malloc(sizeof(int32_t) * (size_t)N), *cs = malloc(sizeof(int32_t) * (size_t)N),
            *cr = malloc(sizeof(int32_t) * (size_t)N);
    assert_int_equal(semid_prefix_share_encode(m, &S, &R, sh, cs, cr), SEMID_OK);
    /* Pairs of items: how often the shared code agrees within and across
     * clusters (chance is about 1/16). */
    int64_t same = 0, same_hit = 0, diff = 0, diff_hit = 0;
    for (int64_t i = 0; i < N; i += 3)
        for (int64_t j = i + 1; j < N; j += 5) {
            if (cluster[i] == cluster[j]) same++, same_hit += sh[i] == sh[j];
            else diff++, diff_hit += sh[i] == sh[j];
        }
    double p_same = (double)same_hit / (double)same, p_diff = (double)diff_hit / (double)diff;
    printf("prefix-share: recon search %.4f (var %.4f), rec %.4f (var %.4f); shared agreement same %.3f, diff %.3f; "
           "used %.2f/%.2f/%.2f; loss %.3f -> %.3f\n",
           rep.recon_mse[0], rep.data_variance[0], rep.recon_mse[1], rep.data_variance[1], p_same, p_diff,
           rep.shared_used_share, rep.task_used_share[0], rep.task_used_share[1], rep.loss_first, rep.loss_last);
    assert_true(rep.recon_mse[0] < 0.3 * rep.data_variance[0]);
    assert_true(rep.recon_mse[1] < 0.3 * rep.data_variance[1]);
    assert_true(rep.loss_last < 0.5 * rep.loss_first);
    assert_true(p_same > 0.4);
    assert_true(p_same > 4 * p_diff);

    /* Decoding the codes gives the reported reconstruction. */
    float *ds = malloc(sizeof(float) * (size_t)(N * 16));
    assert_int_equal(semid_prefix_share_decode(m, sh, cs, cr, N, ds, NULL), SEMID_OK);
    double mse = 0;
    for (int64_t i = 0; i < N * 16; i++) mse += (ds[i] - S.data[i]) * (double)(ds[i] - S.data[i]);
    assert_float_equal(mse / (double)(N * 16), rep.recon_mse[0], 1e-5);

    /* Files. */
    char *path = semid_path_join(test_tmp, "p.psq");
    assert_int_equal(semid_prefix_share_save(m, path), SEMID_OK);
    semid_prefix_share *back;
    assert_int_equal(semid_prefix_share_load(path, &back), SEMID_OK);
    int32_t *sh2 = malloc(sizeof(int32_t) * (size_t)N), *cs2 = malloc(sizeof(int32_t) * (size_t)N),
            *cr2 = malloc(sizeof(int32_t) * (size_t)N);
    assert_int_equal(semid_prefix_share_encode(back, &S, &R, sh2, cs2, cr2), SEMID_OK);
    assert_memory_equal(sh, sh2, sizeof(int32_t) * (size_t)N);
    assert_memory_equal(cs, cs2, sizeof(int32_t) * (size_t)N);
    assert_memory_equal(cr, cr2, sizeof(int32_t) * (size_t)N);
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(path, raw, len / 2), SEMID_OK);
    semid_prefix_share_free(back);
    assert_int_equal(semid_prefix_share_load(path, &back), SEMID_EFORMAT);
    free(raw);
    free(path);
    free(ds);
    free(sh);
    free(cs);
    free(cr);
    free(sh2);
    free(cs2);
    free(cr2);
    free(cluster);
    semid_prefix_share_free(m);
    semid_matrix_free(&S);
    semid_matrix_free(&R);
}

static void test_deterministic_and_hook(void **state) {
    (void)state;
    semid_matrix S, R;
    make_pair(200, 8, 6, 5, 3, &S, &R, NULL);
    semid_prefix_share_config c = small_config();
    c.epochs = 4;
    semid_prefix_share *a, *b;
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &a, NULL), SEMID_OK);
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &b, NULL), SEMID_OK);
    assert_memory_equal(a->params, b->params, sizeof(float) * (size_t)a->n_params);
    semid_prefix_share_free(a);
    semid_prefix_share_free(b);

    /* The strategy hook: level sizes and shared columns equal in both tasks. */
    assert_non_null(semid_prefix_share_impl);
    semid_tokenizer_config tc = semid_tokenizer_defaults();
    tc.levels = 2;
    tc.codebook_size = 8;
    tc.iters = 3;
    tc.method_config = &c;
    semid_prefix_share_codes pc;
    assert_int_equal(semid_prefix_share_impl(&S, &R, &tc, &pc), SEMID_OK);
    assert_int_equal(pc.n_items, 200);
    assert_int_equal(pc.shared_levels, 1);
    assert_int_equal(pc.task_levels, 1);
    assert_int_equal(pc.level_size[0], 8);
    assert_int_equal(pc.level_size[1], 8);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(pc.codes[0][i * 2], pc.codes[1][i * 2]);
        assert_true(pc.codes[0][i * 2 + 1] >= 0 && pc.codes[0][i * 2 + 1] < 8);
        differ += pc.codes[0][i * 2 + 1] != pc.codes[1][i * 2 + 1];
    }
    assert_true(differ > 0); /* the task codes are not one code twice */
    semid_prefix_share_codes_free(&pc);
    tc.levels = 1;
    assert_int_equal(semid_prefix_share_impl(&S, &R, &tc, &pc), SEMID_EINVAL);
    semid_matrix_free(&S);
    semid_matrix_free(&R);
}

static void test_bad_input(void **state) {
    (void)state;
    semid_matrix S, R, S2, R2;
    make_pair(30, 5, 4, 3, 9, &S, &R, NULL);
    make_pair(29, 5, 4, 3, 9, &S2, &R2, NULL); /* R2: 29 rows where S has 30 */
    semid_prefix_share_config c = small_config();
    c.epochs = 1;
    c.shared_size = 4;
    c.task_size = 4;
    semid_prefix_share *m;
    assert_int_equal(semid_prefix_share_fit(&S, &R2, &c, &m, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "29"));
    c.task_size = 31;
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &m, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "31"));
    c.task_size = 4;
    R.data[17 * 4 + 3] = NAN;
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &m, NULL), SEMID_ENUMERIC);
    assert_non_null(strstr(semid_last_error(), "row 17"));
    assert_non_null(strstr(semid_last_error(), "rec"));
    R.data[17 * 4 + 3] = 0.0f;
    assert_int_equal(semid_prefix_share_fit(&S, &R, &c, &m, NULL), SEMID_OK);
    int32_t codes[90];
    assert_int_equal(semid_prefix_share_encode(m, &R, &S, codes, codes + 30, codes + 60), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "width"));
    semid_prefix_share_free(m);
    semid_matrix_free(&S);
    semid_matrix_free(&R);
    semid_matrix_free(&S2);
    semid_matrix_free(&R2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_training),
        cmocka_unit_test(test_deterministic_and_hook),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, test_tmp_setup, test_tmp_teardown);
}
