/* semid: the command-line tool. Dispatches to one subcommand per file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "cli/cli.h"
#include "dist/dist.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int across_ranks; /* 1: runs under mpirun as one job of several ranks (docs/distributed.md; embed for its
                         bi-encoders alone, which it checks itself) */
} command;

static const command commands[] = {
    {"demo", cmd_demo, "run the quick experiment on the built-in synthetic data", 0},
    {"data", cmd_data, "import, synthesise, inspect datasets and generate queries", 0},
    {"embed", cmd_embed, "compute item embeddings (content, search, rec, multi, fused)", 1},
    {"baseline", cmd_baseline, "dense retrieval and popularity baselines (Recall@K)", 0},
    {"sid", cmd_sid, "build, inspect and encode Semantic IDs", 0},
    {"train", cmd_train, "train the joint generative model", 1},
    {"catalog", cmd_catalog, "add or remove items of a trained model without retraining", 0},
    {"search", cmd_search, "search with a trained model", 0},
    {"recommend", cmd_recommend, "recommend from a user's history with a trained model", 0},
    {"eval", cmd_eval, "Recall@K and NDCG@K of a trained model on a dataset's test split", 0},
    {"serve", cmd_serve, "serve a trained model over HTTP (JSON API and a page)", 0},
    {"experiment", cmd_experiment, "run the paper's whole comparison and write a report", 1},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_help(void) {
    printf("semid %s: Semantic IDs for joint generative search and recommendation\n\n", SEMID_VERSION_STRING);
    printf("usage: semid <command> [options]     (semid <command> --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) printf("  %-12s %s\n", commands[i].name, commands[i].summary);
    printf("  %-12s %s\n", "help", "show this help");
    printf("  %-12s %s\n", "version", "print the version");
    printf("\nenvironment:\n  %-16s %s\n", "SEMID_NO_VERIFY=1",
           "load files whose checksum does not match (docs/formats.md, Checksums)");
}

/* Idle OpenMP threads spin by default, and while they spin OpenBLAS's
 * threads wait for a core: on a small or shared machine a run with 2
 * threads was several times slower than with 1. libgomp reads its wait
 * policy when it loads, so the tool sets it and starts itself again, once.
 * An explicit OMP_WAIT_POLICY is respected. */
static void prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv); /* returns only on failure: carry on as we are */
}

/* A command's output that never reached its file (a full disk, a closed
 * pipe with SIGPIPE ignored) must not end in exit status 0: stdout is
 * flushed and closed here and any error reported. */
static int finish_stdout(int rc) {
    int err = 0;
    errno = 0;
    if (fflush(stdout) != 0) err = errno ? errno : EIO;
    else if (ferror(stdout)) err = EIO; /* an earlier write failed; its errno is gone */
    errno = 0;
    if (fclose(stdout) != 0 && !err) err = errno ? errno : EIO;
    if (!err) return rc;
    fprintf(stderr, "semid: error: writing the output failed: %s\n", strerror(err));
    return rc != CLI_EXIT_OK ? rc : CLI_EXIT_ERROR;
}

static int run(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            for (int i = 0; i < N_COMMANDS; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *sub_argv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, sub_argv);
                }
            }
        }
        print_help();
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("semid %s\n", SEMID_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (semid_dist_size() > 1 && !commands[i].across_ranks) {
            fprintf(stderr, "semid: error: semid %s runs as one process; under mpirun or srun only semid train, "
                            "semid experiment and semid embed --method search|multi run across ranks "
                            "(docs/distributed.md)\n", argv[1]);
            semid_dist_failure_shared(); /* every rank refuses alike */
            return CLI_EXIT_USAGE;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "semid: error: unknown command '%s' (see semid help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}

/* Under mpirun (or srun) every rank runs the same command. A failure all
 * ranks learnt of in a collective ends each of them (a non-zero exit the
 * launcher reports); a rank that failed alone ends the whole job, so that
 * no other rank waits for it in a collective. Its message, naming the
 * rank, comes first. */
int main(int argc, char **argv) {
    prefer_passive_openmp(argv);
    semid_status st = semid_dist_init(&argc, &argv);
    if (st != SEMID_OK) return cli_report(st);
    /* Rank 0 prints the results and the progress; the others' would repeat
     * them (their warnings and errors still show). */
    if (semid_dist_rank() > 0) {
        if (!freopen("/dev/null", "w", stdout)) return CLI_EXIT_ERROR;
        semid_set_log_level(SEMID_LOG_WARN);
    }
    int rc = finish_stdout(run(argc, argv));
    if (rc != CLI_EXIT_OK && semid_dist_size() > 1 && !semid_dist_failure_known()) {
        fprintf(stderr, "semid: rank %d of %d failed (exit status %d): ending the job\n", semid_dist_rank(),
                semid_dist_size(), rc);
        semid_dist_abort(rc);
    }
    semid_dist_finalize();
    return rc;
}
