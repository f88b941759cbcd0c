#include "gen/task_mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"

static const uint64_t ORDER_STREAM = 0x0de5u;

double semid_gen_search_share(int64_t ns, int64_t nr, double search_share) {
    if (ns <= 0 || nr <= 0) return 0;
    if (search_share != SEMID_GEN_SHARE_AUTO) return search_share;
    double m = SEMID_GEN_AUTO_RATIO;
    if ((double)ns > m * (double)nr) return m / (1 + m);
    if ((double)nr > m * (double)ns) return 1 / (1 + m);
    return 0;
}

int64_t semid_gen_search_slots(int64_t ns, int64_t nr, double share) {
    return share > 0 ? (int64_t)llround(share * (double)(ns + nr)) : ns;
}

semid_status semid_gen_epoch_order(const semid_gen_epoch_mix *mix, uint64_t seed, int64_t epoch, int64_t *order) {
    semid_rng base, r;
    semid_rng_seed(&base, seed);
    r = semid_rng_fork(&base, ORDER_STREAM + (uint64_t)epoch);
    int64_t ns = mix->ns, nr = mix->nr, n_two = ns + nr;
    if (mix->share > 0 && ns > 0 && nr > 0) {
        /* Search slots cycle through a shuffled list of search sequences,
         * rec slots through the rec ones (sequences are search first). */
        int64_t slots_s = semid_gen_search_slots(ns, nr, mix->share);
        for (int64_t j = 0; j < ns; j++) order[j] = j;
        semid_rng_shuffle_i64(&r, order, (size_t)ns);
        for (int64_t j = ns; j < slots_s; j++) order[j] = order[j % ns];
        int64_t *rec = order + slots_s, n_rec = n_two - slots_s;
        if (n_rec > 0) {
            for (int64_t j = 0; j < n_rec && j < nr; j++) rec[j] = ns + j;
            if (n_rec < nr) { /* a random subset of rec sequences */
                int64_t *all = malloc((size_t)nr * sizeof *all);
                if (!all) return semid_fail(SEMID_ENOMEM, "out of memory");
                for (int64_t j = 0; j < nr; j++) all[j] = ns + j;
                semid_rng_shuffle_i64(&r, all, (size_t)nr);
                memcpy(rec, all, (size_t)n_rec * sizeof *all);
                free(all);
            } else {
                semid_rng_shuffle_i64(&r, rec, (size_t)nr);
                for (int64_t j = nr; j < n_rec; j++) rec[j] = rec[j % nr];
            }
        }
    } else {
        for (int64_t j = 0; j < n_two; j++) order[j] = j;
    }
    /* Personalised-search slots cycle through a shuffled list of those
     * sequences (after the others in the pool); none: the two-task order. */
    int64_t np = mix->np, n_ps = mix->personal_slots, *ps = order + n_two;
    for (int64_t j = 0; j < n_ps && j < np; j++) ps[j] = ns + nr + j;
    if (n_ps > 0) semid_rng_shuffle_i64(&r, ps, (size_t)(np < n_ps ? np : n_ps));
    for (int64_t j = np; j < n_ps; j++) ps[j] = ps[j % np];
    semid_rng_shuffle_i64(&r, order, (size_t)(n_two + n_ps));
    return SEMID_OK;
}
