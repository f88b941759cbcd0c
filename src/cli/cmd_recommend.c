/* semid recommend: the next items for a history of item ids (oldest first)
 * with a trained model (gen/generate.h). An unknown id is an error naming
 * it; a repeated id is kept; a history longer than the model's window keeps
 * its most recent items (noted on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_gen.h"

int cmd_recommend(int argc, char **argv) {
    const char *model = NULL, *history = NULL;
    int k = 10, beam = 30, threads = 0, diverse = 0, keep = 0, exclude = 0;
    cli_option opts[] = {
        {"model", CLI_STRING, &model, "model directory (from semid train)"},
        {"history", CLI_STRING, &history, "comma-separated item ids, oldest first"},
        {"k", CLI_INT, &k, "results"},
        {"beam", CLI_INT, &beam, "beam width (at least k is used)"},
        {"diverse", CLI_FLAG, &diverse, "the paper's diverse beam search (60 beams, 30 groups, penalty 0.25)"},
        {"keep-history", CLI_FLAG, &keep, "allow items of the history in the results"},
        {"exclude-history", CLI_FLAG, &exclude, "leave the history's items out (default when items do not repeat in training)"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
    };
    const char *pos[1];
    int n_pos = 0;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid recommend --model MODEL_DIR --history ID,ID,... [--k 10]", pos, 0, &n_pos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (!model || !history) {
        fprintf(stderr, "semid: error: recommend needs --model and --history (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (k < 1 || k > 1000 || beam < 1 || (keep && exclude)) {
        fprintf(stderr, "semid: error: --k must be in 1..1000, --beam >= 1, and not both --keep-history and --exclude-history\n");
        return CLI_EXIT_USAGE;
    }
    if (threads > 0) semid_set_threads(threads);
    semid_gen_bundle *b = NULL;
    semid_status st = semid_gen_bundle_load(model, &b);
    if (st != SEMID_OK) return cli_report(st);
    char *copy = semid_strdup(history);
    int32_t *items = malloc((strlen(history) / 2 + 2) * sizeof *items);
    int64_t n = 0;
    if (!copy || !items) st = semid_fail(SEMID_ENOMEM, "out of memory");
    for (char *save = NULL, *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && st == SEMID_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l > 0 && tok[l - 1] == ' ') tok[--l] = '\0';
        if (l == 0) continue;
        int32_t it = semid_gen_bundle_find_item(b, tok);
        if (it < 0) st = semid_fail(SEMID_ENOTFOUND, "--history: item '%s' is not in the model's catalog", tok);
        else items[n++] = it;
    }
    if (st == SEMID_OK && n == 0) {
        st = semid_fail(SEMID_EINVAL, "--history has no item ids");
    }
    semid_beam_hits h = {0};
    if (st == SEMID_OK) {
        int32_t w = semid_gen_effective_window(&b->ex, b->table.n_levels);
        if (n > w) fprintf(stderr, "semid: note: the history has %lld items; the model reads the last %d\n", (long long)n, w);
        semid_gen_decode_options o = semid_gen_decode_defaults();
        if (diverse) o.beam = semid_beam_paper_diverse(k);
        else {
            o.beam.k = k;
            o.beam.beam_size = beam > k ? beam : k;
        }
        o.exclude_history = keep ? 0 : exclude ? 1 : -1;
        const int32_t *hs[1] = {items};
        st = semid_gen_recommend(b, hs, &n, 1, &o, &h);
    }
    if (st == SEMID_OK) cli_gen_print_hits(b, &h, 0);
    semid_beam_hits_free(&h);
    semid_gen_bundle_free(b);
    free(copy);
    free(items);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}
