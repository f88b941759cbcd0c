/* The generative model: a decoder-only transformer (GPT-style) trained from
 * scratch: token and learned position embeddings, pre-LayerNorm blocks with
 * multi-head causal self-attention and a GELU MLP, a final LayerNorm and an
 * output projection tied to the token embedding.
 *
 * Dimension legend: B = batch, T = sequence length, C = model width,
 * NH = heads, hs = C/NH, L = layers, V = vocabulary, Tmax = max_seq_len.
 *
 * Parameters live in one contiguous buffer with offsets; gradients and the
 * AdamW moments share its layout (see linalg/adamw.h). */
#ifndef SEMID_GEN_MODEL_H
#define SEMID_GEN_MODEL_H

#include <stdint.h>

#include "linalg/gemm.h"
#include "semid/semid.h"

typedef struct semid_gpt_config {
    int32_t vocab_size;  /* V */
    int32_t max_seq_len; /* Tmax */
    int32_t n_layer;     /* L */
    int32_t n_head;      /* NH */
    int32_t d_model;     /* C, a multiple of NH */
} semid_gpt_config;

typedef struct semid_gpt semid_gpt;

/* Checks the config (positive sizes, C % NH == 0) and initialises weights
 * N(0, 0.02) (residual projections scaled by 1/sqrt(2L)) from `seed`. */
semid_status semid_gpt_create(const semid_gpt_config *cfg, uint64_t seed, semid_gpt **out);
void semid_gpt_free(semid_gpt *m);
const semid_gpt_config *semid_gpt_get_config(const semid_gpt *m);

/* Flat views of the parameters, the gradients, and the weight-decay mask
 * (1 on matrices and embeddings, 0 on biases and LayerNorm gains). */
float *semid_gpt_params(semid_gpt *m, int64_t *n);
float *semid_gpt_grads(semid_gpt *m, int64_t *n);
const uint8_t *semid_gpt_decay_mask(const semid_gpt *m);

/* Training forward pass over B sequences of T tokens (T <= Tmax).
 * targets[b*T+t] is the token expected after position t, or -1 for no loss
 * there. *loss = mean cross-entropy over positions with a target.
 * Activations are kept for semid_gpt_backward. `targets` may be NULL to get
 * logits only (semid_gpt_logits). */
semid_status semid_gpt_forward(semid_gpt *m, const int32_t *inputs, const int32_t *targets, int32_t B, int32_t T, float *loss);
/* semid_gpt_forward over packed rows: a row of T positions may hold several
 * sequences back to back (less padding than a row per sequence). pos
 * (B*T) is each position's place in its own sequence: 0 at a sequence's
 * first token, else one more than the position before it (padding after
 * the last sequence of a row counts as a sequence of its own). It picks
 * the position embedding, and a position attends to its own sequence only,
 * so each sequence gets the outputs it gets alone, up to float rounding.
 * pos NULL is semid_gpt_forward. EINVAL for a pos breaking those rules. */
semid_status semid_gpt_forward_packed(semid_gpt *m, const int32_t *inputs, const int32_t *targets, const int32_t *pos,
                                      int32_t B, int32_t T, float *loss);
/* Logits of the last forward pass.
 * - With targets == NULL: all positions, (B, T, V).
 * - With targets: ONLY the positions that have a target (>= 0) get logits
 *   (a large saving when most positions have none); the rows are packed in
 *   position order, (n_rows, V), and semid_gpt_logit_positions says which
 *   position b*T+t each row belongs to.
 * Valid until the next forward (backward leaves them intact). */
const float *semid_gpt_logits(const semid_gpt *m);
/* Restricts the training softmax (forward with targets) to tokens [lo, hi):
 * every target must lie there, and the logits of such a forward have
 * hi - lo columns (token lo first). The generative model's targets are
 * always Semantic-ID tokens and decoding only ever scores those, so
 * normalising over them alone is the same model as an output head over the
 * ID tokens, at a fraction of the cost when the text vocabulary is large.
 * The input embedding still covers the whole vocabulary. Default [0, V). */
semid_status semid_gpt_set_output_range(semid_gpt *m, int32_t lo, int32_t hi);
/* Rows of semid_gpt_logits and their flat positions b*T+t (n_rows of them). */
const int64_t *semid_gpt_logit_positions(const semid_gpt *m, int64_t *n_rows);
/* The precision of the training products (the forward and backward passes'
 * matrix products, output projection included): SEMID_GEMM_FP32 (the
 * default) or SEMID_GEMM_BF16, operands rounded to bfloat16 and summed in
 * fp32 (linalg/gemm.h), about twice as fast where the CPU has AVX-512 BF16
 * and fp32 where it does not. Parameters, gradients, activations and the
 * optimizer stay fp32; decoding (the cache) is always fp32. */
void semid_gpt_set_gemm(semid_gpt *m, semid_gemm_kind kind);
/* Number of parameters (the length of the params/grads/mask buffers). */
int64_t semid_gpt_num_params(const semid_gpt *m);
void semid_gpt_zero_grad(semid_gpt *m);
/* Makes room at once for training passes (forward with targets, and
 * backward) of up to B x T positions, which the passes otherwise grow as
 * they come: memory grown midway is fresh pages, and faulting them in cost
 * a tenth of the first steps' time. Call it after semid_gpt_set_output_range. */
semid_status semid_gpt_reserve(semid_gpt *m, int32_t B, int32_t T);
/* Accumulates d(loss)/d(params) into the gradient buffer (call
 * semid_gpt_zero_grad first). Needs the last forward to have had targets;
 * if no position had a target, the loss is 0 and nothing is added. */
semid_status semid_gpt_backward(semid_gpt *m);

/* Incremental decoding with a key/value cache shaped for beam search: up to
 * `n_prompts` prompts of up to Tmax tokens, and `rows` continuations (beams),
 * each attached to one prompt and holding up to `suffix_max` tokens of its
 * own. The beams of one query share their prompt's keys and values, so a
 * prompt is computed and stored once, and reordering beams copies no keys
 * or values (rows share their suffixes' entries). Memory: 2 * L * C *
 * (n_prompts * Tmax + rows * suffix_max) floats, plus a copy of the weight
 * matrices packed for the forward-only kernels (12 * L * C^2 floats and the
 * output range's rows of wte) made at creation: the model must outlive the
 * cache and not change while it exists. Logits equal those of
 * semid_gpt_forward at the same positions (to ~1e-5). Only
 * the logits of tokens [vocab_lo, vocab_hi) are computed, written as
 * (n, vocab_hi - vocab_lo): with a large text vocabulary and decoding over
 * the Semantic-ID tokens this skips most of the output projection. */
typedef struct semid_gpt_cache semid_gpt_cache;
semid_status semid_gpt_cache_create(const semid_gpt *m, int32_t n_prompts, int32_t rows, int32_t suffix_max,
                                    semid_gpt_cache **out);
void semid_gpt_cache_free(semid_gpt_cache *c);
/* Runs n prompts through the model in one batch: prompt j (tokens lens[j],
 * concatenated in `tokens`) replaces what slot slots[j] held; logits after
 * each prompt's last token go to row j of `logits`. Rows attached to a
 * replaced slot must be attached again. EINVAL for a slot out of range, a
 * repeated slot, a prompt longer than Tmax or a token outside [0, V). */
semid_status semid_gpt_cache_prefill(const semid_gpt *m, semid_gpt_cache *c, int32_t n, const int32_t *slots,
                                     const int32_t *tokens, const int32_t *lens, int32_t vocab_lo, int32_t vocab_hi,
                                     float *logits);
/* Row `row` continues the prompt in `slot`, with an empty suffix. */
semid_status semid_gpt_cache_attach(semid_gpt_cache *c, int32_t row, int32_t slot);
/* Appends one token to each of rows 0..n_rows-1 (tokens[r]) and writes the
 * logits (n_rows, vocab_hi - vocab_lo). Rows may have different lengths;
 * EINVAL for an unattached row or one whose suffix is full. */
semid_status semid_gpt_cache_step(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                  int32_t vocab_lo, int32_t vocab_hi, float *logits);
/* As semid_gpt_cache_step, but the rows do not keep the tokens: the logits
 * after each row's token, with nothing stored and the rows left as they
 * were (a last step, whose keys and values no later step reads). A full
 * suffix is no obstacle, only the context length. */
semid_status semid_gpt_cache_score(const semid_gpt *m, semid_gpt_cache *c, const int32_t *tokens, int32_t n_rows,
                                   int32_t vocab_lo, int32_t vocab_hi, float *logits);
/* Row i becomes a copy of old row src[i], for i in 0..n-1 (beam reordering);
 * rows n..rows-1 are left as they are. */
semid_status semid_gpt_cache_gather(semid_gpt_cache *c, const int32_t *src, int32_t n);
/* Tokens the row has seen (prompt + suffix); 0 when unattached. */
int32_t semid_gpt_cache_length(const semid_gpt_cache *c, int32_t row);

/* Checkpoint: safetensors file with the parameters (one tensor per named
 * weight) and, in its __metadata__, the config plus `extra_json` (e.g. the
 * ID table's fingerprint, vocabulary, optimizer step). Written atomically. */
semid_status semid_gpt_save(const semid_gpt *m, const char *path, const char *extra_json);
/* Loads a checkpoint; *extra_json (caller frees, may be NULL) returns what was saved.
 * Checks the format tag, the config, every tensor's presence, dtype (F32) and
 * shape against the config, offsets against the file size (a truncated file
 * is EFORMAT naming the file) and that every value is finite. */
semid_status semid_gpt_load(const char *path, semid_gpt **out, char **extra_json);

/* Where the checkpoint tensor `name` ("wte", "h.0.attn.qkv.w", ...) lives
 * in the flat parameter (and gradient) buffer. ENOTFOUND for other names.
 * Names: wte (V,C), wpe (Tmax,C), h.<l>.{ln1.w, ln1.b (C); attn.qkv.w (3C,C),
 * attn.qkv.b (3C); attn.proj.w (C,C), attn.proj.b (C); ln2.w, ln2.b (C);
 * mlp.fc.w (4C,C), mlp.fc.b (4C); mlp.proj.w (C,4C), mlp.proj.b (C)},
 * lnf.w, lnf.b (C). Linear weights are (out, in), as torch.nn.Linear. */
semid_status semid_gpt_find_tensor(const semid_gpt *m, const char *name, int64_t *offset, int64_t *numel);

#endif
