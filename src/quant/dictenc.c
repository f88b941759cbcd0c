#include "quant/dictenc.h"

#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "linalg/gemm.h"
#include "linalg/vec.h"
#include "quant/vq.h"

enum { DICTENC_VERSION = 1, CORR_BLOCK = 2048 };
static const char DICTENC_MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'D', 'I', 'C'};

semid_dictenc_config semid_dictenc_defaults(void) {
    semid_dictenc_config c;
    memset(&c, 0, sizeof c);
    c.n_atoms = 256;
    c.levels = 2;
    c.sparsity = 0;
    c.iters = 15;
    c.ridge = 1e-4f;
    c.seed = 1234;
    return c;
}

void semid_dictenc_report_free(semid_dictenc_report *r) {
    free(r->objective);
    r->objective = NULL;
}

void semid_dictenc_free(semid_dictenc *m) {
    if (!m) return;
    free(m->atoms);
    free(m);
}

static semid_status check_shape(int32_t K, int64_t D, int32_t L, int32_t s) {
    if (K < 1 || D < 1) return semid_fail(SEMID_EINVAL, "dict: need K >= 1 atoms and width >= 1 (got %d, %lld)", K, (long long)D);
    if (L < 1 || L > K)
        return semid_fail(SEMID_EINVAL, "dict: levels %d must be in 1..K (%d): the atoms of an ID are distinct", L, K);
    if (s < L || s > SEMID_DICTENC_MAX_SPARSITY || s > K)
        return semid_fail(SEMID_EINVAL, "dict: sparsity %d must be in levels (%d)..min(K %d, %d)", s, L, K,
                          SEMID_DICTENC_MAX_SPARSITY);
    return SEMID_OK;
}

static semid_status alloc_model(int32_t K, int64_t D, int32_t L, int32_t s, semid_dictenc **out) {
    SEMID_TRY(check_shape(K, D, L, s));
    semid_dictenc *m = calloc(1, sizeof *m);
    if (m) m->atoms = malloc(sizeof(float) * (size_t)(K * D));
    if (!m || !m->atoms) {
        semid_dictenc_free(m);
        return semid_fail(SEMID_ENOMEM, "out of memory for %d x %lld atoms", K, (long long)D);
    }
    m->n_atoms = K;
    m->levels = L;
    m->sparsity = s;
    m->dim = D;
    *out = m;
    return SEMID_OK;
}

semid_status semid_dictenc_from_atoms(const float *atoms, int32_t K, int64_t D, int32_t levels, int32_t sparsity,
                                      semid_dictenc **out) {
    *out = NULL;
    semid_dictenc *m = NULL;
    SEMID_TRY(alloc_model(K, D, levels, sparsity ? sparsity : levels, &m));
    memcpy(m->atoms, atoms, sizeof(float) * (size_t)(K * D));
    for (int32_t k = 0; k < K; k++) {
        float n = semid_norm2(m->atoms + k * D, D);
        if (!(n > 0.0f) || !isfinite(n)) {
            semid_dictenc_free(m);
            return semid_fail(SEMID_EINVAL, "dict: atom %d is zero or not finite", k);
        }
        semid_scale(m->atoms + k * D, 1.0f / n, D);
    }
    *out = m;
    return SEMID_OK;
}

/* Solves the t x t system G coef = rhs (G symmetric positive semi-definite)
 * by Cholesky in place, with a small diagonal jitter if G is singular
 * (duplicate atoms). */
static void small_spd_solve(double *G, double *rhs, int t) {
    double jitter = 0.0;
    for (int attempt = 0; attempt < 4; attempt++) {
        double L[SEMID_DICTENC_MAX_SPARSITY * SEMID_DICTENC_MAX_SPARSITY];
        bool ok = true;
        for (int i = 0; i < t && ok; i++) {
            for (int j = 0; j <= i; j++) {
                double v = G[i * t + j] + (i == j ? jitter : 0.0);
                for (int k = 0; k < j; k++) v -= L[i * t + k] * L[j * t + k];
                if (i == j) {
                    if (!(v > 1e-12)) {
                        ok = false;
                        break;
                    }
                    L[i * t + i] = sqrt(v);
                } else {
                    L[i * t + j] = v / L[j * t + j];
                }
            }
        }
        if (!ok) {
            jitter = jitter == 0.0 ? 1e-8 : jitter * 100.0;
            continue;
        }
        for (int i = 0; i < t; i++) { /* L y = rhs */
            double v = rhs[i];
            for (int k = 0; k < i; k++) v -= L[i * t + k] * rhs[k];
            rhs[i] = v / L[i * t + i];
        }
        for (int i = t - 1; i >= 0; i--) { /* L^T coef = y */
            double v = rhs[i];
            for (int k = i + 1; k < t; k++) v -= L[k * t + i] * rhs[k];
            rhs[i] = v / L[i * t + i];
        }
        return;
    }
    for (int i = 0; i < t; i++) rhs[i] = 0.0; /* hopeless: no coefficients */
}

/* OMP for one item: c (K) atom correlations W x, GA (K, K) atom Gram, xx =
 * |x|^2. Writes the s atoms and coefficients ordered by |coef| (strongest
 * first) and returns the squared residual. rc is scratch (K). */
static double omp_one(const float *c, const float *GA, int64_t K, int s, double xx, int32_t *sup, float *coef_out,
                      double *rc) {
    int32_t S[SEMID_DICTENC_MAX_SPARSITY];
    double coef[SEMID_DICTENC_MAX_SPARSITY], G[SEMID_DICTENC_MAX_SPARSITY * SEMID_DICTENC_MAX_SPARSITY];
    for (int64_t k = 0; k < K; k++) rc[k] = c[k];
    for (int t = 0; t < s; t++) {
        int32_t best = -1;
        double best_v = -1.0;
        for (int64_t k = 0; k < K; k++) {
            double v = fabs(rc[k]);
            if (v <= best_v) continue;
            bool taken = false;
            for (int i = 0; i < t; i++) taken |= S[i] == k;
            if (!taken) best = (int32_t)k, best_v = v;
        }
        S[t] = best;
        int n = t + 1;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) G[i * n + j] = GA[(int64_t)S[i] * K + S[j]];
            coef[i] = c[S[i]];
        }
        small_spd_solve(G, coef, n);
        if (t + 1 < s)
            for (int64_t k = 0; k < K; k++) {
                double v = c[k];
                for (int i = 0; i < n; i++) v -= GA[k * K + S[i]] * coef[i];
                rc[k] = v;
            }
    }
    /* Residual |x - sum coef_i a_i|^2 = xx - 2 coef.c_S + coef^T G_S coef. */
    double err = xx;
    for (int i = 0; i < s; i++) {
        err -= 2.0 * coef[i] * c[S[i]];
        for (int j = 0; j < s; j++) err += coef[i] * coef[j] * GA[(int64_t)S[i] * K + S[j]];
    }
    /* Order by |coef| descending (insertion sort; ties: lower atom first). */
    int order[SEMID_DICTENC_MAX_SPARSITY];
    for (int i = 0; i < s; i++) {
        int j = i;
        while (j > 0) {
            int p = order[j - 1];
            double a = fabs(coef[p]), b = fabs(coef[i]);
            if (a > b || (a == b && S[p] < S[i])) break;
            order[j] = p;
            j--;
        }
        order[j] = i;
    }
    for (int i = 0; i < s; i++) {
        sup[i] = S[order[i]];
        coef_out[i] = (float)coef[order[i]];
    }
    return err > 0.0 ? err : 0.0;
}

/* Sparse codes of rows [0, n) of X: sup, coef (n, s), err (n). */
static semid_status code_all(const semid_dictenc *m, const float *X, int64_t n, int32_t *sup, float *coef,
                             double *err) {
    int64_t K = m->n_atoms, D = m->dim;
    int s = m->sparsity;
    int64_t block = n < CORR_BLOCK ? n : CORR_BLOCK;
    float *GA = malloc(sizeof(float) * (size_t)(K * K));
    float *corr = malloc(sizeof(float) * (size_t)((block > 0 ? block : 1) * K));
    int nthreads = semid_get_threads();
    double *rc = malloc(sizeof(double) * (size_t)(K * (nthreads > 0 ? nthreads : 1)));
    if (!GA || !corr || !rc) {
        free(GA);
        free(corr);
        free(rc);
        return semid_fail(SEMID_ENOMEM, "out of memory for dictionary coding (K %lld)", (long long)K);
    }
    semid_sgemm(false, true, K, K, D, 1.0f, m->atoms, D, m->atoms, D, 0.0f, GA, K);
    for (int64_t s0 = 0; s0 < n; s0 += block) {
        int64_t B = n - s0 < block ? n - s0 : block;
        semid_sgemm(false, true, B, K, D, 1.0f, X + s0 * D, D, m->atoms, D, 0.0f, corr, K);
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads)
        for (int64_t b = 0; b < B; b++) {
            double *my_rc = rc + (int64_t)omp_get_thread_num() * K;
            const float *x = X + (s0 + b) * D;
            double xx = 0.0;
            for (int64_t j = 0; j < D; j++) xx += (double)x[j] * x[j];
            double e = omp_one(corr + b * K, GA, K, s, xx, sup + (s0 + b) * s, coef + (s0 + b) * s, my_rc);
            if (err) err[s0 + b] = e;
        }
    }
    free(GA);
    free(corr);
    free(rc);
    return SEMID_OK;
}

static semid_status check_width(const semid_dictenc *m, const semid_matrix *X) {
    if (X->cols != m->dim)
        return semid_fail(SEMID_EINVAL, "dict: input width %lld does not match the dictionary's %lld",
                          (long long)X->cols, (long long)m->dim);
    return SEMID_OK;
}

semid_status semid_dictenc_encode(const semid_dictenc *m, const semid_matrix *X, int32_t *codes, int32_t *atoms,
                                  float *coefs, float *err) {
    SEMID_TRY(check_width(m, X));
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, 0, "dict encode"));
    int64_t n = X->rows;
    int s = m->sparsity, L = m->levels;
    int32_t *sup = malloc(sizeof(int32_t) * (size_t)(n * s));
    float *coef = malloc(sizeof(float) * (size_t)(n * s));
    double *e = err ? malloc(sizeof(double) * (size_t)n) : NULL;
    semid_status st = (!sup || !coef || (err && !e)) ? semid_fail(SEMID_ENOMEM, "out of memory encoding %lld items", (long long)n)
                                                     : code_all(m, X->data, n, sup, coef, e);
    if (st == SEMID_OK) {
        for (int64_t i = 0; i < n; i++)
            for (int l = 0; l < L; l++) codes[i * L + l] = sup[i * s + l];
        if (atoms) memcpy(atoms, sup, sizeof(int32_t) * (size_t)(n * s));
        if (coefs) memcpy(coefs, coef, sizeof(float) * (size_t)(n * s));
        if (err)
            for (int64_t i = 0; i < n; i++) err[i] = (float)e[i];
    }
    free(sup);
    free(coef);
    free(e);
    return st;
}

typedef struct {
    double err;
    int64_t index;
} item_err;

static int cmp_worst(const void *a, const void *b) {
    const item_err *x = a, *y = b;
    if (x->err != y->err) return x->err < y->err ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* MOD update: atoms = (A^T A + lambda I)^-1 A^T X, in double. Atoms no item
 * used are replaced by the worst-coded items. */
static semid_status update_atoms(semid_dictenc *m, const float *X, int64_t N, const int32_t *sup, const float *coef,
                                 const double *err, float ridge) {
    int64_t K = m->n_atoms, D = m->dim;
    int s = m->sparsity;
    double *G = calloc((size_t)(K * K), sizeof(double));
    double *R = calloc((size_t)(K * D), sizeof(double));
    double *Gkeep = malloc(sizeof(double) * (size_t)(K * K));
    double *Rkeep = malloc(sizeof(double) * (size_t)(K * D));
    item_err *worst = malloc(sizeof(item_err) * (size_t)N);
    semid_status st = SEMID_OK;
    if (!G || !R || !Gkeep || !Rkeep || !worst) {
        st = semid_fail(SEMID_ENOMEM, "out of memory for the dictionary update (K %lld, D %lld)", (long long)K,
                        (long long)D);
        goto done;
    }
    /* Sums in item order: deterministic whatever the thread count. */
    for (int64_t i = 0; i < N; i++) {
        const int32_t *S = sup + i * s;
        const float *c = coef + i * s;
        for (int a = 0; a < s; a++) {
            for (int b = 0; b < s; b++) G[(int64_t)S[a] * K + S[b]] += (double)c[a] * c[b];
            double *r = R + (int64_t)S[a] * D;
            for (int64_t j = 0; j < D; j++) r[j] += (double)c[a] * X[i * D + j];
        }
    }
    double mean_diag = 0.0;
    for (int64_t k = 0; k < K; k++) mean_diag += G[k * K + k];
    mean_diag /= (double)K;
    double lambda = (double)ridge * mean_diag + 1e-12;
    memcpy(Gkeep, G, sizeof(double) * (size_t)(K * K));
    memcpy(Rkeep, R, sizeof(double) * (size_t)(K * D));
    for (int attempt = 0;; attempt++) {
        for (int64_t k = 0; k < K; k++) G[k * K + k] += lambda;
        lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)K, (lapack_int)D, G, (lapack_int)K, R,
                                        (lapack_int)D);
        if (info == 0) break;
        if (attempt >= 5) {
            st = semid_fail(SEMID_ENUMERIC, "dict: the atom update is singular (LAPACKE_dposv info %d)", (int)info);
            goto done;
        }
        memcpy(G, Gkeep, sizeof(double) * (size_t)(K * K));
        memcpy(R, Rkeep, sizeof(double) * (size_t)(K * D));
        lambda = lambda * 100.0 + 1e-9;
    }
    /* Items by decreasing coding error (ties: lower index), for dead atoms. */
    for (int64_t i = 0; i < N; i++) worst[i] = (item_err){err[i], i};
    qsort(worst, (size_t)N, sizeof *worst, cmp_worst);
    int64_t next_worst = 0;
    for (int64_t k = 0; k < K; k++) {
        float *a = m->atoms + k * D;
        bool used = Gkeep[k * K + k] > 0.0;
        double nrm = 0.0;
        for (int64_t j = 0; j < D; j++) nrm += R[k * D + j] * R[k * D + j];
        nrm = sqrt(nrm);
        if (used && nrm > 1e-12) {
            for (int64_t j = 0; j < D; j++) a[j] = (float)(R[k * D + j] / nrm);
            continue;
        }
        /* Dead atom: the next worst-coded item with a non-zero vector. */
        while (next_worst < N) {
            const float *x = X + worst[next_worst++].index * D;
            float xn = semid_norm2(x, D);
            if (xn > 0.0f) {
                for (int64_t j = 0; j < D; j++) a[j] = x[j] / xn;
                break;
            }
        }
    }
done:
    free(G);
    free(R);
    free(Gkeep);
    free(Rkeep);
    free(worst);
    return st;
}

semid_status semid_dictenc_fit(const semid_matrix *X, const semid_dictenc_config *cfg, semid_dictenc **out,
                               semid_dictenc_report *report) {
    *out = NULL;
    double t0 = semid_now();
    int32_t K = cfg->n_atoms, L = cfg->levels, s = cfg->sparsity ? cfg->sparsity : cfg->levels;
    SEMID_TRY(check_shape(K, X->cols, L, s));
    if (cfg->iters < 0 || !(cfg->ridge >= 0.0f))
        return semid_fail(SEMID_EINVAL, "dict: bad iters %d or ridge %g", cfg->iters, (double)cfg->ridge);
    SEMID_TRY(semid_quant_check_input(X->data, X->rows, X->cols, K, "dict"));
    int64_t N = X->rows, D = X->cols;
    semid_dictenc *m = NULL;
    SEMID_TRY(alloc_model(K, D, L, s, &m));
    int32_t *sup = malloc(sizeof(int32_t) * (size_t)(N * s));
    float *coef = malloc(sizeof(float) * (size_t)(N * s));
    double *err = malloc(sizeof(double) * (size_t)N);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)N);
    double *objective = calloc((size_t)cfg->iters + 1, sizeof(double));
    semid_status st = SEMID_OK;
    if (!sup || !coef || !err || !perm || !objective) {
        st = semid_fail(SEMID_ENOMEM, "out of memory learning a dictionary of %d atoms on %lld items", K, (long long)N);
        goto done;
    }
    /* Initial atoms: K distinct random items, normalised (a zero item gets a
     * random direction). */
    semid_rng rng;
    semid_rng_seed(&rng, cfg->seed);
    for (int64_t i = 0; i < N; i++) perm[i] = i;
    semid_rng_shuffle_i64(&rng, perm, (size_t)N);
    for (int32_t k = 0; k < K; k++) {
        float *a = m->atoms + (int64_t)k * D;
        memcpy(a, X->data + perm[k] * D, sizeof(float) * (size_t)D);
        float nrm = semid_norm2(a, D);
        if (!(nrm > 0.0f)) {
            for (int64_t j = 0; j < D; j++) a[j] = (float)semid_rng_normal(&rng);
            nrm = semid_norm2(a, D);
        }
        semid_scale(a, 1.0f / nrm, D);
    }
    semid_progress prog;
    if (cfg->verbose) semid_progress_start(&prog, "dict iterations", cfg->iters);
    for (int32_t it = 0; it <= cfg->iters && st == SEMID_OK; it++) {
        st = code_all(m, X->data, N, sup, coef, err);
        if (st != SEMID_OK) break;
        double total = 0.0;
        for (int64_t i = 0; i < N; i++) total += err[i];
        objective[it] = total / (double)(N * D);
        if (it == cfg->iters) break;
        st = update_atoms(m, X->data, N, sup, coef, err, cfg->ridge);
        if (cfg->verbose) {
            char extra[64];
            snprintf(extra, sizeof extra, "error %.6g", objective[it]);
            semid_progress_update(&prog, it + 1, extra);
        }
    }
    if (cfg->verbose && st == SEMID_OK) semid_progress_finish(&prog, NULL);
    if (st == SEMID_OK && report) {
        memset(report, 0, sizeof *report);
        report->iters_run = cfg->iters;
        report->objective = objective;
        objective = NULL;
        report->data_variance = semid_quant_variance(X->data, N, D);
        uint8_t *seen = calloc((size_t)K, 1);
        for (int l = 0; l < L && l < 8 && seen; l++) {
            memset(seen, 0, (size_t)K);
            int64_t used = 0;
            for (int64_t i = 0; i < N; i++) {
                int32_t a = sup[i * s + l];
                used += !seen[a];
                seen[a] = 1;
            }
            report->level_used_share[l] = (double)used / (double)K;
        }
        free(seen);
        report->seconds = semid_now() - t0;
    }
done:
    free(sup);
    free(coef);
    free(err);
    free(perm);
    free(objective);
    if (st != SEMID_OK) {
        semid_dictenc_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

/* ------------------------------------------------------------------------
 * Files and the tokenizer method. */

semid_status semid_dictenc_write(const semid_dictenc *m, FILE *fp) {
    uint32_t v[5] = {DICTENC_VERSION, (uint32_t)m->n_atoms, (uint32_t)m->levels, (uint32_t)m->sparsity,
                     (uint32_t)m->dim};
    for (int i = 0; i < 5; i++) SEMID_TRY(semid_tok_write_u32(fp, v[i]));
    return semid_tok_write_f32s(fp, m->atoms, (int64_t)m->n_atoms * m->dim);
}

semid_status semid_dictenc_read(semid_tok_reader *r, semid_dictenc **out) {
    *out = NULL;
    uint32_t v[5];
    static const char *names[5] = {"dict version", "atoms", "levels", "sparsity", "width"};
    for (int i = 0; i < 5; i++) SEMID_TRY(semid_tok_read_u32(r, &v[i], names[i]));
    if (v[0] != DICTENC_VERSION)
        return semid_fail(SEMID_EFORMAT, "%s: dict version %u is not supported (expected %d)", r->path, v[0],
                          DICTENC_VERSION);
    if (v[1] == 0 || v[1] > (1u << 24) || v[4] == 0 || v[4] > (1u << 24) ||
        (uint64_t)v[1] * v[4] * 4 > r->left)
        return semid_fail(SEMID_EFORMAT, "%s: dict sizes %u x %u do not fit the %zu bytes left", r->path, v[1], v[4],
                          r->left);
    semid_dictenc *m = NULL;
    semid_status ast = alloc_model((int32_t)v[1], (int64_t)v[4], (int32_t)v[2], (int32_t)v[3], &m);
    if (ast != SEMID_OK) return semid_fail_context(ast == SEMID_ENOMEM ? ast : SEMID_EFORMAT, "%s", r->path);
    semid_status st = semid_tok_read_f32s(r, m->atoms, (int64_t)v[1] * v[4], "atoms");
    if (st == SEMID_OK && semid_find_nonfinite(m->atoms, (int64_t)v[1] * v[4]) >= 0)
        st = semid_fail(SEMID_EFORMAT, "%s: atoms contain NaN or Inf", r->path);
    if (st != SEMID_OK) {
        semid_dictenc_free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

static semid_status write_any(const void *m, FILE *fp) { return semid_dictenc_write((const semid_dictenc *)m, fp); }
static semid_status read_any(semid_tok_reader *r, void **m) { return semid_dictenc_read(r, (semid_dictenc **)m); }
static void free_any(void *m) { semid_dictenc_free((semid_dictenc *)m); }

semid_status semid_dictenc_save(const semid_dictenc *m, const char *path) {
    return semid_quant_save_file(path, DICTENC_MAGIC, m, write_any);
}

semid_status semid_dictenc_load(const char *path, semid_dictenc **out) {
    void *m;
    semid_status st = semid_quant_load_file(path, DICTENC_MAGIC, &m, read_any, free_any);
    *out = (semid_dictenc *)m;
    return st;
}

static semid_status method_fit(const semid_matrix *X, const semid_tokenizer_config *tc, void **state) {
    semid_dictenc_config c =
        tc->method_config ? *(const semid_dictenc_config *)tc->method_config : semid_dictenc_defaults();
    c.n_atoms = tc->codebook_size;
    c.levels = tc->levels;
    c.seed = tc->seed;
    if (tc->iters > 0) c.iters = tc->iters;
    if (tc->verbose) c.verbose = 1;
    semid_dictenc *m = NULL;
    SEMID_TRY(semid_dictenc_fit(X, &c, &m, NULL));
    *state = m;
    return SEMID_OK;
}

static semid_status method_encode(const void *s, const semid_matrix *X, int32_t *codes) {
    return semid_dictenc_encode((const semid_dictenc *)s, X, codes, NULL, NULL, NULL);
}
static int32_t method_levels(const void *s) { return ((const semid_dictenc *)s)->levels; }
static int32_t method_level_size(const void *s, int32_t level) {
    (void)level;
    return ((const semid_dictenc *)s)->n_atoms;
}
static int32_t method_dim(const void *s) { return (int32_t)((const semid_dictenc *)s)->dim; }

const semid_tokenizer_method semid_method_dict = {
    .name = "dict", .label = "dictionary encoding", .in_ablation = 1, .fit = method_fit, .encode = method_encode,
    .reconstruct = NULL, .levels = method_levels, .level_size = method_level_size, .dim = method_dim,
    .write = write_any, .read = read_any, .free = free_any};
