/* semid search: a query's best items with a trained model (gen/generate.h).
 * An empty query is refused; a query whose words are all unknown to the
 * model still runs (its words fall into hashed unknown-word buckets) with a
 * warning on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_gen.h"
#include "text/tokenize.h"

void cli_gen_print_hits(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q) {
    printf("rank\titem_id\tscore\ttitle\n");
    for (int32_t j = 0; j < h->n_hits[q]; j++) {
        int32_t it = h->items[q * h->k + j];
        printf("%d\t%s\t%.4f\t%s\n", j + 1, b->item_ids[it], (double)h->scores[q * h->k + j], b->titles[it]);
    }
    if (h->n_invalid[q] > 0) fprintf(stderr, "semid: note: %d beams named no item\n", h->n_invalid[q]);
}

int cmd_search(int argc, char **argv) {
    const char *model = NULL;
    int k = 10, beam = 30, threads = 0, diverse = 0;
    cli_option opts[] = {
        {"model", CLI_STRING, &model, "model directory (from semid train)"},
        {"k", CLI_INT, &k, "results"},
        {"beam", CLI_INT, &beam, "beam width (at least k is used)"},
        {"diverse", CLI_FLAG, &diverse, "the paper's diverse beam search (60 beams, 30 groups, penalty 0.25)"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
    };
    const char *pos[64];
    int n_pos = 0;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid search --model MODEL_DIR [--k 10] \"query text\"", pos, 64, &n_pos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (!model) {
        fprintf(stderr, "semid: error: search needs --model (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (k < 1 || k > 1000 || beam < 1) {
        fprintf(stderr, "semid: error: --k must be in 1..1000 and --beam >= 1\n");
        return CLI_EXIT_USAGE;
    }
    /* The query: the positional words joined by spaces. */
    size_t len = 1;
    for (int i = 0; i < n_pos; i++) len += strlen(pos[i]) + 1;
    char *query = calloc(len, 1);
    if (!query) return cli_report(semid_fail(SEMID_ENOMEM, "out of memory"));
    for (int i = 0; i < n_pos; i++) {
        if (i) strcat(query, " ");
        strcat(query, pos[i]);
    }
    semid_words w;
    semid_status st = semid_tokenize(query, &w);
    if (st != SEMID_OK) {
        free(query);
        return cli_report(st);
    }
    int32_t n_words = w.n;
    semid_words_free(&w);
    if (n_words == 0) {
        free(query);
        fprintf(stderr, "semid: error: the query is empty (give some words to search for)\n");
        return CLI_EXIT_USAGE;
    }
    if (threads > 0) semid_set_threads(threads);
    semid_gen_bundle *b = NULL;
    st = semid_gen_bundle_load(model, &b);
    semid_beam_hits h = {0};
    int32_t n_unknown = 0;
    if (st == SEMID_OK) {
        semid_gen_decode_options o = semid_gen_decode_defaults();
        if (diverse) o.beam = semid_beam_paper_diverse(k);
        else {
            o.beam.k = k;
            o.beam.beam_size = beam > k ? beam : k;
        }
        const char *qs[1] = {query};
        st = semid_gen_search(b, qs, 1, &o, &h, &n_unknown);
    }
    if (st == SEMID_OK) {
        if (n_unknown == n_words)
            fprintf(stderr, "semid: warning: no word of the query is known to the model; the results come from "
                            "hashed unknown-word buckets and may be poor\n");
        cli_gen_print_hits(b, &h, 0);
    }
    semid_beam_hits_free(&h);
    semid_gen_bundle_free(b);
    free(query);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}
