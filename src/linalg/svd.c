/* Truncated SVD through the Gram matrix's eigen-decomposition (see svd.h). */
#include "linalg/svd.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "base/status.h"
#include "linalg/gemm.h"

semid_status semid_svd_right(const float *X, int64_t n, int64_t d, int64_t k, float *sigma, float *vt) {
    if (n < 1 || d < 1 || k < 1 || k > d)
        return semid_fail(SEMID_EINVAL, "svd: need n >= 1 and 1 <= k <= d (n=%lld d=%lld k=%lld)", (long long)n,
                          (long long)d, (long long)k);
    if (d > 46340) return semid_fail(SEMID_EINVAL, "svd: dimension %lld too large for the Gram method", (long long)d);
    double *g = calloc((size_t)(d * d), sizeof *g);
    double *w = malloc((size_t)d * sizeof *w);
    if (!g || !w) {
        free(g);
        free(w);
        return semid_fail(SEMID_ENOMEM, "svd: out of memory for a %lld x %lld Gram matrix", (long long)d, (long long)d);
    }
    /* Gram in double: accumulate float products in chunks of rows through
     * sgemm (fast), summing the chunk results in double (accurate). */
    enum { CHUNK = 4096 };
    float *gf = malloc((size_t)(d * d) * sizeof *gf);
    if (!gf) {
        free(g);
        free(w);
        return semid_fail(SEMID_ENOMEM, "svd: out of memory");
    }
    for (int64_t r0 = 0; r0 < n; r0 += CHUNK) {
        int64_t nr = n - r0 < CHUNK ? n - r0 : CHUNK;
        semid_sgemm(true, false, d, d, nr, 1.0f, X + r0 * d, d, X + r0 * d, d, 0.0f, gf, d);
        for (int64_t i = 0; i < d * d; i++) g[i] += gf[i];
    }
    free(gf);
    /* Symmetrise against rounding differences between the two triangles. */
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i + 1; j < d; j++) g[i * d + j] = g[j * d + i] = 0.5 * (g[i * d + j] + g[j * d + i]);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, g, (lapack_int)d, w);
    if (info != 0) {
        free(g);
        free(w);
        return semid_fail(SEMID_ENUMERIC, "svd: eigen-decomposition failed (LAPACKE_dsyevd info %d)", (int)info);
    }
    /* dsyevd returns ascending eigenvalues; column j of g is eigenvector j. */
    for (int64_t j = 0; j < d; j++) {
        int64_t src = d - 1 - j;
        if (sigma) sigma[j] = (float)sqrt(w[src] > 0 ? w[src] : 0.0);
        if (vt && j < k) {
            double best = 0;
            for (int64_t i = 0; i < d; i++)
                if (fabs(g[i * d + src]) > fabs(best)) best = g[i * d + src];
            double sign = best < 0 ? -1.0 : 1.0;
            for (int64_t i = 0; i < d; i++) vt[j * d + i] = (float)(sign * g[i * d + src]);
        }
    }
    free(g);
    free(w);
    return SEMID_OK;
}

void semid_svd_project(float *out, const float *X, int64_t n, int64_t d, const float *vt, int64_t k) {
    semid_sgemm(false, true, n, k, d, 1.0f, X, d, vt, d, 0.0f, out, k);
}
