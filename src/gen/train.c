#include "gen/train.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/checksum.h"
#include "base/dirlock.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "base/threads.h"
#include "dist/dist.h"
#include "embed/text_encoder.h"
#include "eval/metrics.h"
#include "gen/generate.h"
#include "gen/model.h"
#include "gen/task_mix.h"
#include "gen/word_init.h"
#include "io/json.h"
#include "linalg/vec.h"
#include "io/safetensors.h"
#include "quant/trie.h"

enum { RESUME_VERSION = 1 };
static const uint64_t VALID_STREAM = 0x5a11du;

/* The bundle of a run in progress is built in OUT/.staging and moved into
 * OUT, a file at a time in this order, when the run is complete;
 * .staging/COMPLETE marks a staged bundle whose files are all final.
 * items.jsonl.sum is the checksum sidecar of items.jsonl (base/fileio.h);
 * the other files carry theirs inside. */
static const char STAGING[] = ".staging", COMPLETE[] = "COMPLETE", RESUME_FILE[] = "resume.safetensors";
static const char *const BUNDLE_FILES[] = {"idtable.sid", "items.jsonl", "items.jsonl.sum", "model.safetensors",
                                           "train.json"};
enum { N_BUNDLE_FILES = sizeof BUNDLE_FILES / sizeof BUNDLE_FILES[0] };

semid_gen_train_config semid_gen_train_defaults(void) {
    semid_gen_train_config c = {0};
    c.n_layer = 4;
    c.n_head = 4;
    c.d_model = 128;
    c.max_seq_len = 0;
    c.history_window = 20;
    c.valid_query_share = 0.05;
    c.search_share = SEMID_GEN_SHARE_AUTO;
    c.vocab = semid_gen_vocab_defaults();
    c.epochs = 10;
    c.batch_size = 64;
    c.pack = 1;
    c.lr = 1e-3f;
    c.weight_decay = 0.01f;
    c.clip_norm = 1.0f;
    c.warmup_steps = -1;
    c.decay = SEMID_LR_COSINE;
    c.seed = 1;
    c.threads = 0;
    c.valid_sample = 500;
    c.valid_k = 10;
    c.valid_beam = 10;
    c.checkpoint_every = 0;
    c.verbose = 1;
    return c;
}

int semid_gen_should_stop(int32_t epoch, int32_t best_epoch, int32_t patience, int32_t min_epochs) {
    return patience > 0 && epoch >= min_epochs && epoch - best_epoch >= patience;
}

/* ---- the state of a run ---- */

typedef struct trainer {
    const semid_gen_train_config *cfg;
    const semid_dataset *ds;
    const semid_idtable *table;
    const char *out_dir;
    const char *stage_dir; /* out_dir/.staging: the bundle being built */
    semid_gen_example_options ex;
    semid_gen_vocab vocab;
    uint8_t *role;
    semid_gen_seqs train, valid;
    int64_t *valid_idx;   /* the fixed validation sample */
    int64_t n_valid;
    semid_trie *trie[2];
    int items_repeat;
    char *meta_json;      /* {"semid_gen": ...} for checkpoints */
    semid_gpt *model;
    semid_adamw opt;
    int64_t n_epoch;      /* sequences per epoch */
    int64_t n_personal_slots; /* of which personalised search (the last ones before shuffling) */
    double search_share;  /* the two tasks' mix (gen/task_mix.h), 0 = as in the data */
    int64_t n_batches;    /* batches per epoch */
    int64_t total_steps;
    int64_t *order;       /* (n_epoch) the current epoch's order */
    int64_t order_epoch;  /* which epoch `order` holds, -1 = none */
    double best_valid;
    int32_t best_epoch;
    double best_search, best_rec;
    int stopped;          /* early stopping ended the run (semid_gen_should_stop) */
    cJSON *history;       /* array of per-epoch records */
} trainer;

static void trainer_free(trainer *t) {
    semid_gen_vocab_free(&t->vocab);
    free(t->role);
    semid_gen_seqs_free(&t->train);
    semid_gen_seqs_free(&t->valid);
    free(t->valid_idx);
    semid_trie_free(t->trie[0]);
    semid_trie_free(t->trie[1]);
    free(t->meta_json);
    semid_gpt_free(t->model);
    semid_adamw_free(&t->opt);
    free(t->order);
    cJSON_Delete(t->history);
}

static semid_status check_config(const semid_gen_train_config *c) {
    if (c->n_layer < 1 || c->n_head < 1 || c->d_model < 1 || c->d_model % c->n_head != 0)
        return semid_fail(SEMID_EINVAL, "train: layers, heads and width must be positive, width (%d) a multiple of heads (%d)",
                          c->d_model, c->n_head);
    if (c->epochs < 1 || c->batch_size < 1) return semid_fail(SEMID_EINVAL, "train: epochs and batch must be >= 1");
    if (c->max_steps < 0) return semid_fail(SEMID_EINVAL, "train: max_steps %lld must be >= 0", (long long)c->max_steps);
    if (c->patience < 0 || c->min_epochs < 0 || c->min_epochs > c->epochs)
        return semid_fail(SEMID_EINVAL, "train: patience (%d) must be >= 0 and min_epochs (%d) in 0..epochs (%d)",
                          c->patience, c->min_epochs, c->epochs);
    if (!(c->lr > 0) || !(c->weight_decay >= 0) || !(c->clip_norm >= 0))
        return semid_fail(SEMID_EINVAL, "train: lr must be > 0, weight decay and clip >= 0");
    if (c->history_window < 1) return semid_fail(SEMID_EINVAL, "train: history window must be >= 1");
    if (!(c->search_share >= 0 && c->search_share < 1) && c->search_share != SEMID_GEN_SHARE_AUTO)
        return semid_fail(SEMID_EINVAL, "train: search share %g must be in [0, 1) or auto", c->search_share);
    if (!(c->personal_share >= 0 && c->personal_share < 1))
        return semid_fail(SEMID_EINVAL, "train: personalised-search share %g must be in [0, 1)", c->personal_share);
    if (c->valid_sample < 0 || c->valid_k < 1 || c->valid_beam < 1)
        return semid_fail(SEMID_EINVAL, "train: validation sample >= 0, k and beam >= 1");
    if (c->max_seq_len < 0) return semid_fail(SEMID_EINVAL, "train: max_seq_len must be >= 0");
    return SEMID_OK;
}

/* The fixed validation sample: up to valid_sample prompts per task. */
static semid_status pick_valid_sample(trainer *t) {
    int64_t n = t->valid.n;
    t->valid_idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *t->valid_idx);
    if (!t->valid_idx) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_rng base;
    semid_rng_seed(&base, t->cfg->seed);
    for (int task = 0; task < 2; task++) {
        int64_t m = 0, first = t->n_valid;
        for (int64_t j = 0; j < n; j++)
            if (t->valid.seq[j].task == task) t->valid_idx[t->n_valid + m++] = j;
        semid_rng r = semid_rng_fork(&base, VALID_STREAM + (uint64_t)task);
        semid_rng_shuffle_i64(&r, t->valid_idx + first, (size_t)m);
        int64_t keep = m < t->cfg->valid_sample ? m : t->cfg->valid_sample;
        t->n_valid += keep;
    }
    return SEMID_OK;
}

/* Fills t->order with epoch e's sequence order. */
static semid_status epoch_order(trainer *t, int64_t e) {
    if (t->order_epoch == e) return SEMID_OK;
    semid_gen_epoch_mix mix = {.ns = t->train.n_task[0], .nr = t->train.n_task[1], .np = t->train.n_personal,
                               .personal_slots = t->n_personal_slots, .share = t->search_share};
    SEMID_TRY(semid_gen_epoch_order(&mix, t->cfg->seed, e, t->order));
    t->order_epoch = e;
    return SEMID_OK;
}

/* ---- validation ---- */

static semid_status validate(trainer *t, double *rs, double *rr) {
    *rs = *rr = -1;
    if (t->n_valid == 0) return SEMID_OK;
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = t->cfg->valid_beam > t->cfg->valid_k ? t->cfg->valid_beam : t->cfg->valid_k;
    o.beam.k = t->cfg->valid_k;
    semid_beam_space sp = {.sid_base = t->vocab.sid_base, .n_sid = t->vocab.n_sid, .popularity = NULL};
    semid_beam_hits h;
    SEMID_TRY(semid_gen_decode_seqs(t->model, t->table, t->trie, &sp, &t->valid, t->valid_idx, t->n_valid, &o,
                                    !t->items_repeat, &h));
    double hit[2] = {0, 0};
    int64_t cnt[2] = {0, 0};
    for (int64_t j = 0; j < t->n_valid; j++) {
        const semid_gen_seq *s = &t->valid.seq[t->valid_idx[j]];
        int32_t rank = semid_rank_of(h.items + j * h.k, h.n_hits[j], s->target);
        hit[s->task] += semid_recall_at_k(rank, o.beam.k);
        cnt[s->task]++;
    }
    semid_beam_hits_free(&h);
    if (cnt[0]) *rs = hit[0] / (double)cnt[0];
    if (cnt[1]) *rr = hit[1] / (double)cnt[1];
    return SEMID_OK;
}

/* ---- files ---- */

static semid_status save_model(trainer *t, const char *name) {
    char *path = semid_path_join(t->stage_dir, name);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_gpt_save(t->model, path, t->meta_json);
    free(path);
    return st;
}

static semid_status write_train_json(trainer *t, int64_t step) {
    cJSON *o = cJSON_CreateObject();
    const semid_gen_train_config *c = t->cfg;
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    semid_status st = SEMID_OK;
    if (!o || !cJSON_AddNumberToObject(o, "n_layer", c->n_layer) || !cJSON_AddNumberToObject(o, "n_head", c->n_head) ||
        !cJSON_AddNumberToObject(o, "d_model", c->d_model) || !cJSON_AddNumberToObject(o, "max_seq_len", t->ex.max_seq_len) ||
        !cJSON_AddNumberToObject(o, "history_window", semid_gen_effective_window(&t->ex, t->table->n_levels)) ||
        !cJSON_AddNumberToObject(o, "vocab_size", t->vocab.size) || !cJSON_AddNumberToObject(o, "epochs", c->epochs) ||
        !cJSON_AddNumberToObject(o, "batch_size", c->batch_size) || !cJSON_AddNumberToObject(o, "lr", c->lr) ||
        !cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay) || !cJSON_AddStringToObject(o, "seed", seed) ||
        !cJSON_AddNumberToObject(o, "search_share", t->search_share) ||
        !cJSON_AddBoolToObject(o, "search_share_auto", c->search_share == SEMID_GEN_SHARE_AUTO) ||
        !cJSON_AddNumberToObject(o, "search_slots", (double)semid_gen_search_slots(t->train.n_task[0], t->train.n_task[1], t->search_share)) ||
        !cJSON_AddNumberToObject(o, "personal_share", c->personal_share) ||
        !cJSON_AddNumberToObject(o, "train_personal_seqs", (double)t->train.n_personal) ||
        !cJSON_AddNumberToObject(o, "pack", c->pack) || !cJSON_AddNumberToObject(o, "bf16", c->bf16) ||
        !cJSON_AddNumberToObject(o, "train_search_seqs", (double)t->train.n_task[0]) ||
        !cJSON_AddNumberToObject(o, "train_rec_seqs", (double)t->train.n_task[1]) ||
        !cJSON_AddNumberToObject(o, "steps_done", (double)step) ||
        !cJSON_AddNumberToObject(o, "total_steps", (double)t->total_steps) ||
        !cJSON_AddNumberToObject(o, "patience", c->patience) ||
        !cJSON_AddNumberToObject(o, "min_epochs", c->min_epochs) ||
        !cJSON_AddNumberToObject(o, "epochs_run", (double)((step + t->n_batches - 1) / t->n_batches)) ||
        !cJSON_AddBoolToObject(o, "stopped_early", t->stopped && step < t->total_steps) ||
        !cJSON_AddNumberToObject(o, "best_epoch", t->best_epoch) ||
        !cJSON_AddNumberToObject(o, "best_valid_recall", t->best_valid)) {
        st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    cJSON *h = st == SEMID_OK ? cJSON_Duplicate(t->history, 1) : NULL;
    if (st == SEMID_OK && (!h || !cJSON_AddItemToObject(o, "history", h))) {
        cJSON_Delete(h); /* (not added: adding copies the key, which can fail) */
        st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    char *text = st == SEMID_OK ? cJSON_Print(o) : NULL;
    if (st == SEMID_OK && !text) st = semid_fail(SEMID_ENOMEM, "out of memory");
    char *path = semid_path_join(t->stage_dir, "train.json");
    if (st == SEMID_OK && !path) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_write_file_atomic(path, text, strlen(text));
    free(path);
    free(text);
    cJSON_Delete(o);
    return st;
}

/* The identity of a run's set-up: resuming with another one is refused. */
static void run_signature(const trainer *t, char *buf, size_t len) {
    const semid_gpt_config *mc = semid_gpt_get_config(t->model);
    snprintf(buf, len,
             "V%d T%d L%d H%d C%d B%d E%d S%" PRId64 " seqs%" PRId64 " epoch%" PRId64 " seed%" PRIu64 " lr%g wd%g clip%g share%g idt%016" PRIx64,
             mc->vocab_size, mc->max_seq_len, mc->n_layer, mc->n_head, mc->d_model, t->cfg->batch_size, t->cfg->epochs,
             t->total_steps, t->train.n, t->n_epoch, t->cfg->seed, (double)t->cfg->lr, (double)t->cfg->weight_decay,
             (double)t->cfg->clip_norm, t->search_share, t->table->fingerprint);
    const char *wv = t->cfg->word_vectors;
    size_t used = strlen(buf);
    if (wv && *wv && used < len) snprintf(buf + used, len - used, " wv%s", wv);
    /* Early stopping decides where the run ends (absent when off, so that
     * checkpoints of runs without it still resume). */
    used = strlen(buf);
    if (t->cfg->patience > 0 && used < len)
        snprintf(buf + used, len - used, " pat%d min%d", t->cfg->patience, t->cfg->min_epochs);
    used = strlen(buf);
    if (!t->cfg->pack && used < len) snprintf(buf + used, len - used, " unpacked");
    used = strlen(buf);
    if (t->cfg->bf16 && used < len) snprintf(buf + used, len - used, " bf16");
    used = strlen(buf);
    if (t->cfg->personal_share > 0 && used < len) snprintf(buf + used, len - used, " personal%g", t->cfg->personal_share);
}

static semid_status save_resume(trainer *t, int64_t step) {
    int64_t n = 0;
    float *params = semid_gpt_params(t->model, &n);
    semid_st_tensor_ref tens[3] = {
        {.name = "params", .data = params, .ndim = 1, .shape = {n}},
        {.name = "adam_m", .data = t->opt.m, .ndim = 1, .shape = {n}},
        {.name = "adam_v", .data = t->opt.v, .ndim = 1, .shape = {n}},
    };
    char sig[512];
    run_signature(t, sig, sizeof sig);
    cJSON *o = cJSON_CreateObject();
    char *hist = cJSON_PrintUnformatted(t->history);
    char *text = NULL;
    if (o && hist && cJSON_AddNumberToObject(o, "version", RESUME_VERSION) &&
        cJSON_AddNumberToObject(o, "step", (double)step) &&
        cJSON_AddNumberToObject(o, "adam_step", (double)t->opt.step) &&
        cJSON_AddNumberToObject(o, "best_valid", t->best_valid) &&
        cJSON_AddNumberToObject(o, "best_epoch", t->best_epoch) &&
        cJSON_AddNumberToObject(o, "best_search", t->best_search) &&
        cJSON_AddNumberToObject(o, "best_rec", t->best_rec) && cJSON_AddBoolToObject(o, "stopped", t->stopped) &&
        cJSON_AddStringToObject(o, "signature", sig) &&
        cJSON_AddStringToObject(o, "rng", "data order = fork(seed, epoch); position = step") &&
        cJSON_AddStringToObject(o, "history", hist))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(hist);
    if (!text) return semid_fail(SEMID_ENOMEM, "out of memory");
    const char *keys[1] = {"semid_gen_resume"};
    const char *vals[1] = {text};
    char *path = semid_path_join(t->out_dir, RESUME_FILE);
    semid_status st = path ? semid_safetensors_write(path, tens, 3, keys, vals, 1) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(path);
    free(text);
    return st;
}

static semid_status load_resume(trainer *t, int64_t *step, int *found) {
    *step = 0;
    *found = 0;
    char *path = semid_path_join(t->out_dir, RESUME_FILE);
    if (!path) return semid_fail(SEMID_ENOMEM, "out of memory");
    if (!semid_path_exists(path)) {
        SEMID_INFO("train: --resume: %s does not exist, starting from scratch", path);
        free(path);
        return SEMID_OK;
    }
    semid_safetensors f;
    semid_status st = semid_safetensors_read(path, &f);
    if (st != SEMID_OK) {
        free(path);
        return st;
    }
    const char *meta = semid_safetensors_meta(&f, "semid_gen_resume");
    int oom = 0;
    cJSON *o = meta ? semid_json_parse(meta, strlen(meta), &oom) : NULL;
    int64_t n = 0;
    float *params = semid_gpt_params(t->model, &n);
    const semid_st_tensor *tp = semid_safetensors_find(&f, "params");
    const semid_st_tensor *tm = semid_safetensors_find(&f, "adam_m");
    const semid_st_tensor *tv = semid_safetensors_find(&f, "adam_v");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(o, "version");
    const cJSON *sg = cJSON_GetObjectItemCaseSensitive(o, "signature");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "step");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(o, "adam_step");
    const cJSON *jh = cJSON_GetObjectItemCaseSensitive(o, "history");
    char sig[512];
    run_signature(t, sig, sizeof sig);
    cJSON *h = NULL;
    if (oom) {
        st = semid_fail(SEMID_ENOMEM, "%s: out of memory", path);
    } else if (!o || !cJSON_IsNumber(ver) || ver->valueint != RESUME_VERSION || !cJSON_IsString(sg) ||
               !cJSON_IsNumber(js) || !cJSON_IsNumber(ja) || !cJSON_IsString(jh) || !tp || !tm || !tv) {
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid resume checkpoint (missing state)", path);
    } else if (strcmp(sg->valuestring, sig) != 0) {
        st = semid_fail(SEMID_EINVAL, "%s: made by a run with another set-up (%s) than this one (%s): resume with the same options or start afresh",
                        path, sg->valuestring, sig);
    } else if (tp->numel != n || tm->numel != n || tv->numel != n) {
        st = semid_fail(SEMID_EFORMAT, "%s: %lld parameters, expected %lld", path, (long long)tp->numel, (long long)n);
    } else if (js->valuedouble < 0 || js->valuedouble > (double)t->total_steps) {
        st = semid_fail(SEMID_EFORMAT, "%s: step %g outside 0..%lld", path, js->valuedouble, (long long)t->total_steps);
    } else if (!(h = semid_json_parse(jh->valuestring, strlen(jh->valuestring), &oom)) && oom) {
        st = semid_fail(SEMID_ENOMEM, "%s: out of memory", path);
    } else {
        semid_safetensors_copy(tp, params);
        semid_safetensors_copy(tm, t->opt.m);
        semid_safetensors_copy(tv, t->opt.v);
        *step = (int64_t)js->valuedouble;
        t->opt.step = (int64_t)ja->valuedouble;
        const cJSON *x;
        if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(o, "best_valid"))) t->best_valid = x->valuedouble;
        if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(o, "best_epoch"))) t->best_epoch = x->valueint;
        if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(o, "best_search"))) t->best_search = x->valuedouble;
        if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(o, "best_rec"))) t->best_rec = x->valuedouble;
        t->stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "stopped"));
        if (cJSON_IsArray(h)) {
            cJSON_Delete(t->history);
            t->history = h;
        } else {
            cJSON_Delete(h);
        }
        *found = 1;
        if (t->cfg->verbose) SEMID_INFO("train: resumed from %s at step %lld", path, (long long)*step);
    }
    cJSON_Delete(o);
    semid_safetensors_free(&f);
    free(path);
    return st;
}

/* ---- the staged bundle ---- */

/* Removes a directory and the files in it (ours: it holds no directories).
 * Allocates nothing (it ends a swap that must not fail half-way). */
static semid_status remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? SEMID_OK : semid_fail(SEMID_EIO, "cannot read %s: %s", dir, strerror(errno));
    semid_status st = SEMID_OK;
    for (struct dirent *e; st == SEMID_OK && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            st = semid_fail(SEMID_EIO, "cannot remove %s/%s: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
    if (st == SEMID_OK && rmdir(dir) != 0 && errno != ENOENT)
        st = semid_fail(SEMID_EIO, "cannot remove %s: %s", dir, strerror(errno));
    return st;
}

/* Whether bundle file i + 1 is the checksum sidecar of file i. */
static int sidecar_follows(int i) {
    size_t n = strlen(BUNDLE_FILES[i]);
    return i + 1 < N_BUNDLE_FILES && strncmp(BUNDLE_FILES[i + 1], BUNDLE_FILES[i], n) == 0 &&
           strcmp(BUNDLE_FILES[i + 1] + n, ".sum") == 0;
}

/* Moves the staged files into out_dir (those already moved are skipped),
 * then drops the staging directory. The paths are made first, so that
 * running out of memory never stops the renames half-way. */
static semid_status finish_swap(const char *out_dir, const char *stage) {
    semid_status st = SEMID_OK;
    char *from[N_BUNDLE_FILES] = {0}, *to[N_BUNDLE_FILES] = {0};
    for (int i = 0; i < N_BUNDLE_FILES && st == SEMID_OK; i++) {
        from[i] = semid_path_join(stage, BUNDLE_FILES[i]);
        to[i] = semid_path_join(out_dir, BUNDLE_FILES[i]);
        if (!from[i] || !to[i]) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    for (int i = 0; i < N_BUNDLE_FILES && st == SEMID_OK; i++) {
        /* A file staged without its sidecar (by an older semid) must not
         * meet the old file's: that sidecar goes. */
        if (sidecar_follows(i) && semid_path_exists(from[i]) && !semid_path_exists(from[i + 1]) &&
            unlink(to[i + 1]) != 0 && errno != ENOENT)
            st = semid_fail(SEMID_EIO, "cannot remove %s: %s", to[i + 1], strerror(errno));
        if (st == SEMID_OK && rename(from[i], to[i]) != 0 && errno != ENOENT)
            st = semid_fail(SEMID_EIO, "cannot move %s to %s: %s", from[i], to[i], strerror(errno));
    }
    for (int i = 0; i < N_BUNDLE_FILES; i++) {
        free(from[i]);
        free(to[i]);
    }
    if (st != SEMID_OK) return st;
    semid_sync_dir(out_dir);
    return remove_dir(stage);
}

/* Marks the staged bundle complete, then moves it in. A loader that opens
 * the directory during the few renames sees either whole bundle, or the
 * new ID table with the old model, which it refuses (the model records the
 * table's fingerprint); a crash among them is finished by the next run. */
static semid_status swap_in(const char *out_dir, const char *stage) {
    char *marker = semid_path_join(stage, COMPLETE);
    semid_status st = marker ? semid_write_file_atomic(marker, "", 0) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(marker);
    return st == SEMID_OK ? finish_swap(out_dir, stage) : st;
}

/* A swap cut short by a crash is finished before anything else. */
static semid_status finish_interrupted_swap(const char *out_dir, const char *stage) {
    char *marker = semid_path_join(stage, COMPLETE);
    if (!marker) return semid_fail(SEMID_ENOMEM, "out of memory");
    int pending = semid_path_exists(marker);
    free(marker);
    if (!pending) return SEMID_OK;
    SEMID_INFO("train: %s: finishing the swap of a bundle completed by an earlier run", out_dir);
    return finish_swap(out_dir, stage);
}

static semid_status copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file(from, &data, &len));
    semid_status st = semid_write_file_atomic(to, data, len);
    free(data);
    return st;
}

/* Makes the staging directory ready for the run: a fresh run starts it
 * empty (and drops the checkpoint of whichever run was there: its partial
 * model goes with the staging directory); a resumed one keeps it. *done is
 * set when a resumed run was already complete and moved in. */
static semid_status prepare_staging(trainer *t, int resumed, int64_t step, int *done) {
    *done = 0;
    if (!resumed) {
        char *ck = semid_path_join(t->out_dir, RESUME_FILE);
        if (!ck) return semid_fail(SEMID_ENOMEM, "out of memory");
        int gone = unlink(ck) == 0 || errno == ENOENT;
        semid_status st = gone ? SEMID_OK : semid_fail(SEMID_EIO, "cannot remove %s: %s", ck, strerror(errno));
        free(ck);
        SEMID_TRY(st);
        SEMID_TRY(remove_dir(t->stage_dir));
    } else if ((step >= t->total_steps || t->stopped) && !semid_path_exists(t->stage_dir)) {
        *done = 1;
        return SEMID_OK;
    }
    SEMID_TRY(semid_mkdirs(t->stage_dir));
    if (resumed && step < t->total_steps && !t->stopped && t->best_epoch > 0) {
        /* A checkpoint of a run made before bundles were staged: its best
         * model so far is the directory's own. */
        char *staged = semid_path_join(t->stage_dir, "model.safetensors");
        char *own = semid_path_join(t->out_dir, "model.safetensors");
        semid_status st = staged && own ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK && !semid_path_exists(staged)) {
            st = semid_path_exists(own) ? copy_file(own, staged)
                                        : semid_fail(SEMID_ENOTFOUND, "train: --resume: the best model of the interrupted run "
                                                                      "(%s) is missing: start afresh without --resume",
                                                     staged);
        }
        free(staged);
        free(own);
        SEMID_TRY(st);
    }
    return SEMID_OK;
}

/* ---- set-up ---- */

/* A bi-encoder's saved text tower (`semid embed`'s *_encoder.safetensors,
 * the experiment's emb/<method>.encoder) rather than a word-vector table. */
static int names_text_encoder(const char *path) {
    size_t n = strlen(path);
    return (n >= 8 && strcmp(path + n - 8, ".encoder") == 0) || (n >= 12 && strcmp(path + n - 12, ".safetensors") == 0);
}

static semid_status load_word_vectors(const char *path, semid_wordvec *wv) {
    if (strcmp(path, "default") == 0) return semid_wordvec_load_default(wv);
    if (!names_text_encoder(path)) return semid_wordvec_load(path, 0, wv);
    semid_text_encoder *enc;
    SEMID_TRY(semid_text_encoder_load(path, &enc));
    semid_status st = semid_text_encoder_word_vectors(enc, wv);
    semid_text_encoder_free(enc);
    return st;
}

static semid_status init_words(trainer *t) {
    const char *path = t->cfg->word_vectors;
    semid_wordvec wv;
    SEMID_TRY(load_word_vectors(path, &wv));
    int32_t found = 0;
    semid_status st = semid_gen_init_word_embeddings(t->model, &t->vocab, &wv, t->cfg->seed, &found);
    if (st == SEMID_OK && t->cfg->verbose)
        SEMID_INFO("train: %d of %d query words start from word vectors (%s)", found, t->vocab.n_words, path);
    semid_wordvec_free(&wv);
    return st;
}

static semid_status setup(trainer *t) {
    const semid_gen_train_config *c = t->cfg;
    const semid_dataset *ds = t->ds;
    const semid_idtable *tb = t->table;
    if (tb->n_items != ds->n_items)
        return semid_fail(SEMID_EINVAL, "train: the ID table has %d items but the dataset %d", tb->n_items, ds->n_items);
    if (tb->item_ids)
        for (int32_t i = 0; i < ds->n_items; i++)
            if (strcmp(tb->item_ids[i], ds->items[i].id) != 0)
                return semid_fail(SEMID_EINVAL, "train: item %d is '%s' in the ID table but '%s' in the dataset", i,
                                  tb->item_ids[i], ds->items[i].id);
    int32_t L = tb->n_levels;
    SEMID_TRY(semid_gen_example_check(c->history_window, c->max_seq_len, L)); /* before (window + 1) * L */
    t->ex = semid_gen_example_defaults();
    t->ex.history_window = c->history_window;
    t->ex.valid_query_share = c->valid_query_share;
    t->ex.seed = c->seed;
    if (c->max_seq_len > 0) {
        t->ex.max_seq_len = c->max_seq_len;
    } else {
        int32_t rec = (c->history_window + 1) * L, search = 24 + 1 + L;
        t->ex.max_seq_len = rec > search ? rec : search;
    }
    if (t->ex.max_seq_len < 2 * L)
        return semid_fail(SEMID_EINVAL, "train: context %d is too short for IDs of %d tokens", t->ex.max_seq_len, L);
    if (semid_gen_effective_window(&t->ex, L) < c->history_window)
        SEMID_WARN("train: history window cut to %d items to fit the context of %d tokens",
                   semid_gen_effective_window(&t->ex, L), t->ex.max_seq_len);
    t->role = malloc((size_t)(ds->n_queries > 0 ? ds->n_queries : 1));
    if (!t->role) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_gen_query_roles(ds, &t->ex, t->role);
    uint8_t *is_train = malloc((size_t)(ds->n_queries > 0 ? ds->n_queries : 1));
    if (!is_train) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t q = 0; q < ds->n_queries; q++) is_train[q] = t->role[q] == SEMID_SPLIT_TRAIN;
    semid_status st = semid_gen_vocab_build(ds, is_train, tb, &c->vocab, &t->vocab);
    free(is_train);
    SEMID_TRY(st);
    SEMID_TRY(semid_gen_examples_train(ds, tb, &t->vocab, t->role, &t->ex, &t->train));
    if (c->personal_share > 0) {
        semid_querygen_profiles *profiles = NULL;
        st = semid_querygen_profiles_build(ds, t->role, &profiles);
        if (st == SEMID_OK) st = semid_gen_examples_personal_train(ds, tb, &t->vocab, profiles, &t->ex, &t->train);
        semid_querygen_profiles_free(profiles);
        SEMID_TRY(st);
        if (t->train.n_personal == 0) SEMID_WARN("train: no personalised-search examples (no user with 2+ training items)");
    }
    if (t->train.n == 0) return semid_fail(SEMID_EINVAL, "train: no training examples (no train queries and no user with 2+ training items)");
    SEMID_TRY(semid_gen_examples_eval(ds, tb, &t->vocab, t->role, &t->ex, SEMID_SPLIT_VALID, &t->valid));
    if (c->valid_sample > 0) SEMID_TRY(pick_valid_sample(t));
    for (int task = 0; task < 2; task++) SEMID_TRY(semid_trie_build(tb, task, &t->trie[task]));
    SEMID_TRY(semid_gen_items_repeat(ds, &t->items_repeat));

    cJSON *meta = semid_gen_bundle_meta(&t->vocab, &t->ex, t->items_repeat, t->train.n_personal > 0);
    cJSON *root = cJSON_CreateObject();
    if (!meta || !root || !cJSON_AddItemToObject(root, "semid_gen", meta)) {
        cJSON_Delete(meta);
        cJSON_Delete(root);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    t->meta_json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!t->meta_json) return semid_fail(SEMID_ENOMEM, "out of memory");

    semid_gpt_config mc = {.vocab_size = t->vocab.size, .max_seq_len = t->ex.max_seq_len, .n_layer = c->n_layer,
                           .n_head = c->n_head, .d_model = c->d_model};
    SEMID_TRY(semid_gpt_create(&mc, c->seed, &t->model));
    /* Targets are always ID tokens and decoding scores only those: the
     * training softmax runs over them alone (model.h). */
    SEMID_TRY(semid_gpt_set_output_range(t->model, t->vocab.sid_base, t->vocab.sid_base + t->vocab.n_sid));
    semid_gpt_set_gemm(t->model, c->bf16 ? SEMID_GEMM_BF16 : SEMID_GEMM_FP32);
    if (c->word_vectors && *c->word_vectors) SEMID_TRY(init_words(t));

    int64_t n_two = t->train.n_task[0] + t->train.n_task[1];
    t->search_share = semid_gen_search_share(t->train.n_task[0], t->train.n_task[1], c->search_share);
    double share = c->personal_share;
    t->n_personal_slots = t->train.n_personal > 0 ? (int64_t)llround(share / (1 - share) * (double)n_two) : 0;
    t->n_epoch = n_two + t->n_personal_slots;
    t->n_batches = (t->n_epoch + c->batch_size - 1) / c->batch_size;
    t->total_steps = t->n_batches * c->epochs;
    if (c->max_steps > 0 && c->max_steps < t->total_steps) t->total_steps = c->max_steps;
    t->order = malloc((size_t)t->n_epoch * sizeof *t->order);
    if (!t->order) return semid_fail(SEMID_ENOMEM, "out of memory");
    t->order_epoch = -1;

    semid_adamw_config ac = semid_adamw_defaults();
    ac.lr = c->lr;
    ac.weight_decay = c->weight_decay;
    ac.clip_norm = c->clip_norm;
    ac.decay = c->decay;
    ac.total_steps = t->total_steps;
    ac.warmup_steps = c->warmup_steps >= 0 ? c->warmup_steps : t->total_steps / 20 < 500 ? t->total_steps / 20 : 500;
    int64_t n_params = 0;
    semid_gpt_params(t->model, &n_params);
    SEMID_TRY(semid_adamw_init(&t->opt, &ac, n_params));
    t->history = cJSON_CreateArray();
    if (!t->history) return semid_fail(SEMID_ENOMEM, "out of memory");
    t->best_valid = -1;
    t->best_search = t->best_rec = -1;
    return SEMID_OK;
}

/* ---- across ranks (dist/dist.h) ----
 *
 * Every rank builds the same sequences and model and takes its share of
 * each global batch; rank 0 alone touches out_dir (lock, staging,
 * checkpoints, train.json), validates and logs. The collectives below are
 * reached by every rank, a failed one included, so that a failure on one
 * rank ends the run on all. */

/* A checksum of what must be the same on every rank: the set-up (the
 * resume signature and the settings it leaves out) and the training
 * sequences built from the dataset and the ID table. */
static uint64_t run_fingerprint(const trainer *t) {
    char sig[512];
    run_signature(t, sig, sizeof sig);
    const semid_gen_train_config *c = t->cfg;
    double more[] = {(double)c->warmup_steps, (double)c->decay, (double)c->max_steps, c->valid_query_share,
                     (double)c->valid_sample, (double)c->valid_k, (double)c->valid_beam, (double)c->checkpoint_every,
                     (double)c->stop_after, (double)c->min_epochs, (double)c->history_window};
    semid_xxh64_state h;
    semid_xxh64_init(&h);
    semid_xxh64_update(&h, sig, strlen(sig));
    semid_xxh64_update(&h, more, sizeof more);
    semid_xxh64_update(&h, t->train.tokens, (size_t)t->train.n_tokens * sizeof *t->train.tokens);
    semid_xxh64_update(&h, t->train.is_target, (size_t)t->train.n_tokens);
    for (int64_t j = 0; j < t->train.n; j++) semid_xxh64_update(&h, &t->train.seq[j].len, sizeof t->train.seq[j].len);
    return semid_xxh64_final(&h);
}

/* Rank 0's parameters and AdamW moments to every rank: after a resume
 * (which rank 0 alone reads), and at each checkpoint, so that the state
 * rank 0 writes is the one every rank goes on from (AdamW's norm is a
 * threaded sum, whose last bit may differ between ranks with other thread
 * counts; this keeps such drift from building up). */
static semid_status share_weights(trainer *t) {
    int64_t n = 0;
    float *params = semid_gpt_params(t->model, &n);
    SEMID_TRY(semid_dist_broadcast(params, (size_t)n * sizeof *params, 0));
    SEMID_TRY(semid_dist_broadcast(t->opt.m, (size_t)n * sizeof *t->opt.m, 0));
    return semid_dist_broadcast(t->opt.v, (size_t)n * sizeof *t->opt.v, 0);
}

/* Rank 0's position and scores (after load_resume or end_of_epoch) to every
 * rank, after agreeing on st. */
static semid_status share_progress(trainer *t, int64_t *step, int *resumed, semid_status st) {
    st = semid_dist_agree(st);
    if (st != SEMID_OK || semid_dist_size() == 1) return st;
    double v[8] = {(double)*step, *resumed, (double)t->opt.step, t->best_valid, t->best_epoch, t->best_search,
                   t->best_rec, t->stopped};
    SEMID_TRY(semid_dist_broadcast(v, sizeof v, 0));
    *step = (int64_t)v[0];
    *resumed = (int)v[1];
    t->opt.step = (int64_t)v[2];
    t->best_valid = v[3];
    t->best_epoch = (int32_t)v[4];
    t->best_search = v[5];
    t->best_rec = v[6];
    t->stopped = (int)v[7];
    return SEMID_OK;
}

/* The step's numbers summed over the ranks with its gradients. */
typedef struct step_sums {
    float targets;  /* target tokens: the loss is a mean over them */
    float loss;     /* loss x targets */
    float tokens;   /* non-padding inputs */
    float slots;    /* input slots */
    float failed;   /* ranks whose step failed */
} step_sums;

/* Sums the ranks' gradients of one global batch, in the same buckets as
 * the step's counts. Each rank's loss is a mean over its own target
 * tokens, so its gradient is weighted by its count before the sum and the
 * sum divided by the batch's count: the gradient of the mean over the
 * whole batch, as one process computes it (to float rounding). A rank
 * whose step failed still takes part (its flag fails every rank). */
static semid_status share_gradients(float *grads, int64_t n, step_sums *s, semid_status st) {
    float own_targets = s->targets;
    semid_scale(grads, own_targets, n);
    s->loss *= own_targets;
    s->failed = st != SEMID_OK;
    semid_dist_span spans[2] = {{grads, n}, {&s->targets, sizeof *s / sizeof(float)}};
    semid_status rs = semid_dist_allreduce_sum(spans, 2, 0, NULL);
    if (st != SEMID_OK && rs == SEMID_OK) semid_dist_failure_shared();
    if (st != SEMID_OK) return st;
    if (rs != SEMID_OK) return rs;
    if (s->failed > 0) return semid_dist_fail_peer("train", -1);
    if (s->targets > 0) {
        semid_scale(grads, 1.0f / s->targets, n);
        s->loss /= s->targets;
    }
    return SEMID_OK;
}

/* The last component of a directory path, naming a model in log lines. */
static const char *dir_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static semid_status end_of_epoch(trainer *t, int32_t epoch, double loss, double seconds) {
    double rs = -1, rr = -1;
    if (t->cfg->valid_sample > 0) SEMID_TRY(validate(t, &rs, &rr));
    double score = -1;
    if (rs >= 0 && rr >= 0) score = (rs + rr) / 2;
    else if (rs >= 0) score = rs;
    else if (rr >= 0) score = rr;
    /* Without validation prompts every epoch counts as the best: the last is kept. */
    int improved = t->best_epoch == 0 || score < 0 || score > t->best_valid;
    if (improved) {
        t->best_valid = score;
        t->best_epoch = epoch;
        t->best_search = rs;
        t->best_rec = rr;
        SEMID_TRY(save_model(t, "model.safetensors"));
    }
    t->stopped = semid_gen_should_stop(epoch, t->best_epoch, t->cfg->patience, t->cfg->min_epochs);
    if (t->cfg->verbose)
        SEMID_INFO("train%s%s: epoch %d loss %.4f valid Recall@%d search %.4f rec %.4f (%.0f s)%s", t->cfg->verbose == 2 ? " " : "",
                   t->cfg->verbose == 2 ? dir_name(t->out_dir) : "", epoch, loss, t->cfg->valid_k, rs, rr, seconds,
                   improved ? " (best)" : "");
    if (t->cfg->verbose && t->stopped)
        SEMID_INFO("train%s%s: stopping early: epoch %d was the best, and %d epoch%s since brought no better validation score",
                   t->cfg->verbose == 2 ? " " : "", t->cfg->verbose == 2 ? dir_name(t->out_dir) : "", t->best_epoch,
                   epoch - t->best_epoch, epoch - t->best_epoch == 1 ? "" : "s");
    cJSON *rec = cJSON_CreateObject();
    if (!rec || !cJSON_AddNumberToObject(rec, "epoch", epoch) || !cJSON_AddNumberToObject(rec, "loss", loss) ||
        !cJSON_AddNumberToObject(rec, "valid_search_recall", rs) || !cJSON_AddNumberToObject(rec, "valid_rec_recall", rr) ||
        !cJSON_AddNumberToObject(rec, "seconds", seconds)) {
        cJSON_Delete(rec);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    cJSON_AddItemToArray(t->history, rec);
    return SEMID_OK;
}

semid_status semid_gen_train(const semid_dataset *ds, const semid_idtable *table, const semid_gen_train_config *cfg_in,
                             const char *out_dir, semid_gen_train_report *report) {
    if (report) memset(report, 0, sizeof *report);
    const int rank = semid_dist_rank(), ranks = semid_dist_size(), root = rank == 0;
    semid_gen_train_config cfg_own = *cfg_in;
    if (!root) cfg_own.verbose = 0; /* rank 0 logs */
    const semid_gen_train_config *cfg = &cfg_own;
    SEMID_TRY(semid_dist_agree(check_config(cfg)));
    char *stage_dir = semid_path_join(out_dir, STAGING);
    semid_status st = stage_dir ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    /* One run at a time in a directory; rank 0's alone. */
    semid_dirlock lock;
    int locked = 0;
    if (st == SEMID_OK && root) {
        st = semid_mkdirs(out_dir);
        if (st == SEMID_OK) st = semid_dirlock_acquire(&lock, out_dir, cfg->wait);
        locked = st == SEMID_OK;
        if (st == SEMID_OK) st = finish_interrupted_swap(out_dir, stage_dir);
    }
    st = semid_dist_agree(st);
    if (st != SEMID_OK) {
        if (locked) semid_dirlock_release(&lock);
        free(stage_dir);
        return st;
    }
    int saved_threads = semid_threads_push(cfg->threads);
    trainer t = {.cfg = cfg, .ds = ds, .table = table, .out_dir = out_dir, .stage_dir = stage_dir};
    double t0 = semid_now();
    st = semid_dist_agree(setup(&t));
    if (st == SEMID_OK) st = semid_dist_check_same(run_fingerprint(&t), "training data or settings");
    int64_t step = 0;
    int resumed = 0, done = 0;
    if (st == SEMID_OK && cfg->resume && root) st = load_resume(&t, &step, &resumed);
    if (st == SEMID_OK || ranks > 1) st = share_progress(&t, &step, &resumed, st);
    if (st == SEMID_OK && resumed && ranks > 1) st = share_weights(&t);
    /* Only now (a refused resume must leave the directory as it was). The
     * directory's bundle stays as it is until this run is complete. */
    if (st == SEMID_OK && root) st = prepare_staging(&t, resumed, step, &done);
    if (st == SEMID_OK && root && !done) st = semid_gen_bundle_write_static(stage_dir, ds, table);
    st = semid_dist_agree(st);
    if (st == SEMID_OK) st = semid_dist_broadcast(&done, sizeof done, 0);
    int32_t *inputs = NULL, *targets = NULL, *pos = NULL;
    if (st == SEMID_OK) {
        size_t cells = (size_t)cfg->batch_size * (size_t)(t.train.max_len > 1 ? t.train.max_len : 2);
        inputs = malloc(cells * sizeof *inputs);
        targets = malloc(cells * sizeof *targets);
        pos = malloc(cells * sizeof *pos);
        if (!inputs || !targets || !pos) st = semid_fail(SEMID_ENOMEM, "out of memory for a batch of %d", cfg->batch_size);
    }
    if (st == SEMID_OK && !done) st = semid_gpt_reserve(t.model, cfg->batch_size, t.train.max_len > 1 ? t.train.max_len - 1 : 1);
    st = semid_dist_agree(st);
    int64_t n_params = 0;
    float *params = st == SEMID_OK ? semid_gpt_params(t.model, &n_params) : NULL;
    float *grads = st == SEMID_OK ? semid_gpt_grads(t.model, &n_params) : NULL;
    const uint8_t *mask = st == SEMID_OK ? semid_gpt_decay_mask(t.model) : NULL;
    if (st == SEMID_OK && cfg->verbose)
        SEMID_INFO("train: %lld parameters, %lld search + %lld rec + %lld personalised-search sequences (%lld slots an "
                   "epoch), %lld steps of %d, context %d, vocab %d",
                   (long long)n_params, (long long)t.train.n_task[0], (long long)t.train.n_task[1],
                   (long long)t.train.n_personal, (long long)t.n_personal_slots,
                   (long long)t.total_steps, cfg->batch_size, t.ex.max_seq_len, t.vocab.size);
    if (st == SEMID_OK && cfg->verbose && t.search_share > 0) {
        int64_t slots_s = semid_gen_search_slots(t.train.n_task[0], t.train.n_task[1], t.search_share);
        SEMID_INFO("train: %lld search and %lld rec slots an epoch (search share %.3g, %s)", (long long)slots_s,
                   (long long)(t.train.n_task[0] + t.train.n_task[1] - slots_s), t.search_share,
                   cfg->search_share == SEMID_GEN_SHARE_AUTO ? "auto: one task had over 4x the other's sequences" : "as set");
    }
    if (st == SEMID_OK && cfg->verbose && ranks > 1)
        SEMID_INFO("train: %d ranks, each a share of every batch of %d sequences", ranks, cfg->batch_size);
    semid_progress prog;
    if (cfg->verbose == 1) semid_progress_start(&prog, "train", t.total_steps);
    int64_t end = t.stopped ? step : t.total_steps; /* a resumed run that had stopped early is complete */
    if (cfg->stop_after > 0 && cfg->stop_after < end) end = cfg->stop_after;
    double loss_sum = 0, last_epoch_loss = NAN, tokens = 0, slots = 0, t_train = 0, c_train = 0, t_sums = 0;
    double t_epoch = semid_now();
    int64_t loss_n = 0, start_step = step;
    for (; step < end && st == SEMID_OK; step++) {
        int64_t e = step / t.n_batches, b = step % t.n_batches;
        double ts = semid_now(), cs = semid_cpu_now();
        st = epoch_order(&t, e);
        int64_t first = b * cfg->batch_size;
        int32_t B = (int32_t)(t.n_epoch - first < cfg->batch_size ? t.n_epoch - first : cfg->batch_size);
        /* this rank's share of the batch: sequences [lo, hi) of it */
        int64_t lo = first + (int64_t)B * rank / ranks, hi = first + (int64_t)B * (rank + 1) / ranks;
        int32_t share = (int32_t)(hi - lo), T = 0, rows = share;
        int64_t n_targets = 0;
        step_sums sums = {0};
        semid_gpt_zero_grad(t.model);
        if (st == SEMID_OK && share > 0) {
            if (cfg->pack) st = semid_gen_batch_pack(&t.train, t.order + lo, share, inputs, targets, pos, &rows, &T, &n_targets);
            else n_targets = semid_gen_batch_fill(&t.train, t.order + lo, share, inputs, targets, &T);
            for (int64_t j = 0; st == SEMID_OK && j < (int64_t)rows * T; j++) sums.tokens += inputs[j] != SEMID_TOK_PAD;
            sums.slots = (float)rows * (float)T;
            if (st == SEMID_OK)
                st = semid_gpt_forward_packed(t.model, inputs, targets, cfg->pack ? pos : NULL, rows, T, &sums.loss);
            if (st == SEMID_OK) st = semid_gpt_backward(t.model);
        }
        sums.targets = (float)n_targets;
        double t_sum = semid_now();
        if (ranks > 1) st = share_gradients(grads, n_params, &sums, st);
        t_sum = semid_now() - t_sum;
        if (st != SEMID_OK) break;
        float loss = sums.loss;
        tokens += sums.tokens;
        slots += sums.slots;
        if (!isfinite(loss)) {
            st = semid_fail(SEMID_ENUMERIC, "train: the loss became %f at step %lld (try a lower --lr)", (double)loss,
                            (long long)step);
            break;
        }
        semid_adamw_step(&t.opt, params, grads, mask);
        t_train += semid_now() - ts;
        c_train += semid_cpu_now() - cs;
        t_sums += t_sum;
        loss_sum += loss;
        loss_n++;
        if (cfg->verbose == 1) {
            char extra[96];
            snprintf(extra, sizeof extra, "epoch %lld loss %.4f lr %.2e %.0f tokens/s", (long long)e + 1,
                     loss_sum / (double)loss_n, (double)semid_adamw_lr(&t.opt.cfg, step),
                     t_train > 0 ? tokens / t_train : 0.0);
            semid_progress_update(&prog, step + 1, extra);
        }
        int epoch_done = b == t.n_batches - 1 || step + 1 == t.total_steps;
        if (epoch_done) {
            last_epoch_loss = loss_sum / (double)loss_n;
            if (root) st = end_of_epoch(&t, (int32_t)(e + 1), last_epoch_loss, semid_now() - t_epoch);
            if (ranks > 1) st = share_progress(&t, &(int64_t){step}, &(int){0}, st);
            loss_sum = 0;
            loss_n = 0;
            t_epoch = semid_now();
            if (t.stopped) end = step + 1; /* early stopping: this epoch is the last */
        }
        int last = step + 1 == end;
        int periodic = cfg->checkpoint_every > 0 && (step + 1) % cfg->checkpoint_every == 0;
        if (st == SEMID_OK && root && (epoch_done || periodic || last)) st = save_resume(&t, step + 1);
        if (st == SEMID_OK && root && (epoch_done || last)) st = write_train_json(&t, step + 1);
        if (ranks > 1 && (epoch_done || periodic || last)) {
            st = semid_dist_agree(st);
            if (st == SEMID_OK) st = share_weights(&t);
        }
    }
    if (cfg->verbose == 1) semid_progress_finish(&prog, NULL);
    /* Complete (every step, or stopped early by the validation score): the
     * staged bundle replaces the directory's (train.json again for a run
     * resumed at its end, whose crash may have cut it). A run cut short
     * by stop_after (as if killed) leaves it staged. */
    if (st == SEMID_OK && root && !done && (step >= t.total_steps || t.stopped)) {
        if (step == start_step) st = write_train_json(&t, step);
        if (st == SEMID_OK) st = swap_in(out_dir, stage_dir);
    }
    st = semid_dist_agree(st);
    if (st == SEMID_OK && report) {
        report->steps = step;
        report->total_steps = t.total_steps;
        report->epochs_done = (int32_t)(step / (t.n_batches > 0 ? t.n_batches : 1));
        report->epochs_run = (int32_t)((step + t.n_batches - 1) / (t.n_batches > 0 ? t.n_batches : 1));
        report->stopped_early = t.stopped && step < t.total_steps;
        report->last_epoch_loss = isnan(last_epoch_loss) && loss_n ? loss_sum / (double)loss_n : last_epoch_loss;
        report->best_valid = t.best_valid;
        report->best_epoch = t.best_epoch;
        report->valid_search = t.best_search;
        report->valid_rec = t.best_rec;
        report->seconds = semid_now() - t0;
        report->tokens_per_s = step > start_step && t_train > 0 ? tokens / t_train : 0;
        report->n_train_seqs[0] = t.train.n_task[0];
        report->n_train_seqs[1] = t.train.n_task[1];
        report->n_train_personal = t.train.n_personal;
        report->n_params = n_params;
        report->step_seconds = t_train;
        report->step_cpu_seconds = c_train;
        report->tokens = tokens;
        report->padding = slots > 0 ? 1.0 - tokens / slots : 0;
        report->ranks = ranks;
        report->sum_seconds = t_sums;
    }
    free(inputs);
    free(targets);
    free(pos);
    trainer_free(&t);
    semid_threads_pop(saved_threads);
    if (locked) semid_dirlock_release(&lock);
    free(stage_dir);
    return st;
}
