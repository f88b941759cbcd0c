/* semid baseline: Recall@K / NDCG@K of the non-generative baselines on a
 * dataset's test split (protocols in embed/baseline.h):
 *   popularity  most popular training items (search and rec);
 *   enmf        ENMF user vectors against its item vectors (rec);
 *   history     mean of the last --recent history items' vectors (rec);
 *   search      dense search: test queries encoded, then top-K items (search).
 * Prints a table; --json writes the summary and per-query values (for
 * paired t-tests) atomically. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "embed/baseline.h"
#include "embed/embed_io.h"
#include "io/npy.h"

typedef struct baseline_args {
    const char *dataset, *method, *embeddings, *ids, *users, *encoder, *glove, *json;
    int k, recent, exclude_history, validation, threads, per_query;
    double head_fraction;
} baseline_args;

static char *sibling(const char *path, const char *name) {
    const char *slash = strrchr(path, '/');
    if (!slash) return semid_strdup(name);
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    char *p = semid_path_join(dir, name);
    free(dir);
    return p;
}

static semid_status load_items(const semid_dataset *ds, const baseline_args *a, semid_matrix *out) {
    if (!a->embeddings) return semid_fail(SEMID_EINVAL, "--method %s needs --embeddings ITEMS.npy", a->method);
    char *ids = a->ids ? semid_strdup(a->ids) : sibling(a->embeddings, "items.txt");
    if (!ids) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_embed_import(ds, a->embeddings, ids, out);
    free(ids);
    return st;
}

static void add_summary(cJSON *obj, const char *key, const semid_ranking_eval *e, int group) {
    semid_metric_summary s = semid_ranking_eval_mean(e, group);
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    cJSON_AddNumberToObject(o, "n", (double)s.n);
    cJSON_AddNumberToObject(o, "recall", s.recall);
    cJSON_AddNumberToObject(o, "ndcg", s.ndcg);
}

static void print_rows(const char *task, const semid_ranking_eval *e, int with_groups) {
    static const struct {
        const char *name;
        int group;
    } groups[3] = {{"all", SEMID_GROUP_ALL}, {"head", SEMID_GROUP_HEAD}, {"torso", SEMID_GROUP_TORSO}};
    for (int g = 0; g < (with_groups ? 3 : 1); g++) {
        semid_metric_summary s = semid_ranking_eval_mean(e, groups[g].group);
        printf("%-8s %-6s %8lld %10.4f %10.4f\n", task, groups[g].name, (long long)s.n, s.recall, s.ndcg);
    }
}

static semid_status write_json(const baseline_args *a, const semid_ranking_eval *search, const semid_ranking_eval *rec) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return semid_fail(SEMID_ENOMEM, "out of memory");
    cJSON_AddStringToObject(root, "method", a->method);
    cJSON_AddStringToObject(root, "dataset", a->dataset);
    cJSON_AddNumberToObject(root, "k", a->k);
    cJSON_AddBoolToObject(root, "exclude_history", a->exclude_history);
    cJSON_AddStringToObject(root, "target", a->validation ? "validation" : "test");
    if (search) {
        cJSON *s = cJSON_AddObjectToObject(root, "search");
        add_summary(s, "all", search, SEMID_GROUP_ALL);
        if (a->per_query) cJSON_AddItemToObject(s, "per_query_recall", cJSON_CreateDoubleArray(search->recall, (int)search->n));
    }
    if (rec) {
        cJSON *r = cJSON_AddObjectToObject(root, "rec");
        add_summary(r, "all", rec, SEMID_GROUP_ALL);
        add_summary(r, "head", rec, SEMID_GROUP_HEAD);
        add_summary(r, "torso", rec, SEMID_GROUP_TORSO);
        if (a->per_query) cJSON_AddItemToObject(r, "per_query_recall", cJSON_CreateDoubleArray(rec->recall, (int)rec->n));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_write_file_atomic(a->json, text, strlen(text));
    free(text);
    return st;
}

static int run(const baseline_args *a) {
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    semid_status st = semid_dataset_load(a->dataset, &ds);
    if (st != SEMID_OK) return cli_report(st);
    semid_rec_eval_options ro = semid_rec_eval_defaults();
    ro.k = a->k;
    ro.exclude_history = a->exclude_history != 0;
    ro.validation = a->validation != 0;
    ro.n_recent = a->recent;
    ro.head_fraction = a->head_fraction;
    semid_ranking_eval search = {0}, rec = {0};
    int has_search = 0, has_rec = 0;
    semid_matrix items = {0}, users = {0}, queries = {0};
    if (strcmp(a->method, "popularity") == 0) {
        st = semid_baseline_rec_popularity(&ds, &ro, &rec);
        has_rec = st == SEMID_OK;
        if (st == SEMID_OK && ds.n_queries > 0) {
            st = semid_baseline_search_popularity(&ds, a->k, a->head_fraction, &search);
            has_search = st == SEMID_OK;
        }
    } else if (strcmp(a->method, "enmf") == 0) {
        st = load_items(&ds, a, &items);
        char *up = st == SEMID_OK ? (a->users ? semid_strdup(a->users) : sibling(a->embeddings, "rec_users.npy")) : NULL;
        if (st == SEMID_OK && !up) st = semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK) st = semid_npy_read(up, &users);
        free(up);
        if (st == SEMID_OK) st = semid_baseline_rec_user_vectors(&ds, &ro, &users, &items, &rec);
        has_rec = st == SEMID_OK;
    } else if (strcmp(a->method, "history") == 0) {
        st = load_items(&ds, a, &items);
        if (st == SEMID_OK) st = semid_baseline_rec_history(&ds, &ro, &items, &rec);
        has_rec = st == SEMID_OK;
    } else if (strcmp(a->method, "search") == 0) {
        st = load_items(&ds, a, &items);
        if (st == SEMID_OK) st = semid_baseline_encode_test_queries(&ds, a->encoder, a->glove, &queries);
        if (st == SEMID_OK) st = semid_baseline_search_dense(&ds, &queries, &items, a->k, a->head_fraction, &search);
        has_search = st == SEMID_OK;
    } else {
        st = semid_fail(SEMID_EINVAL, "unknown --method '%s' (one of: popularity, enmf, history, search)", a->method);
    }
    if (st == SEMID_OK) {
        printf("%s on %s, K = %d%s\n", a->method, ds.name ? ds.name : a->dataset, a->k,
               a->exclude_history ? ", history excluded" : "");
        printf("%-8s %-6s %8s %10s %10s\n", "task", "group", "queries", "Recall@K", "NDCG@K");
        if (has_search) print_rows("search", &search, 0);
        if (has_rec) print_rows("rec", &rec, 1);
        if (a->json) st = write_json(a, has_search ? &search : NULL, has_rec ? &rec : NULL);
    }
    semid_ranking_eval_free(&search);
    semid_ranking_eval_free(&rec);
    semid_matrix_free(&items);
    semid_matrix_free(&users);
    semid_matrix_free(&queries);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

int cmd_baseline(int argc, char **argv) {
    baseline_args a = {0};
    a.k = 30;
    a.recent = 10;
    a.head_fraction = 0.01;
    cli_option opts[] = {
        {"dataset", CLI_STRING, &a.dataset, "dataset file (.sdd)"},
        {"method", CLI_STRING, &a.method, "popularity, enmf, history or search"},
        {"embeddings", CLI_STRING, &a.embeddings, "item embeddings .npy (ids from items.txt beside it)"},
        {"ids", CLI_STRING, &a.ids, "item id list of --embeddings (default: items.txt beside it)"},
        {"users", CLI_STRING, &a.users, "enmf: user vectors (default: rec_users.npy beside --embeddings)"},
        {"encoder", CLI_STRING, &a.encoder, "search: trained text encoder (.safetensors); without it, the content encoder"},
        {"glove", CLI_STRING, &a.glove, "search without --encoder: word vectors (default: the shipped GloVe subset)"},
        {"k", CLI_INT, &a.k, "cut-off K of Recall@K and NDCG@K"},
        {"recent", CLI_INT, &a.recent, "history: number of most recent items averaged"},
        {"exclude-history", CLI_FLAG, &a.exclude_history, "rec: never recommend an item already in the history"},
        {"validation", CLI_FLAG, &a.validation, "rec: evaluate the validation item (history = train part)"},
        {"head-fraction", CLI_DOUBLE, &a.head_fraction, "share of most popular items counted as head"},
        {"json", CLI_STRING, &a.json, "also write the results as JSON here"},
        {"per-query", CLI_FLAG, &a.per_query, "JSON: include per-query recall (for paired t-tests)"},
        {"threads", CLI_INT, &a.threads, "threads (0 = all cores)"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                       "usage: semid baseline --dataset DS.sdd --method popularity|enmf|history|search "
                       "[--embeddings ITEMS.npy] [--k 30] [--json OUT.json]",
                       pos, 0, &npos);
    if (rc != 0) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"k", 1, 100000}, {"recent", 1, 1000000}, {"head-fraction", 1e-9, 1},
                                {"threads", 0, semid_threads_limit()}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, (int)(sizeof ranges / sizeof ranges[0])) != 0)
        return CLI_EXIT_USAGE;
    if (!a.dataset || !a.method) {
        fprintf(stderr, "semid: error: baseline needs --dataset and --method (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (a.k < 1) {
        fprintf(stderr, "semid: error: --k must be at least 1\n");
        return CLI_EXIT_USAGE;
    }
    semid_set_threads(a.threads);
    return run(&a);
}
