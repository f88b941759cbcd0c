#include "cli/cli_dense.h"

#include <stdio.h>
#include <string.h>

#include "base/status.h"

cli_dense_args cli_dense_args_default(void) {
    cli_dense_args a = {.rerank = "none", .weight = 0.5, .dense_k = 20};
    return a;
}

void cli_dense_source_options(cli_dense_args *a, cli_option *opts) {
    const cli_option o[CLI_DENSE_N_SOURCE_OPTIONS] = {
        {"encoder", CLI_STRING, &a->encoder, "dense re-ranking: the bi-encoder's text tower (ENC.safetensors)"},
        {"content", CLI_FLAG, &a->content, "dense re-ranking: the content encoder, fitted on --dataset's items"},
        {"dataset", CLI_STRING, &a->dataset, "dense re-ranking: the dataset the model was trained on (.sdd)"},
        {"glove", CLI_STRING, &a->glove, "dense re-ranking with --content: word vectors (default: the built-in ones)"},
        {"item-embeddings", CLI_STRING, &a->item_embeddings,
         "dense re-ranking: item vectors (.npy, bundle order; default: the encoder on the items' texts)"},
    };
    memcpy(opts, o, sizeof o);
}

void cli_dense_options(cli_dense_args *a, cli_option *opts) {
    const cli_option o[CLI_DENSE_N_OPTIONS - CLI_DENSE_N_SOURCE_OPTIONS] = {
        {"rerank", CLI_STRING, &a->rerank,
         "none, or dense: re-rank the beam's items with the dense index's nearest ones (LIGER's way; docs/catalog.md)"},
        {"rerank-weight", CLI_DOUBLE, &a->weight,
         "W in 0..1: score = W z(log-prob) + (1 - W) z(cosine) over the candidates (1 = the model's order)"},
        {"dense-k", CLI_INT, &a->dense_k, "candidates the dense index adds per query"},
    };
    memcpy(opts, o, sizeof o);
    cli_dense_source_options(a, opts + (CLI_DENSE_N_OPTIONS - CLI_DENSE_N_SOURCE_OPTIONS));
}

int cli_dense_on(const cli_dense_args *a) { return a->rerank && strcmp(a->rerank, "dense") == 0; }

int cli_dense_check(const cli_dense_args *a, int rec) {
    if (a->rerank && strcmp(a->rerank, "none") != 0 && strcmp(a->rerank, "dense") != 0) {
        fprintf(stderr, "semid: error: --rerank is none or dense, not '%s'\n", a->rerank);
        return CLI_EXIT_USAGE;
    }
    if (!cli_dense_on(a)) {
        if (a->encoder || a->content || a->item_embeddings) {
            fprintf(stderr, "semid: error: --encoder, --content and --item-embeddings go with --rerank dense\n");
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    if (!(a->weight >= 0 && a->weight <= 1)) {
        fprintf(stderr, "semid: error: --rerank-weight must be in 0..1, not %g\n", a->weight);
        return CLI_EXIT_USAGE;
    }
    if (a->dense_k < 0 || a->dense_k > 100000) {
        fprintf(stderr, "semid: error: --dense-k must be in 0..100000, not %d\n", a->dense_k);
        return CLI_EXIT_USAGE;
    }
    if (rec && (a->encoder != NULL) + (a->content != 0) == 0 && a->item_embeddings) return CLI_EXIT_OK;
    if ((a->encoder != NULL) + (a->content != 0) != 1) {
        if (rec) {
            fprintf(stderr, "semid: error: --rerank dense needs --item-embeddings ITEMS.npy, or one encoder for the "
                            "items' texts: --encoder ENC.safetensors or --content --dataset DS.sdd\n");
            return CLI_EXIT_USAGE;
        }
        fprintf(stderr, "semid: error: --rerank dense needs one query encoder: --encoder ENC.safetensors or --content "
                        "--dataset DS.sdd\n");
        return CLI_EXIT_USAGE;
    }
    if (a->content && !a->dataset) {
        fprintf(stderr, "semid: error: --content needs --dataset (the content encoder is fitted on its items)\n");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

semid_dense_source cli_dense_source(const cli_dense_args *a) {
    return (semid_dense_source){.encoder = a->encoder,
                                .content = a->content,
                                .dataset = a->dataset,
                                .glove = a->glove,
                                .item_embeddings = a->item_embeddings};
}

semid_status cli_dense_open(const cli_dense_args *a, const semid_gen_bundle *b, int k, cli_dense *out) {
    out->o = semid_hybrid_defaults();
    out->o.weight = a->weight;
    out->o.n_dense = a->dense_k;
    out->o.k = k;
    semid_dense_source src = cli_dense_source(a);
    return semid_dense_open(&src, b, &out->index);
}

void cli_dense_close(cli_dense *dn) { semid_dense_close(&dn->index); }
