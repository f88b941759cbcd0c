/* MovieLens latest / 20M / 25M: movies.csv (movieId,title,genres),
 * ratings.csv (userId,movieId,rating,timestamp) and, when present,
 * tags.csv (userId,movieId,tag,timestamp), whose tags are joined per movie
 * into the tags field. Comma-separated with RFC 4180 quoting, UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/import_util.h"

typedef struct csv_file {
    char *data;
    size_t len;
    import_csv r;
    int n_cols;
    int col[4]; /* the columns asked for, in the caller's order */
} csv_file;

/* Opens a CSV file and finds the named columns in its header. */
static semid_status csv_open(import_ctx *c, csv_file *f, const char *path, const char *const *names, int n_names) {
    memset(f, 0, sizeof *f);
    SEMID_TRY(import_read_text(c, path, false, &f->data, &f->len));
    import_begin_file(c, path);
    import_csv_init(&f->r, f->data, f->len);
    char *h[IMPORT_MAX_COLS];
    int n = 0, got;
    while ((got = import_csv_next(&f->r, h, IMPORT_MAX_COLS, &n)) == 1 && n == 1 && !*h[0]) {
    }
    semid_status st = SEMID_OK;
    if (got != 1 || n > IMPORT_MAX_COLS) st = semid_fail(SEMID_EPARSE, "%s:%lld: bad header", path, (long long)f->r.line_no);
    for (int k = 0; st == SEMID_OK && k < n; k++) h[k] = import_trim(h[k]);
    for (int k = 0; st == SEMID_OK && k < n_names; k++) {
        f->col[k] = import_find_column(h, n, names[k]);
        if (f->col[k] < 0)
            st = semid_fail(SEMID_EPARSE, "%s:%lld: header has no column '%s'", path, (long long)f->r.line_no, names[k]);
    }
    f->n_cols = n;
    if (st != SEMID_OK) {
        free(f->data);
        f->data = NULL;
    }
    return st;
}

/* Next well-formed record with the header's column count, in UTF-8 and
 * within the field limit; malformed ones are rejected. */
static semid_status csv_next(import_ctx *c, csv_file *f, char **fields, bool *got) {
    *got = false;
    for (;;) {
        int n, r = import_csv_next(&f->r, fields, IMPORT_MAX_COLS, &n);
        int64_t line = f->r.line_no;
        if (r == 0) return SEMID_OK;
        if (r < 0) {
            SEMID_TRY(import_reject(c, line, r == -2 ? "NUL byte in record" : "malformed quoted field"));
            continue;
        }
        if (n == 1 && !*fields[0]) continue; /* blank line */
        if (n != f->n_cols) {
            SEMID_TRY(import_reject(c, line, "expected %d comma-separated fields, found %d", f->n_cols, n));
            continue;
        }
        bool ok = true;
        for (int k = 0; k < n && ok; k++) {
            SEMID_TRY(import_check_line(c, line, fields[k], strlen(fields[k]), true, &ok));
        }
        if (!ok) continue;
        SEMID_TRY(import_check_fields(c, line, fields, n, &ok));
        if (!ok) continue;
        *got = true;
        return SEMID_OK;
    }
}

static void csv_close(import_ctx *c, csv_file *f) {
    if (f->data) import_end_file(c);
    free(f->data);
    f->data = NULL;
}

static semid_status read_movies(import_ctx *c, const char *path) {
    static const char *const names[] = {"movieId", "title", "genres"};
    csv_file f;
    SEMID_TRY(csv_open(c, &f, path, names, 3));
    char *v[IMPORT_MAX_COLS];
    bool got = true;
    semid_status st = SEMID_OK;
    while ((st = csv_next(c, &f, v, &got)) == SEMID_OK && got) {
        semid_item it = {.id = import_trim(v[f.col[0]]), .title = v[f.col[1]]};
        import_split_title_year(it.title, &it.year);
        const char *g = import_trim(v[f.col[2]]);
        char *genres = import_normalize_list(strcmp(g, "(no genres listed)") == 0 ? "" : g, "|");
        if (!genres) {
            st = semid_fail(SEMID_ENOMEM, "out of memory");
            break;
        }
        it.genres = genres;
        semid_status add = *it.id ? semid_builder_add_item(c->b, &it, NULL)
                                  : semid_fail(SEMID_EINVAL, "empty movie id");
        free(genres);
        if (add != SEMID_OK && (st = import_reject_status(c, f.r.line_no, add)) != SEMID_OK) break;
    }
    csv_close(c, &f);
    if (st == SEMID_OK && semid_builder_n_items(c->b) == 0) st = semid_fail(SEMID_EPARSE, "%s: no movies", path);
    return st;
}

static semid_status read_ratings(import_ctx *c, const char *path) {
    static const char *const names[] = {"userId", "movieId", "rating", "timestamp"};
    csv_file f;
    SEMID_TRY(csv_open(c, &f, path, names, 4));
    char *v[IMPORT_MAX_COLS];
    bool got = true;
    semid_status st = SEMID_OK;
    while ((st = csv_next(c, &f, v, &got)) == SEMID_OK && got) {
        int64_t line = f.r.line_no, time;
        double rating;
        if (!import_parse_double(v[f.col[2]], &rating)) {
            if ((st = import_reject(c, line, "rating '%.40s' is not a number", v[f.col[2]])) != SEMID_OK) break;
            continue;
        }
        if (!import_parse_time(v[f.col[3]], &time)) {
            if ((st = import_reject(c, line, "timestamp '%.40s' is not a number", v[f.col[3]])) != SEMID_OK) break;
            continue;
        }
        st = import_interaction(c, line, import_trim(v[f.col[0]]), import_trim(v[f.col[1]]), time, true, rating);
        if (st != SEMID_OK) break;
    }
    csv_close(c, &f);
    return st;
}

static semid_status read_tags(import_ctx *c, const char *path) {
    static const char *const names[] = {"movieId", "tag"};
    csv_file f;
    SEMID_TRY(csv_open(c, &f, path, names, 2));
    char *v[IMPORT_MAX_COLS];
    bool got = true;
    semid_status st = SEMID_OK;
    int64_t unknown = 0, first_unknown = 0;
    while ((st = csv_next(c, &f, v, &got)) == SEMID_OK && got) {
        int32_t item = semid_builder_find_item(c->b, import_trim(v[f.col[0]]));
        if (item < 0) {
            if (!unknown++) first_unknown = f.r.line_no;
            continue;
        }
        if ((st = semid_builder_add_tag(c->b, item, v[f.col[1]])) != SEMID_OK) break;
    }
    csv_close(c, &f);
    if (st == SEMID_OK && unknown)
        SEMID_WARN("%s: %lld tags name movies not in movies.csv (first on line %lld); ignored", path,
                   (long long)unknown, (long long)first_unknown);
    return st;
}

static semid_status read_dir(import_ctx *c, const char *dir) {
    char *movies = semid_path_join(dir, "movies.csv");
    char *ratings = semid_path_join(dir, "ratings.csv");
    char *tags = semid_path_join(dir, "tags.csv");
    semid_status st = movies && ratings && tags ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = read_movies(c, movies);
    if (st == SEMID_OK && semid_path_exists(tags)) st = read_tags(c, tags);
    if (st == SEMID_OK) st = read_ratings(c, ratings);
    free(movies);
    free(ratings);
    free(tags);
    return st;
}

static bool detect(const char *path, bool is_dir) { return is_dir && import_dir_has(path, "movies.csv", "ratings.csv"); }

const semid_importer semid_importer_mlcsv = {
    .name = "ml-csv", .files = "movies.csv + ratings.csv", .detect = detect, .read = read_dir};
