/* Inside the transformer: the parameter layout shared by model.c (training,
 * checkpoints) and kv_cache.c (incremental decoding). Not a public header.
 *
 * Legend: L layers, C width, V vocabulary, Tmax positions, NH heads. */
#ifndef SEMID_GEN_MODEL_IMPL_H
#define SEMID_GEN_MODEL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "gen/model.h"

enum { SEMID_GPT_NUM_TENSORS = 16 };

/* Pointers into one contiguous buffer, in this order. Per-layer tensors are
 * stacked over L (layer l of qkvw starts at qkvw + l*3C*C). */
typedef struct semid_gpt_weights {
    float *wte;      /* (V, C)   token embedding, also the output projection */
    float *wpe;      /* (Tmax, C) */
    float *ln1w;     /* (L, C) */
    float *ln1b;     /* (L, C) */
    float *qkvw;     /* (L, 3C, C) */
    float *qkvb;     /* (L, 3C) */
    float *attprojw; /* (L, C, C) */
    float *attprojb; /* (L, C) */
    float *ln2w;     /* (L, C) */
    float *ln2b;     /* (L, C) */
    float *fcw;      /* (L, 4C, C) */
    float *fcb;      /* (L, 4C) */
    float *fcprojw;  /* (L, C, 4C) */
    float *fcprojb;  /* (L, C) */
    float *lnfw;     /* (C) */
    float *lnfb;     /* (C) */
} semid_gpt_weights;

/* Shapes of the 16 tensors (up to 3 dims; dims[0] == L for stacked ones). */
typedef struct semid_gpt_tensor_shape {
    int ndim;
    int64_t dims[3];
} semid_gpt_tensor_shape;

void semid_gpt_tensor_shapes(const semid_gpt_config *cfg, semid_gpt_tensor_shape shapes[SEMID_GPT_NUM_TENSORS]);
/* The view of the flat buffer `base` as named tensors. */
void semid_gpt_point_params(semid_gpt_weights *p, float *base, const semid_gpt_config *cfg);

/* A model with zeroed weights (create and load fill them). */
semid_status semid_gpt_alloc(const semid_gpt_config *cfg, semid_gpt **out);
/* The checkpoint name of tensor `index` at layer `layer` ("h.3.attn.qkv.w",
 * or "wte" for the unstacked ones), written into buf. */
void semid_gpt_tensor_name(int index, int64_t layer, char *buf, size_t size);

/* Layer forward state for training, sized for up to cap_rows = B*T rows. */
typedef struct semid_gpt_acts {
    int64_t cap_rows, cap_att;
    float *buf;
    float *encoded;            /* (N, C) */
    float *ln1;                /* (L, N, C) */
    float *ln1_mean, *ln1_rstd; /* (L, N) */
    float *qkv;                /* (L, N, 3C) */
    float *atty;               /* (L, N, C) */
    float *att;                /* (L, B, NH, T, T) */
    float *residual2;          /* (L, N, C) */
    float *ln2;                /* (L, N, C) */
    float *ln2_mean, *ln2_rstd; /* (L, N) */
    float *fch;                /* (L, N, 4C) */
    float *fch_gelu;           /* (L, N, 4C) */
    float *residual3;          /* (L, N, C) */
    float *lnf;                /* (N, C) */
    float *lnf_mean, *lnf_rstd; /* (N) */
    float *lnf_rows;           /* (N, C) lnf at the rows whose logits are computed */
    float *losses, *lse;       /* (N) */
    /* backward scratch */
    float *dres;               /* (N, C) */
    float *dln;                /* (N, C) */
    float *dqkv;               /* (N, 3C) */
    float *datty;              /* (N, C) */
    float *dfch;               /* (N, 4C) */
    float *dfch_gelu;          /* (N, 4C) */
    float *dlnf_rows;          /* (N, C) */
    float *att_scratch;        /* semid_attention_scratch_size(B, T, C, NH) */
    float *tmp;                /* (N, C) projection outputs before the residual add */
} semid_gpt_acts;

struct semid_gpt {
    semid_gpt_config cfg;
    int64_t num_params;
    int64_t tensor_sizes[SEMID_GPT_NUM_TENSORS];
    float *params_mem;
    float *grads_mem;
    uint8_t *decay_mask;
    semid_gpt_weights p;
    semid_gpt_weights g;

    semid_gpt_acts a;
    /* the last forward pass */
    int32_t B, T;
    int32_t *inputs;     /* (B*T) */
    int32_t *pos;        /* (B*T) positions within packed sequences; NULL-like when !packed */
    int packed;          /* the last forward had pos */
    int32_t *row_targets; /* (rows) targets of the rows with logits */
    int64_t *row_pos;     /* (rows) b*T+t of each row with logits */
    int64_t cap_tokens;
    int64_t n_rows;       /* rows of logits */
    float *logits;        /* (n_rows, V) */
    float *dlogits;       /* (n_rows, V) */
    int64_t cap_logit_floats; /* room in logits and dlogits */
    int has_targets;
    semid_gemm_kind gemm; /* precision of the training products (default fp32) */
    /* Training softmax over tokens [out_lo, out_hi) only (default: all). */
    int32_t out_lo, out_hi;
    int64_t logit_lo;     /* first token of the last forward's logit columns */
    int64_t logit_cols;   /* columns of the last forward's logits */
};

#endif
