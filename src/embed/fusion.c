/* fused_concat and fused_svd (see fusion.h). */
#include "embed/fusion.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "linalg/svd.h"
#include "linalg/vec.h"

static semid_status check_pair(const semid_matrix *search, const semid_matrix *rec) {
    if (search->rows != rec->rows)
        return semid_fail(SEMID_EINVAL, "fusion: search embeddings have %lld rows but rec embeddings %lld",
                          (long long)search->rows, (long long)rec->rows);
    if (search->rows < 1 || search->cols < 1 || rec->cols < 1)
        return semid_fail(SEMID_EINVAL, "fusion: empty embeddings");
    return SEMID_OK;
}

static semid_status normalized_copy(const semid_matrix *m, semid_matrix *out) {
    SEMID_TRY(semid_matrix_alloc(out, m->rows, m->cols));
    memcpy(out->data, m->data, (size_t)(m->rows * m->cols) * sizeof *out->data);
    semid_normalize_rows(out->data, out->rows, out->cols);
    return SEMID_OK;
}

semid_status semid_fuse_concat(const semid_matrix *search, const semid_matrix *rec, semid_matrix *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_pair(search, rec));
    int64_t ds = search->cols, dr = rec->cols, n = search->rows;
    SEMID_TRY(semid_matrix_alloc(out, n, ds + dr));
    for (int64_t i = 0; i < n; i++) {
        memcpy(out->data + i * (ds + dr), search->data + i * ds, (size_t)ds * sizeof(float));
        memcpy(out->data + i * (ds + dr) + ds, rec->data + i * dr, (size_t)dr * sizeof(float));
        semid_normalize_rows(out->data + i * (ds + dr), 1, ds);
        semid_normalize_rows(out->data + i * (ds + dr) + ds, 1, dr);
    }
    return SEMID_OK;
}

semid_status semid_fuse_svd(const semid_matrix *search, const semid_matrix *rec, semid_matrix *out) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_pair(search, rec));
    const semid_matrix *wide = search->cols >= rec->cols ? search : rec;
    const semid_matrix *narrow = wide == search ? rec : search;
    int64_t n = search->rows, k = narrow->cols, d = wide->cols;
    semid_matrix wn = {0}, reduced = {0};
    float *vt = NULL;
    semid_status st = normalized_copy(narrow, out);
    if (st != SEMID_OK) goto done;
    if (d == k) {
        st = normalized_copy(wide, &reduced);
        if (st != SEMID_OK) goto done;
    } else {
        st = normalized_copy(wide, &wn);
        if (st != SEMID_OK) goto done;
        vt = malloc((size_t)(k * d) * sizeof *vt);
        if (!vt) {
            st = semid_fail(SEMID_ENOMEM, "fusion: out of memory");
            goto done;
        }
        st = semid_svd_right(wn.data, n, d, k, NULL, vt);
        if (st != SEMID_OK) goto done;
        st = semid_matrix_alloc(&reduced, n, k);
        if (st != SEMID_OK) goto done;
        semid_svd_project(reduced.data, wn.data, n, d, vt, k);
    }
    for (int64_t i = 0; i < n * k; i++) out->data[i] += reduced.data[i];
done:
    if (st != SEMID_OK) semid_matrix_free(out);
    semid_matrix_free(&wn);
    semid_matrix_free(&reduced);
    free(vt);
    return st;
}
