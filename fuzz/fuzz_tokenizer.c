/* libFuzzer harness for the tokenizer files: the generic tokenizer file
 * (src/quant/tokenizer.c, around RQ-KMeans, RQ-VAE, RLFQ or a dictionary)
 * and the model files of RQ-VAE, RLFQ, dictionary encoding and prefix
 * sharing (rqvae.c, rlfq.c, dictenc.c, prefix_share.c, read through vq.c's
 * semid_quant_load_file).
 *
 * Input: byte 0 picks the reader (mode % 5): 0 semid_tokenizer_load,
 * 1 semid_rqvae_load, 2 semid_rlfq_load, 3 semid_dictenc_load,
 * 4 semid_prefix_share_load; the rest is the file. A load must end in
 * SEMID_OK or a clean error, never a crash, a leak or undefined behaviour
 * (nor an allocation larger than the file describes); what loads must
 * encode two rows (when its input is at most 4096 wide) into codes within
 * its levels' sizes.
 *
 *   make fuzz && cp -r fuzz/corpus/tokenizer /tmp/c && build/fuzz/fuzz_tokenizer -max_total_time=120 /tmp/c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "linalg/matrix.h"
#include "quant/dictenc.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
#include "fuzz_workdir.h"
#include "semid/semid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    init_workdir();
    return 0;
}

enum { MAX_WIDTH = 4096 };

/* Two rows of a fixed pattern, `dim` wide (NULL data when too wide). */
static semid_matrix rows_of(int64_t dim) {
    semid_matrix X = {0};
    if (dim < 1 || dim > MAX_WIDTH || semid_matrix_alloc(&X, 2, dim) != SEMID_OK) return (semid_matrix){0};
    for (int64_t i = 0; i < 2 * dim; i++) X.data[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    return X;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 5;
    char in[512];
    path_of("in", in, sizeof in);
    write_file(in, data + 1, size - 1);
    int32_t codes[2 * 64];
    if (mode == 0) {
        semid_tokenizer *tok = NULL;
        if (semid_tokenizer_load(in, &tok) != SEMID_OK) return 0;
        int32_t L = semid_tokenizer_levels(tok);
        if (L < 1 || L > 64) abort();
        semid_matrix X = rows_of(semid_tokenizer_dim(tok));
        if (X.data && semid_tokenizer_encode(tok, &X, codes) == SEMID_OK)
            for (int64_t i = 0; i < 2; i++)
                for (int32_t l = 0; l < L; l++)
                    if (codes[i * L + l] < 0 || codes[i * L + l] >= semid_tokenizer_level_size(tok, l)) abort();
        semid_matrix_free(&X);
        semid_tokenizer_free(tok);
    } else if (mode == 1) {
        semid_rqvae *m = NULL;
        if (semid_rqvae_load(in, &m) != SEMID_OK) return 0;
        semid_matrix X = rows_of(m->dim);
        if (X.data && m->cfg.levels <= 64 && semid_rqvae_encode(m, &X, codes) == SEMID_OK)
            for (int i = 0; i < 2 * m->cfg.levels; i++)
                if (codes[i] < 0 || codes[i] >= m->cfg.codebook_size) abort();
        semid_matrix_free(&X);
        semid_rqvae_free(m);
    } else if (mode == 2) {
        semid_rlfq *m = NULL;
        if (semid_rlfq_load(in, &m) != SEMID_OK) return 0;
        semid_matrix X = rows_of(m->dim);
        if (X.data && m->cfg.levels <= 64 && semid_rlfq_encode(m, &X, codes) == SEMID_OK)
            for (int i = 0; i < 2 * m->cfg.levels; i++)
                if (codes[i] < 0 || codes[i] >= (1 << m->cfg.bits)) abort();
        semid_matrix_free(&X);
        semid_rlfq_free(m);
    } else if (mode == 3) {
        semid_dictenc *m = NULL;
        if (semid_dictenc_load(in, &m) != SEMID_OK) return 0;
        semid_matrix X = rows_of(m->dim);
        int32_t atoms[2 * 64];
        if (X.data && m->levels <= 32 && m->sparsity <= 32 && semid_dictenc_encode(m, &X, codes, atoms, NULL, NULL) == SEMID_OK)
            for (int i = 0; i < 2 * m->levels; i++)
                if (codes[i] < 0 || codes[i] >= m->n_atoms) abort();
        semid_matrix_free(&X);
        semid_dictenc_free(m);
    } else {
        semid_prefix_share *m = NULL;
        if (semid_prefix_share_load(in, &m) != SEMID_OK) return 0;
        semid_matrix S = rows_of(m->dim[0]), R = rows_of(m->dim[1]);
        semid_prefix_share_free(m);
        semid_matrix_free(&S);
        semid_matrix_free(&R);
    }
    return 0;
}
