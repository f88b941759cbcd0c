/* Importers: MovieLens (1M, 100K, latest/20M/25M CSV), RecBole atomic files
 * and a generic tab-separated layout, into a semid_dataset. docs/formats.md
 * describes every format. Each importer reads the files of its format,
 * drops ratings below min_rating, adds the optional descriptions and
 * queries files, then filters (k-core to a fixed point, items without
 * interactions) through data/filter.h.
 *
 * Bad input is never a crash: the first malformed line fails with
 * SEMID_EPARSE and a message "file:line: what is wrong". With `lenient`,
 * malformed lines are skipped instead, counted, and reported through
 * SEMID_WARN ("skipped N lines, first: 3, 9, 12") once per file. */
#ifndef SEMID_DATA_IMPORT_H
#define SEMID_DATA_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "semid/semid.h"

typedef struct semid_import_options {
    double min_rating;             /* drop interactions rated below; default -INFINITY (keep all) */
    int32_t user_core;             /* k-core: users need >= this many interactions; default 0 (off) */
    int32_t item_core;             /* k-core: items need >= this many interactions; default 0 (off) */
    bool drop_uninteracted_items;  /* default true */
    bool lenient;                  /* skip and count malformed lines; default false (first is an error) */
    const char *descriptions_path; /* optional TSV `item_id description`; default NULL */
    const char *queries_path;      /* optional TSV `item_id split query` or `item_id query`; default NULL */
    int64_t max_field_bytes;       /* longest accepted field; default 1 MiB */
} semid_import_options;

/* Fills in the defaults above. */
void semid_import_options_init(semid_import_options *o);

/* The formats (the importer table, data/importers.c), in the order auto
 * detection tries them: the i-th name, NULL past the end (base/names.h). */
const char *semid_import_format_at(int i);
/* "auto, generic, ml-1m, ..." into buf, for --format help; returns buf. */
char *semid_import_formats(char *buf, size_t cap);
/* SEMID_OK for "auto" and the table's names, else SEMID_EINVAL
 * "unknown format 'x' (known: auto, generic, ...)". */
semid_status semid_import_check_format(const char *format);

/* Which format `path` holds, judged by the files present (docs/formats.md):
 * the first importer of the table that recognises them, e.g.
 *   items.tsv + interactions.tsv  -> "generic"
 *   movies.dat + ratings.dat      -> "ml-1m"
 *   a *.inter file (or the path itself ends in .inter) -> "recbole"
 * SEMID_ENOTFOUND with the list of what was looked for if none matches. */
semid_status semid_import_detect(const char *path, const char **format);

/* Imports the dataset at `path` (a directory; for recbole also the .inter
 * file itself) in `format` ("auto" or a name of semid_import_format_at;
 * SEMID_EINVAL listing them otherwise) into *out (zeroed first; holds
 * nothing on failure). opts may be NULL for the defaults. For "generic",
 * descriptions.tsv and queries.tsv beside the other files are read when
 * present and no explicit path was given. */
semid_status semid_import(const char *format, const char *path, const semid_import_options *opts, semid_dataset *out);

/* Reads an item table alone, in the generic format's items.tsv layout (a
 * header with item_id and any of title, year, genres, description, tags;
 * docs/formats.md), into *out: a dataset with those items and no users or
 * interactions (catalog updates, gen/catalog.h). A malformed line or a
 * repeated id fails with "path:line: ..." (skipped when opts->lenient). */
semid_status semid_import_items(const char *path, const semid_import_options *opts, semid_dataset *out);

#endif
