/* semid sid end to end: build (one embedding and separate), stats, encode
 * for cold start, export, and clear errors that leave nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "io/npy.h"
#include "quant/idtable.h"
#include "support/testutil.h"

static char *dir;

static char *P(const char *name) { return semid_path_join(dir, name); }

static void write_blobs(const char *name, int64_t n, int32_t D, uint64_t seed, float scale) {
    semid_matrix m;
    assert_int_equal(semid_matrix_alloc(&m, n, D), 0);
    semid_rng r;
    semid_rng_seed(&r, seed);
    float c[12][64];
    for (int k = 0; k < 12; k++)
        for (int j = 0; j < D; j++) c[k][j] = (float)semid_rng_normal(&r);
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < D; j++) m.data[i * D + j] = scale * (c[i % 12][j] + 0.3f * (float)semid_rng_normal(&r));
    char *p = P(name);
    assert_int_equal(semid_npy_write(p, &m), 0);
    free(p);
    semid_matrix_free(&m);
}

static int setup(void **state) {
    (void)state;
    dir = test_make_tmpdir();
    if (!dir) return -1;
    write_blobs("E.npy", 300, 16, 1, 1.0f);
    write_blobs("R.npy", 300, 24, 2, 2.0f);
    write_blobs("new.npy", 7, 16, 3, 1.0f);
    write_blobs("narrow.npy", 7, 15, 3, 1.0f);
    char ids[300 * 8] = "", line[16];
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof line, "m%d\n", i);
        strcat(ids, line);
    }
    free(test_write_file(dir, "items.txt", ids));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(dir);
    free(dir);
    return 0;
}

/* Runs the CLI on `cmd` with every %s replaced by the temp dir. */
static int run(const char *cmd, char **out) {
    char args[2048];
    size_t n = 0, dn = strlen(dir);
    for (const char *c = cmd; *c && n + dn + 1 < sizeof args; c++)
        if (c[0] == '%' && c[1] == 's') memcpy(args + n, dir, dn), n += dn, c++;
        else args[n++] = *c;
    args[n] = '\0';
    return test_run_cli(args, out);
}

static void test_build_stats_export(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run("sid build --embeddings %s/E.npy --codebook 8 --levels 2 --beam 4 --disambiguate "
                         "--out %s/sid.json --tokenizer-out %s/tok.bin",
                         &out),
                     0);
    assert_non_null(strstr(out, "collisions before disambiguation"));
    assert_non_null(strstr(out, "rate 0.0000 (300 distinct IDs"));
    assert_non_null(strstr(out, "reconstruction error"));
    free(out);
    char *p = P("sid.json");
    semid_idtable t;
    assert_int_equal(semid_idtable_load(p, &t), 0);
    free(p);
    assert_string_equal(t.strategy, "search");
    assert_int_equal(t.n_levels, 3);
    assert_non_null(t.item_ids); /* items.txt beside E.npy */
    assert_string_equal(t.item_ids[5], "m5");

    assert_int_equal(run("sid stats %s/sid.json --json", &out), 0);
    assert_non_null(strstr(out, "\"collision_rate\": 0.000000"));
    assert_non_null(strstr(out, "\"n_levels\": 3"));
    free(out);

    assert_int_equal(run("sid export %s/sid.json --tsv %s/sid.tsv", &out), 0);
    free(out);
    char *tsv;
    size_t len;
    p = P("sid.tsv");
    assert_int_equal(semid_read_file(p, &tsv, &len), 0);
    free(p);
    int32_t tok[3];
    semid_idtable_tokens(&t, SEMID_TASK_SEARCH, 5, tok);
    char expect[64];
    snprintf(expect, sizeof expect, "\nm5\tboth\t%d\t%d\t%d\n", tok[0], tok[1], tok[2]);
    assert_non_null(strstr(tsv, expect));
    free(tsv);

    /* Cold start: the saved tokenizer gives the table's tokens for new items. */
    assert_int_equal(run("sid encode --tokenizer %s/tok.bin --embeddings %s/new.npy --table %s/sid.json --out %s/new.tsv",
                         &out),
                     0);
    free(out);
    p = P("new.tsv");
    assert_int_equal(semid_read_file(p, &tsv, &len), 0);
    free(p);
    int lines = 0, a, b, c, row;
    for (char *s = tsv; (s = strchr(s, '\n')); s++) lines++;
    assert_int_equal(lines, 7);
    assert_int_equal(sscanf(tsv, "%d\t%d\t%d\t%d", &row, &a, &b, &c), 4);
    assert_true(a >= 0 && a < 8 && b >= 8 && b < 16 && c == t.token_offset[2]);
    free(tsv);
    semid_idtable_free(&t);
}

static void test_separate(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run("sid build --strategy separate --search %s/E.npy --rec %s/R.npy --codebook 8 --out %s/sep.json "
                         "--tokenizer-out %s/tok",
                         &out),
                     0);
    free(out);
    char *p = P("sep.json");
    semid_idtable t;
    assert_int_equal(semid_idtable_load(p, &t), 0);
    free(p);
    assert_int_equal(t.n_tasks, 2);
    assert_int_equal(t.n_tokens, 32);
    assert_string_equal(t.strategy, "separate");
    assert_int_equal(t.token_offset[2], 16);
    /* The rec tokenizer decodes into rec tokens; the search one is refused for rec. */
    assert_int_equal(run("sid encode --tokenizer %s/tok.search --embeddings %s/new.npy --table %s/sep.json --task rec",
                         &out),
                     1);
    assert_non_null(strstr(out, "another vocabulary"));
    free(out);
    assert_int_equal(run("sid encode --tokenizer %s/tok.search --embeddings %s/new.npy --table %s/sep.json --task search",
                         &out),
                     0);
    free(out);
    semid_idtable_free(&t);
}

static void test_errors_write_nothing(void **state) {
    (void)state;
    char *out;
    /* K above the number of items. */
    assert_int_equal(run("sid build --embeddings %s/E.npy --codebook 400 --out %s/bad.json", &out), 1);
    assert_non_null(strstr(out, "larger than the number of items"));
    free(out);
    /* Width not matching the codebooks. */
    assert_int_equal(run("sid encode --tokenizer %s/tok.bin --embeddings %s/narrow.npy", &out), 1);
    assert_non_null(strstr(out, "15 columns"));
    free(out);
    /* Unknown method and strategy; missing inputs. */
    assert_int_equal(run("sid build --embeddings %s/E.npy --method nosuch --codebook 8 --out %s/bad.json", &out), 1);
    assert_non_null(strstr(out, "unknown tokenizer 'nosuch' (known: rqkmeans"));
    free(out);
    assert_int_equal(run("sid build --embeddings %s/E.npy --strategy nosuch --out %s/bad.json", &out), 1);
    assert_non_null(strstr(out, "unknown strategy"));
    free(out);
    assert_int_equal(run("sid build --strategy separate --search %s/E.npy --out %s/bad.json", &out), 2);
    free(out);
    /* A NaN row is named. */
    semid_matrix m;
    char *p = P("E.npy");
    assert_int_equal(semid_npy_read(p, &m), 0);
    free(p);
    m.data[9 * 16 + 2] = NAN;
    p = P("nan.npy");
    /* npy_write refuses nothing; write the NaN through the raw writer. */
    assert_int_equal(semid_npy_write(p, &m), 0);
    free(p);
    semid_matrix_free(&m);
    assert_int_equal(run("sid build --embeddings %s/nan.npy --codebook 8 --out %s/bad.json", &out), 1);
    assert_non_null(strstr(out, "row 9"));
    free(out);
    /* Separate with different row counts. */
    write_blobs("R2.npy", 200, 24, 2, 1.0f);
    assert_int_equal(run("sid build --strategy separate --search %s/E.npy --rec %s/R2.npy --codebook 8 --out %s/bad.json",
                         &out),
                     1);
    free(out);
    p = P("bad.json");
    assert_false(semid_path_exists(p));
    free(p);
    assert_int_equal(run("sid stats %s/nope.json", &out), 1);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_stats_export),
        cmocka_unit_test(test_separate),
        cmocka_unit_test(test_errors_write_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
