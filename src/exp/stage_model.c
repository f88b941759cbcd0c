/* The generative and reference rows: training, evaluation on the test
 * split, and the per-query results each row keeps (cached as JSON). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "embed/baseline.h"
#include "embed/embed_methods.h"
#include "embed/text_encoder.h"
#include "exp/stages.h"
#include "gen/dense.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "io/json.h"
#include "io/npy.h"

void exp_eval_free(exp_eval *e) {
    semid_ranking_eval_free(&e->search);
    semid_ranking_eval_free(&e->rec);
    semid_ranking_eval_free(&e->personal);
    semid_ranking_eval_free(&e->plain);
    semid_ranking_eval_free(&e->unseen);
    memset(e, 0, sizeof *e);
}

void exp_eval_take_unseen(exp_eval *out, exp_eval *twin) {
    out->unseen = twin->search;
    memset(&twin->search, 0, sizeof twin->search);
    out->seconds += twin->seconds;
}

/* Appends a number to an array; 0 when out of memory. */
static int append_number(cJSON *a, double v) {
    cJSON *n = cJSON_CreateNumber(v);
    if (n && cJSON_AddItemToArray(a, n)) return 1;
    cJSON_Delete(n);
    return 0;
}

/* Adds the ranking as o[key]; 0 when out of memory. */
static int add_ranking(cJSON *o, const char *key, const semid_ranking_eval *r) {
    cJSON *j = cJSON_CreateObject();
    cJSON *rank = j && cJSON_AddNumberToObject(j, "k", r->k) ? cJSON_AddArrayToObject(j, "rank") : NULL;
    cJSON *group = rank ? cJSON_AddArrayToObject(j, "group") : NULL;
    int ok = group != NULL;
    for (int64_t i = 0; ok && i < r->n; i++) ok = append_number(rank, r->rank[i]) && append_number(group, r->group[i]);
    if (ok && cJSON_AddItemToObject(o, key, j)) return 1;
    cJSON_Delete(j);
    return 0;
}

semid_status exp_eval_save(const exp_eval *e, const char *path) {
    cJSON *root = cJSON_CreateObject();
    cJSON *tr = NULL;
    int ok = root && cJSON_AddNumberToObject(root, "version", 1) &&
             cJSON_AddNumberToObject(root, "invalid_share", e->invalid_share) &&
             cJSON_AddNumberToObject(root, "invalid_beams", (double)e->invalid) &&
             cJSON_AddNumberToObject(root, "beams", (double)e->beams) &&
             cJSON_AddNumberToObject(root, "seconds", e->seconds) && add_ranking(root, "search", &e->search) &&
             add_ranking(root, "rec", &e->rec) &&
             (e->personal.n == 0 || (add_ranking(root, "personal", &e->personal) && add_ranking(root, "plain", &e->plain))) &&
             (e->epochs_run <= 0 ||
              ((tr = cJSON_AddObjectToObject(root, "train")) && cJSON_AddNumberToObject(tr, "epochs_run", e->epochs_run) &&
               cJSON_AddNumberToObject(tr, "best_epoch", e->best_epoch) &&
               cJSON_AddBoolToObject(tr, "stopped_early", e->stopped_early)));
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    semid_status st = semid_write_file_summed(path, text, strlen(text)); /* + eval.json.sum, checked on reuse */
    free(text);
    return st;
}

/* Rebuilds a ranking from saved ranks: the recall and NDCG follow from them. */
static semid_status ranking_from_json(const cJSON *o, semid_ranking_eval *r, const char *path) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "k");
    const cJSON *rank = cJSON_GetObjectItemCaseSensitive(o, "rank");
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(o, "group");
    if (!cJSON_IsNumber(k) || !cJSON_IsArray(rank) || !cJSON_IsArray(group) ||
        cJSON_GetArraySize(rank) != cJSON_GetArraySize(group))
        return semid_fail(SEMID_EFORMAT, "%s: malformed evaluation record", path);
    int64_t n = cJSON_GetArraySize(rank);
    SEMID_TRY(semid_ranking_eval_init(r, n, k->valueint > 0 ? k->valueint : 1));
    int64_t i = 0;
    const cJSON *g = group->child;
    for (const cJSON *x = rank->child; x && g; x = x->next, g = g->next, i++) {
        int32_t rk = (int32_t)x->valuedouble;
        if (rk >= r->k) rk = -1;
        r->rank[i] = rk;
        r->recall[i] = semid_recall_at_k(rk, r->k);
        r->ndcg[i] = semid_ndcg_at_k(rk, r->k);
        r->group[i] = (int8_t)g->valuedouble;
    }
    return SEMID_OK;
}

semid_status exp_eval_load(const char *path, exp_eval *e) {
    memset(e, 0, sizeof *e);
    char *text;
    size_t len;
    SEMID_TRY(semid_read_file_verified(path, &text, &len));
    int oom = 0;
    cJSON *root = semid_json_parse(text, len, &oom);
    free(text);
    if (!root) return semid_fail(oom ? SEMID_ENOMEM : SEMID_EFORMAT, "%s: %s", path, oom ? "out of memory" : "not valid JSON");
    semid_status st = SEMID_OK;
    const cJSON *inv = cJSON_GetObjectItemCaseSensitive(root, "invalid_share");
    const cJSON *sec = cJSON_GetObjectItemCaseSensitive(root, "seconds");
    const cJSON *n_inv = cJSON_GetObjectItemCaseSensitive(root, "invalid_beams");
    const cJSON *n_beams = cJSON_GetObjectItemCaseSensitive(root, "beams");
    e->invalid_share = cJSON_IsNumber(inv) ? inv->valuedouble : 0.0;
    if (cJSON_IsNumber(n_inv) && cJSON_IsNumber(n_beams) && n_beams->valuedouble > 0) {
        e->invalid = (int64_t)n_inv->valuedouble;
        e->beams = (int64_t)n_beams->valuedouble;
        e->invalid_share = (double)e->invalid / (double)e->beams;
    }
    e->seconds = cJSON_IsNumber(sec) ? sec->valuedouble : 0.0;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "train");
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(tr, "epochs_run");
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(tr, "best_epoch");
    if (cJSON_IsNumber(er) && er->valuedouble >= 1 && er->valuedouble <= 1e9) e->epochs_run = (int32_t)er->valuedouble;
    if (cJSON_IsNumber(be) && be->valuedouble >= 0 && be->valuedouble <= 1e9) e->best_epoch = (int32_t)be->valuedouble;
    e->stopped_early = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tr, "stopped_early"));
    st = ranking_from_json(cJSON_GetObjectItemCaseSensitive(root, "search"), &e->search, path);
    if (st == SEMID_OK) st = ranking_from_json(cJSON_GetObjectItemCaseSensitive(root, "rec"), &e->rec, path);
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, "personal");
    if (st == SEMID_OK && per) st = ranking_from_json(per, &e->personal, path);
    if (st == SEMID_OK && per) st = ranking_from_json(cJSON_GetObjectItemCaseSensitive(root, "plain"), &e->plain, path);
    cJSON_Delete(root);
    if (st != SEMID_OK) exp_eval_free(e);
    return st;
}

/* Loads a cached evaluation when its stage is fresh. */
static int load_cached(const char *run_dir, const char *stage, const exp_key *key, const char *path, exp_eval *out) {
    if (!exp_stage_fresh(run_dir, stage, key)) return 0;
    if (exp_eval_load(path, out) != SEMID_OK) {
        semid_clear_error();
        return 0;
    }
    return 1;
}

static semid_status save_and_mark(const char *run_dir, const char *stage, const exp_key *key, const char *path,
                                  const exp_eval *e) {
    SEMID_TRY(exp_eval_save(e, path));
    return exp_stage_mark(run_dir, stage, key);
}

/* A row's search alone on the unseen-style test queries (queries.unseen_style). */
typedef semid_status (*unseen_search_fn)(const void *ctx, const semid_dataset *unseen, semid_ranking_eval *search);

/* out->unseen: the evaluation of `stage` (key `key`) repeated by `fn` on
 * the unseen-style queries, search alone, cached beside it as
 * RUN/<stage>-unseen.json under the key of both (exp_key_unseen_eval), so
 * a changed query set recomputes this alone. Nothing when the queries are
 * off or the row has no search (fn = NULL). */
static semid_status add_unseen(const char *run_dir, const exp_unseen *u, const char *stage, const exp_key *key,
                               unseen_search_fn fn, const void *ctx, exp_eval *out) {
    if (!u || !u->on || !fn) return SEMID_OK;
    char ustage[240], rel[256];
    exp_unseen_place(stage, ustage, rel);
    exp_key ukey = exp_key_unseen_eval(key, &u->key);
    char *path = semid_path_join(run_dir, rel);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    exp_eval e;
    memset(&e, 0, sizeof e);
    semid_status st = SEMID_OK;
    if (load_cached(run_dir, ustage, &ukey, path, &e)) {
        SEMID_INFO("%s: reusing %s", stage, path);
    } else {
        double t0 = semid_now();
        st = fn(ctx, &u->ds, &e.search);
        if (st == SEMID_OK) st = semid_ranking_eval_init(&e.rec, 0, e.search.k); /* no rec side */
        e.seconds = semid_now() - t0;
        if (st == SEMID_OK) {
            SEMID_INFO("%s, unseen-style queries: search R@%d %.4f (%.0f s)", stage, e.search.k,
                       semid_ranking_eval_mean(&e.search, SEMID_GROUP_ALL).recall, e.seconds);
            st = save_and_mark(run_dir, ustage, &ukey, path, &e);
        }
    }
    if (st == SEMID_OK) {
        exp_eval_take_unseen(out, &e);
    } else {
        semid_fail_context(st, "%s on the unseen-style queries", stage);
    }
    exp_eval_free(&e);
    free(path);
    return st;
}

/* A bundle's search alone (unseen_search_fn): the model in dir, decoded with o. */
typedef struct bundle_search_ctx {
    const char *dir;
    const semid_gen_decode_options *o;
} bundle_search_ctx;

static semid_status bundle_search(const void *ctx, const semid_dataset *ds, semid_ranking_eval *search) {
    const bundle_search_ctx *c = ctx;
    semid_gen_bundle *bundle = NULL;
    SEMID_TRY(semid_gen_bundle_load(c->dir, &bundle));
    semid_status st = semid_gen_evaluate(bundle, ds, SEMID_SPLIT_TEST, c->o, search, NULL, NULL);
    semid_gen_bundle_free(bundle);
    return st;
}

/* The tables' decoder: the trie-constrained beam (model.beam, k). */
static semid_gen_decode_options trie_decode_options(const exp_config *cfg) {
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = cfg->beam;
    o.beam.k = cfg->k;
    return o;
}

/* The model in `dir` on the test split; with `personal` (a model trained
 * with the third task) also personalised search on vague queries, with the
 * history and without it. */
static semid_status evaluate_bundle(const char *dir, const semid_dataset *ds, const semid_gen_decode_options *o,
                                    int personal, exp_eval *out) {
    semid_gen_bundle *bundle = NULL;
    SEMID_TRY(semid_gen_bundle_load(dir, &bundle));
    semid_gen_eval_stats stats;
    semid_status st = semid_gen_evaluate(bundle, ds, SEMID_SPLIT_TEST, o, &out->search, &out->rec, &stats);
    if (st == SEMID_OK) {
        out->invalid = stats.invalid;
        out->beams = stats.beams;
        out->invalid_share = stats.beams > 0 ? (double)stats.invalid / (double)stats.beams : 0.0;
    }
    if (st == SEMID_OK && personal)
        st = semid_gen_evaluate_personal(bundle, ds, SEMID_SPLIT_TEST, SEMID_QUERY_VAGUE, o, &out->personal,
                                         &out->plain);
    semid_gen_bundle_free(bundle);
    return st;
}

semid_status exp_stage_generative(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                  const exp_unseen *unseen, const exp_key *sid_key, const semid_idtable *table,
                                  const char *name, int64_t seed, int progress, exp_eval *out) {
    memset(out, 0, sizeof *out);
    exp_record_place p;
    exp_record_place_of(name, seed, EXP_RECORD_MODEL, &p);
    const char *stage = p.stage;
    exp_key key;
    SEMID_TRY(exp_record_key(cfg, NULL, ds, NULL, sid_key, NULL, name, seed, EXP_RECORD_MODEL, &key, NULL));
    char *dir = semid_path_join(run_dir, stage);
    char *eval_path = semid_path_join(run_dir, p.rel[0]);
    if (!dir || !eval_path) {
        free(dir);
        free(eval_path);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    semid_status st = SEMID_OK;
    if (load_cached(run_dir, stage, &key, eval_path, out)) {
        SEMID_INFO("model %s seed %lld: reusing %s", name, (long long)seed, eval_path);
        goto done;
    }
    double t0 = semid_now();
    semid_gen_train_config tc = semid_gen_train_defaults();
    tc.n_layer = cfg->model_layers;
    tc.n_head = cfg->model_heads;
    tc.d_model = cfg->model_dim;
    tc.epochs = cfg->model_epochs;
    tc.max_steps = cfg->model_max_steps;
    tc.patience = cfg->model_patience;
    tc.min_epochs = cfg->model_min_epochs;
    char *encoder_words = exp_word_encoder(cfg) ? exp_encoder_path(run_dir, exp_word_encoder(cfg)) : NULL;
    tc.word_vectors = encoder_words ? encoder_words : cfg->model_word_vectors;
    tc.batch_size = cfg->model_batch;
    tc.bf16 = cfg->model_bf16;
    tc.lr = (float)cfg->model_lr;
    tc.history_window = cfg->model_history;
    tc.personal_share = cfg->model_personal_share;
    tc.search_share = cfg->model_search_share;
    tc.seed = (uint64_t)seed;
    tc.valid_sample = cfg->valid_sample;
    tc.verbose = progress ? 1 : 2;
    /* A killed experiment continues the model it was training; a model
     * directory left by other settings starts afresh. */
    char started[240];
    snprintf(started, sizeof started, "%s.started", stage);
    char *resume_path = semid_path_join(dir, "resume.safetensors");
    tc.resume = resume_path && semid_path_exists(resume_path) && exp_stage_fresh(run_dir, started, &key);
    free(resume_path);
    st = semid_mkdirs(dir);
    if (st == SEMID_OK) st = exp_stage_mark(run_dir, started, &key);
    semid_gen_train_report rep;
    if (st == SEMID_OK) {
        SEMID_INFO("model %s seed %lld: training", name, (long long)seed);
        st = semid_gen_train(ds, table, &tc, dir, &rep);
    }
    free(encoder_words);
    semid_gen_decode_options o = trie_decode_options(cfg);
    if (st == SEMID_OK) st = evaluate_bundle(dir, ds, &o, cfg->model_personal_share > 0, out);
    out->seconds = semid_now() - t0;
    if (st == SEMID_OK) {
        out->epochs_run = rep.epochs_run;
        out->best_epoch = rep.best_epoch;
        out->stopped_early = rep.stopped_early;
        semid_metric_summary s = semid_ranking_eval_mean(&out->search, SEMID_GROUP_ALL);
        semid_metric_summary r = semid_ranking_eval_mean(&out->rec, SEMID_GROUP_ALL);
        SEMID_INFO("model %s seed %lld: search R@%d %.4f, rec R@%d %.4f (%d epochs%s, best %d; %.0f s)", name,
                   (long long)seed, cfg->k, s.recall, cfg->k, r.recall, rep.epochs_run,
                   rep.stopped_early ? ", stopped early" : "", rep.best_epoch, out->seconds);
        if (out->personal.n > 0)
            SEMID_INFO("model %s seed %lld: vague queries R@%d with the history %.4f, without %.4f", name,
                       (long long)seed, cfg->k, semid_ranking_eval_mean(&out->personal, SEMID_GROUP_ALL).recall,
                       semid_ranking_eval_mean(&out->plain, SEMID_GROUP_ALL).recall);
        st = save_and_mark(run_dir, stage, &key, eval_path, out);
    }
    if (st != SEMID_OK) {
        semid_fail_context(st, "model %s seed %lld", name, (long long)seed);
        exp_eval_free(out);
    }
done:
    if (st == SEMID_OK) {
        semid_gen_decode_options trie = trie_decode_options(cfg); /* (a cached model skipped the one above) */
        bundle_search_ctx c = {dir, &trie};
        st = add_unseen(run_dir, unseen, stage, &key, bundle_search, &c, out);
        if (st != SEMID_OK) exp_eval_free(out);
    }
    free(dir);
    free(eval_path);
    return st;
}

semid_status exp_stage_diverse(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                               const exp_unseen *unseen, const exp_key *sid_key, const char *name, int64_t seed,
                               exp_eval *out) {
    memset(out, 0, sizeof *out);
    exp_record_place model, p;
    exp_record_place_of(name, seed, EXP_RECORD_MODEL, &model);
    exp_record_place_of(name, seed, EXP_RECORD_DIVERSE, &p);
    const char *stage = p.stage;
    exp_key key;
    SEMID_TRY(exp_record_key(cfg, NULL, ds, NULL, sid_key, NULL, name, seed, EXP_RECORD_DIVERSE, &key, NULL));
    char *dir = semid_path_join(run_dir, model.stage);
    char *eval_path = semid_path_join(run_dir, p.rel[0]);
    semid_status st = dir && eval_path ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.diverse = 1;
    o.beam = semid_beam_paper_diverse(cfg->k);
    o.beam.beam_size = cfg->diverse_beam;
    o.beam.groups = cfg->diverse_groups;
    o.beam.diversity = (float)cfg->diverse_penalty;
    if (st == SEMID_OK && load_cached(run_dir, stage, &key, eval_path, out)) {
        SEMID_INFO("model %s seed %lld: reusing %s", name, (long long)seed, eval_path);
    } else if (st == SEMID_OK) {
        double t0 = semid_now();
        st = evaluate_bundle(dir, ds, &o, 0, out);
        out->seconds = semid_now() - t0;
        if (st == SEMID_OK) {
            SEMID_INFO("model %s seed %lld, diverse beam search: search R@%d %.4f, rec R@%d %.4f, %.1f%% invalid IDs "
                       "(%.0f s)",
                       name, (long long)seed, cfg->k, semid_ranking_eval_mean(&out->search, SEMID_GROUP_ALL).recall,
                       cfg->k, semid_ranking_eval_mean(&out->rec, SEMID_GROUP_ALL).recall, 100.0 * out->invalid_share,
                       out->seconds);
            st = save_and_mark(run_dir, stage, &key, eval_path, out);
        }
        if (st != SEMID_OK) {
            semid_fail_context(st, "model %s seed %lld, diverse beam search", name, (long long)seed);
            exp_eval_free(out);
        }
    }
    if (st == SEMID_OK) {
        bundle_search_ctx c = {dir, &o};
        st = add_unseen(run_dir, unseen, stage, &key, bundle_search, &c, out);
        if (st != SEMID_OK) exp_eval_free(out);
    }
    free(dir);
    free(eval_path);
    return st;
}

void exp_hybrid_options(const exp_config *cfg, semid_hybrid_options *search, semid_hybrid_options *rec) {
    *search = semid_hybrid_defaults();
    search->weight = cfg->hybrid_weight;
    search->n_dense = cfg->hybrid_dense_k;
    search->k = cfg->k;
    *rec = *search;
    rec->weight = exp_hybrid_weight_rec(cfg);
    rec->dot = exp_hybrid_rec_enmf(cfg);
}

/* A hybrid evaluation of the model in dir with the dense index of the
 * encoder enc and item vectors npy (and ENMF's, with hybrid.rec_dense=enmf);
 * rec = NULL: search alone. */
typedef struct hybrid_ctx {
    const exp_config *cfg;
    const char *run_dir, *dir, *enc, *npy;
} hybrid_ctx;

static semid_status hybrid_evaluate(const hybrid_ctx *c, const semid_dataset *ds, semid_ranking_eval *search,
                                    semid_ranking_eval *rec) {
    const exp_config *cfg = c->cfg;
    semid_gen_bundle *bundle = NULL;
    semid_dense dn, enmf;
    memset(&dn, 0, sizeof dn);
    memset(&enmf, 0, sizeof enmf);
    semid_dense_source src = {.encoder = c->enc, .item_embeddings = c->npy};
    char *enmf_items = semid_path_join(c->run_dir, "emb/rec.npy"), *enmf_users = semid_path_join(c->run_dir, "emb/rec_users.npy");
    semid_dense_source enmf_src = {.item_embeddings = enmf_items, .user_embeddings = enmf_users};
    semid_status st = enmf_items && enmf_users ? semid_gen_bundle_load(c->dir, &bundle) : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_dense_open(&src, bundle, &dn);
    if (st == SEMID_OK && exp_hybrid_rec_enmf(cfg)) st = semid_dense_open(&enmf_src, bundle, &enmf);
    if (st == SEMID_OK) {
        semid_gen_decode_options o = trie_decode_options(cfg);
        semid_hybrid_options hs, hr;
        exp_hybrid_options(cfg, &hs, &hr);
        semid_dense_task search_side = {&dn, &hs}, rec_side = {exp_hybrid_rec_enmf(cfg) ? &enmf : &dn, &hr};
        st = semid_dense_evaluate(&search_side, &rec_side, bundle, ds, SEMID_SPLIT_TEST, &o, search, rec);
    }
    semid_dense_close(&dn);
    semid_dense_close(&enmf);
    free(enmf_items), free(enmf_users);
    semid_gen_bundle_free(bundle);
    return st;
}

static semid_status hybrid_search(const void *ctx, const semid_dataset *ds, semid_ranking_eval *search) {
    return hybrid_evaluate(ctx, ds, search, NULL);
}

semid_status exp_stage_hybrid(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                              const exp_unseen *unseen, const exp_key *data_key, const exp_key *sid_key,
                              const char *name, int64_t seed, exp_eval *out) {
    memset(out, 0, sizeof *out);
    const char *method = exp_hybrid_embedding(cfg);
    if (!method) return semid_fail(SEMID_EINVAL, "hybrid rows: key 'hybrid.strategy' names no bi-encoder strategy");
    char enc_rel[96], npy_rel[96];
    exp_record_place model, p;
    exp_record_place_of(name, seed, EXP_RECORD_MODEL, &model);
    exp_record_place_of(name, seed, EXP_RECORD_HYBRID, &p);
    const char *stage = p.stage;
    snprintf(enc_rel, sizeof enc_rel, "emb/%s.encoder", method);
    snprintf(npy_rel, sizeof npy_rel, "emb/%s.npy", method);
    exp_key key;
    SEMID_TRY(exp_record_key(cfg, run_dir, ds, data_key, sid_key, NULL, name, seed, EXP_RECORD_HYBRID, &key, NULL));
    char *dir = semid_path_join(run_dir, model.stage), *path = semid_path_join(run_dir, p.rel[0]);
    char *enc = semid_path_join(run_dir, enc_rel), *npy = semid_path_join(run_dir, npy_rel);
    semid_status st = dir && path && enc && npy ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    hybrid_ctx c = {cfg, run_dir, dir, enc, npy};
    if (st == SEMID_OK && load_cached(run_dir, stage, &key, path, out)) {
        SEMID_INFO("hybrid %s seed %lld: reusing %s", name, (long long)seed, path);
    } else if (st == SEMID_OK) {
        double t0 = semid_now();
        st = hybrid_evaluate(&c, ds, &out->search, &out->rec);
        out->seconds = semid_now() - t0;
        if (st == SEMID_OK) {
            semid_metric_summary s = semid_ranking_eval_mean(&out->search, SEMID_GROUP_ALL);
            semid_metric_summary r = semid_ranking_eval_mean(&out->rec, SEMID_GROUP_ALL);
            SEMID_INFO("hybrid %s seed %lld (W %.2f / rec %.2f %s, %d dense): search R@%d %.4f, rec R@%d %.4f (%.0f s)",
                       name, (long long)seed, cfg->hybrid_weight, exp_hybrid_weight_rec(cfg), cfg->hybrid_rec_dense,
                       cfg->hybrid_dense_k, cfg->k, s.recall, cfg->k, r.recall, out->seconds);
            st = save_and_mark(run_dir, stage, &key, path, out);
        }
        if (st != SEMID_OK) {
            semid_fail_context(st, "hybrid %s seed %lld", name, (long long)seed);
            exp_eval_free(out);
        }
    }
    if (st == SEMID_OK) {
        st = add_unseen(run_dir, unseen, stage, &key, hybrid_search, &c, out);
        if (st != SEMID_OK) exp_eval_free(out);
    }
    free(dir), free(path), free(enc), free(npy);
    return st;
}

/* A reference row's search: by popularity (no embedding), or the test
 * queries encoded by the method's text tower against its item vectors. */
typedef struct reference_ctx {
    const exp_config *cfg;
    const char *run_dir;
    const char *method; /* NULL = popularity */
    const semid_matrix *items;
} reference_ctx;

static semid_status reference_search(const void *ctx, const semid_dataset *ds, semid_ranking_eval *search) {
    const reference_ctx *c = ctx;
    if (!c->method) return semid_baseline_search_popularity(ds, c->cfg->k, c->cfg->head_fraction, search);
    char rel[96];
    snprintf(rel, sizeof rel, "emb/%s.encoder", c->method);
    char *encoder = semid_path_join(c->run_dir, rel);
    if (!encoder) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_matrix queries = {0};
    semid_status st = semid_baseline_encode_test_queries(ds, encoder, NULL, &queries);
    free(encoder);
    if (st == SEMID_OK) st = semid_baseline_search_dense(ds, &queries, c->items, c->cfg->k, c->cfg->head_fraction, search);
    semid_matrix_free(&queries);
    return st;
}

/* Personalised search by the multi-task bi-encoder: each test user's vague
 * query (semid_gen_personal_query, as the generative rows read it) encoded,
 * plus the user's history vector, against the items. */
static semid_status dense_personal_row(const char *run_dir, const semid_dataset *ds, const semid_rec_eval_options *ro,
                                       const char *method, const semid_matrix *items, exp_eval *out) {
    semid_rec_queries rq = {0};
    semid_querygen_profiles *profiles = NULL;
    semid_text_encoder *enc = NULL;
    semid_matrix queries = {0};
    enum { CAP = 512 };
    char rel[96];
    snprintf(rel, sizeof rel, "emb/%s.encoder", method);
    char *encoder = semid_path_join(run_dir, rel);
    semid_status st = encoder ? semid_rec_queries_build(ds, ro, &rq) : semid_fail(SEMID_ENOMEM, "out of memory");
    char *texts = st == SEMID_OK ? malloc((size_t)(rq.n > 0 ? rq.n : 1) * CAP) : NULL;
    const char **ptrs = st == SEMID_OK ? malloc((size_t)(rq.n > 0 ? rq.n : 1) * sizeof *ptrs) : NULL;
    if (st == SEMID_OK && (!texts || !ptrs)) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_querygen_profiles_build(ds, NULL, &profiles);
    for (int64_t q = 0; q < rq.n && st == SEMID_OK; q++) {
        ptrs[q] = texts + q * CAP;
        st = semid_gen_personal_query(profiles, rq.user[q], rq.target[q], SEMID_SPLIT_TEST, SEMID_QUERY_VAGUE,
                                      texts + q * CAP, CAP);
    }
    if (st == SEMID_OK) st = semid_text_encoder_load(encoder, &enc);
    if (st == SEMID_OK) st = semid_text_encoder_encode(enc, ptrs, rq.n, &queries);
    if (st == SEMID_OK) st = semid_baseline_personal_dense(ds, ro, &queries, items, 1.0f, &out->personal);
    if (st == SEMID_OK) st = semid_ranking_eval_init(&out->search, 0, ro->k); /* personalised search alone */
    if (st == SEMID_OK) st = semid_ranking_eval_init(&out->rec, 0, ro->k);
    semid_matrix_free(&queries);
    semid_text_encoder_free(enc);
    semid_querygen_profiles_free(profiles);
    semid_rec_queries_free(&rq);
    free(texts);
    free(ptrs);
    free(encoder);
    return st;
}

const exp_reference exp_references[] = {
    {"popularity", "popularity", NULL, 0, 0},
    {"dense_search", "dense search bi-encoder", "search", 0, 0},
    {"enmf", "ENMF", "rec", 0, 0},
    {"dense_multi", "dense multi-task bi-encoder", "multi", 1, 0},
    {"dense_personal", "dense multi-task: query + user vector", "multi", 0, 1},
    {NULL, NULL, NULL, 0, 0},
};

semid_status exp_stage_reference(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_unseen *unseen, const exp_key *data_key, const exp_reference *ref,
                                 exp_eval *out) {
    memset(out, 0, sizeof *out);
    const char *name = ref->name, *method = ref->embedding;
    const semid_embed_method *m = NULL;
    if (method) SEMID_TRY(semid_embed_method_lookup(method, "embedding method", &m));
    semid_matrix items = {0};
    exp_key key = *data_key;
    if (method) SEMID_TRY(exp_stage_embedding(cfg, run_dir, ds, data_key, method, &items, &key));
    char stage[96], rel[128];
    snprintf(stage, sizeof stage, "ref/%s", name);
    snprintf(rel, sizeof rel, "%s.json", stage);
    exp_key upstream = key;
    semid_status kst = exp_key_reference(cfg, &upstream, name, &key);
    if (kst != SEMID_OK) {
        semid_matrix_free(&items);
        return kst;
    }
    char *dir = semid_path_join(run_dir, "ref");
    char *path = semid_path_join(run_dir, rel);
    semid_status st = dir && path ? semid_mkdirs(dir) : semid_fail(SEMID_ENOMEM, "out of memory");
    reference_ctx search_ctx = {cfg, run_dir, method, &items};
    /* ENMF and personalised search alone have no search side */
    int has_search = !ref->personal && (!m || m->kind != SEMID_EMBED_ENMF);
    if (st == SEMID_OK && !load_cached(run_dir, stage, &key, path, out)) {
        double t0 = semid_now();
        semid_rec_eval_options ro = semid_rec_eval_defaults();
        ro.k = cfg->k;
        ro.head_fraction = cfg->head_fraction;
        int repeat = 0;
        st = semid_gen_items_repeat(ds, &repeat);
        ro.exclude_history = !repeat; /* as the generative rows decide */
        if (st == SEMID_OK && !method) {
            st = reference_search(&search_ctx, ds, &out->search);
            if (st == SEMID_OK) st = semid_baseline_rec_popularity(ds, &ro, &out->rec);
        } else if (st == SEMID_OK && m->kind == SEMID_EMBED_ENMF) {
            semid_matrix users = {0};
            char users_rel[96];
            snprintf(users_rel, sizeof users_rel, "emb/%s_users.npy", method); /* beside the vectors (stage_embed.c) */
            char *users_path = semid_path_join(run_dir, users_rel);
            st = users_path ? semid_npy_read(users_path, &users) : semid_fail(SEMID_ENOMEM, "out of memory");
            if (st == SEMID_OK) st = semid_baseline_rec_user_vectors(ds, &ro, &users, &items, &out->rec);
            if (st == SEMID_OK) st = semid_ranking_eval_init(&out->search, 0, cfg->k); /* no search side */
            free(users_path);
            semid_matrix_free(&users);
        } else if (st == SEMID_OK && ref->personal) {
            st = dense_personal_row(run_dir, ds, &ro, method, &items, out);
        } else if (st == SEMID_OK) {
            st = reference_search(&search_ctx, ds, &out->search);
            if (st == SEMID_OK) st = semid_baseline_rec_history(ds, &ro, &items, &out->rec);
        }
        out->seconds = semid_now() - t0;
        if (st == SEMID_OK) st = save_and_mark(run_dir, stage, &key, path, out);
        if (st != SEMID_OK) {
            semid_fail_context(st, "reference %s", name);
            exp_eval_free(out);
        }
    }
    if (st == SEMID_OK) {
        st = add_unseen(run_dir, unseen, stage, &key, has_search ? reference_search : NULL, &search_ctx, out);
        if (st != SEMID_OK) exp_eval_free(out);
    }
    semid_matrix_free(&items);
    free(dir);
    free(path);
    return st;
}
