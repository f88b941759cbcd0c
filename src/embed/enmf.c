/* ENMF training with the whole-data (non-sampling) loss (see enmf.h).
 *
 * Dimension legend: U users, I items, D width, B users in a batch,
 * E observed entries of the batch. */
#include "embed/enmf.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "linalg/adamw.h"
#include "linalg/gemm.h"

/* Below this much work a loop runs on one thread: waking a team costs more. */
#define ENMF_PARALLEL_MIN (1 << 16)

semid_enmf_config semid_enmf_defaults(void) {
    semid_enmf_config c;
    c.dim = 256;
    c.epochs = 20;
    c.batch_users = 256;
    c.max_steps = 32;
    c.lr = 0.005f;
    c.neg_weight = 0.5f;
    c.dropout = 0.3f;
    c.weight_decay = 0.0f;
    c.init_std = 0.05f;
    c.seed = 42;
    return c;
}

semid_status semid_enmf_init(semid_enmf *m, int32_t n_users, int32_t n_items, int32_t dim, float init_std,
                             uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (n_users < 1 || n_items < 1 || dim < 1)
        return semid_fail(SEMID_EINVAL, "enmf: need at least one user, one item and dim >= 1 (U=%d I=%d D=%d)",
                          n_users, n_items, dim);
    m->n_users = n_users;
    m->n_items = n_items;
    m->dim = dim;
    m->n_params = ((int64_t)n_users + n_items + 1) * dim;
    m->params = malloc((size_t)m->n_params * sizeof *m->params);
    if (!m->params) return semid_fail(SEMID_ENOMEM, "enmf: out of memory for %lld parameters", (long long)m->n_params);
    m->P = m->params;
    m->Q = m->P + (int64_t)n_users * dim;
    m->h = m->Q + (int64_t)n_items * dim;
    semid_rng rng;
    semid_rng_seed(&rng, seed);
    for (int64_t i = 0; i < m->n_params - dim; i++) m->params[i] = (float)(semid_rng_normal(&rng) * init_std);
    for (int32_t d = 0; d < dim; d++) m->h[d] = 1.0f;
    return SEMID_OK;
}

void semid_enmf_free(semid_enmf *m) {
    free(m->params);
    memset(m, 0, sizeof *m);
}

semid_status semid_enmf_loss_grad(const semid_enmf *m, const semid_enmf_data *data, float neg_weight,
                                  const int32_t *users, int32_t n, const float *drop_scale, float *grad,
                                  double *loss_out) {
    const int64_t D = m->dim, I = m->n_items;
    const float c = neg_weight;
    const float *h = m->h;
    /* Scratch: dropped-out user rows, their gradient, Grams, entry offsets and
     * per-entry dL/dr̂. Sizes are small next to the model except E. */
    *loss_out = 0.0;
    int64_t *eoff = malloc(((size_t)n + 1) * sizeof *eoff);
    if (!eoff) return semid_fail(SEMID_ENOMEM, "enmf: out of memory for a batch of %d users", n);
    eoff[0] = 0;
    for (int32_t b = 0; b < n; b++) {
        int32_t u = users[b];
        eoff[b + 1] = eoff[b] + (data->offsets[u + 1] - data->offsets[u]);
    }
    int64_t E = eoff[n];
    float *pb = malloc((size_t)(n * D) * sizeof *pb);
    float *dpb = calloc((size_t)(n * D), sizeof *dpb);
    float *gq = malloc((size_t)(D * D) * sizeof *gq);
    float *gp = malloc((size_t)(D * D) * sizeof *gp);
    float *a = malloc((size_t)(D * D) * sizeof *a);
    float *g = malloc((size_t)(E > 0 ? E : 1) * sizeof *g);
    double *uloss = malloc((size_t)(n > 0 ? n : 1) * sizeof *uloss);
    semid_status st = SEMID_OK;
    if (!pb || !dpb || !gq || !gp || !a || !g || !uloss) {
        st = semid_fail(SEMID_ENOMEM, "enmf: out of memory for a batch of %d users (%lld interactions)", n,
                        (long long)E);
        goto done;
    }

    for (int32_t b = 0; b < n; b++) {
        const float *p = m->P + (int64_t)users[b] * D;
        const float *s = drop_scale ? drop_scale + b * D : NULL;
        for (int64_t d = 0; d < D; d++) pb[b * D + d] = s ? p[d] * s[d] : p[d];
    }
    semid_sgemm(true, false, D, D, I, 1.0f, m->Q, D, m->Q, D, 0.0f, gq, D);
    semid_sgemm(true, false, D, D, n, 1.0f, pb, D, pb, D, 0.0f, gp, D);

    /* The missing-entry term through the Grams. */
    double loss_all = 0.0;
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) loss_all += (double)h[i] * h[j] * gp[i * D + j] * gq[i * D + j];
    double loss = c * loss_all;

    /* Observed entries: r̂, its loss and dL/dr̂, and the user-side gradient. */
#pragma omp parallel for schedule(dynamic, 8) if (E * D > ENMF_PARALLEL_MIN) num_threads(semid_get_threads())
    for (int32_t b = 0; b < n; b++) {
        int32_t u = users[b];
        const float *p = pb + b * D;
        float *dp = dpb + b * D;
        double l = 0.0;
        for (int64_t e = data->offsets[u], k = eoff[b]; e < data->offsets[u + 1]; e++, k++) {
            const float *q = m->Q + (int64_t)data->items[e] * D;
            float r = 0.0f;
            for (int64_t d = 0; d < D; d++) r += h[d] * p[d] * q[d];
            l += (1.0 - c) * (double)r * r - 2.0 * r;
            float gr = 2.0f * (1.0f - c) * r - 2.0f;
            g[k] = gr;
            for (int64_t d = 0; d < D; d++) dp[d] += gr * h[d] * q[d];
        }
        uloss[b] = l;
    }
    for (int32_t b = 0; b < n; b++) loss += uloss[b];

    if (grad) {
        float *gP = grad, *gQ = grad + (int64_t)m->n_users * D, *gh = gQ + I * D;
        /* dL/dP̃ += 2c P̃ (H ⊙ GQ), H = h hᵀ. */
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < D; j++) a[i * D + j] = h[i] * h[j] * gq[i * D + j];
        semid_sgemm(false, false, n, D, D, 2.0f * c, pb, D, a, D, 1.0f, dpb, D);
        /* dL/dQ += 2c Q (H ⊙ GP). */
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < D; j++) a[i * D + j] = h[i] * h[j] * gp[i * D + j];
        semid_sgemm(false, false, I, D, D, 2.0f * c, m->Q, D, a, D, 1.0f, gQ, D);
        /* dL/dh += 2c (GP ⊙ GQ) h. */
        for (int64_t i = 0; i < D; i++) {
            double s = 0.0;
            for (int64_t j = 0; j < D; j++) s += (double)gp[i * D + j] * gq[i * D + j] * h[j];
            gh[i] += (float)(2.0 * c * s);
        }
        /* Back through dropout into P (users in a batch are distinct). */
#pragma omp parallel for schedule(static) if (n * D > ENMF_PARALLEL_MIN) num_threads(semid_get_threads())
        for (int32_t b = 0; b < n; b++) {
            float *dst = gP + (int64_t)users[b] * D;
            const float *s = drop_scale ? drop_scale + b * D : NULL;
            for (int64_t d = 0; d < D; d++) dst[d] += s ? dpb[b * D + d] * s[d] : dpb[b * D + d];
        }
        /* Observed entries into Q and h: split over dimensions so that each
         * thread owns its columns and every sum runs in entry order (the
         * result does not depend on the thread count). */
        int nt = E * D > ENMF_PARALLEL_MIN ? semid_get_threads() : 1;
        if (nt > D) nt = (int)D;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int t = 0; t < nt; t++) {
            int64_t d0 = D * t / nt, d1 = D * (t + 1) / nt;
            for (int32_t b = 0; b < n; b++) {
                int32_t u = users[b];
                const float *p = pb + b * D;
                for (int64_t e = data->offsets[u], k = eoff[b]; e < data->offsets[u + 1]; e++, k++) {
                    float gr = g[k];
                    const float *q = m->Q + (int64_t)data->items[e] * D;
                    float *dq = gQ + (int64_t)data->items[e] * D;
                    for (int64_t d = d0; d < d1; d++) {
                        dq[d] += gr * h[d] * p[d];
                        gh[d] += gr * p[d] * q[d];
                    }
                }
            }
        }
    }
    *loss_out = loss;
done:
    free(eoff);
    free(pb);
    free(dpb);
    free(gq);
    free(gp);
    free(a);
    free(g);
    free(uloss);
    return st;
}

static semid_status check_data(const semid_enmf_data *data) {
    if (data->n_users < 1 || data->n_items < 1)
        return semid_fail(SEMID_EINVAL, "enmf: no users or no items to train on");
    if (data->offsets[0] != 0) return semid_fail(SEMID_EINVAL, "enmf: interaction offsets must start at 0");
    for (int32_t u = 0; u < data->n_users; u++) {
        if (data->offsets[u + 1] < data->offsets[u])
            return semid_fail(SEMID_EINVAL, "enmf: interaction offsets decrease at user %d", u);
        for (int64_t e = data->offsets[u]; e < data->offsets[u + 1]; e++)
            if (data->items[e] < 0 || data->items[e] >= data->n_items)
                return semid_fail(SEMID_EINVAL, "enmf: user %d has item index %d outside [0, %d)", u, data->items[e],
                                  data->n_items);
    }
    if (data->offsets[data->n_users] == 0) return semid_fail(SEMID_EINVAL, "enmf: no training interactions");
    return SEMID_OK;
}

semid_status semid_enmf_train(semid_enmf *m, const semid_enmf_config *cfg, const semid_enmf_data *data,
                              semid_enmf_epoch_fn on_epoch, void *user) {
    memset(m, 0, sizeof *m);
    if (cfg->dim < 1 || cfg->epochs < 0 || cfg->batch_users < 1 || cfg->max_steps < 0 || !(cfg->lr > 0) ||
        !(cfg->neg_weight >= 0) || !(cfg->neg_weight <= 1) || !(cfg->dropout >= 0) || !(cfg->dropout < 1) ||
        !(cfg->init_std > 0))
        return semid_fail(SEMID_EINVAL,
                          "enmf: bad configuration (dim %d, epochs %d, batch %d, max_steps %d, lr %g, neg_weight %g, "
                          "dropout %g; need dim, batch >= 1, max_steps >= 0, lr > 0, 0 <= neg_weight <= 1, "
                          "0 <= dropout < 1)",
                          cfg->dim, cfg->epochs, cfg->batch_users, cfg->max_steps, cfg->lr, cfg->neg_weight,
                          cfg->dropout);
    SEMID_TRY(check_data(data));
    SEMID_TRY(semid_enmf_init(m, data->n_users, data->n_items, cfg->dim, cfg->init_std, cfg->seed));
    const int64_t D = cfg->dim, U = data->n_users;
    int64_t B = cfg->batch_users;
    if (cfg->max_steps > 0 && B * cfg->max_steps < U) B = (U + cfg->max_steps - 1) / cfg->max_steps;
    if (B > U) B = U;

    semid_adamw_config acfg = semid_adamw_defaults();
    acfg.lr = cfg->lr;
    acfg.weight_decay = cfg->weight_decay;
    acfg.clip_norm = 0.0f; /* the loss is a sum over whole batches: its scale is expected */
    semid_adamw opt = {0};
    float *grad = malloc((size_t)m->n_params * sizeof *grad);
    uint8_t *decay = malloc((size_t)m->n_params);
    int32_t *perm = malloc((size_t)U * sizeof *perm);
    float *drop = malloc((size_t)(B * D) * sizeof *drop);
    semid_status st = SEMID_OK;
    if (!grad || !decay || !perm || !drop) {
        st = semid_fail(SEMID_ENOMEM, "enmf: out of memory for training state");
        goto done;
    }
    st = semid_adamw_init(&opt, &acfg, m->n_params);
    if (st != SEMID_OK) goto done;
    memset(decay, 1, (size_t)(m->n_params - D));
    memset(decay + m->n_params - D, 0, (size_t)D); /* h: no decay */

    semid_rng root;
    semid_rng_seed(&root, cfg->seed ^ 0x656e6d66ull);
    const float keep = 1.0f - cfg->dropout;
    for (int32_t epoch = 0; epoch < cfg->epochs; epoch++) {
        double t0 = semid_now(), total = 0.0;
        for (int64_t u = 0; u < U; u++) perm[u] = (int32_t)u;
        semid_rng er = semid_rng_fork(&root, (uint64_t)epoch);
        semid_rng_shuffle_i32(&er, perm, (size_t)U);
        for (int64_t b0 = 0; b0 < U; b0 += B) {
            int32_t nb = (int32_t)(U - b0 < B ? U - b0 : B);
            const int32_t *batch = perm + b0;
            if (cfg->dropout > 0) {
                /* One stream per (epoch, user): the mask does not depend on threads. */
#pragma omp parallel for schedule(static) if (nb * D > ENMF_PARALLEL_MIN) num_threads(semid_get_threads())
                for (int32_t b = 0; b < nb; b++) {
                    semid_rng r = semid_rng_fork(&er, 1 + (uint64_t)batch[b]);
                    for (int64_t d = 0; d < D; d++)
                        drop[b * D + d] = semid_rng_uniform(&r) < keep ? 1.0f / keep : 0.0f;
                }
            }
            memset(grad, 0, (size_t)m->n_params * sizeof *grad);
            double bl;
            st = semid_enmf_loss_grad(m, data, cfg->neg_weight, batch, nb, cfg->dropout > 0 ? drop : NULL, grad, &bl);
            if (st != SEMID_OK) goto done;
            total += bl;
            semid_adamw_step(&opt, m->params, grad, decay);
        }
        double loss = total / (double)U;
        if (!isfinite(loss)) {
            st = semid_fail(SEMID_ENUMERIC, "enmf: loss became %g at epoch %d (lower --lr)", loss, epoch + 1);
            goto done;
        }
        double secs = semid_now() - t0;
        SEMID_INFO("enmf epoch %d/%d  loss %.5f  %.2fs", epoch + 1, cfg->epochs, loss, secs);
        if (on_epoch && on_epoch(m, epoch, loss, secs, user)) break;
    }
done:
    semid_adamw_free(&opt);
    free(grad);
    free(decay);
    free(perm);
    free(drop);
    if (st != SEMID_OK) semid_enmf_free(m);
    return st;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

semid_status semid_enmf_train_csr(const semid_dataset *ds, int64_t **offsets, int32_t **items) {
    *offsets = NULL;
    *items = NULL;
    int64_t *off = malloc(((size_t)ds->n_users + 1) * sizeof *off);
    int64_t total = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        total += sp.train_end - sp.train_begin;
    }
    int32_t *it = malloc((size_t)(total > 0 ? total : 1) * sizeof *it);
    if (!off || !it) {
        free(off);
        free(it);
        return semid_fail(SEMID_ENOMEM, "enmf: out of memory for %lld training interactions", (long long)total);
    }
    int64_t k = 0;
    off[0] = 0;
    for (int32_t u = 0; u < ds->n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(ds, u);
        int64_t start = k;
        for (int64_t e = sp.train_begin; e < sp.train_end; e++) it[k++] = ds->seq_items[e];
        qsort(it + start, (size_t)(k - start), sizeof *it, cmp_i32);
        int64_t w = start;
        for (int64_t e = start; e < k; e++)
            if (e == start || it[e] != it[w - 1]) it[w++] = it[e];
        k = w;
        off[u + 1] = k;
    }
    *offsets = off;
    *items = it;
    return SEMID_OK;
}

semid_status semid_enmf_item_vectors(const semid_enmf *m, semid_matrix *out) {
    SEMID_TRY(semid_matrix_alloc(out, m->n_items, m->dim));
    for (int64_t v = 0; v < m->n_items; v++)
        for (int64_t d = 0; d < m->dim; d++) out->data[v * m->dim + d] = m->h[d] * m->Q[v * m->dim + d];
    return SEMID_OK;
}

semid_status semid_enmf_user_vectors(const semid_enmf *m, semid_matrix *out) {
    SEMID_TRY(semid_matrix_alloc(out, m->n_users, m->dim));
    memcpy(out->data, m->P, (size_t)((int64_t)m->n_users * m->dim) * sizeof(float));
    return SEMID_OK;
}
