/* The training loop the learned quantizers share (RQ-VAE, Residual LFQ,
 * prefix-share): epochs of shuffled minibatches, one AdamW step per batch
 * with cosine decay over all steps, a stop with a clear error when the loss
 * stops being finite, the mean loss per epoch and a progress bar. What
 * differs between them (the batch's loss and gradient, what happens between
 * epochs) comes in as callbacks. */
#ifndef SEMID_QUANT_QTRAIN_H
#define SEMID_QUANT_QTRAIN_H

#include <stdint.h>

#include "base/rng.h"
#include "linalg/adamw.h"
#include "semid/semid.h"

typedef struct semid_qtrain {
    const char *name;  /* "rqvae": error messages and the progress label */
    void *ctx;         /* the callbacks' state */
    float *params, *grads;
    const uint8_t *decay_mask;
    int64_t n_params;
    int64_t n_rows;    /* training rows; batches are slices of a permutation of them */
    int32_t epochs, batch_size;
    int64_t max_steps; /* 0 = every epoch; else whole epochs, as many as fit this many
                          AdamW steps (at least one): a big catalog trains the steps of a
                          small one, not 100 passes over itself */
    float lr, weight_decay;
    int verbose;
    /* The loss of data rows rows[0..n) (*loss, a mean over the batch) and
     * its gradient, written over grads. */
    semid_status (*batch)(void *ctx, const int64_t *rows, int64_t n, double *loss);
    /* Before each epoch (may be NULL): e.g. clear code counts. */
    void (*epoch_start)(void *ctx);
    /* After each epoch but the last (may be NULL): e.g. reset dead codes,
     * clearing their optimizer moments in `opt`. */
    void (*epoch_end)(void *ctx, semid_adamw *opt, semid_rng *rng);
} semid_qtrain;

typedef struct semid_qtrain_result {
    double loss_first, loss_last; /* mean loss of the first and last epoch */
    int32_t epochs_run;
} semid_qtrain_result;

/* The epochs the loop runs: t->epochs, fewer when t->max_steps binds. */
int32_t semid_qtrain_epochs(const semid_qtrain *t);

/* Runs the loop; `rng` shuffles the rows and is passed to epoch_end. */
semid_status semid_qtrain_run(const semid_qtrain *t, semid_rng *rng, semid_qtrain_result *out);

#endif
