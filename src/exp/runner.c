#include "exp/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/dirlock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "base/threads.h"
#include "dist/dist.h"
#include "exp/stages.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"

/* The paper's tokenizer ablation runs on the multi-task embeddings. */
static const char ABLATION_STRATEGY[] = "multi";

/* The atomic-ID reference row: one token per item. The IDs do not depend on
 * the embeddings (they serve only a cold item's nearest neighbour); the rec
 * strategy's are computed for the ENMF reference row anyway. */
static const char ATOMIC_STRATEGY[] = "rec", ATOMIC_TOKENIZER[] = "atomic";

/* The report label of a tokenizer-ablation row: the method table's. */
static const char *tokenizer_label(const char *name) {
    const semid_tokenizer_method *m = semid_tokenizer_find_method(name);
    return m ? m->label : name;
}

static void row_init(exp_row *row, exp_table table, const char *name, const char *label, int generative) {
    memset(row, 0, sizeof *row);
    row->table = table;
    row->generative = generative;
    row->p_search = row->p_rec = NAN;
    row->p_search_seeds = row->p_rec_seeds = NAN;
    row->p_personal_plain = row->p_personal_rec = row->p_personal_plain_seeds = row->p_personal_rec_seeds = NAN;
    row->p_unseen = row->p_unseen_seeds = NAN;
    snprintf(row->name, sizeof row->name, "%s", name);
    snprintf(row->label, sizeof row->label, "%s", label);
}

/* Adds one seed's evaluation: its means to the metrics, its per-query hits
 * to running sums (divided by the seed count in row_finish). */
static semid_status row_add_eval(exp_row *row, const exp_eval *e) {
    const semid_ranking_eval *parts[5] = {&e->search, &e->rec, &e->personal, &e->plain, &e->unseen};
    double **hits[5] = {&row->search_hits, &row->rec_hits, &row->personal_hits, &row->plain_hits, &row->unseen_hits};
    int64_t *counts[5] = {&row->n_search, &row->n_rec, &row->n_personal, &row->n_personal, &row->n_unseen};
    exp_metric *recall[5] = {&row->search_recall, &row->rec_recall, &row->personal_recall, &row->plain_recall,
                             &row->unseen_recall};
    exp_metric *ndcg[5] = {&row->search_ndcg, &row->rec_ndcg, &row->personal_ndcg, &row->plain_ndcg, &row->unseen_ndcg};
    for (int t = 0; t < 5; t++) {
        const semid_ranking_eval *r = parts[t];
        if (r->n == 0) continue;
        if (!*hits[t]) {
            *hits[t] = calloc((size_t)r->n, sizeof(double));
            if (!*hits[t]) return semid_fail(SEMID_ENOMEM, "out of memory");
            if (*counts[t] == 0) *counts[t] = r->n;
        }
        if (*counts[t] != r->n)
            return semid_fail(SEMID_EINTERNAL, "row %s: seeds evaluated different numbers of queries", row->name);
        for (int64_t i = 0; i < r->n; i++) (*hits[t])[i] += r->recall[i];
        semid_metric_summary all = semid_ranking_eval_mean(r, SEMID_GROUP_ALL);
        exp_metric_add(recall[t], all.recall);
        exp_metric_add(ndcg[t], all.ndcg);
        if (t == 1) {
            exp_metric_add(&row->rec_head, semid_ranking_eval_mean(r, SEMID_GROUP_HEAD).recall);
            exp_metric_add(&row->rec_torso, semid_ranking_eval_mean(r, SEMID_GROUP_TORSO).recall);
        }
    }
    if (row->generative) {
        exp_metric_add(&row->invalid_share, e->invalid_share);
        if (e->epochs_run > 0) { /* 0: an evaluation cached without it */
            exp_metric_add(&row->epochs_run, e->epochs_run);
            exp_metric_add(&row->best_epoch, e->best_epoch);
            row->n_stopped_early += e->stopped_early != 0;
        }
    }
    row->seconds += e->seconds;
    return SEMID_OK;
}

/* Hits summed over `seeds` seeds -> their mean. */
static void hits_mean(double *hits, int64_t n, int32_t seeds) {
    if (hits && seeds > 1)
        for (int64_t i = 0; i < n; i++) hits[i] /= seeds;
}

static void row_finish(exp_row *row) {
    hits_mean(row->search_hits, row->n_search, row->search_recall.n);
    hits_mean(row->rec_hits, row->n_rec, row->rec_recall.n);
    hits_mean(row->personal_hits, row->n_personal, row->personal_recall.n);
    hits_mean(row->plain_hits, row->n_personal, row->plain_recall.n);
    hits_mean(row->unseen_hits, row->n_unseen, row->unseen_recall.n);
}

static void row_fail(exp_row *row, semid_status st) {
    snprintf(row->failed, sizeof row->failed, "%s", semid_last_error()[0] ? semid_last_error() : semid_status_name(st));
    SEMID_WARN("%s: %s", row->label, row->failed);
}

/* A copy of n doubles (NULL for NULL); 0 when out of memory. */
static int copy_hits(const double *src, int64_t n, double **dst) {
    *dst = NULL;
    if (!src) return 1;
    *dst = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (*dst) memcpy(*dst, src, sizeof(double) * (size_t)n);
    return *dst != NULL;
}

/* A copy of a row (hits duplicated) for a second table. */
static semid_status row_copy(const exp_row *src, exp_table table, exp_row *dst) {
    *dst = *src;
    dst->table = table;
    dst->search_hits = dst->rec_hits = dst->personal_hits = dst->plain_hits = dst->unseen_hits = NULL;
    if (copy_hits(src->search_hits, src->n_search, &dst->search_hits) &&
        copy_hits(src->rec_hits, src->n_rec, &dst->rec_hits) &&
        copy_hits(src->personal_hits, src->n_personal, &dst->personal_hits) &&
        copy_hits(src->plain_hits, src->n_personal, &dst->plain_hits) &&
        copy_hits(src->unseen_hits, src->n_unseen, &dst->unseen_hits))
        return SEMID_OK;
    exp_row_free_hits(dst);
    return semid_fail(SEMID_ENOMEM, "out of memory");
}

/* One record of a model (exp_record_kind): its evaluations, or why it failed. */
typedef struct job_record {
    exp_eval evals[EXP_RECORD_MAX_EVALS]; /* exp_record_evals(kind) of them */
    semid_status st;
    char error[256];
} job_record;

struct model_job;

/* A generative row: the ID table of (strategy, tokenizer), then one model per seed. */
typedef struct gen_row {
    const char *strategy, *tokenizer;
    exp_table table;
    const char *name, *label;
    int also_main; /* task-specific rows are shown in the main table too */
    int diverse;   /* also decoded with diverse beam search (decode.diverse) */
    int hybrid;    /* hybrid.strategy's row: re-ranked (and with cold.fraction, given the held-out items) */
    exp_row row;
    exp_row diverse_row;
    semid_idtable ids;
    exp_key sid_key;
    int have_ids;
    int same_as;             /* index of an earlier row with the same models, or -1 */
    struct model_job *jobs; /* its models, one a seed (those of same_as); NULL without IDs */
} gen_row;

/* One model to train, and its records. */
typedef struct model_job {
    gen_row *row;
    int seed_index;
    job_record rec[EXP_RECORD_N]; /* by exp_record_kind; those row_makes says */
} model_job;

/* Whether the models of a row make a record beside their own. */
static int row_makes(const exp_config *cfg, const gen_row *g, exp_record_kind kind) {
    switch (kind) {
    case EXP_RECORD_DIVERSE: return g->diverse;
    case EXP_RECORD_HYBRID: return g->hybrid;
    case EXP_RECORD_COLD: return g->hybrid && cfg->cold_fraction > 0;
    default: return 1;
    }
}

/* Models in parallel: each job on one thread (its loops and BLAS inside
 * this team run on one thread each). Small models keep
 * one core busy far better than they share two, and the jobs are
 * independent, so this is where an experiment's threads pay. */
static int models_at_once(const exp_config *cfg, int n_jobs) {
    int p = cfg->model_parallel > 0 ? cfg->model_parallel : semid_get_threads();
    return p < n_jobs ? p : n_jobs;
}

static void job_model_name(const model_job *m, char name[96]) {
    snprintf(name, 96, "%s-%s", m->row->strategy, m->row->tokenizer);
}

/* A model that failed has no other record: each fails with its error (the
 * rows say why). 1 when the model failed. */
static int inherit_failure(model_job *m, exp_record_kind kind) {
    const job_record *model = &m->rec[EXP_RECORD_MODEL];
    if (kind == EXP_RECORD_MODEL || model->st == SEMID_OK) return 0;
    m->rec[kind].st = model->st;
    snprintf(m->rec[kind].error, sizeof m->rec[kind].error, "%s", model->error);
    return 1;
}

/* Makes the records [from, to) of job m on the rank that trains it: each
 * stage computes its record or reads it from the cache. */
static void make_records(const exp_config *cfg, const char *run_dir, const semid_dataset *ds, const exp_unseen *unseen,
                         const exp_key *data_key, model_job *m, exp_record_kind from, exp_record_kind to,
                         int progress) {
    char name[96];
    job_model_name(m, name);
    const int64_t seed = cfg->seeds[m->seed_index];
    const exp_key *sid_key = &m->row->sid_key;
    for (exp_record_kind kind = from; kind < to; kind++) {
        job_record *r = &m->rec[kind];
        if (!row_makes(cfg, m->row, kind) || inherit_failure(m, kind)) continue;
        switch (kind) {
        case EXP_RECORD_MODEL:
            r->st = exp_stage_generative(cfg, run_dir, ds, unseen, sid_key, &m->row->ids, name, seed, progress, r->evals);
            break;
        case EXP_RECORD_DIVERSE:
            r->st = exp_stage_diverse(cfg, run_dir, ds, unseen, sid_key, name, seed, r->evals);
            break;
        case EXP_RECORD_HYBRID:
            r->st = exp_stage_hybrid(cfg, run_dir, ds, unseen, data_key, sid_key, name, seed, r->evals);
            break;
        default: r->st = exp_stage_cold(cfg, run_dir, ds, data_key, sid_key, name, seed, r->evals); break;
        }
        if (r->st != SEMID_OK) snprintf(r->error, sizeof r->error, "%s", semid_last_error());
    }
}

static void free_jobs(model_job *jobs, int n_jobs) {
    for (int k = 0; k < n_jobs; k++)
        for (int kind = 0; kind < EXP_RECORD_N; kind++)
            for (int i = 0; i < EXP_RECORD_MAX_EVALS; i++) exp_eval_free(&jobs[k].rec[kind].evals[i]);
    free(jobs);
}

/* Across ranks (dist/dist.h) job k was trained by rank k % N. Each of its
 * records, or its error, goes from that rank to every other, which caches
 * it as its own (exp_stage_adopt): every rank then holds every model's
 * figures, and rank 0 reports them. */
static semid_status share_record(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_unseen *unseen, const exp_key *data_key, model_job *m, int k,
                                 exp_record_kind kind) {
    const int rank = semid_dist_rank(), owner = k % semid_dist_size();
    const int n = exp_record_files(kind, unseen), n_evals = exp_record_evals(kind);
    job_record *r = &m->rec[kind];
    char name[96];
    job_model_name(m, name);
    int64_t seed = cfg->seeds[m->seed_index];
    char *texts[EXP_RECORD_MAX_FILES] = {NULL};
    size_t lens[EXP_RECORD_MAX_FILES] = {0};
    int64_t head[1 + EXP_RECORD_MAX_FILES] = {0}; /* status, each file's bytes (failed: the error's) */
    if (rank == owner) {
        for (int i = 0; i < n && r->st == SEMID_OK; i++) {
            r->st = exp_stage_record(run_dir, name, seed, kind, i, &texts[i], &lens[i]);
            if (r->st != SEMID_OK) snprintf(r->error, sizeof r->error, "%s", semid_last_error());
        }
        if (r->st != SEMID_OK) {
            for (int i = 0; i < n; i++) free(texts[i]), texts[i] = NULL, lens[i] = 0;
            for (int i = 0; i < n_evals; i++) exp_eval_free(&r->evals[i]);
            lens[0] = strlen(r->error) + 1;
            if ((texts[0] = malloc(lens[0]))) memcpy(texts[0], r->error, lens[0]);
            else lens[0] = 0;
        }
        head[0] = r->st;
        for (int i = 0; i < n; i++) head[1 + i] = (int64_t)lens[i];
    }
    semid_status st = semid_dist_broadcast(head, sizeof head, owner);
    for (int i = 0; i < n && st == SEMID_OK; i++) {
        if (rank != owner) {
            lens[i] = (size_t)head[1 + i];
            if (!(texts[i] = malloc(lens[i] + 1)))
                st = semid_fail(SEMID_ENOMEM, "out of memory for a record of model %s seed %lld", name, (long long)seed);
            else texts[i][lens[i]] = '\0';
        }
        if (st == SEMID_OK && lens[i] > 0) st = semid_dist_broadcast(texts[i], lens[i], owner);
    }
    if (st == SEMID_OK && rank != owner) {
        if (head[0] == SEMID_OK) {
            r->st = exp_stage_adopt(cfg, run_dir, ds, data_key, &m->row->sid_key, unseen, name, seed, kind,
                                    (const char *const *)texts, lens, r->evals);
            if (r->st != SEMID_OK) snprintf(r->error, sizeof r->error, "%s", semid_last_error());
        } else {
            r->st = (semid_status)head[0];
            snprintf(r->error, sizeof r->error, "%s", texts[0]);
        }
    }
    for (int i = 0; i < n; i++) free(texts[i]);
    return st;
}

static semid_status share_models(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_unseen *unseen, const exp_key *data_key, model_job *jobs, int n_jobs) {
    for (int k = 0; k < n_jobs; k++)
        for (exp_record_kind kind = 0; kind < EXP_RECORD_N; kind++)
            if (row_makes(cfg, jobs[k].row, kind) && !inherit_failure(&jobs[k], kind))
                SEMID_TRY(share_record(cfg, run_dir, ds, unseen, data_key, &jobs[k], k, kind));
    return SEMID_OK;
}

/* Adds one evaluation of a record to a row, or fails the row with the
 * record's error. */
static semid_status row_add_record(exp_row *row, const job_record *r, const exp_eval *e) {
    semid_status st = r->st == SEMID_OK ? row_add_eval(row, e) : semid_fail(r->st, "%s", r->error);
    if (st != SEMID_OK) row_fail(row, st);
    return st;
}

/* What the ranks' job lists are made of: the ID tables of the rows, which
 * rows train models and the records they make. */
static uint64_t jobs_fingerprint(const exp_config *cfg, const gen_row *rows, int n_rows, int n_jobs) {
    semid_xxh64_state h;
    semid_xxh64_init(&h);
    semid_xxh64_update(&h, &n_jobs, sizeof n_jobs);
    for (int i = 0; i < n_rows; i++) {
        uint64_t f = rows[i].have_ids ? rows[i].ids.fingerprint : 0;
        int records = 0;
        for (int kind = 0; kind < EXP_RECORD_N; kind++) records |= row_makes(cfg, &rows[i], kind) << kind;
        semid_xxh64_update(&h, &f, sizeof f);
        semid_xxh64_update(&h, &rows[i].same_as, sizeof rows[i].same_as);
        semid_xxh64_update(&h, &records, sizeof records);
    }
    return semid_xxh64_final(&h);
}

/* The rows' models, trained (rank r of N: jobs r, r + N, ...) and their
 * records shared; *jobs_out holds the records until the hybrid and cold rows
 * are made (free_jobs). */
static semid_status generative_rows(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                    const exp_unseen *unseen, const exp_key *data_key, gen_row *rows, int n_rows,
                                    model_job **jobs_out, int *n_jobs_out) {
    *jobs_out = NULL;
    *n_jobs_out = 0;
    /* ID tables first (fast, and they share embeddings through the cache). */
    int n_jobs = 0;
    for (int i = 0; i < n_rows; i++) {
        gen_row *g = &rows[i];
        row_init(&g->row, g->table, g->name, g->label, 1);
        semid_status st = exp_stage_sid(cfg, run_dir, ds, data_key, g->strategy, g->tokenizer, &g->ids,
                                        &g->row.collision_rate, &g->sid_key);
        if (st == SEMID_OK) {
            g->have_ids = 1;
            n_jobs += cfg->n_seeds;
            st = exp_collisions_of(&g->ids, &g->row.ids);
        }
        if (st != SEMID_OK) row_fail(&g->row, st);
        if (g->diverse) {
            row_init(&g->diverse_row, g->table == EXP_TABLE_REFERENCE ? EXP_TABLE_REFERENCE : EXP_TABLE_MAIN_DIVERSE,
                     g->name, g->label, 1);
            g->diverse_row.decoder = EXP_DECODER_DIVERSE;
            g->diverse_row.collision_rate = g->row.collision_rate;
            g->diverse_row.ids = g->row.ids;
            if (g->row.failed[0]) snprintf(g->diverse_row.failed, sizeof g->diverse_row.failed, "%s", g->row.failed);
        }
    }
    model_job *jobs = calloc((size_t)(n_jobs > 0 ? n_jobs : 1), sizeof *jobs);
    if (!jobs) {
        for (int i = 0; i < n_rows; i++)
            if (rows[i].have_ids) semid_idtable_free(&rows[i].ids);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    /* A row with the same (strategy, tokenizer) as an earlier one (the
     * ablation's RQ-KMeans is the multi-task row) shares its models. */
    int j = 0;
    for (int i = 0; i < n_rows; i++) {
        rows[i].same_as = -1;
        for (int e = 0; e < i && rows[i].same_as < 0; e++)
            if (rows[e].have_ids && strcmp(rows[e].strategy, rows[i].strategy) == 0 &&
                strcmp(rows[e].tokenizer, rows[i].tokenizer) == 0)
                rows[i].same_as = e;
        rows[i].jobs = rows[i].same_as >= 0 ? rows[rows[i].same_as].jobs : rows[i].have_ids ? &jobs[j] : NULL;
        for (int s = 0; rows[i].have_ids && rows[i].same_as < 0 && s < cfg->n_seeds; s++)
            jobs[j++] = (model_job){.row = &rows[i], .seed_index = s};
    }
    n_jobs = j;
    /* Across ranks, rank r trains jobs r, r + N, ...: the ranks must have
     * made the same jobs from the same ID tables. */
    const int rank = semid_dist_rank(), ranks = semid_dist_size();
    semid_status st = semid_dist_check_same(jobs_fingerprint(cfg, rows, n_rows, n_jobs), "Semantic-ID tables");
    if (st != SEMID_OK) {
        for (int i = 0; i < n_rows; i++)
            if (rows[i].have_ids) semid_idtable_free(&rows[i].ids);
        free(jobs);
        return st;
    }
    int n_mine = (n_jobs - rank + ranks - 1) / ranks;
    int par = models_at_once(cfg, n_mine);
    if (par > 1) SEMID_INFO("training %d models, %d at a time", n_mine, par);
    if (ranks > 1) SEMID_INFO("%d ranks: %d models here, %d in all", ranks, n_mine, n_jobs);
    semid_progress prog;
    int done = 0;
    if (par > 1) semid_progress_start(&prog, "models", n_mine);
#pragma omp parallel for schedule(dynamic, 1) num_threads(par > 1 ? par : 1) if (par > 1)
    for (int k = 0; k < n_jobs; k++) {
        if (k % ranks != rank) continue;
        int saved = semid_threads_push(par > 1 ? 1 : 0);
        int solo = semid_dist_solo_push(); /* a model is this rank's alone */
        make_records(cfg, run_dir, ds, unseen, data_key, &jobs[k], EXP_RECORD_MODEL, EXP_RECORD_HYBRID, par == 1);
        semid_dist_solo_pop(solo);
        semid_threads_pop(saved);
        if (par > 1) {
#pragma omp critical(semid_models_progress)
            semid_progress_update(&prog, ++done, NULL);
        }
    }
    if (par > 1) semid_progress_finish(&prog, NULL);
    /* The hybrid and held-out-item records after, one model at a time with
     * every thread: they read the embedding stages, which two threads must
     * not fill at once. */
    for (int k = rank; k < n_jobs; k += ranks) {
        int solo = semid_dist_solo_push();
        make_records(cfg, run_dir, ds, unseen, data_key, &jobs[k], EXP_RECORD_HYBRID, EXP_RECORD_N, par == 1);
        semid_dist_solo_pop(solo);
    }
    if (ranks > 1) st = share_models(cfg, run_dir, ds, unseen, data_key, jobs, n_jobs);
    /* Seeds are added in order, so rows do not depend on which job ended first. */
    for (int k = 0; k < n_jobs; k++) {
        model_job *m = &jobs[k];
        exp_row *rows_of[2] = {&m->row->row, m->row->diverse ? &m->row->diverse_row : NULL};
        for (int d = 0; d < 2; d++) {
            job_record *r = &m->rec[d ? EXP_RECORD_DIVERSE : EXP_RECORD_MODEL];
            if (rows_of[d] && !rows_of[d]->failed[0] && row_add_record(rows_of[d], r, &r->evals[0]) == SEMID_ENOMEM)
                st = SEMID_ENOMEM;
            exp_eval_free(&r->evals[0]);
        }
    }
    for (int i = 0; i < n_rows; i++) {
        if (rows[i].have_ids) semid_idtable_free(&rows[i].ids);
        if (!rows[i].row.failed[0] && rows[i].same_as < 0) row_finish(&rows[i].row);
        if (rows[i].diverse && !rows[i].diverse_row.failed[0]) row_finish(&rows[i].diverse_row);
    }
    for (int i = 0; i < n_rows && st == SEMID_OK; i++) {
        if (rows[i].same_as < 0) continue;
        exp_row *src = &rows[rows[i].same_as].row;
        st = row_copy(src, rows[i].table, &rows[i].row);
        /* the copy keeps its own name and label */
        snprintf(rows[i].row.name, sizeof rows[i].row.name, "%s", rows[i].name);
        snprintf(rows[i].row.label, sizeof rows[i].row.label, "%s", rows[i].label);
    }
    *jobs_out = jobs;
    *n_jobs_out = n_jobs;
    return st;
}

/* Whether a row of this run reads the embedding method: a generative row,
 * or the hybrid rows' recommendation side (ENMF's). */
static int reads_embedding(const exp_config *cfg, const char *method) {
    if (cfg->hybrid_strategy[0] && exp_hybrid_rec_enmf(cfg) && strcmp(method, "rec") == 0) return 1;
    for (int i = 0; i < cfg->n_strategies + (cfg->n_ablation > 0); i++) {
        const semid_strategy_def *def = semid_strategy_find(i < cfg->n_strategies ? cfg->strategies[i] : ABLATION_STRATEGY);
        for (int e = 0; def && e < semid_strategy_n_embeddings(def); e++)
            if (strcmp(def->embeddings[e], method) == 0) return 1;
    }
    return 0;
}

/* Rows are added even when they fail, so the report says what is missing. */
static semid_status add_row(exp_results *res, exp_row *row) {
    semid_status st = exp_results_add(res, row);
    if (st != SEMID_OK) exp_row_free_hits(row);
    return st;
}

/* A row made from a model's other records when the model's own row failed. */
static void row_fails_with_model(exp_row *row, const exp_row *model) {
    snprintf(row->failed, sizeof row->failed, "its model failed: %.200s", model->failed);
}

/* hybrid.strategy's rows (EXP_TABLE_HYBRID): its model as trained, and the
 * same models re-ranked with the bi-encoder's dense index, one evaluation
 * per seed (its jobs' hybrid records). The reference rows (the dense
 * bi-encoder among them) show beside them. */
static semid_status hybrid_rows(const exp_config *cfg, const gen_row *g, exp_results *res) {
    exp_row alone;
    semid_status st = row_copy(&g->row, EXP_TABLE_HYBRID, &alone);
    if (st != SEMID_OK) return st;
    snprintf(alone.label, sizeof alone.label, "%s, generative only", g->label);
    SEMID_TRY(add_row(res, &alone));
    exp_row row;
    char name[48], label[96];
    snprintf(name, sizeof name, "%s+dense", g->name);
    if (exp_hybrid_weight_rec(cfg) == cfg->hybrid_weight && !exp_hybrid_rec_enmf(cfg))
        snprintf(label, sizeof label, "%s + dense re-ranking (W %.2g, %d dense)", g->label, cfg->hybrid_weight,
                 cfg->hybrid_dense_k);
    else
        snprintf(label, sizeof label, "%s + dense re-ranking (W %.2g, rec W %.2g%s, %d dense)", g->label,
                 cfg->hybrid_weight, exp_hybrid_weight_rec(cfg), exp_hybrid_rec_enmf(cfg) ? " with ENMF" : "",
                 cfg->hybrid_dense_k);
    row_init(&row, EXP_TABLE_HYBRID, name, label, 1);
    if (g->row.failed[0]) row_fails_with_model(&row, &g->row);
    for (int s = 0; s < cfg->n_seeds && !row.failed[0]; s++) {
        const job_record *r = &g->jobs[s].rec[EXP_RECORD_HYBRID];
        if (row_add_record(&row, r, &r->evals[0]) == SEMID_ENOMEM) {
            exp_row_free_hits(&row);
            return SEMID_ENOMEM;
        }
    }
    if (!row.failed[0]) row_finish(&row);
    return add_row(res, &row);
}

/* cold.*: the hybrid strategy's models with the held-out items added (its
 * jobs' cold records), four rankings (exp_cold_methods), warm and cold
 * targets in their tables. */
static semid_status cold_rows(const exp_config *cfg, const char *run_dir, const semid_dataset *ds, const gen_row *g,
                              exp_results *res) {
    static const char *const labels[EXP_COLD_N] = {"generative only", "prefix expansion", "dense only (cosine)",
                                                   "hybrid"};
    exp_row rows[EXP_COLD_N][2];
    for (int m = 0; m < EXP_COLD_N; m++)
        for (int c = 0; c < 2; c++) {
            char name[48], label[96];
            snprintf(name, sizeof name, "%s/%s", c ? "cold" : "warm", exp_cold_methods[m]);
            snprintf(label, sizeof label, "%s: %s", g->label, labels[m]);
            row_init(&rows[m][c], c ? EXP_TABLE_COLD : EXP_TABLE_WARM, name, label, 1);
            if (g->row.failed[0]) row_fails_with_model(&rows[m][c], &g->row);
        }
    semid_dataset full;
    semid_status st = g->row.failed[0] ? SEMID_OK : exp_stage_dataset_full(cfg, run_dir, &full);
    const int loaded = st == SEMID_OK && !g->row.failed[0];
    for (int s = 0; s < cfg->n_seeds && st == SEMID_OK && !rows[0][0].failed[0]; s++) {
        const job_record *r = &g->jobs[s].rec[EXP_RECORD_COLD];
        semid_status es = r->st == SEMID_OK ? SEMID_OK : semid_fail(r->st, "%s", r->error);
        for (int m = 0; m < EXP_COLD_N && es == SEMID_OK; m++) {
            exp_eval parts[2];
            es = exp_cold_split(&full, ds->n_items, &r->evals[m], &parts[0], &parts[1]);
            for (int c = 0; c < 2 && es == SEMID_OK; c++) es = row_add_eval(&rows[m][c], &parts[c]);
            exp_eval_free(&parts[0]), exp_eval_free(&parts[1]); /* the split set both, even failing */
        }
        if (es == SEMID_ENOMEM) st = es;
        for (int m = 0; m < EXP_COLD_N && es != SEMID_OK; m++) row_fail(&rows[m][0], es), row_fail(&rows[m][1], es);
    }
    if (loaded) semid_dataset_free(&full);
    if (st != SEMID_OK && st != SEMID_ENOMEM)
        for (int m = 0; m < EXP_COLD_N; m++) row_fail(&rows[m][0], st), row_fail(&rows[m][1], st), st = SEMID_OK;
    for (int m = 0; m < EXP_COLD_N; m++)
        for (int c = 0; c < 2; c++) {
            if (!rows[m][c].failed[0]) row_finish(&rows[m][c]);
            if (st == SEMID_OK) st = add_row(res, &rows[m][c]);
            else exp_row_free_hits(&rows[m][c]);
        }
    return st;
}

static semid_status run_rows(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                             const exp_unseen *unseen, const exp_key *data_key, exp_results *res) {
    /* Reference rows. */
    for (const exp_reference *ref = exp_references; ref->name; ref++) {
        if (ref->when_used && !reads_embedding(cfg, ref->embedding)) continue;
        if (ref->personal && !(cfg->model_personal_share > 0)) continue;
        exp_row row;
        row_init(&row, EXP_TABLE_REFERENCE, ref->name, ref->label, 0);
        exp_eval e;
        semid_status st = exp_stage_reference(cfg, run_dir, ds, unseen, data_key, ref, &e);
        if (st == SEMID_OK) {
            st = row_add_eval(&row, &e);
            exp_eval_free(&e);
        }
        if (st != SEMID_OK) row_fail(&row, st);
        SEMID_TRY(add_row(res, &row));
    }
    /* Generative rows: strategies (task-specific ones appear in tables 1
     * and 2), then the tokenizer ablation on the multi-task embeddings. */
    int n_gen = cfg->n_strategies + cfg->n_ablation + (cfg->sid_atomic != 0);
    gen_row *rows = calloc((size_t)(n_gen > 0 ? n_gen : 1), sizeof *rows);
    if (!rows) return semid_fail(SEMID_ENOMEM, "out of memory");
    /* Strategies are compared with the paper's tokenizer, the default one;
     * the strategy table says where each row goes. */
    const char *tokenizer = semid_tokenizer_defaults().method;
    for (int i = 0; i < cfg->n_strategies; i++) {
        const semid_strategy_def *def = semid_strategy_find(cfg->strategies[i]); /* the config checked the names */
        rows[i] = (gen_row){.strategy = def->name, .tokenizer = tokenizer, .name = def->name, .label = def->label,
                            .table = def->task_specific ? EXP_TABLE_MOTIVATION : EXP_TABLE_MAIN,
                            .also_main = def->task_specific && def->in_main,
                            .diverse = cfg->decode_diverse && def->in_main,
                            .hybrid = strcmp(def->name, cfg->hybrid_strategy) == 0};
    }
    for (int i = 0; i < cfg->n_ablation; i++)
        rows[cfg->n_strategies + i] =
            (gen_row){.strategy = ABLATION_STRATEGY, .tokenizer = cfg->ablation[i], .name = cfg->ablation[i],
                      .label = tokenizer_label(cfg->ablation[i]), .table = EXP_TABLE_ABLATION};
    if (cfg->sid_atomic)
        rows[n_gen - 1] = (gen_row){.strategy = ATOMIC_STRATEGY, .tokenizer = ATOMIC_TOKENIZER, .name = "atomic",
                                    .label = "atomic IDs (one token per item)", .table = EXP_TABLE_REFERENCE,
                                    .diverse = cfg->decode_diverse};
    model_job *jobs = NULL;
    int n_jobs = 0;
    /* Models that start their words from a bi-encoder read its saved tower. */
    semid_status st = exp_stage_word_encoder(cfg, run_dir, ds, data_key);
    if (st == SEMID_OK) st = generative_rows(cfg, run_dir, ds, unseen, data_key, rows, n_gen, &jobs, &n_jobs);
    for (int i = 0; i < n_gen && st == SEMID_OK; i++)
        if (rows[i].hybrid) {
            st = hybrid_rows(cfg, &rows[i], res);
            if (st == SEMID_OK && cfg->cold_fraction > 0) st = cold_rows(cfg, run_dir, ds, &rows[i], res);
        }
    free_jobs(jobs, n_jobs);
    for (int i = 0; i < n_gen && st == SEMID_OK; i++) {
        if (rows[i].also_main) {
            exp_row copy;
            st = row_copy(&rows[i].row, EXP_TABLE_MAIN, &copy);
            if (st == SEMID_OK) st = add_row(res, &copy);
        }
        if (st == SEMID_OK) {
            st = add_row(res, &rows[i].row);
            exp_row *r = &rows[i].row; /* its hits are res's now */
            r->search_hits = r->rec_hits = r->personal_hits = r->plain_hits = r->unseen_hits = NULL;
        }
    }
    /* The rows decoded with diverse beam search: a table of their own. */
    for (int i = 0; i < n_gen && st == SEMID_OK; i++) {
        if (!rows[i].diverse) continue;
        st = add_row(res, &rows[i].diverse_row);
        rows[i].diverse_row.search_hits = rows[i].diverse_row.rec_hits = rows[i].diverse_row.unseen_hits = NULL;
    }
    for (int i = 0; i < n_gen; i++) {
        exp_row_free_hits(&rows[i].row);
        exp_row_free_hits(&rows[i].diverse_row);
    }
    free(rows);
    return st;
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

static semid_status run_experiment(const exp_config *cfg, const char *run_dir, exp_results *res) {
    double t0 = semid_now();
    exp_results_init(res, cfg->k);
    SEMID_TRY(exp_config_validate(cfg, 0));
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
    exp_unseen unseen;
    SEMID_TRY(exp_stage_dataset(cfg, run_dir, &ds, &data_key));
    st = exp_config_validate(cfg, ds.n_items);
    if (st == SEMID_OK) st = exp_stage_unseen(cfg, run_dir, &data_key, &unseen);
    if (st == SEMID_OK) {
        int64_t n_test_queries = 0, n_tested = 0, n_users_left_out = 0, n_unseen = 0;
        for (int32_t q = 0; q < ds.n_queries; q++) {
            n_test_queries += ds.queries[q].split == SEMID_SPLIT_TEST;
            n_tested += semid_dataset_query_tested(&ds, q);
        }
        for (int32_t u = 0; ds.test_left_out_users && u < ds.n_users; u++) n_users_left_out += ds.test_left_out_users[u];
        for (int32_t q = 0; unseen.on && q < unseen.ds.n_queries; q++) n_unseen += unseen.ds.queries[q].split == SEMID_SPLIT_TEST;
        char extra[256] = "";
        int used = 0;
        if (unseen.on)
            used = snprintf(extra, sizeof extra, ", %lld in the unseen style", (long long)n_unseen);
        if (n_tested < n_test_queries || n_users_left_out > 0)
            snprintf(extra + used, sizeof extra - (size_t)used,
                     "; evaluated on a seeded sample: %lld test queries, %lld users left out", (long long)n_tested,
                     (long long)n_users_left_out);
        snprintf(res->dataset_summary, sizeof res->dataset_summary,
                 "%s (%d items, %d users, %lld interactions, %lld test queries%s)", ds.name ? ds.name : "?", ds.n_items,
                 ds.n_users, (long long)ds.n_interactions, (long long)n_test_queries, extra);
        /* A limit the split does not reach is no limit: the stages get the
         * keys of a run without one (ML-1M's quick run keeps its cache). */
        exp_config run_cfg = *cfg;
        if (!ds.test_left_out_queries) run_cfg.eval_max_queries = 0;
        if (!ds.test_left_out_users) run_cfg.eval_max_users = 0;
        st = run_rows(&run_cfg, run_dir, &ds, &unseen, &data_key, res);
        exp_unseen_free(&unseen);
    }
    semid_dataset_free(&ds);
    if (st == SEMID_OK) st = exp_results_compare(res);
    res->seconds = semid_now() - t0;
    if (st == SEMID_OK && semid_dist_rank() == 0) st = write_outputs(run_dir, res); /* rank 0 reports */
    return st;
}

/* The experiment in its run directory, locked. */
static semid_status exp_run_in(const exp_config *cfg, const char *run_dir, exp_results *res) {
    /* One experiment at a time in a run directory: two with other settings
     * would mix their stages and results. */
    SEMID_TRY(exp_config_validate(cfg, 0));
    SEMID_TRY(semid_mkdirs(run_dir));
    semid_dirlock lock;
    SEMID_TRY(semid_dirlock_acquire(&lock, run_dir, cfg->wait));
    int saved_threads = semid_threads_push(cfg->threads);
    semid_status st = run_experiment(cfg, run_dir, res);
    semid_threads_pop(saved_threads);
    semid_dirlock_release(&lock);
    return st;
}

semid_status exp_run(const exp_config *cfg, const char *run_dir_in, exp_results *res) {
    exp_results_init(res, cfg->k);
    /* Across ranks, rank r > 0 works in RUN/rank-r (a directory of its own
     * machine, or beside rank 0's on a shared file system): it computes the
     * same data, embeddings and IDs as rank 0, trains its share of the
     * models, evaluates them (hybrid and held-out items too: they decode
     * with the weights, which stay here) and sends their figures to the
     * other ranks; rank 0 reports. */
    char *own_dir = NULL;
    const char *run_dir = run_dir_in;
    if (semid_dist_rank() > 0) {
        char sub[32];
        snprintf(sub, sizeof sub, "rank-%d", semid_dist_rank());
        if (!(own_dir = semid_path_join(run_dir_in, sub))) return semid_fail(SEMID_ENOMEM, "out of memory");
        run_dir = own_dir;
    }
    semid_status st = exp_run_in(cfg, run_dir, res);
    free(own_dir);
    return st;
}
