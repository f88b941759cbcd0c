#include "quant/vq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/status.h"
#include "quant/kmeans.h"

/* Below this many elements a loop runs on one thread (see mlp.c). */
enum { PAR_MIN = 1 << 15 };

semid_status semid_rvq_forward(int32_t *codes, float *resid, float *zq, const float *z, int64_t B,
                               const float *C, int L, int64_t K, int64_t d, bool assign) {
    int32_t *level_codes = NULL;
    if (assign) {
        level_codes = malloc(sizeof(int32_t) * (size_t)(B > 0 ? B : 1));
        if (!level_codes) return semid_fail(SEMID_ENOMEM, "out of memory for %lld codes", (long long)B);
    }
    memcpy(resid, z, sizeof(float) * (size_t)(B * d));
    memset(zq, 0, sizeof(float) * (size_t)(B * d));
    for (int l = 0; l < L; l++) {
        const float *r = resid + (int64_t)l * B * d;
        const float *Cl = C + (int64_t)l * K * d;
        if (assign) {
            semid_status st = semid_kmeans_assign(r, B, (int32_t)d, Cl, (int32_t)K, level_codes, NULL);
            if (st != SEMID_OK) {
                free(level_codes);
                return st;
            }
            for (int64_t b = 0; b < B; b++) codes[b * L + l] = level_codes[b];
        }
        /* The next level's residual is this one minus the chosen codeword. */
        float *next = l + 1 < L ? resid + (int64_t)(l + 1) * B * d : NULL;
#pragma omp parallel for schedule(static) if (B * d >= PAR_MIN) num_threads(semid_get_threads())
        for (int64_t b = 0; b < B; b++) {
            const float *e = Cl + (int64_t)codes[b * L + l] * d;
            for (int64_t j = 0; j < d; j++) {
                zq[b * d + j] += e[j];
                if (next) next[b * d + j] = r[b * d + j] - e[j];
            }
        }
    }
    free(level_codes);
    return SEMID_OK;
}

double semid_rvq_sqerr(const float *resid, const int32_t *codes, const float *C, int64_t B, int L,
                       int64_t K, int64_t d) {
    double total = 0.0;
    for (int l = 0; l < L; l++) {
        const float *r = resid + (int64_t)l * B * d;
        const float *Cl = C + (int64_t)l * K * d;
        for (int64_t b = 0; b < B; b++) {
            const float *e = Cl + (int64_t)codes[b * L + l] * d;
            for (int64_t j = 0; j < d; j++) {
                double diff = (double)r[b * d + j] - e[j];
                total += diff * diff;
            }
        }
    }
    return B > 0 ? total / (double)(B * d) : 0.0;
}

void semid_rvq_backward(float *dz, float *dC, float w_codebook, float w_commit, const float *resid,
                        const int32_t *codes, const float *C, int64_t B, int L, int64_t K, int64_t d) {
    float scale = 2.0f / (float)(B * d);
    /* Every level's residual moves one-for-one with z. */
    if (w_commit != 0.0f) {
#pragma omp parallel for schedule(static) if (B * d >= PAR_MIN) num_threads(semid_get_threads())
        for (int64_t b = 0; b < B; b++) {
            for (int l = 0; l < L; l++) {
                const float *r = resid + (int64_t)l * B * d + b * d;
                const float *e = C + ((int64_t)l * K + codes[b * L + l]) * d;
                for (int64_t j = 0; j < d; j++) dz[b * d + j] += w_commit * scale * (r[j] - e[j]);
            }
        }
    }
    if (dC && w_codebook != 0.0f) {
        /* Rows sharing a code write the same codeword: serial, in row order. */
        for (int l = 0; l < L; l++) {
            for (int64_t b = 0; b < B; b++) {
                const float *r = resid + (int64_t)l * B * d + b * d;
                int64_t at = ((int64_t)l * K + codes[b * L + l]) * d;
                for (int64_t j = 0; j < d; j++) dC[at + j] += w_codebook * scale * (C[at + j] - r[j]);
            }
        }
    }
}

semid_status semid_vq_init_kmeans(float *C, int64_t K, const float *X, int64_t n, int64_t d, uint64_t seed) {
    semid_kmeans_config kc = semid_kmeans_defaults();
    kc.seed = seed;
    kc.niter = 20;
    kc.allow_fewer_points = 1;
    semid_status st = semid_kmeans_fit(X, n, (int32_t)d, (int32_t)K, &kc, C, NULL);
    if (st != SEMID_OK) return semid_fail_context(st, "initialising a codebook by k-means");
    return SEMID_OK;
}

semid_status semid_rvq_init_kmeans(float *C, int L, int64_t K, int64_t d, const float *z, int64_t n, uint64_t seed) {
    float *r = malloc(sizeof(float) * (size_t)(n * d));
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)n);
    semid_status st = (!r || !codes) ? semid_fail(SEMID_ENOMEM, "out of memory initialising codebooks (%lld rows)", (long long)n)
                                     : SEMID_OK;
    if (st == SEMID_OK) memcpy(r, z, sizeof(float) * (size_t)(n * d));
    for (int l = 0; l < L && st == SEMID_OK; l++) {
        float *Cl = C + (int64_t)l * K * d;
        st = semid_vq_init_kmeans(Cl, K, r, n, d, seed + 7919u * (uint64_t)(l + 1));
        if (st == SEMID_OK) st = semid_kmeans_assign(r, n, (int32_t)d, Cl, (int32_t)K, codes, NULL);
        if (st == SEMID_OK)
            for (int64_t b = 0; b < n; b++)
                for (int64_t j = 0; j < d; j++) r[b * d + j] -= Cl[(int64_t)codes[b] * d + j];
    }
    free(r);
    free(codes);
    return st;
}

void semid_vq_count(int64_t *counts, const int32_t *codes, int64_t B, int L, int64_t K) {
    for (int64_t b = 0; b < B; b++)
        for (int l = 0; l < L; l++) counts[(int64_t)l * K + codes[b * L + l]]++;
}

int64_t semid_vq_reset_dead(float *C, const int64_t *counts, int64_t K, int64_t d, const float *pool, int64_t n,
                            semid_rng *rng, float *m, float *v) {
    if (n <= 0) return 0;
    int64_t reset = 0;
    for (int64_t k = 0; k < K; k++) {
        if (counts[k] != 0) continue;
        int64_t row = (int64_t)semid_rng_below(rng, (uint64_t)n);
        memcpy(C + k * d, pool + row * d, sizeof(float) * (size_t)d);
        if (m) memset(m + k * d, 0, sizeof(float) * (size_t)d);
        if (v) memset(v + k * d, 0, sizeof(float) * (size_t)d);
        reset++;
    }
    return reset;
}

semid_status semid_quant_check_input(const float *X, int64_t rows, int64_t cols, int64_t K, const char *what) {
    if (rows < 1 || cols < 1)
        return semid_fail(SEMID_EINVAL, "%s: empty input (%lld x %lld)", what, (long long)rows, (long long)cols);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(X[i]))
            return semid_fail(SEMID_ENUMERIC, "%s: non-finite value at row %lld, column %lld", what,
                              (long long)(i / cols), (long long)(i % cols));
    if (K > rows)
        return semid_fail(SEMID_EINVAL, "%s: codebook size %lld is larger than the number of items %lld", what,
                          (long long)K, (long long)rows);
    return SEMID_OK;
}

double semid_quant_variance(const float *X, int64_t rows, int64_t cols) {
    if (rows < 1 || cols < 1) return 0.0;
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (rows * cols >= PAR_MIN) num_threads(semid_get_threads())
    for (int64_t j = 0; j < cols; j++) {
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < rows; i++) s += X[i * cols + j];
        double mean = s / (double)rows;
        for (int64_t i = 0; i < rows; i++) {
            double dlt = X[i * cols + j] - mean;
            s2 += dlt * dlt;
        }
        total += s2 / (double)rows;
    }
    return total / (double)cols;
}

double semid_quant_mse(const float *A, const float *B, int64_t rows, int64_t cols) {
    if (rows < 1 || cols < 1) return 0.0;
    double total = 0.0;
    for (int64_t i = 0; i < rows * cols; i++) {
        double dlt = (double)A[i] - B[i];
        total += dlt * dlt;
    }
    return total / (double)(rows * cols);
}

semid_status semid_quant_save_file(const char *path, const char magic[8], const void *model,
                                   semid_status (*write)(const void *model, FILE *fp)) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    semid_status st = fwrite(magic, 1, 8, fp) == 8 ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = write(model, fp);
    if (fclose(fp) != 0 && st == SEMID_OK) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_write_file_trailed(path, buf, len);
    else semid_fail_context(st, "writing %s", path);
    free(buf);
    return st;
}

semid_status semid_quant_load_file(const char *path, const char magic[8], void **model,
                                   semid_status (*read)(semid_tok_reader *r, void **model),
                                   void (*free_fn)(void *model)) {
    *model = NULL;
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file(path, &data, &len));
    semid_status cs = semid_checksum_trailer_check(path, data, &len);
    if (cs != SEMID_OK) {
        free(data);
        return cs;
    }
    if (len < 8 || memcmp(data, magic, 8) != 0) {
        free(data);
        return semid_fail(SEMID_EFORMAT, "%s: not a %.8s model file", path, magic);
    }
    semid_tok_reader r = {(const uint8_t *)data + 8, len - 8, path};
    void *m = NULL;
    semid_status st = read(&r, &m);
    if (st == SEMID_OK && r.left != 0) {
        st = semid_fail(SEMID_EFORMAT, "%s: %zu unexpected bytes after the model", path, r.left);
        free_fn(m);
        m = NULL;
    }
    free(data);
    *model = m;
    return st;
}

int64_t semid_rvq_reset_dead(float *params, int64_t off, int L, int64_t K, int64_t d, const int64_t *counts,
                             const float *resid, int64_t B, semid_rng *rng, semid_adamw *opt) {
    int64_t n = 0;
    for (int l = 0; l < L; l++) {
        int64_t at = off + (int64_t)l * K * d;
        n += semid_vq_reset_dead(params + at, counts + (int64_t)l * K, K, d, resid + (int64_t)l * B * d, B, rng,
                                 opt->m + at, opt->v + at);
    }
    return n;
}
