/* Shared by `semid search`, `semid recommend` and `semid eval` (cli_gen.c):
 * the decoding options every one of them takes, loading a model bundle,
 * reading a batch of queries or histories (TSV or JSONL) and writing ranked
 * items as TSV or JSON lines. */
#ifndef SEMID_CLI_CLI_GEN_H
#define SEMID_CLI_CLI_GEN_H

#include <stdint.h>

#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "gen/generate.h"

/* The options the decoding commands share (cli_gen_parse). */
typedef struct cli_gen_args {
    const char *model;
    const char *format; /* "tsv" or "json" */
    int k, beam, diverse, threads, keep, exclude;
    double expand;      /* --expand-prefix SHARE (0 = off) */
    const cli_dense_args *dense; /* --rerank dense (NULL = off; cli_dense.h) */
} cli_gen_args;

/* Bounds of --k and --beam (the library refuses a decode whose memory
 * estimate exceeds its limit, whatever the beam). */
enum { CLI_GEN_MAX_K = 1000, CLI_GEN_MAX_BEAM = 10000 };

/* Optional parts of the shared options. */
enum { CLI_GEN_HISTORY = 1, CLI_GEN_FORMAT = 2 };

/* Defaults: k = `k`, beam 30, TSV. */
cli_gen_args cli_gen_args_default(int k);
/* cli_parse with the shared options (model, k, beam, diverse, threads;
 * keep-history and exclude-history with CLI_GEN_HISTORY; format with
 * CLI_GEN_FORMAT) followed by `extra` (at most 16), then checks them (--k
 * in 1..CLI_GEN_MAX_K, --beam in 1..CLI_GEN_MAX_BEAM, --threads in
 * 0..semid_threads_limit(), --format tsv or json, not both history flags,
 * --model given). Returns -1 to go on, else the exit code to return (help
 * shown, or a usage error reported). */
int cli_gen_parse(int argc, char **argv, cli_gen_args *a, int parts, const cli_option *extra, int n_extra,
                  const char *usage, const char **pos, int max_pos, int *n_pos, const char *command);
/* Sets the thread count and loads a->model. */
semid_status cli_gen_load(const cli_gen_args *a, semid_gen_bundle **out);
/* --k, --beam, --diverse and the history flags as decode options. */
semid_gen_decode_options cli_gen_decode_options(const cli_gen_args *a);

/* A note on stderr when --diverse caps the results below --k (the diverse
 * search decodes a fixed 60 beams). */
void cli_gen_note_diverse_cap(const cli_gen_args *a, const semid_gen_decode_options *o);

/* A note on stderr for a query or history with no result, naming the cause
 * (for a recommendation that leaves out its history: a history that holds
 * every item, or every item the beams reached). */
void cli_gen_note_empty(const semid_gen_bundle *b, const semid_gen_decode_options *o, int task, const int32_t *history,
                        int64_t n_history);

/* Prints "rank<TAB>item_id<TAB>score<TAB>title" lines for query q of hits
 * (a header line first). */
void cli_gen_print_hits(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q);

/* Writes query q of hits as one JSON line: {"id" (when id is not NULL),
 * `key`: `input`, "results": [{"id", "title", "score", "sid": [codes]}]}
 * where sid holds the item's level-local codes for `task`. Takes `input`
 * (may be NULL: no key). */
semid_status cli_gen_print_json(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q, int task,
                                const char *id, const char *key, cJSON *input);

/* --history ID,ID,... as item indices (*items allocated): an unknown id
 * is an error naming it, as is a list without ids. */
semid_status cli_gen_parse_history(const semid_gen_bundle *b, const char *history, int32_t **items, int64_t *n);

/* The ids of history items as a JSON array of strings (NULL on allocation
 * failure). */
cJSON *cli_gen_history_json(const semid_gen_bundle *b, const int32_t *items, int64_t n);

/* A batch of queries (search) or histories (recommend) read from a file. */
typedef struct cli_batch {
    int task;          /* SEMID_TASK_SEARCH or SEMID_TASK_REC */
    int64_t n;
    int64_t cap;
    char **ids;        /* (n) record ids: the file's, or the line number */
    int64_t *line_no;  /* (n) */
    char **queries;    /* search: (n) query texts */
    int32_t *n_words;  /* search: (n) words in each query */
    int64_t *hist_off; /* rec: (n + 1) offsets into hist */
    int32_t *hist;     /* rec: item indices, oldest first */
    int64_t hist_cap;
} cli_batch;

/* Reads and checks every line of `path` ("-" = stdin) before anything is
 * decoded: TSV (ID<TAB>TEXT, or TEXT alone with the line number as id; an
 * optional header query_id / user_id skipped) or JSONL ({"id", "query"} or
 * {"id", "history": [...]}), JSONL when the first non-blank byte is '{' or
 * the name ends in .jsonl. Empty lines are skipped. An empty query, an
 * unknown item id, an empty history or a malformed line is an error naming
 * FILE:LINE. */
semid_status cli_batch_read(const char *path, int task, const semid_gen_bundle *b, cli_batch *out);
void cli_batch_free(cli_batch *batch);

/* Decodes the batch CLI_BATCH_CHUNK records at a time and writes each
 * record's hits to stdout as TSV (ID, rank, item_id, score, title; a header
 * first) or, with json set, one JSON line per record; notes on stderr. */
enum { CLI_BATCH_CHUNK = 256 };
semid_status cli_batch_run(const semid_gen_bundle *b, const cli_batch *batch, const semid_gen_decode_options *o,
                           int json, const char *path,
                           const cli_dense *dense);

/* The body of search and recommend: loads the model, then decodes the
 * file batch_path (cli_batch_read, cli_batch_run) or, when it is NULL, calls
 * single(bundle, options, json, ctx) for the one query of the command line.
 * Returns the exit code (errors reported). */
typedef semid_status (*cli_gen_single_fn)(const semid_gen_bundle *b, const semid_gen_decode_options *o, int json,
                                          const void *ctx);
int cli_gen_run(const cli_gen_args *a, int task, const char *batch_path, cli_gen_single_fn single, const void *ctx);

#endif
