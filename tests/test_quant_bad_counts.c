/* Counts and sizes read from an ID table or a tokenizer file are checked
 * against the bytes present before anything is allocated (hardening issue,
 * item 6): a 5 KB .sid claiming 2^31 items, tokenizers whose header sizes
 * imply petabytes of parameters. Each is a clean SEMID_EFORMAT naming the
 * sizes, never an allocation attempt (ASan: "allocator out of memory"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "quant/dictenc.h"
#include "quant/idtable.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
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

static char *write_bytes(const char *name, const void *data, size_t len) {
    char *path = semid_path_join(tmpdir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

static void expect_format_error(semid_status st, const char *needle) {
    if (st != SEMID_EFORMAT || !strstr(semid_last_error(), needle))
        fprintf(stderr, "status %s, no '%s' in: %s\n", semid_status_name(st), needle, semid_last_error());
    assert_int_equal(st, SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), needle));
}

/* An ID table's JSON with these sizes, 2 x 64 level sizes and offsets, and
 * empty code lists, padded with spaces to about 5 KB. */
static char *write_table(const char *name, const char *n_items, int n_tasks, int n_levels) {
    char *text = malloc(8192);
    int n = snprintf(text, 8192,
                     "{\"format\": \"semid-idtable\", \"version\": 1, \"strategy\": \"search\", \"method\": \"rqkmeans\", "
                     "\"n_items\": %s, \"n_tasks\": %d, \"n_levels\": %d, \"n_tokens\": 4, \"disambiguated\": false, "
                     "\"fingerprint\": \"0000000000000000\", \"level_size\": [",
                     n_items, n_tasks, n_levels);
    for (int i = 0; i < n_tasks * n_levels; i++) n += snprintf(text + n, 8192 - (size_t)n, "%s2", i ? "," : "");
    n += snprintf(text + n, 8192 - (size_t)n, "], \"token_offset\": [");
    for (int i = 0; i < n_tasks * n_levels; i++) n += snprintf(text + n, 8192 - (size_t)n, "%s%d", i ? "," : "", 2 * i);
    n += snprintf(text + n, 8192 - (size_t)n, "], \"codes\": [[]%s]}", n_tasks == 2 ? ", []" : "");
    while (n < 5000) text[n++] = ' ';
    char *path = write_bytes(name, text, (size_t)n);
    free(text);
    return path;
}

static void test_idtable_counts(void **state) {
    (void)state;
    semid_idtable t;
    /* 2^31-1 items x 128 codes: 1 TB of codes allocated before the codes
     * were counted. */
    char *p = write_table("big.sid", "2147483647", 2, 64);
    expect_format_error(semid_idtable_load(p, &t), "do not fit");
    free(p);
    /* Fits the bytes, but the code lists hold no rows. */
    p = write_table("rows.sid", "100", 1, 2);
    expect_format_error(semid_idtable_load(p, &t), "must have 100 rows");
    free(p);
    /* A count past int32 (the cast was undefined). */
    p = write_table("cast.sid", "1e300", 1, 2);
    expect_format_error(semid_idtable_load(p, &t), "n_items");
    free(p);
    p = write_table("neg.sid", "-5e18", 1, 2);
    expect_format_error(semid_idtable_load(p, &t), "n_items");
    free(p);
}

/* A model file: magic, u32 header fields, f32 loss weights, a u32 parameter
 * count and `extra` zero bytes. */
static char *write_model(const char *name, const char magic[8], const uint32_t *ints, int n_ints, const float *floats,
                         int n_floats, uint32_t n_params, size_t extra) {
    size_t len = 8 + 4 * (size_t)n_ints + 4 * (size_t)n_floats + 4 + extra;
    unsigned char *buf = calloc(len, 1);
    memcpy(buf, magic, 8);
    memcpy(buf + 8, ints, 4 * (size_t)n_ints);
    if (n_floats) memcpy(buf + 8 + 4 * n_ints, floats, 4 * (size_t)n_floats);
    memcpy(buf + 8 + 4 * n_ints + 4 * n_floats, &n_params, 4);
    char *path = write_bytes(name, buf, len);
    free(buf);
    return path;
}

static void test_tokenizer_counts(void **state) {
    (void)state;
    /* Input width 2^24 x hidden 2^16: 2^41 parameters of a 4 KB file. */
    const uint32_t rqvae[8] = {1, 1u << 24, 1u << 16, 1u << 16, 1, 1, 1, 0};
    const float w3[3] = {0.25f, 1.0f, 1.0f};
    char *p = write_model("big.rqvae", "SEMIDRQV", rqvae, 8, w3, 3, 1000, 4000);
    semid_rqvae *rv = NULL;
    expect_format_error(semid_rqvae_load(p, &rv), "bytes are left");
    assert_null(rv);
    free(p);

    const uint32_t rlfq[7] = {1, 1u << 24, 8, 1u << 16, 1, 1, 0};
    const float w4[4] = {0.25f, 0.1f, 1.0f, 1.0f};
    p = write_model("big.rlfq", "SEMIDLFQ", rlfq, 7, w4, 4, 1000, 4000);
    semid_rlfq *rl = NULL;
    expect_format_error(semid_rlfq_load(p, &rl), "bytes are left");
    assert_null(rl);
    free(p);

    const uint32_t psq[11] = {1, 1u << 24, 1u << 24, 1u << 16, 1u << 16, 1, 1, 1, 1, 1, 0};
    p = write_model("big.psq", "SEMIDPSQ", psq, 11, w3, 3, 1000, 4000);
    semid_prefix_share *ps = NULL;
    expect_format_error(semid_prefix_share_load(p, &ps), "bytes are left");
    assert_null(ps);
    free(p);

    /* The same payload inside a generic tokenizer file. */
    unsigned char buf[8192] = "SEMIDTOK";
    uint32_t hdr[2] = {1, 5};
    memcpy(buf + 8, hdr, 8);
    memcpy(buf + 16, "rqvae", 5);
    uint32_t ld[2] = {1, 1u << 24};
    memcpy(buf + 21, ld, 8);
    memcpy(buf + 29, rqvae, sizeof rqvae);
    memcpy(buf + 29 + sizeof rqvae, w3, sizeof w3);
    p = write_bytes("big.tok", buf, sizeof buf);
    semid_tokenizer *tok = NULL;
    expect_format_error(semid_tokenizer_load(p, &tok), "bytes are left");
    assert_null(tok);
    free(p);

    /* Dictionary atoms past the bytes (already checked: kept so). */
    const uint32_t dict[5] = {1, 1u << 24, 1, 1, 1u << 24};
    p = write_model("big.dict", "SEMIDDIC", dict, 5, NULL, 0, 0, 100);
    semid_dictenc *de = NULL;
    expect_format_error(semid_dictenc_load(p, &de), "do not fit");
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idtable_counts),
        cmocka_unit_test(test_tokenizer_counts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
