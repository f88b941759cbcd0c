/* The collectives of dist/dist.h in a process no launcher started (and in
 * a build without MPI): one rank of one, each returning its input as the
 * result, so that trainers call them unconditionally. The runs of several
 * ranks are tests/test_cli_mpi.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dist/dist.h"

static void test_one_rank_collectives(void **state) {
    (void)state;
    int argc = 1;
    char *args[] = {"test", NULL}, **argv = args;
    assert_int_equal(semid_dist_init(&argc, &argv), SEMID_OK);
    assert_int_equal(semid_dist_rank(), 0);
    assert_int_equal(semid_dist_size(), 1);
    /* the gather of one rank is its own array */
    const float own[3] = {1.5f, -2.0f, 7.0f};
    float all[3] = {0};
    const int64_t counts[1] = {3};
    assert_int_equal(semid_dist_allgatherv(own, all, counts, sizeof *own), SEMID_OK);
    assert_memory_equal(all, own, sizeof own);
    assert_int_equal(semid_dist_allgatherv(all, all, counts, sizeof *all), SEMID_OK); /* in place */
    assert_memory_equal(all, own, sizeof own);
    const int64_t none[1] = {0};
    assert_int_equal(semid_dist_allgatherv(NULL, NULL, none, sizeof(float)), SEMID_OK);
    /* a union and a sum of one rank change nothing */
    uint64_t bits[2] = {UINT64_C(0x8000000000000001), 6};
    assert_int_equal(semid_dist_allreduce_or(bits, 2), SEMID_OK);
    assert_true(bits[0] == UINT64_C(0x8000000000000001) && bits[1] == 6);
    float g[4] = {1, 2, 3, 4};
    semid_dist_span spans[2] = {{g, 3}, {g + 3, 1}};
    int calls = -1;
    assert_int_equal(semid_dist_allreduce_sum(spans, 2, 2, &calls), SEMID_OK);
    assert_int_equal(calls, 0);
    assert_true(g[0] == 1 && g[3] == 4);
    assert_int_equal(semid_dist_agree(SEMID_OK), SEMID_OK);
    assert_int_equal(semid_dist_check_same(7, "a value"), SEMID_OK);
    semid_dist_finalize();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_rank_collectives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
