#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "exp/config.h"
#include "exp/results.h"
#include "gen/task_mix.h"
#include "support/testutil.h"

static void test_presets_and_overrides(void **state) {
    (void)state;
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(c.n_seeds, 1);
    assert_int_equal(c.model_patience, 0); /* quick: a fixed number of epochs */
    /* paper: the paper's 5 seeds, every strategy and tokenizer, models
     * trained to their validation plateau (3 to 10 epochs), no step budget */
    assert_int_equal(exp_config_preset(&c, "paper"), SEMID_OK);
    assert_int_equal(c.n_seeds, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(c.seeds[i], i + 1);
    assert_int_equal(c.n_strategies, 8);
    for (int i = 0; i < c.n_strategies; i++) assert_true(exp_is_strategy(c.strategies[i]));
    assert_int_equal(c.n_ablation, 4);
    for (int i = 0; i < c.n_ablation; i++) assert_true(exp_is_tokenizer(c.ablation[i]));
    assert_int_equal(c.sid_codebook, 256);
    assert_int_equal(c.model_max_steps, 0);
    assert_int_equal(c.model_epochs, 10);
    assert_int_equal(c.model_min_epochs, 3);
    assert_int_equal(c.model_patience, 2);
    assert_int_equal(exp_config_validate(&c, 0), SEMID_OK);
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

/* model.search_share: "auto" (the default), or a share, written back as given. */
static void test_search_share_key(void **state) {
    (void)state;
    exp_config c, back;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_true(c.model_search_share == SEMID_GEN_SHARE_AUTO);
    char *json = exp_config_to_json(&c);
    assert_non_null(strstr(json, "\"search_share\":\t\"auto\""));
    free(json);
    assert_int_equal(exp_config_apply_override(&c, "model.search_share=0.5"), SEMID_OK);
    assert_true(c.model_search_share == 0.5);
    json = exp_config_to_json(&c);
    assert_int_equal(exp_config_preset(&back, "quick"), SEMID_OK);
    assert_int_equal(exp_config_apply_json(&back, json, "roundtrip"), SEMID_OK);
    assert_true(back.model_search_share == 0.5);
    free(json);
    assert_int_equal(exp_config_apply_json(&back, "{\"model\": {\"search_share\": \"auto\"}}", "cfg.json"), SEMID_OK);
    assert_true(back.model_search_share == SEMID_GEN_SHARE_AUTO);
    assert_int_equal(exp_config_apply_override(&c, "model.search_share=0"), SEMID_OK);
    assert_true(c.model_search_share == 0);
    assert_int_equal(exp_config_apply_override(&c, "model.search_share=automatic"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "model.search_share"));
    assert_int_equal(exp_config_apply_override(&c, "model.search_share=1"), SEMID_EINVAL);
    assert_int_equal(exp_config_apply_override(&c, "model.search_share=-1"), SEMID_EINVAL);
    assert_true(c.model_search_share == 0);
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
    /* hybrid rows: a strategy that is run and read through one bi-encoder */
    exp_config_preset(&c, "quick");
    assert_null(exp_hybrid_embedding(&c)); /* off by default */
    assert_int_equal(exp_config_apply_override(&c, "hybrid.weight=1.5"), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "hybrid.weight"));
    assert_int_equal(exp_config_apply_override(&c, "hybrid.strategy=multi"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_OK);
    assert_string_equal(exp_hybrid_embedding(&c), "multi");
    /* a weight per task: rec follows hybrid.weight until it is given */
    assert_int_equal(exp_config_apply_override(&c, "hybrid.weight=0.1"), SEMID_OK);
    assert_true(exp_hybrid_weight_rec(&c) == 0.1);
    assert_int_equal(exp_config_apply_override(&c, "hybrid.weight_rec=0.5"), SEMID_OK);
    assert_true(exp_hybrid_weight_rec(&c) == 0.5 && c.hybrid_weight == 0.1);
    assert_int_equal(exp_config_apply_override(&c, "hybrid.weight_rec=-0.5"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "hybrid.weight_rec"));
    assert_int_equal(exp_config_apply_override(&c, "hybrid.weight_rec=-1"), SEMID_OK);
    assert_false(exp_hybrid_rec_enmf(&c)); /* the bi-encoder by default */
    assert_int_equal(exp_config_apply_override(&c, "hybrid.rec_dense=enmf"), SEMID_OK);
    assert_true(exp_hybrid_rec_enmf(&c));
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "hybrid.rec_dense=emnf"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "emnf"));
    assert_int_equal(exp_config_apply_override(&c, "hybrid.rec_dense=encoder"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "hybrid.strategy=rec"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL); /* ENMF has no text tower */
    assert_non_null(strstr(semid_last_error(), "hybrid.strategy"));
    assert_int_equal(exp_config_apply_override(&c, "hybrid.strategy=mutli"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "mutli"));
    assert_int_equal(exp_config_apply_override(&c, "hybrid.strategy=search"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "sid.strategies=multi"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL); /* its model is not trained */
    assert_non_null(strstr(semid_last_error(), "sid.strategies"));
    assert_int_equal(exp_config_apply_override(&c, "sid.strategies=search"), SEMID_OK);
    /* query words from the run's own bi-encoder: search or multi, nothing else */
    assert_null(exp_word_encoder(&c));
    assert_int_equal(exp_config_apply_override(&c, "model.word_vectors=encoder:multi"), SEMID_OK);
    assert_string_equal(exp_word_encoder(&c), "multi");
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&c, "model.word_vectors=encoder:rec"), SEMID_OK);
    assert_int_equal(exp_config_validate(&c, 1000), SEMID_EINVAL); /* ENMF has no words */
    assert_non_null(strstr(semid_last_error(), "encoder:rec"));
    assert_int_equal(exp_config_apply_override(&c, "model.word_vectors=default"), SEMID_OK);
    assert_null(exp_word_encoder(&c));
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

/* A generative row with per-seed figures and per-query hits: `hits` of
 * n_q queries (the means over seeds) and, per seed, its recall and the
 * epochs its model ran. */
static void add_seeded_row(exp_results *r, const char *name, const double *hits, int n_q, const double *per_seed,
                           const double *epochs, int n_seeds) {
    exp_row row;
    memset(&row, 0, sizeof row);
    row.table = EXP_TABLE_MAIN;
    row.generative = 1;
    snprintf(row.name, sizeof row.name, "%s", name);
    snprintf(row.label, sizeof row.label, "%s IDs", name);
    row.n_search = row.n_rec = n_q;
    row.search_hits = malloc(sizeof(double) * (size_t)n_q);
    row.rec_hits = malloc(sizeof(double) * (size_t)n_q);
    memcpy(row.search_hits, hits, sizeof(double) * (size_t)n_q);
    memcpy(row.rec_hits, hits, sizeof(double) * (size_t)n_q);
    for (int s = 0; s < n_seeds; s++) {
        exp_metric_add(&row.search_recall, per_seed[s]);
        exp_metric_add(&row.rec_recall, per_seed[s]);
        exp_metric_add(&row.epochs_run, epochs[s]);
        exp_metric_add(&row.best_epoch, epochs[s] - 2);
        row.n_stopped_early += epochs[s] < 10;
    }
    assert_int_equal(exp_results_add(r, &row), SEMID_OK);
}

/* With 5 seeds, a 2-point gap that the per-query test finds overwhelming
 * (2,000 queries) but that lies within a 3-point seed-to-seed spread is
 * not marked; a 10-point gap steady over seeds is. The report lists every
 * model's epochs. */
static void test_seed_spread_is_not_starred(void **state) {
    (void)state;
    enum { NQ = 2000 };
    static double best_hits[NQ], close_hits[NQ], far_hits[NQ];
    for (int i = 0; i < NQ; i++) { /* 30%, 28% and 20% hits, nested */
        best_hits[i] = i < 600;
        close_hits[i] = i < 560;
        far_hits[i] = i < 400;
    }
    /* per seed: t-tests of these pairs in test_eval_stats.c (p 0.29 and 0.0053 before Bonferroni) */
    const double best[5] = {0.30, 0.27, 0.33, 0.25, 0.35}, close[5] = {0.26, 0.29, 0.28, 0.27, 0.30};
    const double far[5] = {0.20, 0.19, 0.21, 0.20, 0.19};
    const double ep_best[5] = {6, 7, 5, 10, 6}, ep_close[5] = {5, 5, 6, 5, 8}, ep_far[5] = {4, 4, 5, 4, 4};
    exp_results r;
    exp_results_init(&r, 30);
    r.config_json = strdup("{\"seeds\": [1, 2, 3, 4, 5], \"model\": {\"epochs\": 10, \"patience\": 2, "
                           "\"min_epochs\": 3, \"max_steps\": 0, \"valid_sample\": 1000}}");
    snprintf(r.dataset_summary, sizeof r.dataset_summary, "unit test");
    add_seeded_row(&r, "best", best_hits, NQ, best, ep_best, 5);
    add_seeded_row(&r, "close", close_hits, NQ, close, ep_close, 5);
    add_seeded_row(&r, "far", far_hits, NQ, far, ep_far, 5);
    assert_int_equal(exp_results_compare(&r), SEMID_OK);
    const exp_row *b = &r.rows[0], *c = &r.rows[1], *f = &r.rows[2];
    assert_true(b->best_rec && b->best_search);
    /* Bonferroni over 2 comparisons */
    assert_true(c->p_rec < 1e-6);                            /* over queries: different */
    assert_float_equal(c->p_rec_seeds, 2 * 0.290440544109, 1e-9); /* over seeds: not */
    assert_float_equal(f->p_rec_seeds, 2 * 0.005329976636, 1e-9);
    assert_false(exp_row_differs(c, 0, 0.05));
    assert_false(exp_row_differs(c, 1, 0.05));
    assert_true(exp_row_differs(f, 0, 0.05));
    assert_false(exp_row_differs(b, 0, 0.05)); /* the best row itself */

    char *dir = test_make_tmpdir();
    char *md = semid_path_join(dir, "report.md"), *js = semid_path_join(dir, "results.json");
    assert_int_equal(exp_report_write_markdown(&r, md, NULL), SEMID_OK);
    assert_int_equal(exp_results_write_json(&r, js), SEMID_OK);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "| close IDs | 0.2800 ± 0.0158 | 0.2800 ± 0.0158 |")); /* no † */
    assert_non_null(strstr(text, "| far IDs | 0.1980 ± 0.0084† | 0.1980 ± 0.0084† |"));
    assert_non_null(strstr(text, "over seeds"));
    /* the training section: the rule, and each model's epochs */
    assert_non_null(strstr(text, "## Training and seeds"));
    assert_non_null(strstr(text, "at most 10 epochs and stops once 2 epochs in a row"));
    assert_non_null(strstr(text, "not before 3 epochs"));
    assert_non_null(strstr(text, "| best IDs | 6 / 7 / 5 / 10 / 6 | 4 of 5 | 4 / 5 / 3 / 8 / 4 | 0.3000 / 0.2700 / "));
    assert_non_null(strstr(text, "| far IDs | 4 / 4 / 5 / 4 / 4 | 5 of 5 |"));
    free(text);
    assert_int_equal(semid_read_file(js, &text, &len), SEMID_OK);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *close_json = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rows"), 1);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(close_json, "rec_differs_from_best")));
    assert_float_equal(cJSON_GetObjectItem(close_json, "p_rec_vs_best_seeds")->valuedouble, 2 * 0.290440544109, 1e-9);
    const cJSON *epochs = cJSON_GetObjectItem(close_json, "epochs_run");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(epochs, "per_seed")), 5);
    assert_float_equal(cJSON_GetObjectItem(epochs, "mean")->valuedouble, 5.8, 1e-12);
    cJSON_Delete(root);

    /* One seed: the per-query test decides alone. */
    exp_results one;
    exp_results_init(&one, 30);
    add_seeded_row(&one, "best", best_hits, NQ, best, ep_best, 1);
    add_seeded_row(&one, "close", close_hits, NQ, close, ep_close, 1);
    assert_int_equal(exp_results_compare(&one), SEMID_OK);
    assert_true(isnan(one.rows[1].p_rec_seeds));
    assert_true(exp_row_differs(&one.rows[1], 0, 0.05));
    exp_results_free(&one);

    test_rm_rf(dir);
    free(dir), free(md), free(js);
    exp_results_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_spread_is_not_starred),
        cmocka_unit_test(test_presets_and_overrides),
        cmocka_unit_test(test_search_share_key),
        cmocka_unit_test(test_rejects_bad_configs_naming_the_key),
        cmocka_unit_test(test_report_json_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
