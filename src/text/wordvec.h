/* Pretrained word-vector tables (GloVe, word2vec) with lookup by word.
 *
 * Formats read:
 *   - GloVe text: "word v1 ... vD" one word a line (D taken from line 1);
 *   - word2vec text: the same lines after a header line "count dim";
 *   - semid's compact binary (what data/glove/ ships): see below.
 * semid_wordvec_load picks the format from the file's first bytes.
 *
 * Every line must have exactly D values; a wrong count, a value that is not
 * a number, or NaN/Inf is an EPARSE/ENUMERIC error naming "file:line". The
 * first occurrence of a duplicated word wins (later lines are skipped).
 *
 * Compact binary (".wv"), little-endian:
 *   magic "SEMIDWV\0" (8 bytes), u32 version (1), u32 n_words, u32 dim,
 *   u32 encoding (1 = int8 with a float32 scale per row),
 *   then n_words records of: u8 word length L, L bytes of word,
 *   f32 scale, dim x i8 values (value = scale * q),
 *   then the checksum trailer: "SEMIDX64", u64 XXH64 of every byte before
 *   it (base/checksum.h; verified when present: the shipped subset, written
 *   before it, has none; SEMID_NO_VERIFY=1 skips it).
 * Every length read is checked against the bytes left. */
#ifndef SEMID_TEXT_WORDVEC_H
#define SEMID_TEXT_WORDVEC_H

#include <stdint.h>

#include "semid/semid.h"

typedef struct semid_wordvec {
    int32_t n_words;
    int32_t dim;       /* D */
    char **words;      /* (n_words), owned, in file order (most frequent first for GloVe) */
    float *vectors;    /* (n_words, D), owned */
    int32_t *slots;    /* open-addressing hash table of word indices, -1 = empty */
    int64_t n_slots;   /* a power of two */
} semid_wordvec;

/* Loads any supported format. max_words > 0 keeps only the first max_words
 * words (the file's order), 0 keeps all. */
semid_status semid_wordvec_load(const char *path, int64_t max_words, semid_wordvec *out);

/* The shipped GloVe subset (data/glove/glove-100d-top20k.wv). Looked for in
 * order: $SEMID_GLOVE (a file), $SEMID_DATA_DIR/glove/, ./data/glove/, the
 * compile-time SEMID_DATA_DIR/glove/ when defined, and data/glove/ of the
 * source tree this file was compiled from. ENOTFOUND names the places tried. */
semid_status semid_wordvec_load_default(semid_wordvec *out);
/* File name of the shipped subset. */
#define SEMID_WORDVEC_DEFAULT_FILE "glove-100d-top20k.wv"

/* Writes the compact binary format atomically (int8 with per-row scale). */
semid_status semid_wordvec_save_compact(const semid_wordvec *wv, const char *path);

/* Builds a table from arrays (copied); fails on a duplicate word. */
semid_status semid_wordvec_from_arrays(semid_wordvec *out, const char *const *words, const float *vectors,
                                       int32_t n_words, int32_t dim);

/* Row of `word` (exact, already normalised text), or -1. */
int32_t semid_wordvec_find(const semid_wordvec *wv, const char *word);
/* Vector of `word` (dim floats, owned by the table) or NULL. */
const float *semid_wordvec_get(const semid_wordvec *wv, const char *word);

void semid_wordvec_free(semid_wordvec *wv);

#endif
