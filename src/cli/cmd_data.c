/* semid data: import datasets into semid's binary form, print their
 * statistics, and dispatch `synth` and `queries` to cmd_data_gen.c. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/dataset.h"
#include "data/export_generic.h"
#include "data/import.h"
#include "data/stats.h"

static void print_data_help(void) {
    char formats[512];
    printf("usage: semid data <subcommand> [options]   (semid data <subcommand> --help for its options)\n\n"
           "subcommands:\n"
           "  import    read a dataset (%s) and save it as a .sdd file\n"
           "  stats     print the statistics of a .sdd dataset (or of a directory to import)\n"
           "  synth     generate a synthetic dataset\n"
           "  queries   generate search queries for a dataset's items\n"
           "  export    write a .sdd dataset as generic TSV files (items, interactions, queries)\n",
           semid_import_formats(formats, sizeof formats));
}

static int parse_min_rating(const char *s, double *out) {
    *out = -INFINITY;
    if (!s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "semid: error: --min-rating: '%s' is not a valid number\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

static int cmd_import(int argc, char **argv) {
    const char *format = "auto", *min_rating = NULL, *descriptions = NULL, *queries = NULL, *out = "dataset.sdd";
    int user_core = 0, item_core = 0, lenient = 0, keep_uninteracted = 0;
    char formats[512], format_help[540];
    snprintf(format_help, sizeof format_help, "input format: %s", semid_import_formats(formats, sizeof formats));
    const cli_option opts[] = {
        {"format", CLI_STRING, &format, format_help},
        {"min-rating", CLI_STRING, &min_rating, "drop interactions rated below this (default: keep all)"},
        {"user-core", CLI_INT, &user_core, "keep users with at least this many interactions (k-core)"},
        {"item-core", CLI_INT, &item_core, "keep items with at least this many interactions (k-core)"},
        {"keep-uninteracted", CLI_FLAG, &keep_uninteracted, "keep items nobody interacted with"},
        {"lenient", CLI_FLAG, &lenient, "skip and count malformed lines instead of failing"},
        {"descriptions", CLI_STRING, &descriptions, "TSV file: item_id, description"},
        {"queries", CLI_STRING, &queries, "TSV file: item_id, split (train|valid|test), query"},
        {"out", CLI_STRING, &out, "where to write the dataset"},
    };
    const char *pos[1];
    int npos;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid data import [options] <path>", pos, 1, &npos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"user-core", 0, 1000000}, {"item-core", 0, 1000000}};
    if (cli_check_ranges(opts, (int)(sizeof opts / sizeof opts[0]), ranges, 2) != 0) return CLI_EXIT_USAGE;
    if (npos != 1) {
        fprintf(stderr, "semid: error: data import needs the dataset path (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    semid_import_options io;
    semid_import_options_init(&io);
    if (parse_min_rating(min_rating, &io.min_rating) != 0) return CLI_EXIT_USAGE;
    io.user_core = user_core;
    io.item_core = item_core;
    io.lenient = lenient != 0;
    io.drop_uninteracted_items = !keep_uninteracted;
    io.descriptions_path = descriptions;
    io.queries_path = queries;
    semid_dataset ds;
    semid_status st = semid_import(format, pos[0], &io, &ds);
    if (st != SEMID_OK) return cli_report(st);
    st = semid_dataset_save(&ds, out);
    if (st == SEMID_OK)
        fprintf(stderr, "wrote %s: %d items, %d users, %lld interactions, %d queries\n", out, ds.n_items, ds.n_users,
                (long long)ds.n_interactions, ds.n_queries);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

static int cmd_stats(int argc, char **argv) {
    int json = 0;
    double head_fraction = 0.01;
    const cli_option opts[] = {
        {"json", CLI_FLAG, &json, "print JSON instead of a table"},
        {"head-fraction", CLI_DOUBLE, &head_fraction, "share of items counted as head (most popular)"},
    };
    const char *pos[1];
    int npos;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid data stats [options] <dataset.sdd | directory to import>", pos, 1, &npos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (npos != 1) {
        fprintf(stderr, "semid: error: data stats needs a dataset file (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!(head_fraction > 0 && head_fraction <= 1)) {
        fprintf(stderr, "semid: error: --head-fraction must be in (0, 1]\n");
        return CLI_EXIT_USAGE;
    }
    struct stat sb;
    semid_dataset ds;
    semid_status st = stat(pos[0], &sb) == 0 && S_ISDIR(sb.st_mode) ? semid_import("auto", pos[0], NULL, &ds)
                                                                     : semid_dataset_load(pos[0], &ds);
    if (st != SEMID_OK) return cli_report(st);
    semid_dataset_stats s;
    st = semid_dataset_compute_stats(&ds, head_fraction, &s);
    if (st == SEMID_OK) {
        if (json) {
            cJSON *o = semid_dataset_stats_json(&s);
            char *text = o ? cJSON_Print(o) : NULL;
            if (text) printf("%s\n", text);
            else st = SEMID_ENOMEM;
            free(text);
            cJSON_Delete(o);
        } else {
            char *table = semid_dataset_stats_table(&s);
            if (table) printf("%s", table);
            else st = SEMID_ENOMEM;
            free(table);
        }
    }
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

static int cmd_export(int argc, char **argv) {
    const char *out = NULL;
    const cli_option opts[] = {
        {"out", CLI_STRING, &out, "directory to write items.tsv, interactions.tsv and queries.tsv into"},
    };
    const char *pos[1];
    int npos;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid data export DATASET.sdd --out DIR\n\n"
                      "Writes the dataset in the generic TSV layout (docs/formats.md); `semid data import DIR\n"
                      "--keep-uninteracted` reads it back.",
                      pos, 1, &npos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (npos != 1 || !out) {
        fprintf(stderr, "semid: error: data export needs a dataset file and --out DIR (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    semid_dataset ds;
    semid_status st = semid_dataset_load(pos[0], &ds);
    if (st != SEMID_OK) return cli_report(st);
    st = semid_dataset_export_generic(&ds, out);
    if (st == SEMID_OK)
        printf("wrote %s: %d items, %lld interactions, %d queries\n", out, ds.n_items, (long long)ds.n_interactions,
               ds.n_queries);
    semid_dataset_free(&ds);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_data_help();
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "import") == 0) return cmd_import(argc - 1, argv + 1);
    if (strcmp(sub, "stats") == 0) return cmd_stats(argc - 1, argv + 1);
    if (strcmp(sub, "synth") == 0) return cmd_data_synth(argc - 1, argv + 1);
    if (strcmp(sub, "queries") == 0) return cmd_data_queries(argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0) return cmd_export(argc - 1, argv + 1);
    fprintf(stderr, "semid: error: unknown data subcommand '%s' (see semid data --help)\n", sub);
    return CLI_EXIT_USAGE;
}
