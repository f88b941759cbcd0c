/* Dataset layer throughput on MovieLens 1M (generic layout): import, split
 * (leave-last-out for every user plus head items), save, load; wall time
 * of each step (median of `reps` runs) and the peak resident memory.
 *
 *   bench_data_import [DATA_DIR (../shared/data/ml-1m)] [FORMAT (auto)] [reps (3)]
 *
 * Target: import + split under 2 s and under 500 MB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/dataset.h"
#include "data/import.h"
#include "bench_stats.h"

enum { MAX_REPS = 15 };

static int fail(const char *what) {
    fprintf(stderr, "bench_data_import: %s: %s\n", what, semid_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/data/ml-1m";
    const char *format = argc > 2 ? argv[2] : "auto";
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (reps < 1 || reps > MAX_REPS) reps = 3;
    if (!semid_path_exists(dir)) {
        printf("bench_data_import: %s not found; nothing to measure\n", dir);
        return 0;
    }
    semid_set_log_level(SEMID_LOG_WARN);
    char out[256];
    snprintf(out, sizeof out, "/tmp/bench_data_import.%ld.sdd", (long)getpid());
    double t_import[MAX_REPS], t_split[MAX_REPS], t_save[MAX_REPS], t_load[MAX_REPS];
    semid_dataset ds = {0};
    int64_t checksum = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = semid_now();
        if (semid_import(format, dir, NULL, &ds) != SEMID_OK) return fail("import");
        double t1 = semid_now();
        /* The split every consumer computes: per-user ranges and head items. */
        semid_user_split *splits = malloc((size_t)ds.n_users * sizeof *splits);
        uint8_t *head = malloc((size_t)ds.n_items);
        if (!splits || !head) return fail("out of memory");
        for (int32_t u = 0; u < ds.n_users; u++) splits[u] = semid_dataset_user_split(&ds, u);
        int32_t n_head = semid_dataset_head_items(&ds, 0.01, head);
        double t2 = semid_now();
        int64_t train = 0, evaluable = 0;
        for (int32_t u = 0; u < ds.n_users; u++) {
            train += splits[u].train_end - splits[u].train_begin;
            evaluable += splits[u].test_item >= 0;
        }
        checksum = train * 31 + evaluable + n_head;
        if (semid_dataset_save(&ds, out) != SEMID_OK) return fail("save");
        double t3 = semid_now();
        semid_dataset back;
        if (semid_dataset_load(out, &back) != SEMID_OK) return fail("load");
        double t4 = semid_now();
        if (back.n_interactions != ds.n_interactions) return fail("round trip");
        if (r == 0)
            printf("dataset %s: %d items, %d users, %lld interactions, %d queries; %lld train, %lld users with a "
                   "test item, %d head items\n",
                   ds.name, ds.n_items, ds.n_users, (long long)ds.n_interactions, ds.n_queries, (long long)train,
                   (long long)evaluable, n_head);
        semid_dataset_free(&back);
        semid_dataset_free(&ds);
        free(splits);
        free(head);
        t_import[r] = t1 - t0;
        t_split[r] = t2 - t1;
        t_save[r] = t3 - t2;
        t_load[r] = t4 - t3;
    }
    unlink(out);
    double mi = bench_median(t_import, reps), ms = bench_median(t_split, reps);
    printf("median of %d runs (checksum %lld)\n", reps, (long long)checksum);
    printf("  import        %8.3f s\n", mi);
    printf("  split         %8.3f s\n", ms);
    printf("  save          %8.3f s (atomic, fsync)\n", bench_median(t_save, reps));
    printf("  load          %8.3f s\n", bench_median(t_load, reps));
    printf("  import+split  %8.3f s  (target < 2 s)\n", mi + ms);
    printf("  peak RSS      %8.1f MB (target < 500 MB)\n", (double)semid_peak_rss_bytes() / 1e6);
    return 0;
}
