#include "data/test_sample.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"

/* Streams of the seed, one per side, so the query sample does not move
 * when the user limit changes. */
enum { STREAM_QUERIES = 1, STREAM_USERS = 2 };

void semid_dataset_clear_test_sample(semid_dataset *ds) {
    free(ds->test_left_out_queries);
    free(ds->test_left_out_users);
    ds->test_left_out_queries = ds->test_left_out_users = NULL;
}

/* Marks all but `keep` of the n candidates (indices in cand) left out:
 * a partial Fisher-Yates shuffle picks the kept ones. *flags is NULL when
 * nothing is left out. */
static semid_status leave_out(int32_t *cand, int64_t n, int64_t keep, int64_t size, semid_rng rng, uint8_t **flags) {
    *flags = NULL;
    if (keep <= 0 || keep >= n) return SEMID_OK;
    *flags = malloc((size_t)(size > 0 ? size : 1));
    if (!*flags) return semid_fail(SEMID_ENOMEM, "test sample: out of memory for %lld flags", (long long)size);
    memset(*flags, 0, (size_t)size);
    for (int64_t i = 0; i < keep; i++) {
        int64_t j = i + (int64_t)semid_rng_below(&rng, (uint64_t)(n - i));
        int32_t t = cand[i];
        cand[i] = cand[j];
        cand[j] = t;
    }
    for (int64_t i = keep; i < n; i++) (*flags)[cand[i]] = 1;
    return SEMID_OK;
}

semid_status semid_dataset_sample_test(semid_dataset *ds, int64_t max_queries, int64_t max_users, uint64_t seed,
                                       semid_test_sample *out) {
    if (max_queries < 0 || max_users < 0)
        return semid_fail(SEMID_EINVAL, "test sample: limits must be >= 0 (0 = no limit), got %lld queries and %lld users",
                          (long long)max_queries, (long long)max_users);
    semid_dataset_clear_test_sample(ds);
    int64_t biggest = ds->n_queries > ds->n_users ? ds->n_queries : ds->n_users;
    int32_t *cand = malloc((size_t)(biggest > 0 ? biggest : 1) * sizeof *cand);
    if (!cand) return semid_fail(SEMID_ENOMEM, "test sample: out of memory");
    semid_rng base;
    semid_rng_seed(&base, seed);
    int64_t nq = 0, nu = 0;
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (ds->queries[q].split == SEMID_SPLIT_TEST) cand[nq++] = q;
    uint8_t *left_q = NULL, *left_u = NULL;
    semid_status st = leave_out(cand, nq, max_queries, ds->n_queries, semid_rng_fork(&base, STREAM_QUERIES), &left_q);
    if (st == SEMID_OK) {
        for (int32_t u = 0; u < ds->n_users; u++)
            if (semid_dataset_user_split(ds, u).test_item >= 0) cand[nu++] = u;
        st = leave_out(cand, nu, max_users, ds->n_users, semid_rng_fork(&base, STREAM_USERS), &left_u);
    }
    free(cand);
    if (st != SEMID_OK) {
        free(left_q);
        return st;
    }
    ds->test_left_out_queries = left_q;
    ds->test_left_out_users = left_u;
    if (out) {
        out->queries_total = nq;
        out->queries = left_q ? max_queries : nq;
        out->users_total = nu;
        out->users = left_u ? max_users : nu;
    }
    return SEMID_OK;
}
