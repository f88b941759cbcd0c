/* semid recommend: the next items for a history of item ids (oldest first)
 * with a trained model (gen/generate.h), or, with --histories FILE, for
 * every user of a file (TSV or JSONL, cli_gen.h) decoded in batches. An
 * unknown id is an error naming it (and FILE:LINE); a repeated id is kept; a
 * history longer than the model's window keeps its most recent items
 * (noted on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "cli/cli_gen.h"

typedef struct one_history {
    const char *ids;
    const cli_dense_args *dense; /* --rerank dense, or NULL */
} one_history;

/* --rerank dense: the beam's top `beam` hits re-ranked with the dense
 * index's nearest items to the user vector (the mean of the history's item
 * vectors, semid_dense_user); *h is replaced. */
static semid_status rerank(const semid_gen_bundle *b, const semid_gen_decode_options *o, const cli_dense_args *a,
                           const int32_t *items, int64_t n, semid_beam_hits *h) {
    cli_dense dn;
    SEMID_TRY(cli_dense_open(a, b, o->beam.k, &dn));
    semid_status st = semid_dense_rerank_rec(&dn.index, b, &dn.o, o, &items, &n, NULL, 1, h);
    cli_dense_close(&dn);
    return st;
}

static semid_status recommend_one(const semid_gen_bundle *b, const semid_gen_decode_options *o, int json,
                                  const void *ctx) {
    const char *history = ((const one_history *)ctx)->ids;
    const cli_dense_args *dense = ((const one_history *)ctx)->dense;
    int32_t *items = NULL;
    int64_t n = 0;
    semid_status st = cli_gen_parse_history(b, history, &items, &n);
    semid_beam_hits h = {0};
    if (st == SEMID_OK) {
        int32_t w = semid_gen_effective_window(&b->ex, b->table.n_levels);
        if (n > w) fprintf(stderr, "semid: note: the history has %lld items; the model reads the last %d\n", (long long)n, w);
        const int32_t *hs[1] = {items};
        semid_gen_decode_options go = dense ? semid_dense_decode_options(o) : *o;
        st = semid_gen_recommend(b, hs, &n, 1, &go, &h);
        if (st == SEMID_OK && dense) st = rerank(b, o, dense, items, n, &h);
    }
    if (st == SEMID_OK && json) {
        cJSON *given = cli_gen_history_json(b, items, n);
        st = given ? cli_gen_print_json(b, &h, 0, SEMID_TASK_REC, NULL, "history", given)
                   : semid_fail(SEMID_ENOMEM, "out of memory");
    } else if (st == SEMID_OK) {
        cli_gen_print_hits(b, &h, 0);
    }
    if (st == SEMID_OK && h.n_hits[0] == 0) cli_gen_note_empty(b, o, SEMID_TASK_REC, items, n);
    semid_beam_hits_free(&h);
    free(items);
    return st;
}

int cmd_recommend(int argc, char **argv) {
    cli_gen_args a = cli_gen_args_default(10);
    const char *history = NULL, *histories = NULL;
    cli_dense_args dense = cli_dense_args_default();
    cli_option extra[2 + CLI_DENSE_N_OPTIONS] = {
        {"history", CLI_STRING, &history, "comma-separated item ids, oldest first"},
        {"histories", CLI_STRING, &histories,
         "file of histories, one a line: TSV (USER<TAB>ID,ID,... or ID,ID,...) or JSONL ({\"id\", \"history\": [ids]}); "
         "- = stdin"},
    };
    cli_dense_options(&dense, extra + 2);
    const char *pos[1];
    int n_pos = 0;
    int r = cli_gen_parse(argc, argv, &a, CLI_GEN_HISTORY | CLI_GEN_FORMAT, extra, 2 + CLI_DENSE_N_OPTIONS,
                          "usage: semid recommend --model MODEL_DIR --history ID,ID,... [--k 10]\n"
                          "       semid recommend --model MODEL_DIR --histories FILE|- [--format tsv|json]\n"
                          "       semid recommend --model MODEL_DIR --history ID,... --rerank dense (--item-embeddings "
                          "ITEMS.npy | --encoder ENC | --content --dataset DS.sdd) [--rerank-weight 0.5] [--dense-k 20]",
                          pos, 0, &n_pos, "recommend");
    if (r >= 0) return r;
    if (cli_dense_check(&dense, 1) != CLI_EXIT_OK) return CLI_EXIT_USAGE;
    if (!history == !histories) {
        fprintf(stderr, "semid: error: recommend needs one of --history ID,ID,... or --histories FILE (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    one_history ctx = {history, cli_dense_on(&dense) ? &dense : NULL};
    a.dense = &dense;
    return cli_gen_run(&a, SEMID_TASK_REC, histories, recommend_one, &ctx);
}
