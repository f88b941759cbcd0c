#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "eval/metrics.h"

static void test_single_values(void **state) {
    (void)state;
    int32_t ranked[5] = {7, 3, 9, 1, 4};
    assert_int_equal(semid_rank_of(ranked, 5, 9), 2);
    assert_int_equal(semid_rank_of(ranked, 5, 8), -1);
    assert_float_equal(semid_recall_at_k(2, 3), 1.0, 0);
    assert_float_equal(semid_recall_at_k(3, 3), 0.0, 0);
    assert_float_equal(semid_recall_at_k(-1, 3), 0.0, 0);
    assert_float_equal(semid_ndcg_at_k(0, 3), 1.0, 1e-12);
    assert_float_equal(semid_ndcg_at_k(1, 3), 1.0 / log2(3.0), 1e-12);
    assert_float_equal(semid_ndcg_at_k(2, 3), 0.5, 1e-12);
    assert_float_equal(semid_ndcg_at_k(3, 3), 0.0, 0);
}

/* Four queries, K = 2, hand computed:
 *  q0 target at rank 0 (head)   recall 1, ndcg 1
 *  q1 target at rank 1 (torso)  recall 1, ndcg 1/log2(3) = 0.63093
 *  q2 target at rank 2 (torso)  recall 0 (beyond K even though listed)
 *  q3 target absent (head)      recall 0 */
static void test_per_query_and_groups(void **state) {
    (void)state;
    semid_ranking_eval e;
    assert_int_equal(semid_ranking_eval_init(&e, 4, 2), SEMID_OK);
    int32_t l0[3] = {5, 6, 7}, l1[3] = {1, 2, 3}, l2[3] = {4, 8, 9}, l3[2] = {0, 1};
    semid_ranking_eval_set(&e, 0, l0, 3, 5, SEMID_GROUP_HEAD);
    semid_ranking_eval_set(&e, 1, l1, 3, 2, SEMID_GROUP_TORSO);
    semid_ranking_eval_set(&e, 2, l2, 3, 9, SEMID_GROUP_TORSO);
    semid_ranking_eval_set(&e, 3, l3, 2, 42, SEMID_GROUP_HEAD);
    assert_int_equal(e.rank[0], 0);
    assert_int_equal(e.rank[1], 1);
    assert_int_equal(e.rank[2], -1);
    assert_int_equal(e.rank[3], -1);
    assert_float_equal(e.recall[1], 1.0, 0);
    assert_float_equal(e.recall[2], 0.0, 0);
    assert_float_equal(e.ndcg[1], 0.6309297535714575, 1e-12);

    semid_metric_summary all = semid_ranking_eval_mean(&e, SEMID_GROUP_ALL);
    assert_int_equal(all.n, 4);
    assert_float_equal(all.recall, 0.5, 1e-12);
    assert_float_equal(all.ndcg, (1.0 + 0.6309297535714575) / 4, 1e-12);
    semid_metric_summary head = semid_ranking_eval_mean(&e, SEMID_GROUP_HEAD);
    assert_int_equal(head.n, 2);
    assert_float_equal(head.recall, 0.5, 1e-12);
    assert_float_equal(head.ndcg, 0.5, 1e-12);
    semid_metric_summary torso = semid_ranking_eval_mean(&e, SEMID_GROUP_TORSO);
    assert_int_equal(torso.n, 2);
    assert_float_equal(torso.recall, 0.5, 1e-12);
    assert_float_equal(torso.ndcg, 0.6309297535714575 / 2, 1e-12);
    semid_ranking_eval_free(&e);
}

static void test_empty_and_bad(void **state) {
    (void)state;
    semid_ranking_eval e;
    assert_int_equal(semid_ranking_eval_init(&e, 0, 30), SEMID_OK);
    semid_metric_summary s = semid_ranking_eval_mean(&e, SEMID_GROUP_ALL);
    assert_int_equal(s.n, 0);
    assert_float_equal(s.recall, 0.0, 0);
    semid_ranking_eval_free(&e);
    assert_int_equal(semid_ranking_eval_init(&e, 3, 0), SEMID_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_values),
        cmocka_unit_test(test_per_query_and_groups),
        cmocka_unit_test(test_empty_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
