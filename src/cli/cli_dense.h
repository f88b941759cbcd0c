/* The --rerank options of the decoding commands (hybrid re-ranking,
 * gen/hybrid.h, with the dense index of gen/dense.h). The bundle records no
 * encoder (as for `semid catalog add`, the command is told it), one of:
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
#include "gen/dense.h"
#include "gen/hybrid.h"

typedef struct cli_dense_args {
    const char *rerank;   /* NULL / "none" = off, "dense" */
    const char *encoder, *dataset, *glove, *item_embeddings;
    int content;
    double weight;        /* --rerank-weight (0.5) */
    int dense_k;          /* --dense-k (20) */
} cli_dense_args;

/* Number of options cli_dense_options writes, of which the last
 * cli_dense_source_options's (the encoder and item vectors). */
enum { CLI_DENSE_N_OPTIONS = 8, CLI_DENSE_N_SOURCE_OPTIONS = 5 };
cli_dense_args cli_dense_args_default(void);
/* Writes the --rerank options (CLI_DENSE_N_OPTIONS of them) into opts. */
void cli_dense_options(cli_dense_args *a, cli_option *opts);
/* Writes only --encoder, --content, --dataset, --glove, --item-embeddings
 * (semid serve: the weight and candidates come with each request). */
void cli_dense_source_options(cli_dense_args *a, cli_option *opts);
/* The index's source as the options name it. */
semid_dense_source cli_dense_source(const cli_dense_args *a);
/* Usage checks after parsing: CLI_EXIT_OK, or the exit code after a message.
 * rec = 1 (recommend): no query encoder is needed, --item-embeddings alone
 * will do (an encoder then only encodes the added items). */
int cli_dense_check(const cli_dense_args *a, int rec);
int cli_dense_on(const cli_dense_args *a);

/* An open dense index and the re-ranking options the command line gave. */
typedef struct cli_dense {
    semid_dense index;
    semid_hybrid_options o;
} cli_dense;

/* Opens the index of bundle b (gen/dense.h) as the options say; k = results. */
semid_status cli_dense_open(const cli_dense_args *a, const semid_gen_bundle *b, int k, cli_dense *out);
void cli_dense_close(cli_dense *dn);

#endif
