/* Dictionary encoding (sparse dictionary learning), one of the paper's
 * ablation tokenizers. A dictionary of K unit-norm atoms is learned by
 * alternating
 *   - sparse coding: orthogonal matching pursuit (OMP) picks s atoms per
 *     item (greedily, the atom most correlated with the current residual,
 *     then least squares on the chosen atoms);
 *   - dictionary update: the method of optimal directions (MOD, Engan et
 *     al. 1999), the ridge least-squares atoms for the current codes,
 *       W = (A^T A + lambda I)^-1 A^T X,  lambda = ridge * mean diag(A^T A),
 *     each atom then scaled to unit norm. An atom no item used is replaced
 *     by the worst-reconstructed item (normalised), so none stays dead.
 * An item's Semantic ID is the ordered tuple of its L strongest atoms (by
 * |coefficient| of the final least squares, ties to the lower index). Every
 * level draws from the same K atoms, so each level's size is K, the L atoms
 * of an ID are distinct, and IDs are ordered tuples (a, b) != (b, a).
 * The coefficients are not part of the ID, so the codes alone do not
 * reconstruct a vector (the tokenizer's reconstruct is not supported).
 *
 * Dimension legend: N = items, D = width, K = atoms, s = sparsity, L = levels.
 * Deterministic for a seed (OMP is per item; sums run in item order). */
#ifndef SEMID_QUANT_DICTENC_H
#define SEMID_QUANT_DICTENC_H

#include <stdint.h>
#include <stdio.h>

#include "linalg/matrix.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"

enum { SEMID_DICTENC_MAX_SPARSITY = 32 };

typedef struct semid_dictenc_config {
    int32_t n_atoms;   /* K (default 256) */
    int32_t levels;    /* L codes per item (default 2) */
    int32_t sparsity;  /* s atoms per item during learning and encoding, L <= s <= 32;
                          0 (default) = L */
    int32_t iters;     /* coding / update alternations (default 15) */
    float ridge;       /* relative ridge of the update (default 1e-4) */
    uint64_t seed;     /* initial atoms: K distinct random items (default 1234) */
    int32_t verbose;
} semid_dictenc_config;

semid_dictenc_config semid_dictenc_defaults(void);

typedef struct semid_dictenc {
    int32_t n_atoms;   /* K */
    int32_t levels;    /* L */
    int32_t sparsity;  /* s */
    int64_t dim;       /* D */
    float *atoms;      /* (K, D) unit rows */
} semid_dictenc;

typedef struct semid_dictenc_report {
    int32_t iters_run;
    double *objective;     /* (iters_run + 1) mean squared sparse-coding error per element,
                              before each update and after the last; caller frees */
    double data_variance;  /* per element */
    double level_used_share[8]; /* atoms used / K at the first min(L, 8) levels */
    double seconds;
} semid_dictenc_report;

void semid_dictenc_report_free(semid_dictenc_report *r);

/* Validates X (non-empty, finite, K <= rows) and cfg and learns. */
semid_status semid_dictenc_fit(const semid_matrix *X, const semid_dictenc_config *cfg, semid_dictenc **out,
                               semid_dictenc_report *report);
/* A model around given atoms (K, D) (copied and normalised; a zero atom is
 * an error). sparsity 0 = levels. */
semid_status semid_dictenc_from_atoms(const float *atoms, int32_t K, int64_t D, int32_t levels, int32_t sparsity,
                                      semid_dictenc **out);
void semid_dictenc_free(semid_dictenc *m);

/* codes (rows, L): the L strongest of the s OMP atoms, strongest first.
 * coefs (rows, s, may be NULL): the s coefficients in the same order, with
 * atoms (rows, s, may be NULL) the s atoms; err (rows, may be NULL) the
 * squared residual |x - sum coef atom|^2. Fails on a width mismatch or NaN. */
semid_status semid_dictenc_encode(const semid_dictenc *m, const semid_matrix *X, int32_t *codes, int32_t *atoms,
                                  float *coefs, float *err);

/* "SEMIDDIC" + payload (u32 version, K, L, s, D, then K*D floats), atomic. */
semid_status semid_dictenc_save(const semid_dictenc *m, const char *path);
semid_status semid_dictenc_load(const char *path, semid_dictenc **out);
semid_status semid_dictenc_write(const semid_dictenc *m, FILE *fp);
semid_status semid_dictenc_read(semid_tok_reader *r, semid_dictenc **out);

/* The tokenizer method "dict": codebook_size = K, levels = L, iters (when
 * > 0) = alternations, seed; cfg->method_config may point to a
 * semid_dictenc_config for sparsity and ridge. */
extern const semid_tokenizer_method semid_method_dict;

#endif
