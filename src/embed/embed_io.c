/* Import and export of item embeddings with their id lists (see embed_io.h). */
#include "embed/embed_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "io/npy.h"

semid_status semid_embed_import(const semid_dataset *ds, const char *npy_path, const char *ids_path,
                                semid_matrix *out) {
    memset(out, 0, sizeof *out);
    semid_matrix raw = {0};
    char **ids = NULL;
    int64_t n_ids = 0;
    int32_t *row_of = NULL;
    SEMID_TRY(semid_npy_read(npy_path, &raw));
    semid_status st = semid_idlist_read(ids_path, &ids, &n_ids);
    if (st != SEMID_OK) goto done;
    if (n_ids != raw.rows) {
        st = semid_fail(SEMID_EFORMAT, "%s has %lld rows but %s lists %lld ids (line i must name row i)", npy_path,
                        (long long)raw.rows, ids_path, (long long)n_ids);
        goto done;
    }
    row_of = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1) * sizeof *row_of);
    if (!row_of) {
        st = semid_fail(SEMID_ENOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < ds->n_items; i++) row_of[i] = -1;
    for (int64_t r = 0; r < n_ids; r++) {
        int32_t item = semid_dataset_find_item(ds, ids[r]);
        if (item < 0) {
            st = semid_fail(SEMID_ENOTFOUND, "%s:%lld: item id '%s' (row %lld of %s) is not in the dataset", ids_path,
                            (long long)r + 1, ids[r], (long long)r, npy_path);
            goto done;
        }
        row_of[item] = (int32_t)r; /* duplicates were rejected by the id-list reader */
    }
    for (int32_t i = 0; i < ds->n_items; i++) {
        if (row_of[i] < 0) {
            st = semid_fail(SEMID_ENOTFOUND, "%s: the dataset's item '%s' has no row (every item needs a vector)",
                            ids_path, ds->items[i].id);
            goto done;
        }
    }
    st = semid_matrix_alloc(out, ds->n_items, raw.cols);
    if (st != SEMID_OK) goto done;
    for (int32_t i = 0; i < ds->n_items; i++)
        memcpy(out->data + (int64_t)i * raw.cols, raw.data + (int64_t)row_of[i] * raw.cols,
               (size_t)raw.cols * sizeof(float));
done:
    semid_matrix_free(&raw);
    semid_idlist_free(ids, n_ids);
    free(row_of);
    return st;
}

semid_status semid_embed_export(const semid_dataset *ds, const semid_matrix *m, const char *dir, const char *name) {
    if (m->rows != ds->n_items)
        return semid_fail(SEMID_EINVAL, "embeddings '%s' have %lld rows but the dataset has %d items", name,
                          (long long)m->rows, ds->n_items);
    SEMID_TRY(semid_mkdirs(dir));
    char file[512];
    snprintf(file, sizeof file, "%s.npy", name);
    char *npy = semid_path_join(dir, file);
    char *idp = semid_path_join(dir, "items.txt");
    char **ids = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1) * sizeof *ids);
    semid_status st = SEMID_OK;
    if (!npy || !idp || !ids) {
        st = semid_fail(SEMID_ENOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < ds->n_items; i++) ids[i] = ds->items[i].id;
    st = semid_npy_write(npy, m);
    if (st == SEMID_OK) st = semid_idlist_write(idp, ids, ds->n_items);
done:
    free(npy);
    free(idp);
    free(ids);
    return st;
}

semid_status semid_embed_load(const semid_dataset *ds, const char *dir, const char *name, semid_matrix *out) {
    char file[512];
    snprintf(file, sizeof file, "%s.npy", name);
    char *npy = semid_path_join(dir, file);
    char *idp = semid_path_join(dir, "items.txt");
    semid_status st;
    if (!npy || !idp) st = semid_fail(SEMID_ENOMEM, "out of memory");
    else if (!semid_path_exists(npy)) st = semid_fail(SEMID_ENOTFOUND, "%s not found (run semid embed --method %s first)", npy, name);
    else st = semid_embed_import(ds, npy, idp, out);
    free(npy);
    free(idp);
    return st;
}
