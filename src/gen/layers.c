#include "gen/layers.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "linalg/gemm.h"

#define LN_EPS 1e-5f

/* tanh through semid_fast_expf: (1 - e^-2|u|) / (1 + e^-2|u|) with the sign
 * of u; absolute error about 1e-7. */
static inline float fast_tanhf(float u) {
    float e = semid_fast_expf(-2.0f * fabsf(u));
    return copysignf((1.0f - e) / (1.0f + e), u);
}

/* The columns [*c0, *c1) of C that this thread of the current parallel region
 * owns: splitting a column reduction this way keeps every sum in row order,
 * whatever the thread count. */
static void thread_columns(int64_t C, int64_t *c0, int64_t *c1) {
    int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    int64_t chunk = (C + nt - 1) / nt;
    *c0 = tid * chunk < C ? tid * chunk : C;
    *c1 = *c0 + chunk < C ? *c0 + chunk : C;
}

/* Column sums: out[j] += sum_r x[r*C + j]. */
static void add_column_sums(float *out, const float *x, int64_t N, int64_t C) {
#pragma omp parallel if (N * C >= SEMID_PAR_MIN_WORK)
    {
        int64_t c0, c1;
        thread_columns(C, &c0, &c1);
        for (int64_t r = 0; r < N; r++) {
            const float *xr = x + r * C;
            for (int64_t j = c0; j < c1; j++) out[j] += xr[j];
        }
    }
}

void semid_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int64_t B, int64_t T,
                           int64_t C) {
#pragma omp parallel for schedule(static) if (B * T * C >= SEMID_PAR_MIN_WORK)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const float *e = wte + (int64_t)inp[bt] * C;
        const float *p = wpe + (bt % T) * C;
        float *o = out + bt * C;
        for (int64_t i = 0; i < C; i++) o[i] = e[i] + p[i];
    }
}

void semid_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int64_t B, int64_t T,
                            int64_t C) {
#pragma omp parallel if (B * T * C >= SEMID_PAR_MIN_WORK)
    {
        int64_t c0, c1;
        thread_columns(C, &c0, &c1);
        for (int64_t bt = 0; bt < B * T; bt++) {
            const float *d = dout + bt * C;
            float *de = dwte + (int64_t)inp[bt] * C;
            float *dp = dwpe + (bt % T) * C;
            for (int64_t i = c0; i < c1; i++) {
                de[i] += d[i];
                dp[i] += d[i];
            }
        }
    }
}

void semid_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C >= SEMID_PAR_MIN_WORK)
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + r * C;
        float m = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int64_t i = 0; i < C; i++) m += x[i];
        m /= (float)C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int64_t i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + LN_EPS);
        float *o = out + r * C;
        for (int64_t i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = s;
    }
}

void semid_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static) if (N * C >= SEMID_PAR_MIN_WORK)
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + r * C, *d = dout + r * C;
        float m = mean[r], s = rstd[r];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
        for (int64_t i = 0; i < C; i++) {
            float dn = w[i] * d[i];
            dnorm_mean += dn;
            dnorm_norm_mean += dn * (x[i] - m) * s;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
        float *di = dinp + r * C;
        for (int64_t i = 0; i < C; i++) {
            float norm = (x[i] - m) * s;
            di[i] += (w[i] * d[i] - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
#pragma omp parallel if (N * C >= SEMID_PAR_MIN_WORK)
    {
        int64_t c0, c1;
        thread_columns(C, &c0, &c1);
        for (int64_t r = 0; r < N; r++) {
            const float *x = inp + r * C, *d = dout + r * C;
            float m = mean[r], s = rstd[r];
            for (int64_t i = c0; i < c1; i++) {
                dw[i] += d[i] * (x[i] - m) * s;
                db[i] += d[i];
            }
        }
    }
}

void semid_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int64_t N, int64_t C,
                          int64_t OC) {
    if (bias) {
#pragma omp parallel for schedule(static) if (N * OC >= SEMID_PAR_MIN_WORK)
        for (int64_t r = 0; r < N; r++) memcpy(out + r * OC, bias, (size_t)OC * sizeof(float));
    }
    semid_sgemm(false, true, N, OC, C, 1.0f, inp, C, w, C, bias ? 1.0f : 0.0f, out, OC);
}

void semid_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                           int64_t N, int64_t C, int64_t OC) {
    if (dinp) semid_sgemm(false, false, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    if (dw) semid_sgemm(true, false, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (dbias) add_column_sums(dbias, dout, N, OC);
}

void semid_attention_forward(float *out, float *att, const float *inp, int64_t B, int64_t T, int64_t C, int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK)
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3;
        for (int64_t t = 0; t < T; t++) {
            const float *q = base + t * C3 + h * hs;
            float *a = att + (bh * T + t) * T;
            float maxv = -INFINITY;
            for (int64_t t2 = 0; t2 <= t; t2++) {
                const float *k = base + t2 * C3 + C + h * hs;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < hs; i++) s += q[i] * k[i];
                s *= scale;
                a[t2] = s;
                if (s > maxv) maxv = s;
            }
            float sum = 0.0f;
            for (int64_t t2 = 0; t2 <= t; t2++) {
                float e = semid_fast_expf(a[t2] - maxv);
                a[t2] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            for (int64_t t2 = 0; t2 <= t; t2++) a[t2] *= inv;
            for (int64_t t2 = t + 1; t2 < T; t2++) a[t2] = 0.0f;
            float *o = out + (b * T + t) * C + h * hs;
            for (int64_t i = 0; i < hs; i++) o[i] = 0.0f;
            for (int64_t t2 = 0; t2 <= t; t2++) {
                const float *v = base + t2 * C3 + 2 * C + h * hs;
                float p = a[t2];
                for (int64_t i = 0; i < hs; i++) o[i] += p * v[i];
            }
        }
    }
}

void semid_attention_backward(float *dinp, float *scratch, const float *dout, const float *inp, const float *att,
                              int64_t B, int64_t T, int64_t C, int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK)
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3;
        float *dbase = dinp + b * T * C3;
        float *datt = scratch + bh * T;
        for (int64_t t = 0; t < T; t++) {
            const float *a = att + (bh * T + t) * T;
            const float *d = dout + (b * T + t) * C + h * hs;
            /* through out = att . v */
            float dot_ad = 0.0f;
            for (int64_t t2 = 0; t2 <= t; t2++) {
                const float *v = base + t2 * C3 + 2 * C + h * hs;
                float *dv = dbase + t2 * C3 + 2 * C + h * hs;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < hs; i++) {
                    s += d[i] * v[i];
                    dv[i] += a[t2] * d[i];
                }
                datt[t2] = s;
                dot_ad += a[t2] * s;
            }
            /* through the softmax and the scaled scores q . k */
            const float *q = base + t * C3 + h * hs;
            float *dq = dbase + t * C3 + h * hs;
            for (int64_t t2 = 0; t2 <= t; t2++) {
                float dpre = a[t2] * (datt[t2] - dot_ad) * scale;
                const float *k = base + t2 * C3 + C + h * hs;
                float *dk = dbase + t2 * C3 + C + h * hs;
                for (int64_t i = 0; i < hs; i++) {
                    dq[i] += dpre * k[i];
                    dk[i] += dpre * q[i];
                }
            }
        }
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

void semid_gelu_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static) if (8 * n >= SEMID_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + fast_tanhf(u));
    }
}

void semid_gelu_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (8 * n >= SEMID_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float th = fast_tanhf(u);
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
        dinp[i] += g * dout[i];
    }
}

void semid_residual_forward(float *out, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= SEMID_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void semid_residual_backward(float *da, float *db, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= SEMID_PAR_MIN_WORK)
    for (int64_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

int64_t semid_softmax_xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int64_t N,
                                   int64_t V) {
    int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if (N * V >= SEMID_PAR_MIN_WORK)
    for (int64_t r = 0; r < N; r++) {
        if (targets[r] < 0) {
            losses[r] = 0.0f;
            lse[r] = 0.0f;
            continue;
        }
        const float *l = logits + r * V;
        float maxv = l[0];
#pragma omp simd reduction(max : maxv)
        for (int64_t i = 1; i < V; i++) maxv = l[i] > maxv ? l[i] : maxv;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < V; i++) sum += semid_fast_expf(l[i] - maxv);
        float z = maxv + logf(sum);
        lse[r] = z;
        losses[r] = z - l[targets[r]];
        count++;
    }
    return count;
}

void semid_softmax_xent_backward(float *dlogits, const float *logits, const float *lse, const int32_t *targets,
                                 float dloss, int64_t N, int64_t V) {
#pragma omp parallel for schedule(static) if (N * V >= SEMID_PAR_MIN_WORK)
    for (int64_t r = 0; r < N; r++) {
        if (targets[r] < 0) continue;
        const float *l = logits + r * V;
        float *d = dlogits + r * V;
        float z = lse[r];
        for (int64_t i = 0; i < V; i++) d[i] += semid_fast_expf(l[i] - z) * dloss;
        d[targets[r]] -= dloss;
    }
}

void semid_tied_logits_forward(float *logits, const float *inp, const float *wte, int64_t N, int64_t C, int64_t V) {
    semid_sgemm(false, true, N, V, C, 1.0f, inp, C, wte, C, 0.0f, logits, V);
}

void semid_tied_logits_backward(float *dinp, float *dwte, const float *dlogits, const float *inp, const float *wte,
                                int64_t N, int64_t C, int64_t V) {
    semid_sgemm(false, false, N, C, V, 1.0f, dlogits, V, wte, C, 1.0f, dinp, C);
    semid_sgemm(true, false, V, C, N, 1.0f, dlogits, V, inp, C, 1.0f, dwte, C);
}
