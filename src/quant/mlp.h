/* Dense layers and a small multi-layer perceptron for the learned quantizers
 * (RQ-VAE, residual LFQ, prefix-share), written once and shared.
 *
 * Dimension legend: B = rows in the batch, I = layer input width,
 * O = layer output width. Weights are stored (O, I) row-major, so a layer is
 *   out (B, O) = inp (B, I) @ W^T + b.
 * Parameters live in the owning model's flat buffer; an MLP only records
 * offsets into it, so gradients and AdamW moments share the layout.
 * Backward functions accumulate (+=) into parameter and input gradients. */
#ifndef SEMID_QUANT_MLP_H
#define SEMID_QUANT_MLP_H

#include <stdint.h>

#include "base/rng.h"
#include "semid/semid.h"

typedef enum semid_act { SEMID_ACT_NONE = 0, SEMID_ACT_RELU = 1, SEMID_ACT_SILU = 2 } semid_act;

/* "relu", "silu", "none" -> act; returns SEMID_EINVAL for other names. */
semid_status semid_act_parse(const char *name, semid_act *out);
const char *semid_act_name(semid_act act);

/* out (B,O) = inp (B,I) @ w^T (w is (O,I)) + b (O); b may be NULL. */
void semid_linear_forward(float *out, const float *inp, const float *w, const float *b, int64_t B,
                          int64_t I, int64_t O);
/* dinp (B,I) += dout @ w; dw (O,I) += dout^T @ inp; db (O) += column sums of
 * dout. Any of dinp, dw, db may be NULL (not needed). */
void semid_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, int64_t B, int64_t I, int64_t O);

/* Elementwise activation over n values (out may alias inp). */
void semid_act_forward(float *out, const float *inp, int64_t n, semid_act act);
/* dinp += dout * act'(inp), inp being the pre-activation. */
void semid_act_backward(float *dinp, const float *dout, const float *inp, int64_t n, semid_act act);

enum { SEMID_MLP_MAX_LAYERS = 8 };

/* A stack of linear layers with an activation after every layer but the last. */
typedef struct semid_mlp {
    int n_layers;
    int64_t dims[SEMID_MLP_MAX_LAYERS + 1]; /* dims[0] input .. dims[n_layers] output */
    semid_act act;
    int64_t w_off[SEMID_MLP_MAX_LAYERS];    /* (dims[l+1], dims[l]) weights in the flat buffer */
    int64_t b_off[SEMID_MLP_MAX_LAYERS];    /* (dims[l+1]) biases */
} semid_mlp;

/* Describes an MLP in -> hidden (n_hidden times) -> out and reserves its
 * parameters from *offset onward (advancing it). n_hidden may be 0 (one
 * linear layer). Returns SEMID_EINVAL for bad sizes. */
semid_status semid_mlp_layout(semid_mlp *m, int64_t in, int64_t hidden, int n_hidden, int64_t out,
                              semid_act act, int64_t *offset);
/* Parameters of this MLP. */
int64_t semid_mlp_num_params(const semid_mlp *m);
/* He-uniform weights (Glorot for a final or unactivated layer), zero biases. */
void semid_mlp_init(const semid_mlp *m, float *params, semid_rng *rng);
/* Marks weights 1 (decayed) and biases 0 in a decay mask laid out like params. */
void semid_mlp_decay_mask(const semid_mlp *m, uint8_t *mask);

/* Activations of one batch, kept for the backward pass. */
typedef struct semid_mlp_cache {
    int64_t cap;                             /* rows it can hold */
    const float *inp;                        /* (B, dims[0]) not owned */
    float *pre[SEMID_MLP_MAX_LAYERS];        /* (B, dims[l+1]) before the activation */
    float *post[SEMID_MLP_MAX_LAYERS];       /* (B, dims[l+1]) after it; last = output */
    float *grad_a, *grad_b;                  /* scratch (B, max width) */
} semid_mlp_cache;

semid_status semid_mlp_cache_alloc(semid_mlp_cache *c, const semid_mlp *m, int64_t rows);
void semid_mlp_cache_free(semid_mlp_cache *c);

/* Runs B <= c->cap rows; returns the output (B, dims[n_layers]) inside the
 * cache. `inp` must stay alive until the backward pass. */
const float *semid_mlp_forward(const semid_mlp *m, const float *params, semid_mlp_cache *c,
                               const float *inp, int64_t B);
/* Backward of the last forward: grads += dLoss/dparams; dinp (may be NULL)
 * += dLoss/dinp. dout is (B, dims[n_layers]). */
void semid_mlp_backward(const semid_mlp *m, const float *params, float *grads, semid_mlp_cache *c,
                        const float *dout, float *dinp, int64_t B);

#endif
