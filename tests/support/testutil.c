#include "support/testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *test_make_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/semid-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    return dir ? strdup(dir) : NULL;
}

void test_rm_rf(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

char *test_write_file(const char *dir, const char *name, const char *text) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(path);
        return NULL;
    }
    fputs(text, fp);
    fclose(fp);
    return path;
}

int test_run_shell(const char *command, char **output) {
    size_t n = strlen(command) + 16;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s 2>&1", command);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int status = pclose(p);
    if (output) *output = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int test_run_cli(const char *args, char **output) {
    size_t n = strlen(SEMID_CLI_PATH) + strlen(args) + 2;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s %s", SEMID_CLI_PATH, args);
    int rc = test_run_shell(cmd, output);
    free(cmd);
    return rc;
}

int test_run_clif(char **output, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *args = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(args, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = test_run_cli(args, output);
    free(args);
    return rc;
}

int test_cli_tiny_model(const char *dir, int items, int users) {
    char *out = NULL;
    int rc = test_run_clif(&out,
                           "data synth --items %d --users %d --history 8 --min-history 5 --topics 4 "
                           "--queries-per-item 3 --queries-train 2 --seed 7 --out %s/ds.sdd",
                           items, users, dir);
    if (rc == 0) {
        free(out);
        rc = test_run_clif(&out, "embed --method content --dataset %s/ds.sdd --out %s/emb --threads 1", dir, dir);
    }
    if (rc == 0) {
        free(out);
        rc = test_run_clif(&out,
                           "sid build --embeddings %s/emb/content.npy --method rqkmeans --levels 2 --codebook 8 "
                           "--disambiguate --out %s/sid.json --tokenizer-out %s/tok.bin --threads 1",
                           dir, dir, dir);
    }
    if (rc == 0) {
        free(out);
        rc = test_run_clif(&out,
                           "train --dataset %s/ds.sdd --sids %s/sid.json --out %s/model --layers 1 --dim 16 --heads 2 "
                           "--epochs 1 --batch 16 --threads 1 --valid-sample 10 --quiet",
                           dir, dir, dir);
    }
    if (rc != 0) fprintf(stderr, "tiny model in %s: a step failed (%d):\n%s\n", dir, rc, out ? out : "");
    free(out);
    return rc;
}

void test_verify_off(void) { setenv("SEMID_NO_VERIFY", "1", 1); }
void test_verify_on(void) { unsetenv("SEMID_NO_VERIFY"); }
