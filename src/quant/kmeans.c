#include "quant/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "base/threads.h"
#include "linalg/gemm.h"
#include "linalg/vec.h"

semid_kmeans_config semid_kmeans_defaults(void) {
    semid_kmeans_config c;
    memset(&c, 0, sizeof c);
    c.niter = 25;
    c.seed = 1234;
    c.tolerance = 0.0;
    c.max_points_per_centroid = 256;
    c.init = SEMID_KMEANS_INIT_PLUSPLUS;
    c.init_points_per_centroid = 32;
    return c;
}

void semid_kmeans_stats_free(semid_kmeans_stats *s) {
    if (!s) return;
    free(s->objective);
    free(s->seconds);
    memset(s, 0, sizeof *s);
}

/* Rows per GEMM block: keeps the (rows x K) distance block around 4 MB. */
static int64_t block_rows(int32_t K) {
    int64_t b = (1 << 20) / (K > 0 ? K : 1);
    if (b < 64) b = 64;
    if (b > 4096) b = 4096;
    return b;
}

/* Assignment with the squared norms of the points given (xsq, N) or, when
 * NULL, computed here; k-means passes them once for all its iterations. */
static semid_status assign_impl(const float *X, int64_t N, int32_t D, const float *C, int32_t K, const float *xsq,
                                int32_t *assign, float *dist) {
    int64_t bs = block_rows(K);
    if (bs > N) bs = N;
    float *csq = malloc(sizeof(float) * (size_t)K);
    float *G = malloc(sizeof(float) * (size_t)(bs * K));
    if (!csq || !G) {
        free(csq);
        free(G);
        return semid_fail(SEMID_ENOMEM, "out of memory assigning %lld points to %d centroids", (long long)N, K);
    }
    semid_row_sqnorms(csq, C, K, D);
    for (int64_t b0 = 0; b0 < N; b0 += bs) {
        int64_t nb = N - b0 < bs ? N - b0 : bs;
        const float *Xb = X + b0 * D;
        semid_sgemm(false, true, nb, K, D, 1.0f, Xb, D, C, D, 0.0f, G, K);
#pragma omp parallel for schedule(static) num_threads(semid_get_threads())
        for (int64_t i = 0; i < nb; i++) {
            const float *g = G + i * K;
            float best = INFINITY;
            int32_t arg = 0;
            for (int32_t j = 0; j < K; j++) {
                float d = csq[j] - 2.0f * g[j];
                if (d < best) {
                    best = d;
                    arg = j;
                }
            }
            assign[b0 + i] = arg;
            if (dist) {
                float xs = xsq ? xsq[b0 + i] : semid_dot(Xb + i * D, Xb + i * D, D);
                float d = xs + best;
                dist[b0 + i] = d > 0.0f ? d : 0.0f;
            }
        }
    }
    free(csq);
    free(G);
    return SEMID_OK;
}

semid_status semid_kmeans_assign(const float *X, int64_t N, int32_t D, const float *C, int32_t K, int32_t *assign,
                                 float *dist) {
    return assign_impl(X, N, D, C, K, NULL, assign, dist);
}

semid_status semid_kmeans_objective(const float *X, int64_t N, int32_t D, const float *C, int32_t K,
                                    double *objective) {
    int32_t *a = malloc(sizeof(int32_t) * (size_t)N);
    float *d = malloc(sizeof(float) * (size_t)N);
    if (!a || !d) {
        free(a);
        free(d);
        return semid_fail(SEMID_ENOMEM, "out of memory for the k-means objective");
    }
    semid_status st = semid_kmeans_assign(X, N, D, C, K, a, d);
    double s = 0.0;
    for (int64_t i = 0; i < N; i++) s += d[i];
    *objective = s;
    free(a);
    free(d);
    return st;
}

static double sqdist(const float *a, const float *b, int32_t D) {
    double s = 0.0;
    for (int32_t j = 0; j < D; j++) {
        double t = (double)a[j] - (double)b[j];
        s += t * t;
    }
    return s;
}

/* m distinct indices out of n (partial Fisher-Yates), in draw order. */
static int64_t *sample_indices(semid_rng *r, int64_t n, int64_t m) {
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    if (!idx) return NULL;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + (int64_t)semid_rng_below(r, (uint64_t)(n - i));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    return idx;
}

/* Eight partial sums, so the compiler can vectorise without -ffast-math. */
static float sqdist_f(const float *a, const float *b, int32_t D) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t j = 0;
    for (; j + 8 <= D; j += 8)
        for (int u = 0; u < 8; u++) {
            float t = a[j + u] - b[j + u];
            acc[u] += t * t;
        }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < D; j++) {
        float t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* k-means++ seeding on X (N x D): D^2 sampling, one centroid at a time.
 * Each step is one pass over the points; small inputs stay on one thread,
 * since K parallel regions would cost more than the work. */
static semid_status init_plusplus(const float *X, int64_t N, int32_t D, int32_t K, semid_rng *r, float *C) {
    double *mind = malloc(sizeof(double) * (size_t)N);
    if (!mind) return semid_fail(SEMID_ENOMEM, "out of memory in k-means++");
    int64_t first = (int64_t)semid_rng_below(r, (uint64_t)N);
    memcpy(C, X + first * D, sizeof(float) * (size_t)D);
    const int parallel = N * (int64_t)D >= ((int64_t)1 << 22);
    for (int32_t c = 0;; c++) {
        const float *cen = C + (int64_t)c * D;
#pragma omp parallel for schedule(static) if (parallel) num_threads(semid_get_threads())
        for (int64_t i = 0; i < N; i++) {
            double d = sqdist_f(X + i * D, cen, D);
            if (c == 0 || d < mind[i]) mind[i] = d;
        }
        if (c + 1 == K) break;
        double total = 0.0;
        for (int64_t i = 0; i < N; i++) total += mind[i];
        /* All points covered exactly (fewer distinct points than K): the
         * draw returns N-1, a duplicate centroid, which is documented. */
        size_t pick = semid_rng_weighted(r, mind, (size_t)N, total);
        memcpy(C + (int64_t)(c + 1) * D, X + (int64_t)pick * D, sizeof(float) * (size_t)D);
    }
    free(mind);
    return SEMID_OK;
}

/* Means of the clusters; re-seeds empty ones (see kmeans.h). order/offsets
 * are scratch of N and K+1. Returns the number of clusters re-seeded. */
static int32_t update_centroids(const float *X, int64_t N, int32_t D, int32_t K, int32_t *assign, float *C,
                                int64_t *order, int64_t *offsets, double *sums, semid_rng *r) {
    memset(offsets, 0, sizeof(int64_t) * (size_t)(K + 1));
    for (int64_t i = 0; i < N; i++) offsets[assign[i] + 1]++;
    for (int32_t j = 0; j < K; j++) offsets[j + 1] += offsets[j];
    {
        int64_t *fill = malloc(sizeof(int64_t) * (size_t)K);
        if (!fill) return -1;
        memcpy(fill, offsets, sizeof(int64_t) * (size_t)K);
        for (int64_t i = 0; i < N; i++) order[fill[assign[i]]++] = i;
        free(fill);
    }
    /* Each cluster's sum in point order: independent of the thread count. */
#pragma omp parallel for schedule(dynamic, 4) num_threads(semid_get_threads())
    for (int32_t j = 0; j < K; j++) {
        int64_t b = offsets[j], e = offsets[j + 1];
        if (b == e) continue;
        double *s = sums + (int64_t)j * D;
        memset(s, 0, sizeof(double) * (size_t)D);
        for (int64_t p = b; p < e; p++) {
            const float *x = X + order[p] * D;
            for (int32_t t = 0; t < D; t++) s[t] += x[t];
        }
        float *c = C + (int64_t)j * D;
        double inv = 1.0 / (double)(e - b);
        for (int32_t t = 0; t < D; t++) c[t] = (float)(s[t] * inv);
    }
    int32_t n_split = 0;
    double *w = NULL;
    int64_t *size = NULL;
    for (int32_t j = 0; j < K; j++) {
        if (offsets[j + 1] != offsets[j]) continue;
        if (!w) {
            w = malloc(sizeof(double) * (size_t)K);
            size = malloc(sizeof(int64_t) * (size_t)K);
            if (!w || !size) {
                free(w);
                free(size);
                return -1;
            }
            for (int32_t t = 0; t < K; t++) size[t] = offsets[t + 1] - offsets[t];
        }
        double total = 0.0;
        for (int32_t t = 0; t < K; t++) {
            w[t] = size[t] > 1 ? (double)(size[t] - 1) : 0.0;
            total += w[t];
        }
        if (total <= 0.0) continue; /* every point alone already: nothing to split */
        int32_t big = (int32_t)semid_rng_weighted(r, w, (size_t)K, total);
        /* Its member farthest from its centroid becomes the empty cluster. */
        const float *cb = C + (int64_t)big * D;
        int64_t far = -1;
        double far_d = -1.0;
        for (int64_t i = 0; i < N; i++) {
            if (assign[i] != big) continue;
            double d = sqdist(X + i * D, cb, D);
            if (d > far_d) {
                far_d = d;
                far = i;
            }
        }
        memcpy(C + (int64_t)j * D, X + far * D, sizeof(float) * (size_t)D);
        assign[far] = j;
        size[big]--;
        size[j] = 1;
        n_split++;
    }
    free(w);
    free(size);
    return n_split;
}

semid_status semid_kmeans_fit(const float *X, int64_t N, int32_t D, int32_t K, const semid_kmeans_config *cfg_in,
                              float *centroids, semid_kmeans_stats *stats) {
    semid_kmeans_config cfg = cfg_in ? *cfg_in : semid_kmeans_defaults();
    if (stats) memset(stats, 0, sizeof *stats);
    if (N < 1) return semid_fail(SEMID_EINVAL, "k-means needs at least one point (got %lld)", (long long)N);
    if (K < 1) return semid_fail(SEMID_EINVAL, "k-means needs k >= 1 (got %d)", K);
    if (D < 1) return semid_fail(SEMID_EINVAL, "k-means needs a positive dimension (got %d)", D);
    if (cfg.niter < 0) return semid_fail(SEMID_EINVAL, "k-means: niter must be >= 0 (got %d)", cfg.niter);
    if (N < K && !cfg.allow_fewer_points)
        return semid_fail(SEMID_EINVAL, "k-means: %d centroids requested but only %lld points", K, (long long)N);
    int64_t bad = semid_find_nonfinite(X, N * D);
    if (bad >= 0)
        return semid_fail(SEMID_ENUMERIC, "k-means: row %lld has a non-finite value (column %lld)",
                          (long long)(bad / D), (long long)(bad % D));

    int saved_threads = semid_threads_push(cfg.threads);
    double t0 = semid_now();
    semid_rng rng;
    semid_rng_seed(&rng, cfg.seed);
    semid_rng r_sample = semid_rng_fork(&rng, 1), r_init = semid_rng_fork(&rng, 2), r_split = semid_rng_fork(&rng, 3);

    semid_status st = SEMID_OK;
    float *sample = NULL, *init_sample = NULL;
    int32_t *assign = NULL;
    float *dist = NULL, *xsq = NULL;
    int64_t *order = NULL, *offsets = NULL, *idx = NULL;
    double *sums = NULL;

    /* Subsample large inputs, as FAISS does. */
    const float *T = X;
    int64_t n = N;
    if (cfg.max_points_per_centroid > 0 && N > (int64_t)K * cfg.max_points_per_centroid) {
        n = (int64_t)K * cfg.max_points_per_centroid;
        idx = sample_indices(&r_sample, N, n);
        sample = malloc(sizeof(float) * (size_t)(n * D));
        if (!idx || !sample) goto oom;
        for (int64_t i = 0; i < n; i++) memcpy(sample + i * D, X + idx[i] * D, sizeof(float) * (size_t)D);
        free(idx);
        idx = NULL;
        T = sample;
        if (cfg.verbose) SEMID_INFO("k-means: sampled %lld of %lld points", (long long)n, (long long)N);
    }

    /* Initialisation. */
    if (cfg.init == SEMID_KMEANS_INIT_RANDOM) {
        int64_t m = n < K ? n : K;
        idx = sample_indices(&r_init, n, m);
        if (!idx) goto oom;
        for (int32_t j = 0; j < K; j++) memcpy(centroids + (int64_t)j * D, T + idx[j % m] * D, sizeof(float) * (size_t)D);
        free(idx);
        idx = NULL;
    } else {
        const float *I = T;
        int64_t ni = n;
        if (cfg.init_points_per_centroid > 0 && n > (int64_t)K * cfg.init_points_per_centroid) {
            ni = (int64_t)K * cfg.init_points_per_centroid;
            idx = sample_indices(&r_init, n, ni);
            init_sample = malloc(sizeof(float) * (size_t)(ni * D));
            if (!idx || !init_sample) goto oom;
            for (int64_t i = 0; i < ni; i++) memcpy(init_sample + i * D, T + idx[i] * D, sizeof(float) * (size_t)D);
            free(idx);
            idx = NULL;
            I = init_sample;
        }
        st = init_plusplus(I, ni, D, K, &r_init, centroids);
        if (st != SEMID_OK) goto done;
        free(init_sample);
        init_sample = NULL;
    }

    assign = malloc(sizeof(int32_t) * (size_t)n);
    dist = malloc(sizeof(float) * (size_t)n);
    order = malloc(sizeof(int64_t) * (size_t)n);
    offsets = malloc(sizeof(int64_t) * (size_t)(K + 1));
    sums = malloc(sizeof(double) * (size_t)K * (size_t)D);
    xsq = malloc(sizeof(float) * (size_t)n);
    if (!assign || !dist || !order || !offsets || !sums || !xsq) goto oom;
    semid_row_sqnorms(xsq, T, n, D);
    if (stats) {
        stats->objective = calloc((size_t)cfg.niter + 1, sizeof(double));
        stats->seconds = calloc((size_t)cfg.niter + 1, sizeof(double));
        if (!stats->objective || !stats->seconds) goto oom;
        stats->n_train = n;
    }

    double prev = 0.0;
    int32_t it = 0;
    for (;; it++) {
        st = assign_impl(T, n, D, centroids, K, xsq, assign, dist);
        if (st != SEMID_OK) goto done;
        double obj = 0.0;
        for (int64_t i = 0; i < n; i++) obj += dist[i];
        if (stats) {
            stats->objective[it] = obj;
            stats->seconds[it] = semid_now() - t0;
            stats->iterations = it;
        }
        if (cfg.verbose) SEMID_INFO("k-means: iteration %d objective %.6g (%.2fs)", it, obj, semid_now() - t0);
        if (it == cfg.niter) break;
        if (it > 0 && cfg.tolerance > 0.0 && prev - obj <= cfg.tolerance * prev) break;
        prev = obj;
        int32_t ns = update_centroids(T, n, D, K, assign, centroids, order, offsets, sums, &r_split);
        if (ns < 0) goto oom;
        if (stats) stats->n_split += ns;
    }
    goto done;

oom:
    st = semid_fail(SEMID_ENOMEM, "out of memory in k-means (%lld points x %d dims, k = %d)", (long long)N, D, K);
done:
    free(sample);
    free(init_sample);
    free(assign);
    free(dist);
    free(xsq);
    free(order);
    free(offsets);
    free(idx);
    free(sums);
    if (st != SEMID_OK && stats) semid_kmeans_stats_free(stats);
    semid_threads_pop(saved_threads);
    return st;
}
