/* The experiment configuration is bounded by what the machine and the model
 * can do (hardening issue, item 5): every numeric key has a range, seeds
 * are exact integers, threads stay within the thread bound, and models and
 * synthetic catalogs whose memory would not fit are refused before any work,
 * naming the keys and the estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "exp/config.h"

static void expect_refused(semid_status st, const char *needle) {
    if (st != SEMID_EINVAL || !strstr(semid_last_error(), needle))
        fprintf(stderr, "status %s, no '%s' in: %s\n", semid_status_name(st), needle, semid_last_error());
    assert_int_equal(st, SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), needle));
}

static void test_seeds_are_exact(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    /* 1e300 was cast to int64 (undefined). */
    expect_refused(exp_config_apply_json(&c, "{\"seeds\": [1e300]}", "cfg.json"), "seeds");
    expect_refused(exp_config_apply_override(&c, "seeds=[9007199254740993]"), "9007199254740991");
    assert_int_equal(exp_config_apply_override(&c, "seeds=[9007199254740991]"), SEMID_OK);
    assert_true(c.seeds[0] == INT64_C(9007199254740991));
}

static void test_every_number_has_a_range(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    const char *bad[] = {"model.beam=10000000", "model.history=1000000000", "model.dim=100000",
                         "threads=100000",      "k=0",                      "embeddings.dim=1e12",
                         "sid.levels=100",      "head_fraction=2",          "synthetic.users=1e10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(strchr(bad[i], '=') - bad[i]), bad[i]);
        expect_refused(exp_config_apply_override(&c, bad[i]), key);
        assert_non_null(strstr(semid_last_error(), "out of range"));
    }
}

static void test_machine_bounds(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 0), SEMID_OK);
    /* More threads than the machine's bound (at most 4 per core). */
    char over[64];
    snprintf(over, sizeof over, "threads=%d", semid_threads_limit() + 1);
    if (semid_threads_limit() < 1024) {
        assert_int_equal(exp_config_apply_override(&c, over), SEMID_OK);
        expect_refused(exp_config_validate(&c, 0), "'threads'");
        assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    }
    /* 64 layers of width 8192: about a terabyte of parameters and moments. */
    assert_int_equal(exp_config_apply_json(&c, "{\"model\": {\"layers\": 64, \"dim\": 8192, \"heads\": 8}}", "cfg.json"),
                     SEMID_OK);
    expect_refused(exp_config_validate(&c, 0), "GB");
    assert_non_null(strstr(semid_last_error(), "'model.dim'"));
    /* A synthetic catalog of 10^8 users. */
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "synthetic.users=100000000"), SEMID_OK);
    expect_refused(exp_config_validate(&c, 0), "'synthetic.users'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_are_exact),
        cmocka_unit_test(test_every_number_has_a_range),
        cmocka_unit_test(test_machine_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
