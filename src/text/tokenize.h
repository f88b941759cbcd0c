/* Text normalisation and word tokenisation shared by the query generator,
 * the text encoders and the generative model's query vocabulary.
 *
 * Normalisation: Unicode-safe lower-casing (ASCII and Latin-1 Supplement
 * letters fold; other UTF-8 passes through unchanged), punctuation becomes
 * a word boundary (an apostrophe inside a word is dropped: "don't" ->
 * "dont"), digits are kept. Invalid UTF-8 bytes are dropped. */
#ifndef SEMID_TEXT_TOKENIZE_H
#define SEMID_TEXT_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "semid/semid.h"

/* The words of `text`, normalised, in order. */
typedef struct semid_words {
    int32_t n;
    char **words; /* each NUL-terminated, owned */
} semid_words;

/* Splits `text` into normalised words; returns SEMID_ENOMEM on failure. */
semid_status semid_tokenize(const char *text, semid_words *out);
void semid_words_free(semid_words *w);

/* True for common English function words ("the", "of", "a", ...). */
int semid_is_stopword(const char *word);

/* 64-bit FNV-1a hash of a byte string, used for hashed n-gram buckets. */
uint64_t semid_hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
