#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/builder.h"
#include "embed/baseline.h"
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

/* Trains the toy with batch_users and max_steps, the rest fixed. */
static void train_toy(const toy *t, int32_t batch_users, int32_t max_steps, semid_enmf *m) {
    semid_enmf_config cfg = semid_enmf_defaults();
    cfg.dim = 8;
    cfg.epochs = 3;
    cfg.batch_users = batch_users;
    cfg.max_steps = max_steps;
    assert_int_equal(semid_enmf_train(m, &cfg, &t->data, NULL, NULL), SEMID_OK);
}

/* Over max_steps batches an epoch, the batch grows to ceil(U / max_steps)
 * users (each step costs O((U + I) D²), so the cap keeps an epoch linear);
 * within the cap the batches are exactly batch_users, as without one. */
static void test_max_steps_grows_the_batch(void **state) {
    (void)state;
    toy t;
    toy_make(&t, 120, 40, 0.1, 5);
    semid_enmf capped, wide, small, within;
    train_toy(&t, 8, 4, &capped); /* 15 batches of 8 > 4: batches of 30 */
    train_toy(&t, 30, 0, &wide);
    assert_memory_equal(capped.params, wide.params, (size_t)wide.n_params * sizeof(float));
    train_toy(&t, 8, 0, &small);
    train_toy(&t, 8, 15, &within); /* exactly 15 batches: not capped */
    assert_memory_equal(small.params, within.params, (size_t)small.n_params * sizeof(float));
    assert_true(memcmp(small.params, wide.params, (size_t)small.n_params * sizeof(float)) != 0);
    semid_enmf_free(&capped);
    semid_enmf_free(&wide);
    semid_enmf_free(&small);
    semid_enmf_free(&within);
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

/* Users with a favourite cluster of items: 85% of their interactions come
 * from it, the rest from a global popularity skew. Popularity cannot know
 * the cluster; collaborative filtering can. */
static void clustered_dataset(semid_dataset *ds, int32_t n_users, int32_t n_items, int32_t n_clusters, uint64_t seed) {
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "clusters"), SEMID_OK);
    char id[32];
    for (int32_t i = 0; i < n_items; i++) {
        snprintf(id, sizeof id, "i%d", i);
        semid_item it = {.id = id, .title = id};
        assert_int_equal(semid_builder_add_item(b, &it, NULL), SEMID_OK);
    }
    semid_rng r;
    semid_rng_seed(&r, seed);
    int32_t per = n_items / n_clusters;
    for (int32_t u = 0; u < n_users; u++) {
        int32_t cl = (int32_t)semid_rng_below(&r, (uint64_t)n_clusters), user;
        snprintf(id, sizeof id, "u%d", u);
        assert_int_equal(semid_builder_user(b, id, &user), SEMID_OK);
        uint8_t seen[1024] = {0};
        for (int t = 0; t < 14;) {
            int32_t item;
            if (semid_rng_uniform(&r) < 0.85) item = cl * per + (int32_t)semid_rng_below(&r, (uint64_t)per);
            else item = (int32_t)(semid_rng_uniform(&r) * semid_rng_uniform(&r) * n_items);
            if (seen[item]) continue;
            seen[item] = 1;
            assert_int_equal(semid_builder_add_interaction_idx(b, user, item, t), SEMID_OK);
            t++;
        }
    }
    assert_int_equal(semid_builder_finish(b, ds), SEMID_OK);
}

static void test_enmf_beats_popularity(void **state) {
    (void)state;
    semid_dataset ds;
    clustered_dataset(&ds, 500, 400, 20, 11);
    int64_t *off;
    int32_t *items;
    assert_int_equal(semid_enmf_train_csr(&ds, &off, &items), SEMID_OK);
    /* Training data leaves out the last two items of each user. */
    assert_int_equal(off[ds.n_users], (int64_t)ds.n_users * 12);
    semid_enmf_data data = {ds.n_users, ds.n_items, off, items};
    semid_enmf_config cfg = semid_enmf_defaults();
    cfg.dim = 32;
    cfg.epochs = 30;
    cfg.batch_users = 64;
    cfg.lr = 0.01f;
    semid_enmf m;
    assert_int_equal(semid_enmf_train(&m, &cfg, &data, NULL, NULL), SEMID_OK);
    semid_matrix iv, uv;
    assert_int_equal(semid_enmf_item_vectors(&m, &iv), SEMID_OK);
    assert_int_equal(semid_enmf_user_vectors(&m, &uv), SEMID_OK);
    semid_rec_eval_options o = semid_rec_eval_defaults();
    semid_ranking_eval pop, enmf, hist;
    assert_int_equal(semid_baseline_rec_popularity(&ds, &o, &pop), SEMID_OK);
    assert_int_equal(semid_baseline_rec_user_vectors(&ds, &o, &uv, &iv, &enmf), SEMID_OK);
    assert_int_equal(semid_baseline_rec_history(&ds, &o, &iv, &hist), SEMID_OK);
    double p = semid_ranking_eval_mean(&pop, SEMID_GROUP_ALL).recall;
    double e = semid_ranking_eval_mean(&enmf, SEMID_GROUP_ALL).recall;
    double h = semid_ranking_eval_mean(&hist, SEMID_GROUP_ALL).recall;
    fprintf(stderr, "popularity %.3f enmf %.3f history %.3f\n", p, e, h);
    assert_int_equal(enmf.n, 500);
    assert_true(e > 2.0 * p);
    assert_true(e > 0.4);
    assert_true(h > 2.0 * p);
    /* Personalised dense search: with empty queries it is the history
     * baseline; with each user's target as the query it finds it. */
    semid_rec_queries rq;
    assert_int_equal(semid_rec_queries_build(&ds, &o, &rq), SEMID_OK);
    semid_matrix qv;
    assert_int_equal(semid_matrix_alloc(&qv, rq.n, iv.cols), SEMID_OK);
    semid_ranking_eval per;
    assert_int_equal(semid_baseline_personal_dense(&ds, &o, &qv, &iv, 1.0f, &per), SEMID_OK);
    assert_int_equal(per.n, hist.n);
    assert_memory_equal(per.rank, hist.rank, (size_t)per.n * sizeof *per.rank);
    semid_ranking_eval_free(&per);
    for (int64_t q = 0; q < rq.n; q++)
        memcpy(qv.data + q * qv.cols, iv.data + (int64_t)rq.target[q] * iv.cols, (size_t)iv.cols * sizeof(float));
    assert_int_equal(semid_baseline_personal_dense(&ds, &o, &qv, &iv, 1.0f, &per), SEMID_OK);
    double ps = semid_ranking_eval_mean(&per, SEMID_GROUP_ALL).recall;
    fprintf(stderr, "personalised dense with the target as the query %.3f\n", ps);
    assert_true(ps > h + 0.2);
    semid_ranking_eval_free(&per);
    semid_matrix wrong = {.rows = rq.n + 1, .cols = iv.cols, .data = NULL};
    assert_int_equal(semid_baseline_personal_dense(&ds, &o, &wrong, &iv, 1.0f, &per), SEMID_EINVAL);
    semid_matrix_free(&qv);
    semid_rec_queries_free(&rq);
    semid_ranking_eval_free(&pop);
    semid_ranking_eval_free(&enmf);
    semid_ranking_eval_free(&hist);
    semid_matrix_free(&iv);
    semid_matrix_free(&uv);
    semid_enmf_free(&m);
    free(off);
    free(items);
    semid_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_equals_brute_force),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_training_decreases_loss_and_is_deterministic),
        cmocka_unit_test(test_max_steps_grows_the_batch),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_enmf_beats_popularity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
