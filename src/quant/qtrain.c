#include "quant/qtrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/status.h"

int32_t semid_qtrain_epochs(const semid_qtrain *t) {
    int64_t N = t->n_rows, B = t->batch_size < N ? t->batch_size : N;
    if (t->max_steps <= 0 || N < 1 || B < 1) return t->epochs;
    int64_t per_epoch = (N + B - 1) / B, fit = t->max_steps / per_epoch;
    if (fit < 1) fit = 1;
    return fit < t->epochs ? (int32_t)fit : t->epochs;
}

semid_status semid_qtrain_run(const semid_qtrain *t, semid_rng *rng, semid_qtrain_result *out) {
    out->loss_first = out->loss_last = NAN;
    out->epochs_run = 0;
    int64_t N = t->n_rows, B = t->batch_size < N ? t->batch_size : N;
    if (N < 1 || B < 1 || t->epochs < 1 || t->max_steps < 0)
        return semid_fail(SEMID_EINVAL, "%s: %lld rows, batch %d, %d epochs and a budget of %lld steps cannot train",
                          t->name, (long long)N, t->batch_size, t->epochs, (long long)t->max_steps);
    const int32_t epochs = semid_qtrain_epochs(t);
    semid_adamw_config oc = semid_adamw_defaults();
    oc.lr = t->lr;
    oc.weight_decay = t->weight_decay;
    oc.decay = SEMID_LR_COSINE;
    oc.total_steps = ((N + B - 1) / B) * epochs;
    semid_adamw opt;
    SEMID_TRY(semid_adamw_init(&opt, &oc, t->n_params));
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
    semid_status st = perm ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory for %s training", t->name);
    for (int64_t i = 0; i < N && perm; i++) perm[i] = i;
    char label[64];
    snprintf(label, sizeof label, "%s epochs", t->name);
    semid_progress prog;
    if (t->verbose) semid_progress_start(&prog, label, epochs);
    for (int32_t ep = 0; ep < epochs && st == SEMID_OK; ep++) {
        semid_rng_shuffle_i64(rng, perm, (size_t)N);
        if (t->epoch_start) t->epoch_start(t->ctx);
        double loss_sum = 0.0;
        for (int64_t s = 0; s < N && st == SEMID_OK; s += B) {
            int64_t nb = N - s < B ? N - s : B;
            double loss = 0.0;
            st = t->batch(t->ctx, perm + s, nb, &loss);
            if (st == SEMID_OK && !isfinite(loss))
                st = semid_fail(SEMID_ENUMERIC, "%s: loss became %g at epoch %d (try a lower learning rate)", t->name,
                                loss, ep + 1);
            if (st != SEMID_OK) break;
            semid_adamw_step(&opt, t->params, t->grads, t->decay_mask);
            loss_sum += loss * (double)nb;
        }
        if (st != SEMID_OK) break;
        double loss = loss_sum / (double)N;
        if (ep == 0) out->loss_first = loss;
        out->loss_last = loss;
        out->epochs_run = ep + 1;
        if (t->epoch_end && ep + 1 < epochs) t->epoch_end(t->ctx, &opt, rng);
        if (t->verbose) {
            char extra[64];
            snprintf(extra, sizeof extra, "loss %.5f", loss);
            semid_progress_update(&prog, ep + 1, extra);
        }
    }
    if (t->verbose && st == SEMID_OK) semid_progress_finish(&prog, NULL);
    semid_adamw_free(&opt);
    free(perm);
    return st;
}
