/* semid search: a query's best items with a trained model (gen/generate.h),
 * or, with --queries FILE, every query of a file (TSV or JSONL, cli_gen.h)
 * decoded in batches. With --history ID,ID,... the query and the user's
 * history go in one prompt (personalised search, the model's third task;
 * a model trained without it is refused). An empty query is refused; a query whose words are
 * all unknown to the model still runs (its words fall into hashed
 * unknown-word buckets) with a warning on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "cli/cli_gen.h"
#include "text/tokenize.h"

/* The positional words joined by spaces; *n_words gets its word count. */
static semid_status join_query(const char *const *pos, int n_pos, char **out, int32_t *n_words) {
    size_t len = 1;
    for (int i = 0; i < n_pos; i++) len += strlen(pos[i]) + 1;
    char *query = calloc(len, 1);
    if (!query) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int i = 0; i < n_pos; i++) {
        if (i) strcat(query, " ");
        strcat(query, pos[i]);
    }
    semid_words w;
    semid_status st = semid_tokenize(query, &w);
    if (st != SEMID_OK) {
        free(query);
        return st;
    }
    *n_words = w.n;
    semid_words_free(&w);
    *out = query;
    return SEMID_OK;
}

typedef struct one_query {
    const char *text;
    int32_t n_words;
    const cli_dense_args *dense; /* --rerank dense, or NULL */
    const char *history;         /* --history ID,ID,..., or NULL */
} one_query;

/* Personalised search: the query with the history's item ids. */
static semid_status search_with_history(const semid_gen_bundle *b, const semid_gen_decode_options *o,
                                        const char *query, const char *ids, semid_beam_hits *h, int32_t *n_unknown) {
    int32_t *items = NULL;
    int64_t n = 0;
    semid_status st = cli_gen_parse_history(b, ids, &items, &n);
    const int32_t *hist = items;
    if (st == SEMID_OK) st = semid_gen_search_personal(b, &query, &hist, &n, 1, o, h, n_unknown);
    free(items);
    return st;
}

/* --rerank dense: the beam's top `beam` hits re-ranked with the dense
 * index's (gen/hybrid.h); *h is replaced. */
static semid_status rerank(const semid_gen_bundle *b, const semid_gen_decode_options *o, const cli_dense_args *a,
                           const char *query, semid_beam_hits *h) {
    cli_dense dn;
    SEMID_TRY(cli_dense_open(a, b, o->beam.k, &dn));
    semid_status st = semid_dense_rerank_search(&dn.index, b, &dn.o, &query, 1, h);
    cli_dense_close(&dn);
    return st;
}

static semid_status search_one(const semid_gen_bundle *b, const semid_gen_decode_options *o, int json, const void *ctx) {
    const char *query = ((const one_query *)ctx)->text;
    int32_t n_words = ((const one_query *)ctx)->n_words;
    semid_beam_hits h = {0};
    int32_t n_unknown = 0;
    const char *qs[1] = {query};
    const cli_dense_args *dense = ((const one_query *)ctx)->dense;
    semid_gen_decode_options go = dense ? semid_dense_decode_options(o) : *o;
    const char *history = ((const one_query *)ctx)->history;
    semid_status st = history ? search_with_history(b, &go, query, history, &h, &n_unknown)
                              : semid_gen_search(b, qs, 1, &go, &h, &n_unknown);
    if (st == SEMID_OK && dense) st = rerank(b, o, dense, query, &h);
    if (st == SEMID_OK) {
        if (n_unknown == n_words)
            fprintf(stderr, "semid: warning: no word of the query is known to the model; the results come from "
                            "hashed unknown-word buckets and may be poor\n");
        if (json) st = cli_gen_print_json(b, &h, 0, SEMID_TASK_SEARCH, NULL, "query", cJSON_CreateString(query));
        else cli_gen_print_hits(b, &h, 0);
        if (st == SEMID_OK && h.n_hits[0] == 0) cli_gen_note_empty(b, o, SEMID_TASK_SEARCH, NULL, 0);
    }
    semid_beam_hits_free(&h);
    return st;
}

int cmd_search(int argc, char **argv) {
    cli_gen_args a = cli_gen_args_default(10);
    const char *queries = NULL, *history = NULL;
    cli_dense_args dense = cli_dense_args_default();
    cli_option extra[2 + CLI_DENSE_N_OPTIONS] = {
        {"queries", CLI_STRING, &queries,
         "file of queries, one a line: TSV (ID<TAB>QUERY or QUERY) or JSONL ({\"id\", \"query\"}); - = stdin"},
        {"history", CLI_STRING, &history,
         "personalised search: the user's item ids, oldest first, comma-separated (a model trained with "
         "--personal-share)"},
    };
    cli_dense_options(&dense, extra + 2);
    /* The query's words may be given unquoted: any number of them. */
    const char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *pos);
    if (!pos) return cli_report(semid_fail(SEMID_ENOMEM, "out of memory"));
    int n_pos = 0;
    int r = cli_gen_parse(argc, argv, &a, CLI_GEN_FORMAT, extra, 2 + CLI_DENSE_N_OPTIONS,
                          "usage: semid search --model MODEL_DIR [--k 10] [--history ID,ID,...] \"query text\"\n"
                          "       semid search --model MODEL_DIR --queries FILE|- [--format tsv|json]\n"
                          "       semid search --model MODEL_DIR --rerank dense (--encoder ENC | --content --dataset "
                          "DS.sdd) [--rerank-weight 0.5] [--dense-k 20] \"query text\"",
                          pos, argc, &n_pos, "search");
    if (r < 0) r = cli_dense_check(&dense, 0) == CLI_EXIT_OK ? -1 : CLI_EXIT_USAGE;
    if (r >= 0) {
        free(pos);
        return r;
    }
    if (queries && n_pos > 0) {
        free(pos);
        fprintf(stderr, "semid: error: give a query or --queries FILE, not both\n");
        return CLI_EXIT_USAGE;
    }
    if (history && (queries || cli_dense_on(&dense))) {
        free(pos);
        fprintf(stderr, "semid: error: --history goes with one query, without --queries or --rerank\n");
        return CLI_EXIT_USAGE;
    }
    one_query q = {NULL, 0, cli_dense_on(&dense) ? &dense : NULL, history};
    char *query = NULL;
    if (!queries) {
        semid_status st = join_query(pos, n_pos, &query, &q.n_words);
        free(pos);
        pos = NULL;
        if (st != SEMID_OK) return cli_report(st);
        if (q.n_words == 0) {
            free(query);
            fprintf(stderr, "semid: error: the query is empty (give some words to search for)\n");
            return CLI_EXIT_USAGE;
        }
        q.text = query;
    }
    free(pos);
    a.dense = &dense;
    r = cli_gen_run(&a, SEMID_TASK_SEARCH, queries, search_one, &q);
    free(query);
    return r;
}
