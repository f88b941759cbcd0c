#include "linalg/adamw.h"

#include <math.h>
#include <stdlib.h>

#include "base/status.h"

/* Below this many parameters a step is faster on one thread than the cost
 * of waking the others. */
enum { ADAMW_PARALLEL_MIN = 32768 };

semid_adamw_config semid_adamw_defaults(void) {
    semid_adamw_config c = {0};
    c.lr = 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = 0.01f;
    c.clip_norm = 1.0f;
    c.decay = SEMID_LR_CONSTANT;
    return c;
}

semid_status semid_adamw_init(semid_adamw *opt, const semid_adamw_config *cfg, int64_t n) {
    opt->cfg = *cfg;
    opt->n = n;
    opt->step = 0;
    opt->m = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    opt->v = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!opt->m || !opt->v) {
        semid_adamw_free(opt);
        return semid_fail(SEMID_ENOMEM, "out of memory for optimizer state (%lld parameters)", (long long)n);
    }
    return SEMID_OK;
}

void semid_adamw_free(semid_adamw *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

float semid_adamw_lr(const semid_adamw_config *cfg, int64_t step) {
    if (cfg->warmup_steps > 0 && step < cfg->warmup_steps)
        return cfg->lr * (float)(step + 1) / (float)cfg->warmup_steps;
    if (cfg->decay == SEMID_LR_CONSTANT || cfg->total_steps <= cfg->warmup_steps) return cfg->lr;
    double progress = (double)(step - cfg->warmup_steps) / (double)(cfg->total_steps - cfg->warmup_steps);
    if (progress > 1.0) progress = 1.0;
    if (cfg->decay == SEMID_LR_COSINE) return cfg->lr * (float)(0.5 * (1.0 + cos(M_PI * progress)));
    return cfg->lr * (float)(1.0 - progress);
}

float semid_adamw_step(semid_adamw *opt, float *params, float *grads, const uint8_t *decay_mask) {
    const semid_adamw_config *c = &opt->cfg;
    double sq = 0.0;
#pragma omp parallel for reduction(+ : sq) schedule(static) if (opt->n >= ADAMW_PARALLEL_MIN) num_threads(semid_get_threads())
    for (int64_t i = 0; i < opt->n; i++) sq += (double)grads[i] * grads[i];
    float norm = (float)sqrt(sq);
    float clip = 1.0f;
    if (c->clip_norm > 0.0f && norm > c->clip_norm) clip = c->clip_norm / (norm + 1e-6f);

    float lr = semid_adamw_lr(c, opt->step);
    opt->step++;
    float bc1 = 1.0f - powf(c->beta1, (float)opt->step);
    float bc2 = 1.0f - powf(c->beta2, (float)opt->step);
#pragma omp parallel for schedule(static) if (opt->n >= ADAMW_PARALLEL_MIN) num_threads(semid_get_threads())
    for (int64_t i = 0; i < opt->n; i++) {
        float g = grads[i] * clip;
        grads[i] = g;
        float m = opt->m[i] = c->beta1 * opt->m[i] + (1.0f - c->beta1) * g;
        float v = opt->v[i] = c->beta2 * opt->v[i] + (1.0f - c->beta2) * g * g;
        float update = (m / bc1) / (sqrtf(v / bc2) + c->eps);
        float wd = (decay_mask == NULL || decay_mask[i]) ? c->weight_decay : 0.0f;
        params[i] -= lr * (update + wd * params[i]);
    }
    return norm;
}
