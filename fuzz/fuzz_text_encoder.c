/* libFuzzer harness for the text encoder loader (src/embed/text_encoder.c).
 *
 * Input: the encoder file (a safetensors file with the config and the
 * vocabulary in its metadata). A load must end in SEMID_OK or a clean
 * error, never a crash, a leak or undefined behaviour (nor an allocation
 * larger than the file describes); what loads must encode three texts
 * (one of unknown words, one empty) into finite rows of its output width
 * (or refuse with SEMID_ENUMERIC when its parameters overflow), and survive
 * a round trip (saved and loaded again, its checksum verified: the same encodings).
 *
 *   make fuzz && cp -r fuzz/corpus/text_encoder /tmp/c && build/fuzz/fuzz_text_encoder -max_total_time=120 /tmp/c */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "embed/text_encoder.h"
#include "linalg/matrix.h"
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
    semid_text_encoder *enc = NULL;
    if (semid_text_encoder_load(in, &enc) != SEMID_OK) return 0;
    const semid_text_encoder_config *c = semid_text_encoder_get_config(enc);
    const char *texts[3] = {"space robots on mars", "zzqx wibble", ""};
    semid_matrix E;
    semid_status st = semid_text_encoder_encode(enc, texts, 3, &E);
    if (st != SEMID_OK) { /* parameters that overflow are refused as such */
        if (st != SEMID_ENUMERIC) abort();
        semid_text_encoder_free(enc);
        return 0;
    }
    if (E.rows != 3 || E.cols != c->dim_out) abort();
    for (int64_t i = 0; i < E.rows * E.cols; i++)
        if (!isfinite(E.data[i])) abort();
    if (semid_text_encoder_save(enc, path_of("out.enc", out, sizeof out)) != SEMID_OK) abort();
    semid_text_encoder *back = NULL;
    verify_checksums(1);
    if (semid_text_encoder_load(out, &back) != SEMID_OK) abort();
    verify_checksums(0);
    semid_matrix F;
    if (semid_text_encoder_encode(back, texts, 3, &F) != SEMID_OK) abort();
    if (memcmp(E.data, F.data, (size_t)(E.rows * E.cols) * sizeof(float)) != 0) abort();
    semid_matrix_free(&F);
    semid_text_encoder_free(back);
    semid_matrix_free(&E);
    semid_text_encoder_free(enc);
    return 0;
}
