#include "gen/word_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"

semid_status semid_gen_init_word_embeddings(semid_gpt *m, const semid_gen_vocab *v, const semid_wordvec *wv,
                                            uint64_t seed, int32_t *n_found) {
    if (n_found) *n_found = 0;
    const semid_gpt_config *cfg = semid_gpt_get_config(m);
    if (v->size != cfg->vocab_size)
        return semid_fail(SEMID_EINVAL, "word init: the vocabulary has %d tokens, the model %d", v->size,
                          cfg->vocab_size);
    int64_t off, numel, C = cfg->d_model, Dw = wv->dim, W = v->n_words;
    SEMID_TRY(semid_gpt_find_tensor(m, "wte", &off, &numel));
    float *wte = semid_gpt_params(m, &numel) + off;
    float *words = wte + (int64_t)v->word_base * C;
    if (W == 0) return SEMID_OK;
    float *P = malloc(sizeof(float) * (size_t)(Dw * C));
    float *proj = malloc(sizeof(float) * (size_t)(W * C));
    uint8_t *found = calloc((size_t)W, 1);
    double *mean = calloc((size_t)C, sizeof(double));
    if (!P || !proj || !found || !mean) {
        free(P);
        free(proj);
        free(found);
        free(mean);
        return semid_fail(SEMID_ENOMEM, "out of memory initialising %lld word embeddings", (long long)W);
    }
    semid_rng r;
    semid_rng_seed(&r, seed ^ 0x77a5e1d1ULL);
    for (int64_t i = 0; i < Dw * C; i++) P[i] = (float)semid_rng_normal(&r);
    double target = 0.0;
    int64_t nf = 0;
    for (int64_t w = 0; w < W; w++) {
        double n2 = 0.0;
        for (int64_t j = 0; j < C; j++) n2 += (double)words[w * C + j] * words[w * C + j];
        target += sqrt(n2);
        const float *g = semid_wordvec_get(wv, v->words[w]);
        if (!g) continue;
        found[w] = 1;
        nf++;
        float *e = proj + w * C;
        for (int64_t j = 0; j < C; j++) e[j] = 0.0f;
        for (int64_t k = 0; k < Dw; k++)
            for (int64_t j = 0; j < C; j++) e[j] += g[k] * P[k * C + j];
        for (int64_t j = 0; j < C; j++) mean[j] += e[j];
    }
    target /= (double)W;
    for (int64_t w = 0; w < W && nf > 0; w++) {
        if (!found[w]) continue;
        float *e = proj + w * C;
        double n2 = 0.0;
        for (int64_t j = 0; j < C; j++) {
            e[j] -= (float)(mean[j] / (double)nf);
            n2 += (double)e[j] * e[j];
        }
        double s = n2 > 0.0 ? target / sqrt(n2) : 0.0;
        for (int64_t j = 0; j < C; j++) words[w * C + j] = s > 0.0 ? (float)(e[j] * s) : words[w * C + j];
    }
    free(P);
    free(proj);
    free(found);
    free(mean);
    if (n_found) *n_found = (int32_t)nf;
    return SEMID_OK;
}
