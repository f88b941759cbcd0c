/* MovieLens 100K in its GroupLens form: u.item (movie id | title | release
 * date | video release date | IMDb URL | 19 genre flags), Latin-1, and
 * u.data (user item rating timestamp, tab-separated). */
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/import_util.h"

enum { ML100K_GENRES = 19, ML100K_COLS = 5 + ML100K_GENRES };

static const char *const genre_names[ML100K_GENRES] = {
    "unknown", "Action",    "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",  "Sci-Fi",   "Thriller",  "War",       "Western"};

static semid_status read_items(import_ctx *c, const char *path) {
    import_table t;
    SEMID_TRY(import_table_open(c, &t, path, "|", ML100K_COLS, true));
    char *f[ML100K_COLS];
    bool got = true;
    semid_status st = SEMID_OK;
    while ((st = import_table_next(c, &t, f, &got)) == SEMID_OK && got) {
        int64_t line = import_table_line(&t);
        char genres[256] = "";
        size_t pos = 0;
        int bad = -1;
        /* Flag 0 ("unknown") marks a movie without genres: not a genre. */
        for (int g = 0; g < ML100K_GENRES; g++) {
            const char *flag = import_trim(f[5 + g]);
            if (strcmp(flag, "0") == 0) continue;
            if (strcmp(flag, "1") != 0) {
                bad = g;
                break;
            }
            if (g == 0) continue;
            pos += (size_t)snprintf(genres + pos, sizeof genres - pos, "%s%s", pos ? "," : "", genre_names[g]);
        }
        if (bad >= 0) {
            if ((st = import_reject(c, line, "genre flag %d is '%.20s', not 0 or 1", bad + 1, f[5 + bad])) != SEMID_OK)
                break;
            continue;
        }
        semid_item it = {.id = import_trim(f[0]), .title = f[1], .genres = genres};
        import_split_title_year(it.title, &it.year);
        /* Release date "01-Jan-1995" when the title has no year. */
        const char *date = import_trim(f[2]);
        size_t dl = strlen(date);
        if (it.year == 0 && dl >= 4 && strspn(date + dl - 4, "0123456789") == 4)
            it.year = (int32_t)strtol(date + dl - 4, NULL, 10);
        semid_status add = semid_builder_add_item(c->b, &it, NULL);
        if (add != SEMID_OK && (st = import_reject_status(c, line, add)) != SEMID_OK) break;
    }
    import_table_close(c, &t);
    if (st == SEMID_OK && semid_builder_n_items(c->b) == 0) st = semid_fail(SEMID_EPARSE, "%s: no movies", path);
    return st;
}

static semid_status read_dir(import_ctx *c, const char *dir) {
    char *items = semid_path_join(dir, "u.item");
    char *data = semid_path_join(dir, "u.data");
    semid_status st = items && data ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = read_items(c, items);
    if (st == SEMID_OK) st = import_rating_rows(c, data, "\t");
    free(items);
    free(data);
    return st;
}

static bool detect(const char *path, bool is_dir) { return is_dir && import_dir_has(path, "u.item", "u.data"); }

const semid_importer semid_importer_ml100k = {
    .name = "ml-100k", .files = "u.item + u.data", .detect = detect, .read = read_dir};
