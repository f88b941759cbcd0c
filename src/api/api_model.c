/* Training, model bundles, search, recommendation and evaluation through
 * the C API. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/fileio.h"
#include "base/status.h"
#include "base/threads.h"
#include "eval/metrics.h"
#include "io/json.h"
#include "io/safetensors.h"

/* ---- training ---- */

semid_train_opts semid_train_opts_default(void) {
    semid_gen_train_config c = semid_gen_train_defaults();
    semid_train_opts o;
    memset(&o, 0, sizeof o);
    o.layers = c.n_layer;
    o.heads = c.n_head;
    o.dim = c.d_model;
    o.context = c.max_seq_len;
    o.history_window = c.history_window;
    o.epochs = c.epochs;
    o.patience = c.patience;
    o.min_epochs = c.min_epochs;
    o.bf16 = c.bf16;
    o.max_steps = c.max_steps;
    o.batch = c.batch_size;
    o.lr = c.lr;
    o.weight_decay = c.weight_decay;
    o.seed = c.seed;
    o.valid_sample = c.valid_sample;
    o.valid_k = c.valid_k;
    o.word_vectors = NULL;
    o.resume = 0;
    o.verbose = 0;
    o.threads = 0;
    return o;
}

void semid_trainer_free(semid_trainer *t) {
    if (!t) return;
    free(t->out_dir);
    free(t->word_vectors);
    free(t);
}

/* The step a resume checkpoint in dir holds (0 when there is none or it
 * cannot be read: the training run itself then reports the problem), or
 * SEMID_ENOMEM. */
static semid_status resume_step(const char *dir, int64_t *step) {
    *step = 0;
    char *path = semid_path_join(dir, "resume.safetensors");
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_safetensors f;
    semid_status st = semid_path_exists(path) ? semid_safetensors_read(path, &f) : SEMID_ENOTFOUND;
    int oom = st == SEMID_ENOMEM;
    if (st == SEMID_OK) {
        const char *meta = semid_safetensors_meta(&f, "semid_gen_resume");
        cJSON *o = meta ? semid_json_parse(meta, strlen(meta), &oom) : NULL;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (cJSON_IsNumber(s) && s->valuedouble > 0) *step = (int64_t)s->valuedouble;
        cJSON_Delete(o);
        semid_safetensors_free(&f);
    }
    free(path);
    if (oom) return semid_fail(SEMID_ENOMEM, "out of memory reading the resume checkpoint in %s", dir);
    semid_clear_error();
    return SEMID_OK;
}

semid_status semid_trainer_create(const semid_data *d, const semid_ids *ids, const char *out_dir,
                                  const semid_train_opts *opts, semid_trainer **out) {
    SEMID_TRY(semid_api_need(out, "semid_trainer_create", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(d, "semid_trainer_create", "d"));
    SEMID_TRY(semid_api_need(ids, "semid_trainer_create", "ids"));
    SEMID_TRY(semid_api_need(out_dir, "semid_trainer_create", "out_dir"));
    semid_train_opts o = opts ? *opts : semid_train_opts_default();
    if (o.threads < 0 || o.verbose < 0 || o.verbose > 2)
        return semid_fail(SEMID_EINVAL, "semid_trainer_create: threads %d must be >= 0 and verbose %d in 0..2", o.threads,
                          o.verbose);
    if (ids->t.n_items != d->ds.n_items)
        return semid_fail(SEMID_EINVAL, "semid_trainer_create: the ID table has %d items but the dataset %d",
                          ids->t.n_items, d->ds.n_items);
    semid_trainer *t = NULL;
    SEMID_TRY(semid_api_calloc(&t, sizeof *t));
    int ok = 1;
    t->out_dir = semid_api_strdup(out_dir, &ok);
    t->word_vectors = semid_api_strdup(o.word_vectors, &ok);
    if (!ok) {
        semid_trainer_free(t);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    t->ds = &d->ds;
    t->table = &ids->t;
    semid_gen_train_config *c = &t->cfg;
    *c = semid_gen_train_defaults();
    c->n_layer = o.layers;
    c->n_head = o.heads;
    c->d_model = o.dim;
    c->max_seq_len = o.context;
    c->history_window = o.history_window;
    c->epochs = o.epochs;
    c->patience = o.patience;
    c->min_epochs = o.min_epochs;
    c->bf16 = o.bf16 != 0;
    c->max_steps = o.max_steps;
    c->batch_size = o.batch;
    c->lr = o.lr;
    c->weight_decay = o.weight_decay;
    c->seed = o.seed;
    c->valid_sample = o.valid_sample;
    c->valid_k = o.valid_k;
    c->word_vectors = t->word_vectors;
    c->threads = o.threads;
    c->verbose = o.verbose;
    t->resume_first = o.resume != 0;
    semid_status st = t->resume_first ? resume_step(out_dir, &t->step) : SEMID_OK;
    if (st != SEMID_OK) {
        semid_trainer_free(t);
        return st;
    }
    t->total = -1;
    *out = t;
    return SEMID_OK;
}

semid_status semid_trainer_run(semid_trainer *t, int64_t steps, semid_train_report *report) {
    if (report) memset(report, 0, sizeof *report);
    SEMID_TRY(semid_api_need(t, "semid_trainer_run", "t"));
    if (steps < 0) return semid_fail(SEMID_EINVAL, "semid_trainer_run: steps %lld < 0", (long long)steps);
    semid_gen_train_config c = t->cfg;
    c.resume = t->runs > 0 ? 1 : t->resume_first;
    c.stop_after = steps > 0 ? t->step + steps : 0;
    semid_gen_train_report r;
    memset(&r, 0, sizeof r);
    SEMID_TRY(semid_gen_train(t->ds, t->table, &c, t->out_dir, &r));
    t->runs++;
    t->step = r.steps;
    t->total = r.total_steps;
    t->stopped = r.stopped_early;
    if (report) {
        report->steps = r.steps;
        report->total_steps = r.total_steps;
        report->epochs_done = r.epochs_done;
        report->stopped_early = r.stopped_early;
        report->last_epoch_loss = r.last_epoch_loss;
        report->best_valid = r.best_valid;
        report->best_epoch = r.best_epoch;
        report->valid_search = r.valid_search;
        report->valid_rec = r.valid_rec;
        report->seconds = r.seconds;
        report->tokens_per_s = r.tokens_per_s;
        report->n_params = r.n_params;
    }
    return SEMID_OK;
}

int semid_trainer_done(const semid_trainer *t) { return t && (t->stopped || (t->total >= 0 && t->step >= t->total)); }

semid_status semid_train(const semid_data *d, const semid_ids *ids, const char *out_dir, const semid_train_opts *opts,
                         semid_train_report *report) {
    if (report) memset(report, 0, sizeof *report);
    semid_trainer *t = NULL;
    SEMID_TRY(semid_trainer_create(d, ids, out_dir, opts, &t));
    semid_status st = semid_trainer_run(t, 0, report);
    semid_trainer_free(t);
    return st;
}

/* ---- models ---- */

semid_status semid_model_load(const char *dir, semid_model **out) {
    SEMID_TRY(semid_api_need(out, "semid_model_load", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(dir, "semid_model_load", "dir"));
    semid_model *m = NULL;
    SEMID_TRY(semid_api_calloc(&m, sizeof *m));
    semid_status st = semid_gen_bundle_load(dir, &m->b);
    if (st != SEMID_OK) {
        free(m);
        return st;
    }
    *out = m;
    return SEMID_OK;
}

void semid_model_free(semid_model *m) {
    if (!m) return;
    semid_gen_bundle_free(m->b);
    free(m);
}

int32_t semid_model_n_items(const semid_model *m) { return m ? m->b->n_items : 0; }

const char *semid_model_item_id(const semid_model *m, int32_t item) {
    return m && item >= 0 && item < m->b->n_items ? m->b->item_ids[item] : NULL;
}

const char *semid_model_item_title(const semid_model *m, int32_t item) {
    return m && item >= 0 && item < m->b->n_items ? (m->b->titles[item] ? m->b->titles[item] : "") : NULL;
}

int32_t semid_model_item_index(const semid_model *m, const char *id) {
    return m && id ? semid_gen_bundle_find_item(m->b, id) : -1;
}

semid_decode_opts semid_decode_opts_default(void) {
    semid_gen_decode_options g = semid_gen_decode_defaults();
    semid_decode_opts o;
    memset(&o, 0, sizeof o);
    o.k = g.beam.k;
    o.beam = g.beam.beam_size;
    o.diverse = g.diverse;
    o.exclude_history = g.exclude_history;
    o.threads = 0;
    o.expand_prefix = g.expand_prefix;
    return o;
}

static semid_status decode_options(const semid_decode_opts *opts, const char *fn, semid_gen_decode_options *g) {
    semid_decode_opts o = opts ? *opts : semid_decode_opts_default();
    if (o.k < 1 || o.k > 100000 || o.beam < 1 || o.threads < 0 || o.exclude_history < -1 || o.exclude_history > 1)
        return semid_fail(SEMID_EINVAL,
                          "%s: k %d must be in 1..100000, beam %d >= 1, threads %d >= 0 and exclude_history %d in -1..1",
                          fn, o.k, o.beam, o.threads, o.exclude_history);
    if (!(o.expand_prefix >= 0 && o.expand_prefix <= 1))
        return semid_fail(SEMID_EINVAL, "%s: expand_prefix %g must be in 0..1 (a share of the top k)", fn,
                          o.expand_prefix);
    *g = semid_gen_decode_defaults();
    if (o.diverse) {
        g->beam = semid_beam_paper_diverse(o.k);
        g->diverse = 1;
    } else {
        g->beam.k = o.k;
        g->beam.beam_size = o.beam > o.k ? o.beam : o.k;
    }
    g->exclude_history = o.exclude_history;
    g->expand_prefix = o.expand_prefix;
    return SEMID_OK;
}

/* Copies hits into the caller's arrays (k columns each). */
static void copy_hits(const semid_beam_hits *h, int32_t k, int32_t *items, float *scores, int32_t *n_hits) {
    for (int64_t q = 0; q < h->n; q++) {
        for (int32_t j = 0; j < k; j++) {
            int in = j < h->k && j < h->n_hits[q];
            items[q * k + j] = in ? h->items[q * h->k + j] : -1;
            if (scores) scores[q * k + j] = in ? h->scores[q * h->k + j] : -HUGE_VALF;
        }
        if (n_hits) n_hits[q] = h->n_hits[q] < k ? h->n_hits[q] : k;
    }
}

semid_status semid_search(const semid_model *m, const char *const *queries, int64_t n, const semid_decode_opts *opts,
                          int32_t *items, float *scores, int32_t *n_hits) {
    SEMID_TRY(semid_api_need(m, "semid_search", "m"));
    SEMID_TRY(semid_api_need(items, "semid_search", "items"));
    if (n < 0) return semid_fail(SEMID_EINVAL, "semid_search: n %lld < 0", (long long)n);
    if (n == 0) return SEMID_OK;
    SEMID_TRY(semid_api_need(queries, "semid_search", "queries"));
    for (int64_t q = 0; q < n; q++)
        if (!queries[q]) return semid_fail(SEMID_EINVAL, "semid_search: query %lld is NULL", (long long)q);
    semid_gen_decode_options g;
    SEMID_TRY(decode_options(opts, "semid_search", &g));
    int saved = semid_threads_push(opts ? opts->threads : 0);
    semid_beam_hits h;
    memset(&h, 0, sizeof h);
    semid_status st = semid_gen_search(m->b, queries, n, &g, &h, NULL);
    semid_threads_pop(saved);
    if (st == SEMID_OK) copy_hits(&h, g.beam.k, items, scores, n_hits);
    semid_beam_hits_free(&h);
    return st;
}

semid_status semid_recommend(const semid_model *m, const int32_t *history, const int64_t *offsets, int64_t n,
                             const semid_decode_opts *opts, int32_t *items, float *scores, int32_t *n_hits) {
    SEMID_TRY(semid_api_need(m, "semid_recommend", "m"));
    SEMID_TRY(semid_api_need(items, "semid_recommend", "items"));
    if (n < 0) return semid_fail(SEMID_EINVAL, "semid_recommend: n %lld < 0", (long long)n);
    if (n == 0) return SEMID_OK;
    SEMID_TRY(semid_api_need(offsets, "semid_recommend", "offsets"));
    if (offsets[0] != 0) return semid_fail(SEMID_EINVAL, "semid_recommend: offsets[0] is %lld, not 0", (long long)offsets[0]);
    for (int64_t u = 0; u < n; u++)
        if (offsets[u + 1] < offsets[u])
            return semid_fail(SEMID_EINVAL, "semid_recommend: offsets decrease at user %lld (%lld then %lld)", (long long)u,
                              (long long)offsets[u], (long long)offsets[u + 1]);
    if (offsets[n] > 0) SEMID_TRY(semid_api_need(history, "semid_recommend", "history"));
    semid_gen_decode_options g;
    SEMID_TRY(decode_options(opts, "semid_recommend", &g));
    const int32_t **hist = malloc(sizeof *hist * (size_t)n);
    int64_t *len = malloc(sizeof *len * (size_t)n);
    if (!hist || !len) {
        free(hist);
        free(len);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    for (int64_t u = 0; u < n; u++) {
        hist[u] = history ? history + offsets[u] : NULL;
        len[u] = offsets[u + 1] - offsets[u];
    }
    int saved = semid_threads_push(opts ? opts->threads : 0);
    semid_beam_hits h;
    memset(&h, 0, sizeof h);
    semid_status st = semid_gen_recommend(m->b, (const int32_t *const *)hist, len, n, &g, &h);
    semid_threads_pop(saved);
    if (st == SEMID_OK) copy_hits(&h, g.beam.k, items, scores, n_hits);
    semid_beam_hits_free(&h);
    free(hist);
    free(len);
    return st;
}

static semid_metrics metrics_of(const semid_ranking_eval *e, int group) {
    semid_metric_summary s = semid_ranking_eval_mean(e, group);
    semid_metrics m = {s.n, s.recall, s.ndcg};
    return m;
}

semid_status semid_evaluate(const semid_model *m, const semid_data *d, const char *split, const semid_decode_opts *opts,
                            semid_eval_result *out) {
    SEMID_TRY(semid_api_need(out, "semid_evaluate", "out"));
    memset(out, 0, sizeof *out);
    SEMID_TRY(semid_api_need(m, "semid_evaluate", "m"));
    SEMID_TRY(semid_api_need(d, "semid_evaluate", "d"));
    const char *s = split ? split : "test";
    int which = strcmp(s, "test") == 0 ? SEMID_SPLIT_TEST : strcmp(s, "valid") == 0 ? SEMID_SPLIT_VALID : -1;
    if (which < 0) return semid_fail(SEMID_EINVAL, "semid_evaluate: split is 'test' or 'valid', not '%s'", s);
    semid_gen_decode_options g;
    SEMID_TRY(decode_options(opts, "semid_evaluate", &g));
    semid_ranking_eval search, rec;
    memset(&search, 0, sizeof search);
    memset(&rec, 0, sizeof rec);
    int saved = semid_threads_push(opts ? opts->threads : 0);
    semid_status st = semid_gen_evaluate(m->b, &d->ds, which, &g, &search, &rec, NULL);
    semid_threads_pop(saved);
    if (st == SEMID_OK) {
        out->k = g.beam.k;
        out->search = metrics_of(&search, SEMID_GROUP_ALL);
        out->rec = metrics_of(&rec, SEMID_GROUP_ALL);
        out->rec_head = metrics_of(&rec, SEMID_GROUP_HEAD);
        out->rec_torso = metrics_of(&rec, SEMID_GROUP_TORSO);
    }
    semid_ranking_eval_free(&search);
    semid_ranking_eval_free(&rec);
    return st;
}
