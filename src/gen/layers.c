#include "gen/layers.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "linalg/gemm.h"
#include "semid/semid.h"

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
#pragma omp parallel if (N * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (B * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bt = 0; bt < B * T; bt++) {
        const float *e = wte + (int64_t)inp[bt] * C;
        const float *p = wpe + (bt % T) * C;
        float *o = out + bt * C;
        for (int64_t i = 0; i < C; i++) o[i] = e[i] + p[i];
    }
}

void semid_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int64_t B, int64_t T,
                            int64_t C) {
#pragma omp parallel if (B * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (N * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (N * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel if (N * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (N * OC >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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

#define MADD SEMID_MADD

/* dst (hs, T) = the transpose of the hs columns at src of T rows of stride
 * `stride`: a head's keys or values laid out so that a query's scores against
 * all positions are a run of contiguous, vectorisable multiply-adds. */
/* Attention loops hold this many floats of a result in registers. */
enum { ATT_BLOCK = 16 };

static void pack_transposed(float *restrict dst, const float *restrict src, int64_t stride, int64_t T, int64_t hs) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < hs; i++) dst[i * T + t] = src[t * stride + i];
}

void semid_attention_forward(float *out, float *att, float *scratch, const float *inp, int64_t B, int64_t T, int64_t C,
                             int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3;
        float *restrict kt = scratch + bh * semid_attention_scratch_size(1, T, C, NH) / NH; /* (hs, T) */
        float *restrict acc = kt + hs * T;                                                    /* (hs) */
        pack_transposed(kt, base + C + h * hs, C3, T, hs);
        for (int64_t t = 0; t < T; t++) {
            const float *q = base + t * C3 + h * hs;
            float *restrict a = att + (bh * T + t) * T;
            int64_t n = t + 1;
            for (int64_t t2 = 0; t2 < T; t2++) a[t2] = 0.0f;
            /* scores BLOCK positions at a time in registers, then the rest */
            int64_t t0 = 0;
            for (; t0 + ATT_BLOCK <= n; t0 += ATT_BLOCK) {
                float r[ATT_BLOCK] = {0};
                for (int64_t i = 0; i < hs; i++) {
                    float qi = q[i] * scale;
                    const float *restrict kr = kt + i * T + t0;
                    for (int u = 0; u < ATT_BLOCK; u++) r[u] = MADD(qi, kr[u], r[u]);
                }
                memcpy(a + t0, r, sizeof r);
            }
            for (int64_t i = 0; i < hs && t0 < n; i++) {
                float qi = q[i] * scale;
                const float *restrict kr = kt + i * T;
                for (int64_t t2 = t0; t2 < n; t2++) a[t2] = MADD(qi, kr[t2], a[t2]);
            }
            float maxv = a[0];
#pragma omp simd reduction(max : maxv)
            for (int64_t t2 = 1; t2 < n; t2++) maxv = a[t2] > maxv ? a[t2] : maxv;
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int64_t t2 = 0; t2 < n; t2++) {
                float e = semid_fast_expf(a[t2] - maxv);
                a[t2] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            for (int64_t t2 = 0; t2 < n; t2++) a[t2] *= inv;
            /* weighted values BLOCK channels at a time in registers, then the rest */
            int64_t i0 = 0;
            for (; i0 + ATT_BLOCK <= hs; i0 += ATT_BLOCK) {
                float r[ATT_BLOCK] = {0};
                for (int64_t t2 = 0; t2 < n; t2++) {
                    const float *restrict v = base + t2 * C3 + 2 * C + h * hs + i0;
                    float p = a[t2];
                    for (int u = 0; u < ATT_BLOCK; u++) r[u] = MADD(p, v[u], r[u]);
                }
                memcpy(acc + i0, r, sizeof r);
            }
            for (int64_t i = i0; i < hs; i++) acc[i] = 0.0f;
            for (int64_t t2 = 0; t2 < n && i0 < hs; t2++) {
                const float *restrict v = base + t2 * C3 + 2 * C + h * hs;
                float p = a[t2];
                for (int64_t i = i0; i < hs; i++) acc[i] = MADD(p, v[i], acc[i]);
            }
            memcpy(out + (b * T + t) * C + h * hs, acc, (size_t)hs * sizeof(float));
        }
    }
}

void semid_attention_backward(float *dinp, float *scratch, const float *dout, const float *inp, const float *att,
                              int64_t B, int64_t T, int64_t C, int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3;
        float *dbase = dinp + b * T * C3;
        /* packed per head: v^T, and dk^T, dv^T accumulated before one scatter */
        float *restrict vt = scratch + bh * semid_attention_scratch_size(1, T, C, NH) / NH; /* (hs, T) */
        float *restrict dkt = vt + hs * T;                                                    /* (hs, T) */
        float *restrict dvt = dkt + hs * T;                                                   /* (hs, T) */
        float *restrict dpre = dvt + hs * T;                                                  /* (T) */
        float *restrict dq = dpre + T;                                                        /* (hs) */
        pack_transposed(vt, base + 2 * C + h * hs, C3, T, hs);
        memset(dkt, 0, (size_t)(2 * hs * T) * sizeof(float));
        for (int64_t t = 0; t < T; t++) {
            const float *restrict a = att + (bh * T + t) * T;
            const float *restrict d = dout + (b * T + t) * C + h * hs;
            int64_t n = t + 1;
            /* through out = att . v: datt = d . v^T, dv += att d */
            int64_t t0 = 0;
            for (; t0 + ATT_BLOCK <= n; t0 += ATT_BLOCK) { /* datt in registers */
                float r[ATT_BLOCK] = {0};
                for (int64_t i = 0; i < hs; i++) {
                    float di = d[i];
                    const float *restrict vr = vt + i * T + t0;
                    float *restrict dvr = dvt + i * T + t0;
                    for (int u = 0; u < ATT_BLOCK; u++) {
                        r[u] = MADD(di, vr[u], r[u]);
                        dvr[u] = MADD(di, a[t0 + u], dvr[u]);
                    }
                }
                memcpy(dpre + t0, r, sizeof r);
            }
            for (int64_t t2 = t0; t2 < n; t2++) dpre[t2] = 0.0f;
            for (int64_t i = 0; i < hs && t0 < n; i++) {
                float di = d[i];
                const float *restrict vr = vt + i * T;
                float *restrict dvr = dvt + i * T;
                for (int64_t t2 = t0; t2 < n; t2++) {
                    dpre[t2] = MADD(di, vr[t2], dpre[t2]);
                    dvr[t2] = MADD(di, a[t2], dvr[t2]);
                }
            }
            /* through the softmax, then the scaled scores q . k */
            float dot_ad = 0.0f;
#pragma omp simd reduction(+ : dot_ad)
            for (int64_t t2 = 0; t2 < n; t2++) dot_ad += a[t2] * dpre[t2];
            for (int64_t t2 = 0; t2 < n; t2++) dpre[t2] = a[t2] * (dpre[t2] - dot_ad) * scale;
            const float *restrict q = base + t * C3 + h * hs;
            int64_t i0 = 0;
            for (; i0 + ATT_BLOCK <= hs; i0 += ATT_BLOCK) { /* dq in registers */
                float r[ATT_BLOCK] = {0};
                for (int64_t t2 = 0; t2 < n; t2++) {
                    const float *restrict k = base + t2 * C3 + C + h * hs + i0;
                    float p = dpre[t2];
                    for (int u = 0; u < ATT_BLOCK; u++) r[u] = MADD(p, k[u], r[u]);
                }
                memcpy(dq + i0, r, sizeof r);
            }
            for (int64_t i = i0; i < hs; i++) dq[i] = 0.0f;
            for (int64_t t2 = 0; t2 < n && i0 < hs; t2++) {
                const float *restrict k = base + t2 * C3 + C + h * hs;
                float p = dpre[t2];
                for (int64_t i = i0; i < hs; i++) dq[i] = MADD(p, k[i], dq[i]);
            }
            float *dqo = dbase + t * C3 + h * hs;
            for (int64_t i = 0; i < hs; i++) dqo[i] += dq[i];
            for (int64_t i = 0; i < hs; i++) {
                float qi = q[i];
                float *restrict dkr = dkt + i * T;
                for (int64_t t2 = 0; t2 < n; t2++) dkr[t2] = MADD(qi, dpre[t2], dkr[t2]);
            }
        }
        for (int64_t t2 = 0; t2 < T; t2++) {
            float *dk = dbase + t2 * C3 + C + h * hs, *dv = dk + C;
            for (int64_t i = 0; i < hs; i++) {
                dk[i] += dkt[i * T + t2];
                dv[i] += dvt[i * T + t2];
            }
        }
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

void semid_gelu_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static) if (8 * n >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + fast_tanhf(u));
    }
}

void semid_gelu_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (8 * n >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (n >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void semid_residual_backward(float *da, float *db, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

int64_t semid_softmax_xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int64_t N,
                                   int64_t V) {
    int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if (N * V >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
#pragma omp parallel for schedule(static) if (N * V >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
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
