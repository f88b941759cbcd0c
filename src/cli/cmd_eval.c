/* semid eval: Recall@K and NDCG@K of a trained model on a dataset's test
 * (or validation) queries and users, as the experiment measures them
 * (semid_gen_evaluate: search over the split's queries, rec over each
 * user's held-out item, grouped head/torso by the top 1% of items). Prints
 * a table and the invalid-ID rate (beams naming no item: only diverse
 * search, off the trie, has them); --json writes the same figures (and,
 * with --per-query, each query's recall for paired t-tests) atomically. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_gen.h"
#include "data/dataset.h"

static const struct {
    const char *task, *group;
    int rec, id;
} rows[] = {
    {"search", "all", 0, SEMID_GROUP_ALL},
    {"rec", "all", 1, SEMID_GROUP_ALL},
    {"rec", "head", 1, SEMID_GROUP_HEAD},
    {"rec", "torso", 1, SEMID_GROUP_TORSO},
};
enum { N_ROWS = sizeof rows / sizeof rows[0] };

/* {"search": {"all": {n, recall, ndcg}}, "rec": {"all", "head", "torso"}}
 * into root; per_query adds each task's per-query recall. */
static int add_results(cJSON *root, const semid_ranking_eval *search, const semid_ranking_eval *rec, int per_query) {
    const semid_ranking_eval *tasks[2] = {search, rec};
    cJSON *objs[2] = {cJSON_AddObjectToObject(root, "search"), cJSON_AddObjectToObject(root, "rec")};
    if (!objs[0] || !objs[1]) return 0;
    for (int i = 0; i < N_ROWS; i++) {
        semid_metric_summary s = semid_ranking_eval_mean(tasks[rows[i].rec], rows[i].id);
        cJSON *o = cJSON_AddObjectToObject(objs[rows[i].rec], rows[i].group);
        if (!o || !cJSON_AddNumberToObject(o, "n", (double)s.n) || !cJSON_AddNumberToObject(o, "recall", s.recall) ||
            !cJSON_AddNumberToObject(o, "ndcg", s.ndcg))
            return 0;
    }
    for (int t = 0; t < 2 && per_query; t++) {
        cJSON *v = cJSON_CreateDoubleArray(tasks[t]->recall, (int)tasks[t]->n);
        if (!v || !cJSON_AddItemToObject(objs[t], "per_query_recall", v)) {
            cJSON_Delete(v);
            return 0;
        }
    }
    return 1;
}

/* The table, read back from the JSON summary (one source for both). */
static void print_table(const cJSON *root) {
    printf("%-8s %-6s %8s %10s %10s\n", "task", "group", "queries", "Recall@K", "NDCG@K");
    for (int i = 0; i < N_ROWS; i++) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, rows[i].task), rows[i].group);
        printf("%-8s %-6s %8.0f %10.4f %10.4f\n", rows[i].task, rows[i].group,
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "n")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "recall")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "ndcg")));
    }
}

static semid_status write_json(const char *path, const cJSON *root) {
    char *text = cJSON_Print(root);
    size_t n = text ? strlen(text) : 0;
    char *grown = text ? realloc(text, n + 2) : NULL;
    if (!grown) {
        free(text);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    text = grown;
    memcpy(text + n, "\n", 2);
    semid_status st = semid_write_file_atomic(path, text, n + 1);
    free(text);
    return st;
}

int cmd_eval(int argc, char **argv) {
    cli_gen_args a = cli_gen_args_default(30);
    const char *dataset = NULL, *split = "test", *json = NULL;
    int per_query = 0;
    const cli_option extra[] = {
        {"dataset", CLI_STRING, &dataset, "dataset the model was trained on (.sdd)"},
        {"split", CLI_STRING, &split, "test or valid"},
        {"json", CLI_STRING, &json, "also write the results as JSON here"},
        {"per-query", CLI_FLAG, &per_query, "JSON: include per-query recall (for paired t-tests)"},
    };
    const char *pos[1];
    int n_pos = 0;
    int r = cli_gen_parse(argc, argv, &a, CLI_GEN_HISTORY, extra, (int)(sizeof extra / sizeof extra[0]),
                          "usage: semid eval --model MODEL_DIR --dataset DS.sdd [--split test|valid] [--k 30] "
                          "[--json OUT.json]\n\nK is the cut-off of Recall@K and NDCG@K (and the results decoded per query).",
                          pos, 0, &n_pos, "eval");
    if (r >= 0) return r;
    int which = strcmp(split, "test") == 0 ? SEMID_SPLIT_TEST : strcmp(split, "valid") == 0 ? SEMID_SPLIT_VALID : -1;
    if (!dataset || which < 0) {
        fprintf(stderr, "semid: error: eval needs --dataset, and --split is test or valid (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    semid_gen_bundle *b = NULL;
    semid_ranking_eval search = {0}, rec = {0};
    semid_status st = semid_dataset_load(dataset, &ds);
    if (st == SEMID_OK) st = cli_gen_load(&a, &b);
    semid_gen_decode_options o = cli_gen_decode_options(&a);
    if (st == SEMID_OK) cli_gen_note_diverse_cap(&a, &o);
    semid_gen_eval_stats stats = {0};
    if (st == SEMID_OK) st = semid_gen_evaluate(b, &ds, which, &o, &search, &rec, &stats);
    double invalid = stats.beams > 0 ? (double)stats.invalid / (double)stats.beams : 0.0;
    cJSON *root = st == SEMID_OK ? cJSON_CreateObject() : NULL;
    if (st == SEMID_OK) {
        int ok = root && cJSON_AddStringToObject(root, "model", a.model) &&
                 cJSON_AddStringToObject(root, "dataset", dataset) && cJSON_AddStringToObject(root, "split", split) &&
                 cJSON_AddNumberToObject(root, "k", o.beam.k) && cJSON_AddNumberToObject(root, "beam", o.beam.beam_size) &&
                 cJSON_AddBoolToObject(root, "diverse", a.diverse) && cJSON_AddNumberToObject(root, "invalid_share", invalid) &&
                 add_results(root, &search, &rec, per_query);
        if (!ok) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (st == SEMID_OK) {
        printf("model %s on %s (%s split), K = %d, beam %d%s\n", a.model, ds.name ? ds.name : dataset, split, o.beam.k,
               o.beam.beam_size, a.diverse ? " (diverse)" : "");
        print_table(root);
        printf("invalid IDs: %.2f%% of the beams name no item%s\n", 100.0 * invalid,
               a.diverse ? "" : " (the trie-constrained beam decodes only IDs that exist)");
        if (json) st = write_json(json, root);
    }
    cJSON_Delete(root);
    semid_ranking_eval_free(&search);
    semid_ranking_eval_free(&rec);
    semid_gen_bundle_free(b);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}
