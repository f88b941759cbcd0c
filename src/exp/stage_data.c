#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/holdout.h"
#include "data/import.h"
#include "data/querygen.h"
#include "data/synth.h"
#include "data/test_sample.h"
#include "exp/stages.h"

/* The synthetic catalog and its queries are fixed by this seed; the
 * experiment's seeds vary the models. */
enum { EXP_DATA_SEED = 2025 };

static semid_status make_dataset(const exp_config *cfg, semid_dataset *ds) {
    struct stat st;
    if (strcmp(cfg->dataset, "synthetic") == 0) {
        semid_synth_config sc;
        semid_synth_config_default(&sc);
        sc.n_items = cfg->synth_items;
        sc.n_users = cfg->synth_users;
        sc.queries_per_item = cfg->queries_per_item;
        sc.queries_train = cfg->queries_train;
        SEMID_INFO("dataset: synthetic, %d items, %d users", sc.n_items, sc.n_users);
        return semid_synth_generate(&sc, EXP_DATA_SEED, ds);
    }
    if (stat(cfg->dataset, &st) != 0)
        return semid_fail(SEMID_ENOTFOUND, "dataset '%s' not found (give 'synthetic', a saved dataset or a directory)",
                          cfg->dataset);
    if (S_ISDIR(st.st_mode)) {
        semid_import_options io;
        semid_import_options_init(&io);
        SEMID_INFO("dataset: importing %s (%s)", cfg->dataset, cfg->dataset_format);
        SEMID_TRY(semid_import(cfg->dataset_format, cfg->dataset, &io, ds));
    } else {
        SEMID_TRY(semid_dataset_load(cfg->dataset, ds));
    }
    if (ds->n_queries == 0) {
        semid_querygen_config qc;
        semid_querygen_config_default(&qc);
        qc.n_per_item = cfg->queries_per_item;
        qc.n_train = cfg->queries_train;
        semid_querygen_stats qs;
        semid_status s = semid_querygen_run(ds, &qc, EXP_DATA_SEED, &qs);
        if (s != SEMID_OK) {
            semid_dataset_free(ds);
            return s;
        }
        SEMID_INFO("queries: generated %lld (test copies of a training query: %.1f%%)", (long long)qs.n_queries,
                   100.0 * qs.copy_share);
    }
    return SEMID_OK;
}

/* cold.fraction: *ds becomes the warm dataset (what every stage trains
 * on); the full one goes to RUN/dataset_full.sdd for the cold rows. */
static semid_status hold_out(const exp_config *cfg, const char *run_dir, semid_dataset *ds) {
    semid_dataset full, warm;
    int32_t n_warm;
    SEMID_TRY(semid_dataset_hold_out_items(ds, cfg->cold_fraction, (uint64_t)cfg->cold_seed, &full, &warm, &n_warm));
    SEMID_INFO("cold items: %d of %d held out of training (seed %lld)", ds->n_items - n_warm, ds->n_items,
               (long long)cfg->cold_seed);
    char *path = semid_path_join(run_dir, "dataset_full.sdd");
    semid_status st = path ? semid_dataset_save(&full, path) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(path);
    semid_dataset_free(&full);
    semid_dataset_free(ds);
    *ds = warm;
    return st;
}

/* eval.*: the test split's sample that every evaluation of the run reads
 * (in memory only: the saved dataset keeps its whole split). */
static semid_status sample_test(const exp_config *cfg, semid_dataset *ds, const char *which) {
    semid_test_sample s;
    SEMID_TRY(semid_dataset_sample_test(ds, cfg->eval_max_queries, cfg->eval_max_users, (uint64_t)cfg->eval_sample_seed,
                                        &s));
    if (s.queries < s.queries_total || s.users < s.users_total)
        SEMID_INFO("%s: evaluating a sample of the test split (seed %lld): %lld of %lld test queries, %lld of %lld users",
                   which, (long long)cfg->eval_sample_seed, (long long)s.queries, (long long)s.queries_total,
                   (long long)s.users, (long long)s.users_total);
    return SEMID_OK;
}

semid_status exp_stage_dataset_full(const exp_config *cfg, const char *run_dir, semid_dataset *full) {
    char *path = semid_path_join(run_dir, "dataset_full.sdd");
    semid_status st = path ? semid_dataset_load(path, full) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(path);
    if (st == SEMID_OK) st = sample_test(cfg, full, "dataset with the cold items");
    if (st != SEMID_OK) semid_dataset_free(full);
    return st;
}

semid_status exp_stage_dataset(const exp_config *cfg, const char *run_dir, semid_dataset *ds, exp_key *key) {
    memset(ds, 0, sizeof *ds);
    SEMID_TRY(exp_key_dataset(cfg, key));
    char *path = semid_path_join(run_dir, "dataset.sdd");
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st;
    if (exp_stage_fresh(run_dir, "dataset", key)) {
        st = semid_dataset_load(path, ds);
        if (st == SEMID_OK) {
            SEMID_INFO("dataset: reusing %s", path);
            free(path);
            st = sample_test(cfg, ds, "dataset");
            if (st != SEMID_OK) semid_dataset_free(ds);
            return st;
        }
        SEMID_WARN("cached dataset unusable (%s); rebuilding", semid_last_error());
    }
    st = make_dataset(cfg, ds);
    if (st == SEMID_OK && cfg->cold_fraction > 0) st = hold_out(cfg, run_dir, ds);
    if (st == SEMID_OK) st = semid_dataset_save(ds, path);
    if (st == SEMID_OK) st = exp_stage_mark(run_dir, "dataset", key);
    if (st == SEMID_OK) st = sample_test(cfg, ds, "dataset");
    if (st != SEMID_OK) semid_dataset_free(ds);
    free(path);
    return st;
}

void exp_unseen_free(exp_unseen *u) {
    if (u->on) semid_dataset_free(&u->ds);
    memset(u, 0, sizeof *u);
}

semid_status exp_stage_unseen(const exp_config *cfg, const char *run_dir, const exp_key *data_key, exp_unseen *out) {
    memset(out, 0, sizeof *out);
    if (cfg->queries_unseen_style <= 0) return SEMID_OK;
    SEMID_TRY(exp_key_unseen(cfg, data_key, &out->key));
    char *path = semid_path_join(run_dir, "dataset_unseen.sdd");
    char *source = semid_path_join(run_dir, "dataset.sdd");
    semid_status st = path && source ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && exp_stage_fresh(run_dir, "dataset_unseen", &out->key)) {
        st = semid_dataset_load(path, &out->ds);
        if (st == SEMID_OK) {
            SEMID_INFO("unseen-style queries: reusing %s", path);
            out->on = 1;
            goto done;
        }
        SEMID_WARN("cached unseen-style queries unusable (%s); rebuilding", semid_last_error());
        st = SEMID_OK;
    }
    /* The dataset stage's own file (the warm one with cold.fraction), its
     * test queries replaced. */
    if (st == SEMID_OK) st = semid_dataset_load(source, &out->ds);
    if (st != SEMID_OK) goto done;
    semid_querygen_stats qs;
    st = semid_querygen_unseen_style(&out->ds, cfg->queries_unseen_style, EXP_DATA_SEED, &qs);
    if (st == SEMID_OK) {
        SEMID_INFO("unseen-style queries: %lld test queries (%d per item)", (long long)qs.n_test, cfg->queries_unseen_style);
        st = semid_dataset_save(&out->ds, path);
    }
    if (st == SEMID_OK) st = exp_stage_mark(run_dir, "dataset_unseen", &out->key);
    if (st == SEMID_OK) out->on = 1;
    else semid_dataset_free(&out->ds);
done:
    free(path);
    free(source);
    return st;
}
