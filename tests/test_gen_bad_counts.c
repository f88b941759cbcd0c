/* A model checkpoint's config is checked against the parameters the file
 * holds before the model is allocated (hardening issue, item 6): a small
 * file whose config claims terabytes of parameters is a clean SEMID_EFORMAT
 * naming both, never an allocation attempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "gen/model.h"
#include "io/safetensors.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* A checkpoint with this config and one 4-float tensor. */
static char *write_checkpoint(const char *name, const char *config) {
    char *path = semid_path_join(tmpdir, name);
    float data[4] = {0};
    semid_st_tensor_ref t = {.name = "wte", .data = data, .ndim = 2, .shape = {2, 2}};
    const char *keys[2] = {"format", "config"};
    const char *values[2] = {"semid-gpt-1", config};
    assert_int_equal(semid_safetensors_write(path, &t, 1, keys, values, 2), SEMID_OK);
    return path;
}

static void test_checkpoint_counts(void **state) {
    (void)state;
    semid_gpt *m = NULL;
    /* Within every per-field bound, 4 x 10^13 parameters in all. */
    char *p = write_checkpoint("big.safetensors", "{\"vocab_size\":16777216,\"max_seq_len\":65536,\"n_layer\":1024,"
                                                  "\"n_head\":1,\"d_model\":32768}");
    semid_status st = semid_gpt_load(p, &m, NULL);
    if (st != SEMID_EFORMAT) fprintf(stderr, "%s: %s\n", semid_status_name(st), semid_last_error());
    assert_int_equal(st, SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "the file holds 4"));
    assert_null(m);
    free(p);
    /* Small and consistent with nothing: named as a missing tensor, as before. */
    p = write_checkpoint("small.safetensors", "{\"vocab_size\":2,\"max_seq_len\":1,\"n_layer\":1,\"n_head\":1,\"d_model\":1}");
    st = semid_gpt_load(p, &m, NULL);
    assert_int_equal(st, SEMID_EFORMAT);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
