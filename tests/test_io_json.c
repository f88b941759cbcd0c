/* semid_json_valid (src/io/json.c): the check that tells an allocation
 * failure inside cJSON from bad JSON. What it accepts cJSON must parse, or
 * a syntax error would be reported as running out of memory: checked on
 * fixed cases and on many random texts and mutations of valid ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "io/json.h"

static int cjson_reads(const char *s, size_t n) {
    cJSON *j = cJSON_ParseWithLength(s, n);
    cJSON_Delete(j);
    return j != NULL;
}

static void valid(const char *s) {
    if (!semid_json_valid(s, strlen(s))) fail_msg("refused: %s", s);
    if (!cjson_reads(s, strlen(s))) fail_msg("cJSON refuses: %s", s);
}

static void invalid(const char *s) {
    if (semid_json_valid(s, strlen(s))) fail_msg("accepted: %s", s);
}

static void test_cases(void **state) {
    (void)state;
    valid("{}");
    valid("[]");
    valid(" \t\r\n{ \"a\" : [1, -0, 2.5e3, 1E-2, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\"] } ");
    valid("\xEF\xBB\xBF[1]");
    valid("\"\"");
    valid("{} trailing text"); /* cJSON_ParseWithLength reads the first value */
    valid("12345678901234567890123456789012345678901234567890123456789012"); /* 62 characters */
    invalid("");
    invalid(" ");
    invalid("{");
    invalid("[1,]");
    invalid("{\"a\" 1}");
    invalid("{\"a\":1,}");
    invalid("{1:2}");
    invalid("[01]");
    invalid("[-]");
    invalid("[1.]");
    invalid("[.5]");
    invalid("[1e]");
    invalid("[+1]");
    invalid("[nul]");
    invalid("[True]");
    invalid("\"\\x\"");
    invalid("\"\\u12\"");
    invalid("\"\\ud800\"");         /* a lone high surrogate */
    invalid("\"\\ud800\\u0041\"");  /* not followed by a low one */
    invalid("\"\\udc00\"");         /* a lone low one */
    invalid("\"tab\there\"");       /* raw control character */
    invalid("\"unterminated");
    invalid("[1234567890123456789012345678901234567890123456789012345678901234]"); /* 64 characters */
}

static void test_nesting_limit(void **state) {
    (void)state;
    enum { DEEP = 1001 };
    char s[2 * DEEP + 1];
    for (int depth = 1000; depth <= DEEP; depth++) {
        memset(s, '[', (size_t)depth);
        memset(s + depth, ']', (size_t)depth);
        s[2 * depth] = '\0';
        if (depth <= 1000) valid(s);
        else invalid(s);
    }
}

/* Whatever the validator accepts, cJSON reads. */
static void test_never_more_lenient_than_cjson(void **state) {
    (void)state;
    static const char alphabet[] = "{}[],:\"\\ \n0123456789-+.eEutrfalsn/bx\x01\xc3\xa9";
    static const char *const seeds[] = {
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\\u0041\\n\"}", "[true,false,-1.5e-3,\"\\ud83d\\ude00\"]", "{\"k\":{}}"};
    semid_rng r;
    semid_rng_seed(&r, 13);
    char buf[96];
    int64_t accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t n;
        if (iter % 2 == 0) { /* random text */
            n = 1 + (size_t)semid_rng_below(&r, 12);
            for (size_t i = 0; i < n; i++) buf[i] = alphabet[semid_rng_below(&r, sizeof alphabet - 1)];
        } else { /* a valid text with a few bytes changed, removed or added */
            const char *s = seeds[semid_rng_below(&r, 3)];
            n = strlen(s);
            memcpy(buf, s, n);
            for (int m = 0, k = 1 + (int)semid_rng_below(&r, 3); m < k; m++) {
                size_t at = (size_t)semid_rng_below(&r, n);
                int op = (int)semid_rng_below(&r, 3);
                char ch = alphabet[semid_rng_below(&r, sizeof alphabet - 1)];
                if (op == 0) {
                    buf[at] = ch;
                } else if (op == 1 && n > 1) {
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                } else if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = ch;
                    n++;
                }
            }
        }
        buf[n] = '\0';
        if (!semid_json_valid(buf, n)) continue;
        accepted++;
        if (!cjson_reads(buf, n)) fail_msg("accepted, but cJSON refuses: '%s'", buf);
    }
    assert_true(accepted > 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_never_more_lenient_than_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
