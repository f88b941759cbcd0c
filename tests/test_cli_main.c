#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"

static void test_help_lists_commands(void **state) {
    (void)state;
    char *out;
    assert_int_equal(test_run_cli("help", &out), 0);
    assert_non_null(strstr(out, "experiment"));
    assert_non_null(strstr(out, "recommend"));
    assert_non_null(strstr(out, "SEMID_NO_VERIFY=1"));
    free(out);
    assert_int_equal(test_run_cli("version", &out), 0);
    assert_non_null(strstr(out, "semid 0."));
    free(out);
}

static void test_unknown_command_is_usage_error(void **state) {
    (void)state;
    char *out;
    assert_int_equal(test_run_cli("frobnicate", &out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    free(out);
    assert_int_equal(test_run_cli("", &out), 2);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_commands),
        cmocka_unit_test(test_unknown_command_is_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
