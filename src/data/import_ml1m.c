/* MovieLens 1M: movies.dat (MovieID::Title (Year)::Genre|Genre) and
 * ratings.dat (UserID::MovieID::Rating::Timestamp). GroupLens ships
 * movies.dat in Latin-1; a UTF-8 copy reads the same. users.dat holds
 * demographics semid does not use. */
#include <stdlib.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/import_util.h"

static semid_status read_movies(import_ctx *c, const char *path) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, "::", 3, true));
    char *f[3];
    bool got = true;
    semid_status st = SEMID_OK;
    while ((st = import_table_next(c, &t, f, &got)) == SEMID_OK && got) {
        semid_item it = {.id = import_trim(f[0]), .title = f[1]};
        import_split_title_year(it.title, &it.year);
        char *genres = import_normalize_list(f[2], "|");
        if (!genres) {
            st = semid_fail(SEMID_ENOMEM, "out of memory");
            break;
        }
        it.genres = genres;
        semid_status add = semid_builder_add_item(c->b, &it, NULL);
        free(genres);
        if (add != SEMID_OK && (st = import_reject_status(c, import_table_line(&t), add)) != SEMID_OK) break;
    }
    import_table_close(c, &t);
    if (st == SEMID_OK && semid_builder_n_items(c->b) == 0) st = semid_fail(SEMID_EPARSE, "%s: no movies", path);
    return st;
}

/* user, item, rating, timestamp: shared with u.data of MovieLens 100K. */
semid_status import_rating_rows(import_ctx *c, const char *path, const char *sep) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, sep, 4, false));
    char *f[4];
    bool got = true;
    semid_status st = SEMID_OK;
    while ((st = import_table_next(c, &t, f, &got)) == SEMID_OK && got) {
        int64_t line = import_table_line(&t), time;
        double rating;
        if (!import_parse_double(f[2], &rating)) {
            if ((st = import_reject(c, line, "rating '%.40s' is not a number", f[2])) != SEMID_OK) break;
            continue;
        }
        if (!import_parse_time(f[3], &time)) {
            if ((st = import_reject(c, line, "timestamp '%.40s' is not a number", f[3])) != SEMID_OK) break;
            continue;
        }
        st = import_interaction(c, line, import_trim(f[0]), import_trim(f[1]), time, true, rating);
        if (st != SEMID_OK) break;
    }
    import_table_close(c, &t);
    return st;
}

static semid_status read_dir(import_ctx *c, const char *dir) {
    char *movies = semid_path_join(dir, "movies.dat");
    char *ratings = semid_path_join(dir, "ratings.dat");
    semid_status st = movies && ratings ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = read_movies(c, movies);
    if (st == SEMID_OK) st = import_rating_rows(c, ratings, "::");
    free(movies);
    free(ratings);
    return st;
}

static bool detect(const char *path, bool is_dir) { return is_dir && import_dir_has(path, "movies.dat", "ratings.dat"); }

const semid_importer semid_importer_ml1m = {
    .name = "ml-1m", .files = "movies.dat + ratings.dat", .detect = detect, .read = read_dir};
