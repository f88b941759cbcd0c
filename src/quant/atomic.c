/* Atomic IDs: the reference every Semantic-ID paper compares against (the
 * one-token-per-item ID of SASRec-style sequential recommenders). One level
 * whose codebook is the catalog: item i of the fitted embeddings gets code i,
 * so the generative model's last layer is a softmax over all items and no
 * two items share an ID (disambiguation adds nothing: unique_codes).
 *
 * The fitted item vectors are the codebook, so a vector encodes to its
 * nearest fitted item (the item itself for a fitted row, ties to the lower
 * index): a cold item takes the ID of its nearest neighbour, which is the
 * only thing an atomic ID can say about an item never trained on. The
 * settings levels and codebook_size do not apply (one level of N codes). */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "linalg/vec.h"
#include "quant/kmeans.h"
#include "quant/tokenizer.h"

typedef struct atomic_state {
    int32_t n_items; /* N: codes 0..N-1 */
    int32_t dim;     /* D */
    float *items;    /* (N, D) the fitted item vectors */
} atomic_state;

static void a_free(void *state) {
    atomic_state *a = state;
    if (!a) return;
    free(a->items);
    free(a);
}

static semid_status a_alloc(int64_t n, int64_t d, atomic_state **out) {
    atomic_state *a = calloc(1, sizeof *a);
    if (a) a->items = malloc(sizeof(float) * (size_t)n * (size_t)d);
    if (!a || !a->items) {
        a_free(a);
        return semid_fail(SEMID_ENOMEM, "atomic IDs: out of memory for %lld x %lld item vectors", (long long)n, (long long)d);
    }
    a->n_items = (int32_t)n;
    a->dim = (int32_t)d;
    *out = a;
    return SEMID_OK;
}

static semid_status a_fit(const semid_matrix *X, const semid_tokenizer_config *cfg, void **state) {
    (void)cfg;
    if (X->rows > INT32_MAX || X->cols > INT32_MAX)
        return semid_fail(SEMID_EINVAL, "atomic IDs: %lld items of width %lld is too many", (long long)X->rows,
                          (long long)X->cols);
    atomic_state *a = NULL;
    SEMID_TRY(a_alloc(X->rows, X->cols, &a));
    memcpy(a->items, X->data, sizeof(float) * (size_t)(X->rows * X->cols));
    *state = a;
    return SEMID_OK;
}

/* Nearest fitted item; for a fitted row that is the row itself unless an
 * earlier item has the very same vector (then both share the lower code). */
static semid_status a_encode(const void *state, const semid_matrix *X, int32_t *codes) {
    const atomic_state *a = state;
    return semid_kmeans_assign(X->data, X->rows, a->dim, a->items, a->n_items, codes, NULL);
}

static semid_status a_reconstruct(const void *state, const int32_t *codes, int64_t n, int32_t use_levels, float *out) {
    (void)use_levels; /* one level */
    const atomic_state *a = state;
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * a->dim, a->items + (int64_t)codes[i] * a->dim, sizeof(float) * (size_t)a->dim);
    return SEMID_OK;
}

static int32_t a_levels(const void *s) {
    (void)s;
    return 1;
}
static int32_t a_level_size(const void *s, int32_t l) {
    (void)l;
    return ((const atomic_state *)s)->n_items;
}
static int32_t a_dim(const void *s) { return ((const atomic_state *)s)->dim; }

/* Payload: u32 N, u32 D, then the item vectors (N*D float32). */
static semid_status a_write(const void *state, FILE *fp) {
    const atomic_state *a = state;
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)a->n_items));
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)a->dim));
    return semid_tok_write_f32s(fp, a->items, (int64_t)a->n_items * a->dim);
}

static semid_status a_read(semid_tok_reader *r, void **state) {
    uint32_t n, d;
    SEMID_TRY(semid_tok_read_u32(r, &n, "items"));
    SEMID_TRY(semid_tok_read_u32(r, &d, "dimension"));
    if (n < 1 || n > INT32_MAX || d < 1 || d > (1u << 24))
        return semid_fail(SEMID_EFORMAT, "%s: implausible atomic-ID sizes (%u items, width %u)", r->path, n, d);
    if ((uint64_t)n * d * 4 > r->left) return semid_fail(SEMID_EFORMAT, "%s: truncated atomic-ID item vectors", r->path);
    atomic_state *a = NULL;
    SEMID_TRY(a_alloc(n, d, &a));
    semid_status st = semid_tok_read_f32s(r, a->items, (int64_t)n * d, "item vectors");
    if (st == SEMID_OK && semid_find_nonfinite(a->items, (int64_t)n * d) >= 0)
        st = semid_fail(SEMID_EFORMAT, "%s: non-finite atomic-ID item vector", r->path);
    if (st != SEMID_OK) {
        a_free(a);
        return st;
    }
    *state = a;
    return SEMID_OK;
}

const semid_tokenizer_method semid_method_atomic = {
    .name = "atomic", .label = "atomic IDs (one token per item)", .in_ablation = 0, .unique_codes = 1, .fit = a_fit,
    .encode = a_encode, .reconstruct = a_reconstruct, .levels = a_levels, .level_size = a_level_size, .dim = a_dim,
    .write = a_write, .read = a_read, .free = a_free};
