/* The transformer's layers as forward/backward pairs (llm.c style: outputs
 * first, then saved values, inputs, sizes). Every backward ACCUMULATES (+=)
 * into its gradient outputs, so callers zero them first (one exception:
 * semid_matmul_backward can be told to overwrite dinp).
 *
 * Dimension legend: N = rows (B*T, or the rows of a decoding step),
 * B = batch, T = sequence length, C = width, OC = output width, NH = heads,
 * hs = C/NH, V = vocabulary.
 *
 * Loops over rows run under OpenMP; products go through semid_gemm (the
 * training products) or semid_sgemm and are never called from inside a
 * parallel region. Column reductions (weight and
 * bias gradients) are split over columns, so results do not depend on the
 * thread count. */
#ifndef SEMID_GEN_LAYERS_H
#define SEMID_GEN_LAYERS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "linalg/gemm.h"

/* Loops with less work than this (in multiply-adds or elements) run on one
 * thread: waking a team costs more than it saves, and on a busy machine a
 * barrier can wait for a descheduled thread. */
#define SEMID_PAR_MIN_WORK 32768

/* exp(x) to about 2 ulp as straight-line arithmetic, so that loops calling it
 * vectorise (libm's expf and tanhf do not, and were a third of a training
 * step). Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6
 * Taylor polynomial (error below 1.2e-7 relative) scaled by 2^n. Inputs are
 * clamped to [-87, 88], where the result stays a normal float. */
/* a*b + c, fused where the hardware has FMA (ISO C mode keeps the compiler
 * from contracting on its own; without FMA, fmaf would be a slow call). */
#ifdef __FMA__
#define SEMID_MADD(a, b, c) fmaf((a), (b), (c))
#else
#define SEMID_MADD(a, b, c) ((a) * (b) + (c))
#endif

static inline float semid_fast_expf(float x) {
    if (isnan(x)) return x; /* NaN stays NaN (and (int32_t)NaN below would be undefined) */
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187045e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>
/* semid_fast_expf on 16 lanes: the same operations in the same order (the
 * build does not contract a*b+c), so each lane gets the same bits. */
static inline __m512 semid_fast_expf16(__m512 x) {
    /* max/min return their second operand when either is NaN: x goes second so
     * a NaN lane stays NaN, as in the scalar version. */
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(_mm512_set1_ps(-87.0f), x));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic), magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693145751953125f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(1.428606765330187045e-6f)));
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}
#endif

/* Packed rows: a row of T positions may hold several sequences back to
 * back. pos (B*T), where the kernels take it, is each position's place in
 * its own sequence (0 at a sequence's first token, then 1, 2, ...; every
 * pos[b*T+t] <= t); NULL means one sequence per row (pos = t). */

/* out (B,T,C) = wte[inp[b,t]] + wpe[pos[b,t]]. Tokens must be in [0, V). */
void semid_encoder_forward(float *out, const int32_t *inp, const int32_t *pos, const float *wte, const float *wpe,
                           int64_t B, int64_t T, int64_t C);
void semid_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, const int32_t *pos,
                            int64_t B, int64_t T, int64_t C);

/* Row-wise LayerNorm (eps 1e-5) of inp (N,C) with gain w (C) and bias b (C).
 * mean and rstd (N) are saved for the backward; both may be NULL when no
 * backward follows. */
void semid_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int64_t N, int64_t C);
void semid_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int64_t N, int64_t C);

/* out (N,OC) = inp (N,C) * w^T + bias, w stored (OC,C) as torch.nn.Linear;
 * bias (OC) may be NULL. The products are semid_gemm's of `kind` (fp32, or
 * bf16 operands with fp32 sums), as in the tied logits below. */
void semid_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int64_t N, int64_t C,
                          int64_t OC, semid_gemm_kind kind);
/* dw (OC,C) and dbias (OC) accumulate, and so does dinp (N,C) unless
 * set_dinp, when it is overwritten (it need not be zeroed first); any of
 * them may be NULL to skip. */
void semid_matmul_backward(float *dinp, bool set_dinp, float *dw, float *dbias, const float *dout, const float *inp,
                           const float *w, int64_t N, int64_t C, int64_t OC, semid_gemm_kind kind);

/* Causal multi-head self-attention. inp (B,T,3C) holds q, k, v side by side,
 * each split into NH heads of hs; out (B,T,C); att (B,NH,T,T) keeps the
 * softmax probabilities for the backward (entries above the diagonal are 0).
 * With pos, position t attends to its own sequence only, [t - pos, t] (a
 * block-diagonal causal mask; att is 0 outside it). The products run as
 * semid_gemm_small's register tiles, per batch row and head.
 * scratch holds semid_attention_scratch_size(B, T, C, NH) floats (a block
 * per batch row and head, so threads never share one: keys or values
 * transposed, and two T x T matrices). */
static inline int64_t semid_attention_scratch_size(int64_t B, int64_t T, int64_t C, int64_t NH) {
    return B * NH * ((C / NH) * T + 2 * T * T);
}
void semid_attention_forward(float *out, float *att, float *scratch, const float *inp, const int32_t *pos, int64_t B,
                             int64_t T, int64_t C, int64_t NH);
/* dinp (B,T,3C) accumulates; scratch as for the forward. */
void semid_attention_backward(float *dinp, float *scratch, const float *dout, const float *inp, const float *att,
                              const int32_t *pos, int64_t B, int64_t T, int64_t C, int64_t NH);

/* GELU, tanh approximation (as GPT-2), over n values. */
void semid_gelu_forward(float *out, const float *inp, int64_t n);
void semid_gelu_backward(float *dinp, const float *inp, const float *dout, int64_t n);

/* out = a + b over n values; backward adds dout to both. */
void semid_residual_forward(float *out, const float *a, const float *b, int64_t n);
void semid_residual_backward(float *da, float *db, const float *dout, int64_t n);

/* Fused softmax + cross-entropy over N rows of logits (N,V) with targets (N);
 * a target of -1 is ignored (loss 0 there). losses (N) gets each row's loss
 * and lse (N) the row's log-sum-exp, kept for the backward. Returns the number
 * of rows with a target. */
int64_t semid_softmax_xent_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int64_t N,
                                   int64_t V);
/* dlogits (N,V) += (softmax - onehot) * dloss, rows with target -1 skipped.
 * dloss is the gradient of the total loss with respect to each row's loss
 * (1/count for a mean). */
void semid_softmax_xent_backward(float *dlogits, const float *logits, const float *lse, const int32_t *targets,
                                 float dloss, int64_t N, int64_t V);

/* Output projection tied to the token embedding: logits (N,V) = inp (N,C) *
 * wte^T, with wte (V,C). The backward accumulates dinp (N,C) and dwte. */
void semid_tied_logits_forward(float *logits, const float *inp, const float *wte, int64_t N, int64_t C, int64_t V,
                               semid_gemm_kind kind);
void semid_tied_logits_backward(float *dinp, float *dwte, const float *dlogits, const float *inp, const float *wte,
                                int64_t N, int64_t C, int64_t V, semid_gemm_kind kind);

/* ---- Forward-only kernels for inference (the decoder's KV-cache path) ----
 *
 * Packed linear layers. A weight w (OC, C), stored as torch.nn.Linear, is
 * packed once (semid_linear_pack, into semid_linear_packed_size floats);
 * semid_linear_packed_forward then computes
 *     t = inp[r,:] . w[o,:] + bias[o]   (no bias when bias is NULL)
 * and writes, by `epi`:
 *     SEMID_LINEAR_SET:  out = t
 *     SEMID_LINEAR_GELU: out = gelu(t)    (bit for bit semid_gelu_forward of t)
 *     SEMID_LINEAR_ADD:  out = out + t    (a residual added in place)
 * With AVX-512 (and FMA) the pack is panels of SEMID_PANEL outputs (for each
 * input k in order, the weights of 32 outputs, zeros past OC) and rows run
 * as register tiles of 8 rows x 32 outputs: each t is the sum over k in
 * order, one fused multiply-add each, then + bias, so a row's result depends
 * on nothing but that row (not N, the tiling or the threads). Without
 * AVX-512 the pack is the weight as stored and the product goes through
 * semid_sgemm, as semid_matmul_forward (ADD then adds the bias to out
 * before the product, a different rounding of the same sum). Rows are split over
 * semid_get_threads() threads when called outside a parallel region and the
 * product is big. Strides ld_out and ld_inp are in floats; out must not
 * overlap inp. */
#define SEMID_PANEL 32

typedef enum semid_linear_epilogue { SEMID_LINEAR_SET, SEMID_LINEAR_GELU, SEMID_LINEAR_ADD } semid_linear_epilogue;

/* Floats of a packed (OC, C) weight. */
int64_t semid_linear_packed_size(int64_t C, int64_t OC);
void semid_linear_pack(float *packed, const float *w, int64_t C, int64_t OC);
void semid_linear_packed_forward(float *out, int64_t ld_out, const float *inp, int64_t ld_inp, const float *packed,
                                 const float *bias, int64_t N, int64_t C, int64_t OC, semid_linear_epilogue epi);

/* log(sum_i exp(x[i])) over n >= 1 values: the maximum plus the log of the
 * sum of semid_fast_expf(x[i] - max), summed in double. */
float semid_logsumexp(const float *x, int64_t n);

#endif
