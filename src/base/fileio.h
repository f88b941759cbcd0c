/* Checked file I/O: whole-file reads, atomic writes (temp file, fflush,
 * fsync, fclose, rename, fsync of the directory, as Redis saves), directory
 * creation and a line iterator that counts lines for error messages.
 *
 * What a save does to what is at its path:
 *   - a regular file, or nothing: written to PATH.tmp.<pid> beside it and
 *     renamed over it (atomic; a replaced file keeps its permissions);
 *   - a symlink: followed (chains too, a dangling link to the file it
 *     names); the target is replaced as above and the link stays a link;
 *   - /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: written to that
 *     descriptor (a duplicate of it, after flushing stdout or stderr), so
 *     the bytes land where the shell sent them, in order with printf;
 *   - any other existing non-regular file (a FIFO, /dev/null, a device):
 *     opened and written in place, never replaced, not synced (opening a
 *     FIFO waits for a reader, as a shell redirection does);
 *   - a directory: an error.
 * Only the first kind is atomic: a failed write to a FIFO or a device may
 * have sent part of the data. */
#ifndef SEMID_BASE_FILEIO_H
#define SEMID_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/checksum.h"
#include "semid/semid.h"

typedef struct semid_atomic_file {
    FILE *fp;        /* write through this, or with semid_atomic_write */
    char *path;      /* final path (symlinks followed) */
    char *tmp_path;  /* path.tmp.<pid> beside it; NULL when written in place */
    int direct;      /* 1: written in place (a FIFO, a device, stdout): no rename */
    semid_xxh64_state hash; /* of the bytes written with semid_atomic_write */
} semid_atomic_file;

/* Opens a temp file beside `path` (its target, for a symlink). Nothing
 * appears at `path` until commit. A FIFO, a device or stdout is opened
 * directly instead (see above). */
semid_status semid_atomic_open(semid_atomic_file *f, const char *path);
semid_status semid_atomic_write(semid_atomic_file *f, const void *data, size_t len);
/* Flushes, syncs and renames into place; on any failure removes the temp
 * file, leaves the old `path` untouched and reports why (a full disk too). */
semid_status semid_atomic_commit(semid_atomic_file *f);
/* Drops the temp file (safe after a failed commit or on a zeroed struct). */
void semid_atomic_abort(semid_atomic_file *f);

/* Writes `len` bytes atomically (in place for a FIFO, a device or stdout). */
semid_status semid_write_file_atomic(const char *path, const void *data, size_t len);

/* Checksum sidecars (base/checksum.h): for files that other programs read
 * too (.npy, id lists, items.jsonl), left byte for byte as their format
 * says, the XXH64 of the file goes into FILE.sum beside it (beside the
 * target, for a symlink), one line "<16 hex digits>  <file name>\n" that
 * `xxh64sum -c FILE.sum` checks.
 *
 * semid_atomic_commit_summed commits like semid_atomic_commit, the hash
 * being that of every byte written with semid_atomic_write (not through
 * fp). The old sidecar is removed before the file is replaced and the new
 * one written after, so a crash between leaves a file without a sidecar
 * (it loads unchecked), never one with a stale sidecar. A file written in
 * place (a FIFO, a device, stdout) gets none. */
semid_status semid_atomic_commit_summed(semid_atomic_file *f);
/* semid_write_file_atomic with a sidecar. */
semid_status semid_write_file_summed(const char *path, const void *data, size_t len);
/* The sidecar check of `path`'s bytes (already read): none there, or
 * SEMID_NO_VERIFY set, is SEMID_OK; a mismatch, or a sidecar that holds no
 * checksum, is SEMID_EFORMAT "PATH is corrupt: ...". */
semid_status semid_sidecar_verify(const char *path, const void *data, size_t len);
/* semid_read_file, then semid_sidecar_verify. */
semid_status semid_read_file_verified(const char *path, char **data, size_t *len);
/* PATH.sum of `path` (its target, for a symlink); caller frees. */
char *semid_sidecar_path(const char *path);

/* Writes `len` bytes and the checksum trailer after them (semid's own
 * binary formats, base/checksum.h) atomically. */
semid_status semid_write_file_trailed(const char *path, const void *data, size_t len);
/* fsyncs a directory, so that renames and removals in it are durable
 * (best effort: errors are ignored, as on file systems that refuse it). */
void semid_sync_dir(const char *dir);

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
