/* Helpers shared by the tests: temporary directories, small files, running
 * the semid binary. */
#ifndef SEMID_TESTS_TESTUTIL_H
#define SEMID_TESTS_TESTUTIL_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); caller frees the path and
 * removes the tree with test_rm_rf. */
char *test_make_tmpdir(void);
void test_rm_rf(const char *path);
/* Writes `text` to dir/name; returns the full path (caller frees). */
char *test_write_file(const char *dir, const char *name, const char *text);
/* Runs a shell command, capturing stdout+stderr into *output (caller
 * frees, may be NULL). Returns the exit status (-1: killed by a signal). */
int test_run_shell(const char *command, char **output);
/* Runs "<semid binary> <args>" through the shell, capturing stdout+stderr
 * into *output (caller frees, may be NULL). Returns the exit status. */
int test_run_cli(const char *args, char **output);
/* test_run_cli with printf-style arguments. */
int test_run_clif(char **output, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes, with the CLI, a tiny trained bundle in dir: a synthetic dataset of
 * `items` items and `users` users (dir/ds.sdd), content embeddings
 * (dir/emb/content.npy), 2 x 8 content IDs (dir/sid.json, disambiguated;
 * the tokenizer in dir/tok.bin) and a 1-layer,
 * width-16 model (dir/model). Returns 0, or the failing step's exit status
 * after printing its output. */
int test_cli_tiny_model(const char *dir, int items, int users);

/* Checksum verification off (SEMID_NO_VERIFY=1) and on again: tests that
 * damage a file on purpose to reach a loader's later checks turn it off. */
void test_verify_off(void);
void test_verify_on(void);

#endif
