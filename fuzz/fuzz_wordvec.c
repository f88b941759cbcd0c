/* libFuzzer harness for the word-vector loader (src/text/wordvec.c): the
 * GloVe and word2vec text formats and the compact binary form.
 *
 * Input: byte 0's low bit caps the words read (max_words 0 = all, or 3);
 * the rest is the file. A load must end in SEMID_OK or a clean error, never
 * a crash, a leak or undefined behaviour (nor an allocation larger than
 * the file describes); what loads must find each of its words again, with
 * finite values, and survive a round trip through the compact form (same
 * words, same width).
 *
 *   make fuzz && cp -r fuzz/corpus/wordvec /tmp/c && build/fuzz/fuzz_wordvec -max_total_time=120 /tmp/c */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "fuzz_workdir.h"
#include "semid/semid.h"
#include "text/wordvec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    init_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t max_words = (data[0] & 1) ? 3 : 0;
    char in[512], out[512];
    path_of("in", in, sizeof in);
    write_file(in, data + 1, size - 1);
    semid_wordvec wv;
    if (semid_wordvec_load(in, max_words, &wv) != SEMID_OK) return 0;
    if (wv.n_words < 1 || wv.dim < 1 || (max_words > 0 && wv.n_words > max_words)) abort();
    for (int32_t i = 0; i < wv.n_words; i++) {
        if (semid_wordvec_find(&wv, wv.words[i]) != i) abort();
        const float *v = semid_wordvec_get(&wv, wv.words[i]);
        for (int32_t d = 0; d < wv.dim; d++)
            if (!isfinite(v[d])) abort();
    }
    path_of("out.wv", out, sizeof out);
    if (semid_wordvec_save_compact(&wv, out) == SEMID_OK) {
        semid_wordvec back;
        verify_checksums(1);
        if (semid_wordvec_load(out, 0, &back) != SEMID_OK) abort();
        verify_checksums(0);
        if (back.n_words != wv.n_words || back.dim != wv.dim) abort();
        for (int32_t i = 0; i < wv.n_words; i++)
            if (semid_wordvec_find(&back, wv.words[i]) != i) abort();
        semid_wordvec_free(&back);
    }
    semid_wordvec_free(&wv);
    return 0;
}
