/* The common interface of every Semantic-ID tokenizer: a model fitted on the
 * item embeddings that maps a vector to `levels` discrete codes, code l in
 * [0, level_size(l)). RQ-KMeans (the paper's choice), RQ-VAE, Residual LFQ
 * and dictionary encoding all sit behind it, so strategies, the CLI and the
 * experiment runner pick one by name.
 *
 *   semid_tokenizer_config cfg = semid_tokenizer_defaults();   // rqkmeans, 2 x 256
 *   cfg.method = "rqvae";
 *   semid_tokenizer *tok;
 *   SEMID_TRY(semid_tokenizer_fit(&X, &cfg, &tok));            // X: items x D
 *   int32_t *codes = malloc(X.rows * semid_tokenizer_levels(tok) * sizeof *codes);
 *   SEMID_TRY(semid_tokenizer_encode(tok, &X, codes));         // (rows, levels)
 *   SEMID_TRY(semid_tokenizer_save(tok, "tok.bin"));           // cold start later
 *
 * HOW A METHOD PLUGS IN: one new file and one table row.
 *   1. In src/quant/<name>.c, implement the functions of a
 *      semid_tokenizer_method (below) over your own state struct (passed as
 *      void *) and define `const semid_tokenizer_method semid_method_<name>`
 *      with its name and label.
 *   2. Add the row `ROW(<name>)` to the table in src/quant/tokenizer_methods.c.
 * Every consumer reads that table: fitting and loading, `semid sid build
 * --method`, the experiment's `sid.ablation` key and its report labels, the
 * help texts and the error for a name not in it ("unknown tokenizer 'x'
 * (known: ...)"). A header of your own is needed only for settings of your
 * own (method_config).
 * The prefix-share quantizer is not a tokenizer of one embedding (it reads
 * the search and the rec embeddings): it plugs in through
 * semid_prefix_share_impl, also in tokenizer_methods.c (see below).
 *
 * File format of semid_tokenizer_save (little-endian, written atomically):
 *   "SEMIDTOK" | u32 version (1) | u32 name length | method name bytes |
 *   u32 levels | u32 dim | the method's payload (its `write` function) |
 *   the checksum trailer: "SEMIDX64" | u64 XXH64 of every byte before it.
 * Load verifies the trailer (a file without one, from an older semid,
 * loads unchecked; SEMID_NO_VERIFY=1 skips it; base/checksum.h), checks
 * magic, version and name, then hands the rest to the method's `read`,
 * which must check every length against the bytes left (use
 * semid_tok_reader). The trailer needs no new version: a reader that
 * predates it refuses the file (bytes after the payload). */
#ifndef SEMID_QUANT_TOKENIZER_H
#define SEMID_QUANT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "linalg/matrix.h"
#include "semid/semid.h"

typedef struct semid_tokenizer_config {
    const char *method;    /* a name in the method table (tokenizer_methods.c); NULL = "rqkmeans" */
    int32_t levels;        /* L codes per item (default 2, as the paper) */
    int32_t codebook_size; /* K codes per level (default 256, as the paper) */
    int32_t iters;         /* k-means iterations per level (rqkmeans) or training
                              epochs (rqvae, rlfq); 0 = the method's default */
    uint64_t seed;         /* every random choice derives from it (default 1234) */
    int32_t threads;       /* this call only (0 = the calling thread's semid_get_threads()) */
    int32_t beam;          /* encoding beam width for residual methods, 1 = greedy
                              (default 1; the paper's FAISS RQ trains with a beam) */
    int32_t verbose;       /* 1 = progress at INFO on stderr */
    /* Shared by the trained methods (rqvae, rlfq); 0 = the method's default. */
    float learning_rate;
    int32_t batch_size;
    int32_t max_steps;     /* at most the epochs that fit this many AdamW steps, at least
                              one (0 = the epochs decide; quant/qtrain.h) */
    /* Method-specific settings: NULL = defaults, otherwise a pointer to the
     * config struct declared in that method's header (e.g. semid_rqvae_config
     * for "rqvae"); the method documents what it expects. */
    const void *method_config;
} semid_tokenizer_config;

/* method "rqkmeans", levels 2, codebook_size 256, iters 0 (= 25), seed 1234,
 * threads 0, beam 1, verbose 0, learning_rate 0, batch_size 0, method_config NULL. */
semid_tokenizer_config semid_tokenizer_defaults(void);

typedef struct semid_tokenizer semid_tokenizer;

/* Checks the config and X (rows >= 1, finite; K larger than the number of
 * rows is an error naming both, not silently clamped) and fits. */
semid_status semid_tokenizer_fit(const semid_matrix *X, const semid_tokenizer_config *cfg, semid_tokenizer **out);

/* codes: (X->rows, levels), row-major. Fails (naming the sizes) when X's
 * width is not the width the tokenizer was fitted on, or (naming the row)
 * when X has a NaN/Inf. Usable on items never seen in fit (cold start). */
semid_status semid_tokenizer_encode(const semid_tokenizer *tok, const semid_matrix *X, int32_t *codes);

/* Approximate vectors from codes (n, levels) using the first `use_levels`
 * levels (1..levels); out is (n, dim). SEMID_EINVAL for methods where a
 * reconstruction is not meaningful (e.g. dictionary encoding). */
semid_status semid_tokenizer_reconstruct(const semid_tokenizer *tok, const int32_t *codes, int64_t n,
                                         int32_t use_levels, float *out);

const char *semid_tokenizer_method_name(const semid_tokenizer *tok);
int32_t semid_tokenizer_levels(const semid_tokenizer *tok);
int32_t semid_tokenizer_level_size(const semid_tokenizer *tok, int32_t level);
int32_t semid_tokenizer_dim(const semid_tokenizer *tok);
/* Identity of the fitted model (FNV-1a of its saved payload); the same
 * after save and load. ID tables record it so that cold-start encoding can
 * refuse a tokenizer from another vocabulary. */
uint64_t semid_tokenizer_fingerprint(const semid_tokenizer *tok);
/* The method's own state (e.g. semid_rqkmeans *) for method-specific queries. */
void *semid_tokenizer_state(const semid_tokenizer *tok);

semid_status semid_tokenizer_save(const semid_tokenizer *tok, const char *path);
semid_status semid_tokenizer_load(const char *path, semid_tokenizer **out);
void semid_tokenizer_free(semid_tokenizer *tok);

/* Mean squared reconstruction error per item (sum over dimensions, as FAISS
 * reports it) after each level: err[l] for l in 0..levels-1. X must be what
 * `codes` encode. SEMID_EINVAL where reconstruct is not supported. */
semid_status semid_tokenizer_level_errors(const semid_tokenizer *tok, const semid_matrix *X, const int32_t *codes,
                                          double *err);

/* Code usage of one level over n items: the share of the level's codes used
 * at least once, and the perplexity exp(entropy) of the code distribution
 * (= level size when perfectly balanced); both 0 when n or level_size is 0. */
semid_status semid_codes_usage(const int32_t *codes, int64_t n, int32_t levels, int32_t level, int32_t level_size,
                       double *used_share, double *perplexity);

/* ------------------------------------------------------------------------
 * For method implementers. */

/* A bounds-checked reader over a payload; every read fails with
 * SEMID_EFORMAT (naming `what` and the file) instead of reading past the end. */
typedef struct semid_tok_reader {
    const uint8_t *p;
    size_t left;
    const char *path; /* for messages */
} semid_tok_reader;

semid_status semid_tok_read_u32(semid_tok_reader *r, uint32_t *v, const char *what);
semid_status semid_tok_read_f32s(semid_tok_reader *r, float *dst, int64_t n, const char *what);
semid_status semid_tok_read_i32s(semid_tok_reader *r, int32_t *dst, int64_t n, const char *what);
/* Writers through a FILE * (the atomic temp file); EIO on a short write. */
semid_status semid_tok_write_u32(FILE *fp, uint32_t v);
semid_status semid_tok_write_f32s(FILE *fp, const float *src, int64_t n);
semid_status semid_tok_write_i32s(FILE *fp, const int32_t *src, int64_t n);

typedef struct semid_tokenizer_method {
    const char *name;    /* "rqkmeans": configs, --method, saved files, ID tables */
    const char *label;   /* "RQ-KMeans": report rows */
    int32_t in_ablation; /* 1: in the experiment's default tokenizer ablation
                            (the paper's four); a new method starts at 0 */
    int32_t unique_codes; /* 1: every fitted item gets a code of its own (atomic
                             IDs), so strategies skip disambiguation */
    /* Fit on X (already validated: rows >= 1, finite, K <= rows, levels >= 1,
     * codebook_size >= 1; threads already applied); *state is the method's. */
    semid_status (*fit)(const semid_matrix *X, const semid_tokenizer_config *cfg, void **state);
    /* X validated (width = dim, finite); codes (rows, levels). */
    semid_status (*encode)(const void *state, const semid_matrix *X, int32_t *codes);
    /* May be NULL when not meaningful. use_levels validated in 1..levels. */
    semid_status (*reconstruct)(const void *state, const int32_t *codes, int64_t n, int32_t use_levels, float *out);
    int32_t (*levels)(const void *state);
    int32_t (*level_size)(const void *state, int32_t level);
    int32_t (*dim)(const void *state);
    semid_status (*write)(const void *state, FILE *fp);
    semid_status (*read)(semid_tok_reader *r, void **state);
    void (*free)(void *state);
} semid_tokenizer_method;

/* The table of available methods (tokenizer_methods.c), NULL-terminated. */
extern const semid_tokenizer_method *const semid_tokenizer_methods[];
/* The method called `name`, or NULL. */
const semid_tokenizer_method *semid_tokenizer_find_method(const char *name);
/* The same, or SEMID_EINVAL "unknown tokenizer 'x' (known: ...)". */
semid_status semid_tokenizer_lookup(const char *name, const semid_tokenizer_method **out);
/* The i-th method's name in table order, NULL past the end (base/names.h). */
const char *semid_tokenizer_name_at(int i);

/* Prefix-share (GenSAR): one shared codebook plus one codebook per task,
 * fitted on the search (S) and rec (R) embeddings of the same items (same
 * rows, widths may differ). The result an implementation fills: */
typedef struct semid_prefix_share_codes {
    int32_t n_items;
    int32_t shared_levels; /* leading levels whose codebook both tasks share (paper: 1) */
    int32_t task_levels;   /* following levels with one codebook per task (paper: 1) */
    int32_t *level_size;   /* (shared_levels + task_levels), malloc'd */
    int32_t *codes[2];     /* [SEMID_TASK_SEARCH], [SEMID_TASK_REC]: (n_items, shared_levels +
                              task_levels) malloc'd; the shared columns are equal in both */
} semid_prefix_share_codes;

/* cfg->levels is the total levels per ID (shared + task), cfg->codebook_size
 * the size of every codebook; cfg->method_config is the implementation's own. */
typedef semid_status (*semid_prefix_share_fn)(const semid_matrix *S, const semid_matrix *R,
                                              const semid_tokenizer_config *cfg, semid_prefix_share_codes *out);
/* NULL until the prefix-share quantizer is registered in tokenizer_methods.c. */
extern const semid_prefix_share_fn semid_prefix_share_impl;
void semid_prefix_share_codes_free(semid_prefix_share_codes *c);

#endif
