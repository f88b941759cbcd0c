/* The trainable text encoder: ONE encoder shared by queries and items (a
 * bi-encoder with tied towers), fastText-like.
 *
 *   word vector   v(w) = E[w] + (1/G_w) Σ_g N[g]       (E[w] only if w is in
 *                 the vocabulary; the n-gram part only if G_w > 0)
 *   text          h    = (1/T) Σ_t v(w_t)              (mean over the T words)
 *                 z    = W h + b                        (projection D_in -> D_out)
 *                 y    = z / |z|                        (L2-normalised output)
 *
 * E: word embeddings of a vocabulary built from the training texts (rows
 * initialised from pretrained word vectors where known, N(0, init_std²)
 * otherwise). N: hashed character n-gram buckets: the n-grams (ngram_min ..
 * ngram_max bytes, default 3-5) of "<word>" (boundary markers), bucket =
 * semid_hash_bytes(ngram, seed) mod n_buckets; they start at zero, so an
 * untrained encoder is plain mean-of-word-vectors, and after training a word
 * never seen still maps somewhere through its n-grams. A text with no word
 * encodes to the zero vector.
 *
 * Dimension legend: V = vocabulary, NB = n-gram buckets, Din = word width,
 * Dout = output width, B = texts in a batch, U = distinct words in a batch.
 *
 * Parameters: one buffer [E (V, Din) | N (NB, Din) | W (Dout, Din) | b (Dout)],
 * gradients in the same layout. Training is sparse: a batch touches only
 * the E and N rows of its words, so the forward pass computes each distinct
 * word's vector once, the backward pass accumulates only into touched rows,
 * and semid_text_encoder_step applies AdamW to the touched rows plus W and b
 * ("lazy" Adam, as torch.optim.SparseAdam: moments and weight decay of a row
 * advance only on steps that touch it; bias correction uses the global step).
 * The global-norm clip is over the touched gradients. */
#ifndef SEMID_EMBED_TEXT_ENCODER_H
#define SEMID_EMBED_TEXT_ENCODER_H

#include <stdint.h>

#include "linalg/adamw.h"
#include "linalg/matrix.h"
#include "semid/semid.h"
#include "text/wordvec.h"

typedef struct semid_text_encoder_config {
    int32_t dim_word;   /* Din: 100 (must equal the pretrained vectors' width to use them) */
    int32_t dim_out;    /* Dout: 128 */
    int32_t n_buckets;  /* NB: 65536 (0 = no n-grams) */
    int32_t ngram_min;  /* 3 */
    int32_t ngram_max;  /* 5 */
    int32_t min_count;  /* a word enters the vocabulary when seen this often: 1 */
    int32_t max_vocab;  /* most frequent words kept, 0 = all: 0 */
    float init_std;     /* N(0, init_std²) for words without a pretrained vector: 0.1 */
    uint64_t seed;      /* 42 */
} semid_text_encoder_config;

semid_text_encoder_config semid_text_encoder_defaults(void);

typedef struct semid_text_encoder semid_text_encoder;

/* Builds the vocabulary from `texts` (n texts, tokenised with
 * text/tokenize.h) and initialises the parameters: E rows from `init`
 * (may be NULL; its dim must equal dim_word) where the word is known, the
 * projection W as a random orthogonal-ish N(0, 1/Din) matrix, b = 0. */
semid_status semid_text_encoder_create(const semid_text_encoder_config *cfg, const char *const *texts, int64_t n,
                                       const semid_wordvec *init, semid_text_encoder **out);
void semid_text_encoder_free(semid_text_encoder *enc);
const semid_text_encoder_config *semid_text_encoder_get_config(const semid_text_encoder *enc);
int32_t semid_text_encoder_vocab_size(const semid_text_encoder *enc);
/* Words of the vocabulary known to the pretrained table at creation. */
int32_t semid_text_encoder_pretrained_words(const semid_text_encoder *enc);

/* Encodes n texts into *out (n x Dout, allocated here, rows L2-normalised;
 * a text with no word gives a zero row). Unknown words use their n-grams.
 * Runs on semid_get_threads() threads; results do not depend on the count. */
semid_status semid_text_encoder_encode(const semid_text_encoder *enc, const char *const *texts, int64_t n,
                                       semid_matrix *out);

/* The encoder's view of each vocabulary word: the word encoded alone (its
 * row and n-grams, projected, L2-normalised), as a word-vector table of
 * Dout columns in vocabulary order. What a generative model's query words
 * can start from (gen/word_init.h) instead of GloVe. */
semid_status semid_text_encoder_word_vectors(const semid_text_encoder *enc, semid_wordvec *out);

/* Saves the encoder (config, vocabulary, parameters) as safetensors:
 * tensors "word_emb", "ngram_emb", "proj_w", "proj_b" (F32), and in
 * __metadata__ the config ("semid_text_encoder": version 1, sizes, seed) and
 * the vocabulary (one word a line), and the checksum of io/safetensors.h,
 * verified on load. Written atomically. */
semid_status semid_text_encoder_save(const semid_text_encoder *enc, const char *path);
semid_status semid_text_encoder_load(const char *path, semid_text_encoder **out);

/* ---- Training interface (used by biencoder_train.c, tests, benchmarks) ---- */

/* Texts tokenised once into word units: vocabulary ids, and for words
 * outside the vocabulary extra units (ids >= V) with their own n-grams. */
typedef struct semid_text_feats semid_text_feats;

semid_status semid_text_encoder_featurize(const semid_text_encoder *enc, const char *const *texts, int64_t n,
                                          semid_text_feats **out);
void semid_text_feats_free(semid_text_feats *f);
int64_t semid_text_feats_count(const semid_text_feats *f);
/* Number of words of text i (after tokenisation). */
int32_t semid_text_feats_length(const semid_text_feats *f, int64_t i);

/* The same texts as flat weighted bags over the rows of [E | N] (row r < V
 * is E[r], r >= V is N[r - V]): text i is Σ_k weights[k] * row(rows[k]) for
 * k in offsets[i] .. offsets[i+1]. What an EmbeddingBag(mode="sum",
 * per_sample_weights) peer needs to compute the same h. Caller frees the
 * three arrays. */
semid_status semid_text_feats_bags(const semid_text_encoder *enc, const semid_text_feats *f, int64_t **offsets,
                                   int32_t **rows, float **weights);

/* Flat parameters and gradients (same layout), and the decay mask
 * (1 on E, N and W; 0 on b). */
float *semid_text_encoder_params(semid_text_encoder *enc, int64_t *n);
float *semid_text_encoder_grads(semid_text_encoder *enc, int64_t *n);
const uint8_t *semid_text_encoder_decay_mask(const semid_text_encoder *enc);

/* Forward pass over the B texts idx[0..B) of `f`: writes out (B x Dout,
 * L2-normalised) and keeps the activations for one backward. */
semid_status semid_text_encoder_forward(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *idx,
                                        int32_t B, float *out);
/* Accumulates into the gradients d(loss)/d(params) given dout = d(loss)/d(out)
 * (B x Dout) of the last forward pass; records the touched rows. */
semid_status semid_text_encoder_backward(semid_text_encoder *enc, const float *dout);
/* Zeroes the gradients of the rows touched since the last zeroing, and of W, b. */
void semid_text_encoder_zero_grad(semid_text_encoder *enc);

/* The rows of [E | N]: V + NB (r < V: E[r], r >= V: N[r - V]). Sets of them
 * are bitmaps of ceil((V + NB) / 64) words, bit r % 64 of word r / 64: what
 * data-parallel training exchanges to agree on the rows a step updates.
 * Their gradients lie first in the flat gradient, row after row, W and b
 * after them. */
int64_t semid_text_encoder_rows(const semid_text_encoder *enc);
/* Sets the bits of the rows touched since the last zero_grad (others are
 * left as they are). */
void semid_text_encoder_touched_bits(const semid_text_encoder *enc, uint64_t *bits);
/* Marks the rows whose bit is set as touched: the next step updates them
 * (with the gradient they hold, zero where this process had none) and
 * zero_grad clears them. */
void semid_text_encoder_touch_bits(semid_text_encoder *enc, const uint64_t *bits);
/* The gradient of row r of [E | N]: Din floats. */
float *semid_text_encoder_row_grad(semid_text_encoder *enc, int64_t r);
/* A checksum (XXH64) of the featurised texts: the same texts featurised by
 * the same vocabulary give the same value. */
uint64_t semid_text_feats_checksum(const semid_text_feats *f);

/* Sparse AdamW state for the encoder (moments in the parameter layout). */
typedef struct semid_text_encoder_opt {
    semid_adamw adam; /* cfg, moments m, v over all parameters, global step */
} semid_text_encoder_opt;

semid_status semid_text_encoder_opt_init(semid_text_encoder_opt *opt, const semid_text_encoder *enc,
                                         const semid_adamw_config *cfg);
void semid_text_encoder_opt_free(semid_text_encoder_opt *opt);
/* One lazy AdamW step over the rows touched since the last zero_grad and
 * over W, b (see the header comment). Weight decay applies to E, N and W
 * rows, not to b. Returns the gradient norm before clipping when clipping
 * is on (cfg.clip_norm > 0), else 0 (the norm costs a pass). Does not zero
 * the gradients. */
float semid_text_encoder_step(semid_text_encoder *enc, semid_text_encoder_opt *opt);

#endif
