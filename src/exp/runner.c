#include "exp/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "exp/stages.h"

typedef struct row_names {
    const char *name;
    const char *label;
} row_names;

static const row_names LABELS[] = {
    {"content", "content IDs"},
    {"search", "search IDs"},
    {"rec", "rec (ENMF) IDs"},
    {"separate", "separate"},
    {"prefix_share", "prefix-share"},
    {"fused_concat", "fused concat"},
    {"fused_svd", "fused SVD"},
    {"multi", "multi-task"},
    {"rqkmeans", "RQ-KMeans"},
    {"rqvae", "RQ-VAE"},
    {"rlfq", "Residual LFQ"},
    {"dict", "dictionary encoding"},
    {"popularity", "popularity"},
    {"dense_search", "dense search bi-encoder"},
    {"dense_multi", "dense multi-task bi-encoder"},
    {"enmf", "ENMF"},
};

static const char *label_of(const char *name) {
    for (size_t i = 0; i < sizeof LABELS / sizeof LABELS[0]; i++)
        if (strcmp(LABELS[i].name, name) == 0) return LABELS[i].label;
    return name;
}

static void row_init(exp_row *row, exp_table table, const char *name, int generative) {
    memset(row, 0, sizeof *row);
    row->table = table;
    row->generative = generative;
    row->p_search = row->p_rec = NAN;
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->label, sizeof row->label, "%s", label_of(name));
}

/* Adds one seed's evaluation: its means to the metrics, its per-query hits
 * to running sums (divided by the seed count in row_finish). */
static semid_status row_add_eval(exp_row *row, const exp_eval *e) {
    const semid_ranking_eval *parts[2] = {&e->search, &e->rec};
    double **hits[2] = {&row->search_hits, &row->rec_hits};
    int64_t *counts[2] = {&row->n_search, &row->n_rec};
    for (int t = 0; t < 2; t++) {
        const semid_ranking_eval *r = parts[t];
        if (r->n == 0) continue;
        if (!*hits[t]) {
            *hits[t] = calloc((size_t)r->n, sizeof(double));
            if (!*hits[t]) return semid_fail(SEMID_ENOMEM, "out of memory");
            *counts[t] = r->n;
        } else if (*counts[t] != r->n) {
            return semid_fail(SEMID_EINTERNAL, "row %s: seeds evaluated different numbers of queries", row->name);
        }
        for (int64_t i = 0; i < r->n; i++) (*hits[t])[i] += r->recall[i];
        semid_metric_summary all = semid_ranking_eval_mean(r, SEMID_GROUP_ALL);
        exp_metric_add(t == 0 ? &row->search_recall : &row->rec_recall, all.recall);
        exp_metric_add(t == 0 ? &row->search_ndcg : &row->rec_ndcg, all.ndcg);
        if (t == 1) {
            exp_metric_add(&row->rec_head, semid_ranking_eval_mean(r, SEMID_GROUP_HEAD).recall);
            exp_metric_add(&row->rec_torso, semid_ranking_eval_mean(r, SEMID_GROUP_TORSO).recall);
        }
    }
    if (row->generative) exp_metric_add(&row->invalid_share, e->invalid_share);
    row->seconds += e->seconds;
    return SEMID_OK;
}

static void row_finish(exp_row *row) {
    if (row->search_hits && row->search_recall.n > 1)
        for (int64_t i = 0; i < row->n_search; i++) row->search_hits[i] /= row->search_recall.n;
    if (row->rec_hits && row->rec_recall.n > 1)
        for (int64_t i = 0; i < row->n_rec; i++) row->rec_hits[i] /= row->rec_recall.n;
}

static void row_fail(exp_row *row, semid_status st) {
    snprintf(row->failed, sizeof row->failed, "%s", semid_last_error()[0] ? semid_last_error() : semid_status_name(st));
    SEMID_WARN("%s: %s", row->label, row->failed);
}

/* A copy of a row (hits duplicated) for a second table. */
static semid_status row_copy(const exp_row *src, exp_table table, exp_row *dst) {
    *dst = *src;
    dst->table = table;
    dst->search_hits = dst->rec_hits = NULL;
    if (src->search_hits) {
        dst->search_hits = malloc(sizeof(double) * (size_t)src->n_search);
        if (!dst->search_hits) return semid_fail(SEMID_ENOMEM, "out of memory");
        memcpy(dst->search_hits, src->search_hits, sizeof(double) * (size_t)src->n_search);
    }
    if (src->rec_hits) {
        dst->rec_hits = malloc(sizeof(double) * (size_t)src->n_rec);
        if (!dst->rec_hits) {
            free(dst->search_hits);
            return semid_fail(SEMID_ENOMEM, "out of memory");
        }
        memcpy(dst->rec_hits, src->rec_hits, sizeof(double) * (size_t)src->n_rec);
    }
    return SEMID_OK;
}

/* One generative row: the table of (strategy, tokenizer), then a model per seed. */
static semid_status generative_row(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                   const exp_key *data_key, const char *strategy, const char *tokenizer,
                                   exp_table table, const char *name, exp_row *row) {
    row_init(row, table, name, 1);
    semid_idtable ids;
    exp_key sid_key;
    semid_status st = exp_stage_sid(cfg, run_dir, ds, data_key, strategy, tokenizer, &ids, &row->collision_rate, &sid_key);
    if (st != SEMID_OK) {
        row_fail(row, st);
        return st;
    }
    char model_name[96];
    snprintf(model_name, sizeof model_name, "%s-%s", strategy, tokenizer);
    for (int s = 0; s < cfg->n_seeds && st == SEMID_OK; s++) {
        exp_eval e;
        st = exp_stage_generative(cfg, run_dir, ds, &sid_key, &ids, model_name, cfg->seeds[s], &e);
        if (st == SEMID_OK) {
            st = row_add_eval(row, &e);
            exp_eval_free(&e);
        }
    }
    semid_idtable_free(&ids);
    if (st != SEMID_OK) row_fail(row, st);
    row_finish(row);
    return st;
}

static int wants(const exp_config *cfg, const char *strategy) {
    for (int i = 0; i < cfg->n_strategies; i++)
        if (strcmp(cfg->strategies[i], strategy) == 0) return 1;
    return 0;
}

/* Rows are added even when they fail, so the report says what is missing. */
static semid_status add_row(exp_results *res, exp_row *row) {
    semid_status st = exp_results_add(res, row);
    if (st != SEMID_OK) {
        free(row->search_hits);
        free(row->rec_hits);
    }
    return st;
}

static semid_status run_rows(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                             const exp_key *data_key, exp_results *res) {
    /* Reference rows. */
    const char *refs[4] = {"popularity", "dense_search", "enmf", "dense_multi"};
    int n_refs = (wants(cfg, "multi") || cfg->n_ablation > 0) ? 4 : 3;
    for (int i = 0; i < n_refs; i++) {
        exp_row row;
        row_init(&row, EXP_TABLE_REFERENCE, refs[i], 0);
        exp_eval e;
        semid_status st = exp_stage_reference(cfg, run_dir, ds, data_key, refs[i], &e);
        if (st == SEMID_OK) {
            st = row_add_eval(&row, &e);
            exp_eval_free(&e);
        }
        if (st != SEMID_OK) row_fail(&row, st);
        SEMID_TRY(add_row(res, &row));
    }
    /* Strategy rows: task-specific ones appear in both tables 1 and 2. */
    for (int i = 0; i < cfg->n_strategies; i++) {
        const char *s = cfg->strategies[i];
        int motivation = strcmp(s, "content") == 0 || strcmp(s, "search") == 0 || strcmp(s, "rec") == 0;
        exp_row row;
        generative_row(cfg, run_dir, ds, data_key, s, "rqkmeans", motivation ? EXP_TABLE_MOTIVATION : EXP_TABLE_MAIN, s, &row);
        if (motivation && strcmp(s, "content") != 0) {
            exp_row copy;
            SEMID_TRY(row_copy(&row, EXP_TABLE_MAIN, &copy));
            SEMID_TRY(add_row(res, &copy));
        }
        SEMID_TRY(add_row(res, &row));
    }
    /* Tokenizer ablation on the multi-task embeddings. */
    for (int i = 0; i < cfg->n_ablation; i++) {
        exp_row row;
        generative_row(cfg, run_dir, ds, data_key, "multi", cfg->ablation[i], EXP_TABLE_ABLATION, cfg->ablation[i], &row);
        SEMID_TRY(add_row(res, &row));
    }
    return SEMID_OK;
}

static semid_status write_outputs(const char *run_dir, const exp_results *res) {
    char *json = semid_path_join(run_dir, "results.json");
    char *md = semid_path_join(run_dir, "report.md");
    char *svg = semid_path_join(run_dir, "tradeoff.svg");
    semid_status st = json && md && svg ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = exp_results_write_json(res, json);
    if (st == SEMID_OK) st = exp_plot_write_svg(res, svg);
    if (st == SEMID_OK) st = exp_report_write_markdown(res, md, "tradeoff.svg");
    free(json);
    free(md);
    free(svg);
    return st;
}

semid_status exp_run(const exp_config *cfg, const char *run_dir, exp_results *res) {
    double t0 = semid_now();
    exp_results_init(res, cfg->k);
    SEMID_TRY(exp_config_validate(cfg, 0));
    semid_set_threads(cfg->threads);
    SEMID_TRY(semid_mkdirs(run_dir));
    res->config_json = exp_config_to_json(cfg);
    if (!res->config_json) return semid_fail(SEMID_ENOMEM, "out of memory");
    char *cfg_path = semid_path_join(run_dir, "config.json");
    semid_status st = cfg_path ? semid_write_file_atomic(cfg_path, res->config_json, strlen(res->config_json))
                               : semid_fail(SEMID_ENOMEM, "out of memory");
    free(cfg_path);
    SEMID_TRY(st);

    semid_dataset ds;
    exp_key data_key;
    SEMID_TRY(exp_stage_dataset(cfg, run_dir, &ds, &data_key));
    st = exp_config_validate(cfg, ds.n_items);
    if (st == SEMID_OK) {
        int64_t n_test_queries = 0;
        for (int32_t q = 0; q < ds.n_queries; q++) n_test_queries += ds.queries[q].split == SEMID_SPLIT_TEST;
        snprintf(res->dataset_summary, sizeof res->dataset_summary,
                 "%s (%d items, %d users, %lld interactions, %lld test queries)", ds.name ? ds.name : "?", ds.n_items,
                 ds.n_users, (long long)ds.n_interactions, (long long)n_test_queries);
        st = run_rows(cfg, run_dir, &ds, &data_key, res);
    }
    semid_dataset_free(&ds);
    if (st == SEMID_OK) st = exp_results_compare(res);
    res->seconds = semid_now() - t0;
    if (st == SEMID_OK) st = write_outputs(run_dir, res);
    return st;
}
