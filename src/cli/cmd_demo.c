/* semid demo: the experiment's quick preset on the built-in synthetic data. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/experiment_run.h"
#include "exp/config.h"

static const char *USAGE =
    "usage: semid demo [--out DIR] [--threads N]\n\n"
    "Runs `semid experiment --preset quick` on the built-in synthetic dataset (no download): embeddings,\n"
    "Semantic IDs for every strategy, one joint generative model each, and the report.";

int cmd_demo(int argc, char **argv) {
    const char *out = "runs/demo";
    int threads = 0;
    cli_option opts[] = {
        {"out", CLI_STRING, &out, "run directory"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
    };
    int n_pos = 0;
    int rc = cli_parse(argc, argv, 1, opts, sizeof opts / sizeof opts[0], USAGE, NULL, 0, &n_pos);
    if (rc != 0) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    exp_config cfg;
    exp_config_preset(&cfg, "quick");
    cfg.threads = threads;
    printf("semid demo: the quick experiment on built-in synthetic data, into %s\n", out);
    fflush(stdout);
    return cli_run_experiment(&cfg, out);
}
