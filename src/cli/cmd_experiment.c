/* semid experiment: the paper's whole comparison on one dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/names.h"
#include "cli/cli.h"
#include "cli/experiment_run.h"
#include "data/import.h"
#include "exp/config.h"
#include "exp/runner.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"

static const char *USAGE =
    "usage: semid experiment [--preset quick|paper] [--config FILE.json] [--dataset PATH] [--out DIR] [key=value ...]\n\n"
    "Runs embeddings -> Semantic IDs for every strategy and tokenizer -> one joint generative model per strategy\n"
    "and seed -> Recall@K and NDCG@K, and writes results.json, report.md and tradeoff.svg into --out.\n"
    "Stages are cached there: running again resumes, and a changed setting recomputes only what depends on it.\n"
    "key=value overrides any configuration key, e.g. model.epochs=3 seeds=[1,2,3] sid.strategies=search,rec,multi.\n"
    "Early stopping: model.patience=N stops a model after N epochs without a better validation score, not before\n"
    "model.min_epochs, at most model.epochs (model.patience=0: every epoch runs).\n"
    "model.search_share: the tasks' mix, auto (a fifth of each epoch to the smaller task where the other has over\n"
    "4x its sequences, else as in the data), 0 (as in the data) or search's share of each epoch.\n"
    "--dataset takes 'synthetic', a dataset saved by `semid data import`, or a directory to import.";

/* The usage and the names each list key takes, from the tables. */
static const char *usage_with_names(char *buf, size_t cap) {
    char strategies[256], tokenizers[256], formats[256];
    snprintf(buf, cap, "%s\nsid.strategies: %s\nsid.ablation: %s\ndataset_format: %s", USAGE,
             semid_names_join(semid_strategy_name_at, strategies, sizeof strategies),
             semid_names_join(semid_tokenizer_name_at, tokenizers, sizeof tokenizers),
             semid_import_formats(formats, sizeof formats));
    return buf;
}

int cli_run_experiment(exp_config *cfg, const char *out_dir) {
    exp_results res;
    semid_status st = exp_run(cfg, out_dir, &res);
    if (st != SEMID_OK) {
        exp_results_free(&res);
        return cli_report(st);
    }
    char *table = exp_report_main_table_text(&res);
    printf("\n%s (%.0f s)\n\n%s\n", res.dataset_summary, res.seconds, table ? table : "");
    int failed = 0;
    for (int i = 0; i < res.n_rows; i++) failed += res.rows[i].failed[0] != '\0';
    if (failed) printf("%d row(s) failed: see the report.\n", failed);
    printf("report: %s/report.md\nplot:   %s/tradeoff.svg\nfigures: %s/results.json\n", out_dir, out_dir, out_dir);
    free(table);
    exp_results_free(&res);
    return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

int cmd_experiment(int argc, char **argv) {
    const char *preset = "quick", *config = NULL, *dataset = NULL, *out = "runs/experiment";
    int threads = -1, wait = 0;
    cli_option opts[] = {
        {"preset", CLI_STRING, &preset,
         "quick (minutes) or paper (the paper's protocol: 5 seeds, models trained to their validation plateau; hours)"},
        {"config", CLI_STRING, &config, "a JSON configuration applied over the preset"},
        {"dataset", CLI_STRING, &dataset, "synthetic, a saved dataset, or a directory to import"},
        {"out", CLI_STRING, &out, "run directory (cache, results, report)"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores; default: the configuration's)"},
        {"wait", CLI_FLAG, &wait, "if another run holds --out, wait for it to finish (default: fail, naming its pid)"},
    };
    const char *overrides[64];
    int n_over = 0;
    char usage[2048];
    int rc = cli_parse(argc, argv, 1, opts, sizeof opts / sizeof opts[0], usage_with_names(usage, sizeof usage), overrides,
                       64, &n_over);
    if (rc != 0) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;

    exp_config cfg;
    semid_status st = exp_config_preset(&cfg, preset);
    if (st == SEMID_OK && config) {
        char *text;
        size_t len;
        st = semid_read_file(config, &text, &len);
        if (st == SEMID_OK) {
            st = exp_config_apply_json(&cfg, text, config);
            free(text);
        }
    }
    if (st == SEMID_OK && dataset) {
        char assignment[600];
        snprintf(assignment, sizeof assignment, "dataset=%s", dataset);
        st = exp_config_apply_override(&cfg, assignment);
    }
    for (int i = 0; st == SEMID_OK && i < n_over; i++) st = exp_config_apply_override(&cfg, overrides[i]);
    if (st == SEMID_OK && threads >= 0) cfg.threads = threads;
    cfg.wait = wait;
    if (st == SEMID_OK) st = exp_config_validate(&cfg, 0);
    if (st != SEMID_OK) {
        cli_report(st);
        return CLI_EXIT_USAGE;
    }
    return cli_run_experiment(&cfg, out);
}
