/* AdamW over one flat parameter buffer (parameters, gradients and both
 * moments share a layout, so a step is one loop), with a learning-rate
 * schedule (linear warm-up, then cosine or linear decay) and clipping of
 * the global gradient norm. Shared by every trained model in semid. */
#ifndef SEMID_LINALG_ADAMW_H
#define SEMID_LINALG_ADAMW_H

#include <stdint.h>

#include "semid/semid.h"

typedef enum { SEMID_LR_CONSTANT = 0, SEMID_LR_COSINE, SEMID_LR_LINEAR } semid_lr_decay;

typedef struct semid_adamw_config {
    float lr;            /* peak learning rate (default 1e-3) */
    float beta1;         /* 0.9 */
    float beta2;         /* 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* decoupled, 0.01 */
    float clip_norm;     /* global gradient-norm clip, 0 = off (default 1.0) */
    int64_t warmup_steps;
    int64_t total_steps; /* for the decay; 0 = no decay */
    semid_lr_decay decay;
} semid_adamw_config;

semid_adamw_config semid_adamw_defaults(void);

typedef struct semid_adamw {
    semid_adamw_config cfg;
    int64_t n;     /* number of parameters */
    float *m;      /* first moment  (n) */
    float *v;      /* second moment (n) */
    int64_t step;  /* steps taken */
} semid_adamw;

/* Allocates zeroed moments; returns SEMID_ENOMEM on failure. */
semid_status semid_adamw_init(semid_adamw *opt, const semid_adamw_config *cfg, int64_t n);
void semid_adamw_free(semid_adamw *opt);
/* Learning rate at step `step` (0-based) under the schedule. */
float semid_adamw_lr(const semid_adamw_config *cfg, int64_t step);
/* One step. `decay_mask` (may be NULL = decay all) is 1 where weight decay
 * applies (matrices) and 0 where not (biases, norms). Clips grads in place
 * and returns the gradient norm before clipping. */
float semid_adamw_step(semid_adamw *opt, float *params, float *grads, const uint8_t *decay_mask);

#endif
