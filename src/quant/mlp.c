#include "quant/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "linalg/gemm.h"

/* Below this many elements a loop runs on one thread: waking the team
 * costs more than the work (and much more on a loaded machine). */
enum { PAR_MIN = 1 << 15 };

semid_status semid_act_parse(const char *name, semid_act *out) {
    if (strcmp(name, "relu") == 0) *out = SEMID_ACT_RELU;
    else if (strcmp(name, "silu") == 0) *out = SEMID_ACT_SILU;
    else if (strcmp(name, "none") == 0) *out = SEMID_ACT_NONE;
    else return semid_fail(SEMID_EINVAL, "unknown activation '%s' (expected relu, silu or none)", name);
    return SEMID_OK;
}

const char *semid_act_name(semid_act act) {
    switch (act) {
    case SEMID_ACT_RELU: return "relu";
    case SEMID_ACT_SILU: return "silu";
    default: return "none";
    }
}

void semid_linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t B,
                          int64_t I, int64_t O) {
    semid_sgemm(false, true, B, O, I, 1.0f, inp, I, w, I, 0.0f, out, O);
    if (!b) return;
#pragma omp parallel for schedule(static) if (B * O >= PAR_MIN) num_threads(semid_get_threads())
    for (int64_t r = 0; r < B; r++)
        for (int64_t o = 0; o < O; o++) out[r * O + o] += b[o];
}

void semid_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, int64_t B, int64_t I, int64_t O) {
    if (dinp) semid_sgemm(false, false, B, I, O, 1.0f, dout, O, w, I, 1.0f, dinp, I);
    if (dw) semid_sgemm(true, false, O, I, B, 1.0f, dout, O, inp, I, 1.0f, dw, I);
    if (db) {
        /* Each thread owns a column; rows summed in order, so the result
         * does not depend on the thread count. */
#pragma omp parallel for schedule(static) if (B * O >= PAR_MIN) num_threads(semid_get_threads())
        for (int64_t o = 0; o < O; o++) {
            double s = 0.0;
            for (int64_t r = 0; r < B; r++) s += dout[r * O + o];
            db[o] += (float)s;
        }
    }
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void semid_act_forward(float *out, const float *inp, int64_t n, semid_act act) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        switch (act) {
        case SEMID_ACT_RELU: out[i] = x > 0.0f ? x : 0.0f; break;
        case SEMID_ACT_SILU: out[i] = x * sigmoidf(x); break;
        default: out[i] = x; break;
        }
    }
}

void semid_act_backward(float *dinp, const float *dout, const float *inp, int64_t n, semid_act act) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i], d;
        switch (act) {
        case SEMID_ACT_RELU: d = x > 0.0f ? 1.0f : 0.0f; break;
        case SEMID_ACT_SILU: {
            float s = sigmoidf(x);
            d = s * (1.0f + x * (1.0f - s));
            break;
        }
        default: d = 1.0f; break;
        }
        dinp[i] += dout[i] * d;
    }
}

semid_status semid_mlp_layout(semid_mlp *m, int64_t in, int64_t hidden, int n_hidden, int64_t out,
                              semid_act act, int64_t *offset) {
    if (in <= 0 || out <= 0 || n_hidden < 0 || n_hidden >= SEMID_MLP_MAX_LAYERS || (n_hidden > 0 && hidden <= 0))
        return semid_fail(SEMID_EINVAL, "bad MLP shape: in %lld, hidden %lld x %d, out %lld", (long long)in,
                          (long long)hidden, n_hidden, (long long)out);
    memset(m, 0, sizeof *m);
    m->n_layers = n_hidden + 1;
    m->act = act;
    m->dims[0] = in;
    for (int l = 1; l <= n_hidden; l++) m->dims[l] = hidden;
    m->dims[m->n_layers] = out;
    for (int l = 0; l < m->n_layers; l++) {
        m->w_off[l] = *offset;
        *offset += m->dims[l + 1] * m->dims[l];
        m->b_off[l] = *offset;
        *offset += m->dims[l + 1];
    }
    return SEMID_OK;
}

int64_t semid_mlp_num_params(const semid_mlp *m) {
    int64_t n = 0;
    for (int l = 0; l < m->n_layers; l++) n += m->dims[l + 1] * (m->dims[l] + 1);
    return n;
}

void semid_mlp_init(const semid_mlp *m, float *params, semid_rng *rng) {
    for (int l = 0; l < m->n_layers; l++) {
        int64_t I = m->dims[l], O = m->dims[l + 1];
        bool activated = l + 1 < m->n_layers && m->act != SEMID_ACT_NONE;
        /* He init keeps the variance through a ReLU; Glorot for linear outputs. */
        double bound = activated ? sqrt(6.0 / (double)I) : sqrt(6.0 / (double)(I + O));
        float *w = params + m->w_off[l];
        for (int64_t i = 0; i < I * O; i++) w[i] = (float)((2.0 * semid_rng_uniform(rng) - 1.0) * bound);
        memset(params + m->b_off[l], 0, sizeof(float) * (size_t)O);
    }
}

void semid_mlp_decay_mask(const semid_mlp *m, uint8_t *mask) {
    for (int l = 0; l < m->n_layers; l++) {
        int64_t I = m->dims[l], O = m->dims[l + 1];
        memset(mask + m->w_off[l], 1, (size_t)(I * O));
        memset(mask + m->b_off[l], 0, (size_t)O);
    }
}

void semid_mlp_cache_free(semid_mlp_cache *c) {
    for (int l = 0; l < SEMID_MLP_MAX_LAYERS; l++) {
        free(c->pre[l]);
        free(c->post[l]);
    }
    free(c->grad_a);
    free(c->grad_b);
    memset(c, 0, sizeof *c);
}

semid_status semid_mlp_cache_alloc(semid_mlp_cache *c, const semid_mlp *m, int64_t rows) {
    memset(c, 0, sizeof *c);
    c->cap = rows;
    int64_t widest = m->dims[0];
    bool ok = true;
    for (int l = 0; l < m->n_layers; l++) {
        size_t n = (size_t)(rows * m->dims[l + 1]);
        c->pre[l] = malloc(sizeof(float) * (n ? n : 1));
        c->post[l] = malloc(sizeof(float) * (n ? n : 1));
        ok = ok && c->pre[l] && c->post[l];
        if (m->dims[l + 1] > widest) widest = m->dims[l + 1];
    }
    c->grad_a = malloc(sizeof(float) * (size_t)(rows * widest + 1));
    c->grad_b = malloc(sizeof(float) * (size_t)(rows * widest + 1));
    if (!ok || !c->grad_a || !c->grad_b) {
        semid_mlp_cache_free(c);
        return semid_fail(SEMID_ENOMEM, "out of memory for MLP activations (%lld rows)", (long long)rows);
    }
    return SEMID_OK;
}

const float *semid_mlp_forward(const semid_mlp *m, const float *params, semid_mlp_cache *c,
                               const float *inp, int64_t B) {
    SEMID_ASSERT(B <= c->cap);
    c->inp = inp;
    const float *x = inp;
    for (int l = 0; l < m->n_layers; l++) {
        int64_t I = m->dims[l], O = m->dims[l + 1];
        semid_linear_forward(c->pre[l], x, params + m->w_off[l], params + m->b_off[l], B, I, O);
        semid_act act = l + 1 < m->n_layers ? m->act : SEMID_ACT_NONE;
        semid_act_forward(c->post[l], c->pre[l], B * O, act);
        x = c->post[l];
    }
    return x;
}

void semid_mlp_backward(const semid_mlp *m, const float *params, float *grads, semid_mlp_cache *c,
                        const float *dout, float *dinp, int64_t B) {
    /* g holds dLoss/d(post of layer l); it ping-pongs between the scratch buffers. */
    float *g = c->grad_a, *gprev = c->grad_b;
    int last = m->n_layers - 1;
    memcpy(g, dout, sizeof(float) * (size_t)(B * m->dims[m->n_layers]));
    for (int l = last; l >= 0; l--) {
        int64_t I = m->dims[l], O = m->dims[l + 1];
        semid_act act = l < last ? m->act : SEMID_ACT_NONE;
        /* dpre = g * act'(pre), written into gprev then swapped. */
        memset(gprev, 0, sizeof(float) * (size_t)(B * O));
        semid_act_backward(gprev, g, c->pre[l], B * O, act);
        float *dpre = gprev;
        gprev = g;
        g = dpre;
        const float *x = l == 0 ? c->inp : c->post[l - 1];
        float *dx = NULL;
        if (l > 0) {
            memset(gprev, 0, sizeof(float) * (size_t)(B * I));
            dx = gprev;
        } else {
            dx = dinp;
        }
        semid_linear_backward(dx, grads + m->w_off[l], grads + m->b_off[l], dpre, x, params + m->w_off[l], B,
                              I, O);
        if (l > 0) {
            float *t = g;
            g = gprev;
            gprev = t;
        }
    }
}
