/* RecBole atomic files: <name>.inter and <name>.item, tab-separated, with
 * headers of `name:type` columns (token, token_seq, float, float_seq).
 * token_seq values are space-separated. Without a .item file, items are
 * created from the ids in .inter with no metadata. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/import_util.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The one *.inter file in `dir`; caller frees. */
static semid_status find_inter(const char *dir, char **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return semid_fail(SEMID_ENOTFOUND, "cannot open directory %s", dir);
    semid_status st = SEMID_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".inter")) continue;
        if (*out) {
            st = semid_fail(SEMID_EINVAL, "%s holds more than one .inter file; give the one to import", dir);
            break;
        }
        *out = semid_path_join(dir, e->d_name);
        if (!*out) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    closedir(d);
    if (st == SEMID_OK && !*out) st = semid_fail(SEMID_ENOTFOUND, "%s holds no .inter file", dir);
    if (st != SEMID_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static int first_column(const import_table *t, const char *const *names) {
    for (; *names; names++) {
        int col = import_find_column((char **)t->header, t->n_cols, *names);
        if (col >= 0) return col;
    }
    return -1;
}

static semid_status read_items(import_ctx *c, const char *path) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, "\t", 0, false));
    int c_id;
    semid_status st = import_table_require(c, &t, "item_id", &c_id);
    static const char *const titles[] = {"movie_title", "title", "name", "item_name", NULL};
    static const char *const years[] = {"release_year", "year", NULL};
    static const char *const genre_cols[] = {"class", "genres", "genre", "categories", NULL};
    static const char *const descs[] = {"description", NULL};
    static const char *const tag_cols[] = {"tags", NULL};
    if (st != SEMID_OK) {
        import_table_close(c, &t);
        return st;
    }
    import_item_columns col = {.id = c_id,
                               .title = first_column(&t, titles),
                               .year = first_column(&t, years),
                               .genres = first_column(&t, genre_cols),
                               .description = first_column(&t, descs),
                               .tags = first_column(&t, tag_cols)};
    return import_read_items(c, &t, &col, " ,", path); /* token_seq: space-separated, commas accepted too */
}

static semid_status read_inter(import_ctx *c, const char *path, bool create_items) {
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
        int64_t time = row++;
        if (c_time >= 0 && !import_parse_time(f[c_time], &time)) {
            st = import_reject(c, line, "timestamp '%.40s' is not a number", f[c_time]);
            continue;
        }
        double rating = 0;
        if (c_rating >= 0 && !import_parse_double(f[c_rating], &rating)) {
            st = import_reject(c, line, "rating '%.40s' is not a number", f[c_rating]);
            continue;
        }
        const char *item = import_trim(f[c_item]);
        if (create_items && *item && semid_builder_find_item(c->b, item) < 0) {
            semid_item it = {.id = (char *)item};
            st = semid_builder_add_item(c->b, &it, NULL);
            if (st != SEMID_OK) break;
        }
        st = import_interaction(c, line, import_trim(f[c_user]), item, time, c_rating >= 0, rating);
    }
    import_table_close(c, &t);
    return st;
}

static semid_status read_path(import_ctx *c, const char *path) {
    char *inter = NULL;
    semid_status st;
    if (ends_with(path, ".inter")) {
        inter = semid_strdup(path);
        st = inter ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    } else {
        st = find_inter(path, &inter);
    }
    if (st != SEMID_OK) return st;
    size_t n = strlen(inter);
    char *item = malloc(n + 1);
    if (!item) {
        free(inter);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    memcpy(item, inter, n - strlen("inter"));
    strcpy(item + n - strlen("inter"), "item");
    bool have_items = semid_path_exists(item);
    if (have_items) st = read_items(c, item);
    if (st == SEMID_OK) st = read_inter(c, inter, !have_items);
    free(inter);
    free(item);
    return st;
}

/* The .inter file itself, or a directory holding one. */
static bool detect(const char *path, bool is_dir) {
    if (!is_dir) return ends_with(path, ".inter");
    DIR *d = opendir(path);
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) found = ends_with(e->d_name, ".inter");
    closedir(d);
    return found;
}

const semid_importer semid_importer_recbole = {
    .name = "recbole", .files = "a .inter file", .detect = detect, .read = read_path};
