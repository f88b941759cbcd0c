/* The item-embedding methods, one row each (embed_methods.c): the paper's
 * content, search, rec (ENMF) and multi-task embeddings, and the two
 * fusions of search and rec. Every consumer finds a method here by name and
 * computes it with semid_embed_compute: `semid embed --method`,
 * semid_embed (the C API), the experiment's embed stage and its cache keys;
 * the strategies name the methods they read (quant/strategy.h). Files carry
 * the name: DIR/<name>.npy, RUN/emb/<name>.npy. */
#ifndef SEMID_EMBED_EMBED_METHODS_H
#define SEMID_EMBED_EMBED_METHODS_H

#include "data/dataset.h"
#include "embed/biencoder_train.h"
#include "embed/enmf.h"
#include "embed/text_encoder.h"
#include "io/npy.h"
#include "semid/semid.h"

typedef enum {
    SEMID_EMBED_CONTENT = 0, /* word-vector mean over the item text (no training) */
    SEMID_EMBED_BIENCODER,   /* a text encoder trained on (query, item) pairs */
    SEMID_EMBED_ENMF,        /* collaborative item vectors from the interactions */
    SEMID_EMBED_FUSED,       /* two other methods' vectors combined */
} semid_embed_kind;

typedef struct semid_embed_method {
    const char *name; /* "search": --method, strategies' inputs, file names */
    semid_embed_kind kind;
    semid_biencoder_task task; /* BIENCODER: search pairs alone, or with co-occurrence pairs */
    /* FUSED: the methods whose vectors it combines ([0] search, [1] rec)
     * and how. */
    const char *inputs[2];
    semid_status (*fuse)(const semid_matrix *search, const semid_matrix *rec, semid_matrix *out);
} semid_embed_method;

/* The method called `name`, or NULL. */
const semid_embed_method *semid_embed_method_find(const char *name);
/* The same, or SEMID_EINVAL "unknown <what> 'x' (known: ...)"; `what` names
 * the option in the caller's terms ("--method", "method"). */
semid_status semid_embed_method_lookup(const char *name, const char *what, const semid_embed_method **out);
/* The i-th method's name in table order, NULL past the end (base/names.h). */
const char *semid_embed_method_name_at(int i);

/* How to compute: the trained methods' settings (the caller's overrides on
 * semid_embed_settings_default()). semid_embed_compute sets the bi-encoder's
 * task and word width itself, and `seed` everywhere. */
typedef struct semid_embed_settings {
    const char *word_vectors; /* content, bi-encoders: a word-vector file; NULL = the shipped GloVe subset */
    semid_biencoder_config biencoder;
    semid_enmf_config enmf;
    uint64_t seed; /* the bi-encoder's shuffling and init, ENMF's init: 42 */
} semid_embed_settings;

semid_embed_settings semid_embed_settings_default(void);

/* What a method leaves beside the item vectors, for callers that keep it
 * (zero it first; set the pointers and flags you want). */
typedef struct semid_embed_extras {
    semid_text_encoder **encoder;  /* BIENCODER: the trained encoder (caller frees), when non-NULL */
    semid_biencoder_stats *stats;  /* BIENCODER: training statistics, when non-NULL */
    semid_matrix *users;           /* ENMF: the user vectors (caller frees), when non-NULL */
} semid_embed_extras;

/* Item vectors of `m` (rows in the dataset's item order). FUSED methods
 * combine inputs[0] and inputs[1], computed (or loaded) by the caller for
 * m->inputs; the other kinds ignore `inputs`. extras may be NULL. */
semid_status semid_embed_compute(const semid_dataset *ds, const semid_embed_method *m, const semid_embed_settings *s,
                                 const semid_matrix *const inputs[2], semid_matrix *out, semid_embed_extras *extras);

#endif
