/* libFuzzer harness for the .npy readers and the id lists (src/io/npy.c).
 *
 * Input: byte 0 picks the reader (mode % 4): 0 semid_npy_read (float32 /
 * float64), 1 semid_npy_read_i32, 2 semid_idlist_read, 3 semid_npy_read and
 * a round trip. The rest is the file. Every read must end in SEMID_OK or a
 * clean error, never a crash, a leak or undefined behaviour; beyond that:
 *   - a matrix read has rows, cols >= 0 and rows x cols finite values;
 *   - round trip: a matrix written with semid_npy_write reads back equal (its sidecar checksum verified);
 *   - an id list has no empty or repeated id.
 *
 *   make fuzz && cp -r fuzz/corpus/npy /tmp/c && build/fuzz/fuzz_npy -max_total_time=120 /tmp/c */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "io/npy.h"
#include "fuzz_workdir.h"
#include "semid/semid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    init_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 4;
    char in[512], out[512];
    path_of("in", in, sizeof in);
    write_file(in, data + 1, size - 1);
    if (mode == 0 || mode == 3) {
        semid_matrix m;
        if (semid_npy_read(in, &m) != SEMID_OK) return 0;
        if (m.rows < 0 || m.cols < 0 || !m.data) abort();
        for (int64_t i = 0; i < m.rows * m.cols; i++)
            if (!isfinite(m.data[i])) abort();
        if (mode == 3 && semid_npy_write(path_of("out.npy", out, sizeof out), &m) == SEMID_OK) {
            semid_matrix back;
            verify_checksums(1);
            if (semid_npy_read(out, &back) != SEMID_OK) abort();
            verify_checksums(0);
            if (back.rows != m.rows || back.cols != m.cols ||
                memcmp(back.data, m.data, (size_t)(m.rows * m.cols) * sizeof(float)) != 0)
                abort();
            semid_matrix_free(&back);
        }
        semid_matrix_free(&m);
    } else if (mode == 1) {
        int32_t *v = NULL;
        int64_t rows = -1, cols = -1;
        if (semid_npy_read_i32(in, &v, &rows, &cols) != SEMID_OK) return 0;
        if (rows < 0 || cols < 0 || !v) abort();
        int64_t sum = 0;
        for (int64_t i = 0; i < rows * cols; i++) sum += v[i]; /* every element is readable */
        (void)sum;
        free(v);
    } else {
        char **ids = NULL;
        int64_t n = 0;
        if (semid_idlist_read(in, &ids, &n) != SEMID_OK) return 0;
        for (int64_t i = 0; i < n; i++)
            if (!ids[i][0]) abort();
        semid_idlist_free(ids, n);
    }
    return 0;
}
