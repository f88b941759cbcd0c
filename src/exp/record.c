/* A model's evaluation records (exp/stages.h): where each is cached, its
 * stage key, and a record another rank made taken as this rank's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "exp/stages.h"

int exp_record_evals(exp_record_kind kind) { return kind == EXP_RECORD_COLD ? EXP_COLD_N : 1; }

/* The held-out-item record has no unseen-style twin: its rows report no
 * search on those queries. */
static int has_twin(exp_record_kind kind, const exp_unseen *unseen) {
    return unseen && unseen->on && kind != EXP_RECORD_COLD;
}

int exp_record_files(exp_record_kind kind, const exp_unseen *unseen) {
    return exp_record_evals(kind) + has_twin(kind, unseen);
}

void exp_unseen_place(const char *stage, char twin_stage[240], char twin_rel[256]) {
    snprintf(twin_stage, 240, "%s-unseen", stage);
    snprintf(twin_rel, 256, "%s.json", twin_stage);
}

void exp_record_place_of(const char *name, int64_t seed, exp_record_kind kind, exp_record_place *out) {
    static const char *const stage_of[EXP_RECORD_N] = {"", "/diverse", "/hybrid", "/cold"};
    char model[160];
    snprintf(model, sizeof model, "models/%s-s%lld", name, (long long)seed);
    snprintf(out->stage, sizeof out->stage, "%s%s", model, stage_of[kind]);
    if (kind == EXP_RECORD_COLD)
        for (int m = 0; m < EXP_COLD_N; m++)
            snprintf(out->rel[m], sizeof out->rel[m], "%s/%s.json", out->stage, exp_cold_methods[m]);
    else if (kind == EXP_RECORD_HYBRID)
        snprintf(out->rel[0], sizeof out->rel[0], "%s.json", out->stage);
    else
        snprintf(out->rel[0], sizeof out->rel[0], "%s/%s", model,
                 kind == EXP_RECORD_DIVERSE ? "eval-diverse.json" : "eval.json");
    out->twin_stage[0] = '\0';
    if (kind != EXP_RECORD_COLD) exp_unseen_place(out->stage, out->twin_stage, out->rel[exp_record_evals(kind)]);
}

/* The hybrid evaluation's key: the model's (which must be trained) and the
 * dense index's embeddings (ENMF's too when rec reads them). */
static semid_status hybrid_key(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                               const exp_key *data_key, const exp_key *model_key, const char *model_stage,
                               exp_key *key) {
    const char *method = exp_hybrid_embedding(cfg);
    if (!method) return semid_fail(SEMID_EINVAL, "hybrid rows: key 'hybrid.strategy' names no bi-encoder strategy");
    semid_matrix items = {0};
    exp_key emb_key;
    SEMID_TRY(exp_stage_embedding(cfg, run_dir, ds, data_key, method, &items, &emb_key));
    semid_matrix_free(&items); /* the dense index reads them from their file */
    if (exp_hybrid_rec_enmf(cfg)) { /* ENMF's vectors: computed here when no strategy read them */
        exp_key enmf_key;
        SEMID_TRY(exp_stage_embedding(cfg, run_dir, ds, data_key, "rec", &items, &enmf_key));
        semid_matrix_free(&items);
        emb_key = exp_key_combine(&emb_key, &enmf_key);
    }
    if (!exp_stage_fresh(run_dir, model_stage, model_key))
        return semid_fail(SEMID_EINVAL, "hybrid row: the model %s is not trained with these settings", model_stage);
    return exp_key_hybrid(cfg, model_key, &emb_key, key);
}

/* The record's own key (exp_record_key without the twin). */
static semid_status record_key(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                               const exp_key *data_key, const exp_key *sid_key, const char *name, int64_t seed,
                               exp_record_kind kind, exp_key *key) {
    exp_key model_key, hybrid;
    SEMID_TRY(exp_key_model(cfg, sid_key, seed, &model_key));
    if (kind == EXP_RECORD_MODEL) {
        *key = model_key;
        return SEMID_OK;
    }
    if (kind == EXP_RECORD_DIVERSE) return exp_key_diverse(cfg, &model_key, key);
    exp_record_place model;
    exp_record_place_of(name, seed, EXP_RECORD_MODEL, &model);
    SEMID_TRY(hybrid_key(cfg, run_dir, ds, data_key, &model_key, model.stage, &hybrid));
    if (kind == EXP_RECORD_HYBRID) {
        *key = hybrid;
        return SEMID_OK;
    }
    return exp_key_cold(cfg, &hybrid, key);
}

semid_status exp_record_key(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                            const exp_key *data_key, const exp_key *sid_key, const exp_unseen *unseen,
                            const char *name, int64_t seed, exp_record_kind kind, exp_key *key, exp_key *twin_key) {
    SEMID_TRY(record_key(cfg, run_dir, ds, data_key, sid_key, name, seed, kind, key));
    if (twin_key && has_twin(kind, unseen)) *twin_key = exp_key_unseen_eval(key, &unseen->key);
    return SEMID_OK;
}

semid_status exp_stage_record(const char *run_dir, const char *name, int64_t seed, exp_record_kind kind, int i,
                              char **text, size_t *len) {
    exp_record_place p;
    exp_record_place_of(name, seed, kind, &p);
    char *path = semid_path_join(run_dir, p.rel[i]);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_read_file_verified(path, text, len);
    free(path);
    return st;
}

/* Writes one file of an adopted record (its folder made first) and loads it. */
static semid_status adopt_file(const char *run_dir, const char *rel, const char *text, size_t len, exp_eval *out) {
    char *path = semid_path_join(run_dir, rel), *dir = semid_path_join(run_dir, rel);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) *slash = '\0'; /* the file's folder */
    semid_status st = path && dir ? semid_mkdirs(dir) : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_write_file_summed(path, text, len);
    if (st == SEMID_OK) st = exp_eval_load(path, out);
    free(path);
    free(dir);
    return st;
}

semid_status exp_stage_adopt(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                             const exp_key *data_key, const exp_key *sid_key, const exp_unseen *unseen,
                             const char *name, int64_t seed, exp_record_kind kind, const char *const *texts,
                             const size_t *lens, exp_eval *out) {
    const int n = exp_record_evals(kind);
    memset(out, 0, sizeof *out * (size_t)n);
    exp_record_place p;
    exp_record_place_of(name, seed, kind, &p);
    exp_key key, twin_key;
    SEMID_TRY(exp_record_key(cfg, run_dir, ds, data_key, sid_key, unseen, name, seed, kind, &key, &twin_key));
    semid_status st = SEMID_OK;
    for (int i = 0; i < n && st == SEMID_OK; i++) st = adopt_file(run_dir, p.rel[i], texts[i], lens[i], &out[i]);
    if (st == SEMID_OK) st = exp_stage_mark(run_dir, p.stage, &key); /* after every file */
    if (st == SEMID_OK && has_twin(kind, unseen)) { /* its search is the record's unseen-style search */
        exp_eval twin;
        memset(&twin, 0, sizeof twin);
        st = adopt_file(run_dir, p.rel[n], texts[n], lens[n], &twin);
        if (st == SEMID_OK) st = exp_stage_mark(run_dir, p.twin_stage, &twin_key);
        if (st == SEMID_OK) exp_eval_take_unseen(out, &twin);
        exp_eval_free(&twin);
    }
    if (st != SEMID_OK)
        for (int i = 0; i < n; i++) exp_eval_free(&out[i]);
    return st;
}
