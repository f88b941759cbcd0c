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

void semid_encoder_forward(float *out, const int32_t *inp, const int32_t *pos, const float *wte, const float *wpe,
                           int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for schedule(static) if (B * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bt = 0; bt < B * T; bt++) {
        const float *e = wte + (int64_t)inp[bt] * C;
        const float *p = wpe + (pos ? pos[bt] : bt % T) * C;
        float *o = out + bt * C;
        for (int64_t i = 0; i < C; i++) o[i] = e[i] + p[i];
    }
}

void semid_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, const int32_t *pos,
                            int64_t B, int64_t T, int64_t C) {
#pragma omp parallel if (B * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    {
        int64_t c0, c1;
        thread_columns(C, &c0, &c1);
        for (int64_t bt = 0; bt < B * T; bt++) {
            const float *d = dout + bt * C;
            float *de = dwte + (int64_t)inp[bt] * C;
            float *dp = dwpe + (pos ? pos[bt] : bt % T) * C;
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
                          int64_t OC, semid_gemm_kind kind) {
    semid_gemm(false, true, N, OC, C, inp, C, w, C, bias, false, out, OC, kind);
}

void semid_matmul_backward(float *dinp, bool set_dinp, float *dw, float *dbias, const float *dout, const float *inp,
                           const float *w, int64_t N, int64_t C, int64_t OC, semid_gemm_kind kind) {
    if (dinp) semid_gemm(false, false, N, C, OC, dout, OC, w, C, NULL, !set_dinp, dinp, C, kind);
    if (dw) semid_gemm(true, false, OC, C, N, dout, OC, inp, C, NULL, true, dw, C, kind);
    if (dbias) add_column_sums(dbias, dout, N, OC);
}

/* dst (hs, T) = the transpose of the hs columns at src of T rows of stride
 * `stride`: a head's keys or values as the right operand of a product with
 * the positions as its columns. */
static void pack_transposed(float *restrict dst, const float *restrict src, int64_t stride, int64_t T, int64_t hs) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < hs; i++) dst[i * T + t] = src[t * stride + i];
}

/* dst (T, T) = the transpose of src (T, T). */
static void transpose_square(float *restrict dst, const float *restrict src, int64_t T) {
    enum { TB = 16 };
    for (int64_t i0 = 0; i0 < T; i0 += TB)
        for (int64_t j0 = 0; j0 < T; j0 += TB)
            for (int64_t i = i0; i < i0 + TB && i < T; i++)
                for (int64_t j = j0; j < j0 + TB && j < T; j++) dst[j * T + i] = src[i * T + j];
}

/* Attention runs per (batch row, head) as small products in blocks of
 * ATT_ROWS query positions (semid_gemm_small): a block's queries see keys
 * up to the block's last position only, so the causal triangle is about
 * halved, not computed whole. */
enum { ATT_ROWS = 8 };

/* The first position each position t of a row attends to. */
static inline int64_t att_start(const int32_t *pos, int64_t b, int64_t T, int64_t t) {
    return pos ? t - pos[b * T + t] : 0;
}

void semid_attention_forward(float *out, float *att, float *scratch, const float *inp, const int32_t *pos, int64_t B,
                             int64_t T, int64_t C, int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3;
        float *restrict kt = scratch + bh * (semid_attention_scratch_size(1, T, C, NH) / NH); /* (hs, T) */
        float *a = att + bh * T * T;                                                          /* (T, T) */
        pack_transposed(kt, base + C + h * hs, C3, T, hs);
        for (int64_t r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int64_t mr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, n = r0 + mr; /* keys [0, n) */
            /* scores q . k of the block's rows */
            semid_gemm_small(mr, n, hs, base + r0 * C3 + h * hs, C3, kt, T, false, a + r0 * T, T);
            for (int64_t t = r0; t < r0 + mr; t++) {
                float *restrict r = a + t * T;
                int64_t s0 = att_start(pos, b, T, t);
                float maxv = r[s0] * scale;
                for (int64_t t2 = s0 + 1; t2 <= t; t2++) maxv = r[t2] * scale > maxv ? r[t2] * scale : maxv;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int64_t t2 = s0; t2 <= t; t2++) {
                    float e = semid_fast_expf(r[t2] * scale - maxv);
                    r[t2] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
                for (int64_t t2 = 0; t2 < s0; t2++) r[t2] = 0.0f;
                for (int64_t t2 = s0; t2 <= t; t2++) r[t2] *= inv;
                for (int64_t t2 = t + 1; t2 < T; t2++) r[t2] = 0.0f;
            }
            /* the block's outputs: probabilities times values */
            semid_gemm_small(mr, hs, n, a + r0 * T, T, base + 2 * C + h * hs, C3, false, out + (b * T + r0) * C + h * hs,
                             C);
        }
    }
}

void semid_attention_backward(float *dinp, float *scratch, const float *dout, const float *inp, const float *att,
                              const int32_t *pos, int64_t B, int64_t T, int64_t C, int64_t NH) {
    int64_t hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * T * T * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t bh = 0; bh < B * NH; bh++) {
        int64_t b = bh / NH, h = bh % NH;
        const float *base = inp + b * T * C3, *a = att + bh * T * T, *dO = dout + b * T * C + h * hs;
        float *dbase = dinp + b * T * C3;
        float *restrict vt = scratch + bh * (semid_attention_scratch_size(1, T, C, NH) / NH); /* (hs, T) */
        float *restrict ds = vt + hs * T;                                                     /* (T, T) */
        float *restrict tr = ds + T * T;                                                      /* (T, T) */
        pack_transposed(vt, base + 2 * C + h * hs, C3, T, hs);
        /* dv = att^T . dout: a block of value rows t2 takes the queries t >= t2 */
        transpose_square(tr, a, T);
        for (int64_t r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int64_t mr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS;
            semid_gemm_small(mr, hs, T - r0, tr + r0 * T + r0, T, dO + r0 * C, C, true, dbase + r0 * C3 + 2 * C + h * hs,
                             C3);
        }
        /* datt = dout . v^T, then through the softmax: ds = att (datt - att . datt) scale */
        for (int64_t r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int64_t mr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS, n = r0 + mr;
            semid_gemm_small(mr, n, hs, dO + r0 * C, C, vt, T, false, ds + r0 * T, T);
            for (int64_t t = r0; t < r0 + mr; t++) {
                const float *restrict ar = a + t * T;
                float *restrict d = ds + t * T;
                int64_t s0 = att_start(pos, b, T, t);
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int64_t t2 = s0; t2 <= t; t2++) dot += ar[t2] * d[t2];
                for (int64_t t2 = 0; t2 < s0; t2++) d[t2] = 0.0f;
                for (int64_t t2 = s0; t2 <= t; t2++) d[t2] = ar[t2] * (d[t2] - dot) * scale;
                for (int64_t t2 = t + 1; t2 < T; t2++) d[t2] = 0.0f;
            }
            /* dq = ds . k over the keys the block saw */
            semid_gemm_small(mr, hs, n, ds + r0 * T, T, base + C + h * hs, C3, true, dbase + r0 * C3 + h * hs, C3);
        }
        /* dk = ds^T . q: a block of key rows t2 takes the queries t >= t2 */
        transpose_square(tr, ds, T);
        for (int64_t r0 = 0; r0 < T; r0 += ATT_ROWS) {
            int64_t mr = T - r0 < ATT_ROWS ? T - r0 : ATT_ROWS;
            semid_gemm_small(mr, hs, T - r0, tr + r0 * T + r0, T, base + r0 * C3 + h * hs, C3, true,
                             dbase + r0 * C3 + C + h * hs, C3);
        }
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

static inline float gelu1(float x) {
    float u = GELU_SCALE * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + fast_tanhf(u));
}

void semid_gelu_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static) if (8 * n >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
    for (int64_t i = 0; i < n; i++) out[i] = gelu1(inp[i]);
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

void semid_tied_logits_forward(float *logits, const float *inp, const float *wte, int64_t N, int64_t C, int64_t V,
                               semid_gemm_kind kind) {
    semid_gemm(false, true, N, V, C, inp, C, wte, C, NULL, false, logits, V, kind);
}

void semid_tied_logits_backward(float *dinp, float *dwte, const float *dlogits, const float *inp, const float *wte,
                                int64_t N, int64_t C, int64_t V, semid_gemm_kind kind) {
    semid_gemm(false, false, N, C, V, dlogits, V, wte, C, NULL, true, dinp, C, kind);
    semid_gemm(true, false, V, C, N, dlogits, V, inp, C, NULL, true, dwte, C, kind);
}

/* ---- forward-only kernels for inference ---- */

#if defined(__AVX512F__) && defined(__FMA__)
#define SEMID_LAYERS_AVX512 1
#endif

/* Products with fewer multiply-adds than this run on the calling thread. */
#define LINEAR_PAR_MIN_WORK (1 << 21)

#ifdef SEMID_LAYERS_AVX512
/* Rows of one register tile. */
enum { LIN_MR = 8 };
/* Input floats of one block of rows (32 KB): a block meets each panel once. */
#define LIN_BLOCK_FLOATS 8192

int64_t semid_linear_packed_size(int64_t C, int64_t OC) {
    return (OC + SEMID_PANEL - 1) / SEMID_PANEL * SEMID_PANEL * C;
}

void semid_linear_pack(float *packed, const float *w, int64_t C, int64_t OC) {
    int64_t np = (OC + SEMID_PANEL - 1) / SEMID_PANEL;
    enum { KT = 16 }; /* a tile of KT inputs x SEMID_PANEL outputs at a time: short runs both ways */
    for (int64_t p = 0; p < np; p++) {
        float *dst = packed + p * C * SEMID_PANEL;
        int64_t width = OC - p * SEMID_PANEL < SEMID_PANEL ? OC - p * SEMID_PANEL : SEMID_PANEL;
        for (int64_t k0 = 0; k0 < C; k0 += KT) {
            int64_t kn = C - k0 < KT ? C - k0 : KT;
            for (int64_t j = 0; j < SEMID_PANEL; j++) {
                const float *src = w + (p * SEMID_PANEL + j) * C + k0;
                float *d = dst + k0 * SEMID_PANEL + j;
                if (j < width)
                    for (int64_t k = 0; k < kn; k++) d[k * SEMID_PANEL] = src[k];
                else
                    for (int64_t k = 0; k < kn; k++) d[k * SEMID_PANEL] = 0.0f;
            }
        }
    }
}

/* gelu1 (fast_tanhf) on 16 lanes, the same operations in the same order. */
static inline __m512 gelu16(__m512 x) {
    __m512 c = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), x), x);
    __m512 u = _mm512_mul_ps(_mm512_set1_ps(GELU_SCALE), _mm512_add_ps(x, c));
    const __m512 sign = _mm512_set1_ps(-0.0f), one = _mm512_set1_ps(1.0f);
    __m512 e = semid_fast_expf16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), _mm512_andnot_ps(sign, u)));
    __m512 th = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    th = _mm512_or_ps(_mm512_andnot_ps(sign, th), _mm512_and_ps(sign, u));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(one, th));
}

/* One tile: rows [0, mr) of a (stride lda) times one packed panel bp; the
 * outputs under masks m0 (the panel's first 16) and m1 (its last 16). mr is
 * a constant at every call, so the accumulators live in registers. */
static inline __attribute__((always_inline)) void lin_tile(const int mr, float *out, int64_t ldo, const float *a,
                                                           int64_t lda, const float *bp, const float *bias, int64_t K,
                                                           semid_linear_epilogue epi, __mmask16 m0, __mmask16 m1) {
    __m512 acc0[LIN_MR], acc1[LIN_MR];
    for (int r = 0; r < mr; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 b0 = _mm512_loadu_ps(bp + k * SEMID_PANEL), b1 = _mm512_loadu_ps(bp + k * SEMID_PANEL + 16);
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(a[r * lda + k]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
    if (bias) {
        bb0 = _mm512_maskz_loadu_ps(m0, bias);
        bb1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    for (int r = 0; r < mr; r++) {
        __m512 t0 = acc0[r], t1 = acc1[r];
        if (bias) {
            t0 = _mm512_add_ps(t0, bb0);
            t1 = _mm512_add_ps(t1, bb1);
        }
        float *o = out + r * ldo;
        if (epi == SEMID_LINEAR_GELU) {
            t0 = gelu16(t0);
            t1 = gelu16(t1);
        } else if (epi == SEMID_LINEAR_ADD) {
            t0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, o), t0);
            t1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, o + 16), t1);
        }
        _mm512_mask_storeu_ps(o, m0, t0);
        _mm512_mask_storeu_ps(o + 16, m1, t1);
    }
}

/* Rows [r0, r0 + nr) against every panel: for each panel, its tiles of
 * LIN_MR rows, so that a panel is fetched once per block of rows. */
static void linear_rows(float *out, int64_t ldo, const float *inp, int64_t ldi, const float *packed, const float *bias,
                        int64_t r0, int64_t nr, int64_t C, int64_t OC, semid_linear_epilogue epi) {
    int64_t np = (OC + SEMID_PANEL - 1) / SEMID_PANEL;
    for (int64_t p = 0; p < np; p++) {
        const float *bp = packed + p * C * SEMID_PANEL, *bs = bias ? bias + p * SEMID_PANEL : NULL;
        int64_t width = OC - p * SEMID_PANEL < SEMID_PANEL ? OC - p * SEMID_PANEL : SEMID_PANEL;
        __mmask16 m0 = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
        __mmask16 m1 = width >= 32 ? (__mmask16)0xFFFF : width > 16 ? (__mmask16)((1u << (width - 16)) - 1) : 0;
        for (int64_t b = r0; b < r0 + nr; b += LIN_MR) {
            int mr = r0 + nr - b < LIN_MR ? (int)(r0 + nr - b) : LIN_MR;
            const float *a = inp + b * ldi;
            float *o = out + b * ldo + p * SEMID_PANEL;
            switch (mr) {
            case 8: lin_tile(8, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 7: lin_tile(7, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 6: lin_tile(6, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 5: lin_tile(5, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 4: lin_tile(4, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 3: lin_tile(3, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            case 2: lin_tile(2, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            default: lin_tile(1, o, ldo, a, ldi, bp, bs, C, epi, m0, m1); break;
            }
        }
    }
}

void semid_linear_packed_forward(float *out, int64_t ld_out, const float *inp, int64_t ld_inp, const float *packed,
                                 const float *bias, int64_t N, int64_t C, int64_t OC, semid_linear_epilogue epi) {
    if (N <= 0 || OC <= 0) return;
    /* rows per block: about LIN_BLOCK_FLOATS of input, whole tiles, 1 to 8 tiles */
    int64_t rb = LIN_BLOCK_FLOATS / (C > 0 ? C : 1) / LIN_MR * LIN_MR;
    if (rb < LIN_MR) rb = LIN_MR;
    if (rb > 8 * LIN_MR) rb = 8 * LIN_MR;
    int64_t blocks = (N + rb - 1) / rb;
    int threads = 1;
    if (!omp_in_parallel() && N * C * OC >= LINEAR_PAR_MIN_WORK) {
        threads = semid_get_threads();
        if (threads > blocks) threads = (int)blocks;
    }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t r0 = b * rb;
        linear_rows(out, ld_out, inp, ld_inp, packed, bias, r0, N - r0 < rb ? N - r0 : rb, C, OC, epi);
    }
}

#else /* without AVX-512: the weight as stored, the product through semid_sgemm (OpenBLAS) */

int64_t semid_linear_packed_size(int64_t C, int64_t OC) { return OC * C; }

void semid_linear_pack(float *packed, const float *w, int64_t C, int64_t OC) {
    memcpy(packed, w, (size_t)(OC * C) * sizeof(float));
}

void semid_linear_packed_forward(float *out, int64_t ld_out, const float *inp, int64_t ld_inp, const float *packed,
                                 const float *bias, int64_t N, int64_t C, int64_t OC, semid_linear_epilogue epi) {
    if (N <= 0 || OC <= 0) return;
    /* out = bias (SET, GELU) or out + bias (ADD), then += inp * w^T, then GELU in place */
    for (int64_t r = 0; r < N; r++) {
        float *o = out + r * ld_out;
        if (epi == SEMID_LINEAR_ADD) {
            if (bias)
                for (int64_t j = 0; j < OC; j++) o[j] += bias[j];
        } else if (bias) {
            memcpy(o, bias, (size_t)OC * sizeof(float));
        } else {
            memset(o, 0, (size_t)OC * sizeof(float));
        }
    }
    semid_sgemm(false, true, N, OC, C, 1.0f, inp, ld_inp, packed, C, 1.0f, out, ld_out);
    if (epi == SEMID_LINEAR_GELU && ld_out == OC)
        semid_gelu_forward(out, out, N * OC);
    else if (epi == SEMID_LINEAR_GELU)
        for (int64_t r = 0; r < N; r++) semid_gelu_forward(out + r * ld_out, out + r * ld_out, OC);
}
#endif

float semid_logsumexp(const float *x, int64_t n) {
#ifdef SEMID_LAYERS_AVX512
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    __mmask16 tail = (__mmask16)((1u << (n - i)) - 1);
    if (i < n) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, x + i));
    float mx = _mm512_reduce_max_ps(vmax);
    __m512 vm = _mm512_set1_ps(mx);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = semid_fast_expf16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        __m512 e = _mm512_maskz_mov_ps(tail, semid_fast_expf16(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vm)));
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    double sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
#else
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += semid_fast_expf(x[i] - mx);
#endif
    return mx + (float)log(sum);
}
