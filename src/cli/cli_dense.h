/* The dense side of hybrid re-ranking (`--rerank dense`, gen/hybrid.h) for
 * the decoding commands: a text encoder for the query and a vector for
 * every item of the catalog, the items added by `semid catalog add`
 * included, so that the dense index can bring back items the model never
 * saw.
 *
 * The bundle records no encoder (as for `semid catalog add`, the command is
 * told it), one of:
 *   --encoder ENC.safetensors   the bi-encoder's text tower (semid embed);
 *   --content --dataset DS.sdd  the content encoder, fitted again on the
 *                               dataset's items as `semid embed` did
 *                               ([--glove F] its word vectors).
 * (recommend needs no query encoder: --item-embeddings alone will do.)
 * Item vectors: --item-embeddings ITEMS.npy (rows = the catalog's items in
 * bundle order: all of them, or the trained ones only, the added ones then
 * encoded from their text), else every item's text encoded (for trained
 * items the dataset's full text when --dataset is given, else the bundle's
 * title, year and genres). */
#ifndef SEMID_CLI_CLI_DENSE_H
#define SEMID_CLI_CLI_DENSE_H

#include <stdint.h>

#include "cli/cli.h"
#include "gen/generate.h"
#include "gen/hybrid.h"

typedef struct cli_dense_args {
    const char *rerank;   /* NULL / "none" = off, "dense" */
    const char *encoder, *dataset, *glove, *item_embeddings;
    int content;
    double weight;        /* --rerank-weight (0.5) */
    int dense_k;          /* --dense-k (20) */
} cli_dense_args;

/* Number of options cli_dense_options writes. */
enum { CLI_DENSE_N_OPTIONS = 8 };
cli_dense_args cli_dense_args_default(void);
/* Writes the --rerank options (CLI_DENSE_N_OPTIONS of them) into opts. */
void cli_dense_options(cli_dense_args *a, cli_option *opts);
/* Usage checks after parsing: CLI_EXIT_OK, or the exit code after a message.
 * rec = 1 (recommend): no query encoder is needed, --item-embeddings alone
 * will do (an encoder then only encodes the added items). */
int cli_dense_check(const cli_dense_args *a, int rec);
int cli_dense_on(const cli_dense_args *a);

typedef struct cli_dense {
    struct semid_text_encoder *enc;      /* one of these two */
    struct semid_content_model *content;
    struct semid_wordvec *wv;            /* the content model's word vectors (it keeps a pointer) */
    float *items;                        /* (n_items, d) */
    int32_t n_items;
    int64_t d;
    uint8_t *skip;                       /* (n_items) removed items */
    semid_hybrid_options o;
} cli_dense;

/* Loads the encoder and builds the item vectors of bundle b; k = results. */
semid_status cli_dense_open(const cli_dense_args *a, const semid_gen_bundle *b, int k, cli_dense *out);
void cli_dense_close(cli_dense *dn);
/* Query vectors (n, d), allocated. */
semid_status cli_dense_encode(const cli_dense *dn, const char *const *texts, int64_t n, float **out);
/* The user vector of a history (n item indices): the mean of its items'
 * L2-normalised vectors ((d), allocated). The bundle keeps no user tower (the
 * ENMF user vectors need user-side weights it does not hold), so this is
 * the documented stand-in. */
semid_status cli_dense_user(const cli_dense *dn, const int32_t *history, int64_t n, float **out);
/* Re-ranks hits (the beam's) for the queries of vectors qv; the dense
 * candidates the beam missed are scored by teacher forcing after prompts[q]
 * (model tokens, lens[q]) for `task`. */
semid_status cli_dense_rerank(const cli_dense *dn, const semid_gen_bundle *b, int task, const int32_t *const *prompts,
                              const int32_t *lens, const semid_beam_hits *hits, const float *qv,
                              const int32_t *const *exclude, const int32_t *n_exclude, semid_beam_hits *out);

/* The decode options for a re-ranked decode: the beam's whole top K (k =
 * the beam width), re-ranked to o->k after. */
semid_gen_decode_options cli_dense_decode_options(const semid_gen_decode_options *o);
/* Re-ranks the hits of n search queries (*h replaced: k = dn->o.k). */
semid_status cli_dense_rerank_search(const cli_dense *dn, const semid_gen_bundle *b, const char *const *queries,
                                     int64_t n, semid_beam_hits *h);
/* Re-ranks the hits of n histories; the history is left out of the dense
 * candidates when o leaves it out of the decode. */
semid_status cli_dense_rerank_rec(const cli_dense *dn, const semid_gen_bundle *b, const semid_gen_decode_options *o,
                                  const int32_t *const *hists, const int64_t *hlens, int64_t n, semid_beam_hits *h);

#endif
