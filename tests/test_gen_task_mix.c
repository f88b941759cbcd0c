/* The task mix of a training epoch (gen/task_mix.h): auto leaves mixes
 * like ML-1M's as in the data, order for order, and gives a swamped task
 * its stated share; every epoch order is a function of (mix, seed, epoch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "gen/task_mix.h"

/* Slots per sequence index in an order of n entries over m sequences. */
static int64_t *count_slots(const int64_t *order, int64_t n, int64_t m) {
    int64_t *c = calloc((size_t)m, sizeof *c);
    assert_non_null(c);
    for (int64_t j = 0; j < n; j++) {
        assert_true(order[j] >= 0 && order[j] < m);
        c[order[j]]++;
    }
    return c;
}

static int64_t *epoch(const semid_gen_epoch_mix *mix, uint64_t seed, int64_t e) {
    int64_t n = mix->ns + mix->nr + mix->personal_slots;
    int64_t *o = malloc((size_t)n * sizeof *o);
    assert_non_null(o);
    assert_int_equal(semid_gen_epoch_order(mix, seed, e, o), SEMID_OK);
    return o;
}

static void test_rule(void **state) {
    (void)state;
    /* ML-1M's two-task sequences (32,445 search, 51,937 rec, as semid train counts them) and
     * milder mixes: as in the data */
    assert_true(semid_gen_search_share(32445, 51937, SEMID_GEN_SHARE_AUTO) == 0);
    assert_true(semid_gen_search_share(16000, 4000, SEMID_GEN_SHARE_AUTO) == 0); /* 4x exactly */
    assert_true(semid_gen_search_share(4000, 16000, SEMID_GEN_SHARE_AUTO) == 0);
    /* many items and few users (9,066 and 671): search swamps rec */
    assert_true(semid_gen_search_share(86149, 4447, SEMID_GEN_SHARE_AUTO) == 0.8);
    assert_true(semid_gen_search_share(16001, 4000, SEMID_GEN_SHARE_AUTO) == 0.8);
    assert_true(semid_gen_search_share(4000, 16001, SEMID_GEN_SHARE_AUTO) == 0.2);
    /* a set share is kept, 0 is the data's; a task without sequences: the data's */
    assert_true(semid_gen_search_share(86149, 4447, 0) == 0);
    assert_true(semid_gen_search_share(100, 100, 0.6) == 0.6);
    assert_true(semid_gen_search_share(0, 100, SEMID_GEN_SHARE_AUTO) == 0);
    assert_true(semid_gen_search_share(100, 0, 0.5) == 0);
    assert_int_equal(semid_gen_search_slots(86149, 4447, 0), 86149);
    assert_int_equal(semid_gen_search_slots(86149, 4447, 0.8), 72477); /* 0.8 x 90,596 */
}

/* A balanced mix under auto is the data's: each sequence once an epoch,
 * and the very order the data's mix gives. */
static void test_balanced_untouched(void **state) {
    (void)state;
    int64_t ns = 3245, nr = 5192;
    semid_gen_epoch_mix natural = {.ns = ns, .nr = nr}, balanced = natural;
    balanced.share = semid_gen_search_share(ns, nr, SEMID_GEN_SHARE_AUTO);
    for (int64_t e = 0; e < 3; e++) {
        int64_t *a = epoch(&natural, 7, e), *b = epoch(&balanced, 7, e);
        assert_memory_equal(a, b, (size_t)(ns + nr) * sizeof *a);
        int64_t *c = count_slots(a, ns + nr, ns + nr);
        for (int64_t j = 0; j < ns + nr; j++) assert_int_equal(c[j], 1);
        free(a), free(b), free(c);
    }
}

/* A swamped task gets its share of the epoch, which keeps its length:
 * search slots a subset of search sequences without repeats, rec slots
 * cycling through every rec sequence evenly; personalised-search slots
 * come on top. */
static void test_swamped_share(void **state) {
    (void)state;
    int64_t ns = 8615, nr = 445, np = 300;
    semid_gen_epoch_mix mix = {.ns = ns, .nr = nr, .np = np, .personal_slots = 400};
    mix.share = semid_gen_search_share(ns, nr, SEMID_GEN_SHARE_AUTO);
    int64_t n = ns + nr + mix.personal_slots, slots_s = semid_gen_search_slots(ns, nr, mix.share);
    assert_int_equal(slots_s, 7248); /* 0.8 x 9,060 */
    int64_t *o = epoch(&mix, 3, 0);
    int64_t *c = count_slots(o, n, ns + nr + np);
    int64_t search = 0, rec = 0, personal = 0;
    for (int64_t j = 0; j < ns; j++) {
        assert_true(c[j] <= 1);
        search += c[j];
    }
    int64_t per_rec = (ns + nr - slots_s) / nr;
    for (int64_t j = ns; j < ns + nr; j++) {
        assert_true(c[j] == per_rec || c[j] == per_rec + 1);
        rec += c[j];
    }
    for (int64_t j = ns + nr; j < ns + nr + np; j++) personal += c[j];
    assert_int_equal(search, slots_s);
    assert_int_equal(rec, ns + nr - slots_s);
    assert_int_equal(personal, mix.personal_slots);
    /* the rec share is 1 - 0.8 of the two-task slots */
    assert_true(rec * 5 >= ns + nr - 1 && rec * 5 <= ns + nr + 5);
    free(c);
    free(o);
}

/* The order is a function of (mix, seed, epoch): the same again, another
 * for another epoch or seed (a shuffle, not the sequences in turn). */
static void test_deterministic(void **state) {
    (void)state;
    semid_gen_epoch_mix mix = {.ns = 2000, .nr = 100};
    mix.share = semid_gen_search_share(mix.ns, mix.nr, SEMID_GEN_SHARE_AUTO);
    size_t bytes = (size_t)(mix.ns + mix.nr) * sizeof(int64_t);
    int64_t *a = epoch(&mix, 11, 2), *b = epoch(&mix, 11, 2), *e3 = epoch(&mix, 11, 3), *s12 = epoch(&mix, 12, 2);
    assert_memory_equal(a, b, bytes);
    assert_memory_not_equal(a, e3, bytes);
    assert_memory_not_equal(a, s12, bytes);
    /* another epoch draws another subset of search sequences */
    int64_t *ca = count_slots(a, mix.ns + mix.nr, mix.ns + mix.nr), *c3 = count_slots(e3, mix.ns + mix.nr, mix.ns + mix.nr);
    assert_memory_not_equal(ca, c3, (size_t)mix.ns * sizeof *ca);
    free(a), free(b), free(e3), free(s12), free(ca), free(c3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_balanced_untouched),
        cmocka_unit_test(test_swamped_share),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
