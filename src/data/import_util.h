/* Pieces every importer shares (internal to src/data): the per-import
 * context with its lenient-mode skip counter, text file reading with
 * encoding checks, number and title parsing, a CSV record reader, and the
 * optional descriptions and queries files. */
#ifndef SEMID_DATA_IMPORT_UTIL_H
#define SEMID_DATA_IMPORT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/fileio.h"
#include "data/builder.h"
#include "data/import.h"

enum { IMPORT_FIRST_SKIPS = 5 };

typedef struct import_ctx {
    const semid_import_options *opts;
    semid_dataset_builder *b;
    const char *path;                       /* the file being read, for messages */
    int64_t skipped;                        /* malformed lines skipped in this file */
    int64_t first_skips[IMPORT_FIRST_SKIPS];
    int64_t dropped_by_rating;              /* over all files */
    int64_t rated;                          /* interactions that carried a rating */
    int64_t bad_years, first_bad_year;      /* unreadable years in this file (taken as unknown) */
} import_ctx;

/* Starts a new file: resets the skip counter. */
void import_begin_file(import_ctx *c, const char *path);
/* Reports the skipped lines of the current file (SEMID_WARN), if any. */
void import_end_file(import_ctx *c);

/* A malformed line: an SEMID_EPARSE "path:line: <message>" error, or, when
 * lenient, SEMID_OK after counting the skip. Use as
 *   if (bad) { SEMID_TRY(import_reject(c, line, "...")); continue; } */
semid_status import_reject(import_ctx *c, int64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a failure already described by semid_last_error() (e.g. a
 * builder error): prefixes path:line. ENOMEM is never skipped. */
semid_status import_reject_status(import_ctx *c, int64_t line, semid_status st);

/* Reads a text file for parsing: strips a UTF-8 byte order mark. With
 * latin1_fallback, a file that is not valid UTF-8 is taken as Latin-1 and
 * converted to UTF-8 (MovieLens .dat files); otherwise encoding is checked
 * per line by the parser with import_check_utf8. Empty files (nothing but
 * blanks) fail with "path: empty file". Caller frees *data. */
semid_status import_read_text(import_ctx *c, const char *path, bool latin1_fallback, char **data, size_t *len);

bool import_utf8_valid(const char *s, size_t n);

/* Checks a line's encoding and field sizes; rejects (see import_reject) with
 * "invalid UTF-8" or "field N is longer than M bytes". Returns SEMID_OK
 * with *ok = false when the line was skipped. */
semid_status import_check_line(import_ctx *c, int64_t line, const char *text, size_t len, bool utf8, bool *ok);
semid_status import_check_fields(import_ctx *c, int64_t line, char **fields, int n, bool *ok);

/* Strict number parsing of a whole field (surrounding blanks allowed). */
bool import_parse_i64(const char *s, int64_t *v);
bool import_parse_double(const char *s, double *v); /* finite only */
/* A time: an integer, or a finite number with a fraction (truncated). */
bool import_parse_time(const char *s, int64_t *v);

/* A year field: empty or a number in [-9999, 9999] (1995 or 1995.0). Any
 * other text ("unknown") is taken as 0, counted, and reported once per
 * file: metadata noise should not stop an import. */
int32_t import_parse_year(import_ctx *c, int64_t line, const char *s);

/* Splits "Toy Story (1995)" in place into "Toy Story" and 1995; a title
 * without a trailing (YYYY) is left as is and *year = 0. Trims blanks. */
void import_split_title_year(char *title, int32_t *year);

/* A list with any of the separators in `seps` as "a,b,c": entries trimmed,
 * empty ones dropped. Caller frees; NULL when out of memory. */
char *import_normalize_list(const char *s, const char *seps);

/* Trims blanks at both ends, in place; returns s. */
char *import_trim(char *s);

/* Index of the column named `name` in a header, or -1. A header field
 * "name:type" (RecBole) matches "name". */
int import_find_column(char **header, int n, const char *name);

/* Splits `line` on `sep` like semid_split_fields but the last of at most
 * max_fields fields takes the rest of the line (tabs included). */
int import_split_rest(char *line, char sep, char **fields, int max_fields);

/* Adds an interaction unless its rating is below min_rating; unknown ids and
 * other builder failures are rejected as malformed lines. */
semid_status import_interaction(import_ctx *c, int64_t line, const char *user, const char *item, int64_t time,
                                bool has_rating, double rating);

/* The optional side files (docs/formats.md). Unknown item ids are counted
 * and reported once (SEMID_WARN), not errors: a description or query file
 * may cover a larger catalog than the one imported. */
semid_status import_descriptions(import_ctx *c, const char *path);
semid_status import_queries(import_ctx *c, const char *path);

/* A delimited table read line by line: every data line must have n_cols
 * fields (from the header when the table has one). Empty lines are
 * skipped; encoding, NUL bytes, field sizes and the column count are
 * checked, malformed lines rejected through import_reject. */
enum { IMPORT_MAX_COLS = 64 };

typedef struct import_table {
    char *data;
    size_t len;
    semid_lines it;
    const char *sep;                 /* "\t", "::", "|" */
    int n_cols;
    char *header[IMPORT_MAX_COLS];   /* names, when opened with a header */
    int64_t header_line;
} import_table;

/* n_cols = 0: the first non-empty line is a header giving the columns. */
semid_status import_table_open(import_ctx *c, import_table *t, const char *path, const char *sep, int n_cols,
                               bool latin1_fallback);
/* *got = true with fields[0..n_cols) set, or false at the end of the file. */
semid_status import_table_next(import_ctx *c, import_table *t, char **fields, bool *got);
/* Reports the skipped lines and frees the buffer. */
void import_table_close(import_ctx *c, import_table *t);
int64_t import_table_line(const import_table *t);
/* Index of a required header column; an EPARSE "path:1: no column X"
 * error otherwise. */
semid_status import_table_require(import_ctx *c, const import_table *t, const char *name, int *col);

/* Columns of an item table (-1 = absent, except id). */
typedef struct import_item_columns {
    int id, title, year, genres, description, tags;
} import_item_columns;
/* Adds every row of an open item table to the builder: ids and texts
 * trimmed, the year from its column or else from a "Title (1995)" title,
 * genres and tags split on any of `list_seps` and normalised. Rejects rows
 * with an empty id; fails when no item was read. Closes the table. */
semid_status import_read_items(import_ctx *c, import_table *t, const import_item_columns *col, const char *list_seps,
                               const char *path);

/* One format's importer. A new format is one file, import_<format>.c,
 * defining `const semid_importer semid_importer_<format>`, and one row in
 * importers.c; detection, --format, help texts and errors read that table. */
typedef struct semid_importer {
    const char *name;  /* --format value, e.g. "ml-1m" */
    const char *files; /* what detection looks for, for messages: "movies.dat + ratings.dat" */
    /* Whether `path` (a directory when is_dir, else a file) holds this
     * format, judged by the files present. */
    bool (*detect)(const char *path, bool is_dir);
    /* Fills c->b with the items and interactions at `path`. */
    semid_status (*read)(import_ctx *c, const char *path);
    /* descriptions.tsv and queries.tsv beside the other files are read when
     * present and no explicit path was given. */
    bool side_files_beside;
} semid_importer;

/* The table (importers.c), NULL-terminated, in the order detection tries it. */
extern const semid_importer *const semid_importers[];

/* Whether directory `dir` holds both files (the usual detection). */
bool import_dir_has(const char *dir, const char *a, const char *b);

/* Rows "user item rating timestamp" split by `sep` (ratings.dat, u.data). */
semid_status import_rating_rows(import_ctx *c, const char *path, const char *sep);

/* A CSV reader (RFC 4180: quoted fields, doubled quotes, newlines inside
 * quotes), in place over a buffer. */
typedef struct import_csv {
    char *cur, *end;
    int64_t line_no;   /* line on which the record last returned starts */
    int64_t next_line; /* line the next record starts on */
} import_csv;

void import_csv_init(import_csv *r, char *data, size_t len);
/* Reads the next record into fields (at most max stored; the count is
 * returned in *n). Returns 1 for a record, 0 at the end, -1 for a malformed
 * record (an unterminated quote, or text after a closing quote), after
 * which reading continues on the line after the one where the problem was
 * found, or -2 for a record holding a NUL byte (skipped whole). */
int import_csv_next(import_csv *r, char **fields, int max, int *n);

#endif
