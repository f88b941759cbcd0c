/* Memory the learned residual quantizers share (RQ-VAE, Residual LFQ,
 * prefix-share): the parameter block with its gradients and AdamW decay mask,
 * its place in a tokenizer file, and the batch buffers of an encoder
 * D -> d, L residual levels on the latent, and a decoder d -> D. */
#ifndef SEMID_QUANT_AE_BUFFERS_H
#define SEMID_QUANT_AE_BUFFERS_H

#include <stdint.h>
#include <stdio.h>

#include "quant/mlp.h"
#include "quant/tokenizer.h"

/* params and grads (n floats, zeroed) and decay_mask (n bytes, zeroed);
 * `what` names the model in the out-of-memory message. On failure all three
 * are NULL. */
semid_status semid_ae_params_alloc(int64_t n, float **params, float **grads, uint8_t **decay_mask, const char *what);

/* A tokenizer file's parameters: u32 count | f32 params. */
semid_status semid_ae_params_write(FILE *fp, const float *params, int64_t n);
/* Before allocating a model whose sizes imply n parameters: refuses a file
 * that has fewer bytes left than they need. `what` is "rqvae", ... */
semid_status semid_ae_params_check_room(const semid_tok_reader *r, int64_t n, const char *what);
/* Reads the count (which must be n) and the parameters, refusing NaN/Inf. */
semid_status semid_ae_params_read(semid_tok_reader *r, float *params, int64_t n, const char *what);

/* Buffers of one batch of B <= cap rows. */
typedef struct semid_ae_work {
    int64_t cap;
    semid_mlp_cache enc, dec;
    float *x;       /* (B, D) gathered inputs */
    float *resid;   /* (L, B, d) residual entering each level */
    float *zq;      /* (B, d) quantized latent */
    float *dz;      /* (B, d) gradient reaching the encoder output */
    float *dout;    /* (B, D) gradient of the reconstruction */
    int32_t *codes; /* (B, L) */
} semid_ae_work;

semid_status semid_ae_work_alloc(const semid_mlp *enc, const semid_mlp *dec, int64_t D, int64_t d, int32_t L,
                                 int64_t cap, const char *what, semid_ae_work **out);
void semid_ae_work_free(semid_ae_work *w);
/* Makes *w hold at least `rows` rows, reallocating only when it is smaller. */
semid_status semid_ae_work_ensure(semid_ae_work **w, const semid_mlp *enc, const semid_mlp *dec, int64_t D, int64_t d,
                                  int32_t L, int64_t rows, const char *what);

#endif
