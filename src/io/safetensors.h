/* safetensors files (the format of Hugging Face's `safetensors` library):
 *   8 bytes   little-endian u64 N, the header length
 *   N bytes   a JSON object: name -> {"dtype": "F32", "shape": [..],
 *             "data_offsets": [begin, end]} plus an optional "__metadata__"
 *             object of string -> string
 *   the data  offsets relative to the end of the header
 * semid writes and reads float32 tensors only. Reading checks every length
 * and offset against the bytes actually in the file, so a truncated or
 * forged file gives a clear error naming the file, never a bad read.
 *
 * Checksum: semid writes "semid_checksum": "xxh64:<16 hex digits>" as the
 * first __metadata__ entry (string metadata, so other safetensors readers
 * load the file as ever): the XXH64 of the whole file with those 16 digits
 * read as '0' (base/checksum.h). Reading verifies it before parsing
 * anything, when present (SEMID_NO_VERIFY=1 skips it); the entry is not
 * listed among the metadata read, and a caller's entry of that name is
 * replaced on write. */
#ifndef SEMID_IO_SAFETENSORS_H
#define SEMID_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "semid/semid.h"

enum { SEMID_ST_MAX_DIMS = 8 };

/* A tensor to write: `data` holds the product of `shape` floats. */
typedef struct semid_st_tensor_ref {
    const char *name;
    const float *data;
    int32_t ndim;
    int64_t shape[SEMID_ST_MAX_DIMS];
} semid_st_tensor_ref;

/* Writes the tensors (names unique, not "__metadata__") and the metadata
 * pairs (n_meta may be 0, keys and values NULL) atomically. */
semid_status semid_safetensors_write(const char *path, const semid_st_tensor_ref *tensors, int64_t n_tensors,
                                     const char *const *meta_keys, const char *const *meta_values, int64_t n_meta);

/* A tensor of a file that was read: `bytes` points into the file buffer
 * (numel little-endian float32 values, maybe unaligned: copy them out with
 * semid_safetensors_copy). */
typedef struct semid_st_tensor {
    char *name;
    int32_t ndim;
    int64_t shape[SEMID_ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *bytes;
} semid_st_tensor;

typedef struct semid_safetensors {
    char *path;
    char *file;
    size_t file_len;
    int64_t n_tensors;
    semid_st_tensor *tensors;
    int64_t n_meta;
    char **meta_keys;
    char **meta_values;
} semid_safetensors;

/* Reads and validates a whole file. EFORMAT names the file and what is
 * wrong (truncated, header length past the end, bad JSON, a dtype other than
 * F32, offsets out of range or overlapping, shape and byte count disagreeing). */
semid_status semid_safetensors_read(const char *path, semid_safetensors *out);
void semid_safetensors_free(semid_safetensors *st);
/* The checksum check alone, on a whole file in memory (for loaders that
 * parse safetensors themselves): SEMID_OK when it matches, when there is
 * none (*has_checksum = 0) or when verification is off. */
semid_status semid_safetensors_verify(const char *path, const void *data, size_t len, int *has_checksum);
/* The tensor named `name`, or NULL. */
const semid_st_tensor *semid_safetensors_find(const semid_safetensors *st, const char *name);
/* The metadata value of `key`, or NULL. */
const char *semid_safetensors_meta(const semid_safetensors *st, const char *key);
/* Copies the tensor's numel floats into dst. */
void semid_safetensors_copy(const semid_st_tensor *t, float *dst);

#endif
