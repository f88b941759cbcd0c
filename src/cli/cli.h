/* Shared pieces of the `semid` command-line tool: the subcommand entry
 * points and a small option parser, so every subcommand reads flags and
 * reports errors the same way. Only the CLI prints to stdout or exits. */
#ifndef SEMID_CLI_CLI_H
#define SEMID_CLI_CLI_H

#include <stdint.h>

#include "semid/semid.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_ERROR = 1, CLI_EXIT_USAGE = 2 };

typedef enum { CLI_STRING, CLI_INT, CLI_INT64, CLI_FLOAT, CLI_DOUBLE, CLI_FLAG } cli_type;

typedef struct cli_option {
    const char *name; /* without the dashes: "epochs" for --epochs */
    cli_type type;
    void *dest;       /* const char **, int *, int64_t *, float *, double *, int * (flag) */
    const char *help; /* one line; the default is printed from *dest */
} cli_option;

/* Parses argv[first..argc) into the options; other arguments are collected
 * as positionals (up to max_positional). Prints usage on --help (returns 1)
 * and a message naming the bad flag or value on error (returns -1); 0 when
 * parsed. `usage` is the first line of the help text. */
int cli_parse(int argc, char **argv, int first, const cli_option *opts, int n_opts, const char *usage,
              const char **positional, int max_positional, int *n_positional);

/* The accepted range of a numeric option, inclusive. */
typedef struct cli_range {
    const char *name; /* the option's name, as in cli_option */
    double min, max;
} cli_range;

/* After cli_parse: checks each ranged option's value (given or default),
 * printing "semid: error: --NAME: V is out of range: it must be in MIN..MAX"
 * for the first that is outside. Returns 0 when all are in range, else -1. */
int cli_check_ranges(const cli_option *opts, int n_opts, const cli_range *ranges, int n_ranges);

/* The machine's physical memory in bytes (0 if unknown). */
int64_t cli_physical_memory(void);

/* Prints "semid: error: <last error>" to stderr and returns CLI_EXIT_ERROR. */
int cli_report(semid_status st);

/* The subcommands: each gets argv with argv[0] = its own name. */
int cmd_data(int argc, char **argv);
/* semid data synth / semid data queries (cmd_data_gen.c) */
int cmd_data_synth(int argc, char **argv);
int cmd_data_queries(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_sid(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_catalog(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
