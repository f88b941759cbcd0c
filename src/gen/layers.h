/* The transformer's layers as forward/backward pairs (llm.c style: outputs
 * first, then saved values, inputs, sizes). Every backward ACCUMULATES (+=)
 * into its gradient outputs, so callers zero them first.
 *
 * Dimension legend: N = rows (B*T, or the rows of a decoding step),
 * B = batch, T = sequence length, C = width, OC = output width, NH = heads,
 * hs = C/NH, V = vocabulary.
 *
 * Loops over rows run under OpenMP; products go through semid_sgemm and are
 * never called from inside a parallel region. Column reductions (weight and
 * bias gradients) are split over columns, so results do not depend on the
 * thread count. */
#ifndef SEMID_GEN_LAYERS_H
#define SEMID_GEN_LAYERS_H

#include <stdint.h>
#include <string.h>

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

/* out (B,T,C) = wte[inp[b,t]] + wpe[t]. Tokens must be in [0, V). */
void semid_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int64_t B, int64_t T,
                           int64_t C);
void semid_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int64_t B, int64_t T,
                            int64_t C);

/* Row-wise LayerNorm (eps 1e-5) of inp (N,C) with gain w (C) and bias b (C).
 * mean and rstd (N) are saved for the backward; both may be NULL when no
 * backward follows. */
void semid_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int64_t N, int64_t C);
void semid_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int64_t N, int64_t C);

/* out (N,OC) = inp (N,C) * w^T + bias, w stored (OC,C) as torch.nn.Linear;
 * bias (OC) may be NULL. */
void semid_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int64_t N, int64_t C,
                          int64_t OC);
/* dinp (N,C), dw (OC,C), dbias (OC) accumulate; any of them may be NULL to skip. */
void semid_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                           int64_t N, int64_t C, int64_t OC);

/* Causal multi-head self-attention. inp (B,T,3C) holds q, k, v side by side,
 * each split into NH heads of hs; out (B,T,C); att (B,NH,T,T) keeps the
 * softmax probabilities for the backward (entries above the diagonal are 0).
 * scratch holds semid_attention_scratch_size(B, T, C, NH) floats (one packed
 * block per batch row and head, so threads never share one). */
static inline int64_t semid_attention_scratch_size(int64_t B, int64_t T, int64_t C, int64_t NH) {
    return B * NH * ((3 * (C / NH) + 1) * T + C / NH);
}
void semid_attention_forward(float *out, float *att, float *scratch, const float *inp, int64_t B, int64_t T, int64_t C,
                             int64_t NH);
/* dinp (B,T,3C) accumulates; scratch as for the forward. */
void semid_attention_backward(float *dinp, float *scratch, const float *dout, const float *inp, const float *att,
                              int64_t B, int64_t T, int64_t C, int64_t NH);

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
void semid_tied_logits_forward(float *logits, const float *inp, const float *wte, int64_t N, int64_t C, int64_t V);
void semid_tied_logits_backward(float *dinp, float *dwte, const float *dlogits, const float *inp, const float *wte,
                                int64_t N, int64_t C, int64_t V);

#endif
