/* Shared by `semid experiment` and `semid demo`: run and print the summary. */
#ifndef SEMID_CLI_EXPERIMENT_RUN_H
#define SEMID_CLI_EXPERIMENT_RUN_H

#include "exp/config.h"

int cli_run_experiment(exp_config *cfg, const char *out_dir);

#endif
