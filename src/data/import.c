/* semid_import: format detection and dispatch through the importer table
 * (importers.c), the shared flow around each format's reader (side files,
 * builder, filters) and the summary log line. */
#include "data/import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/names.h"
#include "base/status.h"
#include "data/filter.h"
#include "data/import_util.h"

void semid_import_options_init(semid_import_options *o) {
    memset(o, 0, sizeof *o);
    o->min_rating = -INFINITY;
    o->drop_uninteracted_items = true;
    o->max_field_bytes = 1 << 20;
}

/* Paths on the stack: detection allocates nothing, so running out of memory
 * cannot read as "no such file" (and a wrong "cannot tell the format"). */
bool import_dir_has(const char *dir, const char *a, const char *b) {
    char pa[4096], pb[4096];
    if (snprintf(pa, sizeof pa, "%s/%s", dir, a) >= (int)sizeof pa) return false;
    if (snprintf(pb, sizeof pb, "%s/%s", dir, b) >= (int)sizeof pb) return false;
    return semid_path_exists(pa) && semid_path_exists(pb);
}

const char *semid_import_format_at(int i) {
    for (int k = 0; semid_importers[k]; k++)
        if (k == i) return semid_importers[k]->name;
    return NULL;
}

char *semid_import_formats(char *buf, size_t cap) {
    char names[512];
    snprintf(buf, cap, "auto, %s", semid_names_join(semid_import_format_at, names, sizeof names));
    return buf;
}

semid_status semid_import_check_format(const char *format) {
    if (format && (strcmp(format, "auto") == 0 || semid_names_index(semid_import_format_at, format) >= 0)) return SEMID_OK;
    char known[512];
    return semid_fail(SEMID_EINVAL, "unknown format '%s' (known: %s)", format ? format : "",
                      semid_import_formats(known, sizeof known));
}

static const semid_importer *detect(const char *path, bool is_dir) {
    for (int i = 0; semid_importers[i]; i++)
        if (semid_importers[i]->detect(path, is_dir)) return semid_importers[i];
    return NULL;
}

semid_status semid_import_detect(const char *path, const char **format) {
    *format = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return semid_fail(SEMID_ENOTFOUND, "%s does not exist", path);
    const semid_importer *imp = detect(path, S_ISDIR(st.st_mode));
    if (imp) {
        *format = imp->name;
        return SEMID_OK;
    }
    char expected[1024] = "";
    size_t n = 0;
    for (int i = 0; semid_importers[i] && n < sizeof expected; i++)
        n += (size_t)snprintf(expected + n, sizeof expected - n, "%s%s (%s)",
                              i == 0 ? "" : semid_importers[i + 1] ? ", " : " or ", semid_importers[i]->files,
                              semid_importers[i]->name);
    return semid_fail(SEMID_ENOTFOUND, "cannot tell the format of %s: expected %s", path, expected);
}

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *p = path + n;
    while (p > path && p[-1] != '/') p--;
    return p;
}

/* A dataset name from the path: the directory's (or file's) base name. */
static char *dataset_name(const char *path, const char *format) {
    const char *b = base_name(path);
    size_t n = strcspn(b, "/");
    if (n == 0 || (n == 1 && b[0] == '.')) return semid_strdup(format);
    char *name = malloc(n + 1);
    if (!name) return NULL;
    memcpy(name, b, n);
    name[n] = '\0';
    char *dot = strrchr(name, '.');
    if (dot && dot != name && strcmp(dot, ".inter") == 0) *dot = '\0';
    return name;
}

static semid_status read_side_files(import_ctx *c, const semid_importer *imp, const char *path) {
    const semid_import_options *o = c->opts;
    char *desc = NULL, *queries = NULL;
    if (imp->side_files_beside) {
        if (!o->descriptions_path) desc = semid_path_join(path, "descriptions.tsv");
        if (!o->queries_path) queries = semid_path_join(path, "queries.tsv");
        if ((!o->descriptions_path && !desc) || (!o->queries_path && !queries)) {
            free(desc);
            free(queries);
            return semid_fail(SEMID_ENOMEM, "out of memory");
        }
        if (desc && !semid_path_exists(desc)) {
            free(desc);
            desc = NULL;
        }
        if (queries && !semid_path_exists(queries)) {
            free(queries);
            queries = NULL;
        }
    }
    const char *d = o->descriptions_path ? o->descriptions_path : desc;
    const char *q = o->queries_path ? o->queries_path : queries;
    semid_status st = SEMID_OK;
    if (d) st = import_descriptions(c, d);
    if (st == SEMID_OK && q) st = import_queries(c, q);
    free(desc);
    free(queries);
    return st;
}

semid_status semid_import(const char *format, const char *path, const semid_import_options *opts, semid_dataset *out) {
    memset(out, 0, sizeof *out);
    semid_import_options defaults;
    semid_import_options_init(&defaults);
    if (!opts) opts = &defaults;
    if (opts->max_field_bytes <= 0) return semid_fail(SEMID_EINVAL, "max_field_bytes must be positive");
    if (opts->user_core < 0 || opts->item_core < 0) return semid_fail(SEMID_EINVAL, "k-core thresholds must be >= 0");
    if (!format || strcmp(format, "auto") == 0) SEMID_TRY(semid_import_detect(path, &format));
    SEMID_TRY(semid_import_check_format(format));
    const semid_importer *imp = semid_importers[semid_names_index(semid_import_format_at, format)];

    char *name = dataset_name(path, format);
    if (!name) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_dataset_builder *b;
    semid_status st = semid_builder_create(&b, name);
    free(name);
    if (st != SEMID_OK) return st;
    import_ctx c = {.opts = opts, .b = b};
    st = imp->read(&c, path);
    if (st == SEMID_OK) st = read_side_files(&c, imp, path);
    if (st != SEMID_OK) {
        semid_builder_free(b);
        return st;
    }
    if (isfinite(opts->min_rating) && c.rated == 0)
        SEMID_WARN("%s has no ratings: the minimum rating %g is not applied", path, opts->min_rating);
    if (c.dropped_by_rating)
        SEMID_INFO("dropped %lld interactions rated below %g", (long long)c.dropped_by_rating, opts->min_rating);
    st = semid_builder_finish(b, out);
    if (st != SEMID_OK) return st;
    if (out->n_interactions == 0) {
        semid_dataset_free(out);
        return semid_fail(SEMID_EPARSE, "%s: no interactions%s", path,
                          c.dropped_by_rating ? " rated at or above the minimum rating" : "");
    }
    semid_filter_options f = {
        .user_core = opts->user_core,
        .item_core = opts->item_core,
        .drop_uninteracted_items = opts->drop_uninteracted_items,
    };
    st = semid_dataset_filter(out, &f);
    if (st == SEMID_OK && out->n_interactions == 0)
        st = semid_fail(SEMID_EINVAL, "%s: no interactions left after %d-core users / %d-core items", path,
                        opts->user_core, opts->item_core);
    if (st != SEMID_OK) {
        semid_dataset_free(out);
        return st;
    }
    SEMID_INFO("imported %s (%s): %d items, %d users, %lld interactions, %d queries", out->name, format, out->n_items,
               out->n_users, (long long)out->n_interactions, out->n_queries);
    return SEMID_OK;
}
