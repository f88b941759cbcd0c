/* libFuzzer harness for the safetensors reader (src/io/safetensors.c).
 *
 * Input: the file. A read must end in SEMID_OK or a clean error, never a
 * crash, a leak or undefined behaviour; beyond that, for a file read:
 *   - every tensor's bytes lie inside the file (ASan checks the copy) and
 *     its element count is the product of its shape;
 *   - find() returns each tensor by its name, meta() each metadata value;
 *   - round trip (read back with its checksum verified): the tensors and metadata written with
 *     semid_safetensors_write read back with the same names, shapes and
 *     bytes.
 *
 *   make fuzz && cp -r fuzz/corpus/safetensors /tmp/c && build/fuzz/fuzz_safetensors -max_total_time=120 /tmp/c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "io/safetensors.h"
#include "fuzz_workdir.h"
#include "semid/semid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    init_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char in[512], out[512];
    path_of("in", in, sizeof in);
    write_file(in, data, size);
    semid_safetensors st;
    if (semid_safetensors_read(in, &st) != SEMID_OK) return 0;
    int64_t total = 0;
    for (int64_t i = 0; i < st.n_tensors; i++) {
        const semid_st_tensor *t = &st.tensors[i];
        int64_t n = 1;
        for (int32_t d = 0; d < t->ndim; d++) n *= t->shape[d];
        if (n != t->numel || t->numel < 0 || semid_safetensors_find(&st, t->name) != t) abort();
        total += t->numel;
    }
    for (int64_t i = 0; i < st.n_meta; i++)
        if (strcmp(semid_safetensors_meta(&st, st.meta_keys[i]), st.meta_values[i]) != 0) abort();
    if (total > ((int64_t)1 << 22)) { /* the file holds them: at most its size / 4 */
        semid_safetensors_free(&st);
        abort();
    }
    float *buf = malloc((size_t)(total > 0 ? total : 1) * sizeof(float));
    semid_st_tensor_ref *refs = calloc((size_t)st.n_tensors + 1, sizeof *refs);
    if (!buf || !refs) abort();
    int64_t at = 0;
    for (int64_t i = 0; i < st.n_tensors; i++) {
        const semid_st_tensor *t = &st.tensors[i];
        semid_safetensors_copy(t, buf + at);
        refs[i].name = t->name;
        refs[i].data = buf + at;
        refs[i].ndim = t->ndim;
        memcpy(refs[i].shape, t->shape, sizeof refs[i].shape);
        at += t->numel;
    }
    path_of("out.safetensors", out, sizeof out);
    if (semid_safetensors_write(out, refs, st.n_tensors, (const char *const *)st.meta_keys,
                                (const char *const *)st.meta_values, st.n_meta) == SEMID_OK) {
        semid_safetensors back;
        verify_checksums(1);
        if (semid_safetensors_read(out, &back) != SEMID_OK) abort();
        verify_checksums(0);
        if (back.n_tensors != st.n_tensors || back.n_meta != st.n_meta) abort();
        for (int64_t i = 0; i < st.n_tensors; i++) {
            const semid_st_tensor *t = semid_safetensors_find(&back, refs[i].name);
            if (!t || t->ndim != refs[i].ndim || t->numel != st.tensors[i].numel ||
                memcmp(t->shape, refs[i].shape, (size_t)t->ndim * sizeof t->shape[0]) != 0 ||
                memcmp(t->bytes, refs[i].data, (size_t)t->numel * sizeof(float)) != 0)
                abort();
        }
        semid_safetensors_free(&back);
    }
    free(buf);
    free(refs);
    semid_safetensors_free(&st);
    return 0;
}
