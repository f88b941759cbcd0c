#include "exp/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "text/tokenize.h"

static exp_key key_from_u64(uint64_t h) {
    exp_key k;
    snprintf(k.hex, sizeof k.hex, "%016llx", (unsigned long long)h);
    return k;
}

exp_key exp_key_make(const char *description, const exp_key *upstream) {
    uint64_t h = semid_hash_bytes(description, strlen(description), 0x5e1d5e1dULL);
    if (upstream) h = semid_hash_bytes(upstream->hex, 16, h);
    return key_from_u64(h);
}

exp_key exp_key_combine(const exp_key *a, const exp_key *b) {
    uint64_t h = semid_hash_bytes(a->hex, 16, 0x0c0ffeeULL);
    h = semid_hash_bytes(b->hex, 16, h);
    return key_from_u64(h);
}

static char *marker_path(const char *run_dir, const char *stage) {
    size_t n = strlen(run_dir) + strlen(stage) + 16;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.done", run_dir, stage);
    return p;
}

bool exp_stage_fresh(const char *run_dir, const char *stage, const exp_key *key) {
    char *path = marker_path(run_dir, stage);
    if (!path) return false;
    char *data = NULL;
    size_t len = 0;
    bool fresh = semid_read_file(path, &data, &len) == SEMID_OK && len >= 16 && memcmp(data, key->hex, 16) == 0;
    free(data);
    free(path);
    semid_clear_error();
    return fresh;
}

semid_status exp_stage_mark(const char *run_dir, const char *stage, const exp_key *key) {
    char *path = marker_path(run_dir, stage);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    char line[32];
    int n = snprintf(line, sizeof line, "%s\n", key->hex);
    semid_status st = semid_write_file_atomic(path, line, (size_t)n);
    free(path);
    return st;
}
