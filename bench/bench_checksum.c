/* Checksum throughput (base/checksum.c) and what verification adds to a
 * load: XXH64 over a buffer in memory (GB/s, one thread), beside the
 * byte-at-a-time FNV-1a the .sdd dataset trailer uses; then a model
 * checkpoint loaded with and without verification (SEMID_NO_VERIFY),
 * alternately, from the page cache; medians of `reps` runs.
 *
 *   bench_checksum [mb (256)] [reps (5)] [dir (/tmp)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "gen/model.h"
#include "bench_stats.h"

enum { MAX_REPS = 31 };

static uint64_t fnv1a(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

int main(int argc, char **argv) {
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *dir = argc > 3 ? argv[3] : "/tmp";
    if (mb < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_checksum [mb >= 1] [reps 1..%d] [dir]\n", MAX_REPS);
        return 2;
    }
    size_t bytes = mb << 20;
    float *buf = malloc(bytes);
    if (!buf) return 1;
    for (size_t i = 0; i < bytes / sizeof(float); i++) buf[i] = (float)(i % 1000) * 0.001f;

    double t[MAX_REPS];
    uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = semid_now();
        sink ^= semid_xxh64(buf, bytes);
        t[r] = semid_now() - t0;
    }
    double xxh = bench_median(t, reps);
    int fnv_reps = reps < 3 ? reps : 3;
    for (int r = 0; r < fnv_reps; r++) {
        double t0 = semid_now();
        sink ^= fnv1a(buf, bytes);
        t[r] = semid_now() - t0;
    }
    double fnv = bench_median(t, fnv_reps);
    printf("hash %zu MB in memory: XXH64 %.2f GB/s (%.1f ms), FNV-1a %.2f GB/s (%.1f ms)  [%016llx]\n", mb,
           (double)bytes / xxh / 1e9, xxh * 1e3, (double)bytes / fnv / 1e9, fnv * 1e3, (unsigned long long)sink);

    /* A model checkpoint loaded as semid loads one (semid_gpt_load: read,
     * verify, copy every tensor out): width 512, 8 layers, vocabulary
     * 16,384, context 64, 33.8M parameters, 135 MB. */
    free(buf);
    char path[512];
    snprintf(path, sizeof path, "%s/bench_checksum.%ld.safetensors", dir, (long)getpid());
    semid_gpt_config cfg = {.vocab_size = 16384, .max_seq_len = 64, .n_layer = 8, .n_head = 8, .d_model = 512};
    semid_gpt *m = NULL;
    if (semid_gpt_create(&cfg, 1, &m) != SEMID_OK || semid_gpt_save(m, path, NULL) != SEMID_OK) {
        fprintf(stderr, "bench_checksum: %s\n", semid_last_error());
        return 1;
    }
    int64_t n_params = 0;
    semid_gpt_params(m, &n_params);
    semid_gpt_free(m);
    double load[2][MAX_REPS];
    for (int r = 0; r < reps + 1; r++) { /* alternated; the first round warms the page cache */
        for (int verify = 1; verify >= 0; verify--) {
            if (verify) unsetenv("SEMID_NO_VERIFY");
            else setenv("SEMID_NO_VERIFY", "1", 1);
            double t0 = semid_now();
            if (semid_gpt_load(path, &m, NULL) != SEMID_OK) {
                fprintf(stderr, "bench_checksum: %s\n", semid_last_error());
                return 1;
            }
            if (r > 0) load[verify][r - 1] = semid_now() - t0;
            semid_gpt_free(m);
        }
    }
    unsetenv("SEMID_NO_VERIFY");
    unlink(path);
    double on = bench_median(load[1], reps), off = bench_median(load[0], reps);
    printf("load a model of %.1fM parameters (%.0f MB): %.1f ms verified, %.1f ms with SEMID_NO_VERIFY=1 (+%.1f%%)\n",
           (double)n_params / 1e6, (double)n_params * 4 / 1048576.0, on * 1e3, off * 1e3, 100.0 * (on - off) / off);
    return 0;
}
