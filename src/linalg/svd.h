/* Truncated SVD of a tall matrix X (n x d, n >= 1, d small: embedding
 * widths) through the eigen-decomposition of its d x d Gram matrix:
 *   G = X^T X = V diag(s^2) V^T   (LAPACKE_dsyevd, in double precision),
 * so the right singular vectors are G's eigenvectors and the singular values
 * the square roots of its eigenvalues (negative round-off clamped to 0).
 * This costs O(n d^2 + d^3) and never forms U; it squares the condition
 * number, which is harmless for projecting embeddings (we need the leading
 * directions, not tiny singular values to full relative accuracy).
 * Signs are fixed (the largest-magnitude entry of each vector is positive)
 * so results are reproducible. */
#ifndef SEMID_LINALG_SVD_H
#define SEMID_LINALG_SVD_H

#include <stdint.h>

#include "semid/semid.h"

/* sigma (d): every singular value, descending (those past rank are ~0).
 * vt (k x d, row-major): the top k right singular vectors as rows; 1 <= k <= d.
 * Either output may be NULL. */
semid_status semid_svd_right(const float *X, int64_t n, int64_t d, int64_t k, float *sigma, float *vt);

/* out (n x k) = X (n x d) * vt^T: coordinates of X's rows on the top k right
 * singular vectors (what PCA without centring gives). */
void semid_svd_project(float *out, const float *X, int64_t n, int64_t d, const float *vt, int64_t k);

#endif
