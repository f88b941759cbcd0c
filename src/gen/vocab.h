/* The generative model's vocabulary: one token space for prompts and
 * Semantic IDs.
 *
 * Layout (token ids):
 *   0 PAD, 1 SEP, 2 SEARCH (task), 3 RECOMMEND (task)
 *   [unk_base, unk_base + n_unk)   hashed buckets for unknown query words
 *   [word_base, word_base + n_words) query words seen in training queries
 *                                  at least min_count times
 *   [sid_base, sid_base + n_sid)   the ID table's tokens (local token t of
 *                                  the table is sid_base + t)
 *
 * An unknown word maps to bucket semid_hash_bytes(word) % n_unk, so words
 * never seen in training still carry some signal (two spellings of a rare
 * word share a bucket with other rare words, but not with all of them).
 * With n_unk = 0 unknown words are dropped.
 *
 * The vocabulary is stored in a checkpoint's extra JSON together with the ID
 * table's fingerprint: loading it against another ID table is an error. */
#ifndef SEMID_GEN_VOCAB_H
#define SEMID_GEN_VOCAB_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "quant/idtable.h"
#include "semid/semid.h"

enum {
    SEMID_TOK_PAD = 0,
    SEMID_TOK_SEP = 1,
    SEMID_TOK_SEARCH = 2,
    SEMID_TOK_RECOMMEND = 3,
    SEMID_TOK_N_SPECIAL = 4
};

typedef struct semid_gen_vocab {
    int32_t n_unk;        /* hashed unknown-word buckets (default 64) */
    int32_t n_words;
    char **words;         /* (n_words) sorted by count desc, then bytes */
    int32_t unk_base, word_base, sid_base;
    int32_t n_sid;        /* the ID table's n_tokens */
    int32_t size;         /* total tokens: the model's vocab_size */
    uint64_t idtable_fingerprint;
    /* word -> index, open addressing (cap a power of two, -1 = empty) */
    int32_t *slots;
    int64_t n_slots;
} semid_gen_vocab;

typedef struct semid_gen_vocab_options {
    int32_t min_count;  /* keep words seen this often in training queries (default 2) */
    int32_t max_words;  /* keep at most this many (0 = no cap; default 50000) */
    int32_t n_unk;      /* unknown-word buckets (default 64) */
} semid_gen_vocab_options;

semid_gen_vocab_options semid_gen_vocab_defaults(void);

/* Builds the vocabulary from the training queries of `ds` (split TRAIN, and
 * only those with query_is_train[q] != 0 when that array is given, so that
 * held-out validation queries do not leak in) and the tokens of `table`. */
semid_status semid_gen_vocab_build(const semid_dataset *ds, const uint8_t *query_is_train,
                                   const semid_idtable *table, const semid_gen_vocab_options *opt,
                                   semid_gen_vocab *out);
void semid_gen_vocab_free(semid_gen_vocab *v);

/* Token of a normalised word (a known word, else its UNK bucket); -1 when
 * the word is unknown and there are no buckets. */
int32_t semid_gen_vocab_word(const semid_gen_vocab *v, const char *word);
/* Is `token` one of the known-word tokens? */
static inline int semid_gen_vocab_is_known_word(const semid_gen_vocab *v, int32_t token) {
    return token >= v->word_base && token < v->word_base + v->n_words;
}

/* Tokenises `text` (text/tokenize.h) and writes at most `max` word tokens to
 * `out`: *n gets the count written, *n_unknown (may be NULL) how many of
 * them were unknown words. */
semid_status semid_gen_vocab_encode(const semid_gen_vocab *v, const char *text, int32_t *out, int32_t max,
                                    int32_t *n, int32_t *n_unknown);

/* JSON form, as a cJSON object to embed in a checkpoint's extra JSON (NULL
 * on allocation failure), and back. Loading checks that the layout is
 * consistent; semid_gen_vocab_check_table then rejects an ID table other
 * than the one the vocabulary was built with. */
cJSON *semid_gen_vocab_to_cjson(const semid_gen_vocab *v);
semid_status semid_gen_vocab_from_cjson(const cJSON *obj, semid_gen_vocab *out);
semid_status semid_gen_vocab_check_table(const semid_gen_vocab *v, const semid_idtable *table);

#endif
