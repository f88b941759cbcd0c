/* Checksums of the files semid writes, so that a flipped byte in a model,
 * a checkpoint, an ID table, embeddings or a dataset is an error on load
 * instead of other results (issue 13, defect 7).
 *
 * The hash is XXH64 (xxHash, 64 bits, seed 0), written out here: no
 * dependency, 4 to 8.5 GB/s on one core of the project's busy 2-core
 * machine (bench/bench_checksum.c; the byte-serial FNV-1a of the .sdd
 * makes 0.3), so that verifying a model adds milliseconds to its load. It
 * is printed as 16 lowercase hex digits, most significant first, as
 * `xxh64sum` prints it.
 *
 * A file carries its checksum in one of three ways (docs/formats.md,
 * "Checksums"), whichever keeps the format what it is:
 *   - embedded text: the file holds the tag "xxh64:" and 16 hex digits (in
 *     the __metadata__ of a safetensors file, in a "checksum" field of an
 *     ID table's JSON); the hash covers the whole file with those 16 digits
 *     read as '0' (semid_checksum_masked);
 *   - trailer: semid's own binary formats end in 16 bytes, "SEMIDX64" and
 *     the little-endian hash of every byte before them;
 *   - sidecar: formats that other programs read and write (.npy, id lists,
 *     items.jsonl) are left as they are, with the hash in FILE.sum beside
 *     them (base/fileio.h), a line `xxh64sum -c FILE.sum` accepts.
 * A file without a checksum (written by another program, or by an older
 * semid) loads unchecked. SEMID_NO_VERIFY=1 in the environment skips every
 * check (a file known to be edited on purpose, or a fuzzer's mutations). */
#ifndef SEMID_BASE_CHECKSUM_H
#define SEMID_BASE_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semid/semid.h"

/* ---- XXH64 ---- */

typedef struct semid_xxh64_state {
    uint64_t v[4];
    uint64_t total;
    unsigned char buf[32];
    size_t buf_len;
} semid_xxh64_state;

void semid_xxh64_init(semid_xxh64_state *s);
void semid_xxh64_update(semid_xxh64_state *s, const void *data, size_t len);
uint64_t semid_xxh64_final(const semid_xxh64_state *s);
/* One call: the same as init, update, final. */
uint64_t semid_xxh64(const void *data, size_t len);

/* 16 lowercase hex digits and a NUL. */
void semid_checksum_hex(uint64_t h, char out[17]);
/* Parses exactly 16 hex digits (either case); 0 if they are not. */
int semid_checksum_parse_hex(const char *s, uint64_t *out);

/* ---- verification ---- */

/* Whether loads verify checksums: false when the environment variable
 * SEMID_NO_VERIFY is set to anything but "" or "0". Read at each check. */
bool semid_verify_enabled(void);

/* The error of a mismatch (SEMID_EFORMAT): "PATH is corrupt: xxh64
 * checksum expected E (WHERE), found F ..." with how to load it anyway. */
semid_status semid_checksum_mismatch(const char *path, const char *where, uint64_t expected, uint64_t found);

/* ---- embedded text ---- */

#define SEMID_CHECKSUM_TAG "xxh64:"
enum { SEMID_CHECKSUM_HEX = 16 };

/* The hash of buf with the 16 bytes at `at` read as '0'. */
uint64_t semid_checksum_masked(const void *buf, size_t len, size_t at);
/* Offset of the 16 digits after the first occurrence of `key` (a string
 * that ends in SEMID_CHECKSUM_TAG) in buf[0..len), or -1. */
int64_t semid_checksum_find(const void *buf, size_t len, const char *key);
/* Verifies the digits at `at` against semid_checksum_masked (unless
 * verification is off); `where` names the field in the error. */
semid_status semid_checksum_verify_masked(const char *path, const void *buf, size_t len, size_t at, const char *where);

/* ---- trailer ---- */

enum { SEMID_CHECKSUM_TRAILER = 16 };
/* "SEMIDX64" and the hash of data[0..len), little-endian. */
void semid_checksum_trailer(const void *data, size_t len, unsigned char out[SEMID_CHECKSUM_TRAILER]);
/* When data[0..*len) ends in a trailer: verifies it (unless verification
 * is off) and sets *len to the length before it. Without one, *len is kept
 * and the file loads unchecked. */
semid_status semid_checksum_trailer_check(const char *path, const void *data, size_t *len);

#endif
