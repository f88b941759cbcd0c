/* The dense side of hybrid re-ranking (gen/hybrid.h) over a trained bundle:
 * a text encoder for queries and a vector for every item of the catalog,
 * the items added by `semid catalog add` included, so that the dense index
 * can bring back items the model never saw. Shared by `semid search` and
 * `semid recommend --rerank dense`, the server (rerank: "dense") and the
 * experiment's hybrid rows.
 *
 * The bundle records no encoder (as for `semid catalog add`, the caller
 * names one):
 *   encoder                 the bi-encoder's text tower (ENC.safetensors);
 *   content + dataset       the content encoder, fitted again on the
 *                           dataset's items as `semid embed` did (glove: its
 *                           word vectors, NULL = the built-in ones).
 * Recommendation needs no query encoder: item_embeddings alone will do.
 * Item vectors: item_embeddings (.npy, rows = the catalog's items in bundle
 * order: all of them, or the trained ones only, the added ones then encoded
 * from their text), else every item's text encoded (for trained items the
 * dataset's full text when dataset is given, else the bundle's title, year
 * and genres).
 *
 * Once open, an index is read-only: several threads may re-rank with it at
 * once (the server does). */
#ifndef SEMID_GEN_DENSE_H
#define SEMID_GEN_DENSE_H

#include <stdint.h>

#include "gen/generate.h"
#include "gen/hybrid.h"

typedef struct semid_dense_source {
    const char *encoder;         /* ENC.safetensors, or NULL */
    int content;                 /* 1: the content encoder fitted on `dataset` */
    const char *dataset;         /* DS.sdd the model was trained on, or NULL */
    const char *glove;           /* content: word vectors, NULL = built-in */
    const char *item_embeddings; /* ITEMS.npy in bundle order, or NULL */
    const char *user_embeddings; /* USERS.npy: one vector per user of the dataset the
                                    model was trained on (ENMF's rec_users.npy), or NULL */
} semid_dense_source;

typedef struct semid_dense {
    struct semid_text_encoder *enc;      /* at most one of these two (none: rec only) */
    struct semid_content_model *content;
    struct semid_wordvec *wv;            /* the content model's word vectors (it keeps a pointer) */
    float *items;                        /* (n_items, d) */
    int32_t n_items;
    int64_t d;
    uint8_t *skip;                       /* (n_items) removed items */
    float *users;                        /* (n_users, d) user vectors, or NULL */
    int32_t n_users;
} semid_dense;

/* Loads the encoder and builds the item vectors of bundle b. */
semid_status semid_dense_open(const semid_dense_source *src, const semid_gen_bundle *b, semid_dense *out);
void semid_dense_close(semid_dense *dn);
/* 1 when it can encode a query (an encoder was given). */
int semid_dense_has_encoder(const semid_dense *dn);
/* Query vectors (n, d), allocated. */
semid_status semid_dense_encode(const semid_dense *dn, const char *const *texts, int64_t n, float **out);
/* The user vector of a history (n item indices): the mean of its items'
 * L2-normalised vectors ((d), allocated). The bundle keeps no user tower, so
 * this is the stand-in where no user vectors were given (user_embeddings:
 * ENMF's, which exist only for the users it was trained on). */
semid_status semid_dense_user(const semid_dense *dn, const int32_t *history, int64_t n, float **out);
/* Re-ranks hits (the beam's) for the queries of vectors qv; the dense
 * candidates the beam missed are scored by teacher forcing after prompts[q]
 * (model tokens, lens[q]) for `task`. out is allocated with k = o->k. */
semid_status semid_dense_rerank(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                int task, const int32_t *const *prompts, const int32_t *lens,
                                const semid_beam_hits *hits, const float *qv, const int32_t *const *exclude,
                                const int32_t *n_exclude, semid_beam_hits *out);

/* The decode options for a re-ranked decode: the beam's whole top K (k =
 * the beam width), re-ranked to o->k after. */
semid_gen_decode_options semid_dense_decode_options(const semid_gen_decode_options *o);
/* Re-ranks the hits of n search queries (*h replaced: k = o->k). */
semid_status semid_dense_rerank_search(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                       const char *const *queries, int64_t n, semid_beam_hits *h);
/* Re-ranks the hits of n histories; the history is left out of the dense
 * candidates when `decode` leaves it out of the decode. users (may be
 * NULL): each history's user index, whose row of dn->users is its dense
 * vector when the index has user vectors (else the history's mean). */
semid_status semid_dense_rerank_rec(const semid_dense *dn, const semid_gen_bundle *b, const semid_hybrid_options *o,
                                    const semid_gen_decode_options *decode, const int32_t *const *hists,
                                    const int64_t *hlens, const int32_t *users, int64_t n, semid_beam_hits *h);

/* One task's side of semid_dense_evaluate: its dense index and its
 * options (a weight per task: search wants the dense score more than
 * recommendation does). */
typedef struct semid_dense_task {
    const semid_dense *dn;
    const semid_hybrid_options *o;
} semid_dense_task;

/* semid_gen_evaluate with hybrid re-ranking: every evaluation prompt
 * decoded with semid_dense_decode_options(o) and its hits re-ranked as
 * semid_dense_rerank_search / _rec do (search: the query's text; rec: the
 * prompt's user, or the history it holds), each task with its own index and
 * options (their k must agree), evaluated at that k. rec = NULL: search
 * alone, as semid_gen_evaluate. */
semid_status semid_dense_evaluate(const semid_dense_task *search_side, const semid_dense_task *rec_side,
                                  const semid_gen_bundle *b, const semid_dataset *ds, int split,
                                  const semid_gen_decode_options *o, semid_ranking_eval *search,
                                  semid_ranking_eval *rec);

#endif
