/* Fusing the search and recommendation embeddings of the same items into
 * one vector per item (the paper's fused_concat and fused_svd). */
#ifndef SEMID_EMBED_FUSION_H
#define SEMID_EMBED_FUSION_H

#include "linalg/matrix.h"
#include "semid/semid.h"

/* out (I x (Ds + Dr)) = [normalise(search) | normalise(rec)]: every row of
 * nonzero inputs has norm sqrt(2). */
semid_status semid_fuse_concat(const semid_matrix *search, const semid_matrix *rec, semid_matrix *out);

/* out (I x min(Ds, Dr)): both L2-normalised; the wider one is projected onto
 * its own top right singular vectors (linalg/svd.h) down to the narrower
 * width; then the two are added element-wise. Equal widths: a plain sum. */
semid_status semid_fuse_svd(const semid_matrix *search, const semid_matrix *rec, semid_matrix *out);

#endif
