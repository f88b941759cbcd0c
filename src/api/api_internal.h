/* What the opaque handles of the public C API (include/semid/api.h) hold:
 * the internal structs of the stages, behind pointers a program never
 * dereferences. Only src/api/ sees these definitions. */
#ifndef SEMID_API_INTERNAL_H
#define SEMID_API_INTERNAL_H

#include <stdint.h>

#include "data/dataset.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "linalg/matrix.h"
#include "quant/idtable.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

struct semid_data {
    semid_dataset ds;
};

struct semid_embeddings {
    semid_matrix m; /* rows x cols */
    char **ids;     /* (rows) or NULL */
};

struct semid_quantizer {
    semid_tokenizer *tok;
    int owned; /* 0: owned by a semid_ids (semid_quantizer_free leaves it) */
};

struct semid_ids {
    semid_idtable t;
    semid_quantizer q[2]; /* the tokenizers semid_ids_build fitted (tok NULL where none) */
};

struct semid_trainer {
    const semid_dataset *ds;
    const semid_idtable *table;
    char *out_dir;
    char *word_vectors;
    semid_gen_train_config cfg;
    int resume_first; /* the first run resumes (opts->resume) */
    int runs;         /* runs so far */
    int64_t step;     /* steps done in all */
    int64_t total;    /* steps of the schedule (-1 until the first run) */
    int stopped;      /* early stopping ended the run */
};

struct semid_model {
    semid_gen_bundle *b;
};

/* SEMID_EINVAL "<fn>: <what> is NULL" when p is NULL. */
semid_status semid_api_need(const void *p, const char *fn, const char *what);

/* Sets *out to a zeroed allocation of n bytes; SEMID_ENOMEM when it fails. */
semid_status semid_api_calloc(void *out, size_t n);

/* A copy of s (NULL stays NULL); *ok = 0 when the allocation fails. */
char *semid_api_strdup(const char *s, int *ok);

#endif
