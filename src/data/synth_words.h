/* The built-in vocabularies of the synthetic dataset: latent topics, each
 * with real common English words (so pretrained word vectors such as GloVe
 * know them), genre labels in the MovieLens style, person names, cities and
 * title words. Only data: the generator lives in synth.c. */
#ifndef SEMID_DATA_SYNTH_WORDS_H
#define SEMID_DATA_SYNTH_WORDS_H

#include <stdint.h>

enum {
    SEMID_SYNTH_ROLES = 8,      /* protagonists: "astronaut" */
    SEMID_SYNTH_OBJECTS = 10,   /* what the story is about: "alien", "asteroid" */
    SEMID_SYNTH_PLACES = 6,     /* setting phrases: "on a distant planet" */
    SEMID_SYNTH_VERBS = 8,      /* third person singular: "explores" */
    SEMID_SYNTH_ADJECTIVES = 8, /* "cosmic" */
    SEMID_SYNTH_THEMES = 6      /* abstract nouns: "survival" */
};

typedef struct semid_synth_topic {
    const char *name;    /* "space" */
    const char *genres;  /* comma-separated MovieLens genre labels, main first */
    int16_t year_mean;   /* centre of the release years */
    int16_t year_sd;     /* spread of the release years */
    const char *roles[SEMID_SYNTH_ROLES];
    const char *objects[SEMID_SYNTH_OBJECTS];
    const char *places[SEMID_SYNTH_PLACES];
    const char *verbs[SEMID_SYNTH_VERBS];
    const char *adjectives[SEMID_SYNTH_ADJECTIVES];
    const char *themes[SEMID_SYNTH_THEMES];
} semid_synth_topic;

extern const semid_synth_topic semid_synth_topics[];
extern const int32_t semid_synth_n_topics;

extern const char *const semid_synth_first_names[];
extern const int32_t semid_synth_n_first_names;
extern const char *const semid_synth_last_names[];
extern const int32_t semid_synth_n_last_names;
extern const char *const semid_synth_cities[];
extern const int32_t semid_synth_n_cities;
/* Title building blocks (capitalised): nouns and adjectives. */
extern const char *const semid_synth_title_nouns[];
extern const int32_t semid_synth_n_title_nouns;
extern const char *const semid_synth_title_adjectives[];
extern const int32_t semid_synth_n_title_adjectives;

#endif
