/* End to end: a whole (tiny) experiment on synthetic data, its outputs, and
 * the stage cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "data/dataset.h"
#include "exp/runner.h"
#include "gen/generate.h"
#include "support/testutil.h"

static const char *TINY[] = {
    "synthetic.items=120", "synthetic.users=200", "queries.per_item=4", "queries.train=2",
    "embeddings.dim=16", "embeddings.epochs=1", "embeddings.batch=64", "embeddings.enmf_dim=16",
    "embeddings.enmf_epochs=3", "sid.codebook=8", "sid.strategies=content,search,rec,separate,prefix_share,multi",
    "sid.ablation=rqkmeans,rqvae", "model.layers=1", "model.dim=16", "model.heads=2", "model.epochs=1",
    "model.batch=32", "model.history=5", "model.beam=10", "k=10", "seeds=[1,2]", "threads=1",
    "model.parallel=2", /* models train two at a time */
};

static void apply_all(exp_config *cfg, const char *const *overrides, size_t n) {
    for (size_t i = 0; i < n; i++) assert_int_equal(exp_config_apply_override(cfg, overrides[i]), SEMID_OK);
}

static void tiny_config(exp_config *cfg) {
    assert_int_equal(exp_config_preset(cfg, "quick"), SEMID_OK);
    apply_all(cfg, TINY, sizeof TINY / sizeof TINY[0]);
}

static const exp_row *find_row(const exp_results *r, exp_table t, const char *name) {
    for (int i = 0; i < r->n_rows; i++)
        if (r->rows[i].table == t && strcmp(r->rows[i].name, name) == 0) return &r->rows[i];
    return NULL;
}

static void assert_metric_ok(const exp_metric *m, int seeds) {
    assert_int_equal(m->n, seeds);
    assert_true(m->mean >= 0.0 && m->mean <= 1.0);
}

static void test_tiny_experiment_is_complete_and_cached(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    exp_config cfg;
    tiny_config(&cfg);
    exp_results r;
    semid_status st = exp_run(&cfg, dir, &r);
    if (st != SEMID_OK) fail_msg("experiment failed: %s", semid_last_error());

    /* Every table has its rows, none failed, every figure is a share. */
    const char *main_rows[] = {"search", "rec", "separate", "prefix_share", "multi"};
    for (int i = 0; i < 5; i++) {
        const exp_row *row = find_row(&r, EXP_TABLE_MAIN, main_rows[i]);
        assert_non_null(row);
        assert_string_equal(row->failed, "");
        assert_metric_ok(&row->search_recall, 2);
        assert_metric_ok(&row->rec_recall, 2);
        assert_int_equal(row->n_search, 120 * 2); /* 2 test queries per item */
        /* every seed's model ran its one epoch, and it was the best */
        assert_int_equal(row->epochs_run.n, 2);
        assert_float_equal(row->epochs_run.mean, 1, 0);
        assert_float_equal(row->best_epoch.mean, 1, 0);
        assert_int_equal(row->n_stopped_early, 0);
    }
    assert_non_null(find_row(&r, EXP_TABLE_MOTIVATION, "content"));
    assert_non_null(find_row(&r, EXP_TABLE_ABLATION, "rqvae"));
    /* the ablation's RQ-KMeans row is the multi-task row's models */
    const exp_row *abl = find_row(&r, EXP_TABLE_ABLATION, "rqkmeans"), *multi = find_row(&r, EXP_TABLE_MAIN, "multi");
    assert_non_null(abl);
    assert_string_equal(abl->label, "RQ-KMeans");
    assert_float_equal(abl->rec_recall.mean, multi->rec_recall.mean, 0);
    assert_float_equal(abl->search_recall.mean, multi->search_recall.mean, 0);
    assert_int_equal(abl->rec_recall.n, 2);
    const exp_row *pop = find_row(&r, EXP_TABLE_REFERENCE, "popularity");
    const exp_row *enmf = find_row(&r, EXP_TABLE_REFERENCE, "enmf");
    assert_non_null(pop);
    assert_non_null(enmf);
    assert_int_equal(enmf->search_recall.n, 0); /* ENMF has no search side */
    assert_int_equal(pop->n_rec, find_row(&r, EXP_TABLE_MAIN, "multi")->n_rec); /* same users */
    int best_search = 0;
    for (int i = 0; i < r.n_rows; i++) best_search += r.rows[i].table == EXP_TABLE_MAIN && r.rows[i].best_search;
    assert_int_equal(best_search, 1);

    /* The atomic-ID reference: the same model on one token per item, with
     * both decoders; no ID of one level can be invalid. */
    const exp_row *atomic[2] = {NULL, NULL};
    for (int i = 0; i < r.n_rows; i++)
        if (strcmp(r.rows[i].name, "atomic") == 0) atomic[r.rows[i].decoder] = &r.rows[i];
    for (int d = 0; d < 2; d++) {
        assert_non_null(atomic[d]);
        assert_int_equal(atomic[d]->table, EXP_TABLE_REFERENCE);
        assert_true(atomic[d]->generative);
        assert_string_equal(atomic[d]->failed, "");
        assert_metric_ok(&atomic[d]->search_recall, 2);
        assert_metric_ok(&atomic[d]->rec_recall, 2);
        assert_float_equal(atomic[d]->invalid_share.mean, 0, 0);
        assert_int_equal(atomic[d]->ids.n_levels, 1);
        assert_int_equal(atomic[d]->ids.n_tokens, 120);
        assert_int_equal(atomic[d]->ids.largest_bucket[0], 1);
    }
    /* The main table decoded with diverse beam search: the same models, the
     * trie's rows have no invalid ID, and off the trie some beams on this
     * barely trained model name no item. */
    double invalid = 0;
    for (int i = 0; i < 5; i++) {
        const exp_row *trie = find_row(&r, EXP_TABLE_MAIN, main_rows[i]);
        const exp_row *div = find_row(&r, EXP_TABLE_MAIN_DIVERSE, main_rows[i]);
        assert_non_null(div);
        assert_string_equal(div->failed, "");
        assert_int_equal(div->decoder, EXP_DECODER_DIVERSE);
        assert_metric_ok(&div->search_recall, 2);
        assert_metric_ok(&div->invalid_share, 2);
        assert_float_equal(trie->invalid_share.mean, 0, 0);
        invalid += div->invalid_share.mean;
        /* collisions recorded, and the same count two ways */
        assert_int_equal(div->ids.n_levels, trie->ids.n_levels);
        double distinct = trie->ids.n_tasks == 1 ? trie->ids.distinct_ids[0]
                                                 : (trie->ids.distinct_ids[0] + trie->ids.distinct_ids[1]) / 2.0;
        assert_float_equal(trie->collision_rate, 1.0 - distinct / 120, 1e-9);
        assert_int_equal(trie->ids.disambiguation_size[0], trie->ids.largest_bucket[0]);
    }
    assert_true(invalid > 0);
    assert_null(find_row(&r, EXP_TABLE_MAIN_DIVERSE, "content")); /* not in the main table */

    /* Outputs exist and agree with the results. */
    char *json_path = semid_path_join(dir, "results.json");
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(json_path, &text, &len), SEMID_OK);
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "rows")), r.n_rows);
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rows"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "rec_recall"), "per_seed")), 1);
    int diverse_rows = 0;
    for (const cJSON *row = cJSON_GetObjectItem(root, "rows")->child; row; row = row->next) {
        const cJSON *dec = cJSON_GetObjectItem(row, "decoder");
        if (!cJSON_IsTrue(cJSON_GetObjectItem(row, "generative"))) continue;
        assert_true(cJSON_IsString(dec));
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(row, "ids"), "tasks"));
        if (strcmp(dec->valuestring, "diverse") == 0) {
            diverse_rows++;
            const char *table = cJSON_GetObjectItem(row, "table")->valuestring;
            assert_true(strcmp(table, "main_diverse") == 0 || strcmp(table, "reference") == 0);
        }
    }
    assert_int_equal(diverse_rows, 6); /* the main table's five and atomic IDs */
    cJSON_Delete(root);
    char *md = semid_path_join(dir, "report.md");
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "Table 1"));
    assert_non_null(strstr(text, "Table 2"));
    assert_non_null(strstr(text, "Table 3"));
    assert_non_null(strstr(text, "tradeoff.svg"));
    assert_non_null(strstr(text, "## Training and seeds"));
    assert_non_null(strstr(text, "| multi-task | 1 / 1 | 0 of 2 | 1 / 1 |"));
    assert_non_null(strstr(text, "Table 2b"));
    assert_non_null(strstr(text, "| atomic IDs (one token per item) (reference) |"));
    assert_non_null(strstr(text, "## Semantic-ID collisions"));
    assert_non_null(strstr(text, "| atomic IDs (one token per item) | 1 | 120 | 0.0% | 120 | 1 | – |"));
    free(text);
    char *svg = semid_path_join(dir, "tradeoff.svg");
    assert_true(semid_path_exists(svg));

    /* A second run reuses every stage and reproduces the figures; a changed
     * decoding setting leaves the embeddings and IDs alone. */
    double first_seconds = r.seconds;
    double multi_rec = find_row(&r, EXP_TABLE_MAIN, "multi")->rec_recall.mean;
    exp_results_free(&r);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    assert_true(r.seconds < first_seconds);
    assert_float_equal(find_row(&r, EXP_TABLE_MAIN, "multi")->rec_recall.mean, multi_rec, 0);
    assert_int_equal(find_row(&r, EXP_TABLE_MAIN, "multi")->epochs_run.n, 2); /* kept in the cached evaluation */
    exp_results_free(&r);

    /* Another diverse penalty decodes the models again, and trains none. */
    char *model_marker = semid_path_join(dir, "models/multi-rqkmeans-s1.done");
    char *diverse_marker = semid_path_join(dir, "models/multi-rqkmeans-s1/diverse.done");
    char *model_before, *diverse_before, *model_after, *diverse_after;
    assert_int_equal(semid_read_file(model_marker, &model_before, &len), SEMID_OK);
    assert_int_equal(semid_read_file(diverse_marker, &diverse_before, &len), SEMID_OK);

    /* The quick preset's test sample (eval.*) does not reach this split: no
     * limit is the same run, stage for stage. */
    exp_config whole = cfg;
    assert_int_equal(exp_config_apply_override(&whole, "eval.max_queries=0"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&whole, "eval.max_users=0"), SEMID_OK);
    assert_int_equal(exp_run(&whole, dir, &r), SEMID_OK);
    assert_float_equal(find_row(&r, EXP_TABLE_MAIN, "multi")->rec_recall.mean, multi_rec, 0);
    assert_null(strstr(r.dataset_summary, "sample"));
    exp_results_free(&r);
    assert_int_equal(semid_read_file(model_marker, &model_after, &len), SEMID_OK);
    assert_string_equal(model_before, model_after);
    free(model_after);
    exp_config penalty = cfg;
    assert_int_equal(exp_config_apply_override(&penalty, "decode.diverse_penalty=0.5"), SEMID_OK);
    assert_int_equal(exp_run(&penalty, dir, &r), SEMID_OK);
    exp_results_free(&r);
    assert_int_equal(semid_read_file(model_marker, &model_after, &len), SEMID_OK);
    assert_int_equal(semid_read_file(diverse_marker, &diverse_after, &len), SEMID_OK);
    assert_string_equal(model_before, model_after);
    assert_string_not_equal(diverse_before, diverse_after);
    free(model_before), free(model_after), free(diverse_before), free(diverse_after);
    free(model_marker), free(diverse_marker);

    char *marker = semid_path_join(dir, "emb/search.done");
    char *before;
    assert_int_equal(semid_read_file(marker, &before, &len), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "model.beam=12"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "sid.strategies=multi"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "sid.ablation=rqkmeans"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    char *after;
    assert_int_equal(semid_read_file(marker, &after, &len), SEMID_OK);
    assert_string_equal(before, after);
    free(before);
    free(after);
    exp_results_free(&r);

    /* Hybrid rows (hybrid.*) on the trained models: W = 1 with no dense
     * candidate is the beam's own ranking, so the figures are the model's;
     * W = 0 with every item a candidate ranks by cosine alone, as the
     * multi-task bi-encoder's dense row does (up to float ties). */
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.strategy=multi"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.weight=1"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.dense_k=0"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    const exp_row *hyb = find_row(&r, EXP_TABLE_HYBRID, "multi+dense"), *gen = find_row(&r, EXP_TABLE_MAIN, "multi");
    assert_non_null(hyb);
    assert_non_null(find_row(&r, EXP_TABLE_HYBRID, "multi"));
    assert_string_equal(hyb->failed, "");
    assert_int_equal(hyb->search_recall.n, 2);
    for (int s = 0; s < 2; s++) {
        assert_float_equal(hyb->search_recall.per_seed[s], gen->search_recall.per_seed[s], 1e-12);
        assert_float_equal(hyb->rec_recall.per_seed[s], gen->rec_recall.per_seed[s], 1e-12);
    }
    exp_results_free(&r);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.weight=0"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.dense_k=120"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    hyb = find_row(&r, EXP_TABLE_HYBRID, "multi+dense");
    const exp_row *dense = find_row(&r, EXP_TABLE_REFERENCE, "dense_multi");
    assert_non_null(dense);
    assert_string_equal(hyb->failed, "");
    assert_float_equal(hyb->search_recall.mean, dense->search_recall.mean, 2.0 / 240);
    double search_before = hyb->search_recall.mean;
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "Hybrid re-ranking"));
    free(text);
    exp_results_free(&r);
    /* Recommendation's dense side from ENMF (hybrid.rec_dense=enmf), at W 0
     * over every item: each user's ENMF vector . item vectors ranks them, as
     * the ENMF reference row (now in the run) does; search is unchanged. */
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.rec_dense=enmf"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    hyb = find_row(&r, EXP_TABLE_HYBRID, "multi+dense");
    const exp_row *enmf_ref = find_row(&r, EXP_TABLE_REFERENCE, "enmf");
    assert_non_null(enmf_ref);
    assert_string_equal(hyb->failed, "");
    assert_float_equal(hyb->search_recall.mean, search_before, 1e-12);
    assert_float_equal(hyb->rec_recall.mean, enmf_ref->rec_recall.mean, 1e-12);
    exp_results_free(&r);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.rec_dense=encoder"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "hybrid.strategy=\"\""), SEMID_OK);

    /* Another learning rate retrains the model over the old one's resume
     * checkpoint, which belongs to other settings: no row fails. */
    assert_int_equal(exp_config_apply_override(&cfg, "model.lr=0.002"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    for (int i = 0; i < r.n_rows; i++) assert_string_equal(r.rows[i].failed, "");
    exp_results_free(&r);

    /* The third task: the personalised-search columns on the rec users,
     * tested against the history withheld and rec alone, in the report;
     * kept in the cached evaluation. */
    assert_int_equal(exp_config_apply_override(&cfg, "model.personal_share=0.3"), SEMID_OK);
    for (int run = 0; run < 2; run++) {
        assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
        const exp_row *m = find_row(&r, EXP_TABLE_MAIN, "multi");
        assert_string_equal(m->failed, "");
        assert_int_equal(m->n_personal, m->n_rec);
        assert_metric_ok(&m->personal_recall, 2);
        assert_metric_ok(&m->plain_recall, 2);
        assert_false(isnan(m->p_personal_plain));
        assert_false(isnan(m->p_personal_rec_seeds));
        assert_int_equal(find_row(&r, EXP_TABLE_REFERENCE, "popularity")->n_personal, 0);
        exp_results_free(&r);
    }
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "## Personalised search (the third task)"));
    assert_non_null(strstr(text, "| multi-task |"));
    free(text);
    assert_int_equal(semid_read_file(json_path, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "\"p_personal_vs_plain\""));
    free(text);

    /* A test sample that the split reaches: every row and seed on the same
     * 100 queries and 50 users, stated in the dataset line. */
    assert_int_equal(exp_config_apply_override(&cfg, "model.personal_share=0"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "eval.max_queries=100"), SEMID_OK);
    assert_int_equal(exp_config_apply_override(&cfg, "eval.max_users=50"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    int sampled_rows = 0;
    for (int i = 0; i < r.n_rows; i++) {
        const exp_row *row = &r.rows[i];
        assert_string_equal(row->failed, "");
        if (row->n_search > 0) assert_int_equal(row->n_search, 100);
        if (row->n_rec > 0) assert_int_equal(row->n_rec, 50);
        sampled_rows += row->n_search > 0;
    }
    assert_true(sampled_rows >= 3); /* popularity, the dense rows and the model */
    assert_non_null(strstr(r.dataset_summary, "240 test queries; evaluated on a seeded sample: 100 test queries"));
    exp_results_free(&r);

    test_rm_rf(dir);
    free(dir), free(json_path), free(md), free(svg), free(marker);
}

static void test_bad_dataset_fails_before_work(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    exp_config cfg;
    tiny_config(&cfg);
    assert_int_equal(exp_config_apply_override(&cfg, "dataset=/nonexistent/semid-data"), SEMID_OK);
    exp_results r;
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "/nonexistent/semid-data"));
    exp_results_free(&r);
    /* sid.codebook larger than the catalog is rejected once the catalog is known. */
    tiny_config(&cfg);
    assert_int_equal(exp_config_apply_override(&cfg, "sid.codebook=500"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "sid.codebook"));
    exp_results_free(&r);
    test_rm_rf(dir);
    free(dir);
}

/* cold.*: the held-out items are added to the hybrid strategy's model
 * after training (its own directory keeps the catalog as trained), and the
 * four rankings are reported for warm and cold tests apart. */
static void test_cold_items(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    exp_config cfg;
    tiny_config(&cfg);
    const char *more[] = {"sid.strategies=multi", "sid.ablation=", "seeds=[1]", "model.parallel=1",
                          "hybrid.strategy=multi", "cold.fraction=0.1", "cold.seed=3", "sid.codebook=16"};
    apply_all(&cfg, more, sizeof more / sizeof more[0]);
    exp_results r;
    if (exp_run(&cfg, dir, &r) != SEMID_OK) fail_msg("experiment failed: %s", semid_last_error());
    const char *methods[] = {"generative", "expand", "dense", "hybrid"};
    for (int m = 0; m < 4; m++) {
        char name[48];
        snprintf(name, sizeof name, "warm/%s", methods[m]);
        const exp_row *w = find_row(&r, EXP_TABLE_WARM, name);
        snprintf(name, sizeof name, "cold/%s", methods[m]);
        const exp_row *c = find_row(&r, EXP_TABLE_COLD, name);
        assert_non_null(w);
        assert_non_null(c);
        assert_string_equal(w->failed, "");
        assert_string_equal(c->failed, "");
        assert_int_equal(w->n_search, 108 * 2); /* the warm items' 2 test queries each */
        assert_int_equal(c->n_search, 12 * 4);  /* every query of the 12 cold items */
        assert_metric_ok(&c->search_recall, 1);
    }
    /* the frozen bi-encoder finds held-out items by their text */
    assert_true(find_row(&r, EXP_TABLE_COLD, "cold/dense")->search_recall.mean > 0.1);
    /* the training stages saw 108 items; the copy holds the added ones */
    assert_non_null(strstr(r.dataset_summary, "108 items"));
    char *own = semid_path_join(dir, "models/multi-rqkmeans-s1/catalog.json");
    char *copy = semid_path_join(dir, "models/multi-rqkmeans-s1/cold/catalog.json");
    assert_false(semid_path_exists(own));
    assert_true(semid_path_exists(copy));
    /* the trade-off plot keeps to the warm dataset's test split */
    char *svg = semid_path_join(dir, "tradeoff.svg"), *text = NULL;
    size_t len = 0;
    assert_int_equal(semid_read_file(svg, &text, &len), SEMID_OK);
    assert_null(strstr(text, "dense only"));
    assert_non_null(strstr(text, "dense re-ranking"));
    free(text), free(svg);
    exp_results_free(&r);
    test_rm_rf(dir);
    free(dir), free(own), free(copy);
}

/* The marker of a stage, as text (NULL-safe to free). */
static char *marker_text(const char *dir, const char *stage) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s.done", stage);
    char *path = semid_path_join(dir, rel), *text = NULL;
    size_t len = 0;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    free(path);
    return text;
}

/* queries.unseen_style: every row with a search figure gets a second one on
 * the unseen-style test queries, the models not retrained; cached, and a
 * changed count redoes only those evaluations. */
static void test_unseen_style_columns(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    exp_config cfg;
    tiny_config(&cfg);
    const char *more[] = {"sid.strategies=search,multi", "sid.ablation=rqkmeans", "seeds=[1]", "model.parallel=1",
                          "hybrid.strategy=multi", "queries.unseen_style=3"};
    apply_all(&cfg, more, sizeof more / sizeof more[0]);
    exp_results r;
    if (exp_run(&cfg, dir, &r) != SEMID_OK) fail_msg("experiment failed: %s", semid_last_error());
    assert_non_null(strstr(r.dataset_summary, "240 test queries, 360 in the unseen style"));
    int search_rows = 0, generative = 0, diverse = 0, hybrid = 0, best_main = 0;
    for (int i = 0; i < r.n_rows; i++) {
        const exp_row *row = &r.rows[i];
        assert_string_equal(row->failed, "");
        best_main += row->table == EXP_TABLE_MAIN && row->best_unseen;
        if (row->search_recall.n == 0) { /* ENMF: no search side, no unseen column */
            assert_int_equal(row->n_unseen, 0);
            assert_int_equal(row->unseen_recall.n, 0);
            continue;
        }
        search_rows++;
        generative += row->generative;
        diverse += row->decoder == EXP_DECODER_DIVERSE;
        hybrid += row->table == EXP_TABLE_HYBRID;
        assert_int_equal(row->n_unseen, 120 * 3); /* 3 per item, every item had test queries */
        assert_metric_ok(&row->unseen_recall, 1);
        assert_metric_ok(&row->unseen_ndcg, 1);
        assert_non_null(row->unseen_hits);
        /* Popularity reads no query: with as many queries per item in both
         * sets its recall is the same; every row that reads the text moves. */
        if (strcmp(row->name, "popularity") == 0)
            assert_float_equal(row->unseen_recall.mean, row->search_recall.mean, 1e-12);
        else
            assert_true(row->unseen_recall.mean != row->search_recall.mean);
    }
    assert_int_equal(search_rows, 13); /* popularity, 2 dense; search, multi, rqkmeans, atomic; 3 diverse; 3 hybrid */
    assert_int_equal(generative, 10);
    assert_int_equal(diverse, 3);
    assert_int_equal(hybrid, 2);
    assert_int_equal(best_main, 1);
    /* The unseen figure of a model is its evaluation on the cached unseen
     * dataset, computed here apart (search and rec: the same search). */
    const exp_row *multi = find_row(&r, EXP_TABLE_MAIN, "multi");
    char *model_dir = semid_path_join(dir, "models/multi-rqkmeans-s1");
    char *unseen_path = semid_path_join(dir, "dataset_unseen.sdd");
    semid_gen_bundle *bundle = NULL;
    semid_dataset unseen;
    assert_int_equal(semid_gen_bundle_load(model_dir, &bundle), SEMID_OK);
    assert_int_equal(semid_dataset_load(unseen_path, &unseen), SEMID_OK);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = cfg.beam;
    o.beam.k = cfg.k;
    semid_ranking_eval search, rec;
    assert_int_equal(semid_gen_evaluate(bundle, &unseen, SEMID_SPLIT_TEST, &o, &search, &rec, NULL), SEMID_OK);
    assert_int_equal(search.n, 360);
    assert_float_equal(semid_ranking_eval_mean(&search, SEMID_GROUP_ALL).recall, multi->unseen_recall.mean, 1e-12);
    assert_float_equal(semid_ranking_eval_mean(&rec, SEMID_GROUP_ALL).recall, multi->rec_recall.mean, 1e-12);
    semid_ranking_eval_free(&search), semid_ranking_eval_free(&rec);
    semid_dataset_free(&unseen);
    semid_gen_bundle_free(bundle);
    double unseen_multi = multi->unseen_recall.mean;

    /* In the report (a column and its note) and in results.json. */
    char *md = semid_path_join(dir, "report.md"), *json = semid_path_join(dir, "results.json"), *text;
    size_t len;
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_non_null(strstr(text, "| Search R@10 (unseen style) | Search NDCG@10 (unseen style) |"));
    assert_non_null(strstr(text, "360 other test queries (3 per tested item"));
    free(text);
    assert_int_equal(semid_read_file(json, &text, &len), SEMID_OK);
    cJSON *root = cJSON_Parse(text);
    free(text);
    int with_unseen = 0;
    for (const cJSON *row = cJSON_GetObjectItem(root, "rows")->child; row; row = row->next)
        with_unseen += cJSON_GetObjectItem(row, "search_unseen_recall") != NULL &&
                       cJSON_IsBool(cJSON_GetObjectItem(row, "search_unseen_differs_from_best"));
    assert_int_equal(with_unseen, 13);
    cJSON_Delete(root);
    exp_results_free(&r);

    /* A rerun reuses every evaluation; another count redoes the unseen-style
     * ones alone (no model trains, no in-style evaluation runs). */
    const char *stages[] = {"models/multi-rqkmeans-s1", "models/multi-rqkmeans-s1/diverse",
                            "models/multi-rqkmeans-s1/hybrid", "ref/dense_search", "dataset"};
    const char *unseen_stages[] = {"models/multi-rqkmeans-s1-unseen", "models/multi-rqkmeans-s1/diverse-unseen",
                                   "models/multi-rqkmeans-s1/hybrid-unseen", "ref/dense_search-unseen", "dataset_unseen"};
    char *before[5], *unseen_before[5];
    for (int i = 0; i < 5; i++) before[i] = marker_text(dir, stages[i]), unseen_before[i] = marker_text(dir, unseen_stages[i]);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    assert_float_equal(find_row(&r, EXP_TABLE_MAIN, "multi")->unseen_recall.mean, unseen_multi, 0);
    exp_results_free(&r);
    for (int i = 0; i < 5; i++) {
        char *again = marker_text(dir, unseen_stages[i]);
        assert_string_equal(again, unseen_before[i]);
        free(again);
    }
    assert_int_equal(exp_config_apply_override(&cfg, "queries.unseen_style=2"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    assert_int_equal(find_row(&r, EXP_TABLE_MAIN, "multi")->n_unseen, 240);
    exp_results_free(&r);
    for (int i = 0; i < 5; i++) {
        char *same = marker_text(dir, stages[i]), *moved = marker_text(dir, unseen_stages[i]);
        assert_string_equal(same, before[i]);
        assert_string_not_equal(moved, unseen_before[i]);
        free(same), free(moved), free(before[i]), free(unseen_before[i]);
    }
    /* Off: no column. */
    assert_int_equal(exp_config_apply_override(&cfg, "queries.unseen_style=0"), SEMID_OK);
    assert_int_equal(exp_run(&cfg, dir, &r), SEMID_OK);
    for (int i = 0; i < r.n_rows; i++) assert_int_equal(r.rows[i].n_unseen, 0);
    exp_results_free(&r);
    assert_int_equal(semid_read_file(md, &text, &len), SEMID_OK);
    assert_null(strstr(text, "unseen style"));
    free(text);
    test_rm_rf(dir);
    free(dir), free(md), free(json), free(model_dir), free(unseen_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_dataset_fails_before_work),
        cmocka_unit_test(test_tiny_experiment_is_complete_and_cached),
        cmocka_unit_test(test_cold_items),
        cmocka_unit_test(test_unseen_style_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
