#include "exp/results.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "eval/stats.h"
#include "io/json.h"

void exp_results_init(exp_results *r, int32_t k) {
    memset(r, 0, sizeof *r);
    r->k = k;
}

void exp_row_free_hits(exp_row *row) {
    free(row->search_hits);
    free(row->rec_hits);
    free(row->personal_hits);
    free(row->plain_hits);
    free(row->unseen_hits);
    row->search_hits = row->rec_hits = row->personal_hits = row->plain_hits = row->unseen_hits = NULL;
}

void exp_results_free(exp_results *r) {
    for (int32_t i = 0; i < r->n_rows; i++) exp_row_free_hits(&r->rows[i]);
    free(r->rows);
    free(r->config_json);
    memset(r, 0, sizeof *r);
}

semid_status exp_results_add(exp_results *r, const exp_row *row) {
    if (r->n_rows == r->cap) {
        int32_t cap = r->cap ? 2 * r->cap : 16;
        exp_row *grown = realloc(r->rows, (size_t)cap * sizeof *grown);
        if (!grown) return semid_fail(SEMID_ENOMEM, "out of memory");
        r->rows = grown;
        r->cap = cap;
    }
    r->rows[r->n_rows++] = *row;
    return SEMID_OK;
}

void exp_metric_add(exp_metric *m, double value) {
    if (m->n >= EXP_MAX_SEEDS) return;
    m->per_seed[m->n++] = value;
    m->mean = semid_mean(m->per_seed, m->n);
    m->sd = semid_stddev(m->per_seed, m->n);
}

/* A row's figures on one task, as the comparisons read and mark them. */
typedef struct task_view {
    const exp_metric *recall;
    const double *hits;
    int64_t n;
    double *p, *p_seeds;
    int *best;
} task_view;

static task_view task_of(exp_row *row, exp_task task) {
    switch (task) {
    case EXP_TASK_SEARCH:
        return (task_view){&row->search_recall, row->search_hits, row->n_search, &row->p_search, &row->p_search_seeds,
                           &row->best_search};
    case EXP_TASK_UNSEEN:
        return (task_view){&row->unseen_recall, row->unseen_hits, row->n_unseen, &row->p_unseen, &row->p_unseen_seeds,
                           &row->best_unseen};
    default:
        return (task_view){&row->rec_recall, row->rec_hits, row->n_rec, &row->p_rec, &row->p_rec_seeds, &row->best_rec};
    }
}

/* Best row of a table on one task, then paired t-tests of every other row
 * of that table against it, Bonferroni-corrected over the number of
 * comparisons (the table's rows less one): over queries (per-query hits,
 * each the mean over seeds: it does not see the seed-to-seed spread) and,
 * with 2 seeds or more in both rows, over seeds (seed i of the row against
 * seed i of the best row: the same data order and initialisation seed, n - 1
 * degrees of freedom). */
static semid_status compare_task(exp_results *r, exp_table table, exp_task task) {
    int best = -1, members = 0;
    for (int i = 0; i < r->n_rows; i++) {
        exp_row *row = &r->rows[i];
        const exp_metric *m = task_of(row, task).recall;
        if (m->n == 0 || row->table != table) continue;
        members++;
        if (best < 0 || m->mean > task_of(&r->rows[best], task).recall->mean) best = i;
    }
    if (best < 0) return SEMID_OK;
    task_view b = task_of(&r->rows[best], task);
    *b.best = 1;
    *b.p = -1;
    for (int i = 0; i < r->n_rows; i++) {
        if (i == best || r->rows[i].table != table) continue;
        task_view v = task_of(&r->rows[i], task);
        *v.p = *v.p_seeds = NAN;
        semid_ttest t;
        if (v.recall->n >= 2 && v.recall->n == b.recall->n) {
            SEMID_TRY(semid_paired_ttest(v.recall->per_seed, b.recall->per_seed, v.recall->n, &t));
            *v.p_seeds = semid_bonferroni(t.p, members - 1);
        }
        if (!v.hits || !b.hits || v.n != b.n || v.n < 2) continue;
        SEMID_TRY(semid_paired_ttest(v.hits, b.hits, v.n, &t));
        *v.p = semid_bonferroni(t.p, members - 1);
    }
    return SEMID_OK;
}

/* Personalised search against one reference of the same row (its plain
 * search or its rec alone), over users and over seeds; NAN where no test. */
static semid_status compare_personal(const exp_row *row, const double *ref_hits, int64_t n_ref,
                                     const exp_metric *ref, double *p, double *p_seeds) {
    *p = *p_seeds = NAN;
    semid_ttest t;
    const exp_metric *m = &row->personal_recall;
    if (m->n >= 2 && m->n == ref->n) {
        SEMID_TRY(semid_paired_ttest(m->per_seed, ref->per_seed, m->n, &t));
        *p_seeds = t.p;
    }
    if (row->personal_hits && ref_hits && n_ref == row->n_personal && n_ref >= 2) {
        SEMID_TRY(semid_paired_ttest(row->personal_hits, ref_hits, n_ref, &t));
        *p = t.p;
    }
    return SEMID_OK;
}

semid_status exp_results_compare(exp_results *r) {
    for (int i = 0; i < r->n_rows; i++) {
        exp_row *row = &r->rows[i];
        for (int t = 0; t < EXP_N_TASKS; t++) {
            task_view v = task_of(row, (exp_task)t);
            *v.best = 0;
            *v.p = *v.p_seeds = NAN;
        }
        SEMID_TRY(compare_personal(row, row->plain_hits, row->n_personal, &row->plain_recall, &row->p_personal_plain,
                                   &row->p_personal_plain_seeds));
        SEMID_TRY(compare_personal(row, row->rec_hits, row->n_rec, &row->rec_recall, &row->p_personal_rec,
                                   &row->p_personal_rec_seeds));
    }
    for (int t = EXP_TABLE_MOTIVATION; t < EXP_N_TABLES; t++)
        for (int task = 0; task < EXP_N_TASKS; task++) SEMID_TRY(compare_task(r, (exp_table)t, (exp_task)task));
    return SEMID_OK;
}

int exp_row_differs(const exp_row *row, exp_task task, double alpha) {
    task_view v = task_of((exp_row *)row, task); /* read only */
    double p = *v.p, ps = *v.p_seeds;
    int seeds = v.recall->n;
    if (isnan(p) || p < 0 || !(p < alpha)) return 0; /* no test, the best row, or no difference over queries */
    return seeds < 2 || ps < alpha;                  /* NAN (no seed test with seeds) fails this */
}

static const char *table_name(exp_table t) {
    switch (t) {
    case EXP_TABLE_REFERENCE: return "reference";
    case EXP_TABLE_MOTIVATION: return "motivation";
    case EXP_TABLE_MAIN: return "main";
    case EXP_TABLE_ABLATION: return "ablation";
    case EXP_TABLE_MAIN_DIVERSE: return "main_diverse";
    case EXP_TABLE_HYBRID: return "hybrid";
    case EXP_TABLE_WARM: return "warm";
    case EXP_TABLE_COLD: return "cold";
    default: return "?";
    }
}

/* The adders below return 0 when out of memory (cJSON's adders fail then,
 * and an item that could not be added is freed here). */
static int add_item(cJSON *o, const char *key, cJSON *item) {
    if (item && cJSON_AddItemToObject(o, key, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

static int add_metric(cJSON *o, const char *key, const exp_metric *m) {
    cJSON *j = cJSON_CreateObject();
    cJSON *a = j && cJSON_AddNumberToObject(j, "mean", m->mean) && cJSON_AddNumberToObject(j, "sd", m->sd)
                   ? cJSON_AddArrayToObject(j, "per_seed")
                   : NULL;
    int ok = a != NULL;
    for (int i = 0; ok && i < m->n; i++) {
        cJSON *v = cJSON_CreateNumber(m->per_seed[i]);
        ok = v && cJSON_AddItemToArray(a, v);
        if (!ok) cJSON_Delete(v);
    }
    if (!ok) {
        cJSON_Delete(j);
        return 0;
    }
    return add_item(o, key, j);
}

/* {"levels", "tokens", "disambiguated", "tasks": [{"colliding_share",
 * "distinct_ids", "largest_bucket", "disambiguation_size"}, ...]}. */
static int add_collisions(cJSON *o, const exp_collisions *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON *tasks = j && cJSON_AddNumberToObject(j, "levels", c->n_levels) && cJSON_AddNumberToObject(j, "tokens", c->n_tokens) &&
                           cJSON_AddBoolToObject(j, "disambiguated", c->disambiguated)
                       ? cJSON_AddArrayToObject(j, "tasks")
                       : NULL;
    int ok = tasks != NULL;
    for (int t = 0; ok && t < c->n_tasks && t < 2; t++) {
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddNumberToObject(e, "colliding_share", c->colliding_share[t]) &&
             cJSON_AddNumberToObject(e, "distinct_ids", c->distinct_ids[t]) &&
             cJSON_AddNumberToObject(e, "largest_bucket", c->largest_bucket[t]) &&
             cJSON_AddNumberToObject(e, "disambiguation_size", c->disambiguation_size[t]) && cJSON_AddItemToArray(tasks, e);
        if (!ok) cJSON_Delete(e);
    }
    if (!ok) {
        cJSON_Delete(j);
        return 0;
    }
    return add_item(o, "ids", j);
}

static int add_p(cJSON *o, const char *key, double p) {
    return isnan(p) ? cJSON_AddNullToObject(o, key) != NULL : cJSON_AddNumberToObject(o, key, p) != NULL;
}

static int add_row(cJSON *rows, const exp_row *row) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "table", table_name(row->table)) &&
             cJSON_AddStringToObject(o, "name", row->name) && cJSON_AddStringToObject(o, "label", row->label) &&
             cJSON_AddBoolToObject(o, "generative", row->generative) &&
             add_metric(o, "search_recall", &row->search_recall) && add_metric(o, "search_ndcg", &row->search_ndcg) &&
             add_metric(o, "rec_recall", &row->rec_recall) && add_metric(o, "rec_ndcg", &row->rec_ndcg) &&
             add_metric(o, "rec_head_recall", &row->rec_head) && add_metric(o, "rec_torso_recall", &row->rec_torso) &&
             (!row->generative || (add_metric(o, "invalid_share", &row->invalid_share) &&
                                   cJSON_AddStringToObject(o, "decoder", row->decoder == EXP_DECODER_DIVERSE ? "diverse" : "trie") &&
                                   cJSON_AddNumberToObject(o, "collision_rate", row->collision_rate) &&
                                   (row->ids.n_tasks == 0 || add_collisions(o, &row->ids)) &&
                                   add_metric(o, "epochs_run", &row->epochs_run) &&
                                   add_metric(o, "best_epoch", &row->best_epoch) &&
                                   cJSON_AddNumberToObject(o, "seeds_stopped_early", row->n_stopped_early))) &&
             cJSON_AddBoolToObject(o, "best_search", row->best_search) &&
             cJSON_AddBoolToObject(o, "best_rec", row->best_rec) && add_p(o, "p_search_vs_best", row->p_search) &&
             add_p(o, "p_rec_vs_best", row->p_rec) && add_p(o, "p_search_vs_best_seeds", row->p_search_seeds) &&
             add_p(o, "p_rec_vs_best_seeds", row->p_rec_seeds) &&
             cJSON_AddBoolToObject(o, "search_differs_from_best", exp_row_differs(row, EXP_TASK_SEARCH, 0.05)) &&
             cJSON_AddBoolToObject(o, "rec_differs_from_best", exp_row_differs(row, EXP_TASK_REC, 0.05)) &&
             (row->n_unseen == 0 ||
              (add_metric(o, "search_unseen_recall", &row->unseen_recall) &&
               add_metric(o, "search_unseen_ndcg", &row->unseen_ndcg) &&
               cJSON_AddNumberToObject(o, "n_search_unseen_queries", (double)row->n_unseen) &&
               cJSON_AddBoolToObject(o, "best_search_unseen", row->best_unseen) &&
               add_p(o, "p_search_unseen_vs_best", row->p_unseen) &&
               add_p(o, "p_search_unseen_vs_best_seeds", row->p_unseen_seeds) &&
               cJSON_AddBoolToObject(o, "search_unseen_differs_from_best",
                                     exp_row_differs(row, EXP_TASK_UNSEEN, 0.05)))) &&
             cJSON_AddNumberToObject(o, "n_search_queries", (double)row->n_search) &&
             cJSON_AddNumberToObject(o, "n_rec_users", (double)row->n_rec) &&
             (row->n_personal == 0 ||
              (add_metric(o, "personal_recall", &row->personal_recall) &&
               add_metric(o, "personal_ndcg", &row->personal_ndcg) &&
               add_metric(o, "personal_plain_recall", &row->plain_recall) &&
               add_metric(o, "personal_plain_ndcg", &row->plain_ndcg) &&
               cJSON_AddNumberToObject(o, "n_personal_users", (double)row->n_personal) &&
               add_p(o, "p_personal_vs_plain", row->p_personal_plain) &&
               add_p(o, "p_personal_vs_rec", row->p_personal_rec) &&
               add_p(o, "p_personal_vs_plain_seeds", row->p_personal_plain_seeds) &&
               add_p(o, "p_personal_vs_rec_seeds", row->p_personal_rec_seeds))) &&
             cJSON_AddNumberToObject(o, "seconds", row->seconds) &&
             (!row->failed[0] || cJSON_AddStringToObject(o, "failed", row->failed)) && cJSON_AddItemToArray(rows, o);
    if (!ok) cJSON_Delete(o);
    return ok;
}

semid_status exp_results_write_json(const exp_results *r, const char *path) {
    cJSON *root = cJSON_CreateObject();
    int ok = root && cJSON_AddStringToObject(root, "semid_version", SEMID_VERSION_STRING) &&
             cJSON_AddNumberToObject(root, "k", r->k) && cJSON_AddStringToObject(root, "dataset", r->dataset_summary) &&
             cJSON_AddNumberToObject(root, "seconds", r->seconds);
    if (ok && r->config_json) {
        /* (a configuration that is not JSON is left out, as before) */
        int oom = 0;
        cJSON *cfg = semid_json_parse(r->config_json, strlen(r->config_json), &oom);
        ok = !oom && (!cfg || add_item(root, "config", cfg));
    }
    cJSON *rows = ok ? cJSON_AddArrayToObject(root, "rows") : NULL;
    ok = rows != NULL;
    for (int i = 0; ok && i < r->n_rows; i++) ok = add_row(rows, &r->rows[i]);
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    semid_status st = semid_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}
