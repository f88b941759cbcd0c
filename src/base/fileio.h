/* Checked file I/O: whole-file reads, atomic writes (temp file, fflush,
 * fsync, fclose, rename, fsync of the directory, as Redis saves), directory
 * creation and a line iterator that counts lines for error messages. */
#ifndef SEMID_BASE_FILEIO_H
#define SEMID_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semid/semid.h"

typedef struct semid_atomic_file {
    FILE *fp;        /* write through this, or with semid_atomic_write */
    char *path;      /* final path */
    char *tmp_path;  /* path.tmp.<pid> beside it */
} semid_atomic_file;

/* Opens a temp file beside `path`. Nothing appears at `path` until commit. */
semid_status semid_atomic_open(semid_atomic_file *f, const char *path);
semid_status semid_atomic_write(semid_atomic_file *f, const void *data, size_t len);
/* Flushes, syncs and renames into place; on any failure removes the temp
 * file, leaves the old `path` untouched and reports why (a full disk too). */
semid_status semid_atomic_commit(semid_atomic_file *f);
/* Drops the temp file (safe after a failed commit or on a zeroed struct). */
void semid_atomic_abort(semid_atomic_file *f);

/* Writes `len` bytes atomically. */
semid_status semid_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads a whole file; *data is NUL-terminated (not counted in *len).
 * Caller frees. */
semid_status semid_read_file(const char *path, char **data, size_t *len);

/* mkdir -p. */
semid_status semid_mkdirs(const char *path);
bool semid_path_exists(const char *path);
/* "a/b" from "a" and "b"; caller frees; NULL on allocation failure. */
char *semid_path_join(const char *dir, const char *name);

/* Iterates over the lines of a buffer in place ('\n' or "\r\n" endings;
 * the terminator is replaced by NUL). */
typedef struct semid_lines {
    char *cur;
    char *end;
    int64_t line_no; /* 1-based number of the line last returned */
} semid_lines;

void semid_lines_init(semid_lines *it, char *data, size_t len);
/* Returns the next line (NUL-terminated, without terminator) or NULL. */
char *semid_lines_next(semid_lines *it, size_t *len);

/* Splits `line` in place on `sep` (a single byte, or a multi-byte string
 * such as "::"). Returns the number of fields found; at most max_fields are
 * stored, and the count tells the caller whether there were more. */
int semid_split_fields(char *line, const char *sep, char **fields, int max_fields);

/* strdup that reports ENOMEM through the return value being NULL. */
char *semid_strdup(const char *s);

#endif
