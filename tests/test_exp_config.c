#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "exp/config.h"
#include "exp/results.h"
#include "support/testutil.h"

static void test_presets_and_overrides(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(c.n_seeds, 1);
    assert_int_equal(exp_config_preset(&c, "paper"), SEMID_OK);
    assert_int_equal(c.n_seeds, 3);
    assert_int_equal(c.sid_codebook, 256);
    assert_int_equal(c.model_max_steps, 1500);
    assert_int_equal(exp_config_preset(&c, "fast"), SEMID_EINVAL);

    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(exp_config_apply_json(&c, "{\"model\": {\"epochs\": 7}, \"seeds\": [3, 4], \"sid\": {\"strategies\": [\"multi\", \"rec\"]}}", "cfg.json"), SEMID_OK);
    assert_int_equal(c.model_epochs, 7);
    assert_int_equal(c.n_seeds, 2);
    assert_int_equal(c.seeds[1], 4);
    assert_int_equal(c.n_strategies, 2);
    assert_string_equal(c.strategies[1], "rec");
    assert_int_equal(exp_config_apply_override(&c, "model.layers=3"), SEMID_OK);
    assert_int_equal(c.model_layers, 3);
    assert_int_equal(exp_config_apply_override(&c, "sid.ablation=rqkmeans,rqvae"), SEMID_OK);
    assert_int_equal(c.n_ablation, 2);
    assert_int_equal(exp_config_apply_override(&c, "dataset=/data/ml-1m"), SEMID_OK);
    assert_string_equal(c.dataset, "/data/ml-1m");

    char *json = exp_config_to_json(&c);
    exp_config back;
    assert_int_equal(exp_config_preset(&back, "paper"), SEMID_OK);
    assert_int_equal(exp_config_apply_json(&back, json, "roundtrip"), SEMID_OK);
    assert_int_equal(back.model_layers, 3);
    assert_int_equal(back.n_ablation, 2);
    assert_int_equal(back.model_epochs, 7);
    free(json);
}

static void test_rejects_bad_configs_naming_the_key(void **state) {
    (void)state;
    exp_config c;
    exp_config_preset(&c, "quick");
    assert_int_equal(exp_config_apply_json(&c, "{\"model\": {\"layrs\": 2}}", "cfg.json"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "model.layrs"));
    assert_int_equal(exp_config_apply_json(&c, "{\"model\": {\"epochs\": 0}}", "cfg.json"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "model.epochs"));
    assert_int_equal(exp_config_apply_json(&c, "{\"sid\": {\"strategies\": [\"sepparate\"]}}", "cfg.json"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "sepparate"));
    assert_int_equal(exp_config_apply_json(&c, "{\"k\": 2.5}", "cfg.json"), SEMID_EINVAL);
    assert_int_equal(exp_config_apply_json(&c, "{not json", "cfg.json"), SEMID_EPARSE);
    assert_non_null(strstr(semid_last_error(), "cfg.json"));
    assert_int_equal(exp_config_apply_override(&c, "model.dim"), SEMID_EINVAL);
    assert_int_equal(exp_config_apply_override(&c, "nope=1"), SEMID_EINVAL);
    exp_config_preset(&c, "quick");
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 40), SEMID_EINVAL); /* codebook 64 > 40 items */
    assert_non_null(strstr(semid_last_error(), "sid.codebook"));
    exp_config_apply_override(&c, "model.heads=3");
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL);
    /* early stopping: bounded keys, and the minimum within the most epochs */
    exp_config_preset(&c, "quick");
    assert_int_equal(exp_config_apply_override(&c, "model.patience=-1"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "model.patience"));
    assert_int_equal(exp_config_apply_override(&c, "model.min_epochs=100000"), SEMID_EINVAL);
    assert_int_equal(exp_config_apply_override(&c, "model.patience=2"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "model.min_epochs=4"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL); /* quick has 3 epochs */
    assert_non_null(strstr(semid_last_error(), "model.min_epochs"));
    assert_int_equal(exp_config_apply_override(&c, "model.epochs=4"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_OK);
}

static void add_row(exp_results *r, exp_table t, const char *name, int gen, const double *s, const double *rc, int n) {
    exp_row row;
    memset(&row, 0, sizeof row);
    row.table = t;
    row.generative = gen;
    snprintf(row.name, sizeof row.name, "%s", name);
    snprintf(row.label, sizeof row.label, "%s <ids>", name);
    row.n_search = row.n_rec = n;
    row.search_hits = malloc(sizeof(double) * (size_t)n);
    row.rec_hits = malloc(sizeof(double) * (size_t)n);
    double ss = 0, sr = 0;
    for (int i = 0; i < n; i++) {
        row.search_hits[i] = s[i];
        row.rec_hits[i] = rc[i];
        ss += s[i];
        sr += rc[i];
    }
    exp_metric_add(&row.search_recall, ss / n);
    exp_metric_add(&row.rec_recall, sr / n);
    assert_int_equal(exp_results_add(r, &row), SEMID_OK);
}

/* Report, JSON and plot agree with the rows; the best row is found and a
 * clearly worse row is significant. */
static void test_report_json_plot(void **state) {
    (void)state;
    enum { N = 40 };
    double good[N], bad[N], mid[N];
    for (int i = 0; i < N; i++) {
        good[i] = i % 5 != 0;  /* 0.8 */
        bad[i] = i % 5 == 0;   /* 0.2 */
        mid[i] = i % 2;        /* 0.5 */
    }
    exp_results r;
    exp_results_init(&r, 30);
    snprintf(r.dataset_summary, sizeof r.dataset_summary, "unit test");
    add_row(&r, EXP_TABLE_MAIN, "search", 1, good, bad, N);
    add_row(&r, EXP_TABLE_MAIN, "rec", 1, bad, good, N);
    add_row(&r, EXP_TABLE_MAIN, "multi", 1, mid, mid, N);
    add_row(&r, EXP_TABLE_REFERENCE, "popularity", 0, bad, bad, N);
    assert_int_equal(exp_results_compare(&r), SEMID_OK);
    assert_true(r.rows[0].best_search);
    assert_true(r.rows[1].best_rec);
    assert_true(r.rows[1].p_search < 0.05);  /* 0.2 vs 0.8 on 40 pairs */
    assert_true(r.rows[2].p_search > 0.0);

    char *dir = test_make_tmpdir();
    char *md = semid_path_join(dir, "report.md"), *js = semid_path_join(dir, "results.json"), *svg = semid_path_join(dir, "plot.svg");
    assert_int_equal(exp_report_write_markdown(&r, md, "plot.svg"), SEMID_OK);
    assert_int_equal(exp_results_write_json(&r, js), SEMID_OK);
    assert_int_equal(exp_plot_write_svg(&r, svg), SEMID_OK);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "Table 2"));
    assert_non_null(strstr(text, "**0.8000**"));
    assert_non_null(strstr(text, "0.072")); /* the paper's search-ID figure beside ours */
    assert_non_null(strstr(text, "popularity <ids> (reference)"));
    free(text);
    assert_int_equal(semid_read_file(js, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "\"rows\""));
    assert_non_null(strstr(text, "\"best_search\":\ttrue"));
    free(text);
    assert_int_equal(semid_read_file(svg, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "<svg"));
    assert_non_null(strstr(text, "&lt;ids&gt;")); /* labels escaped */
    assert_non_null(strstr(text, "polyline"));     /* search and rec rows form the front */
    free(text);
    test_rm_rf(dir);
    free(dir), free(md), free(js), free(svg);
    exp_results_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_and_overrides),
        cmocka_unit_test(test_rejects_bad_configs_naming_the_key),
        cmocka_unit_test(test_report_json_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
