/* What data-parallel training sends per step (docs/distributed.md): the
 * bucketed sum of a flat gradient of `floats` values plus the step's five
 * counts (semid_dist_allreduce_sum, as train.c's share_gradients calls it),
 * timed over `reps` steps after a warm-up; rank 0 prints the median, the
 * 90th percentile and the bytes each rank sends. Run it under mpirun:
 *
 *   mpirun --oversubscribe -np 2 build/release/bench_dist_allreduce [floats (1383936)] [reps (50)] [bucket (0 = default)]
 *
 * 1,383,936 is the parameter count of the 2 x 128 model on ML-1M (bench/README.md, Training). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "dist/dist.h"

enum { MAX_REPS = 1000 };

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (semid_dist_init(&argc, &argv) != SEMID_OK) {
        fprintf(stderr, "bench_dist_allreduce: %s\n", semid_last_error());
        return 1;
    }
    int64_t n = argc > 1 ? atoll(argv[1]) : 1383936;
    int reps = argc > 2 ? atoi(argv[2]) : 50;
    int64_t bucket = argc > 3 ? atoll(argv[3]) : 0;
    if (n < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_dist_allreduce [floats >= 1] [reps 1..%d] [bucket floats]\n", MAX_REPS);
        return 2;
    }
    float *grads = malloc((size_t)n * sizeof *grads);
    float counts[5] = {0};
    static double times[MAX_REPS];
    if (!grads) return 1;
    for (int64_t i = 0; i < n; i++) grads[i] = (float)((i * 7919) % 1000) * 1e-6f;
    semid_dist_span spans[2] = {{grads, n}, {counts, 5}};
    int calls = 0;
    for (int r = -3; r < reps; r++) { /* three to warm up the connections */
        double t0 = semid_now();
        if (semid_dist_allreduce_sum(spans, 2, bucket, &calls) != SEMID_OK) {
            fprintf(stderr, "bench_dist_allreduce: %s\n", semid_last_error());
            semid_dist_abort(1);
            return 1;
        }
        if (r >= 0) times[r] = semid_now() - t0;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    if (semid_dist_rank() == 0) {
        double mb = (double)(n + 5) * sizeof(float) / 1e6;
        printf("ranks %d, %lld floats (%.2f MB) + 5 counts, %d MPI call%s a step: median %.3f ms, p90 %.3f ms, "
               "%.0f MB/s of gradient\n",
               semid_dist_size(), (long long)n, mb, calls, calls == 1 ? "" : "s", 1e3 * times[reps / 2],
               1e3 * times[(reps * 9) / 10], mb / times[reps / 2]);
    }
    free(grads);
    semid_dist_finalize();
    return 0;
}
