#include "data/export_generic.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/querygen.h"

/* A field of a TSV row: tabs and line breaks would split the row. */
static void put_field(FILE *fp, const char *s) {
    for (const char *c = s ? s : ""; *c; c++) fputc(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' : *c, fp);
}

static semid_status write_items(const semid_dataset *ds, const char *path) {
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    fputs("item_id\ttitle\tyear\tgenres\tdescription\ttags\n", f.fp);
    for (int32_t i = 0; i < ds->n_items; i++) {
        const semid_item *it = &ds->items[i];
        const char *fields[] = {it->id, it->title};
        for (int k = 0; k < 2; k++) {
            put_field(f.fp, fields[k]);
            fputc('\t', f.fp);
        }
        if (it->year != 0) fprintf(f.fp, "%d", it->year);
        const char *rest[] = {it->genres, it->description, it->tags};
        for (int k = 0; k < 3; k++) {
            fputc('\t', f.fp);
            put_field(f.fp, rest[k]);
        }
        fputc('\n', f.fp);
    }
    return semid_atomic_commit(&f);
}

static semid_status write_interactions(const semid_dataset *ds, const char *path) {
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    fputs("user_id\titem_id\ttimestamp\n", f.fp);
    for (int32_t u = 0; u < ds->n_users; u++)
        for (int64_t e = ds->user_offsets[u]; e < ds->user_offsets[u + 1]; e++) {
            put_field(f.fp, ds->user_ids[u]);
            fputc('\t', f.fp);
            put_field(f.fp, ds->items[ds->seq_items[e]].id);
            fprintf(f.fp, "\t%lld\n", (long long)ds->seq_times[e]);
        }
    return semid_atomic_commit(&f);
}

semid_status semid_dataset_export_generic(const semid_dataset *ds, const char *dir) {
    SEMID_TRY(semid_dataset_validate(ds));
    SEMID_TRY(semid_mkdirs(dir));
    static const char *const names[] = {"items.tsv", "interactions.tsv", "queries.tsv"};
    semid_status st = SEMID_OK;
    for (int k = 0; k < 3 && st == SEMID_OK; k++) {
        if (k == 2 && ds->n_queries == 0) break;
        char *path = semid_path_join(dir, names[k]);
        if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
        st = k == 0 ? write_items(ds, path) : k == 1 ? write_interactions(ds, path) : semid_queries_write_tsv(ds, path);
        free(path);
    }
    return st;
}
