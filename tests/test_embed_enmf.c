#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "embed/enmf.h"

/* A small random interaction matrix as CSR (distinct items per user). */
typedef struct toy {
    int32_t U, I;
    int64_t *off;
    int32_t *items;
    semid_enmf_data data;
} toy;

static void toy_make(toy *t, int32_t U, int32_t I, double density, uint64_t seed) {
    semid_rng r;
    semid_rng_seed(&r, seed);
    t->U = U;
    t->I = I;
    t->off = malloc(((size_t)U + 1) * sizeof *t->off);
    t->items = malloc((size_t)U * I * sizeof *t->items);
    int64_t k = 0;
    t->off[0] = 0;
    for (int32_t u = 0; u < U; u++) {
        for (int32_t v = 0; v < I; v++)
            if (semid_rng_uniform(&r) < density || v == u % I) t->items[k++] = v;
        t->off[u + 1] = k;
    }
    t->data = (semid_enmf_data){U, I, t->off, t->items};
}

static void toy_free(toy *t) {
    free(t->off);
    free(t->items);
}

/* Σ_{u,v} c_uv (r_uv - r̂_uv)² - |R|, computed the slow way. */
static double brute_loss(const semid_enmf *m, const toy *t, double c) {
    double total = 0;
    for (int32_t u = 0; u < t->U; u++)
        for (int32_t v = 0; v < t->I; v++) {
            int obs = 0;
            for (int64_t e = t->off[u]; e < t->off[u + 1]; e++) obs |= t->items[e] == v;
            double r = 0;
            for (int32_t d = 0; d < m->dim; d++)
                r += (double)m->h[d] * m->P[u * m->dim + d] * m->Q[v * m->dim + d];
            total += obs ? (1 - r) * (1 - r) : c * r * r;
        }
    return total - (double)t->off[t->U];
}

static void test_loss_equals_brute_force(void **state) {
    (void)state;
    toy t;
    toy_make(&t, 9, 7, 0.3, 1);
    semid_enmf m;
    assert_int_equal(semid_enmf_init(&m, 9, 7, 5, 0.5f, 3), SEMID_OK);
    for (int d = 0; d < 5; d++) m.h[d] = 0.5f + 0.2f * d;
    int32_t users[9];
    for (int u = 0; u < 9; u++) users[u] = u;
    double loss;
    assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.2f, users, 9, NULL, NULL, &loss), SEMID_OK);
    assert_float_equal(loss, brute_loss(&m, &t, 0.2), 1e-4 * (1 + fabs(loss)));
    /* The loss of all users is the sum over any partition into batches. */
    double a, b;
    assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.2f, users, 4, NULL, NULL, &a), SEMID_OK);
    assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.2f, users + 4, 5, NULL, NULL, &b), SEMID_OK);
    assert_float_equal(a + b, loss, 1e-4 * (1 + fabs(loss)));
    semid_enmf_free(&m);
    toy_free(&t);
}

/* Central finite differences of the whole loss, for every parameter, with
 * a dropout mask on the users of the batch. */
static void test_gradient_finite_differences(void **state) {
    (void)state;
    toy t;
    toy_make(&t, 6, 5, 0.35, 2);
    semid_enmf m;
    assert_int_equal(semid_enmf_init(&m, 6, 5, 4, 0.6f, 4), SEMID_OK);
    for (int d = 0; d < 4; d++) m.h[d] = 0.8f - 0.3f * d;
    int32_t users[4] = {5, 0, 3, 2}; /* a batch: users 1 and 4 get no gradient */
    float drop[4 * 4];
    semid_rng r;
    semid_rng_seed(&r, 9);
    for (int i = 0; i < 16; i++) drop[i] = semid_rng_uniform(&r) < 0.7 ? 1.0f / 0.7f : 0.0f;
    float *grad = calloc((size_t)m.n_params, sizeof *grad);
    double loss;
    assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.3f, users, 4, drop, grad, &loss), SEMID_OK);
    const float eps = 1e-2f;
    double max_err = 0;
    for (int64_t i = 0; i < m.n_params; i++) {
        float keep = m.params[i];
        double lp, lm;
        m.params[i] = keep + eps;
        assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.3f, users, 4, drop, NULL, &lp), SEMID_OK);
        m.params[i] = keep - eps;
        assert_int_equal(semid_enmf_loss_grad(&m, &t.data, 0.3f, users, 4, drop, NULL, &lm), SEMID_OK);
        m.params[i] = keep;
        double fd = (lp - lm) / (2.0 * eps);
        double err = fabs(fd - grad[i]) / (1.0 + fabs(fd));
        if (err > max_err) max_err = err;
    }
    assert_true(max_err < 2e-3);
    /* Users outside the batch have zero gradient. */
    for (int d = 0; d < 4; d++) assert_float_equal(grad[1 * 4 + d], 0.0f, 0);
    free(grad);
    semid_enmf_free(&m);
    toy_free(&t);
}

typedef struct losses {
    double v[64];
    int n;
} losses;

static int record(const semid_enmf *m, int32_t epoch, double loss, double secs, void *user) {
    (void)m;
    (void)secs;
    losses *l = user;
    l->v[epoch] = loss;
    l->n = epoch + 1;
    return 0;
}

static void test_training_decreases_loss_and_is_deterministic(void **state) {
    (void)state;
    toy t;
    toy_make(&t, 120, 40, 0.1, 3);
    semid_enmf_config cfg = semid_enmf_defaults();
    cfg.dim = 16;
    cfg.epochs = 15;
    cfg.batch_users = 32;
    cfg.lr = 0.01f;
    cfg.dropout = 0.2f;
    losses l = {{0}, 0};
    semid_enmf a, b;
    assert_int_equal(semid_enmf_train(&a, &cfg, &t.data, record, &l), SEMID_OK);
    assert_int_equal(l.n, 15);
    assert_true(l.v[14] < l.v[0] - 0.1);
    assert_true(l.v[14] < l.v[7]);
    assert_int_equal(semid_enmf_train(&b, &cfg, &t.data, NULL, NULL), SEMID_OK);
    assert_memory_equal(a.params, b.params, (size_t)a.n_params * sizeof(float));
    semid_enmf_free(&b);
    cfg.seed = 7;
    assert_int_equal(semid_enmf_train(&b, &cfg, &t.data, NULL, NULL), SEMID_OK);
    assert_true(memcmp(a.params, b.params, (size_t)a.n_params * sizeof(float)) != 0);
    /* Item vectors are h ⊙ q so that p·(h⊙q) is the model's score. */
    semid_matrix iv;
    assert_int_equal(semid_enmf_item_vectors(&a, &iv), SEMID_OK);
    assert_int_equal(iv.rows, 40);
    assert_int_equal(iv.cols, 16);
    assert_float_equal(iv.data[3 * 16 + 5], a.h[5] * a.Q[3 * 16 + 5], 0);
    semid_matrix_free(&iv);
    semid_enmf_free(&a);
    semid_enmf_free(&b);
    toy_free(&t);
}

static void test_rejects_bad_input(void **state) {
    (void)state;
    toy t;
    toy_make(&t, 5, 4, 0.5, 4);
    semid_enmf m;
    semid_enmf_config cfg = semid_enmf_defaults();
    cfg.neg_weight = 1.5f;
    assert_int_equal(semid_enmf_train(&m, &cfg, &t.data, NULL, NULL), SEMID_EINVAL);
    cfg = semid_enmf_defaults();
    t.items[0] = 99;
    assert_int_equal(semid_enmf_train(&m, &cfg, &t.data, NULL, NULL), SEMID_EINVAL);
    toy_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_equals_brute_force),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_training_decreases_loss_and_is_deterministic),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
