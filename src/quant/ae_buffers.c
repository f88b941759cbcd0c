#include "quant/ae_buffers.h"

#include <stdlib.h>

#include "base/status.h"
#include "linalg/vec.h"

semid_status semid_ae_params_alloc(int64_t n, float **params, float **grads, uint8_t **decay_mask, const char *what) {
    *params = calloc((size_t)n, sizeof(float));
    *grads = calloc((size_t)n, sizeof(float));
    *decay_mask = calloc((size_t)n, 1);
    if (*params && *grads && *decay_mask) return SEMID_OK;
    free(*params);
    free(*grads);
    free(*decay_mask);
    *params = *grads = NULL;
    *decay_mask = NULL;
    return semid_fail(SEMID_ENOMEM, "out of memory for %lld %s parameters", (long long)n, what);
}

semid_status semid_ae_params_write(FILE *fp, const float *params, int64_t n) {
    SEMID_TRY(semid_tok_write_u32(fp, (uint32_t)n));
    return semid_tok_write_f32s(fp, params, n);
}

semid_status semid_ae_params_check_room(const semid_tok_reader *r, int64_t n, const char *what) {
    if (r->left < 4 || (uint64_t)n > (r->left - 4) / sizeof(float))
        return semid_fail(SEMID_EFORMAT, "%s: %s sizes imply %lld parameters (%lld bytes) but %zu bytes are left", r->path,
                          what, (long long)n, (long long)n * 4, r->left);
    return SEMID_OK;
}

semid_status semid_ae_params_read(semid_tok_reader *r, float *params, int64_t n, const char *what) {
    uint32_t count;
    SEMID_TRY(semid_tok_read_u32(r, &count, "parameter count"));
    if ((int64_t)count != n)
        return semid_fail(SEMID_EFORMAT, "%s: %s has %u parameters, its sizes imply %lld", r->path, what, count,
                          (long long)n);
    char label[64];
    snprintf(label, sizeof label, "%s parameters", what);
    SEMID_TRY(semid_tok_read_f32s(r, params, n, label));
    if (semid_find_nonfinite(params, n) >= 0)
        return semid_fail(SEMID_EFORMAT, "%s: %s parameters contain NaN or Inf", r->path, what);
    return SEMID_OK;
}

void semid_ae_work_free(semid_ae_work *w) {
    if (!w) return;
    semid_mlp_cache_free(&w->enc);
    semid_mlp_cache_free(&w->dec);
    free(w->x);
    free(w->resid);
    free(w->zq);
    free(w->dz);
    free(w->dout);
    free(w->codes);
    free(w);
}

semid_status semid_ae_work_alloc(const semid_mlp *enc, const semid_mlp *dec, int64_t D, int64_t d, int32_t L,
                                 int64_t cap, const char *what, semid_ae_work **out) {
    semid_ae_work *w = calloc(1, sizeof *w);
    if (!w) return semid_fail(SEMID_ENOMEM, "out of memory for %s buffers", what);
    w->cap = cap;
    w->x = malloc(sizeof(float) * (size_t)(cap * D));
    w->resid = malloc(sizeof(float) * (size_t)(L * cap * d));
    w->zq = malloc(sizeof(float) * (size_t)(cap * d));
    w->dz = malloc(sizeof(float) * (size_t)(cap * d));
    w->dout = malloc(sizeof(float) * (size_t)(cap * D));
    w->codes = malloc(sizeof(int32_t) * (size_t)(cap * L));
    if (!w->x || !w->resid || !w->zq || !w->dz || !w->dout || !w->codes ||
        semid_mlp_cache_alloc(&w->enc, enc, cap) != SEMID_OK || semid_mlp_cache_alloc(&w->dec, dec, cap) != SEMID_OK) {
        semid_ae_work_free(w);
        return semid_fail(SEMID_ENOMEM, "out of memory for %s buffers (%lld rows)", what, (long long)cap);
    }
    *out = w;
    return SEMID_OK;
}

semid_status semid_ae_work_ensure(semid_ae_work **w, const semid_mlp *enc, const semid_mlp *dec, int64_t D, int64_t d,
                                  int32_t L, int64_t rows, const char *what) {
    if (*w && (*w)->cap >= rows) return SEMID_OK;
    semid_ae_work_free(*w);
    *w = NULL;
    return semid_ae_work_alloc(enc, dec, D, d, L, rows, what, w);
}
