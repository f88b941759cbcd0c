/* What search and recommend say about their results (hardening issue, item
 * 8): a query of many unquoted words is one query, not "unexpected
 * argument"; --diverse with a --k above its 60 beams says why fewer results
 * come back; a history that covers every item says why nothing does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "support/testutil.h"

static char *tmpdir, *ds_path, *emb_path, *sid_path, *model_dir;

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    ds_path = semid_path_join(tmpdir, "ds.sdd");
    emb_path = semid_path_join(tmpdir, "emb");
    sid_path = semid_path_join(tmpdir, "sid.json");
    model_dir = semid_path_join(tmpdir, "model");
    return test_cli_tiny_model(tmpdir, 80, 120) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    free(ds_path);
    free(emb_path);
    free(sid_path);
    free(model_dir);
    return 0;
}

static void test_long_unquoted_query(void **state) {
    (void)state;
    char words[4096] = "";
    for (int i = 0; i < 100; i++) snprintf(words + strlen(words), sizeof words - strlen(words), "story%d ", i);
    char *out = NULL;
    int rc = test_run_clif(&out, "search --model %s --k 3 %s", model_dir, words);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "unexpected argument"));
    assert_non_null(strstr(out, "rank\titem_id"));
    free(out);
}

static void test_diverse_cap_note(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(test_run_clif(&out, "search --model %s --diverse --k 1000 exciting story", model_dir), 0);
    assert_non_null(strstr(out, "--diverse decodes 60 beams"));
    assert_non_null(strstr(out, "at most 60 results"));
    free(out);
    /* No note when k fits. */
    assert_int_equal(test_run_clif(&out, "search --model %s --diverse --k 20 exciting story", model_dir), 0);
    assert_null(strstr(out, "--diverse decodes"));
    free(out);
}

/* Every item id of the model, comma-separated (items.jsonl). */
static char *all_ids(void) {
    char *path = semid_path_join(model_dir, "items.jsonl"), *data = NULL;
    size_t len = 0;
    assert_int_equal(semid_read_file(path, &data, &len), SEMID_OK);
    free(path);
    char *ids = calloc(len + 1, 1);
    for (char *p = data; (p = strstr(p, "{\"id\":\"")) != NULL;) {
        p += 7;
        char *end = strchr(p, '"');
        if (ids[0]) strcat(ids, ",");
        strncat(ids, p, (size_t)(end - p));
        p = end;
    }
    free(data);
    return ids;
}

static void test_empty_result_note(void **state) {
    (void)state;
    char *ids = all_ids(), *out = NULL;
    assert_int_equal(test_run_clif(&out, "recommend --model %s --exclude-history --history %s", model_dir, ids), 0);
    assert_non_null(strstr(out, "no results: the history holds every item of the catalog (80 items)"));
    assert_non_null(strstr(out, "--keep-history"));
    free(out);
    /* The batch form counts them. */
    char *file = semid_path_join(tmpdir, "h.tsv");
    FILE *fp = fopen(file, "w");
    fprintf(fp, "a\t%s\nb\t%.40s\n", ids, ids);
    fclose(fp);
    assert_int_equal(test_run_clif(&out, "recommend --model %s --exclude-history --histories %s", model_dir, file), 0);
    assert_non_null(strstr(out, "1 of 2 histories have no results"));
    free(out);
    /* --keep-history ranks them. */
    assert_int_equal(test_run_clif(&out, "recommend --model %s --keep-history --history %s", model_dir, ids), 0);
    assert_null(strstr(out, "no results"));
    free(out);
    free(file);
    free(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_unquoted_query),
        cmocka_unit_test(test_diverse_cap_note),
        cmocka_unit_test(test_empty_result_note),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
