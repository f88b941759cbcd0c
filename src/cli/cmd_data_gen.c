/* semid data synth: writes the built-in synthetic dataset.
 * semid data queries: (re)generates search queries for a dataset. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "data/import.h"
#include "data/querygen.h"
#include "data/synth.h"

static void print_query_summary(const semid_dataset *ds) {
    int64_t counts[3] = {0, 0, 0};
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (ds->queries[q].split <= SEMID_SPLIT_TEST) counts[ds->queries[q].split]++;
    printf("queries: %d (train %lld, valid %lld, test %lld)\n", ds->n_queries, (long long)counts[0],
           (long long)counts[1], (long long)counts[2]);
    printf("test queries copying a training query of their item: %.2f%%\n", 100.0 * semid_queries_copy_share(ds));
}

static void print_samples(const semid_dataset *ds, int n_items) {
    static const char *const names[] = {"train", "valid", "test"};
    if (n_items <= 0 || ds->n_items == 0) return;
    int32_t step = ds->n_items / n_items > 0 ? ds->n_items / n_items : 1;
    for (int32_t i = 0, shown = 0; i < ds->n_items && shown < n_items; i += step, shown++) {
        const semid_item *it = &ds->items[i];
        printf("\n[%s] %s (%d) %s\n", it->id, it->title, it->year, it->genres);
        for (int32_t q = 0; q < ds->n_queries; q++)
            if (ds->queries[q].item == i)
                printf("  %-5s %s\n", names[ds->queries[q].split <= 2 ? ds->queries[q].split : 0],
                       ds->queries[q].text);
    }
}

/* The synthetic catalog's memory, estimated before generating it: each
 * interaction is an item and a time (12 bytes) kept twice while the dataset
 * is built, each item a few hundred bytes of text and each query about 64.
 * Refuses (naming the estimate) above half the physical memory. */
static int synth_memory_check(const semid_synth_config *c) {
    double per_user = c->mean_history > c->min_history ? c->mean_history : c->min_history;
    double most = c->max_history > c->min_history ? c->max_history : c->min_history;
    double inter = (double)c->n_users * (per_user < most ? per_user : most);
    double bytes = inter * 24.0 + (double)c->n_users * 64.0 + (double)c->n_items * (512.0 + 64.0 * c->queries_per_item);
    int64_t phys = cli_physical_memory();
    double limit = phys > 0 ? (double)phys / 2 : 4.0 * (1 << 30);
    if (bytes <= limit) return 0;
    fprintf(stderr, "semid: error: --users %d x --history %g (%.3g interactions) and --items %d need about %.1f GB, over "
                    "the limit of %.1f GB (half the physical memory)\n",
            c->n_users, c->mean_history, inter, c->n_items, bytes / 1e9, limit / 1e9);
    return -1;
}

int cmd_data_synth(int argc, char **argv) {
    semid_synth_config cfg;
    semid_synth_config_default(&cfg);
    int64_t seed = 1;
    const char *out = NULL, *tsv = NULL;
    int samples = 0;
    cli_option opts[] = {
        {"items", CLI_INT, &cfg.n_items, "number of items"},
        {"users", CLI_INT, &cfg.n_users, "number of users"},
        {"history", CLI_DOUBLE, &cfg.mean_history, "mean interactions per user"},
        {"min-history", CLI_INT, &cfg.min_history, "fewest interactions per user"},
        {"topics", CLI_INT, &cfg.n_topics, "latent topics"},
        {"queries-per-item", CLI_INT, &cfg.queries_per_item, "search queries per item (0: none)"},
        {"queries-train", CLI_INT, &cfg.queries_train, "of which for training"},
        {"queries-valid", CLI_INT, &cfg.queries_valid, "of which for validation (the rest are test)"},
        {"seed", CLI_INT64, &seed, "random seed"},
        {"out", CLI_STRING, &out, "dataset file to write (.sdd)"},
        {"tsv", CLI_STRING, &tsv, "also write the queries as TSV (item_id split query)"},
        {"samples", CLI_INT, &samples, "print the queries of this many items"},
    };
    int np = 0;
    int rc = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                       "usage: semid data synth --out FILE.sdd [options]\n\n"
                       "Generates the built-in synthetic dataset (items with text, users with histories, queries).",
                       NULL, 0, &np);
    if (rc > 0) return CLI_EXIT_OK;
    if (rc < 0) return CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"items", 1, 10000000},   {"users", 1, 100000000},      {"history", 1, 10000},
                                {"min-history", 1, 10000}, {"topics", 1, 10000},         {"queries-per-item", 0, 1000},
                                {"queries-train", 0, 1000}, {"queries-valid", 0, 1000}, {"samples", 0, 1000000}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, (int)(sizeof ranges / sizeof ranges[0])) != 0)
        return CLI_EXIT_USAGE;
    if (synth_memory_check(&cfg) != 0) return CLI_EXIT_ERROR;
    if (!out) {
        fprintf(stderr, "semid: error: data synth needs --out FILE\n");
        return CLI_EXIT_USAGE;
    }
    double t0 = semid_now();
    semid_dataset ds;
    semid_status st = semid_synth_generate(&cfg, (uint64_t)seed, &ds);
    if (st != SEMID_OK) return cli_report(st);
    double gen_s = semid_now() - t0;
    st = semid_dataset_save(&ds, out);
    if (st == SEMID_OK && tsv) st = semid_queries_write_tsv(&ds, tsv);
    if (st != SEMID_OK) {
        semid_dataset_free(&ds);
        return cli_report(st);
    }
    printf("synthetic dataset: %d items, %d users, %lld interactions (seed %lld, %.2f s)\n", ds.n_items, ds.n_users,
           (long long)ds.n_interactions, (long long)seed, gen_s);
    print_query_summary(&ds);
    print_samples(&ds, samples);
    printf("wrote %s\n", out);
    if (tsv) printf("wrote %s\n", tsv);
    semid_dataset_free(&ds);
    return CLI_EXIT_OK;
}

static bool is_directory(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cmd_data_queries(int argc, char **argv) {
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    int64_t seed = 1;
    const char *out = NULL, *tsv = NULL, *format = "auto";
    int append = 0, samples = 0, unseen = 0;
    char formats[512], format_help[560];
    snprintf(format_help, sizeof format_help, "when DATASET is a directory: %s",
             semid_import_formats(formats, sizeof formats));
    cli_option opts[] = {
        {"per-item", CLI_INT, &cfg.n_per_item, "queries per item"},
        {"train", CLI_INT, &cfg.n_train, "of which for training"},
        {"valid", CLI_INT, &cfg.n_valid, "of which for validation (the rest are test)"},
        {"keywords", CLI_INT, &cfg.max_keywords, "keywords kept per item (by tf-idf)"},
        {"append", CLI_FLAG, &append, "keep the dataset's queries and add these"},
        {"unseen-style", CLI_INT, &unseen,
         "instead: replace the test queries with N per item in a style the training queries never use"},
        {"seed", CLI_INT64, &seed, "random seed"},
        {"format", CLI_STRING, &format, format_help},
        {"out", CLI_STRING, &out, "dataset file to write (default: DATASET when it is a file)"},
        {"tsv", CLI_STRING, &tsv, "also write the queries as TSV (item_id split query)"},
        {"samples", CLI_INT, &samples, "print the queries of this many items"},
    };
    const char *pos[1] = {NULL};
    int np = 0;
    int rc = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                       "usage: semid data queries DATASET [--out FILE.sdd] [--tsv FILE] [options]\n\n"
                       "Generates search queries from each item's metadata. DATASET is a .sdd file or a\n"
                       "directory to import (MovieLens, generic TSV). --unseen-style N keeps the training\n"
                       "queries and rewrites the test ones in another style, to measure whether a model\n"
                       "learnt the items or the generator's phrasing.",
                       pos, 1, &np);
    if (rc > 0) return CLI_EXIT_OK;
    if (rc < 0) return CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"per-item", 0, 1000}, {"train", 0, 1000}, {"valid", 0, 1000}, {"keywords", 1, 1000},
                                {"samples", 0, 1000000}, {"unseen-style", 0, 1000}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, (int)(sizeof ranges / sizeof ranges[0])) != 0)
        return CLI_EXIT_USAGE;
    if (np != 1) {
        fprintf(stderr, "semid: error: data queries needs one DATASET argument\n");
        return CLI_EXIT_USAGE;
    }
    bool dir = is_directory(pos[0]);
    if (!out && dir && !tsv) {
        fprintf(stderr, "semid: error: DATASET is a directory: give --out FILE.sdd or --tsv FILE\n");
        return CLI_EXIT_USAGE;
    }
    if (!out && !dir) out = pos[0];
    cfg.append = append != 0;
    semid_dataset ds;
    semid_status st = dir ? semid_import(format, pos[0], NULL, &ds) : semid_dataset_load(pos[0], &ds);
    if (st != SEMID_OK) return cli_report(st);
    semid_querygen_stats stats;
    st = unseen ? semid_querygen_unseen_style(&ds, unseen, (uint64_t)seed, &stats)
                : semid_querygen_run(&ds, &cfg, (uint64_t)seed, &stats);
    if (st == SEMID_OK && out) st = semid_dataset_save(&ds, out);
    if (st == SEMID_OK && tsv) st = semid_queries_write_tsv(&ds, tsv);
    if (st != SEMID_OK) {
        semid_dataset_free(&ds);
        return cli_report(st);
    }
    printf("generated %lld queries for %d items in %.2f s (train %lld, valid %lld, test %lld)\n",
           (long long)stats.n_queries, ds.n_items, stats.seconds, (long long)stats.n_train, (long long)stats.n_valid,
           (long long)stats.n_test);
    printf("queries where words forming the title were removed: %lld\n", (long long)stats.n_title_fixes);
    print_query_summary(&ds);
    print_samples(&ds, samples);
    if (out) printf("wrote %s\n", out);
    if (tsv) printf("wrote %s\n", tsv);
    semid_dataset_free(&ds);
    return CLI_EXIT_OK;
}
