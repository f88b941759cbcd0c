/* The generic layout (docs/formats.md): items.tsv and interactions.tsv with
 * headers naming their columns. descriptions.tsv and queries.tsv beside
 * them are read by semid_import. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/import.h"
#include "data/import_util.h"

static semid_status read_items(import_ctx *c, const char *path) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, "\t", 0, false));
    int c_id;
    semid_status st = import_table_require(c, &t, "item_id", &c_id);
    if (st != SEMID_OK) {
        import_table_close(c, &t);
        return st;
    }
    import_item_columns col = {.id = c_id,
                               .title = import_find_column(t.header, t.n_cols, "title"),
                               .year = import_find_column(t.header, t.n_cols, "year"),
                               .genres = import_find_column(t.header, t.n_cols, "genres"),
                               .description = import_find_column(t.header, t.n_cols, "description"),
                               .tags = import_find_column(t.header, t.n_cols, "tags")};
    return import_read_items(c, &t, &col, ",|", path);
}

static semid_status read_interactions(import_ctx *c, const char *path) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, "\t", 0, false));
    int c_user, c_item;
    semid_status st = import_table_require(c, &t, "user_id", &c_user);
    if (st == SEMID_OK) st = import_table_require(c, &t, "item_id", &c_item);
    int c_time = import_find_column(t.header, t.n_cols, "timestamp");
    int c_rating = import_find_column(t.header, t.n_cols, "rating");
    char *f[IMPORT_MAX_COLS];
    bool got = true;
    int64_t row = 0;
    while (st == SEMID_OK && (st = import_table_next(c, &t, f, &got)) == SEMID_OK && got) {
        int64_t line = import_table_line(&t);
        int64_t time = row++; /* without timestamps, file order is the order */
        if (c_time >= 0 && !import_parse_time(f[c_time], &time)) {
            st = import_reject(c, line, "timestamp '%.40s' is not a number", f[c_time]);
            continue;
        }
        double rating = 0;
        if (c_rating >= 0 && !import_parse_double(f[c_rating], &rating)) {
            st = import_reject(c, line, "rating '%.40s' is not a number", f[c_rating]);
            continue;
        }
        st = import_interaction(c, line, import_trim(f[c_user]), import_trim(f[c_item]), time, c_rating >= 0, rating);
    }
    import_table_close(c, &t);
    return st;
}

semid_status semid_import_items(const char *path, const semid_import_options *opts, semid_dataset *out) {
    memset(out, 0, sizeof *out);
    semid_import_options defaults;
    semid_import_options_init(&defaults);
    if (!opts) opts = &defaults;
    semid_dataset_builder *b;
    SEMID_TRY(semid_builder_create(&b, "items"));
    import_ctx c = {.opts = opts, .b = b};
    semid_status st = read_items(&c, path);
    if (st != SEMID_OK) {
        semid_builder_free(b);
        return st;
    }
    return semid_builder_finish(b, out);
}

static semid_status read_dir(import_ctx *c, const char *dir) {
    char *items = semid_path_join(dir, "items.tsv");
    char *inter = semid_path_join(dir, "interactions.tsv");
    semid_status st = items && inter ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = read_items(c, items);
    if (st == SEMID_OK) st = read_interactions(c, inter);
    free(items);
    free(inter);
    return st;
}

static bool detect(const char *path, bool is_dir) { return is_dir && import_dir_has(path, "items.tsv", "interactions.tsv"); }

const semid_importer semid_importer_generic = {
    .name = "generic", .files = "items.tsv + interactions.tsv", .detect = detect, .read = read_dir, .side_files_beside = true};
